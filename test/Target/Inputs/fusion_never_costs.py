#!/usr/bin/python3
"""Reads bench/memory_plan.py's table: every package's RAM total with the
conv chains fused must be at most its RAM without them (fuse-conv-chains
fuses a chain only where the bytes live at once fall); under --update auto,
which spends the budget, the fused package must train at least as many
parameter bytes.

  fusion_never_costs.py TABLE
"""
import sys


def number(text):
    return int(text.replace(",", ""))


def main():
    checked, worse = 0, []
    for line in open(sys.argv[1]):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 12 or not cells[2].replace(",", "").isdigit():
            continue
        checked += 1
        fused, unfused = cells[8], cells[9]
        if unfused == "no scheme fits":
            continue
        if cells[1].startswith("auto"):
            if number(cells[10]) < number(cells[11]):
                worse.append(f"{cells[0]} {cells[1]}: trains {cells[10]} < "
                             f"{cells[11]} B")
        elif number(fused) > number(unfused):
            worse.append(f"{cells[0]} {cells[1]}: {fused} > {unfused} B")
    for w in worse:
        print(f"FAIL {w}")
    print(f"{'ok' if not worse else 'FAIL'}: {checked} packages, "
          f"{'none' if not worse else len(worse)} worse fused")
    return 1 if worse or not checked else 0


if __name__ == "__main__":
    sys.exit(main())
