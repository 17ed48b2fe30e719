#!/usr/bin/env bash
# Installs everything mcutrain needs on Debian 12. Idempotent: when every package is already
# installed it only checks (no apt-get update), so it is quick on a prepared machine.
set -euo pipefail

PACKAGES=(
  # Build
  cmake ninja-build g++ lld-22
  # LLVM/MLIR 22
  llvm-22-dev llvm-22-tools libmlir-22-dev mlir-22-tools clang-22
  # libFuzzer and the sanitizer runtimes for clang-22 (the importer's fuzz target)
  libclang-rt-22-dev
  # ONNX import
  libonnx-dev libprotobuf-dev protobuf-compiler
  # Conformance data, references and data sets
  libonnx-testdata python3-torch python3-torchvision python3-onnx python3-sklearn
  python3-numpy
  dataset-fashion-mnist
  # Cortex-M toolchain and emulator
  gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib qemu-system-arm
  # RISC-V (RV32IMAFC) toolchain, C library and emulator (qemu-system-riscv32)
  gcc-riscv64-unknown-elf picolibc-riscv64-unknown-elf qemu-system-misc
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
