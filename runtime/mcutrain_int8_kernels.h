// mcutrain_int8_kernels.h - int8 convolution and Gemm for the generated code
// (included by mcutrain_kernels.h). Each computes what lower-to-linalg's
// output-stationary loop nest of nn.qconv2d / nn.qgemm computes, bit for
// bit: per output an int32 sum of (x - x_zero) * w over the taps inside the
// input, then y = clamp((acc * multiplier + offset) >> shift, Lo, Hi), where
// the int64 `offset` per channel already holds the bias, the rounding half
// and the output zero point (one rounding, to nearest, ties toward +inf).
//
// Products are 16-bit x 16-bit: the weights are widened to int16 once per
// call into scratch, the input a pixel pair at a time (im2col), so the inner
// loop is a dot product of int16 rows. On cores with the DSP extension
// (Cortex-M4/M7/M33) each instruction of it is one __SMLAD (two MACs) and
// two rows' words come in one LDRD; elsewhere it is a plain loop the host
// compilers vectorize (x86: pmaddwd).
//
// The input zero point is folded out of the inner loop: the im2col column
// holds raw x (x_zero where a tap falls in the padding) and the weight sum
// of each channel times x_zero is subtracted once per output; the same
// integer as summing (x - x_zero) * w over the taps inside, modulo 2^32.
#ifndef MCUTRAIN_INT8_KERNELS_H
#define MCUTRAIN_INT8_KERNELS_H

#include <cstdint>
#include <type_traits>

#if defined(__ARM_FEATURE_DSP)
#include <arm_acle.h>
#endif

namespace mcutrain {
namespace kernels {
namespace int8 {

#define MCUTRAIN_PRAGMA(x) _Pragma(#x)
#if defined(__clang__)
#define MCUTRAIN_UNROLL MCUTRAIN_PRAGMA(clang loop unroll(full))
#elif defined(__GNUC__)
#define MCUTRAIN_UNROLL MCUTRAIN_PRAGMA(GCC unroll 16)
#else
#define MCUTRAIN_UNROLL
#endif
#define MCUTRAIN_ALWAYS_INLINE __attribute__((always_inline)) inline

/// An int16 view of scratch and arena bytes (which the generated code
/// declares as float and int8_t: this may alias anything).
typedef std::int16_t __attribute__((may_alias)) Half;

/// Rows of the reduction padded to a multiple of 4 int16: whole LDRDs.
constexpr int paddedK(int k) { return (k + 3) / 4 * 4; }

/// Output channels whose widened weights fit the weight scratch at once
/// (even, at least 2, at most F rounded up to even): larger layers widen
/// their weights a block at a time and redo the input's widening per block.
constexpr int channelBlock(int f, int kp) {
  constexpr int kWeightScratchBytes = 8192;
  int all = (f + 1) / 2 * 2;
  int fit = kWeightScratchBytes / (2 * kp) / 2 * 2;
  fit = fit < 2 ? 2 : fit;
  return fit < all ? fit : all;
}

/// How a convolution's kernel reads its input. With `stripe` (unit column
/// dilation, and at most a quarter more products than im2col's) the input
/// rows a row of outputs reads are widened once into an int16 ring of
/// pixel-major rows (channels padded to `cp`), and each pixel's window is
/// read in place: KH runs of KW * cp contiguous int16, the weights widened
/// in (kh, kw, c) order to match. Otherwise a pixel pair's im2col columns.
/// With `whole` the ring holds every padded row the outputs read: a layer
/// of more than one channel block would widen its input again per block
/// (ResNet-8's 64 -> 64 layer on 8 x 8: 11 blocks, 9% of its instructions),
/// so one image (N = 1) whose widened rows take at most kWholeInputBytes
/// is widened once; small images come late in a network, where the
/// activations leave the arena room.
struct ConvPlan {
  int k, kp;        // reduction, padded (im2col)
  int cp, wp, ring; // stripe: channels padded, padded width, rows kept
  bool stripe, whole;
  int rk, fb; // reduction as widened, output channels per block
  int rowsBytes, paramsBytes, inputBytes;
};

constexpr int kWholeInputBytes = 16384;

constexpr ConvPlan convPlan(int c, int w, int f, int kh, int kw, int ow, int sw,
                            int pl, int dh, int dw, int n, int oh, int sh) {
  ConvPlan p{};
  p.k = c * kh * kw;
  p.kp = paddedK(p.k);
  p.cp = kw % 2 ? (c + 3) / 4 * 4 : (c + 1) / 2 * 2;
  int right = (ow - 1) * sw + (kw - 1) * dw + 1 - w - pl;
  p.wp = w + pl + (right > 0 ? right : 0);
  p.stripe = dw == 1 && 4 * (kh * kw * p.cp) <= 5 * p.kp;
  p.rk = p.stripe ? kh * kw * p.cp : p.kp;
  p.fb = channelBlock(f, p.rk);
  int rows = (oh - 1) * sh + (kh - 1) * dh + 1;
  p.whole = p.stripe && n == 1 && p.fb < f &&
            rows * p.wp * p.cp * 2 <= kWholeInputBytes;
  p.ring = p.whole ? rows : (kh - 1) * dh + 1;
  p.rowsBytes = p.fb * p.rk * 2;
  p.paramsBytes = p.fb * 16;
  p.inputBytes = p.stripe ? p.ring * p.wp * p.cp * 2 : 2 * p.kp * 2;
  return p;
}

/// Scratch bytes of qconv2d with these template arguments (a pointwise
/// layer's also hold pointwiseRows': a widened row and the pixel's bytes).
constexpr int convScratchBytes(int c, int w, int f, int kh, int kw, int ow,
                               int sw, int pl, int dh, int dw, int n, int oh,
                               int sh) {
  ConvPlan p = convPlan(c, w, f, kh, kw, ow, sw, pl, dh, dw, n, oh, sh);
  int tiles = p.rowsBytes + p.paramsBytes + p.inputBytes;
  int rows = 2 * paddedK(c) + (c + 7) / 8 * 8;
  bool pointwise = kh == 1 && kw == 1 && sw == 1 && pl == 0 && ow == w;
  return pointwise && rows > tiles ? rows : tiles;
}

/// Scratch bytes of qgemm: one widened row of a.
constexpr int gemmScratchBytes(int k) { return 2 * paddedK(k); }

/// What one output channel's requantization reads (two LDRDs).
struct Requant {
  std::int64_t offset; // with the input zero point's correction
  std::int32_t multiplier;
  std::int32_t shift; // minus 32 when the layer's shifts all are >= 32
};

/// The Requant of a channel for requantize<..., Wide>.
template <int Wide>
constexpr Requant requant(std::int64_t offset, std::int32_t multiplier,
                          std::int32_t shift) {
  return Requant{offset, multiplier, Wide ? shift - 32 : shift};
}

/// y clamped to [Lo, Hi] (one USAT or SSAT for a full 8-bit range).
template <int Lo, int Hi>
MCUTRAIN_ALWAYS_INLINE std::int32_t clamp8(std::int32_t y) {
#if defined(__ARM_FEATURE_SAT)
  if constexpr (Hi == 255) {
    y = __usat(y, 8);
    return Lo <= 0 || y > Lo ? y : Lo;
  } else if constexpr (Lo == -128) {
    y = __ssat(y, 8);
    return Hi >= 127 || y < Hi ? y : Hi;
  }
#endif
  y = y < Lo ? Lo : y;
  return y > Hi ? Hi : y;
}

/// One output: clamp((acc * multiplier + offset) >> shift, Lo, Hi). With
/// Wide (every shift of the layer >= 32, multipliers below 1/2: the usual
/// case) only the high word of the 64-bit sum is needed: one SMLAL and an
/// arithmetic shift.
template <int Lo, int Hi, int Wide>
MCUTRAIN_ALWAYS_INLINE std::int8_t requantize(std::int32_t acc,
                                              const Requant &q) {
  std::int64_t sum = std::int64_t(acc) * q.multiplier + q.offset;
  if (Wide)
    return std::int8_t(clamp8<Lo, Hi>(std::int32_t(sum >> 32) >> q.shift));
  if (q.shift >= 32)
    return std::int8_t(
        clamp8<Lo, Hi>(std::int32_t(sum >> 32) >> (q.shift - 32)));
  std::int64_t y = sum >> q.shift;
  y = y < Lo ? Lo : y;
  return std::int8_t(y > Hi ? Hi : y);
}

/// An output byte: requantized, then looked up in `table` (a fused
/// 8-bit map of the output, tabulate-int8-maps) when Table.
template <int Lo, int Hi, int WS, bool Table>
MCUTRAIN_ALWAYS_INLINE std::int8_t finish(std::int32_t acc, const Requant &q,
                                          const std::int8_t *table) {
  std::int8_t y = requantize<Lo, Hi, WS>(acc, q);
  if constexpr (Table)
    return table[std::uint8_t(y)];
  return y;
}

#if defined(__ARM_FEATURE_DSP)
/// Reps chunks (4 int16 of each row and column) of a 2 x 2 tile: per chunk
/// 3 LDRD and 8 SMLAD for 16 MACs, in assembler (13 registers; g++ left 22
/// instructions per chunk, loads and address arithmetic, when given the same
/// loop in C), unrolled by the compiler: one statement per chunk, so g++
/// knows the code's size (a .rept block hid it, and a literal pool placed by
/// that estimate ended out of a VLDR's reach).
template <int Reps>
MCUTRAIN_ALWAYS_INLINE void
tileChunks(const Half *&w, const Half *&c0, const Half *&c1, std::int32_t &s00,
           std::int32_t &s01, std::int32_t &s10, std::int32_t &s11) {
  MCUTRAIN_UNROLL
  for (int rep = 0; rep < Reps; ++rep) {
    std::uint32_t a0, a1, b0, b1, u0, u1;
    __asm__ volatile(
        "ldrd %[a0], %[a1], [%[c0]], #8\n\t"
        "ldrd %[b0], %[b1], [%[c1]], #8\n\t"
        "ldrd %[u0], %[u1], [%[w], #8]\n\t"
        "smlad %[s10], %[u0], %[a0], %[s10]\n\t"
        "smlad %[s10], %[u1], %[a1], %[s10]\n\t"
        "smlad %[s11], %[u0], %[b0], %[s11]\n\t"
        "smlad %[s11], %[u1], %[b1], %[s11]\n\t"
        "ldrd %[u0], %[u1], [%[w]], #16\n\t"
        "smlad %[s00], %[u0], %[a0], %[s00]\n\t"
        "smlad %[s00], %[u1], %[a1], %[s00]\n\t"
        "smlad %[s01], %[u0], %[b0], %[s01]\n\t"
        "smlad %[s01], %[u1], %[b1], %[s01]"
        : [w] "+r"(w), [c0] "+r"(c0), [c1] "+r"(c1), [s00] "+r"(s00),
          [s01] "+r"(s01), [s10] "+r"(s10), [s11] "+r"(s11), [a0] "=&r"(a0),
          [a1] "=&r"(a1), [b0] "=&r"(b0), [b1] "=&r"(b1), [u0] "=&r"(u0),
          [u1] "=&r"(u1)
        :
        : "memory");
  }
}

/// tileChunks with the second pixel at a constant distance (Bytes) from the
/// first: one pointer, a register fewer.
template <int Reps, int Bytes>
MCUTRAIN_ALWAYS_INLINE void tileChunksAt(const Half *&w, const Half *&c0,
                                         std::int32_t &s00, std::int32_t &s01,
                                         std::int32_t &s10, std::int32_t &s11) {
  MCUTRAIN_UNROLL
  for (int rep = 0; rep < Reps; ++rep) {
    std::uint32_t a0, a1, b0, b1, u0, u1;
    __asm__ volatile(
        "ldrd %[b0], %[b1], [%[c0], %[d]]\n\t"
        "ldrd %[a0], %[a1], [%[c0]], #8\n\t"
        "ldrd %[u0], %[u1], [%[w], #8]\n\t"
        "smlad %[s10], %[u0], %[a0], %[s10]\n\t"
        "smlad %[s10], %[u1], %[a1], %[s10]\n\t"
        "smlad %[s11], %[u0], %[b0], %[s11]\n\t"
        "smlad %[s11], %[u1], %[b1], %[s11]\n\t"
        "ldrd %[u0], %[u1], [%[w]], #16\n\t"
        "smlad %[s00], %[u0], %[a0], %[s00]\n\t"
        "smlad %[s00], %[u1], %[a1], %[s00]\n\t"
        "smlad %[s01], %[u0], %[b0], %[s01]\n\t"
        "smlad %[s01], %[u1], %[b1], %[s01]"
        : [w] "+r"(w), [c0] "+r"(c0), [s00] "+r"(s00), [s01] "+r"(s01),
          [s10] "+r"(s10), [s11] "+r"(s11), [a0] "=&r"(a0), [a1] "=&r"(a1),
          [b0] "=&r"(b0), [b1] "=&r"(b1), [u0] "=&r"(u0), [u1] "=&r"(u1)
        : [d] "n"(Bytes)
        : "memory");
  }
}
#endif

// Helium (MVE, the Cortex-M55) multiplies and sums 8 int16 lanes in one
// VMLADAVA into a core register: the tiles' chunks and the Gemm rows take
// it there, the rest of a reduction (under 4 chunks, under 8 values) the
// DSP instructions or plain loops.
#if defined(__ARM_FEATURE_MVE)
#define MCUTRAIN_INT8_HELIUM 1
#else
#define MCUTRAIN_INT8_HELIUM 0
#endif

#if MCUTRAIN_INT8_HELIUM
/// Quads groups of 4 chunks of a 2 x 2 tile on Helium: the weights' 4
/// chunks (64 bytes) de-interleaved by word with VLD40-43 into the rows'
/// first and second pairs of each chunk (q0, q1: row 0; q2, q3: row 1),
/// each column's 4 chunks with VLD20-21 the same way (q4, q5; q6, q7), then
/// 8 VMLADAVA of 8 products each: 16 instructions for 64 MACs (the DSP
/// tile: 44). The sums wrap as SMLAD's (int32, modulo 2^32).
MCUTRAIN_ALWAYS_INLINE void heliumChunks(int quads, const Half *&w,
                                         const Half *&c0, const Half *&c1,
                                         std::int32_t &s00, std::int32_t &s01,
                                         std::int32_t &s10, std::int32_t &s11) {
  MCUTRAIN_PRAGMA(GCC unroll 2)
  for (int quad = 0; quad < quads; ++quad)
    __asm__ volatile(
        "vld40.32 {q0, q1, q2, q3}, [%[w]]\n\t"
        "vld41.32 {q0, q1, q2, q3}, [%[w]]\n\t"
        "vld42.32 {q0, q1, q2, q3}, [%[w]]\n\t"
        "vld43.32 {q0, q1, q2, q3}, [%[w]]!\n\t"
        "vld20.32 {q4, q5}, [%[c0]]\n\t"
        "vld21.32 {q4, q5}, [%[c0]]!\n\t"
        "vld20.32 {q6, q7}, [%[c1]]\n\t"
        "vld21.32 {q6, q7}, [%[c1]]!\n\t"
        "vmladava.s16 %[s00], q0, q4\n\t"
        "vmladava.s16 %[s00], q1, q5\n\t"
        "vmladava.s16 %[s10], q2, q4\n\t"
        "vmladava.s16 %[s10], q3, q5\n\t"
        "vmladava.s16 %[s01], q0, q6\n\t"
        "vmladava.s16 %[s01], q1, q7\n\t"
        "vmladava.s16 %[s11], q2, q6\n\t"
        "vmladava.s16 %[s11], q3, q7"
        : [w] "+r"(w), [c0] "+r"(c0), [c1] "+r"(c1), [s00] "+Te"(s00),
          [s01] "+Te"(s01), [s10] "+Te"(s10), [s11] "+Te"(s11)
        :
        : "memory", "q0", "q1", "q2", "q3", "q4", "q5", "q6", "q7");
}

/// s0, s1 += the dot products of `groups` x 8 int16 of c with as many int8
/// weights of w0, w1 (sign-extended by VLDRB.S16, whose base is a low
/// register): 5 instructions per 16 MACs (the DSP loop: 22).
MCUTRAIN_ALWAYS_INLINE void heliumDot(int groups, const Half *&c,
                                      const std::int8_t *&w0,
                                      const std::int8_t *&w1, std::int32_t &s0,
                                      std::int32_t &s1) {
  MCUTRAIN_PRAGMA(GCC unroll 4)
  for (int group = 0; group < groups; ++group)
    __asm__ volatile("vldrh.s16 q2, [%[c]], #16\n\t"
                     "vldrb.s16 q0, [%[w0]], #8\n\t"
                     "vldrb.s16 q1, [%[w1]], #8\n\t"
                     "vmladava.s16 %[s0], q0, q2\n\t"
                     "vmladava.s16 %[s1], q1, q2"
                     : [c] "+r"(c), [w0] "+l"(w0), [w1] "+l"(w1),
                       [s0] "+Te"(s0), [s1] "+Te"(s1)
                     :
                     : "memory", "q0", "q1", "q2");
}
#endif

/// The four sums of a 2 x 2 tile: a channel pair's widened weights (chunks
/// of 4 int16 alternating between the two rows) against two pixels'
/// int16 columns.
struct Tile {
  std::int32_t s00 = 0, s01 = 0, s10 = 0, s11 = 0;

  /// add() with c1 = c0 + Distance int16.
  template <int Chunks, int Distance>
  MCUTRAIN_ALWAYS_INLINE void addAt(const Half *&w, const Half *c0) {
#if MCUTRAIN_INT8_HELIUM
    if constexpr (Chunks >= 4) {
      const Half *c1 = c0 + Distance;
      heliumChunks(Chunks / 4, w, c0, c1, s00, s01, s10, s11);
    }
    tileChunksAt<Chunks % 4, 2 * Distance>(w, c0, s00, s01, s10, s11);
#elif defined(__ARM_FEATURE_DSP)
    constexpr int kBlock = 16;
    for (int i = 0; i < Chunks / kBlock; ++i)
      tileChunksAt<kBlock, 2 * Distance>(w, c0, s00, s01, s10, s11);
    tileChunksAt<Chunks % kBlock, 2 * Distance>(w, c0, s00, s01, s10, s11);
#else
    add<Chunks>(w, c0, c0 + Distance);
#endif
  }

  /// Adds `Chunks` chunks: w advances past them; c0, c1 are read from.
  template <int Chunks>
  MCUTRAIN_ALWAYS_INLINE void add(const Half *&w, const Half *c0,
                                  const Half *c1) {
#if MCUTRAIN_INT8_HELIUM
    heliumChunks(Chunks / 4, w, c0, c1, s00, s01, s10, s11);
    tileChunks<Chunks % 4>(w, c0, c1, s00, s01, s10, s11);
#elif defined(__ARM_FEATURE_DSP)
    // Blocks of 16 chunks (code size), then the rest.
    constexpr int kBlock = 16;
    for (int i = 0; i < Chunks / kBlock; ++i)
      tileChunks<kBlock>(w, c0, c1, s00, s01, s10, s11);
    tileChunks<Chunks % kBlock>(w, c0, c1, s00, s01, s10, s11);
#else
    // Wrapping int32 sums (as SMLAD's): unsigned arithmetic.
    std::uint32_t t00 = 0, t01 = 0, t10 = 0, t11 = 0;
    for (int i = 0; i < Chunks; ++i)
      for (int l = 0; l < 4; ++l) {
        std::int32_t u = w[i * 8 + l], v = w[i * 8 + 4 + l];
        std::int32_t x = c0[i * 4 + l], z = c1[i * 4 + l];
        t00 += std::uint32_t(u * x);
        t01 += std::uint32_t(u * z);
        t10 += std::uint32_t(v * x);
        t11 += std::uint32_t(v * z);
      }
    w += Chunks * 8;
    s00 = std::int32_t(std::uint32_t(s00) + t00);
    s01 = std::int32_t(std::uint32_t(s01) + t01);
    s10 = std::int32_t(std::uint32_t(s10) + t10);
    s11 = std::int32_t(std::uint32_t(s11) + t11);
#endif
  }
};

/// An 8-bit input element as its integer value (unsigned if XU).
template <int XU> inline std::int32_t load8(const std::int8_t *p) {
  return XU ? std::int32_t(*reinterpret_cast<const std::uint8_t *>(p))
            : std::int32_t(*p);
}

/// A convolution's kernel: geometry, weight widening, the input's
/// widening (stripe or im2col) and the tiles.
template <int N, int C, int H, int W, int F, int KH, int KW, int OH, int OW,
          int SH, int SW, int PT, int PL, int DH, int DW, int XU, int XZ,
          int Lo, int Hi, int WS, bool Table>
struct Conv {
  static constexpr ConvPlan plan =
      convPlan(C, W, F, KH, KW, OW, SW, PL, DH, DW, N, OH, SH);
  static constexpr int K = plan.k, KP = plan.kp, CP = plan.cp, WP = plan.wp,
                       RING = plan.ring, RK = plan.rk, FB = plan.fb,
                       P = OH * OW;

  Half *rows, *input;
  Requant *params;
  const std::int8_t *table;

  Conv(std::int8_t *scratch, const std::int8_t *table)
      : rows(reinterpret_cast<Half *>(scratch)),
        input(reinterpret_cast<Half *>(scratch + plan.rowsBytes +
                                       plan.paramsBytes)),
        params(reinterpret_cast<Requant *>(scratch + plan.rowsBytes)),
        table(table) {}

  /// Widens the weights of channels [f0, f0 + FB) (zeros past F and in the
  /// padding) and their requantization: the input zero point's share,
  /// -XZ * (sum of the row's weights), goes into the offset (times the
  /// multiplier: the same integer before the shift).
  void prepare(const std::int8_t *__restrict w, const std::int32_t *mult,
               const std::int32_t *shift, const std::int64_t *offset, int f0) {
    for (int r = 0; r < FB; ++r) {
      int f = f0 + r;
      if (f >= F) {
        ChunkWriter out{rows + r / 2 * 2 * RK + r % 2 * 4};
        for (int k = 0; k < RK; ++k)
          out.put(0);
        params[r] = requant<WS>(0, 0, 32);
        continue;
      }
      std::int32_t sum = plan.stripe ? widenStripeRow(w + f * K, r)
                                     : widenIm2colRow(w + f * K, r);
      params[r] = requant<WS>(offset[f] - std::int64_t(XZ) * sum * mult[f],
                              mult[f], shift[f]);
    }
  }

  /// Writes a row's int16 values in order into its chunks of 4 (every
  /// other chunk: the pair's other row takes the rest).
  struct ChunkWriter {
    Half *at;
    int lane = 0;
    MCUTRAIN_ALWAYS_INLINE void put(std::int32_t v) {
      at[lane] = Half(v);
      if (++lane == 4)
        lane = 0, at += 8;
    }
  };

  /// Row r of the block from channel weights `src` (C x KH x KW) in the
  /// stripe's (kh, kw, c) order, channels padded to CP; returns their sum.
  /// With CP a multiple of 4 each tap's channels fill whole chunks, written
  /// four lanes at a time (about 3 Cortex-M4 instructions per weight, from
  /// 10 through ChunkWriter: ResNet-8's 64 -> 64 layer on 8 x 8 uses each
  /// weight 64 times, and widening was 15% of its instructions).
  std::int32_t widenStripeRow(const std::int8_t *__restrict src, int r) {
    if constexpr (CP % 4 != 0)
      return widenStripeRowByLane(src, r);
    Half *chunk = rows + r / 2 * 2 * RK + r % 2 * 4;
    std::int32_t sum = 0;
    for (int tap = 0; tap < KH * KW; ++tap) {
      const std::int8_t *from = src + tap;
      for (int c = 0; c < C / 4 * 4; c += 4, chunk += 8)
        MCUTRAIN_UNROLL
      for (int lane = 0; lane < 4; ++lane) {
        std::int32_t v = from[(c + lane) * KH * KW];
        chunk[lane] = Half(v);
        sum += v;
      }
      if constexpr (C % 4 != 0) {
        for (int lane = 0; lane < 4; ++lane) {
          int c = C / 4 * 4 + lane;
          std::int32_t v = c < C ? from[c * KH * KW] : 0;
          chunk[lane] = Half(v);
          sum += v;
        }
        chunk += 8;
      }
    }
    return sum;
  }

  /// widenStripeRow a value at a time (CP not a multiple of 4: a tap's
  /// channels end inside a chunk).
  std::int32_t widenStripeRowByLane(const std::int8_t *__restrict src, int r) {
    ChunkWriter out{rows + r / 2 * 2 * RK + r % 2 * 4};
    std::int32_t sum = 0;
    for (int kh = 0; kh < KH; ++kh)
      for (int kw = 0; kw < KW; ++kw) {
        const std::int8_t *tap = src + kh * KW + kw;
        for (int c = 0; c < C; ++c) {
          std::int32_t v = tap[c * KH * KW];
          out.put(v);
          sum += v;
        }
        for (int c = C; c < CP; ++c)
          out.put(0);
      }
    return sum;
  }

  /// Row r of the block from channel weights `src` in their own order,
  /// zero-padded to KP (a multiple of 4: whole chunks); returns their sum.
  std::int32_t widenIm2colRow(const std::int8_t *__restrict src, int r) {
    Half *chunk = rows + r / 2 * 2 * RK + r % 2 * 4;
    std::int32_t sum = 0;
    for (int k = 0; k < KP; k += 4, chunk += 8)
      MCUTRAIN_UNROLL
    for (int lane = 0; lane < 4; ++lane) {
      std::int32_t v = k + lane < K ? src[k + lane] : 0;
      chunk[lane] = Half(v);
      sum += v;
    }
    return sum;
  }

  /// Requantizes a tile's sums into y (channels f, f + 1 of the block's
  /// rows r, r + 1; pixels p0 and, if `two`, p1), skipping channels past F.
  MCUTRAIN_ALWAYS_INLINE void store(const Tile &t, int r, int f,
                                    std::int8_t *__restrict y, int p0, int p1,
                                    bool two) {
    // Every result before the first store: a byte store may alias the
    // parameters, and g++ reloaded them per output (38 instructions per
    // tile, 28 after).
    const Requant q0 = params[r], q1 = params[r + 1];
    std::int8_t y00 = finish<Lo, Hi, WS, Table>(t.s00, q0, table);
    std::int8_t y01 = finish<Lo, Hi, WS, Table>(t.s01, q0, table);
    std::int8_t y10 = finish<Lo, Hi, WS, Table>(t.s10, q1, table);
    std::int8_t y11 = finish<Lo, Hi, WS, Table>(t.s11, q1, table);
    y[f * P + p0] = y00;
    if (two)
      y[f * P + p1] = y01;
    if (F % 2 == 0 || f + 1 < F) {
      y[(f + 1) * P + p0] = y10;
      if (two)
        y[(f + 1) * P + p1] = y11;
    }
  }

  /// Padded input row `ihp` (0 .. H + PT + ...) as pixel-major int16 at
  /// `dst`: raw x inside, XZ in the padding, 0 in the padded channels.
  static void widenRow(const std::int8_t *__restrict x, int ihp,
                       Half *__restrict dst) {
    int ih = ihp - PT;
    for (int iwp = 0; iwp < WP; ++iwp, dst += CP) {
      int iw = iwp - PL;
      if (ih < 0 || ih >= H || iw < 0 || iw >= W) {
        for (int c = 0; c < CP; ++c)
          dst[c] = Half(c < C ? XZ : 0);
        continue;
      }
      const std::int8_t *src = x + ih * W + iw;
      MCUTRAIN_UNROLL
      for (int c = 0; c < C; ++c)
        dst[c] = Half(load8<XU>(src + c * H * W));
      for (int c = C; c < CP; ++c)
        dst[c] = 0;
    }
  }

  /// One image, one block of channels, reading the stripe ring.
  void stripeImage(const std::int8_t *__restrict x, std::int8_t *__restrict y,
                   int f0) {
    // Padded rows [0, widened) are (or were) in the ring; a whole image
    // was widened by the first block.
    int widened = plan.whole && f0 > 0 ? RING : 0;
    const Half *runs[KH];
    for (int oh = 0; oh < OH; ++oh) {
      int top = oh * SH, last = top + (KH - 1) * DH;
      for (int ihp = widened > top ? widened : top; ihp <= last; ++ihp)
        widenRow(x, ihp, input + ihp % RING * WP * CP);
      widened = last + 1;
      for (int kh = 0; kh < KH; ++kh)
        runs[kh] = input + (top + kh * DH) % RING * WP * CP;
      for (int ow = 0; ow < OW; ow += 2) {
        bool two = ow + 1 < OW;
        int o0 = ow * SW * CP;
        for (int r = 0; r < FB && f0 + r < F; r += 2) {
          Tile t;
          const Half *wr = rows + r * RK;
          if (OW % 2 == 0 || two) {
            MCUTRAIN_UNROLL
            for (int kh = 0; kh < KH; ++kh)
              t.addAt<KW * CP / 4, SW * CP>(wr, runs[kh] + o0);
          } else {
            MCUTRAIN_UNROLL
            for (int kh = 0; kh < KH; ++kh)
              t.addAt<KW * CP / 4, 0>(wr, runs[kh] + o0);
          }
          store(t, r, f0 + r, y, oh * OW + ow, oh * OW + ow + 1, two);
        }
      }
    }
  }

  /// The im2col column of output pixel (oh, ow) in the weights' order
  /// (c, kh, kw): raw x inside the input, XZ in the padding, zeros from K
  /// to KP.
  static void column(const std::int8_t *__restrict x, int oh, int ow,
                     Half *__restrict col) {
    const int ih0 = oh * SH - PT, iw0 = ow * SW - PL;
    bool inside = ih0 >= 0 && iw0 >= 0 && ih0 + (KH - 1) * DH < H &&
                  iw0 + (KW - 1) * DW < W;
    Half *out = col;
    if (inside) {
      // Unrolled over the window (g++ -O2 kept a loop of 3 per kernel
      // row: 5.9 instructions per element, against 2: LDRB, STRH).
      const std::int8_t *base = x + ih0 * W + iw0;
      for (int c = 0; c < C; ++c, base += H * W, out += KH * KW)
        MCUTRAIN_UNROLL
      for (int kh = 0; kh < KH; ++kh)
        MCUTRAIN_UNROLL
      for (int kw = 0; kw < KW; ++kw)
        out[kh * KW + kw] = Half(load8<XU>(base + kh * DH * W + kw * DW));
    } else {
      for (int c = 0; c < C; ++c)
        for (int kh = 0; kh < KH; ++kh) {
          int ih = ih0 + kh * DH;
          for (int kw = 0; kw < KW; ++kw) {
            int iw = iw0 + kw * DW;
            bool in = ih >= 0 && ih < H && iw >= 0 && iw < W;
            *out++ = Half(in ? load8<XU>(x + (c * H + ih) * W + iw) : XZ);
          }
        }
    }
    for (int k = K; k < KP; ++k)
      col[k] = 0;
  }

  /// One image, one block of channels, by im2col (pixel pairs in
  /// row-major order: a pair may span two rows).
  void im2colImage(const std::int8_t *__restrict x, std::int8_t *__restrict y,
                   int f0) {
    Half *cols = input;
    for (int p = 0, oh = 0, ow = 0; p < P; p += 2) {
      column(x, oh, ow, cols);
      bool two = p + 1 < P;
      if (two && ++ow == OW)
        ow = 0, ++oh;
      // A last odd pixel twice: the tile always reads two columns.
      column(x, oh, ow, cols + KP);
      if (++ow == OW)
        ow = 0, ++oh;
      for (int r = 0; r < FB && f0 + r < F; r += 2) {
        Tile t;
        const Half *wr = rows + r * RK;
        t.addAt<KP / 4, KP>(wr, cols);
        store(t, r, f0 + r, y, p, p + 1, two);
      }
    }
  }
};

template <int N, int C, int H, int W, int F, int KH, int KW, int OH, int OW,
          int SH, int SW, int PT, int PL, int DH, int DW, int XU, int XZ,
          int Lo, int Hi, int WS, bool Table>
inline void
convLayer(const std::int8_t *__restrict x, const std::int8_t *__restrict w,
          const std::int32_t *__restrict multiplier,
          const std::int32_t *__restrict shift,
          const std::int64_t *__restrict offset,
          const std::int8_t *__restrict table, std::int8_t *__restrict y,
          std::int8_t *__restrict scratch) {
  Conv<N, C, H, W, F, KH, KW, OH, OW, SH, SW, PT, PL, DH, DW, XU, XZ, Lo, Hi,
       WS, Table>
      conv(scratch, table);
  using Plan = decltype(conv);
  for (int f0 = 0; f0 < F; f0 += Plan::FB) {
    conv.prepare(w, multiplier, shift, offset, f0);
    for (int n = 0; n < N; ++n) {
      const std::int8_t *xn = x + n * C * H * W;
      std::int8_t *yn = y + n * F * Plan::P;
      if (Plan::plan.stripe)
        conv.stripeImage(xn, yn, f0);
      else
        conv.im2colImage(xn, yn, f0);
    }
  }
}

} // namespace int8

namespace int8 {

#if defined(__ARM_FEATURE_DSP)
/// Reps groups of 4 of a Gemm row (int16, SXTB16's order) against two
/// channels' int8 weights: per group LDRD, 2 LDR (unaligned allowed), 4
/// SXTB16, 4 SMLAD for 8 MACs (g++ left 19: separate rotates and index
/// arithmetic); one statement per group, as tileChunks.
template <int Reps>
MCUTRAIN_ALWAYS_INLINE void dotGroups(const Half *&c, const std::int8_t *&w0,
                                      const std::int8_t *&w1, std::int32_t &s0,
                                      std::int32_t &s1) {
  MCUTRAIN_UNROLL
  for (int rep = 0; rep < Reps; ++rep) {
    std::uint32_t x0, x1, u, v, t;
    __asm__ volatile("ldrd %[x0], %[x1], [%[c]], #8\n\t"
                     "ldr %[u], [%[w0]], #4\n\t"
                     "ldr %[v], [%[w1]], #4\n\t"
                     "sxtb16 %[t], %[u]\n\t"
                     "smlad %[s0], %[t], %[x0], %[s0]\n\t"
                     "sxtb16 %[t], %[u], ror #8\n\t"
                     "smlad %[s0], %[t], %[x1], %[s0]\n\t"
                     "sxtb16 %[t], %[v]\n\t"
                     "smlad %[s1], %[t], %[x0], %[s1]\n\t"
                     "sxtb16 %[t], %[v], ror #8\n\t"
                     "smlad %[s1], %[t], %[x1], %[s1]"
                     : [c] "+r"(c), [w0] "+r"(w0), [w1] "+r"(w1), [s0] "+r"(s0),
                       [s1] "+r"(s1), [x0] "=&r"(x0), [x1] "=&r"(x1),
                       [u] "=&r"(u), [v] "=&r"(v), [t] "=&r"(t)
                     :
                     : "memory");
  }
}
#endif

/// A Gemm's row of a against two output channels' weights, read as int8
/// where they are stored: a batch-1 layer uses each weight once, so
/// widening the weights would cost as much as the products.
template <int K, int AU, int AZ> struct GemmRow {
  static constexpr int KP = paddedK(K);

  /// col = a - AZ as int16, zero-padded to KP; with `Reordered` each whole
  /// group of four in the order (0, 2, 1, 3), SXTB16's order of a weight
  /// word (the tail stays in order).
  template <bool Reordered>
  static void widen(const std::int8_t *__restrict a, Half *__restrict col) {
    constexpr int kWhole = K / 4 * 4;
    for (int k = 0; k < kWhole; k += 4) {
      std::int32_t v0 = load8<AU>(a + k), v1 = load8<AU>(a + k + 1),
                   v2 = load8<AU>(a + k + 2), v3 = load8<AU>(a + k + 3);
      col[k] = Half(v0 - AZ);
      col[k + 1] = Half((Reordered ? v2 : v1) - AZ);
      col[k + 2] = Half((Reordered ? v1 : v2) - AZ);
      col[k + 3] = Half(v3 - AZ);
    }
    for (int t = kWhole; t < KP; ++t)
      col[t] = Half(t < K ? load8<AU>(a + t) - AZ : 0);
  }

  /// Whether dot reads the column in SXTB16's order.
  template <int TB> static constexpr bool reordered() {
#if defined(__ARM_FEATURE_DSP) && !MCUTRAIN_INT8_HELIUM
    return TB != 0;
#else
    return false;
#endif
  }

  /// Weight of output channel n at reduction index k (0 past N).
  template <int N, int TB>
  static std::int32_t weight(const std::int8_t *b, int n, int k) {
    if (n >= N)
      return 0;
    return TB ? b[n * K + k] : b[k * N + n];
  }

  /// s0, s1 = the dot products of col with channels n, n + 1.
  template <int N, int TB>
  static void dot(const std::int8_t *__restrict b, int n,
                  const Half *__restrict col, std::int32_t &s0,
                  std::int32_t &s1) {
#if MCUTRAIN_INT8_HELIUM
    // Groups of 8 along contiguous weight rows (b transposed).
    constexpr int kWords = TB ? K / 8 * 8 : 0;
#else
    constexpr int kWords = reordered<TB>() ? K / 4 * 4 : 0;
#endif
    std::uint32_t t0 = 0, t1 = 0;
#if MCUTRAIN_INT8_HELIUM
    if constexpr (kWords > 0) {
      const Half *c = col;
      const std::int8_t *w0 = b + n * K;
      const std::int8_t *w1 = n + 1 < N ? w0 + K : w0;
      std::int32_t u0 = 0, u1 = 0;
      heliumDot(kWords / 8, c, w0, w1, u0, u1);
      t0 = std::uint32_t(u0), t1 = std::uint32_t(u1);
    }
#elif defined(__ARM_FEATURE_DSP)
    if constexpr (kWords > 0) {
      const Half *c = col;
      const std::int8_t *w0 = b + n * K;
      const std::int8_t *w1 = n + 1 < N ? w0 + K : w0;
      std::int32_t u0 = 0, u1 = 0;
      constexpr int kGroups = kWords / 4, kBlock = 8;
      for (int i = 0; i < kGroups / kBlock; ++i)
        dotGroups<kBlock>(c, w0, w1, u0, u1);
      dotGroups<kGroups % kBlock>(c, w0, w1, u0, u1);
      t0 = std::uint32_t(u0), t1 = std::uint32_t(u1);
    }
#endif
    // The tail past the whole words (in natural order), or everything.
    for (int k = kWords; k < K; ++k) {
      t0 += std::uint32_t(weight<N, TB>(b, n, k) * col[k]);
      t1 += std::uint32_t(weight<N, TB>(b, n + 1, k) * col[k]);
    }
    s0 = std::int32_t(t0), s1 = n + 1 < N ? std::int32_t(t1) : 0;
  }
};

template <int M, int N, int K, int TB, int AU, int AZ, int Lo, int Hi, int WS,
          bool Table>
inline void
gemmLayer(const std::int8_t *__restrict a, const std::int8_t *__restrict b,
          const std::int32_t *__restrict multiplier,
          const std::int32_t *__restrict shift,
          const std::int64_t *__restrict offset,
          const std::int8_t *__restrict table, std::int8_t *__restrict y,
          std::int8_t *__restrict scratch) {
  using Row = GemmRow<K, AU, AZ>;
  Half *col = reinterpret_cast<Half *>(scratch);
  for (int m = 0; m < M; ++m) {
    // A row of a is read by every output channel: widened once, zero
    // point taken out.
    Row::template widen<Row::template reordered<TB>()>(a + m * K, col);
    std::int8_t *ym = y + m * N;
    for (int n = 0; n < N; n += 2) {
      std::int32_t s0 = 0, s1 = 0;
      Row::template dot<N, TB>(b, n, col, s0, s1);
      ym[n] = finish<Lo, Hi, WS, Table>(
          s0, requant<WS>(offset[n], multiplier[n], shift[n]), table);
      if (n + 1 < N)
        ym[n + 1] = finish<Lo, Hi, WS, Table>(
            s1, requant<WS>(offset[n + 1], multiplier[n + 1], shift[n + 1]),
            table);
    }
  }
}

} // namespace int8

/// int8 Gemm, y = a * b (b transposed if TB): a M x K (8-bit, unsigned if
/// AU, zero point AZ), b K x N or N x K (signed, symmetric), y M x N; the
/// same requantization as qconv2d; `scratch` holds int8::gemmScratchBytes(K)
/// bytes, 8-aligned.
template <int M, int N, int K, int TB, int AU, int AZ, int Lo, int Hi, int WS>
inline void qgemm(const std::int8_t *__restrict a,
                  const std::int8_t *__restrict b,
                  const std::int32_t *__restrict multiplier,
                  const std::int32_t *__restrict shift,
                  const std::int64_t *__restrict offset,
                  std::int8_t *__restrict y, std::int8_t *__restrict scratch) {
  int8::gemmLayer<M, N, K, TB, AU, AZ, Lo, Hi, WS, false>(
      a, b, multiplier, shift, offset, nullptr, y, scratch);
}

/// qgemm whose output bytes then go through a 256-entry `table`.
template <int M, int N, int K, int TB, int AU, int AZ, int Lo, int Hi, int WS>
inline void
qgemm_lut(const std::int8_t *__restrict a, const std::int8_t *__restrict b,
          const std::int32_t *__restrict multiplier,
          const std::int32_t *__restrict shift,
          const std::int64_t *__restrict offset,
          const std::int8_t *__restrict table, std::int8_t *__restrict y,
          std::int8_t *__restrict scratch) {
  int8::gemmLayer<M, N, K, TB, AU, AZ, Lo, Hi, WS, true>(
      a, b, multiplier, shift, offset, table, y, scratch);
}

namespace int8 {

/// Pixels up to which a pointwise convolution runs as one Gemm row per
/// pixel (pointwiseRows) rather than in the convolution's tiles. Cortex-M4
/// instructions per MAC, rows against tiles: 1 x 1 1.62 / 12.69, 2 x 2
/// 1.66-1.76 / 3.64-4.06, 4 x 4 1.88-2.02 / 1.63-1.89, 8 x 8 1.98-2.58 /
/// 1.17-1.87.
constexpr int kPointwiseRowsPixels = 4;

/// Whether qconv2d runs as pointwiseRows.
constexpr bool pointwiseRowsFit(int h, int w, int kh, int kw, int oh, int ow,
                                int sh, int sw, int pt, int pl) {
  return kh == 1 && kw == 1 && sh == 1 && sw == 1 && pt == 0 && pl == 0 &&
         oh == h && ow == w && h * w <= kPointwiseRowsPixels;
}

/// A pointwise convolution over a few pixels, one Gemm row per pixel: the
/// pixel's C input bytes gathered and widened once, every output channel
/// pair's dot product read from the int8 weights in place (qgemm's
/// GemmRow), each output stored into its channel's plane. The tiles widen
/// every weight per call, which a handful of pixels do not repay
/// (Cortex-M4: 3.6-4.1 instructions per MAC on 2 x 2 images, 12.6 on 1 x 1;
/// a Gemm row 1.6).
template <int N, int C, int P, int F, int XU, int XZ, int Lo, int Hi, int WS,
          bool Table>
inline void
pointwiseRows(const std::int8_t *__restrict x, const std::int8_t *__restrict w,
              const std::int32_t *__restrict multiplier,
              const std::int32_t *__restrict shift,
              const std::int64_t *__restrict offset,
              const std::int8_t *__restrict table, std::int8_t *__restrict y,
              std::int8_t *__restrict scratch) {
  using Row = GemmRow<C, XU, XZ>;
  Half *col = reinterpret_cast<Half *>(scratch);
  std::int8_t *pixel = scratch + gemmScratchBytes(C);
  for (int n = 0; n < N; ++n)
    for (int p = 0; p < P; ++p) {
      const std::int8_t *xn = x + n * C * P + p;
      for (int c = 0; c < C; ++c)
        pixel[c] = xn[c * P];
      Row::template widen<Row::template reordered<1>()>(pixel, col);
      std::int8_t *yn = y + n * F * P + p;
      for (int f = 0; f < F; f += 2) {
        std::int32_t s0 = 0, s1 = 0;
        Row::template dot<F, 1>(w, f, col, s0, s1);
        yn[f * P] = finish<Lo, Hi, WS, Table>(
            s0, requant<WS>(offset[f], multiplier[f], shift[f]), table);
        if (f + 1 < F)
          yn[(f + 1) * P] = finish<Lo, Hi, WS, Table>(
              s1, requant<WS>(offset[f + 1], multiplier[f + 1], shift[f + 1]),
              table);
      }
    }
}

/// qconv2d's layer: pointwiseRows where it fits, else the tiles.
template <int N, int C, int H, int W, int F, int KH, int KW, int OH, int OW,
          int SH, int SW, int PT, int PL, int DH, int DW, int XU, int XZ,
          int Lo, int Hi, int WS, bool Table>
inline void
qconvLayer(const std::int8_t *__restrict x, const std::int8_t *__restrict w,
           const std::int32_t *__restrict multiplier,
           const std::int32_t *__restrict shift,
           const std::int64_t *__restrict offset,
           const std::int8_t *__restrict table, std::int8_t *__restrict y,
           std::int8_t *__restrict scratch) {
  if constexpr (pointwiseRowsFit(H, W, KH, KW, OH, OW, SH, SW, PT, PL))
    pointwiseRows<N, C, H * W, F, XU, XZ, Lo, Hi, WS, Table>(
        x, w, multiplier, shift, offset, table, y, scratch);
  else
    convLayer<N, C, H, W, F, KH, KW, OH, OW, SH, SW, PT, PL, DH, DW, XU, XZ, Lo,
              Hi, WS, Table>(x, w, multiplier, shift, offset, table, y,
                             scratch);
}

} // namespace int8

/// int8 convolution, groups 1: x N x C x H x W (int8, or uint8 if XU, zero
/// point XZ), w F x C x KH x KW (signed, symmetric), y N x F x OH x OW
/// (8-bit, storage range [Lo, Hi]); pads top PT and left PL (bottom and
/// right follow from OH, OW); per-channel multiplier, shift (>= 1; all >=
/// 32 if WS) and offset (lower-to-linalg's requantization); `scratch`
/// holds int8::convScratchBytes(...) bytes, 8-aligned.
template <int N, int C, int H, int W, int F, int KH, int KW, int OH, int OW,
          int SH, int SW, int PT, int PL, int DH, int DW, int XU, int XZ,
          int Lo, int Hi, int WS>
inline void
qconv2d(const std::int8_t *__restrict x, const std::int8_t *__restrict w,
        const std::int32_t *__restrict multiplier,
        const std::int32_t *__restrict shift,
        const std::int64_t *__restrict offset, std::int8_t *__restrict y,
        std::int8_t *__restrict scratch) {
  int8::qconvLayer<N, C, H, W, F, KH, KW, OH, OW, SH, SW, PT, PL, DH, DW, XU,
                   XZ, Lo, Hi, WS, false>(x, w, multiplier, shift, offset,
                                          nullptr, y, scratch);
}

/// qconv2d whose output bytes then go through a 256-entry `table` (the
/// 8-bit map that followed the layer, tabulate-int8-maps).
template <int N, int C, int H, int W, int F, int KH, int KW, int OH, int OW,
          int SH, int SW, int PT, int PL, int DH, int DW, int XU, int XZ,
          int Lo, int Hi, int WS>
inline void
qconv2d_lut(const std::int8_t *__restrict x, const std::int8_t *__restrict w,
            const std::int32_t *__restrict multiplier,
            const std::int32_t *__restrict shift,
            const std::int64_t *__restrict offset,
            const std::int8_t *__restrict table, std::int8_t *__restrict y,
            std::int8_t *__restrict scratch) {
  int8::qconvLayer<N, C, H, W, F, KH, KW, OH, OW, SH, SW, PT, PL, DH, DW, XU,
                   XZ, Lo, Hi, WS, true>(x, w, multiplier, shift, offset, table,
                                         y, scratch);
}

namespace int8 {

/// Scratch bytes of qdepthwise2d: a ring of the KH * DH rows a row of
/// outputs reads, one channel's, widened to int16 with the padding (plus 2
/// int16 of slack: a pair load of a window's last odd tap reads one past).
constexpr int depthwiseScratchBytes(int w, int kh, int kw, int ow, int sw,
                                    int pl, int dh, int dw) {
  int right = (ow - 1) * sw + (kw - 1) * dw + 1 - w - pl;
  int wp = w + pl + (right > 0 ? right : 0);
  return (((kh - 1) * dh + 1) * wp + 2) * 2;
}

/// acc + a.lo * b.lo + a.hi * b.hi (16-bit halves): SMLAD on DSP cores.
MCUTRAIN_ALWAYS_INLINE std::int32_t dualMac(std::uint32_t a, std::uint32_t b,
                                            std::int32_t acc) {
#if defined(__ARM_FEATURE_DSP)
  return __smlad(a, b, acc);
#else
  std::uint32_t lo =
      std::uint32_t(std::int32_t(std::int16_t(a)) * std::int16_t(b));
  std::uint32_t hi = std::uint32_t(std::int32_t(std::int16_t(a >> 16)) *
                                   std::int16_t(b >> 16));
  return std::int32_t(std::uint32_t(acc) + lo + hi);
#endif
}

/// Two int16 at p (any alignment: an unaligned LDR on Cortex-M4).
MCUTRAIN_ALWAYS_INLINE std::uint32_t loadPair(const Half *p) {
  std::uint32_t v;
  __builtin_memcpy(&v, p, 4);
  return v;
}

/// Padded row `ihp` of one channel's plane x (H x W) as WP int16: XZ in
/// the padding, the values inside (no test per element).
template <int H, int W, int PT, int PL, int WP, int XU, int XZ>
MCUTRAIN_ALWAYS_INLINE void widenPlaneRow(const std::int8_t *__restrict x,
                                          int ihp, Half *__restrict dst) {
  int ih = ihp - PT;
  if (ih < 0 || ih >= H) {
    for (int i = 0; i < WP; ++i)
      dst[i] = Half(XZ);
    return;
  }
  for (int i = 0; i < PL; ++i)
    dst[i] = Half(XZ);
  const std::int8_t *src = x + ih * W;
  for (int i = 0; i < W; ++i)
    dst[PL + i] = Half(load8<XU>(src + i));
  for (int i = PL + W; i < WP; ++i)
    dst[i] = Half(XZ);
}

/// One depthwise window's sum from the widened rows, at column `at`: the
/// taps of each kernel row in pairs (SMLAD), an odd last tap alone.
template <int KH, int KW, int DW> struct DepthwiseTaps {
  static constexpr int PAIRS = KW / 2 > 0 ? KW / 2 : 1;
  MCUTRAIN_ALWAYS_INLINE static std::int32_t
  sum(const Half *const *rows, int at, const std::uint32_t (*pairs)[PAIRS],
      const std::int32_t *last) {
    std::int32_t acc = 0;
    MCUTRAIN_UNROLL
    for (int kh = 0; kh < KH; ++kh) {
      const Half *in = rows[kh] + at;
      MCUTRAIN_UNROLL
      for (int j = 0; j < KW / 2; ++j) {
        std::uint32_t xs =
            DW == 1
                ? loadPair(in + 2 * j)
                : std::uint32_t(std::uint16_t(in[2 * j * DW])) |
                      std::uint32_t(std::uint16_t(in[(2 * j + 1) * DW])) << 16;
        acc = dualMac(pairs[kh][j], xs, acc);
      }
      if (KW % 2)
        acc += last[kh] * in[(KW - 1) * DW];
    }
    return acc;
  }
};

/// Images up to which a depthwise layer sums its taps directly
/// (depthwiseDirect) rather than through a widened ring of rows. Cortex-M4
/// instructions per MAC, direct against the ring (3 x 3, pad 1): 1 x 1
/// 1.78 / 10.23, 2 x 2 2.09 / 10.28 (stride 2: 3.35 / 13.12), 4 x 4 2.78 /
/// 6.68 (3.26 / 11.98), 8 x 8 3.25 / 4.84; the unrolled outputs make the
/// code grow with the image (8 x 8: 64 outputs of 9 taps a layer), so the
/// larger images keep the ring.
constexpr int kDepthwiseDirectPixels = 16;

/// A depthwise layer on a small image: each output's taps inside the
/// input summed directly from the int8 values (the loops unrolled, the
/// padding's taps gone at compile time); the ring's per-channel set-up
/// cost more than a 2 x 2 image's products.
template <int N, int C, int H, int W, int KH, int KW, int OH, int OW, int SH,
          int SW, int PT, int PL, int DH, int DW, int XU, int XZ, int Lo,
          int Hi, int WS, bool Table>
inline void depthwiseDirect(const std::int8_t *__restrict x,
                            const std::int8_t *__restrict w,
                            const std::int32_t *__restrict multiplier,
                            const std::int32_t *__restrict shift,
                            const std::int64_t *__restrict offset,
                            const std::int8_t *__restrict table,
                            std::int8_t *__restrict y) {
  for (int plane = 0; plane < N * C; ++plane) {
    const int c = plane % C;
    const std::int8_t *xc = x + plane * H * W, *wc = w + c * KH * KW;
    const Requant q = requant<WS>(offset[c], multiplier[c], shift[c]);
    MCUTRAIN_UNROLL
    for (int oh = 0; oh < OH; ++oh)
      MCUTRAIN_UNROLL
    for (int ow = 0; ow < OW; ++ow) {
      std::int32_t acc = 0;
      MCUTRAIN_UNROLL
      for (int kh = 0; kh < KH; ++kh)
        MCUTRAIN_UNROLL
      for (int kw = 0; kw < KW; ++kw) {
        const int ih = oh * SH + kh * DH - PT, iw = ow * SW + kw * DW - PL;
        if (ih >= 0 && ih < H && iw >= 0 && iw < W)
          acc += (load8<XU>(xc + ih * W + iw) - XZ) * wc[kh * KW + kw];
      }
      y[plane * OH * OW + oh * OW + ow] =
          finish<Lo, Hi, WS, Table>(acc, q, table);
    }
  }
}

/// depthwiseDirect written over its input: each plane copied into
/// `scratch` (at most kDepthwiseDirectPixels bytes) and read from there.
template <int N, int C, int H, int W, int KH, int KW, int OH, int OW, int SH,
          int SW, int PT, int PL, int DH, int DW, int XU, int XZ, int Lo,
          int Hi, int WS, bool Table>
inline void depthwiseDirectInPlace(std::int8_t *xy,
                                   const std::int8_t *__restrict w,
                                   const std::int32_t *__restrict multiplier,
                                   const std::int32_t *__restrict shift,
                                   const std::int64_t *__restrict offset,
                                   const std::int8_t *__restrict table,
                                   std::int8_t *__restrict scratch) {
  for (int plane = 0; plane < N * C; ++plane) {
    const int c = plane % C;
    std::int8_t *p = xy + plane * H * W;
    for (int i = 0; i < H * W; ++i)
      scratch[i] = p[i];
    depthwiseDirect<1, 1, H, W, KH, KW, OH, OW, SH, SW, PT, PL, DH, DW, XU, XZ,
                    Lo, Hi, WS, Table>(scratch, w + c * KH * KW, multiplier + c,
                                       shift + c, offset + c, table, p);
  }
}

/// The output pointer of a depthwise plane: restrict unless written over
/// its input.
template <bool InPlace>
using OutputPointer =
    std::conditional_t<InPlace, std::int8_t *, std::int8_t *__restrict>;

/// x and y may be one buffer (InPlace: stride 1, the output plane the input
/// plane's size, padding above within the window's height): a channel's
/// input row r is widened into the ring before output row r is written
/// over it, and only the ring is read after that.
template <int N, int C, int H, int W, int KH, int KW, int OH, int OW, int SH,
          int SW, int PT, int PL, int DH, int DW, int XU, int XZ, int Lo,
          int Hi, int WS, bool Table, bool InPlace = false>
inline void depthwiseLayer(const std::int8_t *x,
                           const std::int8_t *__restrict w,
                           const std::int32_t *__restrict multiplier,
                           const std::int32_t *__restrict shift,
                           const std::int64_t *__restrict offset,
                           const std::int8_t *__restrict table, std::int8_t *y,
                           std::int8_t *__restrict scratch) {
  static_assert(!InPlace || (SH == 1 && SW == 1 && OH == H && OW == W &&
                             PT <= (KH - 1) * DH),
                "in place: stride 1, same size, top padding within the window");
  if constexpr (H * W <= kDepthwiseDirectPixels && InPlace) {
    depthwiseDirectInPlace<N, C, H, W, KH, KW, OH, OW, SH, SW, PT, PL, DH, DW,
                           XU, XZ, Lo, Hi, WS, Table>(y, w, multiplier, shift,
                                                      offset, table, scratch);
    return;
  } else if constexpr (H * W <= kDepthwiseDirectPixels) {
    depthwiseDirect<N, C, H, W, KH, KW, OH, OW, SH, SW, PT, PL, DH, DW, XU, XZ,
                    Lo, Hi, WS, Table>(x, w, multiplier, shift, offset, table,
                                       y);
    return;
  }
  constexpr int RIGHT = (OW - 1) * SW + (KW - 1) * DW + 1 - W - PL;
  constexpr int WP = W + PL + (RIGHT > 0 ? RIGHT : 0);
  constexpr int RING = (KH - 1) * DH + 1, PAIRS = KW / 2;
  using Taps = DepthwiseTaps<KH, KW, DW>;
  Half *ring = reinterpret_cast<Half *>(scratch);
  for (int plane = 0; plane < N * C; ++plane) {
    const int c = plane % C;
    const std::int8_t *xc = x + plane * H * W, *wc = w + c * KH * KW;
    // The channel's taps: pairs (kw, kw + 1) of each row as SMLAD words.
    std::uint32_t pairs[KH][Taps::PAIRS];
    std::int32_t last[KH], sum = 0;
    for (int kh = 0; kh < KH; ++kh) {
      for (int j = 0; j < PAIRS; ++j)
        pairs[kh][j] = std::uint32_t(std::uint16_t(wc[kh * KW + 2 * j])) |
                       std::uint32_t(std::uint16_t(wc[kh * KW + 2 * j + 1]))
                           << 16;
      last[kh] = KW % 2 ? wc[kh * KW + KW - 1] : 0;
      for (int kw = 0; kw < KW; ++kw)
        sum += wc[kh * KW + kw];
    }
    const Requant q =
        requant<WS>(offset[c] - std::int64_t(XZ) * sum * multiplier[c],
                    multiplier[c], shift[c]);
    // Out of place nothing else writes the output (restrict, as x and y
    // were); in place the rows the ring has read are the output's.
    OutputPointer<InPlace> yc = y + plane * OH * OW;
    int widened = 0;
    for (int oh = 0; oh < OH; ++oh) {
      int top = oh * SH, lastRow = top + (KH - 1) * DH;
      for (int ihp = widened > top ? widened : top; ihp <= lastRow; ++ihp)
        widenPlaneRow<H, W, PT, PL, WP, XU, XZ>(xc, ihp,
                                                ring + ihp % RING * WP);
      widened = lastRow + 1;
      const Half *rows[KH];
      for (int kh = 0; kh < KH; ++kh)
        rows[kh] = ring + (top + kh * DH) % RING * WP;
      // Output pairs: the two sums share the weights' registers.
      int ow = 0;
      for (; ow + 1 < OW; ow += 2) {
        std::int32_t a0 = Taps::sum(rows, ow * SW, pairs, last);
        std::int32_t a1 = Taps::sum(rows, (ow + 1) * SW, pairs, last);
        yc[oh * OW + ow] = finish<Lo, Hi, WS, Table>(a0, q, table);
        yc[oh * OW + ow + 1] = finish<Lo, Hi, WS, Table>(a1, q, table);
      }
      if (ow < OW)
        yc[oh * OW + ow] = finish<Lo, Hi, WS, Table>(
            Taps::sum(rows, ow * SW, pairs, last), q, table);
    }
  }
}

} // namespace int8

/// int8 depthwise convolution (groups = C = F): x N x C x H x W (uint8 if
/// XU, zero point XZ), w C x 1 x KH x KW (signed, symmetric), y N x C x OH
/// x OW, the same requantization as qconv2d. Each channel's rows are
/// widened into a ring in scratch (int8::depthwiseScratchBytes, 8-aligned);
/// the taps of a kernel row go in pairs through SMLAD (adjacent int16 when
/// DW is 1), the zero point folded into the offset.
template <int N, int C, int H, int W, int KH, int KW, int OH, int OW, int SH,
          int SW, int PT, int PL, int DH, int DW, int XU, int XZ, int Lo,
          int Hi, int WS>
inline void
qdepthwise2d(const std::int8_t *__restrict x, const std::int8_t *__restrict w,
             const std::int32_t *__restrict multiplier,
             const std::int32_t *__restrict shift,
             const std::int64_t *__restrict offset, std::int8_t *__restrict y,
             std::int8_t *__restrict scratch) {
  int8::depthwiseLayer<N, C, H, W, KH, KW, OH, OW, SH, SW, PT, PL, DH, DW, XU,
                       XZ, Lo, Hi, WS, false>(x, w, multiplier, shift, offset,
                                              nullptr, y, scratch);
}

/// qdepthwise2d whose output bytes then go through a 256-entry `table`.
template <int N, int C, int H, int W, int KH, int KW, int OH, int OW, int SH,
          int SW, int PT, int PL, int DH, int DW, int XU, int XZ, int Lo,
          int Hi, int WS>
inline void qdepthwise2d_lut(const std::int8_t *__restrict x,
                             const std::int8_t *__restrict w,
                             const std::int32_t *__restrict multiplier,
                             const std::int32_t *__restrict shift,
                             const std::int64_t *__restrict offset,
                             const std::int8_t *__restrict table,
                             std::int8_t *__restrict y,
                             std::int8_t *__restrict scratch) {
  int8::depthwiseLayer<N, C, H, W, KH, KW, OH, OW, SH, SW, PT, PL, DH, DW, XU,
                       XZ, Lo, Hi, WS, true>(x, w, multiplier, shift, offset,
                                             table, y, scratch);
}

/// qdepthwise2d written over its input: y is x (stride 1, the output the
/// input's size, top padding within the window's height). The ring holds
/// every input row later outputs read: no more scratch than qdepthwise2d's,
/// as long as it holds a small image's plane (int8::depthwiseInPlaceFits).
template <int N, int C, int H, int W, int KH, int KW, int OH, int OW, int SH,
          int SW, int PT, int PL, int DH, int DW, int XU, int XZ, int Lo,
          int Hi, int WS>
inline void
qdepthwise2d_inplace(const std::int8_t *x, const std::int8_t *__restrict w,
                     const std::int32_t *__restrict multiplier,
                     const std::int32_t *__restrict shift,
                     const std::int64_t *__restrict offset, std::int8_t *y,
                     std::int8_t *__restrict scratch) {
  int8::depthwiseLayer<N, C, H, W, KH, KW, OH, OW, SH, SW, PT, PL, DH, DW, XU,
                       XZ, Lo, Hi, WS, false, true>(
      x, w, multiplier, shift, offset, nullptr, y, scratch);
}

/// qdepthwise2d_lut written over its input (as qdepthwise2d_inplace).
template <int N, int C, int H, int W, int KH, int KW, int OH, int OW, int SH,
          int SW, int PT, int PL, int DH, int DW, int XU, int XZ, int Lo,
          int Hi, int WS>
inline void
qdepthwise2d_lut_inplace(const std::int8_t *x, const std::int8_t *__restrict w,
                         const std::int32_t *__restrict multiplier,
                         const std::int32_t *__restrict shift,
                         const std::int64_t *__restrict offset,
                         const std::int8_t *__restrict table, std::int8_t *y,
                         std::int8_t *__restrict scratch) {
  int8::depthwiseLayer<N, C, H, W, KH, KW, OH, OW, SH, SW, PT, PL, DH, DW, XU,
                       XZ, Lo, Hi, WS, true, true>(x, w, multiplier, shift,
                                                   offset, table, y, scratch);
}

namespace int8 {

/// Whether qdepthwise2d can write over its input with its own scratch:
/// stride 1, the output the input's size, the top padding within the
/// window's height (rows are in the ring before they are overwritten), and
/// a small image's plane fits in the scratch (it is copied there).
constexpr bool depthwiseInPlaceFits(int h, int w, int kh, int kw, int oh,
                                    int ow, int sh, int sw, int pt, int pl,
                                    int dh, int dw) {
  return sh == 1 && sw == 1 && oh == h && ow == w && pt <= (kh - 1) * dh &&
         (h * w > kDepthwiseDirectPixels ||
          h * w <= depthwiseScratchBytes(w, kh, kw, ow, sw, pl, dh, dw));
}

/// Bytes rounded up to 8 (each part of a chain's scratch starts aligned).
constexpr int align8(int bytes) { return (bytes + 7) / 8 * 8; }

/// Two int16 values in one word, `lo` in the low half: what SMLAD reads.
MCUTRAIN_ALWAYS_INLINE std::uint32_t pack16(std::int32_t lo, std::int32_t hi) {
  return (std::uint32_t(lo) & 0xffffu) | (std::uint32_t(hi) << 16);
}

/// sums[f][p] += the sum over the block's MB channels j of w[f * M + j] *
/// (d[j][p] - XZ): the channels in pairs through dualMac (SMLAD), each
/// pixel's pairs packed once for all F outputs, each sum read and written
/// once per block. `packed` holds F * (MB / 2) words (the weights' pairs).
/// Per pair of products a load and an SMLAD; summed a channel at a time
/// the sums' loads and stores cost five instructions per product
/// (Cortex-M4, MobileNetV2-0.35 int8 at 128x128: 3.81 instructions per MAC
/// for the whole forward pass, 2.87 so; 2.12 unfused).
template <int F, int M, int MB, int P, int XU, int XZ>
inline void
chainProject(const std::int8_t *__restrict d, const std::int8_t *__restrict w,
             std::int32_t *__restrict sums, std::uint32_t *__restrict packed) {
  constexpr int Pairs = MB / 2;
  for (int f = 0; f < F; ++f)
    for (int q = 0; q < Pairs; ++q)
      packed[f * Pairs + q] = pack16(w[f * M + 2 * q], w[f * M + 2 * q + 1]);
  for (int p = 0; p < P; ++p) {
    std::uint32_t pixel[Pairs > 0 ? Pairs : 1];
    for (int q = 0; q < Pairs; ++q)
      pixel[q] = pack16(load8<XU>(d + 2 * q * P + p) - XZ,
                        load8<XU>(d + (2 * q + 1) * P + p) - XZ);
    const std::int32_t last = MB % 2 ? load8<XU>(d + (MB - 1) * P + p) - XZ : 0;
    for (int f = 0; f < F; ++f) {
      std::int32_t acc = sums[f * P + p];
      for (int q = 0; q < Pairs; ++q)
        acc = dualMac(pixel[q], packed[f * Pairs + q], acc);
      if constexpr (MB % 2 != 0)
        acc += w[f * M + MB - 1] * last;
      sums[f * P + p] = acc;
    }
  }
}

/// Scratch bytes of qconv_chain with a block of mb channels: the pointwise
/// layer's int32 sums (F x OH2 x OW2) and packed weight pairs, the first
/// layer's output planes, the depthwise planes, and the larger of the first
/// layer's (mb output channels) and the depthwise layer's own scratch.
constexpr int convChainScratchBytes(int mb, int c, int w, int kh, int kw,
                                    int oh, int ow, int sh, int sw, int pl,
                                    int dh, int dw, int kh2, int kw2, int oh2,
                                    int ow2, int sw2, int pl2, int dh2, int dw2,
                                    int f) {
  int conv = convScratchBytes(c, w, mb, kh, kw, ow, sw, pl, dh, dw, 1, oh, sh);
  int depthwise = depthwiseScratchBytes(ow, kh2, kw2, ow2, sw2, pl2, dh2, dw2);
  return align8(4 * f * oh2 * ow2) + align8(4 * f * (mb / 2)) +
         align8(mb * oh * ow) + align8(mb * oh2 * ow2) +
         (conv > depthwise ? conv : depthwise);
}

} // namespace int8

/// The int8 conv -> depthwise -> pointwise chain a block of MB intermediate
/// channels at a time (kernels::conv_chain's scheme): channels m..m + MB of
/// the first layer (qconv2d with MB output channels, their
/// requantization), their depthwise planes (qdepthwise2d on MB channels),
/// and those planes' products with every output channel's weights summed
/// into int32 (x - zero point, as qconv2d sums them); then each output is
/// requantized. Integer sums do not depend on their order: the outputs
/// equal the three layers' bit for bit. A block shares the first layer's
/// widened input and weights' set-up (Cortex-M4, MobileNetV2-0.35 int8 at
/// 128x128: 5.16 instructions per MAC with blocks of one channel, 2.12
/// unfused). Template parameters: qconv2d's (first layer, M output
/// channels, then its Lo1, Hi1, WS1), qdepthwise2d's geometry and input
/// and output quantization, the pointwise layer's F, input quantization
/// XU3, XZ3 and Lo3, Hi3, WS3, and MB (dividing M). `scratch`:
/// int8::convChainScratchBytes(MB, ...), 8-aligned.
template <int N, int C, int H, int W, int M, int KH, int KW, int OH, int OW,
          int SH, int SW, int PT, int PL, int DH, int DW, int XU, int XZ,
          int Lo1, int Hi1, int WS1, int KH2, int KW2, int OH2, int OW2,
          int SH2, int SW2, int PT2, int PL2, int DH2, int DW2, int XU2,
          int XZ2, int Lo2, int Hi2, int WS2, int F, int XU3, int XZ3, int Lo3,
          int Hi3, int WS3, int MB>
inline void qconv_chain(
    const std::int8_t *__restrict x, const std::int8_t *__restrict w1,
    const std::int32_t *__restrict multiplier1,
    const std::int32_t *__restrict shift1,
    const std::int64_t *__restrict offset1, const std::int8_t *__restrict w2,
    const std::int32_t *__restrict multiplier2,
    const std::int32_t *__restrict shift2,
    const std::int64_t *__restrict offset2, const std::int8_t *__restrict w3,
    const std::int32_t *__restrict multiplier3,
    const std::int32_t *__restrict shift3,
    const std::int64_t *__restrict offset3, std::int8_t *__restrict y,
    std::int8_t *__restrict scratch) {
  static_assert(M % MB == 0, "the channel block divides the channels");
  using int8::align8;
  constexpr int P2 = OH2 * OW2;
  std::int32_t *sums = reinterpret_cast<std::int32_t *>(scratch);
  std::uint32_t *packed =
      reinterpret_cast<std::uint32_t *>(scratch + align8(4 * F * P2));
  std::int8_t *e = scratch + align8(4 * F * P2) + align8(4 * F * (MB / 2));
  std::int8_t *d = e + align8(MB * OH * OW);
  std::int8_t *layerScratch = d + align8(MB * P2);
  for (int n = 0; n < N; ++n) {
    for (int i = 0; i < F * P2; ++i)
      sums[i] = 0;
    for (int m = 0; m < M; m += MB) {
      qconv2d<1, C, H, W, MB, KH, KW, OH, OW, SH, SW, PT, PL, DH, DW, XU, XZ,
              Lo1, Hi1, WS1>(x + n * C * H * W, w1 + m * C * KH * KW,
                             multiplier1 + m, shift1 + m, offset1 + m, e,
                             layerScratch);
      qdepthwise2d<1, MB, OH, OW, KH2, KW2, OH2, OW2, SH2, SW2, PT2, PL2, DH2,
                   DW2, XU2, XZ2, Lo2, Hi2, WS2>(e, w2 + m * KH2 * KW2,
                                                 multiplier2 + m, shift2 + m,
                                                 offset2 + m, d, layerScratch);
      int8::chainProject<F, M, MB, P2, XU3, XZ3>(d, w3 + m, sums, packed);
    }
    std::int8_t *yn = y + n * F * P2;
    for (int f = 0; f < F; ++f) {
      const int8::Requant q =
          int8::requant<WS3>(offset3[f], multiplier3[f], shift3[f]);
      for (int p = 0; p < P2; ++p)
        yn[f * P2 + p] =
            int8::finish<Lo3, Hi3, WS3, false>(sums[f * P2 + p], q, nullptr);
    }
  }
}

/// 8-bit max pooling on the padded input x (N x C x HP x WP; unsigned if
/// XU): y (N x C x OH x OW) = max(y, window maxima), what lower-to-linalg's
/// generic computes on the output it filled with the type's lowest value.
/// The window loops are unrolled (the generic's loop nest cost 17
/// instructions per window element on the Cortex-M4).
template <int N, int C, int HP, int WP, int KH, int KW, int OH, int OW, int SH,
          int SW, int DH, int DW, int XU>
inline void max_pool8(const std::int8_t *__restrict x,
                      std::int8_t *__restrict y) {
  using int8::load8;
  for (int plane = 0; plane < N * C; ++plane) {
    const std::int8_t *xp = x + plane * HP * WP;
    std::int8_t *yp = y + plane * OH * OW;
    for (int oh = 0; oh < OH; ++oh)
      for (int ow = 0; ow < OW; ++ow) {
        const std::int8_t *window = xp + oh * SH * WP + ow * SW;
        std::int8_t *out = yp + oh * OW + ow;
        std::int32_t m = load8<XU>(out);
        MCUTRAIN_UNROLL
        for (int kh = 0; kh < KH; ++kh)
          MCUTRAIN_UNROLL
        for (int kw = 0; kw < KW; ++kw) {
          std::int32_t v = load8<XU>(window + kh * DH * WP + kw * DW);
          m = v > m ? v : m;
        }
        *out = std::int8_t(m);
      }
  }
}

// ---- float32 gradients of the int8 layers (TTE's backward) ----
//
// The float32 weight and input gradients of int8 convolutions and of the
// input of an int8 Gemm, from the int8 values and their scales, what
// lower-to-linalg's loops of nn.qconv2d_grad_weight / _grad_input /
// nn.qgemm_grad_a compute (the same sums in another order: equal within
// float rounding, not bit for bit). No float copy of a whole tensor: one
// channel's plane at a time in scratch. The loops read each float once per
// multiply-add and keep a window's sums in registers (those loops read
// every int8 value through clamped index arithmetic: 36 Cortex-M4
// instructions per MAC on the DemoCNN's backward).
namespace int8 {

/// Rows (or columns) of a gradient kernel's padded plane: the input's
/// extent with its leading padding, or what the taps read, if more.
constexpr int gradPlaneExtent(int h, int kh, int oh, int sh, int pt, int dh) {
  return (oh - 1) * sh + (kh - 1) * dh + 1 > pt + h
             ? (oh - 1) * sh + (kh - 1) * dh + 1
             : pt + h;
}

/// Whether a convolution is a pointwise one over the whole plane (1 x 1,
/// unit strides, no padding, one group): its gradients are matrix products
/// with register tiles.
constexpr bool gradPointwise(int c, int cg, int h, int w, int kh, int kw,
                             int oh, int ow, int sh, int sw, int pt, int pl) {
  return kh == 1 && kw == 1 && sh == 1 && sw == 1 && pt == 0 && pl == 0 &&
         oh == h && ow == w && cg == c;
}

/// Pixels of a pointwise weight gradient's widened input rows.
constexpr int pointwiseChunk(int pixels) { return pixels < 256 ? pixels : 256; }

/// Scratch bytes of qconv2d_grad_weight: one padded float plane of the
/// input (pointwise: two input rows of pointwiseChunk pixels).
constexpr int convGradWeightScratchBytes(int c, int cg, int h, int w, int kh,
                                         int kw, int oh, int ow, int sh, int sw,
                                         int pt, int pl, int dh, int dw) {
  return gradPointwise(c, cg, h, w, kh, kw, oh, ow, sh, sw, pt, pl)
             ? 4 * 2 * pointwiseChunk(h * w)
             : 4 * gradPlaneExtent(h, kh, oh, sh, pt, dh) *
                   gradPlaneExtent(w, kw, ow, sw, pl, dw);
}

/// Rows (or columns) of the padded dy plane of a unit-stride layer's input
/// gradient: dy[oh] at row (KH-1)*DH + oh, read at PT + h + (KH-1-kh)*DH.
constexpr int gradSpreadExtent(int h, int kh, int oh, int pt, int dh) {
  return pt + h + (kh - 1) * dh > (kh - 1) * dh + oh ? pt + h + (kh - 1) * dh
                                                     : (kh - 1) * dh + oh;
}

/// Scratch bytes of qconv2d_grad_input: unit strides, one output channel's
/// dy padded into a float plane; other strides, a padded float plane of one
/// input channel's gradient (pointwise: the scaled weights of two input
/// channels, 2 F floats).
constexpr int convGradInputScratchBytes(int c, int cg, int h, int w, int f,
                                        int kh, int kw, int oh, int ow, int sh,
                                        int sw, int pt, int pl, int dh,
                                        int dw) {
  return gradPointwise(c, cg, h, w, kh, kw, oh, ow, sh, sw, pt, pl) ? 4 * 2 * f
         : sh == 1 && sw == 1 ? 4 * gradSpreadExtent(h, kh, oh, pt, dh) *
                                    gradSpreadExtent(w, kw, ow, pl, dw)
                              : 4 * gradPlaneExtent(h, kh, oh, sh, pt, dh) *
                                    gradPlaneExtent(w, kw, ow, sw, pl, dw);
}

/// acc[kh][kw] += sum over ow of g[ow] * x[kh*DH*WP + ow*SW + kw*DW]: one
/// output row's contribution to a filter's weight gradient, the KH x KW
/// sums in registers, g read once per output.
template <int KH, int KW, int OW, int SW, int DH, int DW, int WP>
MCUTRAIN_ALWAYS_INLINE void gradWeightRow(const float *__restrict g,
                                          const float *__restrict x,
                                          float (&acc)[KH * KW]) {
  for (int ow = 0; ow < OW; ++ow) {
    const float gv = g[ow];
    const float *xp = x + ow * SW;
    MCUTRAIN_UNROLL
    for (int kh = 0; kh < KH; ++kh)
      MCUTRAIN_UNROLL
    for (int kw = 0; kw < KW; ++kw)
      acc[kh * KW + kw] += gv * xp[kh * DH * WP + kw * DW];
  }
}

/// out[w] += sum over kh, kw of w[kh][kw] * dyp[(KH-1-kh)*DH*WS + w +
/// (KW-1-kw)*DW] for a row of W input-gradient columns of a unit-stride
/// layer (dyp: its padded dy plane, WS floats a row, at the row's first
/// tap): each column loaded and stored once per output channel (adding
/// every tap to a padded plane cost a load and a store per multiply-add:
/// 4.3-4.8 Cortex-M4 instructions per MAC).
template <int KH, int KW, int W, int DH, int DW, int WS>
MCUTRAIN_ALWAYS_INLINE void gradInputRow(const float *__restrict dyp,
                                         const float (&w)[KH][KW],
                                         float *__restrict out) {
  for (int col = 0; col < W; ++col) {
    float sum = out[col];
    MCUTRAIN_UNROLL
    for (int kh = 0; kh < KH; ++kh)
      MCUTRAIN_UNROLL
    for (int kw = 0; kw < KW; ++kw)
      sum +=
          w[kh][kw] * dyp[(KH - 1 - kh) * DH * WS + col + (KW - 1 - kw) * DW];
    out[col] = sum;
  }
}

/// row[ow*SW + kw*DW] += w[kw] * g[ow]: one output row's contribution,
/// through kernel row w, to a padded input row's gradient, for strided
/// layers (whose zero-inserted dy would be mostly zeros: a depthwise
/// stride-2 layer 10.6 Cortex-M4 instructions per MAC so, 7.5 this way).
template <int KW, int OW, int SW, int DW>
MCUTRAIN_ALWAYS_INLINE void gradInputRowStrided(const float *__restrict g,
                                                const float (&w)[KW],
                                                float *__restrict row) {
  for (int ow = 0; ow < OW; ++ow) {
    const float gv = g[ow];
    MCUTRAIN_UNROLL
    for (int kw = 0; kw < KW; ++kw)
      row[ow * SW + kw * DW] += w[kw] * gv;
  }
}

template <typename T> inline void zeroFill(T *__restrict v, int n) {
  for (int i = 0; i < n; ++i)
    v[i] = T(0);
}

/// dx[r][p] = sum over f of wt[r][f] * dy[f][p] for R rows of P pixels (a
/// pointwise input gradient; wt: R x F scaled weights): 4 pixels x R rows
/// of sums in registers, per f 4 + R loads for 4 R multiply-adds.
template <int R, int F, int P>
inline void pointwiseGradInputRows(const float *__restrict dy,
                                   const float *__restrict wt,
                                   float *__restrict dx) {
  constexpr int Q = 4;
  for (int p = 0; p + Q <= P; p += Q) {
    float acc[R][Q] = {};
    for (int f = 0; f < F; ++f) {
      float d[Q];
      MCUTRAIN_UNROLL
      for (int q = 0; q < Q; ++q)
        d[q] = dy[f * P + p + q];
      MCUTRAIN_UNROLL
      for (int r = 0; r < R; ++r)
        MCUTRAIN_UNROLL
      for (int q = 0; q < Q; ++q)
        acc[r][q] += wt[r * F + f] * d[q];
    }
    MCUTRAIN_UNROLL
    for (int r = 0; r < R; ++r)
      MCUTRAIN_UNROLL
    for (int q = 0; q < Q; ++q)
      dx[r * P + p + q] = acc[r][q];
  }
  for (int p = P / Q * Q; p < P; ++p)
    for (int r = 0; r < R; ++r) {
      float sum = 0;
      for (int f = 0; f < F; ++f)
        sum += wt[r * F + f] * dy[f * P + p];
      dx[r * P + p] = sum;
    }
}

/// dw[f*CG + r] += scale * sum over the chunk's pixels p of dy[f][p] *
/// xw[r*stride + p] for R input channels: 4 output channels x R of sums in
/// registers, per pixel 4 + R loads for 4 R multiply-adds.
template <int R, int F, int CG, int P>
inline void pointwiseGradWeightChunk(const float *__restrict dy, int pixels,
                                     const float *__restrict xw, int stride,
                                     float *__restrict dw, float scale) {
  constexpr int B = 4;
  for (int f = 0; f + B <= F; f += B) {
    float acc[B][R] = {};
    for (int p = 0; p < pixels; ++p) {
      float x[R];
      MCUTRAIN_UNROLL
      for (int r = 0; r < R; ++r)
        x[r] = xw[r * stride + p];
      MCUTRAIN_UNROLL
      for (int b = 0; b < B; ++b) {
        const float g = dy[(f + b) * P + p];
        MCUTRAIN_UNROLL
        for (int r = 0; r < R; ++r)
          acc[b][r] += g * x[r];
      }
    }
    MCUTRAIN_UNROLL
    for (int b = 0; b < B; ++b)
      MCUTRAIN_UNROLL
    for (int r = 0; r < R; ++r)
      dw[(f + b) * CG + r] += scale * acc[b][r];
  }
  for (int f = F / B * B; f < F; ++f)
    for (int r = 0; r < R; ++r) {
      float sum = 0;
      for (int p = 0; p < pixels; ++p)
        sum += dy[f * P + p] * xw[r * stride + p];
      dw[f * CG + r] += scale * sum;
    }
}

/// A pointwise layer's weight gradient: input channels in pairs, their
/// rows widened to float pointwiseChunk pixels at a time.
template <int N, int C, int F, int P, int XU, int XZ>
inline void pointwiseGradWeight(const float *__restrict dy,
                                const std::int8_t *__restrict x,
                                float *__restrict dw, float xScale,
                                float *__restrict rows) {
  constexpr int PC = pointwiseChunk(P);
  for (int n = 0; n < N; ++n)
    for (int c = 0; c < C; c += 2) {
      const bool pair = c + 1 < C;
      for (int p0 = 0; p0 < P; p0 += PC) {
        const int pixels = P - p0 < PC ? P - p0 : PC;
        for (int r = 0; r < (pair ? 2 : 1); ++r)
          for (int p = 0; p < pixels; ++p)
            rows[r * PC + p] =
                float(load8<XU>(x + (n * C + c + r) * P + p0 + p) - XZ);
        const float *g = dy + n * F * P + p0;
        if (pair)
          pointwiseGradWeightChunk<2, F, C, P>(g, pixels, rows, PC, dw + c,
                                               xScale);
        else
          pointwiseGradWeightChunk<1, F, C, P>(g, pixels, rows, PC, dw + c,
                                               xScale);
      }
    }
}

/// A pointwise layer's input gradient: input channels in pairs, their
/// weights (scaled, float) gathered into `wt` first.
template <int N, int C, int F, int P>
inline void pointwiseGradInput(const float *__restrict dy,
                               const std::int8_t *__restrict w,
                               const float *__restrict wScale,
                               float *__restrict dx, float *__restrict wt) {
  for (int c = 0; c < C; c += 2) {
    const bool pair = c + 1 < C;
    for (int r = 0; r < (pair ? 2 : 1); ++r)
      for (int f = 0; f < F; ++f)
        wt[r * F + f] = wScale[f] * float(w[f * C + c + r]);
    for (int n = 0; n < N; ++n) {
      float *out = dx + (n * C + c) * P;
      if (pair)
        pointwiseGradInputRows<2, F, P>(dy + n * F * P, wt, out);
      else
        pointwiseGradInputRows<1, F, P>(dy + n * F * P, wt, out);
    }
  }
}

} // namespace int8

/// Weight gradient of an int8 convolution from its 8-bit input: dw (F x CG
/// x KH x KW, float) = x_scale * sum over n, oh, ow of dy[n][f][oh][ow] *
/// (x[n][ci][oh*SH + kh*DH - PT][ow*SW + kw*DW - PL] - XZ), ci the input
/// channel c of f's group (G = C / CG groups), taps in the padding left
/// out. x N x C x H x W (uint8 if XU); each input channel is widened into a
/// float plane (x - XZ, zeros in the padding) in `scratch`
/// (int8::convGradWeightScratchBytes, 8-aligned).
template <int N, int C, int H, int W, int F, int CG, int KH, int KW, int OH,
          int OW, int SH, int SW, int PT, int PL, int DH, int DW, int XU,
          int XZ>
inline void qconv2d_grad_weight(const float *__restrict dy,
                                const std::int8_t *__restrict x,
                                float *__restrict dw, float xScale,
                                std::int8_t *__restrict scratch) {
  using namespace int8;
  constexpr int HP = gradPlaneExtent(H, KH, OH, SH, PT, DH);
  constexpr int WP = gradPlaneExtent(W, KW, OW, SW, PL, DW);
  constexpr int FG = F / (C / CG);
  float *plane = reinterpret_cast<float *>(scratch);
  zeroFill(dw, F * CG * KH * KW);
  if constexpr (gradPointwise(C, CG, H, W, KH, KW, OH, OW, SH, SW, PT, PL)) {
    pointwiseGradWeight<N, C, F, H * W, XU, XZ>(dy, x, dw, xScale, plane);
    return;
  }
  zeroFill(plane, HP * WP); // the padding stays zero
  for (int n = 0; n < N; ++n)
    for (int ci = 0; ci < C; ++ci) {
      const std::int8_t *xc = x + (n * C + ci) * H * W;
      for (int h = 0; h < H; ++h)
        for (int w = 0; w < W; ++w)
          plane[(PT + h) * WP + PL + w] = float(load8<XU>(xc + h * W + w) - XZ);
      const int group = ci / CG, c = ci % CG;
      for (int f = group * FG; f < (group + 1) * FG; ++f) {
        float acc[KH * KW] = {};
        const float *g = dy + (n * F + f) * OH * OW;
        for (int oh = 0; oh < OH; ++oh)
          gradWeightRow<KH, KW, OW, SW, DH, DW, WP>(g + oh * OW,
                                                    plane + oh * SH * WP, acc);
        float *out = dw + (f * CG + c) * KH * KW;
        for (int k = 0; k < KH * KW; ++k)
          out[k] += xScale * acc[k];
      }
    }
}

namespace int8 {
/// The scaled float taps w_scale[f] * w[f][c] of one filter.
template <int KH, int KW>
MCUTRAIN_ALWAYS_INLINE void scaledTaps(const std::int8_t *__restrict wf,
                                       float scale, float (&taps)[KH][KW]) {
  MCUTRAIN_UNROLL
  for (int kh = 0; kh < KH; ++kh)
    MCUTRAIN_UNROLL
  for (int kw = 0; kw < KW; ++kw)
    taps[kh][kw] = scale * float(wf[kh * KW + kw]);
}

/// qconv2d_grad_input of a unit-stride layer: per output channel, dy padded
/// into a float plane once, then every input channel of its group gathers
/// its taps from it, row by row, into dx.
template <int N, int C, int H, int W, int F, int CG, int KH, int KW, int OH,
          int OW, int PT, int PL, int DH, int DW>
inline void gradInputUnitStride(const float *__restrict dy,
                                const std::int8_t *__restrict w,
                                const float *__restrict wScale,
                                float *__restrict dx, float *__restrict dyp) {
  constexpr int HS = gradSpreadExtent(H, KH, OH, PT, DH);
  constexpr int WS = gradSpreadExtent(W, KW, OW, PL, DW);
  constexpr int FG = F / (C / CG);
  zeroFill(dx, N * C * H * W);
  zeroFill(dyp, HS * WS); // the padding stays zero
  for (int n = 0; n < N; ++n)
    for (int f = 0; f < F; ++f) {
      const float *g = dy + (n * F + f) * OH * OW;
      for (int oh = 0; oh < OH; ++oh)
        for (int ow = 0; ow < OW; ++ow)
          dyp[((KH - 1) * DH + oh) * WS + (KW - 1) * DW + ow] = g[oh * OW + ow];
      const int group = f / FG;
      for (int c = 0; c < CG; ++c) {
        float taps[KH][KW];
        scaledTaps<KH, KW>(w + (f * CG + c) * KH * KW, wScale[f], taps);
        float *out = dx + (n * C + group * CG + c) * H * W;
        for (int h = 0; h < H; ++h)
          gradInputRow<KH, KW, W, DH, DW, WS>(dyp + (PT + h) * WS + PL, taps,
                                              out + h * W);
      }
    }
}

/// qconv2d_grad_input of a strided layer: each input channel's gradient
/// accumulated in a padded float plane, every output's taps added to it,
/// then its inside copied out.
template <int N, int C, int H, int W, int F, int CG, int KH, int KW, int OH,
          int OW, int SH, int SW, int PT, int PL, int DH, int DW>
inline void gradInputStrided(const float *__restrict dy,
                             const std::int8_t *__restrict w,
                             const float *__restrict wScale,
                             float *__restrict dx, float *__restrict plane) {
  constexpr int HP = gradPlaneExtent(H, KH, OH, SH, PT, DH);
  constexpr int WP = gradPlaneExtent(W, KW, OW, SW, PL, DW);
  constexpr int FG = F / (C / CG);
  for (int n = 0; n < N; ++n)
    for (int ci = 0; ci < C; ++ci) {
      zeroFill(plane, HP * WP);
      const int group = ci / CG, c = ci % CG;
      for (int f = group * FG; f < (group + 1) * FG; ++f) {
        float taps[KH][KW];
        scaledTaps<KH, KW>(w + (f * CG + c) * KH * KW, wScale[f], taps);
        const float *g = dy + (n * F + f) * OH * OW;
        for (int oh = 0; oh < OH; ++oh)
          MCUTRAIN_UNROLL
        for (int kh = 0; kh < KH; ++kh)
          gradInputRowStrided<KW, OW, SW, DW>(g + oh * OW, taps[kh],
                                              plane + (oh * SH + kh * DH) * WP);
      }
      float *out = dx + (n * C + ci) * H * W;
      for (int h = 0; h < H; ++h)
        for (int col = 0; col < W; ++col)
          out[h * W + col] = plane[(PT + h) * WP + PL + col];
    }
}
} // namespace int8

/// Input gradient of an int8 convolution from its symmetric int8 weight:
/// dx (N x C x H x W, float) = sum over f of f's group, kh, kw of
/// dy[n][f][oh][ow] * w_scale[f] * w[f][c][kh][kw] over the (oh, ow) whose
/// tap (kh, kw) read x[n][ci][h][w]. Pointwise layers as register tiles,
/// unit-stride ones gathering from one output channel's padded dy at a
/// time, strided ones adding to one input channel's padded gradient at a
/// time; the plane in `scratch` (int8::convGradInputScratchBytes,
/// 8-aligned). No zero-inserted or padded copy of the whole dy.
template <int N, int C, int H, int W, int F, int CG, int KH, int KW, int OH,
          int OW, int SH, int SW, int PT, int PL, int DH, int DW>
inline void
qconv2d_grad_input(const float *__restrict dy, const std::int8_t *__restrict w,
                   const float *__restrict wScale, float *__restrict dx,
                   std::int8_t *__restrict scratch) {
  using namespace int8;
  float *plane = reinterpret_cast<float *>(scratch);
  if constexpr (gradPointwise(C, CG, H, W, KH, KW, OH, OW, SH, SW, PT, PL))
    pointwiseGradInput<N, C, F, H * W>(dy, w, wScale, dx, plane);
  else if constexpr (SH == 1 && SW == 1)
    gradInputUnitStride<N, C, H, W, F, CG, KH, KW, OH, OW, PT, PL, DH, DW>(
        dy, w, wScale, dx, plane);
  else
    gradInputStrided<N, C, H, W, F, CG, KH, KW, OH, OW, SH, SW, PT, PL, DH, DW>(
        dy, w, wScale, dx, plane);
}

/// Input gradient of an int8 Gemm from its symmetric int8 weight b (K x N,
/// or N x K if TB): da (M x K, float) = sum over n of dy[m][n] *
/// w_scale[n] * b(k, n). Each weight is read once (a batch-1 layer's
/// weights are used once), as int8.
template <int M, int N, int K, int TB>
inline void qgemm_grad_a(const float *__restrict dy,
                         const std::int8_t *__restrict b,
                         const float *__restrict wScale, float *__restrict da) {
  for (int m = 0; m < M; ++m) {
    float *out = da + m * K;
    int8::zeroFill(out, K);
    for (int n = 0; n < N; ++n) {
      const float s = dy[m * N + n] * wScale[n];
      if constexpr (TB != 0) {
        const std::int8_t *row = b + n * K;
        for (int k = 0; k < K; ++k)
          out[k] += s * float(row[k]);
      } else {
        for (int k = 0; k < K; ++k)
          out[k] += s * float(b[k * N + n]);
      }
    }
  }
}

} // namespace kernels
} // namespace mcutrain

#endif
