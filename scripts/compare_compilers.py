#!/usr/bin/python3
"""Compiles a set of models under many options with two mcutrain binaries and
diffs the packages file by file: the proof that a change to the compiler
leaves generated code alone where it should.

  scripts/compare_compilers.py --old OLD/mcutrain --new build/bin/mcutrain \\
      --work /tmp/compare [--models lenet5,ds_cnn] [--quick]

Models: the zoo (examples/zoo/zoo.py, exported as the zoo tests do) and the
demo CNN (random weights), at opsets 13 and 17. Options: a matrix over trainable sets, optimizers, sparsity methods,
kernels, alignment, --sram/--update auto and --inference-only. A pair of
runs that both fail with the same message counts as equal. Prints one line
per difference and a summary; exits 1 if anything differs.
--report-ignore KEYS compares report.json without keys a change added on
purpose (the rest of it, and every other file, byte for byte).
--ignore-comments compares C++ files without their whole-line // comments
(the node comments of the generated code); --ignore-arena-names with every
arena pointer spelled as its address (the named pointers of
name-arena-pointers against the older size_t/&arena[] pairs) and the
emitter's locals renumbered.
"""
import argparse
import filecmp
import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "examples", "zoo"))
sys.path.insert(0, os.path.join(ROOT, "examples", "fashion-mnist"))

OPTION_SETS = {
    "default": [],
    "last2": ["--trainable", "last:2"],
    "bias": ["--trainable", "bias-only"],
    "adam": ["--optimizer", "adam", "--weight-decay", "0.01"],
    "momentum": ["--optimizer", "momentum"],
    "nesterov": ["--optimizer", "nesterov", "--dampening", "0.1"],
    "adagrad": ["--optimizer", "adagrad"],
    "static": ["--sparsity", "static:0.25"],
    "dgsu": ["--sparsity", "dgsu:0.1"],
    "tinyprop": ["--sparsity", "tinyprop"],
    "tinyprop2": ["--sparsity", "tinyprop2"],
    "combined": ["--sparsity", "combined"],
    "loops": ["--kernels=false"],
    "align16": ["--alignment", "16"],
    "auto": ["--sram", "96KiB", "--update", "auto"],
    "inference": ["--inference-only"],
    "mixed": ["--trainable", "last:3", "--optimizer", "adam", "--sparsity",
              "dgsu:0.25", "--lr", "0.002"],
}
QUICK = ["default", "last2", "dgsu", "inference"]


def export_models(names, out):
    """NAME or NAME@OPSET (default 13) -> its ONNX file under `out`."""
    import torch
    import zoo
    from model import DemoCNN, export as export_demo
    paths = {}
    for name in names:
        model, _, opset = name.partition("@")
        opset = int(opset or 13)
        path = os.path.join(out, f"{model}.{opset}.onnx")
        if not os.path.exists(path):
            if model == "demo":
                torch.manual_seed(0)
                export_demo(DemoCNN(), path, opset=opset)
            else:
                zoo.export(model, path, opset)
        paths[name] = path
    return paths


def compile_one(mcutrain, onnx, options, out):
    loss = ["--loss", "mse"] if "autoencoder" in onnx else []
    res = subprocess.run([mcutrain, "compile", onnx, "-o", out, "--name", "m"]
                         + loss + options, capture_output=True, text=True)
    # Diagnostics name the file, not the compiler: comparable as they are.
    return res.returncode, res.stderr


def without_keys(value, keys):
    """A JSON value with the given object keys dropped, at any depth."""
    if isinstance(value, dict):
        return {k: without_keys(v, keys) for k, v in value.items()
                if k not in keys}
    if isinstance(value, list):
        return [without_keys(v, keys) for v in value]
    return value


COMMENT_LINE = re.compile(r"^[ \t]*//.*\n", re.M)


def without_comments(path):
    return COMMENT_LINE.sub("", open(path).read())


OLD_ARENA_POINTER = re.compile(
    r"^[ \t]*\w+\* (v\d+) = &(mcutrain_arena\w*)\[(v\d+)\];\n", re.M)
NAMED_ARENA_POINTER = re.compile(
    r"^[ \t]*\w+ \*const (\w+) = (mcutrain_arena\w*)(?: \+ (\d+))?;\n",
    re.M)
SIZE_CONSTANT = re.compile(r"^[ \t]*size_t (v\d+) = (\d+);\n", re.M)
LOCAL_NAME = re.compile(r"\b[a-z]\d+\b")


def arena_address(arena, offset):
    return arena if int(offset or 0) == 0 else f"{arena} + {offset}"


FUNCTION_BODY = re.compile(r"(?:^[ \t]+\S.*\n)+", re.M)


def without_arena_names(text):
    """C++ with every arena pointer spelled as its address, function by
    function (the emitter's names are local to one)."""
    return FUNCTION_BODY.sub(lambda m: body_without_arena_names(m.group(0)),
                             text)


def body_without_arena_names(text):
    """The old form (size_t vA = N; float* vB = &arena[vA];) and the named
    one (float *const act_x = arena + N;) both become 'arena + N' at their
    uses; size_t constants nothing uses any more are dropped and the
    emitter's locals (v12, i40, ...) renumbered in order of appearance,
    since removing the old pairs shifts their numbers."""
    sizes = {m.group(1): m.group(2) for m in SIZE_CONSTANT.finditer(text)}
    uses = {}
    for m in OLD_ARENA_POINTER.finditer(text):
        uses[m.group(1)] = arena_address(m.group(2), sizes.get(m.group(3)))
    text = OLD_ARENA_POINTER.sub("", text)
    for m in NAMED_ARENA_POINTER.finditer(text):
        uses[m.group(1)] = arena_address(m.group(2), m.group(3))
    text = NAMED_ARENA_POINTER.sub("", text)
    if uses:
        text = re.sub(r"\b(" + "|".join(map(re.escape, uses)) + r")\b",
                      lambda m: uses[m.group(1)], text)
    counts = {}
    for name in re.findall(r"\bv\d+\b", text):
        counts[name] = counts.get(name, 0) + 1
    text = SIZE_CONSTANT.sub(
        lambda m: "" if counts.get(m.group(1)) == 1 else m.group(0), text)
    numbers = {}
    return LOCAL_NAME.sub(
        lambda m: numbers.setdefault(m.group(0), f"_{len(numbers)}"), text)


def normalized(path, ignore_comments, ignore_arena_names):
    text = without_comments(path) if ignore_comments else open(path).read()
    return without_arena_names(text) if ignore_arena_names else text


def same_file(old, new, report_ignore, ignore_comments,
              ignore_arena_names=False):
    if not (os.path.exists(old) and os.path.exists(new)):
        return False
    if filecmp.cmp(old, new, shallow=False):
        return True
    if report_ignore and os.path.basename(old) == "report.json":
        return (without_keys(json.load(open(old)), report_ignore) ==
                without_keys(json.load(open(new)), report_ignore))
    if (ignore_comments or ignore_arena_names) and old.endswith(
            (".cpp", ".h")):
        return (normalized(old, ignore_comments, ignore_arena_names) ==
                normalized(new, ignore_comments, ignore_arena_names))
    return False


def compare(old_dir, new_dir, report_ignore=(), ignore_comments=False,
            ignore_arena_names=False):
    """Files that differ or exist on one side only."""
    names = sorted(set(os.listdir(old_dir)) | set(os.listdir(new_dir)))
    return [n for n in names
            if not same_file(os.path.join(old_dir, n),
                             os.path.join(new_dir, n), report_ignore,
                             ignore_comments, ignore_arena_names)]


def main():
    import zoo
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--old", required=True)
    ap.add_argument("--new", required=True)
    ap.add_argument("--work", required=True)
    models = ["demo"] + list(zoo.MODELS)
    ap.add_argument("--models", default=",".join(
        models + [m + "@17" for m in models]),
        help="NAME or NAME@OPSET (13 if not given); default: the demo CNN "
             "and the zoo at opsets 13 and 17")
    ap.add_argument("--options", default=",".join(OPTION_SETS),
                    help="option sets to run (names above)")
    ap.add_argument("--quick", action="store_true",
                    help="only the option sets " + ",".join(QUICK))
    ap.add_argument("--report-ignore", default="",
                    help="comma-separated report.json keys a change added "
                         "on purpose: compared without them")
    ap.add_argument("--ignore-comments", action="store_true",
                    help="compare .cpp/.h files without whole-line // "
                         "comments")
    ap.add_argument("--ignore-arena-names", action="store_true",
                    help="compare .cpp/.h files with arena pointers spelled "
                         "as addresses and locals renumbered (the named "
                         "arena pointers of name-arena-pointers)")
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    models = export_models(args.models.split(","), args.work)
    sets = QUICK if args.quick else args.options.split(",")
    differ = same = 0
    for name, onnx in models.items():
        for opt in sets:
            pkgs = [os.path.join(args.work, f"{name}.{opt}.{side}")
                    for side in ("old", "new")]
            runs = [compile_one(binary, onnx, OPTION_SETS[opt], pkg)
                    for binary, pkg in zip((args.old, args.new), pkgs)]
            if runs[0][0] or runs[1][0]:
                ok = runs[0] == runs[1]
                what = "both fail alike" if ok else (
                    f"exit {runs[0][0]} vs {runs[1][0]}: "
                    f"{(runs[0][1] or runs[1][1]).strip()[:300]}")
            else:
                files = compare(*pkgs, [k for k in
                                        args.report_ignore.split(",") if k],
                                args.ignore_comments,
                                args.ignore_arena_names)
                ok = not files
                what = "identical" if ok else "differ: " + ", ".join(files)
            same += ok
            differ += not ok
            if not ok:
                print(f"DIFF {name} [{opt}] {what}")
            else:
                print(f"same {name} [{opt}] {what}")
            sys.stdout.flush()
    print(f"{same} identical, {differ} different")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
