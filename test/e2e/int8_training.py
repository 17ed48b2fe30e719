#!/usr/bin/python3
"""int8 training (TTE's scheme) of a QDQ model against a PyTorch reference
of the same arithmetic.

  int8_training.py MODEL.onnx REF.npz WORKDIR --mcutrain PATH
      [--weight-update int8|fp32-master] [--qas on|off] [--steps N]
      [--lr LR] [--optimizer sgd|momentum|adam] [--sanitize]
      [--sparsity static:R|dgsu:R|tinyprop[2][:...]]

MODEL.onnx and REF.npz come from examples/quantize/quantize.py (--reference
gives the inputs). The package (`mcutrain compile --trainable all`, SGD unless
--optimizer says otherwise) is built with -Wall -Wextra -Werror (and ASan/UBSan with --sanitize)
and trained on the inputs with fixed random labels. The reference
(int8_reference.py's evaluator, made differentiable) computes:

- forward: the int8 layers exactly as mcutrain's nn.qconv2d/nn.qgemm, the
  rest in float32;
- backward in float32, gradients in real units: through an int8 layer's
  output, dy where output_min < y < output_max (its int8 result); input
  gradient from the dequantized int8 weight, weight gradient from the
  dequantized int8 input; a QuantizeLinear passes dy where its input
  quantizes unsaturated; a DequantizeLinear passes dy unchanged;
- updates: float parameters by the optimizer's rule on g; an int8 weight q
  (--weight-update int8) by the rule on p = q - zero with g / scale (QAS;
  with --qas off g * scale), then q = clamp(round_half_even(p) + zero).

Checks: the gradient of every float parameter (biases; with fp32-master
also the weights) from one lr = 2^20 step within 1e-4 of the reference
(relative to the largest); after one step at --lr the int8 weights equal
the reference's exactly and the float parameters within 1e-4; over
--steps steps the losses within 1e-3 relative, and the int8 weights after
the last step (reported: the share equal to the reference's).

Sparse updates (--sparsity) on the int8 weights:
- static:R: the reference keeps the gradient of each selectable int8
  weight's ceil(R C) input channels of largest L2 norm of their real values
  (ties to the lower channel; a depthwise weight's filters), zero
  elsewhere; every check above applies, and no other channel moves.
- dgsu:R: the runtime chooses the channels, so after one step every channel
  of an int8 weight either kept its value or equals the reference's dense
  update, at most ceil(R C) moved; then --steps steps with finite losses.
- tinyprop[2][:SMIN,SMAX,ZETA[,TAU]]: the reference keeps each int8 layer's
  k = round(n SMAX ZETA^depth) largest output errors in the first step (the
  running maximum is the first error), so the first step's gradients and
  int8 weights are checked as above; then --steps steps with finite losses.
"""
import argparse
import json
import math
import os
import shutil
import sys

import numpy as np
import onnx
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import int8_reference as ref  # noqa: E402
from qdq_inference import run  # noqa: E402

HARNESS = r"""
#include "m.h"
#include <cstdio>
#include <cstdlib>
#include <vector>
static void dump(const char *path) {
  std::FILE *f = std::fopen(path, "wb");
  for (std::size_t i = 0; i < m::kNumTrainableParams; ++i) {
    const mcutrain::ParamInfo &p = m::kTrainableParams[i];
    if (p.int8_data)
      std::fwrite(p.int8_data, 1, p.size, f);
    else if (p.int32_data)
      std::fwrite(p.int32_data, 4, p.size, f);
    else
      std::fwrite(p.data, 4, p.size, f);
  }
  std::fclose(f);
}
int main(int argc, char **argv) {
  int steps = argc > 1 ? std::atoi(argv[1]) : 1;
  std::vector<float> x(m::kInputSize * steps);
  std::vector<std::int32_t> y(steps);
  std::FILE *fx = std::fopen("x.bin", "rb"), *fy = std::fopen("y.bin", "rb");
  if (!fx || !fy || std::fread(x.data(), 4, x.size(), fx) != x.size() ||
      std::fread(y.data(), 4, y.size(), fy) != y.size())
    return 3;
  m::init();
  std::FILE *fn = std::fopen("names.txt", "w");
  for (std::size_t i = 0; i < m::kNumTrainableParams; ++i)
    std::fprintf(fn, "%s\n", m::kTrainableParams[i].name);
  std::fclose(fn);
  dump("params0.bin");
  float lr = m::learning_rate();
  // Updates follow the last read of what they change, so a large rate
  // leaves this step's gradients alone and lets p0 - p1 resolve them.
  m::set_learning_rate(GRAD_LR);
  m::train_step(x.data(), y.data());
  dump("gradstep.bin");
  m::init();
  m::set_learning_rate(lr);
  std::FILE *lf = std::fopen("losses.bin", "wb");
  for (int s = 0; s < steps; ++s) {
    float loss = m::train_step(&x[s * m::kInputSize], &y[s]);
    std::fwrite(&loss, 4, 1, lf);
    if (s == 0)
      dump("params1.bin");
  }
  std::fclose(lf);
  dump("params_last.bin");
  return 0;
}
"""


class Quantize(torch.autograd.Function):
    """QuantizeLinear; backward: dy where x quantizes unsaturated."""

    @staticmethod
    def forward(ctx, x, params):
        scale, zero, lo, hi, axis = params
        inv = torch.tensor(1.0, dtype=torch.float32) / scale
        q = torch.round(x * ref.along(inv, axis, x.dim())) + \
            ref.along(zero, axis, x.dim())
        ctx.save_for_backward((q >= lo) & (q <= hi))
        return torch.clamp(q, lo, hi)

    @staticmethod
    def backward(ctx, dy):
        (inside,) = ctx.saved_tensors
        return dy * inside, None


class Dequantize(torch.autograd.Function):
    """DequantizeLinear; gradients of integer tensors are in real units."""

    @staticmethod
    def forward(ctx, q, params):
        return ref.dequantize(q, params)

    @staticmethod
    def backward(ctx, dy):
        return dy, None


class Clip(torch.autograd.Function):
    """Clip; backward strictly inside the bounds (as mcutrain's, ReLU6's and
    hardtanh's; torch.clamp's passes at them)."""

    @staticmethod
    def forward(ctx, x, lo, hi):
        ctx.save_for_backward((x > lo) & (x < hi))
        return torch.clamp(x, lo, hi)

    @staticmethod
    def backward(ctx, dy):
        (inside,) = ctx.saved_tensors
        return dy * inside, None, None


class IntLayer(torch.autograd.Function):
    """An int8 layer: forward exact (int8_reference), backward in float32
    from the integer input and weight."""

    @staticmethod
    def forward(ctx, x, w, bias, layer):
        y, lo, hi = layer.forward_int(x, w, bias)
        ctx.save_for_backward(x, w, y)
        ctx.layer, ctx.lo, ctx.hi = layer, lo, hi
        ctx.float_bias = bias is not None and bias.is_floating_point()
        return y

    @staticmethod
    def backward(ctx, dy):
        x, w, y = ctx.saved_tensors
        dym = dy * ((y > ctx.lo) & (y < ctx.hi))
        k = ctx.layer.ev.kept_errors(ctx.layer.node, dym.numel())
        if k is not None:
            flat = dym.reshape(-1)
            keep = torch.zeros_like(flat)
            # Ties to the lower index, as the runtime's keep_topk_abs.
            keep[torch.sort(flat.abs(), descending=True,
                            stable=True).indices[:k]] = 1.0
            dym = (flat * keep).reshape(dym.shape)
        gx, gw, gb = ctx.layer.backward(x, w, dym)
        return gx, gw, gb if ctx.float_bias else None, None


class Layer:
    """One fused int8 layer's parameters, for IntLayer."""

    def __init__(self, ev, node, dqx, dqw, act, q):
        self.ev, self.node = ev, node
        self.px, self.pw, self.py = (ref.qparams(ev.g, n)
                                     for n in (dqx, dqw, q))
        self.act, self.q, self.a = act, q, ref.attrs(node)

    def forward_int(self, x, w, bias):
        ev = self.ev
        saved_ints, saved_env = dict(ev.ints), dict(ev.env)
        ev.ints[self.dqx_name], ev.ints[self.dqw_name] = x, w
        ev.env[self.bias_name] = bias
        ref.Evaluator.int_layer(ev, self.node, self.dqx, self.dqw, self.act,
                                self.q)
        y = ev.ints[self.q.output[0]]
        lo, hi = self.bounds()
        ev.ints, ev.env = saved_ints, saved_env
        return y, lo, hi

    def bounds(self):
        lo, hi = self.py[2], self.py[3]
        if self.act is not None:
            b = self.ev.clip_bounds(self.act)
            qb = ref.quantize(torch.tensor(b, dtype=torch.float32),
                              self.py).tolist()
            lo = max(lo, qb[0]) if b[0] > -float("inf") else lo
            hi = min(hi, qb[1]) if b[1] < float("inf") else hi
        return lo, hi

    def backward(self, x, w, dy):
        xr = ref.dequantize(x, self.px)
        wr = ref.dequantize(w, self.pw)
        if self.node.op_type == "Conv":
            p = self.a.get("pads", [0, 0, 0, 0])
            s = self.a.get("strides", [1, 1])
            d = self.a.get("dilations", [1, 1])
            g = self.a.get("group", 1)
            xp = F.pad(xr, (p[1], p[3], p[0], p[2]))
            gxp = torch.nn.grad.conv2d_input(xp.shape, wr, dy, s, 0, d, g)
            gx = gxp[:, :, p[0]:p[0] + x.shape[2], p[1]:p[1] + x.shape[3]]
            gw = torch.nn.grad.conv2d_weight(xp, wr.shape, dy, s, 0, d, g)
            gb = dy.sum(dim=(0, 2, 3))
        else:
            tb = self.a.get("transB", 0)
            wt = wr.t() if tb else wr  # [K, N]
            gx = dy @ wt.t()
            gwt = xr.t() @ dy
            gw = gwt.t() if tb else gwt
            gb = dy.sum(dim=0)
        return gx, gw, gb


class TrainingEvaluator(ref.Evaluator):
    """int8_reference's evaluator with trainable leaves and autograd."""

    def __init__(self, graph, weight_update, tinyprop=None):
        super().__init__(graph)
        self.weight_update = weight_update
        self.leaves = {}  # initializer name -> leaf tensor
        self.weight_params = {}  # initializer name -> its QuantizeLinear
        self.bias_params = {}  # int32 bias initializer -> its dequantize
        self.weight_layers = {}  # initializer name -> its Conv/Gemm node
        self.layer_order = []  # the int8 layers (ids: names may be empty)
        self.tinyprop = tinyprop  # (s_min, s_max, zeta, tau) or None
        self.live = self.live_nodes()

    def live_nodes(self):
        """The ids of the nodes the output depends on (a layer whose
        result nothing reads is not in the backward pass, nor in TinyProp's
        depth count)."""
        live, todo = set(), [self.g.output]
        while todo:
            node = self.g.producer.get(todo.pop())
            if node is not None and id(node) not in live:
                live.add(id(node))
                todo += [i for i in node.input if i]
        return live

    def kept_errors(self, node, n):
        """TinyProp's k for the first step, or None (dense)."""
        if self.tinyprop is None or id(node) not in self.layer_order:
            return None
        _, s_max, zeta, _ = self.tinyprop
        depth = len(self.layer_order) - 1 - self.layer_order.index(id(node))
        r = np.float32(s_max)
        for _ in range(depth):
            r = np.float32(r * np.float32(zeta))
        return min(max(int(np.float32(n) * r + np.float32(0.5)), 1), n)

    def leaf(self, name, init):
        if name not in self.leaves:
            self.leaves[name] = init().detach().clone().requires_grad_(True)
        return self.leaves[name]

    def int_layer(self, node, dqx, dqw, act, q):
        layer = Layer(self, node, dqx, dqw, act, q)
        layer.dqx, layer.dqw = dqx, dqw
        layer.dqx_name, layer.dqw_name = dqx.input[0], dqw.input[0]
        layer.bias_name = node.input[2] if len(node.input) > 2 else None
        x = self.ints[dqx.input[0]]
        w = self.weight(dqw)
        wsource = self.g.source(dqw.input[0])
        self.weight_layers[wsource.input[0] if wsource else dqw.input[0]] = \
            node
        # TinyProp's layers: the live ones but an int8 Gemm without
        # transB (its backward stays dense, with the compiler's warning).
        selectable = node.op_type != "Gemm" or ref.attrs(node).get("transB")
        if id(node) not in self.layer_order and id(node) in self.live and \
                selectable:
            self.layer_order.append(id(node))
        bias = self.bias(layer.bias_name) if layer.bias_name else None
        y = IntLayer.apply(x, w, bias, layer)
        self.ints[q.output[0]] = y
        self.env[q.output[0]] = y

    def bias(self, name):
        """A layer's float bias: a float leaf, or (ONNX Runtime's QDQ) an
        int32 leaf (float64, exact) dequantized in float32 as mcutrain's
        nn.dequantize computes it."""
        dq = self.g.source(name)
        const = self.g.const(name)
        if dq is None and const is not None and const.dtype == torch.int32:
            return const  # QLinearConv's int32 bias: frozen, added as b * M
        if dq is None or dq.op_type != "DequantizeLinear":
            return self.leaf(name, lambda: self.g.const(name).float())
        qname = dq.input[0]
        self.bias_params[qname] = ref.qparams(self.g, dq)
        q = self.leaf(qname, lambda: self.g.const(qname).double())
        return Dequantize.apply(q.float(), self.bias_params[qname])

    def weight(self, dqw):
        """The integer weight a layer reads: the int8 leaf, or the fp32
        master leaf quantized; an int8 initializer (ONNX Runtime's QDQ) is
        the int8 leaf itself."""
        qnode = self.g.source(dqw.input[0])
        if qnode is None:
            wname = dqw.input[0]
            self.weight_params[wname] = ref.qparams(self.g, dqw)
            return self.leaf(wname, lambda: self.g.const(wname).float())
        wname = qnode.input[0]
        params = ref.qparams(self.g, qnode)
        self.weight_params[wname] = params
        if self.weight_update == "int8":
            return self.leaf(wname, lambda: ref.quantize(
                self.g.const(wname).float(), params))
        master = self.leaf(wname, lambda: self.g.const(wname).float())
        return Quantize.apply(master, params)

    def float_node(self, node):
        if node.op_type == "QuantizeLinear":
            x = self.env.get(node.input[0])
            if x is None:  # a weight's: read through weight()
                return
            y = Quantize.apply(x.float(), ref.qparams(self.g, node))
            self.ints[node.output[0]] = y
            self.env[node.output[0]] = y
            return
        if node.op_type == "DequantizeLinear":
            q = self.env.get(node.input[0])
            if q is None:
                return
            self.env[node.output[0]] = Dequantize.apply(
                q.float(), ref.qparams(self.g, node))
            return
        if node.op_type in ("Conv", "Gemm"):
            # A float layer (not an int8 one): its float initializers train.
            for name in node.input[1:]:
                value = self.g.values.get(name)
                if value is not None and value.dtype == torch.float32:
                    self.env[name] = self.leaf(name, lambda v=value: v)
        if node.op_type == "Clip":
            lo, hi = self.clip_bounds(node)
            self.env[node.output[0]] = Clip.apply(self.env[node.input[0]],
                                                  lo, hi)
            return
        super().float_node(node)


F32 = torch.float32


def f32(v):
    return torch.tensor(v, dtype=F32)


class Optimizer:
    """The update rules of mcutrain's train.update (Update.cpp) in float32,
    op by op: sgd, momentum (PyTorch's, no dampening), adam (PyTorch's,
    bias corrections from float32 running powers). An int8 weight's rule
    runs in integer units: p = q - zero, g / scale (QAS) or g * scale."""

    def __init__(self, kind, lr, qas, momentum=0.9, beta1=0.9, beta2=0.999,
                 eps=1e-8):
        self.kind, self.lr, self.qas = kind, f32(lr), qas
        self.mu, self.b1, self.b2 = f32(momentum), f32(beta1), f32(beta2)
        self.eps = f32(eps)
        self.state = {}
        self.raw = {}
        self.p1 = self.p2 = f32(1.0)

    def rule(self, name, p, g):
        if self.kind == "sgd":
            return p - self.lr * g
        st = self.state.setdefault(name, [torch.zeros_like(p),
                                          torch.zeros_like(p)])
        if self.kind == "momentum":
            st[0] = st[0] * self.mu + g
            return p - self.lr * st[0]
        st[0] = st[0] * self.b1 + g * (f32(1.0) - self.b1)
        st[1] = st[1] * self.b2 + (g * g) * (f32(1.0) - self.b2)
        mhat = st[0] / (f32(1.0) - self.p1)
        den = torch.sqrt(st[1] / (f32(1.0) - self.p2)) + self.eps
        return p - self.lr * (mhat / den)

    def int32_step(self, name, p, params):
        """An int32 bias: the rule's step in integer units from p = 0, then
        q + round(step) in int64, ties to the even sum, saturated."""
        scale = params[0]
        g = p.grad.float()
        g = g / scale if self.qas else g * scale
        delta = self.rule(name, torch.zeros_like(g), g).double()
        floor = torch.floor(delta)
        q, base = p.long(), floor.long()
        tied = base + ((q + base) & 1)
        r = torch.where(delta - floor == 0.5, tied, torch.round(delta).long())
        p.copy_(torch.clamp(q + r, -2**31, 2**31 - 1).double())

    def step(self, ev):
        self.p1, self.p2 = self.p1 * self.b1, self.p2 * self.b2
        with torch.no_grad():
            for name, p in ev.leaves.items():
                if p.grad is None:
                    continue
                if name in ev.bias_params:
                    self.int32_step(name, p, ev.bias_params[name])
                elif name in ev.weight_params and ev.weight_update == "int8":
                    scale, zero, lo, hi, axis = ev.weight_params[name]
                    s = ref.along(scale, axis, p.dim())
                    z = ref.along(zero.float(), axis, p.dim())
                    g = p.grad / s if self.qas else p.grad * s
                    raw = self.rule(name, p - z, g)
                    self.raw[name] = raw + z  # (before rounding: a report)
                    v = torch.round(raw) + z
                    p.copy_(torch.clamp(v, lo, hi))
                else:
                    p.copy_(self.rule(name, p, p.grad))
                p.grad = None


def step(ev, x, label, masks=None):
    logits = ev.run(x)
    loss = F.cross_entropy(logits, torch.tensor([label]))
    loss.backward()
    for n, mask in (masks or {}).items():
        ev.leaves[n].grad *= mask
    return float(loss)


def channel_axis(node, shape):
    """The axis of an int8 weight whose slices a sparse update selects:
    input channels (a depthwise convolution's filters), or None for a
    grouped convolution."""
    a = ref.attrs(node)
    if node.op_type != "Conv":
        return 1 if a.get("transB", 0) else 0
    group = a.get("group", 1)
    if group == 1:
        return 1
    return 0 if group == shape[0] and shape[1] == 1 else None


def selectable(ev, int8_names, ratio):
    """{name: (axis, m)} of the int8 weights a ratio selects channels of."""
    out = {}
    for n in int8_names:
        axis = channel_axis(ev.weight_layers[n], ev.leaves[n].shape)
        if axis is None:
            continue
        c = ev.leaves[n].shape[axis]
        m = min(max(math.ceil(ratio * c), 1), c)
        if m < c:
            out[n] = (axis, m)
    return out


def static_masks(ev, chosen):
    """The reference's static selection: per weight the m channels of
    largest L2 norm of the real values (float64), ties to the lower."""
    masks = {}
    for n, (axis, m) in chosen.items():
        real = ev.leaves[n].detach().double()
        if n in ev.weight_params:  # an int8 weight: its real values
            scale, zero, _, _, qaxis = ev.weight_params[n]
            real = (real - ref.along(zero.double(), qaxis, real.dim())) * \
                ref.along(scale.double(), qaxis, real.dim())
        norm = (real.movedim(axis, 0).reshape(real.shape[axis], -1) ** 2) \
            .sum(1).numpy()
        keep = np.argsort(-norm, kind="stable")[:m]
        mask = torch.zeros_like(ev.leaves[n])
        mask.index_fill_(axis, torch.from_numpy(keep.copy()), 1.0)
        masks[n] = mask
    return masks


def dgsu_step_check(p0, p1, dense1, chosen):
    """After one DGSU step: each channel kept its value or took the dense
    reference's; at most m moved. {check: passed}."""
    out = {}
    for n, (axis, m) in chosen.items():
        a, b, d = (t.movedim(axis, 0).reshape(t.shape[axis], -1)
                   for t in (p0[n], p1[n], dense1[n]))
        moved = (a != b).any(1)
        wrong = int((moved & (b != d).any(1)).sum())
        out[f"dgsu {n}: {int(moved.sum())} of {a.shape[0]} channels moved "
            f"(at most {m}), {wrong} differ from the reference"] = \
            wrong == 0 and int(moved.sum()) <= m
    return out


def split(flat_bytes, leaves, names, int8_names, int32_names=()):
    """The harness's dump, parameter by parameter, as float tensors
    (`int8_names`: the int8 weights, each with whether it is signed;
    `int32_names`: int32 biases, as float64)."""
    out, at = {}, 0
    for n in names:
        p = leaves[n]
        if n in int32_names:
            v = np.frombuffer(flat_bytes, np.int32, p.numel(), at)
            out[n] = torch.from_numpy(v.astype(np.float64)).reshape(p.shape)
            at += 4 * p.numel()
        elif n in int8_names:
            v = np.frombuffer(flat_bytes, np.int8, p.numel(), at)
            v = v if int8_names[n] else v.view(np.uint8)
            out[n] = torch.from_numpy(v.astype(np.float32)).reshape(p.shape)
            at += p.numel()
        else:
            v = np.frombuffer(flat_bytes, np.float32, p.numel(), at)
            out[n] = torch.from_numpy(v.copy()).reshape(p.shape)
            at += 4 * p.numel()
    return out


GRAD_LR = 1048576.0  # 2^20: the earliest gradients are ~1e-8


def check_bit_identical(alt, flag, compile_cmd, build, steps):
    """The package compiled with `flag` added, built and run as the main
    one on the same samples in `alt`, dumps the same bytes."""
    os.makedirs(alt, exist_ok=True)
    run(compile_cmd + [flag], alt)
    for f in ("h.cpp", "x.bin", "y.bin"):
        shutil.copy(os.path.join(alt, "..", f), alt)
    run(build, alt)
    run(["./h", str(steps)], alt)
    outputs = ["params0.bin", "gradstep.bin", "losses.bin", "params1.bin",
               "params_last.bin"]
    read = lambda d, f: open(os.path.join(d, f), "rb").read()  # noqa: E731
    differ = [f for f in outputs
              if read(os.path.join(alt, ".."), f) != read(alt, f)]
    if differ:
        raise SystemExit(f"FAILED: with {flag}: {', '.join(differ)} differ")
    print(f"ok   bit-identical to {flag}")


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("model")
    ap.add_argument("reference")
    ap.add_argument("workdir")
    ap.add_argument("--mcutrain", required=True)
    ap.add_argument("--weight-update", default="int8",
                    choices=["int8", "fp32-master"])
    ap.add_argument("--qas", default="on", choices=["on", "off"])
    ap.add_argument("--optimizer", default="sgd",
                    choices=["sgd", "momentum", "adam"])
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--sanitize", action="store_true")
    ap.add_argument("--sparsity", default="none")
    ap.add_argument("--flag", action="append", default=[],
                    help="another mcutrain compile flag (repeatable)")
    ap.add_argument("--fuzz", action="store_true",
                    help="bench/difftest.py's settings: the reference trains "
                    "what the package does (a --trainable or --update auto "
                    "--flag chose it) instead of requiring every parameter; "
                    "the int8 weights after the last step must equal the "
                    "reference's; none need move (a few steps of a random "
                    "model can round every update away)")
    ap.add_argument("--bit-identical-to", action="append", default=[],
                    metavar="FLAG",
                    help="also compile with FLAG (e.g. --pack-masks=false), "
                    "run the same harness and require every dump (gradient "
                    "step, parameters, losses) to be bit-identical")
    args = ap.parse_args()
    kind = args.sparsity.partition(":")[0]
    if kind not in ("none", "static", "dgsu", "tinyprop", "tinyprop2"):
        ap.error(f"--sparsity {args.sparsity}: not checked here")
    mcutrain = shutil.which(args.mcutrain) or os.path.abspath(args.mcutrain)
    w = args.workdir
    os.makedirs(w, exist_ok=True)
    compile_cmd = [mcutrain, "compile", os.path.abspath(args.model), "-o",
                   "pkg", "--name", "m", "--lr", str(args.lr),
                   "--weight-update", args.weight_update, "--qas", args.qas,
                   "--optimizer", args.optimizer, "--sparsity", args.sparsity
                   ] + args.flag
    run(compile_cmd, w)
    with open(os.path.join(w, "h.cpp"), "w") as f:
        f.write(HARNESS.replace("GRAD_LR", f"{GRAD_LR}f"))
    flags = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all",
             "-O1"] if args.sanitize else ["-O2"]
    build = ["g++", "-std=c++17", "-Wall", "-Wextra", "-Werror", *flags,
             "-Ipkg", "h.cpp", "pkg/m.cpp", "pkg/m_params.cpp", "-o", "h"]
    run(build, w)

    model = ref.integer_ops_to_qdq(onnx.load(args.model))
    classes = model.graph.output[0].type.tensor_type.shape.dim[1].dim_value
    xs = np.load(args.reference)["input"].astype(np.float32)
    rng = np.random.default_rng(0)
    order = [i % len(xs) for i in range(args.steps)]
    # A fixed label per input: the model can learn them, the loss falls.
    labels = rng.integers(0, classes, size=len(xs))[order].astype(np.int32)
    np.concatenate([xs[i][None] for i in order]).tofile(
        os.path.join(w, "x.bin"))
    labels.tofile(os.path.join(w, "y.bin"))
    run(["./h", str(args.steps)], w)
    for i, flag in enumerate(args.bit_identical_to):
        check_bit_identical(os.path.join(w, f"alt{i}"), flag, compile_cmd,
                            build, args.steps)

    tinyprop = None
    if kind.startswith("tinyprop"):
        tinyprop = [0.1, 0.9, 0.5, 0.05 if kind == "tinyprop2" else 0.0]
        rest = args.sparsity.partition(":")[2]
        for i, v in enumerate(rest.split(",") if rest else []):
            tinyprop[i] = float(v)
    ev = TrainingEvaluator(ref.Graph(model), args.weight_update, tinyprop)
    ev.run(xs[order[0]][None])
    # The package's order of its trainable parameters (the harness's).
    with open(os.path.join(w, "names.txt")) as f:
        names = f.read().splitlines()
    missing = [n for n in names if n not in ev.leaves]
    if missing or (len(names) != len(ev.leaves) and
                   not args.fuzz):
        sys.exit(f"FAIL trainable parameters: package {names}, "
                 f"reference {sorted(ev.leaves)}")
    for n, leaf in ev.leaves.items():  # (--fuzz)
        if n not in names:
            leaf.requires_grad_(False)
    # The int8 weights, and whether their storage is signed.
    int8_names = {n: ev.weight_params[n][2] < 0 for n in names
                  if args.weight_update == "int8" and n in ev.weight_params}
    int32_names = {n for n in ev.bias_params if n in names}
    read = lambda f: split(open(os.path.join(w, f), "rb").read(),  # noqa
                           ev.leaves, names, int8_names, int32_names)
    p0 = read("params0.bin")
    worst, ok = {}, True
    for n in names:
        if not torch.equal(p0[n], ev.leaves[n].detach()):
            print(f"FAIL initial {n} differs")
            ok = False
    initial = {n: ev.leaves[n].detach().clone() for n in names}
    ratio = float(args.sparsity.partition(":")[2]) \
        if kind in ("static", "dgsu") else 1.0
    chosen = selectable(ev, int8_names, ratio)
    if args.fuzz and kind in ("static", "dgsu"):
        # Which weights a mode selects (float ones too) is the compiler's
        # rule, read from report.json; which channels, the reference's.
        report = json.load(open(os.path.join(w, "pkg", "report.json")))
        chosen = {p["onnx_name"]: (p["sparse_update"]["channel_axis"],
                                   p["sparse_update"]["kept"])
                  for p in report["parameters"]["list"]
                  if "sparse_update" in p and p["onnx_name"] in names}
    masks = static_masks(ev, chosen) if kind == "static" else None
    # DGSU chooses at run time: a float weight's step is not replayed.
    run_time = set(chosen) - set(int8_names) if kind == "dgsu" else set()
    exact = kind in ("none", "static")  # the reference follows every step

    # Gradients: one GRAD_LR step moves each float parameter by -GRAD_LR
    # times its gradient (SGD, and momentum's first step; Adam's first
    # step is lr * sign(g), so its gradients are checked through the
    # steps only).
    step(ev, xs[order[0]][None], int(labels[0]), masks)
    g1 = read("gradstep.bin")
    for n in names:
        if n in int8_names or n in int32_names or args.optimizer == "adam" \
                or n in run_time:
            continue
        g_ref = ev.leaves[n].grad
        g_c = (p0[n] - g1[n]) / GRAD_LR
        scale = max(float(g_ref.abs().max()), 1e-12)
        worst[f"grad {n}"] = float((g_c - g_ref).abs().max()) / scale

    # One step at --lr, then --steps steps.
    opt = Optimizer(args.optimizer, args.lr, args.qas == "on")
    opt.step(ev)
    p1 = read("params1.bin")
    flips1 = bias_flips1 = 0
    dense1 = {n: ev.leaves[n].detach() for n in names}
    steps_ok = dgsu_step_check(p0, p1, dense1, {
        n: c for n, c in chosen.items() if n in int8_names}) \
        if kind == "dgsu" else {}
    for n in names:
        if n in int32_names:
            bias_flips1 += int((p1[n] != ev.leaves[n].detach()).sum())
        elif n in int8_names:
            if kind != "dgsu":  # DGSU: dgsu_step_check
                differ = p1[n] != ev.leaves[n].detach()
                flips1 += int(differ.sum())
                for c, raw in list(zip(p1[n][differ].tolist(),
                                       opt.raw[n][differ].tolist()))[:4]:
                    print(f"     {n}: package {c:.0f}, reference {raw:.6f} "
                          f"before rounding")
        elif n not in run_time:
            d = float((p1[n] - ev.leaves[n].detach()).abs().max())
            worst[f"step1 {n}"] = d / max(
                float(ev.leaves[n].detach().abs().max()), 1e-12)
    losses_c = np.fromfile(os.path.join(w, "losses.bin"), dtype=np.float32)
    with torch.no_grad():
        for n in names:
            ev.leaves[n].copy_(initial[n])
    opt = Optimizer(args.optimizer, args.lr, args.qas == "on")
    losses = []
    for s in range(args.steps if exact else 0):
        losses.append(step(ev, xs[order[s]][None], int(labels[s]), masks))
        opt.step(ev)
    # (--fuzz: relative to the run's largest loss; a loss near 0 is noise)
    top = max((abs(b) for b in losses), default=0.0)
    loss_err = max((abs(a - b) / max(top if args.fuzz else abs(b), 1e-6)
                    for a, b in zip(losses_c, losses)), default=0.0)
    plast = read("params_last.bin")
    same = total = moved = 0
    unselected = 0  # elements of channels a static selection left out
    for n in int8_names:
        same += int((plast[n] == ev.leaves[n].detach()).sum())
        moved += int((plast[n] != p0[n]).sum())
        total += plast[n].numel()
        if masks and n in masks:
            unselected += int(((plast[n] != p0[n]) & (masks[n] == 0)).sum())
    for k, v in worst.items():
        good = v <= 1e-4
        ok &= good
        print(f"{'ok  ' if good else 'FAIL'} {k}: {v:.2e}")
    for k, good in steps_ok.items():
        ok &= good
        print(f"{'ok  ' if good else 'FAIL'} {k}")
    if kind != "dgsu":
        print(f"{'ok  ' if flips1 == 0 else 'FAIL'} int8 weights after one "
              f"step: {flips1} differ")
        ok &= flips1 == 0
    if int32_names:
        print(f"{'ok  ' if bias_flips1 == 0 else 'FAIL'} int32 biases after "
              f"one step: {bias_flips1} differ")
        ok &= bias_flips1 == 0
    trend = (f"loss {np.mean(losses_c[:10]):.4f} -> "
             f"{np.mean(losses_c[-10:]):.4f}")
    if exact:
        good = loss_err <= 1e-3
        print(f"{'ok  ' if good else 'FAIL'} loss trajectory ({args.steps} "
              f"steps): max relative difference {loss_err:.2e}; {trend}")
    else:  # the run-time choices are not replayed past the first step
        good = bool(np.all(np.isfinite(losses_c)))
        print(f"{'ok  ' if good else 'FAIL'} losses finite ({args.steps} "
              f"steps); {trend}")
    ok &= good
    if masks:
        good = unselected == 0
        ok &= good
        print(f"{'ok  ' if good else 'FAIL'} unselected channels: "
              f"{unselected} elements moved")
    if total:
        # A test that cannot fail otherwise: the updates must move weights
        # (with --qas off, TTE's finding: gradients scale^2 too small
        # round every update away).
        good = moved > 0 or args.qas == "off" or args.fuzz
        if args.fuzz and exact:
            good = same == total
        ok &= good
        equal = (f", {100.0 * same / total:.2f}% equal to the reference's"
                 if exact else "")
        print(f"{'ok  ' if good else 'FAIL'} int8 weights after {args.steps} "
              f"steps: {moved} of {total} moved{equal}")
    if int32_names and exact:
        same = sum(int((plast[n] == ev.leaves[n].detach()).sum())
                   for n in int32_names)
        total = sum(plast[n].numel() for n in int32_names)
        moved = sum(int((plast[n] != p0[n]).sum()) for n in int32_names)
        good = same == total and (moved > 0 or args.qas == "off" or args.fuzz)
        ok &= good
        print(f"{'ok  ' if good else 'FAIL'} int32 biases after {args.steps} "
              f"steps: {moved} of {total} moved, {same} equal to the "
              f"reference's")
    print("PASSED" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
