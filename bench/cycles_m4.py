#!/usr/bin/python3
"""An estimate of Cortex-M4 cycles per training step from the instructions
QEMU executes: the step's instruction mix by class, each class at its
Cortex-M4 (r0p1 TRM) cycle count, and ms per step at a given clock.

  bench/cycles_m4.py MODEL.onnx [--mhz 168] [--work DIR] [--mcutrain M]
                     [-- MCUTRAIN OPTIONS...]

Builds the package as bench/model_m4.py does (arm-none-eabi-g++ -O2,
-mcpu=cortex-m4) around a main running init and STEPS training steps, runs
it under qemu-system-arm -d in_asm,exec,nochain (every executed translation
block and its instructions) with STEPS 1 and 2, and counts instructions by
mnemonic; the difference of the two runs is one step. A conditional branch
counts as taken when the next block executed is not the one after it.

The cycle table is the TRM's: single-cycle integer operations, loads 2,
stores 1, LDM/STM/PUSH/POP and VLDM/VSTM/VPUSH/VPOP 1 + registers, taken
branches 3 (1 + a 2-cycle refill), IT 1 (not folded), VADD/VSUB/VMUL and
other single-precision operations 1, VFMA/VMLA and relatives 3, VLDR/VSTR
2, VDIV/VSQRT 14, integer divides 7 (of 2-12). Not modelled: wait states
(flash above ~30 MHz without a cache or accelerator), pipeline interlocks
(a load's result used by the next instruction, back-to-back dependent
multiply-adds: the kernels interleave independent accumulators), write
buffer stalls. It is an estimate for zero-wait memory, not a measurement.
"""
import argparse
import collections
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import m4  # noqa: E402

MAIN = r"""
#include "m.h"
#include "semihosting.h"
#include <cstdint>
extern "C" void SysTick_Handler() {}
static float x[m::kInputSize];
int main() {
  for (unsigned i = 0; i < m::kInputSize; ++i)
    x[i] = float((i * 37u) % 255u) / 255.0f;
  m::init();
  std::int32_t label = 0;
  for (int s = 0; s < STEPS; ++s)
    m::train_step(x, &label);
  semihosting::Line line;
  line << "macs " << (std::uint64_t)m::last_step().macs;
  line.print();
  semihosting::exit(0);
}
"""

FP_SLOW = re.compile(r"^v(fma|fms|fnma|fnms|mla|mls|nmla|nmls)")
FP_DIV = re.compile(r"^v(div|sqrt)")


def cycles(mnemonic, operands, taken):
    """The TRM's cycles for one executed instruction."""
    m = mnemonic.split(".")[0]
    registers = register_count(operands)
    if m in ("vldm", "vldmia", "vldmdb", "vstm", "vstmia", "vstmdb", "vpush",
             "vpop", "ldm", "ldmia", "ldmdb", "stm", "stmia", "stmdb", "push",
             "pop"):
        # (Popping pc is a branch: 2 more for the refill.)
        return 1 + registers + (2 if "pc" in operands else 0)
    if FP_SLOW.match(m):
        return 3
    if FP_DIV.match(m):
        return 14
    if m in ("vldr", "vstr"):
        return 2
    if m.startswith("ldr"):
        return 2
    if m in ("sdiv", "udiv"):
        return 7
    if m in ("b", "bl", "blx", "bx") or (m.startswith("b") and len(m) <= 4
                                         and m not in ("bic", "bics", "bfi",
                                                       "bfc")):
        return 3 if taken else 1
    if m.startswith("cb"):  # cbz/cbnz
        return 3 if taken else 1
    return 1


def register_count(operands):
    """Registers in a {...} list (s16-s21 counts 6)."""
    inside = re.search(r"\{([^}]*)\}", operands)
    if not inside:
        return 0
    n = 0
    for part in inside.group(1).split(","):
        part = part.strip()
        r = re.match(r"[sdr](\d+)\s*-\s*[sdr](\d+)", part)
        n += int(r.group(2)) - int(r.group(1)) + 1 if r else 1
    return n


def profile(elf):
    """(instructions by mnemonic, cycles by class) of a whole run."""
    with tempfile.NamedTemporaryFile(suffix=".log") as log:
        subprocess.run(["qemu-system-arm", "-M", "mps2-an386", "-nographic",
                        "-semihosting-config", "enable=on,target=native",
                        "-icount", "shift=0", "-d", "in_asm,exec,nochain",
                        "-D", log.name, "-kernel", elf],
                       capture_output=True, timeout=3600, check=True)
        blocks, executed, order = {}, collections.Counter(), []
        current = None
        with open(log.name, errors="replace") as f:
            for line in f:
                if line.startswith("IN:"):
                    current = []
                elif current is not None and line.startswith("0x"):
                    addr, rest = line.split(":", 1)
                    parts = rest.split(None, 2)
                    # (hex bytes, mnemonic, operands)
                    words = rest.split()
                    i = 1
                    while i < len(words) and re.fullmatch(r"[0-9a-f]{4}",
                                                          words[i]):
                        i += 1
                    mnem = words[i] if i < len(words) else "?"
                    ops = " ".join(words[i + 1:])
                    current.append((int(addr, 16), mnem, ops,
                                    len(parts[0]) // 2 if parts else 2))
                elif line.startswith("Trace"):
                    if current:
                        blocks[current[0][0]] = current
                        current = None
                    pc = int(line.split("[")[1].split("/")[1], 16)
                    order.append(pc)
        return blocks, order


def count(blocks, order):
    mix, cyc = collections.Counter(), collections.Counter()
    for i, pc in enumerate(order):
        block = blocks.get(pc)
        if not block:
            continue
        nxt = order[i + 1] if i + 1 < len(order) else None
        for j, (addr, mnem, ops, size) in enumerate(block):
            last = j == len(block) - 1
            taken = last and nxt is not None and nxt != addr + size
            mix[mnem.split(".")[0]] += 1
            cyc[mnem.split(".")[0]] += cycles(mnem, ops, taken)
    return mix, cyc


def main():
    argv = sys.argv[1:]
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("--mhz", type=float, default=168.0)
    ap.add_argument("--mcutrain", default=os.path.join(m4.ROOT, "build",
                                                       "bin", "mcutrain"))
    ap.add_argument("--work")
    args = ap.parse_args(argv)
    work = args.work or tempfile.mkdtemp(prefix="cycles_m4_")
    os.makedirs(work, exist_ok=True)
    runs = []
    for steps in (1, 2):
        elf = m4.compile_package(args.mcutrain, args.model, work, extra, MAIN,
                                 ["-DSTEPS=%d" % steps], "steps%d" % steps)
        runs.append(count(*profile(elf)))
        macs = [ln for ln in m4.run(elf) if ln.startswith("macs")]
    mix = runs[1][0] - runs[0][0]
    cyc = runs[1][1] - runs[0][1]
    macs = int(macs[0].split()[1]) if macs else 0
    n, c = sum(mix.values()), sum(cyc.values())
    print("| class | instructions | cycles |")
    print("| --- | ---: | ---: |")
    classes = collections.defaultdict(lambda: [0, 0])
    for mnem in mix:
        key = ("VFMA/VMLA" if FP_SLOW.match(mnem) else
               "VLDM/VSTM/VPUSH/VPOP" if mnem in ("vldmia", "vldmdb", "vstmia",
                                                   "vstmdb", "vpush", "vpop",
                                                   "vldm", "vstm") else
               "VLDR/VSTR" if mnem in ("vldr", "vstr") else
               "other FP" if mnem.startswith("v") else
               "loads" if mnem.startswith("ldr") or mnem.startswith("ldm")
               or mnem == "pop" else
               "stores" if mnem.startswith("str") or mnem.startswith("stm")
               or mnem == "push" else
               "branches" if mnem.startswith("b") and mnem not in (
                   "bic", "bics", "bfi", "bfc") or mnem.startswith("cb") else
               "other integer")
        classes[key][0] += mix[mnem]
        classes[key][1] += cyc[mnem]
    for key, (i, k) in sorted(classes.items(), key=lambda kv: -kv[1][1]):
        print(f"| {key} | {i:,} | {k:,} |")
    print(f"| total | {n:,} | {c:,} |")
    print(f"\n{os.path.basename(args.model)}: {macs:,} MACs, {n:,} "
          f"instructions ({n / max(macs, 1):.2f} per MAC), {c:,} cycles "
          f"({c / max(n, 1):.2f} per instruction, {c / max(macs, 1):.2f} per "
          f"MAC): {c / args.mhz / 1000:.2f} ms per step at {args.mhz:g} MHz")


if __name__ == "__main__":
    main()
