#!/usr/bin/python3
"""MobileNetV2-w0.35 at 32x32 fine-tuned on the device code with DGSU 2%
under 256 KiB, against full fine-tuning of the same backbone in PyTorch.

The backbone (torchvision MobileNetV2, width 0.35, 10 classes) is pretrained
on all of Fashion-MNIST (bench/pretrained.py; 28x28 padded to 32x32, copied
to RGB; cached under build/pretrained). Each scheme fine-tunes it on a
shifted task (bench/finetune.py: rot90 by default) with the same images in
the same order (one order per seed), batch 1, SGD at --lr:

  PyTorch full          the PyTorch model, every parameter, BatchNorm in
                        eval mode (batch 1), dropout off (also at lr / 10:
                        batch-1 SGD of every layer at --lr can collapse)
  mcutrain full         the generated C++, --trainable all, no RAM limit
                        (also at lr / 10)
  DGSU 2% every layer   --sparsity dgsu:*=0.02 --sram 256KiB --update auto
  DGSU 2% convolutions  --sparsity dgsu:op:Conv=0.02 (the classifier
                        dense) --sram 256KiB --update auto
  DGSU 2% convolutions, no RAM limit: every layer trainable (what the
                        budget costs)
  DGSU 10% convolutions the same at 10% under 256 KiB
  last layer            --trainable last:1 --sram 256KiB

Prints, per scheme, the RAM the compiler planned, what --update auto chose,
test accuracy before/after (mean +- sd over the seeds) and the mean loss of
the first and last windows of steps. --markdown FILE writes the table.

  bench/mobilenet_dgsu.py [--seeds 3] [--steps 2000] [--task rot90]
"""
import argparse
import json
import os
import re
import sys
import tempfile
import warnings

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import finetune  # noqa: E402
import mcutrain  # noqa: E402
import pretrained  # noqa: E402

SCHEMES = [
    ("PyTorch full", None),
    ("PyTorch full, lr / 10", {"torch": True, "lr_scale": 0.1}),
    ("mcutrain full", {"trainable": "all"}),
    ("mcutrain full, lr / 10", {"trainable": "all", "lr_scale": 0.1}),
    ("DGSU 2% every layer", {"sparsity": "dgsu:*=0.02", "sram": "256KiB",
                             "update": "auto"}),
    ("DGSU 2% convolutions", {"sparsity": "dgsu:op:Conv=0.02",
                              "sram": "256KiB", "update": "auto"}),
    ("DGSU 2% convolutions, no RAM limit", {"sparsity": "dgsu:op:Conv=0.02",
                                           "trainable": "all"}),
    ("DGSU 10% convolutions", {"sparsity": "dgsu:op:Conv=0.1",
                               "sram": "256KiB", "update": "auto"}),
    ("last layer", {"trainable": "last:1", "sram": "256KiB"}),
]


def torch_finetune(state, data, lr, window):
    """Full fine-tuning of the backbone in PyTorch, batch 1, eval-mode
    BatchNorm: (accuracy before, after, mean losses per window)."""
    # One thread: batch 1 gains nothing from two, and two spinning OpenMP
    # threads stall when another process holds a core.
    torch.set_num_threads(1)
    model = pretrained.load_model("mbv2", state)
    tx, ty, sx, sy = data
    before = pretrained.accuracy(model, sx, sy)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    losses = []
    for i in range(len(tx)):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(
            model(torch.from_numpy(tx[i:i + 1])),
            torch.from_numpy(ty[i:i + 1].astype(np.int64)))
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return before, pretrained.accuracy(model, sx, sy), windows(losses, window)


def windows(losses, window):
    return [float(np.mean(losses[i:i + window]))
            for i in range(0, len(losses) - window + 1, window)]


def device_finetune(onnx_path, opts, pkg_dir, data, args):
    """The generated C++ (host build): (accuracy before, after, windows,
    report, the compiler's --update auto choice)."""
    options = {k: v for k, v in opts.items() if k != "lr_scale"}
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        mcutrain.compile(onnx_path, None, pkg_dir, mcutrain=args.mcutrain,
                         name="mbv2", lr=args.lr * opts.get("lr_scale", 1),
                         **options)
    chosen = next((str(w.message) for w in said
                   if "--update auto" in str(w.message)), "")
    pkg = mcutrain.Package(pkg_dir, cxxflags=args.cxxflags.split())
    res = finetune.finetune(pkg, data)
    with open(os.path.join(pkg_dir, "report.json")) as f:
        report = json.load(f)
    return (res["acc_before"], res["acc_after"],
            windows(res["losses"], args.window), report, chosen)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--mcutrain", default=mcutrain.find_compiler())
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--test", type=int, default=2000)
    ap.add_argument("--task", default="rot90", choices=["rot90", "digits"])
    ap.add_argument("--window", type=int, default=250)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--pretrain-epochs", type=int,
                    default=pretrained.ARCHS["mbv2"][2])
    ap.add_argument("--pretrain-images", type=int, default=60000)
    ap.add_argument("--schemes", help="comma-separated (default: all)")
    ap.add_argument("--cxxflags", default="-O2 -march=native",
                    help="the host build of the generated C++")
    ap.add_argument("--markdown", help="write the table here")
    ap.add_argument("--workdir")
    args = ap.parse_args()
    work = args.workdir or tempfile.mkdtemp(prefix="mcutrain-mbv2-")
    os.makedirs(work, exist_ok=True)
    onnx_path, state, info = pretrained.backbone(
        "mbv2", 0, None, args.pretrain_epochs, args.pretrain_images)
    print(f"backbone: {info['train_images']} images x {info['epochs']} "
          f"epochs, upright test accuracy {info['test_accuracy']:.2f}%")
    schemes = [(n, o) for n, o in SCHEMES
               if not args.schemes or n in args.schemes.split(",")]
    results = {n: [] for n, _ in schemes}
    facts = {}
    for seed in range(args.seeds):
        data = finetune.make_task(args.task, "mbv2", seed, args.steps,
                                  test=args.test)
        for name, opts in schemes:
            if opts is None or opts.get("torch"):
                lr = args.lr * (opts or {}).get("lr_scale", 1)
                results[name].append(torch_finetune(state, data, lr,
                                                     args.window))
            else:
                pkg_dir = os.path.join(work, re.sub(r"[^a-z0-9]+", "_",
                                                    name.lower()))
                *res, report, chosen = device_finetune(onnx_path, opts,
                                                       pkg_dir, data, args)
                results[name].append(tuple(res))
                facts[name] = (report["ram"]["total_bytes"],
                               report["ram"]["weight_gradient_feature_bytes"],
                               chosen)
            b, a, w = results[name][-1]
            print(f"seed {seed} {name}: {b:.2f}% -> {a:.2f}%, loss "
                  f"{w[0]:.4f} -> {w[-1]:.4f}", flush=True)
    lines = ["| scheme | RAM B | weight-gradient features B | accuracy "
             "before % | accuracy after % (mean +- sd) | loss first -> last "
             f"{args.window} steps |", "| --- | ---: | ---: | ---: | ---: | "
             "--- |"]
    falls = True
    for name, _ in schemes:
        rs = results[name]
        after = np.array([r[1] for r in rs])
        sd = after.std(ddof=1) if len(after) > 1 else 0.0
        first, last = np.mean([r[2][0] for r in rs]), np.mean([r[2][-1]
                                                             for r in rs])
        falls &= bool(last < first)
        ram, wgrad, chosen = facts.get(name, ("-", "-", ""))
        lines.append(f"| {name} | {ram if ram == '-' else f'{ram:,}'} | "
                     f"{wgrad if wgrad == '-' else f'{wgrad:,}'} | "
                     f"{np.mean([r[0] for r in rs]):.2f} | {after.mean():.2f}"
                     f" +- {sd:.2f} | {first:.4f} -> {last:.4f} |")
        if chosen:
            print(f"{name}: {chosen}")
    table = "\n".join(lines)
    print(table)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(table + "\n")
    print("losses fall" if falls else "FAILED: a scheme's loss does not fall")
    return 0 if falls else 1


if __name__ == "__main__":
    sys.exit(main())
