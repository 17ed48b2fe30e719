//===- Train.h - the train dialect ----------------------------*- C++ -*-===//
#ifndef MCUTRAIN_DIALECTS_TRAIN_TRAIN_H
#define MCUTRAIN_DIALECTS_TRAIN_TRAIN_H

#include "dialects/NN/NN.h"
#include "mlir/Dialect/Bufferization/IR/BufferizableOpInterface.h"
#include "mlir/IR/SymbolTable.h"

#include "dialects/Train/TrainEnums.h.inc"
#include "dialects/Train/TrainOpsDialect.h.inc"

namespace mcutrain::train {
/// The train ops' bufferization into their train.buffer.* forms
/// (BufferizableOpInterfaceImpl.cpp).
void registerBufferizableOpInterfaceExternalModels(
    mlir::DialectRegistry &registry);

/// An f32 hyperparameter of an attribute.
mlir::FailureOr<llvm::APFloat> parseF32(mlir::AsmParser &parser);
} // namespace mcutrain::train

#define GET_ATTRDEF_CLASSES
#include "dialects/Train/TrainAttrs.h.inc"

namespace mcutrain::train {
/// Name of the f32 global holding the run-time learning rate.
inline constexpr llvm::StringLiteral kLearningRateGlobal =
    "mcutrain_learning_rate";
/// Run-time step count (f32) and Adam's beta1^t, beta2^t: advanced at the
/// start of every train_step, reset by init().
inline constexpr llvm::StringLiteral kStepCountGlobal = "mcutrain_step_count";
inline constexpr llvm::StringLiteral kBeta1PowerGlobal = "mcutrain_beta1_power";
inline constexpr llvm::StringLiteral kBeta2PowerGlobal = "mcutrain_beta2_power";
/// TinyProp state and statistics (sparsify creates them): per sparse layer
/// the running maximum of its local error and the ratio it used last step
/// (output layer first), and the MACs the selection-dependent gradient ops
/// did in the step.
inline constexpr llvm::StringLiteral kTinyPropYMaxGlobal =
    "mcutrain_tinyprop_ymax";
inline constexpr llvm::StringLiteral kTinyPropRatioGlobal =
    "mcutrain_tinyprop_ratio";
/// Whether this step's backward pass and updates are skipped (i32: the
/// non-finite loss guard and TinyPropv2 set it; guard-backward reads it).
inline constexpr llvm::StringLiteral kSkipStepGlobal = "mcutrain_skip_step";
/// Run-time MAC count of the selection-dependent gradient ops (TinyProp).
inline constexpr llvm::StringLiteral kDynamicMacsGlobal =
    "mcutrain_dynamic_macs";
} // namespace mcutrain::train

namespace mcutrain {
/// lower-to-linalg (and lower-train-buffers, for train.update) mark the
/// linalg.generic ops that a runtime kernel (runtime/mcutrain_kernels.h)
/// computes: the kernel with its template arguments (a train::KernelAttr),
/// the generic's operands it takes and trailing f32 arguments. use-kernels
/// replaces the marked ops by the calls.
inline constexpr llvm::StringLiteral kKernelAttr = "mcutrain.kernel";
inline constexpr llvm::StringLiteral kKernelOperandsAttr =
    "mcutrain.kernel_operands";
inline constexpr llvm::StringLiteral kKernelScalarsAttr =
    "mcutrain.kernel_scalars";
/// (unit) The kernel has a variant that overwrites its output (out = ...,
/// KernelAttr::withLastArg(1)): use-kernels calls it instead of
/// zero-filling the output.
inline constexpr llvm::StringLiteral kKernelOverwriteAttr =
    "mcutrain.kernel_overwrite";
/// (i64) Bytes of scratch the kernel takes as its last argument (a fresh
/// buffer use-kernels allocates, planned like any other).
inline constexpr llvm::StringLiteral kKernelScratchAttr =
    "mcutrain.kernel_scratch";
} // namespace mcutrain

#define GET_OP_CLASSES
#include "dialects/Train/TrainOps.h.inc"

#endif
