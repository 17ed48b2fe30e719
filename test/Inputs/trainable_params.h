// For test harnesses of a package generated with --name net: a flat copy
// of the trainable parameters, and bitwise comparison of two copies.
#ifndef MCUTRAIN_TEST_TRAINABLE_PARAMS_H
#define MCUTRAIN_TEST_TRAINABLE_PARAMS_H

#include "net.h"

#include <cstring>
#include <vector>

inline std::vector<float> params() {
  std::vector<float> p;
  for (std::size_t i = 0; i < net::kNumTrainableParams; ++i)
    p.insert(p.end(), net::kTrainableParams[i].data,
             net::kTrainableParams[i].data + net::kTrainableParams[i].size);
  return p;
}

inline bool same(const std::vector<float> &a, const std::vector<float> &b) {
  return a.size() == b.size() &&
         std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

#endif
