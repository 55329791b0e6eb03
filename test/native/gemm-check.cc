// gemm-check.cc — a standalone C++ driver for zj_gemm (and the quantized zj_matvec), outside node: `check` runs
// odd shapes against a naive double loop (built with -fsanitize=address,undefined by scripts/asan-kernels.sh, so any
// out-of-bounds read or write in packing or the microkernels shows up), `bench M N K [ta tb bf16c runs bf16_storage]`
// times one shape. Exit code 0 when every case is within tolerance.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>
#include "../../native/include/zj_kernels.h"

namespace {

uint64_t rng_state = 0x9e3779b97f4a7c15ull;
float next_uniform() {  // xorshift64*, in [-1, 1)
  rng_state ^= rng_state >> 12, rng_state ^= rng_state << 25, rng_state ^= rng_state >> 27;
  return (float)((rng_state * 0x2545f4914f6cdd1dull) >> 40) / (float)(1 << 23) - 1.0f;
}

uint16_t to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);
  return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}
float from_bf16(uint16_t h) {
  uint32_t u = (uint32_t)h << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// Operands are allocated exactly (no slack) so that the sanitizer sees any overrun.
struct Operand {
  std::vector<float> f;
  std::vector<uint16_t> h;
  bool bf16;
  Operand(size_t n, bool is_bf16) : bf16(is_bf16) {
    if (bf16) {
      h.resize(n);
      for (auto& x : h) x = to_bf16(next_uniform());
    } else {
      f.resize(n);
      for (auto& x : f) x = next_uniform();
    }
  }
  const void* data() const { return bf16 ? (const void*)h.data() : (const void*)f.data(); }
  double get(size_t i, bool round) const { return bf16 ? from_bf16(h[i]) : round ? from_bf16(to_bf16(f[i])) : f[i]; }
};

int check_case(int64_t batch, int64_t M, int64_t N, int64_t K, bool ta, bool tb, bool abf, bool bbf, bool bc,
               int64_t as, int64_t bs, float alpha, float beta) {
  Operand A((size_t)((batch - 1) * as + M * K), abf), B((size_t)((batch - 1) * bs + K * N), bbf);
  std::vector<float> out((size_t)(batch * M * N)), init(out.size());
  for (size_t i = 0; i < out.size(); i++) out[i] = init[i] = beta == 0.0f ? NAN : next_uniform();
  zj_gemm(batch, M, N, K, A.data(), abf, ta, as, B.data(), bbf, tb, bs, out.data(), alpha, beta, bc);
  double worst = 0;
  for (int64_t b = 0; b < batch; b++)
    for (int64_t i = 0; i < M; i++)
      for (int64_t j = 0; j < N; j++) {
        double acc = 0, mag = 0;
        for (int64_t k = 0; k < K; k++) {
          double x = A.get(b * as + (ta ? k * M + i : i * K + k), bc);
          double y = B.get(b * bs + (tb ? j * K + k : k * N + j), bc);
          acc += x * y, mag += std::fabs(x * y);
        }
        size_t o = (size_t)(b * M * N + i * N + j);
        double want = alpha * acc + (beta == 0.0f ? 0.0 : beta * init[o]);
        double err = std::fabs(out[o] - want) / (std::fabs(alpha) * mag + (beta == 0.0f ? 0.0 : std::fabs(beta * init[o])) + 1e-30);
        if (!(err <= worst)) worst = std::isnan(err) ? INFINITY : std::max(worst, err);
      }
  // Errors are relative to the sum of |terms|: a K-term f32 sum stays well inside a few K ulps.
  bool ok = worst < 1e-5;
  if (!ok)
    std::printf("FAIL batch=%lld M=%lld N=%lld K=%lld ta=%d tb=%d abf=%d bbf=%d bc=%d err=%.3g\n", (long long)batch,
                (long long)M, (long long)N, (long long)K, ta, tb, abf, bbf, bc, worst);
  return ok ? 0 : 1;
}

// A quantized weight (q8_0 = 2 / q4_0 = 3) through zj_gemm (B = W, transposed or not) and zj_matvec, against
// double loops over its dequantized values. Buffers are exact-sized, so AddressSanitizer sees any overrun of the
// unaligned block loads. The matvec quantizes x to int8 blocks: its error is held to the exact bound
// Σ_k |W| · dx(k)/2 (dx = the block's amax/127), plus rounding.
int check_quant(int64_t M, int64_t N, int64_t K, bool tb, int fmt) {
  const int64_t rows = tb ? N : K, cols = tb ? K : N;  // the stored weight
  if (cols % 32) return 0;
  std::vector<float> wf((size_t)(rows * cols)), wd(wf.size()), a((size_t)(M * K)), out((size_t)(M * N));
  for (auto& v : wf) v = next_uniform();
  for (auto& v : a) v = next_uniform();
  std::vector<uint8_t> w((size_t)(rows * cols / 32 * (fmt == 2 ? 34 : 18)));
  zj_quantize_rows(wf.data(), 0, rows, cols, fmt, w.data());
  zj_dequantize_rows(w.data(), fmt, rows, cols, wd.data());
  auto wat = [&](int64_t k, int64_t j) { return (double)wd[(size_t)(tb ? j * K + k : k * N + j)]; };  // op(B)(k, j)
  int fails = 0;
  zj_gemm(1, M, N, K, a.data(), 0, 0, 0, w.data(), fmt, tb, 0, out.data(), 1.0f, 0.0f, 0);
  for (int64_t i = 0; i < M; i++)
    for (int64_t j = 0; j < N; j++) {
      double acc = 0, mag = 0;
      for (int64_t k = 0; k < K; k++) acc += a[(size_t)(i * K + k)] * wat(k, j), mag += std::fabs(a[(size_t)(i * K + k)] * wat(k, j));
      if (!(std::fabs(out[(size_t)(i * N + j)] - acc) <= 1e-5 * mag + 1e-30)) fails = 1;
    }
  if (tb) {
    // a matvec's output within the quantization bound of the exact product
    auto within_bound = [&](const std::vector<float>& got) {
      for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
          double acc = 0, bound = 0;
          for (int64_t k = 0; k < K; k++) {
            float amax = 0;
            for (int64_t t = k / 32 * 32; t < k / 32 * 32 + 32; t++) amax = std::max(amax, std::fabs(a[(size_t)(i * K + t)]));
            acc += a[(size_t)(i * K + k)] * wat(k, j);
            bound += std::fabs(wat(k, j)) * (amax / 127.0) / 2 * 1.001 + 1e-6 * std::fabs(wat(k, j));
          }
          if (!(std::fabs(got[(size_t)(i * N + j)] - acc) <= bound)) return false;
        }
      return true;
    };
    zj_matvec(M, N, K, a.data(), w.data(), fmt, out.data(), nullptr);
    if (!within_bound(out)) fails = 1;
    // again reading W's panel-scale table (exact-sized, so a read past it is seen): the same bits
    std::vector<uint16_t> scales((size_t)((N + 15) / 16 * 16 * (K / 32)));
    zj_quant_panel_scales(w.data(), fmt, N, K, scales.data());
    std::vector<float> again(out.size());
    zj_matvec(M, N, K, a.data(), w.data(), fmt, again.data(), scales.data());
    if (std::memcmp(out.data(), again.data(), sizeof(float) * out.size()) != 0) fails = 1;
    // whole panels: the panel layout (exact-sized, repacked in place) where this build's matvec reads it; it holds
    // the same quantization bound, and through the GEMM the row layout's bits
    if (N % 16 == 0 && zj_quant_panels_supported(fmt)) {
      std::vector<uint8_t> p(w);
      zj_quant_to_panels(p.data(), fmt, N, K, p.data());
      zj_matvec(M, N, K, a.data(), p.data(), fmt + 2, again.data(), nullptr);
      if (!within_bound(again)) fails = 1;
      std::vector<float> g1(out.size()), g2(out.size());
      zj_gemm(1, M, N, K, a.data(), 0, 0, 0, w.data(), fmt, 1, 0, g1.data(), 1.0f, 0.0f, 0);
      zj_gemm(1, M, N, K, a.data(), 0, 0, 0, p.data(), fmt + 2, 1, 0, g2.data(), 1.0f, 0.0f, 0);
      if (std::memcmp(g1.data(), g2.data(), sizeof(float) * g1.size()) != 0) fails = 1;
      zj_quant_from_panels(p.data(), fmt, N, K, p.data());
      if (p != w) fails = 1;
    }
  }
  if (fails)
    std::printf("FAIL quant fmt=%d M=%lld N=%lld K=%lld tb=%d\n", fmt, (long long)M, (long long)N, (long long)K, tb);
  return fails;
}

int run_checks() {
  const int64_t dims[][3] = {{1, 1, 1}, {3, 7, 33}, {7, 3, 1}, {33, 1, 7}, {1, 33, 257}, {15, 31, 2},
                             {29, 65, 3}, {257, 33, 7}, {300, 520, 270}, {17, 1000, 801}, {40, 40, 0}};
  int fails = 0, cases = 0;
  for (auto& d : dims)
    for (int flags = 0; flags < 32; flags++) {
      bool ta = flags & 1, tb = flags & 2, abf = flags & 4, bbf = flags & 8, bc = flags & 16;
      if (d[0] * d[1] * d[2] > 1000000 && (flags & 12)) continue;  // big shapes: f32 storage only
      fails += check_case(1, d[0], d[1], d[2], ta, tb, abf, bbf, bc, 0, 0, 1.0f, 0.0f);
      cases++;
    }
  // alpha/beta and batches with broadcast or strided operands.
  fails += check_case(3, 9, 35, 17, false, true, false, false, false, 0, 35 * 17, 0.5f, -1.25f);
  fails += check_case(4, 33, 7, 40, true, false, true, false, true, 33 * 40, 0, 2.0f, 1.0f);
  fails += check_case(5, 64, 64, 64, false, false, false, false, false, 64 * 64, 64 * 64, 1.0f, 0.5f);
  fails += check_case(2, 200, 300, 100, false, false, false, false, false, 200 * 100, 0, 1.0f, 0.0f);
  cases += 4;
  const int64_t qdims[][3] = {{1, 37, 32}, {3, 33, 96}, {8, 64, 800}, {16, 31, 160}, {17, 96, 64}, {40, 64, 320},
                              {1, 48, 64}};
  for (auto& d : qdims)
    for (int fmt = 2; fmt <= 3; fmt++)
      for (int tb = 0; tb < 2; tb++) fails += check_quant(d[0], d[1], d[2], tb, fmt), cases++;
  std::printf("%d cases, %d failed\n", cases, fails);
  return fails ? 1 : 0;
}

int run_bench(int64_t M, int64_t N, int64_t K, bool ta, bool tb, bool bc, int runs, bool bf16_storage) {
  Operand A((size_t)(M * K), bf16_storage), B((size_t)(K * N), bf16_storage);
  std::vector<float> C((size_t)(M * N));
  std::vector<double> times;
  for (int r = 0; r <= runs; r++) {
    auto t0 = std::chrono::steady_clock::now();
    zj_gemm(1, M, N, K, A.data(), bf16_storage, ta, 0, B.data(), bf16_storage, tb, 0, C.data(), 1.0f, 0.0f, bc);
    auto t1 = std::chrono::steady_clock::now();
    if (r) times.push_back(std::chrono::duration<double>(t1 - t0).count());
  }
  std::sort(times.begin(), times.end());
  double med = times[times.size() / 2], best = times[0];
  std::printf("%lldx%lldx%lld %s%s %s%s: median %.1f GFLOP/s, best %.1f\n", (long long)M, (long long)N, (long long)K,
              ta ? "T" : "N", tb ? "T" : "N", bc ? "bf16" : "f32", bf16_storage ? " (bf16 storage)" : "", 2e-9 * M * N * K / med, 2e-9 * M * N * K / best);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && !std::strcmp(argv[1], "check")) return run_checks();
  if (argc >= 5 && !std::strcmp(argv[1], "bench")) {
    auto arg = [&](int i, int dflt) { return argc > i ? std::atoi(argv[i]) : dflt; };
    return run_bench(std::atoll(argv[2]), std::atoll(argv[3]), std::atoll(argv[4]), arg(5, 0), arg(6, 0), arg(7, 0),
                     arg(8, 7), arg(9, 0));
  }
  std::fprintf(stderr, "usage: gemm-check check | bench M N K [transA transB bf16 runs bf16_storage]\n");
  return 2;
}
