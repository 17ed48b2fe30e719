"""Checks report.json's `update_auto` against the package it describes.

  update_auto_choice.py PKG [--searched] [--sparsity S]

Every candidate fits the budget; under the chosen one training can change the
most parameter bytes, ties broken by the least RAM; the package trains
what the chosen candidate says, with its sparsity, in the RAM it says.
--searched: static channel-sparse candidates were compared (no --sparsity
given); --sparsity S: every candidate keeps S (given by the user).
"""
import argparse
import json
import sys

ap = argparse.ArgumentParser()
ap.add_argument("pkg")
ap.add_argument("--searched", action="store_true")
ap.add_argument("--sparsity")
args = ap.parse_args()
report = json.load(open(f"{args.pkg}/report.json"))
auto = report["update_auto"]
cands = auto["candidates"]
chosen = cands[auto["chosen"]]
fails = []


def key(c):
    return (c["changeable_bytes"], -c["ram_bytes"])


if any(c["ram_bytes"] > auto["budget_bytes"] for c in cands):
    fails.append("a candidate over the budget")
if any(key(c) > key(chosen) for c in cands):
    fails.append("a candidate can change more bytes than the chosen")
if (report["trainable"], report["sparsity"]) != (chosen["trainable"],
                                                 chosen["sparsity"]):
    fails.append("the package does not train the chosen scheme")
params = report["parameters"]
if (report["ram_bytes"], params["trainable_bytes"],
        params["changeable_bytes"]) != (chosen["ram_bytes"],
                                              chosen["trainable_bytes"],
                                              chosen["changeable_bytes"]):
    fails.append("the package's RAM or bytes differ from the chosen's")
sparse = [c for c in cands if c["sparsity"].startswith("static:")]
if args.searched and not (auto["searched_sparsity"] and sparse):
    fails.append("no static sparse candidate compared")
if args.sparsity and any(c["sparsity"] != args.sparsity for c in cands):
    fails.append(f"a candidate does not keep --sparsity {args.sparsity}")
for c in cands:
    print(f"candidate {c['sparsity']} {c['trainable'][:40]} RAM {c['ram_bytes']} "
          f"changes {c['changeable_bytes']} of {c['trainable_bytes']} B")
for f in fails:
    print("FAILED:", f)
print("FAILED" if fails else "PASSED")
sys.exit(1 if fails else 0)
