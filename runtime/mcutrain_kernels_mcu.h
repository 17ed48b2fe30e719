// mcutrain_kernels_mcu.h - register-blocked float kernels for microcontroller
// cores (Cortex-M4/M7/M55, with or without Helium; RV32 with F), included by
// mcutrain_kernels.h, which calls them where MCUTRAIN_KERNELS_SCALAR is set.
//
// Such a core has 32 single-precision registers and one multiply-add per
// instruction, so the cost of a kernel is its instructions: a multiply-add,
// plus the loads that feed it. A tile of accumulators held in registers over
// the whole reduction amortises the loads: a 4 x 4 tile of a convolution (4
// output channels x 4 positions of a row) loads, per kernel row of one input
// channel, the 6 input values under it and 12 weights for 48 multiply-adds.
// Every output is summed in the order of the plain loop nest (input channel,
// kernel row, kernel column for a convolution; positions in order for a weight
// gradient), starting from the same value, with the same fused multiply-adds:
// the results are the scalar loops' to the bit (the strided input gradient
// excepted: it sums per tap, then across taps). With Helium (Cortex-M55) the
// stride-1 correlations and the SGD updates run in 4-lane vectors whose
// lanes are outputs: the same sums, the same bits.
#ifndef MCUTRAIN_KERNELS_MCU_H
#define MCUTRAIN_KERNELS_MCU_H

namespace mcutrain {
namespace kernels {
namespace mcu {

// Loops over the registers of a tile are unrolled whatever the compiler's
// own limits, so that every accumulator and operand is a register.
#define MCUTRAIN_TILE_UNROLL _Pragma("GCC unroll 64")
// Loops that must stay loops (the reduction around a tile).
#define MCUTRAIN_NO_UNROLL _Pragma("GCC unroll 1")

/// Loads below it stay below it. GCC's scheduler hoists the operands of a
/// tile's next step over the multiply-adds of this one, more values than
/// the registers hold: the allocator then shuffles accumulators between
/// registers (arm-none-eabi-g++ 12 -O2, the 4 x 4 convolution tile: 77
/// instructions per 48 multiply-adds with 7 register moves, 72 with this).

template <int V> struct Int { static constexpr int value = V; };
/// Calls body(Int<size>(), start) over [0, Total) in blocks of B (the last
/// one shorter), so that every block's size is a compile-time constant
/// (mcutrain_kernels.h's loops use it too).
template <int Total, int B, typename Body> inline void blocks(Body &&body) {
  constexpr int full = Total / B * B;
  for (int start = 0; start < full; start += B)
    body(Int<B>(), start);
  if constexpr (full < Total)
    body(Int<Total - full>(), full);
}
// Arm's VFP (Cortex-M4F/M7/M55) loads several consecutive
// floats in one instruction (VLDM with write-back), which compilers do not
// emit for float loads: the tiles load their rows through loadFloats, one
// instruction per row there (the batch-1 Linear layer's dot products: 23
// instructions per 16 multiply-adds, 41 with a load per float).
#if defined(__arm__) && defined(__ARM_FP) && (__ARM_FP & 4) &&                 \
    !defined(__ARM_NEON)
#define MCUTRAIN_MCU_VLDM 1
#else
#define MCUTRAIN_MCU_VLDM 0
#endif

// Helium (MVE with floating point: the Cortex-M55) adds eight 4-lane
// vector registers q0-q7 (the same storage as s0-s31) and multiply-adds of
// a vector by a scalar in a core register: the stride-1 correlations take
// 4-lane tiles there (correlateRowsHelium).
#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 2)
#define MCUTRAIN_MCU_HELIUM 1
#include <arm_mve.h>
#else
#define MCUTRAIN_MCU_HELIUM 0
#endif

#if MCUTRAIN_MCU_VLDM
// (The floats read are an operand, not a "memory" clobber: that would make
// the compiler write every accumulator it keeps in memory back around it.)
#define MCUTRAIN_VLDM(P, REGS, ...)                                            \
  __asm__ volatile("vldmia %[p]!, {" REGS "}"                                  \
                   : __VA_ARGS__, [p] "+r"(P)                                  \
                   : "m"(*(const float(*)[Count])P))
/// NAME<Count>(p, v): v[0..Count) = p[0..Count), p += Count, in one VLDM
/// into the registers from R0 on. Block b starts at s(4b): operands of a
/// tile that are live together load into different blocks, the
/// accumulators take the registers above them.
#define MCUTRAIN_DEFINE_VLDM(NAME, R0, R1, R2, R3, R4, R5, R6, R7)             \
  template <int Count>                                                         \
  __attribute__((always_inline)) inline void NAME(const float *__restrict &p,  \
                                                  float *__restrict v) {       \
    [[maybe_unused]] register float t0 __asm__(R0), t1 __asm__(R1),            \
        t2 __asm__(R2), t3 __asm__(R3), t4 __asm__(R4), t5 __asm__(R5),        \
        t6 __asm__(R6), t7 __asm__(R7);                                        \
    if constexpr (Count == 1)                                                  \
      MCUTRAIN_VLDM(p, R0, "=t"(t0));                                          \
    else if constexpr (Count == 2)                                             \
      MCUTRAIN_VLDM(p, R0 "-" R1, "=t"(t0), "=t"(t1));                         \
    else if constexpr (Count == 3)                                             \
      MCUTRAIN_VLDM(p, R0 "-" R2, "=t"(t0), "=t"(t1), "=t"(t2));               \
    else if constexpr (Count == 4)                                             \
      MCUTRAIN_VLDM(p, R0 "-" R3, "=t"(t0), "=t"(t1), "=t"(t2), "=t"(t3));     \
    else if constexpr (Count == 5)                                             \
      MCUTRAIN_VLDM(p, R0 "-" R4, "=t"(t0), "=t"(t1), "=t"(t2), "=t"(t3),      \
                    "=t"(t4));                                                 \
    else if constexpr (Count == 6)                                             \
      MCUTRAIN_VLDM(p, R0 "-" R5, "=t"(t0), "=t"(t1), "=t"(t2), "=t"(t3),      \
                    "=t"(t4), "=t"(t5));                                       \
    else if constexpr (Count == 7)                                             \
      MCUTRAIN_VLDM(p, R0 "-" R6, "=t"(t0), "=t"(t1), "=t"(t2), "=t"(t3),      \
                    "=t"(t4), "=t"(t5), "=t"(t6));                             \
    else                                                                       \
      MCUTRAIN_VLDM(p, R0 "-" R7, "=t"(t0), "=t"(t1), "=t"(t2), "=t"(t3),      \
                    "=t"(t4), "=t"(t5), "=t"(t6), "=t"(t7));                   \
    v[0] = t0;                                                                 \
    if constexpr (Count > 1)                                                   \
      v[1] = t1;                                                               \
    if constexpr (Count > 2)                                                   \
      v[2] = t2;                                                               \
    if constexpr (Count > 3)                                                   \
      v[3] = t3;                                                               \
    if constexpr (Count > 4)                                                   \
      v[4] = t4;                                                               \
    if constexpr (Count > 5)                                                   \
      v[5] = t5;                                                               \
    if constexpr (Count > 6)                                                   \
      v[6] = t6;                                                               \
    if constexpr (Count > 7)                                                   \
      v[7] = t7;                                                               \
  }
MCUTRAIN_DEFINE_VLDM(vldmBlock0, "s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7")
MCUTRAIN_DEFINE_VLDM(vldmBlock1, "s4", "s5", "s6", "s7", "s8", "s9", "s10",
                     "s11")
MCUTRAIN_DEFINE_VLDM(vldmBlock2, "s8", "s9", "s10", "s11", "s12", "s13", "s14",
                     "s15")
MCUTRAIN_DEFINE_VLDM(vldmBlock3, "s12", "s13", "s14", "s15", "s16", "s17",
                     "s18", "s19")
MCUTRAIN_DEFINE_VLDM(vldmBlock4, "s16", "s17", "s18", "s19", "s20", "s21",
                     "s22", "s23")
MCUTRAIN_DEFINE_VLDM(vldmBlock5, "s20", "s21", "s22", "s23", "s24", "s25",
                     "s26", "s27")
MCUTRAIN_DEFINE_VLDM(vldmBlock6, "s24", "s25", "s26", "s27", "s28", "s29",
                     "s30", "s31")
// (At most 4 registers from s28: the rest of the names are not used.)
MCUTRAIN_DEFINE_VLDM(vldmBlock7, "s28", "s29", "s30", "s31", "s28", "s29",
                     "s30", "s31")
#define MCUTRAIN_VSTM(P, REGS, ...)                                            \
  __asm__ volatile("vstmia %[p]!, {" REGS "}"                                  \
                   : [p] "+r"(P), "=m"(*(float(*)[Count])P)                    \
                   : __VA_ARGS__)
/// NAME<Count>(p, v): p[0..Count) = v[0..Count), p += Count, in one VSTM
/// from the registers from R0 on (at most 4).
#define MCUTRAIN_DEFINE_VSTM(NAME, R0, R1, R2, R3)                             \
  template <int Count>                                                         \
  __attribute__((always_inline)) inline void NAME(float *__restrict &p,        \
                                                  const float *__restrict v) { \
    static_assert(Count >= 1 && Count <= 4);                                   \
    register float t0 __asm__(R0) = v[0];                                      \
    [[maybe_unused]] register float t1 __asm__(R1) = Count > 1 ? v[1] : 0.0f;  \
    [[maybe_unused]] register float t2 __asm__(R2) = Count > 2 ? v[2] : 0.0f;  \
    [[maybe_unused]] register float t3 __asm__(R3) = Count > 3 ? v[3] : 0.0f;  \
    if constexpr (Count == 1)                                                  \
      MCUTRAIN_VSTM(p, R0, "t"(t0));                                           \
    else if constexpr (Count == 2)                                             \
      MCUTRAIN_VSTM(p, R0 "-" R1, "t"(t0), "t"(t1));                           \
    else if constexpr (Count == 3)                                             \
      MCUTRAIN_VSTM(p, R0 "-" R2, "t"(t0), "t"(t1), "t"(t2));                  \
    else                                                                       \
      MCUTRAIN_VSTM(p, R0 "-" R3, "t"(t0), "t"(t1), "t"(t2), "t"(t3));         \
  }
MCUTRAIN_DEFINE_VSTM(vstmBlock6, "s24", "s25", "s26", "s27")
MCUTRAIN_DEFINE_VSTM(vstmBlock7, "s28", "s29", "s30", "s31")
#undef MCUTRAIN_DEFINE_VSTM
#undef MCUTRAIN_VSTM

/// pinK(v): v is in sK at this point (an empty asm), so that a tile's
/// accumulators stay in s0-s15 across the loop around it.
#define MCUTRAIN_DEFINE_PIN(K)                                                 \
  __attribute__((always_inline)) inline void pin##K(float &v) {                \
    register float r __asm__("s" #K) = v;                                      \
    __asm__ volatile("" : "+t"(r));                                            \
    v = r;                                                                     \
  }
MCUTRAIN_DEFINE_PIN(0)
MCUTRAIN_DEFINE_PIN(1)
MCUTRAIN_DEFINE_PIN(2)
MCUTRAIN_DEFINE_PIN(3)
MCUTRAIN_DEFINE_PIN(4)
MCUTRAIN_DEFINE_PIN(5)
MCUTRAIN_DEFINE_PIN(6)
MCUTRAIN_DEFINE_PIN(7)
MCUTRAIN_DEFINE_PIN(8)
MCUTRAIN_DEFINE_PIN(9)
MCUTRAIN_DEFINE_PIN(10)
MCUTRAIN_DEFINE_PIN(11)
MCUTRAIN_DEFINE_PIN(12)
MCUTRAIN_DEFINE_PIN(13)
MCUTRAIN_DEFINE_PIN(14)
MCUTRAIN_DEFINE_PIN(15)
#undef MCUTRAIN_DEFINE_PIN
#undef MCUTRAIN_DEFINE_VLDM
#undef MCUTRAIN_VLDM
#endif

/// v[0..Count) = p[0..Count), then p += Count: one instruction, into the
/// registers from s(4 * Block) on, where the core has VLDM and Count is at
/// most 8.
template <int Count, int Block>
__attribute__((always_inline)) inline void
loadFloats(const float *__restrict &p, float *__restrict v) {
#if MCUTRAIN_MCU_VLDM
  static_assert(Block >= 0 && Block <= 7 && (Block < 7 || Count <= 4));
  if constexpr (Count <= 8) {
    if constexpr (Block == 0)
      vldmBlock0<Count>(p, v);
    else if constexpr (Block == 1)
      vldmBlock1<Count>(p, v);
    else if constexpr (Block == 2)
      vldmBlock2<Count>(p, v);
    else if constexpr (Block == 3)
      vldmBlock3<Count>(p, v);
    else if constexpr (Block == 4)
      vldmBlock4<Count>(p, v);
    else if constexpr (Block == 5)
      vldmBlock5<Count>(p, v);
    else if constexpr (Block == 6)
      vldmBlock6<Count>(p, v);
    else
      vldmBlock7<Count>(p, v);
    return;
  }
#endif
  MCUTRAIN_TILE_UNROLL for (int i = 0; i < Count; ++i) v[i] = p[i];
  p += Count;
}

/// p[0..Count) = v[0..Count), then p += Count: one instruction from the
/// registers from s(4 * Block) on (Block 6 or 7) where the core has VSTM.
template <int Count, int Block>
__attribute__((always_inline)) inline void storeFloats(float *__restrict &p,
                                                       const float *v) {
#if MCUTRAIN_MCU_VLDM
  static_assert(Block == 6 || Block == 7);
  if constexpr (Count <= 4) {
    if constexpr (Block == 6)
      vstmBlock6<Count>(p, v);
    else
      vstmBlock7<Count>(p, v);
    return;
  }
#endif
  MCUTRAIN_TILE_UNROLL for (int i = 0; i < Count; ++i) p[i] = v[i];
  p += Count;
}

/// Whether correlateTile takes the 3x3 assembler path (its weights packed
/// in pairs: pairedWeight).
template <int FB, int KW, int SW, int DW> constexpr bool paired() {
  return MCUTRAIN_MCU_VLDM && !MCUTRAIN_MCU_HELIUM && FB == 4 && KW == 3 &&
         SW == 1 && DW == 1;
}

/// Where correlate3x3Rows wants weight (b, kw) of a packed kernel row:
/// channels 0-1 for the three columns, then channels 2-3.
constexpr int pairedWeight(int b, int kw) {
  return (b / 2 * 3 + kw) * 2 + b % 2;
}

/// The blocks the tiles load into: a window of up to 8 values (or two
/// rows of 4) from s16, rows of up to 4 alternately from s24 and s28. The
/// accumulators then take s0-s15: the allocator prefers them (they need
/// not be saved), and the registers a load writes must not hold one
/// (arm-none-eabi-g++ 12 moved the 4 x 4 convolution tile's accumulators
/// out of the way of loads into s8-s15: 23 moves per 48 multiply-adds).
constexpr int kWindowBlock = 4, kRowBlock = 6;

#if MCUTRAIN_MCU_VLDM
/// pinK for a constant K.
template <int K> __attribute__((always_inline)) inline void pinAt(float &v) {
  if constexpr (K == 0)
    pin0(v);
  else if constexpr (K == 1)
    pin1(v);
  else if constexpr (K == 2)
    pin2(v);
  else if constexpr (K == 3)
    pin3(v);
  else if constexpr (K == 4)
    pin4(v);
  else if constexpr (K == 5)
    pin5(v);
  else if constexpr (K == 6)
    pin6(v);
  else if constexpr (K == 7)
    pin7(v);
  else if constexpr (K == 8)
    pin8(v);
  else if constexpr (K == 9)
    pin9(v);
  else if constexpr (K == 10)
    pin10(v);
  else if constexpr (K == 11)
    pin11(v);
  else if constexpr (K == 12)
    pin12(v);
  else if constexpr (K == 13)
    pin13(v);
  else if constexpr (K == 14)
    pin14(v);
  else if constexpr (K == 15)
    pin15(v);
}
template <int K, int Count>
__attribute__((always_inline)) inline void pinFrom(float *v) {
  if constexpr (K < Count) {
    pinAt<K>(v[K]);
    pinFrom<K + 1, Count>(v);
  }
}
#endif

/// Keeps the Count accumulators of a tile in s0.. where the core has VLDM
/// (at most 16; more are left to the allocator): it otherwise moved the
/// 4 x 4 convolution tile's accumulators between registers around its
/// loads (84 instructions per 48 multiply-adds, 22 of them moves).
template <int Count>
__attribute__((always_inline)) inline void pinLow(float *v) {
#if MCUTRAIN_MCU_VLDM
  if constexpr (Count <= 16)
    pinFrom<0, Count>(v);
#else
  (void)v;
#endif
}

/// loadFloats into block Block or Block + 1 as i is even or odd: the rows
/// of a tile loaded one after another alternate, so that a row's load does
/// not wait for the multiply-adds of the one before. (i is a constant once
/// the loop around is unrolled: the other branch goes.)
template <int Count, int Block>
__attribute__((always_inline)) inline void
loadFloatsAlternating(int i, const float *__restrict &p, float *__restrict v) {
  if (i % 2 == 0)
    loadFloats<Count, Block>(p, v);
  else
    loadFloats<Count, Block + 1>(p, v);
}

constexpr int divisorAtMost(int n, int limit) {
  int best = 1;
  for (int d = 1; d <= n && d <= limit; ++d)
    if (n % d == 0)
      best = d;
  return best;
}
constexpr int smaller(int a, int b) { return a < b ? a : b; }

/// Floats of stack a kernel may use for weights packed in tile order
/// (2 KB: the firmware's stack is 8 KB).
constexpr int kPackFloats = 512;

} // namespace mcu

/// What a fused convolution applies to its output: nothing, ReLU
/// (x > 0 ? x : 0, NaN to 0) or a clip to [lo, hi] (NaN stays NaN), as the
/// elementwise loops they replace.
enum Activation { kIdentity = 0, kRelu = 1, kClip = 2 };

namespace mcu {

template <int Act> inline float activated(float v, float lo, float hi) {
  if constexpr (Act == kRelu) {
    return v > 0.0f ? v : 0.0f;
  } else if constexpr (Act == kClip) {
    const float low = v < lo ? lo : v;
    return low > hi ? hi : low;
  } else {
    return v;
  }
}

/// Where a correlation tile starts and how it ends: from the output (it
/// accumulates) or from the bias of its output channel, stored as is or
/// through the activation.
struct Epilogue {
  const float *bias;
  float lo, hi;
};

/// Positions of a convolution tile along an output row: up to 4 (6 for
/// one output channel), fewer
/// where their window of input values (at most 8: one load) and 4
/// accumulators per position would not leave the weights their registers.
constexpr int tilePositions(int fb, int sw, int kw, int dw) {
  // (One output channel, a depthwise layer's: more positions per tile.)
  for (int pb = fb == 1 ? 6 : 4; pb > 1; --pb) {
    const int window = (pb - 1) * sw + (kw - 1) * dw + 1;
    if (fb * pb + window + fb <= 28 && (window <= 8 || pb == 2))
      return pb;
  }
  return 1;
}

#if MCUTRAIN_MCU_VLDM
// The 3x3 stride-1 tiles as assembler: the compiler's own allocation moved
// accumulators and window values between registers around the loads (the
// convolution tile: 60 instructions per 48 multiply-adds, 52 here; the
// weight gradient's: 75, 53 here). The accumulators are register
// variables a0.. in s0.. for the whole reduction, operands of every
// statement; a statement takes at most 30 operands, an accumulator 2
// ("+t"), so a step of 16 or 12 is two statements, one per pair of output
// channels, the second reading the window the first loaded (as operands:
// nothing may reuse s16-s21 between them).
/// One line of a step: sACC += sA * sB.
#define MCUTRAIN_FMA(ACC, A, B) "vfma.f32 s" #ACC ", s" #A ", s" #B "\n\t"
#define MCUTRAIN_ACC(i) register float a##i __asm__("s" #i) = acc[i]
#define MCUTRAIN_WINDOW                                                        \
  [[maybe_unused]] register float v0 __asm__("s16"), v1 __asm__("s17"),        \
      v2 __asm__("s18"), v3 __asm__("s19"), v4 __asm__("s20"),                 \
      v5 __asm__("s21"), v6 __asm__("s22")
#define MCUTRAIN_WINDOW_OUT(n) MCUTRAIN_WINDOW_OUT_##n
#define MCUTRAIN_WINDOW_OUT_3 "=t"(v0), "=t"(v1), "=t"(v2)
#define MCUTRAIN_WINDOW_OUT_4 MCUTRAIN_WINDOW_OUT_3, "=t"(v3)
#define MCUTRAIN_WINDOW_OUT_5 MCUTRAIN_WINDOW_OUT_4, "=t"(v4)
#define MCUTRAIN_WINDOW_OUT_6 MCUTRAIN_WINDOW_OUT_5, "=t"(v5)
#define MCUTRAIN_WINDOW_OUT_7 MCUTRAIN_WINDOW_OUT_6, "=t"(v6)
#define MCUTRAIN_WINDOW_IN(n) MCUTRAIN_WINDOW_IN_##n
#define MCUTRAIN_WINDOW_IN_3 "t"(v0), "t"(v1), "t"(v2)
#define MCUTRAIN_WINDOW_IN_4 MCUTRAIN_WINDOW_IN_3, "t"(v3)
#define MCUTRAIN_WINDOW_IN_5 MCUTRAIN_WINDOW_IN_4, "t"(v4)
#define MCUTRAIN_WINDOW_IN_6 MCUTRAIN_WINDOW_IN_5, "t"(v5)
#define MCUTRAIN_WINDOW_IN_7 MCUTRAIN_WINDOW_IN_6, "t"(v6)

// BEGIN gen_mcu_asm.py (scripts/gen_mcu_asm.py writes this region)
// clang-format off
/// correlateTile's reduction for 4 output channels x 4 positions of a
/// 3x3 stride-1 kernel, weights packed by pairedWeight: acc[b*4 + p] in
/// s(4b + p) over the whole loop; per kernel row 1 + 6 loads and 48
/// multiply-adds.
template <int CC, int KH, int DH, int WP, int PLANE>
__attribute__((always_inline)) inline void
correlate3x3Rows4(const float *__restrict in, const float *__restrict wp,
                  float *acc) {
  MCUTRAIN_ACC(0);
  MCUTRAIN_ACC(1);
  MCUTRAIN_ACC(2);
  MCUTRAIN_ACC(3);
  MCUTRAIN_ACC(4);
  MCUTRAIN_ACC(5);
  MCUTRAIN_ACC(6);
  MCUTRAIN_ACC(7);
  MCUTRAIN_ACC(8);
  MCUTRAIN_ACC(9);
  MCUTRAIN_ACC(10);
  MCUTRAIN_ACC(11);
  MCUTRAIN_ACC(12);
  MCUTRAIN_ACC(13);
  MCUTRAIN_ACC(14);
  MCUTRAIN_ACC(15);
  MCUTRAIN_NO_UNROLL for (int c = 0; c < CC; ++c)
    MCUTRAIN_NO_UNROLL for (int kh = 0; kh < KH; ++kh) {
      const float *row = in + c * PLANE + kh * DH * WP;
      MCUTRAIN_WINDOW;
      __asm__ volatile(
          "vldmia %[row], {s16-s21}\n\t"
          "vldmia %[w]!, {s24-s25}\n\t"
          MCUTRAIN_FMA(0, 24, 16) MCUTRAIN_FMA(1, 24, 17) MCUTRAIN_FMA(2, 24, 18) MCUTRAIN_FMA(3, 24, 19)
          MCUTRAIN_FMA(4, 25, 16) MCUTRAIN_FMA(5, 25, 17) MCUTRAIN_FMA(6, 25, 18) MCUTRAIN_FMA(7, 25, 19)
          "vldmia %[w]!, {s26-s27}\n\t"
          MCUTRAIN_FMA(0, 26, 17) MCUTRAIN_FMA(1, 26, 18) MCUTRAIN_FMA(2, 26, 19) MCUTRAIN_FMA(3, 26, 20)
          MCUTRAIN_FMA(4, 27, 17) MCUTRAIN_FMA(5, 27, 18) MCUTRAIN_FMA(6, 27, 19) MCUTRAIN_FMA(7, 27, 20)
          "vldmia %[w]!, {s28-s29}\n\t"
          MCUTRAIN_FMA(0, 28, 18) MCUTRAIN_FMA(1, 28, 19) MCUTRAIN_FMA(2, 28, 20) MCUTRAIN_FMA(3, 28, 21)
          MCUTRAIN_FMA(4, 29, 18) MCUTRAIN_FMA(5, 29, 19) MCUTRAIN_FMA(6, 29, 20) MCUTRAIN_FMA(7, 29, 21)
          : "+t"(a0), "+t"(a1), "+t"(a2), "+t"(a3), "+t"(a4), "+t"(a5), "+t"(a6), "+t"(a7), MCUTRAIN_WINDOW_OUT(6), [w] "+r"(wp)
          : [row] "r"(row), "m"(*(const float(*)[6])row), "m"(*(const float(*)[6])wp)
          : "s24", "s25", "s26", "s27", "s28", "s29");
      __asm__ volatile(
          "vldmia %[w]!, {s24-s25}\n\t"
          MCUTRAIN_FMA(8, 24, 16) MCUTRAIN_FMA(9, 24, 17) MCUTRAIN_FMA(10, 24, 18) MCUTRAIN_FMA(11, 24, 19)
          MCUTRAIN_FMA(12, 25, 16) MCUTRAIN_FMA(13, 25, 17) MCUTRAIN_FMA(14, 25, 18) MCUTRAIN_FMA(15, 25, 19)
          "vldmia %[w]!, {s26-s27}\n\t"
          MCUTRAIN_FMA(8, 26, 17) MCUTRAIN_FMA(9, 26, 18) MCUTRAIN_FMA(10, 26, 19) MCUTRAIN_FMA(11, 26, 20)
          MCUTRAIN_FMA(12, 27, 17) MCUTRAIN_FMA(13, 27, 18) MCUTRAIN_FMA(14, 27, 19) MCUTRAIN_FMA(15, 27, 20)
          "vldmia %[w]!, {s28-s29}\n\t"
          MCUTRAIN_FMA(8, 28, 18) MCUTRAIN_FMA(9, 28, 19) MCUTRAIN_FMA(10, 28, 20) MCUTRAIN_FMA(11, 28, 21)
          MCUTRAIN_FMA(12, 29, 18) MCUTRAIN_FMA(13, 29, 19) MCUTRAIN_FMA(14, 29, 20) MCUTRAIN_FMA(15, 29, 21)
          : "+t"(a8), "+t"(a9), "+t"(a10), "+t"(a11), "+t"(a12), "+t"(a13), "+t"(a14), "+t"(a15), [w] "+r"(wp)
          : MCUTRAIN_WINDOW_IN(6), "m"(*(const float(*)[6])wp)
          : "s24", "s25", "s26", "s27", "s28", "s29");
    }
  acc[0] = a0;
  acc[1] = a1;
  acc[2] = a2;
  acc[3] = a3;
  acc[4] = a4;
  acc[5] = a5;
  acc[6] = a6;
  acc[7] = a7;
  acc[8] = a8;
  acc[9] = a9;
  acc[10] = a10;
  acc[11] = a11;
  acc[12] = a12;
  acc[13] = a13;
  acc[14] = a14;
  acc[15] = a15;
}

/// correlateTile's reduction for 4 output channels x 4 positions of a
/// 1x1 kernel (a pointwise layer's, or its input gradient's): acc[b*4 + p]
/// in s(4b + p); per input channel 3 loads and 16 multiply-adds.
template <int CC, int PLANE>
__attribute__((always_inline)) inline void
correlate1x1Rows4(const float *__restrict in, const float *__restrict wp,
                  float *acc) {
  MCUTRAIN_ACC(0);
  MCUTRAIN_ACC(1);
  MCUTRAIN_ACC(2);
  MCUTRAIN_ACC(3);
  MCUTRAIN_ACC(4);
  MCUTRAIN_ACC(5);
  MCUTRAIN_ACC(6);
  MCUTRAIN_ACC(7);
  MCUTRAIN_ACC(8);
  MCUTRAIN_ACC(9);
  MCUTRAIN_ACC(10);
  MCUTRAIN_ACC(11);
  MCUTRAIN_ACC(12);
  MCUTRAIN_ACC(13);
  MCUTRAIN_ACC(14);
  MCUTRAIN_ACC(15);
  MCUTRAIN_NO_UNROLL for (int c = 0; c < CC; ++c) {
    const float *row = in + c * PLANE;
    MCUTRAIN_WINDOW;
    __asm__ volatile(
        "vldmia %[row], {s16-s19}\n\t"
        "vldmia %[w]!, {s24-s25}\n\t"
        MCUTRAIN_FMA(0, 24, 16) MCUTRAIN_FMA(1, 24, 17) MCUTRAIN_FMA(2, 24, 18) MCUTRAIN_FMA(3, 24, 19)
        MCUTRAIN_FMA(4, 25, 16) MCUTRAIN_FMA(5, 25, 17) MCUTRAIN_FMA(6, 25, 18) MCUTRAIN_FMA(7, 25, 19)
        : "+t"(a0), "+t"(a1), "+t"(a2), "+t"(a3), "+t"(a4), "+t"(a5), "+t"(a6), "+t"(a7), MCUTRAIN_WINDOW_OUT(4), [w] "+r"(wp)
        : [row] "r"(row), "m"(*(const float(*)[4])row), "m"(*(const float(*)[2])wp)
        : "s24", "s25");
    __asm__ volatile(
        "vldmia %[w]!, {s26-s27}\n\t"
        MCUTRAIN_FMA(8, 26, 16) MCUTRAIN_FMA(9, 26, 17) MCUTRAIN_FMA(10, 26, 18) MCUTRAIN_FMA(11, 26, 19)
        MCUTRAIN_FMA(12, 27, 16) MCUTRAIN_FMA(13, 27, 17) MCUTRAIN_FMA(14, 27, 18) MCUTRAIN_FMA(15, 27, 19)
        : "+t"(a8), "+t"(a9), "+t"(a10), "+t"(a11), "+t"(a12), "+t"(a13), "+t"(a14), "+t"(a15), [w] "+r"(wp)
        : MCUTRAIN_WINDOW_IN(4), "m"(*(const float(*)[2])wp)
        : "s26", "s27");
  }
  acc[0] = a0;
  acc[1] = a1;
  acc[2] = a2;
  acc[3] = a3;
  acc[4] = a4;
  acc[5] = a5;
  acc[6] = a6;
  acc[7] = a7;
  acc[8] = a8;
  acc[9] = a9;
  acc[10] = a10;
  acc[11] = a11;
  acc[12] = a12;
  acc[13] = a13;
  acc[14] = a14;
  acc[15] = a15;
}

/// The same for 2 positions (a row's last): acc[b*2 + p] in s(2b + p);
/// per kernel row 2 loads (the window, all 12 weights) and 24
/// multiply-adds.
template <int CC, int KH, int DH, int WP, int PLANE>
__attribute__((always_inline)) inline void
correlate3x3Rows2(const float *__restrict in, const float *__restrict wp,
                  float *acc) {
  MCUTRAIN_ACC(0);
  MCUTRAIN_ACC(1);
  MCUTRAIN_ACC(2);
  MCUTRAIN_ACC(3);
  MCUTRAIN_ACC(4);
  MCUTRAIN_ACC(5);
  MCUTRAIN_ACC(6);
  MCUTRAIN_ACC(7);
  MCUTRAIN_NO_UNROLL for (int c = 0; c < CC; ++c)
    MCUTRAIN_NO_UNROLL for (int kh = 0; kh < KH; ++kh) {
      const float *row = in + c * PLANE + kh * DH * WP;
      __asm__ volatile(
          "vldmia %[row], {s16-s19}\n\t"
          "vldmia %[w]!, {s20-s31}\n\t"
          MCUTRAIN_FMA(0, 20, 16) MCUTRAIN_FMA(1, 20, 17) MCUTRAIN_FMA(2, 21, 16) MCUTRAIN_FMA(3, 21, 17)
          MCUTRAIN_FMA(4, 26, 16) MCUTRAIN_FMA(5, 26, 17) MCUTRAIN_FMA(6, 27, 16) MCUTRAIN_FMA(7, 27, 17)
          MCUTRAIN_FMA(0, 22, 17) MCUTRAIN_FMA(1, 22, 18) MCUTRAIN_FMA(2, 23, 17) MCUTRAIN_FMA(3, 23, 18)
          MCUTRAIN_FMA(4, 28, 17) MCUTRAIN_FMA(5, 28, 18) MCUTRAIN_FMA(6, 29, 17) MCUTRAIN_FMA(7, 29, 18)
          MCUTRAIN_FMA(0, 24, 18) MCUTRAIN_FMA(1, 24, 19) MCUTRAIN_FMA(2, 25, 18) MCUTRAIN_FMA(3, 25, 19)
          MCUTRAIN_FMA(4, 30, 18) MCUTRAIN_FMA(5, 30, 19) MCUTRAIN_FMA(6, 31, 18) MCUTRAIN_FMA(7, 31, 19)
          : "+t"(a0), "+t"(a1), "+t"(a2), "+t"(a3), "+t"(a4), "+t"(a5), "+t"(a6), "+t"(a7), [w] "+r"(wp)
          : [row] "r"(row), "m"(*(const float(*)[4])row), "m"(*(const float(*)[12])wp)
          : "s16", "s17", "s18", "s19", "s20", "s21", "s22", "s23", "s24", "s25", "s26", "s27", "s28", "s29", "s30", "s31");
    }
  acc[0] = a0;
  acc[1] = a1;
  acc[2] = a2;
  acc[3] = a3;
  acc[4] = a4;
  acc[5] = a5;
  acc[6] = a6;
  acc[7] = a7;
}

/// gradWeight's reduction for 4 output channels x the 3 taps of one
/// kernel row at stride 1 (acc[b*3 + kw] in s(3b + kw)), over the OW
/// positions of OH rows of N samples (dy: the channels' first gradient,
/// P apart; x: the taps' first input row, RS apart, samples XS apart): 4
/// positions per step (1 + 4 loads, 48 multiply-adds), a row's last
/// ones 2 and 1 at a time.
template <int N, int OH, int OW, int P, int DS, int RS, int XS>
__attribute__((always_inline)) inline void
gradWeight3x3RowsS1(const float *__restrict dy, const float *__restrict x,
                     float *acc) {
  MCUTRAIN_ACC(0);
  MCUTRAIN_ACC(1);
  MCUTRAIN_ACC(2);
  MCUTRAIN_ACC(3);
  MCUTRAIN_ACC(4);
  MCUTRAIN_ACC(5);
  MCUTRAIN_ACC(6);
  MCUTRAIN_ACC(7);
  MCUTRAIN_ACC(8);
  MCUTRAIN_ACC(9);
  MCUTRAIN_ACC(10);
  MCUTRAIN_ACC(11);
  for (int n = 0; n < N; ++n)
    MCUTRAIN_NO_UNROLL for (int oh = 0; oh < OH; ++oh) {
      const float *g0 = dy + n * DS + oh * OW, *g1 = g0 + P, *g2 = g1 + P,
                  *g3 = g2 + P;
      const float *row = x + n * XS + oh * RS;
      MCUTRAIN_WINDOW;
      MCUTRAIN_NO_UNROLL for (int ow = 0; ow + 4 <= OW; ow += 4) {
        const float *r = row + ow * 1;
        __asm__ volatile(
            "vldmia %[r], {s16-s21}\n\t"
            "vldmia %[g0]!, {s24-s27}\n\t"
            MCUTRAIN_FMA(0, 24, 16) MCUTRAIN_FMA(1, 24, 17) MCUTRAIN_FMA(2, 24, 18) MCUTRAIN_FMA(0, 25, 17) MCUTRAIN_FMA(1, 25, 18) MCUTRAIN_FMA(2, 25, 19)
            MCUTRAIN_FMA(0, 26, 18) MCUTRAIN_FMA(1, 26, 19) MCUTRAIN_FMA(2, 26, 20) MCUTRAIN_FMA(0, 27, 19) MCUTRAIN_FMA(1, 27, 20) MCUTRAIN_FMA(2, 27, 21)
            "vldmia %[g1]!, {s28-s31}\n\t"
            MCUTRAIN_FMA(3, 28, 16) MCUTRAIN_FMA(4, 28, 17) MCUTRAIN_FMA(5, 28, 18) MCUTRAIN_FMA(3, 29, 17) MCUTRAIN_FMA(4, 29, 18) MCUTRAIN_FMA(5, 29, 19)
            MCUTRAIN_FMA(3, 30, 18) MCUTRAIN_FMA(4, 30, 19) MCUTRAIN_FMA(5, 30, 20) MCUTRAIN_FMA(3, 31, 19) MCUTRAIN_FMA(4, 31, 20) MCUTRAIN_FMA(5, 31, 21)
            : "+t"(a0), "+t"(a1), "+t"(a2), "+t"(a3), "+t"(a4), "+t"(a5), MCUTRAIN_WINDOW_OUT(6), [g0] "+r"(g0), [g1] "+r"(g1)
            : [r] "r"(r), "m"(*(const float(*)[6])r), "m"(*(const float(*)[4])g0), "m"(*(const float(*)[4])g1)
            : "s24", "s25", "s26", "s27", "s28", "s29", "s30", "s31");
        __asm__ volatile(
            "vldmia %[g2]!, {s24-s27}\n\t"
            MCUTRAIN_FMA(6, 24, 16) MCUTRAIN_FMA(7, 24, 17) MCUTRAIN_FMA(8, 24, 18) MCUTRAIN_FMA(6, 25, 17) MCUTRAIN_FMA(7, 25, 18) MCUTRAIN_FMA(8, 25, 19)
            MCUTRAIN_FMA(6, 26, 18) MCUTRAIN_FMA(7, 26, 19) MCUTRAIN_FMA(8, 26, 20) MCUTRAIN_FMA(6, 27, 19) MCUTRAIN_FMA(7, 27, 20) MCUTRAIN_FMA(8, 27, 21)
            "vldmia %[g3]!, {s28-s31}\n\t"
            MCUTRAIN_FMA(9, 28, 16) MCUTRAIN_FMA(10, 28, 17) MCUTRAIN_FMA(11, 28, 18) MCUTRAIN_FMA(9, 29, 17) MCUTRAIN_FMA(10, 29, 18) MCUTRAIN_FMA(11, 29, 19)
            MCUTRAIN_FMA(9, 30, 18) MCUTRAIN_FMA(10, 30, 19) MCUTRAIN_FMA(11, 30, 20) MCUTRAIN_FMA(9, 31, 19) MCUTRAIN_FMA(10, 31, 20) MCUTRAIN_FMA(11, 31, 21)
            : "+t"(a6), "+t"(a7), "+t"(a8), "+t"(a9), "+t"(a10), "+t"(a11), [g2] "+r"(g2), [g3] "+r"(g3)
            : MCUTRAIN_WINDOW_IN(6), "m"(*(const float(*)[4])g2), "m"(*(const float(*)[4])g3)
            : "s24", "s25", "s26", "s27", "s28", "s29", "s30", "s31");
      }
      if constexpr (OW % 4 >= 2) {
        const float *r = row + OW / 4 * 4 * 1;
        __asm__ volatile(
            "vldmia %[r], {s16-s19}\n\t"
            "vldmia %[g0]!, {s24-s25}\n\t"
            MCUTRAIN_FMA(0, 24, 16) MCUTRAIN_FMA(1, 24, 17) MCUTRAIN_FMA(2, 24, 18) MCUTRAIN_FMA(0, 25, 17) MCUTRAIN_FMA(1, 25, 18) MCUTRAIN_FMA(2, 25, 19)
            "vldmia %[g1]!, {s28-s29}\n\t"
            MCUTRAIN_FMA(3, 28, 16) MCUTRAIN_FMA(4, 28, 17) MCUTRAIN_FMA(5, 28, 18) MCUTRAIN_FMA(3, 29, 17) MCUTRAIN_FMA(4, 29, 18) MCUTRAIN_FMA(5, 29, 19)
            : "+t"(a0), "+t"(a1), "+t"(a2), "+t"(a3), "+t"(a4), "+t"(a5), MCUTRAIN_WINDOW_OUT(4), [g0] "+r"(g0), [g1] "+r"(g1)
            : [r] "r"(r), "m"(*(const float(*)[4])r), "m"(*(const float(*)[2])g0), "m"(*(const float(*)[2])g1)
            : "s24", "s25", "s28", "s29");
        __asm__ volatile(
            "vldmia %[g2]!, {s24-s25}\n\t"
            MCUTRAIN_FMA(6, 24, 16) MCUTRAIN_FMA(7, 24, 17) MCUTRAIN_FMA(8, 24, 18) MCUTRAIN_FMA(6, 25, 17) MCUTRAIN_FMA(7, 25, 18) MCUTRAIN_FMA(8, 25, 19)
            "vldmia %[g3]!, {s28-s29}\n\t"
            MCUTRAIN_FMA(9, 28, 16) MCUTRAIN_FMA(10, 28, 17) MCUTRAIN_FMA(11, 28, 18) MCUTRAIN_FMA(9, 29, 17) MCUTRAIN_FMA(10, 29, 18) MCUTRAIN_FMA(11, 29, 19)
            : "+t"(a6), "+t"(a7), "+t"(a8), "+t"(a9), "+t"(a10), "+t"(a11), [g2] "+r"(g2), [g3] "+r"(g3)
            : MCUTRAIN_WINDOW_IN(4), "m"(*(const float(*)[2])g2), "m"(*(const float(*)[2])g3)
            : "s24", "s25", "s28", "s29");
      }
      if constexpr (OW % 4 % 2 == 1) {
        const float *r = row + (OW - 1) * 1;
        __asm__ volatile(
            "vldmia %[r], {s16-s18}\n\t"
            "vldmia %[g0]!, {s24}\n\t"
            MCUTRAIN_FMA(0, 24, 16) MCUTRAIN_FMA(1, 24, 17) MCUTRAIN_FMA(2, 24, 18)
            "vldmia %[g1]!, {s28}\n\t"
            MCUTRAIN_FMA(3, 28, 16) MCUTRAIN_FMA(4, 28, 17) MCUTRAIN_FMA(5, 28, 18)
            : "+t"(a0), "+t"(a1), "+t"(a2), "+t"(a3), "+t"(a4), "+t"(a5), MCUTRAIN_WINDOW_OUT(3), [g0] "+r"(g0), [g1] "+r"(g1)
            : [r] "r"(r), "m"(*(const float(*)[3])r), "m"(*(const float(*)[1])g0), "m"(*(const float(*)[1])g1)
            : "s24", "s28");
        __asm__ volatile(
            "vldmia %[g2]!, {s24}\n\t"
            MCUTRAIN_FMA(6, 24, 16) MCUTRAIN_FMA(7, 24, 17) MCUTRAIN_FMA(8, 24, 18)
            "vldmia %[g3]!, {s28}\n\t"
            MCUTRAIN_FMA(9, 28, 16) MCUTRAIN_FMA(10, 28, 17) MCUTRAIN_FMA(11, 28, 18)
            : "+t"(a6), "+t"(a7), "+t"(a8), "+t"(a9), "+t"(a10), "+t"(a11), [g2] "+r"(g2), [g3] "+r"(g3)
            : MCUTRAIN_WINDOW_IN(3), "m"(*(const float(*)[1])g2), "m"(*(const float(*)[1])g3)
            : "s24", "s28");
      }
    }
  acc[0] = a0;
  acc[1] = a1;
  acc[2] = a2;
  acc[3] = a3;
  acc[4] = a4;
  acc[5] = a5;
  acc[6] = a6;
  acc[7] = a7;
  acc[8] = a8;
  acc[9] = a9;
  acc[10] = a10;
  acc[11] = a11;
}

/// gradWeight's reduction for 4 output channels x the 3 taps of one
/// kernel row at stride 2 (acc[b*3 + kw] in s(3b + kw)), over the OW
/// positions of OH rows of N samples (dy: the channels' first gradient,
/// P apart; x: the taps' first input row, RS apart, samples XS apart): 3
/// positions per step (1 + 4 loads, 36 multiply-adds), a row's last
/// ones 2 and 1 at a time.
template <int N, int OH, int OW, int P, int DS, int RS, int XS>
__attribute__((always_inline)) inline void
gradWeight3x3RowsS2(const float *__restrict dy, const float *__restrict x,
                     float *acc) {
  MCUTRAIN_ACC(0);
  MCUTRAIN_ACC(1);
  MCUTRAIN_ACC(2);
  MCUTRAIN_ACC(3);
  MCUTRAIN_ACC(4);
  MCUTRAIN_ACC(5);
  MCUTRAIN_ACC(6);
  MCUTRAIN_ACC(7);
  MCUTRAIN_ACC(8);
  MCUTRAIN_ACC(9);
  MCUTRAIN_ACC(10);
  MCUTRAIN_ACC(11);
  for (int n = 0; n < N; ++n)
    MCUTRAIN_NO_UNROLL for (int oh = 0; oh < OH; ++oh) {
      const float *g0 = dy + n * DS + oh * OW, *g1 = g0 + P, *g2 = g1 + P,
                  *g3 = g2 + P;
      const float *row = x + n * XS + oh * RS;
      MCUTRAIN_WINDOW;
      MCUTRAIN_NO_UNROLL for (int ow = 0; ow + 3 <= OW; ow += 3) {
        const float *r = row + ow * 2;
        __asm__ volatile(
            "vldmia %[r], {s16-s22}\n\t"
            "vldmia %[g0]!, {s24-s26}\n\t"
            MCUTRAIN_FMA(0, 24, 16) MCUTRAIN_FMA(1, 24, 17) MCUTRAIN_FMA(2, 24, 18) MCUTRAIN_FMA(0, 25, 18) MCUTRAIN_FMA(1, 25, 19) MCUTRAIN_FMA(2, 25, 20)
            MCUTRAIN_FMA(0, 26, 20) MCUTRAIN_FMA(1, 26, 21) MCUTRAIN_FMA(2, 26, 22)
            "vldmia %[g1]!, {s28-s30}\n\t"
            MCUTRAIN_FMA(3, 28, 16) MCUTRAIN_FMA(4, 28, 17) MCUTRAIN_FMA(5, 28, 18) MCUTRAIN_FMA(3, 29, 18) MCUTRAIN_FMA(4, 29, 19) MCUTRAIN_FMA(5, 29, 20)
            MCUTRAIN_FMA(3, 30, 20) MCUTRAIN_FMA(4, 30, 21) MCUTRAIN_FMA(5, 30, 22)
            : "+t"(a0), "+t"(a1), "+t"(a2), "+t"(a3), "+t"(a4), "+t"(a5), MCUTRAIN_WINDOW_OUT(7), [g0] "+r"(g0), [g1] "+r"(g1)
            : [r] "r"(r), "m"(*(const float(*)[7])r), "m"(*(const float(*)[3])g0), "m"(*(const float(*)[3])g1)
            : "s24", "s25", "s26", "s28", "s29", "s30");
        __asm__ volatile(
            "vldmia %[g2]!, {s24-s26}\n\t"
            MCUTRAIN_FMA(6, 24, 16) MCUTRAIN_FMA(7, 24, 17) MCUTRAIN_FMA(8, 24, 18) MCUTRAIN_FMA(6, 25, 18) MCUTRAIN_FMA(7, 25, 19) MCUTRAIN_FMA(8, 25, 20)
            MCUTRAIN_FMA(6, 26, 20) MCUTRAIN_FMA(7, 26, 21) MCUTRAIN_FMA(8, 26, 22)
            "vldmia %[g3]!, {s28-s30}\n\t"
            MCUTRAIN_FMA(9, 28, 16) MCUTRAIN_FMA(10, 28, 17) MCUTRAIN_FMA(11, 28, 18) MCUTRAIN_FMA(9, 29, 18) MCUTRAIN_FMA(10, 29, 19) MCUTRAIN_FMA(11, 29, 20)
            MCUTRAIN_FMA(9, 30, 20) MCUTRAIN_FMA(10, 30, 21) MCUTRAIN_FMA(11, 30, 22)
            : "+t"(a6), "+t"(a7), "+t"(a8), "+t"(a9), "+t"(a10), "+t"(a11), [g2] "+r"(g2), [g3] "+r"(g3)
            : MCUTRAIN_WINDOW_IN(7), "m"(*(const float(*)[3])g2), "m"(*(const float(*)[3])g3)
            : "s24", "s25", "s26", "s28", "s29", "s30");
      }
      if constexpr (OW % 3 >= 2) {
        const float *r = row + OW / 3 * 3 * 2;
        __asm__ volatile(
            "vldmia %[r], {s16-s20}\n\t"
            "vldmia %[g0]!, {s24-s25}\n\t"
            MCUTRAIN_FMA(0, 24, 16) MCUTRAIN_FMA(1, 24, 17) MCUTRAIN_FMA(2, 24, 18) MCUTRAIN_FMA(0, 25, 18) MCUTRAIN_FMA(1, 25, 19) MCUTRAIN_FMA(2, 25, 20)
            "vldmia %[g1]!, {s28-s29}\n\t"
            MCUTRAIN_FMA(3, 28, 16) MCUTRAIN_FMA(4, 28, 17) MCUTRAIN_FMA(5, 28, 18) MCUTRAIN_FMA(3, 29, 18) MCUTRAIN_FMA(4, 29, 19) MCUTRAIN_FMA(5, 29, 20)
            : "+t"(a0), "+t"(a1), "+t"(a2), "+t"(a3), "+t"(a4), "+t"(a5), MCUTRAIN_WINDOW_OUT(5), [g0] "+r"(g0), [g1] "+r"(g1)
            : [r] "r"(r), "m"(*(const float(*)[5])r), "m"(*(const float(*)[2])g0), "m"(*(const float(*)[2])g1)
            : "s24", "s25", "s28", "s29");
        __asm__ volatile(
            "vldmia %[g2]!, {s24-s25}\n\t"
            MCUTRAIN_FMA(6, 24, 16) MCUTRAIN_FMA(7, 24, 17) MCUTRAIN_FMA(8, 24, 18) MCUTRAIN_FMA(6, 25, 18) MCUTRAIN_FMA(7, 25, 19) MCUTRAIN_FMA(8, 25, 20)
            "vldmia %[g3]!, {s28-s29}\n\t"
            MCUTRAIN_FMA(9, 28, 16) MCUTRAIN_FMA(10, 28, 17) MCUTRAIN_FMA(11, 28, 18) MCUTRAIN_FMA(9, 29, 18) MCUTRAIN_FMA(10, 29, 19) MCUTRAIN_FMA(11, 29, 20)
            : "+t"(a6), "+t"(a7), "+t"(a8), "+t"(a9), "+t"(a10), "+t"(a11), [g2] "+r"(g2), [g3] "+r"(g3)
            : MCUTRAIN_WINDOW_IN(5), "m"(*(const float(*)[2])g2), "m"(*(const float(*)[2])g3)
            : "s24", "s25", "s28", "s29");
      }
      if constexpr (OW % 3 % 2 == 1) {
        const float *r = row + (OW - 1) * 2;
        __asm__ volatile(
            "vldmia %[r], {s16-s18}\n\t"
            "vldmia %[g0]!, {s24}\n\t"
            MCUTRAIN_FMA(0, 24, 16) MCUTRAIN_FMA(1, 24, 17) MCUTRAIN_FMA(2, 24, 18)
            "vldmia %[g1]!, {s28}\n\t"
            MCUTRAIN_FMA(3, 28, 16) MCUTRAIN_FMA(4, 28, 17) MCUTRAIN_FMA(5, 28, 18)
            : "+t"(a0), "+t"(a1), "+t"(a2), "+t"(a3), "+t"(a4), "+t"(a5), MCUTRAIN_WINDOW_OUT(3), [g0] "+r"(g0), [g1] "+r"(g1)
            : [r] "r"(r), "m"(*(const float(*)[3])r), "m"(*(const float(*)[1])g0), "m"(*(const float(*)[1])g1)
            : "s24", "s28");
        __asm__ volatile(
            "vldmia %[g2]!, {s24}\n\t"
            MCUTRAIN_FMA(6, 24, 16) MCUTRAIN_FMA(7, 24, 17) MCUTRAIN_FMA(8, 24, 18)
            "vldmia %[g3]!, {s28}\n\t"
            MCUTRAIN_FMA(9, 28, 16) MCUTRAIN_FMA(10, 28, 17) MCUTRAIN_FMA(11, 28, 18)
            : "+t"(a6), "+t"(a7), "+t"(a8), "+t"(a9), "+t"(a10), "+t"(a11), [g2] "+r"(g2), [g3] "+r"(g3)
            : MCUTRAIN_WINDOW_IN(3), "m"(*(const float(*)[1])g2), "m"(*(const float(*)[1])g3)
            : "s24", "s28");
      }
    }
  acc[0] = a0;
  acc[1] = a1;
  acc[2] = a2;
  acc[3] = a3;
  acc[4] = a4;
  acc[5] = a5;
  acc[6] = a6;
  acc[7] = a7;
  acc[8] = a8;
  acc[9] = a9;
  acc[10] = a10;
  acc[11] = a11;
}

/// dotTile's 2 x 4 tile on Arm: Steps steps of 4 values of rows a0, a1
/// (s16-s23) and b0-b3 (s24-s31), the pointers advanced past them, the
/// sums acc[i*4 + j] in s(4i + j); a step is 6 loads, 32 multiply-adds and
/// the loop's subs/bne (compiled, GCC kept two of the six pointers in
/// memory: 52 instructions; with the loop outside the statement it copied
/// all six each step). Steps >= 1.
template <int Steps>
__attribute__((always_inline)) inline void
dot2x4Steps(const float *__restrict &pa0, const float *__restrict &pa1,
            const float *__restrict &pb0, const float *__restrict &pb1,
            const float *__restrict &pb2, const float *__restrict &pb3,
            float *acc) {
  MCUTRAIN_ACC(0);
  MCUTRAIN_ACC(1);
  MCUTRAIN_ACC(2);
  MCUTRAIN_ACC(3);
  MCUTRAIN_ACC(4);
  MCUTRAIN_ACC(5);
  MCUTRAIN_ACC(6);
  MCUTRAIN_ACC(7);
  int steps = Steps;
  __asm__ volatile(
      "1:\n\t"
      "vldmia %[pa0]!, {s16-s19}\n\t"
      "vldmia %[pa1]!, {s20-s23}\n\t"
      "vldmia %[pb0]!, {s24-s27}\n\t"
      MCUTRAIN_FMA(0, 16, 24) MCUTRAIN_FMA(4, 20, 24) MCUTRAIN_FMA(0, 17, 25) MCUTRAIN_FMA(4, 21, 25)
      MCUTRAIN_FMA(0, 18, 26) MCUTRAIN_FMA(4, 22, 26) MCUTRAIN_FMA(0, 19, 27) MCUTRAIN_FMA(4, 23, 27)
      "vldmia %[pb1]!, {s28-s31}\n\t"
      MCUTRAIN_FMA(1, 16, 28) MCUTRAIN_FMA(5, 20, 28) MCUTRAIN_FMA(1, 17, 29) MCUTRAIN_FMA(5, 21, 29)
      MCUTRAIN_FMA(1, 18, 30) MCUTRAIN_FMA(5, 22, 30) MCUTRAIN_FMA(1, 19, 31) MCUTRAIN_FMA(5, 23, 31)
      "vldmia %[pb2]!, {s24-s27}\n\t"
      MCUTRAIN_FMA(2, 16, 24) MCUTRAIN_FMA(6, 20, 24) MCUTRAIN_FMA(2, 17, 25) MCUTRAIN_FMA(6, 21, 25)
      MCUTRAIN_FMA(2, 18, 26) MCUTRAIN_FMA(6, 22, 26) MCUTRAIN_FMA(2, 19, 27) MCUTRAIN_FMA(6, 23, 27)
      "vldmia %[pb3]!, {s28-s31}\n\t"
      MCUTRAIN_FMA(3, 16, 28) MCUTRAIN_FMA(7, 20, 28) MCUTRAIN_FMA(3, 17, 29) MCUTRAIN_FMA(7, 21, 29)
      MCUTRAIN_FMA(3, 18, 30) MCUTRAIN_FMA(7, 22, 30) MCUTRAIN_FMA(3, 19, 31) MCUTRAIN_FMA(7, 23, 31)
      "subs %[steps], %[steps], #1\n\t"
      "bne 1b\n\t"
      : "+t"(a0), "+t"(a1), "+t"(a2), "+t"(a3), "+t"(a4), "+t"(a5), "+t"(a6), "+t"(a7), [pa0] "+r"(pa0), [pa1] "+r"(pa1), [pb0] "+r"(pb0), [pb1] "+r"(pb1), [pb2] "+r"(pb2), [pb3] "+r"(pb3), [steps] "+r"(steps)
      : 
      : "s16", "s17", "s18", "s19", "s20", "s21", "s22", "s23", "s24", "s25", "s26", "s27", "s28", "s29", "s30", "s31", "cc", "memory");
  acc[0] = a0;
  acc[1] = a1;
  acc[2] = a2;
  acc[3] = a3;
  acc[4] = a4;
  acc[5] = a5;
  acc[6] = a6;
  acc[7] = a7;
}

// clang-format on
// END gen_mcu_asm.py

#undef MCUTRAIN_FMA
#undef MCUTRAIN_ACC
#undef MCUTRAIN_WINDOW
#undef MCUTRAIN_WINDOW_IN
#undef MCUTRAIN_WINDOW_IN_3
#undef MCUTRAIN_WINDOW_IN_4
#undef MCUTRAIN_WINDOW_IN_5
#undef MCUTRAIN_WINDOW_IN_6
#undef MCUTRAIN_WINDOW_IN_7
#undef MCUTRAIN_WINDOW_OUT
#undef MCUTRAIN_WINDOW_OUT_3
#undef MCUTRAIN_WINDOW_OUT_4
#undef MCUTRAIN_WINDOW_OUT_5
#undef MCUTRAIN_WINDOW_OUT_6
#undef MCUTRAIN_WINDOW_OUT_7
#endif

/// out[b*OP + p] (FB output channels x PB consecutive positions of one
/// output row) = start + sum over c < CC, kh, kw of wp[((c*KH + kh)*KW +
/// kw)*FB + b] * in[c*PLANE + kh*DH*WP + p*SW + kw*DW]. One kernel row of
/// one channel per step: its window of input values, and FB weights per
/// kernel column (on the Cortex-M4, 1 + 3 loads and 48 multiply-adds for
/// 4 x 4 and a 3x3 kernel).
template <int FB, int PB, int CC, int KH, int KW, int SW, int DH, int DW,
          int WP, int PLANE, int OP, bool FromBias, int Act>
__attribute__((always_inline)) inline void
correlateTile(const float *__restrict in, const float *__restrict wp,
              float *__restrict out, Epilogue e) {
  constexpr int Window = (PB - 1) * SW + (KW - 1) * DW + 1;
  float acc[FB][PB];
  MCUTRAIN_TILE_UNROLL for (int b = 0; b < FB; ++b)
      MCUTRAIN_TILE_UNROLL for (int p = 0; p < PB; ++p) acc[b][p] =
          FromBias ? e.bias[b] : out[b * OP + p];
#if MCUTRAIN_MCU_VLDM
  if constexpr (FB == 4 && PB == 4 && KH == 1 && KW == 1 && SW == 1) {
    correlate1x1Rows4<CC, PLANE>(in, wp, &acc[0][0]);
  } else if constexpr (paired<FB, KW, SW, DW>() && (PB == 4 || PB == 2)) {
    if constexpr (PB == 4)
      correlate3x3Rows4<CC, KH, DH, WP, PLANE>(in, wp, &acc[0][0]);
    else
      correlate3x3Rows2<CC, KH, DH, WP, PLANE>(in, wp, &acc[0][0]);
  } else
#endif
    MCUTRAIN_NO_UNROLL for (int c = 0; c < CC; ++c)
        MCUTRAIN_NO_UNROLL for (int kh = 0; kh < KH; ++kh) {
      const float *row = in + c * PLANE + kh * DH * WP;
      pinLow<FB * PB>(&acc[0][0]);
      float window[Window];
      loadFloats<Window, kWindowBlock>(row, window);
      MCUTRAIN_TILE_UNROLL for (int kw = 0; kw < KW; ++kw) {
        float wv[FB];
        if constexpr (paired<FB, KW, SW, DW>()) {
          // (A row's tail tile on the 3x3 path's packing.)
          MCUTRAIN_TILE_UNROLL for (int b = 0; b < FB; ++b) wv[b] =
              wp[pairedWeight(b, kw)];
        } else {
          loadFloatsAlternating<FB, kRowBlock>(kw, wp, wv);
        }
        MCUTRAIN_TILE_UNROLL for (int b = 0; b < FB; ++b)
            MCUTRAIN_TILE_UNROLL for (int p = 0; p < PB; ++p) acc[b][p] +=
            wv[b] * window[p * SW + kw * DW];
      }
      if constexpr (paired<FB, KW, SW, DW>())
        wp += KW * FB;
    }
  MCUTRAIN_TILE_UNROLL for (int b = 0; b < FB; ++b)
      MCUTRAIN_TILE_UNROLL for (int p = 0; p < PB; ++p) out[b * OP + p] =
          activated<Act>(acc[b][p], e.lo, e.hi);
}

#if MCUTRAIN_MCU_HELIUM
/// Vectors of 4 positions per output channel in a Helium tile of FB
/// channels: the accumulators and one input vector per position vector
/// take at most 6 of the 8 vector registers.
constexpr int heliumVectors(int fb) { return fb == 1 ? 3 : fb == 2 ? 2 : 1; }

/// acc[b] += x * wp[b] for the 4 channels of one kernel tap (wp advances
/// past them): one LDM of the weights into core registers and 4
/// vector-by-scalar VFMAs (the scalar tile's 3x3 row: 55 instructions per
/// 48 multiply-adds; this one 6 per 16).
__attribute__((always_inline)) inline void
heliumTap4(float32x4_t x, const float *__restrict &wp, float32x4_t &a0,
           float32x4_t &a1, float32x4_t &a2, float32x4_t &a3) {
  register unsigned w0 __asm__("r4"), w1 __asm__("r5"), w2 __asm__("r6"),
      w3 __asm__("r7");
  __asm__ volatile("ldmia %[wp]!, {r4, r5, r6, r7}\n\t"
                   "vfma.f32 %q[a0], %q[x], %[w0]\n\t"
                   "vfma.f32 %q[a1], %q[x], %[w1]\n\t"
                   "vfma.f32 %q[a2], %q[x], %[w2]\n\t"
                   "vfma.f32 %q[a3], %q[x], %[w3]"
                   : [a0] "+w"(a0), [a1] "+w"(a1), [a2] "+w"(a2), [a3] "+w"(a3),
                     [wp] "+r"(wp), [w0] "=&r"(w0), [w1] "=&r"(w1),
                     [w2] "=&r"(w2), [w3] "=&r"(w3)
                   : [x] "w"(x), "m"(*(const float(*)[4])wp));
}

/// Lanes of a vector of positions: the first `lanes` (4: all, unpredicated).
template <int Lanes>
__attribute__((always_inline)) inline float32x4_t heliumLoad(const float *p) {
  if constexpr (Lanes == 4)
    return vld1q_f32(p);
  else
    return vldrwq_z_f32(p, vctp32q(Lanes));
}
template <int Lanes>
__attribute__((always_inline)) inline void heliumStore(float *p,
                                                       float32x4_t v) {
  if constexpr (Lanes == 4)
    vst1q_f32(p, v);
  else
    vstrwq_p_f32(p, v, vctp32q(Lanes));
}

/// A tile's start (the bias, or the output it accumulates into) and its
/// end through the activation, as correlateTile's.
template <int Lanes, bool FromBias>
__attribute__((always_inline)) inline float32x4_t
heliumStart(const float *out, int b, Epilogue e) {
  return FromBias ? vdupq_n_f32(e.bias[b]) : heliumLoad<Lanes>(out);
}
template <int Act>
__attribute__((always_inline)) inline float32x4_t heliumActivated(float32x4_t y,
                                                                  Epilogue e) {
  if constexpr (Act == kRelu) {
    // v > 0 ? v : 0 (NaN to 0), as the scalar epilogue.
    y = vpselq_f32(y, vdupq_n_f32(0.0f), vcmpgtq_n_f32(y, 0.0f));
  } else if constexpr (Act == kClip) {
    // lo where v < lo, then hi where above hi: NaN stays NaN. (As lo > v:
    // Helium's "lt" condition is true for unordered operands, N != V.)
    const float32x4_t lo = vdupq_n_f32(e.lo);
    y = vpselq_f32(lo, y, vcmpgtq_f32(lo, y));
    y = vpselq_f32(vdupq_n_f32(e.hi), y, vcmpgtq_n_f32(y, e.hi));
  }
  return y;
}

/// What correlateTile computes, in Helium's lanes, for 4 output channels x
/// 4 positions at stride 1: per kernel tap one vector load of the 4
/// positions' input values and heliumTap4. Each lane sums its output in the
/// scalar loops' order with the same fused multiply-adds: the same results
/// to the bit. (Accumulators are named variables: as an array, g++ 12 kept
/// them in memory around the assembler statement, storing and reloading
/// them per kernel row.)
template <int CC, int KH, int KW, int DH, int DW, int WP, int PLANE, int OP,
          bool FromBias, int Act>
__attribute__((always_inline)) inline void
correlateTileHelium4(const float *__restrict in, const float *__restrict wp,
                     float *__restrict out, Epilogue e) {
  float32x4_t a0 = heliumStart<4, FromBias>(out, 0, e),
              a1 = heliumStart<4, FromBias>(out + OP, 1, e),
              a2 = heliumStart<4, FromBias>(out + 2 * OP, 2, e),
              a3 = heliumStart<4, FromBias>(out + 3 * OP, 3, e);
  MCUTRAIN_NO_UNROLL for (int c = 0; c < CC; ++c)
      MCUTRAIN_NO_UNROLL for (int kh = 0; kh < KH; ++kh) {
    const float *row = in + c * PLANE + kh * DH * WP;
    MCUTRAIN_TILE_UNROLL for (int kw = 0; kw < KW; ++kw)
        heliumTap4(vld1q_f32(row + kw * DW), wp, a0, a1, a2, a3);
  }
  vst1q_f32(out, heliumActivated<Act>(a0, e));
  vst1q_f32(out + OP, heliumActivated<Act>(a1, e));
  vst1q_f32(out + 2 * OP, heliumActivated<Act>(a2, e));
  vst1q_f32(out + 3 * OP, heliumActivated<Act>(a3, e));
}

/// The same for FB output channels x V vectors of 4 positions (the last
/// one's first Lanes only): per kernel tap V vector loads, FB weights and
/// FB x V vector-by-scalar multiply-adds.
template <int FB, int V, int Lanes, int CC, int KH, int KW, int DH, int DW,
          int WP, int PLANE, int OP, bool FromBias, int Act>
__attribute__((always_inline)) inline void
correlateTileHelium(const float *__restrict in, const float *__restrict wp,
                    float *__restrict out, Epilogue e) {
  if constexpr (FB == 4 && V == 1 && Lanes == 4) {
    correlateTileHelium4<CC, KH, KW, DH, DW, WP, PLANE, OP, FromBias, Act>(
        in, wp, out, e);
    return;
  }
  float32x4_t acc[FB][V];
  MCUTRAIN_TILE_UNROLL for (int b = 0; b < FB; ++b) {
    MCUTRAIN_TILE_UNROLL for (int v = 0; v + 1 < V; ++v) acc[b][v] =
        heliumStart<4, FromBias>(out + b * OP + 4 * v, b, e);
    acc[b][V - 1] =
        heliumStart<Lanes, FromBias>(out + b * OP + 4 * (V - 1), b, e);
  }
  MCUTRAIN_NO_UNROLL for (int c = 0; c < CC; ++c)
      MCUTRAIN_NO_UNROLL for (int kh = 0; kh < KH; ++kh) {
    const float *row = in + c * PLANE + kh * DH * WP;
    MCUTRAIN_TILE_UNROLL for (int kw = 0; kw < KW; ++kw) {
      float32x4_t x[V];
      MCUTRAIN_TILE_UNROLL for (int v = 0; v + 1 < V; ++v) x[v] =
          vld1q_f32(row + kw * DW + 4 * v);
      x[V - 1] = heliumLoad<Lanes>(row + kw * DW + 4 * (V - 1));
      MCUTRAIN_TILE_UNROLL for (int b = 0; b < FB; ++b) {
        const float w = wp[b];
        MCUTRAIN_TILE_UNROLL for (int v = 0; v < V; ++v) acc[b][v] =
            vfmaq_n_f32(acc[b][v], x[v], w);
      }
      wp += FB;
    }
  }
  MCUTRAIN_TILE_UNROLL for (int b = 0; b < FB; ++b) {
    MCUTRAIN_TILE_UNROLL for (int v = 0; v + 1 < V; ++v)
        vst1q_f32(out + b * OP + 4 * v, heliumActivated<Act>(acc[b][v], e));
    heliumStore<Lanes>(out + b * OP + 4 * (V - 1),
                       heliumActivated<Act>(acc[b][V - 1], e));
  }
}

/// correlateRows at stride 1 in Helium tiles: 4 x heliumVectors(FB)
/// positions at a time, the row's last ones a vector at a time (the very
/// last with its lanes past the row off).
template <int FB, int CC, int HP, int WP, int KH, int KW, int OH, int OW,
          int SH, int DH, int DW, bool FromBias, int Act>
__attribute__((always_inline)) inline void
correlateRowsHelium(const float *__restrict in, const float *__restrict wp,
                    float *__restrict out, Epilogue e) {
  constexpr int V = heliumVectors(FB);
  for (int oh = 0; oh < OH; ++oh) {
    const float *row = in + oh * SH * WP;
    float *o = out + oh * OW;
    blocks<OW, 4 * V>([&](auto pb, int ow0) {
      constexpr int Positions = decltype(pb)::value;
      if constexpr (Positions == 4 * V) {
        correlateTileHelium<FB, V, 4, CC, KH, KW, DH, DW, WP, HP * WP, OH * OW,
                            FromBias, Act>(row + ow0, wp, o + ow0, e);
      } else {
        blocks<Positions, 4>([&](auto lanes, int at) {
          correlateTileHelium<FB, 1, decltype(lanes)::value, CC, KH, KW, DH, DW,
                              WP, HP * WP, OH * OW, FromBias, Act>(
              row + ow0 + at, wp, o + ow0 + at, e);
        });
      }
    });
  }
}
#endif

/// Every output row of FB output channels over CC input channels (their
/// weights packed in wp): the tiles of correlateTile along each row.
template <int FB, int CC, int HP, int WP, int KH, int KW, int OH, int OW,
          int SH, int SW, int DH, int DW, bool FromBias, int Act>
__attribute__((noinline)) void
correlateRows(const float *__restrict in, const float *__restrict wp,
              float *__restrict out, Epilogue e) {
#if MCUTRAIN_MCU_HELIUM
  // (One output channel on rows of under 8 positions, a depthwise layer on
  // a small image, stays on the scalar tile of 6 positions: DS-CNN's 25 x 5
  // planes took 3.55 instructions per MAC in a 4-lane tile and a 1-lane
  // one, 3.01 in the scalar tile.)
  if constexpr (SW == 1 && (FB > 1 || OW >= 8)) {
    correlateRowsHelium<FB, CC, HP, WP, KH, KW, OH, OW, SH, DH, DW, FromBias,
                        Act>(in, wp, out, e);
    return;
  }
#endif
  constexpr int PB = tilePositions(FB, SW, KW, DW);
  for (int oh = 0; oh < OH; ++oh) {
    const float *row = in + oh * SH * WP;
    float *o = out + oh * OW;
    blocks<OW, PB>([&](auto pb, int ow0) {
      correlateTile<FB, decltype(pb)::value, CC, KH, KW, SW, DH, DW, WP,
                    HP * WP, OH * OW, FromBias, Act>(row + ow0 * SW, wp,
                                                     o + ow0, e);
    });
  }
}

/// An ungrouped correlation, out (N x F x OH x OW) += in (N x C x HP x WP,
/// padded) * weight(f, c, kh, kw) = w[Weight::index(f, c, kh, kw)]: the
/// forward convolution, or the input gradient's on flipped weights. With
/// FromBias, out = act(bias + ...) instead (Act, lo, hi: the activation).
/// The weights of 4 output channels and up to kPackFloats / 4 taps are
/// packed in tile order (any Weight layout reads as one sequence), then
/// every output row runs over them.
template <int N, int C, int HP, int WP, int F, int KH, int KW, int OH, int OW,
          int SH, int SW, int DH, int DW, typename Weight,
          bool FromBias = false, int Act = kIdentity>
inline void correlate(const float *__restrict in, const float *__restrict w,
                      float *__restrict out, Epilogue e = {nullptr, 0, 0}) {
  constexpr int FB = F < 4 ? F : 4;
  constexpr int Taps = kPackFloats / (KH * KW * FB);
  constexpr int CC = divisorAtMost(C, Taps < 1 ? 1 : Taps);
  for (int n = 0; n < N; ++n)
    blocks<F, FB>([&](auto fb, int f0) {
      constexpr int FT = decltype(fb)::value;
      const Epilogue block = {FromBias ? e.bias + f0 : nullptr, e.lo, e.hi};
      for (int c0 = 0; c0 < C; c0 += CC) {
        float wp[CC * KH * KW * FT];
        for (int c = 0; c < CC; ++c)
          for (int kh = 0; kh < KH; ++kh)
            for (int kw = 0; kw < KW; ++kw)
              for (int b = 0; b < FT; ++b)
                wp[(c * KH + kh) * KW * FT + (paired<FT, KW, SW, DW>()
                                                  ? pairedWeight(b, kw)
                                                  : kw * FT + b)] =
                    w[Weight::index(f0 + b, c0 + c, kh, kw)];
        const float *x = in + (n * C + c0) * HP * WP;
        float *y = out + (n * F + f0) * OH * OW;
        // The first block of channels starts from the bias, the last one
        // applies the activation.
        if (c0 == 0 && c0 + CC == C)
          correlateRows<FT, CC, HP, WP, KH, KW, OH, OW, SH, SW, DH, DW,
                        FromBias, Act>(x, wp, y, block);
        else if (c0 == 0)
          correlateRows<FT, CC, HP, WP, KH, KW, OH, OW, SH, SW, DH, DW,
                        FromBias, kIdentity>(x, wp, y, block);
        else if (c0 + CC == C)
          correlateRows<FT, CC, HP, WP, KH, KW, OH, OW, SH, SW, DH, DW, false,
                        Act>(x, wp, y, block);
        else
          correlateRows<FT, CC, HP, WP, KH, KW, OH, OW, SH, SW, DH, DW, false,
                        kIdentity>(x, wp, y, block);
      }
    });
}

/// Up to 4 row pointers as separate variables (an array of them, indexed
/// in an unrolled loop, stayed in memory: GCC reloaded and stored each one
/// around its load).
struct Rows {
  const float *p0, *p1, *p2, *p3, *p4;
  template <int B> const float *&at() {
    if constexpr (B == 0)
      return p0;
    else if constexpr (B == 1)
      return p1;
    else if constexpr (B == 2)
      return p2;
    else if constexpr (B == 3)
      return p3;
    else
      return p4;
  }
};

/// acc[B][kw] += sum over PT positions of g[p] * window[p*SW + kw*DW], g
/// output channel B's next PT gradients (its pointer advances past them).
template <int B, int FB, int KW, int PT, int SW, int DW, int Window>
__attribute__((always_inline)) inline void
gradWeightChannel(Rows &g, const float (&window)[Window],
                  float (&acc)[FB][KW]) {
  if constexpr (B < FB) {
    float gv[PT];
    loadFloats<PT, kRowBlock + B % 2>(g.at<B>(), gv);
    MCUTRAIN_TILE_UNROLL for (int p = 0; p < PT; ++p)
        MCUTRAIN_TILE_UNROLL for (int kw = 0; kw < KW; ++kw) acc[B][kw] +=
        gv[p] * window[p * SW + kw * DW];
  }
}

/// acc[b][kw] += sum over PT positions of g_b[p] * r[p*SW + kw*DW]: the
/// positions' window of input values loaded once for every output channel
/// and kernel column (on the Cortex-M4, 1 + 4 loads and 48 multiply-adds
/// for 4 channels, 4 positions and 3 kernel columns). (No lambdas around
/// a tile: GCC then keeps its accumulators in memory.)
template <int FB, int KW, int PT, int SW, int DW>
__attribute__((always_inline)) inline void
gradWeightChunk(const float *__restrict r, Rows &g, float (&acc)[FB][KW]) {
#if MCUTRAIN_MCU_VLDM
  if constexpr (FB == 4 && KW == 3 && PT == 4 && SW == 1 && DW == 1) {
    gradWeight3x4Chunk(r, g.p0, g.p1, g.p2, g.p3, &acc[0][0]);
    return;
  }
#endif
  constexpr int Window = (PT - 1) * SW + (KW - 1) * DW + 1;
  pinLow<FB * KW>(&acc[0][0]);
  float window[Window];
  loadFloats<Window, kWindowBlock>(r, window);
  gradWeightChannel<0, FB, KW, PT, SW, DW>(g, window, acc);
  gradWeightChannel<1, FB, KW, PT, SW, DW>(g, window, acc);
  gradWeightChannel<2, FB, KW, PT, SW, DW>(g, window, acc);
  gradWeightChannel<3, FB, KW, PT, SW, DW>(g, window, acc);
}

/// acc[b][kw] += sum over the OW positions of one output row of
/// dy[b*P + ow] * row[ow*SW + kw*DW], PB positions per step.
template <int FB, int KW, int OW, int SW, int DW, int P, int PB>
__attribute__((always_inline)) inline void
gradWeightRow(const float *__restrict dy, const float *__restrict row,
              float (&acc)[FB][KW]) {
  static_assert(FB <= 4);
  Rows g = {dy, dy + P, dy + 2 * P, dy + 3 * P, nullptr};
  constexpr int Full = OW / PB * PB;
  MCUTRAIN_NO_UNROLL for (int ow0 = 0; ow0 < Full; ow0 += PB)
      gradWeightChunk<FB, KW, PB, SW, DW>(row + ow0 * SW, g, acc);
  if constexpr (Full < OW)
    gradWeightChunk<FB, KW, OW - Full, SW, DW>(row + Full * SW, g, acc);
}

/// Weight gradient of an ungrouped convolution: dw (F x C x KH x KW) +=
/// sum over n, oh, ow of dy[n][f][oh][ow] * x[n][c][oh*SH + kh*DH][ow*SW +
/// kw*DW] (x padded). A tile is 4 output channels x the KW taps of one
/// input channel's kernel row, summed from zero over every position.
template <int N, int C, int HP, int WP, int F, int KH, int KW, int OH, int OW,
          int SH, int SW, int DH, int DW>
__attribute__((noinline)) inline void gradWeight(const float *__restrict dy,
                                                 const float *__restrict x,
                                                 float *__restrict dw) {
  // 4 output channels x the KW taps of a row, fewer channels where that
  // is more accumulators than s0-s15.
  constexpr int FitChannels = KW >= 16 ? 1 : 16 / KW;
  constexpr int FB = smaller(F, smaller(4, FitChannels)), P = OH * OW;
  constexpr int PB = tilePositions(FB, SW, KW, DW);
  blocks<F, FB>([&](auto fb, int f0) {
    constexpr int FT = decltype(fb)::value;
    for (int c = 0; c < C; ++c)
      for (int kh = 0; kh < KH; ++kh) {
        float acc[FT][KW];
        MCUTRAIN_TILE_UNROLL for (int b = 0; b < FT; ++b)
            MCUTRAIN_TILE_UNROLL for (int kw = 0; kw < KW; ++kw) acc[b][kw] =
                0.0f;
#if MCUTRAIN_MCU_VLDM
        if constexpr (FT == 4 && KW == 3 && SW == 1 && DW == 1) {
          gradWeight3x3RowsS1<N, OH, OW, P, F * P, SH * WP, C * HP * WP>(
              dy + f0 * P, x + (c * HP + kh * DH) * WP, &acc[0][0]);
        } else if constexpr (FT == 4 && KW == 3 && SW == 2 && DW == 1) {
          gradWeight3x3RowsS2<N, OH, OW, P, F * P, SH * WP, C * HP * WP>(
              dy + f0 * P, x + (c * HP + kh * DH) * WP, &acc[0][0]);
        } else
#endif
          for (int n = 0; n < N; ++n)
            MCUTRAIN_NO_UNROLL for (int oh = 0; oh < OH; ++oh)
                gradWeightRow<FT, KW, OW, SW, DW, P, PB>(
                    dy + (n * F + f0) * P + oh * OW,
                    x + ((n * C + c) * HP + oh * SH + kh * DH) * WP, acc);
        MCUTRAIN_TILE_UNROLL for (int b = 0; b < FT; ++b)
            MCUTRAIN_TILE_UNROLL for (int kw = 0; kw < KW; ++kw)
                dw[(((f0 + b) * C + c) * KH + kh) * KW + kw] += acc[b][kw];
      }
  });
}

/// acc[i][J] += av[i][k] * bj[k] for S steps (bj advances past them).
template <int J, int MB, int NB, int S>
__attribute__((always_inline)) inline void
dotColumn(const float *__restrict &bj, const float (&av)[MB][S],
          float (&acc)[MB][NB]) {
  if constexpr (J < NB) {
    float bv[S];
    loadFloats<S, kRowBlock + J % 2>(bj, bv);
    MCUTRAIN_TILE_UNROLL for (int k = 0; k < S; ++k)
        MCUTRAIN_TILE_UNROLL for (int i = 0; i < MB; ++i) acc[i][J] +=
        av[i][k] * bv[k];
  }
}

/// acc[i][j] += sum over S steps of a_i[k] * b_j[k] (the pointers advance
/// past them; each its own variable: in an array or a struct, GCC kept
/// them in memory and reloaded and stored each around its load).
template <int MB, int NB, int S>
__attribute__((always_inline)) inline void
dotStep(const float *__restrict &a0, const float *__restrict &a1,
        const float *__restrict &b0, const float *__restrict &b1,
        const float *__restrict &b2, const float *__restrict &b3,
        const float *__restrict &b4, float (&acc)[MB][NB]) {
  float av[MB][S];
  loadFloats<S, kWindowBlock>(a0, av[0]);
  if constexpr (MB > 1)
    loadFloats<S, kWindowBlock + 1>(a1, av[MB > 1 ? 1 : 0]);
  dotColumn<0, MB, NB, S>(b0, av, acc);
  dotColumn<1, MB, NB, S>(b1, av, acc);
  dotColumn<2, MB, NB, S>(b2, av, acc);
  dotColumn<3, MB, NB, S>(b3, av, acc);
  dotColumn<4, MB, NB, S>(b4, av, acc);
}

/// store(i, j, sum over n < N, k < K of a[n*SA + i*LDA + k] * b[n*SB +
/// j*LDB + k]) for an MB x NB tile (MB <= 2, NB <= 4), each sum from zero
/// in (n, k) order: dot products along contiguous rows, 4 values of each
/// row per step (on the Cortex-M4, 1 + 4 loads and 16 multiply-adds for a
/// batch-1 Linear layer's 1 x 4).
template <int MB, int NB, int N, int K, int LDA, int LDB, int SA, int SB,
          typename Store>
__attribute__((always_inline)) inline void
dotTile(const float *__restrict a, const float *__restrict b, Store store) {
  constexpr int KS = 4, KF = K / KS * KS;
  float acc[MB][NB];
  MCUTRAIN_TILE_UNROLL for (int i = 0; i < MB; ++i)
      MCUTRAIN_TILE_UNROLL for (int j = 0; j < NB; ++j) acc[i][j] = 0.0f;
  static_assert(MB <= 2 && NB <= 5);
  for (int n = 0; n < N; ++n) {
    const float *a0 = a + n * SA, *a1 = a0 + LDA, *b0 = b + n * SB,
                *b1 = b0 + LDB, *b2 = b1 + LDB, *b3 = b2 + LDB, *b4 = b3 + LDB;
#if MCUTRAIN_MCU_VLDM
    if constexpr (MB == 2 && NB == 4 && KF > 0)
      dot2x4Steps<KF / KS>(a0, a1, b0, b1, b2, b3, &acc[0][0]);
    else
#endif
      MCUTRAIN_NO_UNROLL for (int k = 0; k < KF; k += KS)
          dotStep<MB, NB, KS>(a0, a1, b0, b1, b2, b3, b4, acc);
    if constexpr (KF < K)
      dotStep<MB, NB, K - KF>(a0, a1, b0, b1, b2, b3, b4, acc);
  }
  MCUTRAIN_TILE_UNROLL for (int i = 0; i < MB; ++i)
      MCUTRAIN_TILE_UNROLL for (int j = 0; j < NB; ++j) store(i, j, acc[i][j]);
}

/// y[i][j] (M x N) += alpha * sum_k a[i][k] b[j][k] (Overwrite: y = ...),
/// A M x K and B N x K with contiguous rows: tiles of up to 2 x 5.
template <int M, int N, int K, bool Overwrite>
__attribute__((noinline)) inline void
dotProducts(const float *__restrict a, const float *__restrict b,
            float *__restrict y, float alpha) {
  // Columns 5 at a time where that leaves no shorter tile and 4 does (a
  // 10-class layer: 5 + 5, not 4 + 4 + 2).
  constexpr int NB = N % 4 != 0 && N % 5 == 0 ? 5 : 4;
  blocks<M, 2>([&](auto mb, int i0) {
    blocks<N, NB>([&](auto nb, int j0) {
      dotTile<decltype(mb)::value, decltype(nb)::value, 1, K, K, K, 0, 0>(
          a + i0 * K, b + j0 * K, [&](int i, int j, float sum) {
            float &out = y[(i0 + i) * N + j0 + j];
            out = Overwrite ? alpha * sum : out + alpha * sum;
          });
    });
  });
}

/// Weight gradient of an ungrouped pointwise convolution on P-value planes:
/// dw (F x C) += sum over n, p of dy[n][f][p] * x[n][c][p]: 2 x 4 tiles of
/// dot products along the planes.
template <int N, int C, int F, int P>
__attribute__((noinline)) inline void
pointwiseGradWeight(const float *__restrict dy, const float *__restrict x,
                    float *__restrict dw) {
  blocks<F, 2>([&](auto fb, int f0) {
    blocks<C, 4>([&](auto cb, int c0) {
      dotTile<decltype(fb)::value, decltype(cb)::value, N, P, P, P, F * P,
              C * P>(dy + f0 * P, x + c0 * P, [&](int i, int j, float sum) {
        dw[(f0 + i) * C + c0 + j] += sum;
      });
    });
  });
}

/// w[i][j] -= rate * (dy[i] * x[j]) for S columns (xv: their x), read
/// through wr and written through w (both advance past them); with
/// InputGrad, also sum[j] += dy[i] * w[i][j] (the old w).
template <int S, bool InputGrad>
__attribute__((always_inline)) inline void
sgdOuterStep(float d, float rate, const float *xv, const float *__restrict &wr,
             float *__restrict &w, float *sum) {
  float wv[S];
  loadFloats<S, kRowBlock>(wr, wv);
  MCUTRAIN_TILE_UNROLL for (int j = 0; j < S; ++j) {
    if constexpr (InputGrad)
      sum[j] += d * wv[j];
    const float g = d * xv[j];
    wv[j] = wv[j] - rate * g;
  }
  storeFloats<S, kRowBlock>(w, wv);
}

#if MCUTRAIN_MCU_HELIUM
/// sgdOuterStep on Helium for the first Lanes of 4 columns: the weights'
/// vector, the rounded gradient dy[i] * x[j] (VMUL), the update as one
/// fused multiply-add by -rate (as the scalar step compiles: VFMA with the
/// negated rate), and with InputGrad sum += d * (old w) first; lanes are
/// columns, so the results are the scalar step's to the bit.
template <int Lanes, bool InputGrad>
__attribute__((always_inline)) inline void
sgdOuterVector(float d, float rate, const float *x, float *w,
               float32x4_t *sum) {
  float32x4_t wv = heliumLoad<Lanes>(w);
  if constexpr (InputGrad)
    *sum = vfmaq_n_f32(*sum, wv, d);
  const float32x4_t g = vmulq_n_f32(heliumLoad<Lanes>(x), d);
  heliumStore<Lanes>(w, vfmaq_n_f32(wv, g, -rate));
}

/// sgdOuterColumns on Helium: Lanes columns (at most 4) down all M rows.
template <int M, int N, int Lanes, bool Overwrite>
__attribute__((always_inline)) inline void
sgdOuterColumnsHelium(const float *__restrict dy, const float *__restrict x,
                      float rate, float *__restrict dx, float *__restrict w) {
  float32x4_t sum = vdupq_n_f32(0.0f);
  for (int i = 0; i < M; ++i)
    sgdOuterVector<Lanes, true>(dy[i], rate, x, w + i * N, &sum);
  if constexpr (!Overwrite)
    sum = vaddq_f32(heliumLoad<Lanes>(dx), sum);
  heliumStore<Lanes>(dx, sum);
}
#endif

/// SGD on an M x N weight from its batch-1 outer-product gradient,
/// w[i][j] -= rate * (dy[i] * x[j]) (the gradient's element rounded, then
/// the update, as the loop it replaces), a row at a time, 4 columns per
/// step: on the Cortex-M4, 2 loads, 4 multiplies, 4 multiply-adds and a
/// store for 4 weights.
template <int M, int N>
__attribute__((noinline)) inline void
sgdOuterUpdate(const float *__restrict dy, const float *__restrict x,
               const float *__restrict lr, float *__restrict w) {
  const float rate = *lr;
  constexpr int Full = N / 4 * 4;
#if MCUTRAIN_MCU_HELIUM
  for (int i = 0; i < M; ++i, w += N)
    blocks<N, 4>([&](auto lanes, int j) {
      sgdOuterVector<decltype(lanes)::value, false>(dy[i], rate, x + j, w + j,
                                                    nullptr);
    });
  return;
#endif
  const float *wr = w;
  for (int i = 0; i < M; ++i) {
    const float d = dy[i];
    const float *xp = x;
    MCUTRAIN_NO_UNROLL for (int j = 0; j < Full; j += 4) {
      float xv[4];
      loadFloats<4, kWindowBlock>(xp, xv);
      sgdOuterStep<4, false>(d, rate, xv, wr, w, nullptr);
    }
    if constexpr (Full < N) {
      float xv[N - Full];
      loadFloats<N - Full, kWindowBlock>(xp, xv);
      sgdOuterStep<N - Full, false>(d, rate, xv, wr, w, nullptr);
    }
  }
}

/// S columns of sgdOuterUpdateInputGrad down all M rows: their x and sums
/// stay in registers.
template <int M, int N, int S, bool Overwrite>
__attribute__((always_inline)) inline void
sgdOuterColumns(const float *__restrict dy, const float *__restrict x,
                float rate, float *__restrict dx, float *__restrict w) {
  float sum[S], xv[S];
  MCUTRAIN_TILE_UNROLL for (int j = 0; j < S; ++j) sum[j] = 0.0f;
  loadFloats<S, kWindowBlock>(x, xv);
  const float *wr = w;
  for (int i = 0; i < M; ++i) {
    sgdOuterStep<S, true>(dy[i], rate, xv, wr, w, sum);
    wr += N - S;
    w += N - S;
  }
  MCUTRAIN_TILE_UNROLL for (int j = 0; j < S; ++j) dx[j] =
      Overwrite ? sum[j] : dx[j] + sum[j];
}

/// sgdOuterUpdate that also yields the input gradient from the old weights,
/// dx[j] (+)= sum over i of dy[i] * w[i][j] (Overwrite: =), 4 columns at a
/// time down all rows.
template <int M, int N, bool Overwrite>
__attribute__((noinline)) inline void
sgdOuterUpdateInputGrad(const float *__restrict dy, const float *__restrict x,
                        const float *__restrict lr, float *__restrict dx,
                        float *__restrict w) {
  const float rate = *lr;
  constexpr int Full = N / 4 * 4;
#if MCUTRAIN_MCU_HELIUM
  blocks<N, 4>([&](auto lanes, int j) {
    sgdOuterColumnsHelium<M, N, decltype(lanes)::value, Overwrite>(
        dy, x + j, rate, dx + j, w + j);
  });
  return;
#endif
  for (int j0 = 0; j0 < Full; j0 += 4)
    sgdOuterColumns<M, N, 4, Overwrite>(dy, x + j0, rate, dx + j0, w + j0);
  if constexpr (Full < N)
    sgdOuterColumns<M, N, N - Full, Overwrite>(dy, x + Full, rate, dx + Full,
                                               w + Full);
}

/// acc[i][j] = sum over f < F of a[f*LDA + i] * b[f*LDB + j] for a 4 x 4
/// tile (a's and b's rows 4 consecutive values each, LDA and LDB apart):
/// per f 2 loads and 16 multiply-adds.
template <int F, int LDA, int LDB>
__attribute__((always_inline)) inline void outerSums(const float *__restrict a,
                                                     const float *__restrict b,
                                                     float (&acc)[4][4]) {
  MCUTRAIN_TILE_UNROLL for (int i = 0; i < 4; ++i)
      MCUTRAIN_TILE_UNROLL for (int j = 0; j < 4; ++j) acc[i][j] = 0.0f;
  const float *ap = a, *bp = b;
  MCUTRAIN_NO_UNROLL for (int f = 0; f < F; ++f) {
    pinLow<16>(&acc[0][0]);
    float av[4], bv[4];
    loadFloats<4, kWindowBlock>(ap, av);
    loadFloats<4, kRowBlock>(bp, bv);
    ap += LDA - 4; // (past the 4 loaded: to the next f's)
    bp += LDB - 4;
    MCUTRAIN_TILE_UNROLL for (int i = 0; i < 4; ++i)
        MCUTRAIN_TILE_UNROLL for (int j = 0; j < 4; ++j) acc[i][j] +=
        av[i] * bv[j];
  }
}

/// Input gradient of a strided (ungrouped) convolution, the adjoint of
/// correlate: dxp (the padded input, N x C x HP x WP) += dy[n][f][oh][ow] *
/// w[f][c][kh][kw] at row oh*SH + kh*DH, column ow*SW + kw*DW. The columns
/// of the gradient, dcol[k][p] = sum over f of w[f][k] dy[f][p] (k =
/// (c, kh, kw), p = (oh, ow)), in 4 x 4 tiles along w's and dy's rows, each
/// added to its input position as it is done: only the multiply-adds that
/// are not with the zeros a stride inserts. (Sums in another order than
/// the scalar loops': per tap, then across taps.)
template <int N, int C, int HP, int WP, int F, int KH, int KW, int OH, int OW,
          int SH, int SW, int DH, int DW>
__attribute__((noinline)) inline void
gradInputStrided(const float *__restrict dy, const float *__restrict w,
                 float *__restrict dxp) {
  constexpr int K = C * KH * KW, P = OH * OW;
  static_assert(K % 4 == 0 && P % 4 == 0, "whole 4 x 4 tiles only");
  for (int n = 0; n < N; ++n)
    for (int k0 = 0; k0 < K; k0 += 4)
      for (int p0 = 0; p0 < P; p0 += 4) {
        float acc[4][4];
        outerSums<F, K, P>(w + k0, dy + n * F * P + p0, acc);
        // (4 positions of one output row where OW is a multiple of 4:
        // their row found once.)
        const int oh0 = p0 / OW, ow0 = p0 % OW;
        MCUTRAIN_TILE_UNROLL for (int i = 0; i < 4; ++i) {
          const int k = k0 + i, c = k / (KH * KW), kh = k / KW % KH,
                    kw = k % KW;
          float *plane = dxp + ((n * C + c) * HP + kh * DH) * WP + kw * DW;
          MCUTRAIN_TILE_UNROLL for (int j = 0; j < 4; ++j) {
            if constexpr (OW % 4 == 0) {
              plane[oh0 * SH * WP + (ow0 + j) * SW] += acc[i][j];
            } else {
              const int p = p0 + j;
              plane[p / OW * SH * WP + p % OW * SW] += acc[i][j];
            }
          }
        }
      }
}

} // namespace mcu

} // namespace kernels
} // namespace mcutrain

#endif
