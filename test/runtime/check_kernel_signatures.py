#!/usr/bin/python3
"""The kernels' template parameters as the compiler knows them (TrainKernels.td,
generated into TrainKernels.inc) against the runtime's kernel headers: same
kernels, same parameters, same order.

  check_kernel_signatures.py TrainKernels.inc mcutrain_kernels.h [more.h ...]

Prints `ok <kernel>` or `MISMATCH <kernel>: ...` per kernel; exits 1 on any
mismatch.
"""
import re
import sys


def normal(decl):
    return " ".join(decl.replace("=", " = ").split())


def main():
    table, headers = sys.argv[1], sys.argv[2:]
    kernels = re.findall(r'MCUTRAIN_KERNEL\((\w+), \d+, \d+, 0x[0-9a-f]+, "([^"]*)"\)',
                         open(table).read())
    text = "\n".join(open(h).read() for h in headers)
    bad = 0
    for name, decl in kernels:
        found = re.findall(r"template\s*<([^>]*)>\s*inline\s+void\s+" + name +
                           r"\s*\(", text)
        want = [normal(p) for p in decl.split(",")]
        if len(found) != 1:
            print(f"MISMATCH {name}: {len(found)} definitions in the header")
            bad += 1
            continue
        have = [normal(p) for p in found[0].split(",")]
        if have != want:
            print(f"MISMATCH {name}: header <{', '.join(have)}>, "
                  f"compiler <{', '.join(want)}>")
            bad += 1
        else:
            print(f"ok {name} <{', '.join(have)}>")
    print(f"{len(kernels)} kernels, {bad} mismatched")
    return 1 if bad or not kernels else 0


if __name__ == "__main__":
    sys.exit(main())
