// addon.cc — N-API module entry: engine info and thread control, then each op family's glue.
// No math here.
#include "cpu.h"
#include "napi_util.h"
#include "pool.h"

namespace zj {

static napi_value info(napi_env env, napi_callback_info cbi) {
  return guarded(env, [&]() -> napi_value {
    napi_value obj, isa, threads, bf16;
    napi_create_object(env, &obj);
    napi_create_string_utf8(env, isa_name(cpu_isa()), NAPI_AUTO_LENGTH, &isa);
    napi_create_int32(env, pool_threads(), &threads);
    napi_get_boolean(env, cpu_has_avx512bf16(), &bf16);
    napi_set_named_property(env, obj, "isa", isa);
    napi_set_named_property(env, obj, "threads", threads);
    napi_set_named_property(env, obj, "bf16Dot", bf16);
    return obj;
  });
}

static napi_value set_threads(napi_env env, napi_callback_info cbi) {
  return guarded(env, [&]() -> napi_value {
    Args a(env, cbi, "setThreads", 1);
    int n = (int)a.i64(0);
    if (n < 1) throw NapiError{"[setThreads] thread count must be >= 1"};
    pool_set_threads(n);
    return undefined(env);
  });
}

static napi_value init(napi_env env, napi_value exports) {
  try {
    export_fn(env, exports, "info", info);
    export_fn(env, exports, "setThreads", set_threads);
    register_gemm(env, exports);
    register_kernels(env, exports);
  } catch (const NapiError& e) {
    napi_throw_error(env, nullptr, e.message.c_str());
  }
  return exports;
}

}  // namespace zj

NAPI_MODULE(NODE_GYP_MODULE_NAME, zj::init)
