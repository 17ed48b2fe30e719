// Unit tests of the int8 kernels (mcutrain_int8_kernels.h) against the loop
// nest lower-to-linalg writes for nn.qconv2d / nn.qgemm: per output the
// int32 sum of (x - x_zero) * w over the taps inside the input, then
// clamp((acc * multiplier + offset) >> shift, Lo, Hi). Bit-exact: every
// output byte must match. Shapes cover padding, strides, dilations,
// batches, odd channel and pixel counts, reductions that are not a multiple
// of 4, layers whose weights are widened in several blocks, both input
// signednesses, shifts below and above 32, and both Gemm layouts. The float
// gradient kernels (qconv2d_grad_weight / _grad_input, qgemm_grad_a)
// against their definitions summed in double, within 1e-5 of the largest
// value (they sum in float, in another order). Built for the host and
// (MCUTRAIN_TEST_SEMIHOSTING) for QEMU's Cortex-M4, where the int8 kernels
// take the __SMLAD path.
#include "mcutrain_kernels.h"

#include <cstdint>

#ifdef MCUTRAIN_TEST_SEMIHOSTING
#include "semihosting.h"
extern "C" void SysTick_Handler() {}
static void say(const char *what, bool ok, const char *prefix = "") {
  semihosting::Line line;
  line << (ok ? "ok   " : "FAIL ") << prefix << what;
  line.print();
}
static void summary(int passed, int failed) {
  semihosting::Line line;
  line << passed << " passed, " << failed << " failed";
  line.print();
}
#else
#include <cstdio>
static void say(const char *what, bool ok, const char *prefix = "") {
  std::printf("%s %s%s\n", ok ? "ok  " : "FAIL", prefix, what);
}
static void summary(int passed, int failed) {
  std::printf("%d passed, %d failed\n", passed, failed);
}
#endif

namespace k = mcutrain::kernels;

static int passed = 0, failed = 0;
static std::uint32_t seed = 7;
static std::uint32_t next() {
  seed = seed * 1664525u + 1013904223u;
  return seed >> 8;
}
static void fillBytes(std::int8_t *v, int n) {
  for (int i = 0; i < n; ++i)
    v[i] = std::int8_t(next() & 0xff);
}

/// The 256-entry map the _lut kernels apply to their output bytes.
static std::int8_t table[256];
static void applyTable(std::int8_t *v, int n) {
  for (int i = 0; i < n; ++i)
    v[i] = table[std::uint8_t(v[i])];
}

/// Per-channel requantization: multipliers in [2^30, 2^31), shifts from
/// 32 to 45, or (narrow) every third channel from 20 to 31; offsets as
/// lower-to-linalg forms them (a bias term, the rounding half, the zero
/// point).
static void fillRequant(std::int32_t *m, std::int32_t *s, std::int64_t *o,
                        int n, int zero, bool narrow) {
  for (int i = 0; i < n; ++i) {
    m[i] = std::int32_t((1u << 30) + (next() & 0x3fffffff));
    s[i] = narrow && i % 3 == 2 ? 20 + int(next() % 12) : 32 + int(next() % 14);
    std::int64_t bias = std::int64_t(int(next() % 20001) - 10000) *
                        (std::int64_t(1) << (s[i] - 10));
    o[i] = bias + (std::int64_t(1) << (s[i] - 1)) +
           std::int64_t(zero) * (std::int64_t(1) << s[i]);
  }
}

static std::int8_t reference(std::int32_t acc, std::int32_t m, std::int32_t s,
                             std::int64_t o, int lo, int hi) {
  std::int64_t y = (std::int64_t(acc) * m + o) >> s;
  y = y < lo ? lo : y;
  y = y > hi ? hi : y;
  return std::int8_t(y);
}

static void compare(const char *what, const std::int8_t *got,
                    const std::int8_t *want, int n) {
  bool ok = true;
  for (int i = 0; i < n; ++i)
    ok = ok && got[i] == want[i];
  say(what, ok);
  ++(ok ? passed : failed);
}

template <int N, int C, int H, int W, int F, int KH, int KW, int SH, int SW,
          int PT, int PL, int PB, int PR, int DH, int DW, int XU, int XZ,
          int Lo, int Hi, int WS = 1, bool Lut = false>
static void convCase(const char *name) {
  constexpr int OH = (H + PT + PB - DH * (KH - 1) - 1) / SH + 1;
  constexpr int OW = (W + PL + PR - DW * (KW - 1) - 1) / SW + 1;
  constexpr int K = C * KH * KW;
  static std::int8_t x[N * C * H * W], w[F * K], y[N * F * OH * OW],
      want[N * F * OH * OW];
  static std::int32_t m[F], s[F];
  static std::int64_t o[F];
  alignas(8) static std::int8_t scratch[k::int8::convScratchBytes(
      C, W, F, KH, KW, OW, SW, PL, DH, DW, N, OH, SH)];
  fillBytes(x, N * C * H * W);
  fillBytes(w, F * K);
  fillRequant(m, s, o, F, (Lo + Hi) / 2, !WS);
  for (int n = 0; n < N; ++n)
    for (int f = 0; f < F; ++f)
      for (int oh = 0; oh < OH; ++oh)
        for (int ow = 0; ow < OW; ++ow) {
          std::uint32_t acc = 0;
          for (int c = 0; c < C; ++c)
            for (int kh = 0; kh < KH; ++kh)
              for (int kw = 0; kw < KW; ++kw) {
                int ih = oh * SH - PT + kh * DH, iw = ow * SW - PL + kw * DW;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W)
                  continue;
                std::int8_t b = x[((n * C + c) * H + ih) * W + iw];
                int xv = XU ? int(std::uint8_t(b)) : int(b);
                acc += std::uint32_t((xv - XZ) *
                                     w[((f * C + c) * KH + kh) * KW + kw]);
              }
          want[((n * F + f) * OH + oh) * OW + ow] =
              reference(std::int32_t(acc), m[f], s[f], o[f], Lo, Hi);
        }
  if constexpr (Lut) {
    applyTable(want, N * F * OH * OW);
    k::qconv2d_lut<N, C, H, W, F, KH, KW, OH, OW, SH, SW, PT, PL, DH, DW, XU,
                   XZ, Lo, Hi, WS>(x, w, m, s, o, table, y, scratch);
  } else {
    k::qconv2d<N, C, H, W, F, KH, KW, OH, OW, SH, SW, PT, PL, DH, DW, XU, XZ,
               Lo, Hi, WS>(x, w, m, s, o, y, scratch);
  }
  compare(name, y, want, N * F * OH * OW);
}

template <int N, int C, int H, int W, int KH, int KW, int SH, int SW, int PT,
          int PL, int PB, int PR, int DH, int DW, int XU, int XZ, int Lo,
          int Hi, int WS = 1, bool Lut = false, bool InPlace = false>
static void depthwiseCase(const char *name) {
  constexpr int OH = (H + PT + PB - DH * (KH - 1) - 1) / SH + 1;
  constexpr int OW = (W + PL + PR - DW * (KW - 1) - 1) / SW + 1;
  static std::int8_t x[N * C * H * W], w[C * KH * KW], y[N * C * OH * OW],
      want[N * C * OH * OW];
  static std::int32_t m[C], s[C];
  static std::int64_t o[C];
  alignas(8) static std::int8_t
      scratch[k::int8::depthwiseScratchBytes(W, KH, KW, OW, SW, PL, DH, DW)];
  fillBytes(x, N * C * H * W);
  fillBytes(w, C * KH * KW);
  fillRequant(m, s, o, C, (Lo + Hi) / 2, !WS);
  for (int n = 0; n < N; ++n)
    for (int c = 0; c < C; ++c)
      for (int oh = 0; oh < OH; ++oh)
        for (int ow = 0; ow < OW; ++ow) {
          std::uint32_t acc = 0;
          for (int kh = 0; kh < KH; ++kh)
            for (int kw = 0; kw < KW; ++kw) {
              int ih = oh * SH - PT + kh * DH, iw = ow * SW - PL + kw * DW;
              if (ih < 0 || ih >= H || iw < 0 || iw >= W)
                continue;
              std::int8_t b = x[((n * C + c) * H + ih) * W + iw];
              int xv = XU ? int(std::uint8_t(b)) : int(b);
              acc += std::uint32_t((xv - XZ) * w[(c * KH + kh) * KW + kw]);
            }
          want[((n * C + c) * OH + oh) * OW + ow] =
              reference(std::int32_t(acc), m[c], s[c], o[c], Lo, Hi);
        }
  if constexpr (Lut)
    applyTable(want, N * C * OH * OW);
  if constexpr (InPlace) {
    // y starts as x and the kernel writes over it.
    static_assert(k::int8::depthwiseInPlaceFits(H, W, KH, KW, OH, OW, SH, SW,
                                                PT, PL, DH, DW));
    for (int i = 0; i < N * C * H * W; ++i)
      y[i] = x[i];
    if constexpr (Lut)
      k::qdepthwise2d_lut_inplace<N, C, H, W, KH, KW, OH, OW, SH, SW, PT, PL,
                                  DH, DW, XU, XZ, Lo, Hi, WS>(
          y, w, m, s, o, table, y, scratch);
    else
      k::qdepthwise2d_inplace<N, C, H, W, KH, KW, OH, OW, SH, SW, PT, PL, DH,
                              DW, XU, XZ, Lo, Hi, WS>(y, w, m, s, o, y,
                                                      scratch);
  } else if constexpr (Lut) {
    k::qdepthwise2d_lut<N, C, H, W, KH, KW, OH, OW, SH, SW, PT, PL, DH, DW, XU,
                        XZ, Lo, Hi, WS>(x, w, m, s, o, table, y, scratch);
  } else {
    k::qdepthwise2d<N, C, H, W, KH, KW, OH, OW, SH, SW, PT, PL, DH, DW, XU, XZ,
                    Lo, Hi, WS>(x, w, m, s, o, y, scratch);
  }
  compare(name, y, want, N * C * OH * OW);
}

template <int M, int N, int K, int TB, int AU, int AZ, int Lo, int Hi,
          int WS = 1, bool Lut = false>
static void gemmCase(const char *name) {
  static std::int8_t a[M * K], b[K * N], y[M * N], want[M * N];
  static std::int32_t m[N], s[N];
  static std::int64_t o[N];
  alignas(8) static std::int8_t scratch[k::int8::gemmScratchBytes(K)];
  fillBytes(a, M * K);
  fillBytes(b, K * N);
  fillRequant(m, s, o, N, (Lo + Hi) / 2, !WS);
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < N; ++j) {
      std::uint32_t acc = 0;
      for (int r = 0; r < K; ++r) {
        int av = AU ? int(std::uint8_t(a[i * K + r])) : int(a[i * K + r]);
        int bv = TB ? b[j * K + r] : b[r * N + j];
        acc += std::uint32_t((av - AZ) * bv);
      }
      want[i * N + j] = reference(std::int32_t(acc), m[j], s[j], o[j], Lo, Hi);
    }
  if constexpr (Lut) {
    applyTable(want, M * N);
    k::qgemm_lut<M, N, K, TB, AU, AZ, Lo, Hi, WS>(a, b, m, s, o, table, y,
                                                  scratch);
  } else {
    k::qgemm<M, N, K, TB, AU, AZ, Lo, Hi, WS>(a, b, m, s, o, y, scratch);
  }
  compare(name, y, want, M * N);
}

template <int N, int C, int HP, int WP, int KH, int KW, int SH, int SW, int DH,
          int DW, int XU>
static void poolCase(const char *name) {
  constexpr int OH = (HP - DH * (KH - 1) - 1) / SH + 1;
  constexpr int OW = (WP - DW * (KW - 1) - 1) / SW + 1;
  static std::int8_t x[N * C * HP * WP], y[N * C * OH * OW],
      want[N * C * OH * OW];
  fillBytes(x, N * C * HP * WP);
  fillBytes(y, N * C * OH * OW); // the kernel takes the max with y
  for (int p = 0; p < N * C; ++p)
    for (int oh = 0; oh < OH; ++oh)
      for (int ow = 0; ow < OW; ++ow) {
        std::int8_t *out = y + (p * OH + oh) * OW + ow;
        int m = XU ? int(std::uint8_t(*out)) : int(*out);
        for (int kh = 0; kh < KH; ++kh)
          for (int kw = 0; kw < KW; ++kw) {
            std::int8_t b =
                x[(p * HP + oh * SH + kh * DH) * WP + ow * SW + kw * DW];
            int v = XU ? int(std::uint8_t(b)) : int(b);
            m = v > m ? v : m;
          }
        want[(p * OH + oh) * OW + ow] = std::int8_t(m);
      }
  k::max_pool8<N, C, HP, WP, KH, KW, OH, OW, SH, SW, DH, DW, XU>(x, y);
  compare(name, y, want, N * C * OH * OW);
}

static void fillFloats(float *v, int n) {
  for (int i = 0; i < n; ++i)
    v[i] = float(int(next() % 2001) - 1000) / 1000.0f;
}

/// got within 1e-5 of the largest |want| everywhere.
static void compareFloats(const char *prefix, const char *what,
                          const float *got, const double *want, int n) {
  double largest = 0, worst = 0;
  for (int i = 0; i < n; ++i) {
    double a = want[i] < 0 ? -want[i] : want[i];
    double d = got[i] - want[i];
    largest = a > largest ? a : largest;
    worst = (d < 0 ? -d : d) > worst ? (d < 0 ? -d : d) : worst;
  }
  bool ok = largest > 0 && worst <= 1e-5 * largest;
  say(what, ok, prefix);
  ++(ok ? passed : failed);
}

/// qconv2d_grad_weight and qconv2d_grad_input of one layer (G groups).
template <int N, int C, int H, int W, int F, int G, int KH, int KW, int SH,
          int SW, int PT, int PL, int PB, int PR, int DH, int DW, int XU,
          int XZ>
static void convGradCase(const char *name) {
  constexpr int OH = (H + PT + PB - DH * (KH - 1) - 1) / SH + 1;
  constexpr int OW = (W + PL + PR - DW * (KW - 1) - 1) / SW + 1;
  constexpr int CG = C / G, FG = F / G, KK = KH * KW;
  static std::int8_t x[N * C * H * W], w[F * CG * KK];
  static float dy[N * F * OH * OW], ws[F], dw[F * CG * KK], dx[N * C * H * W];
  static double wantDw[F * CG * KK], wantDx[N * C * H * W];
  alignas(8) static std::int8_t
      weightScratch[k::int8::convGradWeightScratchBytes(
          C, CG, H, W, KH, KW, OH, OW, SH, SW, PT, PL, DH, DW)],
      inputScratch[k::int8::convGradInputScratchBytes(
          C, CG, H, W, F, KH, KW, OH, OW, SH, SW, PT, PL, DH, DW)];
  fillBytes(x, N * C * H * W);
  fillBytes(w, F * CG * KK);
  fillFloats(dy, N * F * OH * OW);
  for (int f = 0; f < F; ++f)
    ws[f] = 0.001f + float(next() % 1000) / 100000.0f;
  const float xs = 0.0173f;
  for (double &v : wantDw)
    v = 0;
  for (double &v : wantDx)
    v = 0;
  for (int n = 0; n < N; ++n)
    for (int f = 0; f < F; ++f)
      for (int c = 0; c < CG; ++c)
        for (int kh = 0; kh < KH; ++kh)
          for (int kw = 0; kw < KW; ++kw)
            for (int oh = 0; oh < OH; ++oh)
              for (int ow = 0; ow < OW; ++ow) {
                int ih = oh * SH + kh * DH - PT, iw = ow * SW + kw * DW - PL;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W)
                  continue;
                int ci = f / FG * CG + c, at = ((n * C + ci) * H + ih) * W + iw;
                double g = dy[((n * F + f) * OH + oh) * OW + ow];
                int xv = XU ? int(std::uint8_t(x[at])) : int(x[at]);
                int wi = (f * CG + c) * KK + kh * KW + kw;
                wantDw[wi] += xs * g * (xv - XZ);
                wantDx[at] += g * double(ws[f]) * w[wi];
              }
  k::qconv2d_grad_weight<N, C, H, W, F, CG, KH, KW, OH, OW, SH, SW, PT, PL, DH,
                         DW, XU, XZ>(dy, x, dw, xs, weightScratch);
  compareFloats("weight: ", name, dw, wantDw, F * CG * KK);
  k::qconv2d_grad_input<N, C, H, W, F, CG, KH, KW, OH, OW, SH, SW, PT, PL, DH,
                        DW>(dy, w, ws, dx, inputScratch);
  compareFloats("input: ", name, dx, wantDx, N * C * H * W);
}

template <int M, int N, int K, int TB> static void gemmGradCase(const char *n) {
  static std::int8_t b[K * N];
  static float dy[M * N], ws[N], da[M * K];
  static double want[M * K];
  fillBytes(b, K * N);
  fillFloats(dy, M * N);
  for (int j = 0; j < N; ++j)
    ws[j] = 0.001f + float(next() % 1000) / 100000.0f;
  for (int i = 0; i < M; ++i)
    for (int r = 0; r < K; ++r) {
      double sum = 0;
      for (int j = 0; j < N; ++j)
        sum +=
            double(dy[i * N + j]) * ws[j] * (TB ? b[j * K + r] : b[r * N + j]);
      want[i * K + r] = sum;
    }
  k::qgemm_grad_a<M, N, K, TB>(dy, b, ws, da);
  compareFloats("", n, da, want, M * K);
}

/// round_even (std::nearbyint on the host, the 1.5 * 2^23 addition on the
/// Cortex-M4) against ties-to-even rounding by floor, bit for bit (the sign
/// of a zero included): ties, both signs, the edges of 2^22 and 2^23, huge
/// values, infinities, and a sweep of quarters.
static std::uint32_t floatBits(float v) {
  std::uint32_t b;
  __builtin_memcpy(&b, &v, 4);
  return b;
}
static float referenceRound(float x) {
  if (!(x - x == 0.0f)) // infinities and NaN
    return x;
  float r = __builtin_floorf(x), d = x - r;
  if (d > 0.5f || (d == 0.5f && __builtin_fmodf(r, 2.0f) != 0.0f))
    r += 1.0f;
  return r == 0.0f ? __builtin_copysignf(0.0f, x) : r;
}
static void roundEvenCase() {
  const float special[] = {0.5f,
                           1.5f,
                           2.5f,
                           -0.5f,
                           -2.5f,
                           -0.4f,
                           0.0f,
                           -0.0f,
                           127.5f,
                           -128.5f,
                           254.5f,
                           4194303.5f,
                           8388607.5f,
                           -8388607.5f,
                           8388608.0f,
                           16777217.0f,
                           1e30f,
                           -1e30f,
                           __builtin_inff(),
                           -__builtin_inff()};
  bool ok = true;
  for (float x : special)
    ok = ok && floatBits(k::round_even(x)) == floatBits(referenceRound(x));
  for (int i = -4000; i <= 4000; ++i) {
    float x = float(i) * 0.25f + float(i % 7) * 1e-3f;
    ok = ok && floatBits(k::round_even(x)) == floatBits(referenceRound(x));
  }
  float nan = __builtin_nanf("");
  ok = ok && k::round_even(nan) != k::round_even(nan);
  say("round_even (ties to even, signed zeros, huge values)", ok);
  ++(ok ? passed : failed);
}

/// to_int64 against the conversion through double (exact below 2^63): the
/// VCVT range, its edges, large integers and negative ones; NaN and 2^63
/// (undefined for the C conversion) give INT64_MIN.
static void toInt64Case() {
  const float values[] = {0.0f,          -0.0f,          1.75f,
                          -1.75f,        2147483520.0f,  -2147483520.0f,
                          2147483648.0f, -2147483648.0f, 3.0e9f,
                          -3.0e9f,       0x1.234566p40f, -0x1.fffffep61f,
                          0x1p62f,       -0x1p62f,       0x1.fffffep62f};
  bool ok = true;
  for (float x : values)
    ok = ok && k::to_int64(x) == static_cast<std::int64_t>(double(x));
  for (int i = -3000; i <= 3000; ++i) {
    float x = float(i) * 1234567.25f;
    ok = ok && k::to_int64(x) == static_cast<std::int64_t>(double(x));
  }
#if defined(__ARM_ARCH)
  ok = ok && k::to_int64(__builtin_nanf("")) == INT64_MIN &&
       k::to_int64(0x1p63f) == INT64_MIN;
#endif
  say("to_int64 (VCVT range, large and negative integers)", ok);
  ++(ok ? passed : failed);
}

/// The int8 chain conv -> depthwise -> pointwise a channel at a time
/// against the three layer kernels (tested above) one after another, byte
/// for byte. First layer C -> M (KH x KW, stride S, padding P), depthwise
/// K2 x K2 (stride S2, padding P2), pointwise M -> F; uint8 activations;
/// blocks of MB channels.
template <int N, int C, int H, int W, int M, int KH, int KW, int S, int P,
          int K2, int S2, int P2, int F, int WS = 1, int MB = 1>
static void convChainCase(const char *name) {
  constexpr int OH = (H + 2 * P - KH) / S + 1, OW = (W + 2 * P - KW) / S + 1;
  constexpr int OH2 = (OH + 2 * P2 - K2) / S2 + 1;
  constexpr int OW2 = (OW + 2 * P2 - K2) / S2 + 1;
  constexpr int XZ = 3, XZ2 = 121, XZ3 = 109;
  static std::int8_t x[N * C * H * W], w1[M * C * KH * KW], w2[M * K2 * K2],
      w3[F * M], e[N * M * OH * OW], d[N * M * OH2 * OW2],
      want[N * F * OH2 * OW2], y[N * F * OH2 * OW2];
  static std::int32_t m1[M], s1[M], m2[M], s2[M], m3[F], s3[F];
  static std::int64_t o1[M], o2[M], o3[F];
  constexpr int layer =
      k::int8::convScratchBytes(C, W, M, KH, KW, OW, S, P, 1, 1, N, OH, S) +
      k::int8::depthwiseScratchBytes(OW, K2, K2, OW2, S2, P2, 1, 1) +
      k::int8::convScratchBytes(M, OW2, F, 1, 1, OW2, 1, 0, 1, 1, N, OH2, 1);
  alignas(8) static std::int8_t layerScratch[layer];
  alignas(8) static std::int8_t scratch[k::int8::convChainScratchBytes(
      MB, C, W, KH, KW, OH, OW, S, S, P, 1, 1, K2, K2, OH2, OW2, S2, P2, 1, 1,
      F)];
  fillBytes(x, N * C * H * W);
  fillBytes(w1, M * C * KH * KW);
  fillBytes(w2, M * K2 * K2);
  fillBytes(w3, F * M);
  fillRequant(m1, s1, o1, M, XZ2, !WS);
  fillRequant(m2, s2, o2, M, XZ3, !WS);
  fillRequant(m3, s3, o3, F, 128, !WS);
  k::qconv2d<N, C, H, W, M, KH, KW, OH, OW, S, S, P, P, 1, 1, 1, XZ, 0, 255,
             WS>(x, w1, m1, s1, o1, e, layerScratch);
  k::qdepthwise2d<N, M, OH, OW, K2, K2, OH2, OW2, S2, S2, P2, P2, 1, 1, 1, XZ2,
                  0, 255, WS>(e, w2, m2, s2, o2, d, layerScratch);
  k::qconv2d<N, M, OH2, OW2, F, 1, 1, OH2, OW2, 1, 1, 0, 0, 1, 1, 1, XZ3, 0,
             255, WS>(d, w3, m3, s3, o3, want, layerScratch);
  k::qconv_chain<N, C, H, W, M, KH, KW, OH, OW, S, S, P, P, 1, 1, 1, XZ, 0, 255,
                 WS, K2, K2, OH2, OW2, S2, S2, P2, P2, 1, 1, 1, XZ2, 0, 255, WS,
                 F, 1, XZ3, 0, 255, WS, MB>(x, w1, m1, s1, o1, w2, m2, s2, o2,
                                            w3, m3, s3, o3, y, scratch);
  compare(name, y, want, N * F * OH2 * OW2);
}

int main() {
  fillBytes(table, 256);
  roundEvenCase();
  toInt64Case();
  // Stripe path (channels >= 4, unit column dilation) and im2col path
  // (one channel, column dilation 2), each with narrow shifts (WS 0).
  // N C H W F KH KW SH SW PT PL PB PR DH DW XU XZ Lo Hi [WS]
  // (convPlan's arguments: C W F KH KW OW SW PL DH DW N OH SH)
  static_assert(
      !k::int8::convPlan(1, 28, 8, 3, 3, 28, 1, 1, 1, 1, 1, 28, 1).stripe);
  static_assert(
      k::int8::convPlan(8, 14, 16, 3, 3, 14, 1, 1, 1, 1, 1, 14, 1).stripe);
  static_assert(
      k::int8::convPlan(6, 7, 5, 3, 2, 7, 1, 0, 1, 1, 1, 7, 1).stripe);
  static_assert(
      !k::int8::convPlan(4, 10, 6, 3, 3, 4, 2, 2, 2, 2, 1, 4, 2).stripe);
  static_assert(
      k::int8::convPlan(7, 10, 6, 3, 3, 5, 2, 1, 3, 1, 1, 5, 2).stripe);
  static_assert(
      k::int8::convPlan(16, 6, 7, 1, 1, 6, 1, 0, 1, 1, 1, 6, 1).stripe);
  convCase<1, 1, 28, 28, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 3, 0, 255>(
      "qconv2d demo conv1 (im2col: C 1, pad 1, uint8)");
  convCase<1, 8, 14, 14, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 150, 255>(
      "qconv2d demo conv2 (stripe: C 8, clamp from 150)");
  convCase<1, 8, 14, 14, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 255, 0>(
      "qconv2d demo conv2, narrow shifts");
  convCase<2, 3, 9, 7, 5, 3, 2, 2, 1, 1, 0, 1, 1, 1, 1, 0, -5, -128, 127>(
      "qconv2d int8 input, odd F and pixels, stride 2x1, asymmetric pads");
  convCase<2, 6, 9, 7, 5, 3, 2, 2, 1, 1, 0, 1, 1, 1, 1, 0, -5, -128, 100, 0>(
      "qconv2d stripe: batch 2, odd F and OW, stride 2x1, KW 2, narrow");
  convCase<1, 4, 10, 10, 6, 3, 3, 1, 2, 2, 2, 2, 2, 2, 2, 1, 128, 20, 200>(
      "qconv2d dilation 2 (im2col), stride 1x2, clamp inside the range");
  convCase<1, 7, 11, 10, 6, 3, 3, 2, 2, 2, 1, 0, 2, 3, 1, 1, 128, 20, 200, 0>(
      "qconv2d stripe: row dilation 3, stride 2, padded channels, narrow");
  // Channel blocks: one small image is widened whole, once (the later
  // blocks read what the first one widened); a batch is widened per block.
  static_assert(
      k::int8::convPlan(64, 5, 16, 3, 3, 5, 1, 1, 1, 1, 1, 5, 1).whole);
  static_assert(
      !k::int8::convPlan(64, 5, 16, 3, 3, 5, 1, 1, 1, 1, 2, 5, 1).whole);
  static_assert(
      k::int8::convPlan(32, 9, 15, 3, 3, 5, 2, 1, 1, 1, 1, 5, 2).whole);
  static_assert(
      !k::int8::convPlan(64, 16, 64, 3, 3, 16, 1, 1, 1, 1, 1, 16, 1).whole);
  convCase<1, 64, 5, 5, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 7, 0, 255>(
      "qconv2d K 576: weights widened in blocks, the image whole");
  convCase<2, 64, 5, 5, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 7, 0, 255>(
      "qconv2d K 576, batch 2: the ring per block");
  convCase<1, 32, 9, 9, 15, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 0, -3, -128, 127>(
      "qconv2d blocks, stride 2, odd F, the image whole");
  convCase<1, 16, 6, 6, 7, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 0, 0, -128, 127>(
      "qconv2d pointwise (stripe)");
  convCase<2, 13, 2, 2, 7, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 3, 0, 255>(
      "qconv2d pointwise 2x2 (Gemm rows): batch 2, odd C and F");
  convCase<1, 40, 1, 1, 9, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 0, -5, -128, 127, 0>(
      "qconv2d pointwise 1x1 (Gemm rows), int8 input, narrow");
  convCase<1, 8, 2, 2, 6, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 3, 0, 255, 1, true>(
      "qconv2d_lut pointwise 2x2 (Gemm rows)");
  convCase<1, 3, 12, 12, 4, 5, 5, 2, 2, 2, 2, 1, 1, 1, 1, 1, 100, 0, 255, 0>(
      "qconv2d 5x5 stride 2, K 75, narrow");
  convCase<1, 8, 14, 14, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 150, 255, 1,
           true>("qconv2d_lut (stripe)");
  convCase<1, 1, 12, 12, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 3, 0, 255, 0,
           true>("qconv2d_lut (im2col), narrow");
  // M N K TB AU AZ Lo Hi [WS]
  gemmCase<1, 10, 784, 1, 1, 0, 0, 255>("qgemm demo fc (batch 1)");
  gemmCase<3, 7, 13, 1, 0, -3, -128, 127, 0>("qgemm K 13, odd N, narrow");
  gemmCase<2, 5, 9, 0, 1, 200, 10, 250>("qgemm b not transposed");
  gemmCase<1, 1, 4, 1, 1, 1, 0, 255>("qgemm one output");
  gemmCase<1, 10, 784, 1, 1, 0, 0, 255, 1, true>("qgemm_lut");
  // N C H W KH KW SH SW PT PL PB PR DH DW XU XZ Lo Hi [WS]
  depthwiseCase<1, 8, 16, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 3, 0, 255>(
      "qdepthwise2d 3x3 pad 1 (MobileNet)");
  depthwiseCase<2, 5, 15, 12, 3, 3, 2, 2, 1, 1, 1, 0, 1, 1, 0, -4, -128, 127,
                0>("qdepthwise2d stride 2, batch 2, odd sizes, narrow");
  depthwiseCase<1, 3, 10, 11, 5, 4, 1, 2, 2, 1, 2, 2, 2, 1, 1, 200, 30, 220>(
      "qdepthwise2d 5x4, row dilation 2, stride 1x2");
  depthwiseCase<1, 4, 9, 9, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2, 1, 128, 0, 255, 0>(
      "qdepthwise2d dilation 2 (taps one by one), narrow");
  depthwiseCase<1, 8, 16, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 3, 0, 255, 1,
                true>("qdepthwise2d_lut");
  depthwiseCase<2, 5, 1, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 3, 0, 255>(
      "qdepthwise2d 1x1 image (direct taps), batch 2");
  depthwiseCase<1, 6, 2, 2, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 0, -4, -128, 127, 0>(
      "qdepthwise2d 2x2 stride 2 (direct taps), narrow");
  depthwiseCase<1, 7, 4, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 200, 30, 220, 1,
                true>("qdepthwise2d_lut 4x4 (direct taps)");
  // In place (y is x): the ring and the direct taps' plane copy.
  depthwiseCase<1, 8, 16, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 3, 0, 255, 1,
                false, true>("qdepthwise2d_inplace 3x3 pad 1 (MobileNet)");
  depthwiseCase<2, 5, 9, 9, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2, 0, -4, -128, 127, 0,
                false, true>("qdepthwise2d_inplace dilation 2, batch 2");
  depthwiseCase<1, 3, 10, 11, 5, 3, 1, 1, 2, 1, 2, 1, 1, 1, 1, 200, 30, 220, 1,
                true, true>("qdepthwise2d_lut_inplace 5x3");
  depthwiseCase<1, 7, 4, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 200, 30, 220, 1,
                true, true>("qdepthwise2d_lut_inplace 4x4 (direct taps)");
  depthwiseCase<2, 5, 1, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 3, 0, 255, 1,
                false, true>("qdepthwise2d_inplace 1x1 image, batch 2");
  // N C HP WP KH KW SH SW DH DW XU
  poolCase<1, 8, 28, 28, 2, 2, 2, 2, 1, 1, 1>("max_pool8 2x2 uint8");
  poolCase<2, 3, 9, 8, 3, 2, 2, 3, 2, 1, 0>("max_pool8 3x2 int8, dilation");
  // N C H W F G KH KW SH SW PT PL PB PR DH DW XU XZ (weight, then input)
  convGradCase<1, 1, 28, 28, 8, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 3>(
      "qconv2d gradients demo conv1 (C 1, pad 1, uint8)");
  convGradCase<1, 8, 14, 14, 16, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0>(
      "qconv2d gradients demo conv2");
  convGradCase<2, 6, 9, 7, 4, 2, 3, 2, 2, 1, 0, 1, 1, 1, 1, 1, 0, -5>(
      "qconv2d gradients 2 groups, batch 2, stride 2x1, asymmetric pads");
  convGradCase<1, 8, 15, 15, 8, 8, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 128>(
      "qconv2d gradients depthwise stride 2 (MobileNet)");
  convGradCase<1, 4, 10, 11, 6, 1, 3, 3, 1, 2, 2, 2, 2, 2, 2, 2, 1, 20>(
      "qconv2d gradients dilation 2, stride 1x2");
  convGradCase<2, 6, 9, 8, 4, 2, 3, 2, 1, 1, 2, 0, 1, 3, 2, 1, 0, -5>(
      "qconv2d gradients unit stride: 2 groups, batch 2, row dilation 2");
  convGradCase<1, 2, 5, 5, 3, 1, 2, 2, 1, 1, 3, 0, 0, 2, 1, 1, 1, 9>(
      "qconv2d gradients unit stride, pads beyond the kernel (3 over 2)");
  convGradCase<1, 16, 6, 6, 7, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 0, 0>(
      "qconv2d gradients pointwise (tiles; 7 output channels)");
  convGradCase<2, 5, 23, 13, 9, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 7>(
      "qconv2d gradients pointwise: batch 2, odd channels, 299 pixels");
  convGradCase<1, 6, 5, 5, 4, 1, 1, 1, 2, 2, 0, 0, 0, 0, 1, 1, 1, 7>(
      "qconv2d gradients 1x1 stride 2 (not the pointwise tiles)");
  convGradCase<1, 3, 10, 10, 4, 1, 3, 3, 2, 2, 0, 0, 0, 0, 1, 1, 1, 0>(
      "qconv2d gradients, a row and column the taps never read");
  // M N K TB
  gemmGradCase<1, 10, 784, 1>("qgemm_grad_a demo fc (batch 1)");
  gemmGradCase<3, 7, 13, 0>("qgemm_grad_a b not transposed, batch 3");
  // Chains a channel at a time, equal to the three layers byte for byte:
  // MobileNetV2's expand with a stride-1 and a stride-2 depthwise layer,
  // its first layer (3x3 stride 2, padded), a batch of two with narrow
  // shifts, 1x1 planes.
  convChainCase<1, 8, 16, 16, 48, 1, 1, 1, 0, 3, 1, 1, 8>(
      "qconv_chain expand 8->48->8 16x16");
  convChainCase<1, 8, 16, 16, 48, 1, 1, 1, 0, 3, 2, 1, 16>(
      "qconv_chain expand s2 8->48->16");
  convChainCase<1, 3, 32, 32, 16, 3, 3, 2, 1, 3, 1, 1, 8>(
      "qconv_chain first layer 3->16->8 s2");
  convChainCase<2, 5, 9, 7, 12, 1, 1, 1, 0, 3, 1, 1, 6, 0>(
      "qconv_chain batch 2, narrow shifts");
  convChainCase<1, 24, 1, 1, 40, 1, 1, 1, 0, 3, 1, 1, 12>(
      "qconv_chain 1x1 planes");
  convChainCase<1, 8, 16, 16, 48, 1, 1, 1, 0, 3, 2, 1, 16, 1, 8>(
      "qconv_chain expand s2 8->48->16, blocks of 8");
  convChainCase<2, 5, 9, 7, 12, 1, 1, 1, 0, 3, 1, 1, 6, 0, 3>(
      "qconv_chain batch 2, narrow shifts, blocks of 3");
  convChainCase<1, 3, 32, 32, 16, 3, 3, 2, 1, 3, 1, 1, 8, 1, 16>(
      "qconv_chain first layer, one block of 16");
  summary(passed, failed);
  return failed ? 1 : 0;
}
