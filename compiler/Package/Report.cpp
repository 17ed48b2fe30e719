//===- Report.cpp - report.json -------------------------------------------===//
//
// The machine-readable account of a package: the options it was built
// with, the arena plan (every buffer), parameters (with their origin), the
// RAM breakdown with its peak, and MACs per op.
//
//===----------------------------------------------------------------------===//
#include "compiler/Package/PackageParts.h"

#include "llvm/ADT/StringSet.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace mcutrain;
using namespace mcutrain::package;

/// The plan's buffers (dictionaries of strings and integers) as JSON.
static llvm::json::Array planBuffers(DictionaryAttr plan) {
  llvm::json::Array buffers;
  for (Attribute a : cast<ArrayAttr>(plan.get("buffers"))) {
    llvm::json::Object o;
    for (NamedAttribute na : cast<DictionaryAttr>(a)) {
      if (auto s = dyn_cast<StringAttr>(na.getValue()))
        o[na.getName().str()] = s.str();
      else
        o[na.getName().str()] = cast<IntegerAttr>(na.getValue()).getInt();
    }
    buffers.push_back(std::move(o));
  }
  return buffers;
}

/// fuse-conv-chains' entry: the chains, the bytes of the tensors they
/// never materialise, the bound's fall.
static llvm::json::Object fusionReport(DictionaryAttr plan, int64_t saved) {
  auto chains = plan.getAs<ArrayAttr>("conv_chains");
  llvm::json::Array list;
  int64_t intermediates = 0;
  for (Attribute a : chains ? chains.getValue() : ArrayRef<Attribute>()) {
    auto c = cast<DictionaryAttr>(a);
    llvm::json::Array layers;
    for (Attribute l : c.getAs<ArrayAttr>("layers"))
      layers.push_back(cast<StringAttr>(l).str());
    int64_t bytes = c.getAs<IntegerAttr>("intermediate_bytes").getInt();
    intermediates += bytes;
    list.push_back(llvm::json::Object{
        {"layers", std::move(layers)},
        {"intermediate_bytes", bytes},
        {"scratch_bytes", c.getAs<IntegerAttr>("scratch_bytes").getInt()}});
  }
  return llvm::json::Object{{"name", "fuse-conv-chains"},
                            {"applied", static_cast<int64_t>(list.size())},
                            {"intermediate_bytes", intermediates},
                            {"saved_bytes", saved},
                            {"chains", std::move(list)}};
}

/// pack-masks' entry: each mask, the tensor it stands for, the bound's fall.
static llvm::json::Object masksReport(const ModelFacts &facts, int64_t saved) {
  llvm::json::Array list;
  int64_t tensorBytes = 0, maskBytes = 0;
  llvm::StringSet<> tensors; // a tensor may have two masks (ReLU, pool)
  for (const ModelFacts::PackedMask &m : facts.masks) {
    if (tensors.insert(m.node).second)
      tensorBytes += m.tensorBytes;
    maskBytes += m.maskBytes;
    list.push_back(llvm::json::Object{{"tensor", m.node},
                                      {"test", m.test},
                                      {"tensor_bytes", m.tensorBytes},
                                      {"mask_bytes", m.maskBytes}});
  }
  return llvm::json::Object{{"name", "pack-masks"},
                            {"applied", static_cast<int64_t>(list.size())},
                            {"tensor_bytes", tensorBytes},
                            {"mask_bytes", maskBytes},
                            {"saved_bytes", saved},
                            {"masks", std::move(list)}};
}

/// recompute's entry: each tensor made again in the backward pass, what it
/// freed and kept, the MACs it costs each step.
static llvm::json::Object recomputeReport(const ModelFacts &facts,
                                          int64_t saved) {
  llvm::json::Array list;
  for (const ModelFacts::Recomputed &r : facts.recomputed)
    list.push_back(llvm::json::Object{{"tensor", r.node},
                                      {"bytes", r.bytes},
                                      {"kept_bytes", r.keptBytes},
                                      {"ops", r.ops},
                                      {"macs", r.macs}});
  return llvm::json::Object{{"name", "recompute"},
                            {"applied", static_cast<int64_t>(list.size())},
                            {"extra_macs", facts.recomputedMacs},
                            {"saved_bytes", saved},
                            {"tensors", std::move(list)}};
}

/// The schedule's liveness lower bound, the original one's (without the
/// memory transformations) and what each transformation did: saved_bytes
/// is how much higher the bound is with that one alone turned off.
static llvm::json::Object scheduleReport(DictionaryAttr plan,
                                         const ModelFacts &facts,
                                         const ScheduleBounds &bounds) {
  int64_t bound = cast<IntegerAttr>(plan.get("lower_bound_bytes")).getInt();
  auto savedFrom = [&](int64_t without) {
    return without < 0 ? 0 : without - bound;
  };
  return llvm::json::Object{
      {"lower_bound_bytes", bound},
      {"original_lower_bound_bytes",
       bounds.original < 0 ? bound : bounds.original},
      {"transformations",
       llvm::json::Array{
           fusionReport(plan, savedFrom(bounds.withoutFusion)),
           masksReport(facts, savedFrom(bounds.withoutMasks)),
           llvm::json::Object{
               {"name", "in-place-elementwise"},
               {"applied", facts.inPlaceOps},
               {"saved_bytes", savedFrom(bounds.withoutInPlace)}},
           llvm::json::Object{
               {"name", "in-place-depthwise"},
               {"applied", facts.inPlaceDepthwise},
               {"saved_bytes", savedFrom(bounds.withoutInPlaceDepthwise)}},
           recomputeReport(facts, savedFrom(bounds.withoutRecompute))}}};
}

static llvm::json::Object ramReport(const MemorySummary &memory,
                                    const ModelFacts &facts,
                                    int64_t sramBytes) {
  return llvm::json::Object{
      {"total_bytes", memory.total},
      {"arena_bytes", memory.arena},
      {"trainable_parameter_bytes", memory.params},
      {"optimizer_state_bytes", memory.state},
      {"runtime_scalar_bytes", memory.other},
      {"weight_gradient_feature_bytes", facts.weightGradFeatureBytes},
      {"sram_budget_bytes", sramBytes},
      {"peak", llvm::json::Object{{"func", memory.peakFunc},
                                  {"position", memory.peakPosition},
                                  {"node", memory.peakNode},
                                  {"phase", memory.peakPhase},
                                  {"live_bytes", memory.peakBytes}}}};
}

std::string mcutrain::package::renderReport(
    StringRef onnxPath, const ApiDescription &api, ModelFacts facts,
    DictionaryAttr plan, const MemorySummary &memory,
    const PackageOptions &opts, const ScheduleBounds &bounds) {
  auto planInt = [&](StringRef key) {
    return cast<IntegerAttr>(plan.get(key)).getInt();
  };
  const TrainingOptions &t = opts.training;
  llvm::json::Object report{
      {"model", onnxPath.str()},
      {"name", api.name},
      {"batch", api.batch},
      {"input_shape", facts.inputShapes.empty()
                          ? llvm::json::Array()
                          : llvm::json::Array(facts.inputShapes[0])},
      {"output_shape", llvm::json::Array(facts.outputShapes[0])},
      {"mode", api.training ? "training" : "inference"},
      {"loss", t.loss},
      {"optimizer", t.optimizer},
      {"lr", t.lr},
      {"trainable", t.trainable},
      {"sparsity", t.sparsity},
      {"arena",
       llvm::json::Object{{"bytes", planInt("arena_bytes")},
                          {"lower_bound_bytes", planInt("lower_bound_bytes")},
                          {"no_reuse_bytes", planInt("no_reuse_bytes")},
                          {"alignment", planInt("alignment")},
                          {"buffers", planBuffers(plan)}}},
      {"parameters",
       llvm::json::Object{{"trainable_bytes", facts.trainableBytes},
                          {"changeable_bytes", facts.changeableBytes},
                          {"frozen_bytes", facts.frozenBytes},
                          {"optimizer_state_bytes", facts.optimizerStateBytes},
                          {"list", std::move(facts.params)}}},
      {"schedule", scheduleReport(plan, facts, bounds)},
      {"ram_bytes", memory.total},
      {"ram", ramReport(memory, facts, opts.sramBytes)},
      {"macs",
       llvm::json::Object{{"forward", facts.forwardMacs},
                          {"train_step_forward", facts.trainForwardMacs},
                          {"backward", facts.backwardMacs},
                          {"per_op", std::move(facts.ops)}}}};
  std::string text;
  llvm::raw_string_ostream r(text);
  r << llvm::formatv("{0:2}", llvm::json::Value(std::move(report))) << "\n";
  return text;
}
