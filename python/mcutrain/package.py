"""mcutrain.Package: a generated package built for the host as a shared
library (the same C++ the device runs), driven from numpy."""
import ctypes
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from typing import NamedTuple, Tuple

import numpy as np

_SHIM = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                     "host_shim.cpp")


class BuildError(RuntimeError):
    """The host compiler failed on the package (its output is the
    message)."""


class StepStats(NamedTuple):
    """What the last train_step did (mcutrain::StepStats)."""
    loss: float
    skipped: bool
    rejected_input: bool
    non_finite: bool
    macs: int
    backprop_ratio: float
    steps: int
    skipped_steps: int
    layer_ratios: Tuple[float, ...]


class _CStats(ctypes.Structure):
    _fields_ = [("loss", ctypes.c_float), ("backprop_ratio", ctypes.c_float),
                ("macs", ctypes.c_uint64), ("steps", ctypes.c_uint32),
                ("skipped_steps", ctypes.c_uint32),
                ("skipped", ctypes.c_uint8), ("rejected_input", ctypes.c_uint8),
                ("non_finite", ctypes.c_uint8), ("pad", ctypes.c_uint8),
                ("num_sparse_layers", ctypes.c_uint32)]


_KINDS = {0: np.float32, 1: np.int8, 2: np.int32}
_MAX_SPARSE_LAYERS = 4096


def _digest(paths, extra):
    h = hashlib.sha256("\0".join(extra).encode())
    for p in paths:
        with open(p, "rb") as f:
            h.update(f.read())
    return h.hexdigest()


def _cache_root():
    root = os.environ.get("MCUTRAIN_CACHE")
    if not root:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(
            os.path.expanduser("~"), ".cache")
        root = os.path.join(base, "mcutrain")
    return os.path.join(root, "host-sim")


class Package:
    """A compiled package (mcutrain.compile's or `mcutrain compile`'s output
    folder) run on the host.

    The package's C++ and a small C interface (host_shim.cpp) are built with
    `cxx` and `cxxflags` into `build_dir` (default: a folder named by the
    sources' and flags' digest under $MCUTRAIN_CACHE, else
    $XDG_CACHE_HOME/mcutrain or ~/.cache/mcutrain, so an unchanged package is
    never rebuilt, even when recompiled), and every Package object loads a
    copy of its own: two objects are two independent devices. Construction
    calls init() (parameters from their flash image).
    """

    def __init__(self, out_dir, *, cxx="g++", cxxflags=("-O2",),
                 build_dir=None):
        self.out_dir = os.fspath(out_dir)
        with open(os.path.join(self.out_dir, "report.json")) as f:
            self.report = json.load(f)
        self.name = self.report["name"]
        self.training = self.report.get("mode") != "inference"
        shape = self.report.get("input_shape")
        if not shape or not all(isinstance(d, int) for d in shape):
            raise ValueError(f"{self.out_dir}: Package runs packages with one "
                             f"input and one output (input_shape {shape})")
        self.input_shape = tuple(shape)
        self.output_shape = tuple(self.report["output_shape"])
        self.batch = self.report.get("batch", self.input_shape[0])
        self.loss_kind = self.report.get("loss")
        lib = self._build(cxx, list(cxxflags), build_dir)
        self._lib = self._load(lib)
        self.input_size = self._lib.mt_constant(1)
        self.output_size = self._lib.mt_constant(2)
        if self._lib.mt_constant(3) != 4 or not self._lib.mt_constant(4):
            raise ValueError(f"{self.name}: predict() does not take floats")
        self._float_target = bool(self._lib.mt_constant(5))
        self.reset()

    # -- building -----------------------------------------------------------
    def _build(self, cxx, cxxflags, build_dir):
        sources = [_SHIM, os.path.join(self.out_dir, f"{self.name}.cpp"),
                   os.path.join(self.out_dir, f"{self.name}_params.cpp")]
        headers = sorted(os.path.join(self.out_dir, h)
                         for h in os.listdir(self.out_dir) if h.endswith(".h"))
        cmd = [cxx, "-std=c++17"] + cxxflags + [
            "-fPIC", "-shared", "-fvisibility=hidden", f"-I{self.out_dir}",
            f"-DMCUTRAIN_MODEL={self.name}",
            f'-DMCUTRAIN_MODEL_HEADER="{self.name}.h"']
        if not self.training:
            cmd.append("-DMCUTRAIN_INFERENCE_ONLY=1")
        # The package's folder is not part of the key: the same generated
        # files compiled elsewhere share the build.
        stamp = _digest(sources + headers,
                        [a.replace(self.out_dir, "<package>") for a in cmd])
        build_dir = build_dir or os.path.join(_cache_root(), stamp[:24])
        lib = os.path.join(build_dir, f"lib{self.name}_host.so")
        stamp_path = lib + ".sha256"
        if os.path.exists(lib) and os.path.exists(stamp_path):
            with open(stamp_path) as f:
                if f.read() == stamp:
                    return lib
        os.makedirs(build_dir, exist_ok=True)
        tmp = lib + f".{os.getpid()}.tmp"
        res = subprocess.run(cmd + sources + ["-o", tmp], capture_output=True,
                             text=True)
        if res.returncode != 0:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise BuildError(f"{' '.join(cmd)} failed:\n{res.stderr}")
        os.replace(tmp, lib)
        with open(stamp_path, "w") as f:
            f.write(stamp)
        return lib

    @staticmethod
    def _load(lib):
        # A private copy: dlopen of one path twice would share the state.
        fd, copy = tempfile.mkstemp(prefix="mcutrain-", suffix=".so")
        os.close(fd)
        try:
            shutil.copyfile(lib, copy)
            handle = ctypes.CDLL(copy, mode=os.RTLD_LOCAL)
        finally:
            os.unlink(copy)  # the mapping stays
        handle.mt_constant.restype = ctypes.c_uint64
        handle.mt_constant.argtypes = [ctypes.c_int]
        handle.mt_predict.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        handle.mt_param.restype = ctypes.c_char_p
        handle.mt_param.argtypes = [ctypes.c_uint32,
                                    ctypes.POINTER(ctypes.c_uint64),
                                    ctypes.POINTER(ctypes.c_int),
                                    ctypes.POINTER(ctypes.c_void_p)]
        if hasattr(handle, "mt_train_step"):
            handle.mt_train_step.restype = ctypes.c_float
            handle.mt_train_step.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
            handle.mt_learning_rate.restype = ctypes.c_float
            handle.mt_set_learning_rate.argtypes = [ctypes.c_float]
            handle.mt_last_step.argtypes = [ctypes.POINTER(_CStats),
                                            ctypes.c_void_p, ctypes.c_uint32]
        return handle

    # -- running ------------------------------------------------------------
    def reset(self):
        """The package's init(), as the device calls it at boot (parameters
        from their flash image; a fresh Package has run it)."""
        self._lib.mt_init()

    def _input(self, x):
        x = np.ascontiguousarray(x, dtype=np.float32)
        if x.size != self.input_size:
            raise ValueError(f"input has {x.size} elements; {self.name} takes "
                             f"{'x'.join(map(str, self.input_shape))} = "
                             f"{self.input_size}")
        return x

    def predict(self, x):
        """The model's output for input `x` (any shape with the input's
        element count), shaped as the ONNX output."""
        x = self._input(x)
        out = np.empty(self.output_shape, dtype=np.float32)
        self._lib.mt_predict(x.ctypes.data, out.ctypes.data)
        return out

    def train_step(self, x, target):
        """One optimizer step: `target` is the batch's class labels (int) or,
        for an MSE loss, the output's target values. Returns the mean loss
        (NaN, and no update, when a label is out of range)."""
        if not self.training:
            raise RuntimeError(f"{self.name} was compiled --inference-only")
        x = self._input(x)
        if self._float_target:
            t = np.ascontiguousarray(target, dtype=np.float32)
            want = self.output_size
        else:
            t = np.ascontiguousarray(np.asarray(target).reshape(-1),
                                     dtype=np.int32)
            want = self.batch
        if t.size != want:
            raise ValueError(f"target has {t.size} elements; {self.name} "
                             f"takes {want} ("
                             f"{'values' if self._float_target else 'labels'})")
        return float(self._lib.mt_train_step(x.ctypes.data, t.ctypes.data))

    def last_step(self):
        """StepStats of the last train_step."""
        c = _CStats()
        ratios = (ctypes.c_float * _MAX_SPARSE_LAYERS)()
        self._lib.mt_last_step(ctypes.byref(c), ratios, _MAX_SPARSE_LAYERS)
        n = min(c.num_sparse_layers, _MAX_SPARSE_LAYERS)
        return StepStats(c.loss, bool(c.skipped), bool(c.rejected_input),
                         bool(c.non_finite), c.macs, c.backprop_ratio,
                         c.steps, c.skipped_steps, tuple(ratios[:n]))

    @property
    def learning_rate(self):
        return float(self._lib.mt_learning_rate())

    @learning_rate.setter
    def learning_rate(self, lr):
        self._lib.mt_set_learning_rate(float(lr))

    def parameters(self):
        """The trainable parameters as {ONNX name: numpy array}, in the
        package's order (copies; int8 weights as their integers, int32
        biases likewise)."""
        out = {}
        for i in range(self._lib.mt_constant(6)):
            size, kind, data = (ctypes.c_uint64(), ctypes.c_int(),
                                ctypes.c_void_p())
            name = self._lib.mt_param(i, ctypes.byref(size),
                                      ctypes.byref(kind), ctypes.byref(data))
            dtype = _KINDS[kind.value]
            buf = (ctypes.c_byte * (size.value * np.dtype(dtype).itemsize)
                   ).from_address(data.value)
            out[name.decode()] = np.frombuffer(buf, dtype=dtype).copy()
        return out
