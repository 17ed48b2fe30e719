#!/usr/bin/python3
"""torchvision architectures, exported as a user would, train as in PyTorch.

  bench/torchvision_check.py [MODEL ...] [--opsets 13,17] [--work DIR]
                             [--mcutrain PATH]

For each model (default: all of MODELS) and opset: the model with random
weights and randomised BatchNorm statistics (10 classes, eval mode) is
exported at 64x64 by torch.onnx.export with its defaults (constant folding:
BatchNorm folded into the convolutions, equal initializers merged behind
Identity nodes), compiled with `--trainable all`, built -O2 with the
package's harness and run. The reference is the same model with each
BatchNorm folded into the convolution that feeds it (torch's
fuse_conv_bn_eval, as the exporter folds), in float64, its parameters set
from the package's initial values: ONNX parameter -> module parameter by the
order of the layers (the k-th Conv node is the k-th Conv2d the forward pass
calls, Gemm nodes are Linear layers; untied aliases map to their own
layer's parameter). Checked, relative to the reference tensor's largest
magnitude (gradients: max(max|g|, 1e-3 max|p|), as torch_reference.py):
predict() (the unfused float32 model's output too), the gradient of every
parameter after one step at learning rate 1, and the parameters after one
SGD step at 0.05, within 1e-4. The last line is `N runs, M failed`.
"""
import argparse
import copy
import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import onnx
import torch
import torch.nn as nn
import torchvision

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "test", "e2e"))
from torch_reference import HARNESS  # noqa: E402

MODELS = ["squeezenet1_1", "shufflenet_v2_x0_5", "mnasnet0_5",
          "mobilenet_v3_small", "resnet18", "efficientnet_b0",
          "regnet_x_400mf", "googlenet"]
LIMIT = 1e-4
LR = 0.05
# ONNX node type -> module type whose parameters its initializer inputs are
# (input slot -> parameter name).
PARAM_NODES = {"Conv": (nn.Conv2d, {1: "weight", 2: "bias"}),
               "Gemm": (nn.Linear, {1: "weight", 2: "bias"}),
               "BatchNormalization": (nn.BatchNorm2d, {1: "weight",
                                                       2: "bias"}),
               "PRelu": (nn.PReLU, {1: "weight"})}


def build(name, seed):
    torch.manual_seed(seed)
    kw = {"num_classes": 10}
    if name == "googlenet":
        kw.update(aux_logits=False, init_weights=True)
    model = getattr(torchvision.models, name)(**kw).eval()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    return model


def fold_batchnorms(model, x):
    """A copy with every BatchNorm2d whose input is a Conv2d's output folded
    into that convolution (found by running the model with hooks)."""
    from torch.nn.utils.fusion import fuse_conv_bn_eval
    names = {m: n for n, m in model.named_modules()}
    made, pairs, keep = {}, [], []

    def conv_hook(m, _, out):
        made[id(out)] = m
        keep.append(out)

    def bn_hook(m, inp, _):
        if id(inp[0]) in made:
            pairs.append((made[id(inp[0])], m))
    hooks = [m.register_forward_hook(conv_hook) for m in model.modules()
             if isinstance(m, nn.Conv2d)]
    hooks += [m.register_forward_hook(bn_hook) for m in model.modules()
              if isinstance(m, nn.BatchNorm2d)]
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    fused = copy.deepcopy(model)
    for conv, bn in pairs:
        for mod, new in ((conv, fuse_conv_bn_eval(conv, bn)),
                         (bn, nn.Identity())):
            parent, _, leaf = names[mod].rpartition(".")
            setattr(fused.get_submodule(parent), leaf, new)
    return fused, len(pairs)


def layer_order(model, x):
    """The modules with parameters of their own, in the order the forward
    pass calls them."""
    order = []
    hooks = [m.register_forward_hook(lambda m, i, o: order.append(m))
             for m in model.modules()
             if any(True for _ in m.parameters(recurse=False))]
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    return order


def map_parameters(graph, order):
    """ONNX parameter name -> (module, parameter name), by layer order."""
    inits = {i.name for i in graph.initializer}
    alias = {n.output[0] for n in graph.node
             if n.op_type == "Identity" and n.input[0] in inits}
    nodes = [n for n in graph.node if n.op_type in PARAM_NODES and any(
        i in inits or i in alias for i in n.input[1:])]
    if len(nodes) != len(order):
        raise SystemExit(f"FAILED: {len(nodes)} parameter nodes in the graph "
                         f"but {len(order)} layers with parameters")
    mapping = {}
    for node, mod in zip(nodes, order):
        kind, slots = PARAM_NODES[node.op_type]
        if not isinstance(mod, kind):
            raise SystemExit(f"FAILED: node {node.name} ({node.op_type}) "
                             f"meets a {type(mod).__name__} in layer order")
        for slot, pname in slots.items():
            if slot < len(node.input) and node.input[slot]:
                mapping[node.input[slot]] = (mod, pname)
    return mapping


def run(cmd, **kw):
    res = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if res.returncode != 0:
        raise SystemExit(f"FAILED: {' '.join(cmd)}\n{res.stdout}{res.stderr}")
    return res.stdout


def rel(a, b, floor=0.0):
    return float(np.max(np.abs(a - b))) / max(float(np.max(np.abs(b))), floor,
                                              1e-30)


def check(name, opset, work, mcutrain):
    """Returns {check: relative error} for one model at one opset."""
    if os.path.isdir(work):
        shutil.rmtree(work)
    os.makedirs(work)
    model = build(name, seed=1)
    x = torch.rand(2, 1, 3, 64, 64)
    fused, folded = fold_batchnorms(model, x[0])
    onnx_path = os.path.join(work, "model.onnx")
    torch.onnx.export(model, x[0], onnx_path, opset_version=opset)
    t0 = time.time()
    run([mcutrain, "compile", onnx_path, "-o", os.path.join(work, "pkg"),
         "--name", "net", "--trainable", "all", "--lr", str(LR)])
    t_compile = time.time() - t0
    y = np.random.RandomState(1).randint(0, 10, size=(2, 1)).astype(np.int32)
    x.numpy().tofile(os.path.join(work, "x.bin"))
    y.tofile(os.path.join(work, "y.bin"))
    with open(os.path.join(work, "harness.cpp"), "w") as f:
        f.write(HARNESS % {"name": "net", "steps": 2, "input": "float",
                           "label": "std::int32_t",
                           "label_size": "m::kBatch", "warmup": 0,
                           "grad_lr": "1.0f", "bad_label_check": ""})
    t0 = time.time()
    run(["g++", "-std=c++17", "-O2", "-Ipkg", "harness.cpp", "pkg/net.cpp",
         "pkg/net_params.cpp", "-o", "harness"], cwd=work)
    t_build = time.time() - t0
    run(["./harness", "x.bin", "y.bin"], cwd=work)

    report = json.load(open(os.path.join(work, "pkg", "report.json")))
    params = report["parameters"]["list"]
    names = [p["onnx_name"] for p in params if p["trainable"]]
    ref = fused.double()
    mapping = map_parameters(onnx.load(onnx_path).graph,
                             layer_order(ref, x[0].double()))
    missing = [n for n in names if n not in mapping]
    if missing:
        raise SystemExit(f"FAILED: no PyTorch parameter for {missing[:3]}")
    sizes = [int(np.prod(mapping[n][0].get_parameter(mapping[n][1]).shape))
             for n in names]
    offsets = np.cumsum([0] + sizes)

    def split(path):
        flat = np.fromfile(os.path.join(work, path), dtype=np.float32)
        return {n: flat[offsets[k]:offsets[k + 1]]
                for k, n in enumerate(names)}
    p0, pg, p1 = split("params0.bin"), split("gradstep.bin"), \
        split("params1.bin")
    # Untied aliases are separate tensors in the package: each maps to its
    # own layer's parameter.
    tensors = {}
    with torch.no_grad():
        for n in names:
            mod, pname = mapping[n]
            t = mod.get_parameter(pname)
            t.copy_(torch.from_numpy(p0[n].astype(np.float64)).view_as(t))
            tensors[n] = t
    worst = {}
    pred = np.fromfile(os.path.join(work, "predict.bin"), dtype=np.float32)
    with torch.no_grad():
        worst["predict vs unfused float32 model"] = rel(
            pred, model(x[0]).numpy().ravel())
    out = ref(x[0].double())
    worst["predict"] = rel(pred, out.detach().numpy().ravel())
    loss = nn.functional.cross_entropy(out, torch.from_numpy(y[0]).long())
    ref.zero_grad()
    loss.backward()
    for n in names:
        g_ref = tensors[n].grad.numpy().ravel()
        g_c = p0[n].astype(np.float64) - pg[n].astype(np.float64)
        floor = 1e-3 * float(np.max(np.abs(p0[n])))
        worst[f"grad {n}"] = rel(g_c, g_ref, floor)
        worst[f"param {n}"] = rel(p1[n].astype(np.float64),
                                  p0[n].astype(np.float64) - LR * g_ref)
    print(f"{name} opset {opset}: {len(names)} trainable tensors "
          f"({sum(sizes)} values), {folded} BatchNorms folded, "
          f"{sum(1 for n in names if n not in {i.name for i in onnx.load(onnx_path).graph.initializer})} "
          f"untied aliases; compile {t_compile:.1f} s, g++ {t_build:.1f} s")
    return worst


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("models", nargs="*", default=MODELS)
    ap.add_argument("--opsets", default="13,17")
    ap.add_argument("--work", default="/tmp/mcutrain-torchvision")
    ap.add_argument("--mcutrain",
                    default=os.path.join(ROOT, "build", "bin", "mcutrain"))
    ap.add_argument("--verbose", action="store_true",
                    help="print every check, not only the worst per kind")
    args = ap.parse_args()
    runs = failed = 0
    for name in args.models:
        for opset in [int(o) for o in args.opsets.split(",")]:
            runs += 1
            try:
                worst = check(name, opset, os.path.join(
                    args.work, f"{name}_{opset}"), args.mcutrain)
            except SystemExit as e:
                print(f"FAIL {name} opset {opset}: {e}")
                failed += 1
                continue
            bad = {k: v for k, v in worst.items() if not v <= LIMIT}
            kinds = {}
            for k, v in worst.items():
                kind = k.split()[0]
                if kinds.get(kind, (None, -1))[1] < v:
                    kinds[kind] = (k, v)
            for k, v in (worst.items() if args.verbose else kinds.values()):
                print(f"  {'ok  ' if v <= LIMIT else 'FAIL'} {k:50s} "
                      f"rel err {v:.2e}")
            for k, v in bad.items():
                print(f"  FAIL {k:50s} rel err {v:.2e} (limit {LIMIT:.0e})")
            failed += bool(bad)
    print(f"{runs} runs, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
