#!/usr/bin/python3
"""The demo CNN: definition, brief PyTorch pretraining, ONNX export.

Run with /usr/bin/python3 (Debian's python3-torch). The model is pretrained
on the first --pretrain images of the Fashion-MNIST training set only, so the
on-device fine-tuning (other training images) has something to gain.
"""
import argparse
import gzip
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn

DATA_DIR = "/usr/share/datasets/fashion-mnist"


class DemoCNN(nn.Module):
    """Conv-ReLU-MaxPool x2, then one fully connected layer (Gemm)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.fc = nn.Linear(16 * 7 * 7, 10)

    def forward(self, x):
        x = torch.max_pool2d(torch.relu(self.conv1(x)), 2)
        x = torch.max_pool2d(torch.relu(self.conv2(x)), 2)
        # view(batch, -1) exports the Shape/Gather/Concat chain the importer
        # must fold.
        return self.fc(x.view(x.size(0), -1))


def read_idx(path):
    """Reads an IDX file (gzip or raw) into a numpy array."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    zero, dtype, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_split(split, data_dir=DATA_DIR):
    """Images as float32 [N,1,28,28] in [0,1], labels as int64 [N]."""
    prefix = "train" if split == "train" else "t10k"
    images = read_idx(os.path.join(data_dir, f"{prefix}-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(data_dir, f"{prefix}-labels-idx1-ubyte.gz"))
    x = images.astype(np.float32)[:, None, :, :] / 255.0
    return x, labels.astype(np.int64)


def export(model, path, batch=1, opset=13):
    model.eval()
    torch.onnx.export(model, torch.zeros(batch, 1, 28, 28), path,
                      opset_version=opset, input_names=["image"],
                      output_names=["logits"])


def pretrain(model, count, epochs, seed):
    x, y = load_split("train")
    x, y = torch.from_numpy(x[:count]), torch.from_numpy(y[:count])
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        perm = torch.randperm(count, generator=gen)
        for i in range(0, count, 32):
            idx = perm[i:i + 32]
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
    return model


def write_raw_idx(out_dir):
    """Decompresses the IDX files so the C++ trainer can read them plainly."""
    os.makedirs(out_dir, exist_ok=True)
    for name in ["train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                 "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]:
        with gzip.open(os.path.join(DATA_DIR, name + ".gz"), "rb") as f:
            data = f.read()
        with open(os.path.join(out_dir, name), "wb") as f:
            f.write(data)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", required=True, help="ONNX file to write")
    ap.add_argument("--pretrain", type=int, default=3000,
                    help="training images used for pretraining")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--raw-idx-dir", help="also write decompressed IDX files here")
    ap.add_argument("--state", help="also save the pretrained weights here "
                    "(torch state_dict, for examples/quantize --weights)")
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    model = DemoCNN()
    if args.pretrain > 0:
        pretrain(model, args.pretrain, args.epochs, args.seed)
    export(model, args.out)
    if args.state:
        torch.save(model.state_dict(), args.state)
    if args.raw_idx_dir:
        write_raw_idx(args.raw_idx_dir)
    print(f"model.py: pretrained on {args.pretrain} images, wrote {args.out}")


if __name__ == "__main__":
    sys.exit(main())
