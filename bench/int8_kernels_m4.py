#!/usr/bin/python3
"""Instructions per MAC of the int8 kernels on QEMU's Cortex-M4.

  bench/int8_kernels_m4.py [--work DIR]

Builds bench/int8_kernels_m4.cpp for the Cortex-M4 (arm-none-eabi-g++ -O2,
the firmware's start-up code and linker script) and runs it on
qemu-system-arm -M mps2-an386 -icount shift=0, where SysTick counts
instructions (calibrated in the run against a loop of known length).
Prints one Markdown table row per layer: MACs, instructions per call, per
MAC. docs/cortex-m4.md quotes the table.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import m4  # noqa: E402

if __name__ == "__main__":
    m4.kernel_table("int8_kernels_m4.cpp", __doc__)
