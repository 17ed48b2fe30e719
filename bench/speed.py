#!/usr/bin/python3
"""Training-step speed of the generated C++ against PyTorch eager, and the
dense layers' fraction of the core's FP32 peak, all measured in one run.

  bench/speed.py [--mcutrain build/bin/mcutrain] [--out docs/benchmarks.md]
                 [--models a,b] [--rounds 7] [--min-round-seconds 0.2]
                 [--cxxflags=-mno-avx512f]
  bench/speed.py --compile-baseline OLD_MCUTRAIN [--rounds 5]
                 (compile time only, against another build of mcutrain)

For every zoo model (opset-13 export, --trainable all, SGD, batch 1):
  * mcutrain's compile time (seconds, wall clock);
  * the generated training step (g++ -O3 -march=native, one thread): median
    over rounds of the mean step time in a round;
  * PyTorch 1.13 eager on the same model and input, torch.set_num_threads(1),
    zero_grad + forward + loss + backward + SGD step, timed the same way;
  * the ratio PyTorch / generated;
  * the same generated step without the dense kernels (--kernels=false:
    the plain loop nests), to show what the kernels bring.
Then single-layer packages of the dense 3x3 convolutions and the Gemm-shaped
layers (1x1 convolutions, fully connected) of ResNet-8 and DS-CNN: a trainable
per-channel scale in front of the layer makes the step compute the layer's
forward pass, its weight gradient and its input gradient (3 x 2 x MACs flops)
plus an MSE loss and the update; the step's GFLOP/s over those flops are
compared with bench/fma_peak.cpp's measured peak.
"""
import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "examples", "zoo"))
import zoo  # noqa: E402

# bench/speed.py --torchvision: networks of the torchvision rows.
TORCHVISION = ["resnet18", "mobilenet_v3_small", "shufflenet_v2_x0_5",
               "efficientnet_b0"]
CXX = ["g++", "-std=c++17", "-O3", "-march=native", "-fno-exceptions",
       "-fno-rtti"]

HARNESS = r"""
#include "%(name)s.h"
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>
namespace m = %(name)s;
int main(int argc, char **argv) {
  std::vector<float> x(m::kInputSize);
  std::vector<%(label)s> y(%(label_size)s);
  FILE *f = std::fopen(argv[1], "rb");
  if (!f || std::fread(x.data(), sizeof(float), x.size(), f) != x.size())
    return 2;
  std::fclose(f);
  f = std::fopen(argv[2], "rb");
  if (!f || std::fread(y.data(), sizeof(y[0]), y.size(), f) != y.size())
    return 2;
  std::fclose(f);
  int rounds = std::atoi(argv[3]);
  double minSeconds = std::atof(argv[4]);
  m::init();
  float loss = 0;
  for (int i = 0; i < 3; ++i)
    loss += m::train_step(x.data(), y.data());
  // Steps per round: enough for minSeconds.
  long steps = 1;
  for (;;) {
    auto t0 = std::chrono::steady_clock::now();
    for (long i = 0; i < steps; ++i)
      loss += m::train_step(x.data(), y.data());
    double s = std::chrono::duration<double>(
                   std::chrono::steady_clock::now() - t0).count();
    if (s >= minSeconds)
      break;
    steps *= 2;
  }
  for (int r = 0; r < rounds; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    for (long i = 0; i < steps; ++i)
      loss += m::train_step(x.data(), y.data());
    double s = std::chrono::duration<double>(
                   std::chrono::steady_clock::now() - t0).count();
    std::printf("round_us %%.3f\n", s / steps * 1e6);
  }
  std::printf("loss_sum %%g\n", loss);
  return 0;
}
"""


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise SystemExit(f"FAILED: {' '.join(cmd)}\n{r.stdout}{r.stderr}")
    return r.stdout


def measure_peak(work):
    exe = os.path.join(work, "fma_peak")
    run(CXX + [os.path.join(HERE, "fma_peak.cpp"), "-o", exe])
    out = run([exe])
    return float(out.split("fma_peak_gflops")[1].split()[0])


def cpu_name():
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def generated_step_us(mcutrain, model, shape, mse, work, args, extra=()):
    """Compiles `model` (with the `extra` compile options), builds the
    timing harness; returns (compile s, median step us, train-step MACs)."""
    os.makedirs(work, exist_ok=True)
    onnx = os.path.join(work, "model.onnx")
    torch.onnx.export(model, torch.zeros(*shape), onnx, opset_version=13,
                      input_names=["input"], output_names=["output"])
    t0 = time.perf_counter()
    run([mcutrain, "compile", onnx, "-o", os.path.join(work, "pkg"),
         "--name", "net", "--trainable", "all", "--optimizer", "sgd",
         "--lr", "1e-4", "--loss", "mse" if mse else "cross-entropy",
         *extra])
    compile_s = time.perf_counter() - t0
    x, y = sample(model, shape, mse)
    x.numpy().tofile(os.path.join(work, "x.bin"))
    y.numpy().astype(np.float32 if mse else np.int32).tofile(
        os.path.join(work, "y.bin"))
    with open(os.path.join(work, "harness.cpp"), "w") as f:
        f.write(HARNESS % {"name": "net",
                           "label": "float" if mse else "std::int32_t",
                           "label_size": "m::kOutputSize" if mse else "1"})
    exe = os.path.join(work, "harness")
    run(CXX + ["-I", os.path.join(work, "pkg"),
               os.path.join(work, "harness.cpp"),
               os.path.join(work, "pkg", "net.cpp"),
               os.path.join(work, "pkg", "net_params.cpp"), "-o", exe])
    out = run([exe, os.path.join(work, "x.bin"), os.path.join(work, "y.bin"),
               str(args.rounds), str(args.min_round_seconds)])
    rounds = [float(line.split()[1]) for line in out.splitlines()
              if line.startswith("round_us")]
    header = open(os.path.join(work, "pkg", "net.h")).read()
    macs = int(header.split("kTrainStepMacs = ")[1].split(";")[0])
    return compile_s, statistics.median(rounds), macs


def sample(model, shape, mse):
    g = torch.Generator().manual_seed(0)
    x = torch.rand(*shape, generator=g)
    with torch.no_grad():
        out = model(x)
    if mse:
        return x, torch.rand(out.shape, generator=g)
    return x, torch.zeros(shape[0], dtype=torch.int64)


def torch_step_us(model, shape, mse, args):
    torch.set_num_threads(1)
    x, y = sample(model, shape, mse)
    opt = torch.optim.SGD(model.parameters(), lr=1e-4)
    loss_fn = nn.MSELoss() if mse else nn.CrossEntropyLoss()

    def step():
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()

    for _ in range(3):
        step()
    steps = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        if time.perf_counter() - t0 >= args.min_round_seconds:
            break
        steps *= 2
    rounds = []
    for _ in range(args.rounds):
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        rounds.append((time.perf_counter() - t0) / steps * 1e6)
    return statistics.median(rounds)


class Scaled(nn.Module):
    """A trainable per-channel scale before the layer, so that the layer's
    input gradient is part of the step."""

    def __init__(self, layer, channels, spatial):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(
            (1, channels, 1, 1) if spatial else (1, channels)))
        self.layer = layer

    def forward(self, x):
        return self.layer(x * self.scale)


# (name, layer, input shape): the dense layers of ResNet-8 (32x32x3 input)
# and DS-CNN (49x10 MFCC, 64 channels).
def dense_layers():
    c3 = lambda i, o, s: nn.Conv2d(i, o, 3, s, 1, bias=False)  # noqa: E731
    c1 = lambda i, o, s: nn.Conv2d(i, o, 1, s, 0, bias=False)  # noqa: E731
    return [
        ("resnet8 conv3x3 3->16 32x32", c3(3, 16, 1), (1, 3, 32, 32)),
        ("resnet8 conv3x3 16->16 32x32", c3(16, 16, 1), (1, 16, 32, 32)),
        ("resnet8 conv3x3 16->32 s2 32x32", c3(16, 32, 2), (1, 16, 32, 32)),
        ("resnet8 conv3x3 32->32 16x16", c3(32, 32, 1), (1, 32, 16, 16)),
        ("resnet8 conv3x3 32->64 s2 16x16", c3(32, 64, 2), (1, 32, 16, 16)),
        ("resnet8 conv3x3 64->64 8x8", c3(64, 64, 1), (1, 64, 8, 8)),
        ("resnet8 conv1x1 16->32 s2 (shortcut)", c1(16, 32, 2),
         (1, 16, 32, 32)),
        ("resnet8 gemm 64->10", nn.Linear(64, 10), (1, 64)),
        ("ds_cnn conv1x1 64->64 25x5 (gemm)", c1(64, 64, 1), (1, 64, 25, 5)),
        ("ds_cnn gemm 64->12", nn.Linear(64, 12), (1, 64)),
    ]


def layer_macs(layer, shape):
    x = torch.zeros(*shape)
    y = layer(x)
    if isinstance(layer, nn.Linear):
        return layer.in_features * layer.out_features
    k = layer.kernel_size[0] * layer.kernel_size[1]
    return y.numel() * k * layer.in_channels // layer.groups


def compare_compile_time(args, work):
    """--compile-baseline OLD: the zoo's compile time under the baseline
    compiler and --mcutrain, alternating runs in this one session (median of
    --rounds each); prints per-model medians and the ratio of the totals."""
    total = {"baseline": 0.0, "mcutrain": 0.0}
    print("| model | baseline s | mcutrain s | ratio |\n|---|---:|---:|---:|")
    for name in args.models.split(","):
        model, shape = zoo.build(name, seed=0)
        onnx = os.path.join(work, name + ".onnx")
        torch.onnx.export(model, torch.zeros(*shape), onnx, opset_version=13,
                          input_names=["input"], output_names=["output"])
        loss = "mse" if name == "autoencoder" else "cross-entropy"
        times = {"baseline": [], "mcutrain": []}
        for _ in range(args.rounds):
            for which, binary in (("baseline", args.compile_baseline),
                                  ("mcutrain", args.mcutrain)):
                t0 = time.perf_counter()
                run([binary, "compile", onnx, "-o",
                     os.path.join(work, name + "-" + which), "--name", "net",
                     "--trainable", "all", "--loss", loss])
                times[which].append(time.perf_counter() - t0)
        med = {k: statistics.median(v) for k, v in times.items()}
        for k in total:
            total[k] += med[k]
        print(f"| {name} | {med['baseline']:.3f} | {med['mcutrain']:.3f} | "
              f"{med['mcutrain'] / med['baseline']:.3f} |", flush=True)
    print(f"| total | {total['baseline']:.3f} | {total['mcutrain']:.3f} | "
          f"{total['mcutrain'] / total['baseline']:.3f} |")


def torchvision_rows(args, work, peak):
    """The --torchvision rows: torchvision networks as torchvision_check.py
    builds them (random weights, randomised BatchNorm statistics, 10
    classes, eval mode, 64x64), exported with torch's defaults (BatchNorm
    folded). PyTorch runs the same BatchNorm-folded network, so both sides
    do the same arithmetic."""
    sys.path.insert(0, HERE)
    import torchvision_check as tv  # noqa: E402
    table = ["| network (64x64) | compile s | train-step MACs | "
             "mcutrain us/step | PyTorch us/step | speed-up | GFLOP/s | "
             "fraction of peak |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    worst_ratio = worst_peak = None
    for name in args.torchvision.split(","):
        shape = (1, 3, 64, 64)
        model = tv.build(name, seed=0)
        folded, _ = tv.fold_batchnorms(model, torch.zeros(*shape))
        folded.eval()
        comp, ours, macs = generated_step_us(
            args.mcutrain, model, shape, False, os.path.join(work, name),
            args)
        theirs = torch_step_us(folded, shape, False, args)
        ratio, gflops = theirs / ours, 2 * macs / ours * 1e-3
        worst_ratio = ratio if worst_ratio is None else min(worst_ratio,
                                                            ratio)
        worst_peak = (gflops / peak if worst_peak is None
                      else min(worst_peak, gflops / peak))
        table.append(f"| {name} | {comp:.2f} | {macs:,} | {ours:.0f} | "
                     f"{theirs:.0f} | {ratio:.1f}x | {gflops:.1f} | "
                     f"{gflops / peak:.0%} |")
        print(f"torchvision {name}: compile {comp:.2f} s, mcutrain "
              f"{ours:.0f} us, pytorch {theirs:.0f} us, speed-up "
              f"{ratio:.1f}x, {gflops:.1f} GFLOP/s ({gflops / peak:.0%} of "
              f"peak)", flush=True)
    return table + ["", f"torchvision: smallest speed-up over PyTorch "
                    f"{worst_ratio:.1f}x, smallest fraction of peak "
                    f"{worst_peak:.0%}", ""]


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--mcutrain", default=os.path.join(ROOT, "build", "bin",
                                                       "mcutrain"))
    ap.add_argument("--models", default=",".join(zoo.MODELS))
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--min-round-seconds", type=float, default=0.2)
    ap.add_argument("--no-layers", action="store_true")
    ap.add_argument("--torchvision", nargs="?", const=",".join(TORCHVISION),
                    help="also (or with --models '' only) the torchvision "
                    "rows; default networks: " + ",".join(TORCHVISION))
    ap.add_argument("--no-loops", action="store_true",
                    help="skip the --kernels=false comparison")
    ap.add_argument("--cxxflags", default="",
                    help="more g++ flags for the generated code and the "
                    "peak, e.g. --cxxflags=-mno-avx512f for an AVX2 build "
                    "on an AVX-512 host")
    ap.add_argument("--out", help="write the results as Markdown here")
    ap.add_argument("--compile-baseline", metavar="OLD_MCUTRAIN",
                    help="only compare the zoo's compile time with this "
                    "compiler's (same run, alternating; --rounds each)")
    ap.add_argument("--workdir")
    args = ap.parse_args()
    CXX.extend(args.cxxflags.split())
    work = args.workdir or tempfile.mkdtemp(prefix="mcutrain-speed-")
    os.makedirs(work, exist_ok=True)
    torch.manual_seed(0)
    if args.compile_baseline:
        return compare_compile_time(args, work)

    peak = measure_peak(work)
    flags = " ".join(f for f in CXX if f.startswith(("-O", "-m")))
    lines = [f"CPU: {cpu_name()}, one thread; g++ "
             f"{run(['g++', '-dumpfullversion']).strip()} {flags}; "
             f"PyTorch {torch.__version__} eager, torch.set_num_threads(1)",
             f"measured FP32 peak (bench/fma_peak.cpp): {peak:.1f} GFLOP/s",
             ""]
    print("\n".join(lines), flush=True)
    table = ["| model | compile s | train-step MACs | mcutrain us/step | "
             "PyTorch us/step | speed-up | GFLOP/s | loops us/step |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    worst = None
    for name in filter(None, args.models.split(",")):
        model, shape = zoo.build(name, seed=0)
        mse = name == "autoencoder"
        comp, ours, macs = generated_step_us(
            args.mcutrain, model, shape, mse, os.path.join(work, name), args)
        theirs = torch_step_us(model, shape, mse, args)
        loops = "-"
        if not args.no_loops:
            loops = "%.1f" % generated_step_us(
                args.mcutrain, model, shape, mse,
                os.path.join(work, name + "-loops"), args,
                ["--kernels=false"])[1]
        ratio = theirs / ours
        worst = ratio if worst is None else min(worst, ratio)
        row = (f"| {name} | {comp:.2f} | {macs:,} | {ours:.1f} | "
               f"{theirs:.1f} | {ratio:.1f}x | {2 * macs / ours * 1e-3:.1f} | "
               f"{loops} |")
        table.append(row)
        print(f"model {name}: compile {comp:.2f} s, mcutrain {ours:.1f} us, "
              f"pytorch {theirs:.1f} us, speed-up {ratio:.1f}x, "
              f"loops {loops} us", flush=True)
    if worst is not None:
        lines += table + ["", f"smallest speed-up over PyTorch: {worst:.1f}x",
                          ""]
    if args.torchvision:
        lines += torchvision_rows(args, work, peak)

    if not args.no_layers:
        ltable = ["| layer | fwd+bwd MFLOP | us/step | GFLOP/s | "
                  "fraction of peak | loops GFLOP/s |",
                  "|---|---:|---:|---:|---:|---:|"]
        for i, (lname, layer, shape) in enumerate(dense_layers()):
            spatial = len(shape) == 4
            model = Scaled(layer, shape[1], spatial).eval()
            _, us, _ = generated_step_us(
                args.mcutrain, model, shape, True,
                os.path.join(work, f"layer{i}"), args)
            flops = 3 * 2 * layer_macs(layer, shape)
            gflops = flops / us * 1e-3
            loops = "-"
            if not args.no_loops:
                lus = generated_step_us(
                    args.mcutrain, model, shape, True,
                    os.path.join(work, f"layer{i}-loops"), args,
                    ["--kernels=false"])[1]
                loops = "%.1f" % (flops / lus * 1e-3)
            # (Three significant digits: a batch-1 Gemm is 0.004 MFLOP in
            # about 0.1 us.)
            ltable.append(f"| {lname} | {flops / 1e6:.3g} | {us:.3g} | "
                          f"{gflops:.1f} | {gflops / peak:.0%} | {loops} |")
            print(f"layer {lname}: {gflops:.1f} GFLOP/s, "
                  f"{gflops / peak:.0%} of peak", flush=True)
        lines += ltable
    if args.out:
        with open(args.out, "w") as f:
            f.write("# Benchmarks\n\nWritten by `bench/speed.py` (all figures "
                    "from one run; medians of the per-round mean step time).\n"
                    "Models: the zoo (opset 13, `--trainable all`, SGD, batch "
                    "1, cross-entropy; the autoencoder MSE). Layers: one "
                    "dense layer after a trainable per-channel scale, so the "
                    "step runs the layer's forward pass, weight gradient and "
                    "input gradient (3 x 2 x MACs flops, against which the "
                    "whole step's time is counted, loss and update "
                    "included). *loops*: the same package with "
                    "`--kernels=false`.\n\n" + "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
