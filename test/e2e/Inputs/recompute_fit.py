#!/usr/bin/python3
"""Checks what --recompute auto chose for a package over --sram without it.

  recompute_fit.py MCUTRAIN MODEL.onnx PKG/report.json BUDGET [FLAGS...]

The package (compiled from MODEL.onnx with --sram BUDGET and FLAGS) fits
the budget, recomputed at least one tensor, and says so consistently: the
extra MACs are the tensors' sum and each tensor freed more than it kept.
The count is the fewest that fit: the same compile with one tensor fewer
(--recompute N-1) is over the budget, and so is it with --recompute none.
"""
import json
import subprocess
import sys
import tempfile


def over_budget(mcutrain, model, budget, flags, recompute):
    with tempfile.TemporaryDirectory() as out:
        res = subprocess.run([mcutrain, "compile", model, "-o", out, "--sram",
                              budget, *flags, "--recompute", recompute],
                             capture_output=True, text=True)
    return res.returncode != 0 and "over the --sram budget" in res.stderr


def main():
    mcutrain, model, report_path, budget = sys.argv[1:5]
    flags = sys.argv[5:]
    report = json.load(open(report_path))
    ram = report["ram"]
    t = next(t for t in report["schedule"]["transformations"]
             if t["name"] == "recompute")
    n = t["applied"]
    problems = []
    if ram["total_bytes"] > ram["sram_budget_bytes"]:
        problems.append(f"RAM {ram['total_bytes']} over the budget")
    if n < 1:
        problems.append("nothing recomputed")
    if t["extra_macs"] != sum(x["macs"] for x in t["tensors"]):
        problems.append("extra_macs is not the tensors' sum")
    if any(x["bytes"] <= x["kept_bytes"] for x in t["tensors"]):
        problems.append("a tensor kept at least what it freed")
    if not over_budget(mcutrain, model, budget, flags, "none"):
        problems.append("fits without recomputing")
    if n > 1 and not over_budget(mcutrain, model, budget, flags, str(n - 1)):
        problems.append(f"fits with {n - 1} tensors recomputed")
    print(f"{'FAILED' if problems else 'ok'}: {n} tensors recomputed "
          f"({t['extra_macs']:,} MACs a step), RAM {ram['total_bytes']:,} of "
          f"{ram['sram_budget_bytes']:,} B" +
          "".join(f"; {p}" for p in problems))
    if problems:
        sys.exit(1)


if __name__ == "__main__":
    main()
