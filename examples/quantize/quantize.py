#!/usr/bin/python3
"""Post-training quantization of a PyTorch model to a QDQ ONNX file.

  quantize.py NAME OUT.onnx [--calibration 200] [--data INPUTS.npy]
                            [--opset 13] [--reference REF.npz]

NAME is a zoo model (examples/zoo/zoo.py list) or `demo` (the Fashion-MNIST
demo CNN). The model's BatchNorms are folded into the Conv/Linear before
them (eval mode), then torch.ao.quantization's FX mode inserts FakeQuantize
modules - weights per output channel, symmetric int8 (-128..127), every
activation per tensor uint8 (0..255), the ranges torch 1.13's ONNX exporter
accepts - and calibrates their observers on real inputs with the
quantization itself off (histogram observers for activations, min/max for
weights). The fake-quant model, quantization on, is exported at opset 13:
each quantized tensor becomes a QuantizeLinear/DequantizeLinear pair, the
layers between them stay float ops; mcutrain makes each Conv/Gemm between
such pairs an int8 layer (docs/quantization.md).

Calibration inputs: --data (a float32 .npy of [N, ...] in the model's input
shape) or, by default, Fashion-MNIST images (/usr/share/datasets) scaled to
[-1, 1] and resized to the model's input (repeated over its channels; for a
vector input, the resized image flattened) - real images, a stand-in for a
model trained on other data. --reference writes a few other inputs with the
float and the fake-quant model's outputs (the latter also evaluated in
float64), to check a compiled package against.
"""
import argparse
import copy
import os
import sys
import warnings

import numpy as np
import torch
import torch.fx
import torch.nn as nn
from torch.ao.quantization import (FakeQuantize, HistogramObserver,
                                   PerChannelMinMaxObserver, QConfig,
                                   QConfigMapping)
from torch.ao.quantization.quantize_fx import prepare_qat_fx
from torch.nn.utils.fusion import fuse_conv_bn_eval, fuse_linear_bn_eval

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "zoo"))
sys.path.insert(0, os.path.join(HERE, "..", "fashion-mnist"))

# The ranges torch 1.13's exporter turns into QuantizeLinear: int8 weights
# must span -128..127 and activations 0..255 (uint8); it refuses others and
# the fused QAT observer.
WEIGHT_FAKE_QUANT = FakeQuantize.with_args(
    observer=PerChannelMinMaxObserver, quant_min=-128, quant_max=127,
    dtype=torch.qint8, qscheme=torch.per_channel_symmetric, ch_axis=0)
ACTIVATION_FAKE_QUANT = FakeQuantize.with_args(
    observer=HistogramObserver, quant_min=0, quant_max=255,
    dtype=torch.quint8, qscheme=torch.per_tensor_affine, reduce_range=False)
QCONFIG = QConfig(activation=ACTIVATION_FAKE_QUANT, weight=WEIGHT_FAKE_QUANT)
# Ops with a fixed output range get fixed parameters, as torch requires:
# tanh's [-1, 1) as scale 2/256, zero point 128; sigmoid's [0, 1) as 1/256.
FIXED_RANGE_OPS = {
    "symmetric": [nn.Tanh, torch.tanh],
    "0to1": [nn.Sigmoid, torch.sigmoid, nn.Hardsigmoid, nn.Softmax],
}


def qconfig_mapping():
    from torch.ao.quantization.fake_quantize import (
        default_fixed_qparams_range_0to1_fake_quant as range_0to1,
        default_symmetric_fixed_qparams_fake_quant as symmetric)
    mapping = QConfigMapping().set_global(QCONFIG)
    for kind, fake_quant in (("symmetric", symmetric), ("0to1", range_0to1)):
        for op in FIXED_RANGE_OPS[kind]:
            mapping.set_object_type(op, QConfig(activation=fake_quant,
                                                weight=WEIGHT_FAKE_QUANT))
    return mapping


def build_model(name):
    """An eval-mode model and its input shape (batch 1)."""
    if name == "demo":
        import model as demo
        torch.manual_seed(0)
        return demo.DemoCNN().eval(), (1, 1, 28, 28)
    import zoo
    return zoo.build(name)


def fold_batch_norms(model):
    """The model as an FX graph with each BatchNorm that directly follows a
    Conv2d or Linear (its only user) folded into that layer's weights."""
    gm = torch.fx.symbolic_trace(copy.deepcopy(model))
    modules = dict(gm.named_modules())
    fold = {nn.BatchNorm2d: (nn.Conv2d, fuse_conv_bn_eval),
            nn.BatchNorm1d: (nn.Linear, fuse_linear_bn_eval)}
    for node in list(gm.graph.nodes):
        bn = modules.get(node.target) if node.op == "call_module" else None
        if type(bn) not in fold:
            continue
        layer_type, fuse = fold[type(bn)]
        prev = node.args[0]
        if (not isinstance(prev, torch.fx.Node) or prev.op != "call_module"
                or type(modules[prev.target]) is not layer_type
                or len(prev.users) != 1):
            continue
        parent, _, attr = prev.target.rpartition(".")
        setattr(gm.get_submodule(parent) if parent else gm, attr,
                fuse(modules[prev.target], bn))
        node.replace_all_uses_with(prev)
        gm.graph.erase_node(node)
    gm.graph.lint()
    gm.recompile()
    return gm


def fashion_mnist_inputs(shape, count, offset=0):
    """`count` Fashion-MNIST training images from `offset`, in [-1, 1],
    resized to `shape` (without the batch dimension)."""
    import model as demo
    x, _ = demo.load_split("train")
    x = torch.from_numpy(x[offset:offset + count]) * 2.0 - 1.0
    if len(shape) == 3:
        x = nn.functional.interpolate(x, size=shape[1:], mode="bilinear",
                                      align_corners=False)
        return x.repeat(1, shape[0], 1, 1)
    n = int(np.prod(shape))
    side = int(np.ceil(np.sqrt(n)))
    x = nn.functional.interpolate(x, size=(side, side), mode="bilinear",
                                  align_corners=False)
    return x.reshape(count, -1)[:, :n].reshape(count, *shape)


def calibration_inputs(args, shape):
    if args.data:
        x = torch.from_numpy(np.load(args.data).astype(np.float32))
        if tuple(x.shape[1:]) != tuple(shape[1:]):
            sys.exit(f"quantize.py: {args.data} holds inputs of shape "
                     f"{list(x.shape[1:])}; the model takes {list(shape[1:])}")
        return x
    return fashion_mnist_inputs(shape[1:], args.calibration)


def quantize(model, shape, inputs, batch=16):
    """The fake-quant model, calibrated on `inputs`, quantization on."""
    folded = fold_batch_norms(model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        qat = prepare_qat_fx(folded.train(), qconfig_mapping(),
                             example_inputs=(torch.zeros(*shape),))
    qat.eval()
    qat.apply(torch.ao.quantization.disable_fake_quant)
    qat.apply(torch.ao.quantization.enable_observer)
    with torch.no_grad():
        for i in range(0, len(inputs), batch):
            qat(inputs[i:i + batch])
    qat.apply(torch.ao.quantization.disable_observer)
    qat.apply(torch.ao.quantization.enable_fake_quant)
    return qat


def float64_copy(qat):
    """The fake-quant model evaluated in float64: the same quantization of
    weights (done once, in float32, as the float32 model does it) and of
    activations, the layers' sums without float32 rounding. An int8 layer's
    integer sum is exact, so this is the reference it should match."""
    exact = copy.deepcopy(qat)
    with torch.no_grad():
        for m in exact.modules():
            if hasattr(m, "weight_fake_quant"):
                m.weight.copy_(m.weight_fake_quant(m.weight))
                m.weight_fake_quant.disable_fake_quant()
    return exact.double()


def main():
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("name")
    ap.add_argument("out")
    ap.add_argument("--calibration", type=int, default=200,
                    help="Fashion-MNIST images to calibrate on (default 200)")
    ap.add_argument("--data", help="calibration inputs (.npy, float32)")
    ap.add_argument("--opset", type=int, default=13)
    ap.add_argument("--reference", help="write inputs and outputs here (.npz)")
    ap.add_argument("--weights", help="trained weights to quantize (a torch "
                    "state_dict of the model, e.g. examples/fashion-mnist/"
                    "model.py --state); default: the model's initialisation")
    args = ap.parse_args()
    if args.opset < 13:
        sys.exit("quantize.py: per-channel QuantizeLinear needs opset >= 13")
    model, shape = build_model(args.name)
    if args.weights:
        model.load_state_dict(torch.load(args.weights))
    qat = quantize(model, shape, calibration_inputs(args, shape))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(qat, torch.zeros(*shape), args.out,
                          opset_version=args.opset, input_names=["input"],
                          output_names=["output"])
    if args.reference:
        x = fashion_mnist_inputs(shape[1:], 16, offset=50000)
        with torch.no_grad():
            np.savez(args.reference, input=x.numpy(),
                     float_output=model(x).numpy(),
                     quantized_output=qat(x).numpy(),
                     quantized_output_f64=float64_copy(qat)(x.double()).numpy())
    print(f"quantize.py: wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
