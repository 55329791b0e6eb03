// napi_util.h — small helpers for the N-API glue: argument checks and typed-array access.
// Typed arrays may be views (subarray): the byte offset is applied here, so kernels see the view.
#pragma once
#include <node_api.h>
#include <cstdint>
#include <string>
#include <vector>

namespace zj {

struct NapiError {
  std::string message;
};

inline void napi_check(napi_env env, napi_status st, const char* what) {
  if (st != napi_ok) throw NapiError{std::string("[native] N-API call failed: ") + what};
}

struct Args {
  napi_env env;
  size_t argc = 0;
  napi_value argv[24];
  const char* fn;
  Args(napi_env e, napi_callback_info info, const char* name, size_t expected) : env(e), fn(name) {
    argc = 24;
    napi_check(env, napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr), "get_cb_info");
    if (argc < expected)
      throw NapiError{std::string("[") + fn + "] expected " + std::to_string(expected) + " arguments, got " +
                      std::to_string(argc)};
  }
  double num(size_t i) const {
    double v;
    if (napi_get_value_double(env, argv[i], &v) != napi_ok)
      throw NapiError{std::string("[") + fn + "] argument " + std::to_string(i) + " must be a number"};
    return v;
  }
  // Dimensions and offsets: finite integers within ±2^53 (casting NaN or a huge double is undefined behaviour).
  int64_t i64(size_t i) const {
    double v = num(i);
    if (!(v >= -9007199254740992.0 && v <= 9007199254740992.0) || v != (double)(int64_t)v)
      throw NapiError{std::string("[") + fn + "] argument " + std::to_string(i) + " must be an integer, got " + std::to_string(v)};
    return (int64_t)v;
  }
  bool flag(size_t i) const {
    bool b;
    if (napi_get_value_bool(env, argv[i], &b) == napi_ok) return b;
    return num(i) != 0;
  }
  bool is_null(size_t i) const {
    napi_valuetype t;
    napi_typeof(env, argv[i], &t);
    return t == napi_null || t == napi_undefined;
  }
  // A typed array's data pointer, its element type and length (elements).
  void* typed(size_t i, napi_typedarray_type* type, size_t* length) const {
    bool is_ta = false;
    napi_is_typedarray(env, argv[i], &is_ta);
    if (!is_ta) throw NapiError{std::string("[") + fn + "] argument " + std::to_string(i) + " must be a typed array"};
    napi_value ab;
    size_t offset;
    void* data;
    napi_check(env, napi_get_typedarray_info(env, argv[i], type, length, &data, &ab, &offset), "typedarray_info");
    return data;  // napi_get_typedarray_info already returns the view's first element
  }
  template <typename T>
  T* arr(size_t i, napi_typedarray_type want, const char* want_name, int64_t min_len = 0) const {
    napi_typedarray_type t;
    size_t len;
    void* p = typed(i, &t, &len);
    if (t != want)
      throw NapiError{std::string("[") + fn + "] argument " + std::to_string(i) + " must be a " + want_name};
    if ((int64_t)len < min_len)
      throw NapiError{std::string("[") + fn + "] argument " + std::to_string(i) + " has " + std::to_string(len) +
                      " elements, needs " + std::to_string(min_len)};
    return (T*)p;
  }
  float* f32(size_t i, int64_t min_len = 0) const { return arr<float>(i, napi_float32_array, "Float32Array", min_len); }
  int32_t* i32(size_t i, int64_t min_len = 0) const { return arr<int32_t>(i, napi_int32_array, "Int32Array", min_len); }
  size_t length(size_t i) const {
    napi_typedarray_type t;
    size_t len;
    typed(i, &t, &len);
    return len;
  }
  std::vector<int64_t> ints(size_t i) const {
    uint32_t n;
    if (napi_get_array_length(env, argv[i], &n) != napi_ok)
      throw NapiError{std::string("[") + fn + "] argument " + std::to_string(i) + " must be an array of numbers"};
    std::vector<int64_t> out(n);
    for (uint32_t j = 0; j < n; j++) {
      napi_value e;
      double d;
      if (napi_get_element(env, argv[i], j, &e) != napi_ok || napi_get_value_double(env, e, &d) != napi_ok ||
          !(d >= -9007199254740992.0 && d <= 9007199254740992.0) || d != (double)(int64_t)d)
        throw NapiError{std::string("[") + fn + "] argument " + std::to_string(i) + "[" + std::to_string(j) + "] must be an integer"};
      out[j] = (int64_t)d;
    }
    return out;
  }
};

// Wraps a glue body so C++ exceptions become JS errors.
template <typename F>
napi_value guarded(napi_env env, F&& body) {
  try {
    return body();
  } catch (const NapiError& e) {
    napi_throw_error(env, nullptr, e.message.c_str());
  } catch (const std::exception& e) {
    napi_throw_error(env, nullptr, e.what());
  }
  return nullptr;
}

inline napi_value undefined(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

inline void export_fn(napi_env env, napi_value exports, const char* name, napi_callback cb) {
  napi_value f;
  napi_check(env, napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, nullptr, &f), "create_function");
  napi_check(env, napi_set_named_property(env, exports, name, f), "set_named_property");
}

// Glue registration per op family; addon.cc calls each.
void register_gemm(napi_env env, napi_value exports);
void register_kernels(napi_env env, napi_value exports);

}  // namespace zj
