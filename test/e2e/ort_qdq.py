#!/usr/bin/python3
"""Rewrites a QDQ model from examples/quantize/quantize.py (PyTorch's
layout: float weights, QuantizeLinear, DequantizeLinear) into ONNX Runtime's
quantizer's layout: each int8 layer's weight an int8 initializer read by its
DequantizeLinear (the integers QuantizeLinear computed: x / scale rounded
to nearest even, saturated), and with --int32-bias each bias an int32
initializer (round(b / (x_scale * w_scale)), per output channel) read
through a DequantizeLinear with that scale.

  ort_qdq.py IN.onnx OUT.onnx [--int32-bias]

The weights' integers are the ones mcutrain derives from the float
weights, so a package of either layout computes the same (the int8
references of test/e2e apply unchanged); the biases' rounding changes the
model.
"""
import argparse
import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper


def const(inits, name, producer=None):
    """An initializer, or a Constant node's value, through Identity (torch's
    exporter merges equal initializers into one and Identity nodes)."""
    n = (producer or {}).get(name)
    while name not in inits and n is not None and n.op_type == "Identity":
        name = n.input[0]
        n = producer.get(name)
    if name in inits:
        return numpy_helper.to_array(inits[name])
    if n is not None and n.op_type == "Constant":
        return numpy_helper.to_array(n.attribute[0].t)
    raise KeyError(name)


def int8_weight(inits, producer, wq):
    """The integers of QuantizeLinear node wq (float initializer, scale,
    zero point; per output channel along axis 0 or per tensor)."""
    w = const(inits, wq.input[0]).astype(np.float32)
    scale = const(inits, wq.input[1], producer).astype(np.float32)
    zero = const(inits, wq.input[2], producer)
    inv = (np.float32(1.0) / scale).astype(np.float32)
    shape = [-1] + [1] * (w.ndim - 1) if scale.size > 1 else []
    q = np.rint(w * (inv.reshape(shape) if shape else inv))
    q = q + (zero.reshape(shape) if shape else zero).astype(np.float32)
    info = np.iinfo(zero.dtype)
    return np.clip(q, info.min, info.max).astype(zero.dtype)


def rewrite(model, int32_bias):
    g = model.graph
    inits = {i.name: i for i in g.initializer}
    producer = {o: n for n in g.node for o in n.output}
    layers = 0
    for node in list(g.node):
        if node.op_type not in ("Conv", "Gemm"):
            continue
        xdq, wdq = producer.get(node.input[0]), producer.get(node.input[1])
        wq = producer.get(wdq.input[0]) if wdq is not None else None
        if xdq is None or wq is None or wq.op_type != "QuantizeLinear" or \
                wq.input[0] not in inits:
            continue
        name = wq.input[0] + "_int8"
        g.initializer.append(
            numpy_helper.from_array(int8_weight(inits, producer, wq), name))
        wdq.input[0] = name
        g.node.remove(wq)
        layers += 1
        if int32_bias and len(node.input) > 2 and node.input[2] in inits:
            b = const(inits, node.input[2]).astype(np.float32)
            sx = const(inits, xdq.input[1], producer).astype(np.float32)
            sw = const(inits, wdq.input[1], producer).astype(np.float32)
            sx, sw = sx.reshape(-1), sw.reshape(-1)
            scale = np.broadcast_to(sx * sw, b.shape).astype(np.float32)
            q = np.rint(b / scale).astype(np.int32)
            bn = node.input[2]
            g.initializer.extend([
                numpy_helper.from_array(q, bn + "_q"),
                numpy_helper.from_array(scale.copy(), bn + "_scale"),
                numpy_helper.from_array(np.zeros_like(q), bn + "_zero")])
            g.node.insert(0, helper.make_node(
                "DequantizeLinear", [bn + "_q", bn + "_scale", bn + "_zero"],
                [bn + "_dq"], axis=0, name=bn + "_dq"))
            node.input[2] = bn + "_dq"
    used = {i for n in g.node for i in n.input}
    for init in list(g.initializer):
        if init.name not in used:
            g.initializer.remove(init)
    return layers


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("input")
    ap.add_argument("output")
    ap.add_argument("--int32-bias", action="store_true")
    args = ap.parse_args()
    model = onnx.load(args.input)
    if rewrite(model, args.int32_bias) == 0:
        sys.exit(f"{args.input}: no QuantizeLinear of a float weight found")
    onnx.checker.check_model(model)
    onnx.save(model, args.output)


if __name__ == "__main__":
    main()
