"""An arena plan checker outside the planner: from report.json's buffer
list alone, no two buffers of one arena that are live at the same time in
the same function share a byte, every buffer lies inside its arena, and the
arena lies between the liveness lower bound and the no-reuse size.

Liveness is [first, last] in the function's op positions; a buffer may take
over another's bytes at the position where the other dies (an op writing
its result over an input it reads last: in-place elementwise ops)."""


def check(report):
    """A list of problems (empty: the plan is sound)."""
    arena = report["arena"]
    problems = []
    if not (arena["lower_bound_bytes"] <= arena["bytes"] <=
            arena["no_reuse_bytes"]):
        problems.append(f"arena {arena['bytes']} B outside "
                        f"[{arena['lower_bound_bytes']}, "
                        f"{arena['no_reuse_bytes']}]")
    groups = {}
    for b in arena.get("buffers", []):
        if b["offset"] < 0 or (b["arena"] == "mcutrain_arena" and
                               b["offset"] + b["bytes"] > arena["bytes"]):
            problems.append(f"{b['name']} lies outside the arena")
        groups.setdefault((b["arena"], b["func"]), []).append(b)
    for bufs in groups.values():
        bufs.sort(key=lambda b: b["first"])
        for i, a in enumerate(bufs):
            for b in bufs[i + 1:]:
                if b["first"] >= a["last"]:
                    continue  # b starts where (or after) a dies
                if a["offset"] < b["offset"] + b["bytes"] and \
                        b["offset"] < a["offset"] + a["bytes"]:
                    problems.append(
                        f"{a['name']} [{a['first']}, {a['last']}] and "
                        f"{b['name']} [{b['first']}, {b['last']}] share "
                        f"bytes")
    return problems
