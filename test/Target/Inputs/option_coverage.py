#!/usr/bin/python3
"""Which `mcutrain compile` flags the pass pipelines of mcutrain-opt accept.

  option_coverage.py MCUTRAIN MCUTRAIN_OPT

Prints `pipeline <flag>` for each driver flag that --mcutrain-training or
--mcutrain-lowering accepts (with the same help text), and `driver-only
<flag>` for the rest, sorted.
"""
import re
import subprocess
import sys


def flags(text):
    """{flag: help} of the `--flag[=<type>] - help` lines of a --help."""
    found = {}
    for line in text.splitlines():
        m = re.match(r"\s*(--[\w-]+|-o)\b[^-]*- (.*)", line)
        if m:
            found[m.group(1)] = m.group(2).strip()
    return found


def pipeline_flags(help_text, pipeline):
    """The options listed under `--<pipeline>` in mcutrain-opt --help."""
    lines = help_text.splitlines()
    start = next(i for i, l in enumerate(lines)
                 if re.match(rf"\s*--{pipeline}\s", l))
    indent = len(lines[start + 1]) - len(lines[start + 1].lstrip())
    block = []
    for line in lines[start + 1:]:
        if len(line) - len(line.lstrip()) != indent:
            break
        block.append(line)
    return flags("\n".join(block))


def main():
    mcutrain, opt = sys.argv[1:3]
    driver = flags(subprocess.run([mcutrain, "compile", "--help"],
                                  capture_output=True, text=True).stdout)
    help_text = subprocess.run([opt, "--help"], capture_output=True,
                               text=True).stdout
    pipelines = {}
    for p in ("mcutrain-training", "mcutrain-lowering"):
        pipelines.update(pipeline_flags(help_text, p))
    for flag in sorted(driver):
        if flag in ("--help", "--help-list", "--version"):
            continue
        if flag in pipelines and pipelines[flag] == driver[flag]:
            print(f"pipeline {flag}")
        else:
            print(f"driver-only {flag}")


if __name__ == "__main__":
    main()
