//===- Pipeline.h - the one place the pass order lives --------*- C++ -*-===//
#ifndef MCUTRAIN_COMPILER_PIPELINE_H
#define MCUTRAIN_COMPILER_PIPELINE_H

#include "compiler/Options.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Pass/PassManager.h"

namespace mcutrain {

/// Every dialect and external interface model the compiler uses.
void registerAllDialects(mlir::DialectRegistry &registry);

/// import output → @train_step on nn/train ops (derive-backward,
/// share-frozen-aliases, sparsify, reorder-updates, fusions).
void buildTrainingPipeline(mlir::OpPassManager &pm, const TrainingOptions &o);

/// import output → what lowering takes under --inference-only (every
/// parameter frozen: share-frozen-aliases).
void buildInferencePipeline(mlir::OpPassManager &pm);

/// nn/train tensors → planned, flat-buffer EmitC ready for translateToCpp
/// (lower-to-linalg, bufferize, use-kernels, loops, flatten, plan-memory,
/// emitc).
void buildLoweringPipeline(mlir::OpPassManager &pm, const LoweringOptions &o);

/// Registers `mcutrain-training` and `mcutrain-lowering` pass pipelines (for
/// mcutrain-opt), with every option of their passes.
void registerPipelines();

} // namespace mcutrain

#endif
