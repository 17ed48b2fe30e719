#!/usr/bin/python3
"""Checks a QDQ ONNX file from examples/quantize/quantize.py: what mcutrain's
int8 import expects of it, and that the fake-quant model stays close to the
float one.

  check_qdq.py MODEL.onnx REF.npz [--max-rel 0.1]

- no BatchNormalization left (folded into the layers);
- every Conv/Gemm/MatMul reads its input and its weight through
  DequantizeLinear; the weight is QuantizeLinear of a float initializer,
  per output channel (axis 0, one scale per channel), symmetric (int8 zero
  points all 0);
- activations quantize to uint8; the model's output is dequantized;
- on the reference inputs, the fake-quant outputs differ from the float
  model's by at most --max-rel of the largest float output, and a
  classifier's top class agrees on >= 90% of them.
Prints one line; exits 1 on the first violation, naming the node.
"""
import argparse
import sys

import numpy as np
import onnx
from onnx import numpy_helper


def fail(msg):
    print(f"FAIL {msg}")
    sys.exit(1)


class Graph:
    def __init__(self, model):
        g = model.graph
        self.inits = {i.name: numpy_helper.to_array(i) for i in g.initializer}
        self.producer = {o: n for n in g.node for o in n.output}
        self.nodes = list(g.node)
        self.outputs = [o.name for o in g.output]

    def source(self, name):
        """The node producing `name`, looking through Identity."""
        n = self.producer.get(name)
        while n is not None and n.op_type == "Identity":
            if n.input[0] in self.inits:
                return None
            n = self.producer.get(n.input[0])
        return n

    def initializer(self, name):
        """An initializer behind Identity nodes, or None."""
        while name not in self.inits and name in self.producer and \
                self.producer[name].op_type == "Identity":
            name = self.producer[name].input[0]
        return self.inits.get(name)

    def constant(self, name):
        c = self.initializer(name)
        if c is not None:
            return c
        n = self.producer.get(name)
        if n is not None and n.op_type == "Constant":
            return numpy_helper.to_array(n.attribute[0].t)
        return None


def attr(node, name, default):
    for a in node.attribute:
        if a.name == name:
            return onnx.helper.get_attribute_value(a)
    return default


def check_weight(g, layer):
    dq = g.source(layer.input[1])
    if dq is None or dq.op_type != "DequantizeLinear":
        fail(f"{layer.name}: weight not read through DequantizeLinear")
    q = g.source(dq.input[0])
    if q is None or q.op_type != "QuantizeLinear":
        fail(f"{layer.name}: weight's DequantizeLinear not of a QuantizeLinear")
    w = g.initializer(q.input[0])
    scale, zero = g.constant(q.input[1]), g.constant(q.input[2])
    if w is None or w.dtype != np.float32:
        fail(f"{layer.name}: weight is not a float initializer")
    if attr(q, "axis", 1) != 0 or scale.shape != (w.shape[0],):
        fail(f"{layer.name}: weight not quantized per output channel "
             f"(axis {attr(q, 'axis', 1)}, scale {scale.shape})")
    if zero.dtype != np.int8 or np.any(zero != 0):
        fail(f"{layer.name}: weight zero points not int8 zeros")


def check_graph(g):
    layers = 0
    for n in g.nodes:
        if n.op_type == "BatchNormalization":
            fail(f"{n.name}: BatchNormalization not folded")
        if n.op_type == "QuantizeLinear" and attr(n, "axis", 1) == 1:
            zero = g.constant(n.input[2])
            if zero is not None and zero.size == 1 and zero.dtype != np.uint8:
                fail(f"{n.name}: activation quantized to {zero.dtype}")
        if n.op_type in ("Conv", "Gemm", "MatMul"):
            src = g.source(n.input[0])
            if src is None or src.op_type != "DequantizeLinear":
                fail(f"{n.name}: input not read through DequantizeLinear")
            check_weight(g, n)
            layers += 1
    for o in g.outputs:
        src = g.source(o)
        if src is None or src.op_type != "DequantizeLinear":
            fail(f"output {o} is not dequantized")
    return layers


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("reference")
    ap.add_argument("--max-rel", type=float, default=0.1)
    args = ap.parse_args()
    g = Graph(onnx.load(args.model))
    layers = check_graph(g)
    pairs = sum(n.op_type == "QuantizeLinear" for n in g.nodes)
    ref = np.load(args.reference)
    f, q = ref["float_output"], ref["quantized_output"]
    rel = float(np.abs(f - q).max() / np.abs(f).max())
    if rel > args.max_rel:
        fail(f"fake-quant outputs differ by {rel:.3f} of the largest output")
    agree = float((f.argmax(1) == q.argmax(1)).mean())
    if f.shape[1] != q.shape[1] or agree < 0.9:
        fail(f"top class agrees on {agree:.0%} of the reference inputs")
    print(f"ok {args.model}: {layers} int8 layers (per-channel weights), "
          f"{pairs} QuantizeLinear, max rel diff {rel:.3f}, "
          f"top-1 agreement {agree:.0%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
