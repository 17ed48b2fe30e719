#!/usr/bin/env bash
# The whole test suite: installs dependencies, builds, runs every lit test
# (FileCheck, runtime unit tests, end-to-end checks against PyTorch).
# Exits non-zero on any failure.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${MCUTRAIN_BUILD_DIR:-$root/build}"
bash "$root/scripts/setup.sh"
bash "$root/scripts/build.sh"
/usr/lib/llvm-22/bin/lit -sv "$build/test"
