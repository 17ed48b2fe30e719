#!/usr/bin/python3
"""Forward check of every zoo model: export (opsets 13 and 17), compile with
`mcutrain compile` (training package, --trainable all), build the generated
C++, and compare predict() with PyTorch on random inputs (max abs error
relative to max |output| <= 1e-4).

usage: check_zoo.py WORKDIR --mcutrain PATH [--models a,b] [--opsets 13,17]
"""
import argparse
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import zoo  # noqa: E402

HARNESS = r"""
#include "m.h"
#include <cstdio>
#include <vector>
int main() {
  std::vector<float> x(m::kInputSize), y(m::kOutputSize);
  std::FILE *f = std::fopen("x.bin", "rb");
  if (!f || std::fread(x.data(), 4, x.size(), f) != x.size()) return 3;
  std::fclose(f);
  m::init();
  m::predict(x.data(), y.data());
  f = std::fopen("y.bin", "wb");
  std::fwrite(y.data(), 4, y.size(), f);
  std::fclose(f);
  return 0;
}
"""


def run(cmd, cwd=None):
    res = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if res.returncode != 0:
        sys.stderr.write(res.stdout + res.stderr)
        raise RuntimeError(f"{' '.join(cmd)} exited {res.returncode}")
    return res.stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("workdir")
    ap.add_argument("--mcutrain", required=True)
    ap.add_argument("--models", default=",".join(zoo.MODELS))
    ap.add_argument("--opsets", default="13,17")
    args = ap.parse_args()
    mcutrain = shutil.which(args.mcutrain) or os.path.abspath(args.mcutrain)
    failed = 0
    for name in args.models.split(","):
        for opset in [int(o) for o in args.opsets.split(",")]:
            work = os.path.join(args.workdir, f"{name}_op{opset}")
            shutil.rmtree(work, ignore_errors=True)
            os.makedirs(work)
            model, shape = zoo.export(name, os.path.join(work, "model.onnx"),
                                      opset)
            start = time.time()
            try:
                run([mcutrain, "compile", "model.onnx", "-o", "pkg", "--name",
                     "m", "--trainable", "all"], cwd=work)
                seconds = time.time() - start
                with open(os.path.join(work, "h.cpp"), "w") as f:
                    f.write(HARNESS)
                run(["g++", "-std=c++17", "-O1", "-Wall", "-Wextra", "-Werror",
                     "-fno-exceptions", "-fno-rtti", "-Ipkg", "h.cpp",
                     "pkg/m.cpp", "pkg/m_params.cpp", "-o", "h"], cwd=work)
                x = np.random.default_rng(opset).standard_normal(
                    shape).astype(np.float32)
                x.tofile(os.path.join(work, "x.bin"))
                run(["./h"], cwd=work)
            except RuntimeError as e:
                print(f"FAIL {name} opset {opset}: {e}")
                failed += 1
                continue
            got = np.fromfile(os.path.join(work, "y.bin"), dtype=np.float32)
            ref = model(torch.from_numpy(x)).detach().numpy().ravel()
            err = float(np.max(np.abs(got - ref)) / max(np.max(np.abs(ref)), 1e-30))
            ok = err <= 1e-4
            failed += not ok
            print(f"{'ok  ' if ok else 'FAIL'} {name:22s} opset {opset}: rel err "
                  f"{err:.1e}, compile {seconds:.1f} s")
            if ok:
                shutil.rmtree(work, ignore_errors=True)
    print(f"{'PASSED' if failed == 0 else 'FAILED'}: {failed} failing")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
