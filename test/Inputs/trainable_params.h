// For test harnesses of a package generated with --name net: a flat copy
// of the trainable parameters, and bitwise comparison of two copies.
#ifndef MCUTRAIN_TEST_TRAINABLE_PARAMS_H
#define MCUTRAIN_TEST_TRAINABLE_PARAMS_H

#include "net.h"

#include <cstring>
#include <vector>

/// int8 weights (int8 training) are copied as floats (exactly).
inline std::vector<float> params() {
  std::vector<float> p;
  for (std::size_t i = 0; i < net::kNumTrainableParams; ++i) {
    const mcutrain::ParamInfo &info = net::kTrainableParams[i];
    if (info.int8_data)
      p.insert(p.end(), info.int8_data, info.int8_data + info.size);
    else
      p.insert(p.end(), info.data, info.data + info.size);
  }
  return p;
}

inline bool same(const std::vector<float> &a, const std::vector<float> &b) {
  return a.size() == b.size() &&
         std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

#endif
