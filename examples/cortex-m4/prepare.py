#!/usr/bin/python3
"""Inputs of the Cortex-M4 firmware: a freshly initialised DemoCNN
(examples/fashion-mnist) as ONNX, and data.h with a slice of sklearn's
digits upscaled to 28x28 (bytes in flash): TRAIN images to learn from and
TEST held-out images.

  prepare.py OUT_DIR [--train 600] [--test 200] [--epochs 2] [--seed 0]
"""
import argparse
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "fashion-mnist"))
import model as demo  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("out")
    ap.add_argument("--train", type=int, default=600)
    ap.add_argument("--test", type=int, default=200)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(args.seed)
    demo.export(demo.DemoCNN(), os.path.join(args.out, "model.onnx"))

    from sklearn.datasets import load_digits
    d = load_digits()
    imgs = np.kron(d.images / 16.0 * 255.0, np.ones((3, 3)))
    imgs = np.pad(imgs, ((0, 0), (2, 2), (2, 2))).round().astype(np.uint8)
    order = np.random.RandomState(args.seed).permutation(len(imgs))
    imgs, labels = imgs[order], d.target[order]
    n = args.train + args.test
    if n > len(imgs):
        raise SystemExit(f"only {len(imgs)} digits")

    def array(name, a, ctype):
        body = ",".join(str(int(v)) for v in a.ravel())
        return f"static const {ctype} {name}[{a.size}] = {{{body}}};\n"
    with open(os.path.join(args.out, "data.h"), "w") as f:
        f.write("// sklearn digits, 8x8 upscaled to 28x28 bytes (prepare.py)\n"
                "#pragma once\n#include <cstdint>\n"
                f"constexpr unsigned kTrainImages = {args.train};\n"
                f"constexpr unsigned kTestImages = {args.test};\n"
                f"constexpr unsigned kEpochs = {args.epochs};\n")
        f.write(array("kTrainPixels", imgs[:args.train], "std::uint8_t"))
        f.write(array("kTrainLabels", labels[:args.train], "std::uint8_t"))
        f.write(array("kTestPixels", imgs[args.train:n], "std::uint8_t"))
        f.write(array("kTestLabels", labels[args.train:n], "std::uint8_t"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
