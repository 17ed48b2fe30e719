"""An ONNX graph evaluated with PyTorch ops: the differential fuzzer's oracle.

Written from the ONNX operator specification (opsets 9-17), not from
mcutrain's importer: each node becomes torch ops on tensors that carry
autograd, so one call gives the forward pass and, with backward(), every
initializer's gradient. Evaluated in float32 (what the device computes) or
float64 (the reference the tolerance is measured against).
"""
import math

import numpy as np
import torch
import torch.nn.functional as F
from onnx import numpy_helper


def attrs_of(node):
    """A node's attributes as Python values (ints, floats, strings, lists,
    tensors as numpy)."""
    out = {}
    for a in node.attribute:
        if a.type == a.INT:
            out[a.name] = a.i
        elif a.type == a.FLOAT:
            out[a.name] = a.f
        elif a.type == a.STRING:
            out[a.name] = a.s.decode()
        elif a.type == a.INTS:
            out[a.name] = list(a.ints)
        elif a.type == a.FLOATS:
            out[a.name] = list(a.floats)
        elif a.type == a.STRINGS:
            out[a.name] = [s.decode() for s in a.strings]
        elif a.type == a.TENSOR:
            out[a.name] = numpy_helper.to_array(a.t)
    return out


def ints(t):
    """A constant integer tensor (torch or numpy) as a Python list."""
    if isinstance(t, torch.Tensor):
        t = t.detach().cpu().numpy()
    return [int(v) for v in np.asarray(t).reshape(-1)]


# --------------------------------------------------------------------------
# Windows: explicit padding, so ONNX's asymmetric pads and ceil_mode need no
# torch conventions.

def window_out(size, k, s, d, pb, pe, ceil):
    """ONNX's output extent of a window op along one axis."""
    span = (k - 1) * d + 1
    q = (size + pb + pe - span) / s
    return int(math.ceil(q) if ceil else math.floor(q)) + 1


def pad_spatial(x, pads, value):
    """Pads the trailing len(pads)//2 dims: ONNX pads are every axis's begin,
    then every axis's end."""
    n = len(pads) // 2
    torch_pads = []
    for axis in reversed(range(n)):
        torch_pads += [pads[axis], pads[axis + n]]
    if not any(torch_pads):
        return x
    return F.pad(x, torch_pads, value=value)


def window_geometry(x, a, kernel, default_dil=True):
    """(kernel, strides, dilations, pads, ceil) with auto_pad resolved."""
    n = len(kernel)
    strides = a.get("strides", [1] * n)
    dil = a.get("dilations", [1] * n) if default_dil else [1] * n
    pads = a.get("pads", [0] * (2 * n))
    auto = a.get("auto_pad", "NOTSET")
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        pads = [0] * (2 * n)
        for i in range(n):
            size = x.shape[2 + i]
            out = -(-size // strides[i])
            total = max((out - 1) * strides[i] + (kernel[i] - 1) * dil[i] + 1
                        - size, 0)
            small, big = total // 2, total - total // 2
            pads[i], pads[i + n] = ((small, big) if auto == "SAME_UPPER"
                                    else (big, small))
    elif auto == "VALID":
        pads = [0] * (2 * n)
    return kernel, strides, dil, pads, bool(a.get("ceil_mode", 0))


def extend_for_ceil(x, kernel, strides, dil, pads, ceil, value):
    """x padded by pads plus what ceil_mode's last window reaches past the
    end, and the output extents."""
    n = len(kernel)
    outs, extra = [], []
    for i in range(n):
        size = x.shape[2 + i]
        o = window_out(size, kernel[i], strides[i], dil[i], pads[i],
                       pads[i + n], ceil)
        outs.append(o)
        need = (o - 1) * strides[i] + (kernel[i] - 1) * dil[i] + 1
        extra.append(max(need - (size + pads[i] + pads[i + n]), 0))
    full = list(pads[:n]) + [pads[n + i] + extra[i] for i in range(n)]
    return pad_spatial(x, full, value), outs


def as_2d(x):
    """A 1-D window op's input as 2-D (height 1) and the inverse."""
    if x.dim() == 3:
        return x.unsqueeze(2), lambda y: y.squeeze(2)
    return x, lambda y: y


def conv(x, w, b, a):
    k = list(w.shape[2:])
    k, s, d, p, _ = window_geometry(x, a, a.get("kernel_shape", k))
    xp = pad_spatial(x, p, 0.0)
    fn = F.conv1d if x.dim() == 3 else F.conv2d
    return fn(xp, w, b, stride=s, dilation=d, groups=a.get("group", 1))


def conv_transpose(x, w, b, a):
    n = x.dim() - 2
    s = a.get("strides", [1] * n)
    d = a.get("dilations", [1] * n)
    p = a.get("pads", [0] * (2 * n))
    op = a.get("output_padding", [0] * n)
    g = a.get("group", 1)
    x2, back = as_2d(x)
    w2 = w.unsqueeze(2) if n == 1 else w
    y = F.conv_transpose2d(x2, w2, None, stride=([1] + s) if n == 1 else s,
                           dilation=([1] + d) if n == 1 else d, groups=g)
    y = back(y)
    # output_padding adds positions at the end; pads remove from both ends.
    y = pad_spatial(y, [0] * n + list(op), 0.0)
    sl = [slice(None), slice(None)]
    for i in range(n):
        sl.append(slice(p[i], y.shape[2 + i] - p[i + n]))
    y = y[tuple(sl)]
    if b is not None:
        y = y + b.reshape([1, -1] + [1] * n)
    return y


def max_pool(x, a):
    x2, back = as_2d(x)
    k, s, d, p, ceil = window_geometry(x, a, a["kernel_shape"])
    if x.dim() == 3:
        k, s, d = [1] + k, [1] + s, [1] + d
        p = [0, p[0], 0, p[1]]
    xp, _ = extend_for_ceil(x2, k, s, d, p, ceil, -math.inf)
    return back(F.max_pool2d(xp, k, s, dilation=d))


def average_pool(x, a):
    x2, back = as_2d(x)
    k, s, d, p, ceil = window_geometry(x, a, a["kernel_shape"],
                                       default_dil=False)
    if x.dim() == 3:
        k, s, d = [1] + k, [1] + s, [1] + d
        p = [0, p[0], 0, p[1]]
    xp, _ = extend_for_ceil(x2, k, s, d, p, ceil, 0.0)
    sums = F.avg_pool2d(xp, k, s, divisor_override=1)
    # The divisor: the window's elements inside the input, or inside the
    # padded input with count_include_pad (never what ceil_mode adds).
    inside = torch.ones((1, 1) + tuple(x2.shape[2:]), dtype=x.dtype)
    if a.get("count_include_pad", 0):
        inside = pad_spatial(inside, p, 1.0)
        n = 2
        extra_pads = [0] * n + [xp.shape[2 + i] - inside.shape[2 + i]
                                for i in range(n)]
        inside = pad_spatial(inside, extra_pads, 0.0)
    else:
        inside, _ = extend_for_ceil(inside, k, s, d, p, ceil, 0.0)
    counts = F.avg_pool2d(inside, k, s, divisor_override=1)
    return back(sums / counts)


# --------------------------------------------------------------------------
# Resize: ONNX's coordinate transformations, one axis at a time as a product
# with an interpolation matrix built from the specification's formulas.

def resize_matrix(n_in, n_out, scale, mode, coord, nearest):
    m = np.zeros((n_out, n_in))
    for o in range(n_out):
        if coord == "half_pixel":
            xo = (o + 0.5) / scale - 0.5
        elif coord == "pytorch_half_pixel":
            xo = (o + 0.5) / scale - 0.5 if n_out > 1 else 0.0
        elif coord == "align_corners":
            # The resized length in the formula is in * scale, unrounded.
            length = n_in * scale
            xo = 0.0 if length == 1 else o * (n_in - 1) / (length - 1)
        elif coord == "asymmetric":
            xo = o / scale
        elif coord == "half_pixel_symmetric":
            adj = n_out / (scale * n_in)
            center = n_in / 2
            offset = center * (1 - adj)
            xo = offset + (o + 0.5) / scale - 0.5
        else:
            raise ValueError(coord)
        if mode == "nearest":
            if nearest == "floor":
                i = math.floor(xo)
            elif nearest == "ceil":
                i = math.ceil(xo)
            elif nearest == "round_prefer_ceil":
                i = math.floor(xo + 0.5)
            else:  # round_prefer_floor
                i = math.ceil(xo - 0.5)
            m[o, min(max(i, 0), n_in - 1)] = 1.0
        else:
            xo = min(max(xo, 0.0), n_in - 1)
            lo = int(math.floor(xo))
            hi = min(lo + 1, n_in - 1)
            f = xo - lo
            m[o, lo] += 1 - f
            m[o, hi] += f
    return m


def resize(x, a, scales, sizes, opset_default):
    mode = a.get("mode", "nearest")
    mode = "linear" if mode in ("linear", "bilinear") else mode
    coord = a.get("coordinate_transformation_mode", opset_default[0])
    nearest = a.get("nearest_mode", opset_default[1])
    shape = list(x.shape)
    if sizes is not None:
        outs = sizes
        scales = [o / i for o, i in zip(outs, shape)]
    else:
        outs = [int(math.floor(s * i)) for s, i in zip(scales, shape)]
    for axis in range(len(shape)):
        if outs[axis] == shape[axis] and scales[axis] == 1.0:
            continue
        m = torch.tensor(resize_matrix(x.shape[axis], outs[axis],
                                       scales[axis], mode, coord, nearest),
                         dtype=x.dtype)
        x = torch.movedim(torch.tensordot(x, m, dims=([axis], [1])), -1,
                          axis)
    return x


# --------------------------------------------------------------------------
# Recurrent layers (one layer, forward, default activations).

def gru(x, w, r, b, h0, a):
    hidden = a["hidden_size"]
    lbr = a.get("linear_before_reset", 0)
    w, r = w[0], r[0]
    wb, rb = (b[0][:3 * hidden], b[0][3 * hidden:]) if b is not None else (
        torch.zeros(3 * hidden, dtype=x.dtype),) * 2
    h = h0[0] if h0 is not None else torch.zeros(x.shape[1], hidden,
                                                 dtype=x.dtype)
    ys = []
    wz, wr, wh = w.split(hidden)
    rz, rr, rh = r.split(hidden)
    bwz, bwr, bwh = wb.split(hidden)
    brz, brr, brh = rb.split(hidden)
    for t in range(x.shape[0]):
        xt = x[t]
        z = torch.sigmoid(xt @ wz.T + h @ rz.T + bwz + brz)
        rt = torch.sigmoid(xt @ wr.T + h @ rr.T + bwr + brr)
        if lbr:
            hh = torch.tanh(xt @ wh.T + rt * (h @ rh.T + brh) + bwh)
        else:
            hh = torch.tanh(xt @ wh.T + (rt * h) @ rh.T + brh + bwh)
        h = (1 - z) * hh + z * h
        ys.append(h)
    y = torch.stack(ys).unsqueeze(1)
    return [y, h.unsqueeze(0)]


def lstm(x, w, r, b, h0, c0, p, a):
    hidden = a["hidden_size"]
    w, r = w[0], r[0]
    zeros = torch.zeros(4 * hidden, dtype=x.dtype)
    wb, rb = (b[0][:4 * hidden], b[0][4 * hidden:]) if b is not None else (
        zeros, zeros)
    batch = x.shape[1]
    h = h0[0] if h0 is not None else torch.zeros(batch, hidden, dtype=x.dtype)
    c = c0[0] if c0 is not None else torch.zeros(batch, hidden, dtype=x.dtype)
    pi, po, pf = (p[0].split(hidden) if p is not None else
                  (torch.zeros(hidden, dtype=x.dtype),) * 3)
    ys = []
    for t in range(x.shape[0]):
        gates = x[t] @ w.T + h @ r.T + wb + rb
        gi, go, gf, gc = gates.split(hidden, dim=1)
        i = torch.sigmoid(gi + pi * c)
        f = torch.sigmoid(gf + pf * c)
        cc = torch.tanh(gc)
        c = f * c + i * cc
        o = torch.sigmoid(go + po * c)
        h = o * torch.tanh(c)
        ys.append(h)
    return [torch.stack(ys).unsqueeze(1), h.unsqueeze(0), c.unsqueeze(0)]


# --------------------------------------------------------------------------

def softmax_like(x, a, opset, log):
    if opset >= 13:
        axis = a.get("axis", -1)
        return (F.log_softmax if log else F.softmax)(x, dim=axis)
    axis = a.get("axis", 1) % x.dim()
    shape = x.shape
    flat = x.reshape(int(np.prod(shape[:axis])), -1)
    y = (F.log_softmax if log else F.softmax)(flat, dim=1)
    return y.reshape(shape)


def reduce(op, x, a, axes):
    if axes is None:
        axes = a.get("axes")
    keep = bool(a.get("keepdims", 1))
    if not axes:
        if a.get("noop_with_empty_axes", 0):
            return x
        axes = list(range(x.dim()))
    axes = [ax % x.dim() for ax in axes]
    if op == "ReduceSumSquare":
        x = x * x
    if op == "ReduceMean":
        return x.mean(dim=axes, keepdim=keep)
    if op == "ReduceMax":
        return x.amax(dim=axes, keepdim=keep)
    return x.sum(dim=axes, keepdim=keep)


def slice_op(x, starts, ends, axes, steps):
    axes = axes if axes is not None else list(range(len(starts)))
    steps = steps if steps is not None else [1] * len(starts)
    for st, en, ax, sp in zip(starts, ends, axes, steps):
        ax %= x.dim()
        n = x.shape[ax]
        idx = list(range(*slice(st, en, sp).indices(n)))
        x = torch.index_select(x, ax, torch.tensor(idx, dtype=torch.long))
    return x


def reshape(x, shape, allowzero=0):
    shape = list(shape)
    for i, s in enumerate(shape):
        if s == 0 and not allowzero:
            shape[i] = x.shape[i]
    return x.reshape(shape)


def pad_op(x, pads, value, mode):
    if mode == "constant":
        return pad_spatial_full(x, pads, value)
    torch_mode = {"edge": "replicate", "reflect": "reflect"}[mode]
    n = x.dim()
    spatial = pads[2:n] + pads[n + 2:]
    torch_pads = []
    for axis in reversed(range(n - 2)):
        torch_pads += [spatial[axis], spatial[axis + n - 2]]
    return F.pad(x, torch_pads, mode=torch_mode)


def pad_spatial_full(x, pads, value):
    n = x.dim()
    torch_pads = []
    for axis in reversed(range(n)):
        torch_pads += [pads[axis], pads[axis + n]]
    return F.pad(x, torch_pads, value=value)


def gather(x, idx, axis):
    idx = torch.as_tensor(idx).long()
    axis %= x.dim()
    idx = torch.where(idx < 0, idx + x.shape[axis], idx)
    out = torch.index_select(x, axis, idx.reshape(-1))
    shape = list(x.shape[:axis]) + list(idx.shape) + list(x.shape[axis + 1:])
    return out.reshape(shape)


def binary(op, a, b):
    if op == "Add":
        return a + b
    if op == "Sub":
        return a - b
    if op == "Mul":
        return a * b
    if op == "Div":
        return a / b
    if op == "Pow":
        return torch.pow(a, b)
    if op == "Equal":
        return a == b
    raise KeyError(op)


UNARY = {
    "Relu": torch.relu, "Sigmoid": torch.sigmoid, "Tanh": torch.tanh,
    "Sqrt": torch.sqrt, "Exp": torch.exp, "Log": torch.log, "Abs": torch.abs,
    "Reciprocal": torch.reciprocal, "Neg": torch.neg, "Erf": torch.erf,
    "Softplus": lambda x: torch.log1p(torch.exp(x)),
    "Softsign": lambda x: x / (1 + torch.abs(x)),
    "HardSwish": lambda x: x * torch.clamp(x / 6 + 0.5, 0, 1),
    "Identity": lambda x: x,
}


class Evaluator:
    """Evaluates one model: `values` maps every tensor name to its value."""

    def __init__(self, model, dtype):
        self.model = model
        self.dtype = dtype
        self.opset = next(o.version for o in model.opset_import
                          if o.domain in ("", "ai.onnx"))

    def const(self, name):
        return self.values[name]

    def run(self, feeds, params):
        """feeds: graph input name -> tensor; params: initializer name ->
        tensor (those that require grad are the trainable ones)."""
        self.values = dict(params)
        self.values.update(feeds)
        self.values[""] = None
        for node in self.model.graph.node:
            # An output given as a parameter (an untied alias, a trained
            # constant) is a leaf of its own: its node is not evaluated.
            if node.output and all(o in params for o in node.output if o):
                continue
            self._outputs = list(node.output)
            outs = self.node(node, [self.values.get(i) if i else None
                                    for i in node.input], attrs_of(node))
            if not isinstance(outs, (list, tuple)):
                outs = [outs]
            for name, v in zip(node.output, outs):
                if name:
                    self.values[name] = v
        return [self.values[o.name] for o in self.model.graph.output]

    def floatv(self, arr):
        return torch.as_tensor(np.asarray(arr), dtype=self.dtype)

    def node(self, n, x, a):  # noqa: C901 - one dispatch per ONNX op
        op, ops = n.op_type, self.opset
        if op in UNARY:
            return UNARY[op](x[0])
        if op in ("Add", "Sub", "Mul", "Div", "Pow", "Equal"):
            return binary(op, x[0], x[1])
        if op in ("Sum", "Mean", "Max", "Min"):
            acc = x[0]
            for y in x[1:]:
                acc = {"Sum": torch.add, "Mean": torch.add,
                       "Max": torch.maximum, "Min": torch.minimum}[op](acc, y)
            return acc / len(x) if op == "Mean" else acc
        if op == "LeakyRelu":
            return F.leaky_relu(x[0], a.get("alpha", 0.01))
        if op == "Elu":
            return F.elu(x[0], a.get("alpha", 1.0))
        if op == "Selu":
            al = a.get("alpha", 1.67326319217681884765625)
            ga = a.get("gamma", 1.05070102214813232421875)
            return ga * torch.where(x[0] > 0, x[0],
                                    al * (torch.exp(x[0]) - 1))
        if op == "HardSigmoid":
            return torch.clamp(a.get("alpha", 0.2) * x[0] + a.get("beta", 0.5),
                               0, 1)
        if op == "PRelu":
            return torch.where(x[0] >= 0, x[0], x[0] * x[1])
        if op == "Clip":
            if ops < 11:
                lo, hi = a.get("min", -3.4e38), a.get("max", 3.4e38)
            else:
                lo = float(x[1]) if len(x) > 1 and x[1] is not None else -3.4e38
                hi = float(x[2]) if len(x) > 2 and x[2] is not None else 3.4e38
            return torch.clamp(x[0], lo, hi)
        if op in ("Softmax", "LogSoftmax"):
            return softmax_like(x[0], a, ops, op == "LogSoftmax")
        if op == "Dropout":
            return [x[0], torch.ones_like(x[0], dtype=torch.bool)]
        if op == "Cast":
            return x[0].to(self.dtype) if x[0].is_floating_point() or \
                a["to"] == 1 else x[0]
        return self.structural(n, op, ops, x, a)

    def structural(self, n, op, ops, x, a):  # noqa: C901
        if op == "Conv":
            return conv(x[0], x[1], x[2] if len(x) > 2 else None, a)
        if op == "ConvTranspose":
            return conv_transpose(x[0], x[1], x[2] if len(x) > 2 else None, a)
        if op == "Gemm":
            A = x[0].T if a.get("transA", 0) else x[0]
            B = x[1].T if a.get("transB", 0) else x[1]
            y = a.get("alpha", 1.0) * (A @ B)
            if len(x) > 2 and x[2] is not None:
                y = y + a.get("beta", 1.0) * x[2]
            return y
        if op == "MatMul":
            return torch.matmul(x[0], x[1])
        if op == "MaxPool":
            return max_pool(x[0], a)
        if op == "AveragePool":
            return average_pool(x[0], a)
        if op == "GlobalAveragePool":
            return x[0].mean(dim=tuple(range(2, x[0].dim())), keepdim=True)
        if op == "GlobalMaxPool":
            return x[0].amax(dim=tuple(range(2, x[0].dim())), keepdim=True)
        if op == "BatchNormalization":
            shape = [1, -1] + [1] * (x[0].dim() - 2)
            scale, bias, mean, var = (t.reshape(shape) for t in x[1:5])
            return (x[0] - mean) / torch.sqrt(var + a.get("epsilon", 1e-5)) \
                * scale + bias
        if op == "InstanceNormalization":
            dims = tuple(range(2, x[0].dim()))
            mean = x[0].mean(dim=dims, keepdim=True)
            var = ((x[0] - mean) ** 2).mean(dim=dims, keepdim=True)
            shape = [1, -1] + [1] * (x[0].dim() - 2)
            return (x[0] - mean) / torch.sqrt(var + a.get("epsilon", 1e-5)) \
                * x[1].reshape(shape) + x[2].reshape(shape)
        if op == "LayerNormalization":
            axis = a.get("axis", -1) % x[0].dim()
            dims = tuple(range(axis, x[0].dim()))
            mean = x[0].mean(dim=dims, keepdim=True)
            var = ((x[0] - mean) ** 2).mean(dim=dims, keepdim=True)
            inv = 1 / torch.sqrt(var + a.get("epsilon", 1e-5))
            y = (x[0] - mean) * inv * x[1]
            if len(x) > 2 and x[2] is not None:
                y = y + x[2]
            return [y, mean, inv]
        if op in ("Resize", "Upsample"):
            return self.resize(op, ops, x, a)
        if op == "GRU":
            return gru(x[0], x[1], x[2], x[3] if len(x) > 3 else None,
                       x[5] if len(x) > 5 else None, a)
        if op == "LSTM":
            return lstm(x[0], x[1], x[2], x[3] if len(x) > 3 else None,
                        x[5] if len(x) > 5 else None,
                        x[6] if len(x) > 6 else None,
                        x[7] if len(x) > 7 else None, a)
        if op.startswith("Reduce"):
            axes = ints(x[1]) if len(x) > 1 and x[1] is not None else None
            return reduce(op, x[0], a, axes)
        return self.data_movement(op, ops, x, a)

    def resize(self, op, ops, x, a):
        if op == "Upsample":
            scales = a.get("scales") or [float(v) for v in x[1].reshape(-1)]
            return resize(x[0], a, scales, None, ("asymmetric", "floor"))
        si = 1 if ops == 10 else 2
        scales = x[si] if len(x) > si else None
        sizes = x[3] if len(x) > 3 else None
        scales = ([float(v) for v in scales.reshape(-1)]
                  if scales is not None and scales.numel() else None)
        sizes = ints(sizes) if sizes is not None and sizes.numel() else None
        default = (("half_pixel", "round_prefer_floor") if ops >= 11 else
                   ("asymmetric", "round_prefer_floor"))
        return resize(x[0], a, scales, sizes, default)

    def data_movement(self, op, ops, x, a):  # noqa: C901
        if op == "Transpose":
            perm = a.get("perm", list(reversed(range(x[0].dim()))))
            return x[0].permute(perm)
        if op in ("Squeeze", "Unsqueeze"):
            axes = a.get("axes") if ops < 13 else (
                ints(x[1]) if len(x) > 1 and x[1] is not None else None)
            if op == "Squeeze":
                if axes is None:
                    return x[0].reshape([s for s in x[0].shape if s != 1])
                axes = sorted(ax % x[0].dim() for ax in axes)
                return x[0].reshape([s for i, s in enumerate(x[0].shape)
                                     if i not in axes])
            rank = x[0].dim() + len(axes)
            axes = sorted(ax % rank for ax in axes)
            y = x[0]
            for ax in axes:
                y = y.unsqueeze(ax)
            return y
        if op == "Concat":
            return torch.cat([t for t in x if t is not None], dim=a["axis"])
        if op == "Flatten":
            axis = a.get("axis", 1)
            axis = axis + x[0].dim() if axis < 0 else axis
            lead = int(np.prod(x[0].shape[:axis]))
            return x[0].reshape(lead, -1)
        if op == "Reshape":
            shape = a["shape"] if ops < 5 else ints(x[1])
            return reshape(x[0], shape, a.get("allowzero", 0))
        if op == "Slice":
            if ops < 10:
                return slice_op(x[0], a["starts"], a["ends"], a.get("axes"),
                                None)
            opt = [ints(t) if t is not None else None
                   for t in (x + [None, None])[3:5]]
            return slice_op(x[0], ints(x[1]), ints(x[2]), opt[0], opt[1])
        if op == "Split":
            axis = a.get("axis", 0)
            split = a.get("split") if ops < 13 else (
                ints(x[1]) if len(x) > 1 and x[1] is not None else None)
            if split is None:
                k = len(self._outputs)
                split = [x[0].shape[axis] // k] * k
            return list(torch.split(x[0], split, dim=axis))
        if op == "Expand":
            shape = ints(x[1])
            rank = max(len(shape), x[0].dim())
            shape = [1] * (rank - len(shape)) + shape
            cur = [1] * (rank - x[0].dim()) + list(x[0].shape)
            target = [max(s, c) if 1 in (s, c) else s
                      for s, c in zip(shape, cur)]
            return x[0].reshape(cur).expand(target)
        if op == "Tile":
            return x[0].repeat(ints(x[1]))
        if op == "Pad":
            if ops < 11:
                return pad_op(x[0], a["pads"], a.get("value", 0.0),
                              a.get("mode", "constant"))
            value = (float(x[2]) if len(x) > 2 and x[2] is not None else 0.0)
            return pad_op(x[0], ints(x[1]), value, a.get("mode", "constant"))
        return self.shape_ops(op, ops, x, a)

    def shape_ops(self, op, ops, x, a):
        if op == "Constant":
            v = np.array(a["value"])  # (a writable copy for torch)
            t = torch.from_numpy(v)
            return t.to(self.dtype) if v.dtype.kind == "f" else t
        if op == "Shape":
            shape = list(x[0].shape)[a.get("start", 0):a.get("end", None)]
            return torch.tensor(shape, dtype=torch.int64)
        if op == "ConstantOfShape":
            v = a.get("value", np.zeros(1, np.float32))
            t = torch.full(ints(x[0]), float(v.reshape(-1)[0]))
            return t.to(self.dtype) if v.dtype.kind == "f" else t.to(
                torch.int64)
        if op == "Gather":
            return gather(x[0], x[1], a.get("axis", 0))
        if op == "Where":
            return torch.where(x[0].bool(), x[1], x[2])
        raise NotImplementedError(f"oracle: op {op}")


def evaluate(model, feeds, params, dtype):
    return Evaluator(model, dtype).run(feeds, params)
