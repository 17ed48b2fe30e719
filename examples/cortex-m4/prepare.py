#!/usr/bin/python3
"""Inputs of the Cortex-M4 firmware: a freshly initialised DemoCNN
(examples/fashion-mnist) as ONNX, and data.h with a slice of sklearn's
digits upscaled to 28x28 (bytes in flash): TRAIN images to learn from and
TEST held-out images. --size 128 --channels 3 --float-inputs: the digits
upscaled to 128x128, in 3 equal channels, as floats in flash that the
firmware passes as they are (for MobileNetV2 at 128x128, whose float input
would not fit in the RAM beside the model); --no-accuracy-check when the
test set is too small to measure a rise (the loss must still fall).
--model kws1d: a keyword-spotting-style 1-D convolutional network instead
(Conv1d, depthwise Conv1d, pointwise Conv1d, Linear)
on each digit read as 8 feature rows over 32 frames (columns repeated 4x),
the shape of a spectrogram's MFCCs; --model gru: a GRU over those 32
frames (its last state to a Linear), exported as ONNX GRU.

  prepare.py OUT_DIR [--train 600] [--test 200] [--epochs 2] [--seed 0]
             [--size 28|8k] [--channels 1] [--float-inputs]
             [--no-accuracy-check] [--model demo|kws1d|gru]
"""
import argparse
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "fashion-mnist"))
import model as demo  # noqa: E402


class Kws1d(torch.nn.Module):
    """8 features x 32 frames -> 10 classes, 1-D convolutions only (a
    depthwise-separable block, as DS-CNN's), flattened into the classifier
    (a mean over time learns far slower from these few samples)."""

    def __init__(self):
        super().__init__()
        nn = torch.nn
        self.features = nn.Sequential(
            nn.Conv1d(8, 32, 3, padding=1), nn.ReLU(),
            nn.Conv1d(32, 32, 3, stride=2, padding=1, groups=32), nn.ReLU(),
            nn.Conv1d(32, 32, 1), nn.ReLU())
        self.fc = nn.Linear(32 * 16, 10)

    def forward(self, x):
        return self.fc(torch.flatten(self.features(x), 1))


class Gru(torch.nn.Module):
    """8 features x 32 frames -> a GRU's last state -> 10 classes."""

    def __init__(self):
        super().__init__()
        self.gru = torch.nn.GRU(8, 32)
        self.fc = torch.nn.Linear(32, 10)

    def forward(self, x):
        _, h = self.gru(x.permute(2, 0, 1))
        return self.fc(h[0])


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("out")
    ap.add_argument("--train", type=int, default=600)
    ap.add_argument("--test", type=int, default=200)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--size", type=int, default=28,
                    help="28 (3x, padded), or a multiple of 8")
    ap.add_argument("--channels", type=int, default=1)
    ap.add_argument("--float-inputs", action="store_true")
    ap.add_argument("--no-accuracy-check", action="store_true")
    ap.add_argument("--model", choices=["demo", "kws1d", "gru"],
                    default="demo")
    args = ap.parse_args()
    if args.size != 28 and args.size % 8:
        ap.error("--size: 28 or a multiple of 8")
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(args.seed)
    onnx_path = os.path.join(args.out, "model.onnx")
    if args.model in ("kws1d", "gru"):
        net = Kws1d() if args.model == "kws1d" else Gru()
        torch.onnx.export(net.eval(), torch.zeros(1, 8, 32), onnx_path,
                          opset_version=13, input_names=["features"],
                          output_names=["logits"])
    else:
        demo.export(demo.DemoCNN(), onnx_path)

    from sklearn.datasets import load_digits
    d = load_digits()
    if args.model in ("kws1d", "gru"):
        imgs = np.kron(d.images / 16.0 * 255.0, np.ones((1, 4)))
    else:
        scale = 3 if args.size == 28 else args.size // 8
        imgs = np.kron(d.images / 16.0 * 255.0, np.ones((scale, scale)))
        if args.size == 28:
            imgs = np.pad(imgs, ((0, 0), (2, 2), (2, 2)))
        imgs = np.repeat(imgs[:, None], args.channels, axis=1)
    imgs = imgs.round().astype(np.uint8)
    order = np.random.RandomState(args.seed).permutation(len(imgs))
    imgs, labels = imgs[order], d.target[order]
    n = args.train + args.test
    if n > len(imgs):
        raise SystemExit(f"only {len(imgs)} digits")

    def array(name, a, ctype):
        if ctype == "float":
            body = ",".join(f"{v:.9g}" for v in a.ravel())
        else:
            body = ",".join(str(int(v)) for v in a.ravel())
        return f"static const {ctype} {name}[{a.size}] = {{{body}}};\n"
    pixels = "float" if args.float_inputs else "std::uint8_t"
    if args.float_inputs:
        imgs = (imgs.astype(np.float32) / np.float32(255.0))
    with open(os.path.join(args.out, "data.h"), "w") as f:
        f.write(f"// sklearn digits, 8x8 as {'x'.join(map(str, imgs.shape[1:]))}"
                f" {pixels} (prepare.py)\n"
                "#pragma once\n#include <cstdint>\n"
                f"constexpr unsigned kTrainImages = {args.train};\n"
                f"constexpr unsigned kTestImages = {args.test};\n"
                f"constexpr unsigned kEpochs = {args.epochs};\n"
                "constexpr bool kAccuracyMustRise = "
                f"{'false' if args.no_accuracy_check else 'true'};\n")
        f.write(array("kTrainPixels", imgs[:args.train], pixels))
        f.write(array("kTrainLabels", labels[:args.train], "std::uint8_t"))
        f.write(array("kTestPixels", imgs[args.train:n], pixels))
        f.write(array("kTestLabels", labels[args.train:n], "std::uint8_t"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
