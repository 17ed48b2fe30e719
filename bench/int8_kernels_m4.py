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
import argparse
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FLAGS = ["-std=c++17", "-O2", "-mcpu=cortex-m4", "-mthumb",
         "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16", "-fno-exceptions",
         "-fno-rtti", "-Wall", "-Wextra", "-Werror"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", help="build directory (default: a temporary one)")
    args = ap.parse_args()
    work = args.work or tempfile.mkdtemp(prefix="int8_kernels_m4_")
    os.makedirs(work, exist_ok=True)
    example = os.path.join(ROOT, "examples", "cortex-m4")
    with open(os.path.join(example, "mps2_an386.ld.in")) as f:
        # The layers' buffers are static arrays: 1 MiB of the board's RAM.
        script = f.read().replace("@MCUTRAIN_SRAM_BYTES@", "1048576") \
                         .replace("@MCUTRAIN_STACK_BYTES@", "16384")
    ld = os.path.join(work, "an386.ld")
    with open(ld, "w") as f:
        f.write(script)
    elf = os.path.join(work, "bench.elf")
    subprocess.run(["arm-none-eabi-g++", *FLAGS,
                    "-I" + os.path.join(ROOT, "runtime"), "-I" + example,
                    os.path.join(ROOT, "bench", "int8_kernels_m4.cpp"),
                    os.path.join(example, "startup.cpp"), "-nostartfiles",
                    "-Wl,--gc-sections", "-T", ld, "-o", elf], check=True)
    run = subprocess.run(["qemu-system-arm", "-M", "mps2-an386", "-nographic",
                          "-semihosting-config", "enable=on,target=native",
                          "-icount", "shift=0", "-kernel", elf],
                         capture_output=True, text=True, timeout=900)
    # Semihosting writes to QEMU's stderr.
    lines = (run.stdout + run.stderr).strip().splitlines()
    if run.returncode != 0 or not lines:
        sys.exit(f"FAIL qemu exited {run.returncode}:\n" + "\n".join(lines))
    header = lines[0].split(" | ")
    print("| " + " | ".join(header) + " |")
    print("| --- |" + " ---: |" * (len(header) - 1))
    for line in lines[1:]:
        print("| " + line + " |")


if __name__ == "__main__":
    main()
