// napi_util.h — small helpers for the N-API glue: argument checks, typed-array access, and Glue, the table entry
// (a JS signature plus a body) through which a family's exports are declared. No kernel calls here.
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

// One exported function described by its JS signature, "name(arg, arg, opt?)" (names as in
// src/backend/kernels.ts): the name it is exported under, the argument names errors quote, and how many
// arguments must be present (names ending in '?' are optional and come last). Parsed once, at load time.
struct Args;
struct Glue {
  std::string fn;
  std::vector<std::string> names;
  size_t required = 0;
  void (*run)(const Args& a);  // checks the arguments and calls one kernel; may set a result (Args::returns)
  Glue(const char* signature, void (*body)(const Args&)) : run(body) {
    const char* p = signature;
    while (*p && *p != '(') fn += *p++;
    std::string name;
    for (p = *p ? p + 1 : p; *p; p++) {
      if (*p == ',' || *p == ')') {
        const bool optional = !name.empty() && name.back() == '?';
        if (optional) name.pop_back();
        if (!name.empty()) {
          names.push_back(name);
          if (!optional) required = names.size();
        }
        name.clear();
      } else if (*p != ' ') {
        name += *p;
      }
    }
  }
};

// The arguments of one call. Errors name the function and the argument: "[fn] argument 2 has 3 elements, needs
// 8 (out)", the name in parentheses when the function was exported from a Glue signature.
struct Args {
  napi_env env;
  size_t argc = 0;
  napi_value argv[24];
  const char* fn = "native";
  const std::vector<std::string>* names = nullptr;
  mutable napi_value result = nullptr;  // what the call returns; undefined when not set
  // A Glue export: the Glue entry travels as the function's data pointer.
  Args(napi_env e, napi_callback_info info, const Glue** glue) : env(e) {
    void* data = nullptr;
    argc = 24;
    napi_check(env, napi_get_cb_info(env, info, &argc, argv, nullptr, &data), "get_cb_info");
    *glue = (const Glue*)data;
    fn = (*glue)->fn.c_str();
    names = &(*glue)->names;
    require((*glue)->required);
  }
  Args(napi_env e, napi_callback_info info, const char* name, size_t expected) : env(e), fn(name) {
    argc = 24;
    napi_check(env, napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr), "get_cb_info");
    require(expected);
  }
  void require(size_t expected) const {
    if (argc < expected)
      throw NapiError{std::string("[") + fn + "] expected " + std::to_string(expected) + " arguments, got " +
                      std::to_string(argc)};
  }
  // The signature's name of argument i ("argument i" without one): for messages about a value, not a position.
  std::string name(size_t i) const {
    return names && i < names->size() ? (*names)[i] : "argument " + std::to_string(i);
  }
  [[noreturn]] void fail(const std::string& msg) const { throw NapiError{std::string("[") + fn + "] " + msg}; }
  // " (out)": the signature's name of argument i, for the end of a message that gives its position.
  std::string aka(size_t i) const { return names && i < names->size() ? " (" + (*names)[i] + ")" : ""; }
  [[noreturn]] void fail_arg(size_t i, const std::string& msg) const {
    fail("argument " + std::to_string(i) + " " + msg + aka(i));
  }
  double num(size_t i) const {
    double v;
    if (napi_get_value_double(env, argv[i], &v) != napi_ok) fail_arg(i, "must be a number");
    return v;
  }
  float scalar(size_t i) const { return (float)num(i); }
  // Dimensions and offsets: finite integers within ±2^53 (casting NaN or a huge double is undefined behaviour).
  int64_t i64(size_t i) const {
    double v = num(i);
    if (!(v >= -9007199254740992.0 && v <= 9007199254740992.0) || v != (double)(int64_t)v)
      fail_arg(i, "must be an integer, got " + std::to_string(v));
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
    if (!is_ta) fail_arg(i, "must be a typed array");
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
    if (t != want) fail_arg(i, std::string("must be a ") + want_name);
    if ((int64_t)len < min_len)
      fail_arg(i, "has " + std::to_string(len) + " elements, needs " + std::to_string(min_len));
    return (T*)p;
  }
  float* f32(size_t i, int64_t min_len = 0) const { return arr<float>(i, napi_float32_array, "Float32Array", min_len); }
  int32_t* i32(size_t i, int64_t min_len = 0) const { return arr<int32_t>(i, napi_int32_array, "Int32Array", min_len); }
  uint16_t* u16(size_t i, int64_t min_len = 0) const {
    return arr<uint16_t>(i, napi_uint16_array, "Uint16Array", min_len);
  }
  size_t length(size_t i) const {
    napi_typedarray_type t;
    size_t len;
    typed(i, &t, &len);
    return len;
  }
  std::vector<int64_t> ints(size_t i) const {
    uint32_t n;
    if (napi_get_array_length(env, argv[i], &n) != napi_ok) fail_arg(i, "must be an array of numbers");
    std::vector<int64_t> out(n);
    for (uint32_t j = 0; j < n; j++) {
      napi_value e;
      double d;
      if (napi_get_element(env, argv[i], j, &e) != napi_ok || napi_get_value_double(env, e, &d) != napi_ok ||
          !(d >= -9007199254740992.0 && d <= 9007199254740992.0) || d != (double)(int64_t)d)
        fail("argument " + std::to_string(i) + "[" + std::to_string(j) + "] must be an integer" + aka(i));
      out[j] = (int64_t)d;
    }
    return out;
  }
  void returns(double v) const { napi_check(env, napi_create_double(env, v, &result), "create_double"); }
  void returns_bool(bool v) const { napi_check(env, napi_get_boolean(env, v, &result), "get_boolean"); }
};

// A weight matrix argument (rows × cols) in any zj_wformat: the buffer at wi, its format named by the string at fi
// ('f32' | 'bf16' | 'q8_0' | 'q4_0'; undefined means: from the array type, f32 or bf16). The array type must fit
// the format and hold the whole matrix; quantized formats need cols % 32 == 0.
struct WeightArg {
  const void* data;
  int format;  // zj_wformat
};

inline WeightArg weight_arg(const Args& a, size_t wi, size_t fi, int64_t rows, int64_t cols) {
  auto fail = [&](const std::string& m) { a.fail(m + a.aka(wi)); };
  napi_typedarray_type t;
  size_t len;
  const void* p = a.typed(wi, &t, &len);
  int fmt;
  if (fi >= a.argc || a.is_null(fi)) {
    if (t == napi_float32_array) fmt = 0;
    else if (t == napi_uint16_array) fmt = 1;
    else fmt = -1, fail("a byte weight needs its format ('q8_0' or 'q4_0') named");
  } else {
    char name[16] = {0};
    size_t n = 0;
    if (napi_get_value_string_utf8(a.env, a.argv[fi], name, sizeof name, &n) != napi_ok)
      a.fail_arg(fi, "must be a weight format string");
    const std::string s(name, n);
    fmt = s == "f32" ? 0 : s == "bf16" ? 1 : s == "q8_0" ? 2 : s == "q4_0" ? 3
        : s == "q8_0x16" ? 4 : s == "q4_0x16" ? 5 : -1;
    if (fmt < 0) a.fail("unknown weight format '" + s + "' (f32, bf16, q8_0, q4_0, q8_0x16 or q4_0x16)" + a.aka(fi));
  }
  const napi_typedarray_type want = fmt == 0 ? napi_float32_array : fmt == 1 ? napi_uint16_array : napi_uint8_array;
  static const char* const names[] = {"f32", "bf16", "q8_0", "q4_0", "q8_0x16", "q4_0x16"};
  static const char* const arrays[] = {"Float32Array", "Uint16Array", "Uint8Array", "Uint8Array", "Uint8Array",
                                       "Uint8Array"};
  if (t != want) fail(std::string("a ") + names[fmt] + " weight must be a " + arrays[fmt]);
  double need = (double)rows * (double)cols;
  if (fmt >= 2) {
    if (cols % 32) fail(std::string(names[fmt]) + " rows need a multiple of 32 values, got " + std::to_string(cols));
    if (fmt >= 4 && rows % 16)
      fail(std::string(names[fmt]) + " holds whole panels of 16 rows, got " + std::to_string(rows) + " rows");
    need = need / 32 * (fmt == 2 || fmt == 4 ? 34 : 18);
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

inline void export_fn(napi_env env, napi_value exports, const char* name, napi_callback cb, void* data = nullptr) {
  napi_value f;
  napi_check(env, napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, data, &f), "create_function");
  napi_check(env, napi_set_named_property(env, exports, name, f), "set_named_property");
}

// The one N-API callback of every Glue export: arguments counted, the body run, C++ errors made JS errors.
inline napi_value call_glue(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    const Glue* glue;
    Args a(env, info, &glue);
    glue->run(a);
    return a.result ? a.result : undefined(env);
  });
}

// Exports each entry of a Glue table under its signature's name.
template <size_t N>
void export_glue(napi_env env, napi_value exports, const Glue (&table)[N]) {
  for (const Glue& g : table) export_fn(env, exports, g.fn.c_str(), call_glue, (void*)&g);
}

// Glue registration per op family; addon.cc calls each.
void register_gemm(napi_env env, napi_value exports);
void register_kernels(napi_env env, napi_value exports);

}  // namespace zj
