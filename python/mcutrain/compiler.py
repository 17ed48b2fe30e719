"""mcutrain.compile: a PyTorch module (exported to ONNX here) or an ONNX
model, through the mcutrain compiler, into a C++ training package."""
import os
import shutil
import subprocess
import tempfile
import warnings

_REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


class CompileError(RuntimeError):
    """The compiler refused the model; the message is its diagnostics (they
    name the ONNX node)."""


def find_compiler():
    """The mcutrain binary: $MCUTRAIN, else this repository's build/bin,
    else the one on PATH."""
    env = os.environ.get("MCUTRAIN")
    if env:
        return env
    built = os.path.join(_REPO, "build", "bin", "mcutrain")
    if os.path.exists(built):
        return built
    found = shutil.which("mcutrain")
    if not found:
        raise FileNotFoundError(
            "mcutrain binary not found: build it (scripts/build.sh), put it "
            "on PATH or set MCUTRAIN")
    return found


def option_flags(options):
    """Keyword options as compiler flags: trainable="all" ->
    --trainable=all, pack_masks=False -> --pack-masks=false, in_place=True
    -> --in-place."""
    flags = []
    for key, value in options.items():
        flag = "--" + key.replace("_", "-")
        if value is None:
            continue
        if isinstance(value, bool):
            flags.append(flag if value else flag + "=false")
        else:
            flags.append(f"{flag}={value}")
    return flags


def export_onnx(module, example_input, path, opset=13, **export_kwargs):
    """torch.onnx.export as the zoo and the tests do it: eval mode (BatchNorm
    folded), one input named "input", one output named "output"."""
    import torch
    if example_input is None:
        raise ValueError("compile(): a torch.nn.Module needs example_input "
                         "(a tensor of the model's input shape, batch "
                         "included)")
    was_training = module.training
    module.eval()
    try:
        torch.onnx.export(module, example_input, path, opset_version=opset,
                          input_names=["input"], output_names=["output"],
                          **export_kwargs)
    finally:
        module.train(was_training)


def compile(model, example_input=None, out_dir=None, *, name=None, opset=13,
            export_kwargs=None, mcutrain=None, **options):
    """Compile `model` into the package folder `out_dir` and return its path.

    model: a torch.nn.Module (exported here at `opset` with `example_input`,
    in eval mode), an onnx.ModelProto, or the path of an .onnx file.
    options: the compiler's (`mcutrain compile --help`), as keywords:
    trainable="last:2", sparsity="dgsu:0.02", sram="256KiB", lr=0.01,
    optimizer="adam", pack_masks=False, ... Raises CompileError with the
    compiler's diagnostics when it refuses the model; the compiler writes
    nothing then.
    """
    if out_dir is None:
        raise ValueError("compile(): out_dir is required")
    compiler = mcutrain or find_compiler()
    with tempfile.TemporaryDirectory(prefix="mcutrain-") as tmp:
        if isinstance(model, (str, os.PathLike)):
            onnx_path = os.fspath(model)
        elif hasattr(model, "SerializeToString"):  # onnx.ModelProto
            onnx_path = os.path.join(tmp, "model.onnx")
            with open(onnx_path, "wb") as f:
                f.write(model.SerializeToString())
        else:
            # The generated header says which file it came from.
            onnx_path = os.path.join(tmp, f"{type(model).__name__}.onnx")
            export_onnx(model, example_input, onnx_path, opset,
                        **(export_kwargs or {}))
        cmd = [compiler, "compile", onnx_path, "-o", os.fspath(out_dir)]
        if name:
            cmd.append(f"--name={name}")
        cmd += option_flags(options)
        res = subprocess.run(cmd, capture_output=True, text=True)
        # Diagnostics name the exported file, not its temporary folder.
        res.stderr = res.stderr.replace(tmp + os.sep, "")
    if res.returncode != 0:
        raise CompileError(res.stderr.strip() or res.stdout.strip() or
                           f"{' '.join(cmd)} failed ({res.returncode})")
    for line in res.stderr.splitlines():  # warnings (e.g. frozen layers)
        if line.strip():
            warnings.warn(line.strip(), stacklevel=2)
    return os.fspath(out_dir)
