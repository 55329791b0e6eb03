// addon_kernels.cc — N-API glue for every kernel family except GEMM. No math here.
#include "../include/zj_kernels.h"
#include "napi_util.h"

namespace zj {

void register_kernels(napi_env env, napi_value exports) {}

}  // namespace zj
