#!/usr/bin/python3
"""The TinyML model zoo: PyTorch definitions of the architectures on-device
training papers and MLPerf Tiny use, exported to ONNX at test time (random
weights; BatchNorm statistics randomised so folding is exercised).

  zoo.py list
  zoo.py export NAME OUT.onnx [--opset 13]
"""
import argparse
import sys

import torch
import torch.nn as nn


def conv_bn_relu(cin, cout, k, stride=1, groups=1, pad=None):
    pad = k // 2 if pad is None else pad
    return [nn.Conv2d(cin, cout, k, stride, pad, groups=groups, bias=False),
            nn.BatchNorm2d(cout), nn.ReLU()]


class LeNet5(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, 5, padding=2), nn.Tanh(), nn.AvgPool2d(2),
            nn.Conv2d(6, 16, 5), nn.Tanh(), nn.AvgPool2d(2))
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(16 * 5 * 5, 120), nn.Tanh(),
            nn.Linear(120, 84), nn.Tanh(), nn.Linear(84, 10))

    def forward(self, x):
        return self.classifier(self.features(x))


class DSCNN(nn.Module):
    """MLPerf Tiny keyword spotting: 49x10 MFCC input, 12 classes."""

    def __init__(self, ch=64):
        super().__init__()
        layers = [nn.Conv2d(1, ch, (10, 4), (2, 2), (5, 1), bias=False),
                  nn.BatchNorm2d(ch), nn.ReLU()]
        for _ in range(4):
            layers += conv_bn_relu(ch, ch, 3, groups=ch)
            layers += conv_bn_relu(ch, ch, 1)
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(ch, 12)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.features(x)), 1))


class ResBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.body = nn.Sequential(
            *conv_bn_relu(cin, cout, 3, stride),
            nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout))
        self.short = (nn.Sequential() if stride == 1 and cin == cout else
                      nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                    nn.BatchNorm2d(cout)))

    def forward(self, x):
        return torch.relu(self.body(x) + self.short(x))


class ResNet8(nn.Module):
    """MLPerf Tiny image classification (CIFAR-10, 32x32)."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(*conv_bn_relu(3, 16, 3))
        self.stages = nn.Sequential(ResBlock(16, 16, 1), ResBlock(16, 32, 2),
                                    ResBlock(32, 64, 2))
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        x = self.stages(self.stem(x))
        return self.fc(torch.flatten(nn.functional.avg_pool2d(x, 8), 1))


class MobileNetV1(nn.Module):
    """MLPerf Tiny visual wake words: width 0.25, 96x96 RGB, 2 classes."""

    def __init__(self, alpha=0.25):
        super().__init__()
        c = lambda n: max(8, int(n * alpha))
        cfg = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
               (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2),
               (1024, 1)]
        layers = conv_bn_relu(3, c(32), 3, 2)
        cin = c(32)
        for cout, s in cfg:
            layers += conv_bn_relu(cin, cin, 3, s, groups=cin)
            layers += conv_bn_relu(cin, c(cout), 1)
            cin = c(cout)
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(cin, 2)

    def forward(self, x):
        x = nn.functional.adaptive_avg_pool2d(self.features(x), 1)
        return self.fc(torch.flatten(x, 1))


class AutoEncoder(nn.Module):
    """MLPerf Tiny anomaly detection: 640 inputs, Dense+BN+ReLU, 8 bottleneck."""

    def __init__(self):
        super().__init__()
        dims = [640, 128, 128, 128, 128, 8, 128, 128, 128, 128]
        layers = []
        for a, b in zip(dims, dims[1:]):
            layers += [nn.Linear(a, b), nn.BatchNorm1d(b), nn.ReLU()]
        layers.append(nn.Linear(128, 640))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


def mobilenet_v2():
    import torchvision
    return torchvision.models.mobilenet_v2(width_mult=0.35, num_classes=10)


# name: (constructor, input shape)
MODELS = {
    "lenet5": (LeNet5, (1, 1, 28, 28)),
    "ds_cnn": (DSCNN, (1, 1, 49, 10)),
    "resnet8": (ResNet8, (1, 3, 32, 32)),
    "mobilenet_v1_025": (MobileNetV1, (1, 3, 96, 96)),
    "autoencoder": (AutoEncoder, (1, 640)),
    "mobilenet_v2_035_32": (mobilenet_v2, (1, 3, 32, 32)),
    "mobilenet_v2_035_128": (mobilenet_v2, (1, 3, 128, 128)),
}


def build(name, seed=0):
    torch.manual_seed(seed)
    ctor, shape = MODELS[name]
    model = ctor()
    # Non-trivial BatchNorm statistics, so folding them is really checked.
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    return model.eval(), shape


def export(name, path, opset=13, seed=0):
    model, shape = build(name, seed)
    torch.onnx.export(model, torch.zeros(*shape), path, opset_version=opset,
                      input_names=["input"], output_names=["output"])
    return model, shape


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("list")
    ex = sub.add_parser("export")
    ex.add_argument("name", choices=sorted(MODELS))
    ex.add_argument("out")
    ex.add_argument("--opset", type=int, default=13)
    args = ap.parse_args()
    if args.cmd == "list":
        print("\n".join(MODELS))
    else:
        export(args.name, args.out, args.opset)
    return 0


if __name__ == "__main__":
    sys.exit(main())
