// tiles.h — the tile configurations of this addon's AMX kernels. Tile state is per thread and LDTILECFG costs
// more than a short kernel call, so each thread remembers which configuration it loaded last and a kernel loads
// its own only when the thread last ran another one.
#pragma once

namespace zj {

enum AmxShape {
  AMX_BF16_GEMM = 1,  // tmm0–7 all 16 rows × 64 bytes (gemm_bf16_amx.cc)
};

void amx_use(AmxShape shape);

}  // namespace zj
