// addon.cc — N-API module entry: engine info and thread control, then each op family's glue.
// No math here.
#include "cpu.h"
#include "napi_util.h"
#include "pool.h"

namespace zj {

namespace {

const Glue kEngine[] = {
    {"info()", [](const Args& a) {
       napi_value obj, isa, threads, bf16;
       napi_create_object(a.env, &obj);
       napi_create_string_utf8(a.env, isa_name(cpu_isa()), NAPI_AUTO_LENGTH, &isa);
       napi_create_int32(a.env, pool_threads(), &threads);
       napi_get_boolean(a.env, cpu_has_avx512bf16(), &bf16);
       napi_set_named_property(a.env, obj, "isa", isa);
       napi_set_named_property(a.env, obj, "threads", threads);
       napi_set_named_property(a.env, obj, "bf16Dot", bf16);
       a.result = obj;
     }},
    {"setThreads(n)", [](const Args& a) {
       int n = (int)a.i64(0);
       if (n < 1) a.fail("thread count must be >= 1");
       pool_set_threads(n);
     }},
};

}  // namespace

static napi_value init(napi_env env, napi_value exports) {
  try {
    export_glue(env, exports, kEngine);
    register_gemm(env, exports);
    register_kernels(env, exports);
  } catch (const NapiError& e) {
    napi_throw_error(env, nullptr, e.message.c_str());
  }
  return exports;
}

}  // namespace zj

NAPI_MODULE(NODE_GYP_MODULE_NAME, zj::init)
