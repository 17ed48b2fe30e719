//===- Pipeline.h - the one place the pass order lives --------*- C++ -*-===//
#ifndef MCUTRAIN_COMPILER_PIPELINE_H
#define MCUTRAIN_COMPILER_PIPELINE_H

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Pass/PassManager.h"

#include <string>

namespace mcutrain {

struct TrainingOptions {
  std::string loss = "cross-entropy";
  std::string trainable = "all";
  double lr = 0.01;
  std::string optimizer = "sgd";
  double momentum = 0.9, beta1 = 0.9, beta2 = 0.999;
  double epsilon = -1; // optimizer's default
  double weightDecay = 0, lrDecay = 0, dampening = 0;
  std::string sparsity = "none";
};

struct LoweringOptions {
  int64_t alignment = 8;
  /// Dense convolutions and Gemm call runtime/mcutrain_kernels.h (false:
  /// plain loop nests).
  bool kernels = true;
};

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
/// mcutrain-opt).
void registerPipelines();

} // namespace mcutrain

#endif
