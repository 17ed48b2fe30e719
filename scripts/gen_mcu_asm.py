#!/usr/bin/python3
"""Writes the assembler steps of runtime/mcutrain_kernels_mcu.h (the region
between its "BEGIN gen_mcu_asm.py" and "END gen_mcu_asm.py" lines): the 3x3
stride-1 convolution and weight-gradient tiles for Arm's VFP, whose register
names (accumulator, weight, window value per multiply-add) are worked out
here rather than written by hand.

  scripts/gen_mcu_asm.py [--check]

--check: exit 1 if the header's region is not what this script writes.
"""
import argparse
import os
import sys

HEADER = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))), "runtime", "mcutrain_kernels_mcu.h")
BEGIN = "// BEGIN gen_mcu_asm.py"
END = "// END gen_mcu_asm.py"


def paired_weight(b, kw):
    """Where weight (channel b, column kw) sits in a packed kernel row:
    channels 0-1 for the three columns, then channels 2-3 (pairedWeight)."""
    return (b // 2 * 3 + kw) * 2 + b % 2


def fma_lines(fmas, per_line=4):
    """MCUTRAIN_FMA(acc, a, b) invocations, per_line to a line."""
    calls = ["MCUTRAIN_FMA(%d, %d, %d)" % f for f in fmas]
    return [" ".join(calls[i:i + per_line])
            for i in range(0, len(calls), per_line)]


def asm_statement(lines, outputs, inputs, clobbers, indent):
    pad = " " * indent
    text = [pad + "__asm__ volatile("]
    text += [pad + "    " + line for line in lines]
    text.append(pad + "    : " + outputs)
    text.append(pad + "    : " + inputs)
    text.append(pad + "    : " + clobbers + ");")
    return text


def plus_t(accs):
    return ", ".join('"+t"(a%d)' % a for a in accs)


def conv_rows_pb4(indent):
    """Two statements per kernel row: channels 0-1 (s0-s7) loading the
    window into s16-s21, then channels 2-3 (s8-s15) reading it; each
    column's pair of weights in s24-s29."""
    halves = []
    for half in range(2):
        lines = ['"vldmia %[row], {s16-s21}\\n\\t"'] if half == 0 else []
        for kw in range(3):
            reg = 24 + 2 * kw
            lines.append('"vldmia %%[w]!, {s%d-s%d}\\n\\t"' % (reg, reg + 1))
            fmas = [(4 * b + p, reg + b % 2, 16 + p + kw)
                    for b in (2 * half, 2 * half + 1) for p in range(4)]
            lines += fma_lines(fmas)
        accs = range(8 * half, 8 * half + 8)
        if half == 0:
            outputs = plus_t(accs) + ', MCUTRAIN_WINDOW_OUT(6), [w] "+r"(wp)'
            inputs = ('[row] "r"(row), "m"(*(const float(*)[6])row), '
                      '"m"(*(const float(*)[6])wp)')
        else:
            outputs = plus_t(accs) + ', [w] "+r"(wp)'
            inputs = 'MCUTRAIN_WINDOW_IN(6), "m"(*(const float(*)[6])wp)'
        clobbers = ", ".join('"s%d"' % r for r in range(24, 30))
        halves += asm_statement(lines, outputs, inputs, clobbers, indent)
    return halves


def pointwise_rows(indent):
    """Two statements per input channel: channels 0-1 (s0-s7) loading the
    4 inputs into s16-s19 and their weights into s24-s25, then channels
    2-3 (s8-s15) with theirs in s26-s27."""
    text = []
    for half in range(2):
        lines = ['"vldmia %[row], {s16-s19}\\n\\t"'] if half == 0 else []
        reg = 24 + 2 * half
        lines.append('"vldmia %%[w]!, {s%d-s%d}\\n\\t"' % (reg, reg + 1))
        fmas = [(4 * b + p, reg + b % 2, 16 + p)
                for b in (2 * half, 2 * half + 1) for p in range(4)]
        lines += fma_lines(fmas)
        accs = range(8 * half, 8 * half + 8)
        if half == 0:
            outputs = plus_t(accs) + ', MCUTRAIN_WINDOW_OUT(4), [w] "+r"(wp)'
            inputs = ('[row] "r"(row), "m"(*(const float(*)[4])row), '
                      '"m"(*(const float(*)[2])wp)')
        else:
            outputs = plus_t(accs) + ', [w] "+r"(wp)'
            inputs = 'MCUTRAIN_WINDOW_IN(4), "m"(*(const float(*)[2])wp)'
        clobbers = ", ".join('"s%d"' % r for r in range(reg, reg + 2))
        text += asm_statement(lines, outputs, inputs, clobbers, indent)
    return text


def conv_rows_pb2(indent):
    """One statement per kernel row: 8 accumulators (s0-s7), the window in
    s16-s19, all 12 weights of the row in s20-s31."""
    lines = ['"vldmia %[row], {s16-s19}\\n\\t"',
             '"vldmia %[w]!, {s20-s31}\\n\\t"']
    fmas = [(2 * b + p, 20 + paired_weight(b, kw), 16 + p + kw)
            for kw in range(3) for b in range(4) for p in range(2)]
    lines += fma_lines(fmas)
    outputs = plus_t(range(8)) + ', [w] "+r"(wp)'
    inputs = ('[row] "r"(row), "m"(*(const float(*)[4])row), '
              '"m"(*(const float(*)[12])wp)')
    clobbers = ", ".join('"s%d"' % r for r in range(16, 32))
    return asm_statement(lines, outputs, inputs, clobbers, indent)


def grad_chunk(pt, indent, stride=1):
    """Two statements for PT positions of a row at stride 1 or 2: channels
    0-1 (s0-s5) loading the window into s16.., then channels 2-3 (s6-s11);
    a channel's PT gradients in s24.. or s28.."""
    window = (pt - 1) * stride + 3
    text = []
    for half in range(2):
        lines = (['"vldmia %%[r], {s16-s%d}\\n\\t"' % (15 + window)]
                 if half == 0 else [])
        for bb in range(2):
            b = 2 * half + bb
            reg = 24 + 4 * bb
            regs = ("s%d" % reg if pt == 1 else "s%d-s%d" % (reg, reg + pt - 1))
            lines.append('"vldmia %%[g%d]!, {%s}\\n\\t"' % (b, regs))
            fmas = [(3 * b + kw, reg + p, 16 + p * stride + kw)
                    for p in range(pt) for kw in range(3)]
            lines += fma_lines(fmas, 6)
        accs = range(6 * half, 6 * half + 6)
        g = (2 * half, 2 * half + 1)
        pointers = ", ".join('[g%d] "+r"(g%d)' % (i, i) for i in g)
        memory = ", ".join('"m"(*(const float(*)[%d])g%d)' % (pt, i) for i in g)
        if half == 0:
            outputs = "%s, MCUTRAIN_WINDOW_OUT(%d), %s" % (plus_t(accs), window,
                                                         pointers)
            inputs = ('[r] "r"(r), "m"(*(const float(*)[%d])r), %s'
                      % (window, memory))
        else:
            outputs = "%s, %s" % (plus_t(accs), pointers)
            inputs = "MCUTRAIN_WINDOW_IN(%d), %s" % (window, memory)
        clobbers = ", ".join('"s%d"' % r for r in
                             [*range(24, 24 + pt), *range(28, 28 + pt)])
        text += asm_statement(lines, outputs, inputs, clobbers, indent)
    return text


def acc_decls(count):
    """a0.. in s0.., from acc[]."""
    return ["  MCUTRAIN_ACC(%d);" % i for i in range(count)]


def acc_back(count):
    return ["  acc[%d] = a%d;" % (i, i) for i in range(count)]


def grad_rows(stride, main_pt):
    """gradWeight3x3RowsS<stride>: the whole reduction of one (channels,
    input channel, kernel row) tile, main_pt positions per step and the
    row's last positions in steps of 2 and 1."""
    out = ("""/// gradWeight's reduction for 4 output channels x the 3 taps of one
/// kernel row at stride %(s)d (acc[b*3 + kw] in s(3b + kw)), over the OW
/// positions of OH rows of N samples (dy: the channels' first gradient,
/// P apart; x: the taps' first input row, RS apart, samples XS apart): %(pt)d
/// positions per step (1 + 4 loads, %(macs)d multiply-adds), a row's last
/// ones 2 and 1 at a time.
template <int N, int OH, int OW, int P, int DS, int RS, int XS>
__attribute__((always_inline)) inline void
gradWeight3x3RowsS%(s)d(const float *__restrict dy, const float *__restrict x,
                     float *acc) {""" % {"s": stride, "pt": main_pt,
                                         "macs": 12 * main_pt}).split("\n")
    out += acc_decls(12)
    out += ("""  for (int n = 0; n < N; ++n)
    MCUTRAIN_NO_UNROLL for (int oh = 0; oh < OH; ++oh) {
      const float *g0 = dy + n * DS + oh * OW, *g1 = g0 + P, *g2 = g1 + P,
                  *g3 = g2 + P;
      const float *row = x + n * XS + oh * RS;
      MCUTRAIN_WINDOW;
      MCUTRAIN_NO_UNROLL for (int ow = 0; ow + %(pt)d <= OW; ow += %(pt)d) {
        const float *r = row + ow * %(s)d;""" % {"s": stride, "pt": main_pt}
            ).split("\n")
    out += grad_chunk(main_pt, 8, stride)
    out.append("      }")
    out.append("      if constexpr (OW %% %d >= 2) {" % main_pt)
    out.append("        const float *r = row + OW / %d * %d * %d;"
               % (main_pt, main_pt, stride))
    out += grad_chunk(2, 8, stride)
    out.append("      }")
    out.append("      if constexpr (OW %% %d %% 2 == 1) {" % main_pt)
    out.append("        const float *r = row + (OW - 1) * %d;" % stride)
    out += grad_chunk(1, 8, stride)
    out.append("      }")
    out.append("    }")
    out += acc_back(12)
    out.append("}")
    out.append("")
    return out


def dot_rows():
    """dot2x4Steps: Steps steps of 4 values of two rows of a (s16-s19,
    s20-s23) against four rows of b (s24-s27, s28-s31 alternately), the 8
    sums in s0-s7 (acc[i*4 + j]) over the whole loop: 6 loads and 32
    multiply-adds a step; the loop is in the statement too (around it, GCC
    copied the pointers in and out of registers every step)."""
    out = """/// dotTile's 2 x 4 tile on Arm: Steps steps of 4 values of rows a0, a1
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
            float *acc) {""".split("\n")
    out += acc_decls(8)
    out.append("  int steps = Steps;")
    lines = ['"1:\\n\\t"', '"vldmia %[pa0]!, {s16-s19}\\n\\t"',
             '"vldmia %[pa1]!, {s20-s23}\\n\\t"']
    for j in range(4):
        reg = 24 + 4 * (j % 2)
        lines.append('"vldmia %%[pb%d]!, {s%d-s%d}\\n\\t"' % (j, reg, reg + 3))
        fmas = [(4 * i + j, 16 + 4 * i + k, reg + k)
                for k in range(4) for i in range(2)]
        lines += fma_lines(fmas, 4)
    lines += ['"subs %[steps], %[steps], #1\\n\\t"', '"bne 1b\\n\\t"']
    outputs = (plus_t(range(8)) + ", " +
               ", ".join('[%s] "+r"(%s)' % (p, p) for p in
                         ("pa0", "pa1", "pb0", "pb1", "pb2", "pb3")) +
               ', [steps] "+r"(steps)')
    # (The rows read: a "memory" clobber, their 6 operands would pass 30.)
    inputs = ""
    clobbers = (", ".join('"s%d"' % r for r in range(16, 32)) +
                ', "cc", "memory"')

    out += asm_statement(lines, outputs, inputs, clobbers, 2)
    out += acc_back(8)
    out.append("}")
    out.append("")
    return out


def generate():
    out = [BEGIN + " (scripts/gen_mcu_asm.py writes this region)",
           "// clang-format off"]
    out += """/// correlateTile's reduction for 4 output channels x 4 positions of a
/// 3x3 stride-1 kernel, weights packed by pairedWeight: acc[b*4 + p] in
/// s(4b + p) over the whole loop; per kernel row 1 + 6 loads and 48
/// multiply-adds.
template <int CC, int KH, int DH, int WP, int PLANE>
__attribute__((always_inline)) inline void
correlate3x3Rows4(const float *__restrict in, const float *__restrict wp,
                  float *acc) {""".split("\n")
    out += acc_decls(16)
    out += """  MCUTRAIN_NO_UNROLL for (int c = 0; c < CC; ++c)
    MCUTRAIN_NO_UNROLL for (int kh = 0; kh < KH; ++kh) {
      const float *row = in + c * PLANE + kh * DH * WP;
      MCUTRAIN_WINDOW;""".split("\n")
    out += conv_rows_pb4(6)
    out.append("    }")
    out += acc_back(16)
    out.append("}")
    out.append("")
    out += """/// correlateTile's reduction for 4 output channels x 4 positions of a
/// 1x1 kernel (a pointwise layer's, or its input gradient's): acc[b*4 + p]
/// in s(4b + p); per input channel 3 loads and 16 multiply-adds.
template <int CC, int PLANE>
__attribute__((always_inline)) inline void
correlate1x1Rows4(const float *__restrict in, const float *__restrict wp,
                  float *acc) {""".split("\n")
    out += acc_decls(16)
    out += """  MCUTRAIN_NO_UNROLL for (int c = 0; c < CC; ++c) {
    const float *row = in + c * PLANE;
    MCUTRAIN_WINDOW;""".split("\n")
    out += pointwise_rows(4)
    out.append("  }")
    out += acc_back(16)
    out.append("}")
    out.append("")
    out += """/// The same for 2 positions (a row's last): acc[b*2 + p] in s(2b + p);
/// per kernel row 2 loads (the window, all 12 weights) and 24
/// multiply-adds.
template <int CC, int KH, int DH, int WP, int PLANE>
__attribute__((always_inline)) inline void
correlate3x3Rows2(const float *__restrict in, const float *__restrict wp,
                  float *acc) {""".split("\n")
    out += acc_decls(8)
    out += """  MCUTRAIN_NO_UNROLL for (int c = 0; c < CC; ++c)
    MCUTRAIN_NO_UNROLL for (int kh = 0; kh < KH; ++kh) {
      const float *row = in + c * PLANE + kh * DH * WP;""".split("\n")
    out += conv_rows_pb2(6)
    out.append("    }")
    out += acc_back(8)
    out.append("}")
    out.append("")
    for stride, main_pt in ((1, 4), (2, 3)):
        out += grad_rows(stride, main_pt)
    out += dot_rows()
    out.append("// clang-format on")
    out.append(END)
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    with open(HEADER) as f:
        text = f.read()
    start, end = text.index(BEGIN), text.index(END) + len(END) + 1
    new = text[:start] + generate() + text[end:]
    if args.check:
        if new != text:
            sys.exit("FAIL runtime/mcutrain_kernels_mcu.h: the region of "
                     "gen_mcu_asm.py differs from what it writes")
        print("ok gen_mcu_asm.py region up to date")
        return
    with open(HEADER, "w") as f:
        f.write(new)


if __name__ == "__main__":
    main()
