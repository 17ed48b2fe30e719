#!/usr/bin/python3
"""mcutrain's int8 arithmetic, written independently in PyTorch: evaluates a
QDQ ONNX model the way a compiled --inference-only package does.

  int8_reference.py MODEL.onnx REF.npz OUT.npy

Layers that fuse-quantized-layers turns into int8 layers (a Conv or Gemm
reading its input and weight through 8-bit DequantizeLinear, its result
quantized to 8 bits per tensor, through at most one Relu/Clip) run as
nn.qconv2d/nn.qgemm define them: the integer sum exact (float64 holds it),
requantization by a Q31 multiplier and shift with the float bias in the
fixed-point domain, one rounding with ties toward +infinity. Everything
else runs in float32 with mcutrain's QuantizeLinear (x * f32(1/scale),
ties to even). Writes predict()'s outputs for REF.npz's inputs.
"""
import argparse
import copy
import math
import sys

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import helper, numpy_helper

MAX_SHIFT = 47


def fixed_point(m):
    """(Q31 multiplier, right shift) as the lowering computes them."""
    mantissa, exponent = math.frexp(m)
    q = math.floor(mantissa * 2.0**31 + 0.5)
    if q == 2**31:
        q //= 2
        exponent += 1
    shift = 31 - exponent
    if shift > MAX_SHIFT:
        q, shift = math.floor(math.ldexp(m, MAX_SHIFT) + 0.5), MAX_SHIFT
    return q, shift


def integer_ops_to_qdq(model):
    """ONNX's integer layer ops as the QDQ graph of the same arithmetic:
    QLinearConv / QLinearMatMul become DequantizeLinear, Conv / Gemm (named
    as the node) and QuantizeLinear, which the evaluator fuses back into an
    int8 layer; an int32 bias stays an int32 input of the Conv (the layer
    adds it as b * M: Evaluator.int_layer). ConvInteger / MatMulInteger stay
    (Evaluator.float_node sums them exactly)."""
    model = copy.deepcopy(model)
    nodes = []
    for n in model.graph.node:
        if n.op_type not in ("QLinearConv", "QLinearMatMul"):
            nodes.append(n)
            continue
        x, xs, xz, w, ws, wz, ys, yz = n.input[:8]
        out = n.output[0]
        conv = n.op_type == "QLinearConv"
        bias = [n.input[8]] if conv and len(n.input) > 8 and n.input[8] \
            else []
        nodes += [
            helper.make_node("DequantizeLinear", [x, xs, xz], [out + "~x"]),
            helper.make_node("DequantizeLinear", [w, ws, wz], [out + "~w"],
                             axis=0 if conv else 1),
            helper.make_node("Conv" if conv else "Gemm",
                             [out + "~x", out + "~w"] + bias, [out + "~y"],
                             name=n.name, **attrs(n)),
            helper.make_node("QuantizeLinear", [out + "~y", ys, yz], [out])]
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    return model


def integer_sum(node, x, w, x_zero, w_zero):
    """ConvInteger / MatMulInteger: the exact int32 sums (float64 holds
    them), as float32 (exact below 2^24)."""
    xd = x.detach().double()
    if x_zero is not None:
        xd = xd - float(x_zero)
    wd = w.double()
    if w_zero is not None:
        # Per output channel: ConvInteger's axis 0, MatMulInteger's columns.
        conv = node.op_type == "ConvInteger"
        wd = wd - w_zero.double().reshape(
            [-1] + [1] * (w.dim() - 1) if conv else [-1])
    if node.op_type == "MatMulInteger":
        return (xd @ wd).float()
    a = attrs(node)
    p = a.get("pads", [0, 0, 0, 0])
    xd = F.pad(xd, (p[1], p[3], p[0], p[2]))
    return F.conv2d(xd, wd, None, a.get("strides", [1, 1]), 0,
                    a.get("dilations", [1, 1]), a.get("group", 1)).float()


class Graph:
    def __init__(self, model):
        g = model.graph
        self.nodes = list(g.node)
        self.values = {i.name: torch.from_numpy(numpy_helper.to_array(i).copy())
                       for i in g.initializer}
        self.producer = {o: n for n in self.nodes for o in n.output}
        self.users = {}
        for n in self.nodes:
            for i in n.input:
                self.users.setdefault(i, []).append(n)
        for o in g.output:
            self.users.setdefault(o.name, []).append(None)
        self.input = g.input[0].name
        self.output = g.output[0].name

    def const(self, name):
        """A constant input (initializer, Constant, or Identity of one)."""
        n = self.producer.get(name)
        if name in self.values:
            return self.values[name]
        if n is not None and n.op_type == "Identity":
            return self.const(n.input[0])
        if n is not None and n.op_type == "Constant":
            return torch.from_numpy(
                numpy_helper.to_array(n.attribute[0].t).copy())
        return None

    def source(self, name):
        """The node producing `name`, through Identity."""
        n = self.producer.get(name)
        while n is not None and n.op_type == "Identity":
            n = self.producer.get(n.input[0])
        return n

    def only_user(self, name):
        users = self.users.get(name, [])
        return users[0] if len(users) == 1 else None


def qparams(graph, node):
    scale = graph.const(node.input[1]).float()
    zero = graph.const(node.input[2]) if len(node.input) > 2 else None
    if zero is None:
        zero = torch.zeros(scale.shape, dtype=torch.uint8)
    lo, hi = {torch.uint8: (0, 255), torch.int8: (-128, 127),
              torch.int32: (-2**31, 2**31 - 1)}[zero.dtype]
    axis = next((a.i for a in node.attribute if a.name == "axis"), 1)
    return scale.reshape(-1), zero.reshape(-1).long(), lo, hi, axis


def along(v, axis, rank):
    """A per-axis vector shaped to broadcast along `axis`; a scalar as is."""
    if v.numel() == 1:
        return v.reshape([])
    shape = [1] * rank
    shape[axis] = -1
    return v.reshape(shape)


def quantize(x, params):
    scale, zero, lo, hi, axis = params
    inv = torch.tensor(1.0, dtype=torch.float32) / scale
    q = torch.round(x * along(inv, axis, x.dim())) + along(zero, axis,
                                                            x.dim())
    return torch.clamp(q, lo, hi)  # float32 holding integers


def dequantize(q, params):
    scale, zero, _, _, axis = params
    return (q - along(zero.float(), axis, q.dim())) * along(scale, axis,
                                                            q.dim())


def attrs(node):
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


class Evaluator:
    def __init__(self, graph):
        self.g = graph
        self.env = {}
        self.ints = {}  # name -> integer tensor of a QuantizeLinear output

    def fused_layer(self, node):
        """(input DQ, weight DQ, activation node, output Q) if `node` is a
        layer fuse-quantized-layers makes int8, else None."""
        if node.op_type not in ("Conv", "Gemm"):
            return None
        dqx, dqw = self.g.source(node.input[0]), self.g.source(node.input[1])
        if not dqx or not dqw or dqx.op_type != "DequantizeLinear" or \
                dqw.op_type != "DequantizeLinear":
            return None
        px, pw = qparams(self.g, dqx), qparams(self.g, dqw)
        if px[0].numel() != 1 or px[3] - px[2] != 255 or pw[3] - pw[2] != 255:
            return None
        a = attrs(node)
        if node.op_type == "Gemm":
            if a.get("transA", 0) or a.get("alpha", 1.0) != 1.0 or \
                    a.get("beta", 1.0) != 1.0:
                return None
            weight_axis = 0 if a.get("transB", 0) else 1
        else:
            weight_axis = 0
        if pw[0].numel() > 1 and pw[4] != weight_axis:
            return None
        act, user = None, self.g.only_user(node.output[0])
        if user is not None and user.op_type in ("Relu", "Clip"):
            act, user = user, self.g.only_user(user.output[0])
        if user is None or user.op_type != "QuantizeLinear":
            return None
        py = qparams(self.g, user)
        if py[0].numel() != 1 or py[3] - py[2] != 255:
            return None
        return dqx, dqw, act, user

    def int_layer(self, node, dqx, dqw, act, q):
        px, pw, py = (qparams(self.g, n) for n in (dqx, dqw, q))
        x = self.integer(dqx.input[0]).double() - float(px[1][0])
        wq = self.integer(dqw.input[0])
        a = attrs(node)
        if node.op_type == "Conv":
            w = wq.double() - along(pw[1].double(), 0, 4)
            pads = a.get("pads", [0, 0, 0, 0])
            x = F.pad(x, (pads[1], pads[3], pads[0], pads[2]))
            acc = F.conv2d(x, w, None, a.get("strides", [1, 1]), 0,
                           a.get("dilations", [1, 1]), a.get("group", 1))
            channels = w.shape[0]
        else:
            wt = wq.double()
            wt = wt.t() if a.get("transB", 0) else wt
            acc = x @ (wt - pw[1].double().reshape(1, -1))
            channels = wt.shape[1]
        acc = acc.round().long()
        xs, ys = float(px[0][0]), float(py[0][0])
        ws = [float(pw[0][c if pw[0].numel() > 1 else 0])
              for c in range(channels)]
        fp = [fixed_point(xs * w / ys) for w in ws]
        mult = torch.tensor([m for m, _ in fp], dtype=torch.int64)
        shift = torch.tensor([s for _, s in fp], dtype=torch.int64)
        total = acc * along(mult, 1, acc.dim())
        bias = self.value(node.input[2]) if len(node.input) > 2 else None
        if bias is not None and bias.dtype == torch.int32:
            # QLinearConv's int32 bias: b * M, as starting the sum from b.
            total = total + along(bias.long() * mult, 1, acc.dim())
        elif bias is not None:
            factor = torch.tensor([np.float32(math.ldexp(1.0 / ys, s))
                                   for _, s in fp], dtype=torch.float32)
            b64 = torch.round(bias.float() * factor)
            b64 = torch.clamp(b64, -2.0**62, 2.0**62).long()
            total = total + along(b64, 1, acc.dim())
        sh = along(shift, 1, acc.dim())
        y = ((total + (1 << (sh - 1))) >> sh) + int(py[1][0])
        lo, hi = py[2], py[3]
        if act is not None:
            bounds = self.clip_bounds(act)
            real = torch.tensor(bounds, dtype=torch.float32)
            qb = quantize(real, py).tolist()
            lo = max(lo, qb[0]) if bounds[0] > -math.inf else lo
            hi = min(hi, qb[1]) if bounds[1] < math.inf else hi
        y = torch.clamp(y, int(lo), int(hi)).float()
        self.ints[q.output[0]] = y
        self.env[q.output[0]] = y

    def integer(self, name):
        """A QuantizeLinear output or an integer initializer."""
        return self.ints[name] if name in self.ints else self.g.const(name)

    def value(self, name):
        return self.env[name] if name in self.env else self.g.const(name)

    def clip_bounds(self, act):
        if act.op_type == "Relu":
            return (0.0, math.inf)
        lo = self.g.const(act.input[1]) if len(act.input) > 1 and \
            act.input[1] else None
        hi = self.g.const(act.input[2]) if len(act.input) > 2 and \
            act.input[2] else None
        a = attrs(act)
        lo = float(lo) if lo is not None else a.get("min", -math.inf)
        hi = float(hi) if hi is not None else a.get("max", math.inf)
        return (lo, hi)

    def run(self, x):
        self.env = {self.g.input: torch.from_numpy(x)}
        skip = set()
        for node in self.g.nodes:
            if id(node) in skip:
                continue
            fused = self.fused_layer(node)
            if fused:
                self.int_layer(node, *fused)
                skip.update(id(n) for n in fused[2:] if n is not None)
                continue
            self.float_node(node)
        return self.env[self.g.output]

    def float_node(self, node):
        g, env, t = self.g, self.env, node.op_type
        ins = [env.get(i) if i in env else g.const(i) if i else None
               for i in node.input]
        a = attrs(node)
        if t == "QuantizeLinear":
            y = quantize(ins[0].float(), qparams(g, node))
            self.ints[node.output[0]] = y
        elif t == "DequantizeLinear":
            y = dequantize(ins[0].float(), qparams(g, node))
        elif t in ("ConvInteger", "MatMulInteger"):
            x_zero = ins[2] if len(ins) > 2 else None
            w_zero = ins[3] if len(ins) > 3 else None
            y = integer_sum(node, ins[0], ins[1], x_zero, w_zero)
            self.ints[node.output[0]] = y
        elif t in ("Identity", "Constant"):
            y = ins[0] if t == "Identity" else g.const(node.output[0])
        elif t == "Conv":
            p = a.get("pads", [0, 0, 0, 0])
            xp = F.pad(ins[0], (p[1], p[3], p[0], p[2]))
            y = F.conv2d(xp, ins[1], ins[2] if len(ins) > 2 else None,
                         a.get("strides", [1, 1]), 0,
                         a.get("dilations", [1, 1]), a.get("group", 1))
        elif t == "Gemm":
            b = ins[1].t() if a.get("transB", 0) else ins[1]
            y = ins[0] @ b + (ins[2] if len(ins) > 2 else 0)
        elif t == "Relu":
            y = torch.relu(ins[0])
        elif t == "Clip":
            lo, hi = self.clip_bounds(node)
            y = torch.clamp(ins[0], lo, hi)
        elif t == "Add":
            y = ins[0] + ins[1]
        elif t == "Tanh":
            y = torch.tanh(ins[0])
        elif t == "Flatten":
            y = ins[0].reshape(ins[0].shape[0], -1)
        elif t == "Reshape":
            y = ins[0].reshape([int(v) for v in ins[1]])
        elif t == "Pad":
            pads = [int(v) for v in ins[1]]
            h = len(pads) // 2
            torch_pads = []
            for d in reversed(range(h)):
                torch_pads += [pads[d], pads[d + h]]
            value = float(ins[2]) if len(ins) > 2 and ins[2] is not None \
                else 0.0
            y = F.pad(ins[0], torch_pads, value=value)
        elif t == "GlobalAveragePool":
            # Summed in row-major order in float32, then divided, as the
            # generated loop does (torch's mean sums in another order).
            flat = ins[0].flatten(2)
            total = torch.zeros(flat.shape[:2], dtype=torch.float32)
            for i in range(flat.shape[2]):
                total = total + flat[:, :, i]
            y = (total / flat.shape[2])[:, :, None, None]
        elif t == "AveragePool":
            p = a.get("pads", [0, 0, 0, 0])
            if p[0] != p[2] or p[1] != p[3]:
                sys.exit("int8_reference.py: asymmetric AveragePool pads")
            y = F.avg_pool2d(ins[0], a["kernel_shape"], a.get("strides"),
                             (p[0], p[1]), bool(a.get("ceil_mode", 0)),
                             bool(a.get("count_include_pad", 0)))
        elif t == "MaxPool":
            p = a.get("pads", [0, 0, 0, 0])
            y = F.max_pool2d(F.pad(ins[0], (p[1], p[3], p[0], p[2]),
                                   value=-math.inf),
                             a["kernel_shape"], a.get("strides"))
        else:
            sys.exit(f"int8_reference.py: no reference for {t}")
        env[node.output[0]] = y


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("model")
    ap.add_argument("reference")
    ap.add_argument("out")
    args = ap.parse_args()
    ev = Evaluator(Graph(integer_ops_to_qdq(onnx.load(args.model))))
    xs = np.load(args.reference)["input"].astype(np.float32)
    with torch.no_grad():
        ys = [ev.run(x[None]).numpy() for x in xs]
    np.save(args.out, np.concatenate(ys))
    return 0


if __name__ == "__main__":
    sys.exit(main())
