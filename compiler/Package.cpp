//===- Package.cpp - ONNX file -> the generated C++ package ---------------===//
//
// compilePackage: import, the training (or inference) pipeline, the facts
// the API reports, lowering and translation to C++; the files are made by
// the units under compiler/Package/ (PackageParts.h) and written all at once.
//
//===----------------------------------------------------------------------===//
#include "compiler/Package.h"

#include "compiler/Package/PackageParts.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/Cpp/CppEmitter.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>

using namespace mlir;
using namespace mcutrain;
using namespace mcutrain::package;

namespace {

bool isIdentifier(StringRef s) {
  if (s.empty() || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
    return false;
  return llvm::all_of(
      s, [](char c) { return isalnum((unsigned char)c) || c == '_'; });
}

LogicalResult checkOptions(const PackageOptions &opts, Location cli) {
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
  return success();
}

/// Training needs float32 inputs, or one int32/int64 input (token ids for
/// an embedding), and a float32 first output.
LogicalResult checkTrainable(ModuleOp module, Location cli) {
  auto forward = module.lookupSymbol<func::FuncOp>("forward");
  auto elementOf = [](Type t) { return cast<ShapedType>(t).getElementType(); };
  auto isF32 = [&](Type t) { return elementOf(t).isF32(); };
  if (forward.getNumArguments() == 0)
    return emitError(cli) << "training needs a model with a runtime input "
                             "(use --inference-only)",
           failure();
  Type first = elementOf(forward.getArgumentTypes()[0]);
  bool tokenIds = forward.getNumArguments() == 1 &&
                  (first.isInteger(32) || first.isInteger(64));
  if ((!tokenIds && !llvm::all_of(forward.getArgumentTypes(), isF32)) ||
      !isF32(forward.getResultTypes()[0]))
    return emitError(cli) << "training needs float32 inputs (or one int32 "
                             "or int64 input) and a float32 first output; "
                             "other types are supported with "
                             "--inference-only",
           failure();
  return success();
}

LogicalResult runTrainingPipeline(MLIRContext &ctx, ModuleOp module,
                                  const PackageOptions &opts) {
  PassManager pm(&ctx);
  if (opts.inferenceOnly)
    buildInferencePipeline(pm);
  else
    buildTrainingPipeline(pm, opts.training);
  return pm.run(module);
}

LogicalResult runLoweringPipeline(MLIRContext &ctx, ModuleOp module,
                                  const PackageOptions &opts) {
  PassManager pm(&ctx);
  buildLoweringPipeline(pm, opts.lowering);
  return pm.run(module);
}

/// The API's description; `facts` must outlive it.
ApiDescription describeApi(StringRef onnxPath, const PackageOptions &opts,
                           const ModelFacts &facts, int64_t arenaBytes) {
  ApiDescription api;
  api.name = opts.name;
  api.modelFile = llvm::sys::path::filename(onnxPath).str();
  api.training = !opts.inferenceOnly;
  api.mse = opts.training.loss == "mse";
  api.batch = facts.inputShapes.empty() || facts.inputShapes[0].empty()
                  ? 1
                  : facts.inputShapes[0][0];
  if (api.training && !api.mse)
    api.classes = facts.outputShapes[0][1];
  api.arenaBytes = arenaBytes;
  api.alignment = opts.lowering.alignment;
  api.facts = &facts;
  return api;
}

/// The memory plan's arena views: (view, arena) global names.
std::vector<std::pair<std::string, std::string>> arenaViews(ModuleOp module) {
  std::vector<std::pair<std::string, std::string>> views;
  auto plan = module->getAttrOfType<DictionaryAttr>("mcutrain.memory_plan");
  auto list = plan ? plan.getAs<ArrayAttr>("views") : ArrayAttr();
  for (Attribute a : list ? list.getValue() : ArrayRef<Attribute>()) {
    auto d = cast<DictionaryAttr>(a);
    views.push_back({d.getAs<StringAttr>("name").str(),
                     d.getAs<StringAttr>("arena").str()});
  }
  return views;
}

/// The lowered module as C++ text, with the edits EmitC cannot express.
FailureOr<std::string> translate(ModuleOp module, const ApiDescription &api) {
  std::string code;
  llvm::raw_string_ostream os(code);
  if (failed(emitc::translateToCpp(module, os)))
    return failure();
  // (Not forward's input: an application may predict in place, output
  // over input, which a restrict-qualified input would make undefined.)
  if (api.training)
    restrictReadOnlyParams(code, "train_step", 2);
  alignArenas(code, api.alignment);
  viewArenas(code, arenaViews(module));
  return code;
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

/// The arena's liveness lower bound of the package `opts` describes. A
/// second compile of the model: its diagnostics (the first one's again) are
/// dropped.
int64_t lowerBoundOf(MLIRContext &ctx, StringRef onnxPath,
                     const PackageOptions &opts) {
  ScopedDiagnosticHandler silence(&ctx, [](Diagnostic &) { return success(); });
  OwningOpRef<ModuleOp> module = importOnnxFile(ctx, onnxPath, opts.import);
  if (!module || failed(runTrainingPipeline(ctx, *module, opts)) ||
      failed(runLoweringPipeline(ctx, *module, opts)))
    return -1;
  auto plan = (*module)->getAttrOfType<DictionaryAttr>("mcutrain.memory_plan");
  return cast<IntegerAttr>(plan.get("lower_bound_bytes")).getInt();
}

/// The bounds without the memory transformations that applied (one more
/// build each, and one without all when several did), if asked for.
ScheduleBounds measureBounds(MLIRContext &ctx, StringRef onnxPath,
                             const PackageOptions &opts, DictionaryAttr plan,
                             const ModelFacts &facts) {
  ScheduleBounds bounds;
  // Each transformation: whether it applied, the option that turns it off,
  // where its bound goes.
  struct Switch {
    bool applied;
    void (*turnOff)(PackageOptions &);
    int64_t *without;
  };
  Switch switches[] = {
      {plan.get("conv_chains") != nullptr,
       [](PackageOptions &o) { o.lowering.fuseConvChains = false; },
       &bounds.withoutFusion},
      {!facts.masks.empty(),
       [](PackageOptions &o) { o.training.packMasks = false; },
       &bounds.withoutMasks},
      {facts.inPlaceOps > 0,
       [](PackageOptions &o) { o.lowering.inPlace = false; },
       &bounds.withoutInPlace},
      {!facts.recomputed.empty(),
       [](PackageOptions &o) { o.training.recompute = "none"; },
       &bounds.withoutRecompute},
      {facts.inPlaceDepthwise > 0,
       [](PackageOptions &o) { o.lowering.inPlaceDepthwise = false; },
       &bounds.withoutInPlaceDepthwise}};
  int applied =
      llvm::count_if(switches, [](const Switch &s) { return s.applied; });
  if (!opts.measureOriginalSchedule || applied == 0)
    return bounds;
  PackageOptions plain = opts;
  for (Switch &s : switches) {
    if (!s.applied)
      continue;
    PackageOptions without = opts;
    s.turnOff(without);
    *s.without = lowerBoundOf(ctx, onnxPath, without);
    s.turnOff(plain);
    if (applied == 1)
      bounds.original = *s.without;
  }
  if (applied > 1)
    bounds.original = lowerBoundOf(ctx, onnxPath, plain);
  return bounds;
}

/// Whether any op of `module` yields an 8-bit integer tensor (a quantized
/// model's activations or weights).
bool hasInt8Tensors(ModuleOp module) {
  WalkResult found = module.walk([](Operation *op) {
    for (Type t : op->getResultTypes())
      if (auto shaped = dyn_cast<ShapedType>(t);
          shaped && shaped.getElementType().isInteger(8))
        return WalkResult::interrupt();
    return WalkResult::advance();
  });
  return found.wasInterrupted();
}

} // namespace

FailureOr<BuiltPackage>
mcutrain::package::buildPackage(MLIRContext &ctx, StringRef onnxPath,
                                const PackageOptions &opts) {
  Location cli = FileLineColLoc::get(&ctx, onnxPath, 0, 0);
  if (failed(checkOptions(opts, cli)))
    return failure();
  OwningOpRef<ModuleOp> module = importOnnxFile(ctx, onnxPath, opts.import);
  if (!module || (!opts.inferenceOnly && failed(checkTrainable(*module, cli))))
    return failure();
  if (failed(runTrainingPipeline(ctx, *module, opts)))
    return failure();
  ModelFacts facts = gatherFacts(*module);
  bool int8 = hasInt8Tensors(*module);
  if (failed(runLoweringPipeline(ctx, *module, opts)))
    return failure();
  if (auto n = (*module)->getAttrOfType<IntegerAttr>(kInPlaceOpsAttr))
    facts.inPlaceOps = n.getInt();
  if (auto n = (*module)->getAttrOfType<IntegerAttr>(kInPlaceDepthwiseAttr))
    facts.inPlaceDepthwise = n.getInt();

  auto plan = (*module)->getAttrOfType<DictionaryAttr>("mcutrain.memory_plan");
  int64_t arenaBytes = cast<IntegerAttr>(plan.get("arena_bytes")).getInt();
  BuiltPackage pkg;
  pkg.memory = summarizeMemory(*module);
  std::vector<ParamData> params;
  if (failed(extractParams(*module, params)))
    return failure();
  ApiDescription api = describeApi(onnxPath, opts, facts, arenaBytes);
  api.int8 = int8;
  if (api.training)
    api.stateBlocks = checkpointBlocks(*module);
  FailureOr<std::string> code = translate(*module, api);
  if (failed(code))
    return failure();

  pkg.name = opts.name;
  pkg.header = emitApiHeader(api);
  pkg.cpp = emitApiSource(api, *code);
  pkg.data = emitParamsSource(opts.name, params, opts.paramsAsText);
  pkg.trainableTensors = facts.trainable.size();
  for (const auto &p : facts.trainable)
    pkg.trainableParams.push_back({p.onnxName, p.elements * 4});
  pkg.trainableBytes = facts.trainableBytes;
  pkg.changeableBytes = facts.changeableBytes;
  pkg.recompute = opts.training.recompute;
  pkg.recomputedTensors = facts.recomputed.size();
  pkg.recomputedMacs = facts.recomputedMacs;
  ScheduleBounds bounds = measureBounds(ctx, onnxPath, opts, plan, facts);
  pkg.report = renderReport(onnxPath, api, std::move(facts), plan, pkg.memory,
                            opts, bounds);
  pkg.svg = renderMemorySvg(pkg.memory, opts.sramBytes);
  return pkg;
}

LogicalResult mcutrain::package::writePackage(const BuiltPackage &pkg,
                                              StringRef outDir, Location cli) {
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
  std::pair<std::string, std::string> files[] = {
      {n + ".h", pkg.header},
      {n + ".cpp", pkg.cpp},
      {n + "_params.cpp", pkg.data},
      {"report.json", pkg.report},
      {"memory.svg", pkg.svg},
      {"mcutrain_runtime.h", runtimeHeaderText().str()},
      {"mcutrain_kernels.h", kernelsHeaderText().str()},
      {"mcutrain_kernels_mcu.h", mcuKernelsHeaderText().str()},
      {"mcutrain_int8_kernels.h", int8KernelsHeaderText().str()},
      {"mcutrain_checkpoint.h", checkpointHeaderText().str()}};
  bool ok = true;
  for (auto &[file, text] : files)
    ok &= succeeded(writeFile(tmp, file, text));
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

static LogicalResult checkUpdateOptions(const PackageOptions &opts,
                                        Location cli) {
  if (opts.update != "dense" && opts.update != "auto")
    return emitError(cli) << "--update '" << opts.update
                          << "' is not supported (dense, auto)",
           failure();
  if (opts.update != "auto")
    return success();
  if (opts.sramBytes <= 0)
    return emitError(cli) << "--update auto needs an --sram budget", failure();
  if (opts.inferenceOnly)
    return emitError(cli) << "--update auto chooses what trains; it does "
                             "not apply to --inference-only",
           failure();
  if (opts.training.trainable != "all")
    return emitError(cli) << "--update auto chooses --trainable itself; "
                             "drop --trainable "
                          << opts.training.trainable,
           failure();
  return success();
}

LogicalResult mcutrain::compilePackage(MLIRContext &ctx, StringRef onnxPath,
                                       const PackageOptions &opts) {
  Location cli = FileLineColLoc::get(&ctx, onnxPath, 0, 0);
  if (failed(checkUpdateOptions(opts, cli)))
    return failure();
  FailureOr<BuiltPackage> pkg = buildPackage(ctx, onnxPath, opts);
  if (failed(pkg))
    return failure();
  if (opts.sramBytes <= 0 || pkg->memory.total <= opts.sramBytes)
    return writePackage(*pkg, opts.outDir, cli);
  if (std::optional<BuiltPackage> fit = recomputeToFit(ctx, onnxPath, opts))
    return writePackage(*fit, opts.outDir, cli);
  return resolveOverBudget(ctx, onnxPath, opts, *pkg, cli);
}
