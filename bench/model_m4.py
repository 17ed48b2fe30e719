#!/usr/bin/python3
"""Instructions per MAC of a whole model on QEMU's Cortex-M4 (or, with
--cpu m55, the Cortex-M55 with Helium on mps3-an547): the forward
pass (an --inference-only package's predict) and, with --train, one
training step (SGD, the compile options given after --).

  bench/model_m4.py MODEL.onnx [--train] [--reps 3] [--work DIR]
                    [--cpu m4|m55] [-- MCUTRAIN OPTIONS...]

Builds the package with arm-none-eabi-g++ -O2 (the firmware's start-up
code and linker script, RAM region 4 MiB: the figure is instructions, not
fit; report.json gives the RAM) around a main that runs predict (and
train_step on label 0) `reps` times on a fixed input, and runs it on
qemu-system-arm -M mps2-an386 -icount shift=0 (SysTick counts
instructions, calibrated in the run). MACs come from report.json
(the package's kForwardMacs, and last_step().macs of the step). Prints one
Markdown table row:
model, MACs, instructions and instructions per MAC for each measure.
"""
import argparse
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import m4  # noqa: E402

MAIN = r"""
#include "m.h"
#include "semihosting.h"
#include "systick.h"
#include <cstdint>
extern "C" void SysTick_Handler() { systick::onWrap(); }
static float x[m::kInputSize], y[m::kOutputSize];
static void report(const char *what, double instructions,
                   std::uint64_t macs) {
  semihosting::Line line;
  line << what << " " << (std::uint64_t)(instructions + 0.5) << " " << macs;
  line.print();
}
int main() {
  systick::start();
  std::uint64_t loopTicks = 0;
  double perTick = systick::calibrate(loopTicks);
  for (unsigned i = 0; i < m::kInputSize; ++i)
    x[i] = float((i * 37u) % 255u) / 255.0f;
  m::init();
  std::uint64_t t0 = systick::ticks();
  for (int r = 0; r < REPS; ++r)
    m::predict(x, y);
  report("forward", double(systick::ticks() - t0) * perTick / REPS,
         m::kForwardMacs);
#if TRAIN
  std::int32_t label = 0;
  t0 = systick::ticks();
  for (int r = 0; r < REPS; ++r)
    m::train_step(x, &label);
  report("train_step", double(systick::ticks() - t0) * perTick / REPS,
         m::last_step().macs);
#endif
  semihosting::exit(0);
}
"""


def main():
    argv = sys.argv[1:]
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("--train", action="store_true")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--mcutrain", default=os.path.join(m4.ROOT, "build",
                                                       "bin", "mcutrain"))
    ap.add_argument("--work")
    ap.add_argument("--cpu", choices=sorted(m4.CPUS), default="m4")
    args = ap.parse_args(argv)
    work = args.work or tempfile.mkdtemp(prefix="model_m4_")
    os.makedirs(work, exist_ok=True)
    mode = [] if args.train else ["--inference-only"]
    elf = m4.compile_package(args.mcutrain, args.model, work, [*mode, *extra],
                             MAIN, [f"-DREPS={args.reps}",
                                    f"-DTRAIN={int(args.train)}"],
                             cpu=args.cpu)
    lines = m4.run(elf, cpu=args.cpu)
    counts = {w[0]: (int(w[1]), int(w[2])) for w in
              (line.split() for line in lines)
              if len(w) == 3 and w[0] in ("forward", "train_step")}
    if "forward" not in counts:
        sys.exit("FAIL no figures from QEMU:\n" + "\n".join(lines))
    row = [os.path.basename(args.model)]
    for what in ("forward", "train_step"):
        if what in counts:
            n, mac = counts[what]
            row += [f"{mac:,}", f"{n:,}", f"{n / mac:.2f}"]
    print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
