#!/usr/bin/python3
"""Fails unless a package saves at most FRACTION of another's features.

  saved_features_fall.py NEW/report.json OLD/report.json FRACTION

Saved features: the activations live when the training step's backward
pass starts (bench/sparse_experiment.py's measure, docs/memory.md's).
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "..", "bench"))
from sparse_experiment import saved_features  # noqa: E402


def main():
    new, old, fraction = sys.argv[1], sys.argv[2], float(sys.argv[3])
    saved_new = saved_features(json.load(open(new)))
    saved_old = saved_features(json.load(open(old)))
    verdict = "ok" if saved_new <= fraction * saved_old else "FAILED"
    print(f"{verdict}: saved features {saved_old} -> {saved_new} B "
          f"(limit {fraction:g} x)")
    if verdict != "ok":
        sys.exit(1)


if __name__ == "__main__":
    main()
