"""Building a program for QEMU's Cortex-M4 (mps2-an386) and running it with
-icount shift=0, for the bench scripts that count instructions
(int8_kernels_m4.py, model_m4.py): the firmware example's start-up code and
linker script, arm-none-eabi-g++ -O2, semihosting output."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = os.path.join(ROOT, "examples", "cortex-m4")
FLAGS = ["-std=c++17", "-O2", "-mcpu=cortex-m4", "-mthumb",
         "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16", "-fno-exceptions",
         "-fno-rtti", "-Wall", "-Wextra"]


def build(work, sources, flags=(), ram_bytes=1048576):
    """work/bench.elf from `sources` (and the start-up code), with the RAM
    region `ram_bytes` (the programs' buffers are static arrays: more than
    a device's RAM is fine for counting instructions)."""
    with open(os.path.join(EXAMPLE, "mps2_an386.ld.in")) as f:
        script = f.read().replace("@MCUTRAIN_SRAM_BYTES@", str(ram_bytes)) \
                         .replace("@MCUTRAIN_STACK_BYTES@", "16384")
    ld = os.path.join(work, "an386.ld")
    with open(ld, "w") as f:
        f.write(script)
    elf = os.path.join(work, "bench.elf")
    res = subprocess.run(["arm-none-eabi-g++", *FLAGS, *flags,
                          "-I" + os.path.join(ROOT, "runtime"),
                          "-I" + EXAMPLE, *sources,
                          os.path.join(EXAMPLE, "startup.cpp"),
                          "-nostartfiles", "-Wl,--gc-sections", "-T", ld,
                          "-o", elf, "-lm"], capture_output=True, text=True)
    if res.returncode != 0:
        sys.exit(f"FAIL arm-none-eabi-g++:\n{res.stdout}{res.stderr}")
    return elf


def run(elf, timeout=3600):
    """The program's semihosting lines (QEMU writes them to stderr)."""
    res = subprocess.run(["qemu-system-arm", "-M", "mps2-an386", "-nographic",
                          "-semihosting-config", "enable=on,target=native",
                          "-icount", "shift=0", "-kernel", elf],
                         capture_output=True, text=True, timeout=timeout)
    lines = (res.stdout + res.stderr).strip().splitlines()
    if res.returncode != 0 or not lines:
        sys.exit(f"FAIL qemu exited {res.returncode}:\n" + "\n".join(lines))
    return lines
