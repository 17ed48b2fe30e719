#!/usr/bin/env bash
# The whole test suite: installs dependencies, builds, runs every lit test
# (FileCheck, runtime unit tests, end-to-end checks against PyTorch).
# Exits non-zero on any failure.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${MCUTRAIN_BUILD_DIR:-$root/build}"
bash "$root/scripts/setup.sh"
bash "$root/scripts/build.sh"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
status=0
/usr/lib/llvm-22/bin/lit -sv "$build/test" 2>&1 | tee "$log" || status=$?
# One plain summary line for CI: "N passed, M failed".
passed=$(sed -n 's/^ *Passed *: *\([0-9]*\).*/\1/p' "$log" | tail -1)
failed=$({ grep -E '^ *(Failed|Unresolved|Timed Out) *:' "$log" || true; } |
  sed 's/.*: *\([0-9]*\).*/\1/' | awk '{s += $1} END {print s + 0}')
echo "${passed:-0} passed, ${failed} failed"
if [ "${passed:-0}" -eq 0 ]; then
  echo "test.sh: no test ran" >&2
  exit 1
fi
exit "$status"
