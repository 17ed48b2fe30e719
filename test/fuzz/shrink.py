"""Reduces a failing generated model to a minimal one that fails the same
way: greedy passes over the recipe (drop a step, shrink the input, batch
1, fewer classes, options back to their defaults) until none still fails.
The result is saved as a regression case (model.onnx + case.json) that
`bench/difftest.py --cases` runs."""
import copy
import re


def category(result):
    """What kind of failure: the stage, or the checks that failed with
    parameter names dropped (they change as steps are dropped)."""
    if result["status"] != "mismatch":
        return None
    detail = result["detail"]
    if detail.startswith("compile failed"):
        # The first error's text, without value numbers and names.
        for line in detail.splitlines():
            if "error:" in line:
                msg = line.split("error:", 1)[1]
                return "compile failed: " + re.sub(
                    r"%\w+|'[^']*'|\d+", "_", msg).strip()
    for stage in ("compile failed", "harness build failed",
                  "harness grad failed", "harness train failed",
                  "arena plan", "difftest error"):
        if detail.startswith(stage):
            return stage
    kinds = {re.sub(r" [A-Za-z_]+_\d+.*$", "", c.strip())
             for c in detail.split(";")}
    return ",".join(sorted(kinds))


def candidates(recipe):
    """Smaller variants of a recipe, most reducing first."""
    for i in range(len(recipe.steps)):
        r = copy.deepcopy(recipe)
        del r.steps[i]
        yield f"drop step {recipe.steps[i][0]}", r
    for field, floor in (("batch", 1), ("size", 3), ("channels", 1),
                         ("classes", 2)):
        if getattr(recipe, field) > floor:
            r = copy.deepcopy(recipe)
            setattr(r, field, floor if field == "batch" else
                    getattr(recipe, field) - 1)
            yield f"{field} {getattr(r, field)}", r
    for key in list(recipe.options):
        if key in ("lr", "optimizer", "momentum") or (
                key == "trainable" and recipe.options[key] == "all"):
            continue
        r = copy.deepcopy(recipe)
        del r.options[key]
        if key == "update":
            r.options.pop("sram", None)
        yield f"drop --{key}", r
    if recipe.options.get("optimizer", "sgd") != "sgd":
        r = copy.deepcopy(recipe)
        r.options = {k: v for k, v in r.options.items()
                     if k not in ("momentum", "dampening", "lr-decay")}
        r.options["optimizer"], r.options["lr"] = "sgd", 0.05
        yield "sgd", r


def shrink(result, workdir, run, make_case, outdir, budget=200):
    """Shrinks the failure `result` (of int8_models.recipe(result['seed']):
    a float or an int8 recipe) and saves the smallest failing case under
    outdir/seed-N."""
    import int8_models
    recipe = int8_models.recipe(result["seed"])
    want = category(result)
    tries = 0
    progress = True
    while progress and tries < budget:
        progress = False
        for what, smaller in candidates(recipe):
            tries += 1
            if category(run(make_case(smaller))) == want:
                print(f"  shrink seed {result['seed']}: {what}", flush=True)
                recipe = smaller
                progress = True
                break
    case = make_case(recipe)
    path = f"{outdir}/seed-{result['seed']}"
    case.save(path, f"shrunk from seed {result['seed']} ({tries} tries): "
              f"{want}")
    nodes = len(case.model.graph.node)
    print(f"shrunk seed {result['seed']} to {nodes} nodes: {path} "
          f"({want})", flush=True)
    return path
