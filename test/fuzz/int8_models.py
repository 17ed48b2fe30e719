"""Random int8 (QDQ) training models for the differential fuzzer.

About one seed in seven (`is_int8(seed)`, drawn apart from the float
recipe, so the other seeds' models are the float generator's) makes an int8
model instead: a float input quantized to 8 bits, then int8 layers (Conv:
dense, depthwise, grouped; Gemm) in the three layouts a user's file comes
in -- PyTorch's QDQ (a float weight through QuantizeLinear and
DequantizeLinear, a float bias), ONNX Runtime's (an int8 weight initializer,
a float or int32 bias through DequantizeLinear) and ONNX's integer ops
(QLinearConv with an int32 bias, QLinearMatMul) -- each through at most one
Relu/Clip into a QuantizeLinear; float ops between int8 tensors (max and
average pooling, a residual Add, Relu/Tanh/Clip, Pad, Flatten); sometimes a
frozen ConvInteger / MatMulInteger first layer (its int32 sum dequantized)
and a float last layer. Scales are calibrated while generating: each new
tensor is evaluated (int8_reference.py's arithmetic) on a calibration input
and quantized over its range times a factor in [0.6, 1.3] (so some values
saturate). Training options: --weight-update int8 | fp32-master, --qas,
SGD/momentum/Adam, the trainable sets, every sparsity mode the int8
reference replays, --sram with --update auto, kernels and memory options.
The oracle is test/e2e/int8_training.py.
"""
import math
import os
import random
import sys

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

import generator
from generator import Skip

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "e2e"))
import int8_reference as ref  # noqa: E402

INT8_SHARE = 1 / 7
OPSETS = [11, 13, 13, 14, 15, 16, 17, 17]


def is_int8(seed):
    """Whether seed `seed` makes an int8 model (a stream of its own)."""
    return random.Random(f"int8:{seed}").random() < INT8_SHARE


def recipe(seed):
    """Seed `seed`'s recipe: an int8 one, or the float generator's."""
    return Int8Recipe(seed) if is_int8(seed) else generator.Recipe(seed)


class Q:
    """An 8-bit tensor: name, shape and its (scale, zero point) names and
    values."""

    def __init__(self, name, shape, params):
        self.name, self.shape, self.params = name, list(shape), params

    @property
    def rank(self):
        return len(self.shape)


class QBuilder(generator.Builder):
    def __init__(self, opset, calibration):
        super().__init__(opset, 1)
        self.q = []  # 8-bit tensors, in creation order
        self.calibration = calibration
        self.int8_data = False  # int8/int32 initializers (not fp32-master)

    def qparams(self, scale, zero, signed):
        """(scale name, zero name, scale, zero, signed)."""
        s = self.fresh("scale")
        self.inits.append(numpy_helper.from_array(np.float32(scale), s))
        z = self.fresh("zero")
        self.inits.append(numpy_helper.from_array(
            np.array(zero, np.int8 if signed else np.uint8), z))
        return (s, z, float(np.float32(scale)), int(zero), signed)

    def evaluate(self, name):
        """`name`'s value on the calibration input (the int8 arithmetic)."""
        graph = helper.make_graph(
            self.nodes, "calibration",
            [helper.make_tensor_value_info("input", TensorProto.FLOAT,
                                           self.calibration.shape)],
            [helper.make_tensor_value_info(name, TensorProto.FLOAT, None)],
            initializer=self.inits)
        model = ref.integer_ops_to_qdq(helper.make_model(graph))
        with torch.no_grad():
            return ref.Evaluator(ref.Graph(model)).run(
                self.calibration).float()

    def calibrated(self, name):
        """Quantization parameters for float tensor `name` over its range."""
        v = self.evaluate(name)
        lo, hi = min(float(v.min()), 0.0), max(float(v.max()), 0.0)
        span = max(hi - lo, 1e-2) * float(self.rng.uniform(0.6, 1.3))
        scale = span / 255.0
        signed = self.rng.random() < 0.2
        zero = int(round(-lo / scale)) - (128 if signed else 0)
        zero = min(max(zero, -128 if signed else 0), 127 if signed else 255)
        return self.qparams(scale, zero, signed), list(v.shape)

    def quantize(self, name, params=None, shape=None):
        """QuantizeLinear of float tensor `name` (calibrated parameters
        unless given)."""
        if params is None:
            params, shape = self.calibrated(name)
        out = self.fresh("q")
        self.nodes.append(helper.make_node(
            "QuantizeLinear", [name, params[0], params[1]], [out]))
        t = Q(out, shape, params)
        self.q.append(t)
        return t

    def dequantize(self, t):
        out = self.fresh("dq")
        self.nodes.append(helper.make_node(
            "DequantizeLinear", [t.name, t.params[0], t.params[1]], [out]))
        return out

    def float_node(self, op, inputs, **attrs):
        out = self.fresh(op.lower())
        self.nodes.append(helper.make_node(op, inputs, [out], **attrs))
        return out

    def pick_q(self, pred=lambda t: True):
        cands = [t for t in self.q if pred(t)]
        if not cands:
            raise Skip()
        return cands[-1] if self.rng.random() < 0.7 else \
            cands[self.rng.integers(len(cands))]


# ------------------------------------------------------------------------
# int8 layers


def weight_scales(b, w, axis, per_channel):
    """Symmetric int8 scales of float weight w (per slice along `axis`)."""
    if not per_channel:
        return np.float32(max(np.max(np.abs(w)), 1e-3) / 127.0)
    m = np.moveaxis(np.abs(w), axis, 0).reshape(w.shape[axis], -1).max(1)
    return (np.maximum(m, 1e-3) / 127.0).astype(np.float32)


def int8_weight(b, w, axis, form):
    """The layer's weight input in `form` (torch: float -> Q -> DQ; ort:
    int8 initializer -> DQ); returns (name, int8 name, scale name, zero
    name, scales)."""
    per_channel = b.opset >= 13 and b.rng.random() < 0.7
    scales = weight_scales(b, w, axis, per_channel)
    shaped = scales if np.ndim(scales) == 0 else scales.reshape(
        [-1 if i == axis else 1 for i in range(w.ndim)])
    zero = np.zeros(np.shape(scales), np.int8)
    if form != "torch" and np.ndim(scales) == 0 and b.rng.random() < 0.15:
        zero = np.int8(b.rng.integers(-3, 4))  # an asymmetric int8 weight
    s, z = b.fresh("w_scale"), b.fresh("w_zero")
    b.inits += [numpy_helper.from_array(np.asarray(scales, np.float32), s),
                numpy_helper.from_array(np.asarray(zero, np.int8), z)]
    axis_attr = dict(axis=axis) if np.ndim(scales) else {}
    if form == "torch":
        wf = b.fresh("weight")
        b.inits.append(numpy_helper.from_array(w.astype(np.float32), wf))
        wq = b.float_node("QuantizeLinear", [wf, s, z], **axis_attr)
    else:
        q = np.clip(np.round(w / shaped) + np.reshape(zero, np.shape(shaped)),
                    -128, 127).astype(np.int8)
        wq = b.fresh("weight_int8")
        b.inits.append(numpy_helper.from_array(q, wq))
        b.int8_data = True
    dq = b.float_node("DequantizeLinear", [wq, s, z], **axis_attr)
    return dq, wq, s, z, scales


def layer_bias(b, x, scales, n, form):
    """A float bias, an int32 one through DequantizeLinear (ort) or an
    int32 one read directly (qlinear), or none: (input names, int32 name)."""
    if b.rng.random() < 0.3:
        return [], None
    v = b.rng.uniform(-0.3, 0.3, n).astype(np.float32)
    if form == "torch" or (form == "ort" and b.rng.random() < 0.5):
        name = b.fresh("bias")
        b.inits.append(numpy_helper.from_array(v, name))
        return [name], None
    bias_scale = np.float32(x.params[2]) * np.broadcast_to(
        np.asarray(scales, np.float32), (n,)).astype(np.float32)
    if form == "ort" and np.ndim(scales) == 0:
        bias_scale = bias_scale[:1].reshape([])
    q = np.round(v / np.broadcast_to(bias_scale, (n,))).astype(np.int32)
    name = b.fresh("bias_int32")
    b.inits.append(numpy_helper.from_array(q, name))
    b.int8_data = True
    if form == "qlinear":
        return [], name
    s = b.fresh("bias_scale")
    b.inits.append(numpy_helper.from_array(np.asarray(bias_scale), s))
    attrs = dict(axis=0) if np.ndim(bias_scale) else {}
    return [b.float_node("DequantizeLinear", [name, s], **attrs)], name


def activation(b, y):
    """At most one Relu/Clip (fused into the int8 layer)."""
    kind = b.choice(["none", "none", "relu", "relu", "relu6", "clip"])
    if kind == "none":
        return y
    if kind == "relu":
        return b.float_node("Relu", [y])
    lo, hi = (0.0, 6.0) if kind == "relu6" else sorted(
        b.rng.uniform(-1.0, 1.5, 2).round(2).tolist())
    if hi - lo < 0.05:
        hi = lo + 0.5
    if b.opset < 11:
        return b.float_node("Clip", [y], min=lo, max=hi)
    return b.float_node("Clip", [y, b.fconst(lo), b.fconst(hi)])


def as_qlinear(b, mark, x, op, attrs, wq, ws, wz, bias32, out):
    """Replaces the QDQ layer built since `mark` by QLinearConv /
    QLinearMatMul reading the same int8 weight, quantized like `out`."""
    del b.nodes[mark:]
    inputs = [x.name, x.params[0], x.params[1], wq, ws, wz, out.params[0],
              out.params[1]] + ([bias32] if bias32 else [])
    b.nodes.append(helper.make_node(
        "QLinearConv" if op == "Conv" else "QLinearMatMul", inputs,
        [out.name], **attrs))


def int8_layer(b, x, op, w, axis, attrs):
    """An int8 Conv/Gemm on 8-bit x with float weight values w (output
    channels along `axis`): DQ(x), the weight in a random layout, a bias,
    a Relu/Clip, QuantizeLinear; or the same as QLinearConv/QLinearMatMul."""
    form = b.choice(["torch", "torch", "torch", "ort", "ort", "qlinear"])
    if op == "Gemm" and form == "qlinear" and (attrs.get("transB") or
                                               b.opset < 10):
        form = "ort"
    mark = len(b.nodes)
    dx = b.dequantize(x)
    dw, wq, ws, wz, scales = int8_weight(b, w, axis, form)
    n = w.shape[axis]
    bias, bias32 = layer_bias(b, x, scales, n, form)
    if op == "Gemm" and form == "qlinear":
        bias, bias32 = [], None  # QLinearMatMul has no bias
    y = b.float_node(op, [dx, dw] + bias, **attrs)
    if form != "qlinear":
        y = activation(b, y)
    out = b.quantize(y)
    if form == "qlinear":
        as_qlinear(b, mark, x, op, attrs, wq, ws, wz, bias32, out)
    return out


def conv_geometry(b, x):
    """(kind, attrs, weight shape) of a convolution over 8-bit x, or Skip."""
    c = x.shape[1]
    kind = b.choice(["dense", "dense", "dense", "depthwise", "group"])
    geo = generator.conv_attrs(b, x.shape[2:], 3)
    if geo is None:
        raise Skip()
    k, s, d, p, _ = geo
    if kind == "depthwise":
        group, cout = c, c
    elif kind == "group" and c % 2 == 0:
        group, cout = 2, 2 * int(b.rng.integers(1, 3))
    else:
        group, cout = 1, int(b.rng.integers(1, 7))
    attrs = dict(kernel_shape=k, strides=s, dilations=d, pads=p, group=group)
    return attrs, [cout, c // group] + k


def step_conv(b):
    x = b.pick_q(lambda t: t.rank == 4 and t.shape[1] <= 8)
    attrs, shape = conv_geometry(b, x)
    fan = int(np.prod(shape[1:]))
    w = b.rng.uniform(-1, 1, shape) / math.sqrt(fan)
    int8_layer(b, x, "Conv", w.astype(np.float32), 0, attrs)
    return True


def flattened(b, x):
    """x as [1, F]: DQ, Flatten, QuantizeLinear with x's parameters."""
    if x.rank == 2:
        return x
    f = b.float_node("Flatten", [b.dequantize(x)], axis=1)
    return b.quantize(f, x.params, [x.shape[0], int(np.prod(x.shape[1:]))])


def gemm(b, x, n):
    """An int8 Gemm of 8-bit x to n outputs."""
    x = flattened(b, x)
    k = x.shape[1]
    trans = b.rng.random() < 0.6
    shape = [n, k] if trans else [k, n]
    w = b.rng.uniform(-1, 1, shape) / math.sqrt(k)
    return int8_layer(b, x, "Gemm", w.astype(np.float32), 0 if trans else 1,
                      dict(transB=1) if trans else {})


def step_gemm(b):
    x = b.pick_q(lambda t: int(np.prod(t.shape)) <= 512)
    gemm(b, x, int(b.rng.integers(2, 9)))
    return True


# ------------------------------------------------------------------------
# float ops between int8 tensors


def step_pool(b):
    x = b.pick_q(lambda t: t.rank == 4)
    kind = b.choice(["max", "max", "average", "global"])
    if kind == "global":
        y = b.float_node("GlobalAveragePool", [b.dequantize(x)])
        b.quantize(y)
        return True
    k = [int(b.rng.integers(1, 4)) for _ in range(2)]
    s = [int(b.rng.choice([1, 2, 2])) for _ in range(2)]
    p = [int(b.rng.integers(0, (k[i] + 1) // 2)) for i in range(2)]
    if any((x.shape[2 + i] + 2 * p[i] - k[i]) < 0 for i in range(2)):
        raise Skip()
    attrs = dict(kernel_shape=k, strides=s, pads=p + p)
    if kind == "max":
        # Exporters keep the input's parameters over a max pool (exact).
        y = b.float_node("MaxPool", [b.dequantize(x)], **attrs)
        shape = list(b.evaluate(y).shape)
        b.quantize(y, x.params, shape)
    else:
        attrs["count_include_pad"] = int(b.rng.integers(0, 2))
        b.quantize(b.float_node("AveragePool", [b.dequantize(x)], **attrs))
    return True


def step_add(b):
    """A residual Add of two 8-bit tensors of one shape."""
    x = b.pick_q()
    others = [t for t in b.q if t is not x and t.shape == x.shape]
    if not others:
        raise Skip()
    y = others[b.rng.integers(len(others))]
    b.quantize(b.float_node("Add", [b.dequantize(x), b.dequantize(y)]))
    return True


def step_residual(b):
    """A convolution keeping the shape, added to its input (ResNet's and
    MobileNetV2's residual)."""
    x = b.pick_q(lambda t: t.rank == 4 and t.shape[1] <= 8)
    c, k = x.shape[1], int(b.choice([1, 3]))
    group = int(b.choice([1, c]))
    w = b.rng.uniform(-1, 1, [c, c // group, k, k]) / math.sqrt(c // group *
                                                                 k * k)
    y = int8_layer(b, x, "Conv", w.astype(np.float32), 0, dict(
        kernel_shape=[k, k], strides=[1, 1], dilations=[1, 1],
        pads=[k // 2] * 4, group=group))
    b.quantize(b.float_node("Add", [b.dequantize(x), b.dequantize(y)]))
    return True


def step_act(b):
    """Relu/Clip between a dequantize and a quantize (with the input's
    parameters: torch's FX export after a ReLU6, fused into the layer
    before), or Tanh."""
    x = b.pick_q()
    kind = b.choice(["relu", "relu", "clip", "tanh"])
    if kind == "tanh":
        b.quantize(b.float_node("Tanh", [b.dequantize(x)]))
        return True
    y = activation(b, b.dequantize(x)) if kind == "clip" else \
        b.float_node("Relu", [b.dequantize(x)])
    if b.nodes[-1].op_type not in ("Relu", "Clip"):
        raise Skip()
    if b.rng.random() < 0.5:
        b.quantize(y, x.params, x.shape)
    else:
        b.quantize(y)
    return True


def step_pad(b):
    x = b.pick_q(lambda t: t.rank == 4)
    pads = [0, 0] + [int(v) for v in b.rng.integers(0, 2, 2)] + [0, 0] + \
        [int(v) for v in b.rng.integers(0, 2, 2)]
    y = b.float_node("Pad", [b.dequantize(x), b.ints(pads)])
    shape = [x.shape[i] + pads[i] + pads[i + 4] for i in range(4)]
    b.quantize(y, x.params, shape)
    return True


STEPS = {"conv": (step_conv, 6), "gemm": (step_gemm, 1),
         "pool": (step_pool, 2), "add": (step_add, 1),
         "residual": (step_residual, 2), "act": (step_act, 1),
         "pad": (step_pad, 1)}


# ------------------------------------------------------------------------
# the model


def integer_first_layer(b, x):
    """ConvInteger / MatMulInteger on the quantized input (frozen: its
    int32 sum has no gradient), dequantized and quantized again."""
    if x.rank == 4:
        attrs, shape = conv_geometry(b, x)
        attrs.pop("group") if attrs["group"] == 1 else None
        op, axis = "ConvInteger", 0
    else:
        shape, attrs, op, axis = [x.shape[1], int(b.rng.integers(2, 9))], \
            {}, "MatMulInteger", 1
    w = b.rng.integers(-127, 128, shape).astype(np.int8)
    wname = b.fresh("weight_int8")
    b.inits.append(numpy_helper.from_array(w, wname))
    b.int8_data = True
    acc = b.float_node(op, [x.name, wname, x.params[1]], **attrs)
    w_scale = 1.0 / (127.0 * math.sqrt(int(np.prod(shape)) / shape[axis]))
    s = b.fresh("acc_scale")
    b.inits.append(numpy_helper.from_array(
        np.float32(x.params[2] * w_scale), s))
    b.quantize(b.float_node("DequantizeLinear", [acc, s]))


def head(b, classes):
    """The logits: an int8 Gemm (dequantized), or a float Gemm on the
    dequantized features."""
    x = b.q[-1]
    if x.rank == 4 and int(np.prod(x.shape)) > 128:
        x = b.quantize(b.float_node("GlobalAveragePool", [b.dequantize(x)]))
    if b.rng.random() < 0.75:
        return b.dequantize(gemm(b, x, classes)), True
    f = b.dequantize(x)
    if x.rank == 4:
        f = b.float_node("Flatten", [f], axis=1)
    k = int(np.prod(x.shape[1:]))
    w = b.param([classes, k], stem="head_w")
    bias = b.param([classes], scale=0.1, stem="head_b")
    return b.float_node("Gemm", [f, w, bias], transB=1), False


class Int8Recipe:
    """An int8 model and its training options (see the module's doc)."""

    int8 = True

    def __init__(self, seed):
        r = random.Random(f"int8-recipe:{seed}")
        self.seed = seed
        self.opset = r.choice(OPSETS)
        self.kind = r.choice(["image"] * 5 + ["vector"])
        self.batch = 1
        self.size = r.randint(3, 8)
        self.channels = r.randint(1, 4)
        self.loss = "cross-entropy"
        self.classes = r.randint(2, 6)
        self.integer_first = r.random() < 0.15
        families = list(STEPS)
        weights = [STEPS[f][1] for f in families]
        self.steps = [(r.choices(families, weights)[0], r.randrange(2 ** 31))
                      for _ in range(r.randint(1, 6))]
        self.options = draw_options(r)

    def input_shape(self):
        if self.kind == "vector":
            return [1, self.channels * self.size]
        return [1, self.channels, self.size, max(self.size - 1, 2)]

    def build(self):
        """(onnx model, input dtype, None, the applied steps, out shape),
        as generator.Recipe.build."""
        shape = self.input_shape()
        calibration = np.random.default_rng(self.seed + 5).uniform(
            -1, 1, shape).astype(np.float32)
        b = QBuilder(self.opset, calibration)
        b.rng = np.random.default_rng(self.seed)
        x = b.quantize("input")
        applied = []
        if self.integer_first and apply_step(
                b, "integer", self.seed + 2, lambda b: integer_first_layer(
                    b, x) or True):
            applied.append("integer")
        applied += [f for f, s in self.steps if apply_step(b, f, s)]
        b.rng = np.random.default_rng(self.seed + 1)
        out, int8_head = head(b, self.classes)
        if not int8_head and self.options.get("sparsity", "").startswith(
                "tinyprop"):
            # (the oracle replays TinyProp's first step on int8 layers only)
            del self.options["sparsity"]
        graph = helper.make_graph(
            b.nodes, f"fuzz{self.seed}",
            [helper.make_tensor_value_info("input", TensorProto.FLOAT,
                                           shape)],
            [helper.make_tensor_value_info(out, TensorProto.FLOAT,
                                           [1, self.classes])],
            initializer=b.inits)
        model = helper.make_model(
            graph, opset_imports=[helper.make_opsetid("", self.opset)],
            producer_name="mcutrain-difftest")
        model.ir_version = 8
        if b.int8_data and self.options.get("weight-update") == "fp32-master":
            self.options["weight-update"] = "int8"  # (refused: documented)
        return model, TensorProto.FLOAT, None, applied, [1, self.classes]


def apply_step(b, family, seed, step=None):
    """One step, all or nothing (as generator.apply_step)."""
    mark = (len(b.nodes), len(b.inits), len(b.q), b.counter, b.int8_data)
    b.rng = np.random.default_rng(seed)
    try:
        ok = (step or STEPS[family][0])(b)
        if ok and any(int(np.prod(t.shape)) > generator.MAX_ELEMENTS
                      for t in b.q[mark[2]:]):
            raise Skip()
    except Skip:
        ok = False
    if not ok:
        del b.nodes[mark[0]:], b.inits[mark[1]:], b.q[mark[2]:]
        b.counter, b.int8_data = mark[3], mark[4]
    return ok


def draw_options(r):
    """int8 training options (mcutrain flags; the oracle's replay)."""
    o = {}
    opt = r.choice(["sgd", "sgd", "momentum", "adam"])
    o["optimizer"] = opt
    o["lr"] = r.choice([0.02, 0.1]) if opt == "adam" else \
        r.choice([0.01, 0.05, 0.1])
    o["weight-update"] = r.choice(["int8"] * 4 + ["fp32-master"])
    o["qas"] = r.choice(["on"] * 4 + ["off"])
    o["trainable"] = r.choice(["all"] * 6 + ["last:1", "last:2",
                                             "bias-only"])
    if r.random() < 0.35:
        o["sparsity"] = r.choice(["static:0.5", "static:0.25", "dgsu:0.5",
                                  "dgsu:0.3", "tinyprop",
                                  "tinyprop2:0.1,0.9,0.5,0.05"])
    if r.random() < 0.25:
        o["kernels"] = "false"
    for flag in ("pack-masks", "in-place", "in-place-depthwise",
                 "fuse-conv-chains"):
        if r.random() < 0.2:
            o[flag] = r.choice(["true", "false"])
    if r.random() < 0.15:
        o["recompute"] = r.choice(["all", "1"])
    if r.random() < 0.1:
        o["sram"], o["update"] = r.choice(["16KiB", "8KiB", "4KiB"]), "auto"
        del o["trainable"]
    return o
