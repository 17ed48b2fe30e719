#!/usr/bin/python3
"""Parameters that torch.onnx.export merged behind Identity nodes train as in
PyTorch.

  shared_initializers.py CASE WORKDIR --mcutrain PATH

The exporter (do_constant_folding, its default) merges initializers of equal
value into one plus Identity nodes that alias it. Cases:
  two_conv       two Conv2d with zero-initialised biases and a Linear head
                 (conv2.bias becomes an alias of conv1.bias): 6 trainable
                 tensors, each equal to the PyTorch model's own parameter.
  two_conv_tied  the same with --tie-shared-initializers: 5 tensors, equal to
                 autograd through the ONNX graph (conv2.bias is conv1.bias).
  bn_block       a fresh stem (Conv-BN-ReLU) and torchvision's BasicBlock
                 (stride 2, 1x1 downsample) exported in eval mode: the
                 exporter folds BatchNorm into the convolutions and merges the
                 equal folded biases; equal to PyTorch's Conv-BN-fused model.
Every comparison is against a float64 PyTorch reference started from the
ONNX file's values, relative to the reference tensor's largest magnitude, at
1e-6: the first step's gradients (one step at learning rate 1024 resolves
them to float32 precision), the parameters after one and after ten SGD
steps, the predictions and the losses.
"""
import argparse
import json
import os
import shutil
import sys

import numpy as np
import onnx
import torch
import torch.nn as nn
from onnx import numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from torch_reference import HARNESS, print_checks, run  # noqa: E402

LIMIT = 1e-6
GRAD_LR = 1024.0  # a power of two: the step scales the gradient exactly
STEPS = 10


class TwoConv(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3)
        self.conv2 = nn.Conv2d(4, 4, 3)
        self.fc = nn.Linear(4 * 4 * 4, 3)
        nn.init.zeros_(self.conv1.bias)
        nn.init.zeros_(self.conv2.bias)

    def forward(self, x):
        x = torch.relu(self.conv2(torch.relu(self.conv1(x))))
        return self.fc(torch.flatten(x, 1))


class BnBlock(nn.Module):
    def __init__(self):
        super().__init__()
        from torchvision.models.resnet import BasicBlock
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(8), nn.ReLU())
        down = nn.Sequential(nn.Conv2d(8, 16, 1, stride=2, bias=False),
                             nn.BatchNorm2d(16))
        self.block = BasicBlock(8, 16, stride=2, downsample=down)
        self.fc = nn.Linear(16, 5)

    def forward(self, x):
        x = self.block(self.stem(x))
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1),
                                     1))

    def fused(self):
        """The model the exporter's graph computes: each BatchNorm folded
        into its convolution (eval mode), as PyTorch's own fusion does."""
        from torch.ao.quantization import fuse_modules
        return fuse_modules(self, [["stem.0", "stem.1"],
                                   ["block.conv1", "block.bn1"],
                                   ["block.conv2", "block.bn2"],
                                   ["block.downsample.0",
                                    "block.downsample.1"]])


CASES = {
    # model, input shape, trainable tensors expected, compile options
    "two_conv": (TwoConv, (1, 1, 8, 8), 6, []),
    "two_conv_tied": (TwoConv, (1, 1, 8, 8), 5, ["--tie-shared-initializers"]),
    "bn_block": (BnBlock, (1, 3, 16, 16), 10, []),
}


def onnx_values(graph):
    """Initializers and the Identity aliases of initializers, by name."""
    values = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    aliases = {}
    for n in graph.node:
        if n.op_type == "Identity" and n.input[0] in values:
            values[n.output[0]] = values[n.input[0]]
            aliases[n.output[0]] = n.input[0]
    return values, aliases


def reference_params(model, graph, shape):
    """ONNX weight/bias names -> the reference's parameters: the graph's
    Conv nodes in order are the model's Conv2d modules in forward order, its
    Gemm the Linear."""
    order = []
    hooks = [m.register_forward_hook(lambda m, i, o: order.append(m))
             for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    with torch.no_grad():
        model(torch.zeros(shape, dtype=torch.float64))
    for h in hooks:
        h.remove()
    nodes = [n for n in graph.node if n.op_type in ("Conv", "Gemm")]
    if len(nodes) != len(order):
        raise SystemExit(f"FAILED: {len(nodes)} Conv/Gemm nodes but "
                         f"{len(order)} layers in the reference")
    params = {}
    for node, layer in zip(nodes, order):
        params[node.input[1]] = layer.weight
        if len(node.input) > 2 and node.input[2]:
            params[node.input[2]] = layer.bias
    return params


def rel(c, t):
    """max |c - t| / max |t| (t a reference tensor)."""
    r = t.detach().numpy().ravel()
    c = np.asarray(c, dtype=np.float64).ravel()
    return float(np.max(np.abs(c - r)) / max(np.max(np.abs(r)), 1e-30))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("case", choices=sorted(CASES))
    ap.add_argument("workdir")
    ap.add_argument("--mcutrain", required=True)
    ap.add_argument("--lr", type=float, default=0.05)
    args = ap.parse_args()
    ctor, shape, expected, options = CASES[args.case]
    torch.manual_seed(3)
    np.random.seed(3)
    model = ctor().eval()
    if os.path.isdir(args.workdir):
        shutil.rmtree(args.workdir)
    os.makedirs(args.workdir)
    os.chdir(args.workdir)
    torch.onnx.export(model, torch.zeros(shape), "model.onnx", opset_version=13)
    graph = onnx.load("model.onnx").graph
    values, aliases = onnx_values(graph)
    # The premise: the exporter did merge equal initializers.
    if not aliases:
        raise SystemExit("FAILED: the export has no Identity alias to test")
    print(f"exporter aliases: {aliases}")

    run([args.mcutrain, "compile", "model.onnx", "-o", "pkg", "--name", "net",
         "--lr", str(args.lr)] + options)
    report = json.load(open("pkg/report.json"))
    trained = [p for p in report["parameters"]["list"] if p["trainable"]]
    names = [p["onnx_name"] for p in trained]
    print(f"trainable: {len(names)} (expected {expected}): {names}")
    if len(names) != expected:
        raise SystemExit("FAILED: wrong number of trainable tensors")
    for p in trained:
        if p["onnx_name"] in aliases:
            print(f"  {p['onnx_name']}: {p['origin']} of {p.get('alias_of')}")
            if (p["origin"], p.get("alias_of")) != ("untied alias",
                                                    aliases[p["onnx_name"]]):
                raise SystemExit("FAILED: report.json misstates the origin")

    classes = model(torch.zeros(shape)).shape[1]
    xs = np.random.rand(STEPS, *shape).astype(np.float32)
    ys = np.random.randint(0, classes, size=(STEPS, 1)).astype(np.int32)
    xs.tofile("x.bin")
    ys.tofile("y.bin")
    with open("harness.cpp", "w") as f:
        f.write(HARNESS % {"name": "net", "steps": STEPS, "input": "float",
                           "label": "std::int32_t", "label_size": "m::kBatch",
                           "warmup": 0, "grad_lr": f"{GRAD_LR}f",
                           "bad_label_check": ""})
    run(["g++", "-std=c++17", "-O1", "-g", "-Wall", "-Wextra", "-Werror",
         "-fno-exceptions", "-fno-rtti", "-Ipkg",
         "-fsanitize=address,undefined", "-fno-sanitize-recover=all",
         "harness.cpp", "pkg/net.cpp", "pkg/net_params.cpp", "-o", "harness"])
    run(["./harness", "x.bin", "y.bin"])

    # The float64 reference, from the ONNX file's values.
    if args.case == "two_conv_tied":
        model.conv2.bias = model.conv1.bias  # the ONNX graph's one tensor
    ref = (model.fused() if hasattr(model, "fused") else model).double()
    params = reference_params(ref, graph, shape)
    if args.case == "two_conv":
        # Untied parameters are the PyTorch model's own, by its names.
        own = dict(ref.named_parameters())
        if (sorted(names) != sorted(own) or
                any(params[n] is not own[n] for n in names)):
            raise SystemExit("FAILED: the names are not PyTorch's")
    worst, limits = {}, {}
    for n in names:
        if n not in params:
            raise SystemExit(f"FAILED: {n} is not a Conv/Gemm weight or bias")
        # The reference is the right tensor (folding in PyTorch and in the
        # exporter round differently), then starts from the ONNX value.
        key = f"reference {n} is the ONNX value"
        worst[key] = rel(values[n], params[n])
        limits[key] = 1e-5
        with torch.no_grad():
            params[n].copy_(torch.from_numpy(values[n].astype(np.float64)))
    for p in ref.parameters():
        p.requires_grad_(False)
    tensors = [params[n] for n in names]
    for t in tensors:
        t.requires_grad_(True)

    sizes = [t.numel() for t in tensors]

    def dumped(path):
        flat = np.fromfile(path, dtype=np.float32).astype(np.float64)
        return np.split(flat, np.cumsum(sizes)[:-1])

    p0 = dumped("params0.bin")
    for n, c, t in zip(names, p0, tensors):
        worst[f"initial {n}"] = rel(c, t)
    x = [torch.from_numpy(v.astype(np.float64)) for v in xs]
    y = [torch.from_numpy(v).long() for v in ys]
    out = ref(x[0])
    worst["predict"] = rel(np.fromfile("predict.bin", np.float32), out)
    nn.functional.cross_entropy(out, y[0]).backward()
    for n, c0, c1, t in zip(names, p0, dumped("gradstep.bin"), tensors):
        worst[f"grad {n}"] = rel((c0 - c1) / GRAD_LR, t.grad)
        t.grad = None
    opt = torch.optim.SGD(tensors, lr=args.lr)
    losses = []
    for s in range(STEPS):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(ref(x[s]), y[s])
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if s == 0:
            for n, c, t in zip(names, dumped("params1.bin"), tensors):
                worst[f"after 1 step {n}"] = rel(c, t)
    for n, c, t in zip(names, dumped("params_last.bin"), tensors):
        worst[f"after {STEPS} steps {n}"] = rel(c, t)
    c_losses = np.fromfile("losses.bin", dtype=np.float32)
    worst["losses"] = float(np.max(np.abs(c_losses - losses) /
                                   np.abs(losses)))

    failed = print_checks(worst, limits, default=LIMIT)
    print(f"losses C++ {c_losses[0]:.6f} .. {c_losses[-1]:.6f}; "
          f"PyTorch {losses[0]:.6f} .. {losses[-1]:.6f}")
    if failed:
        raise SystemExit("FAILED: generated code disagrees with PyTorch")
    print("PASSED")


if __name__ == "__main__":
    main()
