// cpu.cc — CPUID-based ISA detection with an environment override that can only lower the choice.
#include "cpu.h"
#include <cstdlib>
#include <cstring>
#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>
#endif
#if defined(__linux__) && (defined(__x86_64__) || defined(_M_X64))
#include <sys/syscall.h>
#include <unistd.h>
#endif

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

// AMX needs three yeses: CPUID (AMX-TILE, AMX-BF16, AMX-INT8: leaf 7 EDX bits 24, 22, 25), the OS
// enabling the tile state in XCR0 (bits 17 and 18), and on Linux (5.16+) this process's request for
// the 8 KiB tile data state (arch_prctl ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA), which the kernel
// grants to every thread of the process. Without the request the first tile instruction faults.
static bool detect_amx() {
#if defined(__linux__) && (defined(__x86_64__) || defined(_M_X64))
  if (cpu_isa() != ISA_AVX512 || !cpu_has_avx512bf16()) return false;
  const char* want = std::getenv("ZJ_ISA");
  if (want && *want && std::strcmp(want, "amx") != 0) return false;
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
  if (!((d >> 24) & 1) || !((d >> 22) & 1) || !((d >> 25) & 1)) return false;
  if (!__get_cpuid(1, &a, &b, &c, &d) || !((c >> 27) & 1)) return false;  // OSXSAVE, so xgetbv is allowed
  unsigned lo = 0, hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  if (((lo >> 17) & 3) != 3) return false;
  constexpr long kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
  return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
#else
  return false;
#endif
}

bool cpu_has_amx() {
  static const bool has = detect_amx();
  return has;
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case ISA_AVX512:
      if (cpu_has_amx()) return "avx512+bf16+vnni+amx";
      if (cpu_has_avx512vnni()) return cpu_has_avx512bf16() ? "avx512+bf16+vnni" : "avx512+vnni";
      return cpu_has_avx512bf16() ? "avx512+bf16" : "avx512";
    case ISA_AVX2: return "avx2";
    default: return "scalar";
  }
}

}  // namespace zj
