"""Building a program for QEMU's Cortex-M4 (mps2-an386) or Cortex-M55 with
Helium (mps3-an547) and running it with -icount shift=0, for the bench
scripts that count instructions (kernels_m4.py, int8_kernels_m4.py,
model_m4.py): the firmware example's start-up code and linker script,
arm-none-eabi-g++ -O2, semihosting output."""
import argparse
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = os.path.join(ROOT, "examples", "cortex-m4")
FLAGS = ["-std=c++17", "-O2", "-mthumb", "-mfloat-abi=hard",
         "-fno-exceptions", "-fno-rtti", "-Wall", "-Wextra"]
# Per core: its flags, QEMU board, code region and where its RAM region
# starts (the Cortex-M55's in the board's DDR: its DTCM holds 512 KiB).
CPUS = {
    "m4": (["-mcpu=cortex-m4", "-mfpu=fpv4-sp-d16"], "mps2-an386", "4M",
           "0x20000000"),
    "m55": (["-mcpu=cortex-m55"], "mps3-an547", "512K", "0x60000000"),
}


def build(work, sources, flags=(), ram_bytes=1048576, cpu="m4"):
    """work/bench.elf from `sources` (and the start-up code), with the RAM
    region `ram_bytes` (the programs' buffers are static arrays: more than
    a device's RAM is fine for counting instructions)."""
    cpu_flags, _, code_bytes, ram_origin = CPUS[cpu]
    with open(os.path.join(EXAMPLE, "mps2_an386.ld.in")) as f:
        script = f.read().replace("@MCUTRAIN_SRAM_BYTES@", str(ram_bytes)) \
                         .replace("@MCUTRAIN_STACK_BYTES@", "16384") \
                         .replace("@MCUTRAIN_CODE_BYTES@", code_bytes) \
                         .replace("ORIGIN = 0x20000000",
                                  "ORIGIN = " + ram_origin)
    ld = os.path.join(work, "an386.ld")
    with open(ld, "w") as f:
        f.write(script)
    elf = os.path.join(work, "bench.elf")
    res = subprocess.run(["arm-none-eabi-g++", *FLAGS, *cpu_flags, *flags,
                          "-I" + os.path.join(ROOT, "runtime"),
                          "-I" + EXAMPLE, *sources,
                          os.path.join(EXAMPLE, "startup.cpp"),
                          "-nostartfiles", "-Wl,--gc-sections", "-T", ld,
                          "-o", elf, "-lm"], capture_output=True, text=True)
    if res.returncode != 0:
        sys.exit(f"FAIL arm-none-eabi-g++:\n{res.stdout}{res.stderr}")
    return elf


def run(elf, timeout=3600, cpu="m4"):
    """The program's semihosting lines (QEMU writes them to stderr)."""
    res = subprocess.run(["qemu-system-arm", "-M", CPUS[cpu][1], "-nographic",
                          "-semihosting-config", "enable=on,target=native",
                          "-icount", "shift=0", "-kernel", elf],
                         capture_output=True, text=True, timeout=timeout)
    lines = (res.stdout + res.stderr).strip().splitlines()
    if res.returncode != 0 or not lines:
        sys.exit(f"FAIL qemu exited {res.returncode}:\n" + "\n".join(lines))
    return lines


def kernel_table(cpp, doc):
    """The main of a per-kernel bench (kernels_m4.py, int8_kernels_m4.py):
    builds bench/`cpp` (-Werror), runs it and prints its lines as a
    Markdown table (the first line is the header)."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--work", help="build directory (default: a temporary one)")
    ap.add_argument("--cpu", choices=sorted(CPUS), default="m4",
                    help="m4: Cortex-M4F (default); m55: Cortex-M55 with "
                    "Helium")
    args = ap.parse_args()
    work = args.work or tempfile.mkdtemp(prefix=cpp.split(".")[0] + "_")
    os.makedirs(work, exist_ok=True)
    elf = build(work, [os.path.join(ROOT, "bench", cpp)], ["-Werror"],
                cpu=args.cpu)
    lines = run(elf, timeout=900, cpu=args.cpu)
    header = lines[0].split(" | ")
    print("| " + " | ".join(header) + " |")
    print("| --- |" + " ---: |" * (len(header) - 1))
    for line in lines[1:]:
        print("| " + line + " |")


def compile_package(mcutrain, model, work, options, main_source, flags=(),
                    subdir=None, cpu="m4"):
    """work/pkg from `mcutrain compile model --name m options`, and an ELF
    of it with `main_source` (built in work/subdir, RAM region 4 MiB: the
    figures are instructions, not fit). Exits on a failed compile."""
    pkg = os.path.join(work, "pkg")
    if not os.path.isdir(pkg):
        res = subprocess.run([mcutrain, "compile", model, "-o", pkg, "--name",
                              "m", *options], capture_output=True, text=True)
        if res.returncode != 0:
            sys.exit(f"FAIL mcutrain compile: exit {res.returncode}\n"
                     f"{res.stdout}{res.stderr}")
    out = os.path.join(work, subdir) if subdir else work
    os.makedirs(out, exist_ok=True)
    main_cpp = os.path.join(out, "main.cpp")
    with open(main_cpp, "w") as f:
        f.write(main_source)
    sources = [os.path.join(pkg, n) for n in sorted(os.listdir(pkg))
               if n.endswith(".cpp")]
    return build(out, [main_cpp, *sources], [*flags, "-I" + pkg],
                 ram_bytes=4194304, cpu=cpu)
