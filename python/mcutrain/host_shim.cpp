// The C interface mcutrain.Package loads (ctypes) to run a generated package
// on the host: the package's C++ (the code the device runs) compiled as a
// shared library together with this file. MCUTRAIN_MODEL is the package's
// namespace, MCUTRAIN_MODEL_HEADER its header; MCUTRAIN_INFERENCE_ONLY is
// set for --inference-only packages (no train_step).
#include MCUTRAIN_MODEL_HEADER

#include <cstdint>
#include <type_traits>
#include <utility>

namespace m = MCUTRAIN_MODEL;

namespace {
template <class A, class B> A firstArg(void (*)(A, B));
// The element type of predict's input (float today; int8 inputs would
// change it, and the Python side checks this size).
using Input =
    std::remove_const_t<std::remove_pointer_t<decltype(firstArg(&m::predict))>>;

#ifndef MCUTRAIN_INFERENCE_ONLY
// train_step's pointer form takes class labels (int32) or, for an MSE loss,
// a float target.
template <class T, class = void> struct TakesTarget : std::false_type {};
template <class T>
struct TakesTarget<
    T, std::void_t<decltype(m::train_step(std::declval<const Input *>(),
                                          std::declval<const T *>()))>>
    : std::true_type {};
using Target =
    std::conditional_t<TakesTarget<float>::value, float, std::int32_t>;
#endif
} // namespace

#define EXPORT extern "C" __attribute__((visibility("default")))

EXPORT std::uint64_t mt_constant(int which) {
  switch (which) {
  case 0:
    return m::kBatch;
  case 1:
    return m::kInputSize;
  case 2:
    return m::kOutputSize;
  case 3:
    return sizeof(Input);
  case 4:
    return std::is_floating_point_v<Input> ? 1 : 0;
  case 6:
    return m::kNumTrainableParams;
#ifndef MCUTRAIN_INFERENCE_ONLY
  case 5:
    return std::is_same_v<Target, float> ? 1 : 0;
#endif
  default:
    return 0;
  }
}

EXPORT void mt_predict(const void *input, float *output) {
  m::predict(static_cast<const Input *>(input), output);
}

EXPORT void mt_init() { m::init(); }

#ifndef MCUTRAIN_INFERENCE_ONLY
EXPORT float mt_train_step(const void *input, const void *target) {
  return m::train_step(static_cast<const Input *>(input),
                       static_cast<const Target *>(target));
}

/// StepStats with a fixed C layout.
struct MtStepStats {
  float loss;
  float backprop_ratio;
  std::uint64_t macs;
  std::uint32_t steps, skipped_steps;
  std::uint8_t skipped, rejected_input, non_finite, pad;
  std::uint32_t num_sparse_layers;
};

EXPORT void mt_last_step(MtStepStats *out, float *layer_ratios,
                         std::uint32_t max_layers) {
  const mcutrain::StepStats &s = m::last_step();
  *out = {s.loss,
          s.backprop_ratio,
          s.macs,
          s.steps,
          s.skipped_steps,
          s.skipped,
          s.rejected_input,
          s.non_finite,
          0,
          static_cast<std::uint32_t>(s.num_sparse_layers)};
  for (std::uint32_t i = 0; i < s.num_sparse_layers && i < max_layers; ++i)
    layer_ratios[i] = s.layer_ratios[i];
}

EXPORT void mt_set_learning_rate(float lr) { m::set_learning_rate(lr); }
EXPORT float mt_learning_rate() { return m::learning_rate(); }
#endif

/// Parameter i: its name, element count, element kind (0 float, 1 int8,
/// 2 int32) and data in RAM.
EXPORT const char *mt_param(std::uint32_t i, std::uint64_t *size, int *kind,
                            void **data) {
  const mcutrain::ParamInfo &p = m::kTrainableParams[i];
  *size = p.size;
  *kind = p.data ? 0 : p.int8_data ? 1 : 2;
  *data = p.data        ? static_cast<void *>(p.data)
          : p.int8_data ? static_cast<void *>(p.int8_data)
                        : static_cast<void *>(p.int32_data);
  return p.name;
}
