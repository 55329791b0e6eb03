// attention_simd.h — the tile loops of attention, forward and backward (FlashAttention-2, Dao 2023: tiles of
// queries x keys, online softmax, P recomputed in the backward), and the small register-blocked GEMM they run on,
// over `Vec`; compiled once per ISA through simd_ops.h. attention.cc splits the (b, head) units over the pool.
#pragma once
#include "simd_common.h"
#include "convert.h"

namespace zj {
namespace ZJ_SIMD_NS {

// ---- small GEMM for attention tiles ------------------------------------------------------------
// C[r, 0:N] (+)= sum_k A[r*ars + k*aks] * Y[k*ldy + 0:N], N a multiple of W (callers pad their scratch).
// A is read one scalar at a time (broadcast), so it may be a transposed view; Y rows are vectors.
template <int M, int NB>
static inline void mg_block(int64_t K, const float* A, int64_t ars, int64_t aks, const float* Y, int64_t ldy,
                            float* C, int64_t ldc, bool acc) {
  R c[M][NB];
  for (int m = 0; m < M; m++)
    for (int n = 0; n < NB; n++) c[m][n] = acc ? Vec::load(C + m * ldc + n * W) : Vec::zero();
  for (int64_t k = 0; k < K; k++) {
    R y[NB];
    for (int n = 0; n < NB; n++) y[n] = Vec::load(Y + k * ldy + n * W);
    for (int m = 0; m < M; m++) {
      R a = Vec::set1(A[m * ars + k * aks]);
      for (int n = 0; n < NB; n++) c[m][n] = Vec::fma(a, y[n], c[m][n]);
    }
  }
  for (int m = 0; m < M; m++)
    for (int n = 0; n < NB; n++) Vec::store(C + m * ldc + n * W, c[m][n]);
}

template <int M, int NB>
static inline void mg_cols(int nb, int64_t K, const float* A, int64_t ars, int64_t aks, const float* Y, int64_t ldy,
                           float* C, int64_t ldc, bool acc) {
  if constexpr (NB > 1) {
    if (nb < NB) {
      mg_cols<M, NB - 1>(nb, K, A, ars, aks, Y, ldy, C, ldc, acc);
      return;
    }
  }
  mg_block<M, NB>(K, A, ars, aks, Y, ldy, C, ldc, acc);
}

template <int M>
static inline void mg_rows(int m, int nb, int64_t K, const float* A, int64_t ars, int64_t aks, const float* Y,
                           int64_t ldy, float* C, int64_t ldc, bool acc) {
  if constexpr (M > 1) {
    if (m < M) {
      mg_rows<M - 1>(m, nb, K, A, ars, aks, Y, ldy, C, ldc, acc);
      return;
    }
  }
  mg_cols<M, Vec::NB>(nb, K, A, ars, aks, Y, ldy, C, ldc, acc);
}

// The causal band of an attention tile: with diag = (S - T + i0) - j0, query row i of the tile sees key column j
// when j <= diag + i. Passing it lets mgemm skip the row blocks' work that the mask would zero anyway:
//   kBandCols: C rows are queries, columns keys (scores): row r needs columns c <= diag + r; the rest is left
//              unwritten and the caller masks it.
//   kBandKHi:  C rows are queries, k runs over keys (P V, dS K): row r sums k <= diag + r only.
//   kBandKLo:  C rows are keys, k runs over queries (P^T dO, dS^T Q): row r sums k >= r - diag only.
// Skipped terms are exact zeros of P or dS, so the results are bitwise those of the full product.
enum Band { kBandNone, kBandCols, kBandKHi, kBandKLo };

static void mgemm(int64_t Rn, int64_t N, int64_t K, const float* A, int64_t ars, int64_t aks, const float* Y,
                  int64_t ldy, float* C, int64_t ldc, bool acc, Band band = kBandNone, int64_t diag = 0) {
  for (int64_t c0 = 0; c0 < N; c0 += Vec::NB * W) {
    for (int64_t r0 = 0; r0 < Rn; r0 += Vec::MR) {
      const int m = (int)lmin(Vec::MR, Rn - r0);
      int64_t n_end = N, k0 = 0, k1 = K;
      if (band == kBandCols) n_end = lmin(N, round_up(diag + r0 + m));  // the block's last row decides
      else if (band == kBandKHi) k1 = lmin(K, diag + r0 + m);
      else if (band == kBandKLo) k0 = lmax(0, r0 - diag);
      const int nb = (int)lmin(Vec::NB, (n_end - c0) / W);
      if (nb <= 0) continue;
      if (k1 <= k0) {
        if (acc) continue;  // nothing to add
        k0 = k1 = 0;        // an empty sum still writes zeros
      }
      mg_rows<Vec::MR>(m, nb, k1 - k0, A + r0 * ars + k0 * aks, ars, aks, Y + k0 * ldy + c0, ldy, C + r0 * ldc + c0,
                       ldc, acc);
    }
  }
}

// ---- attention (FlashAttention-2, Dao 2023: tiles of queries x keys, online softmax) -------------
// Query rows per tile: 16 in the forward (a tile scores only keys up to its last row, and the row count costs
// the micro-GEMM nothing), 32 in the backward, whose dK/dV tiles are reloaded once per query tile. Within a
// diagonal tile the causal band (Band, above) trims the work further, four rows at a time.
static const int64_t kBrF = 16, kBrB = 32;
static const int64_t kBr = 32;  // the larger of the two: scratch sizes
static const int64_t kBc = 64;  // keys per tile (a multiple of every W)

static float* scratch_alloc(int64_t floats) {
  size_t bytes = (size_t)((floats * 4 + 63) / 64 * 64);
  float* p = (float*)aligned_alloc(64, bytes ? bytes : 64);
  if (!p) __builtin_trap();
  return p;
}

// A row-major operand: element (r, c) at p[r * ld + c].
struct Mat {
  float* p;
  int64_t ld;
};

// A cache element as f32: itself, or bf16 bits widened (exact: they are an f32's upper half).
static inline float as_f32(float x) { return x; }
static inline float as_f32(uint16_t h) { return bf16_to_f32(h); }

// n rows of D values (f32, or bf16 bits: a bf16 KV cache) copied as f32 into scratch (n x Dp, the padding zero);
// given a key bias, rows of masked keys (bias -inf) zero.
template <class T>
static Mat copy_padded_rows(const T* src, int64_t ld, int64_t n, int64_t D, int64_t Dp, float* scratch,
                            const float* masked_bias) {
  for (int64_t r = 0; r < n; r++) {
    const T* s = src + r * ld;
    float* d = scratch + r * Dp;
    const bool keep = !masked_bias || masked_bias[r] == 0.f;
    for (int64_t c = 0; c < D; c++) d[c] = keep ? as_f32(s[c]) : 0.f;
    for (int64_t c = D; c < Dp; c++) d[c] = 0.f;
  }
  return Mat{scratch, Dp};
}

// n rows of D floats (row stride ld) as an operand whose rows hold whole vectors: the source itself when D is a
// multiple of W and no row is masked (no copy), else a zero-padded copy in scratch (n x Dp). Given a key bias,
// rows of masked keys (bias -inf) are zeros in the copy: a masked key's values must not reach a product, since
// P = 0 there does not cancel them when they are NaN (an unwritten KV-cache slot).
static Mat padded_rows(const float* src, int64_t ld, int64_t n, int64_t D, int64_t Dp, float* scratch,
                       const float* masked_bias = nullptr) {
  if (D == Dp && !masked_bias) return Mat{(float*)src, ld};
  return copy_padded_rows(src, ld, n, D, Dp, scratch, masked_bias);
}

// Whether every value of the masked keys below send is finite: D floats per key, key s at p + s * ks, its d-th at
// + d * ds (rows: ks = the row stride, ds = 1; transposed keys: ks = 1, ds = ldk). A finite masked key needs no
// zeroed copy: its score is finite + -inf = -inf and its P exactly 0, so it reaches no output, the same bits as
// with the copy. Only NaN / inf (an unwritten cache slot) must be zeroed. The bit test does not depend on how the
// compiler treats isfinite.
static bool masked_keys_finite(const float* p, int64_t ks, int64_t ds, int64_t D, int64_t send, const float* bias) {
  for (int64_t s = 0; s < send; s++) {
    if (bias[s] == 0.f) continue;
    for (int64_t d = 0; d < D; d++) {
      uint32_t u;
      __builtin_memcpy(&u, p + s * ks + d * ds, 4);
      if ((u & 0x7f800000u) == 0x7f800000u) return false;
    }
  }
  return true;
}

// The first send keys of transposed keys (D rows of stride ldk; f32 or bf16 bits) copied as f32 into Kt (D x Sp),
// columns [send, round_up(send)) zero (the tiles read whole vectors, no further).
template <class T>
static void copy_transposed_keys(const T* src, int64_t ldk, int64_t D, int64_t send, int64_t Sp, float* Kt) {
  for (int64_t d = 0; d < D; d++) {
    float* dst = Kt + d * Sp;
    const T* sr = src + d * ldk;
    for (int64_t s = 0; s < send; s++) dst[s] = as_f32(sr[s]);
    for (int64_t s = send; s < lmin(Sp, round_up(send)); s++) dst[s] = 0.f;
  }
}

// Columns of masked keys (bias -inf) of a transposed operand (D x Sp) set to zero; see padded_rows.
static void zero_masked_cols(float* dst, int64_t D, int64_t S, int64_t Sp, const float* bias) {
  for (int64_t s = 0; s < S; s++)
    if (bias[s] != 0.f)
      for (int64_t d = 0; d < D; d++) dst[d * Sp + s] = 0.f;
}

// S rows of D floats (stride ld) transposed into dst (D x Sp), columns [S, round_up(S)) zero (the tiles read whole
// vectors, no further): whole TB x TB blocks in registers (Vec::transpose_block), the ragged edges one by one.
static void transpose_rows(const float* src, int64_t ld, int64_t S, int64_t D, int64_t Sp, float* dst) {
  constexpr int TB = Vec::TB;
  for (int64_t d = 0; d < D; d++)
    for (int64_t s = S; s < lmin(Sp, round_up(S)); s++) dst[d * Sp + s] = 0.f;
  const int64_t Sb = S / TB * TB, Db = D / TB * TB;
  for (int64_t s0 = 0; s0 < Sb; s0 += TB) {
    for (int64_t d0 = 0; d0 < Db; d0 += TB) Vec::transpose_block(src + s0 * ld + d0, ld, dst + d0 * Sp + s0, Sp);
    for (int64_t d = Db; d < D; d++)
      for (int64_t j = 0; j < TB; j++) dst[d * Sp + s0 + j] = src[(s0 + j) * ld + d];
  }
  for (int64_t s = Sb; s < S; s++)
    for (int64_t d = 0; d < D; d++) dst[d * Sp + s] = src[s * ld + d];
}

// What stage_keys found: keys [send, S) are all masked (a KV cache's unwritten capacity), so nothing past send is
// staged or visited; masked: some key below send is masked too. kt / ldk: the transposed keys the tiles read (the
// staging scratch, or the caller's AttnArgs::kt) and their row stride.
struct KeyRange {
  int64_t send;
  bool masked;
  const float* kt;
  int64_t ldk;
};

// Per (b, kv-head): a 0/-inf key bias (Sp; -inf in the padding), K's first send rows transposed (D x Sp, columns
// of masked keys and from send on zero) for score tiles, and whether each key tile has any visible key (tiles of
// padding only are skipped). Keys given transposed (a.kt) are read in place unless a masked one holds NaN or inf
// (which would survive its -inf bias): then they get a copy in Kt with the masked columns zeroed.
// Columns from send on may hold anything then: score_tile sets every lane past a row's last key to -inf.
static KeyRange stage_keys(const AttnArgs& a, int64_t b, int64_t kh, int64_t Sp, float* Kt, float* bias,
                           char* tile_vis) {
  const int64_t S = a.S, D = a.D, Hkv = a.Hkv;
  KeyRange r{0, false, Kt, Sp};
  for (int64_t s = 0; s < Sp; s++) {
    bias[s] = s < S && (!a.mask || a.mask[b * S + s] != 0) ? 0.f : kNegInf;
    if (bias[s] == 0.f) r.send = s + 1;
  }
  for (int64_t s = 0; s < r.send; s++) r.masked |= bias[s] != 0.f;
  if (a.kt16) {  // a bf16 cache: widened into Kt, masked columns zero
    copy_transposed_keys(a.kt16 + (b * Hkv + kh) * D * a.ldk, a.ldk, D, r.send, Sp, Kt);
    if (r.masked) zero_masked_cols(Kt, D, r.send, Sp, bias);
  } else if (a.kt) {
    const float* src = a.kt + (b * Hkv + kh) * D * a.ldk;
    if (!r.masked || masked_keys_finite(src, 1, a.ldk, D, r.send, bias)) {
      r.kt = src;
      r.ldk = a.ldk;
    } else {
      copy_transposed_keys(src, a.ldk, D, r.send, Sp, Kt);
      zero_masked_cols(Kt, D, r.send, Sp, bias);
    }
  } else {
    transpose_rows(a.k + (b * S * Hkv + kh) * D, Hkv * D, r.send, D, Sp, Kt);
    if (r.masked) zero_masked_cols(Kt, D, r.send, Sp, bias);
  }
  for (int64_t j0 = 0, t = 0; j0 < r.send; j0 += kBc, t++) {
    char vis = 0;
    for (int64_t s = j0; s < lmin(r.send, j0 + kBc); s++) vis |= bias[s] == 0.f;
    tile_vis[t] = vis;
  }
  return r;
}

// `in` query rows (row i at qrows + i * ldq) against key tile [j0, j0+jn): Sc[i, c] = scale q.k + bias, with keys
// past the row's causal limit (causal: row i sees key column c when c <= diag + i) and the padding up to a whole
// vector set to -inf. rowmax[i] gets each row's maximum.
static void score_tile(const AttnArgs& a, const float* qrows, int64_t ldq, int64_t in, bool causal, int64_t diag,
                       int64_t j0, int64_t jn, const float* Kt, int64_t ldk, const float* bias, float* Sc,
                       float* rowmax) {
  const int64_t jnp = round_up(jn);
  mgemm(in, jnp, a.D, qrows, ldq, 1, Kt + j0, ldk, Sc, kBc, false, causal ? kBandCols : kBandNone, diag);
  const R sc = Vec::set1(a.scale);
  for (int64_t i = 0; i < in; i++) {
    float* row = Sc + i * kBc;
    // visible keys of this row inside the tile: [0, lim)
    const int64_t lim = causal ? lmin(jn, diag + i + 1) : jn;
    R m = Vec::set1(kNegInf);
    for (int64_t c = 0; c < jnp; c += W) {
      R v = Vec::fma(Vec::load(row + c), sc, Vec::load(bias + j0 + c));
      if (c + W > lim) v = Vec::keep_n(v, lim - c, kNegInf);
      Vec::store(row + c, v);
      m = Vec::max(m, v);
    }
    rowmax[i] = Vec::hmax(m);
  }
}

// Decoding (one or two queries against a long cache) without GQA: per query row, scores by dot products over D and
// the output as a weighted sum of V rows. Reads K and V once per head, with no transposed staging, which costs
// more than the arithmetic it feeds when T is this small and no other head shares the kv head. Sc holds one row of
// S scores.
static const int64_t kSmallT = 2;  // measured: per-row dot products win below ~3 queries per head

static void attention_forward_small(const AttnArgs& a, int64_t b, int64_t h, float* Sc) {
  const int64_t T = a.T, S = a.S, H = a.H, Hkv = a.Hkv, D = a.D, kh = h / (H / Hkv);
  const float* kb = a.k + (b * S * Hkv + kh) * D;
  const float* vb = a.v + (b * S * Hkv + kh) * D;
  for (int64_t t = 0; t < T; t++) {
    const float* q = a.q + ((b * T + t) * H + h) * D;
    float* out = a.o + ((b * T + t) * H + h) * D;
    float* lse = a.lse + (b * H + h) * T + t;
    const int64_t send = a.causal ? lmax(0, lmin(S, S - T + t + 1)) : S;  // keys [0, send) before the mask
    float m = kNegInf;
    for (int64_t s = 0; s < send; s++) {
      const bool vis = !a.mask || a.mask[b * S + s] != 0;
      const float sc = vis ? row_dot(q, kb + s * Hkv * D, D) * a.scale : kNegInf;
      Sc[s] = sc;
      if (sc > m) m = sc;
    }
    if (m == kNegInf) {  // sees no key
      for (int64_t d = 0; d < D; d++) out[d] = 0.f;
      *lse = kNegInf;
      continue;
    }
    const float l = row_exp_sum(Sc, Sc, send, m);
    const float inv = 1.f / l;
    for (int64_t d = 0; d < D; d++) out[d] = 0.f;
    for (int64_t s = 0; s < send; s++) {
      if (Sc[s] == 0.f) continue;
      const R p = Vec::set1(Sc[s] * inv);
      const float* v = vb + s * Hkv * D;
      int64_t d = 0;
      for (; d + W <= D; d += W) Vec::store(out + d, Vec::fma(p, Vec::load(v + d), Vec::load(out + d)));
      if (d < D) {
        const int64_t r = D - d;
        Vec::store_n(out + d, Vec::fma(p, Vec::load_n(v + d, r, 0.f), Vec::load_n(out + d, r, 0.f)), r);
      }
    }
    *lse = (float)((double)m + __builtin_log((double)l));
  }
}

// What a forward unit stages once per (b, kv head) and the scratch its query tiles reuse.
struct FwdStage {
  float *Ktbuf, *bias, *Sc, *Oacc, *mrow, *lrow, *tmax;
  char* tile_vis;
  Mat V;
  int64_t Sp, Dp, send;  // send: see KeyRange
  const float* Kt;       // the staged kv head's transposed keys (Ktbuf, or the caller's), row stride ldk
  int64_t ldk;
};

// `in` (<= kBr) query rows against keys [0, kend) of the staged kv head, FlashAttention-2's loop over key tiles with
// an online softmax. Row i is at qrows + i * ldq, writes out + i * ldo and lse[i * lse_ld]; causal: it sees keys
// up to diag0 + i (diag0 = the first row's position), else all of [0, kend).
static void forward_rows(const AttnArgs& a, const FwdStage& st, const float* qrows, int64_t ldq, int64_t in,
                         bool causal, int64_t diag0, int64_t kend, float* out, int64_t ldo, float* lse,
                         int64_t lse_ld) {
  const int64_t D = a.D, Dp = st.Dp;
  float *Sc = st.Sc, *Oacc = st.Oacc, *mrow = st.mrow, *lrow = st.lrow, *tmax = st.tmax;
  for (int64_t i = 0; i < in; i++) {
    mrow[i] = kNegInf;
    lrow[i] = 0.f;
  }
  fill(Oacc, in * Dp, 0.f);
  kend = lmin(kend, st.send);
  for (int64_t j0 = 0; j0 < kend; j0 += kBc) {
    if (!st.tile_vis[j0 / kBc]) continue;  // every key of the tile is padding
    const int64_t jn = lmin(kBc, kend - j0), jnp = round_up(jn);
    score_tile(a, qrows, ldq, in, causal, diag0 - j0, j0, jn, st.Kt, st.ldk, st.bias, Sc, tmax);
    // online softmax (Milakov & Gimelshein 2018): rescale what was accumulated when the row maximum grows
    for (int64_t i = 0; i < in; i++) {
      float* row = Sc + i * kBc;
      const float mnew = tmax[i] > mrow[i] ? tmax[i] : mrow[i];
      if (mnew == kNegInf) {  // nothing visible yet: this row of P is zero
        for (int64_t c = 0; c < jnp; c += W) Vec::store(row + c, Vec::zero());
        continue;
      }
      const float alpha = expf(mrow[i] - mnew);  // exp(-inf) = 0 on the first visible tile
      const float s = row_exp_sum(row, row, jnp, mnew);
      lrow[i] = lrow[i] * alpha + s;
      mrow[i] = mnew;
      if (alpha != 1.f) {
        const R av = Vec::set1(alpha);
        float* o = Oacc + i * Dp;
        for (int64_t d = 0; d < Dp; d += W) Vec::store(o + d, Vec::mul(Vec::load(o + d), av));
      }
    }
    const Band kb = causal ? kBandKHi : kBandNone;
    mgemm(in, Dp, jn, Sc, kBc, 1, st.V.p + j0 * st.V.ld, st.V.ld, Oacc, Dp, true, kb, diag0 - j0);  // O += P V
  }
  for (int64_t i = 0; i < in; i++) {
    float* o = out + i * ldo;
    float* l = lse + i * lse_ld;
    if (lrow[i] == 0.f) {  // a query that sees no key
      for (int64_t d = 0; d < D; d++) o[d] = 0.f;
      *l = kNegInf;
      continue;
    }
    const R inv = Vec::set1(1.f / lrow[i]);
    map1(Oacc + i * Dp, o, D, [&](R v) { return Vec::mul(v, inv); });
    *l = (float)((double)mrow[i] + __builtin_log((double)lrow[i]));
  }
}

// Units are (b, h). Prefill and training: per head, tiles of kBrF query rows. Decoding (T <= kSmallT) with GQA:
// the heads of one kv group in this chunk become the rows of a tile instead, one tile per query position t (all of
// its rows see the same keys), so the group's K and V are read once, not once per head. Which path a head takes
// depends on the shape only, and a row's arithmetic not on which rows share its tile, so the bits do not depend on
// the chunking.
static void attention_forward_units(const AttnArgs* ap, int64_t u0, int64_t u1) {
  const AttnArgs& a = *ap;
  const int64_t T = a.T, S = a.S, H = a.H, Hkv = a.Hkv, D = a.D, group = H / Hkv;
  const int64_t Sp = round_up(lmax(S, 1)) + kBc, Dp = round_up(D);
  const int64_t ntiles = (S + kBc - 1) / kBc + 1;
  // Kt | Vpad (D % W != 0 or a key mask) | bias | Sc | Oacc | m | l | tile max | tile flags
  const int64_t off_vp = D * Sp, off_bias = off_vp + (D == Dp && !a.mask && !a.v16 ? 0 : S * Dp);
  const int64_t off_sc = off_bias + Sp;
  const int64_t off_o = off_sc + lmax(kBr * kBc, round_up(S));  // Sc also holds a row of S scores (decode path)
  const int64_t off_m = off_o + kBr * Dp, off_l = off_m + kBr, off_tm = off_l + kBr;
  const int64_t off_vis = off_tm + kBr;
  float* buf = scratch_alloc(off_vis + ntiles);
  FwdStage st{buf, buf + off_bias, buf + off_sc, buf + off_o, buf + off_m, buf + off_l, buf + off_tm,
              (char*)(buf + off_vis), Mat{nullptr, 0}, Sp, Dp, 0, nullptr, 0};
  // keys given transposed need no staging, which is all the rows path saves
  const bool rows_path = T <= kSmallT && group == 1 && !a.kt && !a.kt16;
  int64_t staged_b = -1, staged_kh = -1;
  for (int64_t u = u0; u < u1;) {
    const int64_t b = u / H, h = u % H, kh = h / group;
    if (rows_path) {
      attention_forward_small(a, b, h, st.Sc);
      u++;
      continue;
    }
    if (b != staged_b || kh != staged_kh) {  // heads of one GQA group share the staged K and V
      const KeyRange kr = stage_keys(a, b, kh, Sp, st.Ktbuf, st.bias, st.tile_vis);
      st.Kt = kr.kt;
      st.ldk = kr.ldk;
      if (a.v16) {
        st.V = copy_padded_rows(a.v16 + (b * S * Hkv + kh) * D, Hkv * D, kr.send, D, Dp, buf + off_vp,
                                kr.masked ? st.bias : nullptr);
      } else {
        const float* vb = a.v + (b * S * Hkv + kh) * D;
        const bool zero_masked = kr.masked && !masked_keys_finite(vb, Hkv * D, 1, D, kr.send, st.bias);
        st.V = padded_rows(vb, Hkv * D, kr.send, D, Dp, buf + off_vp, zero_masked ? st.bias : nullptr);
      }
      st.send = kr.send;
      staged_b = b;
      staged_kh = kh;
    }
    if (T <= kSmallT) {  // heads [h, h1) of this group and chunk, at most kBrF per tile
      const int64_t h1 = lmin(lmin((kh + 1) * group, h + kBrF), h + (u1 - u));
      for (int64_t t = 0; t < T; t++) {
        const int64_t qo = ((b * T + t) * H + h) * D;
        const int64_t kend = a.causal ? lmax(0, lmin(S, S - T + t + 1)) : S;
        forward_rows(a, st, a.q + qo, D, h1 - h, false, 0, kend, a.o + qo, D, a.lse + (b * H + h) * T + t, T);
      }
      u += h1 - h;
      continue;
    }
    for (int64_t i0 = 0; i0 < T; i0 += kBrF) {
      const int64_t in = lmin(kBrF, T - i0);
      const int64_t qo = ((b * T + i0) * H + h) * D;
      // keys any row of this tile may see: [0, kend)
      const int64_t kend = a.causal ? lmax(0, lmin(S, S - T + i0 + in)) : S;
      forward_rows(a, st, a.q + qo, H * D, in, a.causal, S - T + i0, kend, a.o + qo, H * D,
                   a.lse + (b * H + h) * T + i0, 1);
    }
    u++;
  }
  free(buf);
}

// Backward per (b, kv-head): for each query tile, recompute P = exp(scale q.k - lse) tile by tile, then
// dV += P^T dO, dS = P (dO.V - delta) scale, dK += dS^T Q, dQ += dS K. A unit owns its dk, dv and the dq of
// its heads, so units never race and the summation order is fixed. dK, dV and dQ accumulate in the unit's own
// 64-byte aligned scratch and are written out once: the caller's rows interleave kv heads (and heads) and need not
// be aligned, so accumulating in place could have two threads writing one cache line at a row boundary.
static void attention_backward_units(const AttnArgs* ap, int64_t u0, int64_t u1) {
  const AttnArgs& a = *ap;
  const int64_t T = a.T, S = a.S, H = a.H, Hkv = a.Hkv, D = a.D, group = H / Hkv;
  const int64_t Sp = round_up(lmax(S, 1)) + kBc, Dp = round_up(D);
  const int64_t ldq = H * D, ldk = Hkv * D;
  const bool pad = D != Dp;
  const int64_t ntiles = (S + kBc - 1) / kBc + 1;
  // Kt | Vt | bias | P | dS | delta | lse | tile flags | dKa | dVa | dQa | Kpad (D % W != 0 or a key mask) |
  // Qpad | dOpad (D % W != 0)
  const int64_t sz_t = D * Sp, sz_s = kBr * kBc, sz_kv = round_up(S) * Dp, sz_q = kBr * Dp;
  const int64_t sz_kp = pad || a.mask ? S * Dp : 0, sz_qp = pad ? kBr * Dp : 0;
  const int64_t off_vt = sz_t, off_bias = off_vt + sz_t, off_P = off_bias + Sp, off_dS = off_P + sz_s;
  const int64_t off_delta = off_dS + sz_s, off_lse = off_delta + kBr, off_vis = off_lse + kBr;
  const int64_t off_dk = off_vis + (ntiles + 63) / 64 * 16, off_dv = off_dk + sz_kv, off_dq = off_dv + sz_kv;
  const int64_t off_kp = off_dq + sz_q, off_qp = off_kp + sz_kp, off_dop = off_qp + sz_qp;
  float* buf = scratch_alloc(off_dop + sz_qp);
  float *Kt = buf, *Vt = buf + off_vt, *bias = buf + off_bias, *P = buf + off_P, *dS = buf + off_dS;
  float *delta = buf + off_delta, *lrow = buf + off_lse;
  char* tile_vis = (char*)(buf + off_vis);
  const Mat dK{buf + off_dk, Dp}, dV{buf + off_dv, Dp}, dQ{buf + off_dq, Dp};
  const R sc = Vec::set1(a.scale);
  for (int64_t u = u0; u < u1; u++) {
    const int64_t b = u / Hkv, kh = u % Hkv;
    const int64_t kvo = (b * S * Hkv + kh) * D;  // (b, s=0, kh, 0)
    const KeyRange kr = stage_keys(a, b, kh, Sp, Kt, bias, tile_vis);
    transpose_rows(a.v + kvo, ldk, kr.send, D, Sp, Vt);
    if (kr.masked) zero_masked_cols(Vt, D, kr.send, Sp, bias);
    const Mat K = padded_rows(a.k + kvo, ldk, kr.send, D, Dp, buf + off_kp, kr.masked ? bias : nullptr);
    fill(dK.p, S * Dp, 0.f);
    fill(dV.p, S * Dp, 0.f);
    for (int64_t h = kh * group; h < (kh + 1) * group; h++) {
      for (int64_t i0 = 0; i0 < T; i0 += kBrB) {
        const int64_t in = lmin(kBrB, T - i0);
        const int64_t qo = ((b * T + i0) * H + h) * D;  // (b, i0, h, 0)
        const float* qrows = a.q + qo;
        const float* dorows = a.dout + qo;
        const Mat Q = padded_rows(qrows, ldq, in, D, Dp, buf + off_qp);
        const Mat dO = padded_rows(dorows, ldq, in, D, Dp, buf + off_dop);
        const int64_t kend = lmin(kr.send, a.causal ? lmax(0, lmin(S, S - T + i0 + in)) : S);
        fill(dQ.p, in * Dp, 0.f);
        for (int64_t i = 0; i < in; i++) {
          delta[i] = row_dot(dorows + i * ldq, a.out + qo + i * ldq, D);
          lrow[i] = a.lse_in[(b * H + h) * T + i0 + i];
        }
        for (int64_t j0 = 0; j0 < kend; j0 += kBc) {
          if (!tile_vis[j0 / kBc]) continue;
          const int64_t jn = lmin(kBc, kend - j0), jnp = round_up(jn);
          const int64_t diag = (S - T + i0) - j0;  // see Band
          const Band cols = a.causal ? kBandCols : kBandNone, khi = a.causal ? kBandKHi : kBandNone;
          const Band klo = a.causal ? kBandKLo : kBandNone;
          mgemm(in, jnp, D, qrows, ldq, 1, Kt + j0, Sp, P, kBc, false, cols, diag);      // q.k
          mgemm(in, jnp, D, dorows, ldq, 1, Vt + j0, Sp, dS, kBc, false, cols, diag);  // dP = dO V^T
          // One pass per row: the scores as score_tile forms them (scale, key bias, causal limit), P from the
          // saved logsumexp, and dS. Past the row's causal limit neither product was computed: P and dS there
          // are exact zeros.
          for (int64_t i = 0; i < in; i++) {
            float* pr = P + i * kBc;
            float* dr = dS + i * kBc;
            const int64_t lim = a.causal ? lmin(jn, diag + i + 1) : jn;
            if (lrow[i] == kNegInf || lim <= 0) {  // a query that saw no key has no gradient
              for (int64_t c = 0; c < jnp; c += W) {
                Vec::store(pr + c, Vec::zero());
                Vec::store(dr + c, Vec::zero());
              }
              continue;
            }
            const R lv = Vec::set1(lrow[i]), dl = Vec::set1(delta[i]);
            for (int64_t c = 0; c < jnp; c += W) {
              R s = Vec::fma(Vec::load(pr + c), sc, Vec::load(bias + j0 + c));
              R p = Vec::exp(Vec::sub(s, lv));
              R ds = Vec::mul(Vec::mul(p, Vec::sub(Vec::load(dr + c), dl)), sc);
              if (c + W > lim) {
                p = Vec::keep_n(p, lim - c, 0.f);
                ds = Vec::keep_n(ds, lim - c, 0.f);
              }
              Vec::store(pr + c, p);
              Vec::store(dr + c, ds);
            }
          }
          mgemm(jn, Dp, in, P, 1, kBc, dO.p, dO.ld, dV.p + j0 * Dp, Dp, true, klo, diag);  // dV += P^T dO
          mgemm(jn, Dp, in, dS, 1, kBc, Q.p, Q.ld, dK.p + j0 * Dp, Dp, true, klo, diag);   // dK += dS^T Q
          mgemm(in, Dp, jn, dS, kBc, 1, K.p + j0 * K.ld, K.ld, dQ.p, Dp, true, khi, diag);  // dQ += dS K
        }
        for (int64_t i = 0; i < in; i++)
          for (int64_t d = 0; d < D; d++) a.dq[qo + i * ldq + d] = dQ.p[i * Dp + d];
      }
    }
    for (int64_t s = 0; s < S; s++)
      for (int64_t d = 0; d < D; d++) {
        a.dk[kvo + s * ldk + d] = dK.p[s * Dp + d];
        a.dv[kvo + s * ldk + d] = dV.p[s * Dp + d];
      }
  }
  free(buf);
}

}  // namespace ZJ_SIMD_NS
}  // namespace zj
