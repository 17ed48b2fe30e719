#!/usr/bin/python3
"""An int8 package's predict() on QEMU's Cortex-M4 against the same
package built for the host: every output bit for bit.

  device_exact.py MODEL.onnx WORKDIR --mcutrain PATH [--samples N]

The package (--inference-only) is built with arm-none-eabi-g++ -O2 for the
Cortex-M4 (bench/m4.py: the firmware's start-up code, semihosting) and with
the host's g++ -O2 -march=native (fused multiply-add where the host has it),
around one main that runs predict() on N pseudo-random inputs and prints
each output's bits. The int8 layers' sums are integers, and the float
operations between int8 tensors (dequantize, residual Add, quantize) must
round once per operation on both: a fused multiply-add on either side, or
a rounding that differs, moves values next to a rounding boundary by one
step. Prints `N outputs, M differ`; exit status 1 if any differs.
"""
import argparse
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "bench"))
import m4  # noqa: E402

MAIN = r"""
#include "m.h"
#include <cstdint>
#include <cstring>
#ifdef DEVICE
#include "semihosting.h"
extern "C" void SysTick_Handler() {}
#else
#include <cstdio>
#endif
static float x[m::kInputSize], y[m::kOutputSize];
int main() {
  m::init();
  std::uint32_t seed = 12345u;
  for (int sample = 0; sample < SAMPLES; ++sample) {
    for (unsigned i = 0; i < m::kInputSize; ++i) {
      seed = seed * 1664525u + 1013904223u;
      x[i] = float(seed >> 8) / float(1u << 24) * 2.0f - 0.5f;
    }
    m::predict(x, y);
    for (unsigned i = 0; i < m::kOutputSize; ++i) {
      std::uint32_t bits;
      std::memcpy(&bits, &y[i], 4);
#ifdef DEVICE
      semihosting::Line line;
      line << "y " << sample << " " << int(i) << " " << std::uint64_t(bits);
      line.print();
#else
      std::printf("y %d %d %lu\n", sample, int(i), (unsigned long)bits);
#endif
    }
  }
#ifdef DEVICE
  semihosting::exit(0);
#endif
  return 0;
}
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("work")
    ap.add_argument("--mcutrain", required=True)
    ap.add_argument("--samples", type=int, default=20)
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    pkg = os.path.join(args.work, "pkg")
    res = subprocess.run([args.mcutrain, "compile", args.model, "-o", pkg,
                          "--name", "m", "--inference-only"],
                         capture_output=True, text=True)
    if res.returncode != 0:
        sys.exit(f"FAIL mcutrain compile:\n{res.stderr}")
    main_cpp = os.path.join(args.work, "main.cpp")
    with open(main_cpp, "w") as f:
        f.write(MAIN)
    sources = [os.path.join(pkg, n) for n in sorted(os.listdir(pkg))
               if n.endswith(".cpp")]
    samples = f"-DSAMPLES={args.samples}"
    elf = m4.build(args.work, [main_cpp, *sources],
                   ["-DDEVICE", samples, "-I" + pkg], ram_bytes=4194304)
    device = [line for line in m4.run(elf) if line.startswith("y ")]
    host_bin = os.path.join(args.work, "host")
    res = subprocess.run(["g++", "-std=c++17", "-O2", "-march=native",
                          samples, "-I" + pkg, main_cpp, *sources, "-o",
                          host_bin], capture_output=True, text=True)
    if res.returncode != 0:
        sys.exit(f"FAIL g++:\n{res.stderr}")
    host = subprocess.run([host_bin], capture_output=True, text=True,
                          check=True).stdout.strip().splitlines()
    if len(device) != len(host) or not host:
        sys.exit(f"FAIL {len(device)} device outputs, {len(host)} host")
    differ = sum(a != b for a, b in zip(device, host))
    print(f"{len(host)} outputs, {differ} differ")
    sys.exit(1 if differ else 0)


if __name__ == "__main__":
    main()
