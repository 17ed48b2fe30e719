#!/usr/bin/python3
"""Runs torch_reference.py --fd on every single-op model of op_models.py."""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from op_models import OPS  # noqa: E402

work = sys.argv[1]
passed = failed = 0
for name in OPS:
    res = subprocess.run(
        [sys.executable, os.path.join(HERE, "torch_reference.py"), "op:" + name,
         os.path.join(work, name), "--fd", "--steps", "3", "--no-sanitize",
         "--mcutrain", "mcutrain"], capture_output=True, text=True)
    ok = res.returncode == 0 and "PASSED" in res.stdout
    passed += ok
    failed += not ok
    print(f"{'ok  ' if ok else 'FAIL'} {name}")
    if not ok:
        print(res.stdout + res.stderr)
print(f"op gradients: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
