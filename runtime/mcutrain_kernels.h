// mcutrain_kernels.h - dense compute kernels the generated code calls for
// convolutions (forward, weight gradient, input gradient) and Gemm. Every
// shape is a template argument, so each call site gets loops with constant
// trip counts over restrict-qualified buffers that g++/clang vectorize and
// unroll; no heap, no STL, builds with arm-none-eabi-g++.
//
// Each kernel accumulates into its output (out += ...), the semantics of the
// linalg.generic it replaces: the generated code initialises the output (to
// zero, or the bias) before the call.
#ifndef MCUTRAIN_KERNELS_H
#define MCUTRAIN_KERNELS_H

// Cores without vector units (Cortex-M without Helium) reduce into one
// scalar register: the lane-wise partial sums that let a vectorizer work
// there only cost loads and stores (measured on the Cortex-M4: 10.35 against
// 9.42 instructions per MAC). Define it to 0 or 1 to choose.
#ifndef MCUTRAIN_KERNELS_SCALAR
#if defined(__ARM_ARCH) && !defined(__ARM_NEON) && !defined(__ARM_FEATURE_MVE)
#define MCUTRAIN_KERNELS_SCALAR 1
#else
#define MCUTRAIN_KERNELS_SCALAR 0
#endif
#endif

namespace mcutrain {
namespace kernels {
namespace detail {

constexpr bool kScalar = MCUTRAIN_KERNELS_SCALAR != 0;

constexpr int largestDivisorAtMost(int n, int limit) {
  int best = 1;
  for (int d = 1; d <= n && d <= limit; ++d)
    if (n % d == 0)
      best = d;
  return best;
}

/// Rows of output computed together so that a block holds about 32 values
/// per output channel (enough to fill vector registers, few enough to keep
/// the accumulators in them).
constexpr int rowsPerBlock(int oh, int ow) {
  return ow >= 32 ? 1 : largestDivisorAtMost(oh, 32 / ow);
}

/// Copies a row read with stride S into S unit-stride phases: row[j*S + s]
/// goes to ph[s][j], so row[o + ow*S] is ph[o % S][o / S + ow].
template <int S, int WP>
inline void deinterleave(const float *__restrict row,
                         float (*__restrict ph)[(WP + S - 1) / S]) {
  // Phase-major, so that the copy is vector loads and stores too (scalar
  // stores read back by vector loads stall store forwarding).
  for (int s = 0; s < S; ++s)
    for (int j = 0; j < (WP - s + S - 1) / S; ++j)
      ph[s][j] = row[j * S + s];
}

/// out[n][f][oh][ow] += sum over (c, kh, kw) of in[n][c0(f) + c][oh*SH +
/// kh*DH][ow*SW + kw*DW] * weight(f, c, kh, kw), with c0(f) = (f / (F/G)) *
/// CG. `Weight` maps (f, c, kh, kw) to the weight's index, which lets the
/// input gradient use the forward kernel on flipped, transposed weights.
/// Register blocking: FB output channels x RB rows of accumulators stay in
/// registers over the whole reduction.
template <int N, int C, int HP, int WP, int F, int CG, int KH, int KW, int OH,
          int OW, int SH, int SW, int DH, int DW, int G, typename Weight>
inline void correlate(const float *__restrict in, const float *__restrict w,
                      float *__restrict out) {
  constexpr int FG = F / G;
  constexpr int FB = largestDivisorAtMost(FG, 4);
  constexpr int RB = rowsPerBlock(OH, OW);
  for (int n = 0; n < N; ++n)
    for (int f0 = 0; f0 < F; f0 += FB) {
      const int c0 = (f0 / FG) * CG;
      for (int oh0 = 0; oh0 < OH; oh0 += RB) {
        float acc[FB][RB][OW];
        for (int b = 0; b < FB; ++b)
          for (int r = 0; r < RB; ++r)
            for (int ow = 0; ow < OW; ++ow)
              acc[b][r][ow] = out[((n * F + f0 + b) * OH + oh0 + r) * OW + ow];
        for (int c = 0; c < CG; ++c)
          for (int kh = 0; kh < KH; ++kh) {
            const float *rows =
                in + ((n * C + c0 + c) * HP + oh0 * SH + kh * DH) * WP;
            if constexpr (SW == 1) {
              for (int kw = 0; kw < KW; ++kw)
                for (int b = 0; b < FB; ++b) {
                  const float wv = w[Weight::index(f0 + b, c, kh, kw)];
                  for (int r = 0; r < RB; ++r)
                  // Not unrolled before vectorization (g++ would unroll
                  // short rows completely and vectorize the wrong loop).
#pragma GCC unroll 1
                    for (int ow = 0; ow < OW; ++ow)
                      acc[b][r][ow] += wv * rows[r * SH * WP + kw * DW + ow];
                }
            } else {
              // Strided rows: read them once into unit-stride phases.
              float ph[RB][SW][(WP + SW - 1) / SW];
              for (int r = 0; r < RB; ++r)
                deinterleave<SW, WP>(rows + r * SH * WP, ph[r]);
              for (int kw = 0; kw < KW; ++kw)
                for (int b = 0; b < FB; ++b) {
                  const float wv = w[Weight::index(f0 + b, c, kh, kw)];
                  const int o = kw * DW;
                  for (int r = 0; r < RB; ++r)
#pragma GCC unroll 1
                    for (int ow = 0; ow < OW; ++ow)
                      acc[b][r][ow] += wv * ph[r][o % SW][o / SW + ow];
                }
            }
          }
        for (int b = 0; b < FB; ++b)
          for (int r = 0; r < RB; ++r)
            for (int ow = 0; ow < OW; ++ow)
              out[((n * F + f0 + b) * OH + oh0 + r) * OW + ow] = acc[b][r][ow];
      }
    }
}

/// A 1x1, stride-1, unpadded convolution reads and writes whole planes
/// contiguously: the kernels see an OH x OW plane as rows of
/// planeRow(OH*OW) values, long rows vectorizing where short ones do not.
constexpr bool isPointwise(int kh, int kw, int sh, int sw, int hp, int wp,
                           int oh, int ow) {
  return kh == 1 && kw == 1 && sh == 1 && sw == 1 && hp == oh && wp == ow;
}
constexpr int planeRow(int p) { return largestDivisorAtMost(p, 64); }

template <int CG, int KH, int KW> struct ForwardWeight {
  static int index(int f, int c, int kh, int kw) {
    return ((f * CG + c) * KH + kh) * KW + kw;
  }
};

/// The input gradient reads weight[f][c][KH-1-kh][KW-1-kw] for input
/// channel c (here the "output" channel) and output channel f (here the
/// reduced channel): output channel `o` of the correlation is input channel
/// `o` of the convolution, its reduced channel `fo` runs over the outputs of
/// o's group.
template <int CGW, int FG, int KH, int KW> struct FlippedWeight {
  static int index(int o, int fo, int kh, int kw) {
    const int f = (o / CGW) * FG + fo;
    return ((f * CGW + o % CGW) * KH + (KH - 1 - kh)) * KW + (KW - 1 - kw);
  }
};

/// conv2d_grad_weight's loops (see there).
template <int N, int C, int HP, int WP, int F, int CG, int KH, int KW, int OH,
          int OW, int SH, int SW, int DH, int DW, int G>
inline void gradWeight(const float *__restrict dy, const float *__restrict x,
                       float *__restrict dw) {
  constexpr int FG = F / G;
  if constexpr (kScalar) {
    for (int f = 0; f < F; ++f)
      for (int c = 0; c < CG; ++c)
        for (int kh = 0; kh < KH; ++kh)
          for (int kw = 0; kw < KW; ++kw) {
            float sum = 0.0f;
            for (int n = 0; n < N; ++n)
              for (int oh = 0; oh < OH; ++oh) {
                const float *g = dy + ((n * F + f) * OH + oh) * OW;
                const float *row =
                    x +
                    ((n * C + (f / FG) * CG + c) * HP + oh * SH + kh * DH) *
                        WP +
                    kw * DW;
                for (int ow = 0; ow < OW; ++ow)
                  sum += g[ow] * row[ow * SW];
              }
            dw[((f * CG + c) * KH + kh) * KW + kw] += sum;
          }
    return;
  }
  // FB output channels share each input row (and its deinterleaving); their
  // partial sums stay within about 256 floats of stack.
  constexpr int FB =
      largestDivisorAtMost(FG, KW * OW >= 256 ? 1 : 256 / (KW * OW));
  for (int f0 = 0; f0 < F; f0 += FB) {
    const int c0 = (f0 / FG) * CG;
    for (int c = 0; c < CG; ++c)
      for (int kh = 0; kh < KH; ++kh) {
        float part[FB][KW][OW] = {};
        for (int n = 0; n < N; ++n)
          for (int oh = 0; oh < OH; ++oh) {
            const float *row =
                x + ((n * C + c0 + c) * HP + oh * SH + kh * DH) * WP;
            if constexpr (SW == 1) {
              for (int b = 0; b < FB; ++b) {
                const float *g = dy + ((n * F + f0 + b) * OH + oh) * OW;
                for (int kw = 0; kw < KW; ++kw)
#pragma GCC unroll 1
                  for (int ow = 0; ow < OW; ++ow)
                    part[b][kw][ow] += g[ow] * row[kw * DW + ow];
              }
            } else {
              float ph[SW][(WP + SW - 1) / SW];
              deinterleave<SW, WP>(row, ph);
              for (int b = 0; b < FB; ++b) {
                const float *g = dy + ((n * F + f0 + b) * OH + oh) * OW;
                for (int kw = 0; kw < KW; ++kw) {
                  const int o = kw * DW;
#pragma GCC unroll 1
                  for (int ow = 0; ow < OW; ++ow)
                    part[b][kw][ow] += g[ow] * ph[o % SW][o / SW + ow];
                }
              }
            }
          }
        for (int b = 0; b < FB; ++b)
          for (int kw = 0; kw < KW; ++kw) {
            float s = 0.0f;
            for (int ow = 0; ow < OW; ++ow)
              s += part[b][kw][ow];
            dw[(((f0 + b) * CG + c) * KH + kh) * KW + kw] += s;
          }
      }
  }
}

} // namespace detail

/// Convolution forward on the padded input x (N x C x HP x WP), weights
/// F x CG x KH x KW (CG = C / G): y (N x F x OH x OW) += x * w.
template <int N, int C, int HP, int WP, int F, int CG, int KH, int KW, int OH,
          int OW, int SH, int SW, int DH, int DW, int G>
inline void conv2d(const float *__restrict x, const float *__restrict w,
                   float *__restrict y) {
  using Weight = detail::ForwardWeight<CG, KH, KW>;
  if constexpr (detail::isPointwise(KH, KW, SH, SW, HP, WP, OH, OW)) {
    constexpr int R = detail::planeRow(OH * OW), P = OH * OW / R;
    detail::correlate<N, C, P, R, F, CG, 1, 1, P, R, 1, 1, 1, 1, G, Weight>(
        x, w, y);
  } else {
    detail::correlate<N, C, HP, WP, F, CG, KH, KW, OH, OW, SH, SW, DH, DW, G,
                      Weight>(x, w, y);
  }
}

/// Input gradient: dx (N x C x H x W) += the stride-1 correlation of dyp
/// (dy zero-inserted by the stride and padded, N x F x HP x WP) with the
/// flipped kernel, per group.
template <int N, int C, int H, int W, int F, int CG, int KH, int KW, int HP,
          int WP, int DH, int DW, int G>
inline void conv2d_grad_input(const float *__restrict dyp,
                              const float *__restrict w, float *__restrict dx) {
  // The correlation's "outputs" are the C input channels, its reduced
  // channels the F/G output channels of each group.
  using Weight = detail::FlippedWeight<CG, F / G, KH, KW>;
  if constexpr (detail::isPointwise(KH, KW, 1, 1, HP, WP, H, W)) {
    constexpr int R = detail::planeRow(H * W), P = H * W / R;
    detail::correlate<N, F, P, R, C, F / G, 1, 1, P, R, 1, 1, 1, 1, G, Weight>(
        dyp, w, dx);
  } else {
    detail::correlate<N, F, HP, WP, C, F / G, KH, KW, H, W, 1, 1, DH, DW, G,
                      Weight>(dyp, w, dx);
  }
}

/// Weight gradient: dw (F x CG x KH x KW) += sum over n, oh, ow of
/// dy[n][f][oh][ow] * x[n][c0(f) + c][oh*SH + kh*DH][ow*SW + kw*DW] on the
/// padded input. Partial sums per output column (and kernel column) keep
/// the inner loop free of a serial reduction, which compilers only
/// vectorize under -ffast-math.
template <int N, int C, int HP, int WP, int F, int CG, int KH, int KW, int OH,
          int OW, int SH, int SW, int DH, int DW, int G>
inline void conv2d_grad_weight(const float *__restrict dy,
                               const float *__restrict x,
                               float *__restrict dw) {
  if constexpr (detail::isPointwise(KH, KW, SH, SW, HP, WP, OH, OW) &&
                OH * OW < 16) {
    // Planes too small to vectorize along: outer products of dy with the
    // input, whose inner loop runs along a row of dw.
    constexpr int P = OH * OW, FG = F / G;
    for (int n = 0; n < N; ++n)
      for (int f = 0; f < F; ++f)
        for (int p = 0; p < P; ++p) {
          const float g = dy[(n * F + f) * P + p];
          const float *xs = x + (n * C + (f / FG) * CG) * P + p;
          for (int c = 0; c < CG; ++c)
            dw[f * CG + c] += g * xs[c * P];
        }
  } else if constexpr (detail::isPointwise(KH, KW, SH, SW, HP, WP, OH, OW)) {
    constexpr int R = detail::planeRow(OH * OW), P = OH * OW / R;
    detail::gradWeight<N, C, P, R, F, CG, 1, 1, P, R, 1, 1, 1, 1, G>(dy, x, dw);
  } else {
    detail::gradWeight<N, C, HP, WP, F, CG, KH, KW, OH, OW, SH, SW, DH, DW, G>(
        dy, x, dw);
  }
}

/// y (M x N) += alpha * op(A) op(B), op(A) M x K, op(B) K x N; TA/TB: A is
/// stored K x M / B is stored N x K.
template <int M, int N, int K, int TA, int TB>
inline void gemm(const float *__restrict a, const float *__restrict b,
                 float *__restrict y, float alpha) {
  for (int i = 0; i < M; ++i) {
    if (TB) {
      // Rows of B are contiguous along k: dot products, with partial sums
      // in lanes so the inner loop vectorizes without reassociation.
      constexpr int L = detail::kScalar ? 1 : K < 16 ? K : 16;
      for (int j = 0; j < N; ++j) {
        float part[L] = {};
        const float *bj = b + j * K;
        int k = 0;
        for (; k + L <= K; k += L)
          for (int l = 0; l < L; ++l)
            part[l] += (TA ? a[(k + l) * M + i] : a[i * K + k + l]) * bj[k + l];
        for (int l = 0; k + l < K; ++l)
          part[l] += (TA ? a[(k + l) * M + i] : a[i * K + k + l]) * bj[k + l];
        float s = 0.0f;
        for (int l = 0; l < L; ++l)
          s += part[l];
        y[i * N + j] += alpha * s;
      }
    } else {
      // Rows of B and Y are contiguous along j: axpy per k.
      for (int k = 0; k < K; ++k) {
        const float av = alpha * (TA ? a[k * M + i] : a[i * K + k]);
        for (int j = 0; j < N; ++j)
          y[i * N + j] += av * b[k * N + j];
      }
    }
  }
}

} // namespace kernels
} // namespace mcutrain

#endif
