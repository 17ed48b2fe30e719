#!/usr/bin/python3
"""Links a generated package into a Cortex-M4 program and reads the RAM the
package's code and data take from the linker map: the .data and .bss input
sections of the package's objects (the arenas, the trainable parameters'
RAM copies, the optimizer state, the run-time scalars and the runtime's
statistics). Frozen parameters are .rodata (flash) and not counted.

  measure_ram.py PKG_DIR NAME [--budget BYTES]

Prints "RAM <n> B (.data <d> B, .bss <b> B)"; exits 1 over the budget.
"""
import argparse
import os
import re
import subprocess
import sys

FLAGS = ["-std=c++17", "-Os", "-mcpu=cortex-m4", "-mthumb",
         "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16", "-fno-exceptions",
         "-fno-rtti", "-ffunction-sections", "-fdata-sections"]

MAIN = r"""
#include "%(name)s.h"
static float input[%(name)s::kInputSize];
int main() {
  %(name)s::init();
  return (int)%(name)s::train_step(input, 0);
}
"""


def section_sizes(map_text, objects):
    """Sums .data*/.bss* input sections of `objects` in a GNU ld map."""
    sizes = {"data": 0, "bss": 0}
    # An input section line: " .bss.name  0xADDR  0xSIZE obj.o"; long names
    # put the address on the next line.
    pattern = re.compile(
        r"^ \.(data|bss)(?:\.\S+)?\s*\n?\s+0x[0-9a-f]+\s+0x([0-9a-f]+)\s+(\S+)",
        re.M)
    for kind, size, obj in pattern.findall(map_text):
        if os.path.basename(obj) in objects:
            sizes[kind] += int(size, 16)
    return sizes


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("pkg")
    ap.add_argument("name")
    ap.add_argument("--budget", type=int)
    args = ap.parse_args()
    pkg, name = args.pkg, args.name
    with open(os.path.join(pkg, "ram_main.cpp"), "w") as f:
        f.write(MAIN % {"name": name})
    objects = [f"{name}.o", f"{name}_params.o"]
    for src, obj in [(f"{name}.cpp", objects[0]),
                     (f"{name}_params.cpp", objects[1]),
                     ("ram_main.cpp", "ram_main.o")]:
        subprocess.run(["arm-none-eabi-g++", *FLAGS, "-I.", "-c", src, "-o",
                        obj], cwd=pkg, check=True)
    subprocess.run(["arm-none-eabi-g++", *FLAGS, "--specs=nosys.specs",
                    "-Wl,--gc-sections", "-Wl,-Map=ram.map", "ram_main.o",
                    *objects, "-o", "ram.elf"], cwd=pkg, check=True)
    sizes = section_sizes(open(os.path.join(pkg, "ram.map")).read(), objects)
    total = sizes["data"] + sizes["bss"]
    print(f"RAM {total} B (.data {sizes['data']} B, .bss {sizes['bss']} B) "
          f"from the Cortex-M4 link map")
    if args.budget is not None:
        ok = total <= args.budget
        print(f"{'within' if ok else 'OVER'} the budget of {args.budget} B")
        return 0 if ok else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
