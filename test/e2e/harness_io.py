"""The C++ prologue the test harnesses share (test/e2e/torch_reference.py,
test/fuzz/harness.py): the package header, file reading, and a dump of the
trainable parameters in the package's order and of a prediction. A %-format string over
%(name)s."""
HARNESS_IO = r"""
#include "%(name)s.h"
#include <cstdio>
#include <cstring>
#include <vector>
namespace m = %(name)s;
static bool readAll(const char *path, void *dst, std::size_t bytes) {
  std::FILE *f = std::fopen(path, "rb");
  if (!f) return false;
  bool ok = std::fread(dst, 1, bytes, f) == bytes;
  std::fclose(f);
  return ok;
}
static void dumpParams(const char *path) {
  std::FILE *f = std::fopen(path, "wb");
  for (std::size_t i = 0; i < m::kNumTrainableParams; ++i)
    std::fwrite(m::kTrainableParams[i].data, sizeof(float),
                m::kTrainableParams[i].size, f);
  std::fclose(f);
}
template <typename In>
static void dumpPrediction(const In *input, const char *path) {
  std::vector<float> out(m::kOutputSize);
  m::predict(input, out.data());
  std::FILE *f = std::fopen(path, "wb");
  std::fwrite(out.data(), 4, out.size(), f);
  std::fclose(f);
}
"""
