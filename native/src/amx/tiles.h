// tiles.h — the tile configurations of this addon's AMX kernels. Tile state is per thread and LDTILECFG costs
// more than a short kernel call, so each thread remembers which configuration it loaded last and kernels switch
// only when a thread alternates between them (a bf16 GEMM, then an int8 prefill product).
#pragma once

namespace zj {

enum AmxShape {
  AMX_BF16_GEMM = 1,  // tmm0–7 all 16 rows × 64 bytes (gemm_bf16_amx.cc)
  AMX_INT8_Q = 2,     // tmm0–1 C 16 × 64 bytes, tmm2–3 A 16 × 32 bytes (one q8 block of 16 rows), tmm4–5 B 8 × 64
};

void amx_use(AmxShape shape);

}  // namespace zj
