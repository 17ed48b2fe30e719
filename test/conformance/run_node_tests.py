#!/usr/bin/python3
"""ONNX backend node tests (Debian's libonnx-testdata) through mcutrain.

Every single-node test of a supported operator is compiled with
(int64 and float scalar inputs - shapes, axes, pads, clip bounds - and
quantization scales and zero points bound as
initializers from the test data, since mcutrain compiles static shapes)
`mcutrain compile --inference-only`, the generated C++ is built and run on the
test's inputs, and its outputs are compared with the test's expected outputs
(rtol 1e-4, atol 1e-5). Each test ends as:
  passed       outputs match
  unsupported  mcutrain refused it with an "unsupported"/"not supported"
               diagnostic (an attribute, dtype or form we do not implement)
  failed       wrong outputs, or any other compile/build/run failure
  crash        the compiler or the generated program died on a signal
Prints a table per operator and the totals; exits non-zero on any crash or
failure, or when fewer than --min-pass of the tests pass.

usage: run_node_tests.py --mcutrain PATH WORKDIR [--markdown FILE]
"""
import argparse
import collections
import concurrent.futures
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import onnx
from onnx import numpy_helper

DATA_DIR = "/usr/share/libonnx-testdata/data/node"

# The operators mcutrain imports (the import-breadth issue's list).
SUPPORTED_OPS = [
    "Conv", "Gemm", "MatMul", "Add", "Sub", "Mul", "Div", "Relu", "LeakyRelu",
    "Clip", "Sigmoid", "Tanh", "HardSigmoid", "HardSwish",
    "BatchNormalization", "MaxPool", "AveragePool", "GlobalAveragePool",
    "Flatten", "Reshape", "Transpose", "Squeeze", "Unsqueeze", "Concat",
    "Softmax", "LogSoftmax", "Dropout", "Identity", "Constant", "Pad",
    "PRelu", "Neg", "QuantizeLinear", "DequantizeLinear", "QLinearConv",
    "QLinearMatMul", "ConvInteger", "MatMulInteger", "Sqrt", "Exp", "Log",
    "Abs", "Reciprocal", "Softplus", "Softsign", "Elu", "Selu", "Erf", "Sum",
    "Mean", "Slice", "Split", "Expand", "Tile", "ReduceMean", "ReduceSum",
    "ReduceSumSquare", "Pow", "LayerNormalization", "InstanceNormalization",
    "GlobalMaxPool", "ConvTranspose", "Resize", "Upsample", "Max", "Min", "GRU",
    "LSTM", "Where", "Gather",
]

# numpy dtype -> the C++ type the generated API uses for it.
C_TYPES = {"float32": "float", "bool": "bool", "int8": "std::int8_t",
           "uint8": "std::uint8_t", "int16": "std::int16_t",
           "uint16": "std::uint16_t", "int32": "std::int32_t",
           "uint32": "std::uint32_t", "int64": "std::int64_t",
           "uint64": "std::uint64_t"}

HARNESS = r"""
#include "m.h"
#include <cstdio>
#include <cstdlib>
#include <vector>
template <typename T>
static std::vector<T> readArray(const char *path, std::size_t n) {
  std::vector<T> v(n ? n : 1);
  std::FILE *f = std::fopen(path, "rb");
  if (!f || std::fread(v.data(), sizeof(T), n, f) != n) {
    std::fprintf(stderr, "cannot read %%s\n", path);
    std::exit(3);
  }
  std::fclose(f);
  return v;
}
int main(int argc, char **argv) {
  (void)argc;
%(reads)s
%(outs)s
  m::init();
  m::predict(%(args)s);
%(writes)s
  return 0;
}
"""


def select_tests(data_dir):
    tests = []
    for name in sorted(os.listdir(data_dir)):
        path = os.path.join(data_dir, name, "model.onnx")
        if not os.path.exists(path):
            continue
        model = onnx.load(path)
        ops = [n.op_type for n in model.graph.node]
        if len(ops) == 1 and ops[0] in SUPPORTED_OPS:
            tests.append((name, ops[0]))
    return tests


def size_name(base, i, count):
    return base if count == 1 else f"{base}{i}"


# The scale and zero-point inputs of each quantized op (constants in real
# models; graph inputs in the node tests).
QPARAM_INPUTS = {
    "QuantizeLinear": (1, 2), "DequantizeLinear": (1, 2),
    "QLinearConv": (1, 2, 4, 5, 6, 7), "QLinearMatMul": (1, 2, 4, 5, 6, 7),
    "ConvInteger": (2, 3), "MatMulInteger": (2, 3),
    # Not quantization parameters, but as constant in exported models:
    # Resize's roi and scales, Upsample's scales, GRU/LSTM's sequence_lens.
    "Resize": (1, 2), "Upsample": (1,), "GRU": (4,), "LSTM": (4,),
}


def bind_static_inputs(src, work):
    """mcutrain compiles static shapes: graph inputs that are int64 tensors
    (shapes, axes, pads) or scalars (Clip's min/max, Pad's constant_value,
    Dropout's ratio and training_mode) or quantization parameters (the
    scales and zero points of the quantized ops, QPARAM_INPUTS) become
    initializers holding the test's values, as they are constants in models
    exported from PyTorch. Returns the model path to compile."""
    model = onnx.load(os.path.join(src, "model.onnx"))
    qparams = {n.input[i] for n in model.graph.node
               for i in QPARAM_INPUTS.get(n.op_type, ()) if i < len(n.input)}
    data = os.path.join(src, "test_data_set_0")
    inits = {i.name for i in model.graph.initializer}
    runtime = [i for i in model.graph.input if i.name not in inits]
    keep, bound = [], False
    for idx, vi in enumerate(runtime):
        tt = vi.type.tensor_type
        scalar = tt.HasField("shape") and len(tt.shape.dim) == 0
        path = os.path.join(data, f"input_{idx}.pb")
        if vi.type.HasField("tensor_type") and os.path.exists(path) and (
                tt.elem_type == onnx.TensorProto.INT64 or scalar or
                vi.name in qparams):
            t = onnx.TensorProto()
            t.ParseFromString(open(path, "rb").read())
            t.name = vi.name
            model.graph.initializer.append(t)
            bound = True
        else:
            keep.append(vi)
    if not bound:
        return os.path.join(src, "model.onnx")
    del model.graph.input[:]
    model.graph.input.extend(keep + [i for i in onnx.load(
        os.path.join(src, "model.onnx")).graph.input if i.name in inits])
    out = os.path.join(work, "model.onnx")
    onnx.save(model, out)
    return out


def run_one(args, name, op):
    src = os.path.join(args.data_dir, name)
    work = os.path.join(args.workdir, name)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    model_path = bind_static_inputs(src, work)
    res = subprocess.run([args.mcutrain, "compile", "--inference-only",
                          model_path, "-o",
                          os.path.join(work, "pkg"), "--name", "m"],
                         capture_output=True, text=True)
    if res.returncode < 0:
        return "crash", f"compiler signal {-res.returncode}"
    if res.returncode != 0:
        msg = res.stderr.strip().splitlines()[0] if res.stderr.strip() else ""
        if re.search(r"unsupported|not supported", res.stderr):
            return "unsupported", msg
        return "failed", msg
    data = os.path.join(src, "test_data_set_0")
    inputs = sorted(f for f in os.listdir(data) if f.startswith("input_"))
    outputs = sorted(f for f in os.listdir(data) if f.startswith("output_"))
    in_arrays = []
    for f in inputs:
        t = onnx.TensorProto()
        t.ParseFromString(open(os.path.join(data, f), "rb").read())
        in_arrays.append(numpy_helper.to_array(t))
    expected = []
    for f in outputs:
        t = onnx.TensorProto()
        t.ParseFromString(open(os.path.join(data, f), "rb").read())
        expected.append(numpy_helper.to_array(t))
    # Inputs bound as initializers are not runtime inputs any more.
    model = onnx.load(model_path)
    inits = {i.name for i in model.graph.initializer}
    original = onnx.load(os.path.join(src, "model.onnx"))
    orig_inits = {i.name for i in original.graph.initializer}
    names = [i.name for i in original.graph.input if i.name not in orig_inits]
    in_arrays = [a for nm, a in zip(names, in_arrays) if nm not in inits]
    reads, args_, outs, writes = [], [], [], []
    for a in in_arrays + expected:
        if str(a.dtype) not in C_TYPES:
            return "failed", f"test data of type {a.dtype} has no C++ type here"
    for i, a in enumerate(in_arrays):
        a.tofile(os.path.join(work, f"in{i}.bin"))
        n = size_name("kInputSize", i, len(in_arrays))
        t = C_TYPES[str(a.dtype)]
        # std::vector<bool> has no data(): bools go through a char buffer
        # (numpy writes a bool as one byte 0 or 1, as the C++ bool is here).
        buf = "unsigned char" if t == "bool" else t
        reads.append(f"  auto in{i} = readArray<{buf}>(\"in{i}.bin\", "
                     f"m::{n});")
        args_.append(f"reinterpret_cast<{t} *>(in{i}.data())")
    for i, e in enumerate(expected):
        n = size_name("kOutputSize", i, len(expected))
        t = C_TYPES[str(e.dtype)]
        # std::vector<bool> has no data(): bools go through a char buffer.
        buf = "unsigned char" if t == "bool" else t
        outs.append(f"  std::vector<{buf}> out{i}(m::{n} ? m::{n} : 1);")
        args_.append(f"reinterpret_cast<{t} *>(out{i}.data())")
        writes.append(f"  {{ std::FILE *f = std::fopen(\"out{i}.bin\", \"wb\"); "
                      f"std::fwrite(out{i}.data(), sizeof({t}), m::{n}, f); "
                      f"std::fclose(f); }}")
    with open(os.path.join(work, "harness.cpp"), "w") as f:
        f.write(HARNESS % {"reads": "\n".join(reads), "outs": "\n".join(outs),
                           "args": ", ".join(args_), "writes": "\n".join(writes)})
    build = subprocess.run(
        ["g++", "-std=c++17", "-O0", "-w", "-fno-exceptions", "-fno-rtti",
         "-Ipkg", "harness.cpp", "pkg/m.cpp", "pkg/m_params.cpp", "-o", "run"],
        cwd=work, capture_output=True, text=True)
    if build.returncode != 0:
        return "failed", "generated C++ does not build: " + build.stderr[:200]
    run = subprocess.run(["./run"], cwd=work, capture_output=True, text=True)
    if run.returncode < 0:
        return "crash", f"generated code died on signal {-run.returncode}"
    if run.returncode != 0:
        return "failed", run.stderr.strip()
    for i, e in enumerate(expected):
        got = np.fromfile(os.path.join(work, f"out{i}.bin"), dtype=e.dtype)
        e = e.ravel()
        if got.size != e.size:
            return "failed", f"output {i}: {got.size} values, expected {e.size}"
        if e.dtype != np.float32:
            if not np.array_equal(got, e):
                bad = int(np.sum(got != e))
                return "failed", f"output {i}: {bad} of {e.size} values differ"
            continue
        if not np.allclose(got, e, rtol=1e-4, atol=1e-5, equal_nan=True):
            err = float(np.max(np.abs(got - e)))
            return "failed", f"output {i} differs (max abs err {err:.3g})"
    shutil.rmtree(work, ignore_errors=True)
    return "passed", ""


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("workdir")
    ap.add_argument("--mcutrain", required=True)
    ap.add_argument("--data-dir", default=DATA_DIR)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--markdown", help="also write the table here")
    ap.add_argument("--min-pass", type=float, default=0.95)
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    args.mcutrain = shutil.which(args.mcutrain) or args.mcutrain
    os.makedirs(args.workdir, exist_ok=True)
    tests = select_tests(args.data_dir)
    results = {}
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        futures = {pool.submit(run_one, args, name, op): (name, op)
                   for name, op in tests}
        for fut in concurrent.futures.as_completed(futures):
            results[futures[fut]] = fut.result()

    kinds = ["passed", "unsupported", "failed", "crash"]
    table = collections.defaultdict(collections.Counter)
    for (name, op), (kind, _) in results.items():
        table[op][kind] += 1
    lines = ["| operator | " + " | ".join(kinds) + " |",
             "| --- | " + " | ".join("---" for _ in kinds) + " |"]
    totals = collections.Counter()
    for op in SUPPORTED_OPS:
        c = table.get(op, collections.Counter())
        totals.update(c)
        lines.append(f"| {op} | " + " | ".join(str(c[k]) for k in kinds) + " |")
    lines.append("| **total** | " + " | ".join(str(totals[k]) for k in kinds) + " |")
    total = sum(totals.values())
    rate = totals["passed"] / total if total else 0.0
    print("\n".join(lines))
    print()
    for (name, op), (kind, msg) in sorted(results.items()):
        if kind != "passed" and (kind != "unsupported" or args.verbose):
            print(f"{kind:11s} {name}: {msg}")
    print(f"\nconformance: {totals['passed']} passed, {totals['unsupported']} "
          f"unsupported, {totals['failed']} failed, {totals['crash']} crash "
          f"of {total} node tests ({100 * rate:.1f}% passed)")
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write("\n".join(lines) + "\n\n")
            f.write(f"{totals['passed']} of {total} node tests pass "
                    f"({100 * rate:.1f}%); {totals['unsupported']} refused as "
                    f"unsupported, {totals['failed']} failed, "
                    f"{totals['crash']} crashed.\n")
            unsupported = [f"- `{name}`: {msg}" for (name, op), (kind, msg)
                           in sorted(results.items()) if kind == "unsupported"]
            if unsupported:
                f.write("\nRefused as unsupported:\n\n" + "\n".join(unsupported) + "\n")
    ok = totals["failed"] == 0 and totals["crash"] == 0 and rate >= args.min_pass
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
