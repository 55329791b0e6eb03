// attention-check.cc — a standalone C++ driver for the fused attention kernels (zj_attention_forward, its
// transposed-key forms zj_attention_forward_kt and zj_attention_forward_kt_bf16, zj_attention_backward), outside
// node. `check` runs odd shapes against double loops; scripts/asan-kernels.sh builds it with
// -fsanitize=address,undefined and exact-sized buffers, so a tile that reads a vector past a row of K, V or Kᵀ (the
// tiles round every key range up to whole vectors) fails here rather than reading a neighbour's floats unnoticed, as
// it could inside a JS ArrayBuffer. Unwritten cache slots (past S in Kᵀ, masked keys) hold NaN and must reach no
// output. Exit code 0 when every case is within tolerance.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>
#include "../../native/include/zj_kernels.h"
#include "../../native/src/convert.h"  // f32_to_bf16 / bf16_to_f32: the cache's own rounding

namespace {

uint64_t rng_state = 0x2545f4914f6cdd1dull;
float next_uniform() {  // xorshift64*, in [-1, 1)
  rng_state ^= rng_state >> 12, rng_state ^= rng_state << 25, rng_state ^= rng_state >> 27;
  return (float)((rng_state * 0x2545f4914f6cdd1dull) >> 40) / (float)(1 << 23) - 1.0f;
}

struct Case {
  int64_t B, T, S, H, Hkv, D;
  bool causal;
  int mask;  // 0: none; 1: left padding of 3·b keys; 2: every 5th key of odd rows; 3: row 0 fully masked
};

bool visible(const Case& c, const std::vector<int32_t>& m, int64_t b, int64_t t, int64_t s) {
  if (c.causal && s > c.S - c.T + t) return false;
  return m.empty() || m[(size_t)(b * c.S + s)] != 0;
}

// Double-precision attention of one (b, h, t): P over the keys it sees, out = P V, lse; dq, dk, dv accumulated for dO.
struct Ref {
  std::vector<double> out, lse, dq, dk, dv;
};

Ref reference(const Case& c, const std::vector<float>& q, const std::vector<float>& k, const std::vector<float>& v,
              const std::vector<float>& dout, const std::vector<int32_t>& m, float scale) {
  const int64_t B = c.B, T = c.T, S = c.S, H = c.H, Hkv = c.Hkv, D = c.D, group = H / Hkv;
  Ref r{std::vector<double>((size_t)(B * T * H * D)), std::vector<double>((size_t)(B * H * T)),
        std::vector<double>((size_t)(B * T * H * D)), std::vector<double>((size_t)(B * S * Hkv * D)),
        std::vector<double>((size_t)(B * S * Hkv * D))};
  std::vector<double> p((size_t)S), dp((size_t)S);
  for (int64_t b = 0; b < B; b++)
    for (int64_t h = 0; h < H; h++)
      for (int64_t t = 0; t < T; t++) {
        const int64_t kh = h / group, qo = ((b * T + t) * H + h) * D;
        double mx = -INFINITY;
        for (int64_t s = 0; s < S; s++) {
          p[(size_t)s] = -INFINITY;
          if (!visible(c, m, b, t, s)) continue;
          double dot = 0;
          for (int64_t d = 0; d < D; d++) dot += (double)q[(size_t)(qo + d)] * k[(size_t)(((b * S + s) * Hkv + kh) * D + d)];
          p[(size_t)s] = dot * scale;
          mx = std::max(mx, p[(size_t)s]);
        }
        if (mx == -INFINITY) {
          r.lse[(size_t)((b * H + h) * T + t)] = -INFINITY;
          continue;  // out and the gradients stay 0
        }
        double z = 0;
        for (int64_t s = 0; s < S; s++) z += p[(size_t)s] == -INFINITY ? 0 : std::exp(p[(size_t)s] - mx);
        r.lse[(size_t)((b * H + h) * T + t)] = mx + std::log(z);
        for (int64_t s = 0; s < S; s++) p[(size_t)s] = p[(size_t)s] == -INFINITY ? 0 : std::exp(p[(size_t)s] - mx) / z;
        double delta = 0;
        for (int64_t d = 0; d < D; d++) {
          double o = 0;
          for (int64_t s = 0; s < S; s++) o += p[(size_t)s] * v[(size_t)(((b * S + s) * Hkv + kh) * D + d)];
          r.out[(size_t)(qo + d)] = o;
          delta += o * dout[(size_t)(qo + d)];
        }
        for (int64_t s = 0; s < S; s++) {
          if (p[(size_t)s] == 0) continue;
          const int64_t ko = ((b * S + s) * Hkv + kh) * D;
          double g = 0;
          for (int64_t d = 0; d < D; d++) g += (double)dout[(size_t)(qo + d)] * v[(size_t)(ko + d)];
          const double ds = p[(size_t)s] * (g - delta) * scale;
          for (int64_t d = 0; d < D; d++) {
            r.dv[(size_t)(ko + d)] += p[(size_t)s] * dout[(size_t)(qo + d)];
            r.dq[(size_t)(qo + d)] += ds * k[(size_t)(ko + d)];
            r.dk[(size_t)(ko + d)] += ds * q[(size_t)(qo + d)];
          }
        }
      }
  return r;
}

// Largest |got - want| over the largest |want|, NaN counted as a failure. The scale is at least 0.1 (inputs are in
// [-1, 1)): a gradient that is exactly 0 in exact arithmetic (one visible key) comes out of f32 as ~1e-7, not 0.
double rel_err(const float* got, const std::vector<double>& want) {
  double big = 0.1, worst = 0;
  for (double w : want)
    if (std::isfinite(w)) big = std::max(big, std::fabs(w));
  for (size_t i = 0; i < want.size(); i++) {
    if (std::isinf(want[i]) && got[i] == (float)want[i]) continue;  // lse = -inf of a query that sees no key
    const double e = std::fabs((double)got[i] - want[i]) / big;
    if (!(e <= worst)) worst = std::isnan(e) ? INFINITY : std::max(worst, e);
  }
  return worst;
}

int check_case(const Case& c) {
  const int64_t B = c.B, T = c.T, S = c.S, H = c.H, Hkv = c.Hkv, D = c.D;
  const float scale = 1.0f / std::sqrt((float)D);
  std::vector<float> q((size_t)(B * T * H * D)), k((size_t)(B * S * Hkv * D)), v(k.size()), dout(q.size());
  for (auto* a : {&q, &k, &v, &dout})
    for (auto& x : *a) x = next_uniform();
  std::vector<int32_t> m;
  if (c.mask) {
    m.resize((size_t)(B * S));
    for (int64_t b = 0; b < B; b++)
      for (int64_t s = 0; s < S; s++)
        m[(size_t)(b * S + s)] = c.mask == 1 ? s >= 3 * b : c.mask == 2 ? !(b % 2 == 1 && s % 5 == 0) : b != 0;
  }
  const int32_t* mp = m.empty() ? nullptr : m.data();
  const Ref want = reference(c, q, k, v, dout, m, scale);
  int fails = 0;
  auto report = [&](const char* what, double err, double tol) {
    if (err <= tol) return;
    std::printf("FAIL %s B=%lld T=%lld S=%lld H=%lld Hkv=%lld D=%lld causal=%d mask=%d err=%.3g\n", what, (long long)B,
                (long long)T, (long long)S, (long long)H, (long long)Hkv, (long long)D, c.causal, c.mask, err);
    fails = 1;
  };
  // masked keys and values hold NaN (an unwritten cache slot): the kernels must not let them through
  std::vector<float> kp = k, vp = v;
  for (int64_t b = 0; b < B; b++)
    for (int64_t s = 0; s < S; s++)
      if (mp && !m[(size_t)(b * S + s)])
        for (int64_t j = 0; j < Hkv * D; j++) kp[(size_t)((b * S + s) * Hkv * D + j)] = vp[(size_t)((b * S + s) * Hkv * D + j)] = NAN;
  std::vector<float> out(q.size(), 7.f), lse((size_t)(B * H * T), 7.f);
  zj_attention_forward(q.data(), kp.data(), vp.data(), out.data(), lse.data(), B, T, S, H, Hkv, D, scale, c.causal, mp);
  report("forward.out", rel_err(out.data(), want.out), 1e-5);
  report("forward.lse", rel_err(lse.data(), want.lse), 1e-5);
  // the same over Kᵀ at the tightest stride (S rounded up to 16); columns from S on are NaN
  const int64_t ldk = (S + 15) / 16 * 16;
  std::vector<float> kt((size_t)(B * Hkv * D * ldk), NAN);
  for (int64_t b = 0; b < B; b++)
    for (int64_t s = 0; s < S; s++)
      for (int64_t j = 0; j < Hkv * D; j++) kt[(size_t)((b * Hkv * D + j) * ldk + s)] = kp[(size_t)((b * S + s) * Hkv * D + j)];
  std::vector<float> out2(q.size(), 7.f), lse2(lse.size(), 7.f);
  zj_attention_forward_kt(q.data(), kt.data(), ldk, vp.data(), out2.data(), lse2.data(), B, T, S, H, Hkv, D, scale,
                          c.causal, mp);
  report("forward_kt.out", rel_err(out2.data(), want.out), 1e-5);
  report("forward_kt.lse", rel_err(lse2.data(), want.lse), 1e-5);
  // over a bf16 cache: Kᵀ and V rounded to bf16 (NaN stays NaN), against the reference on the widened values
  {
    std::vector<uint16_t> kt16(kt.size()), v16(vp.size());
    for (size_t i = 0; i < kt.size(); i++) kt16[i] = zj::f32_to_bf16(kt[i]);
    for (size_t i = 0; i < vp.size(); i++) v16[i] = zj::f32_to_bf16(vp[i]);
    std::vector<float> kw(k.size()), vw(v.size());
    for (int64_t b = 0; b < B; b++)
      for (int64_t s = 0; s < S; s++)
        for (int64_t j = 0; j < Hkv * D; j++) {
          const size_t r = (size_t)((b * S + s) * Hkv * D + j);
          kw[r] = zj::bf16_to_f32(zj::f32_to_bf16(k[r]));
          vw[r] = zj::bf16_to_f32(zj::f32_to_bf16(v[r]));
        }
    const Ref want16 = reference(c, q, kw, vw, dout, m, scale);
    std::vector<float> out3(q.size(), 7.f), lse3(lse.size(), 7.f);
    zj_attention_forward_kt_bf16(q.data(), kt16.data(), ldk, v16.data(), out3.data(), lse3.data(), B, T, S, H, Hkv, D,
                                 scale, c.causal, mp);
    report("forward_kt_bf16.out", rel_err(out3.data(), want16.out), 1e-5);
    report("forward_kt_bf16.lse", rel_err(lse3.data(), want16.lse), 1e-5);
  }
  // the backward on the reference's forward, rounded to f32
  std::vector<float> of(q.size()), lf(lse.size());
  for (size_t i = 0; i < of.size(); i++) of[i] = (float)want.out[i];
  for (size_t i = 0; i < lf.size(); i++) lf[i] = (float)want.lse[i];
  std::vector<float> dq(q.size(), 3.f), dk(k.size(), 3.f), dv(v.size(), 3.f);
  zj_attention_backward(q.data(), kp.data(), vp.data(), of.data(), lf.data(), dout.data(), dq.data(), dk.data(), dv.data(),
                        B, T, S, H, Hkv, D, scale, c.causal, mp);
  report("backward.dq", rel_err(dq.data(), want.dq), 2e-5);
  report("backward.dk", rel_err(dk.data(), want.dk), 2e-5);
  report("backward.dv", rel_err(dv.data(), want.dv), 2e-5);
  return fails;
}

int run_checks() {
  const Case cases[] = {
      {1, 1, 1, 1, 1, 8, true, 0},      {2, 1, 37, 14, 2, 64, true, 1},   {3, 1, 200, 8, 2, 128, true, 2},
      {1, 2, 90, 6, 2, 20, true, 2},    {2, 1, 40, 4, 1, 32, true, 3},    {1, 1, 129, 4, 4, 64, true, 1},
      {2, 33, 100, 4, 2, 64, true, 1},  {1, 77, 77, 7, 1, 64, true, 0},   {2, 20, 90, 4, 2, 24, false, 2},
      {1, 3, 66, 2, 1, 64, true, 0},    {1, 161, 161, 2, 1, 64, true, 0}, {2, 17, 17, 3, 3, 7, true, 1},
      {1, 5, 70, 20, 1, 64, true, 2},
  };
  int fails = 0, n = 0;
  for (const Case& c : cases) fails += check_case(c), n++;
  std::printf("%d attention cases, %d failed\n", n, fails);
  return fails ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && !std::strcmp(argv[1], "check")) return run_checks();
  std::fprintf(stderr, "usage: attention-check check\n");
  return 2;
}
