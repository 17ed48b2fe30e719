// Unit tests of mcutrain_kernels.h: every kernel against the plain loop nest
// of the linalg.generic it replaces, over shapes that exercise the blocking
// (rows and channels per block), strides, dilations, groups (incl.
// depthwise), batches and both Gemm transpositions. Accumulation into a
// non-zero output is part of every check.
#include "mcutrain_kernels.h"

#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdint>
#ifndef MCUTRAIN_TEST_SEMIHOSTING
#include <cstdio>
#endif

#ifdef MCUTRAIN_TEST_SEMIHOSTING
// On QEMU's Cortex-M boards (test/runtime/kernels-m4.test) and its RISC-V
// virt board (kernels-riscv.test): output over
// semihosting, and a formatter for the %s, %d and %g the test uses (newlib's
// printf family would link its heap).
#include "semihosting.h"
extern "C" void SysTick_Handler() {}
static int vformat(char *out, int size, const char *fmt, va_list args) {
  int n = 0;
  auto put = [&](char c) {
    if (n + 1 < size)
      out[n] = c;
    ++n;
  };
  auto putText = [&](const char *t) {
    while (*t)
      put(*t++);
  };
  auto putInt = [&](long v) {
    char digits[24];
    int d = 0;
    unsigned long u = v < 0 ? -(unsigned long)v : (unsigned long)v;
    do
      digits[d++] = char('0' + u % 10);
    while (u /= 10);
    if (v < 0)
      put('-');
    while (d)
      put(digits[--d]);
  };
  for (; *fmt; ++fmt) {
    if (*fmt != '%') {
      put(*fmt);
      continue;
    }
    ++fmt;
    if (*fmt == 's') {
      putText(va_arg(args, const char *));
    } else if (*fmt == 'd') {
      putInt(va_arg(args, int));
    } else if (*fmt == 'u') {
      putInt(long(va_arg(args, unsigned)));
    } else if (*fmt == 'g') {
      // Three significant digits and an exponent: enough for an error.
      double v = va_arg(args, double);
      if (v != v) {
        putText("nan");
        continue;
      }
      if (v < 0)
        put('-'), v = -v;
      int e = 0;
      while (v != 0 && v < 1)
        v *= 10, --e;
      while (v >= 10 && e < 400)
        v /= 10, ++e;
      long m = long(v * 100 + 0.5);
      putInt(m / 100), put('.'), putInt(m / 10 % 10), putInt(m % 10);
      put('e'), putInt(e);
    } else {
      put(*fmt);
    }
  }
  if (size > 0)
    out[n < size ? n : size - 1] = 0;
  return n;
}
static void print(const char *fmt, ...) {
  char text[256];
  va_list args;
  va_start(args, fmt);
  vformat(text, sizeof text, fmt, args);
  va_end(args);
  // (The semihosting line ends it: drop the format's own newline.)
  for (char *c = text; *c; ++c)
    if (*c == '\n')
      *c = 0;
  semihosting::Line line;
  line << text;
  line.print();
}
static void format(char *out, int size, const char *fmt, ...) {
  va_list args;
  va_start(args, fmt);
  vformat(out, size, fmt, args);
  va_end(args);
}
#else
static void print(const char *fmt, ...) {
  va_list args;
  va_start(args, fmt);
  std::vprintf(fmt, args);
  va_end(args);
}
static void format(char *out, int size, const char *fmt, ...) {
  va_list args;
  va_start(args, fmt);
  std::vsnprintf(out, size, fmt, args);
  va_end(args);
}
#endif

namespace k = mcutrain::kernels;

static int passed = 0, failed = 0;
static unsigned seed = 1;
static float next() {
  seed = seed * 1664525u + 1013904223u;
  return float((seed >> 8) & 0xffff) / 65536.0f - 0.5f;
}
static void fill(float *v, int n) {
  for (int i = 0; i < n; ++i)
    v[i] = next();
}
static void check(const char *what, const float *got, const float *want,
                  int n) {
  float worst = 0.0f, scale = 1e-6f;
  for (int i = 0; i < n; ++i) {
    // (fmax drops a NaN: a NaN result counts as an infinite error.)
    float error = std::fabs(got[i] - want[i]);
    worst = error == error ? std::fmax(worst, error) : INFINITY;
    scale = std::fmax(scale, std::fabs(want[i]));
  }
  bool ok = worst <= 1e-5f * scale;
  print("%s %s (max error %g of %g)\n", ok ? "ok  " : "FAIL", what, worst,
        scale);
  ++(ok ? passed : failed);
}

/// Calls tap(x index, w index, y index) for every product of a convolution
/// on the padded input (N x C x HP x WP, weights F x C/G x KH x KW, output
/// N x F x OH x OW): the forward pass, its weight gradient and its adjoint
/// (the strided input gradient) are the same products summed into x, w or y.
template <int N, int C, int HP, int WP, int F, int KH, int KW, int OH, int OW,
          int S, int D, int G, typename Tap>
static void forEachTap(Tap tap) {
  constexpr int CG = C / G, FG = F / G;
  for (int n = 0; n < N; ++n)
    for (int f = 0; f < F; ++f)
      for (int c = 0; c < CG; ++c)
        for (int kh = 0; kh < KH; ++kh)
          for (int kw = 0; kw < KW; ++kw)
            for (int oh = 0; oh < OH; ++oh)
              for (int ow = 0; ow < OW; ++ow)
                tap(((n * C + (f / FG) * CG + c) * HP + oh * S + kh * D) * WP +
                        ow * S + kw * D,
                    ((f * CG + c) * KH + kh) * KW + kw,
                    ((n * F + f) * OH + oh) * OW + ow);
}

template <int N, int C, int H, int W, int F, int KH, int KW, int S, int D,
          int P, int G>
static void convCase(const char *name) {
  constexpr int CG = C / G, FG = F / G;
  constexpr int HP = H + 2 * P, WP = W + 2 * P;
  constexpr int OH = (HP - D * (KH - 1) - 1) / S + 1;
  constexpr int OW = (WP - D * (KW - 1) - 1) / S + 1;
  static float x[N * C * HP * WP], w[F * CG * KH * KW], y[N * F * OH * OW],
      want[N * F * OH * OW > F * CG * KH * KW ? N * F * OH * OW
                                              : F * CG * KH * KW];
  fill(x, N * C * HP * WP);
  fill(w, F * CG * KH * KW);
  // Forward.
  fill(y, N * F * OH * OW);
  for (int i = 0; i < N * F * OH * OW; ++i)
    want[i] = y[i];
  forEachTap<N, C, HP, WP, F, KH, KW, OH, OW, S, D, G>(
      [&](int xi, int wi, int yi) { want[yi] += x[xi] * w[wi]; });
  k::conv2d<N, C, HP, WP, F, CG, KH, KW, OH, OW, S, S, D, D, G>(x, w, y);
  char what[160];
  format(what, sizeof what, "conv2d %s", name);
  check(what, y, want, N * F * OH * OW);

  // Weight gradient (dy is y's storage).
  static float dw[F * CG * KH * KW];
  fill(y, N * F * OH * OW);
  fill(dw, F * CG * KH * KW);
  for (int i = 0; i < F * CG * KH * KW; ++i)
    want[i] = dw[i];
  forEachTap<N, C, HP, WP, F, KH, KW, OH, OW, S, D, G>(
      [&](int xi, int wi, int yi) { want[wi] += y[yi] * x[xi]; });
  k::conv2d_grad_weight<N, C, HP, WP, F, CG, KH, KW, OH, OW, S, S, D, D, G>(
      y, x, dw);
  format(what, sizeof what, "conv2d_grad_weight %s", name);
  check(what, dw, want, F * CG * KH * KW);

  // Input gradient on a stride-1 "dyp" of the unpadded input's size plus the
  // kernel span (the caller zero-inserts and pads dy).
  constexpr int DH = H + D * (KH - 1), DWd = W + D * (KW - 1);
  static float dyp[N * F * DH * DWd], dx[N * C * H * W], wantx[N * C * H * W];
  fill(dyp, N * F * DH * DWd);
  fill(dx, N * C * H * W);
  for (int i = 0; i < N * C * H * W; ++i)
    wantx[i] = dx[i];
  for (int n = 0; n < N; ++n)
    for (int c = 0; c < C; ++c)
      for (int fo = 0; fo < FG; ++fo)
        for (int kh = 0; kh < KH; ++kh)
          for (int kw = 0; kw < KW; ++kw)
            for (int h = 0; h < H; ++h)
              for (int ww = 0; ww < W; ++ww) {
                int f = (c / CG) * FG + fo;
                wantx[((n * C + c) * H + h) * W + ww] +=
                    dyp[((n * F + f) * DH + h + kh * D) * DWd + ww + kw * D] *
                    w[((f * CG + c % CG) * KH + (KH - 1 - kh)) * KW +
                      (KW - 1 - kw)];
              }
  k::conv2d_grad_input<N, C, H, W, F, CG, KH, KW, DH, DWd, D, D, G>(dyp, w, dx);
  format(what, sizeof what, "conv2d_grad_input %s", name);
  check(what, dx, wantx, N * C * H * W);

  // The strided form (any stride): the adjoint of the forward pass, dy
  // itself (y's storage) scattered onto the padded input.
  static float dxp[N * C * HP * WP], wantp[N * C * HP * WP];
  fill(y, N * F * OH * OW);
  fill(dxp, N * C * HP * WP);
  for (int i = 0; i < N * C * HP * WP; ++i)
    wantp[i] = dxp[i];
  forEachTap<N, C, HP, WP, F, KH, KW, OH, OW, S, D, G>(
      [&](int xi, int wi, int yi) { wantp[xi] += y[yi] * w[wi]; });
  k::conv2d_grad_input_strided<N, C, HP, WP, F, CG, KH, KW, OH, OW, S, S, D, D,
                               G>(y, w, dxp);
  format(what, sizeof what, "conv2d_grad_input_strided %s", name);
  check(what, dxp, wantp, N * C * HP * WP);
}

template <int M, int N, int K, bool TA, bool TB> static void gemmCase() {
  static float a[M * K], b[K * N], y[M * N], product[M * N], want[M * N];
  fill(a, M * K);
  fill(b, K * N);
  fill(y, M * N);
  const float alpha = 0.75f;
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < N; ++j) {
      float sum = 0.0f;
      for (int kk = 0; kk < K; ++kk)
        sum += (TA ? a[kk * M + i] : a[i * K + kk]) *
               (TB ? b[j * K + kk] : b[kk * N + j]) * alpha;
      product[i * N + j] = sum;
      want[i * N + j] = y[i * N + j] + sum;
    }
  k::gemm<M, N, K, TA, TB>(a, b, y, alpha);
  char what[96];
  format(what, sizeof what, "gemm %dx%dx%d ta=%d tb=%d", M, N, K, TA, TB);
  check(what, y, want, M * N);
  // Overwrite: y's old values (NaN here) must not matter.
  for (int i = 0; i < M * N; ++i)
    y[i] = __builtin_nanf("");
  k::gemm<M, N, K, TA, TB, true>(a, b, y, alpha);
  format(what, sizeof what, "gemm %dx%dx%d ta=%d tb=%d overwrite", M, N, K, TA,
         TB);
  check(what, y, product, M * N);
}

/// max_pool_grad against the windows scanned here: overlapping windows,
/// windows reaching into the padding, ties (the first maximum takes the
/// gradient, as PyTorch routes it) and dx's old contents (NaN) overwritten.
template <int N, int C, int H, int W, int K, int S, int P>
static void maxPoolGradCase(const char *name) {
  constexpr int OH = (H + 2 * P - K) / S + 1, OW = (W + 2 * P - K) / S + 1;
  static float x[N * C * H * W], dy[N * C * OH * OW], dx[N * C * H * W],
      want[N * C * H * W];
  fill(x, N * C * H * W);
  fill(dy, N * C * OH * OW);
  for (int i = 0; i < N * C * H * W; ++i) {
    if (i % 5 == 0)
      x[i] = 0.25f; // ties
    want[i] = 0.0f;
    dx[i] = __builtin_nanf("");
  }
  for (int plane = 0; plane < N * C; ++plane)
    for (int o = 0; o < OH * OW; ++o) {
      int at = -1;
      for (int t = 0; t < K * K; ++t) {
        const int h = o / OW * S - P + t / K, w = o % OW * S - P + t % K;
        if (h >= 0 && h < H && w >= 0 && w < W &&
            (at < 0 || x[plane * H * W + h * W + w] > x[plane * H * W + at]))
          at = h * W + w;
      }
      want[plane * H * W + at] += dy[plane * OH * OW + o];
    }
  k::max_pool_grad<N, C, H, W, K, K, OH, OW, S, S, P, P, 1, 1>(x, dy, dx);
  char what[96];
  format(what, sizeof what, "max_pool_grad %s", name);
  check(what, dx, want, N * C * H * W);
}

/// gather_grad against the rows summed here: repeated, negative and
/// out-of-range indices (clamped as the gather read them), int32 and int64,
/// a table row shape before the axis (Outer > 1); d's old contents (NaN)
/// overwritten.
template <int Outer, int Rows, int Inner, int Positions, typename Index>
static void gatherGradCase(const char *name) {
  static float dy[Outer * Positions * Inner], d[Outer * Rows * Inner],
      want[Outer * Rows * Inner];
  static Index idx[Positions];
  fill(dy, Outer * Positions * Inner);
  for (int p = 0; p < Positions; ++p)
    idx[p] = Index(p * 7 % (Rows + 3) - 2); // from -2 to Rows, repeats
  for (int i = 0; i < Outer * Rows * Inner; ++i) {
    want[i] = 0.0f;
    d[i] = __builtin_nanf("");
  }
  for (int o = 0; o < Outer; ++o)
    for (int p = 0; p < Positions; ++p) {
      long long r = idx[p] < 0 ? idx[p] + Rows : idx[p];
      r = r < 0 ? 0 : r >= Rows ? Rows - 1 : r;
      for (int i = 0; i < Inner; ++i)
        want[(o * Rows + r) * Inner + i] += dy[(o * Positions + p) * Inner + i];
    }
  k::gather_grad<Outer, Rows, Inner, Positions, int(sizeof(Index))>(dy, idx, d);
  char what[96];
  format(what, sizeof what, "gather_grad %s", name);
  check(what, d, want, Outer * Rows * Inner);
}

/// A batch-1 Linear layer's SGD step with its input gradient: dx sums
/// dy[i] * w[i][j] over the old weights, and every weight moves by
/// lr * (dy[i] * x[j]), including the columns after the last whole vector.
template <int M, int N> static void sgdOuterCase() {
  static float dy[M], x[N], w[M * N], dx[N], oldW[M * N], wantW[M * N],
      product[N], want[N];
  fill(dy, M);
  fill(x, N);
  fill(w, M * N);
  fill(dx, N);
  const float lr = 0.375f;
  for (int j = 0; j < N; ++j) {
    float sum = 0.0f;
    for (int i = 0; i < M; ++i) {
      sum += dy[i] * w[i * N + j];
      wantW[i * N + j] = w[i * N + j] - lr * (dy[i] * x[j]);
    }
    product[j] = sum;
    want[j] = dx[j] + sum;
  }
  for (int t = 0; t < M * N; ++t)
    oldW[t] = w[t];
  k::sgd_outer_update_input_grad<M, N>(dy, x, &lr, dx, w);
  char what[96];
  format(what, sizeof what, "sgd outer update %dx%d: input gradient", M, N);
  check(what, dx, want, N);
  format(what, sizeof what, "sgd outer update %dx%d: weights", M, N);
  check(what, w, wantW, M * N);
  // Overwrite: dx's old values (NaN here) must not matter.
  for (int t = 0; t < M * N; ++t)
    w[t] = oldW[t];
  for (int j = 0; j < N; ++j)
    dx[j] = __builtin_nanf("");
  k::sgd_outer_update_input_grad<M, N, true>(dy, x, &lr, dx, w);
  format(what, sizeof what, "sgd outer update %dx%d overwrite: input gradient",
         M, N);
  check(what, dx, product, N);
  format(what, sizeof what, "sgd outer update %dx%d overwrite: weights", M, N);
  check(what, w, wantW, M * N);
}

/// sgd_low_rank_update against its definition, w -= lr * sum over r of
/// a[r][i] * b[r][j] in r order: whole vectors of columns in blocks of
/// four, fewer, and a scalar tail of columns; rank 2 to 16.
template <int M, int N, int K> static void sgdLowRankCase() {
  static float a[K * M], b[K * N], w[M * N], wantW[M * N];
  fill(a, K * M);
  fill(b, K * N);
  fill(w, M * N);
  const float lr = 0.375f;
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < N; ++j) {
      float g = a[i] * b[j];
      for (int r = 1; r < K; ++r)
        g += a[r * M + i] * b[r * N + j];
      wantW[i * N + j] = w[i * N + j] - lr * g;
    }
  k::sgd_low_rank_update<M, N, K>(a, b, &lr, w);
  char what[96];
  format(what, sizeof what, "sgd low-rank update %dx%d rank %d", M, N, K);
  check(what, w, wantW, M * N);
}

/// The in-register block transpose: exact copies, including the edges
/// beyond whole kLanes x kLanes blocks along either axis, with row strides
/// wider than the rows; floats outside the transposed block stay as they
/// were.
template <int R, int CN, int LDS, int LDD> static void transposeCase() {
  static float src[R * LDS], dst[CN * LDD], want[CN * LDD];
  fill(src, R * LDS);
  fill(dst, CN * LDD);
  for (int i = 0; i < CN * LDD; ++i)
    want[i] = dst[i];
  for (int i = 0; i < R; ++i)
    for (int j = 0; j < CN; ++j)
      want[j * LDD + i] = src[i * LDS + j];
  k::detail::transpose<R, CN, LDS, LDD>(src, dst);
  int wrong = 0;
  for (int i = 0; i < CN * LDD; ++i)
    wrong += dst[i] != want[i];
  print("%s transpose %dx%d (lds %d, ldd %d): %d wrong\n",
        wrong ? "FAIL" : "ok  ", R, CN, LDS, LDD, wrong);
  ++(wrong ? failed : passed);
}

template <int B, int M, int K> static void sumRowsCase() {
  static float x[B * M * K], y[M], sum[M], want[M];
  fill(x, B * M * K);
  fill(y, M);
  const float scale = 0.5f;
  for (int m = 0; m < M; ++m) {
    sum[m] = 0.0f;
    for (int b = 0; b < B; ++b)
      for (int kk = 0; kk < K; ++kk)
        sum[m] += x[(b * M + m) * K + kk] * scale;
    want[m] = y[m] + sum[m];
  }
  k::sum_rows<B, M, K>(x, y, scale);
  char what[80];
  format(what, sizeof what, "sum_rows %dx%dx%d", B, M, K);
  check(what, y, want, M);
  for (int m = 0; m < M; ++m)
    y[m] = __builtin_nanf("");
  k::sum_rows<B, M, K, true>(x, y, scale);
  format(what, sizeof what, "sum_rows %dx%dx%d overwrite", B, M, K);
  check(what, y, sum, M);
}

/// act(bias + conv) against the products (forEachTap) and the activation
/// written out; y's previous contents (NaN) must not matter.
template <int N, int C, int H, int W, int F, int KH, int KW, int S, int P,
          int G, int Act>
static void biasActCase(const char *name) {
  constexpr int CG = C / G, HP = H + 2 * P, WP = W + 2 * P;
  constexpr int OH = (HP - KH) / S + 1, OW = (WP - KW) / S + 1;
  static float x[N * C * H * W], xp[N * C * HP * WP], w[F * CG * KH * KW],
      bias[F], y[N * F * OH * OW], want[N * F * OH * OW], plane[HP * WP];
  fill(x, N * C * H * W);
  fill(w, F * CG * KH * KW);
  fill(bias, F);
  for (int i = 0; i < F * CG * KH * KW; ++i)
    w[i] *= 8.0f; // outputs beyond the clip's bounds too
  for (int i = 0; i < N * C * HP * WP; ++i)
    xp[i] = 0.0f;
  for (int p = 0; p < N * C; ++p)
    for (int h = 0; h < H; ++h)
      for (int ww = 0; ww < W; ++ww)
        xp[(p * HP + h + P) * WP + ww + P] = x[(p * H + h) * W + ww];
  x[0] = xp[P * WP + P] = NAN; // NaN through ReLU (0) and the clip (NaN)
  const float lo = -0.25f, hi = 0.5f;
  for (int i = 0; i < N * F * OH * OW; ++i)
    want[i] = bias[i / (OH * OW) % F];
  forEachTap<N, C, HP, WP, F, KH, KW, OH, OW, S, 1, G>(
      [&](int xi, int wi, int yi) { want[yi] += xp[xi] * w[wi]; });
  for (int i = 0; i < N * F * OH * OW; ++i) {
    float v = want[i];
    if (Act == k::kRelu)
      v = v > 0.0f ? v : 0.0f;
    if (Act == k::kClip)
      v = v < lo ? lo : v > hi ? hi : v;
    want[i] = v;
  }
  auto same = [&](const char *kernel) {
    // check() counts a NaN as an error: compare where both are numbers.
    static float ref[N * F * OH * OW];
    int nanMismatch = 0;
    for (int i = 0; i < N * F * OH * OW; ++i) {
      ref[i] = want[i];
      if ((y[i] != y[i]) != (ref[i] != ref[i]))
        ++nanMismatch;
      else if (y[i] != y[i])
        y[i] = ref[i] = 0.0f;
    }
    char what[160];
    format(what, sizeof what, "%s act %d %s%s", kernel, Act, name,
           nanMismatch ? " (NaN mismatch)" : "");
    if (nanMismatch)
      y[0] = NAN;
    check(what, y, ref, N * F * OH * OW);
  };
  for (int i = 0; i < N * F * OH * OW; ++i)
    y[i] = NAN;
  k::conv2d_bias_act<N, C, HP, WP, F, CG, KH, KW, OH, OW, S, S, 1, 1, G, Act>(
      xp, w, y, bias, lo, hi);
  same("conv2d_bias_act");
  if constexpr (G == C && F == C) {
    for (int i = 0; i < N * F * OH * OW; ++i)
      y[i] = NAN;
    k::depthwise_conv2d_bias_act<N, C, H, W, HP, WP, P, P, KH, KW, OH, OW, S, S,
                                 1, 1, Act>(x, w, y, plane, bias, lo, hi);
    same("depthwise_conv2d_bias_act");
  }
}

/// The chain conv -> depthwise -> pointwise a channel at a time against the
/// three fused kernels (tested above) one after another; y's previous
/// contents (NaN) must not matter. The first layer: C -> M, KH x KW, stride
/// S, padding P (on a spread input); the depthwise one: K2 x K2, stride S2,
/// padding P2; the pointwise one M -> F; blocks of MB channels.
template <int N, int C, int H, int W, int M, int KH, int KW, int S, int P,
          int K2, int S2, int P2, int F, int Act1, int Act2, int Act3,
          int MB = 1>
static void convChainCase(const char *name) {
  constexpr int HP = H + 2 * P, WP = W + 2 * P;
  constexpr int OH = (HP - KH) / S + 1, OW = (WP - KW) / S + 1;
  constexpr int HP2 = OH + 2 * P2, WP2 = OW + 2 * P2;
  constexpr int OH2 = (HP2 - K2) / S2 + 1, OW2 = (WP2 - K2) / S2 + 1;
  constexpr int Y = N * F * OH2 * OW2;
  static float xp[N * C * HP * WP], w1[M * C * KH * KW], b1[M], w2[M * K2 * K2],
      b2[M], w3[F * M], b3[F], e[N * M * OH * OW], d[N * M * OH2 * OW2],
      plane[HP2 * WP2], want[Y], y[Y],
      scratch[k::chainScratchFloats(MB, OH, OW, HP2, WP2, OH2, OW2)];
  fill(xp, N * C * HP * WP);
  fill(w1, M * C * KH * KW);
  fill(b1, M);
  fill(w2, M * K2 * K2);
  fill(b2, M);
  fill(w3, F * M);
  fill(b3, F);
  for (int i = 0; i < M * C * KH * KW; ++i)
    w1[i] *= 8.0f; // beyond the clip's bounds too
  const float lo = -0.25f, hi = 0.5f;
  k::conv2d_bias_act<N, C, HP, WP, M, C, KH, KW, OH, OW, S, S, 1, 1, 1, Act1>(
      xp, w1, e, b1, lo, hi);
  k::depthwise_conv2d_bias_act<N, M, OH, OW, HP2, WP2, P2, P2, K2, K2, OH2, OW2,
                               S2, S2, 1, 1, Act2>(e, w2, d, plane, b2, lo, hi);
  k::conv2d_bias_act<N, M, OH2, OW2, F, M, 1, 1, OH2, OW2, 1, 1, 1, 1, 1, Act3>(
      d, w3, want, b3, lo, hi);
  for (int i = 0; i < Y; ++i)
    y[i] = NAN;
  k::conv_chain<N, C, HP, WP, M, KH, KW, OH, OW, S, S, 1, 1, HP2, WP2, P2, P2,
                K2, K2, OH2, OW2, S2, S2, 1, 1, F, Act1, Act2, Act3, MB>(
      xp, w1, b1, w2, b2, w3, b3, y, scratch, lo, hi, lo, hi, lo, hi);
  char what[160];
  format(what, sizeof what, "conv_chain %s (blocks of %d)", name, MB);
  check(what, y, want, Y);
}

/// act'(y) * input gradient against the input-gradient kernel on a zeroed
/// dx (tested above) and the mask written out; dx's previous contents (NaN)
/// must not matter. Stride-1 layers (dyp: dy padded by the kernel's span).
template <int N, int C, int H, int W, int F, int KH, int KW, int G, int Act>
static void gradActCase(const char *name) {
  constexpr int CG = C / G, HP = H + KH - 1, WP = W + KW - 1;
  constexpr int T = KH / 2, L = KW / 2, OH = H, OW = W; // "same" padding
  static float dyp[N * F * HP * WP], dy[N * F * OH * OW], w[F * CG * KH * KW],
      y[N * C * H * W], dx[N * C * H * W], want[N * C * H * W], plane[HP * WP];
  fill(dy, N * F * OH * OW);
  fill(w, F * CG * KH * KW);
  fill(y, N * C * H * W);
  for (int i = 0; i < N * C * H * W; ++i)
    y[i] *= 2.0f; // around both bounds
  y[1] = NAN;
  for (int i = 0; i < N * F * HP * WP; ++i)
    dyp[i] = 0.0f;
  for (int p = 0; p < N * F; ++p)
    for (int h = 0; h < OH; ++h)
      for (int ww = 0; ww < OW; ++ww)
        dyp[(p * HP + h + KH - 1 - T) * WP + ww + KW - 1 - L] =
            dy[(p * OH + h) * OW + ww];
  const float lo = -0.25f, hi = 0.5f;
  for (int i = 0; i < N * C * H * W; ++i)
    want[i] = 0.0f;
  k::conv2d_grad_input<N, C, H, W, F, CG, KH, KW, HP, WP, 1, 1, G>(dyp, w,
                                                                   want);
  for (int i = 0; i < N * C * H * W; ++i) {
    bool passes = Act == k::kRelu   ? y[i] > 0.0f
                  : Act == k::kClip ? y[i] > lo && y[i] < hi
                                    : true;
    want[i] = passes ? want[i] : 0.0f;
  }
  char what[160];
  for (int i = 0; i < N * C * H * W; ++i)
    dx[i] = NAN;
  k::conv2d_grad_input_act<N, C, H, W, F, CG, KH, KW, HP, WP, 1, 1, G, Act>(
      dyp, w, dx, y, lo, hi);
  format(what, sizeof what, "conv2d_grad_input_act %d %s", Act, name);
  check(what, dx, want, N * C * H * W);
  if constexpr (G == C && F == C && KH > 1) {
    for (int i = 0; i < N * C * H * W; ++i)
      dx[i] = NAN;
    for (int i = 0; i < HP * WP; ++i)
      plane[i] = NAN;
    k::depthwise_conv2d_grad_input_act<N, C, H, W, KH, KW, OH, OW, HP, WP,
                                       KH - 1 - T, KW - 1 - L, 1, 1, 1, 1, Act>(
        dy, w, dx, plane, y, lo, hi);
    format(what, sizeof what, "depthwise_conv2d_grad_input_act %d %s", Act,
           name);
    check(what, dx, want, N * C * H * W);
  }
}

/// The depthwise kernels that spread a plane at a time into scratch against
/// the general kernels on the whole spread tensor (square padding P).
template <int N, int C, int H, int W, int KH, int KW, int S, int D, int P>
static void depthwisePlanesCase(const char *name) {
  constexpr int HP = H + 2 * P, WP = W + 2 * P;
  constexpr int OH = (HP - D * (KH - 1) - 1) / S + 1;
  constexpr int OW = (WP - D * (KW - 1) - 1) / S + 1;
  // dy zero-inserted by the stride and padded to the input plus the span.
  constexpr int T = D * (KH - 1) - P, L = D * (KW - 1) - P;
  constexpr int GH = H + D * (KH - 1), GW = W + D * (KW - 1);
  constexpr int Plane = (HP * WP > GH * GW ? HP * WP : GH * GW);
  // (The outputs: a plane per channel, or the weight gradient, whose 5x5
  // kernels outgrow 2x2 planes.)
  constexpr int Out = N * C * (H * W > OH * OW ? H * W : OH * OW) > C * KH * KW
                          ? N * C * (H * W > OH * OW ? H * W : OH * OW)
                          : C * KH * KW;
  static float x[N * C * H * W], xp[N * C * HP * WP], w[C * KH * KW],
      dy[N * C * OH * OW], dyp[N * C * GH * GW], plane[Plane], got[Out],
      want[Out];
  fill(x, N * C * H * W);
  fill(w, C * KH * KW);
  fill(dy, N * C * OH * OW);
  for (int i = 0; i < N * C * HP * WP; ++i)
    xp[i] = 0.0f;
  for (int i = 0; i < N * C * GH * GW; ++i)
    dyp[i] = 0.0f;
  for (int p = 0; p < N * C; ++p) {
    for (int h = 0; h < H; ++h)
      for (int ww = 0; ww < W; ++ww)
        xp[(p * HP + h + P) * WP + ww + P] = x[(p * H + h) * W + ww];
    for (int h = 0; h < OH; ++h)
      for (int ww = 0; ww < OW; ++ww)
        dyp[(p * GH + T + h * S) * GW + L + ww * S] =
            dy[(p * OH + h) * OW + ww];
  }
  auto start = [&](int n) { // the same starting output, scratch of NaNs
    fill(got, n);
    for (int i = 0; i < n; ++i)
      want[i] = got[i];
    for (int i = 0; i < Plane; ++i)
      plane[i] = NAN;
  };
  char what[160];
  start(N * C * OH * OW);
  k::conv2d<N, C, HP, WP, C, 1, KH, KW, OH, OW, S, S, D, D, C>(xp, w, want);
  k::depthwise_conv2d<N, C, H, W, HP, WP, P, P, KH, KW, OH, OW, S, S, D, D>(
      x, w, got, plane);
  format(what, sizeof what, "depthwise_conv2d %s", name);
  check(what, got, want, N * C * OH * OW);

  start(N * C * H * W);
  k::conv2d_grad_input<N, C, H, W, C, 1, KH, KW, GH, GW, D, D, C>(dyp, w, want);
  k::depthwise_conv2d_grad_input<N, C, H, W, KH, KW, OH, OW, GH, GW, T, L, S, S,
                                 D, D>(dy, w, got, plane);
  format(what, sizeof what, "depthwise_conv2d_grad_input %s", name);
  check(what, got, want, N * C * H * W);

  start(C * KH * KW);
  k::conv2d_grad_weight<N, C, HP, WP, C, 1, KH, KW, OH, OW, S, S, D, D, C>(
      dy, xp, want);
  k::depthwise_conv2d_grad_weight<N, C, H, W, HP, WP, P, P, KH, KW, OH, OW, S,
                                  S, D, D>(dy, x, got, plane);
  format(what, sizeof what, "depthwise_conv2d_grad_weight %s", name);
  check(what, got, want, C * KH * KW);
}

/// tanh against double-precision std::tanh rounded to float, within 3 ulp:
/// every 4099th bit pattern of either sign (denormals to infinity, the
/// clamp at 9.1 on both sides), then signed zeros, infinities and NaN; and
/// a loop of it over an array (the form the generated code calls it in,
/// which g++ vectorizes) against the same calls one at a time.
/// Bitwise equality (a NaN equals itself): the register-blocked kernels of
/// cores without vector units must give the scalar loops' results to the
/// bit.
static void checkExact(const char *what, const float *got, const float *want,
                       int n) {
  int wrong = 0;
  for (int i = 0; i < n; ++i)
    wrong += k::detail::bitsOf(got[i]) != k::detail::bitsOf(want[i]);
  print("%s %s: %d of %d differ\n", wrong ? "FAIL" : "ok  ", what, wrong, n);
  ++(wrong ? failed : passed);
}

/// mcutrain_kernels_mcu.h against the scalar loops it replaced (the
/// correlation loop nest, the weight gradient's scalar loops, separate bias
/// and activation passes, dot products and update loops in plain order):
/// forward, input gradient (flipped weights), weight gradient and the fused
/// bias and ReLU of an ungrouped convolution.
template <int N, int C, int H, int W, int F, int KH, int KW, int S, int D,
          int P>
static void exactConvCase(const char *name) {
  namespace d = k::detail;
  constexpr int HP = H + 2 * P, WP = W + 2 * P;
  constexpr int OH = (HP - D * (KH - 1) - 1) / S + 1;
  constexpr int OW = (WP - D * (KW - 1) - 1) / S + 1;
  constexpr int X = N * C * HP * WP, Y = N * F * OH * OW, K = F * C * KH * KW;
  static float x[X], w[K], y[Y], want[Y], bias[F], dw[K], wantW[K];
  fill(x, X);
  fill(w, K);
  fill(y, Y);
  fill(bias, F);
  for (int i = 0; i < Y; ++i)
    want[i] = y[i];
  using Forward = d::ForwardWeight<C, KH, KW>;
  d::correlate<N, C, HP, WP, F, C, KH, KW, OH, OW, S, S, D, D, 1, Forward>(
      x, w, want);
  k::mcu::correlate<N, C, HP, WP, F, KH, KW, OH, OW, S, S, D, D, Forward>(x, w,
                                                                          y);
  char what[160];
  format(what, sizeof what, "mcu conv %s bit-exact", name);
  checkExact(what, y, want, Y);
  // Bias and ReLU in the tiles against the three passes.
  for (int n = 0; n < N; ++n)
    d::broadcastBias<F, OH * OW>(bias, want + n * F * OH * OW);
  d::correlate<N, C, HP, WP, F, C, KH, KW, OH, OW, S, S, D, D, 1, Forward>(
      x, w, want);
  d::activate<k::kRelu>(want, Y, 0.0f, 0.0f);
  k::mcu::correlate<N, C, HP, WP, F, KH, KW, OH, OW, S, S, D, D, Forward, true,
                    k::kRelu>(x, w, y, {bias, 0.0f, 0.0f});
  format(what, sizeof what, "mcu conv %s bias relu bit-exact", name);
  checkExact(what, y, want, Y);
  // The weight gradient (y as dy) against the scalar loops.
  fill(dw, K);
  for (int i = 0; i < K; ++i)
    wantW[i] = dw[i];
  for (int f = 0; f < F; ++f)
    for (int c = 0; c < C; ++c)
      for (int kh = 0; kh < KH; ++kh)
        for (int kw = 0; kw < KW; ++kw) {
          float sum = 0.0f;
          for (int n = 0; n < N; ++n)
            for (int oh = 0; oh < OH; ++oh)
              for (int ow = 0; ow < OW; ++ow)
                sum += y[((n * F + f) * OH + oh) * OW + ow] *
                       x[((n * C + c) * HP + oh * S + kh * D) * WP + ow * S +
                         kw * D];
          wantW[((f * C + c) * KH + kh) * KW + kw] += sum;
        }
  k::mcu::gradWeight<N, C, HP, WP, F, KH, KW, OH, OW, S, S, D, D>(y, x, dw);
  format(what, sizeof what, "mcu conv %s weight gradient bit-exact", name);
  checkExact(what, dw, wantW, K);
  if constexpr (S == 1) {
    // The input gradient's correlation: y's padded planes (here x's shape
    // with F channels is enough: the same loops) on flipped weights.
    constexpr int QH = OH + D * (KH - 1), QW = OW + D * (KW - 1);
    static float dyp[N * F * QH * QW], dx[N * C * OH * OW],
        wantX[N * C * OH * OW];
    fill(dyp, N * F * QH * QW);
    fill(dx, N * C * OH * OW);
    for (int i = 0; i < N * C * OH * OW; ++i)
      wantX[i] = dx[i];
    using Flipped = d::FlippedWeight<C, F, KH, KW>;
    d::correlate<N, F, QH, QW, C, F, KH, KW, OH, OW, 1, 1, D, D, 1, Flipped>(
        dyp, w, wantX);
    k::mcu::correlate<N, F, QH, QW, C, KH, KW, OH, OW, 1, 1, D, D, Flipped>(
        dyp, w, dx);
    format(what, sizeof what, "mcu conv %s input gradient bit-exact", name);
    checkExact(what, dx, wantX, N * C * OH * OW);
  }
}

/// Dot products (a batch-1 Linear layer, a batch of 3), pointwise weight
/// gradients and the SGD updates of mcutrain_kernels_mcu.h against plain
/// loops summing in the same order.
template <int M, int N, int K> static void exactGemmCase() {
  static float a[M * K], b[N * K], y[M * N], want[M * N];
  fill(a, M * K);
  fill(b, N * K);
  fill(y, M * N);
  for (int i = 0; i < M * N; ++i)
    want[i] = y[i];
  const float alpha = 0.75f;
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < N; ++j) {
      float sum = 0.0f;
      for (int kk = 0; kk < K; ++kk)
        sum += a[i * K + kk] * b[j * K + kk];
      want[i * N + j] += alpha * sum;
    }
  k::mcu::dotProducts<M, N, K, false>(a, b, y, alpha);
  char what[96];
  format(what, sizeof what, "mcu dot products %dx%dx%d bit-exact", M, N, K);
  checkExact(what, y, want, M * N);
  // dw (M x N) += dy (M x K) x^T summed over K (the planes).
  fill(y, M * N);
  for (int i = 0; i < M * N; ++i)
    want[i] = y[i];
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < N; ++j) {
      float sum = 0.0f;
      for (int kk = 0; kk < K; ++kk)
        sum += a[i * K + kk] * b[j * K + kk];
      want[i * N + j] += sum;
    }
  k::mcu::pointwiseGradWeight<1, N, M, K>(a, b, y);
  format(what, sizeof what, "mcu pointwise weight gradient %dx%dx%d bit-exact",
         M, N, K);
  checkExact(what, y, want, M * N);
  // SGD: w (M x K) -= lr * (dy[i] * x[j]), with and without dx.
  static float w[M * K], wantW[M * K], dx[K], wantX[K];
  fill(w, M * K);
  fill(dx, K);
  const float lr = 0.375f;
  for (int j = 0; j < K; ++j) {
    float sum = 0.0f;
    for (int i = 0; i < M; ++i) {
      sum += y[i] * w[i * K + j];
      const float g = y[i] * b[j];
      wantW[i * K + j] = w[i * K + j] - lr * g;
    }
    wantX[j] = dx[j] + sum;
  }
  static float w2[M * K];
  for (int i = 0; i < M * K; ++i)
    w2[i] = w[i];
  k::mcu::sgdOuterUpdateInputGrad<M, K, false>(y, b, &lr, dx, w);
  format(what, sizeof what, "mcu sgd update %dx%d input gradient bit-exact", M,
         K);
  checkExact(what, dx, wantX, K);
  format(what, sizeof what, "mcu sgd update %dx%d weights bit-exact", M, K);
  checkExact(what, w, wantW, M * K);
  k::sgd_outer_update<M, K>(y, b, &lr, w2);
  format(what, sizeof what, "sgd_outer_update %dx%d bit-exact", M, K);
  checkExact(what, w2, wantW, M * K);
}

/// The register-blocked Cortex-M kernels, on the host's scalar build and
/// on the devices: shapes with tails (output channels, positions, columns
/// not a multiple of 4), strides, dilation, a batch of two, packed weights
/// in several blocks of input channels.
static void exactCases() {
  exactConvCase<1, 1, 28, 28, 8, 3, 3, 1, 1, 1>("1->8 28x28 (DemoCNN)");
  exactConvCase<1, 8, 14, 14, 16, 3, 3, 1, 1, 1>("8->16 14x14 (DemoCNN)");
  exactConvCase<2, 5, 9, 11, 7, 3, 3, 1, 1, 1>("batch 2 5->7 9x11");
  exactConvCase<1, 6, 13, 11, 10, 3, 3, 2, 1, 1>("6->10 13x11 s2");
  exactConvCase<1, 4, 12, 12, 6, 3, 3, 1, 2, 2>("4->6 12x12 d2");
  exactConvCase<1, 80, 6, 7, 5, 3, 3, 1, 1, 1>("80->5 6x7 (weight blocks)");
  exactConvCase<1, 1, 24, 10, 9, 10, 4, 2, 1, 1>("1->9 24x10 10x4 s2");
  exactConvCase<1, 12, 5, 9, 13, 1, 1, 1, 1, 0>("pointwise 12->13 5x9");
  exactConvCase<1, 1, 25, 5, 1, 3, 3, 1, 1, 1>("depthwise plane 25x5");
  exactConvCase<2, 1, 9, 20, 1, 3, 3, 1, 1, 1>("depthwise planes 9x20");
  exactConvCase<1, 1, 11, 13, 1, 3, 3, 2, 1, 1>("depthwise plane 11x13 s2");
  exactConvCase<1, 8, 12, 12, 8, 1, 1, 2, 1, 0>("1x1 s2 8->8 12x12");
  exactGemmCase<1, 10, 784>();
  exactGemmCase<1, 7, 30>();
  exactGemmCase<3, 9, 13>();
  exactGemmCase<4, 8, 125>();
}

/// Calls each(x) for every 4099th float bit pattern from 0 to infinity, of
/// either sign.
template <typename Each> static void sweepFloats(Each each) {
  // (An array, not a braced list: bare-metal toolchains without a C++
  // library have no <initializer_list>.)
  const std::uint32_t signs[] = {0u, 0x80000000u};
  for (std::uint32_t b = 0; b <= 0x7f800000u; b += 4099u)
    for (std::uint32_t sign : signs)
      each(k::detail::floatOf(b | sign));
}

/// fn over an array of values in (-range / 2, range / 2) and `specials`
/// (a loop the compiler may vectorize) against fn one value at a time
/// (through a volatile, so scalar): the same bits, or NaN for NaN.
template <typename Fn>
static void sameOverArray(const char *name, float range,
                          const float (&specials)[3], Fn fn) {
  using k::detail::bitsOf;
  static float x[1000], y[1000], want[1000];
  for (int i = 0; i < 1000; ++i)
    x[i] = range * next();
  for (int i = 0; i < 3; ++i)
    x[7 + i] = specials[i];
  for (int i = 0; i < 1000; ++i)
    y[i] = fn(x[i]);
  for (int i = 0; i < 1000; ++i) {
    volatile float v = x[i];
    want[i] = fn(v);
  }
  bool same = true;
  for (int i = 0; i < 1000; ++i)
    same &= bitsOf(y[i]) == bitsOf(want[i]) ||
            (std::isnan(y[i]) && std::isnan(want[i]));
  print("%s %s over an array\n", same ? "ok  " : "FAIL", name);
  ++(same ? passed : failed);
}

/// The runtime's exp against the correctly rounded e^x (from double) over
/// every 4099th float of either sign: finite results within 2 ulp
/// (subnormal ones too), overflow to infinity and underflow to 0 where
/// e^x rounds there, NaN through; a vectorizable loop gives the same bits.
static void expCase() {
  using k::detail::bitsOf;
  auto ulps = [&](float a, float b) { // both non-negative
    std::uint32_t x = bitsOf(a), y = bitsOf(b);
    return x > y ? x - y : y - x;
  };
  std::uint32_t worst = 0;
  bool ok = true;
  sweepFloats([&](float x) {
    float got = k::exp(x), want = float(std::exp(double(x)));
    ok &= !std::signbit(got) && std::isinf(got) == std::isinf(want);
    if (!std::isinf(want))
      worst = std::max(worst, ulps(got, want));
  });
  const float specials[] = {0.0f,    -0.0f,  INFINITY, -INFINITY, 88.72f,
                            88.73f,  -87.3f, -103.0f,  -104.0f,   1e-40f,
                            -1e-40f, 1.0f,   -1.0f,    0.5f};
  for (float x : specials) {
    float got = k::exp(x), want = float(std::exp(double(x)));
    ok &= got == want || ulps(got, want) <= 2;
  }
  ok &= std::isnan(k::exp(NAN)) && std::isnan(k::exp(-NAN));
  ok &= worst <= 2;
  print("%s exp (max error %u ulp)\n", ok ? "ok  " : "FAIL",
        static_cast<unsigned>(worst));
  ++(ok ? passed : failed);

  const float arraySpecials[] = {NAN, -INFINITY, INFINITY};
  sameOverArray("exp", 240.0f, arraySpecials,
                [](float v) { return k::exp(v); });
}

static void tanhCase() {
  using k::detail::bitsOf;
  auto ulps = [&](float a, float b) {
    // Distance in representable floats (same sign: tanh keeps it).
    std::uint32_t x = bitsOf(a) & 0x7fffffffu, y = bitsOf(b) & 0x7fffffffu;
    return x > y ? x - y : y - x;
  };
  std::uint32_t worst = 0;
  bool ok = true;
  sweepFloats([&](float x) {
    float got = k::tanh(x), want = float(std::tanh(double(x)));
    ok &= std::signbit(got) == std::signbit(x);
    worst = std::max(worst, ulps(got, want));
  });
  const float specials[] = {0.0f, -0.0f, INFINITY, -INFINITY,
                            9.1f, -9.1f, 1e-40f,   -1e-40f};
  for (float x : specials) {
    float got = k::tanh(x), want = float(std::tanh(double(x)));
    ok &= got == want && std::signbit(got) == std::signbit(want);
  }
  ok &= std::isnan(k::tanh(NAN)) && std::isnan(k::tanh(-NAN));
  ok &= worst <= 3;
  print("%s tanh (max error %u ulp)\n", ok ? "ok  " : "FAIL",
        static_cast<unsigned>(worst));
  ++(ok ? passed : failed);

  const float arraySpecials[] = {NAN, -0.0f, -INFINITY};
  sameOverArray("tanh", 24.0f, arraySpecials,
                [](float v) { return k::tanh(v); });
}

#ifdef MCUTRAIN_TEST_SEMIHOSTING
/// On a board (1 MiB of RAM for the test's arrays): the exact comparisons
/// and a share of the host's cases, each kernel family once or more.
int main() {
  exactCases();
  convCase<1, 8, 14, 14, 16, 3, 3, 1, 1, 1, 1>("8->16 14x14 3x3");
  convCase<2, 3, 7, 9, 6, 5, 3, 1, 1, 2, 1>("batch 2, 3->6 7x9 5x3");
  convCase<1, 6, 11, 13, 9, 3, 3, 2, 2, 1, 3>("groups 3, s2 d2 11x13");
  convCase<1, 8, 10, 10, 8, 3, 3, 1, 1, 1, 8>("depthwise 8 10x10");
  convCase<1, 64, 25, 5, 64, 1, 1, 1, 1, 0, 1>("pointwise 64->64 25x5");
  convCase<1, 70, 6, 6, 37, 1, 1, 1, 1, 0, 1>("pointwise 70->37 6x6");
  convCase<2, 5, 13, 11, 7, 3, 3, 3, 2, 2, 1>("batch 2 5->7 13x11 s3 d2");
  convCase<1, 7, 8, 8, 40, 3, 3, 1, 1, 1, 1>("7->40 8x8 3x3 (rows, edges)");
  convCase<1, 16, 16, 16, 8, 3, 3, 2, 1, 1, 1>("16->8 16x16 3x3 s2");
  convCase<2, 4, 10, 12, 6, 1, 1, 2, 1, 0, 1>("batch 2 1x1 s2 4->6");
  biasActCase<1, 3, 16, 16, 16, 3, 3, 2, 1, 1, k::kRelu>("3->16 s2");
  biasActCase<2, 6, 9, 9, 12, 3, 3, 1, 1, 3, k::kIdentity>("batch 2 groups 3");
  biasActCase<1, 40, 1, 1, 24, 1, 1, 1, 0, 1, k::kClip>("pointwise 1x1");
  biasActCase<1, 8, 17, 19, 8, 3, 3, 2, 1, 8, k::kRelu>("depthwise s2");
  gradActCase<1, 8, 10, 10, 6, 3, 3, 1, k::kClip>("dense 6->8 3x3");
  gradActCase<1, 12, 6, 6, 12, 3, 3, 12, k::kRelu>("depthwise 6x6");
  gradActCase<1, 34, 2, 2, 34, 5, 5, 34, k::kClip>("depthwise 2x2 5x5");
  depthwisePlanesCase<1, 6, 9, 37, 3, 3, 1, 1, 1>("6 9x37");
  depthwisePlanesCase<1, 8, 32, 32, 3, 3, 2, 1, 1>("8 32x32 s2");
  depthwisePlanesCase<2, 5, 19, 21, 3, 3, 1, 2, 2>("batch 2 5 19x21 d2");
  sumRowsCase<4, 10, 1>();
  sumRowsCase<1, 16, 196>();
  maxPoolGradCase<1, 4, 16, 16, 3, 2, 1>("3x3/2 pad 1 16x16");
  maxPoolGradCase<2, 3, 9, 11, 2, 2, 0>("batch 2 2x2/2 9x11");
  gatherGradCase<1, 50, 16, 24, std::int64_t>("50x16 table, 24 int64 ids");
  gemmCase<1, 10, 784, false, true>();
  gemmCase<1, 12, 37, false, true>();
  gemmCase<3, 7, 40, true, true>();
  gemmCase<10, 64, 1, true, false>();
  gemmCase<7, 70, 9, false, false>();
  gemmCase<5, 6, 20, false, true>();
  sgdOuterCase<10, 784>();
  sgdOuterCase<5, 7>();
  sgdOuterCase<3, 201>();
  sgdLowRankCase<6, 37, 4>();
  sgdLowRankCase<5, 3, 12>();
  tanhCase();
  expCase();
  print("%d passed, %d failed\n", passed, failed);
  semihosting::exit(failed != 0);
}
#else
int main() {
  if (k::detail::kScalar) // (a plain if: clang warns of an unused function)
    exactCases();
  convCase<1, 16, 32, 32, 16, 3, 3, 1, 1, 1, 1>("16->16 32x32 3x3");
  convCase<1, 16, 32, 32, 32, 3, 3, 2, 1, 1, 1>("16->32 32x32 3x3 s2");
  convCase<1, 64, 8, 8, 64, 3, 3, 1, 1, 1, 1>("64->64 8x8 3x3");
  convCase<2, 3, 7, 9, 6, 5, 3, 1, 1, 2, 1>("batch 2, 3->6 7x9 5x3");
  convCase<1, 6, 11, 13, 9, 3, 3, 2, 2, 1, 3>("groups 3, s2 d2 11x13");
  convCase<1, 8, 10, 10, 8, 3, 3, 1, 1, 1, 8>("depthwise 8 10x10");
  convCase<1, 8, 10, 10, 16, 3, 3, 2, 1, 1, 8>("depthwise x2 s2 10x10");
  convCase<1, 64, 25, 5, 64, 1, 1, 1, 1, 0, 1>("pointwise 64->64 25x5");
  convCase<1, 1, 49, 10, 64, 10, 4, 2, 1, 1, 1>("1->64 49x10 10x4 s2");
  convCase<1, 24, 2, 2, 40, 1, 1, 1, 1, 0, 1>("pointwise 24->40 2x2");
  convCase<2, 12, 1, 1, 20, 1, 1, 1, 1, 0, 1>("pointwise batch 2 1x1");
  // Pointwise layers as matrix products: row and column tiles with tails,
  // transposed-input tiles with tails along channels and the plane.
  convCase<1, 70, 6, 6, 37, 1, 1, 1, 1, 0, 1>("pointwise 70->37 6x6");
  convCase<2, 33, 1, 1, 67, 1, 1, 1, 1, 0, 1>("pointwise batch 2 33->67 1x1");
  convCase<1, 8, 48, 48, 6, 1, 1, 1, 1, 0, 1>("pointwise 8->6 48x48");
  convCase<2, 130, 3, 5, 9, 1, 1, 1, 1, 0, 1>("pointwise batch 2 130->9 3x5");
  convCase<1, 6, 4, 4, 12, 1, 1, 1, 1, 0, 2>("pointwise groups 2 4x4");
  convCase<1, 5, 9, 11, 7, 1, 1, 1, 1, 0, 1>("pointwise 5->7 9x11 (dots)");
  convCase<1, 5, 9, 11, 12, 1, 1, 1, 1, 0, 1>("pointwise 5->12 9x11 (dots)");
  convCase<1, 32, 16, 16, 64, 3, 3, 2, 1, 1, 1>("32->64 16x16 3x3 s2 (im2col)");
  convCase<2, 9, 7, 9, 70, 3, 2, 1, 2, 2, 1>(
      "batch 2 9->70 7x9 3x2 d2 (im2col)");
  // The weight gradient's columns copied a row at a time and transposed in
  // registers: whole blocks, and 63 columns (edges beyond the blocks).
  convCase<1, 32, 16, 16, 32, 3, 3, 1, 1, 1, 1>("32->32 16x16 3x3 (rows)");
  convCase<1, 7, 8, 8, 40, 3, 3, 1, 1, 1, 1>("7->40 8x8 3x3 (rows, edges)");
  convCase<2, 40, 8, 9, 6, 1, 1, 1, 1, 0, 1>("pointwise batch 2 40->6 8x9");
  // Strided layers: the input gradient's column tiles (rows and channels
  // per tile, odd widths, strides 2 and 3, dilation) and 1x1 shortcuts.
  convCase<1, 16, 32, 32, 32, 1, 1, 2, 1, 0, 1>("1x1 s2 16->32 32x32");
  convCase<2, 5, 13, 11, 7, 3, 3, 3, 2, 2, 1>("batch 2 5->7 13x11 s3 d2");
  convCase<1, 3, 40, 300, 4, 2, 3, 2, 1, 0, 1>("3->4 40x300 2x3 s2");
  convCase<1, 32, 32, 32, 32, 3, 3, 2, 1, 1, 32>("depthwise 32 s2 32x32");
  // LeNet-5's layers: dots for 6 output channels, the flattened-plane input
  // gradient for 6 input channels on 14-wide rows (and with dilation).
  convCase<1, 1, 28, 28, 6, 5, 5, 1, 1, 2, 1>("1->6 28x28 5x5 (dots)");
  convCase<1, 6, 14, 14, 16, 5, 5, 1, 1, 0, 1>("6->16 14x14 5x5 (flat dx)");
  convCase<2, 5, 9, 7, 8, 3, 2, 1, 2, 1, 1>("batch 2 5->8 9x7 d2 (flat dx)");
  // The flattened-plane input gradient on rows of 16 and more (AVX builds):
  // ResNet-8's first layer, a batch of two with dilation on odd widths.
  convCase<1, 3, 32, 32, 16, 3, 3, 1, 1, 1, 1>("3->16 32x32 3x3 (flat dx)");
  convCase<2, 4, 21, 19, 8, 3, 3, 1, 2, 2, 1>(
      "batch 2 4->8 21x19 d2 (flat dx)");
  // Depthwise at stride 1 on rows of at least a vector: blocks of rows
  // sharing input rows, the last column tile overlapping (odd widths),
  // dilation, row counts not a multiple of the block.
  convCase<1, 16, 64, 64, 16, 3, 3, 1, 1, 1, 16>("depthwise 16 64x64 (rows)");
  convCase<2, 8, 25, 21, 8, 3, 3, 1, 2, 2, 8>("depthwise batch 2 25x21 d2");
  convCase<1, 4, 7, 40, 4, 5, 3, 1, 1, 1, 4>("depthwise 7x40 5x3");
  // The same layers padded a plane at a time: rows (stride 1, a long and an
  // odd width), the zero-inserted input gradient of stride 2, short rows,
  // dilation, a batch of two.
  depthwisePlanesCase<1, 16, 64, 64, 3, 3, 1, 1, 1>("16 64x64");
  depthwisePlanesCase<1, 6, 9, 37, 3, 3, 1, 1, 1>("6 9x37");
  depthwisePlanesCase<1, 8, 32, 32, 3, 3, 2, 1, 1>("8 32x32 s2");
  depthwisePlanesCase<1, 12, 8, 8, 3, 3, 1, 1, 1>("12 8x8");
  depthwisePlanesCase<2, 5, 19, 21, 3, 3, 1, 2, 2>("batch 2 5 19x21 d2");
  depthwisePlanesCase<1, 4, 11, 13, 5, 5, 2, 1, 2>("4 11x13 5x5 s2");
  // Planes smaller than their 5x5 kernels (EfficientNet-B0's 2x2 and
  // strided 4x4 at 64x64), 3x3 on 4x4 with a batch of two and dilation.
  depthwisePlanesCase<1, 40, 2, 2, 5, 5, 1, 1, 2>("40 2x2 5x5");
  depthwisePlanesCase<1, 20, 4, 4, 5, 5, 2, 1, 2>("20 4x4 5x5 s2");
  depthwisePlanesCase<2, 9, 4, 4, 3, 3, 1, 2, 2>("batch 2 9 4x4 d2");
  // Bias and activation fused: pointwise in blocks of channels (and one
  // block per 64 KB), depthwise in blocks and a plane at a time, im2col in
  // one block, grouped, a batch of two, each activation.
  biasActCase<1, 8, 64, 64, 48, 1, 1, 1, 0, 1, k::kClip>("pointwise 8->48");
  biasActCase<1, 16, 32, 32, 16, 3, 3, 1, 1, 16, k::kClip>("depthwise 32x32");
  biasActCase<1, 8, 17, 19, 8, 3, 3, 2, 1, 8, k::kRelu>("depthwise s2");
  biasActCase<1, 36, 4, 4, 36, 5, 5, 1, 2, 36, k::kClip>("depthwise 4x4 5x5");
  biasActCase<1, 3, 16, 16, 16, 3, 3, 2, 1, 1, k::kRelu>("3->16 s2 (im2col)");
  biasActCase<2, 6, 9, 9, 12, 3, 3, 1, 1, 3, k::kIdentity>("batch 2 groups 3");
  biasActCase<1, 40, 1, 1, 24, 1, 1, 1, 0, 1, k::kClip>("pointwise 1x1");
  // Chains a channel at a time: MobileNetV2's expand (stride 1 and 2
  // depthwise), its first layer (3x3 stride 2 from a spread input), a batch
  // of two with other activations, a 5x5 depthwise, planes of one pixel.
  convChainCase<1, 8, 16, 16, 48, 1, 1, 1, 0, 3, 1, 1, 8, k::kClip, k::kClip,
                k::kIdentity>("expand 8->48->8 16x16");
  convChainCase<1, 8, 16, 16, 48, 1, 1, 1, 0, 3, 2, 1, 16, k::kClip, k::kClip,
                k::kIdentity>("expand s2 8->48->16");
  convChainCase<1, 3, 32, 32, 16, 3, 3, 2, 1, 3, 1, 1, 8, k::kClip, k::kClip,
                k::kIdentity>("first layer 3->16->8 s2");
  convChainCase<2, 5, 9, 7, 12, 1, 1, 1, 0, 3, 1, 1, 6, k::kRelu, k::kIdentity,
                k::kRelu>("batch 2 relu");
  convChainCase<1, 6, 11, 13, 10, 3, 3, 1, 1, 5, 2, 2, 7, k::kIdentity,
                k::kRelu, k::kClip>("3x3 then 5x5 s2");
  convChainCase<1, 4, 1, 1, 8, 1, 1, 1, 0, 3, 1, 1, 4, k::kClip, k::kClip,
                k::kIdentity>("1x1 planes");
  convChainCase<1, 8, 16, 16, 48, 1, 1, 1, 0, 3, 2, 1, 16, k::kClip, k::kClip,
                k::kIdentity, 8>("expand s2 8->48->16");
  convChainCase<2, 5, 9, 7, 12, 1, 1, 1, 0, 3, 1, 1, 6, k::kRelu, k::kIdentity,
                k::kRelu, 3>("batch 2 relu");
  convChainCase<1, 3, 32, 32, 16, 3, 3, 2, 1, 3, 1, 1, 8, k::kClip, k::kClip,
                k::kIdentity, 16>("first layer 3->16->8 s2");
  // Activation gradients fused into the input gradient: pointwise in
  // blocks of rows (long and short planes), depthwise in blocks and a
  // plane at a time (rows of a vector and shorter), a dense 3x3 whole.
  gradActCase<1, 48, 64, 64, 8, 1, 1, 1, k::kClip>("pointwise 8->48 64x64");
  gradActCase<2, 24, 4, 4, 40, 1, 1, 1, k::kRelu>("pointwise batch 2 4x4");
  gradActCase<1, 32, 32, 32, 32, 3, 3, 32, k::kClip>("depthwise 32x32");
  gradActCase<1, 12, 6, 6, 12, 3, 3, 12, k::kRelu>("depthwise 6x6");
  gradActCase<1, 34, 2, 2, 34, 5, 5, 34, k::kClip>("depthwise 2x2 5x5");
  gradActCase<1, 8, 10, 10, 6, 3, 3, 1, k::kClip>("dense 6->8 3x3");
  // Small planes (ResNet-18's last stage at 64x64): 2x2 outputs, stride 1
  // and 2.
  convCase<1, 64, 2, 2, 64, 3, 3, 1, 1, 1, 1>("64->64 2x2 3x3 (small plane)");
  convCase<1, 48, 4, 4, 80, 3, 3, 2, 1, 1, 1>("48->80 4x4 3x3 s2 (2x2 out)");
  // Max pooling's gradient: 3x3/2 with padding (ResNet-18, ShuffleNetV2),
  // 2x2/2, 3x3/1 on odd planes, a batch of two.
  maxPoolGradCase<1, 4, 32, 32, 3, 2, 1>("3x3/2 pad 1 32x32");
  maxPoolGradCase<2, 3, 9, 11, 2, 2, 0>("batch 2 2x2/2 9x11");
  maxPoolGradCase<1, 2, 7, 5, 3, 1, 1>("3x3/1 pad 1 7x5");
  // An embedding table's gradient: int64 token ids, int32 indices along a
  // middle axis.
  gatherGradCase<1, 50, 16, 24, std::int64_t>("50x16 table, 24 int64 ids");
  gatherGradCase<3, 7, 5, 9, std::int32_t>("3x7x5 axis 1, 9 int32");
  // Block transposes: whole blocks with strided source rows, one block,
  // edges on both axes, smaller than a block, a wider destination stride.
  transposeCase<32, 64, 256, 32>();
  transposeCase<16, 16, 16, 16>();
  transposeCase<17, 35, 40, 20>();
  transposeCase<5, 3, 3, 5>();
  transposeCase<40, 8, 9, 48>();
  // Reductions to a shape: rows with and without a tail of lanes, batch
  // only (K = 1), and all values to one.
  sumRowsCase<1, 16, 4096>();
  sumRowsCase<3, 5, 37>();
  sumRowsCase<4, 10, 1>();
  sumRowsCase<2, 1, 7>();
  sumRowsCase<1, 1, 1000>();
  gemmCase<1, 10, 64, false, true>();
  gemmCase<1, 12, 37, false, true>();
  gemmCase<3, 7, 40, true, true>();
  gemmCase<10, 64, 1, true, false>();
  gemmCase<1, 64, 10, false, false>();
  gemmCase<4, 5, 6, true, false>();
  gemmCase<7, 70, 9, false, false>();
  gemmCase<6, 33, 50, true, false>();
  gemmCase<5, 6, 20, false, true>();
  // Fewer columns than a vector's lanes (2x2 planes): vectors down the
  // columns of a transposed A (rows past the last whole vector too), dot
  // products over B's columns copied into rows (a tail along K, and K in
  // several 16 KB chunks, overwriting only in the first).
  gemmCase<40, 4, 33, true, false>();
  gemmCase<37, 5, 50, false, false>();
  gemmCase<6, 3, 5000, false, false>();
  // Dot products folded kLanes at a time: chunks spanning rows of y, a
  // K % kLanes tail, one column, and more than one vector of dots.
  gemmCase<3, 5, 70, false, true>();
  gemmCase<24, 1, 32, false, true>();
  gemmCase<2, 17, 33, false, true>();
  gemmCase<1, 40, 16, false, true>();
  // A batch-1 Linear layer's fused SGD update and input gradient: fewer
  // columns than a vector, whole vectors in one block and in two (8 + 4 with
  // 32 registers) with a scalar tail.
  sgdOuterCase<5, 7>();
  sgdOuterCase<10, 64>();
  sgdOuterCase<12, 64>();
  sgdOuterCase<3, 200>();
  sgdOuterCase<1, 16>();
  // Low-rank updates: EfficientNet-B0's 2 x 2 stage (1152 x 192, rank 4),
  // a 4 x 4 plane's rank 16, a tail of columns, fewer than a vector.
  sgdLowRankCase<1152, 192, 4>();
  sgdLowRankCase<96, 80, 16>();
  sgdLowRankCase<7, 70, 3>();
  sgdLowRankCase<9, 5, 2>();
  tanhCase();
  expCase();
  print("%d passed, %d failed\n", passed, failed);
  return failed != 0;
}
#endif
