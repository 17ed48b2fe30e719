//===- PackageParts.h - the package writer's units -------------*- C++ -*-===//
//
// compilePackage (Package.cpp) imports, runs the pipelines and translates to
// C++; the units here turn the result into the package's files:
//   ModelFacts.cpp   what the API and report say about the model (nn level)
//   ApiEmitter.cpp   <name>.h and <name>.cpp around the translated code
//   ParamsFile.cpp   <name>_params.cpp (parameter data) and the checkpoint
//                    blocks
//   CodeText.cpp     the two edits of the translated C++ text EmitC cannot
//                    express (restrict-qualified inputs, aligned arenas)
//   Report.cpp       report.json (memory.svg: MemoryReport.cpp)
//   UpdateAuto.cpp   --update auto and the over-budget error's suggestions
//
//===----------------------------------------------------------------------===//
#ifndef MCUTRAIN_COMPILER_PACKAGE_PACKAGEPARTS_H
#define MCUTRAIN_COMPILER_PACKAGE_PACKAGEPARTS_H

#include "compiler/MemoryReport.h"
#include "compiler/Package.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/JSON.h"

#include <optional>
#include <string>
#include <vector>

namespace mcutrain::package {

/// Facts about the model gathered at the nn level, before lowering.
struct ModelFacts {
  llvm::SmallVector<llvm::SmallVector<int64_t>> inputShapes, outputShapes;
  // C++ types at the API (uintN_t where the importer marked the value
  // mcutrain.unsigned) and inside the generated code (signless integers are
  // intN_t there).
  llvm::SmallVector<std::string> inputCTypes, outputCTypes;
  llvm::SmallVector<std::string> inputCodeTypes, outputCodeTypes;
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
  // Parameter bytes training can change: of a static channel-sparse weight
  // only its selected channels (the others never move), of a DGSU (the
  // runtime picks other channels each step) or dense one all.
  int64_t changeableBytes = 0;
  llvm::json::Array ops, params;
  struct Param {
    std::string symbol, onnxName;
    int64_t elements;
    unsigned intBits; // 8: an int8 weight, 32: an int32 bias, 0: float32
  };
  std::vector<Param> trainable;
  /// pack-masks' masks in the training step: the ONNX node whose output
  /// they replace, that tensor's bytes and the mask's.
  struct PackedMask {
    std::string node, test;
    int64_t tensorBytes, maskBytes;
  };
  std::vector<PackedMask> masks;
  /// Elementwise generics in-place-elementwise wrote over their input (read
  /// from the lowered module).
  int64_t inPlaceOps = 0;
  /// Depthwise layers in-place-depthwise wrote over their input (likewise).
  int64_t inPlaceDepthwise = 0;
  /// The forward tensors recompute made again in the backward pass, and the
  /// MACs that costs each step.
  struct Recomputed {
    std::string node;
    int64_t bytes, keptBytes, ops, macs;
  };
  std::vector<Recomputed> recomputed;
  int64_t recomputedMacs = 0;
};
ModelFacts gatherFacts(mlir::ModuleOp module);

/// A parameter of the translated code, its data moved out of the module.
struct ParamData {
  std::string name;
  int64_t elements;
  bool constant;
  mlir::DenseElementsAttr data; // null for RAM parameters
  std::string cType = "float";
};
/// Parameter data moves to <name>_params.cpp: the code file only declares
/// the globals (extern), the arena stays private to the code file.
mlir::LogicalResult extractParams(mlir::ModuleOp module,
                                  std::vector<ParamData> &out);
/// <name>_params.cpp: the data as ELF assembler, or (asText) as C++
/// initializer lists.
std::string emitParamsSource(llvm::StringRef name,
                             llvm::ArrayRef<ParamData> params, bool asText);

/// A RAM global a checkpoint carries.
struct StateBlockInfo {
  std::string symbol;
  int64_t bytes;
};
/// Every RAM global of the lowered module but the arenas (scratch) and the
/// last step's statistics.
std::vector<StateBlockInfo> checkpointBlocks(mlir::ModuleOp module);

/// What the generated API is made of.
struct ApiDescription {
  std::string name, modelFile;
  bool training = false, mse = false;
  bool int8 = false; // has 8-bit tensors: rounds by IEEE additions
  int64_t batch = 1, classes = 0, arenaBytes = 0;
  unsigned alignment = 16;
  const ModelFacts *facts = nullptr;
  std::vector<StateBlockInfo> stateBlocks;
};
/// <name>.h.
std::string emitApiHeader(const ApiDescription &api);
/// <name>.cpp: the translated `code` in namespace <name>::detail, and the
/// API's definitions around it.
std::string emitApiSource(const ApiDescription &api, llvm::StringRef code);

/// In the emitted definition of `function`, its first `count` array
/// parameters become restrict-qualified pointers.
void restrictReadOnlyParams(std::string &code, llvm::StringRef function,
                            size_t count);
/// Each `static ... mcutrain_arena...` definition gets alignas(alignment).
void alignArenas(std::string &code, unsigned alignment);
/// Each (view, arena) of the memory plan's "views" (8-bit buffers planned in
/// the float arena) becomes a typed pointer into its arena instead of an
/// array of its own.
void viewArenas(
    std::string &code,
    llvm::ArrayRef<std::pair<std::string, std::string>> viewsAndArenas);

/// report.json.
/// The arena's liveness lower bound of the schedule without the memory
/// transformations (`original`) and without each one alone (-1: not
/// measured, as when it did not apply).
struct ScheduleBounds {
  int64_t original = -1, withoutFusion = -1, withoutMasks = -1,
          withoutInPlace = -1, withoutRecompute = -1,
          withoutInPlaceDepthwise = -1;
};
std::string renderReport(llvm::StringRef onnxPath, const ApiDescription &api,
                         ModelFacts facts, mlir::DictionaryAttr memoryPlan,
                         const MemorySummary &memory,
                         const PackageOptions &opts,
                         const ScheduleBounds &bounds);

/// A compiled package, not yet written.
struct BuiltPackage {
  std::string name, header, cpp, data, report, svg;
  MemorySummary memory;
  int64_t trainableTensors = 0, trainableBytes = 0, changeableBytes = 0;
  /// ONNX name and bytes of each trainable parameter, in graph order.
  std::vector<std::pair<std::string, int64_t>> trainableParams;
  /// The --recompute it was built with, how many forward tensors that
  /// recomputed and their MACs a step.
  std::string recompute;
  int64_t recomputedTensors = 0, recomputedMacs = 0;
};
mlir::FailureOr<BuiltPackage> buildPackage(mlir::MLIRContext &ctx,
                                           llvm::StringRef onnxPath,
                                           const PackageOptions &opts);
/// Writes everything to a temporary sibling, then renames it into place.
mlir::LogicalResult writePackage(const BuiltPackage &pkg,
                                 llvm::StringRef outDir, mlir::Location cli);

/// Under --recompute auto, the package of `opts` (over the budget as it
/// is) built again recomputing the fewest forward tensors that make it fit,
/// those freeing most bytes per MAC first (every candidate, then fewer by
/// bisection); nothing if recomputing all of them does not fit either.
std::optional<BuiltPackage> recomputeToFit(mlir::MLIRContext &ctx,
                                           llvm::StringRef onnxPath,
                                           const PackageOptions &opts);

/// `requested` is over opts.sramBytes: with --update auto, writes the
/// densest scheme that fits; otherwise fails with the breakdown and the
/// schemes that would fit.
mlir::LogicalResult resolveOverBudget(mlir::MLIRContext &ctx,
                                      llvm::StringRef onnxPath,
                                      const PackageOptions &opts,
                                      const BuiltPackage &requested,
                                      mlir::Location cli);

} // namespace mcutrain::package

#endif
