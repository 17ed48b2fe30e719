#!/usr/bin/python3
"""Memory-plan quality on the model zoo: for every zoo model and
--trainable all / last:2 / --inference-only / --sram 256KiB --update auto,
the planned arena against the liveness lower bound
(the most bytes live at one schedule point: no placement does better) and
the no-reuse sum (every buffer its own bytes), the lower bound of the
schedule before the memory transformations (fuse-conv-chains: frozen
inverted-residual blocks a channel at a time) and how many chains they
fused, plus the whole RAM the generated code needs (arena + trainable
parameters + optimizer state) and the trainable parameter bytes, each
also without the transformations (--fuse-conv-chains=false).

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
    ap.add_argument("--models", help="comma-separated subset of the zoo")
    ap.add_argument("--workdir")
    args = ap.parse_args()
    mcutrain = shutil.which(args.mcutrain) or args.mcutrain
    work = args.workdir or tempfile.mkdtemp(prefix="mcutrain-bench-")
    os.makedirs(work, exist_ok=True)
    models = (args.models.split(",") if args.models else subprocess.run(
        ["/usr/bin/python3", ZOO, "list"], capture_output=True, text=True,
        check=True).stdout.split())
    rows, worst, plans = [], 0.0, 0
    header = ("| model | setting | arena B | lower bound B | arena / bound "
              "| no-reuse sum B | unfused bound B | chains | RAM total B "
              "| unfused RAM B | trains B | unfused trains B |")
    rule = "| --- | --- |" + " ---: |" * 10
    print(header)
    print(rule)
    for model in models:
        onnx_path = os.path.join(work, model + ".onnx")
        if not os.path.exists(onnx_path):
            subprocess.run(["/usr/bin/python3", ZOO, "export", model,
                            onnx_path], check=True, capture_output=True)
        loss = ["--loss", "mse" if model == "autoencoder" else "cross-entropy"]
        for setting, flags in (("all", ["--trainable", "all", *loss]),
                               ("last:2", ["--trainable", "last:2", *loss]),
                               ("inference", ["--inference-only"]),
                               ("auto 256KiB", ["--sram", "256KiB", "--update",
                                                "auto", *loss])):
            out = os.path.join(work, f"{model}-{setting.replace(':', '')}"
                               .replace(" ", "-"))
            report, error = compile_package(mcutrain, onnx_path, out, flags)
            unfused, _ = compile_package(mcutrain, onnx_path, out + "-unfused",
                                         flags + ["--fuse-conv-chains=false"])
            if report is None:
                if "auto" not in setting:
                    print(error, file=sys.stderr)
                    return 1
                row = f"| {model} | {setting} | no scheme fits |" + " |" * 9
                rows.append(row)
                print(row, flush=True)
                continue
            arena = report["arena"]["bytes"]
            bound = report["arena"]["lower_bound_bytes"]
            ratio = arena / bound if bound else 1.0
            worst = max(worst, ratio)
            plans += 1
            schedule = report["schedule"]
            chains = schedule["transformations"][0]["applied"]
            ram, trains = (report["ram"]["total_bytes"],
                           report["ram"]["trainable_parameter_bytes"])
            ram0, trains0 = ((f"{unfused['ram']['total_bytes']:,}",
                              f"{unfused['ram']['trainable_parameter_bytes']:,}")
                             if unfused else ("no scheme fits", "-"))
            row = (f"| {model} | {setting} | {arena:,} | {bound:,} | "
                   f"{ratio:.3f} | {report['arena']['no_reuse_bytes']:,} | "
                   f"{schedule['original_lower_bound_bytes']:,} | {chains} | "
                   f"{ram:,} | {ram0} | {trains:,} | {trains0} |")
            rows.append(row)
            print(row, flush=True)
    summary = (f"worst arena / lower bound: {worst:.3f} (limit {LIMIT}); "
               f"{plans} plans")
    print(summary)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(MARKDOWN_HEAD + header + "\n" + rule + "\n" +
                    "\n".join(rows) + "\n\n" + summary + "\n")
    return 0 if worst <= LIMIT else 1


MARKDOWN_HEAD = """# Memory plans of the model zoo

Written by `bench/memory_plan.py --markdown docs/memory.md` (batch 1, SGD,
cross-entropy; MSE for the autoencoder). The arena holds every activation
saved for the backward pass, every gradient and temporary; the lower bound is
the most bytes live at one point of the schedule (no placement of these
buffers can use less), the no-reuse sum what the buffers would take without
sharing. The unfused bound is the lower bound of the schedule before the
memory transformations: fuse-conv-chains computes each frozen
conv -> depthwise -> pointwise run (MobileNetV2's inverted-residual blocks;
chains: how many, over predict() and the training step) an intermediate
channel at a time, so its expansion is never materialised. RAM total adds
the trainable parameters' RAM copies, the optimizer state and the run-time
scalars (frozen parameters stay in flash); "trains" is the trainable
parameters' bytes. The unfused columns are the same package compiled with
`--fuse-conv-chains=false`; "auto 256KiB" is `--sram 256KiB --update auto`
(what trains is its choice).

"""

if __name__ == "__main__":
    sys.exit(main())
