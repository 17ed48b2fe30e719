"""mcutrain from Python: compile a PyTorch module or ONNX model into a
training package, and run the package's C++ on the host.

    import mcutrain
    out = mcutrain.compile(model, torch.zeros(1, 1, 28, 28), "pkg",
                           trainable="last:2", sparsity="dgsu:0.1")
    pkg = mcutrain.Package(out)
    loss = pkg.train_step(image, label)
    scores = pkg.predict(image)

Needs the compiler built (scripts/build.sh; found as $MCUTRAIN, the
repository's build/bin/mcutrain or on PATH), g++, numpy, and torch for
exporting modules.
"""
from .compiler import CompileError, compile, export_onnx, find_compiler
from .package import BuildError, Package, StepStats

__all__ = ["compile", "Package", "StepStats", "CompileError", "BuildError",
           "export_onnx", "find_compiler"]
