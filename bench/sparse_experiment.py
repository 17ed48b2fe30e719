#!/usr/bin/python3
"""Sparse updates on the device code: accuracy against backward compute.

A base CNN (examples/fashion-mnist DemoCNN) is pretrained with PyTorch on
3000 Fashion-MNIST images, then fine-tuned by the generated C++ (host build
of the code that runs on the MCU) on two shifted tasks:
  fmnist-rot90  Fashion-MNIST rotated by 90 degrees (training images
                30000.., the rotated test set)
  digits        sklearn's 8x8 digits upscaled to 28x28 (1200 train, 597 test)
for each update scheme; per scheme the final test accuracy, the backward
MACs per step as % of full training's, and the RAM the planner reports.
Several seeds (the pretraining seed); mean +- sd.

  bench/sparse_experiment.py [--seeds 3] [--steps 4000] [--out docs/]

The int8 rows quantize each seed's pretrained CNN (examples/quantize) and
train it with TTE's scheme (int8 weights updated in place, QAS; the same
SGD and learning rate); MAC percentages are of the float full training's.

Writes sparse_experiment.csv, sparse_experiment.svg and
sparse_experiment.md into --out. Backward MACs are what the steps really
did (the trainer sums StepStats::macs; TinyProp's k and TinyPropv2's skips
change per step), as % of full training's in the same run.
"""
import argparse
import csv
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "examples", "fashion-mnist"))
import model as demo  # noqa: E402

SCHEMES = [
    ("full", []),
    ("last-2 layers", ["--trainable", "last:2"]),
    ("last layer", ["--trainable", "last:1"]),
    ("bias-only", ["--trainable", "bias-only"]),
    ("static channels 25%", ["--sparsity", "static:0.25"]),
    ("DGSU 10%", ["--sparsity", "dgsu:0.10"]),
    ("DGSU 5%", ["--sparsity", "dgsu:0.05"]),
    ("DGSU 2%", ["--sparsity", "dgsu:0.02"]),
    ("TinyProp", ["--sparsity", "tinyprop"]),
    ("TinyPropv2", ["--sparsity", "tinyprop2"]),
    ("combined (DGSU 10% + TinyPropv2)", ["--sparsity", "combined:0.1"]),
    # The same base CNN quantized (examples/quantize, calibration on its
    # pretraining images), trained with TTE's scheme: int8 forward, float
    # backward, int8 weights updated in place with QAS (or --qas off).
    ("int8 full", ["--int8"]),
    ("int8 full (QAS off)", ["--int8", "--qas", "off"]),
    ("int8 last-2 layers", ["--int8", "--trainable", "last:2"]),
    ("int8 static channels 25%", ["--int8", "--sparsity", "static:0.25"]),
    ("int8 DGSU 10%", ["--int8", "--sparsity", "dgsu:0.10"]),
    ("int8 TinyPropv2", ["--int8", "--sparsity", "tinyprop2"]),
    ("int8 TinyPropv2 (QAS off)", ["--int8", "--sparsity", "tinyprop2",
                                  "--qas", "off"]),
]


def write_idx(path, array):
    """Unsigned-byte IDX file of `array` (N x 28 x 28 images or N labels)."""
    dims = array.shape
    with open(path, "wb") as f:
        f.write(bytes([0, 0, 0x08, len(dims)]))
        for d in dims:
            f.write(int(d).to_bytes(4, "big"))
        f.write(array.astype(np.uint8).tobytes())


def make_tasks(work, digits_epochs):
    """The two fine-tuning tasks as IDX folders the trainer reads, with the
    trainer arguments for each."""
    tasks = {}
    # Fashion-MNIST rotated by 90 degrees.
    d = os.path.join(work, "fmnist-rot90")
    os.makedirs(d, exist_ok=True)
    for split, prefix in [("train", "train"), ("test", "t10k")]:
        x, y = demo.load_split(split)
        imgs = np.rot90((x[:, 0] * 255.0).round(), k=1, axes=(1, 2))
        write_idx(os.path.join(d, f"{prefix}-images-idx3-ubyte"), imgs)
        write_idx(os.path.join(d, f"{prefix}-labels-idx1-ubyte"), y)
    tasks["fmnist-rot90"] = (d, ["--offset", "30000", "--test", "2000"])
    # sklearn digits, 8x8 -> 24x24 (3x3 blocks) centred in 28x28.
    from sklearn.datasets import load_digits
    digits = load_digits()
    imgs = np.kron(digits.images / 16.0 * 255.0, np.ones((3, 3)))
    imgs = np.pad(imgs, ((0, 0), (2, 2), (2, 2)))
    order = np.random.RandomState(0).permutation(len(imgs))
    imgs, labels = imgs[order], digits.target[order]
    d = os.path.join(work, "digits")
    os.makedirs(d, exist_ok=True)
    write_idx(os.path.join(d, "train-images-idx3-ubyte"), imgs[:1200])
    write_idx(os.path.join(d, "train-labels-idx1-ubyte"), labels[:1200])
    write_idx(os.path.join(d, "t10k-images-idx3-ubyte"), imgs[1200:])
    write_idx(os.path.join(d, "t10k-labels-idx1-ubyte"), labels[1200:])
    tasks["digits"] = (d, ["--offset", "0", "--train", "1200", "--epochs",
                           str(digits_epochs)])
    return tasks


def saved_features(report):
    """Bytes of forward activations (and the bit-packed masks pack-masks
    keeps of them) still live when the backward pass starts (its first
    gradient buffer): what the step keeps for backward."""
    bufs = [b for b in report["arena"]["buffers"] if b["func"] == "train_step"]
    grads = [b["first"] for b in bufs if b["kind"] == "gradient"]
    if not grads:
        return 0
    start = min(grads)
    return sum(b["bytes"] for b in bufs if b["kind"] in ("activation", "mask")
               and b["first"] < start <= b["last"])


def run(cmd, **kw):
    res = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if res.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{res.stdout}{res.stderr}")
    return res.stdout


def svg_plot(summary, path):
    """Accuracy (mean, with sd bars) against backward MACs (% of full), one
    panel per task."""
    tasks = sorted({s["task"] for s in summary})
    w, h, pad = 460, 360, 60
    colours = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
               "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"]
    names = [n for n, _ in SCHEMES]
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w * len(tasks)}" '
           f'height="{h + 20 + 14 * math.ceil(len(names) / 4)}" '
           'font-family="sans-serif" font-size="11">',
           '<rect width="100%" height="100%" fill="white"/>']
    for t, task in enumerate(tasks):
        rows = [s for s in summary if s["task"] == task]
        lo = min(s["acc_mean"] - s["acc_sd"] for s in rows)
        hi = max(s["acc_mean"] + s["acc_sd"] for s in rows)
        lo, hi = math.floor(lo - 1), math.ceil(hi + 1)
        x0 = t * w

        def X(p):
            return x0 + pad + (w - 1.5 * pad) * p / 100.0

        def Y(a):
            return pad / 2 + (h - 1.5 * pad) * (1 - (a - lo) / (hi - lo))
        out.append(f'<text x="{x0 + pad}" y="16" font-size="13">{task}</text>')
        out.append(f'<line x1="{X(0)}" y1="{Y(lo)}" x2="{X(100)}" y2="{Y(lo)}" '
                   'stroke="black"/>')
        out.append(f'<line x1="{X(0)}" y1="{Y(lo)}" x2="{X(0)}" y2="{Y(hi)}" '
                   'stroke="black"/>')
        for p in (0, 25, 50, 75, 100):
            out.append(f'<text x="{X(p)}" y="{Y(lo) + 14}" '
                       f'text-anchor="middle">{p}</text>')
        for i in range(5):
            a = lo + (hi - lo) * i / 4
            out.append(f'<text x="{X(0) - 4}" y="{Y(a) + 4}" '
                       f'text-anchor="end">{a:.0f}</text>')
        out.append(f'<text x="{X(50)}" y="{Y(lo) + 28}" text-anchor="middle">'
                   'backward MACs per step, % of full</text>')
        out.append(f'<text x="{x0 + 14}" y="{Y((lo + hi) / 2)}" transform='
                   f'"rotate(-90 {x0 + 14} {Y((lo + hi) / 2)})" '
                   'text-anchor="middle">test accuracy %</text>')
        for s in rows:
            c = colours[names.index(s["scheme"]) % len(colours)]
            cx, cy = X(s["bwd_pct"]), Y(s["acc_mean"])
            out.append(f'<line x1="{cx}" y1="{Y(s["acc_mean"] - s["acc_sd"])}" '
                       f'x2="{cx}" y2="{Y(s["acc_mean"] + s["acc_sd"])}" '
                       f'stroke="{c}"/>')
            out.append(f'<circle cx="{cx}" cy="{cy}" r="4" fill="{c}">'
                       f'<title>{s["scheme"]}: {s["acc_mean"]:.2f} +- '
                       f'{s["acc_sd"]:.2f} %</title></circle>')
    for i, n in enumerate(names):
        out.append(f'<circle cx="{pad + 130 * (i % 4)}" cy="{h + 8 + 14 * (i // 4)}"'
                   f' r="4" fill="{colours[i % len(colours)]}"/><text '
                   f'x="{pad + 8 + 130 * (i % 4)}" y="{h + 12 + 14 * (i // 4)}">'
                   f'{n}</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--mcutrain", default=os.path.join(ROOT, "build", "bin",
                                                       "mcutrain"))
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=4000,
                    help="fine-tuning steps on fmnist-rot90")
    ap.add_argument("--digits-epochs", type=int, default=3)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--optimizer", default="sgd",
                    help="every scheme's optimizer (mcutrain --optimizer)")
    ap.add_argument("--out", default=os.path.join(ROOT, "docs"))
    ap.add_argument("--workdir")
    ap.add_argument("--schemes",
                    help="comma-separated scheme names to run (default: "
                         "all; full always runs)")
    ap.add_argument("--tasks", help="comma-separated tasks (default: all)")
    args = ap.parse_args()
    work = args.workdir or tempfile.mkdtemp(prefix="mcutrain-sparse-")
    os.makedirs(work, exist_ok=True)
    os.makedirs(args.out, exist_ok=True)
    tasks = make_tasks(work, args.digits_epochs)
    tasks["fmnist-rot90"][1].extend(["--train", str(args.steps)])
    if args.tasks:
        tasks = {t: v for t, v in tasks.items() if t in args.tasks.split(",")}
    schemes = [(n, o) for n, o in SCHEMES
               if not args.schemes or n in args.schemes.split(",")]
    if not any(n == "full" for n, _ in schemes):
        schemes.insert(0, SCHEMES[0])  # the reference for MAC percentages
    runs = args.seeds * len(schemes) * len(tasks)
    rows, done = [], 0
    for seed in range(args.seeds):
        onnx_path = os.path.join(work, f"base{seed}.onnx")
        state = os.path.join(work, f"base{seed}.pt")
        run(["/usr/bin/python3", os.path.join(ROOT, "examples", "fashion-mnist",
                                              "model.py"), "--out", onnx_path,
             "--seed", str(seed), "--state", state])
        int8_path = os.path.join(work, f"base{seed}_int8.onnx")
        if any("--int8" in o for _, o in schemes):
            run(["/usr/bin/python3", os.path.join(ROOT, "examples",
                                                  "quantize", "quantize.py"),
                 "demo", int8_path, "--weights", state])
        for name, opts in schemes:
            tag = re.sub(r"[^a-z0-9]+", "_", name.lower())
            pkg = os.path.join(work, f"{tag}_{seed}")
            model = int8_path if "--int8" in opts else onnx_path
            run([args.mcutrain, "compile", model, "-o", pkg, "--name",
                 "model", "--lr", str(args.lr), "--optimizer",
                 args.optimizer] +
                [o for o in opts if o != "--int8"])
            report = json.load(open(os.path.join(pkg, "report.json")))
            exe = os.path.join(pkg, "trainer")
            run(["g++", "-std=c++17", "-O2", "-fno-exceptions", "-fno-rtti",
                 f"-I{pkg}", "-DMCUTRAIN_MODEL=model",
                 '-DMCUTRAIN_MODEL_HEADER="model.h"',
                 os.path.join(ROOT, "examples", "fashion-mnist", "trainer.cpp"),
                 os.path.join(pkg, "model.cpp"),
                 os.path.join(pkg, "model_params.cpp"), "-o", exe])
            for task, (data, targs) in tasks.items():
                text = run([exe, data] + targs)
                before = float(re.search(r"before fine-tuning: ([0-9.]+)%",
                                         text).group(1))
                after = float(re.search(r"after fine-tuning: +([0-9.]+)%",
                                        text).group(1))
                m = re.search(r"backward MACs done: ([0-9.]+) per step on "
                              r"average \(([0-9]+) steps, ([0-9]+) skipped\)",
                              text)
                rows.append({"task": task, "scheme": name, "seed": seed,
                             "acc_before": before, "acc_after": after,
                             "bwd_macs": float(m.group(1)),
                             "steps": int(m.group(2)),
                             "skipped": int(m.group(3)),
                             "saved_bytes": saved_features(report),
                             "wgrad_feature_bytes":
                                 report["ram"]["weight_gradient_feature_bytes"],
                             "ram_bytes": report["ram"]["total_bytes"]})
                done += 1
                bar = "#" * (30 * done // runs)
                print(f"\r[{bar:30s}] {done}/{runs} {task:12s} {name:20s} "
                      f"seed {seed}: {before:.2f}% -> {after:.2f}%", end="",
                      file=sys.stderr, flush=True)
    print(file=sys.stderr)
    with open(os.path.join(args.out, "sparse_experiment.csv"), "w",
              newline="") as f:
        wr = csv.DictWriter(f, fieldnames=list(rows[0]))
        wr.writeheader()
        wr.writerows(rows)
    summary = []
    for task in tasks:
        full = np.mean([r["bwd_macs"] for r in rows
                        if r["task"] == task and r["scheme"] == "full"])
        for name, _ in schemes:
            sel = [r for r in rows if r["task"] == task and r["scheme"] == name]
            acc = np.array([r["acc_after"] for r in sel])
            summary.append({
                "task": task, "scheme": name,
                "acc_before": float(np.mean([r["acc_before"] for r in sel])),
                "acc_mean": float(acc.mean()),
                "acc_sd": float(acc.std(ddof=1)) if len(acc) > 1 else 0.0,
                "bwd_pct": 100.0 * float(np.mean([r["bwd_macs"]
                                                  for r in sel])) / full,
                "skipped_pct": 100.0 * float(np.mean(
                    [r["skipped"] / r["steps"] for r in sel])),
                "saved": sel[0]["saved_bytes"],
                "wgrad": sel[0]["wgrad_feature_bytes"],
                "ram": sel[0]["ram_bytes"]})
    lines = ["| task | scheme | accuracy before % | accuracy after % (mean +- sd) "
             "| backward MACs % of full | steps skipped % | weight-gradient "
             "features B | saved features B | RAM B |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for s in summary:
        lines.append(f"| {s['task']} | {s['scheme']} | {s['acc_before']:.2f} | "
                     f"{s['acc_mean']:.2f} +- {s['acc_sd']:.2f} | "
                     f"{s['bwd_pct']:.1f} | {s['skipped_pct']:.1f} | "
                     f"{s['wgrad']:,} | {s['saved']:,} | {s['ram']:,} |")
    table = "\n".join(lines)
    print(table)
    svg_plot(summary, os.path.join(args.out, "sparse_experiment.svg"))
    with open(os.path.join(args.out, "sparse_experiment.md"), "w") as f:
        f.write("# Sparse updates: accuracy against backward compute\n\n"
                "Written by `bench/sparse_experiment.py` "
                f"(--seeds {args.seeds} --steps {args.steps} --lr {args.lr} "
                f"--optimizer {args.optimizer}; batch 1). The base CNN is pretrained in PyTorch on 3000 "
                "Fashion-MNIST images (one seed per run), then the generated "
                "C++ fine-tunes it on Fashion-MNIST rotated by 90 degrees "
                f"({args.steps} training images from 30000 on, 2000 test "
                "images) or on sklearn's digits upscaled to 28x28 (1200 "
                f"training images x {args.digits_epochs} epochs, 597 test "
                "images). Backward MACs "
                "are the mean per training step the generated code reports "
                "(StepStats::macs minus the forward pass), as % of full "
                "training's; steps skipped is TinyPropv2's share of steps "
                "with no backward pass; weight-gradient features are the "
                "forward activations the weight gradients read (what DGSU and "
                "static selection keep only the chosen channels of); saved "
                "features are all the activations (and the bit-packed masks "
                "pack-masks keeps instead of tensors the backward pass only "
                "tests) still live when the backward pass starts; RAM is "
                "arena + "
                "trainable parameters + optimizer/controller state. The int8 "
                "rows train the same pretrained CNN quantized by "
                "examples/quantize (int8 forward, float backward, int8 "
                "weights updated in place with QAS unless QAS off; "
                "docs/quantization.md).\n\n"
                + table + "\n\n![accuracy vs backward MACs]"
                "(sparse_experiment.svg)\n")
    shutil.rmtree(work, ignore_errors=True) if not args.workdir else None
    return 0


if __name__ == "__main__":
    sys.exit(main())
