#!/usr/bin/python3
"""What <name>_params.cpp costs to build: g++ time and peak memory for the
parameter data as assembler (the default) and as C++ initializer lists
(--params-text), per model.

  bench/params_build.py MODEL.onnx... [--mcutrain PATH] [--work DIR]
                        [--skip-text-over N]

For each model: `mcutrain compile` both ways (no other options), then
`g++ -std=c++17 -O2 -c` of the params file under /usr/bin/time (user
seconds of g++ and its children, the largest process's peak RSS). Prints
one Markdown row per model. --skip-text-over N leaves out the C++ lists of
models above N parameters (they take minutes and gigabytes).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def compile_package(mcutrain, model, out, text):
    cmd = [mcutrain, "compile", model, "-o", out, "--name", "m"]
    res = subprocess.run(cmd + (["--params-text"] if text else []),
                         capture_output=True, text=True)
    if res.returncode != 0:
        sys.exit(f"FAIL mcutrain compile {model}:\n{res.stdout}{res.stderr}")


def build_params(pkg):
    """(user seconds, peak MB) of g++ -O2 -c m_params.cpp."""
    src = os.path.join(pkg, "m_params.cpp")
    res = subprocess.run(["/usr/bin/time", "-f", "%U %M", "g++",
                          "-std=c++17", "-O2", "-c", src, "-o",
                          os.path.join(pkg, "m_params.o")],
                         capture_output=True, text=True)
    if res.returncode != 0:
        sys.exit(f"FAIL g++ {src}:\n{res.stderr[-2000:]}")
    user, peak_kb = res.stderr.strip().splitlines()[-1].split()
    return float(user), int(peak_kb) / 1024


def parameters(pkg):
    """Elements of the model's parameters (report.json's bytes per dtype)."""
    with open(os.path.join(pkg, "report.json")) as f:
        listed = json.load(f)["parameters"]["list"]
    width = {"float32": 4, "int32": 4, "int8": 1, "uint8": 1, "int64": 8}
    return sum(p["bytes"] // width.get(p["dtype"], 4) for p in listed)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+")
    ap.add_argument("--mcutrain", default=os.path.join(ROOT, "build", "bin",
                                                       "mcutrain"))
    ap.add_argument("--work")
    ap.add_argument("--skip-text-over", type=int, default=0)
    args = ap.parse_args()
    work = args.work or tempfile.mkdtemp(prefix="params_build_")
    print("| model | parameters | assembler: bytes, g++ s, peak MB "
          "| C++ lists: bytes, g++ s, peak MB |")
    print("| --- | ---: | ---: | ---: |")
    for model in args.models:
        name = os.path.splitext(os.path.basename(model))[0]
        cells = []
        count = None
        for text in (False, True):
            pkg = os.path.join(work, name + ("-text" if text else "-asm"))
            if text and args.skip_text_over and count > args.skip_text_over:
                cells.append("not built")
                continue
            compile_package(args.mcutrain, model, pkg, text)
            count = parameters(pkg) if count is None else count
            size = os.path.getsize(os.path.join(pkg, "m_params.cpp"))
            user, peak = build_params(pkg)
            cells.append(f"{size / 1e6:,.1f} MB, {user:.2f} s, {peak:,.0f}")
        print(f"| {name} | {count:,} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
