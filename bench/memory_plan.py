#!/usr/bin/python3
"""Memory-plan quality on the demo CNN and the model zoo: for every model and
--trainable all (also with --recompute all) / last:2 / DGSU 10% /
--inference-only / --sram 256KiB
--update auto, the planned arena against the liveness lower bound
(the most bytes live at one schedule point: no placement does better) and
the no-reuse sum (every buffer its own bytes); then, each beside the same
package compiled without the memory transformations (--fuse-conv-chains=false
--pack-masks=false --in-place=false --recompute=none: "before"), the lower
bound, the saved features (bytes
live when the backward pass starts), the whole RAM the generated code needs
(arena + trainable parameters + optimizer state) and the trainable
parameter bytes; and how many conv chains were fused, masks packed,
elementwise ops written over their input and tensors recomputed (with
their MACs); "all, recompute" adds --recompute all to full training.

  bench/memory_plan.py [--mcutrain PATH] [--markdown docs/memory.md]

Exits non-zero if any arena exceeds 1.05 x its lower bound.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ZOO = os.path.join(ROOT, "examples", "zoo", "zoo.py")
LIMIT = 1.05
BEFORE = ["--fuse-conv-chains=false", "--pack-masks=false", "--in-place=false",
          "--recompute=none"]
sys.path.insert(0, os.path.join(ROOT, "bench"))
from sparse_experiment import saved_features  # noqa: E402

DEMO_EXPORT = """
import sys, torch
sys.path.insert(0, sys.argv[1])
import model
torch.manual_seed(0)
model.export(model.DemoCNN().eval(), sys.argv[2])
"""


def export(model, path):
    """The demo CNN (examples/fashion-mnist, random weights) or a zoo model."""
    if model == "demo_cnn":
        cmd = ["/usr/bin/python3", "-c", DEMO_EXPORT,
               os.path.join(ROOT, "examples", "fashion-mnist"), path]
    else:
        cmd = ["/usr/bin/python3", ZOO, "export", model, path]
    subprocess.run(cmd, check=True, capture_output=True)


def settings(model):
    loss = ["--loss", "mse" if model == "autoencoder" else "cross-entropy"]
    return (("all", ["--trainable", "all", *loss]),
            ("all, recompute", ["--trainable", "all", "--recompute", "all",
                                *loss]),
            ("last:2", ["--trainable", "last:2", *loss]),
            ("dgsu 10%", ["--trainable", "all", "--sparsity", "dgsu:0.1",
                          *loss]),
            ("inference", ["--inference-only"]),
            ("auto 256KiB", ["--sram", "256KiB", "--update", "auto", *loss]))


def applied(report, name):
    return next(t["applied"] for t in report["schedule"]["transformations"]
                if t["name"] == name)


def recomputed(report):
    """recompute's tensors and extra MACs a step, as "N (M MACs)"."""
    t = next(t for t in report["schedule"]["transformations"]
             if t["name"] == "recompute")
    return f"{t['applied']} ({t['extra_macs']:,})" if t["applied"] else "0"


def row(model, setting, report, before):
    """One table row; `before` may be None (no scheme fits)."""
    arena = report["arena"]["bytes"]
    bound = report["arena"]["lower_bound_bytes"]
    ratio = arena / bound if bound else 1.0
    ram = report["ram"]
    if before:
        b = (f"{before['arena']['lower_bound_bytes']:,}",
             f"{saved_features(before):,}",
             f"{before['ram']['total_bytes']:,}",
             f"{before['ram']['trainable_parameter_bytes']:,}")
    else:
        b = ("no scheme fits", "-", "-", "-")
    return ratio, (
        f"| {model} | {setting} | {arena:,} | {bound:,} | {ratio:.3f} | "
        f"{report['arena']['no_reuse_bytes']:,} | {b[0]} | "
        f"{applied(report, 'fuse-conv-chains')} | "
        f"{applied(report, 'pack-masks')} | {saved_features(report):,} | "
        f"{b[1]} | {ram['total_bytes']:,} | {b[2]} | "
        f"{ram['trainable_parameter_bytes']:,} | {b[3]} | "
        f"{applied(report, 'in-place-elementwise')} | {recomputed(report)} |")


def compile_package(mcutrain, onnx_path, out, flags):
    """(report.json as a dict, None) or (None, mcutrain's error)."""
    res = subprocess.run([mcutrain, "compile", onnx_path, "-o", out, *flags],
                         capture_output=True, text=True)
    if res.returncode != 0:
        return None, res.stderr
    return json.load(open(os.path.join(out, "report.json"))), None


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--mcutrain", default=os.path.join(ROOT, "build", "bin",
                                                       "mcutrain"))
    ap.add_argument("--markdown", help="also write the table here")
    ap.add_argument("--models", help="comma-separated subset (demo_cnn and "
                    "the zoo's)")
    ap.add_argument("--workdir")
    args = ap.parse_args()
    mcutrain = shutil.which(args.mcutrain) or args.mcutrain
    work = args.workdir or tempfile.mkdtemp(prefix="mcutrain-bench-")
    os.makedirs(work, exist_ok=True)
    models = (args.models.split(",") if args.models else ["demo_cnn"] +
              subprocess.run(["/usr/bin/python3", ZOO, "list"],
                             capture_output=True, text=True,
                             check=True).stdout.split())
    rows, worst, plans = [], 0.0, 0
    header = ("| model | setting | arena B | lower bound B | arena / bound "
              "| no-reuse sum B | before: bound B | chains | masks "
              "| saved B | before: saved B | RAM total B | before: RAM B "
              "| trains B | before: trains B | in place "
              "| recomputed (MACs) |")
    rule = "| --- | --- |" + " ---: |" * 15
    print(header)
    print(rule)
    for model in models:
        onnx_path = os.path.join(work, model + ".onnx")
        if not os.path.exists(onnx_path):
            export(model, onnx_path)
        for setting, flags in settings(model):
            out = os.path.join(work, f"{model}-{setting}".replace(":", "")
                               .replace(" ", "-").replace("%", ""))
            report, error = compile_package(mcutrain, onnx_path, out, flags)
            before, _ = compile_package(mcutrain, onnx_path, out + "-before",
                                        flags + BEFORE)
            if report is None:
                if "auto" not in setting:
                    print(error, file=sys.stderr)
                    return 1
                line = f"| {model} | {setting} | no scheme fits |" + " |" * 13
            else:
                ratio, line = row(model, setting, report, before)
                worst = max(worst, ratio)
                plans += 1
            rows.append(line)
            print(line, flush=True)
    summary = (f"worst arena / lower bound: {worst:.3f} (limit {LIMIT}); "
               f"{plans} plans")
    print(summary)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(MARKDOWN_HEAD + header + "\n" + rule + "\n" +
                    "\n".join(rows) + "\n\n" + summary + "\n")
    return 0 if worst <= LIMIT else 1


MARKDOWN_HEAD = """# Memory plans of the demo CNN and the model zoo

Written by `bench/memory_plan.py --markdown docs/memory.md` (batch 1, SGD,
cross-entropy; MSE for the autoencoder; the demo CNN is
examples/fashion-mnist's, with random weights). The arena holds every
activation saved for the backward pass, every gradient and temporary; the
lower bound is the most bytes live at one point of the schedule (no
placement of these buffers can use less), the no-reuse sum what the buffers
would take without sharing.

"Before" is the same package compiled without the memory transformations
(`--fuse-conv-chains=false --pack-masks=false --in-place=false
--recompute=none`):
- fuse-conv-chains computes each frozen conv -> depthwise -> pointwise run
  (MobileNetV2's inverted-residual blocks; chains: how many, over predict()
  and the training step) an intermediate channel at a time, so its
  expansion is never materialised;
- pack-masks keeps a bit per element (masks: how many) instead of a forward
  tensor that the backward pass only tests (ReLU, ReLU6, leaky ReLU,
  disjoint max pools, int8 clamps, QuantizeLinear saturation), where no
  trained layer reads the tensor itself;
- in-place-elementwise writes an elementwise op's result over an input
  that dies there (in place: how many ops), such as a Tanh, a residual Add
  or a gradient's scaling; a ReLU the convolution kernel applies needs no
  buffer at all and is left to it;
- recompute makes a forward tensor that a weight gradient reads again
  right before that read, from tensors that are free or cheaper to keep
  (recomputed: how many, and the MACs that adds to each step). By default
  (`auto`) only where the step does not fit `--sram` otherwise: the row
  "all, recompute" is `--trainable all --recompute all`, every tensor that
  frees more than it keeps.

Saved: the bytes of activations and masks live when the training step's
backward pass starts (what the step keeps for it). RAM total adds the
trainable parameters' RAM copies, the optimizer state and the run-time
scalars (frozen parameters stay in flash); "trains" is the trainable
parameters' bytes. "dgsu 10%" is `--trainable all --sparsity dgsu:0.1`;
"auto 256KiB" is `--sram 256KiB --update auto` (what trains is its choice).

"""

if __name__ == "__main__":
    sys.exit(main())
