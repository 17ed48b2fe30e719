"""Single-op models for the gradient checks: each op under test sits between
trainable layers, so its adjoint is exercised for inputs and parameters.
name: (constructor, input shape without batch, classes)."""
import torch
import torch.nn as nn


class Head(nn.Module):
    """op(x) then flatten and a Linear to 3 classes."""

    def __init__(self, op, features):
        super().__init__()
        self.op = op
        self.fc = nn.Linear(features, 3)

    def forward(self, x):
        return self.fc(torch.flatten(self.op(x), 1))


class Lambda(nn.Module):
    def __init__(self, fn, *params):
        super().__init__()
        self.fn = fn
        self.p = nn.ParameterList([nn.Parameter(p) for p in params])

    def forward(self, x):
        return self.fn(x, *self.p)


def pre(op, cin, cout, features):
    """A trainable 1x1 conv first, so the op's input gradient is used too."""
    return Head(nn.Sequential(nn.Conv2d(cin, cout, 1), op), features)


OPS = {
    "conv_group": (lambda: pre(nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2),
                               4, 4, 6 * 4 * 4), (4, 8, 8), 3),
    "conv_depthwise": (lambda: pre(nn.Conv2d(4, 4, 3, padding=1, groups=4),
                                   2, 4, 4 * 6 * 6), (2, 6, 6), 3),
    "conv_dilated": (lambda: pre(nn.Conv2d(2, 3, 3, padding=(2, 1), dilation=2),
                                 2, 2, 3 * 7 * 5), (2, 7, 7), 3),
    "conv_asym_stride": (lambda: pre(nn.Conv2d(2, 3, (3, 2), stride=(2, 1)),
                                     2, 2, 3 * 3 * 6), (2, 7, 7), 3),
    "matmul_bcast": (lambda: Head(Lambda(lambda x, w: torch.matmul(x, w),
                                         torch.randn(4, 5) * 0.5), 2 * 3 * 5),
                     (2, 3, 4), 3),
    "elementwise": (lambda: Head(Lambda(
        lambda x, w, b: (x * w - b) / (1.5 + w * w) + b,
        torch.randn(1, 4, 1), torch.randn(4, 1)), 3 * 4 * 4), (3, 4, 4), 3),
    "leaky_relu": (lambda: pre(nn.LeakyReLU(0.1), 2, 3, 3 * 16), (2, 4, 4), 3),
    "relu6": (lambda: pre(nn.ReLU6(), 2, 3, 3 * 16), (2, 4, 4), 3),
    "prelu": (lambda: pre(nn.PReLU(3), 2, 3, 3 * 16), (2, 4, 4), 3),
    "prelu_shared": (lambda: pre(nn.PReLU(), 2, 3, 3 * 16), (2, 4, 4), 3),
    "neg": (lambda: pre(Lambda(lambda x: -x), 2, 3, 3 * 16), (2, 4, 4), 3),
    "sigmoid": (lambda: pre(nn.Sigmoid(), 2, 3, 3 * 16), (2, 4, 4), 3),
    "tanh": (lambda: pre(nn.Tanh(), 2, 3, 3 * 16), (2, 4, 4), 3),
    "hardsigmoid": (lambda: pre(nn.Hardsigmoid(), 2, 3, 3 * 16), (2, 4, 4), 3),
    "hardswish": (lambda: pre(nn.Hardswish(), 2, 3, 3 * 16), (2, 4, 4), 3),
    "batchnorm": (lambda: pre(nn.BatchNorm2d(3), 2, 3, 3 * 16), (2, 4, 4), 3),
    "maxpool": (lambda: pre(nn.MaxPool2d(3, stride=2, padding=1, dilation=1,
                                         ceil_mode=True), 2, 3, 3 * 16),
                (2, 7, 7), 3),
    "maxpool_dilated": (lambda: pre(nn.MaxPool2d(2, stride=1, dilation=2),
                                    2, 2, 2 * 25), (2, 7, 7), 3),
    "avgpool": (lambda: pre(nn.AvgPool2d(3, stride=2, padding=1,
                                         ceil_mode=True,
                                         count_include_pad=False),
                            2, 3, 3 * 16), (2, 7, 7), 3),
    # Disjoint windows (stride >= extent): each position's one window.
    "maxpool_disjoint": (lambda: pre(nn.MaxPool2d(2, stride=3, padding=1,
                                                  ceil_mode=True),
                                     2, 3, 3 * 9), (2, 7, 7), 3),
    "maxpool_dilated_disjoint": (lambda: pre(nn.MaxPool2d(2, stride=3,
                                                          dilation=2),
                                             2, 3, 3 * 4), (2, 7, 7), 3),
    "avgpool_disjoint": (lambda: pre(nn.AvgPool2d(2, stride=2, padding=1,
                                                  ceil_mode=True,
                                                  count_include_pad=False),
                                     2, 3, 3 * 16), (2, 7, 7), 3),
    "global_avgpool": (lambda: pre(nn.AdaptiveAvgPool2d(1), 2, 5, 5),
                       (2, 5, 5), 3),
    # count_include_pad=True exports as ONNX Pad + AveragePool.
    "pad_avgpool": (lambda: pre(nn.AvgPool2d(3, stride=2, padding=1,
                                             count_include_pad=True),
                                2, 3, 3 * 9), (2, 6, 6), 3),
    "transpose_concat": (lambda: Head(Lambda(
        lambda x, w: torch.cat([(x * w).permute(0, 1, 3, 2),
                                x.permute(0, 1, 3, 2)], 1),
        torch.randn(1, 2, 1, 1)), 4 * 4 * 4), (2, 4, 4), 3),
    "softmax": (lambda: Head(Lambda(
        lambda x, w: torch.log_softmax(torch.softmax(x * w, 1) * 3.0, 2),
        torch.randn(1, 3, 1)), 3 * 4), (3, 4), 3),
}

OPS.update({
    # F.pad's replicate/reflect export as ONNX Pad mode edge/reflect.
    "pad_edge": (lambda: pre(Lambda(lambda x: torch.nn.functional.pad(
        x, (1, 2, 2, 1), mode="replicate")), 2, 3, 3 * 7 * 7), (2, 4, 4), 3),
    "pad_reflect": (lambda: pre(Lambda(lambda x: torch.nn.functional.pad(
        x, (2, 1, 1, 3), mode="reflect")), 2, 3, 3 * 8 * 7), (2, 4, 4), 3),
    # 1-D and 3-D pooling import as 2-D pooling over reshaped tensors.
    "maxpool1d": (lambda: Head(Lambda(
        lambda x, w: torch.nn.functional.max_pool1d(x * w, 3, stride=2,
                                                    padding=1),
        torch.randn(1, 3, 1)), 3 * 5), (3, 9), 3),
    "avgpool3d": (lambda: Head(Lambda(
        lambda x, w: torch.nn.functional.avg_pool3d(
            x * w, (2, 3, 2), stride=(1, 2, 2), padding=(1, 1, 0),
            count_include_pad=False),
        torch.randn(1, 2, 1, 1, 1)), 2 * 4 * 3 * 3), (2, 3, 5, 6), 3),
})

# The exp/log family of nn.activation (log, sqrt and 1/x on inputs kept
# away from 0 by the model; GELU as opset 13 exports it: Div, Erf, Add,
# Mul, Mul).
OPS.update({
    "exp": (lambda: pre(Lambda(lambda x: torch.exp(x * 0.5)), 2, 3, 3 * 16),
            (2, 4, 4), 3),
    "log": (lambda: pre(Lambda(lambda x: torch.log(x * x + 0.5)), 2, 3,
                        3 * 16), (2, 4, 4), 3),
    "sqrt": (lambda: pre(Lambda(lambda x: torch.sqrt(x * x + 0.5)), 2, 3,
                         3 * 16), (2, 4, 4), 3),
    "reciprocal": (lambda: pre(Lambda(lambda x: torch.reciprocal(x * x + 1)),
                               2, 3, 3 * 16), (2, 4, 4), 3),
    "abs": (lambda: pre(Lambda(lambda x: torch.abs(x)), 2, 3, 3 * 16),
            (2, 4, 4), 3),
    "softplus": (lambda: pre(nn.Softplus(), 2, 3, 3 * 16), (2, 4, 4), 3),
    "softsign": (lambda: pre(nn.Softsign(), 2, 3, 3 * 16), (2, 4, 4), 3),
    "elu": (lambda: pre(nn.ELU(0.7), 2, 3, 3 * 16), (2, 4, 4), 3),
    "selu": (lambda: pre(nn.SELU(), 2, 3, 3 * 16), (2, 4, 4), 3),
    "gelu": (lambda: pre(nn.GELU(), 2, 3, 3 * 16), (2, 4, 4), 3),
})

# Data movement and reductions on activations (torchvision's shufflenet
# chunks channels, mnasnet and shufflenet end in x.mean([2, 3])) and the
# normalizations built from them.
OPS.update({
    "slice": (lambda: pre(Lambda(lambda x: x[:, 1:3, ::2, 1:]), 2, 4,
                          2 * 3 * 4), (2, 5, 5), 3),
    # torch.flip exports as Slice with step -1 (read backwards).
    "flip": (lambda: pre(Lambda(lambda x: torch.flip(x, [2])[:, :, 1:] *
                                x[:, :, :3]), 2, 3, 3 * 12), (2, 4, 4), 3),
    "split": (lambda: pre(Lambda(lambda x: torch.mul(*x.split([1, 2], 1))),
                          2, 3, 2 * 16), (2, 4, 4), 3),
    "chunk_cat": (lambda: pre(Lambda(lambda x: torch.cat(
        [c * (i + 1.0) for i, c in enumerate(x.chunk(2, 1))][::-1], 1)),
        2, 4, 4 * 9), (2, 3, 3), 3),
    "reduce_mean": (lambda: pre(Lambda(lambda x: x.mean([2, 3])), 2, 5, 5),
                    (2, 4, 3), 3),
    "reduce_sum_keepdim": (lambda: pre(Lambda(
        lambda x: x.sum(1, keepdim=True) * x), 2, 3, 3 * 12), (2, 4, 3), 3),
    "expand": (lambda: pre(Lambda(
        lambda x: x[:, :1].expand(-1, 3, -1, -1) * x), 2, 3, 3 * 12),
        (2, 4, 3), 3),
    "tile": (lambda: pre(Lambda(lambda x: x.repeat(1, 2, 1, 3)), 2, 2,
                         4 * 4 * 9), (2, 4, 3), 3),
    "pow": (lambda: pre(Lambda(lambda x: x.pow(3) + x.pow(2) +
                               (x * x + 1).pow(1.5)), 2, 3, 3 * 16),
            (2, 4, 4), 3),
    # A tensor exponent: both operands' gradients (nn.pow).
    "pow_tensor": (lambda: pre(Lambda(
        lambda x, e: (x * x + 0.5).pow(e), torch.rand(1, 3, 1, 4) + 0.5),
        2, 3, 3 * 16), (2, 4, 4), 3),
    # A Tanh first: a normalization cancels the conv's bias (constant over
    # the normalized dims), so its gradient would be 0 and untestable.
    "layer_norm": (lambda: pre(nn.Sequential(nn.Tanh(), nn.LayerNorm([4, 3])),
                               2, 3, 3 * 12), (2, 4, 3), 3),
    "layer_norm17": (lambda: pre(nn.Sequential(nn.Tanh(),
                                               nn.LayerNorm([4, 3])),
                                 2, 3, 3 * 12), (2, 4, 3), 3),
    "instance_norm": (lambda: pre(nn.Sequential(
        nn.Tanh(), nn.InstanceNorm2d(3, affine=True)), 2, 3, 3 * 12),
        (2, 4, 3), 3),
    "global_maxpool": (lambda: pre(nn.AdaptiveMaxPool2d(1), 2, 5, 5),
                       (2, 5, 5), 3),
})

# Models exported at another opset than 13 (LayerNormalization is an
# opset 17 op; at 13 torch decomposes it).
OPSETS = {"layer_norm17": 17}

# 1-D convolutions (keyword spotting on audio features) and transposed
# convolutions (decoders, upsampling), imported as 2-D ones.
OPS.update({
    "conv1d": (lambda: Head(nn.Sequential(
        nn.Conv1d(3, 4, 3, stride=2, padding=1), nn.ReLU(),
        nn.Conv1d(4, 4, 3, padding=2, dilation=2, groups=2)), 4 * 5),
        (3, 10), 3),
    "conv_transpose": (lambda: pre(nn.ConvTranspose2d(
        3, 4, 3, stride=2, padding=1, output_padding=1), 2, 3, 4 * 8 * 6),
        (2, 4, 3), 3),
    "conv_transpose_group": (lambda: pre(nn.ConvTranspose2d(
        4, 6, (2, 3), stride=(1, 2), padding=(0, 1), dilation=(2, 1),
        groups=2, bias=False), 2, 4, 6 * 5 * 5), (2, 3, 3), 3),
    "conv_transpose1d": (lambda: Head(nn.Sequential(
        nn.Conv1d(2, 3, 1), nn.ConvTranspose1d(3, 2, 4, stride=2,
                                              padding=1)), 2 * 10),
        (2, 5), 3),
})

# Resize as F.interpolate exports it (opset 13): nearest by a whole factor
# (a broadcast), bilinear with and without align_corners (interpolation
# matrices), nearest to a size that is not a multiple.
OPS.update({
    "upsample_nearest": (lambda: pre(nn.Upsample(scale_factor=2), 2, 3,
                                     3 * 8 * 6), (2, 4, 3), 3),
    "upsample_bilinear": (lambda: pre(nn.Upsample(
        scale_factor=2, mode="bilinear", align_corners=False), 2, 3,
        3 * 8 * 6), (2, 4, 3), 3),
    "upsample_bilinear_corners": (lambda: pre(nn.Upsample(
        size=(5, 7), mode="bilinear", align_corners=True), 2, 3, 3 * 35),
        (2, 4, 3), 3),
    "upsample_nearest_size": (lambda: pre(nn.Upsample(size=(5, 7)), 2, 3,
                                          3 * 35), (2, 4, 3), 3),
})

# Elementwise Max / Min (torch.maximum / minimum export as ONNX Max / Min):
# broadcasting, ties split evenly (relu-like clamps against a trainable
# threshold).
OPS.update({
    "max_min": (lambda: pre(Lambda(
        lambda x, t, u: torch.minimum(torch.maximum(x, t), u * 2.0 + 1.0),
        torch.randn(1, 3, 1, 1) * 0.3, torch.randn(1, 1, 4) * 0.3),
        2, 3, 3 * 16), (2, 4, 4), 3),
})


class Recurrent(nn.Module):
    """[N=1, F, T] features: a 1x1 conv, then a GRU or LSTM over the T
    frames (torch's default export: initial state zeros expanded,
    linear_before_reset for the GRU), the last state to 3 classes."""

    def __init__(self, cell, features, hidden, frames):
        super().__init__()
        self.pre = nn.Conv1d(features, features, 1)
        self.rnn = cell(features, hidden)
        self.fc = nn.Linear(hidden * 2, 3)

    def forward(self, x):
        y, state = self.rnn(self.pre(x).permute(2, 0, 1))
        h = state[0] if isinstance(state, tuple) else state
        # The last state and the mean of the sequence: Y and Y_h both used.
        return self.fc(torch.cat([h[0], y.mean(0)], 1))


# GRU and LSTM, unrolled: backpropagation through time.
OPS.update({
    "gru": (lambda: Recurrent(nn.GRU, 4, 5, 6), (4, 6), 3),
    "lstm": (lambda: Recurrent(nn.LSTM, 4, 5, 6), (4, 6), 3),
})

# Mish (torch 1.13 exports it as Softplus, Tanh, Mul).
OPS.update({
    "mish": (lambda: pre(nn.Mish(), 2, 3, 3 * 16), (2, 4, 4), 3),
})

# Where on tensors computed at run time with a constant condition (a fixed
# mask, as a masked_fill with a constant pattern exports).
OPS.update({
    "where": (lambda: pre(Lambda(
        lambda x, w: torch.where(torch.arange(4).reshape(1, 1, 1, 4) % 2 == 0,
                                 x * w, torch.tanh(x)),
        torch.randn(1, 3, 4, 1)), 2, 3, 3 * 16), (2, 4, 4), 3),
})

# Gather at indices computed at run time: an embedding table looked up at
# indices cast from the input (6 positions into 10 rows: repeated rows sum
# their gradients), and a gather of activations along another axis.
OPS.update({
    "embedding": (lambda: Head(Lambda(
        lambda x, w: nn.functional.embedding(
            torch.clamp(x * 3 + 5, 0, 9).long(), w),
        torch.randn(10, 4)), 6 * 4), (6,), 3),
    "gather_activations": (lambda: pre(Lambda(
        lambda x, w: torch.index_select(
            x * w, 3, torch.clamp(x[0, 0, 0] * 2 + 2, 0, 3).long()),
        torch.randn(1, 3, 1, 4)), 2, 3, 3 * 4 * 4), (2, 4, 4), 3),
})

# An embedding fed token ids (an int64 input, 5 positions into 12 rows)
# and averaged, as a keyword or intent classifier might: train_step takes
# the ids.
OPS.update({
    "embedding_tokens": (lambda: Head(Lambda(
        lambda t, w: nn.functional.embedding(t, w).mean(1),
        torch.randn(12, 6)), 6), (5,), 3, 12),
})

# 1 x 1 convolutions on a 2 x 2 plane: with plain SGD their weight
# gradients are rank 4 (batch 3: 12) and formed in the updates, the second
# one's input gradient in the same pass (low-rank-updates.test).
OPS.update({
    "pointwise_2x2": (lambda: pre(nn.Sequential(nn.ReLU(), nn.Conv2d(3, 5, 1)),
                                  2, 3, 5 * 4), (2, 2, 2), 3),
})
