#!/usr/bin/python3
"""Writes the small ONNX models the import tests read: make_models.py OUTDIR."""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def save(graph, path, opset=13):
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    onnx.save(model, path)


def weight(name, shape, seed):
    rng = np.random.default_rng(seed)
    return numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), name)


def mlp(out, opset=13, input_dims=(1, 8), extra_nodes=()):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, list(input_dims))
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    nodes = [
        helper.make_node("Gemm", ["x", "w1", "b1"], ["h"], name="fc1", transB=1),
        helper.make_node("Relu", ["h"], ["r"], name="act1"),
    ] + list(extra_nodes) + [
        helper.make_node("MatMul", ["r", "w2"], ["m"], name="fc2"),
        helper.make_node("Add", ["m", "b2"], ["y"], name="bias2"),
    ]
    inits = [weight("w1", (16, 8), 1), weight("b1", (16,), 2),
             weight("w2", (16, 4), 3), weight("b2", (4,), 4)]
    save(helper.make_graph(nodes, "mlp", [x], [y], inits), out, opset)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    mlp(os.path.join(out, "mlp.onnx"))
    mlp(os.path.join(out, "opset18.onnx"), opset=18)
    mlp(os.path.join(out, "dynamic.onnx"), input_dims=(1, "features"))
    mlp(os.path.join(out, "symbolic_batch.onnx"), input_dims=("N", 8))
    mlp(os.path.join(out, "lstm.onnx"), extra_nodes=[
        helper.make_node("LSTM", ["r", "lw", "lr"], ["lo"], name="rnn_1",
                         hidden_size=4)])
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    save(helper.make_graph(
        [helper.make_node("Conv", ["x", "cw"], ["y"], name="dw_conv", group=3)],
        "grouped", [x], [y], [weight("cw", (4, 2, 3, 3), 5)]),
        os.path.join(out, "grouped.onnx"))
    with open(os.path.join(out, "not_onnx.onnx"), "wb") as f:
        f.write(b"this is a text file, not a protobuf\n" * 4)
    with open(os.path.join(out, "truncated.onnx"), "wb") as f:
        f.write(open(os.path.join(out, "mlp.onnx"), "rb").read()[:100])


if __name__ == "__main__":
    main()
