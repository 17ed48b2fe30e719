#!/usr/bin/python3
"""The Python front end (python/mcutrain) against the CLI + harness path.

  frontend.py WORKDIR [--mcutrain PATH]

For zoo models and options: the CLI path exports the zoo model (zoo.export),
runs `mcutrain compile` and a C++ harness (g++ -O2) that trains N steps and
dumps the losses, the parameters and a prediction; the Python path calls
mcutrain.compile(module, example, ...) and mcutrain.Package, and does the
same steps from numpy. Both packages' generated files and all the dumped
numbers must be equal byte for byte. Then the front end's errors: a
refused model raises CompileError naming the node and writes nothing, wrong
input sizes and out-of-range labels are reported, and two Package objects
are two independent devices.
"""
import argparse
import os
import subprocess
import sys
import warnings

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "python"))
sys.path.insert(0, os.path.join(ROOT, "examples", "zoo"))
sys.path.insert(0, os.path.join(ROOT, "test", "e2e"))
import mcutrain  # noqa: E402
import zoo  # noqa: E402
from harness_io import HARNESS_IO  # noqa: E402

STEPS = 5

HARNESS_MAIN = r"""
#include <cstdint>
int main(int argc, char **argv) {
  // argv: x.bin targets.bin out_dir; STEPS inputs and targets.
  const int steps = %(steps)d;
  std::vector<float> x(steps * m::kInputSize);
  std::vector<%(target)s> t(steps * %(target_size)s);
  if (!readAll(argv[1], x.data(), x.size() * 4) ||
      !readAll(argv[2], t.data(), t.size() * sizeof(t[0])))
    return 1;
  m::init();
  std::string out = argv[3];
  std::FILE *losses = std::fopen((out + "/losses.bin").c_str(), "wb");
  for (int s = 0; s < steps; ++s) {
    float loss = m::train_step(&x[s * m::kInputSize],
                               &t[s * %(target_size)s]);
    std::fwrite(&loss, 4, 1, losses);
  }
  std::fclose(losses);
  dumpParams((out + "/params.bin").c_str());
  dumpPrediction(x.data(), (out + "/prediction.bin").c_str());
  return 0;
}
"""

# (zoo model, compiler options): dense and sparse, SGD and Adam, MSE.
CASES = [
    ("lenet5", {"trainable": "all"}),
    ("ds_cnn", {"trainable": "last:2", "optimizer": "adam", "lr": 0.001}),
    ("mobilenet_v1_025", {"sparsity": "dgsu:0.1", "lr": 0.02}),
    ("autoencoder", {"loss": "mse", "optimizer": "momentum",
                     "momentum": 0.9}),
]


def run(cmd):
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(f"FAILED: {' '.join(cmd)}\n{res.stdout}{res.stderr}")
    return res.stdout


def data_for(shape, out_shape, mse, classes, seed):
    rng = np.random.RandomState(seed)
    x = rng.uniform(-1, 1, (STEPS,) + tuple(shape[1:])).astype(np.float32)
    if mse:
        t = rng.uniform(0, 1, (STEPS,) + tuple(out_shape[1:]))
        return x, t.astype(np.float32)
    return x, rng.randint(0, classes, STEPS).astype(np.int32)


def cli_path(name, options, work, x, t, mse, compiler):
    """zoo export + `mcutrain compile` + C++ harness: losses, params,
    prediction as bytes."""
    onnx_path = os.path.join(work, f"{name}.onnx")
    zoo.export(name, onnx_path)
    pkg = os.path.join(work, "cli")
    run([compiler, "compile", onnx_path, "-o", pkg] +
        mcutrain.compiler.option_flags(options))
    src = os.path.join(work, "harness.cpp")
    with open(src, "w") as f:
        f.write(HARNESS_IO % {"name": "model"} + "#include <string>\n" +
                HARNESS_MAIN % {"steps": STEPS,
                                "target": "float" if mse else "std::int32_t",
                                "target_size": "m::kOutputSize" if mse
                                else "m::kBatch"})
    exe = os.path.join(work, "harness")
    run(["g++", "-std=c++17", "-O2", f"-I{pkg}", src,
         os.path.join(pkg, "model.cpp"), os.path.join(pkg, "model_params.cpp"),
         "-o", exe])
    x.tofile(os.path.join(work, "x.bin"))
    t.tofile(os.path.join(work, "t.bin"))
    run([exe, os.path.join(work, "x.bin"), os.path.join(work, "t.bin"), work])
    return {k: open(os.path.join(work, k + ".bin"), "rb").read()
            for k in ("losses", "params", "prediction")}, pkg


def python_path(name, options, work, x, t, compiler):
    model, shape = zoo.build(name, seed=0)
    pkg_dir = mcutrain.compile(model, torch.zeros(*shape),
                               os.path.join(work, "py"), mcutrain=compiler,
                               **options)
    pkg = mcutrain.Package(pkg_dir)
    losses = np.array([pkg.train_step(x[s], t[s]) for s in range(STEPS)],
                      dtype=np.float32)
    params = np.concatenate(list(pkg.parameters().values()))
    return {"losses": losses.tobytes(), "params": params.tobytes(),
            "prediction": pkg.predict(x[0]).tobytes()}, pkg_dir, pkg


def same_files(a, b):
    """The generated code and data of two packages (report.json and the
    header's first line name the ONNX file they came from, so they are
    compared without it)."""
    import json
    bad = []
    for f in sorted(os.listdir(a)):
        pa, pb = os.path.join(a, f), os.path.join(b, f)
        if os.path.isdir(pa):
            continue
        if f == "report.json":
            ra, rb = json.load(open(pa)), json.load(open(pb))
            ra.pop("model"), rb.pop("model")
            if ra != rb:
                bad.append(f)
        elif f == "model.h":
            if open(pa).read().split("\n", 1)[1] != \
                    open(pb).read().split("\n", 1)[1]:
                bad.append(f)
        elif open(pa, "rb").read() != open(pb, "rb").read():
            bad.append(f)
    return bad


def check_bit_identical(work, compiler):
    failures = 0
    for i, (name, options) in enumerate(CASES):
        d = os.path.join(work, f"case{i}")
        os.makedirs(d, exist_ok=True)
        mse = options.get("loss") == "mse"
        model, shape = zoo.build(name)
        out_shape = model(torch.zeros(*shape)).shape
        x, t = data_for(shape, out_shape, mse, out_shape[-1], seed=i)
        cli, cli_pkg = cli_path(name, options, d, x, t, mse, compiler)
        py, py_pkg, pkg = python_path(name, options, d, x, t, compiler)
        files = same_files(cli_pkg, py_pkg)
        numbers = [k for k in cli if cli[k] != py[k]]
        ok = not files and not numbers
        failures += not ok
        stats = pkg.last_step()
        print(f"{'ok  ' if ok else 'FAIL'} bit-identical {name} {options}: "
              f"files differ {files}, numbers differ {numbers}; "
              f"last step {stats.steps} steps, {stats.macs} MACs, "
              f"{len(stats.layer_ratios)} sparse layers")
    return failures


def check(cond, what):
    print(f"{'ok  ' if cond else 'FAIL'} {what}")
    return 0 if cond else 1


def check_errors(work, compiler):
    failures = 0
    # A refused model: the compiler's diagnostic names the node; nothing is
    # written.
    from onnx import TensorProto, helper
    node = helper.make_node("Hardmax", ["input"], ["output"],
                            name="my_hardmax")
    graph = helper.make_graph(
        [node], "g",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 4])])
    bad = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    out = os.path.join(work, "refused")
    try:
        mcutrain.compile(bad, None, out, mcutrain=compiler)
        failures += check(False, "refused model raises CompileError")
    except mcutrain.CompileError as e:
        failures += check("my_hardmax" in str(e) and not os.path.exists(out),
                          f"refused model: CompileError naming the node, "
                          f"nothing written ({str(e).splitlines()[0]})")
    try:
        mcutrain.compile(torch.nn.Linear(4, 2), None, out, mcutrain=compiler)
        failures += check(False, "module without example_input refused")
    except ValueError as e:
        failures += check("example_input" in str(e),
                          f"module without example_input: {e}")
    # Sizes and labels.
    model, shape = zoo.build("lenet5")
    d = mcutrain.compile(model, torch.zeros(*shape), os.path.join(work, "l5"),
                         mcutrain=compiler)
    a, b = mcutrain.Package(d), mcutrain.Package(d)
    try:
        a.predict(np.zeros(10, np.float32))
        failures += check(False, "wrong input size refused")
    except ValueError as e:
        failures += check("784" in str(e), f"wrong input size: {e}")
    x = np.random.RandomState(0).uniform(-1, 1, shape).astype(np.float32)
    loss = a.train_step(x, 12)
    stats = a.last_step()
    failures += check(np.isnan(loss) and stats.rejected_input,
                      f"label 12 of 10 classes: loss {loss}, rejected_input "
                      f"{stats.rejected_input}")
    # Independent devices: training one leaves the other's parameters.
    before = b.parameters()
    for _ in range(3):
        a.train_step(x, 3)
    after_a, after_b = a.parameters(), b.parameters()
    moved = any(not np.array_equal(after_a[k], before[k]) for k in before)
    kept = all(np.array_equal(after_b[k], before[k]) for k in before)
    failures += check(moved and kept, "two Package objects are independent")
    a.learning_rate = 0.5
    failures += check(a.learning_rate == 0.5 and b.learning_rate != 0.5,
                      f"learning_rate set on one package: {a.learning_rate},"
                      f" other {b.learning_rate}")
    a.reset()
    failures += check(all(np.array_equal(a.parameters()[k], before[k])
                          for k in before), "reset() restores the flash image")
    return failures + check_int8(work, compiler, x)


def check_int8(work, compiler, x):
    """An int8 package (examples/quantize's QDQ LeNet-5): parameters() gives
    the int8 weights as int8 arrays, and training moves them."""
    onnx_path = os.path.join(work, "lenet5_int8.onnx")
    run(["/usr/bin/python3", os.path.join(ROOT, "examples", "quantize",
                                          "quantize.py"), "lenet5", onnx_path,
         "--calibration", "20"])
    pkg = mcutrain.Package(mcutrain.compile(
        onnx_path, None, os.path.join(work, "l5q"), mcutrain=compiler,
        optimizer="momentum", momentum=0.9, lr=0.05))
    before = pkg.parameters()
    kinds = sorted({str(v.dtype) for v in before.values()})
    for label in (1, 2, 3):
        pkg.train_step(x, label)
    after = pkg.parameters()
    moved = [k for k in before if before[k].dtype == np.int8 and
             not np.array_equal(before[k], after[k])]
    return check("int8" in kinds and moved,
                 f"int8 package: parameter kinds {kinds}, int8 weights moved "
                 f"by 3 steps: {len(moved)}")


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("work")
    ap.add_argument("--mcutrain", default="mcutrain")
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    warnings.simplefilter("ignore")
    failures = check_bit_identical(args.work, args.mcutrain)
    failures += check_errors(args.work, args.mcutrain)
    print("PASSED" if failures == 0 else f"FAILED ({failures})")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
