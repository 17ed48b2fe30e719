#!/usr/bin/python3
"""A QDQ model from examples/quantize/quantize.py, compiled with
`mcutrain compile --inference-only`, against PyTorch's fake-quant model on
the reference inputs quantize.py saved (--reference).

  qdq_inference.py MODEL.onnx REF.npz WORKDIR --mcutrain PATH [--sanitize]

The generated C++ is built with -Wall -Wextra -Werror (and ASan/UBSan with
--sanitize) and run on each reference input. The outputs are dequantized
values, so they are compared in steps of the output's quantization scale:
the largest difference, and the share of outputs that are exactly the
reference's (less than half a step apart).

Passes when every output equals int8_reference.py's (mcutrain's int8
arithmetic written independently in PyTorch) and lies within one step of
PyTorch's fake-quant model. The share of outputs equal to the fake-quant
model's is printed, for its float32 evaluation and (quantize.py's
quantized_output_f64) its float64 one: the int8 layers' sums are exact, a
float evaluation rounds them and flips values next to rounding boundaries,
so neither is matched everywhere on deep models (the two evaluations do
not match each other there either).
"""
import argparse
import os
import shutil
import subprocess
import sys

import numpy as np
import onnx
import torch
from onnx import numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import int8_reference  # noqa: E402

HARNESS = r"""
#include "m.h"
#include <cstdio>
#include <vector>
int main(int argc, char **argv) {
  int count = argc > 1 ? std::atoi(argv[1]) : 0;
  std::vector<float> x(m::kInputSize), y(m::kOutputSize);
  std::FILE *in = std::fopen("x.bin", "rb"), *out = std::fopen("y.bin", "wb");
  if (!in || !out) return 3;
  m::init();
  for (int i = 0; i < count; ++i) {
    if (std::fread(x.data(), 4, x.size(), in) != x.size()) return 4;
    m::predict(x.data(), y.data());
    std::fwrite(y.data(), 4, y.size(), out);
  }
  std::fclose(in);
  std::fclose(out);
  return 0;
}
"""


def run(cmd, cwd):
    res = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if res.returncode != 0:
        sys.stderr.write(res.stdout + res.stderr)
        print(f"FAIL {' '.join(cmd)} exited {res.returncode}")
        sys.exit(1)


def output_scale(model):
    """The scale of the DequantizeLinear that produces the graph output."""
    g = model.graph
    producer = {o: n for n in g.node for o in n.output}
    inits = {i.name: numpy_helper.to_array(i) for i in g.initializer}
    n = producer[g.output[0].name]
    while n.op_type == "Identity":
        n = producer[n.input[0]]
    if n.op_type != "DequantizeLinear":
        sys.exit("qdq_inference.py: the output is not dequantized")
    return float(inits[n.input[1]].reshape(-1)[0])


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("model")
    ap.add_argument("reference")
    ap.add_argument("workdir")
    ap.add_argument("--mcutrain", required=True)
    ap.add_argument("--sanitize", action="store_true")
    args = ap.parse_args()
    mcutrain = shutil.which(args.mcutrain) or os.path.abspath(args.mcutrain)
    os.makedirs(args.workdir, exist_ok=True)
    w = args.workdir
    run([mcutrain, "compile", "--inference-only", os.path.abspath(args.model),
         "-o", "pkg", "--name", "m"], w)
    with open(os.path.join(w, "h.cpp"), "w") as f:
        f.write(HARNESS.replace("<cstdio>", "<cstdio>\n#include <cstdlib>"))
    flags = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all"] \
        if args.sanitize else []
    run(["g++", "-std=c++17", "-O1", "-Wall", "-Wextra", "-Werror",
         "-fno-exceptions", "-fno-rtti", *flags, "-Ipkg", "h.cpp", "pkg/m.cpp",
         "pkg/m_params.cpp", "-o", "h"], w)
    ref = np.load(args.reference)
    x = ref["input"]
    x.astype(np.float32).tofile(os.path.join(w, "x.bin"))
    run(["./h", str(len(x))], w)
    scale = output_scale(onnx.load(args.model))

    def compare(want):
        got = np.fromfile(os.path.join(w, "y.bin"), np.float32)
        steps = np.abs(got.reshape(want.shape) - want) / scale
        return float(steps.max()), float(np.mean(steps < 0.5))

    evaluator = int8_reference.Evaluator(
        int8_reference.Graph(onnx.load(args.model)))
    with torch.no_grad():
        int8 = np.concatenate([evaluator.run(v[None].astype(np.float32))
                               .numpy() for v in x])
    same = compare(int8)
    f32 = compare(ref["quantized_output"])
    f64 = compare(ref["quantized_output_f64"]) \
        if "quantized_output_f64" in ref else None
    ok = same[1] == 1.0 and f32[0] <= 1.0 + 1e-3
    line = (f"{'ok' if ok else 'FAIL'} {os.path.basename(args.model)}: "
            f"{len(x)} inputs, {ref['quantized_output'].size} outputs; "
            f"int8 reference: {same[1]:.1%} exact; fake-quant float32: "
            f"largest difference {f32[0]:.2f} steps, {f32[1]:.1%} exact")
    if f64:
        line += (f"; float64: largest difference {f64[0]:.2f} steps, "
                 f"{f64[1]:.1%} exact")
    print(line)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
