// A sample whose input or loss is not finite touches no weight: NaN and
// infinite inputs are rejected before the step, an input so large that the
// forward pass overflows (finite input, NaN loss) skips the backward pass
// and the updates; all are counted; a normal sample still trains.
#include "net.h"
#include "trainable_params.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <vector>

int main() {
  int failures = 0;
  auto check = [&](bool ok, const char *what) {
    std::printf("%s %s\n", ok ? "ok  " : "FAIL", what);
    failures += !ok;
  };
  net::init();
  std::vector<float> x(net::kInputSize, 0.5f);
  net::train_step(x.data(), 1); // some optimizer state to keep
  std::vector<float> before = params();

  struct Case {
    const char *what;
    float value;
    bool rejected; // before the step (input check) or by the loss guard
  } cases[] = {{"NaN input", NAN, true},
               {"infinite input", INFINITY, true},
               {"huge input (forward overflows)", 3e38f, false}};
  for (const Case &c : cases) {
    std::vector<float> bad(x);
    bad[bad.size() / 2] = c.value;
    if (!c.rejected)
      for (float &v : bad)
        v = c.value;
    float loss = net::train_step(bad.data(), 3);
    const mcutrain::StepStats &st = net::last_step();
    char line[160];
    std::snprintf(line, sizeof line,
                  "%s: weights unchanged, skipped, non-finite (loss %g, "
                  "rejected input %d)",
                  c.what, (double)loss, (int)st.rejected_input);
    check(same(params(), before) && st.skipped && st.non_finite &&
              st.rejected_input == c.rejected && !std::isfinite(loss),
          line);
  }
  check(net::last_step().skipped_steps == 3, "three steps counted as skipped");
  float loss = net::train_step(x.data(), 1);
  check(std::isfinite(loss) && !net::last_step().skipped &&
            !same(params(), before),
        "a normal sample afterwards trains");
  return failures ? 1 : 0;
}
