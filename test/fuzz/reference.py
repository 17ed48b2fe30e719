"""The PyTorch side of one differential test: the ONNX model evaluated by
onnx_torch, trained with torch autograd and torch.optim exactly as the
harness trains the package, in float64 (the reference) and float32 (how far
PyTorch itself moves when it computes in the device's precision).

Tolerance rule, per compared tensor (C++ value c, float64 reference r,
float32 reference q):
    max |c - r|  <=  1e-4 * S  +  32 * max |q - r|
S is max |r| for predictions and losses; for parameters after a step it is
the step's size, max(max |r - p0|, 1e-3 * max |p0|), and parameters also
get 2 float32 ulps of max |p0| (a float32 parameter holds its change only to
its own precision: a gradient that is float noise around 0 moves it by an
ulp). The second term admits ill-conditioned computations PyTorch's float32
result is itself far from.
Adam and Adagrad normalise each element's step by its gradient's size, so
an element whose gradient is float noise (below 1e-4 of the tensor's
largest at some step, e.g. a bias before a normalization) takes a step of
arbitrary sign: those elements are not compared (their count is reported).
"""
import math

import numpy as np
import torch
import torch.nn.functional as F
from onnx import numpy_helper

import onnx_torch


def loss_of(out, y, mse):
    if mse:
        return F.mse_loss(out, y)
    return F.cross_entropy(out, y.long())


def make_optimizer(params, o, lr):
    wd = o.get("weight-decay", 0.0)
    opt = o.get("optimizer", "sgd")
    if opt == "sgd":
        return torch.optim.SGD(params, lr=lr, weight_decay=wd)
    if opt in ("momentum", "nesterov"):
        return torch.optim.SGD(params, lr=lr, momentum=o["momentum"],
                               dampening=o.get("dampening", 0.0),
                               nesterov=opt == "nesterov", weight_decay=wd)
    if opt == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=wd)
    return torch.optim.Adagrad(params, lr=lr, lr_decay=o.get("lr-decay", 0.0),
                               weight_decay=wd, eps=1e-10)


class Reference:
    """One model's training in PyTorch at one precision."""

    def __init__(self, model, trained, aliases, dtype, sparse):
        self.model, self.dtype = model, dtype
        init = {t.name: numpy_helper.to_array(t)
                for t in model.graph.initializer}
        # An untied alias (Identity of an initializer) is a parameter of its
        # own with the initializer's values.
        for alias, src in aliases.items():
            init[alias] = init[src]
        # A trainable folded Constant: its node's value.
        for n in model.graph.node:
            if n.op_type == "Constant" and n.output[0] in trained:
                init[n.output[0]] = onnx_torch.attrs_of(n)["value"]
        self.names = trained
        self.params = {}
        for name, arr in init.items():
            t = torch.tensor(arr, dtype=dtype if arr.dtype.kind == "f"
                             else torch.int64)
            if name in trained:
                t.requires_grad_(True)
            self.params[name] = t
        self.masks = static_masks(self.params, sparse)

    def forward(self, x):
        feeds = {self.model.graph.input[0].name: x}
        return onnx_torch.evaluate(self.model, feeds, self.params,
                                   self.dtype)[0]

    def leaves(self):
        return [self.params[n] for n in self.names]

    def snapshot(self):
        return {n: self.params[n].detach().double().numpy().ravel().copy()
                for n in self.names}

    def step(self, opt, x, y, mse):
        opt.zero_grad()
        loss = loss_of(self.forward(x), y, mse)
        loss.backward()
        grads = {}
        for n in self.names:
            p = self.params[n]
            if p.grad is None:
                p.grad = torch.zeros_like(p)
            if n in self.masks:
                p.grad.mul_(self.masks[n])
            grads[n] = p.grad.detach().double().numpy().ravel().copy()
        before = {n: self.params[n].detach().clone() for n in self.masks}
        opt.step()
        # A sparse update leaves the unselected channels alone entirely
        # (weight decay included): they could stay in flash.
        with torch.no_grad():
            for n, mask in self.masks.items():
                p = self.params[n]
                p.copy_(torch.where(mask > 0, p, before[n]))
        return float(loss), grads


def initializer_shapes(model):
    return {t.name: list(t.dims) for t in model.graph.initializer}


def sparse_updates(report):
    """report.json's sparse updates: parameter -> (channel axis, channels,
    kept). Which weights a mode can select is the compiler's rule (a Conv's
    input channels, a depthwise Conv's filters, a 2-D product's input
    features); which channels, and the arithmetic, the oracle checks."""
    return {p["onnx_name"]: (p["sparse_update"]["channel_axis"],
                             p["sparse_update"]["channels"],
                             p["sparse_update"]["kept"])
            for p in report["parameters"]["list"] if "sparse_update" in p}


def static_masks(params, sparse):
    """--sparsity static: each listed weight keeps the gradient of its
    `kept` channels of largest L2 norm (ties to the lower channel)."""
    masks = {}
    for w, (axis, c, keep) in sparse.items():
        v = params[w].detach().double().numpy()
        if v.shape[axis] != c or not 1 <= keep <= c:
            raise ValueError(f"report: {w} has no {c} channels on {axis}")
        norm = (np.moveaxis(v, axis, 0).reshape(c, -1) ** 2).sum(1)
        chosen = np.argsort(-norm, kind="stable")[:keep]
        mask = np.zeros(v.shape)
        idx = [slice(None)] * v.ndim
        idx[axis] = chosen
        mask[tuple(idx)] = 1.0
        masks[w] = torch.tensor(mask, dtype=params[w].dtype)
    return masks


def trained_names(report):
    """The trainable parameters the package reports, in its order."""
    return [p["onnx_name"] for p in report["parameters"]["list"]
            if p["trainable"]]


def untied_aliases(report):
    return {p["onnx_name"]: p["alias_of"] for p in report["parameters"]["list"]
            if p.get("origin") == "untied alias"}


def run_reference(model, report, options, xs, ys, mse, steps):
    """Both precisions: predictions, the lr=1 step, then `steps` steps.
    Returns ({dtype: results}, trained names)."""
    trained = trained_names(report)
    aliases = untied_aliases(report)
    sparse = sparse_updates(report) if report.get(
        "sparsity", "none").startswith("static") else {}
    out = {}
    for dtype in (torch.float64, torch.float32):
        res = {}
        ref = Reference(model, trained, aliases, dtype, sparse)
        x0 = to_input(xs[0], dtype)
        yt = [to_label(y, dtype, mse) for y in ys]
        res["params0"] = ref.snapshot()
        with torch.no_grad():
            res["predict"] = ref.forward(x0).double().numpy().ravel()
        opt = make_optimizer(ref.leaves(), options, 1.0)
        res["grad_loss"], res["grads"] = ref.step(opt, x0, yt[0], mse)
        res["gradstep"] = ref.snapshot()
        ref = Reference(model, trained, aliases, dtype, sparse)
        opt = make_optimizer(ref.leaves(), options, options["lr"])
        losses, all_grads = [], []
        for s in range(steps):
            loss, g = ref.step(opt, to_input(xs[s], dtype), yt[s], mse)
            losses.append(loss)
            all_grads.append(g)
            if s == 0:
                res["params1"] = ref.snapshot()
        res["losses"] = np.array(losses)
        res["params_last"] = ref.snapshot()
        res["train_grads"] = all_grads
        out[dtype] = res
    return out, trained


def to_input(x, dtype):
    t = torch.from_numpy(np.ascontiguousarray(x))
    return t.to(dtype) if t.is_floating_point() else t.long()


def to_label(y, dtype, mse):
    t = torch.from_numpy(np.ascontiguousarray(y))
    return t.to(dtype) if mse else t.long()


def tolerance_error(c, r, q, scale, atol=0.0):
    """(max |c - r|) / allowed, where allowed = 1e-4 * scale + 32 |q - r| +
    atol: <= 1 passes."""
    c, r, q = (np.asarray(v, dtype=np.float64) for v in (c, r, q))
    if c.size == 0:
        return 0.0
    allowed = 1e-4 * scale + 32 * float(np.max(np.abs(q - r))) + atol
    err = float(np.max(np.abs(c - r)))
    if not np.all(np.isfinite(c)):
        return math.inf
    return err / max(allowed, 1e-30)

