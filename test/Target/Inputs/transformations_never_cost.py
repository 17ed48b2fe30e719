#!/usr/bin/python3
"""Reads bench/memory_plan.py's table: with the memory transformations
(fuse-conv-chains, pack-masks, in-place-elementwise, recompute) every package's saved features are at most
those without them ("before"), its liveness lower bound and RAM total at
most before's plus 1% (a mask lives in the int32 arena, whose peak adds to
the float arena's: where the tensor it replaces was dead at the float peak
anyway, the mask's 1/32 of its bytes is a cost; the arena packs within
1.05x of the bound either way); under --update auto, which spends the
budget, the package must train at least as many parameter bytes.

  transformations_never_cost.py TABLE
"""
import sys

SLACK = 1.01


def number(text):
    return int(text.replace(",", ""))


def check(cells):
    """What is worse with the transformations in this row, or None."""
    model = f"{cells[0]} {cells[1]}"
    if cells[12] == "-":
        return None  # nothing fit before
    if cells[1].startswith("auto"):
        if number(cells[13]) < number(cells[14]):
            return f"{model}: trains {cells[13]} < {cells[14]} B"
        return None
    if number(cells[3]) > SLACK * number(cells[6]):
        return f"{model}: bound {cells[3]} > {SLACK} x {cells[6]} B"
    if number(cells[9]) > number(cells[10]):
        return f"{model}: saved {cells[9]} > {cells[10]} B"
    if number(cells[11]) > SLACK * number(cells[12]):
        return f"{model}: RAM {cells[11]} > {SLACK} x {cells[12]} B"
    return None


def main():
    checked, worse = 0, []
    for line in open(sys.argv[1]):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 17 or not cells[2].replace(",", "").isdigit():
            continue
        checked += 1
        problem = check(cells)
        if problem:
            worse.append(problem)
    for w in worse:
        print(f"FAIL {w}")
    print(f"{'ok' if not worse else 'FAIL'}: {checked} packages, "
          f"{'none' if not worse else len(worse)} worse transformed")
    return 1 if worse or not checked else 0


if __name__ == "__main__":
    sys.exit(main())
