//===- ModelFacts.cpp - what the API and report say about the model -------===//
//
// Read at the nn level, after the training pipeline and before lowering:
// the API's shapes and C++ types, MAC counts (forward, step, backward, the
// TinyProp and skip-decision parts), the byte counts of parameters,
// optimizer state and weight-gradient features, and each parameter's
// origin.
//
//===----------------------------------------------------------------------===//
#include "compiler/Package/PackageParts.h"

#include "passes/Passes.h"

#include "dialects/NN/NN.h"
#include "dialects/Train/Train.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MLProgram/IR/MLProgram.h"
#include "mlir/IR/Matchers.h"
#include "llvm/ADT/SmallPtrSet.h"

using namespace mlir;
using namespace mcutrain;
using namespace mcutrain::package;

namespace {

/// The C++ element type inside the generated code (signless: intN_t).
std::string codeType(Type t) {
  Type e = cast<ShapedType>(t).getElementType();
  if (e.isF32())
    return "float";
  if (e.isInteger(1))
    return "bool";
  return "std::int" + std::to_string(e.getIntOrFloatBitWidth()) + "_t";
}

/// The C++ element type at the API: uintN_t where marked unsigned.
std::string apiType(DictionaryAttr attrs, Type t) {
  if (attrs && attrs.get("mcutrain.unsigned"))
    return "std::uint" +
           std::to_string(
               cast<ShapedType>(t).getElementType().getIntOrFloatBitWidth()) +
           "_t";
  return codeType(t);
}

void gatherInterface(func::FuncOp forward, ModelFacts &f) {
  for (auto [i, t] : llvm::enumerate(forward.getArgumentTypes())) {
    f.inputShapes.emplace_back(cast<ShapedType>(t).getShape());
    f.inputCTypes.push_back(apiType(forward.getArgAttrDict(i), t));
    f.inputCodeTypes.push_back(codeType(t));
  }
  for (auto [i, t] : llvm::enumerate(forward.getResultTypes())) {
    f.outputShapes.emplace_back(cast<ShapedType>(t).getShape());
    f.outputCTypes.push_back(apiType(forward.getResultAttrDict(i), t));
    f.outputCodeTypes.push_back(codeType(t));
  }
}

bool fromBackward(Value v) {
  Operation *def = v.getDefiningOp();
  return def && def->hasAttr("mcutrain.backward");
}

/// Counts the bytes of the layer inputs weight gradients read, once each
/// (an int8 layer's are int8).
struct FeatureCounter {
  llvm::SmallPtrSet<Operation *, 16> seen;
  int64_t bytes = 0;

  void count(Operation *op) {
    SmallVector<Value> inputs;
    if (auto gw = dyn_cast<nn::Conv2dGradWeightOp>(op))
      inputs.push_back(gw.getInput());
    else if (auto gw = dyn_cast<train::SparseConv2dGradWeightOp>(op))
      inputs.push_back(gw.getInput());
    else if (auto gw = dyn_cast<nn::QConv2dGradWeightOp>(op))
      inputs.push_back(gw.getInput()); // int8
    else if (auto gw = dyn_cast<nn::QGemmGradBOp>(op))
      inputs.push_back(gw.getA()); // int8
    else if (auto g = dyn_cast<nn::GemmOp>(op);
             g && op->hasAttr("mcutrain.backward") && g.getTransA())
      inputs.append({g.getA(), g.getB()});
    else if (auto u = dyn_cast<train::UpdateOp>(op); u && u.getOuter())
      inputs.append({u.getGrad(), u.getOuter()});
    for (Value v : inputs) {
      // Through the views TinyProp puts on a Linear layer's input, the
      // dequantization of an int8 one a fused outer-product update reads,
      // and a rank-K update's pixel rows.
      while (isa_and_nonnull<nn::ReshapeOp, nn::DequantizeOp, nn::TransposeOp>(
                 v.getDefiningOp()) &&
             v.getDefiningOp()->hasAttr("mcutrain.backward"))
        v = v.getDefiningOp()->getOperand(0);
      Operation *def = v.getDefiningOp();
      auto type = cast<ShapedType>(v.getType());
      if (def && !fromBackward(v) && seen.insert(def).second)
        bytes += type.getNumElements() *
                 (type.getElementType().getIntOrFloatBitWidth() / 8);
    }
  }
};

/// MACs of one op of train_step, by phase, with its report entry.
void countStepMacs(Operation *op, nn::MacCountOpInterface mc, ModelFacts &f) {
  bool backward = op->hasAttr("mcutrain.backward");
  int64_t macs = mc.getMacs();
  (backward ? f.backwardMacs : f.trainForwardMacs) += macs;
  if (auto gi = dyn_cast<train::SparseConv2dGradInputOp>(op)) {
    f.sparseWorstMacs += macs;
    f.sparseDenseMacs += gi.getDenseMacs();
  } else if (auto gw = dyn_cast<train::SparseConv2dGradWeightOp>(op)) {
    f.sparseWorstMacs += macs;
    f.sparseDenseMacs += gw.getDenseMacs();
  }
  f.ops.push_back(
      llvm::json::Object{{"node", onnxNodeName(op->getLoc())},
                         {"op", op->getName().getStringRef().str()},
                         {"phase", backward ? "backward" : "forward"},
                         {"macs", macs}});
}

ModelFacts::PackedMask describeMask(Operation *mask) {
  auto bytes = [](Value v) {
    return storageBytes(cast<ShapedType>(v.getType()));
  };
  Value tensor = mask->getOperand(0);
  std::string test = "bounds";
  if (isa<nn::MaxPool2dMaskOp>(mask))
    test = "max-pool routing";
  else if (cast<nn::PackMaskOp>(mask).getQuantType())
    test = "quantizes unsaturated";
  return {onnxNodeName(tensor.getLoc()), test, bytes(tensor),
          bytes(mask->getResult(0))};
}

/// What recompute made again (its list on the function).
void gatherRecomputed(func::FuncOp step, ModelFacts &f) {
  auto list = step->getAttrOfType<ArrayAttr>(kRecomputedAttr);
  for (Attribute a : list ? list.getValue() : ArrayRef<Attribute>()) {
    auto d = cast<DictionaryAttr>(a);
    auto get = [&](StringRef key) {
      return d.getAs<IntegerAttr>(key).getInt();
    };
    f.recomputed.push_back({d.getAs<StringAttr>("tensor").str(), get("bytes"),
                            get("kept_bytes"), get("ops"), get("macs")});
    f.recomputedMacs += get("macs");
  }
}

void gatherStep(func::FuncOp step, ModelFacts &f) {
  FeatureCounter features;
  step.walk([&](Operation *op) {
    if (auto u = dyn_cast<train::UpdateOp>(op))
      f.optimizerStateBytes += u.getNumStateBuffers() *
                               ShapedType::getNumElements(u.getGradShape()) * 4;
    features.count(op);
    // A skipped step still did the backward work before its last skip
    // decision (the non-finite loss guard, TinyPropv2's choice).
    auto topk = dyn_cast<train::TopkErrorOp>(op);
    if (topk)
      ++f.tinypropLayers;
    if (isa<train::FiniteGuardOp>(op) ||
        (topk && topk.getTau().convertToFloat() > 0.0f))
      f.preSkipMacs = f.backwardMacs;
    if (auto mc = dyn_cast<nn::MacCountOpInterface>(op))
      countStepMacs(op, mc, f);
    if (isa<nn::PackMaskOp, nn::MaxPool2dMaskOp>(op))
      f.masks.push_back(describeMask(op));
  });
  f.weightGradFeatureBytes = features.bytes;
  gatherRecomputed(step, f);
}

/// Where a parameter's data came from (report.json): an ONNX initializer, an
/// alias of one the exporter merged (untied: a tensor of its own), or a
/// folded constant; and the other names that read it.
void describeOrigin(ml_program::GlobalOp g, llvm::json::Object &param) {
  auto names = [&](StringRef attr) {
    llvm::json::Array list;
    if (auto a = g->getAttrOfType<ArrayAttr>(attr))
      for (StringRef n : a.getAsValueRange<StringAttr>())
        list.push_back(n.str());
    return list;
  };
  if (g->hasAttr("onnx.constant")) {
    param["origin"] = "constant";
  } else if (auto of = g->getAttrOfType<StringAttr>("onnx.alias_of")) {
    param["origin"] = "untied alias";
    param["alias_of"] = of.str();
  } else {
    param["origin"] = "initializer";
  }
  // One tensor under several names (--tie-shared-initializers).
  if (g->hasAttr("onnx.tied_aliases"))
    param["tied_aliases"] = names("onnx.tied_aliases");
  // Frozen untied aliases that read this data (share-frozen-aliases).
  if (g->hasAttr("mcutrain.frozen_aliases"))
    param["frozen_aliases"] = names("mcutrain.frozen_aliases");
  // A sparse update (static or DGSU): which axis, of how many channels,
  // keeps how many.
  if (auto s = g->getAttrOfType<DenseI64ArrayAttr>("mcutrain.sparse_channels"))
    param["sparse_update"] = llvm::json::Object{
        {"channel_axis", s[0]}, {"channels", s[1]}, {"kept", s[2]}};
}

/// The parameter bytes the step's updates can change: a static sparse
/// update's share (its constant `channels` of the tensor's `channel_axis`),
/// else the whole tensor.
int64_t changeableBytes(ModuleOp module, func::FuncOp step) {
  int64_t bytes = 0;
  step.walk([&](train::UpdateOp u) {
    auto g = module.lookupSymbol<ml_program::GlobalOp>(u.getParam());
    if (!g)
      return;
    auto type = cast<ShapedType>(g.getType());
    int64_t all = storageBytes(type);
    if (Value channels = u.getChannels();
        channels && matchPattern(channels, m_Constant()))
      all = all * cast<ShapedType>(channels.getType()).getNumElements() /
            type.getDimSize(u.getChannelAxis());
    bytes += all;
  });
  return bytes;
}

void gatherParams(ModuleOp module, ModelFacts &f) {
  for (auto g : module.getOps<ml_program::GlobalOp>()) {
    auto gt = cast<ShapedType>(g.getType());
    int64_t bytes = storageBytes(gt);
    (g.getIsMutable() ? f.trainableBytes : f.frozenBytes) += bytes;
    std::string onnx = g.getSymName().str();
    if (auto a = g->getAttrOfType<StringAttr>("onnx.name"))
      onnx = a.str();
    if (g.getIsMutable())
      f.trainable.push_back(
          {g.getSymName().str(), onnx, gt.getNumElements(),
           gt.getElementType().isInteger() ? gt.getElementTypeBitWidth() : 0u});
    llvm::json::Object param{{"symbol", g.getSymName().str()},
                             {"onnx_name", onnx},
                             {"bytes", bytes},
                             {"dtype", dtypeName(gt.getElementType())},
                             {"trainable", g.getIsMutable()}};
    describeOrigin(g, param);
    f.params.push_back(std::move(param));
  }
}

} // namespace

ModelFacts mcutrain::package::gatherFacts(ModuleOp module) {
  ModelFacts f;
  auto forward = module.lookupSymbol<func::FuncOp>("forward");
  gatherInterface(forward, f);
  forward.walk(
      [&](nn::MacCountOpInterface op) { f.forwardMacs += op.getMacs(); });
  auto step = module.lookupSymbol<func::FuncOp>("train_step");
  if (step) {
    gatherStep(step, f);
    f.changeableBytes = changeableBytes(module, step);
  }
  gatherParams(module, f);
  return f;
}
