// mcutrain_runtime.h - header-only runtime included by generated training
// code. Dependency-free: no heap, no exceptions, no RTTI, no STL containers;
// builds with arm-none-eabi-g++ for Cortex-M.
#ifndef MCUTRAIN_RUNTIME_H
#define MCUTRAIN_RUNTIME_H

#include <cstddef>
#include <cstdint>

namespace mcutrain {

/// What the last training step did.
struct StepStats {
  float loss = 0.0f;    // mean loss of the step's batch (NaN if rejected)
  bool skipped = false; // no update was applied
  bool rejected_input = false; // a label was out of range; nothing was run
  std::uint64_t macs = 0;      // multiply-accumulates the step performed
  float backprop_ratio = 1.0f; // share of the dense backward pass that ran
  std::uint32_t steps = 0;     // steps run since init()
  std::uint32_t skipped_steps = 0;
};

/// A trainable parameter of a generated model (for checkpoints, inspection).
struct ParamInfo {
  const char *name; // the ONNX initializer name
  float *data;      // lives in RAM; updated in place by train_step
  std::size_t size; // number of floats
};

/// True when every label is a class index in [0, num_classes).
inline bool labels_valid(const std::int32_t *labels, std::size_t count,
                         std::int32_t num_classes) {
  for (std::size_t i = 0; i < count; ++i)
    if (labels[i] < 0 || labels[i] >= num_classes)
      return false;
  return true;
}

/// Index of the largest of n scores (first on ties), e.g. the predicted
/// class. NaN scores lose to any number.
inline std::size_t argmax(const float *scores, std::size_t n) {
  std::size_t best = 0;
  for (std::size_t i = 1; i < n; ++i)
    if (scores[i] > scores[best] || scores[best] != scores[best])
      best = i;
  return best;
}

} // namespace mcutrain

#endif // MCUTRAIN_RUNTIME_H
