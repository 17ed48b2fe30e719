#!/usr/bin/python3
"""From a GNU ld map of the Cortex-M4 firmware: RAM used by .data, .bss and
the stack against the budget, and that no heap function is linked.
Exits non-zero on a violation."""
import re
import sys

text = open(sys.argv[1]).read()
budget = int(sys.argv[2])
used = 0
for section in (".data", ".bss", ".stack"):
    m = re.search(r"^\%s\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)" % section, text,
                  re.M)
    if m:
        used += int(m.group(2), 16)
print(f"RAM used {used} of {budget} B (.data + .bss + stack)")
linked = [f for f in ("malloc", "free", "_sbrk", "_malloc_r", "_free_r")
          if re.search(r"^\s+0x[0-9a-f]+\s+%s$" % f, text, re.M)]
if linked:
    print("heap functions linked: " + ", ".join(linked))
    sys.exit(1)
print("no heap: malloc, free, _sbrk not linked")
sys.exit(0 if used <= budget else 1)
