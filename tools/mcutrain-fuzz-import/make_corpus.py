#!/usr/bin/python3
"""Seed corpus for mcutrain-fuzz-import: every model of Debian's
libonnx-testdata node tests, plus zoo exports (opsets 13 and 17).

  make_corpus.py OUT [--zoo lenet5,ds_cnn,...]
"""
import argparse
import glob
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "examples", "zoo"))

DATA = "/usr/share/libonnx-testdata/data/node"


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("out")
    ap.add_argument("--zoo", default="lenet5,ds_cnn",
                    help="zoo models to export ('' for none)")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    models = sorted(glob.glob(os.path.join(DATA, "*", "model.onnx")))
    if not models:
        raise SystemExit(f"no models under {DATA} (install libonnx-testdata)")
    for m in models:
        shutil.copy(m, os.path.join(args.out,
                                    os.path.basename(os.path.dirname(m))))
    names = [n for n in args.zoo.split(",") if n]
    if names:
        import zoo  # torch is only needed for the zoo seeds
        for n in names:
            for opset in (13, 17):
                zoo.export(n, os.path.join(args.out, f"zoo_{n}_{opset}"),
                           opset)
    print(f"{len(models) + 2 * len(names)} seeds in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
