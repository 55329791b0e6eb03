// layout.cc — reductions (sum over an axis, sum of squares), strided copies and f32 <-> bf16 casts.
// All memory-bound: plain loops the compiler vectorises, split over the pool. Sums over an axis accumulate in
// double in the reference's order (a single long row: in per-thread pieces), so they match it to the last bit or
// nearly; nothing here depends on the ISA.
#include <string.h>
#include <algorithm>
#include <vector>
#include "../include/zj_kernels.h"
#include "convert.h"
#include "kernels_impl.h"

using namespace zj;

extern "C" void zj_sum_axis(const float* x, float* out, int64_t outer, int64_t n, int64_t inner) {
  const int threads = pool_threads();
  if (inner == 1 && outer < threads && n >= 2 * kParallelGrain) {
    // few long rows (a full sum): split each row, per-thread partials added in thread order
    std::vector<double> part(threads);
    for (int64_t o = 0; o < outer; o++) {
      const float* r = x + o * n;
      std::fill(part.begin(), part.end(), 0.0);
      parallel_for(n, kParallelGrain, [&](int64_t k0, int64_t k1, int t) {
        double acc = 0;
        for (int64_t k = k0; k < k1; k++) acc += r[k];
        part[t] = acc;
      });
      double acc = 0;
      for (double p : part) acc += p;
      out[o] = (float)acc;
    }
    return;
  }
  if (inner == 1) {  // sums of contiguous rows
    parallel_rows(outer, n, kParallelGrain, [&](int64_t o0, int64_t o1, int) {
      for (int64_t o = o0; o < o1; o++) {
        double acc = 0;
        const float* r = x + o * n;
        for (int64_t k = 0; k < n; k++) acc += r[k];
        out[o] = (float)acc;
      }
    });
    return;
  }
  // Work items are blocks of consecutive outputs of one `o`; the k loop streams rows of x. Blocks are sized so a
  // single wide row (outer = 1, a bias-style gradient) still splits evenly over the threads.
  const int64_t per_thread = (inner + threads - 1) / threads;
  const int64_t BLK = std::min<int64_t>(256, std::max<int64_t>(16, (per_thread + 15) / 16 * 16));
  const int64_t blocks = (inner + BLK - 1) / BLK;
  parallel_rows(outer * blocks, n * std::min(inner, BLK), kParallelGrain, [&](int64_t w0, int64_t w1, int) {
    double acc[256];
    for (int64_t w = w0; w < w1; w++) {
      const int64_t o = w / blocks, i0 = (w % blocks) * BLK, m = std::min(BLK, inner - i0);
      for (int64_t i = 0; i < m; i++) acc[i] = 0;
      for (int64_t k = 0; k < n; k++) {
        const float* r = x + (o * n + k) * inner + i0;
        for (int64_t i = 0; i < m; i++) acc[i] += r[i];
      }
      for (int64_t i = 0; i < m; i++) out[o * inner + i0 + i] = (float)acc[i];
    }
  });
}

// Per-thread partial sums (4 independent accumulators each), combined in thread order: deterministic for a
// given thread count.
extern "C" double zj_sum_squares(const float* x, int64_t n) {
  std::vector<double> part(pool_threads(), 0.0);
  parallel_for(n, kParallelGrain, [&](int64_t i0, int64_t i1, int t) {
    double s[4] = {0, 0, 0, 0};
    int64_t i = i0;
    for (; i + 4 <= i1; i += 4)
      for (int j = 0; j < 4; j++) s[j] += (double)x[i + j] * x[i + j];
    for (; i < i1; i++) s[0] += (double)x[i] * x[i];
    part[t] = (s[0] + s[1]) + (s[2] + s[3]);
  });
  double total = 0;
  for (double p : part) total += p;
  return total;
}

namespace {

// True when no two indices of the space land on the same destination element: then rows may be split over
// threads even when accumulating. Sorted by |stride|, each stride must exceed the span of the smaller ones.
bool dst_injective(const StridedDims& d) {
  std::vector<std::pair<int64_t, int64_t>> dims;  // (|stride|, extent)
  for (size_t i = 0; i < d.shape.size(); i++)
    if (d.shape[i] > 1) dims.push_back({d.st1[i] < 0 ? -d.st1[i] : d.st1[i], d.shape[i]});
  std::sort(dims.begin(), dims.end());
  int64_t span = 0;  // largest offset reachable with the dims seen so far
  for (auto& p : dims) {
    if (p.first <= span) return false;
    span += p.first * (p.second - 1);
  }
  return true;
}

}  // namespace

extern "C" void zj_copy_strided(const float* src, int64_t srcOffset, const int64_t* srcStrides, float* dst,
                                int64_t dstOffset, const int64_t* dstStrides, int rank, const int64_t* shape,
                                int accumulate) {
  StridedDims dims(rank, shape, srcStrides, dstStrides);
  if (dims.count == 0) return;
  const int r = (int)dims.shape.size();
  const int64_t inner = dims.shape[r - 1], is = dims.st0[r - 1], id = dims.st1[r - 1];
  const int64_t rows = dims.count / inner;
  const float* s0 = src + srcOffset;
  float* d0 = dst + dstOffset;
  auto body = [&](int64_t r0, int64_t r1, int) {
    std::vector<int64_t> idx(r > 1 ? r - 1 : 1, 0);
    int64_t so = 0, dof = 0;
    dims.start(r0, idx.data(), &so, &dof);
    for (int64_t row = r0; row < r1; row++) {
      const float* s = s0 + so;
      float* d = d0 + dof;
      if (is == 1 && id == 1) {
        if (accumulate)
          for (int64_t i = 0; i < inner; i++) d[i] += s[i];
        else
          memmove(d, s, (size_t)inner * sizeof(float));
      } else if (accumulate) {
        for (int64_t i = 0; i < inner; i++) d[i * id] += s[i * is];
      } else {
        for (int64_t i = 0; i < inner; i++) d[i * id] = s[i * is];
      }
      dims.next_row(idx.data(), &so, &dof);
    }
  };
  if (dst_injective(dims))
    parallel_rows(rows, inner, kParallelGrain, body);
  else
    body(0, rows, 0);  // overlapping destinations: the reference's sequential order
}

// The rounding rules are convert.h's (those of the reference).
extern "C" void zj_cast_f32_bf16(const float* x, uint16_t* out, int64_t n) {
  parallel_for(n, kParallelGrain, [&](int64_t i0, int64_t i1, int) {
    for (int64_t i = i0; i < i1; i++) out[i] = f32_to_bf16(x[i]);
  });
}

extern "C" void zj_cast_bf16_f32(const uint16_t* x, float* out, int64_t n) {
  parallel_for(n, kParallelGrain, [&](int64_t i0, int64_t i1, int) {
    for (int64_t i = i0; i < i1; i++) out[i] = bf16_to_f32(x[i]);
  });
}
