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

// A weight matrix argument (rows × cols) in any zj_wformat: the buffer at wi, its format named by the string at fi
// ('f32' | 'bf16' | 'q8_0' | 'q4_0'; undefined means: from the array type, f32 or bf16). The array type must fit
// the format and hold the whole matrix; quantized formats need cols % 32 == 0.
struct WeightArg {
  const void* data;
  int format;  // zj_wformat
};

inline WeightArg weight_arg(const Args& a, size_t wi, size_t fi, int64_t rows, int64_t cols) {
  auto fail = [&](const std::string& m) -> void { throw NapiError{std::string("[") + a.fn + "] " + m}; };
  napi_typedarray_type t;
  size_t len;
  const void* p = a.typed(wi, &t, &len);
  int fmt;
  if (fi >= a.argc || a.is_null(fi)) {
    if (t == napi_float32_array) fmt = 0;
    else if (t == napi_uint16_array) fmt = 1;
    else fmt = -1, fail("a byte weight needs its format ('q8_0' or 'q4_0') named");
  } else {
    char name[8] = {0};
    size_t n = 0;
    if (napi_get_value_string_utf8(a.env, a.argv[fi], name, sizeof name, &n) != napi_ok)
      fail("argument " + std::to_string(fi) + " must be a weight format string");
    const std::string s(name, n);
    fmt = s == "f32" ? 0 : s == "bf16" ? 1 : s == "q8_0" ? 2 : s == "q4_0" ? 3 : -1;
    if (fmt < 0) fail("unknown weight format '" + s + "' (f32, bf16, q8_0 or q4_0)");
  }
  const napi_typedarray_type want = fmt == 0 ? napi_float32_array : fmt == 1 ? napi_uint16_array : napi_uint8_array;
  static const char* const names[] = {"f32", "bf16", "q8_0", "q4_0"};
  static const char* const arrays[] = {"Float32Array", "Uint16Array", "Uint8Array", "Uint8Array"};
  if (t != want) fail(std::string("a ") + names[fmt] + " weight must be a " + arrays[fmt]);
  double need = (double)rows * (double)cols;
  if (fmt >= 2) {
    if (cols % 32) fail(std::string(names[fmt]) + " rows need a multiple of 32 values, got " + std::to_string(cols));
    need = need / 32 * (fmt == 2 ? 34 : 18);
  }
  if ((double)len < need)
    fail(std::string(names[fmt]) + " weight " + std::to_string(rows) + "×" + std::to_string(cols) + " needs " +
         std::to_string((int64_t)need) + " elements, got " + std::to_string(len));
  return WeightArg{p, fmt};
}

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
