#!/usr/bin/python3
"""Backbones pretrained on all of Fashion-MNIST, cached under build/pretrained.

The sparse-update studies fine-tune a converged backbone (the seeds' setting:
an ImageNet-pretrained MobileNetV2), not one trained on a few thousand
images. Each backbone is trained once per (architecture, classes, epochs,
seed) and kept as a torch state_dict, its ONNX export (opset 13, eval mode:
BatchNorm folded) and a JSON of how it was trained and its test accuracy
on the upright test images of its classes.

  demo      examples/fashion-mnist's DemoCNN, 28x28 grey
  mbv2      torchvision MobileNetV2 width 0.35, 10 classes, 28x28 padded to
            32x32 and copied to RGB, normalised (x - 0.3) / 0.35

  bench/pretrained.py demo [--seed 0] [--classes 0-4]   (prints the JSON)

Recipe: SGD, momentum 0.9, batch 64, cosine learning rate from LR to 0 over
the epochs, weight decay 5e-4 (demo) / 4e-5 (mbv2), images shuffled by the
seed; torch.set_num_threads(2) ($MCUTRAIN_TORCH_THREADS to change).
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "examples", "fashion-mnist"))
sys.path.insert(0, os.path.join(ROOT, "examples", "zoo"))
import model as demo  # noqa: E402
import zoo  # noqa: E402

CACHE = os.path.join(ROOT, "build", "pretrained")

# arch: (constructor, input shape, epochs, lr, weight decay)
ARCHS = {
    "demo": (demo.DemoCNN, (1, 1, 28, 28), 15, 0.05, 5e-4),
    "mbv2": (zoo.mobilenet_v2, (1, 3, 32, 32), 10, 0.05, 4e-5),
}


def as_input(arch, x):
    """[N,1,28,28] images in [0,1] as the architecture's input."""
    if arch == "mbv2":
        x = np.pad(x, ((0, 0), (0, 0), (2, 2), (2, 2)))
        return np.repeat((x - 0.3) / 0.35, 3, axis=1).astype(np.float32)
    return np.ascontiguousarray(x, dtype=np.float32)


def class_range(text):
    """'0-4' -> [0, 1, 2, 3, 4]; None -> all ten."""
    if not text:
        return list(range(10))
    lo, hi = (int(v) for v in text.split("-"))
    return list(range(lo, hi + 1))


def accuracy(model, x, y, batch=500):
    model.eval()
    right = 0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            out = model(torch.from_numpy(x[i:i + batch]))
            right += int((out.argmax(1).numpy() == y[i:i + batch]).sum())
    return 100.0 * right / len(x)


def train(arch, seed, classes, epochs, images):
    ctor, shape, _, lr, wd = ARCHS[arch]
    torch.manual_seed(seed)
    # Two threads by default; one beside another busy process (two spinning
    # OpenMP threads on a shared core slow down several times).
    torch.set_num_threads(int(os.environ.get("MCUTRAIN_TORCH_THREADS", 2)))
    model = ctor()
    x, y = demo.load_split("train")
    x, y = x[:images], y[:images]
    keep = np.isin(y, classes)
    x, y = as_input(arch, x[keep]), y[keep]
    xt, yt = demo.load_split("test")
    keep = np.isin(yt, classes)
    xt, yt = as_input(arch, xt[keep]), yt[keep]
    data, labels = torch.from_numpy(x), torch.from_numpy(y)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9,
                          weight_decay=wd)
    gen = torch.Generator().manual_seed(seed)
    steps = epochs * math.ceil(len(data) / 64)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: 0.5 * (1 + math.cos(math.pi * s / steps)))
    curve = []
    start = time.time()
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(data), generator=gen)
        for i in range(0, len(data), 64):
            idx = order[i:i + 64]
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(data[idx]),
                                                     labels[idx])
            loss.backward()
            opt.step()
            sched.step()
        curve.append(round(accuracy(model, xt, yt), 2))
        print(f"pretrain {arch} seed {seed}: epoch {epoch + 1}/{epochs} test "
              f"{curve[-1]:.2f}%", file=sys.stderr, flush=True)
    model.eval()
    info = {"arch": arch, "seed": seed, "classes": classes,
            "train_images": len(data), "epochs": epochs, "lr": lr,
            "weight_decay": wd, "test_images": len(xt),
            "test_accuracy": curve[-1], "accuracy_by_epoch": curve,
            "seconds": round(time.time() - start, 1)}
    return model, info


def backbone(arch, seed=0, classes=None, epochs=None, images=None):
    """The cached backbone (trained now if absent): (onnx path, state_dict
    path, info dict). epochs (the recipe's by default) and images (the
    first N training images; all by default): fewer for quick tests,
    cached apart."""
    cls = class_range(classes)
    epochs = epochs or ARCHS[arch][2]
    images = images or 60000
    tag = f"{arch}-c{cls[0]}-{cls[-1]}-e{epochs}-s{seed}" + (
        f"-n{images}" if images < 60000 else "")
    base = os.path.join(CACHE, tag)
    onnx_path, state, meta = base + ".onnx", base + ".pt", base + ".json"
    if not all(os.path.exists(p) for p in (onnx_path, state, meta)):
        os.makedirs(CACHE, exist_ok=True)
        model, info = train(arch, seed, cls, epochs, images)
        torch.save(model.state_dict(), state + ".tmp")
        torch.onnx.export(model, torch.zeros(*ARCHS[arch][1]),
                          onnx_path + ".tmp", opset_version=13,
                          input_names=["input"], output_names=["output"])
        with open(meta + ".tmp", "w") as f:
            json.dump(info, f, indent=1)
        for p in (state, onnx_path, meta):  # the JSON last: it marks done
            os.replace(p + ".tmp", p)
    with open(meta) as f:
        return onnx_path, state, json.load(f)


def load_model(arch, state):
    model = ARCHS[arch][0]()
    model.load_state_dict(torch.load(state))
    return model.eval()


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("arch", choices=sorted(ARCHS))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--classes", help="e.g. 0-4 (default: all ten)")
    ap.add_argument("--epochs", type=int, help="default: the recipe's")
    ap.add_argument("--images", type=int, help="default: all 60000")
    args = ap.parse_args()
    onnx_path, _, info = backbone(args.arch, args.seed, args.classes,
                                  args.epochs, args.images)
    print(json.dumps(dict(info, onnx=onnx_path)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
