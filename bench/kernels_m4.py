#!/usr/bin/python3
"""Instructions per MAC of the float kernels on QEMU's Cortex-M4.

  bench/kernels_m4.py [--work DIR]

Builds bench/kernels_m4.cpp for the Cortex-M4 (arm-none-eabi-g++ -O2,
the firmware's start-up code and linker script) and runs it on
qemu-system-arm -M mps2-an386 -icount shift=0, where SysTick counts
instructions (calibrated in the run against a loop of known length).
Prints one Markdown table row per layer: MACs, instructions per call, per
MAC. docs/cortex-m4.md quotes the table.
"""
import argparse
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import m4  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", help="build directory (default: a temporary one)")
    args = ap.parse_args()
    work = args.work or tempfile.mkdtemp(prefix="kernels_m4_")
    os.makedirs(work, exist_ok=True)
    elf = m4.build(work, [os.path.join(m4.ROOT, "bench", "kernels_m4.cpp")],
                   ["-Werror"])
    lines = m4.run(elf, timeout=900)
    header = lines[0].split(" | ")
    print("| " + " | ".join(header) + " |")
    print("| --- |" + " ---: |" * (len(header) - 1))
    for line in lines[1:]:
        print("| " + line + " |")


if __name__ == "__main__":
    main()
