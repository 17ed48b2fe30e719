#!/usr/bin/python3
"""MobileNetV2-w0.35 at 32x32 fine-tuned on the device code with DGSU.

The zoo's MobileNetV2 (torchvision, width 0.35, 10 classes) is pretrained in
PyTorch on Fashion-MNIST (28x28 padded to 32x32, grey copied to RGB), then
compiled with `--sparsity dgsu:RATIO --sram 256KiB --update auto` (the
densest choice of trainable tensors that fits, DGSU updating RATIO of the
input channels of each) and fine-tuned by the generated C++ (host build)
on the images rotated by 90 degrees. Prints the RAM the compiler planned,
the trainable set, test accuracy before/after, and the mean loss of each
window of steps: the loss must fall.

  bench/mobilenet_dgsu.py [--pretrain 6000] [--steps 2000] [--ratio 0.02]
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "examples", "fashion-mnist"))
sys.path.insert(0, os.path.join(ROOT, "examples", "zoo"))
import model as demo  # noqa: E402
import zoo  # noqa: E402

HARNESS = r"""
#include "mbv2.h"
#include <cstdio>
#include <vector>
namespace m = mbv2;
static std::vector<float> load(const char *path, std::size_t n) {
  std::vector<float> v(n);
  std::FILE *f = std::fopen(path, "rb");
  if (!f || std::fread(v.data(), 4, n, f) != n) {
    std::fprintf(stderr, "cannot read %s\n", path);
    v.clear();
  }
  if (f)
    std::fclose(f);
  return v;
}
static double accuracy(const std::vector<float> &x, const std::vector<float> &y,
                       std::size_t n) {
  std::size_t right = 0;
  float out[m::kOutputSize];
  for (std::size_t i = 0; i < n; ++i) {
    m::predict(&x[i * m::kInputSize], out);
    right += mcutrain::argmax(out, m::kOutputSize) == (std::size_t)y[i];
  }
  return 100.0 * (double)right / (double)n;
}
int main(int argc, char **argv) {
  (void)argc;
  std::size_t train = %(train)d, test = %(test)d, window = %(window)d;
  auto xt = load(argv[1], train * m::kInputSize);
  auto yt = load(argv[2], train);
  auto xs = load(argv[3], test * m::kInputSize);
  auto ys = load(argv[4], test);
  if (xt.empty() || yt.empty() || xs.empty() || ys.empty())
    return 1;
  m::init();
  std::printf("accuracy before: %%.2f%%%%\n", accuracy(xs, ys, test));
  double sum = 0.0;
  for (std::size_t i = 0; i < train; ++i) {
    sum += m::train_step(&xt[i * m::kInputSize], (int)yt[i]);
    if ((i + 1) %% window == 0) {
      std::printf("steps %%zu..%%zu mean loss %%.4f\n", i + 1 - window, i,
                  sum / (double)window);
      sum = 0.0;
    }
  }
  std::printf("accuracy after: %%.2f%%%%\n", accuracy(xs, ys, test));
  return 0;
}
"""


def as_rgb32(x):
    """[N,1,28,28] in [0,1] -> [N,3,32,32], normalised like the pretraining."""
    x = np.pad(x, ((0, 0), (0, 0), (2, 2), (2, 2)))
    return np.repeat((x - 0.3) / 0.35, 3, axis=1).astype(np.float32)


def run(cmd):
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{res.stdout}{res.stderr}")
    return res.stdout + res.stderr


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--mcutrain", default=os.path.join(ROOT, "build", "bin",
                                                       "mcutrain"))
    ap.add_argument("--pretrain", type=int, default=6000,
                    help="Fashion-MNIST images for PyTorch pretraining")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--steps", type=int, default=2000,
                    help="on-device fine-tuning steps (rotated images)")
    ap.add_argument("--test", type=int, default=1000)
    ap.add_argument("--window", type=int, default=250)
    ap.add_argument("--ratio", type=float, default=0.02)
    ap.add_argument("--sram", default="256KiB")
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--workdir")
    args = ap.parse_args()
    work = args.workdir or tempfile.mkdtemp(prefix="mcutrain-mbv2-")
    os.makedirs(work, exist_ok=True)
    torch.manual_seed(0)
    torch.set_num_threads(2)

    x, y = demo.load_split("train")
    xtest, ytest = demo.load_split("test")
    model = zoo.mobilenet_v2()
    data = torch.from_numpy(as_rgb32(x[:args.pretrain]))
    labels = torch.from_numpy(y[:args.pretrain])
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9,
                          weight_decay=1e-4)
    model.train()
    for epoch in range(args.epochs):
        order = torch.randperm(len(data))
        for i in range(0, len(data), 64):
            idx = order[i:i + 64]
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(data[idx]),
                                                     labels[idx])
            loss.backward()
            opt.step()
        print(f"pretrain epoch {epoch + 1}: loss {loss.item():.3f}",
              file=sys.stderr)
    model.eval()
    with torch.no_grad():
        xt = torch.from_numpy(as_rgb32(xtest[:args.test]))
        acc = (model(xt).argmax(1).numpy() == ytest[:args.test]).mean() * 100
    print(f"PyTorch pretrained (upright test images): {acc:.2f}%")
    onnx_path = os.path.join(work, "mbv2.onnx")
    torch.onnx.export(model, torch.zeros(1, 3, 32, 32), onnx_path,
                      opset_version=13, input_names=["input"],
                      output_names=["output"])

    pkg = os.path.join(work, "pkg")
    out = run([args.mcutrain, "compile", onnx_path, "-o", pkg, "--name",
               "mbv2", "--lr", str(args.lr), "--sparsity",
               f"dgsu:{args.ratio}", "--sram", args.sram, "--update", "auto"])
    chosen = re.search(r"--update auto: (.*)", out)
    print(f"mcutrain: {chosen.group(1) if chosen else out.strip()}")

    # The shifted task: the same classes, images rotated by 90 degrees.
    rot = lambda a: np.ascontiguousarray(np.rot90(a, k=1, axes=(2, 3)))
    start = args.pretrain
    as_rgb32(rot(x[start:start + args.steps])).tofile(
        os.path.join(work, "xt.bin"))
    y[start:start + args.steps].astype(np.float32).tofile(
        os.path.join(work, "yt.bin"))
    as_rgb32(rot(xtest[:args.test])).tofile(os.path.join(work, "xs.bin"))
    ytest[:args.test].astype(np.float32).tofile(os.path.join(work, "ys.bin"))
    with open(os.path.join(work, "harness.cpp"), "w") as f:
        f.write(HARNESS % {"train": args.steps, "test": args.test,
                           "window": args.window})
    exe = os.path.join(work, "harness")
    run(["g++", "-std=c++17", "-O2", "-fno-exceptions", "-fno-rtti",
         f"-I{pkg}", os.path.join(work, "harness.cpp"),
         os.path.join(pkg, "mbv2.cpp"), os.path.join(pkg, "mbv2_params.cpp"),
         "-o", exe])
    text = run([exe] + [os.path.join(work, f) for f in
                        ("xt.bin", "yt.bin", "xs.bin", "ys.bin")])
    print(text, end="")
    losses = [float(v) for v in re.findall(r"mean loss ([0-9.naif]+)", text)]
    if len(losses) < 2 or not all(np.isfinite(losses)):
        raise SystemExit("FAILED: no finite loss windows")
    falls = losses[-1] < losses[0]
    print(f"loss {losses[0]:.4f} -> {losses[-1]:.4f}: "
          f"{'falls' if falls else 'does NOT fall'}")
    return 0 if falls else 1


if __name__ == "__main__":
    sys.exit(main())
