# lit configuration of the mcutrain test suite.
import os
import shutil

import lit.formats
from lit.llvm import llvm_config

config.name = "mcutrain"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".test"]
config.excludes = ["Inputs", "CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.mcutrain_obj_root, "test")

# Debian's Python packages (torch, onnx, numpy) are only visible to the
# system interpreter, not to a pyenv python3 that may come first on PATH.
config.substitutions.append(("%python", "/usr/bin/python3"))
config.substitutions.append(("%src_root", config.mcutrain_src_root))
config.substitutions.append(("%obj_root", config.mcutrain_obj_root))
config.substitutions.append(("%cxx", shutil.which("g++") or "g++"))
config.substitutions.append(("%tools_dir", config.mcutrain_tools_dir))

llvm_config.with_system_environment(["HOME", "TMPDIR"])
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)
llvm_config.with_environment("PATH", config.mcutrain_tools_dir, append_path=True)
llvm_config.add_tool_substitutions(
    ["mcutrain", "mcutrain-opt", "mcutrain-fuzz-import", "mcutrain-unit-tests",
     "FileCheck", "not",
     "count"],
    [config.mcutrain_tools_dir, config.llvm_tools_dir])

if shutil.which("arm-none-eabi-g++"):
    config.available_features.add("arm-toolchain")
if shutil.which("riscv64-unknown-elf-g++") and shutil.which(
        "qemu-system-riscv32"):
    config.available_features.add("riscv-toolchain")

# x86 hosts with AVX2 and FMA (the 16-register kernel tiles' build).
try:
    with open("/proc/cpuinfo") as cpuinfo:
        cpu_flags = cpuinfo.read().split()
except OSError:
    cpu_flags = []
if "avx2" in cpu_flags and "fma" in cpu_flags:
    config.available_features.add("avx2")

# The importer's libFuzzer target is built with clang only.
if os.path.exists(os.path.join(config.mcutrain_tools_dir,
                               "mcutrain-fuzz-import")):
    config.available_features.add("fuzzer")
