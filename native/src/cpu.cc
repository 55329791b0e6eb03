// cpu.cc — CPUID-based ISA detection with an environment override that can only lower the choice.
#include "cpu.h"
#include <cstdlib>
#include <cstring>

namespace zj {

static Isa detect() {
#if defined(__x86_64__) || defined(_M_X64)
  __builtin_cpu_init();
  // __builtin_cpu_supports also checks that the OS saves the wide registers (XCR0) on GCC >= 11.
  bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
  bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  Isa best = avx512 ? ISA_AVX512 : avx2 ? ISA_AVX2 : ISA_SCALAR;
#else
  Isa best = ISA_SCALAR;
#endif
  const char* want = std::getenv("ZJ_ISA");
  if (want && *want) {
    Isa asked = !std::strcmp(want, "scalar") ? ISA_SCALAR : !std::strcmp(want, "avx2") ? ISA_AVX2 : ISA_AVX512;
    if (asked < best) best = asked;
  }
  return best;
}

Isa cpu_isa() {
  static const Isa isa = detect();
  return isa;
}

bool cpu_has_avx512bf16() {
#if defined(__x86_64__) || defined(_M_X64)
  static const bool has = cpu_isa() == ISA_AVX512 && __builtin_cpu_supports("avx512bf16");
  return has;
#else
  return false;
#endif
}

bool cpu_has_avx512vnni() {
#if defined(__x86_64__) || defined(_M_X64)
  static const bool has = cpu_isa() == ISA_AVX512 && __builtin_cpu_supports("avx512vnni");
  return has;
#else
  return false;
#endif
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case ISA_AVX512:
      if (cpu_has_avx512vnni()) return cpu_has_avx512bf16() ? "avx512+bf16+vnni" : "avx512+vnni";
      return cpu_has_avx512bf16() ? "avx512+bf16" : "avx512";
    case ISA_AVX2: return "avx2";
    default: return "scalar";
  }
}

}  // namespace zj
