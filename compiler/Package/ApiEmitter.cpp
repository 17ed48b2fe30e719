//===- ApiEmitter.cpp - <name>.h and <name>.cpp ---------------------------===//
//
// The package's API: init/predict, and for training train_step (input
// validation, StepStats from the MAC counts and the run-time decisions),
// the learning rate, checkpoints and the trainable-parameter table, around
// the translated code in namespace <name>::detail.
//
//===----------------------------------------------------------------------===//
#include "compiler/Package/PackageParts.h"

#include "dialects/Train/Train.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace mcutrain;
using namespace mcutrain::package;

namespace {

std::string joinDims(ArrayRef<int64_t> dims, StringRef sep) {
  std::string s;
  for (size_t i = 0; i < dims.size(); ++i)
    s += (i ? sep.str() : "") + std::to_string(dims[i]);
  return s;
}

int64_t product(ArrayRef<int64_t> dims) {
  int64_t n = 1;
  for (int64_t d : dims)
    n *= d;
  return n;
}

/// predict(input, output) for one of each, else input0.., output0...
std::string argName(StringRef base, size_t i, size_t count) {
  return count == 1 ? base.str() : (base + Twine(i)).str();
}

/// The code takes signless intN_t where the API says uintN_t: same bits.
std::string passAs(const std::string &api, const std::string &code,
                   const std::string &arg, bool isConst) {
  std::string v = isConst ? "const_cast<" + api + " *>(" + arg + ")" : arg;
  return api == code ? v : "reinterpret_cast<" + code + " *>(" + v + ")";
}

/// predict's parameter list, or (`call`) the arguments it passes on to
/// detail::forward.
std::string predictSignature(const ModelFacts &f, bool call) {
  std::string s;
  size_t numIn = f.inputShapes.size(), numOut = f.outputShapes.size();
  for (size_t i = 0; i < numIn; ++i) {
    std::string a = argName("input", i, numIn);
    s += (i ? ", " : "") +
         (call ? passAs(f.inputCTypes[i], f.inputCodeTypes[i], a, true)
               : "const " + f.inputCTypes[i] + " *" + a);
  }
  for (size_t i = 0; i < numOut; ++i) {
    std::string a = argName("output", i, numOut);
    s += (numIn || i ? ", " : "") +
         (call ? passAs(f.outputCTypes[i], f.outputCodeTypes[i], a, false)
               : f.outputCTypes[i] + " *" + a);
  }
  return s;
}

/// train_step's input: float32, or the integer type of a model whose one
/// input is token ids.
std::string trainInputType(const ApiDescription &api) {
  return api.facts->inputCTypes.empty() ? "float" : api.facts->inputCTypes[0];
}

/// The input as detail::train_step takes it.
std::string trainInputArg(const ApiDescription &api) {
  const ModelFacts &f = *api.facts;
  return f.inputCTypes.empty()
             ? "const_cast<float *>(input)"
             : passAs(f.inputCTypes[0], f.inputCodeTypes[0], "input", true);
}

// <name>.h ----------------------------------------------------------------

void emitSizes(llvm::raw_ostream &h, const ApiDescription &api) {
  const ModelFacts &f = *api.facts;
  size_t numIn = f.inputShapes.size(), numOut = f.outputShapes.size();
  h << "inline constexpr std::size_t kBatch = " << api.batch << ";\n";
  for (size_t i = 0; i < numIn; ++i)
    h << "inline constexpr std::size_t k" << argName("InputSize", i, numIn)
      << " = " << product(f.inputShapes[i]) << "; // "
      << joinDims(f.inputShapes[i], "x") << "\n";
  for (size_t i = 0; i < numOut; ++i)
    h << "inline constexpr std::size_t k" << argName("OutputSize", i, numOut)
      << " = " << product(f.outputShapes[i]) << "; // "
      << joinDims(f.outputShapes[i], "x") << "\n";
  if (api.training && !api.mse)
    h << "inline constexpr std::size_t kNumClasses = " << api.classes << ";\n";
  h << "inline constexpr std::size_t kArenaBytes = " << api.arenaBytes << ";\n"
    << "inline constexpr std::size_t kTrainableParamBytes = "
    << f.trainableBytes << ";\n"
    << "inline constexpr std::size_t kOptimizerStateBytes = "
    << f.optimizerStateBytes << ";\n"
    << "inline constexpr std::size_t kFrozenParamBytes = " << f.frozenBytes
    << "; // flash\n"
    << "inline constexpr std::uint64_t kForwardMacs = " << f.forwardMacs
    << ";\n";
}

void emitTrainingMacs(llvm::raw_ostream &h, const ModelFacts &f) {
  h << "inline constexpr std::uint64_t kTrainStepMacs = "
    << f.trainForwardMacs + f.backwardMacs << ";\n"
    << "inline constexpr std::uint64_t kBackwardMacs = " << f.backwardMacs
    << ";\n";
  h << "/// The same backward pass at full density (with TinyProp,\n"
    << "/// kBackwardMacs assumes every layer keeps its largest k, S_max\n"
    << "/// zeta^depth; the MACs a step did are in last_step()):\n"
    << "inline constexpr std::uint64_t kDenseBackwardMacs = "
    << f.backwardMacs - f.sparseWorstMacs + f.sparseDenseMacs << ";\n";
  if (f.tinypropLayers)
    h << "/// Layers whose output error is cut to its top k (output first).\n"
      << "inline constexpr std::size_t kNumSparseLayers = " << f.tinypropLayers
      << ";\n";
}

void emitTrainStepDecls(llvm::raw_ostream &h, const ApiDescription &api) {
  std::string input = "const " + trainInputType(api) + " *input";
  if (api.mse)
    h << "/// One optimizer step on a batch; target: kOutputSize floats (for "
         "an\n/// autoencoder, the input itself). Returns the mean squared "
         "error.\n"
      << "float train_step(" << input << ", const float *target);\n";
  else
    h << "/// One optimizer step on a batch; labels: kBatch class indices.\n"
      << "/// Returns the mean loss, or NaN (and no update) if a label is out\n"
      << "/// of range.\n"
      << "float train_step(" << input << ", const std::int32_t *labels);\n"
      << (api.batch == 1
              ? "/// Batch-1 convenience form (int, so that a literal 0 "
                "is not\n/// ambiguous with the pointer form where "
                "int32_t is long).\n"
                "float train_step(" +
                    input + ", int label);\n"
              : "");
  h << "const mcutrain::StepStats &last_step();\n"
    << "/// The SGD learning rate (starts at the compiled-in --lr).\n"
    << "void set_learning_rate(float lr);\n"
    << "float learning_rate();\n";
}

void emitCheckpointDecls(llvm::raw_ostream &h, const ApiDescription &api) {
  h << "\n/// The training state a checkpoint carries: trainable "
       "parameters,\n"
    << "/// optimizer state, step counters, learning rate, sparse-update\n"
    << "/// controllers.\n"
    << "inline constexpr std::size_t kNumCheckpointBlocks = "
    << api.stateBlocks.size() << ";\n"
    << "extern const mcutrain::StateBlock kCheckpointBlocks["
    << std::max<size_t>(api.stateBlocks.size(), 1) << "];\n"
    << "/// Each of the storage's two slots needs this many bytes.\n"
    << "std::size_t checkpoint_bytes();\n"
    << "/// Saves the training state into the slot not holding the newest\n"
    << "/// checkpoint (a power cut keeps the previous one loadable).\n"
    << "bool save_checkpoint(mcutrain::CheckpointStorage &storage);\n"
    << "/// Loads the newest good checkpoint: its sequence number, 0 if "
       "none.\n"
    << "std::uint32_t load_checkpoint(mcutrain::CheckpointStorage "
       "&storage);\n";
}

// <name>.cpp ---------------------------------------------------------------

/// train_step's input checks and the call of detail::train_step.
void emitTrainStepCall(llvm::raw_ostream &c, const ApiDescription &api) {
  // TinyProp: the MACs of the selection-dependent ops are counted at run
  // time (the static count assumes kmax).
  std::string resetDynamic =
      api.facts->tinypropLayers
          ? "  detail::" + train::kDynamicMacsGlobal.str() + "[0] = 0;\n"
          : "";
  std::string input = "const " + trainInputType(api) + " *input";
  if (api.mse) {
    c << "float train_step(" << input << ", const float *target) {\n"
      << resetDynamic << "  float loss = detail::train_step("
      << trainInputArg(api) << ",\n"
      << "                                  const_cast<float *>(target));\n";
    return;
  }
  // Token ids need no finiteness check (out-of-range ones are clamped).
  c << "float train_step(" << input << ", const std::int32_t *labels) {\n"
    << (trainInputType(api) == "float"
            ? "  bool finite = mcutrain::all_finite(input, kInputSize);\n"
            : "  bool finite = true;\n")
    << "  if (!finite || !mcutrain::labels_valid(labels, kBatch, "
       "kNumClasses)) {\n"
    << "    stats.loss = NAN;\n    stats.skipped = true;\n"
    << "    stats.non_finite = !finite;\n"
    << "    stats.rejected_input = true;\n    stats.macs = 0;\n"
    << "    ++stats.skipped_steps;\n    return stats.loss;\n  }\n"
    << resetDynamic << "  float loss = detail::train_step("
    << trainInputArg(api) << ",\n"
    << "                                  const_cast<std::int32_t "
       "*>(labels));\n";
}

/// The step's statistics: a skipped step (non-finite loss, TinyPropv2) did
/// the forward pass and the backward MACs before the decision.
void emitStepStats(llvm::raw_ostream &c, const ModelFacts &f) {
  // The flag: 1 skipped (non-finite loss or TinyPropv2), 2 an update was
  // dropped for a non-finite gradient.
  std::string flag = "detail::" + train::kSkipStepGlobal.str() + "[0]";
  std::string skipped = flag + " == 1";
  std::string nonFinite = "!(loss - loss == 0.0f) || " + flag + " == 2";
  // The selection-dependent MACs (TinyProp) are counted at run time.
  std::string dynamicMacs =
      f.tinypropLayers ? " + detail::" + train::kDynamicMacsGlobal.str() + "[0]"
                       : "";
  c << "  stats.loss = loss;\n"
    << "  stats.skipped = " << skipped << ";\n"
    << "  stats.non_finite = " << nonFinite << ";\n"
    << "  stats.rejected_input = false;\n"
    << "  std::uint64_t backward = stats.skipped ? " << f.preSkipMacs
    << "u\n      : kBackwardMacs - " << f.sparseWorstMacs << "u" << dynamicMacs
    << ";\n"
    << "  stats.macs = kTrainStepMacs - kBackwardMacs + backward;\n"
    << "  stats.backprop_ratio = kDenseBackwardMacs ? (float)backward / "
       "(float)kDenseBackwardMacs : 1.0f;\n"
    << (f.tinypropLayers
            ? "  stats.layer_ratios = detail::" +
                  train::kTinyPropRatioGlobal.str() +
                  ";\n  stats.num_sparse_layers = kNumSparseLayers;\n"
            : "")
    << "  if (stats.skipped)\n    ++stats.skipped_steps;\n"
    << "  ++stats.steps;\n  return loss;\n}\n\n";
}

void emitTrainingDefs(llvm::raw_ostream &c, const ApiDescription &api) {
  c << (api.batch == 1 && !api.mse
            ? "float train_step(const " + trainInputType(api) +
                  " *input, int label) {\n"
                  "  std::int32_t l = label;\n  return train_step(input, "
                  "&l);\n}\n\n"
            : "")
    << "const mcutrain::StepStats &last_step() { return stats; }\n\n"
    << "void set_learning_rate(float lr) {\n"
    << "  detail::" << train::kLearningRateGlobal << "[0] = lr;\n}\n"
    << "float learning_rate() { return detail::" << train::kLearningRateGlobal
    << "[0]; }\n\n";
}

void emitCheckpointDefs(llvm::raw_ostream &c, const ApiDescription &api) {
  c << "const mcutrain::StateBlock kCheckpointBlocks["
    << std::max<size_t>(api.stateBlocks.size(), 1) << "] = {\n";
  for (const auto &blk : api.stateBlocks)
    c << "    {\"" << blk.symbol << "\", detail::" << blk.symbol << ", "
      << blk.bytes << "},\n";
  if (api.stateBlocks.empty())
    c << "    {nullptr, nullptr, 0},\n";
  c << "};\n\n"
    << "std::size_t checkpoint_bytes() {\n"
    << "  return mcutrain::checkpoint_bytes(kCheckpointBlocks, "
       "kNumCheckpointBlocks);\n}\n"
    << "bool save_checkpoint(mcutrain::CheckpointStorage &storage) {\n"
    << "  return mcutrain::save_checkpoint(storage, kCheckpointBlocks,\n"
    << "                                   kNumCheckpointBlocks);\n}\n"
    << "std::uint32_t load_checkpoint(mcutrain::CheckpointStorage "
       "&storage) {\n"
    << "  return mcutrain::load_checkpoint(storage, kCheckpointBlocks,\n"
    << "                                   kNumCheckpointBlocks);\n}\n\n";
}

void emitTrainableParams(llvm::raw_ostream &c, const ModelFacts &f) {
  c << "const mcutrain::ParamInfo kTrainableParams["
    << std::max<size_t>(f.trainable.size(), 1) << "] = {\n";
  for (const auto &p : f.trainable) {
    c << "    {\"";
    c.write_escaped(p.onnxName);
    if (p.intBits == 8)
      c << "\", nullptr, " << p.elements << ", detail::" << p.symbol << "},\n";
    else if (p.intBits == 32)
      c << "\", nullptr, " << p.elements << ", nullptr, detail::" << p.symbol
        << "},\n";
    else
      c << "\", detail::" << p.symbol << ", " << p.elements << "},\n";
  }
  if (f.trainable.empty())
    c << "    {nullptr, nullptr, 0},\n";
}

} // namespace

std::string mcutrain::package::emitApiHeader(const ApiDescription &api) {
  const ModelFacts &f = *api.facts;
  const std::string &n = api.name;
  std::string header;
  llvm::raw_string_ostream h(header);
  h << "// Generated by mcutrain from " << api.modelFile << ". Do not edit.\n"
    << "#ifndef MCUTRAIN_" << n << "_H\n#define MCUTRAIN_" << n << "_H\n\n"
    << "#include <cstddef>\n#include <cstdint>\n\n"
    << "#include \"mcutrain_runtime.h\"\n"
    << (api.training ? "#include \"mcutrain_checkpoint.h\"\n" : "") << "\n"
    << "namespace " << n << " {\n";
  emitSizes(h, api);
  if (api.training)
    emitTrainingMacs(h, f);
  h << "\n/// Copies the trainable parameters from their flash image.\n"
    << "void init();\n"
    << "/// Runs the model: inputs and outputs as flat float arrays.\n"
    << "void predict(" << predictSignature(f, false) << ");\n";
  if (api.training) {
    emitTrainStepDecls(h, api);
    emitCheckpointDecls(h, api);
  }
  h << "\ninline constexpr std::size_t kNumTrainableParams = "
    << f.trainable.size() << ";\n"
    << "/// The trainable parameters, in the order of the ONNX graph.\n"
    << "extern const mcutrain::ParamInfo kTrainableParams["
    << std::max<size_t>(f.trainable.size(), 1) << "];\n"
    << "} // namespace " << n << "\n\n#endif\n";
  return header;
}

std::string mcutrain::package::emitApiSource(const ApiDescription &api,
                                             StringRef code) {
  const std::string &n = api.name;
  std::string cpp;
  llvm::raw_string_ostream c(cpp);
  c << "// Generated by mcutrain. Do not edit.\n"
    << "#include \"" << n << ".h\"\n\n#include <cmath>\n\n"
    << "#include \"mcutrain_kernels.h\"\n\n";
  // The float operations between int8 tensors round once each, as the
  // int8 reference does. Quantization rounds by adding and subtracting
  // 1.5 * 2^23 (round_even the same way on Cortex-M4), which -ffast-math
  // may fold away; g++ contracts a multiply and an add of separate
  // statements into one fused multiply-add by default (arm-none-eabi-g++
  // did in ResNet-8's residual Adds). Either moves a value next to a
  // rounding boundary a step, silently; clang contracts within one
  // expression only.
  if (api.int8)
    c << "#if defined(__FAST_MATH__)\n#error \"an int8 package rounds by "
         "IEEE single-precision additions; build it without "
         "-ffast-math\"\n#endif\n"
      << "#if defined(__GNUC__) && !defined(__clang__)\n"
      << "#pragma GCC optimize(\"fp-contract=off\")\n#endif\n\n";
  c << "namespace " << n << " {\nnamespace detail {\n";
  c << code << "} // namespace detail\n\n";
  if (api.training)
    c << "static mcutrain::StepStats stats;\n\n";
  c << "void init() {\n  detail::init();\n"
    << (api.training ? "  stats = mcutrain::StepStats();\n" : "") << "}\n\n"
    << "void predict(" << predictSignature(*api.facts, false) << ") {\n"
    << "  detail::forward(" << predictSignature(*api.facts, true)
    << ");\n}\n\n";
  if (api.training) {
    emitTrainStepCall(c, api);
    emitStepStats(c, *api.facts);
    emitTrainingDefs(c, api);
    emitCheckpointDefs(c, api);
  }
  emitTrainableParams(c, *api.facts);
  c << "};\n} // namespace " << n << "\n";
  return cpp;
}
