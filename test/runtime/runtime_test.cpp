// Unit tests of runtime/mcutrain_runtime.h (host). Prints one line per
// check and a closing "N passed, M failed"; exits non-zero on a failure.
#include "mcutrain_runtime.h"

#include <cmath>
#include <cstdio>

static int passed = 0, failed = 0;

static void check(bool ok, const char *what) {
  std::printf("%s %s\n", ok ? "ok  " : "FAIL", what);
  (ok ? passed : failed)++;
}

int main() {
  const std::int32_t good[3] = {0, 4, 9};
  const std::int32_t negative[2] = {1, -1};
  const std::int32_t tooLarge[2] = {3, 10};
  check(mcutrain::labels_valid(good, 3, 10), "labels in range are valid");
  check(!mcutrain::labels_valid(negative, 2, 10),
        "a negative label is rejected");
  check(!mcutrain::labels_valid(tooLarge, 2, 10),
        "a label equal to the class count is rejected");
  check(mcutrain::labels_valid(good, 0, 10), "an empty batch is valid");

  const float scores[5] = {0.5f, 2.0f, -1.0f, 2.0f, 1.0f};
  check(mcutrain::argmax(scores, 5) == 1, "argmax takes the first maximum");
  const float one[1] = {-3.0f};
  check(mcutrain::argmax(one, 1) == 0, "argmax of one score");
  const float withNan[3] = {NAN, 1.0f, 0.0f};
  check(mcutrain::argmax(withNan, 3) == 1, "argmax skips a leading NaN");

  mcutrain::StepStats s;
  check(s.steps == 0 && s.skipped_steps == 0 && !s.skipped &&
            s.backprop_ratio == 1.0f,
        "StepStats starts empty");

  std::printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
