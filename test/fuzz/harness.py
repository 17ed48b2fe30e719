"""The C++ side of one differential test: a harness around the generated
package, its build (with -Werror, and ASan/UBSan or optimised) and its run.

The harness runs in one of two modes, each in a fresh process so that no
optimizer state carries over:
  grad   init, params0.bin, predict.bin (sample 0), then one step at
         learning rate 1 on sample 0: gradstep.bin, ratios.txt
  train  init, STEPS steps at the compiled learning rate on samples
         0..STEPS-1: losses.bin, params1.bin, params_last.bin, steps.txt
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "e2e"))
from harness_io import HARNESS_IO  # noqa: E402

HARNESS = HARNESS_IO + r"""
int main(int argc, char **argv) {
  if (argc != 4) return 2;
  const int steps = %(steps)d;
  std::vector<%(input)s> x(m::kInputSize * steps);
  std::vector<%(label)s> y(%(label_size)s * steps);
  if (!readAll(argv[2], x.data(), x.size() * sizeof(x[0])) ||
      !readAll(argv[3], y.data(), y.size() * sizeof(y[0]))) {
    std::fprintf(stderr, "cannot read inputs\n");
    return 1;
  }
  m::init();
  if (std::strcmp(argv[1], "grad") == 0) {
    dumpParams("params0.bin");
    dumpPrediction(x.data(), "predict.bin");
    m::set_learning_rate(1.0f);
    float loss = m::train_step(x.data(), y.data());
    dumpParams("gradstep.bin");
    const mcutrain::StepStats &st = m::last_step();
    std::FILE *rf = std::fopen("ratios.txt", "w");
    std::fprintf(rf, "%%.9g\n", loss);
    for (std::size_t i = 0; i < st.num_sparse_layers; ++i)
      std::fprintf(rf, "%%.9g\n", st.layer_ratios[i]);
    std::fclose(rf);
    return 0;
  }
  std::FILE *lf = std::fopen("losses.bin", "wb");
  std::FILE *sf = std::fopen("steps.txt", "w");
  for (int s = 0; s < steps; ++s) {
    float loss = m::train_step(&x[s * m::kInputSize],
                               &y[s * %(label_size)s]);
    std::fwrite(&loss, 4, 1, lf);
    if (s == 0) dumpParams("params1.bin");
    const mcutrain::StepStats &st = m::last_step();
    std::fprintf(sf, "%%d %%.6f\n", (int)st.skipped, st.backprop_ratio);
  }
  std::fclose(sf);
  std::fclose(lf);
  dumpParams("params_last.bin");
  return 0;
}
"""

WARNINGS = ["-Wall", "-Wextra", "-Werror", "-fno-exceptions", "-fno-rtti",
            "-std=c++17"]
SANITIZE = ["clang++-22", "-O0", "-g", "-fsanitize=address,undefined",
            "-fno-sanitize-recover=all", "-fno-omit-frame-pointer"]
OPTIMISED = ["g++", "-O2", "-march=native"]


def write_harness(path, name, steps, tokens, mse):
    with open(path, "w") as f:
        f.write(HARNESS % {
            "name": name, "steps": steps,
            "input": "std::int64_t" if tokens else "float",
            "label": "float" if mse else "std::int32_t",
            "label_size": "m::kOutputSize" if mse else "m::kBatch"})


def build(workdir, name, optimised):
    """Builds the harness; returns (ok, log)."""
    cxx = OPTIMISED if optimised else SANITIZE
    cmd = cxx + WARNINGS + ["-Ipkg", "harness.cpp", f"pkg/{name}.cpp",
                            f"pkg/{name}_params.cpp", "-o", "harness"]
    r = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True)
    return r.returncode == 0, r.stdout + r.stderr


def run(workdir, mode):
    """Runs the harness; returns (ok, log). A sanitizer report fails it."""
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=0:abort_on_error=0",
               UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")
    r = subprocess.run(["./harness", mode, "x.bin", "y.bin"], cwd=workdir,
                       capture_output=True, text=True, env=env, timeout=300)
    log = r.stdout + r.stderr
    ok = r.returncode == 0 and "runtime error" not in log and \
        "AddressSanitizer" not in log
    return ok, log
