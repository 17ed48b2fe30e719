// mcutrain_kernels.h - dense compute kernels the generated code calls for
// convolutions (forward, weight gradient, input gradient) and Gemm. Every
// shape is a template argument, so each call site gets loops with constant
// trip counts over restrict-qualified buffers that g++/clang vectorize and
// unroll; no heap, no STL, builds with arm-none-eabi-g++.
//
// Each kernel accumulates into its output (out += ...), the semantics of the
// linalg.generic it replaces: the generated code initialises the output (to
// zero, or the bias) before the call. The Gemm and sum_rows kernels also
// come with Overwrite = true (out = ...), which use-kernels calls instead of
// zeroing the output first: the zero fill and re-reading it cost more than
// a batch-1 Linear layer's products.
#ifndef MCUTRAIN_KERNELS_H
#define MCUTRAIN_KERNELS_H

// Cortex-M cores (Helium or not) and RISC-V without V take the register
// tiles of mcutrain_kernels_mcu.h and reduce into scalar registers: the
// lane-wise partial sums that let a vectorizer work there only cost loads
// and stores (measured on the Cortex-M4: 10.35 against 9.42 instructions per
// MAC). The vector kernels below are for hosts: on a Cortex-M55 with Helium
// they took 5.49 instructions per MAC (the tiles: 2.23) and up to 14.9 KB
// of stack per call, past the firmware's 8 KB (the "MVE builds train to
// NaN" of the docs: a stack overflow). Define it to 0 or 1 to choose.
#ifndef MCUTRAIN_KERNELS_SCALAR
#if (defined(__ARM_ARCH) && !defined(__ARM_NEON)) ||                           \
    (defined(__riscv) && !defined(__riscv_vector))
#define MCUTRAIN_KERNELS_SCALAR 1
#else
#define MCUTRAIN_KERNELS_SCALAR 0
#endif
#endif

#include <cmath>
#include <cstdint>

#include "mcutrain_kernels_mcu.h"

// The loop nests stay out of line: inlined into a model's large step
// function, g++ lost their restrict-qualified pointers and vectorized
// worse (LeNet-5's step 179 -> 250 us).
#define MCUTRAIN_KERNEL __attribute__((noinline)) inline

namespace mcutrain {
namespace kernels {
namespace detail {

constexpr bool kScalar = MCUTRAIN_KERNELS_SCALAR != 0;

/// Rows of output computed together so that a block holds about 32 values
/// per output channel (enough to fill vector registers, few enough to keep
/// the accumulators in them).
constexpr int rowsPerBlock(int oh, int ow) {
  return ow >= 32 ? 1 : mcu::divisorAtMost(oh, 32 / ow);
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

/// out = v, or out += v: how a kernel stores what it computed.
template <bool Overwrite> inline void put(float &out, float v) {
  if constexpr (Overwrite)
    out = v;
  else
    out += v;
}

/// The register tiles below are written with GCC's (and clang's) vector
/// extension (left to the vectorizer, some of them ran at a tenth of the
/// speed), in vectors of the widest registers the target has: 16 floats
/// with AVX-512 (twice the eight-float tiles' speed there), else 8 (two
/// registers on 128-bit SIMD).
#if defined(__AVX512F__)
constexpr int kLanes = 16;
#else
constexpr int kLanes = 8;
#endif
typedef float VecF __attribute__((vector_size(kLanes * sizeof(float))));

/// How many VecF the target's registers hold: a register tile larger than
/// that spills on every step of its reduction (the AVX-512 tiles on an
/// AVX2 build, 16 ymm registers, ran the steps 2.6-6x slower than the
/// same core's AVX-512 build). Other targets keep the AVX-512 tiles: an
/// SSE2-only build (two xmm registers a VecF, its scalar broadcasts made
/// through memory) measured slower with smaller ones (ResNet-8 22 -> 36
/// ms), and NEON builds are not measured here.
#if defined(__AVX__) && !defined(__AVX512F__)
constexpr int kVectorRegisters = 16;
#else
constexpr int kVectorRegisters = 32;
#endif
/// Whether correlateFlat's register tiles (kVectorRegisters VecF, one
/// register each) fit the target: on AVX and AVX-512 they ran an input
/// gradient 1.5-2.8x faster than correlate's accumulator rows in memory; an
/// SSE2-only build (two registers a VecF) spilled them, 3-4 GFLOP/s against
/// correlate's 10-19. NEON is not measured here and keeps correlate.
#if defined(__AVX__)
constexpr bool kFlatCorrelation = true;
#else
constexpr bool kFlatCorrelation = false;
#endif
/// Accumulators of a register tile: the rest of the registers hold the
/// operands of one step.
constexpr int kTileAccumulators =
    kVectorRegisters >= 32 ? 16 : kVectorRegisters * 3 / 4;
/// Vectors of columns in a tile of `rows` rows of accumulators that load
/// one vector per column and broadcast one scalar per step: up to 4, all in
/// registers (rows x v accumulators + v + 1), within the `available`.
constexpr int tileVectors(int rows, int available) {
  const int fit = (kVectorRegisters - 1) / (rows + 1);
  const int v = fit < 4 ? fit : 4;
  return v < available ? v : available;
}

/// A vector's lanes at p (any float alignment), through a vector type
/// rather than memcpy: g++ merged memcpys of adjacent vectors into one copy
/// and, without AVX-512, made it with 16-byte moves through the stack, each
/// tile step then reloading its vectors from there (a failed store
/// forward per load; LeNet-5's AVX2 step ran 6x slower than AVX-512's).
/// Not may_alias: GCC's vector types alias their element type, which is
/// all the kernels access through them, and a store that may alias
/// anything made every later tile reload its pointers and spill its
/// accumulators (gemmBlocked 1.25x slower on an Ice Lake Xeon).
typedef float UnalignedVecF
    __attribute__((vector_size(sizeof(VecF)), aligned(4)));
/// (By reference: a vector wider than the baseline ABI's registers, passed
/// by value, is an ABI note on every build without AVX.)
inline void loadVector(VecF &v, const float *p) {
  v = *reinterpret_cast<const UnalignedVecF *>(p);
}
inline void storeVector(float *p, const VecF &v) {
  *reinterpret_cast<UnalignedVecF *>(p) = v;
}

/// out[0..kLanes) = v, or += v.
template <bool Overwrite> inline void putVector(float *out, const VecF &v) {
  VecF sum = v;
  if constexpr (!Overwrite) {
    VecF old;
    loadVector(old, out);
    sum += old;
  }
  storeVector(out, sum);
}

/// Keeps a loaded vector in a register: GCC otherwise folds the load into
/// every multiply-add that uses it, one (often cache-line-splitting) load
/// per use, which halved the speed of tiles whose vectors feed 3-4 rows.
#if defined(__AVX__) && (defined(__x86_64__) || defined(__i386__))
#define MCUTRAIN_IN_REGISTER(v) __asm__("" : "+v"(v))
#else
#define MCUTRAIN_IN_REGISTER(v) ((void)0)
#endif

/// A vector's lanes as floats. Copying them out of a tile of accumulators
/// by the tile's address kept the whole tile in memory: g++ then stored and
/// reloaded every accumulator on each step of the reduction (gemmNT ran at
/// a fifth of the core's peak on AVX2).
inline void storeLanes(float *lanes, const VecF &v) {
  const VecF copy = v;
  __builtin_memcpy(lanes, &copy, sizeof copy);
}

/// The last K % kLanes values of a row of K >= kLanes floats are read as
/// one more vector ending at the row's end; RowTail's mask keeps the lanes
/// that the whole vectors before it did not cover. Bitwise, so that an
/// infinity in a dropped lane does not turn into NaN.
template <int K> struct RowTail {
  typedef std::uint32_t VecU __attribute__((vector_size(sizeof(VecF))));
  VecU mask;
  RowTail() {
    for (int l = 0; l < kLanes; ++l)
      mask[l] = K - kLanes + l >= K / kLanes * kLanes ? ~0u : 0u;
  }
  /// v with the lanes already counted set to +0.
  void keep(VecF &v) const {
    VecU bits;
    __builtin_memcpy(&bits, &v, sizeof bits);
    bits &= mask;
    __builtin_memcpy(&v, &bits, sizeof bits);
  }
};

/// part[0] + ... + part[L-1] as a tree (halves added pairwise): a serial
/// sum of 16 lanes is a chain of 16 dependent additions (a batch-1 Gemm's
/// ten dot products spent most of their time there).
template <int L> inline float sumLanes(const float *part) {
  if constexpr (L == 1) {
    return part[0];
  } else {
    constexpr int H = L / 2;
    float half[L - H];
    for (int l = 0; l < H; ++l)
      half[l] = part[l] + part[l + H];
    if constexpr (L % 2 != 0)
      half[H] = part[L - 1];
    return sumLanes<L - H>(half);
  }
}

/// gemmBlocked's register tiles (see there).
template <int M, int N, int K, int AI, int AK, int LDB, int LDY, bool Overwrite>
MCUTRAIN_KERNEL void gemmTiles(const float *__restrict a,
                               const float *__restrict b, float *__restrict y,
                               float alpha) {
  // Vector cores: tiles of up to 4 vectors of columns (2 with 16
  // registers) and kTileAccumulators vectors in all, more rows when the
  // rows are short (with 32 registers counting a row's lanes, not its
  // vectors: there is room for a partial tail vector); scalar cores: 4 x 4
  // of their 32 single-precision registers.
  constexpr int NV = kVectorRegisters >= 32 ? 4 : 2;
  constexpr int NB = kScalar ? 4 : N < NV * kLanes ? N : NV * kLanes;
  constexpr int RowsFit =
      kVectorRegisters >= 32 ? kTileAccumulators * kLanes / NB
                             : kTileAccumulators / ((NB + kLanes - 1) / kLanes);
  // Rows split evenly, up to 16 (18 rows of one vector: 9 + 9, not
  // 8 + 8 + 2, whose two accumulators wait on the multiply-add latency; a
  // core with two FMA pipes needs eight in flight).
  constexpr int MaxRows = kScalar ? 4 : RowsFit < 16 ? RowsFit : 16;
  constexpr int RowBlocks = (M + MaxRows - 1) / MaxRows;
  constexpr int MB = (M + RowBlocks - 1) / RowBlocks;
  mcu::blocks<M, MB>([&](auto mb, int i0) {
    constexpr int RB = decltype(mb)::value;
    mcu::blocks<N, NB>([&](auto nb, int j0) {
      constexpr int CB = decltype(nb)::value;
      // Whole vectors of columns, then the rest: when the row is long
      // enough, as one more vector ending at the tile's end (overlapping
      // the last whole one; only its new lanes are stored), else scalar.
      constexpr int VB = kScalar ? 0 : CB / kLanes, SB = CB - VB * kLanes;
      constexpr bool tailVector = !kScalar && SB > 0 && N >= kLanes;
      constexpr int VT = VB + (tailVector ? 1 : 0);
      if constexpr (VT > 0) {
        VecF acc[RB][VT] = {};
        for (int k = 0; k < K; ++k) {
          VecF bv[VT];
          for (int v = 0; v < VB; ++v)
            loadVector(bv[v], b + k * LDB + j0 + kLanes * v);
          if constexpr (tailVector)
            loadVector(bv[VB], b + k * LDB + j0 + CB - kLanes);
          if constexpr (RB > 1 && VT > 1) // (measured: not for one vector)
            for (int v = 0; v < VT; ++v)
              MCUTRAIN_IN_REGISTER(bv[v]);
          for (int i = 0; i < RB; ++i) {
            const float av = a[(i0 + i) * AI + k * AK];
            for (int v = 0; v < VT; ++v)
              acc[i][v] += bv[v] * av;
          }
        }
        for (int i = 0; i < RB; ++i) {
          for (int v = 0; v < VB; ++v) {
            VecF sum = acc[i][v] * alpha;
            putVector<Overwrite>(y + (i0 + i) * LDY + j0 + kLanes * v, sum);
          }
          if constexpr (tailVector)
            for (int l = kLanes - SB; l < kLanes; ++l)
              put<Overwrite>(y[(i0 + i) * LDY + j0 + CB - kLanes + l],
                             alpha * acc[i][VB][l]);
        }
      }
      if constexpr (SB > 0 && !tailVector) {
        constexpr int J0 = VB * kLanes;
        float acc[RB][SB] = {};
        for (int k = 0; k < K; ++k) {
          const float *bk = b + k * LDB + j0 + J0;
          for (int i = 0; i < RB; ++i) {
            const float av = a[(i0 + i) * AI + k * AK];
            for (int j = 0; j < SB; ++j)
              acc[i][j] += av * bk[j];
          }
        }
        for (int i = 0; i < RB; ++i)
          for (int j = 0; j < SB; ++j)
            put<Overwrite>(y[(i0 + i) * LDY + j0 + J0 + j], alpha * acc[i][j]);
      }
    });
  });
}

/// y (M x N) += alpha * a b^T for vectors a, b: one pass over y's rows.
template <int M, int N, bool Overwrite = false>
MCUTRAIN_KERNEL void outerProduct(const float *__restrict a,
                                  const float *__restrict b,
                                  float *__restrict y, float alpha) {
  for (int i = 0; i < M; ++i) {
    const float av = alpha * a[i];
    for (int j = 0; j < N; ++j)
      put<Overwrite>(y[i * N + j], av * b[j]);
  }
}

/// Dot products y[i][j] += alpha * sum_k a[i][k] b[j][k] (A M x K, B N x K,
/// both rows contiguous), with partial sums in lanes so that the inner loop
/// vectorizes without reassociation.
template <int M, int N, int K, int TA, bool Overwrite = false>
MCUTRAIN_KERNEL void gemmDots(const float *__restrict a,
                              const float *__restrict b, float *__restrict y,
                              float alpha) {
  constexpr int L = kScalar ? 1 : K < 16 ? K : 16;
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < N; ++j) {
      float part[L] = {};
      const float *bj = b + j * K;
      int k = 0;
      for (; k + L <= K; k += L)
        for (int l = 0; l < L; ++l)
          part[l] += (TA ? a[(k + l) * M + i] : a[i * K + k + l]) * bj[k + l];
      for (int l = 0; k + l < K; ++l)
        part[l] += (TA ? a[(k + l) * M + i] : a[i * K + k + l]) * bj[k + l];
      put<Overwrite>(y[i * N + j], alpha * sumLanes<L>(part));
    }
}

/// Folding sums the lanes of many vectors at once: a pair of vectors, each
/// holding kLanes / W dot products in W lanes apiece, becomes one vector of
/// twice as many dot products in W / 2 lanes by adding the low halves of
/// every dot's lanes to the high halves. foldIndex<W, Off>(i) is the lane
/// of the concatenated pair (p then q) that output lane i takes (Off = 0:
/// from the low halves, W / 2: from the high).
template <int W, int Off> constexpr int foldIndex(int i) {
  constexpr int H = W / 2, D = kLanes / W;
  return (i / H < D ? 0 : kLanes) + i / H % D * W + i % H + Off;
}
#if defined(__AVX512F__)
#define MCUTRAIN_EACH_LANE(f)                                                  \
  f(0), f(1), f(2), f(3), f(4), f(5), f(6), f(7), f(8), f(9), f(10), f(11),    \
      f(12), f(13), f(14), f(15)
#else
#define MCUTRAIN_EACH_LANE(f) f(0), f(1), f(2), f(3), f(4), f(5), f(6), f(7)
#endif
// (Vectors by reference: passed by value, 32-byte vectors change the ABI on
// x86-64 without AVX, which g++ and clang warn about.)
template <int W>
inline void foldPair(const VecF &p, const VecF &q, VecF &folded) {
#define MCUTRAIN_LOW(i) foldIndex<W, 0>(i)
#define MCUTRAIN_HIGH(i) foldIndex<W, W / 2>(i)
  folded = __builtin_shufflevector(p, q, MCUTRAIN_EACH_LANE(MCUTRAIN_LOW)) +
           __builtin_shufflevector(p, q, MCUTRAIN_EACH_LANE(MCUTRAIN_HIGH));
#undef MCUTRAIN_LOW
#undef MCUTRAIN_HIGH
}

/// One stage of an in-register transpose: rows i and i + S of every
/// 2S-row group swap their off-diagonal S x S blocks (row i's lanes with
/// bit S set take row i + S's lanes S to the left, and row i + S's lanes
/// with bit S clear take row i's S to the right).
template <int S> constexpr int swapUpper(int l) {
  return l & S ? kLanes + l - S : l;
}
template <int S> constexpr int swapLower(int l) {
  return l & S ? kLanes + l : l + S;
}
template <int S> inline void transposeStage(VecF *v) {
#define MCUTRAIN_UPPER(i) swapUpper<S>(i)
#define MCUTRAIN_LOWER(i) swapLower<S>(i)
  for (int i = 0; i < kLanes; ++i)
    if ((i & S) == 0) {
      const VecF a = v[i], b = v[i + S];
      v[i] = __builtin_shufflevector(a, b, MCUTRAIN_EACH_LANE(MCUTRAIN_UPPER));
      v[i + S] =
          __builtin_shufflevector(a, b, MCUTRAIN_EACH_LANE(MCUTRAIN_LOWER));
    }
#undef MCUTRAIN_UPPER
#undef MCUTRAIN_LOWER
  if constexpr (2 * S < kLanes)
    transposeStage<2 * S>(v);
}

/// dst[j][i] = src[i][j] (i < R, j < CN; rows LDS and LDD floats apart):
/// kLanes x kLanes blocks transposed in registers, log2(kLanes) stages of
/// two-vector shuffles, the edges one float at a time (a scalar transpose
/// is a load and a store per float: a fifth of a strided 1x1 layer's step).
template <int R, int CN, int LDS, int LDD>
inline void transpose(const float *__restrict src, float *__restrict dst) {
  constexpr int RV = kScalar ? 0 : R / kLanes * kLanes;
  constexpr int CV = kScalar ? 0 : CN / kLanes * kLanes;
  for (int i0 = 0; i0 < RV; i0 += kLanes)
    for (int j0 = 0; j0 < CV; j0 += kLanes) {
      VecF v[kLanes];
      for (int i = 0; i < kLanes; ++i)
        loadVector(v[i], src + (i0 + i) * LDS + j0);
      transposeStage<1>(v);
      for (int j = 0; j < kLanes; ++j)
        storeVector(dst + (j0 + j) * LDD + i0, v[j]);
    }
  for (int i = 0; i < R; ++i)
    for (int j = i < RV ? CV : 0; j < CN; ++j)
      dst[j * LDD + i] = src[i * LDS + j];
}

/// Lane d of `sums` is the sum of v[d]'s lanes (D <= kLanes vectors, each
/// one dot product's partial sums): about 3 D vector operations for all of
/// them, where summing each vector alone is a chain of log2(kLanes)
/// dependent shuffles and additions per dot product.
template <int W, int D> inline void foldLanes(const VecF *v, VecF &sums) {
  if constexpr (W == 1) {
    static_assert(D == 1, "at most kLanes vectors");
    sums = v[0];
  } else {
    VecF u[(D + 1) / 2];
    for (int e = 0; e < D / 2; ++e)
      foldPair<W>(v[2 * e], v[2 * e + 1], u[e]);
    if constexpr (D % 2 != 0)
      foldPair<W>(v[D - 1], VecF{}, u[D / 2]);
    foldLanes<W / 2, (D + 1) / 2>(u, sums);
  }
}

/// gemmBlocked (see there) for fewer columns than a vector's lanes, A
/// contiguous down its columns (AI == 1): vectors run down y's columns,
/// each step broadcasting B(k, j) (the row tiles ran scalar on such
/// products: the input gradients of ResNet-18's 2x2 layers, 20% of its
/// step at 64x64). Lanes are stored LDY apart.
template <int M, int N, int K, int AK, int LDB, int LDY, bool Overwrite>
MCUTRAIN_KERNEL void gemmColumnVectors(const float *__restrict a,
                                       const float *__restrict b,
                                       float *__restrict y, float alpha) {
  // N x RV accumulators, RV loads of A and one broadcast of B in registers.
  constexpr int Fit = (kVectorRegisters - 1) / (N + 1);
  constexpr int RV = Fit < 1 ? 1 : Fit < 4 ? Fit : 4;
  constexpr int MV = M / kLanes;
  mcu::blocks<MV, RV>([&](auto vb, int v0) {
    constexpr int VB = decltype(vb)::value;
    VecF acc[N][VB] = {};
    for (int k = 0; k < K; ++k) {
      VecF av[VB];
      for (int v = 0; v < VB; ++v)
        loadVector(av[v], a + (v0 + v) * kLanes + k * AK);
      for (int j = 0; j < N; ++j) {
        const float bk = b[k * LDB + j];
        for (int v = 0; v < VB; ++v)
          acc[j][v] += av[v] * bk;
      }
    }
    for (int j = 0; j < N; ++j)
      for (int v = 0; v < VB; ++v) {
        float lanes[kLanes];
        storeLanes(lanes, acc[j][v] * alpha);
        for (int l = 0; l < kLanes; ++l)
          put<Overwrite>(y[((v0 + v) * kLanes + l) * LDY + j], lanes[l]);
      }
  });
  for (int i = MV * kLanes; i < M; ++i)
    for (int j = 0; j < N; ++j) {
      float sum = 0.0f;
      for (int k = 0; k < K; ++k)
        sum += a[i + k * AK] * b[k * LDB + j];
      put<Overwrite>(y[i * LDY + j], alpha * sum);
    }
}

/// gemmBlocked (see there) for fewer columns than a vector's lanes, A's
/// rows contiguous (AK == 1): B's few columns are copied into rows (16 KB
/// at a time) and each element of y is a dot product along k (pointwise
/// and 3x3 layers on 2x2 planes: EfficientNet-B0's and ResNet-18's last
/// stages ran scalar, 25% of their steps at 64x64).
template <int M, int N, int K, int AI, int LDB, int LDY, bool Overwrite>
MCUTRAIN_KERNEL void gemmPackedDots(const float *__restrict a,
                                    const float *__restrict b,
                                    float *__restrict y, float alpha) {
  constexpr int Chunk = 4096 / N / kLanes * kLanes;
  constexpr int KC = K < Chunk ? K : Chunk;
  // TI x N accumulators, TI loads of A and one of B in registers.
  constexpr int Fit = (kVectorRegisters - 1) / (N + 1);
  constexpr int TI = Fit < 1 ? 1 : Fit < 4 ? Fit : 4;
  float bt[N][KC];
  for (int k0 = 0; k0 < K; k0 += KC) {
    const int kn = K - k0 < KC ? K - k0 : KC, kv = kn / kLanes * kLanes;
    for (int k = 0; k < kn; ++k)
      for (int j = 0; j < N; ++j)
        bt[j][k] = b[(k0 + k) * LDB + j];
    const bool first = k0 == 0;
    mcu::blocks<M, TI>([&](auto ib, int i0) {
      constexpr int IB = decltype(ib)::value;
      VecF part[IB][N] = {};
      for (int k = 0; k < kv; k += kLanes) {
        VecF av[IB];
        for (int i = 0; i < IB; ++i)
          loadVector(av[i], a + (i0 + i) * AI + k0 + k);
        for (int j = 0; j < N; ++j) {
          VecF bv;
          loadVector(bv, &bt[j][k]);
          for (int i = 0; i < IB; ++i)
            part[i][j] += av[i] * bv;
        }
      }
      // The IB x N dot products' lanes folded kLanes at a time (summing
      // each alone cost more than the products on K = 192).
      mcu::blocks<IB * N, kLanes>([&](auto db, int d0) {
        constexpr int DB = decltype(db)::value;
        VecF sums;
        foldLanes<kLanes, DB>(&part[0][0] + d0, sums);
        for (int d = 0; d < DB; ++d) {
          const int i = (d0 + d) / N, j = (d0 + d) % N;
          float sum = sums[d];
          for (int k = kv; k < kn; ++k)
            sum += a[(i0 + i) * AI + k0 + k] * bt[j][k];
          float &out = y[(i0 + i) * LDY + j];
          if (Overwrite && first)
            out = alpha * sum;
          else
            out += alpha * sum;
        }
      });
    });
  }
}

/// y (M x N, rows LDY apart) += alpha * A B, A(i, k) = a[i*AI + k*AK], the
/// rows of B LDB apart and contiguous along n. An MB x NB tile of y stays
/// in registers over the whole reduction: per k, MB broadcasts of A and NB
/// values of B feed MB x NB multiply-adds (the axpy form loaded and stored
/// y for every one). Fewer columns than a vector's lanes: one of the two
/// above, where A's layout allows.
template <int M, int N, int K, int AI, int AK, int LDB, int LDY,
          bool Overwrite = false>
MCUTRAIN_KERNEL void gemmBlocked(const float *__restrict a,
                                 const float *__restrict b, float *__restrict y,
                                 float alpha) {
  if constexpr (!kScalar && N < kLanes && AI == 1 && M >= kLanes)
    gemmColumnVectors<M, N, K, AK, LDB, LDY, Overwrite>(a, b, y, alpha);
  else if constexpr (!kScalar && N < kLanes && AK == 1 && K >= kLanes)
    gemmPackedDots<M, N, K, AI, LDB, LDY, Overwrite>(a, b, y, alpha);
  else
    gemmTiles<M, N, K, AI, AK, LDB, LDY, Overwrite>(a, b, y, alpha);
}

/// y[t] += alpha * (row t / N of A) . (row t % N of B) for t < M*N, i.e.
/// y (M x N) += alpha * A B^T (A M x K, B N x K, rows contiguous, K >=
/// kLanes): kLanes dot products at a time, each accumulated in one vector
/// and the vectors folded into one vector of sums, which is y's next
/// kLanes values (a batch-1 Linear layer's ten dot products spent most of
/// their time summing lanes one dot at a time).
template <int M, int N, int K, bool Overwrite = false>
MCUTRAIN_KERNEL void gemmDotsFolded(const float *__restrict a,
                                    const float *__restrict b,
                                    float *__restrict y, float alpha) {
  constexpr int KV = K / kLanes * kLanes;
  const RowTail<K> tail;
  mcu::blocks<M * N, kLanes>([&](auto tb, int t0) {
    constexpr int D = decltype(tb)::value;
    VecF acc[D] = {};
    auto multiplyAdd = [&](int d, int k, bool masked) {
      const int i = M == 1 ? 0 : (t0 + d) / N, j = N == 1 ? 0 : (t0 + d) % N;
      VecF av, bv;
      loadVector(av, a + i * K + k);
      loadVector(bv, b + j * K + k);
      VecF prod = av * bv;
      if (masked)
        tail.keep(prod);
      acc[d] += prod;
    };
    for (int k = 0; k < KV; k += kLanes)
      for (int d = 0; d < D; ++d)
        multiplyAdd(d, k, false);
    if constexpr (KV < K)
      for (int d = 0; d < D; ++d)
        multiplyAdd(d, K - kLanes, true);
    VecF sums;
    foldLanes<kLanes, D>(acc, sums);
    if constexpr (D == kLanes) {
      sums *= alpha;
      putVector<Overwrite>(y + t0, sums);
    } else {
      for (int d = 0; d < D; ++d)
        put<Overwrite>(y[t0 + d], alpha * sums[d]);
    }
  });
}

/// y (M x N) += alpha * A B^T (Overwrite: y = ...), A M x K and B N x K
/// with contiguous rows: folded vectors where rows fill one.
template <int M, int N, int K, bool Overwrite = false>
inline void dotProducts(const float *__restrict a, const float *__restrict b,
                        float *__restrict y, float alpha) {
  if constexpr (!kScalar && K >= kLanes)
    gemmDotsFolded<M, N, K, Overwrite>(a, b, y, alpha);
  else if constexpr (kScalar)
    mcu::dotProducts<M, N, K, Overwrite>(a, b, y, alpha);
  else
    gemmDots<M, N, K, 0, Overwrite>(a, b, y, alpha);
}

/// y[i][j] += sum_k a[i][k] b[j][k] (A M x K, B N x K, rows contiguous,
/// LDA and LDB apart) for long rows: a 4 x 3 tile of dot products (4 x 2
/// or 3 x 2 with 16 registers), each in one vector of lanes, shares every load
/// of A and B; the lanes are summed once at the end.
template <int M, int N, int K, int LDA = K, int LDB = K>
MCUTRAIN_KERNEL void gemmNT(const float *__restrict a,
                            const float *__restrict b, float *__restrict y) {
  constexpr int KL = K / kLanes * kLanes;
  // With 16 registers: 4 x 2 (8 accumulators, as many as two FMA pipes of
  // latency 4 keep busy, and 6 loads), 3 x 2 where M is not a multiple of
  // 4; 3 x 3 spilled. Zen 3: 1.2-2.4x on MobileNetV2's and LeNet-5's
  // weight gradients (96x16x256 36 -> 76 GFLOP/s, 6x25x784 37 -> 50).
  constexpr int TI = kVectorRegisters >= 32   ? 4
                     : kVectorRegisters >= 16 ? (M % 4 == 0 ? 4 : 3)
                                              : 2;
  constexpr int TJ = kVectorRegisters >= 32 ? 3 : 2;
  // The last K % kLanes values of rows of at least a vector as one more
  // (RowTail) vector, not a scalar loop per dot product.
  constexpr bool vectorTail = KL < K && K >= kLanes;
  const RowTail<K> tail;
  mcu::blocks<M, TI>([&](auto mb, int i0) {
    constexpr int IB = decltype(mb)::value;
    mcu::blocks<N, TJ>([&](auto nb, int j0) {
      constexpr int JB = decltype(nb)::value;
      VecF part[IB][JB] = {};
      for (int k = 0; k < KL; k += kLanes) {
        VecF av[IB], bv[JB];
        for (int i = 0; i < IB; ++i) {
          loadVector(av[i], a + (i0 + i) * LDA + k);
          MCUTRAIN_IN_REGISTER(av[i]);
        }
        for (int j = 0; j < JB; ++j) {
          loadVector(bv[j], b + (j0 + j) * LDB + k);
          MCUTRAIN_IN_REGISTER(bv[j]);
        }
        for (int i = 0; i < IB; ++i)
          for (int j = 0; j < JB; ++j)
            part[i][j] += av[i] * bv[j];
      }
      if constexpr (vectorTail) {
        VecF av[IB], bv[JB];
        for (int i = 0; i < IB; ++i)
          loadVector(av[i], a + (i0 + i) * LDA + K - kLanes);
        for (int j = 0; j < JB; ++j)
          loadVector(bv[j], b + (j0 + j) * LDB + K - kLanes);
        for (int i = 0; i < IB; ++i)
          for (int j = 0; j < JB; ++j) {
            VecF prod = av[i] * bv[j];
            tail.keep(prod);
            part[i][j] += prod;
          }
      }
      for (int i = 0; i < IB; ++i)
        for (int j = 0; j < JB; ++j) {
          float lanes[kLanes];
          storeLanes(lanes, part[i][j]);
          float sum = sumLanes<kLanes>(lanes);
          for (int k = vectorTail ? K : KL; k < K; ++k)
            sum += a[(i0 + i) * LDA + k] * b[(j0 + j) * LDB + k];
          y[(i0 + i) * N + j0 + j] += sum;
        }
    });
  });
}

/// Weight gradient of an ungrouped convolution as one matrix product,
/// dw (F x K) += dy (F x P) col^T, K = C*KH*KW, P = OH*OW: the columns of
/// the input (im2col) are gathered a tile at a time, already transposed
/// (at most 8 KB of stack), so that the product runs along dw's rows.
template <int N, int C, int HP, int WP, int F, int KH, int KW, int OH, int OW,
          int SH, int SW, int DH, int DW>
MCUTRAIN_KERNEL void im2colGradWeight(const float *__restrict dy,
                                      const float *__restrict x,
                                      float *__restrict dw) {
  constexpr int K = C * KH * KW, P = OH * OW;
  constexpr int KB = K < 64 ? K : 64, PB = P < 2048 / KB ? P : 2048 / KB;
  for (int n = 0; n < N; ++n)
    mcu::blocks<K, KB>([&](auto kb, int k0) {
      constexpr int KT = decltype(kb)::value;
      mcu::blocks<P, PB>([&](auto pb, int p0) {
        constexpr int PT = decltype(pb)::value;
        float xt[PT][KT];
        int offset[KT]; // of column k's element at output position 0
        for (int k = 0; k < KT; ++k) {
          const int c = (k0 + k) / (KH * KW), kh = (k0 + k) / KW % KH,
                    kw = (k0 + k) % KW;
          offset[k] = (n * C + c) * HP * WP + kh * DH * WP + kw * DW;
        }
        if constexpr (SW == 1 && PB % OW == 0 && !kScalar) {
          // Whole output rows: each column's values along a row are
          // contiguous input, copied a row at a time (memcpy: as a loop,
          // g++ vectorized across k with gathers), then transposed in
          // registers (a float-at-a-time gather was a sixth of the 32->32
          // layer's step: 123 -> 107 us; 64->64 97 -> 88 us).
          float col[KT][PT];
          for (int k = 0; k < KT; ++k)
            for (int r = 0; r < PT / OW; ++r)
              __builtin_memcpy(&col[k][r * OW],
                               x + offset[k] + (p0 / OW + r) * SH * WP,
                               OW * sizeof(float));
          transpose<KT, PT, PT, KT>(&col[0][0], &xt[0][0]);
        } else {
          for (int p = 0; p < PT; ++p) {
            const float *at = x + (p0 + p) / OW * SH * WP + (p0 + p) % OW * SW;
            for (int k = 0; k < KT; ++k)
              xt[p][k] = at[offset[k]];
          }
        }
        gemmBlocked<F, KT, PT, P, 1, KT, K>(dy + n * F * P + p0, &xt[0][0],
                                            dw + k0, 1.0f);
      });
    });
}

/// Pointwise (1x1, stride 1, unpadded, ungrouped) convolution on P-value
/// planes as matrix products per sample: y[f] += W[f][c] x[c];
/// dx[c] += W[f][c] dy[f]; dw[f][c] += dy[f] . x[c] (summed over samples).
template <int N, int C, int F, int P>
MCUTRAIN_KERNEL void pointwiseForward(const float *__restrict x,
                                      const float *__restrict w,
                                      float *__restrict y) {
  for (int n = 0; n < N; ++n) {
    if constexpr (P == 1) // a matrix-vector product along W's rows
      dotProducts<F, 1, C>(w, x + n * C, y + n * F, 1.0f);
    else
      gemmBlocked<F, P, C, C, 1, P, P>(w, x + n * C * P, y + n * F * P, 1.0f);
  }
}
template <int N, int C, int F, int P>
MCUTRAIN_KERNEL void pointwiseGradInput(const float *__restrict dy,
                                        const float *__restrict w,
                                        float *__restrict dx) {
  for (int n = 0; n < N; ++n) {
    if constexpr (P >= 32) {
      gemmBlocked<C, P, F, 1, C, P, P>(w, dy + n * F * P, dx + n * C * P, 1.0f);
    } else {
      // Short planes: dx^T += dy^T W runs along W's rows, a tile of
      // channels at a time (at most 8 KB of stack), added back transposed.
      constexpr int CB = 2048 / P < C ? 2048 / P : C;
      mcu::blocks<C, CB>([&](auto cb, int c0) {
        constexpr int CT = decltype(cb)::value;
        float dxt[P][CT] = {};
        gemmBlocked<P, CT, F, 1, P, C, CT>(dy + n * F * P, w + c0, &dxt[0][0],
                                           1.0f);
        for (int c = 0; c < CT; ++c)
          for (int p = 0; p < P; ++p)
            dx[(n * C + c0 + c) * P + p] += dxt[p][c];
      });
    }
  }
}
template <int N, int C, int F, int P>
MCUTRAIN_KERNEL void pointwiseGradWeight(const float *__restrict dy,
                                         const float *__restrict x,
                                         float *__restrict dw) {
  if constexpr (P >= 64 && (C < 32 || F < 16)) {
    // Long planes and few channels (a tile would be narrow, or transposing
    // it would cost as much as the product): dot products along the planes.
    for (int n = 0; n < N; ++n)
      gemmNT<F, C, P>(dy + n * F * P, x + n * C * P, dw);
  } else {
    // dw += dy x^T: the im2col product of a P x 1 plane with a 1x1 kernel
    // (x transposed a tile at a time, so that it runs along dw's rows).
    im2colGradWeight<N, C, P, 1, F, 1, 1, P, 1, 1, 1, 1, 1>(dy, x, dw);
  }
}

/// out[n][f][oh][ow] += sum over (c, kh, kw) of in[n][c0(f) + c][oh*SH +
/// kh*DH][ow*SW + kw*DW] * weight(f, c, kh, kw), with c0(f) = (f / (F/G)) *
/// CG. `Weight` maps (f, c, kh, kw) to the weight's index, which lets the
/// input gradient use the forward kernel on flipped, transposed weights.
/// Register blocking: FB output channels x RB rows of accumulators stay in
/// registers over the whole reduction.
template <int N, int C, int HP, int WP, int F, int CG, int KH, int KW, int OH,
          int OW, int SH, int SW, int DH, int DW, int G, typename Weight>
MCUTRAIN_KERNEL void correlate(const float *__restrict in,
                               const float *__restrict w,
                               float *__restrict out) {
  constexpr int FG = F / G;
  constexpr int FB = mcu::divisorAtMost(FG, 4);
  constexpr int RB = rowsPerBlock(OH, OW);
  for (int n = 0; n < N; ++n)
    for (int f0 = 0; f0 < F; f0 += FB) {
      const int c0 = (f0 / FG) * CG;
      for (int oh0 = 0; oh0 < OH; oh0 += RB) {
        // (Aligned explicitly: g++ 12.2 -O2 -march=native on an AVX-512 Zen
        // 4 put it in the red zone 8 bytes off a 16-byte boundary and
        // stored to it with vmovdqa, a crash.)
        alignas(64) float acc[FB][RB][OW];
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

/// correlate for stride 1 on planes flattened to one row: output position
/// t = oh*WP + ow (on the padded width) reads in[t + kh*DH*WP + kw*DW], so
/// a plane is one long unit-stride row, in register tiles of up to four
/// vectors by FB output channels (rows of 8-14 outputs vectorize poorly);
/// the WP - OW positions past each row's end are computed too and dropped.
/// The last tile ends at the plane's end, overlapping the one before.
/// Needs a plane of at least kLanes positions.
template <int N, int C, int HP, int WP, int F, int CG, int KH, int KW, int OH,
          int OW, int DH, int DW, int G, typename Weight>
MCUTRAIN_KERNEL void correlateFlat(const float *__restrict in,
                                   const float *__restrict w,
                                   float *__restrict out) {
  constexpr int FG = F / G;
  constexpr int FB = mcu::divisorAtMost(FG, 4);
  // One past the last output read; every read stays inside the plane, as
  // (OH - 1 + (KH - 1)*DH) = HP - 1 and (OW - 1 + (KW - 1)*DW) = WP - 1.
  constexpr int T = (OH - 1) * WP + OW;
  static_assert(T >= kLanes, "plane shorter than a vector");
  constexpr int TV = tileVectors(FB, T / kLanes), TC = TV * kLanes;
  constexpr int R = CG * KH * KW;
  for (int n = 0; n < N; ++n)
    for (int f0 = 0; f0 < F; f0 += FB) {
      const int c0 = (f0 / FG) * CG;
      // The block's weights in the order the taps are visited (indexing
      // flipped weights per tap cost more than the multiply-adds).
      float wt[R][FB];
      for (int c = 0; c < CG; ++c)
        for (int kh = 0; kh < KH; ++kh)
          for (int kw = 0; kw < KW; ++kw)
            for (int b = 0; b < FB; ++b)
              wt[(c * KH + kh) * KW + kw][b] =
                  w[Weight::index(f0 + b, c, kh, kw)];
      for (int s = 0; s < T; s += TC) {
        const int t0 = s + TC <= T ? s : T - TC;
        VecF acc[FB][TV] = {};
        for (int c = 0; c < CG; ++c)
          for (int kh = 0; kh < KH; ++kh)
            for (int kw = 0; kw < KW; ++kw) {
              const float *src =
                  in + (n * C + c0 + c) * HP * WP + kh * DH * WP + kw * DW + t0;
              const float *wv = wt[(c * KH + kh) * KW + kw];
              VecF v[TV];
              for (int i = 0; i < TV; ++i) {
                loadVector(v[i], src + i * kLanes);
                MCUTRAIN_IN_REGISTER(v[i]);
              }
              for (int b = 0; b < FB; ++b)
                for (int i = 0; i < TV; ++i)
                  acc[b][i] += v[i] * wv[b];
            }
        float sums[FB][TC];
        for (int b = 0; b < FB; ++b)
          for (int i = 0; i < TV; ++i)
            storeLanes(&sums[b][i * kLanes], acc[b][i]);
        int oh = s / WP, ow = s % WP;
        for (int t = s - t0; t < TC; ++t) {
          if (ow < OW)
            for (int b = 0; b < FB; ++b)
              out[((n * F + f0 + b) * OH + oh) * OW + ow] += sums[b][t];
          if (++ow == WP) {
            ow = 0;
            ++oh;
          }
        }
      }
    }
}

/// The kernel row through which output row r of a block reads the block's
/// input row i (i = r + kh*DH), or -1 when none does.
template <int KH, int DH> constexpr int kernelRowAt(int i, int r) {
  return i < r || (i - r) % DH != 0 || (i - r) / DH >= KH ? -1 : (i - r) / DH;
}

/// correlate for depthwise layers (one input and one output channel per
/// group) at stride 1 on rows of at least a vector: RB output rows share
/// every input row they read (each loaded vector feeds up to KH rows'
/// multiply-adds; row by row, each was loaded once per multiply-add).
/// Column tiles of up to four vectors, the last one ending at the row's
/// end (overlapping the one before).
template <int N, int C, int HP, int WP, int KH, int KW, int OH, int OW, int DH,
          int DW, typename Weight>
MCUTRAIN_KERNEL void depthwiseRows(const float *__restrict in,
                                   const float *__restrict w,
                                   float *__restrict out) {
  static_assert(OW >= kLanes, "rows shorter than a vector");
  constexpr int RB = mcu::divisorAtMost(OH, 4);
  constexpr int TV = tileVectors(RB, OW / kLanes), TC = TV * kLanes;
  constexpr int IR = RB + (KH - 1) * DH; // input rows per block
  for (int n = 0; n < N; ++n)
    for (int c = 0; c < C; ++c) {
      float wt[KH][KW];
      for (int kh = 0; kh < KH; ++kh)
        for (int kw = 0; kw < KW; ++kw)
          wt[kh][kw] = w[Weight::index(c, 0, kh, kw)];
      const float *plane = in + (n * C + c) * HP * WP;
      float *target = out + (n * C + c) * OH * OW;
      for (int oh0 = 0; oh0 < OH; oh0 += RB)
        for (int s = 0; s < OW; s += TC) {
          const int o0 = s + TC <= OW ? s : OW - TC;
          VecF acc[RB][TV] = {};
          // Unrolled, so that which rows use which loaded vectors is known
          // at compile time and the accumulators stay in registers.
#pragma GCC unroll 16
          for (int i = 0; i < IR; ++i)
#pragma GCC unroll 16
            for (int kw = 0; kw < KW; ++kw) {
              VecF v[TV];
              for (int t = 0; t < TV; ++t) {
                loadVector(v[t],
                           plane + (oh0 + i) * WP + kw * DW + o0 + t * kLanes);
                MCUTRAIN_IN_REGISTER(v[t]);
              }
              // Output row r reads input row r + kh*DH.
#pragma GCC unroll 16
              for (int r = 0; r < RB; ++r) {
                const int kh = kernelRowAt<KH, DH>(i, r);
                if (kh < 0)
                  continue;
                for (int t = 0; t < TV; ++t)
                  acc[r][t] += v[t] * wt[kh][kw];
              }
            }
          for (int r = 0; r < RB; ++r) {
            float *row = target + (oh0 + r) * OW + o0;
            if (s == o0) {
              for (int t = 0; t < TV; ++t)
                putVector<false>(row + t * kLanes, acc[r][t]);
            } else { // only the lanes past the previous tile
              float sums[TC];
              for (int t = 0; t < TV; ++t)
                storeLanes(&sums[t * kLanes], acc[r][t]);
              for (int t = s - o0; t < TC; ++t)
                row[t] += sums[t];
            }
          }
        }
    }
}

/// Weight gradient of a depthwise layer (one input and one output channel
/// per group) at stride 1 on rows of at least a vector: the nine (KH x KW)
/// sums of a channel in vector lanes, RB rows of dy in registers sharing
/// every input row they meet (as depthwiseRows); one sum across lanes per
/// weight at the end.
template <int N, int C, int HP, int WP, int KH, int KW, int OH, int OW, int DH,
          int DW>
MCUTRAIN_KERNEL void depthwiseGradWeight(const float *__restrict dy,
                                         const float *__restrict x,
                                         float *__restrict dw) {
  static_assert(OW >= kLanes, "rows shorter than a vector");
  constexpr int RB = mcu::divisorAtMost(OH, 4);
  constexpr int IR = RB + (KH - 1) * DH;
  for (int c = 0; c < C; ++c) {
    VecF acc[KH][KW] = {};
    for (int n = 0; n < N; ++n) {
      const float *plane = x + (n * C + c) * HP * WP;
      const float *grad = dy + (n * C + c) * OH * OW;
      for (int oh0 = 0; oh0 < OH; oh0 += RB)
        for (int s = 0; s < OW; s += kLanes) {
          // The last tile ends at the row's end; its lanes before s were
          // counted by the tile before.
          const int o0 = s + kLanes <= OW ? s : OW - kLanes;
          VecF g[RB];
          for (int r = 0; r < RB; ++r) {
            float lanes[kLanes];
            __builtin_memcpy(lanes, grad + (oh0 + r) * OW + o0, sizeof lanes);
            for (int l = 0; l < kLanes; ++l)
              if (l < s - o0)
                lanes[l] = 0.0f;
            __builtin_memcpy(&g[r], lanes, sizeof lanes);
          }
#pragma GCC unroll 16
          for (int i = 0; i < IR; ++i)
#pragma GCC unroll 16
            for (int kw = 0; kw < KW; ++kw) {
              VecF v;
              loadVector(v, plane + (oh0 + i) * WP + kw * DW + o0);
              MCUTRAIN_IN_REGISTER(v);
#pragma GCC unroll 16
              for (int r = 0; r < RB; ++r) {
                const int kh = kernelRowAt<KH, DH>(i, r);
                if (kh < 0)
                  continue;
                acc[kh][kw] += g[r] * v;
              }
            }
        }
    }
    for (int kh = 0; kh < KH; ++kh)
      for (int kw = 0; kw < KW; ++kw) {
        float lanes[kLanes];
        storeLanes(lanes, acc[kh][kw]);
        dw[(c * KH + kh) * KW + kw] += sumLanes<kLanes>(lanes);
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
constexpr int planeRow(int p) { return mcu::divisorAtMost(p, 64); }

template <int CG, int KH, int KW> struct ForwardWeight {
  // A row of the weights is one output channel's reduction, in the
  // im2col column order.
  static constexpr bool kRowMajor = true;
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
  static constexpr bool kRowMajor = false;
  static int index(int o, int fo, int kh, int kw) {
    const int f = (o / CGW) * FG + fo;
    return ((f * CGW + o % CGW) * KH + (KH - 1 - kh)) * KW + (KW - 1 - kw);
  }
};

/// conv2d_grad_weight's loops (see there).
template <int N, int C, int HP, int WP, int F, int CG, int KH, int KW, int OH,
          int OW, int SH, int SW, int DH, int DW, int G>
MCUTRAIN_KERNEL void gradWeight(const float *__restrict dy,
                                const float *__restrict x,
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
      mcu::divisorAtMost(FG, KW * OW >= 256 ? 1 : 256 / (KW * OW));
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

/// row[j*S + s] += ph[s][j] for every position of a WP-wide row: the
/// phases of a strided scatter put back in one pass.
template <int S, int WP>
inline void interleaveAdd(const float (*__restrict ph)[(WP + S - 1) / S],
                          float *__restrict row) {
  constexpr int J = WP / S;
  for (int j = 0; j < J; ++j)
    for (int s = 0; s < S; ++s)
      row[j * S + s] += ph[s][j];
  if constexpr (J * S < WP) // the last, partial group
    for (int s = 0; J * S + s < WP; ++s)
      row[J * S + s] += ph[s][J];
}

/// row[ow*S + kw*D] += taps[kw*LD + ow] (kw < KW, ow < OW): each tap's row
/// is added into its phase of the stride with unit-stride loops, then the
/// phases are interleaved into the row (a strided add per tap is scalar).
template <int S, int D, int KW, int OW, int WP, int LD>
inline void scatterRow(const float *__restrict taps, float *__restrict row) {
  float ph[S][(WP + S - 1) / S] = {};
  for (int kw = 0; kw < KW; ++kw) {
    const int s = kw * D % S, q = kw * D / S;
    for (int ow = 0; ow < OW; ++ow)
      ph[s][q + ow] += taps[kw * LD + ow];
  }
  interleaveAdd<S, WP>(ph, row);
}

/// Tiles of the im2col products: RB of the OH output rows (PT = RB*OW
/// positions, at most `Positions` unless one row is longer) by CB of the C
/// channels (KT = CB*KH*KW column rows), the column tile KT x PT within
/// `Floats` floats where one row and one channel allow, and at most
/// `ChannelCap` channels.
template <int C, int KH, int KW, int OH, int OW, int Positions, int Floats,
          int ChannelCap = C>
struct Tiles {
  static constexpr int atLeastOne(int v) { return v < 1 ? 1 : v; }
  static constexpr int smaller(int a, int b) { return a < b ? a : b; }
  static constexpr int RB = mcu::divisorAtMost(
      OH, atLeastOne(smaller(Positions / OW, Floats / (KH * KW * OW))));
  static constexpr int PT = RB * OW;
  static constexpr int CB = mcu::divisorAtMost(
      C, atLeastOne(smaller(ChannelCap, Floats / (KH * KW * PT))));
  static constexpr int KT = CB * KH * KW;
};

/// col[(c*KH + kh)*KW + kw][r*OW + ow] = the input (one sample's channel
/// c0 + c, padded HP x WP planes) at row (oh0 + r)*SH + kh*DH, column
/// ow*SW + kw*DW: each input row read once, deinterleaved by the stride,
/// so that every copy is unit-stride.
template <int CB, int HP, int WP, int KH, int KW, int RB, int OW, int SH,
          int SW, int DH, int DW>
inline void gatherColumns(const float *__restrict x, int oh0,
                          float (*__restrict col)[RB * OW]) {
  for (int c = 0; c < CB; ++c)
    for (int kh = 0; kh < KH; ++kh)
      for (int r = 0; r < RB; ++r) {
        const float *row = x + (c * HP + (oh0 + r) * SH + kh * DH) * WP;
        if constexpr (SW == 1) {
          for (int kw = 0; kw < KW; ++kw)
            for (int ow = 0; ow < OW; ++ow)
              col[(c * KH + kh) * KW + kw][r * OW + ow] = row[kw * DW + ow];
        } else {
          float ph[SW][(WP + SW - 1) / SW];
          deinterleave<SW, WP>(row, ph);
          for (int kw = 0; kw < KW; ++kw) {
            const int o = kw * DW;
            for (int ow = 0; ow < OW; ++ow)
              col[(c * KH + kh) * KW + kw][r * OW + ow] =
                  ph[o % SW][o / SW + ow];
          }
        }
      }
}

/// An ungrouped correlation (see correlate; the forward pass, or the input
/// gradient's on flipped weights) as one matrix product per sample,
/// y (F x P) += w (F x K) col (K x P), K = C*KH*KW, P = OH*OW, the
/// columns gathered a tile at a time. Weights not stored as those rows
/// (flipped ones) are copied a tile at a time.
template <int N, int C, int HP, int WP, int F, int KH, int KW, int OH, int OW,
          int SH, int SW, int DH, int DW, typename Weight>
MCUTRAIN_KERNEL void im2colCorrelate(const float *__restrict x,
                                     const float *__restrict w,
                                     float *__restrict y) {
  // Tiles of about 64 output positions (four 16-float vectors: the product
  // keeps a 4 x 4 block of y in registers); columns (and copied weights)
  // within 16 KB each.
  constexpr int K = C * KH * KW, P = OH * OW;
  // Flipped weights that fit 16 KB are copied into rows once per call
  // rather than a tile at a time (ResNet-8's 16-channel input gradient
  // copied each weight 16 times).
  constexpr bool copyAll = !Weight::kRowMajor && F * K <= 4096;
  constexpr bool rows = Weight::kRowMajor || copyAll;
  using T = Tiles<C, KH, KW, OH, OW, 64, 4096, rows ? C : 4096 / (F * KH * KW)>;
  constexpr int RB = T::RB, PT = T::PT, CB = T::CB, KT = T::KT;
  float wAll[copyAll ? F : 1][copyAll ? K : 1];
  if constexpr (copyAll)
    for (int f = 0; f < F; ++f)
      for (int c = 0; c < C; ++c)
        for (int kh = 0; kh < KH; ++kh)
          for (int kw = 0; kw < KW; ++kw)
            wAll[f][(c * KH + kh) * KW + kw] = w[Weight::index(f, c, kh, kw)];
  const float *wRows = copyAll ? &wAll[0][0] : w;
  for (int n = 0; n < N; ++n)
    for (int oh0 = 0; oh0 < OH; oh0 += RB)
      for (int c0 = 0; c0 < C; c0 += CB) {
        float col[KT][PT];
        gatherColumns<CB, HP, WP, KH, KW, RB, OW, SH, SW, DH, DW>(
            x + (n * C + c0) * HP * WP, oh0, col);
        if constexpr (rows) {
          gemmBlocked<F, PT, KT, K, 1, PT, P>(wRows + c0 * KH * KW, &col[0][0],
                                              y + n * F * P + oh0 * OW, 1.0f);
        } else {
          float wt[F][KT];
          for (int f = 0; f < F; ++f)
            for (int c = 0; c < CB; ++c)
              for (int kh = 0; kh < KH; ++kh)
                for (int kw = 0; kw < KW; ++kw)
                  wt[f][(c * KH + kh) * KW + kw] =
                      w[Weight::index(f, c0 + c, kh, kw)];
          gemmBlocked<F, PT, KT, KT, 1, PT, P>(&wt[0][0], &col[0][0],
                                               y + n * F * P + oh0 * OW, 1.0f);
        }
      }
}

/// Weight gradient (ungrouped) for output channels fewer than a vector's
/// lanes, as dot products along the output plane: dw (F x K) += dy (F x P)
/// col^T, on column tiles of up to 1024 positions and 80 KB: every dot
/// product ends in a sum across lanes, which long tiles make rare (LeNet-5's
/// first layer: 8.3 us with tiles of 112 positions, 5.4 with its whole
/// 784-position plane).
template <int N, int C, int HP, int WP, int F, int KH, int KW, int OH, int OW,
          int SH, int SW, int DH, int DW>
MCUTRAIN_KERNEL void im2colDots(const float *__restrict dy,
                                const float *__restrict x,
                                float *__restrict dw) {
  constexpr int K = C * KH * KW, P = OH * OW;
  using T = Tiles<C, KH, KW, OH, OW, 1024, 20480>;
  constexpr int RB = T::RB, PT = T::PT, CB = T::CB, KT = T::KT;
  for (int n = 0; n < N; ++n)
    for (int oh0 = 0; oh0 < OH; oh0 += RB)
      for (int c0 = 0; c0 < C; c0 += CB) {
        float col[KT][PT];
        gatherColumns<CB, HP, WP, KH, KW, RB, OW, SH, SW, DH, DW>(
            x + (n * C + c0) * HP * WP, oh0, col);
        float part[F][KT] = {};
        gemmNT<F, KT, PT, P, PT>(dy + n * F * P + oh0 * OW, &col[0][0],
                                 &part[0][0]);
        for (int f = 0; f < F; ++f)
          for (int k = 0; k < KT; ++k)
            dw[f * K + c0 * KH * KW + k] += part[f][k];
      }
}

/// Weight gradient (ungrouped) for few output channels, transposed:
/// dw^T (K x F) += col (K x P) dy^T (P x F), with dy transposed a tile at a
/// time. A row of dw^T is one vector of channels, so the columns need no
/// transposing gather (im2colGradWeight's gather costs as much as its
/// product when each column value meets only 16 channels).
template <int N, int C, int HP, int WP, int F, int KH, int KW, int OH, int OW,
          int SH, int SW, int DH, int DW>
MCUTRAIN_KERNEL void im2colGradWeightT(const float *__restrict dy,
                                       const float *__restrict x,
                                       float *__restrict dw) {
  constexpr int K = C * KH * KW, P = OH * OW;
  using T = Tiles<C, KH, KW, OH, OW, 64, 2048>;
  constexpr int RB = T::RB, PT = T::PT, CB = T::CB, KT = T::KT;
  float dwt[K][F] = {};
  for (int n = 0; n < N; ++n)
    for (int oh0 = 0; oh0 < OH; oh0 += RB) {
      float dyt[PT][F];
      transpose<F, PT, P, F>(dy + n * F * P + oh0 * OW, &dyt[0][0]);
      for (int c0 = 0; c0 < C; c0 += CB) {
        float col[KT][PT];
        gatherColumns<CB, HP, WP, KH, KW, RB, OW, SH, SW, DH, DW>(
            x + (n * C + c0) * HP * WP, oh0, col);
        gemmBlocked<KT, F, PT, PT, 1, F, F>(&col[0][0], &dyt[0][0],
                                            &dwt[c0 * KH * KW][0], 1.0f);
      }
    }
  for (int f = 0; f < F; ++f)
    for (int k = 0; k < K; ++k)
      dw[f * K + k] += dwt[k][f];
}

/// conv2d_grad_input_strided's loops (see there).
template <int N, int C, int HP, int WP, int F, int CG, int KH, int KW, int OH,
          int OW, int SH, int SW, int DH, int DW, int G>
MCUTRAIN_KERNEL void gradInputStrided(const float *__restrict dy,
                                      const float *__restrict w,
                                      float *__restrict dxp) {
  constexpr int FG = F / G, PW = (WP + SW - 1) / SW;
  if constexpr (kScalar || G > 1) {
    // Per output row and kernel row: the taps of the group's output
    // channels summed into the phases of the input row they land on, then
    // interleaved into it.
    for (int n = 0; n < N; ++n)
      for (int c = 0; c < C; ++c) {
        const int f0 = c / CG * FG, cw = c % CG;
        for (int oh = 0; oh < OH; ++oh)
          for (int kh = 0; kh < KH; ++kh) {
            float ph[SW][PW] = {};
            for (int fo = 0; fo < FG; ++fo) {
              const float *g = dy + ((n * F + f0 + fo) * OH + oh) * OW;
              for (int kw = 0; kw < KW; ++kw) {
                const float wv = w[(((f0 + fo) * CG + cw) * KH + kh) * KW + kw];
                const int s = kw * DW % SW, q = kw * DW / SW;
                for (int ow = 0; ow < OW; ++ow)
                  ph[s][q + ow] += wv * g[ow];
              }
            }
            interleaveAdd<SW, WP>(
                ph, dxp + ((n * C + c) * HP + oh * SH + kh * DH) * WP);
          }
      }
  } else {
    // The columns of the input gradient, dcol (C*KH*KW x OH*OW) = w^T dy, a
    // tile of output rows and input channels at a time (at most 16 KB of
    // stack), then each column row scattered to its input row: the product
    // does only the multiply-adds that are not with inserted zeros.
    constexpr int K = C * KH * KW, P = OH * OW;
    using T = Tiles<C, KH, KW, OH, OW, 256, 4096>;
    constexpr int RB = T::RB, PT = T::PT, CB = T::CB, KT = T::KT;
    for (int n = 0; n < N; ++n)
      for (int oh0 = 0; oh0 < OH; oh0 += RB)
        for (int c0 = 0; c0 < C; c0 += CB) {
          float col[KT][PT]; // (overwritten: no zero fill of 16 KB)
          gemmBlocked<KT, PT, F, 1, K, P, PT, true>(
              w + c0 * KH * KW, dy + n * F * P + oh0 * OW, &col[0][0], 1.0f);
          for (int c = 0; c < CB; ++c)
            for (int kh = 0; kh < KH; ++kh)
              for (int r = 0; r < RB; ++r)
                scatterRow<SW, DW, KW, OW, WP, PT>(
                    &col[(c * KH + kh) * KW][r * OW],
                    dxp + ((n * C + c0 + c) * HP + (oh0 + r) * SH + kh * DH) *
                              WP);
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
  constexpr bool pointwise =
      detail::isPointwise(KH, KW, SH, SW, HP, WP, OH, OW);
  if constexpr (detail::kScalar && G == 1 && pointwise) {
    // (Each plane as one row: tiles of 4 positions along it, one shorter
    // tile per plane, not per row.)
    constexpr int P = OH * OW;
    mcu::correlate<N, C, 1, P, F, 1, 1, 1, P, 1, 1, 1, 1, Weight>(x, w, y);
  } else if constexpr (detail::kScalar && G == 1) {
    mcu::correlate<N, C, HP, WP, F, KH, KW, OH, OW, SH, SW, DH, DW, Weight>(
        x, w, y);
  } else if constexpr (!detail::kScalar && G == 1 && pointwise) {
    detail::pointwiseForward<N, C, F, OH * OW>(x, w, y);
  } else if constexpr (pointwise) {
    constexpr int R = detail::planeRow(OH * OW), P = OH * OW / R;
    detail::correlate<N, C, P, R, F, CG, 1, 1, P, R, 1, 1, 1, 1, G, Weight>(
        x, w, y);
  } else if constexpr (!detail::kScalar && CG == 1 && F == G && SH == 1 &&
                       SW == 1 && OW >= detail::kLanes) {
    detail::depthwiseRows<N, C, HP, WP, KH, KW, OH, OW, DH, DW, Weight>(x, w,
                                                                        y);
  } else if constexpr (!detail::kScalar && G == 1) {
    // One matrix product over gathered columns: 55-70 GFLOP/s on ResNet-8's
    // layers where correlating rows of 8-32 outputs ran at 23-58.
    detail::im2colCorrelate<N, C, HP, WP, F, KH, KW, OH, OW, SH, SW, DH, DW,
                            Weight>(x, w, y);
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
  constexpr bool pointwise = detail::isPointwise(KH, KW, 1, 1, HP, WP, H, W);
  if constexpr (detail::kScalar && G == 1 && pointwise) {
    constexpr int P = H * W;
    mcu::correlate<N, F, 1, P, C, 1, 1, 1, P, 1, 1, 1, 1, Weight>(dyp, w, dx);
  } else if constexpr (detail::kScalar && G == 1) {
    mcu::correlate<N, F, HP, WP, C, KH, KW, H, W, 1, 1, DH, DW, Weight>(dyp, w,
                                                                        dx);
  } else if constexpr (!detail::kScalar && G == 1 && pointwise) {
    detail::pointwiseGradInput<N, C, F, H * W>(dyp, w, dx);
  } else if constexpr (pointwise) {
    constexpr int R = detail::planeRow(H * W), P = H * W / R;
    detail::correlate<N, F, P, R, C, F / G, 1, 1, P, R, 1, 1, 1, 1, G, Weight>(
        dyp, w, dx);
  } else if constexpr (!detail::kScalar && CG == 1 && F == G &&
                       W >= detail::kLanes) {
    // Depthwise (also the zero-inserted gradients of strided ones).
    detail::depthwiseRows<N, F, HP, WP, KH, KW, H, W, DH, DW, Weight>(dyp, w,
                                                                      dx);
  } else if constexpr (!detail::kScalar && G == 1 && C >= 16) {
    // The forward pass's matrix product on flipped weights: 10-15% faster
    // than correlating rows on ResNet-8's layers (with fewer input channels
    // the product's rows are too few to repay gathering the columns).
    detail::im2colCorrelate<N, F, HP, WP, C, KH, KW, H, W, 1, 1, DH, DW,
                            Weight>(dyp, w, dx);
  } else if constexpr (!detail::kScalar && detail::kFlatCorrelation && G == 1 &&
                       (H - 1) * WP + W >= detail::kLanes &&
                       F * KH * KW <= 2048) {
    // Fewer than 16 input channels: the plane as one long row in register
    // tiles. LeNet-5's second layer (6 channels of 14): 28 -> 21 us;
    // ResNet-8's first (3 channels of 32, AVX2): 30 -> 12 us; 1.4-2.8x on
    // other shapes from 1 to 12 channels, 14 to 128 wide.
    detail::correlateFlat<N, F, HP, WP, C, F / G, KH, KW, H, W, DH, DW, G,
                          Weight>(dyp, w, dx);
  } else {
    detail::correlate<N, F, HP, WP, C, F / G, KH, KW, H, W, 1, 1, DH, DW, G,
                      Weight>(dyp, w, dx);
  }
}

/// Input gradient of a strided convolution as the adjoint of conv2d (same
/// template arguments): dxp (the padded input's shape, N x C x HP x WP) +=
/// dy[n][f][oh][ow] * w[f][c][kh][kw] at row oh*SH + kh*DH, column
/// ow*SW + kw*DW. Reads dy itself: correlating a zero-inserted dy would
/// multiply by SH*SW times as many values, most of them zeros.
template <int N, int C, int HP, int WP, int F, int CG, int KH, int KW, int OH,
          int OW, int SH, int SW, int DH, int DW, int G>
inline void conv2d_grad_input_strided(const float *__restrict dy,
                                      const float *__restrict w,
                                      float *__restrict dxp) {
  constexpr int K = C * KH * KW, P = OH * OW;
  if constexpr (detail::kScalar && G == 1 && K % 4 == 0 && P % 4 == 0)
    mcu::gradInputStrided<N, C, HP, WP, F, KH, KW, OH, OW, SH, SW, DH, DW>(
        dy, w, dxp);
  else
    detail::gradInputStrided<N, C, HP, WP, F, CG, KH, KW, OH, OW, SH, SW, DH,
                             DW, G>(dy, w, dxp);
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
  if constexpr (detail::kScalar && G == 1 &&
                detail::isPointwise(KH, KW, SH, SW, HP, WP, OH, OW)) {
    mcu::pointwiseGradWeight<N, C, F, OH * OW>(dy, x, dw);
  } else if constexpr (detail::kScalar && G == 1) {
    mcu::gradWeight<N, C, HP, WP, F, KH, KW, OH, OW, SH, SW, DH, DW>(dy, x, dw);
  } else if constexpr (!detail::kScalar && G == 1 &&
                       detail::isPointwise(KH, KW, SH, SW, HP, WP, OH, OW)) {
    detail::pointwiseGradWeight<N, C, F, OH * OW>(dy, x, dw);
  } else if constexpr (detail::isPointwise(KH, KW, SH, SW, HP, WP, OH, OW) &&
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
  } else if constexpr (!detail::kScalar && G == 1 && F < detail::kLanes) {
    // Fewer output channels than lanes: dot products along the plane.
    detail::im2colDots<N, C, HP, WP, F, KH, KW, OH, OW, SH, SW, DH, DW>(dy, x,
                                                                        dw);
  } else if constexpr (!detail::kScalar && G == 1 && F <= 32 &&
                       C * KH * KW * F <= 8192) {
    // Few output channels: the transposed product, whose columns need no
    // transposing gather (ResNet-8's 16-channel layers: 33 -> 56-73
    // GFLOP/s).
    detail::im2colGradWeightT<N, C, HP, WP, F, KH, KW, OH, OW, SH, SW, DH, DW>(
        dy, x, dw);
  } else if constexpr (!detail::kScalar && G == 1 && F >= 32) {
    // Enough output channels to repay gathering the input's columns
    // (ResNet-8's layers of 32 and 64 channels: 22-51 -> 45-55 GFLOP/s;
    // with 16 channels the gather costs more than the product saves).
    detail::im2colGradWeight<N, C, HP, WP, F, KH, KW, OH, OW, SH, SW, DH, DW>(
        dy, x, dw);
  } else if constexpr (!detail::kScalar && CG == 1 && F == G && SH == 1 &&
                       SW == 1 &&
                       (OW % detail::kLanes == 0 || OW >= 2 * detail::kLanes)) {
    // (A single row of 17-31 outputs would waste most of its second tile.)
    detail::depthwiseGradWeight<N, C, HP, WP, KH, KW, OH, OW, DH, DW>(dy, x,
                                                                      dw);
  } else {
    detail::gradWeight<N, C, HP, WP, F, CG, KH, KW, OH, OW, SH, SW, DH, DW, G>(
        dy, x, dw);
  }
}

/// Depthwise layers (one input and one output channel per group) whose
/// input is padded, or zero-inserted and padded: each sample's channel is
/// spread into `plane` (HP x WP floats of scratch) right before its kernel
/// reads it, instead of spreading the whole tensor in a pass of its own.
/// The plane's zeros are the same for every channel: written once. Same
/// sums, in the same order, as the kernels above on the spread tensor.
namespace detail {
/// plane[(T + i*S0) * WP + L + j*S1] = src[i*W + j].
template <int H, int W, int HP, int WP, int T, int L, int S0, int S1>
inline void placePlane(const float *__restrict src, float *__restrict plane) {
  static_assert(T >= 0 && L >= 0 && T + (H - 1) * S0 < HP &&
                    L + (W - 1) * S1 < WP,
                "source outside the plane");
  for (int i = 0; i < H; ++i) {
    float *row = plane + (T + i * S0) * WP + L;
    if constexpr (S1 == 1 && !kScalar && W >= kLanes) {
      // Whole vectors, the last one ending at the row's end (g++ made the
      // plain loop a memmove call per row: 5% of MobileNetV2-128's step).
      for (int j = 0; j < W; j += kLanes) {
        const int at = j + kLanes <= W ? j : W - kLanes;
        VecF v;
        loadVector(v, src + i * W + at);
        storeVector(row + at, v);
      }
    } else {
      for (int j = 0; j < W; ++j)
        row[j * S1] = src[i * W + j];
    }
  }
}
template <int Size> inline void zeroFloats(float *__restrict v) {
  for (int i = 0; i < Size; ++i)
    v[i] = 0.0f;
}
/// out += the correlation of one padded plane with one channel's taps (the
/// paths conv2d takes for a depthwise layer).
template <int HP, int WP, int KH, int KW, int OH, int OW, int SH, int SW,
          int DH, int DW, typename Weight>
inline void correlatePlane(const float *__restrict plane,
                           const float *__restrict w, float *__restrict out) {
  if constexpr (!kScalar && SH == 1 && SW == 1 && OW >= kLanes)
    depthwiseRows<1, 1, HP, WP, KH, KW, OH, OW, DH, DW, Weight>(plane, w, out);
  else if constexpr (kScalar)
    mcu::correlate<1, 1, HP, WP, 1, KH, KW, OH, OW, SH, SW, DH, DW, Weight>(
        plane, w, out);
  else
    correlate<1, 1, HP, WP, 1, 1, KH, KW, OH, OW, SH, SW, DH, DW, 1, Weight>(
        plane, w, out);
}
} // namespace detail

/// conv2d of a depthwise layer on x (N x C x H x W) padded by T rows on top
/// and L columns on the left to HP x WP.
template <int N, int C, int H, int W, int HP, int WP, int T, int L, int KH,
          int KW, int OH, int OW, int SH, int SW, int DH, int DW>
inline void depthwise_conv2d(const float *__restrict x,
                             const float *__restrict w, float *__restrict y,
                             float *__restrict plane) {
  using Weight = detail::ForwardWeight<1, KH, KW>;
  detail::zeroFloats<HP * WP>(plane);
  for (int p = 0; p < N * C; ++p) {
    detail::placePlane<H, W, HP, WP, T, L, 1, 1>(x + p * H * W, plane);
    const float *wc = w + p % C * KH * KW;
    float *yc = y + p * OH * OW;
    detail::correlatePlane<HP, WP, KH, KW, OH, OW, SH, SW, DH, DW, Weight>(
        plane, wc, yc);
  }
}

/// conv2d_grad_input of a depthwise layer on dy (N x C x DYH x DYW),
/// zero-inserted by S0 x S1 and padded by T rows on top and L columns on the
/// left to HP x WP: dx (N x C x H x W) += its correlation with the flipped
/// kernel.
template <int N, int C, int H, int W, int KH, int KW, int DYH, int DYW, int HP,
          int WP, int T, int L, int S0, int S1, int DH, int DW>
inline void depthwise_conv2d_grad_input(const float *__restrict dy,
                                        const float *__restrict w,
                                        float *__restrict dx,
                                        float *__restrict plane) {
  using Weight = detail::FlippedWeight<1, 1, KH, KW>;
  detail::zeroFloats<HP * WP>(plane);
  for (int p = 0; p < N * C; ++p) {
    detail::placePlane<DYH, DYW, HP, WP, T, L, S0, S1>(dy + p * DYH * DYW,
                                                       plane);
    const float *wc = w + p % C * KH * KW;
    float *dxc = dx + p * H * W;
    detail::correlatePlane<HP, WP, KH, KW, H, W, 1, 1, DH, DW, Weight>(plane,
                                                                       wc, dxc);
  }
}

/// conv2d_grad_weight of a depthwise layer on x (N x C x H x W) padded by T
/// rows on top and L columns on the left to HP x WP.
template <int N, int C, int H, int W, int HP, int WP, int T, int L, int KH,
          int KW, int OH, int OW, int SH, int SW, int DH, int DW>
inline void depthwise_conv2d_grad_weight(const float *__restrict dy,
                                         const float *__restrict x,
                                         float *__restrict dw,
                                         float *__restrict plane) {
  detail::zeroFloats<HP * WP>(plane);
  for (int p = 0; p < N * C; ++p) {
    detail::placePlane<H, W, HP, WP, T, L, 1, 1>(x + p * H * W, plane);
    const float *dyc = dy + p * OH * OW;
    float *dwc = dw + p % C * KH * KW;
    if constexpr (!detail::kScalar && SH == 1 && SW == 1 &&
                  (OW % detail::kLanes == 0 || OW >= 2 * detail::kLanes))
      detail::depthwiseGradWeight<1, 1, HP, WP, KH, KW, OH, OW, DH, DW>(
          dyc, plane, dwc);
    else if constexpr (detail::kScalar)
      mcu::gradWeight<1, 1, HP, WP, 1, KH, KW, OH, OW, SH, SW, DH, DW>(
          dyc, plane, dwc);
    else
      detail::gradWeight<1, 1, HP, WP, 1, 1, KH, KW, OH, OW, SH, SW, DH, DW, 1>(
          dyc, plane, dwc);
  }
}

// (Activation, what a fused convolution applies: mcutrain_kernels_mcu.h.)

namespace detail {
template <int Act>
inline void activate(float *__restrict y, int n, float lo, float hi) {
  if constexpr (Act == kRelu) {
    for (int i = 0; i < n; ++i)
      y[i] = y[i] > 0.0f ? y[i] : 0.0f;
  } else if constexpr (Act == kClip) {
    for (int i = 0; i < n; ++i) {
      const float low = y[i] < lo ? lo : y[i];
      y[i] = low > hi ? hi : low;
    }
  }
}
/// y's F channels of P values each start from the bias: y[f][p] = bias[f].
template <int F, int P>
inline void broadcastBias(const float *__restrict bias, float *__restrict y) {
  for (int f = 0; f < F; ++f)
    for (int p = 0; p < P; ++p)
      y[f * P + p] = bias[f];
}
/// Output channels per block of a fused convolution: whole groups, the
/// block's outputs within 64 KB where that divides (1 when every channel
/// alone is larger).
template <int F, int FG, int P> constexpr int biasActBlock() {
  int best = FG;
  for (int b = FG; b <= F; b += FG)
    if (F % b == 0 && b * P * 4 <= 65536)
      best = b;
  return best;
}
} // namespace detail

/// y = act(bias + conv2d(x, w)) (y's previous contents unused; arguments as
/// conv2d): a block of output channels at a time starts from the bias, gets
/// its products and its activation while it is in cache, where separate
/// loops made a pass over memory each (MobileNetV2-128: a fifth of the
/// step's own loops). Channels of dense layers that gather the input's
/// columns (im2col) stay in one block: a block would gather them again.
template <int N, int C, int HP, int WP, int F, int CG, int KH, int KW, int OH,
          int OW, int SH, int SW, int DH, int DW, int G, int Act>
inline void conv2d_bias_act(const float *__restrict x,
                            const float *__restrict w, float *__restrict y,
                            const float *__restrict bias, float lo, float hi) {
  constexpr int P = OH * OW, FG = F / G;
  constexpr bool pointwise =
      detail::isPointwise(KH, KW, SH, SW, HP, WP, OH, OW);
  if constexpr (detail::kScalar && G == 1) {
    // The tiles start from the bias and apply the activation as they store.
    using Weight = detail::ForwardWeight<CG, KH, KW>;
    const mcu::Epilogue e = {bias, lo, hi};
    if constexpr (pointwise) {
      mcu::correlate<N, C, 1, P, F, 1, 1, 1, P, 1, 1, 1, 1, Weight, true, Act>(
          x, w, y, e);
    } else {
      mcu::correlate<N, C, HP, WP, F, KH, KW, OH, OW, SH, SW, DH, DW, Weight,
                     true, Act>(x, w, y, e);
    }
    return;
  }
  constexpr bool gathers = G == 1 && !pointwise;
  constexpr int FB = gathers ? F : detail::biasActBlock<F, FG, P>();
  for (int n = 0; n < N; ++n)
    for (int f0 = 0; f0 < F; f0 += FB) {
      float *block = y + (n * F + f0) * P;
      detail::broadcastBias<FB, P>(bias + f0, block);
      const float *xb = x + (n * C + f0 / FG * CG) * HP * WP;
      const float *wb = w + f0 * CG * KH * KW;
      if constexpr (G == 1)
        conv2d<1, C, HP, WP, FB, CG, KH, KW, OH, OW, SH, SW, DH, DW, 1>(xb, wb,
                                                                        block);
      else
        conv2d<1, FB / FG * CG, HP, WP, FB, CG, KH, KW, OH, OW, SH, SW, DH, DW,
               FB / FG>(xb, wb, block);
      detail::activate<Act>(block, FB * P, lo, hi);
    }
}

/// depthwise_conv2d with y = act(bias + ...), a plane at a time.
template <int N, int C, int H, int W, int HP, int WP, int T, int L, int KH,
          int KW, int OH, int OW, int SH, int SW, int DH, int DW, int Act>
inline void
depthwise_conv2d_bias_act(const float *__restrict x, const float *__restrict w,
                          float *__restrict y, float *__restrict plane,
                          const float *__restrict bias, float lo, float hi) {
  using Weight = detail::ForwardWeight<1, KH, KW>;
  detail::zeroFloats<HP * WP>(plane);
  for (int p = 0; p < N * C; ++p) {
    detail::placePlane<H, W, HP, WP, T, L, 1, 1>(x + p * H * W, plane);
    const float *wc = w + p % C * KH * KW;
    float *yc = y + p * OH * OW;
    if constexpr (detail::kScalar) {
      // (The tiles start from the bias and apply the activation.)
      mcu::correlate<1, 1, HP, WP, 1, KH, KW, OH, OW, SH, SW, DH, DW, Weight,
                     true, Act>(plane, wc, yc, {bias + p % C, lo, hi});
      continue;
    }
    detail::broadcastBias<1, OH * OW>(bias + p % C, yc);
    detail::correlatePlane<HP, WP, KH, KW, OH, OW, SH, SW, DH, DW, Weight>(
        plane, wc, yc);
    detail::activate<Act>(yc, OH * OW, lo, hi);
  }
}

/// Floats of scratch conv_chain takes for a block of mb channels: the
/// first layer's output planes, the depthwise layer's padded plane and its
/// output planes.
constexpr int chainScratchFloats(int mb, int oh, int ow, int hp2, int wp2,
                                 int oh2, int ow2) {
  return mb * oh * ow + hp2 * wp2 + mb * oh2 * ow2;
}

/// y = act3(b3 + pointwise(w3, act2(b2 + depthwise(w2, act1(b1 + conv(x,
/// w1)))))), a block of MB intermediate channels at a time: channels m..m
/// + MB of the first layer (dense, ungrouped; x already spread as conv2d
/// takes it), their depthwise planes, and those planes' share of every
/// output channel (y[f] += w3[f][m] * plane). The two intermediate tensors
/// are never whole: MobileNetV2-0.35 at 128x128 expands block 2 to 786,432
/// bytes, here a 16 KB plane (MB 1). Template parameters: the first
/// layer's (conv2d's, M its output channels), the depthwise layer's padded
/// plane, padding and geometry (depthwise_conv2d_bias_act's), the output
/// channels F, the three activations and MB (dividing M); scratch holds
/// chainScratchFloats(MB, ...) floats. The sums over m run in channel
/// order (the pointwise kernel's own order may differ: the results agree to
/// rounding). The same multiply-adds as the three kernels.
template <int N, int C, int HP, int WP, int M, int KH, int KW, int OH, int OW,
          int SH, int SW, int DH, int DW, int HP2, int WP2, int T, int L,
          int KH2, int KW2, int OH2, int OW2, int SH2, int SW2, int DH2,
          int DW2, int F, int Act1, int Act2, int Act3, int MB>
inline void conv_chain(const float *__restrict x, const float *__restrict w1,
                       const float *__restrict b1, const float *__restrict w2,
                       const float *__restrict b2, const float *__restrict w3,
                       const float *__restrict b3, float *__restrict y,
                       float *__restrict scratch, float lo1, float hi1,
                       float lo2, float hi2, float lo3, float hi3) {
  static_assert(M % MB == 0, "the channel block divides the channels");
  constexpr int P2 = OH2 * OW2;
  float *e = scratch, *plane = e + MB * OH * OW, *d = plane + HP2 * WP2;
  for (int n = 0; n < N; ++n) {
    const float *xn = x + n * C * HP * WP;
    float *yn = y + n * F * P2;
    detail::broadcastBias<F, P2>(b3, yn);
    for (int m = 0; m < M; m += MB) {
      conv2d_bias_act<1, C, HP, WP, MB, C, KH, KW, OH, OW, SH, SW, DH, DW, 1,
                      Act1>(xn, w1 + m * C * KH * KW, e, b1 + m, lo1, hi1);
      depthwise_conv2d_bias_act<1, MB, OH, OW, HP2, WP2, T, L, KH2, KW2, OH2,
                                OW2, SH2, SW2, DH2, DW2, Act2>(
          e, w2 + m * KH2 * KW2, d, plane, b2 + m, lo2, hi2);
      for (int f = 0; f < F; ++f) {
        float *yf = yn + f * P2;
        for (int j = 0; j < MB; ++j) {
          const float wf = w3[f * M + m + j];
          const float *dj = d + j * P2;
          for (int p = 0; p < P2; ++p)
            yf[p] += wf * dj[p];
        }
      }
    }
    detail::activate<Act3>(yn, F * P2, lo3, hi3);
  }
}

namespace detail {
/// dx[i] = 0 where the activation's gradient is zero, from its output y:
/// ReLU's where y is not > 0, the clip's where y is not strictly inside
/// (lo, hi) (a NaN output passes no gradient), as the loops they replace.
template <int Act>
inline void maskByOutput(float *__restrict dx, const float *__restrict y, int n,
                         float lo, float hi) {
  for (int i = 0; i < n; ++i) {
    const bool passes = Act == kRelu   ? y[i] > 0.0f
                        : Act == kClip ? y[i] > lo && y[i] < hi
                                       : true;
    dx[i] = passes ? dx[i] : 0.0f;
  }
}
} // namespace detail

/// dx = act'(y) * conv2d_grad_input(dyp, w) (dx's previous contents unused;
/// arguments as conv2d_grad_input; y is the activation's output, N x C x H x
/// W, the activation the layer's input went through): blocks of input
/// channels get their sums and the activation's mask while in cache, where
/// the mask was a loop of its own over dx and y (MobileNetV2-128: a quarter
/// of the step's own loops). Pointwise layers a block of dx's rows at a
/// time, depthwise layers a block of channels; other layers whole.
template <int N, int C, int H, int W, int F, int CG, int KH, int KW, int HP,
          int WP, int DH, int DW, int G, int Act>
inline void
conv2d_grad_input_act(const float *__restrict dyp, const float *__restrict w,
                      float *__restrict dx, const float *__restrict y, float lo,
                      float hi) {
  constexpr int P = H * W;
  if constexpr (!detail::kScalar && G == 1 &&
                detail::isPointwise(KH, KW, 1, 1, HP, WP, H, W) && P >= 32) {
    // (pointwiseGradInput's product, on rows c0.. of dx: A = w's columns.)
    constexpr int CB = detail::biasActBlock<C, 1, P>();
    for (int n = 0; n < N; ++n)
      for (int c0 = 0; c0 < C; c0 += CB) {
        float *block = dx + (n * C + c0) * P;
        detail::gemmBlocked<CB, P, F, 1, C, P, P, true>(w + c0, dyp + n * F * P,
                                                        block, 1.0f);
        detail::maskByOutput<Act>(block, y + (n * C + c0) * P, CB * P, lo, hi);
      }
  } else if constexpr (G > 1 && CG == 1 && F == G) {
    constexpr int CB = detail::biasActBlock<C, 1, P>();
    for (int n = 0; n < N; ++n)
      for (int c0 = 0; c0 < C; c0 += CB) {
        float *block = dx + (n * C + c0) * P;
        detail::zeroFloats<CB * P>(block);
        conv2d_grad_input<1, CB, H, W, CB, 1, KH, KW, HP, WP, DH, DW, CB>(
            dyp + (n * F + c0) * HP * WP, w + c0 * KH * KW, block);
        detail::maskByOutput<Act>(block, y + (n * C + c0) * P, CB * P, lo, hi);
      }
  } else {
    detail::zeroFloats<N * C * P>(dx);
    conv2d_grad_input<N, C, H, W, F, CG, KH, KW, HP, WP, DH, DW, G>(dyp, w, dx);
    detail::maskByOutput<Act>(dx, y, N * C * P, lo, hi);
  }
}

/// depthwise_conv2d_grad_input with dx = act'(y) * ..., a plane at a time.
template <int N, int C, int H, int W, int KH, int KW, int DYH, int DYW, int HP,
          int WP, int T, int L, int S0, int S1, int DH, int DW, int Act>
inline void depthwise_conv2d_grad_input_act(
    const float *__restrict dy, const float *__restrict w, float *__restrict dx,
    float *__restrict plane, const float *__restrict y, float lo, float hi) {
  using Weight = detail::FlippedWeight<1, 1, KH, KW>;
  detail::zeroFloats<HP * WP>(plane);
  for (int p = 0; p < N * C; ++p) {
    detail::placePlane<DYH, DYW, HP, WP, T, L, S0, S1>(dy + p * DYH * DYW,
                                                       plane);
    const float *wc = w + p % C * KH * KW;
    float *dxc = dx + p * H * W;
    detail::zeroFloats<H * W>(dxc);
    detail::correlatePlane<HP, WP, KH, KW, H, W, 1, 1, DH, DW, Weight>(plane,
                                                                       wc, dxc);
    detail::maskByOutput<Act>(dxc, y + p * H * W, H * W, lo, hi);
  }
}

/// y (M x N) += alpha * op(A) op(B) (Overwrite: y = ...), op(A) M x K,
/// op(B) K x N; TA/TB: A is stored K x M / B is stored N x K.
template <int M, int N, int K, int TA, int TB, bool Overwrite = false>
inline void gemm(const float *__restrict a, const float *__restrict b,
                 float *__restrict y, float alpha) {
  if constexpr (TB && !TA)
    detail::dotProducts<M, N, K, Overwrite>(a, b, y, alpha);
  else if constexpr (TB)
    detail::gemmDots<M, N, K, TA, Overwrite>(a, b, y, alpha);
  else if constexpr (K == 1) // an outer product (a batch-1 weight gradient)
    detail::outerProduct<M, N, Overwrite>(a, b, y, alpha);
  else
    detail::gemmBlocked<M, N, K, TA ? 1 : K, TA ? M : 1, N, N, Overwrite>(
        a, b, y, alpha);
}

namespace detail {
/// sgd_outer_update_input_grad on B vectors of columns (w, x and dx start
/// at the first): their input gradient sums and inputs stay in registers
/// down all M rows.
template <int M, int N, int B, bool Overwrite>
inline void sgdOuterColumns(const float *__restrict dy,
                            const float *__restrict x, float rate,
                            float *__restrict dx, float *__restrict w) {
  VecF sum[B] = {}, xv[B];
  for (int v = 0; v < B; ++v)
    loadVector(xv[v], x + v * kLanes);
  for (int i = 0; i < M; ++i) {
    const float d = dy[i];
    for (int v = 0; v < B; ++v) {
      VecF old;
      loadVector(old, w + i * N + v * kLanes);
      sum[v] += d * old;
      VecF g = d * xv[v];
      storeVector(w + i * N + v * kLanes, old - rate * g);
    }
  }
  for (int v = 0; v < B; ++v)
    putVector<Overwrite>(dx + v * kLanes, sum[v]);
}

/// See sgd_outer_update_input_grad: whole vectors of columns, NB at a
/// time, then the last N % kLanes columns one at a time (a vector ending at
/// the row's end would update the columns it overlaps twice). Blocks by a
/// plain loop, not forBlocks: g++ kept that lambda out of line here and
/// passed the sums and inputs through the stack (no gain over two passes).
template <int M, int N, bool Overwrite>
MCUTRAIN_KERNEL void
sgdOuterUpdateInputGrad(const float *__restrict dy, const float *__restrict x,
                        const float *__restrict lr, float *__restrict dx,
                        float *__restrict w) {
  const float rate = *lr;
  constexpr int NV = kScalar ? 0 : N / kLanes;
  constexpr int NB = kVectorRegisters >= 32 ? 8 : 2;
  constexpr int Full = NV / NB * NB;
  for (int v0 = 0; v0 < Full; v0 += NB)
    sgdOuterColumns<M, N, NB, Overwrite>(dy, x + v0 * kLanes, rate,
                                         dx + v0 * kLanes, w + v0 * kLanes);
  if constexpr (Full < NV)
    sgdOuterColumns<M, N, NV - Full, Overwrite>(
        dy, x + Full * kLanes, rate, dx + Full * kLanes, w + Full * kLanes);
  for (int j = NV * kLanes; j < N; ++j) {
    float sum = 0.0f;
    const float xj = x[j];
    for (int i = 0; i < M; ++i) {
      const float old = w[i * N + j];
      sum += dy[i] * old;
      const float g = dy[i] * xj;
      w[i * N + j] = old - rate * g;
    }
    put<Overwrite>(dx[j], sum);
  }
}
} // namespace detail

/// A batch-1 Linear layer's SGD step on its weight and its input gradient
/// in one pass over the weight: dx (1 x N) += dy W (Overwrite: dx = ...)
/// from each weight's old value, and W[i][j] -= lr * (dy[i] * x[j]), W
/// M x N. Apart, the input gradient's Gemm and the update each read all of
/// W (a 64 -> 10 layer's step 68.5 -> 64.5 ns on a Zen 5 core).
template <int M, int N, bool Overwrite = false>
inline void sgd_outer_update_input_grad(const float *__restrict dy,
                                        const float *__restrict x,
                                        const float *__restrict lr,
                                        float *__restrict dx,
                                        float *__restrict w) {
  if constexpr (detail::kScalar)
    mcu::sgdOuterUpdateInputGrad<M, N, Overwrite>(dy, x, lr, dx, w);
  else
    detail::sgdOuterUpdateInputGrad<M, N, Overwrite>(dy, x, lr, dx, w);
}

/// A batch-1 Linear layer's SGD step on its weight, w[i][j] -= lr * (dy[i] *
/// x[j]), the gradient's element formed where it is used (never stored), W
/// M x N. (Vector cores: the loop nest it replaces vectorizes as well.)
template <int M, int N>
inline void sgd_outer_update(const float *__restrict dy,
                             const float *__restrict x,
                             const float *__restrict lr, float *__restrict w) {
  if constexpr (detail::kScalar) {
    mcu::sgdOuterUpdate<M, N>(dy, x, lr, w);
  } else {
    const float rate = *lr;
    for (int i = 0; i < M; ++i)
      for (int j = 0; j < N; ++j) {
        const float g = dy[i] * x[j];
        w[i * N + j] = w[i * N + j] - rate * g;
      }
  }
}

namespace detail {
/// Column j of a rank-K SGD step (see sgd_low_rank_update), down all M
/// rows: scalar cores, and the last N % kLanes columns of vector ones.
template <int M, int N, int K>
inline void sgdLowRankColumn(const float *__restrict a,
                             const float *__restrict b, float rate,
                             float *__restrict w, int j) {
  float bj[K];
  for (int r = 0; r < K; ++r)
    bj[r] = b[r * N + j];
  for (int i = 0; i < M; ++i) {
    float g = a[i] * bj[0];
    for (int r = 1; r < K; ++r)
      g += a[r * M + i] * bj[r];
    w[i * N + j] = w[i * N + j] - rate * g;
  }
}

/// BV vectors of columns from column j0, down all M rows: per row, the K
/// coefficients a[r][i] scale B's rows (K x BV vectors, from L1).
template <int M, int N, int K, int BV>
inline void sgdLowRankVectors(const float *__restrict a,
                              const float *__restrict b, float rate,
                              float *__restrict w, int j0) {
  for (int i = 0; i < M; ++i) {
    float ai[K];
    for (int r = 0; r < K; ++r)
      ai[r] = a[r * M + i];
    for (int v = 0; v < BV; ++v) {
      const int j = j0 + v * kLanes;
      VecF old, bv, g;
      loadVector(bv, b + j);
      g = bv * ai[0];
      for (int r = 1; r < K; ++r) {
        loadVector(bv, b + r * N + j);
        g += bv * ai[r];
      }
      loadVector(old, w + i * N + j);
      storeVector(w + i * N + j, old - g * rate);
    }
  }
}
} // namespace detail

namespace detail {
/// sgd_low_rank_update: four vectors of columns at a time down the rows,
/// then the last N % kLanes columns one at a time.
template <int M, int N, int K>
MCUTRAIN_KERNEL void
sgdLowRank(const float *__restrict a, const float *__restrict b,
           const float *__restrict lr, float *__restrict w) {
  const float rate = *lr;
  constexpr int NV = kScalar ? 0 : N / kLanes;
  if constexpr (NV > 0)
    mcu::blocks<NV, 4>([&](auto vb, int v0) {
      sgdLowRankVectors<M, N, K, decltype(vb)::value>(a, b, rate, w,
                                                      v0 * kLanes);
    });
  for (int j = NV * kLanes; j < N; ++j)
    sgdLowRankColumn<M, N, K>(a, b, rate, w, j);
}
} // namespace detail

/// A rank-K weight gradient's SGD step, w[i][j] -= lr * g[i][j] with
/// g[i][j] = sum over r < K of a[r][i] * b[r][j] (a K x M, b K x N, w M x
/// N, summed in r order) formed where it is used: a batch-K Linear layer's
/// weight (a = dy, b = x) or a 1 x 1 convolution's on a K-pixel plane
/// (error and input as pixel rows). Stored, the gradient cost a zero fill,
/// its product's pass, the finiteness check's and the update's; here one
/// pass over w (EfficientNet-B0 at 64 x 64, whose 2 x 2 stages had 4 M
/// such gradients: 8.3 -> 6.8 ms per step with low_rank_finite).
template <int M, int N, int K>
inline void
sgd_low_rank_update(const float *__restrict a, const float *__restrict b,
                    const float *__restrict lr, float *__restrict w) {
  detail::sgdLowRank<M, N, K>(a, b, lr, w);
}

/// dx of max pooling (dx = ..., every element written): each window's
/// output gradient goes to the window's first maximum, as PyTorch routes
/// it (a NaN first element keeps the window). x is the unpadded N x C x H x
/// W input; windows start at oh * SH - PT; taps outside are skipped.
/// Scattered from the windows: the loop nest gathers, trying every window
/// position for every input element (a 3x3/2 pool: 9 tries, each with index
/// arithmetic; 22% of shufflenet_v2_x0_5's step at 64x64, where this takes
/// under 2%).
template <int N, int C, int H, int W, int KH, int KW, int OH, int OW, int SH,
          int SW, int PT, int PL, int DH, int DW>
inline void max_pool_grad(const float *__restrict x, const float *__restrict dy,
                          float *__restrict dx) {
  for (int plane = 0; plane < N * C; ++plane) {
    const float *xp = x + plane * H * W;
    const float *g = dy + plane * OH * OW;
    float *d = dx + plane * H * W;
    for (int i = 0; i < H * W; ++i)
      d[i] = 0.0f;
    for (int oh = 0; oh < OH; ++oh)
      for (int ow = 0; ow < OW; ++ow) {
        int at = -1;
        float best = 0.0f;
        for (int kh = 0; kh < KH; ++kh) {
          const int h = oh * SH - PT + kh * DH;
          if (h < 0 || h >= H)
            continue;
          for (int kw = 0; kw < KW; ++kw) {
            const int w = ow * SW - PL + kw * DW;
            if (w < 0 || w >= W)
              continue;
            const float v = xp[h * W + w];
            if (at < 0 || v > best) {
              best = v;
              at = h * W + w;
            }
          }
        }
        if (at >= 0)
          d[at] += g[oh * OW + ow];
      }
  }
}

/// The gradient of a gather at run-time indices (an embedding lookup):
/// d (Outer x Rows x Inner) = 0, then each of the Positions slices of dy
/// (Outer x Positions x Inner) added to the row its index names (int32 or
/// int64 indices, IndexBytes; negative from the end, clamped into range as
/// the gather read them). The loops try every position for every element
/// of d: Rows times the work, and a vocabulary has thousands of rows.
namespace detail {
template <int Bytes> struct IndexOf { using type = std::int32_t; };
template <> struct IndexOf<8> { using type = std::int64_t; };
} // namespace detail
template <int Outer, int Rows, int Inner, int Positions, int IndexBytes>
inline void gather_grad(const float *__restrict dy, const void *indices,
                        float *__restrict d) {
  using Index = typename detail::IndexOf<IndexBytes>::type;
  const Index *idx = static_cast<const Index *>(indices);
  for (int i = 0; i < Outer * Rows * Inner; ++i)
    d[i] = 0.0f;
  for (int o = 0; o < Outer; ++o)
    for (int p = 0; p < Positions; ++p) {
      std::int64_t row = idx[p];
      row = row < 0 ? row + Rows : row;
      row = row < 0 ? 0 : row >= Rows ? Rows - 1 : row;
      const float *src = dy + (std::int64_t(o) * Positions + p) * Inner;
      float *dst = d + (std::int64_t(o) * Rows + row) * Inner;
      for (int i = 0; i < Inner; ++i)
        dst[i] += src[i];
    }
}

/// y[m] += scale * (sum over b < B, k < K of x[(b*M + m)*K + k]) (Overwrite:
/// y[m] = ...): the sums of a reduction to a shape (bias and batch-norm
/// gradients over N x C x H x W), with partial sums in vector lanes (the
/// loop nest carried one serial sum through memory: 3% of MobileNetV2's
/// step).
template <int B, int M, int K, bool Overwrite = false>
inline void sum_rows(const float *__restrict x, float *__restrict y,
                     float scale) {
  if constexpr (K == 1) {
    for (int b = 0; b < B; ++b)
      for (int m = 0; m < M; ++m) {
        if (Overwrite && b == 0)
          y[m] = x[m] * scale;
        else
          y[m] += x[b * M + m] * scale;
      }
  } else {
    constexpr int L = detail::kScalar ? 1 : K < 16 ? K : 16;
    for (int m = 0; m < M; ++m) {
      float part[L] = {};
      for (int b = 0; b < B; ++b) {
        const float *row = x + (b * M + m) * K;
        int k = 0;
        for (; k + L <= K; k += L)
          for (int l = 0; l < L; ++l)
            part[l] += row[k + l];
        for (int l = 0; k + l < K; ++l)
          part[l] += row[k + l];
      }
      detail::put<Overwrite>(y[m], detail::sumLanes<L>(part) * scale);
    }
  }
}

namespace detail {
inline std::uint32_t bitsOf(float v) {
  std::uint32_t b;
  __builtin_memcpy(&b, &v, sizeof b);
  return b;
}
inline float floatOf(std::uint32_t b) {
  float v;
  __builtin_memcpy(&v, &b, sizeof v);
  return v;
}
} // namespace detail

/// tanh within 3 ulp of the correctly rounded result (unit-tested against
/// std::tanh), without branches or calls so that the elementwise loops
/// around it vectorize: libm's tanhf took a third of LeNet-5's step.
/// tanh|x| = e / (e + 2) with e = expm1(2|x|) = 2^k (expm1(r) + 1) - 1,
/// 2|x| = k ln2 + r, |r| <= ln2 / 2. NaN propagates, -0 stays -0.
/// The clamp and the NaN pass-through select on the bits as integers: g++
/// (with its default -ftrapping-math) will not if-convert a float compare,
/// nor a select that lets it skip the float arithmetic on one side, without
/// AVX-512's masked operations: on AVX2 and SSE either left a branch in the
/// loop and the loop scalar.
inline float tanh(float x) {
  using detail::bitsOf;
  using detail::floatOf;
  const std::uint32_t absBits = bitsOf(x) & 0x7fffffffu;
  // tanh(9.1) rounds to 1. Non-negative floats order as their bits.
  const std::uint32_t capBits = 0x4111999au; // 9.1f
  const float a2 = 2.0f * floatOf(absBits < capBits ? absBits : capBits);
  // k = round(a2 / ln2) by the 1.5 * 2^23 trick: no float-to-int
  // conversion.
  const float shifter = 12582912.0f;
  const float t = a2 * 1.44269504f + shifter;
  const float k = t - shifter;
  const float r = (a2 - k * 0.693145751953125f) - k * 1.42860677e-6f;
  const float em1r =
      r +
      r * r *
          (0.5f +
           r * (1.66666667e-1f +
                r * (4.16666667e-2f +
                     r * (8.33333333e-3f +
                          r * (1.38888889e-3f +
                               r * (1.98412698e-4f + r * 2.48015873e-5f))))));
  // 2^k from k's bits in t (0 <= k <= 27).
  const float p = floatOf((bitsOf(t) - bitsOf(shifter) + 127u) << 23);
  const float e = p * em1r + (p - 1.0f);
  const float th = e / (e + 2.0f);
  const std::uint32_t signedBits = bitsOf(th) | (bitsOf(x) & 0x80000000u);
  // All ones for a NaN x, which is returned as it came.
  const std::uint32_t isNaN =
      0u - static_cast<std::uint32_t>(absBits > 0x7f800000u);
  return floatOf((signedBits & ~isNaN) | (bitsOf(x) & isNaN));
}

/// e^x within 2 ulp of the correctly rounded result (unit-tested against
/// std::exp over the whole float range), without branches or calls, so
/// that the elementwise loops around it vectorize: libm's expf, a call per
/// element, took 16% of EfficientNet-B0's step at 64x64 in its SiLU
/// sigmoids. x = k ln2 + r, |r| <= ln2 / 2; e^r by its Taylor series to
/// r^7; 2^k as two normal powers of two (k in [-150, 128]: results
/// underflow to subnormals and 0 and overflow to infinity in the last
/// multiplication, rounded once). NaN propagates. Clamped on the bits as
/// integers, as tanh is (see there).
inline float exp(float x) {
  using detail::bitsOf;
  using detail::floatOf;
  const std::uint32_t bits = bitsOf(x), sign = bits & 0x80000000u;
  const std::uint32_t absBits = bits & 0x7fffffffu;
  // e^88.75 overflows, e^-104 rounds to 0.
  const std::uint32_t capBits = sign ? 0x42d00000u : 0x42b18000u;
  const float xc = floatOf((absBits < capBits ? absBits : capBits) | sign);
  const float shifter = 12582912.0f; // 1.5 * 2^23: t's low bits hold k
  const float t = xc * 1.44269504f + shifter;
  const float k = t - shifter;
  const float r = (xc - k * 0.693145751953125f) - k * 1.42860677e-6f;
  const float er =
      1.0f +
      r * (1.0f +
           r * (0.5f +
                r * (1.66666667e-1f +
                     r * (4.16666667e-2f +
                          r * (8.33333333e-3f +
                               r * (1.38888889e-3f + r * 1.98412698e-4f))))));
  const std::int32_t ki =
      static_cast<std::int32_t>(bitsOf(t) - bitsOf(shifter));
  const std::int32_t k1 = ki / 2, k2 = ki - k1;
  const float p1 = floatOf(static_cast<std::uint32_t>(k1 + 127) << 23);
  const float p2 = floatOf(static_cast<std::uint32_t>(k2 + 127) << 23);
  const float e = er * p1 * p2;
  const std::uint32_t isNaN =
      0u - static_cast<std::uint32_t>(absBits > 0x7f800000u);
  return floatOf((bitsOf(e) & ~isNaN) | (bits & isNaN));
}

/// (std::int64_t)x (truncated toward zero; |x| < 2^63). On 32-bit Arm the
/// conversion is the library's __aeabi_f2lz, through soft doubles (about
/// 250 Cortex-M4 instructions); there a float of magnitude below 2^31 goes
/// through VCVT and a larger one (an integer) is its significand shifted.
/// NaN and magnitudes from 2^63 (undefined for the C conversion) give
/// INT64_MIN.
inline std::int64_t to_int64(float x) {
#if defined(__ARM_ARCH) && !defined(__aarch64__)
  if (x > -2147483648.0f && x < 2147483648.0f)
    return static_cast<std::int32_t>(x);
  const std::uint32_t bits = detail::bitsOf(x);
  const int exponent = int((bits >> 23) & 0xffu) - 127;
  if (exponent > 62) // NaN, infinities, |x| >= 2^63
    return INT64_MIN;
  const std::int64_t magnitude = std::int64_t((bits & 0x7fffffu) | 0x800000u)
                                 << (exponent - 23);
  return bits >> 31 ? -magnitude : magnitude;
#else
  return static_cast<std::int64_t>(x);
#endif
}

/// x rounded to an integer, ties to even: std::nearbyint in the default
/// rounding mode (ONNX QuantizeLinear's rounding, and the int8 updates').
/// On a core without a rounding instruction (Cortex-M4's FPv4)
/// std::nearbyint is a library call; there |x| < 2^23 rounds by adding
/// and subtracting 1.5 * 2^23 (the FPU rounds the sum to nearest, ties to
/// even), larger floats, infinities and NaN are returned as they are
/// (integral already), and the sign comes back from x (-0.4 -> -0).
inline float round_even(float x) {
#if defined(__ARM_ARCH) && !defined(__ARM_FEATURE_DIRECTED_ROUNDING)
  using detail::bitsOf;
  using detail::floatOf;
  const std::uint32_t absBits = bitsOf(x) & 0x7fffffffu;
  if (absBits >= 0x4b000000u) // 2^23
    return x;
  const float shifter = 12582912.0f;
  const float r = (floatOf(absBits) + shifter) - shifter;
  return floatOf(bitsOf(r) | (bitsOf(x) & 0x80000000u));
#else
  return std::nearbyint(x);
#endif
}

} // namespace kernels
} // namespace mcutrain

#include "mcutrain_int8_kernels.h"

#endif
