//===- Package.cpp - the generated C++ package and its report -------------===//
#include "compiler/Package.h"

#include "compiler/MemoryReport.h"
#include "passes/Passes.h"

#include "dialects/NN/NN.h"
#include "dialects/Train/Train.h"
#include "mlir/Dialect/EmitC/IR/EmitC.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MLProgram/IR/MLProgram.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/Cpp/CppEmitter.h"
#include "llvm/ADT/SmallPtrSet.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>
#include <cstdio>

using namespace mlir;
using namespace mcutrain;

namespace {

bool isIdentifier(StringRef s) {
  if (s.empty() || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
    return false;
  return llvm::all_of(
      s, [](char c) { return isalnum((unsigned char)c) || c == '_'; });
}

/// Facts about the model gathered at the nn level, before lowering.
struct ModelFacts {
  SmallVector<SmallVector<int64_t>> inputShapes, outputShapes;
  // C++ types at the API (uintN_t where the importer marked the value
  // mcutrain.unsigned) and inside the generated code (signless integers are
  // intN_t there).
  SmallVector<std::string> inputCTypes, outputCTypes;
  SmallVector<std::string> inputCodeTypes, outputCodeTypes;
  int64_t forwardMacs = 0, trainForwardMacs = 0, backwardMacs = 0;
  // TinyProp: MACs of the selection-dependent gradient ops at kmax (in
  // backwardMacs) and at full density; the number of sparse layers.
  int64_t sparseWorstMacs = 0, sparseDenseMacs = 0, tinypropLayers = 0;
  // Backward MACs before the step's last skip decision: all a skipped step
  // does after its forward pass.
  int64_t preSkipMacs = 0;
  // Forward activations the weight gradients read (the features a sparse
  // update saves on: DGSU/static keep only the selected channels); the
  // step's own inputs are the caller's and not counted.
  int64_t weightGradFeatureBytes = 0;
  int64_t trainableBytes = 0, frozenBytes = 0, optimizerStateBytes = 0;
  llvm::json::Array ops, params;
  struct Param {
    std::string symbol, onnxName;
    int64_t elements;
  };
  std::vector<Param> trainable;
};

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
}

ModelFacts gatherFacts(ModuleOp module) {
  ModelFacts f;
  auto forward = module.lookupSymbol<func::FuncOp>("forward");
  auto step = module.lookupSymbol<func::FuncOp>("train_step");
  auto codeType = [](Type t) -> std::string {
    Type e = cast<ShapedType>(t).getElementType();
    if (e.isF32())
      return "float";
    if (e.isInteger(1))
      return "bool";
    return "std::int" + std::to_string(e.getIntOrFloatBitWidth()) + "_t";
  };
  auto apiType = [&](DictionaryAttr attrs, Type t) -> std::string {
    if (attrs && attrs.get("mcutrain.unsigned"))
      return "std::uint" +
             std::to_string(
                 cast<ShapedType>(t).getElementType().getIntOrFloatBitWidth()) +
             "_t";
    return codeType(t);
  };
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
  forward.walk(
      [&](nn::MacCountOpInterface op) { f.forwardMacs += op.getMacs(); });
  llvm::SmallPtrSet<Operation *, 16> features;
  auto fromBackward = [](Value v) {
    Operation *def = v.getDefiningOp();
    return def && def->hasAttr("mcutrain.backward");
  };
  // The layer inputs weight gradients read, counted once each.
  auto countFeatures = [&](Operation *op) {
    SmallVector<Value> inputs;
    if (auto gw = dyn_cast<nn::Conv2dGradWeightOp>(op))
      inputs.push_back(gw.getInput());
    else if (auto gw = dyn_cast<train::SparseConv2dGradWeightOp>(op))
      inputs.push_back(gw.getInput());
    else if (auto g = dyn_cast<nn::GemmOp>(op);
             g && op->hasAttr("mcutrain.backward") && g.getTransA())
      inputs.append({g.getA(), g.getB()});
    else if (auto u = dyn_cast<train::UpdateOp>(op); u && u.getOuter())
      inputs.append({u.getGrad(), u.getOuter()});
    for (Value v : inputs) {
      // Through the views TinyProp puts on a Linear layer's input.
      while (auto r = v.getDefiningOp<nn::ReshapeOp>())
        if (r->hasAttr("mcutrain.backward"))
          v = r.getInput();
        else
          break;
      Operation *def = v.getDefiningOp();
      if (def && !fromBackward(v) && features.insert(def).second)
        f.weightGradFeatureBytes +=
            cast<ShapedType>(v.getType()).getNumElements() * 4;
    }
  };
  if (step)
    step.walk([&](Operation *op) {
      if (auto u = dyn_cast<train::UpdateOp>(op))
        f.optimizerStateBytes += u.getNumStateBuffers() *
                                 ShapedType::getNumElements(u.getGradShape()) *
                                 4;
      countFeatures(op);
      // A skipped step still did the backward work before its last skip
      // decision (the non-finite loss guard, TinyPropv2's choice).
      auto topk = dyn_cast<train::TopkErrorOp>(op);
      if (topk)
        ++f.tinypropLayers;
      if (isa<train::FiniteGuardOp>(op) ||
          (topk && topk.getTau().convertToFloat() > 0.0f))
        f.preSkipMacs = f.backwardMacs;
      auto mc = dyn_cast<nn::MacCountOpInterface>(op);
      if (!mc)
        return;
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
    });
  for (auto g : module.getOps<ml_program::GlobalOp>()) {
    auto gt = cast<ShapedType>(g.getType());
    int64_t bytes = gt.getNumElements() *
                    std::max<int64_t>(1, (gt.getElementTypeBitWidth() + 7) / 8);
    (g.getIsMutable() ? f.trainableBytes : f.frozenBytes) += bytes;
    std::string onnx = g.getSymName().str();
    if (auto a = g->getAttrOfType<StringAttr>("onnx.name"))
      onnx = a.str();
    if (g.getIsMutable())
      f.trainable.push_back({g.getSymName().str(), onnx, bytes / 4});
    llvm::json::Object param{{"symbol", g.getSymName().str()},
                             {"onnx_name", onnx},
                             {"bytes", bytes},
                             {"trainable", g.getIsMutable()}};
    describeOrigin(g, param);
    f.params.push_back(std::move(param));
  }
  return f;
}

struct ParamData {
  std::string name;
  int64_t elements;
  bool constant;
  DenseElementsAttr data; // null for RAM parameters
  std::string cType = "float";
};

/// Parameter data moves to <name>_params.cpp: the code file only declares
/// the globals (extern), the arena stays private to the code file.
LogicalResult extractParams(ModuleOp module, std::vector<ParamData> &out) {
  for (auto g : module.getOps<emitc::GlobalOp>()) {
    if (g.getStaticSpecifier())
      continue;
    auto arr = dyn_cast<emitc::ArrayType>(g.getType());
    if (!arr || !arr.getElementType().isIntOrFloat() ||
        (isa<FloatType>(arr.getElementType()) && !arr.getElementType().isF32()))
      return g.emitError("unexpected global in the generated code"), failure();
    ParamData p{g.getSymName().str(), arr.getNumElements(),
                (bool)g.getConstSpecifier(), nullptr};
    Type et = arr.getElementType();
    if (et.isInteger(1))
      p.cType = "bool";
    else if (!et.isF32())
      p.cType = "std::int" + std::to_string(et.getIntOrFloatBitWidth()) + "_t";
    if (auto init = g.getInitialValueAttr()) {
      p.data = dyn_cast<DenseElementsAttr>(init);
      if (!p.data)
        return g.emitError("parameter data is not dense"), failure();
      if (et.isF32())
        for (float v : p.data.getValues<float>())
          if (!std::isfinite(v))
            return g.emitError("parameter @")
                       << p.name << " holds a non-finite value",
                   failure();
      g.removeInitialValueAttr();
    }
    g.setExternSpecifier(true);
    out.push_back(std::move(p));
  }
  return success();
}

std::string floatLiteral(float v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9ef", v);
  return buf;
}

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

LogicalResult writeFile(StringRef dir, StringRef file, StringRef text) {
  SmallString<256> path(dir);
  llvm::sys::path::append(path, file);
  std::error_code ec;
  llvm::raw_fd_ostream os(path, ec);
  if (ec)
    return failure();
  os << text;
  os.close();
  return failure(os.has_error());
}

/// In the emitted definition of `function`, its first `count` parameters,
/// arrays that nothing writes during the call (train_step's input and
/// target or labels, which may be the same array), become
/// restrict-qualified pointers: without that, g++ assumed any store to the
/// arena could change them, so a loss summed over the target went through
/// memory, one dependent load and store per element (a strided 1x1
/// layer's step 15 -> 13 us).
void restrictReadOnlyParams(std::string &code, StringRef function,
                            size_t count) {
  // The definition: a line "<return type> <function>(<params>) {".
  std::string head = (" " + function + "(").str();
  size_t at = 0, open = 0, close = 0;
  for (;; at += head.size()) {
    at = code.find(head, at);
    if (at == std::string::npos)
      return;
    size_t lineStart = at == 0 ? 0 : code.rfind('\n', at - 1) + 1;
    open = at + head.size();
    close = code.find(')', open);
    if (close != std::string::npos &&
        StringRef(code).slice(lineStart, at).find(' ') == StringRef::npos &&
        StringRef(code).substr(close).starts_with(") {\n"))
      break;
  }
  SmallVector<StringRef> params;
  StringRef(code).slice(open, close).split(params, ", ");
  std::string rewritten;
  for (size_t i = 0; i < params.size(); ++i) {
    StringRef param = params[i];
    size_t bracket = param.find('['), space = param.rfind(' ', bracket);
    if (i < count && bracket != StringRef::npos && space != StringRef::npos)
      rewritten += (param.take_front(space) + " *__restrict " +
                    param.slice(space + 1, bracket))
                       .str();
    else
      rewritten += param.str();
    if (i + 1 < params.size())
      rewritten += ", ";
  }
  code.replace(open, close - open, rewritten);
}

/// A compiled package, not yet written.
struct BuiltPackage {
  std::string name, header, cpp, data, report, svg;
  MemorySummary memory;
  int64_t trainableTensors = 0, trainableBytes = 0;
  /// ONNX name and bytes of each trainable parameter, in graph order.
  std::vector<std::pair<std::string, int64_t>> trainableParams;
};

} // namespace

static FailureOr<BuiltPackage>
buildPackage(MLIRContext &ctx, StringRef onnxPath, const PackageOptions &opts) {
  Location cli = FileLineColLoc::get(&ctx, onnxPath, 0, 0);
  if (!isIdentifier(opts.name))
    return emitError(cli) << "--name '" << opts.name
                          << "' is not a C++ identifier",
           failure();
  static const char *optimizers[] = {"sgd", "momentum", "nesterov", "adam",
                                     "adagrad"};
  if (!llvm::is_contained(optimizers, StringRef(opts.training.optimizer)))
    return emitError(cli) << "optimizer '" << opts.training.optimizer
                          << "' is not supported (supported: sgd, momentum, "
                             "nesterov, adam, adagrad)",
           failure();
  if (!(opts.training.lr > 0) || !std::isfinite(opts.training.lr))
    return emitError(cli) << "--lr must be a positive number", failure();

  OwningOpRef<ModuleOp> module = importOnnxFile(ctx, onnxPath, opts.import);
  if (!module)
    return failure();

  bool training = !opts.inferenceOnly;
  if (training) {
    auto forward = (*module).lookupSymbol<func::FuncOp>("forward");
    auto isF32 = [](Type t) {
      return cast<ShapedType>(t).getElementType().isF32();
    };
    if (forward.getNumArguments() == 0)
      return emitError(cli) << "training needs a model with a runtime input "
                               "(use --inference-only)",
             failure();
    if (!llvm::all_of(forward.getArgumentTypes(), isF32) ||
        !isF32(forward.getResultTypes()[0]))
      return emitError(cli) << "training needs a float32 input and first "
                               "output; integer and boolean ones are "
                               "supported with --inference-only",
             failure();
  }
  {
    PassManager pm(&ctx);
    if (training)
      buildTrainingPipeline(pm, opts.training);
    else
      buildInferencePipeline(pm);
    if (failed(pm.run(*module)))
      return failure();
  }
  ModelFacts facts = gatherFacts(*module);

  PassManager lowering(&ctx);
  buildLoweringPipeline(lowering, opts.lowering);
  if (failed(lowering.run(*module)))
    return failure();

  auto plan = (*module)->getAttrOfType<DictionaryAttr>("mcutrain.memory_plan");
  auto planInt = [&](StringRef key) {
    return cast<IntegerAttr>(plan.get(key)).getInt();
  };
  int64_t arenaBytes = planInt("arena_bytes");
  MemorySummary memory = summarizeMemory(*module);

  std::vector<ParamData> params;
  if (failed(extractParams(*module, params)))
    return failure();

  // What a checkpoint carries: every RAM global but the arenas (scratch)
  // and the last step's statistics.
  struct StateBlockInfo {
    std::string symbol;
    int64_t bytes;
  };
  std::vector<StateBlockInfo> stateBlocks;
  for (auto g : module->getOps<emitc::GlobalOp>()) {
    StringRef sym = g.getSymName();
    if (g.getConstSpecifier() || sym.starts_with("mcutrain_arena") ||
        sym == train::kDynamicMacsGlobal || sym == train::kSkipStepGlobal ||
        sym == train::kTinyPropRatioGlobal)
      continue;
    auto arr = cast<emitc::ArrayType>(g.getType());
    int64_t elementBytes =
        std::max<int64_t>(1, arr.getElementType().getIntOrFloatBitWidth() / 8);
    stateBlocks.push_back({sym.str(), arr.getNumElements() * elementBytes});
  }

  std::string code;
  llvm::raw_string_ostream codeOs(code);
  if (failed(emitc::translateToCpp(*module, codeOs)))
    return failure();
  // (Not forward's input: an application may predict in place, output
  // over input, which a restrict-qualified input would make undefined.)
  if (training)
    restrictReadOnlyParams(code, "train_step", 2);

  const std::string &n = opts.name;
  size_t numIn = facts.inputShapes.size(), numOut = facts.outputShapes.size();
  int64_t batch = facts.inputShapes.empty() || facts.inputShapes[0].empty()
                      ? 1
                      : facts.inputShapes[0][0];
  int64_t classes = 0;
  bool mse = opts.training.loss == "mse";
  if (training && !mse)
    classes = facts.outputShapes[0][1];
  // predict(input, output) for one of each, else input0.., output0...
  auto argName = [](StringRef base, size_t i, size_t count) {
    return count == 1 ? base.str() : (base + Twine(i)).str();
  };
  std::string predictParams, predictArgs;
  // The code takes signless intN_t where the API says uintN_t: same bits.
  auto passAs = [](const std::string &api, const std::string &code,
                   const std::string &arg, bool isConst) {
    std::string v = isConst ? "const_cast<" + api + " *>(" + arg + ")" : arg;
    return api == code ? v : "reinterpret_cast<" + code + " *>(" + v + ")";
  };
  for (size_t i = 0; i < numIn; ++i) {
    std::string a = argName("input", i, numIn);
    predictParams +=
        (i ? ", " : "") + ("const " + facts.inputCTypes[i] + " *" + a);
    predictArgs += (i ? ", " : "") + passAs(facts.inputCTypes[i],
                                            facts.inputCodeTypes[i], a, true);
  }
  for (size_t i = 0; i < numOut; ++i) {
    std::string a = argName("output", i, numOut);
    predictParams +=
        (numIn || i ? ", " : "") + (facts.outputCTypes[i] + " *" + a);
    predictArgs +=
        (numIn || i ? ", " : "") +
        passAs(facts.outputCTypes[i], facts.outputCodeTypes[i], a, false);
  }

  // <name>.h ---------------------------------------------------------------
  std::string header;
  llvm::raw_string_ostream h(header);
  h << "// Generated by mcutrain from " << llvm::sys::path::filename(onnxPath)
    << ". Do not edit.\n"
    << "#ifndef MCUTRAIN_" << n << "_H\n#define MCUTRAIN_" << n << "_H\n\n"
    << "#include <cstddef>\n#include <cstdint>\n\n"
    << "#include \"mcutrain_runtime.h\"\n"
    << (training ? "#include \"mcutrain_checkpoint.h\"\n" : "") << "\n"
    << "namespace " << n << " {\n"
    << "inline constexpr std::size_t kBatch = " << batch << ";\n";
  for (size_t i = 0; i < numIn; ++i)
    h << "inline constexpr std::size_t k" << argName("InputSize", i, numIn)
      << " = " << product(facts.inputShapes[i]) << "; // "
      << joinDims(facts.inputShapes[i], "x") << "\n";
  for (size_t i = 0; i < numOut; ++i)
    h << "inline constexpr std::size_t k" << argName("OutputSize", i, numOut)
      << " = " << product(facts.outputShapes[i]) << "; // "
      << joinDims(facts.outputShapes[i], "x") << "\n";
  if (training && !mse)
    h << "inline constexpr std::size_t kNumClasses = " << classes << ";\n";
  h << "inline constexpr std::size_t kArenaBytes = " << arenaBytes << ";\n"
    << "inline constexpr std::size_t kTrainableParamBytes = "
    << facts.trainableBytes << ";\n"
    << "inline constexpr std::size_t kOptimizerStateBytes = "
    << facts.optimizerStateBytes << ";\n"
    << "inline constexpr std::size_t kFrozenParamBytes = " << facts.frozenBytes
    << "; // flash\n"
    << "inline constexpr std::uint64_t kForwardMacs = " << facts.forwardMacs
    << ";\n";
  if (training)
    h << "inline constexpr std::uint64_t kTrainStepMacs = "
      << facts.trainForwardMacs + facts.backwardMacs << ";\n"
      << "inline constexpr std::uint64_t kBackwardMacs = " << facts.backwardMacs
      << ";\n";
  if (training)
    h << "/// The same backward pass at full density (with TinyProp,\n"
      << "/// kBackwardMacs assumes every layer keeps its largest k, S_max\n"
      << "/// zeta^depth; the MACs a step did are in last_step()):\n"
      << "inline constexpr std::uint64_t kDenseBackwardMacs = "
      << facts.backwardMacs - facts.sparseWorstMacs + facts.sparseDenseMacs
      << ";\n";
  if (training && facts.tinypropLayers)
    h << "/// Layers whose output error is cut to its top k (output first).\n"
      << "inline constexpr std::size_t kNumSparseLayers = "
      << facts.tinypropLayers << ";\n";
  h << "\n/// Copies the trainable parameters from their flash image.\n"
    << "void init();\n"
    << "/// Runs the model: inputs and outputs as flat float arrays.\n"
    << "void predict(" << predictParams << ");\n";
  if (training && mse)
    h << "/// One optimizer step on a batch; target: kOutputSize floats (for "
         "an\n/// autoencoder, the input itself). Returns the mean squared "
         "error.\n"
      << "float train_step(const float *input, const float *target);\n";
  if (training && !mse)
    h << "/// One optimizer step on a batch; labels: kBatch class indices.\n"
      << "/// Returns the mean loss, or NaN (and no update) if a label is out\n"
      << "/// of range.\n"
      << "float train_step(const float *input, const std::int32_t *labels);\n"
      << (batch == 1 ? "/// Batch-1 convenience form (int, so that a literal 0 "
                       "is not\n/// ambiguous with the pointer form where "
                       "int32_t is long).\n"
                       "float train_step(const float *input, int label);\n"
                     : "");
  if (training)
    h << "const mcutrain::StepStats &last_step();\n"
      << "/// The SGD learning rate (starts at the compiled-in --lr).\n"
      << "void set_learning_rate(float lr);\n"
      << "float learning_rate();\n";
  if (training)
    h << "\n/// The training state a checkpoint carries: trainable "
         "parameters,\n"
      << "/// optimizer state, step counters, learning rate, sparse-update\n"
      << "/// controllers.\n"
      << "inline constexpr std::size_t kNumCheckpointBlocks = "
      << stateBlocks.size() << ";\n"
      << "extern const mcutrain::StateBlock kCheckpointBlocks["
      << std::max<size_t>(stateBlocks.size(), 1) << "];\n"
      << "/// Each of the storage's two slots needs this many bytes.\n"
      << "std::size_t checkpoint_bytes();\n"
      << "/// Saves the training state into the slot not holding the newest\n"
      << "/// checkpoint (a power cut keeps the previous one loadable).\n"
      << "bool save_checkpoint(mcutrain::CheckpointStorage &storage);\n"
      << "/// Loads the newest good checkpoint: its sequence number, 0 if "
         "none.\n"
      << "std::uint32_t load_checkpoint(mcutrain::CheckpointStorage "
         "&storage);\n";
  h << "\ninline constexpr std::size_t kNumTrainableParams = "
    << facts.trainable.size() << ";\n"
    << "/// The trainable parameters, in the order of the ONNX graph.\n"
    << "extern const mcutrain::ParamInfo kTrainableParams["
    << std::max<size_t>(facts.trainable.size(), 1) << "];\n"
    << "} // namespace " << n << "\n\n#endif\n";

  // <name>.cpp -------------------------------------------------------------
  std::string cpp;
  llvm::raw_string_ostream c(cpp);
  c << "// Generated by mcutrain. Do not edit.\n"
    << "#include \"" << n << ".h\"\n\n#include <cmath>\n\n"
    << "#include \"mcutrain_kernels.h\"\n\n"
    << "namespace " << n << " {\nnamespace detail {\n";
  // The arena holds every planned buffer; align it like its offsets.
  std::string body = code;
  for (size_t at = body.find("static "); at != std::string::npos;
       at = body.find("static ", at + 1)) {
    size_t name = body.find(" mcutrain_arena", at);
    size_t eol = body.find('\n', at);
    if (name == std::string::npos || name > eol)
      continue;
    std::string align =
        "alignas(" + std::to_string(opts.lowering.alignment) + ") ";
    body.insert(at, align);
    at += align.size();
  }
  c << body << "} // namespace detail\n\n";
  if (training)
    c << "static mcutrain::StepStats stats;\n\n";
  c << "void init() {\n  detail::init();\n"
    << (training ? "  stats = mcutrain::StepStats();\n" : "") << "}\n\n"
    << "void predict(" << predictParams << ") {\n"
    << "  detail::forward(" << predictArgs << ");\n}\n\n";
  // TinyProp: the MACs of the selection-dependent ops are counted at run
  // time (the static count assumes kmax).
  std::string resetDynamic =
      facts.tinypropLayers
          ? "  detail::" + train::kDynamicMacsGlobal.str() + "[0] = 0;\n"
          : "";
  if (training && mse)
    c << "float train_step(const float *input, const float *target) {\n"
      << resetDynamic
      << "  float loss = detail::train_step(const_cast<float *>(input),\n"
      << "                                  const_cast<float *>(target));\n";
  if (training && !mse)
    c << "float train_step(const float *input, const std::int32_t *labels) "
         "{\n"
      << "  bool finite = mcutrain::all_finite(input, kInputSize);\n"
      << "  if (!finite || !mcutrain::labels_valid(labels, kBatch, "
         "kNumClasses)) {\n"
      << "    stats.loss = NAN;\n    stats.skipped = true;\n"
      << "    stats.non_finite = !finite;\n"
      << "    stats.rejected_input = true;\n    stats.macs = 0;\n"
      << "    ++stats.skipped_steps;\n    return stats.loss;\n  }\n"
      << resetDynamic
      << "  float loss = detail::train_step(const_cast<float *>(input),\n"
      << "                                  const_cast<std::int32_t "
         "*>(labels));\n";
  // A skipped step (non-finite loss, TinyPropv2) did the forward pass and
  // the backward MACs before the decision.
  // The flag: 1 skipped (non-finite loss or TinyPropv2), 2 an update was
  // dropped for a non-finite gradient.
  std::string flag = "detail::" + train::kSkipStepGlobal.str() + "[0]";
  std::string skipped = flag + " == 1";
  std::string nonFinite = "!(loss - loss == 0.0f) || " + flag + " == 2";
  // The selection-dependent MACs (TinyProp) are counted at run time.
  std::string dynamicMacs =
      facts.tinypropLayers
          ? " + detail::" + train::kDynamicMacsGlobal.str() + "[0]"
          : "";
  if (training)
    c << "  stats.loss = loss;\n"
      << "  stats.skipped = " << skipped << ";\n"
      << "  stats.non_finite = " << nonFinite << ";\n"
      << "  stats.rejected_input = false;\n"
      << "  std::uint64_t backward = stats.skipped ? " << facts.preSkipMacs
      << "u\n      : kBackwardMacs - " << facts.sparseWorstMacs << "u"
      << dynamicMacs << ";\n"
      << "  stats.macs = kTrainStepMacs - kBackwardMacs + backward;\n"
      << "  stats.backprop_ratio = kDenseBackwardMacs ? (float)backward / "
         "(float)kDenseBackwardMacs : 1.0f;\n"
      << (facts.tinypropLayers
              ? "  stats.layer_ratios = detail::" +
                    train::kTinyPropRatioGlobal.str() +
                    ";\n  stats.num_sparse_layers = kNumSparseLayers;\n"
              : "")
      << "  if (stats.skipped)\n    ++stats.skipped_steps;\n"
      << "  ++stats.steps;\n  return loss;\n}\n\n";
  if (training)
    c << (batch == 1 && !mse
              ? "float train_step(const float *input, int label) {\n"
                "  std::int32_t l = label;\n  return train_step(input, &l);\n"
                "}\n\n"
              : "")
      << "const mcutrain::StepStats &last_step() { return stats; }\n\n"
      << "void set_learning_rate(float lr) {\n"
      << "  detail::" << train::kLearningRateGlobal << "[0] = lr;\n}\n"
      << "float learning_rate() { return detail::" << train::kLearningRateGlobal
      << "[0]; }\n\n";
  if (training) {
    c << "const mcutrain::StateBlock kCheckpointBlocks["
      << std::max<size_t>(stateBlocks.size(), 1) << "] = {\n";
    for (const auto &blk : stateBlocks)
      c << "    {\"" << blk.symbol << "\", detail::" << blk.symbol << ", "
        << blk.bytes << "},\n";
    if (stateBlocks.empty())
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
  c << "const mcutrain::ParamInfo kTrainableParams["
    << std::max<size_t>(facts.trainable.size(), 1) << "] = {\n";
  for (const auto &p : facts.trainable) {
    c << "    {\"";
    c.write_escaped(p.onnxName);
    c << "\", detail::" << p.symbol << ", " << p.elements << "},\n";
  }
  if (facts.trainable.empty())
    c << "    {nullptr, nullptr, 0},\n";
  c << "};\n} // namespace " << n << "\n";

  // <name>_params.cpp --------------------------------------------------------
  std::string data;
  llvm::raw_string_ostream d(data);
  d << "// Generated by mcutrain: parameter data. Do not edit.\n"
    << "#include <cstddef>\n#include <cstdint>\n\nnamespace " << n
    << " {\nnamespace detail {\n";
  for (const ParamData &p : params) {
    // Constants need the extern declaration or they would be file-local.
    if (p.constant)
      d << "extern const " << p.cType << " " << p.name << "[" << p.elements
        << "];\n";
    d << (p.constant ? "const " : "") << p.cType << " " << p.name << "["
      << p.elements << "]";
    if (p.data) {
      d << " = {";
      int64_t i = 0;
      if (p.cType == "float") {
        for (float v : p.data.getValues<float>())
          d << (i++ % 8 ? " " : "\n    ") << floatLiteral(v) << ",";
      } else {
        bool isBool = p.cType == "bool";
        for (APInt v : p.data.getValues<APInt>()) {
          d << (i++ % 16 ? " " : "\n    ");
          if (isBool)
            d << (v.isZero() ? "false" : "true");
          else if (v.isMinSignedValue() && v.getBitWidth() == 64)
            d << "INT64_MIN"; // no literal spells it
          else
            d << v.getSExtValue() << (v.getBitWidth() == 64 ? "LL" : "");
          d << ",";
        }
      }
      d << "\n}";
    }
    d << ";\n";
  }
  d << "} // namespace detail\n} // namespace " << n << "\n";

  // report.json --------------------------------------------------------------
  llvm::json::Array buffers;
  for (Attribute a : cast<ArrayAttr>(plan.get("buffers"))) {
    auto b = cast<DictionaryAttr>(a);
    llvm::json::Object o;
    for (NamedAttribute na : b) {
      if (auto s = dyn_cast<StringAttr>(na.getValue()))
        o[na.getName().str()] = s.str();
      else
        o[na.getName().str()] = cast<IntegerAttr>(na.getValue()).getInt();
    }
    buffers.push_back(std::move(o));
  }
  llvm::json::Object report{
      {"model", onnxPath.str()},
      {"name", n},
      {"batch", batch},
      {"input_shape", facts.inputShapes.empty()
                          ? llvm::json::Array()
                          : llvm::json::Array(facts.inputShapes[0])},
      {"output_shape", llvm::json::Array(facts.outputShapes[0])},
      {"mode", training ? "training" : "inference"},
      {"loss", opts.training.loss},
      {"optimizer", opts.training.optimizer},
      {"lr", opts.training.lr},
      {"trainable", opts.training.trainable},
      {"sparsity", opts.training.sparsity},
      {"arena",
       llvm::json::Object{{"bytes", arenaBytes},
                          {"lower_bound_bytes", planInt("lower_bound_bytes")},
                          {"no_reuse_bytes", planInt("no_reuse_bytes")},
                          {"alignment", planInt("alignment")},
                          {"buffers", std::move(buffers)}}},
      {"parameters",
       llvm::json::Object{{"trainable_bytes", facts.trainableBytes},
                          {"frozen_bytes", facts.frozenBytes},
                          {"optimizer_state_bytes", facts.optimizerStateBytes},
                          {"list", std::move(facts.params)}}},
      {"ram_bytes", memory.total},
      {"ram",
       llvm::json::Object{
           {"total_bytes", memory.total},
           {"arena_bytes", memory.arena},
           {"trainable_parameter_bytes", memory.params},
           {"optimizer_state_bytes", memory.state},
           {"runtime_scalar_bytes", memory.other},
           {"weight_gradient_feature_bytes", facts.weightGradFeatureBytes},
           {"sram_budget_bytes", opts.sramBytes},
           {"peak", llvm::json::Object{{"func", memory.peakFunc},
                                       {"position", memory.peakPosition},
                                       {"node", memory.peakNode},
                                       {"phase", memory.peakPhase},
                                       {"live_bytes", memory.peakBytes}}}}},
      {"macs",
       llvm::json::Object{{"forward", facts.forwardMacs},
                          {"train_step_forward", facts.trainForwardMacs},
                          {"backward", facts.backwardMacs},
                          {"per_op", std::move(facts.ops)}}}};
  std::string reportText;
  llvm::raw_string_ostream r(reportText);
  r << llvm::formatv("{0:2}", llvm::json::Value(std::move(report))) << "\n";

  BuiltPackage pkg;
  pkg.name = n;
  pkg.header = std::move(header);
  pkg.cpp = std::move(cpp);
  pkg.data = std::move(data);
  pkg.report = std::move(reportText);
  pkg.svg = renderMemorySvg(memory, opts.sramBytes);
  pkg.memory = std::move(memory);
  pkg.trainableTensors = facts.trainable.size();
  for (const auto &p : facts.trainable)
    pkg.trainableParams.push_back({p.onnxName, p.elements * 4});
  pkg.trainableBytes = facts.trainableBytes;
  return pkg;
}

/// Writes everything to a temporary sibling, then renames it into place.
static LogicalResult writePackage(const BuiltPackage &pkg, StringRef outDir,
                                  Location cli) {
  const std::string &n = pkg.name;
  SmallString<256> out(outDir);
  llvm::sys::path::remove_dots(out, true);
  if (out.empty())
    return emitError(cli) << "no output folder (-o)", failure();
  SmallString<256> tmp(out);
  tmp += ".mcutrain-tmp";
  llvm::sys::fs::remove_directories(tmp);
  if (std::error_code ec = llvm::sys::fs::create_directories(tmp))
    return emitError(cli) << "cannot create '" << tmp << "': " << ec.message(),
           failure();
  std::pair<std::string, const std::string *> files[] = {
      {n + ".h", &pkg.header},
      {n + ".cpp", &pkg.cpp},
      {n + "_params.cpp", &pkg.data},
      {"report.json", &pkg.report},
      {"memory.svg", &pkg.svg}};
  std::string runtime = runtimeHeaderText().str();
  bool ok = true;
  for (auto &[file, text] : files)
    ok &= succeeded(writeFile(tmp, file, *text));
  ok &= succeeded(writeFile(tmp, "mcutrain_runtime.h", runtime));
  ok &= succeeded(
      writeFile(tmp, "mcutrain_kernels.h", kernelsHeaderText().str()));
  ok &= succeeded(
      writeFile(tmp, "mcutrain_checkpoint.h", checkpointHeaderText().str()));
  if (!ok) {
    llvm::sys::fs::remove_directories(tmp);
    return emitError(cli) << "cannot write into '" << tmp << "'", failure();
  }
  if (llvm::sys::fs::is_directory(out))
    llvm::sys::fs::remove_directories(out);
  if (std::error_code ec = llvm::sys::fs::rename(tmp, out)) {
    llvm::sys::fs::remove_directories(tmp);
    return emitError(cli) << "cannot move output into '" << out
                          << "': " << ec.message(),
           failure();
  }
  return success();
}

/// Builds with diagnostics silenced: the trial builds of --update auto and
/// of an over-budget error's suggestions.
static FailureOr<BuiltPackage> tryBuild(MLIRContext &ctx, StringRef onnxPath,
                                        PackageOptions opts,
                                        StringRef trainable) {
  ScopedDiagnosticHandler silence(&ctx, [](Diagnostic &) { return success(); });
  opts.training.trainable = trainable.str();
  return buildPackage(ctx, onnxPath, opts);
}

namespace {
/// A denser-to-sparser update scheme that fits the budget.
struct Fit {
  std::string trainable;
  BuiltPackage pkg;
};
} // namespace

/// The densest schemes that fit `opts.sramBytes`: the most trainable layers
/// (`last:K`, K by bisection: RAM grows with K) and bias-only; the one that
/// trains more parameter bytes first. `all` is tried first.
static std::vector<Fit> findFits(MLIRContext &ctx, StringRef onnxPath,
                                 const PackageOptions &opts,
                                 const BuiltPackage &requested) {
  std::vector<Fit> fits;
  auto fitsBudget = [&](const FailureOr<BuiltPackage> &p) {
    return succeeded(p) && p->memory.total <= opts.sramBytes;
  };
  // The dense build: the one just made (and over budget) when it trains
  // everything, else a trial.
  FailureOr<BuiltPackage> all = opts.training.trainable == "all"
                                    ? FailureOr<BuiltPackage>(requested)
                                    : tryBuild(ctx, onnxPath, opts, "all");
  if (fitsBudget(all)) {
    fits.push_back({"all", std::move(*all)});
    return fits;
  }
  // last:K for K up to the number of trainable tensors of the dense build
  // (at least the number of layers).
  int64_t lo = 0,
          hi = std::max<int64_t>(
              1,
              succeeded(all)
                  ? all->trainableTensors
                  : requested.trainableTensors); // last:lo fits (0: none known)
  std::optional<BuiltPackage> best;
  while (lo < hi) {
    int64_t mid = (lo + hi + 1) / 2;
    FailureOr<BuiltPackage> p =
        tryBuild(ctx, onnxPath, opts, "last:" + std::to_string(mid));
    if (fitsBudget(p)) {
      lo = mid;
      best = std::move(*p);
    } else {
      hi = mid - 1;
    }
  }
  // Greedy by parameters, from the output back: take each trainable tensor
  // whose RAM (with optimizer state) still fits beside the smallest arena
  // seen, skipping those that do not - so one huge layer near the output
  // does not freeze everything before it. The longest prefix of the picks
  // that really fits is found by bisection over builds.
  if (succeeded(all) && best) {
    int64_t perByte =
        std::max<int64_t>(1, (all->memory.params + all->memory.state) /
                                 std::max<int64_t>(all->trainableBytes, 1));
    int64_t room = opts.sramBytes - best->memory.arena - best->memory.other;
    std::vector<std::string> picked;
    int64_t used = 0;
    for (auto it = all->trainableParams.rbegin();
         it != all->trainableParams.rend(); ++it) {
      int64_t cost = it->second * perByte;
      if (used + cost > room)
        continue;
      used += cost;
      picked.push_back(it->first);
    }
    auto spec = [&](size_t n) {
      std::string names;
      for (size_t i = 0; i < n; ++i)
        names += (i ? "," : "") + picked[i];
      return names;
    };
    size_t good = 0, bad = picked.size() + 1;
    std::optional<BuiltPackage> greedy;
    while (bad - good > 1) {
      size_t mid = (good + bad) / 2;
      FailureOr<BuiltPackage> p = tryBuild(ctx, onnxPath, opts, spec(mid));
      if (fitsBudget(p)) {
        good = mid;
        greedy = std::move(*p);
      } else {
        bad = mid;
      }
    }
    if (greedy && greedy->trainableBytes > best->trainableBytes)
      fits.push_back({spec(good), std::move(*greedy)});
  }
  if (best)
    fits.push_back({"last:" + std::to_string(lo), std::move(*best)});
  FailureOr<BuiltPackage> bias = tryBuild(ctx, onnxPath, opts, "bias-only");
  if (fitsBudget(bias))
    fits.push_back({"bias-only", std::move(*bias)});
  llvm::stable_sort(fits, [](const Fit &a, const Fit &b) {
    return a.pkg.trainableBytes > b.pkg.trainableBytes;
  });
  return fits;
}

LogicalResult mcutrain::compilePackage(MLIRContext &ctx, StringRef onnxPath,
                                       const PackageOptions &opts) {
  Location cli = FileLineColLoc::get(&ctx, onnxPath, 0, 0);
  if (opts.update != "dense" && opts.update != "auto")
    return emitError(cli) << "--update '" << opts.update
                          << "' is not supported (dense, auto)",
           failure();
  if (opts.update == "auto") {
    if (opts.sramBytes <= 0)
      return emitError(cli) << "--update auto needs an --sram budget",
             failure();
    if (opts.inferenceOnly)
      return emitError(cli) << "--update auto chooses what trains; it does "
                               "not apply to --inference-only",
             failure();
    if (opts.training.trainable != "all")
      return emitError(cli) << "--update auto chooses --trainable itself; "
                               "drop --trainable "
                            << opts.training.trainable,
             failure();
  }
  FailureOr<BuiltPackage> pkg = buildPackage(ctx, onnxPath, opts);
  if (failed(pkg))
    return failure();
  if (opts.sramBytes <= 0 || pkg->memory.total <= opts.sramBytes)
    return writePackage(*pkg, opts.outDir, cli);

  std::vector<Fit> fits;
  if (!opts.inferenceOnly)
    fits = findFits(ctx, onnxPath, opts, *pkg);
  if (opts.update == "auto" && !fits.empty()) {
    Fit &chosen = fits.front();
    llvm::errs() << "mcutrain: --update auto: --trainable " << chosen.trainable
                 << " fits (RAM " << groupDigits(chosen.pkg.memory.total)
                 << " of " << groupDigits(opts.sramBytes) << " B)\n";
    return writePackage(chosen.pkg, opts.outDir, cli);
  }
  std::string text;
  llvm::raw_string_ostream os(text);
  describeOverrun(os, pkg->memory, opts.sramBytes);
  if (opts.inferenceOnly) {
    os << "  inference keeps no training state; a smaller model or budget "
          "headroom is needed";
  } else if (fits.empty()) {
    os << "  no update scheme fits: not --trainable last:1, not bias-only";
  } else {
    os << "  fits with:";
    for (const Fit &f : fits)
      os << " --trainable " << f.trainable << " (RAM "
         << groupDigits(f.pkg.memory.total) << " B)"
         << (&f == &fits.back() ? "" : ",");
    os << "; or let --update auto choose";
  }
  return emitError(cli) << "the "
                        << (opts.inferenceOnly ? "inference" : "training step")
                        << " " << text,
         failure();
}
