#!/usr/bin/python3
"""Differential model fuzzing: random valid ONNX networks, trained by the
generated C++ and by PyTorch, compared.

  bench/difftest.py --models N --seed S [--jobs 2] [--workdir DIR]

Model i is generated from seed S + i (test/fuzz/generator.py: random ops,
attributes, shapes, opset 11-17, batch 1-4, loss, optimizer, trainable set,
sparsity, --sram/--update auto, kernels on/off, memory options), compiled by
mcutrain, built with -Werror under ASan/UBSan (some optimised with -O2
-march=native instead), run, and compared with test/fuzz/reference.py:
predictions, one step at learning rate 1 (the gradient for SGD), the loss of
each of 5 steps and the parameters after the first and the fifth (the
tolerance rule is in reference.py). The arena plan in report.json is checked
by an independent overlap checker (no two buffers live at once share a
byte), and the arena lies between its lower bound and the no-reuse size.

A mismatch prints its seed, the checks that failed and the command that
reproduces it (bench/difftest.py --models 1 --seed SEED --keep); --shrink
reduces it to a minimal recipe (test/fuzz/shrink.py). The last line is
`N models, M mismatches`; the exit status is non-zero on any mismatch.
"""
import argparse
import json
import multiprocessing
import os
import random
import shutil
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "test", "fuzz"))
import generator  # noqa: E402
import harness  # noqa: E402
import int8_models  # noqa: E402
import plan_check  # noqa: E402

STEPS = 5
# Refusals that are the compiler's documented answer to options drawn
# without regard to the model (a budget too small, a trainable set or a
# sparsity mode the model has nothing for), not bugs.
EXPECTED_REFUSALS = [
    "does not fit", "would fit", "over the --sram budget",
    "matches no trainable initializer",
    "parameterised layers",
    "no Conv or Gemm layer in the backward pass",
    "selects no parameter", "no gradient reaches it",
    # int8: sparse updates select channels of int8 weights, not of
    # --weight-update fp32-master copies.
    "is an fp32 master weight",
]


def compile_flags(options):
    flags = []
    for k, v in options.items():
        if k == "trainable-names":
            continue
        flags.append(f"--{k}={v}")
    return flags


def resolve_trainable(seed, options, model):
    """--trainable names: 1-3 float initializers of the model, or a glob."""
    o = dict(options)
    if o.get("trainable") != "names":
        return o
    r = random.Random(seed + 7)
    names = [t.name for t in model.graph.initializer if t.data_type == 1]
    if not names:
        o["trainable"] = "all"
        return o
    picked = r.sample(names, min(len(names), r.randint(1, 3)))
    if r.random() < 0.3:
        picked = [picked[0].rsplit("_", 1)[0] + "_*"]
    o["trainable"] = ",".join(picked)
    return o


class Case:
    """One differential test: a model, its training options and the seed
    its samples come from. From a generator recipe, or from a folder (a
    saved regression: model.onnx and case.json)."""

    def __init__(self, seed, model, options, vocab, name=None):
        self.seed, self.model, self.vocab = seed, model, vocab
        self.options = options  # mcutrain flags, "loss" included
        self.name = name or str(seed)
        self.out_shape = [d.dim_value for d in
                          model.graph.output[0].type.tensor_type.shape.dim]
        self.in_shape = [d.dim_value for d in
                         model.graph.input[0].type.tensor_type.shape.dim]
        self.mse = options["loss"] == "mse"
        # "ok", or "refusal: <text the compiler's error must contain>".
        self.expect = "ok"
        self.int8 = False  # an int8 model: test/e2e/int8_training.py

    @staticmethod
    def from_seed(seed):
        return Case.from_recipe(int8_models.recipe(seed))

    @staticmethod
    def from_recipe(recipe):
        model, _, vocab, applied, _ = recipe.build()
        options = resolve_trainable(recipe.seed, recipe.options, model)
        options["loss"] = recipe.loss
        case = Case(recipe.seed, model, options, vocab)
        case.steps = applied
        case.int8 = getattr(recipe, "int8", False)
        return case

    @staticmethod
    def from_dir(path):
        import onnx
        meta = json.load(open(os.path.join(path, "case.json")))
        model = onnx.load(os.path.join(path, "model.onnx"))
        case = Case(meta["seed"], model, meta["options"], meta.get("vocab"),
                    name=os.path.basename(os.path.normpath(path)))
        case.steps = []
        case.expect = meta.get("expect", "ok")
        case.int8 = meta.get("int8", False)
        return case

    def save(self, path, note):
        import onnx
        os.makedirs(path, exist_ok=True)
        onnx.save(self.model, os.path.join(path, "model.onnx"))
        with open(os.path.join(path, "case.json"), "w") as f:
            json.dump({"seed": self.seed, "options": self.options,
                       "vocab": self.vocab, "int8": self.int8,
                       "note": note}, f, indent=1)
            f.write("\n")


def make_samples(case):
    rng = np.random.default_rng(case.seed + 3)
    if case.vocab:
        xs = rng.integers(0, case.vocab, size=(STEPS,) + tuple(case.in_shape))
    else:
        xs = rng.uniform(-1, 1, size=(STEPS,) + tuple(case.in_shape)).astype(
            np.float32)
    if case.mse:
        ys = rng.uniform(-1, 1, size=(STEPS,) + tuple(case.out_shape)).astype(
            np.float32)
    else:
        ys = rng.integers(0, case.out_shape[1],
                          size=(STEPS, case.out_shape[0])).astype(np.int32)
    return xs, ys


def compile_model(mcutrain, workdir, options):
    cmd = [mcutrain, "compile", "model.onnx", "-o", "pkg", "--name", "net",
           "--loss", options["loss"]] + compile_flags(
               {k: v for k, v in options.items() if k != "loss"})
    r = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True,
                       timeout=600)
    return r.returncode, r.stdout + r.stderr, cmd


def run_case(case, workdir, mcutrain, optimised_share=0.15, keep=False):
    """Compiles, builds, runs and compares one case. Returns a result
    dict (status: ok, mismatch, expected-refusal)."""
    import onnx
    model = case.model
    res = {"seed": case.seed, "name": case.name,
           "ops": [n.op_type for n in model.graph.node],
           "ops_set": sorted({n.op_type for n in model.graph.node}),
           "steps": case.steps, "options": case.options, "checks": {}}
    d = os.path.join(workdir, case.name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    try:
        onnx.checker.check_model(model, full_check=True)
        onnx.shape_inference.infer_shapes(model, check_type=True,
                                          strict_mode=True)
        onnx.save(model, os.path.join(d, "model.onnx"))
        outcome = compare_case(case, d, mcutrain, optimised_share, res)
    except Exception as e:  # a crash of the test itself is reported too
        import traceback
        outcome = ("mismatch", f"difftest error: {e!r}\n" +
                   traceback.format_exc())
    res["status"], res["detail"] = outcome
    if res["status"] == "ok" and not keep:
        shutil.rmtree(d, ignore_errors=True)
    return res


def optimised_build(case, optimised_share, res):
    """Whether this case's package is built -O2 -march=native (a share of
    them, by seed) rather than under ASan/UBSan; recorded in res."""
    optimised = random.Random(case.seed + 11).random() < optimised_share
    res["build"] = "optimised" if optimised else "sanitized"
    return optimised


def compare_case(case, d, mcutrain, optimised_share, res):
    import reference
    rc, log, cmd = compile_model(mcutrain, d, case.options)
    res["command"] = " ".join(cmd[1:])
    if case.expect.startswith("refusal: "):
        want = case.expect[len("refusal: "):]
        if rc != 0 and want in log:
            return "ok", ""
        return "mismatch", f"expected a refusal with '{want}':\n" + \
            log.strip()[-2000:]
    if rc != 0:
        if any(k in log for k in EXPECTED_REFUSALS):
            return "expected-refusal", log.strip()[-300:]
        return "mismatch", "compile failed:\n" + log.strip()[-2000:]
    report = json.load(open(os.path.join(d, "pkg", "report.json")))
    problems = plan_check.check(report)
    if problems:
        return "mismatch", "arena plan: " + "; ".join(problems[:5])
    if case.int8:
        return compare_int8(case, d, mcutrain, optimised_share, res)
    xs, ys = make_samples(case)
    xs.tofile(os.path.join(d, "x.bin"))
    ys.tofile(os.path.join(d, "y.bin"))
    harness.write_harness(os.path.join(d, "harness.cpp"), "net", STEPS,
                          bool(case.vocab), case.mse)
    optimised = optimised_build(case, optimised_share, res)
    ok, log = harness.build(d, "net", optimised)
    if not ok:
        return "mismatch", "harness build failed:\n" + log[-2000:]
    for mode in ("grad", "train"):
        ok, log = harness.run(d, mode)
        if not ok:
            return "mismatch", f"harness {mode} failed:\n" + log[-3000:]
    options = dict(case.options)
    options["optimizer"] = report["optimizer"]
    refs, trained = reference.run_reference(case.model, report, options, xs,
                                            ys, case.mse, STEPS)
    failed = compare_outputs(d, case.model, report, options, refs, trained,
                             res)
    if failed:
        return "mismatch", "; ".join(failed)
    return "ok", ""


INT8_ORACLE = os.path.join(ROOT, "test", "e2e", "int8_training.py")
# Options int8_training.py takes itself; the others pass through --flag.
INT8_ORACLE_OPTIONS = ("optimizer", "lr", "weight-update", "qas",
                       "sparsity")


def compare_int8(case, d, mcutrain, optimised_share, res):
    """An int8 model against test/e2e/int8_training.py's reference of the
    same arithmetic (int8 forward exact, float32 backward, int8 updates in
    integer units): float gradients and parameters within 1e-4, int8 weights
    and int32 biases equal after one step and after the last, losses within
    1e-3 (run-time sparsity: the first step, then finite losses)."""
    xs, _ = make_samples(case)
    np.savez(os.path.join(d, "ref.npz"), input=xs[:, 0])
    optimised = optimised_build(case, optimised_share, res)
    o = case.options
    cmd = [sys.executable, INT8_ORACLE, "model.onnx", "ref.npz", "int8",
           "--mcutrain", mcutrain, "--steps", str(STEPS),
           "--fuzz"]
    cmd += [x for k in INT8_ORACLE_OPTIONS if k in o
            for x in (f"--{k}", str(o[k]))]
    cmd += [f"--flag=--{k}={v}" for k, v in o.items()
            if k not in INT8_ORACLE_OPTIONS + ("loss",)]
    if not optimised:
        cmd.append("--sanitize")
    r = subprocess.run(cmd, cwd=d, capture_output=True, text=True,
                       timeout=900)
    log = r.stdout + r.stderr
    if r.returncode == 0 and log.rstrip().endswith("PASSED"):
        return "ok", ""
    failed = [l for l in log.splitlines() if l.startswith("FAIL")]
    return "mismatch", "int8 oracle: " + "; ".join(failed)[:500] + "\n" + \
        log.strip()[-1500:]


def load_params(path, sizes):
    flat = np.fromfile(path, dtype=np.float32).astype(np.float64)
    out, at = {}, 0
    for n, s in sizes:
        out[n] = flat[at:at + s]
        at += s
    return out


def noise_mask(grads_list, names):
    """Per parameter: elements whose gradient is at least 1e-4 of the
    tensor's largest at every step (Adam/Adagrad compare only these)."""
    masks = {}
    for n in names:
        m = None
        for g in grads_list:
            big = np.max(np.abs(g[n])) if g[n].size else 0.0
            ok = np.abs(g[n]) >= 1e-4 * big if big > 0 else np.zeros(
                g[n].shape, bool)
            m = ok if m is None else (m & ok)
        masks[n] = m
    return masks


def noise_moved(masks, r64, r32, last):
    """Whether an element left out as float noise moved (in the package's
    run or PyTorch's float32 one) by more than 1e-4 of its tensor."""
    for n, m in masks.items():
        p0 = r64["params0"][n]
        big = max(float(np.max(np.abs(p0))), 1e-30)
        for moved in (last[n] - p0, r32["params_last"][n] - p0):
            if np.any(np.abs(moved[~m]) > 1e-4 * big):
                return True
    return False


def compare_outputs(d, model, report, options, refs, trained, res):
    """Every check's error (<= 1 passes) into res['checks']; the failed
    ones' names are returned."""
    import torch
    import reference
    r64, r32 = refs[torch.float64], refs[torch.float32]
    sizes = [(n, r64["params0"][n].size) for n in trained]
    p = lambda f: load_params(os.path.join(d, f), sizes)  # noqa: E731
    checks = res["checks"]
    c0 = p("params0.bin")
    for n in trained:
        if not np.array_equal(c0[n], r64["params0"][n].astype(np.float32)):
            checks[f"initial {n}"] = float("inf")
    pred = np.fromfile(os.path.join(d, "predict.bin"), dtype=np.float32)
    checks["predict"] = reference.tolerance_error(
        pred, r64["predict"], r32["predict"],
        float(np.max(np.abs(r64["predict"]))))
    sparsity = report.get("sparsity", "none")
    check_kept(checks, sparsity, report)
    exact = sparsity in ("none", "tinyprop:1,1,1") or \
        sparsity.startswith("static:")
    adaptive = options["optimizer"] in ("adam", "adagrad")
    if exact:
        masks = noise_mask([r64["grads"]], trained) if adaptive else {}
        compare_params(checks, "step lr=1", p("gradstep.bin"), r64, r32,
                       "gradstep", trained, masks)
        masks = noise_mask(r64["train_grads"][:1], trained) if adaptive \
            else {}
        compare_params(checks, "param step 1", p("params1.bin"), r64, r32,
                       "params1", trained, masks)
        # A run that diverges (PyTorch's float32 loss past 1e4 or not
        # finite: random models at lr 0.1 can) is compared up to there.
        ok = [bool(np.isfinite(v) and abs(v) < 1e4) for v in r32["losses"]]
        n_ok = ok.index(False) if False in ok else len(ok)
        masks = noise_mask(r64["train_grads"], trained) if adaptive else {}
        if noise_moved(masks, r64, r32, p("params_last.bin")):
            # A float-noise gradient's normalized step is a real one (of
            # arbitrary size) that changes the later steps of the others:
            # the run is compared up to the first step only.
            res["noise_step"] = True
        elif n_ok == STEPS:
            compare_params(checks, f"param step {STEPS}",
                           p("params_last.bin"), r64, r32, "params_last",
                           trained, masks)
        else:
            res["diverged"] = n_ok
        n_ok = 1 if res.get("noise_step") else n_ok
        losses = np.fromfile(os.path.join(d, "losses.bin"), dtype=np.float32)
        checks["losses"] = reference.tolerance_error(
            losses[:n_ok], r64["losses"][:n_ok], r32["losses"][:n_ok],
            float(np.max(np.abs(r64["losses"][:n_ok]), initial=0.0)))
    else:
        check_run_time_sparsity(d, checks, sparsity, model, report,
                                trained, r64, r32, c0, p("gradstep.bin"),
                                options)
    return [k for k, v in checks.items() if not v <= 1.0]


def check_kept(checks, sparsity, report):
    """static:R / dgsu:R keep ceil(R * C) channels (at least 1)."""
    import math
    from fractions import Fraction
    import reference
    kind, _, spec = sparsity.partition(":")
    if kind not in ("static", "dgsu") or "=" in spec:
        return
    for n, (_, c, kept) in reference.sparse_updates(report).items():
        # The decimal ratio times C, exactly (0.3 x 90 is 27, not 28).
        want = min(max(math.ceil(Fraction(spec) * c), 1), c)
        checks[f"{n} keeps {want} of {c} channels"] = \
            0.0 if kept == want else 2.0


def compare_params(checks, label, c, r64, r32, key, trained, masks):
    import reference
    for n in trained:
        p0 = r64["params0"][n]
        r, q, cv = r64[key][n], r32[key][n], c[n]
        if n in masks:
            m = masks[n]
            r, q, cv, p0m = r[m], q[m], cv[m], p0[m]
        else:
            p0m = p0
        if r.size == 0:
            continue
        big = float(np.max(np.abs(p0)))
        scale = max(float(np.max(np.abs(r - p0m))), 1e-3 * big, 1e-30)
        checks[f"{label} {n}"] = reference.tolerance_error(
            cv, r, q, scale, atol=2 * big * 2.0 ** -23)


def check_run_time_sparsity(d, checks, sparsity, model, report, trained,
                            r64, r32, c0, cstep, options):
    """DGSU / TinyProp / combined choose at run time. Every step reports a
    skip or a backward ratio in (0, 1], the losses are finite, and with DGSU
    (plain SGD) the lr=1 step touches at most ceil(ratio * C) channels of
    each selectable weight, equals PyTorch's dense step on them, and equals
    it everywhere on the other parameters."""
    import reference
    losses = np.fromfile(os.path.join(d, "losses.bin"), dtype=np.float32)
    # Finite until the run diverges (a loss past 1e4: random models at lr
    # 0.1 can), as the dense checks are compared up to there.
    diverged = [i for i, v in enumerate(losses) if abs(v) > 1e4]
    upto = diverged[0] + 1 if diverged else len(losses)
    checks["losses finite"] = 0.0 if np.all(np.isfinite(losses[:upto])) \
        else 2.0
    lines = [line.split() for line in open(os.path.join(d, "steps.txt"))]
    bad = [l for l in lines if not int(l[0]) and not
           (0.0 < float(l[1]) <= 1.0)]
    checks["backward ratio in (0, 1]"] = 2.0 if bad else 0.0
    if not sparsity.startswith("dgsu:") or options["optimizer"] != "sgd" or \
            options.get("weight-decay"):
        return
    sparse = reference.sparse_updates(report)
    shapes = reference.initializer_shapes(model)
    for n in trained:
        p0 = r64["params0"][n]
        g_c = p0 - cstep[n]
        g_r, g_q = p0 - r64["gradstep"][n], p0 - r32["gradstep"][n]
        scale = max(float(np.max(np.abs(g_r))), 1e-3 * float(
            np.max(np.abs(p0))), 1e-30)
        if n in sparse:
            axis, ch, limit = sparse[n]
            shape = shapes[n]
            per = np.moveaxis(g_c.reshape(shape), axis, 0).reshape(ch, -1)
            touched = np.flatnonzero(np.any(per != 0, axis=1))
            checks[f"dgsu {n} touches <= {limit} of {ch} channels"] = \
                0.0 if len(touched) <= limit else 2.0
            keep = np.zeros(ch, bool)
            keep[touched] = True
            m = np.moveaxis(np.broadcast_to(keep.reshape(
                (ch,) + (1,) * (len(shape) - 1)), (ch,) + tuple(
                    np.moveaxis(np.zeros(shape), axis, 0).shape[1:])), 0,
                axis).ravel()
            g_c, g_r, g_q = g_c[m], g_r[m], g_q[m]
        checks[f"dgsu step {n}"] = reference.tolerance_error(
            g_c, g_r, g_q, scale,
            atol=2 * float(np.max(np.abs(p0))) * 2.0 ** -23)


def worker(args):
    source, workdir, mcutrain, share, keep = args
    import torch
    torch.set_num_threads(1)
    t = time.time()
    try:
        case = (Case.from_dir(source) if isinstance(source, str) else
                Case.from_seed(source))
    except Exception as e:  # a generator crash is reported, not fatal
        import traceback
        return {"seed": source if isinstance(source, int) else -1,
                "name": str(source), "ops": [], "ops_set": [], "steps": [],
                "options": {}, "checks": {}, "status": "mismatch",
                "seconds": time.time() - t,
                "detail": f"generator error: {e!r}\n" +
                traceback.format_exc()}
    r = run_case(case, workdir, mcutrain, share, keep)
    r["seconds"] = time.time() - t
    return r


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", type=int, default=50)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cases", nargs="+", metavar="DIR",
                    help="run saved cases (folders with model.onnx and "
                    "case.json, e.g. test/fuzz/regressions/*) instead of "
                    "generated models")
    ap.add_argument("--seed-list", metavar="FILE",
                    help="run the seeds listed in FILE (whitespace-"
                    "separated) instead of --seed .. --seed + --models - 1")
    ap.add_argument("--kind", choices=["all", "float", "int8"], default="all",
                    help="run only the float or the int8 models among the "
                    "seeds (about 1 in 7 is int8: test/fuzz/int8_models.py)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--workdir", default=os.path.join(ROOT, "build",
                                                      "difftest"))
    ap.add_argument("--mcutrain", default=os.path.join(ROOT, "build", "bin",
                                                       "mcutrain"))
    ap.add_argument("--optimised-share", type=float, default=0.15,
                    help="share of models built -O2 -march=native instead "
                    "of -O0 with ASan/UBSan")
    ap.add_argument("--keep", action="store_true",
                    help="keep every model's folder (default: failures)")
    ap.add_argument("--json", help="write every result to this file")
    ap.add_argument("--histogram", action="store_true",
                    help="print how often each op, option and build ran")
    ap.add_argument("--shrink", metavar="DIR",
                    help="reduce each mismatch to a minimal model and save it "
                    "under DIR/seed-N (a regression case for --cases)")
    return ap.parse_args()


def report_mismatch(r, workdir):
    again = (f"--cases {r['name']}" if not r["name"].isdigit() else
             f"--models 1 --seed {r['seed']}")
    print(f"MISMATCH {r['name']}: {r['detail'][:1500]}\n"
          f"  ops: {' '.join(r['ops_set'])}\n"
          f"  options: {r['options']}\n"
          f"  again: bench/difftest.py {again} --keep   (folder "
          f"{workdir}/{r['name']})", flush=True)


def main():
    args = parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    seeds = [int(v) for v in open(args.seed_list).read().split()] \
        if args.seed_list else range(args.seed, args.seed + args.models)
    sources = args.cases or [
        s for s in seeds
        if args.kind == "all" or int8_models.is_int8(s) == (args.kind == "int8")]
    jobs = [(s, args.workdir, args.mcutrain, args.optimised_share, args.keep)
            for s in sources]
    start = time.time()
    results = []
    with multiprocessing.Pool(args.jobs) as pool:
        for r in pool.imap_unordered(worker, jobs):
            results.append(r)
            if r["status"] == "mismatch":
                report_mismatch(r, args.workdir)
            if len(results) % 500 == 0:
                print(f"... {len(results)} of {len(jobs)} models, "
                      f"{sum(x['status'] == 'mismatch' for x in results)} "
                      f"mismatches, {time.time() - start:.0f} s",
                      file=sys.stderr, flush=True)
    results.sort(key=lambda r: (r["seed"], r["name"]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    if args.histogram:
        print_histogram(results)
    mism = [r for r in results if r["status"] == "mismatch"]
    refused = sum(r["status"] == "expected-refusal" for r in results)
    if args.shrink and mism and not args.cases:
        import shrink
        for r in mism:
            shrink.shrink(r, args.workdir, lambda case: run_case(
                case, args.workdir, args.mcutrain, args.optimised_share),
                Case.from_recipe, args.shrink)
    print(f"time {time.time() - start:.0f} s; {refused} refused as "
          f"documented (options the model has nothing for, --sram too "
          f"small)")
    print(f"{len(results)} models, {len(mism)} mismatches")
    return 1 if mism else 0


ENUM_OPTIONS = ("optimizer", "sparsity", "kernels", "recompute", "update",
                "loss", "pack-masks", "in-place", "fuse-conv-chains",
                "tie-shared-initializers")


def option_key(k, v):
    """A histogram bucket: an enumerated option's value, a trainable set's
    kind (names and globs as one), or that a numeric option was set."""
    if k in ENUM_OPTIONS:
        return f"{k}={v}"
    if k == "trainable":
        kind = v.split(":")[0]
        return f"trainable={kind if kind in ('all', 'last', 'bias-only') else 'names'}"
    return f"{k}=set"


def print_histogram(results):
    ops, opts, builds = {}, {}, {}
    for r in results:
        for o in r["ops"]:
            ops[o] = ops.get(o, 0) + 1
        for k, v in r["options"].items():
            key = option_key(k, v)
            opts[key] = opts.get(key, 0) + 1
        build = r.get("build", "not built")
        builds[build] = builds.get(build, 0) + 1
    print("ops:", ", ".join(f"{k} {v}" for k, v in sorted(ops.items())))
    print("options:", ", ".join(f"{k} {v}" for k, v in sorted(opts.items())))
    print("builds:", ", ".join(f"{k} {v}" for k, v in sorted(builds.items())))


if __name__ == "__main__":
    sys.exit(main())
