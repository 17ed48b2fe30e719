"""Random valid ONNX training models for the differential fuzzer.

A model is built from a *recipe*: an input kind and size, a list of steps
(op family, seed) and training options. Each step looks at the tensors built
so far (their shapes are known: inference happens while generating), draws
its attributes from its own seed, and adds nodes when its preconditions hold
(else it is skipped). So every model is valid by construction, and the
shrinker can drop steps or shrink sizes and rebuild.

Tensors carry two flags for the ops whose gradient is undefined at a point
(ReLU's zeros meeting Abs/Max/a second kink, equal values meeting a max): a
kink op only consumes tensors that cannot hold those exact values, so the
comparison never depends on which subgradient a backend picks.
"""
import math
import random

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

# Opset 9: the old forms (attribute pads/clip bounds/slices, Upsample).
OPSETS = [9, 11, 13, 13, 14, 15, 16, 17, 17]


class Skip(Exception):
    """The step does not apply to the model built so far."""


class T:
    """A float tensor of the model: name, shape, and whether it may hold
    exact zeros (`zeros`) or repeated values (`dups`)."""

    def __init__(self, name, shape, zeros=False, dups=False):
        self.name, self.shape = name, list(shape)
        self.zeros, self.dups = zeros, dups

    @property
    def rank(self):
        return len(self.shape)

    @property
    def smooth(self):
        return not (self.zeros or self.dups)

    def size(self):
        return int(np.prod(self.shape))


class Builder:
    def __init__(self, opset, batch):
        self.opset, self.batch = opset, batch
        self.nodes, self.inits, self.counter = [], [], 0
        self.pool = []  # float activations, in creation order
        self.rng = None

    def fresh(self, stem):
        self.counter += 1
        return f"{stem}_{self.counter}"

    def param(self, shape, scale=None, low=None, high=None, stem="p"):
        """A float initializer (trainable with --trainable all)."""
        if low is not None:
            v = self.rng.uniform(low, high, size=shape)
        else:
            fan = max(int(np.prod(shape[1:])) if len(shape) > 1 else 1, 1)
            scale = scale if scale is not None else 1.0 / math.sqrt(fan)
            v = self.rng.uniform(-scale, scale, size=shape)
        name = self.fresh(stem)
        self.inits.append(numpy_helper.from_array(
            np.asarray(v, dtype=np.float32), name))
        return name

    def ints(self, values, stem="k"):
        name = self.fresh(stem)
        self.inits.append(numpy_helper.from_array(
            np.asarray(values, dtype=np.int64), name))
        return name

    def fconst(self, values, stem="c"):
        """A float Constant node (a constant, never a parameter)."""
        name = self.fresh(stem)
        self.nodes.append(helper.make_node(
            "Constant", [], [name], value=numpy_helper.from_array(
                np.asarray(values, dtype=np.float32))))
        return name

    def node(self, op, inputs, shape, zeros=False, dups=False, pool=True,
             **attrs):
        out = self.fresh(op.lower())
        self.nodes.append(helper.make_node(op, inputs, [out], **attrs))
        t = T(out, shape, zeros, dups)
        if pool:  # (tensors whose first dim is not the batch stay out)
            self.pool.append(t)
        return t

    def choice(self, seq):
        return seq[self.rng.integers(len(seq))]

    def pick(self, pred=lambda t: True, recent=True):
        """A tensor of the pool meeting pred, the newest most likely (Skip
        if none does)."""
        cands = [t for t in self.pool if pred(t)]
        if not cands:
            raise Skip()
        if recent and self.rng.random() < 0.7:
            return cands[-1]
        return cands[self.rng.integers(len(cands))]


def flags(x):
    return dict(zeros=x.zeros, dups=x.dups)


def broadcast_shape(b, x):
    """A shape that broadcasts to x's: per dim 1 or the dim, maybe shorter."""
    shape = [d if b.rng.random() < 0.5 else 1 for d in x.shape]
    drop = b.rng.integers(0, len(shape) + 1)
    return shape[drop:] if b.rng.random() < 0.3 else shape


# ------------------------------------------------------------------------
# Step families: each takes the builder, returns True if it added nodes.

UNARY_SMOOTH = ["Sigmoid", "Tanh", "Softplus", "Softsign", "Erf", "Neg",
                "Identity", "Exp"]
UNARY_KINK = ["Abs", "LeakyRelu", "Elu", "Selu", "PRelu"]


def step_unary(b):
    x = b.pick()
    op = b.choice(UNARY_SMOOTH + ["Relu", "Relu", "Dropout", "Cast",
                                  "HardSigmoid", "HardSwish", "Clip"])
    if op == "HardSwish" and b.opset < 14:
        op = "Relu"
    if op == "Exp":
        x = b.pick(lambda t: t.size() <= 4096)
        t = b.node("Tanh", [x.name], x.shape, **flags(x))
        b.node("Exp", [t.name], x.shape, **flags(x))
        return True
    if op == "Dropout":
        ins = [x.name]
        if b.opset >= 12 and b.rng.random() < 0.5:
            ins += [b.fconst(np.float32(0.3))]
        b.node("Dropout", ins, x.shape, **flags(x))
        return True
    if op == "Cast":
        b.node("Cast", [x.name], x.shape, to=TensorProto.FLOAT, **flags(x))
        return True
    if op == "HardSigmoid":
        b.node(op, [x.name], x.shape, zeros=True, dups=True,
               alpha=float(b.rng.uniform(0.1, 0.4)),
               beta=float(b.rng.uniform(0.3, 0.7)))
        return True
    if op == "Clip":
        lo = float(b.rng.uniform(-1.0, 0.0))
        hi = float(b.rng.uniform(0.2, 1.5))
        if b.opset < 11:
            b.node(op, [x.name], x.shape, zeros=True, dups=True, min=lo,
                   max=hi)
        else:
            ins = [x.name, b.fconst(np.float32(lo))]
            if b.rng.random() < 0.8:
                ins.append(b.fconst(np.float32(hi)))
            b.node(op, ins, x.shape, zeros=True, dups=True)
        return True
    zeros = op in ("Relu", "HardSwish")
    b.node(op, [x.name], x.shape, zeros=zeros or x.zeros,
           dups=zeros or x.dups)
    return True


def step_kink(b):
    """Ops with a kink at 0: only on tensors without exact zeros."""
    x = b.pick(lambda t: not t.zeros)
    op = b.choice(UNARY_KINK)
    if op == "LeakyRelu":
        b.node(op, [x.name], x.shape, alpha=float(b.rng.uniform(0.01, 0.3)),
               dups=x.dups)
    elif op == "Elu":
        b.node(op, [x.name], x.shape, alpha=float(b.rng.uniform(0.5, 1.5)),
               dups=x.dups)
    elif op == "PRelu":
        if x.rank >= 2 and b.rng.random() < 0.7:
            slope = [x.shape[1]] + [1] * (x.rank - 2)
        else:
            slope = [1]
        p = b.param(slope, low=0.05, high=0.4, stem="slope")
        b.node(op, [x.name, p], x.shape, dups=x.dups)
    else:
        b.node(op, [x.name], x.shape, dups=x.dups)
    return True


def positive(b, x):
    """x made positive (> 0.25) for Sqrt, Log, Reciprocal, Div, Pow."""
    t = b.node("Sigmoid", [x.name], x.shape, **flags(x))
    c = b.fconst(np.float32(b.rng.uniform(0.25, 1.0)))
    return b.node("Add", [t.name, c], x.shape, **flags(x))


def step_domain(b):
    x = b.pick()
    op = b.choice(["Sqrt", "Log", "Reciprocal", "Pow"])
    p = positive(b, x)
    if op == "Pow":
        e = b.choice([2.0, 3.0, 0.5, -1.0, 1.5])
        b.node("Pow", [p.name, b.fconst(np.float32(e))], x.shape, **flags(x))
    else:
        b.node(op, [p.name], x.shape, **flags(x))
    return True


def step_binary_param(b):
    """x (op) a parameter broadcast to x."""
    x = b.pick()
    op = b.choice(["Add", "Sub", "Mul", "Div"])
    shape = broadcast_shape(b, x)
    if op in ("Add", "Sub") and b.rng.random() < 0.15:
        # A constant made by ConstantOfShape (folded at compile time).
        p = b.fresh("filled")
        value = numpy_helper.from_array(np.array(
            [b.rng.uniform(-1, 1)], np.float32))
        b.nodes.append(helper.make_node("ConstantOfShape", [b.ints(shape)],
                                        [p], value=value))
    elif op == "Div":
        p = b.param(shape, low=0.6, high=1.4, stem="div")
    elif op == "Mul":
        p = b.param(shape, low=-1.2, high=1.2, stem="scale")
    else:
        p = b.param(shape, scale=0.5, stem="shift")
    ins = [x.name, p] if b.rng.random() < 0.7 or op == "Div" else [p, x.name]
    # A shift breaks exact zeros, not ties within a broadcast group.
    z = x.zeros and op in ("Mul", "Div")
    b.node(op, ins, x.shape, zeros=z, dups=x.dups)
    return True


def step_binary_act(b):
    """Two activations of broadcastable shapes (a residual Add, a gate)."""
    x = b.pick()
    y = b.pick(lambda t: t is not x and broadcasts(t.shape, x.shape),
               recent=False)
    op = b.choice(["Add", "Add", "Sub", "Mul", "Div"])
    if op == "Div":
        y = positive(b, y)
    b.node(op, [x.name, y.name], x.shape, zeros=x.zeros and op == "Mul",
           dups=x.dups and y.dups)
    return True


def broadcasts(small, big):
    if len(small) > len(big):
        return False
    return all(s in (1, d) for s, d in zip(reversed(small), reversed(big)))


def step_variadic(b):
    x = b.pick()
    op = b.choice(["Sum", "Mean", "Max", "Min"])
    kink = op in ("Max", "Min")
    cands = [t for t in b.pool if broadcasts(t.shape, x.shape) and
             (not kink or t.smooth)]
    if kink and not x.smooth:
        return False
    k = int(b.rng.integers(1, 4))
    others = [cands[b.rng.integers(len(cands))] for _ in range(k)] if cands \
        else []
    if kink:
        # Distinct tensors: Max(x, x) ties everywhere.
        others = list({id(t): t for t in others if t is not x}.values())
    ins = [x.name] + [t.name for t in others]
    b.node(op, ins, x.shape, dups=not kink and x.dups)
    return True


def conv_attrs(b, spatial, kernel_max=3):
    """kernel, strides, dilations, pads for a conv over `spatial`, or None."""
    n = len(spatial)
    k = [int(b.rng.integers(1, kernel_max + 1)) for _ in range(n)]
    s = [int(b.rng.choice([1, 1, 2])) for _ in range(n)]
    d = [int(b.rng.choice([1, 1, 1, 2])) for _ in range(n)]
    p = [int(b.rng.integers(0, k[i])) for i in range(n)] + \
        [int(b.rng.integers(0, k[i])) for i in range(n)]
    out = []
    for i in range(n):
        span = (k[i] - 1) * d[i] + 1
        o = (spatial[i] + p[i] + p[i + n] - span) // s[i] + 1
        if o < 1:
            return None
        out.append(o)
    return k, s, d, p, out


def step_conv(b):
    x = b.pick(lambda t: t.rank in (3, 4) and t.shape[1] <= 16)
    c = x.shape[1]
    kind = b.choice(["dense", "dense", "depthwise", "group", "pointwise"])
    geo = conv_attrs(b, x.shape[2:], 1 if kind == "pointwise" else 3)
    if geo is None:
        return False
    k, s, d, p, out = geo
    if kind == "depthwise":
        group, cout = c, c * int(b.rng.choice([1, 1, 2]))
    elif kind == "group" and c % 2 == 0:
        group, cout = 2, 2 * int(b.rng.integers(1, 4))
    else:
        group, cout = 1, int(b.rng.integers(1, 9))
    w = b.param([cout, c // group] + k, stem="conv_w")
    ins = [x.name, w]
    if b.rng.random() < 0.7:
        ins.append(b.param([cout], scale=0.3, stem="conv_b"))
    attrs = dict(kernel_shape=k, strides=s, dilations=d, pads=p, group=group)
    if b.rng.random() < 0.15 and all(v == 1 for v in s):
        attrs.pop("pads")
        attrs["auto_pad"] = b.choice(["SAME_UPPER", "SAME_LOWER"])
        attrs["dilations"] = [1] * len(k)
        out = list(x.shape[2:])
    if b.rng.random() < 0.2:
        del attrs["kernel_shape"]
    b.node("Conv", ins, [x.shape[0], cout] + out, **attrs)
    return True


def step_conv_transpose(b):
    x = b.pick(lambda t: t.rank in (3, 4) and t.size() <= 1024)
    n = x.rank - 2
    c = x.shape[1]
    k = [int(b.rng.integers(1, 4)) for _ in range(n)]
    s = [int(b.rng.choice([1, 2])) for _ in range(n)]
    d = [int(b.rng.choice([1, 1, 2])) for _ in range(n)]
    op = [int(b.rng.integers(0, s[i])) if b.rng.random() < 0.5 else 0
          for i in range(n)]
    p = [int(b.rng.integers(0, k[i % n])) for i in range(2 * n)]
    out = []
    for i in range(n):
        o = s[i] * (x.shape[2 + i] - 1) + op[i] + (k[i] - 1) * d[i] + 1 - \
            p[i] - p[i + n]
        if o < 1 or o > 24:
            return False
        out.append(o)
    group = 2 if c % 2 == 0 and b.rng.random() < 0.3 else 1
    cout = int(b.rng.integers(1, 5)) * group
    w = b.param([c, cout // group] + k, stem="convt_w")
    ins = [x.name, w]
    if b.rng.random() < 0.6:
        ins.append(b.param([cout], scale=0.3, stem="convt_b"))
    b.node("ConvTranspose", ins, [x.shape[0], cout] + out, strides=s,
           dilations=d, pads=p, output_padding=op, group=group,
           kernel_shape=k)
    return True


def step_pool(b):
    op = b.choice(["MaxPool", "AveragePool", "GlobalAveragePool",
                   "GlobalMaxPool"])
    kink = "Max" in op
    x = b.pick(lambda t: t.rank in (3, 4) and (t.smooth or not kink))
    n = x.rank - 2
    if op.startswith("Global"):
        b.node(op, [x.name], x.shape[:2] + [1] * n, **(
            {} if kink else flags(x)))
        return True
    k = [int(b.rng.integers(1, 4)) for _ in range(n)]
    s = [int(b.rng.integers(1, 3)) for _ in range(n)]
    new = b.opset >= 10  # ceil_mode, MaxPool dilations
    d = [int(b.rng.choice([1, 1, 2])) if kink and new else 1
         for _ in range(n)]
    p = [int(b.rng.integers(0, k[i])) for i in range(n)] + \
        [int(b.rng.integers(0, k[i])) for i in range(n)]
    ceil = int(new and b.rng.random() < 0.3)
    out = []
    for i in range(n):
        span = (k[i] - 1) * d[i] + 1
        size = x.shape[2 + i] + p[i] + p[i + n]
        if size < span:
            return False
        o = -(-(size - span) // s[i]) + 1 if ceil else (size - span) // s[i] + 1
        # torch's rule (the exporter's reference): the last window starts
        # inside the input or its begin padding; ONNX's formula agrees then.
        if ceil and (o - 1) * s[i] >= x.shape[2 + i] + p[i]:
            return False
        # A window that reads padding only (dilated taps straddling a
        # short input) has no maximum: -inf, NaN downstream in both.
        if any(all(not 0 <= w * s[i] - p[i] + j * d[i] < x.shape[2 + i]
                   for j in range(k[i])) for w in range(o)):
            return False
        out.append(o)
    attrs = dict(kernel_shape=k, strides=s, pads=p)
    if ceil:
        attrs["ceil_mode"] = 1
    if kink:
        if any(v != 1 for v in d):
            attrs["dilations"] = d
        b.node(op, [x.name], x.shape[:2] + out, **attrs)
    else:
        include = int(b.rng.random() < 0.4)
        if include and ceil:
            return False  # the divisor past the padding is unspecified
        attrs["count_include_pad"] = include
        b.node(op, [x.name], x.shape[:2] + out, **flags(x), **attrs)
    return True


def step_norm(b):
    op = b.choice(["BatchNormalization", "BatchNormalization",
                   "InstanceNormalization", "LayerNormalization"])
    if op == "LayerNormalization" and b.opset < 17:
        op = "BatchNormalization"
    x = b.pick(lambda t: t.rank >= 2)
    c = x.shape[1]
    if op == "BatchNormalization":
        ins = [x.name, b.param([c], low=0.5, high=1.5, stem="bn_scale"),
               b.param([c], scale=0.3, stem="bn_bias"),
               b.param([c], scale=0.3, stem="bn_mean"),
               b.param([c], low=0.5, high=1.5, stem="bn_var")]
        b.node(op, ins, x.shape, epsilon=float(b.choice([1e-5, 1e-3])),
               **flags(x))
    elif op == "InstanceNormalization":
        if x.rank < 3 or int(np.prod(x.shape[2:])) < 2 or not x.smooth:
            return False
        ins = [x.name, b.param([c], low=0.5, high=1.5, stem="in_scale"),
               b.param([c], scale=0.3, stem="in_bias")]
        b.node(op, ins, x.shape, epsilon=1e-5)
    else:
        axis = int(b.rng.integers(1, x.rank))
        if int(np.prod(x.shape[axis:])) < 2 or not x.smooth:
            return False
        ins = [x.name, b.param(x.shape[axis:], low=0.5, high=1.5,
                               stem="ln_scale")]
        if b.rng.random() < 0.7:
            ins.append(b.param(x.shape[axis:], scale=0.3, stem="ln_bias"))
        b.node(op, ins, x.shape, axis=axis - x.rank
               if b.rng.random() < 0.5 else axis, epsilon=1e-5)
    return True


def step_gemm(b):
    x = b.pick(lambda t: t.rank >= 2 and t.shape[-1] <= 64)
    k = x.shape[-1]
    n = int(b.rng.integers(1, 13))
    if x.rank == 2 and b.rng.random() < 0.6:
        tb = int(b.rng.random() < 0.6)
        w = b.param([n, k] if tb else [k, n], stem="fc_w")
        ins = [x.name, w]
        if b.rng.random() < 0.8 or b.opset < 11:  # C optional from 11
            ins.append(b.param(b.choice([[n], [1, n], [1]]), scale=0.3,
                               stem="fc_b"))
        attrs = dict(transB=tb)
        if b.rng.random() < 0.2:
            attrs.update(alpha=float(b.rng.uniform(0.5, 1.5)),
                         beta=float(b.rng.uniform(0.5, 1.5)))
        b.node("Gemm", ins, [x.shape[0], n], **attrs)
        return True
    w = b.param([k, n], stem="mm_w")
    b.node("MatMul", [x.name, w], x.shape[:-1] + [n])
    return True


def step_matmul_act(b):
    """A product of two activations (attention-like)."""
    x = b.pick(lambda t: t.rank >= 2 and t.shape[-1] <= 16)
    try:
        y = b.pick(lambda t: t.rank == x.rank and t.shape[:-2] ==
                   x.shape[:-2] and t.shape[-2] == x.shape[-1] and
                   t.shape[-1] <= 16, recent=False)
    except Skip:
        y = None
    if y is None:
        # x @ x^T over the last two dims.
        perm = list(range(x.rank - 2)) + [x.rank - 1, x.rank - 2]
        y = b.node("Transpose", [x.name], [x.shape[i] for i in perm],
                   perm=perm, pool=x.rank > 2, **flags(x))
    b.node("MatMul", [x.name, y.name], x.shape[:-1] + [y.shape[-1]])
    return True


def step_softmax(b):
    x = b.pick(lambda t: t.rank >= 2)
    op = b.choice(["Softmax", "LogSoftmax"])
    axis = int(b.rng.integers(-x.rank, x.rank))
    if b.opset < 13:
        # The flatten-to-2-D form: mcutrain takes it on the last axis only.
        axis = x.rank - 1
    b.node(op, [x.name], x.shape, axis=axis, dups=x.dups)
    return True


def step_reduce(b):
    x = b.pick(lambda t: t.rank >= 3)
    op = b.choice(["ReduceMean", "ReduceSum", "ReduceSumSquare"])
    axes = sorted(set(int(a) for a in b.rng.choice(
        range(1, x.rank), size=b.rng.integers(1, x.rank), replace=False)))
    keep = int(b.rng.random() < 0.6)
    if not keep and len(axes) == x.rank - 1:
        keep = 1
    shape = [1 if i in axes else d for i, d in enumerate(x.shape)]
    if not keep:
        shape = [d for i, d in enumerate(x.shape) if i not in axes]
    signed = [a - x.rank if b.opset >= 11 and b.rng.random() < 0.3 else a
              for a in axes]
    attrs = dict(keepdims=keep)
    ins = [x.name]
    if op == "ReduceSum" and b.opset >= 13:
        ins.append(b.ints(signed))
    else:
        attrs["axes"] = signed
    b.node(op, ins, shape, zeros=x.zeros and op != "ReduceSumSquare", **attrs)
    return True


def step_pad(b):
    x = b.pick(lambda t: t.rank == 4)
    mode = b.choice(["constant", "constant", "edge", "reflect"])
    sp = [int(b.rng.integers(0, 3)) for _ in range(4)]
    if mode == "reflect" and (max(sp[0], sp[2]) >= x.shape[2] or
                              max(sp[1], sp[3]) >= x.shape[3]):
        mode = "edge"
    pads = [0, 0, sp[0], sp[1], 0, 0, sp[2], sp[3]]
    shape = [x.shape[0], x.shape[1], x.shape[2] + sp[0] + sp[2],
             x.shape[3] + sp[1] + sp[3]]
    value = float(b.rng.choice([0.0, 0.5]))
    z = mode != "constant" or value == 0.0
    if b.opset < 11:
        b.node("Pad", [x.name], shape, pads=pads, mode=mode, value=value,
               zeros=x.zeros or z, dups=True)
    else:
        ins = [x.name, b.ints(pads)]
        if mode == "constant" and value:
            ins.append(b.fconst(np.float32(value)))
        b.node("Pad", ins, shape, mode=mode, zeros=x.zeros or z, dups=True)
    return True


def step_resize(b):
    x = b.pick(lambda t: t.rank in (3, 4) and t.size() <= 1024)
    n = x.rank - 2
    mode = b.choice(["nearest", "linear"])
    coord = b.choice(["half_pixel", "pytorch_half_pixel", "align_corners",
                      "asymmetric"])
    if b.rng.random() < 0.5:
        scales = [1.0, 1.0] + [float(b.choice([2.0, 1.5, 0.5, 3.0]))
                               for _ in range(n)]
        out = [int(math.floor(s * d)) for s, d in zip(scales, x.shape)]
        if min(out) < 1:
            return False
        sc, sz = b.fconst(np.array(scales, np.float32)), ""
    else:
        out = x.shape[:2] + [int(b.rng.integers(1, 9)) for _ in range(n)]
        sc, sz = "", b.ints(out)
    if b.opset < 10:
        # Upsample (opset 7-9): scales only, asymmetric coordinates, floor.
        if not sc or any(s < 1 for s in scales):
            return False
        b.node("Upsample", [x.name, sc], out, zeros=x.zeros, dups=True,
               mode=mode)
        return True
    attrs = dict(mode=mode, coordinate_transformation_mode=coord)
    if mode == "nearest":
        attrs["nearest_mode"] = b.choice(["floor", "round_prefer_floor",
                                          "ceil", "round_prefer_ceil"])
    roi = "" if b.opset >= 13 else b.fconst(np.zeros(0, np.float32))
    if not sc and b.opset < 13:
        sc = b.fconst(np.zeros(0, np.float32))
    ins = [x.name, roi, sc] + ([sz] if sz else [])
    b.node("Resize", ins, out, zeros=x.zeros, dups=True, **attrs)
    return True


def step_transpose(b):
    x = b.pick(lambda t: t.rank >= 2)
    # The batch stays the first dim (the loss takes one label per row).
    rest = list(range(1, x.rank))
    perm = [0] + [int(v) for v in b.rng.permutation(rest)]
    if perm == list(range(x.rank)):
        return False
    b.node("Transpose", [x.name], [x.shape[i] for i in perm], perm=perm,
           **flags(x))
    return True


def step_reshape(b):
    x = b.pick()
    tail = x.shape[1:]
    total = int(np.prod(tail))
    kind = b.choice(["flatten", "reshape", "unsqueeze", "squeeze",
                     "shape_chain"])
    if kind == "flatten":
        # Axis 1 (maybe written negative): the batch stays the first dim.
        axis = 1 - x.rank if b.opset >= 11 and b.rng.random() < 0.3 else 1
        b.node("Flatten", [x.name], [x.shape[0], x.size() // x.shape[0]],
               axis=axis, **flags(x))
        return True
    if kind == "reshape":
        dims = factor(b, total)
        shape = [x.shape[0]] + dims
        spec = list(shape)
        if b.rng.random() < 0.4:
            spec[int(b.rng.integers(1, len(spec)))] = -1
        if b.rng.random() < 0.4:
            spec[0] = 0
        b.node("Reshape", [x.name, b.ints(spec)], shape, **flags(x))
        return True
    if kind == "shape_chain":
        # The exporter's x.view(x.size(0), -1): Shape, Gather, Unsqueeze,
        # Concat, Reshape, folded at compile time.
        s = b.fresh("shape")
        g = b.fresh("dim0")
        u = b.fresh("dim0v")
        cat = b.fresh("newshape")
        b.nodes.append(helper.make_node("Shape", [x.name], [s]))
        b.nodes.append(helper.make_node("Gather", [s, b.ints(0)], [g],
                                        axis=0))
        if b.opset >= 13:
            b.nodes.append(helper.make_node("Unsqueeze", [g, b.ints([0])],
                                            [u]))
        else:
            b.nodes.append(helper.make_node("Unsqueeze", [g], [u], axes=[0]))
        b.nodes.append(helper.make_node("Concat", [u, b.ints([-1])], [cat],
                                        axis=0))
        b.node("Reshape", [x.name, cat], [x.shape[0], total], **flags(x))
        return True
    if kind == "unsqueeze" or x.rank < 3 or 1 not in x.shape[1:]:
        if x.rank >= 5:
            return False
        axis = int(b.rng.integers(1, x.rank + 1))
        shape = x.shape[:axis] + [1] + x.shape[axis:]
        op = "Unsqueeze"
    else:
        ones = [i for i in range(1, x.rank) if x.shape[i] == 1]
        axis = ones[b.rng.integers(len(ones))]
        shape = x.shape[:axis] + x.shape[axis + 1:]
        op = "Squeeze"
    if b.opset >= 13:
        b.node(op, [x.name, b.ints([axis])], shape, **flags(x))
    else:
        b.node(op, [x.name], shape, axes=[axis], **flags(x))
    return True


def factor(b, total):
    """total as a product of 1-3 factors."""
    dims = []
    rest = total
    for _ in range(int(b.rng.integers(0, 3))):
        divs = [d for d in range(2, rest + 1) if rest % d == 0]
        if not divs:
            break
        d = divs[b.rng.integers(len(divs))]
        dims.append(d)
        rest //= d
    dims.append(rest)
    b.rng.shuffle(dims)
    return [int(d) for d in dims]


def step_slice_split(b):
    x = b.pick(lambda t: any(d >= 2 for d in t.shape[1:]))
    axes = [i for i in range(1, x.rank) if x.shape[i] >= 2]
    axis = axes[b.rng.integers(len(axes))]
    dim = x.shape[axis]
    kind = b.choice(["slice", "slice", "split", "gather", "concat"])
    if kind == "slice":
        step = int(b.choice([1, 1, 2, -1])) if b.opset >= 10 else 1
        if step > 0:
            st = int(b.rng.integers(0, dim))
            en = int(b.rng.integers(st + 1, dim + 1))
            idx = list(range(st, en, step))
            # An end past the axis (INT_MAX, as the exporter writes x[a:]).
            ends = 2 ** 31 - 1 if en == dim and b.rng.random() < 0.5 else en
        else:
            st = int(b.rng.integers(1, dim))
            en = int(b.rng.integers(-1, st))
            idx = list(range(st, en, step)) if en >= 0 else list(
                range(st, -1, -1))
            ends = en if en >= 0 else -dim - 1
        shape = list(x.shape)
        shape[axis] = len(idx)
        ax = axis - x.rank if b.opset >= 11 and b.rng.random() < 0.3 \
            else axis
        if b.opset < 10:
            b.node("Slice", [x.name], shape, starts=[st], ends=[ends],
                   axes=[ax], **flags(x))
        else:
            ins = [x.name, b.ints([st]), b.ints([ends]), b.ints([ax])]
            if step != 1 or b.rng.random() < 0.5:
                ins.append(b.ints([step]))
            b.node("Slice", ins, shape, **flags(x))
        return True
    if kind == "split":
        k = int(b.rng.integers(2, min(dim, 3) + 1))
        cuts = sorted(int(c) for c in b.rng.choice(range(1, dim), size=k - 1,
                                                   replace=False))
        parts = [e - s for s, e in zip([0] + cuts, cuts + [dim])]
        even = dim % k == 0 and b.rng.random() < 0.4
        if even:
            parts = [dim // k] * k
        ins, attrs = [x.name], dict(axis=axis)
        if not even:
            if b.opset >= 13:
                ins.append(b.ints(parts))
            else:
                attrs["split"] = parts
        outs = [b.fresh("split") for _ in parts]
        b.nodes.append(helper.make_node("Split", ins, outs, **attrs))
        for o, n in zip(outs, parts):
            shape = list(x.shape)
            shape[axis] = n
            b.pool.append(T(o, shape, **flags(x)))
        return True
    if kind == "gather":
        low = -dim if b.opset >= 11 else 0  # negative indices: opset 11
        idx = [int(v) for v in b.rng.integers(low, dim,
                                              size=b.rng.integers(1, 4))]
        scalar = len(idx) == 1 and b.rng.random() < 0.5
        shape = list(x.shape)
        if scalar:
            del shape[axis]
            ind = b.ints(idx[0])
        else:
            shape[axis] = len(idx)
            ind = b.ints(idx)
        dups = len(set(i % dim for i in idx)) < len(idx)
        b.node("Gather", [x.name, ind], shape, zeros=x.zeros,
               dups=x.dups or dups, axis=axis)
        return True
    # Concat along an axis with tensors equal elsewhere.
    others = [t for t in b.pool if t.rank == x.rank and all(
        t.shape[i] == x.shape[i] for i in range(x.rank) if i != axis)]
    parts = [x] + [others[b.rng.integers(len(others))]
                   for _ in range(int(b.rng.integers(1, 3)))]
    shape = list(x.shape)
    shape[axis] = sum(t.shape[axis] for t in parts)
    dup = len({t.name for t in parts}) < len(parts)
    b.node("Concat", [t.name for t in parts], shape, axis=axis,
           zeros=any(t.zeros for t in parts),
           dups=dup or any(t.dups for t in parts))
    return True


def step_expand_tile(b):
    x = b.pick(lambda t: t.size() <= 512)
    if b.rng.random() < 0.5:
        reps = [1] + [int(b.rng.choice([1, 1, 2, 3])) for _ in x.shape[1:]]
        shape = [d * r for d, r in zip(x.shape, reps)]
        b.node("Tile", [x.name, b.ints(reps)], shape, zeros=x.zeros,
               dups=True)
        return True
    ones = [i for i in range(1, x.rank) if x.shape[i] == 1]
    if ones:
        shape = list(x.shape)
        for i in ones:
            shape[i] = int(b.rng.integers(1, 4))
        b.node("Expand", [x.name, b.ints(shape)], shape, zeros=x.zeros,
               dups=True)
        return True
    return False


def step_where(b):
    """Where with a constant condition (an Equal of constants, as the
    exporter's masks)."""
    x = b.pick()
    y = b.pick(lambda t: t.shape == x.shape and t is not x, recent=False)
    mask = b.rng.integers(0, 3, size=x.shape[1:])
    a = b.ints(mask)
    e = b.fresh("cond")
    b.nodes.append(helper.make_node("Equal", [a, b.ints(1)], [e]))
    b.node("Where", [e, x.name, y.name], x.shape, zeros=x.zeros or y.zeros,
           dups=x.dups or y.dups)
    return True


def step_recurrent(b):
    x = b.pick(lambda t: t.rank == 3 and t.shape[2] <= 12 and
               t.shape[1] <= 16)
    op = b.choice(["GRU", "LSTM"])
    hidden = int(b.rng.integers(1, 7))
    gates = 3 if op == "GRU" else 4
    # [N, C, L] -> [L, N, C]: the sequence runs along the last axis.
    seq = b.node("Transpose", [x.name], [x.shape[2], x.shape[0], x.shape[1]],
                 perm=[2, 0, 1], pool=False, **flags(x))
    t, n, c = seq.shape
    ins = [seq.name, b.param([1, gates * hidden, c], stem=op.lower() + "_W"),
           b.param([1, gates * hidden, hidden], stem=op.lower() + "_R")]
    attrs = dict(hidden_size=hidden)
    if b.rng.random() < 0.7:
        ins.append(b.param([1, 2 * gates * hidden], scale=0.3,
                           stem=op.lower() + "_B"))
    if b.rng.random() < 0.3:
        # X, W, R, B, sequence_lens, initial_h: a learned initial state.
        if len(ins) == 3:
            ins.append("")
        ins += ["", b.param([1, n, hidden], scale=0.5, stem="h0")]
    if op == "GRU" and b.rng.random() < 0.5:
        attrs["linear_before_reset"] = 1
    y = b.fresh(op.lower() + "_Y")
    yh = b.fresh(op.lower() + "_Yh")
    outs = [y, yh] + ([b.fresh("lstm_Yc")] if op == "LSTM" else [])
    b.nodes.append(helper.make_node(op, ins, outs, **attrs))
    if n == 1:  # Y_h [1, N, H]: its first dim is the batch only then
        b.pool.append(T(yh, [1, n, hidden]))
    # Y [L, 1, N, H] -> [N, H, L].
    sq = b.fresh("seq")
    if b.opset >= 13:
        b.nodes.append(helper.make_node("Squeeze", [y, b.ints([1])], [sq]))
    else:
        b.nodes.append(helper.make_node("Squeeze", [y], [sq], axes=[1]))
    b.node("Transpose", [sq], [n, hidden, t], perm=[1, 2, 0])
    return True


def step_inverted_residual(b):
    """MobileNetV2's block: 1x1 expansion, ReLU6, 3x3 depthwise (stride 1
    or 2), ReLU6, 1x1 projection, and the residual Add when shapes allow
    (the structure conv-chain fusion, in-place depthwise layers and the
    sparse updates are built for)."""
    x = b.pick(lambda t: t.rank == 4 and t.shape[1] <= 8 and
               min(t.shape[2:]) >= 2)
    c = x.shape[1]
    e = c * int(b.rng.integers(2, 5))
    stride = [int(b.rng.choice([1, 2])), int(b.rng.choice([1, 2]))]
    h, w = x.shape[2:]
    out = [(h + 2 - 3) // stride[0] + 1, (w + 2 - 3) // stride[1] + 1]

    def relu6(t):
        lo, hi = b.fconst(np.float32(0.0)), b.fconst(np.float32(6.0))
        if b.opset < 11:
            return b.node("Clip", [t.name], t.shape, zeros=True, dups=True,
                          min=0.0, max=6.0)
        return b.node("Clip", [t.name, lo, hi], t.shape, zeros=True,
                      dups=True)
    ex = b.node("Conv", [x.name, b.param([e, c, 1, 1], stem="expand_w"),
                         b.param([e], scale=0.3, stem="expand_b")],
                [x.shape[0], e, h, w], kernel_shape=[1, 1])
    ex = relu6(ex)
    dw = b.node("Conv", [ex.name, b.param([e, 1, 3, 3], stem="dw_w"),
                         b.param([e], scale=0.3, stem="dw_b")],
                [x.shape[0], e] + out, kernel_shape=[3, 3], group=e,
                pads=[1, 1, 1, 1], strides=stride)
    dw = relu6(dw)
    cout = c if b.rng.random() < 0.6 else int(b.rng.integers(1, 9))
    pr = b.node("Conv", [dw.name, b.param([cout, e, 1, 1], stem="project_w"),
                         b.param([cout], scale=0.3, stem="project_b")],
                [x.shape[0], cout] + out, kernel_shape=[1, 1])
    if pr.shape == x.shape:
        b.node("Add", [x.name, pr.name], x.shape)
    return True


STEPS = {
    "inverted_residual": (step_inverted_residual, 3),
    "unary": (step_unary, 5), "kink": (step_kink, 2),
    "domain": (step_domain, 1), "binary_param": (step_binary_param, 2),
    "binary_act": (step_binary_act, 2), "variadic": (step_variadic, 1),
    "conv": (step_conv, 6), "conv_transpose": (step_conv_transpose, 1),
    "pool": (step_pool, 3), "norm": (step_norm, 2), "gemm": (step_gemm, 2),
    "matmul_act": (step_matmul_act, 1), "softmax": (step_softmax, 1),
    "reduce": (step_reduce, 1), "pad": (step_pad, 1),
    "resize": (step_resize, 1), "transpose": (step_transpose, 1),
    "reshape": (step_reshape, 2), "slice_split": (step_slice_split, 2),
    "expand_tile": (step_expand_tile, 1), "where": (step_where, 1),
    "recurrent": (step_recurrent, 1),
}

MAX_ELEMENTS = 2048  # per tensor: models stay small enough to run by the 10k


def apply_step(b, family, seed):
    """One recipe step, all or nothing: nodes of a step that does not apply
    (or makes a tensor too large) are rolled back."""
    mark = (len(b.nodes), len(b.inits), len(b.pool), b.counter)
    b.rng = np.random.default_rng(seed)
    try:
        ok = STEPS[family][0](b)
        if ok and any(t.size() > MAX_ELEMENTS for t in b.pool[mark[2]:]):
            raise Skip()
        assert all(t.shape[0] == b.batch for t in b.pool[mark[2]:]), \
            f"step {family} moved the batch dim"
    except Skip:
        ok = False
    if not ok:
        del b.nodes[mark[0]:], b.inits[mark[1]:], b.pool[mark[2]:]
        b.counter = mark[3]
    return ok


def add_input(b, kind, size, channels):
    n = b.batch
    if kind == "tokens":
        vocab, dim = 3 + size, channels + 1
        table = b.param([vocab, dim], scale=1.0, stem="embedding")
        x = T("tokens", [n, size])
        b.node("Gather", [table, x.name], [n, size, dim])
        return x, TensorProto.INT64, vocab
    shape = {"image": [n, channels, size, max(size - 1, 1)],
             "seq": [n, channels, size + 2],
             "vector": [n, channels * size]}[kind]
    x = T("input", shape)
    b.pool.append(x)
    return x, TensorProto.FLOAT, None


def add_head(b, loss, classes):
    """The last tensor to [N, classes] logits (cross-entropy) or an
    [N, F] regression output (mse)."""
    x = b.pool[-1]
    if x.rank == 1:
        x = b.node("Reshape", [x.name, b.ints([x.shape[0], 1])],
                   [x.shape[0], 1])
    if x.rank > 2:
        if x.size() // x.shape[0] > 256 and x.rank >= 3:
            x = b.node("GlobalAveragePool" if x.rank in (3, 4) else
                       "ReduceMean", [x.name], x.shape[:2] + [1] * (
                           x.rank - 2), **({} if x.rank in (3, 4) else
                                           dict(axes=list(range(2, x.rank)))))
        x = b.node("Flatten", [x.name], [x.shape[0], x.size() // x.shape[0]],
                   axis=1)
    if loss == "mse" and x.shape[1] <= 32 and b.nodes and \
            b.rng.random() < 0.5:
        return x
    w = b.param([classes, x.shape[1]], stem="head_w")
    bias = b.param([classes], scale=0.1, stem="head_b")
    return b.node("Gemm", [x.name, w, bias], [x.shape[0], classes], transB=1)


class Recipe:
    """Everything a model and its training run are made from."""

    def __init__(self, seed):
        r = random.Random(seed)
        self.seed = seed
        self.opset = r.choice(OPSETS)
        self.kind = r.choice(["image"] * 5 + ["seq"] * 2 + ["vector",
                                                           "tokens"])
        self.batch = r.choice([1, 1, 1, 2, 3, 4])
        self.size = r.randint(3, 9)
        self.channels = r.randint(1, 4)
        self.loss = r.choice(["cross-entropy"] * 3 + ["mse"])
        self.classes = r.randint(2, 6)
        families = list(STEPS)
        weights = [STEPS[f][1] for f in families]
        self.steps = [(r.choices(families, weights)[0], r.randrange(2 ** 31))
                      for _ in range(r.randint(1, 8))]
        self.options = draw_options(r, self)

    def build(self):
        """(onnx model, input dtype, vocabulary or None, the applied steps)."""
        b = Builder(self.opset, self.batch)
        b.rng = np.random.default_rng(self.seed)
        x, dtype, vocab = add_input(b, self.kind, self.size, self.channels)
        applied = [f for f, s in self.steps if apply_step(b, f, s)]
        b.rng = np.random.default_rng(self.seed + 1)
        out = add_head(b, self.loss, self.classes)
        # Every tracked shape declared: strict shape inference (the
        # checker's full check) then proves the generator's bookkeeping.
        infos = [helper.make_tensor_value_info(t.name, TensorProto.FLOAT,
                                               t.shape)
                 for t in b.pool if t is not out and t.name != x.name]
        graph = helper.make_graph(
            b.nodes, f"fuzz{self.seed}",
            [helper.make_tensor_value_info(x.name, dtype, x.shape)],
            [helper.make_tensor_value_info(out.name, TensorProto.FLOAT,
                                           out.shape)],
            initializer=b.inits, value_info=infos)
        model = helper.make_model(
            graph, opset_imports=[helper.make_opsetid("", self.opset)],
            producer_name="mcutrain-difftest")
        model.ir_version = 8
        return model, dtype, vocab, applied, out.shape


def draw_options(r, recipe):
    """Training options: optimizer, trainable set, sparsity, memory options
    and code paths (a dict of mcutrain flags)."""
    o = {}
    opt = r.choice(["sgd"] * 4 + ["momentum", "nesterov", "adam", "adagrad"])
    o["optimizer"] = opt
    o["lr"] = {"adam": 0.01, "adagrad": 0.05}.get(opt, r.choice([0.05, 0.1]))
    if opt in ("momentum", "nesterov"):
        o["momentum"] = r.choice([0.5, 0.9])
        if opt == "momentum" and r.random() < 0.3:
            o["dampening"] = 0.1
    if opt == "adagrad" and r.random() < 0.3:
        o["lr-decay"] = 0.01
    if r.random() < 0.2:
        o["weight-decay"] = 0.01
    o["trainable"] = r.choice(["all"] * 5 + ["last:1", "last:2", "bias-only",
                                             "names"])
    if recipe.batch == 1 and r.random() < 0.3:
        o["sparsity"] = r.choice(["static:0.5", "dgsu:0.5", "tinyprop",
                                  "tinyprop2:0.1,0.9,0.5,0.05", "combined"])
    elif r.random() < 0.15:
        o["sparsity"] = r.choice(["static:0.5", "dgsu:0.3", "static:0.25"])
    if r.random() < 0.25:
        o["kernels"] = "false"
    for flag in ("pack-masks", "in-place", "fuse-conv-chains"):
        if r.random() < 0.2:
            o[flag] = r.choice(["true", "false"])
    if r.random() < 0.15:
        o["recompute"] = r.choice(["all", "1", "2"])
    if r.random() < 0.1:
        # --update auto chooses the trainable set itself.
        o["sram"], o["update"] = r.choice(["64KiB", "24KiB", "8KiB"]), "auto"
        del o["trainable"]
    if r.random() < 0.1:
        o["tie-shared-initializers"] = "true"
    return o


def histogram(models):
    """op type -> count over a list of onnx models."""
    h = {}
    for m in models:
        for n in m.graph.node:
            h[n.op_type] = h.get(n.op_type, 0) + 1
    return h


if __name__ == "__main__":
    import sys
    seeds = range(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
    ms = []
    bad = 0
    for s in seeds:
        rec = Recipe(s)
        m, *_ = rec.build()
        try:
            onnx.checker.check_model(m, full_check=True)
            onnx.shape_inference.infer_shapes(m, check_type=True,
                                              strict_mode=True)
        except Exception as e:  # noqa: BLE001 - report and go on
            bad += 1
            print(f"seed {s}: {str(e)[:300]}")
        ms.append(m)
    print(f"{bad} invalid models")
    for k, v in sorted(histogram(ms).items()):
        print(f"{k:24s} {v}")
