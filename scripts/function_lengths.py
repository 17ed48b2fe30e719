#!/usr/bin/python3
"""Lengths of the C++ function definitions in the given folders or files.

  scripts/function_lengths.py [--over N] compiler passes dialects

A function's length is the number of source lines from the line of its
opening brace to the line of its closing brace, both included (a lambda or
a local class counts towards the function it is in). Definitions are found
by a brace scanner that skips comments, string and character literals: a
`{` at namespace or class scope whose preceding tokens end a parameter list
(`)`, optionally followed by const/override/final/noexcept, a trailing
return type or a constructor's member initializers) opens a function body.
Prints `LINES file:line name`, longest first; with --over N only those
longer than N, and exits 1 if there are any.
"""
import argparse
import os
import re
import sys

QUALIFIERS = {"const", "override", "final", "noexcept", "mutable"}


def strip(text):
    """The text with comments and literals blanked (newlines kept)."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif text.startswith('R"', i):
            m = re.match(r'R"([^(]*)\(', text[i:])
            end = text.find(")" + m.group(1) + '"', i) if m else -1
            j = n if end < 0 else end + len(m.group(1)) + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            out.append(c + " " * (j - i - 1) + c)
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def opens_function(before):
    """Whether the code before a `{` ends a function's declarator."""
    s = before.rstrip()
    # Constructor member initializers: `) : a(x), b{y} {`.
    m = re.search(r"\)\s*:\s*[\w:<>,\s()\[\]{}.*&+-]*$", s)
    if m and re.search(r"\)\s*:\s*\w", s[m.start():]):
        s = s[:m.start() + 1]
    # Trailing return type: `) -> T {`.
    s = re.sub(r"\)\s*->\s*[\w:<>,\s*&]+$", ")", s)
    words = s.split()
    while words and words[-1] in QUALIFIERS:
        words.pop()
    s = " ".join(words)
    if not s.endswith(")"):
        return False
    # Not a control statement: `if (...) {`, `for (...) {`, lambdas `](..)`.
    depth, j = 0, len(s) - 1
    while j >= 0:
        depth += {")": 1, "(": -1}.get(s[j], 0)
        if depth == 0:
            break
        j -= 1
    head = s[:j].rstrip()
    if not head or head.endswith("]"):
        return False
    last = re.split(r"[\s(]", head)[-1]
    return last not in {"if", "for", "while", "switch", "catch", "return"} and \
        re.search(r"[\w>~=\]]$", head) is not None


def functions(path):
    text = strip(open(path, encoding="utf-8", errors="replace").read())
    scopes = []  # "function" or "other" per open brace
    starts = []
    found = []
    line = 1
    last = 0
    for i, c in enumerate(text):
        if c == "\n":
            line += 1
        elif c == "{":
            inside = "function" in scopes
            is_fn = not inside and opens_function(text[last:i])
            scopes.append("function" if is_fn else "other")
            starts.append((line, text[last:i]))
            last = i + 1
        elif c == "}":
            if not scopes:
                continue
            kind = scopes.pop()
            start, before = starts.pop()
            if kind == "function":
                name = re.findall(r"([~\w:]+)\s*\(", before)
                found.append((line - start + 1, start,
                              name[0] if name else "?"))
            last = i + 1
        elif c == ";" and "function" not in scopes:
            last = i + 1
    return found


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("paths", nargs="+")
    ap.add_argument("--over", type=int, default=0)
    args = ap.parse_args()
    rows = []
    for p in args.paths:
        files = [p] if os.path.isfile(p) else [
            os.path.join(d, f) for d, _, fs in os.walk(p) for f in fs
            if f.endswith((".cpp", ".h"))]
        for f in sorted(files):
            rows += [(n, f, l, name) for n, l, name in functions(f)]
    rows.sort(reverse=True)
    shown = [r for r in rows if r[0] > args.over]
    for n, f, l, name in shown:
        print(f"{n:5d} {f}:{l} {name}")
    print(f"{len(rows)} functions, {len(shown)} longer than {args.over} lines",
          file=sys.stderr)
    return 1 if args.over and shown else 0


if __name__ == "__main__":
    sys.exit(main())
