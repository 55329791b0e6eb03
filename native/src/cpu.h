// cpu.h — run-time ISA selection. Kernels compiled with AVX-512 / AVX2 flags live in their own
// files (native/src/avx512, native/src/avx2) and are only called when cpu_isa() says so.
// ZJ_ISA=scalar|avx2|avx512 lowers the choice (for tests of every path); it never raises it. AMX sits
// above AVX-512 (ZJ_ISA=avx512 turns it off).
#pragma once

namespace zj {

enum Isa { ISA_SCALAR = 0, ISA_AVX2 = 1, ISA_AVX512 = 2 };

Isa cpu_isa();              // the ISA kernels use
bool cpu_has_avx512bf16();  // vdpbf16ps available (and ISA is AVX512)
bool cpu_has_avx512vnni();  // vpdpbusd available (and ISA is AVX512): the int8 dot products of q8_0 / q4_0
bool cpu_has_amx();         // AMX tiles with BF16 and INT8, enabled by the OS for this process (and ISA is AVX512)
const char* isa_name(Isa);

}  // namespace zj
