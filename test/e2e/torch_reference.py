#!/usr/bin/python3
"""End-to-end check of generated training code against PyTorch autograd.

For one model it: exports ONNX, runs `mcutrain compile`, builds the package
with a harness (g++ -Wall -Wextra -Werror -fno-exceptions -fno-rtti, plus
ASan/UBSan), trains N steps in C++ and in PyTorch (same weights, inputs,
labels, plain SGD) and compares the predictions, every trainable gradient
(one step at learning rate 1), the parameters after the first step, and the
loss trajectory, all within 1e-4 relative.
Also checks: no heap symbols in the generated object, the package builds for
Cortex-M4 with arm-none-eabi-g++, and the arena lies between the liveness
lower bound and the no-reuse sum.

usage: torch_reference.py MODEL WORKDIR --mcutrain PATH [--trainable SPEC]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "examples", "fashion-mnist"))
from model import DemoCNN  # noqa: E402
sys.path.insert(0, os.path.join(HERE, "..", "..", "examples", "zoo"))
import zoo  # noqa: E402
sys.path.insert(0, HERE)
from op_models import OPS, OPSETS  # noqa: E402
from harness_io import HARNESS_IO  # noqa: E402
sys.path.insert(0, os.path.join(HERE, "..", "..", "bench"))
from sparse_experiment import saved_features  # noqa: E402


class PoolNet(nn.Module):
    """Strided/padded conv, overlapping average pooling, asymmetric kernel
    and pads,
    global average pooling, MatMul + Add, Gemm with transB=0."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 3, stride=2, padding=1)
        self.conv2 = nn.Conv2d(6, 8, (3, 2), padding=(0, 1), bias=False)
        self.w = nn.Parameter(torch.randn(8, 12) * 0.3)
        self.b = nn.Parameter(torch.randn(12) * 0.1)
        self.fc = nn.Linear(12, 5)

    def forward(self, x):
        x = torch.relu(self.conv1(x))
        x = nn.functional.avg_pool2d(x, 3, stride=2, padding=1,
                                     count_include_pad=False)
        x = nn.functional.avg_pool2d(torch.relu(self.conv2(x)), 2, padding=1)
        x = torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1)
        x = torch.relu(torch.matmul(x, self.w) + self.b)
        return self.fc(x)


class MaxNet(nn.Module):
    """Overlapping and padded max pooling, dilated conv, two-layer MLP head."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 4, 3, padding=2, dilation=2)
        self.fc1 = nn.Linear(4 * 5 * 5, 16)
        self.fc2 = nn.Linear(16, 4)

    def forward(self, x):
        x = nn.functional.max_pool2d(torch.relu(self.conv(x)), 3, stride=2,
                                     padding=1)
        x = torch.relu(self.fc1(x.reshape(x.shape[0], -1)))
        return self.fc2(x)


MODELS = {
    "demo": (DemoCNN, (1, 28, 28), 10),
    "pool": (PoolNet, (3, 17, 15), 5),
    "max": (MaxNet, (2, 10, 10), 4),
}

HARNESS = HARNESS_IO + r"""
int main(int argc, char **argv) {
  (void)argc;
  int steps = %(steps)d;
  std::vector<%(input)s> x(m::kInputSize * steps);
  std::vector<%(label)s> y(%(label_size)s * steps);
  if (!readAll(argv[1], x.data(), x.size() * sizeof(x[0])) ||
      !readAll(argv[2], y.data(), y.size() * 4)) {
    std::fprintf(stderr, "cannot read inputs\n");
    return 1;
  }
  m::init();
  dumpParams("params0.bin");
  dumpPrediction(x.data(), "predict.bin");
  // With lr = 1 one step moves every parameter by minus its gradient (a
  // larger grad_lr: by lr times it, which p0 - p1 then resolves finer).
  // Warm-up steps with lr = 0 leave the parameters alone but advance the
  // run-time controllers (DGSU's rotation, TinyProp's running maxima).
  float compiledLr = m::learning_rate();
  m::set_learning_rate(0.0f);
  for (int s = 1; s <= %(warmup)d; ++s)
    m::train_step(&x[s * m::kInputSize], &y[s * %(label_size)s]);
  m::set_learning_rate(%(grad_lr)s);
  m::train_step(x.data(), y.data());
  dumpParams("gradstep.bin");
  {
    // The share of its errors each sparse layer kept (k / n), output first.
    const mcutrain::StepStats &st = m::last_step();
    std::FILE *rf = std::fopen("ratios.txt", "w");
    for (std::size_t i = 0; i < st.num_sparse_layers; ++i)
      std::fprintf(rf, "%%.9g\n", st.layer_ratios[i]);
    std::fclose(rf);
  }
  m::init();
  m::set_learning_rate(compiledLr);
  std::FILE *lf = std::fopen("losses.bin", "wb");
  // Per step: skipped?, did any parameter change?, backprop ratio, MACs.
  std::FILE *sf = std::fopen("steps.txt", "w");
  std::vector<float> before;
  for (int s = 0; s < steps; ++s) {
    before.clear();
    for (std::size_t i = 0; i < m::kNumTrainableParams; ++i)
      before.insert(before.end(), m::kTrainableParams[i].data,
                    m::kTrainableParams[i].data + m::kTrainableParams[i].size);
    float loss = m::train_step(&x[s * m::kInputSize], &y[s * %(label_size)s]);
    std::fwrite(&loss, 4, 1, lf);
    if (s == 0)
      dumpParams("params1.bin");
    bool changed = false;
    std::size_t at = 0;
    for (std::size_t i = 0; i < m::kNumTrainableParams; ++i)
      for (std::size_t j = 0; j < m::kTrainableParams[i].size; ++j)
        changed |= m::kTrainableParams[i].data[j] != before[at++];
    const mcutrain::StepStats &st = m::last_step();
    std::fprintf(sf, "%%d %%d %%.6f %%llu\n", (int)st.skipped, (int)changed,
                 st.backprop_ratio, (unsigned long long)st.macs);
  }
  std::fclose(sf);
  std::fclose(lf);
  dumpParams("params_last.bin");
%(bad_label_check)s
  return 0;
}
"""


BAD_LABEL_CHECK = r"""
  std::vector<std::int32_t> badLabels(m::kBatch, 1000);
  float rejected = m::train_step(x.data(), badLabels.data());
  if (rejected == rejected || !m::last_step().rejected_input) {
    std::fprintf(stderr, "out-of-range label was not rejected\n");
    return 1;
  }"""


def loss_fn(mse, out, y):
    if mse:
        return nn.functional.mse_loss(out, torch.from_numpy(y))
    return nn.functional.cross_entropy(out, torch.from_numpy(y).long())


def fd_check(model, name, g_c, x, y, mse, scale, samples=24, h=1e-6):
    """Central differences of the loss in float64 at sampled elements of
    parameter `name`; returns the worst error relative to `scale`."""
    import copy
    m64 = copy.deepcopy(model).double()
    p = dict(m64.named_parameters())[name]
    xd = torch.from_numpy(x)
    if xd.is_floating_point():  # (token ids stay integers)
        xd = xd.double()
    yt = torch.from_numpy(y) if mse else torch.from_numpy(y).long()
    if mse:
        yt = yt.double()

    def loss():
        out = m64(xd)
        if mse:
            return nn.functional.mse_loss(out, yt).item()
        return nn.functional.cross_entropy(out, yt).item()

    flat = p.data.view(-1)
    rng = np.random.default_rng(0)
    idx = rng.choice(flat.numel(), size=min(samples, flat.numel()),
                     replace=False)
    worst = 0.0
    with torch.no_grad():
        for i in idx:
            old = flat[i].item()
            flat[i] = old + h
            up = loss()
            flat[i] = old - h
            down = loss()
            flat[i] = old
            fd = (up - down) / (2 * h)
            worst = max(worst, abs(fd - g_c[i]) / scale)
    return worst


def mask_static_channels(model, trained, ratio):
    """Static sparse update as the reference: each trained Conv2d (group 1)
    or Linear weight keeps the gradient of its ceil(ratio * C) input
    channels of largest L2 norm (ties to the lower channel), zero
    elsewhere, so unselected channels never change."""
    import math
    ids = {id(p) for p in trained}
    for m in model.modules():
        if not (isinstance(m, nn.Linear) or
                (isinstance(m, nn.Conv2d) and m.groups == 1)):
            continue
        w = m.weight
        if id(w) not in ids:
            continue
        c = w.shape[1]
        keep = min(max(math.ceil(ratio * c), 1), c)
        if keep == c:
            continue
        v = w.detach().numpy().astype(np.float64)
        norm = (np.moveaxis(v, 1, 0).reshape(c, -1) ** 2).sum(1)
        chosen = np.argsort(-norm, kind="stable")[:keep]
        mask = torch.zeros_like(w)
        mask[:, chosen] = 1.0
        w.register_hook(lambda g, mask=mask: g * mask)


def tinyprop_spec(sparsity):
    """(s_min, s_max, zeta, tau) of --sparsity tinyprop[2][:...], or None."""
    kind, _, rest = sparsity.partition(":")
    if kind not in ("tinyprop", "tinyprop2"):
        return None
    vals = [0.1, 0.9, 0.5, 0.05 if kind == "tinyprop2" else 0.0]
    for i, v in enumerate(rest.split(",") if rest else []):
        vals[i] = float(v)
    return vals


def hook_tinyprop(model, spec, x0, ratios=None):
    """One step of TinyProp in PyTorch: each Conv2d/Linear output error
    keeps its k largest magnitudes, the rest is zeroed before the layer's
    gradients use it. k = round(n S_max zeta^depth) on the first step (the
    running maximum equals the first error), else round(n ratio) from the
    ratios the generated code reports (output layer first)."""
    _, s_max, zeta, _ = spec
    order = []
    handles = [m.register_forward_hook(lambda m, i, o: order.append(m))
               for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    with torch.no_grad():
        model(torch.from_numpy(x0))
    for h in handles:
        h.remove()
    depth = {m: d for d, m in enumerate(reversed(order))}

    def keep_top_k(module, _inputs, out):
        if not out.requires_grad:
            return
        n = out.numel()
        r = np.float32(s_max)
        for _ in range(depth[module]):
            r = np.float32(r * np.float32(zeta))
        k = int(np.float32(n) * r + np.float32(0.5))
        if ratios is not None:
            k = int(round(ratios[depth[module]] * n))
        k = min(max(k, 1), n)

        def mask(g):
            flat = g.reshape(-1)
            keep = torch.zeros_like(flat)
            # Ties to the lower index, as the runtime's keep_topk_abs
            # (a global average pool's gradient is full of them).
            keep[torch.sort(flat.abs(), descending=True,
                            stable=True).indices[:k]] = 1.0
            return (flat * keep).reshape(g.shape)
        out.register_hook(mask)
    for m in order:
        m.register_forward_hook(keep_top_k)


def fold_batchnorm(model):
    """Conv2d followed by BatchNorm2d in a Sequential becomes one Conv2d
    (eval-mode statistics; the BatchNorm an Identity)."""
    from torch.nn.utils.fusion import fuse_conv_bn_eval
    model.eval()
    for seq in [m for m in model.modules() if isinstance(m, nn.Sequential)]:
        names = list(seq._modules)
        for a, b in zip(names, names[1:]):
            conv, bn = seq._modules[a], seq._modules[b]
            if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                seq._modules[a] = fuse_conv_bn_eval(conv, bn)
                seq._modules[b] = nn.Identity()


def rel_err(a, b):
    """max |a - b| / max |b| over the tensor (scale-relative)."""
    denom = max(float(np.max(np.abs(b))), 1e-30)
    return float(np.max(np.abs(a - b))) / denom


def print_checks(worst, limits=None, default=1e-4):
    """One line per check (its relative error against its limit); True if
    any check failed."""
    failed = False
    for k, v in worst.items():
        limit = (limits or {}).get(k, default)
        ok = v <= limit
        failed |= not ok
        print(f"{'ok  ' if ok else 'FAIL'} {k:40s} rel err {v:.2e} "
              f"(limit {limit:.0e})")
    return failed


def run(cmd, **kw):
    res = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if res.returncode != 0:
        sys.stdout.write(res.stdout)
        sys.stderr.write(res.stderr)
        raise SystemExit(f"FAILED: {' '.join(cmd)} (exit {res.returncode})")
    return res.stdout


OUTPUTS = ["params0.bin", "predict.bin", "gradstep.bin", "losses.bin",
           "params1.bin", "params_last.bin"]


def check_bit_identical(alt, flag, compile_cmd, cxxflags, name):
    """The package compiled with `flag` added, run by the same harness on
    the same samples in `alt`/, writes the same bytes as this one."""
    os.makedirs(alt)
    run(compile_cmd[:4] + [os.path.join(alt, "pkg")] + compile_cmd[5:] + [flag])
    run(["g++"] + [f for f in cxxflags if f != "-Ipkg"] +
        [f"-I{alt}/pkg", "harness.cpp", f"{alt}/pkg/{name}.cpp",
         f"{alt}/pkg/{name}_params.cpp", "-o", f"{alt}/harness"])
    run(["./harness", "../x.bin", "../y.bin"], cwd=alt)
    differ = [f for f in OUTPUTS if os.path.exists(f) and
              open(f, "rb").read() != open(os.path.join(alt, f), "rb").read()]
    reports = [json.load(open(p))
               for p in ("pkg/report.json", f"{alt}/pkg/report.json")]
    if differ:
        raise SystemExit(f"FAILED: with {flag}: {', '.join(differ)} differ")
    print(f"ok   bit-identical to {flag} (arena {reports[0]['arena']['bytes']}"
          f" B, saved features {saved_features(reports[0])} B; with it "
          f"{reports[1]['arena']['bytes']} B, "
          f"{saved_features(reports[1])} B)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model", choices=sorted(MODELS) +
                    ["zoo:" + z for z in zoo.MODELS] +
                    ["op:" + o for o in OPS])
    ap.add_argument("--fd", action="store_true",
                    help="also check the gradients against central finite "
                         "differences of the model in float64")
    ap.add_argument("workdir")
    ap.add_argument("--mcutrain", required=True)
    ap.add_argument("--trainable", default="all")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--optimizer", default="sgd",
                    choices=["sgd", "momentum", "nesterov", "adam", "adagrad"])
    ap.add_argument("--momentum", type=float, default=0.9)
    ap.add_argument("--dampening", type=float, default=0.0)
    ap.add_argument("--sparsity", default="none",
                    help="static:RATIO: the reference masks each Conv "
                         "(group 1) / Linear weight gradient to the input "
                         "channels of largest L2 norm; dgsu:RATIO; "
                         "tinyprop[2]:SMIN,SMAX,ZETA[,TAU]: the reference "
                         "keeps the top-k output errors of each layer")
    ap.add_argument("--warmup", type=int, default=0,
                    help="steps with lr 0 (on samples 1..N) before the "
                         "gradient step, so run-time selections are not "
                         "the first step's; TinyProp's k then comes from the "
                         "generated code's StepStats")
    ap.add_argument("--weight-decay", type=float, default=0.0)
    ap.add_argument("--lr-decay", type=float, default=0.0)
    ap.add_argument("--loss-tolerance", type=float, default=1e-4)
    ap.add_argument("--no-sanitize", action="store_true",
                    help="build the harness -O2 without ASan/UBSan (big models)")
    ap.add_argument("--fold-batchnorm", action="store_true",
                    help="fold every BatchNorm that follows a convolution "
                    "in a Sequential into it (as a deployed model is; the "
                    "folded convolutions keep their PyTorch names) before "
                    "exporting")
    ap.add_argument("--sram", help="pass --sram to mcutrain compile")
    ap.add_argument("--update", default="dense",
                    help="pass --update to mcutrain compile (auto: the "
                    "trainable set mcutrain chooses is compared)")
    ap.add_argument("--no-kernels", action="store_true",
                    help="compile with --kernels=false (the plain loop nests)")
    ap.add_argument("--bit-identical-to", action="append", default=[],
                    metavar="FLAG",
                    help="also compile with FLAG (e.g. --pack-masks=false), "
                    "run the same harness on the same samples and require "
                    "every output (predictions, gradients, parameters, "
                    "losses) to be bit-identical")
    args = ap.parse_args()

    torch.manual_seed(1)
    np.random.seed(1)
    tokens = None
    if args.model.startswith("zoo:"):
        model, shape = zoo.build(args.model[4:], seed=1)
        in_shape = shape[1:]
        classes = model(torch.zeros(shape)).shape[1]
        # The autoencoder reconstructs its input: MSE; the rest classify.
        mse = args.model == "zoo:autoencoder"
    elif args.model.startswith("op:"):
        ctor, in_shape, classes, *vocab = OPS[args.model[3:]]
        model = ctor().eval()
        # A fourth entry: the input is token ids below it (int64).
        tokens = vocab[0] if vocab else None
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.3, 0.3)
                m.running_var.uniform_(0.5, 1.5)
        mse = False
    else:
        cls, in_shape, classes = MODELS[args.model]
        model = cls().eval()
        mse = False
    if args.fold_batchnorm:
        fold_batchnorm(model)
    if os.path.isdir(args.workdir):
        shutil.rmtree(args.workdir)
    os.makedirs(args.workdir)
    os.chdir(args.workdir)
    b = args.batch
    # No constant folding: BatchNorm stays a node whose parameters keep
    # their PyTorch names, so gradients can be compared by name.
    torch.onnx.export(model, torch.zeros(b, *in_shape,
                                         dtype=torch.long if tokens else None),
                      "model.onnx",
                      opset_version=OPSETS.get(args.model[3:], 13),
                      do_constant_folding=False,
                      training=torch.onnx.TrainingMode.PRESERVE)
    name = "net"
    compile_cmd = [args.mcutrain, "compile", "model.onnx", "-o", "pkg", "--name", name,
         "--lr", str(args.lr), "--trainable", args.trainable,
         "--optimizer", args.optimizer, "--momentum", str(args.momentum),
         "--dampening", str(args.dampening), "--sparsity", args.sparsity,
         "--weight-decay", str(args.weight_decay),
         "--lr-decay", str(args.lr_decay),
         "--loss", "mse" if mse else "cross-entropy",
         *(["--kernels=false"] if args.no_kernels else []),
         *(["--sram", args.sram] if args.sram else []),
         "--update", args.update]
    run(compile_cmd)

    steps = args.steps
    xs = (np.random.randint(0, tokens, size=(steps, b, *in_shape))
          if tokens else np.random.rand(steps, b, *in_shape).astype(np.float32))
    if mse:
        ys = np.random.rand(steps, b, classes).astype(np.float32)
    else:
        ys = np.random.randint(0, classes, size=(steps, b)).astype(np.int32)
    xs.tofile("x.bin")
    ys.tofile("y.bin")
    with open("harness.cpp", "w") as f:
        f.write(HARNESS % {
            "name": name, "steps": steps,
            "input": "std::int64_t" if tokens else "float",
            "label": "float" if mse else "std::int32_t",
            "label_size": "m::kOutputSize" if mse else "m::kBatch",
            "warmup": args.warmup, "grad_lr": "1.0f",
            "bad_label_check": "" if mse else BAD_LABEL_CHECK})
    flags = ["-std=c++17", "-O1", "-g", "-Wall", "-Wextra", "-Werror",
             "-fno-exceptions", "-fno-rtti", "-Ipkg"]
    san = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all"]
    if args.no_sanitize:
        san = ["-O2"]
    run(["g++"] + flags + san + ["harness.cpp", f"pkg/{name}.cpp",
                                 f"pkg/{name}_params.cpp", "-o", "harness"])
    run(["./harness", "x.bin", "y.bin"])
    for i, flag in enumerate(args.bit_identical_to):
        check_bit_identical(f"alt{i}", flag, compile_cmd, flags + san, name)

    # Heap-free generated code, and it builds for Cortex-M4.
    run(["g++"] + flags + ["-c", f"pkg/{name}.cpp", "-o", "gen.o"])
    syms = run(["nm", "-C", "gen.o"])
    for bad in ["malloc", "operator new", "calloc", "realloc", "free"]:
        if any(bad in line for line in syms.splitlines() if " U " in line):
            raise SystemExit(f"FAILED: generated code references {bad}")
    if shutil.which("arm-none-eabi-g++"):
        run(["arm-none-eabi-g++", "-std=c++17", "-O2", "-mcpu=cortex-m4",
             "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16",
             "-fno-exceptions", "-fno-rtti", "-Wall", "-Wextra", "-Werror",
             "-Ipkg", "-c", f"pkg/{name}.cpp", "-o", "gen_m4.o"])
    else:
        raise SystemExit("FAILED: arm-none-eabi-g++ not installed")

    report = json.load(open("pkg/report.json"))
    arena = report["arena"]
    if not (arena["lower_bound_bytes"] <= arena["bytes"] <= arena["no_reuse_bytes"]):
        raise SystemExit(f"FAILED: arena {arena['bytes']} outside "
                         f"[{arena['lower_bound_bytes']}, {arena['no_reuse_bytes']}]")

    # --update auto may have chosen a static sparse update: the reference
    # follows what the package trains.
    args.sparsity = report["sparsity"]
    # PyTorch reference: same weights, same samples, plain SGD.
    names = [p["onnx_name"] for p in report["parameters"]["list"] if p["trainable"]]
    params = dict(model.named_parameters())
    for p in model.parameters():
        p.requires_grad_(False)
    trained = [params[n] for n in names]
    for p in trained:
        p.requires_grad_(True)
    if args.sparsity.startswith("static:"):
        mask_static_channels(model, trained, float(args.sparsity[7:]))
    dgsu_ratio = (float(args.sparsity[5:]) if args.sparsity.startswith("dgsu:")
                  else None)
    if args.sparsity.startswith("combined"):
        fields = args.sparsity.partition(":")[2].split(",")
        dgsu_ratio = float(fields[0]) if fields[0] else 0.1
        args.sparsity = "tinyprop2" + (":" + ",".join(fields[1:])
                                       if len(fields) > 1 else "")
    tinyprop = tinyprop_spec(args.sparsity)
    if tinyprop is not None:
        ratios = None
        if args.warmup:
            ratios = [float(v) for v in open("ratios.txt").read().split()]
        hook_tinyprop(model, tinyprop, xs[0], ratios)
    # Selectable weights and their channel axis: input channels, or the
    # filters of a depthwise convolution.
    selectable = {id(m.weight): 1 for m in model.modules()
                  if isinstance(m, nn.Linear) or
                  (isinstance(m, nn.Conv2d) and m.groups == 1)}
    selectable.update({id(m.weight): 0 for m in model.modules()
                       if isinstance(m, nn.Conv2d) and m.groups > 1 and
                       m.groups == m.in_channels == m.out_channels})
    wd = args.weight_decay
    if args.optimizer == "sgd":
        opt = torch.optim.SGD(trained, lr=args.lr, weight_decay=wd)
    elif args.optimizer in ("momentum", "nesterov"):
        opt = torch.optim.SGD(trained, lr=args.lr, momentum=args.momentum,
                              nesterov=args.optimizer == "nesterov",
                              dampening=args.dampening, weight_decay=wd)
    elif args.optimizer == "adam":
        opt = torch.optim.Adam(trained, lr=args.lr, weight_decay=wd)
    else:
        opt = torch.optim.Adagrad(trained, lr=args.lr, lr_decay=args.lr_decay,
                                  weight_decay=wd, eps=1e-10)

    sizes = [p.numel() for p in trained]

    def split(flat):
        out, at = [], 0
        for n in sizes:
            out.append(flat[at:at + n])
            at += n
        return out

    p0 = split(np.fromfile("params0.bin", dtype=np.float32))
    for n, c, t in zip(names, p0, trained):
        if not np.array_equal(c, t.detach().numpy().ravel()):
            raise SystemExit(f"FAILED: initial {n} differs from the model")

    worst = {}
    # Gradients: C++ (p0 - p after one lr=1 step) vs autograd. The step is
    # rounded to float32 at |p0|, so errors are taken relative to
    # max(max|g|, 1e-3 max|p0|).
    pg = split(np.fromfile("gradstep.bin", dtype=np.float32))
    out = model(torch.from_numpy(xs[0]))
    loss_fn(mse, out, ys[0]).backward()
    for n, c0, c1, t in zip(names, p0, pg, trained):
        if args.optimizer != "sgd" or wd != 0:
            break  # one lr=1 step is -gradient only for plain SGD
        g_ref = t.grad.detach().numpy().ravel().astype(np.float64)
        g_c = c0.astype(np.float64) - c1.astype(np.float64)
        if dgsu_ratio is not None and id(t) in selectable:
            # DGSU chose the channels at run time: the C++ update must touch
            # at most ceil(ratio * C) input channels, equal PyTorch's dense
            # gradient on them and leave every other channel exactly alone.
            import math
            shape = t.shape
            axis = selectable[id(t)]
            ch = shape[axis]
            m = min(max(math.ceil(dgsu_ratio * ch), 1), ch)
            d = np.moveaxis(g_c.reshape(shape), axis, 0).reshape(ch, -1)
            touched = np.flatnonzero(np.any(d != 0, axis=1))
            worst[f"dgsu {n} touches <= {m} of {ch} channels"] = \
                0.0 if 0 < len(touched) <= m else 1.0
            mask = np.zeros(shape)
            mask[(slice(None),) * axis + (touched,)] = 1.0
            g_ref = g_ref * mask.ravel()
        scale = max(float(np.max(np.abs(g_ref))), 1e-3 * float(np.max(np.abs(c0))),
                    1e-30)
        worst[f"grad {n}"] = float(np.max(np.abs(g_c - g_ref))) / scale
        if args.fd:
            worst[f"finite-difference {n}"] = fd_check(
                model, n, g_c, xs[0], ys[0], mse, scale)
    for t in trained:
        t.grad = None
    if tinyprop is not None:
        # Later steps: k follows each step's error, so the check is what the
        # step statistics promise: a skipped step changes nothing, a run
        # step changes something, and the backward pass is sparse.
        lines = [l.split() for l in open("steps.txt").read().splitlines()]
        skipped = [int(l[0]) for l in lines]
        changed = [int(l[1]) for l in lines]
        ratios = [float(l[2]) for l in lines]
        worst["tinyprop skipped steps change nothing"] = float(
            any(s and c for s, c in zip(skipped, changed)))
        worst["tinyprop run steps update"] = float(
            any(not s and not c for s, c in zip(skipped, changed)))
        worst["tinyprop backward ratio in (0, 1)"] = float(
            any(not (0.0 < r < 1.0) for s, r in zip(skipped, ratios) if not s))
        print(f"tinyprop: {sum(skipped)} of {len(skipped)} steps skipped; "
              f"backward ratio {min(ratios):.3f} .. {max(ratios):.3f}")
    if dgsu_ratio is not None or tinyprop is not None:
        # The run-time choice is not PyTorch's to replay (and these random
        # samples and labels teach nothing): the later steps are checked for
        # finite losses; learning is the experiment's to show.
        c_losses = np.fromfile("losses.bin", dtype=np.float32)
        worst["losses finite"] = 0.0 if np.all(np.isfinite(c_losses)) else 1.0
        failed = print_checks(worst)
        print(f"arena {arena['bytes']} B, lower bound {arena['lower_bound_bytes']} B, "
              f"no reuse {arena['no_reuse_bytes']} B; MACs fwd {report['macs']['forward']} "
              f"bwd {report['macs']['backward']}")
        print(f"losses C++ {c_losses[0]:.6f} .. {c_losses[-1]:.6f}")
        if failed:
            raise SystemExit("FAILED: generated code disagrees with PyTorch")
        print("PASSED")
        return

    pred = np.fromfile("predict.bin", dtype=np.float32)
    ref_pred = model(torch.from_numpy(xs[0])).detach().numpy().ravel()
    worst["predict"] = rel_err(pred, ref_pred)

    c_losses = np.fromfile("losses.bin", dtype=np.float32)
    ref_losses = []
    for s in range(steps):
        opt.zero_grad()
        loss = loss_fn(mse, model(torch.from_numpy(xs[s])), ys[s])
        loss.backward()
        opt.step()
        ref_losses.append(loss.item())
        if s == 0:
            p1 = split(np.fromfile("params1.bin", dtype=np.float32))
            for n, c, t in zip(names, p1, trained):
                worst[f"param {n}"] = rel_err(c, t.detach().numpy().ravel())
    ref_losses = np.array(ref_losses, dtype=np.float64)
    worst["loss trajectory"] = float(np.max(np.abs(c_losses - ref_losses) /
                                           np.abs(ref_losses)))

    failed = print_checks(worst, {"loss trajectory": args.loss_tolerance})
    print(f"arena {arena['bytes']} B, lower bound {arena['lower_bound_bytes']} B, "
          f"no reuse {arena['no_reuse_bytes']} B; MACs fwd {report['macs']['forward']} "
          f"bwd {report['macs']['backward']}")
    print(f"losses C++ {c_losses[0]:.6f} .. {c_losses[-1]:.6f}; "
          f"PyTorch {ref_losses[0]:.6f} .. {ref_losses[-1]:.6f}")
    if failed:
        raise SystemExit("FAILED: generated code disagrees with PyTorch")
    print("PASSED")


if __name__ == "__main__":
    main()
