#!/usr/bin/python3
"""Compares the trainable parameters of two packages' report.json files.

  compare_trainable.py FIRST/report.json SECOND/report.json [--by bytes|params]

Prints "ok: the second trains N parameters (B B), the first ..." and exits 0
when the second trains strictly more parameter bytes (or, --by params,
parameters) than the first, else prints FAIL and exits 1. Parameter counts come from each tensor's bytes and
dtype (int8: 1 byte, float32 and int32: 4).
"""
import json
import sys

WIDTH = {"int8": 1, "uint8": 1, "float32": 4, "int32": 4}


def trainable(path):
    params = json.load(open(path))["parameters"]["list"]
    chosen = [p for p in params if p.get("trainable")]
    count = sum(p["bytes"] // WIDTH[p["dtype"]] for p in chosen)
    return count, sum(p["bytes"] for p in chosen)


def main():
    first, second = trainable(sys.argv[1]), trainable(sys.argv[2])
    by_params = sys.argv[3:5] == ["--by", "params"]
    ok = second[0] > first[0] if by_params else second[1] > first[1]
    print(f"{'ok' if ok else 'FAIL'}: the second trains {second[0]:,} "
          f"parameters ({second[1]:,} B), the first {first[0]:,} "
          f"({first[1]:,} B)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
