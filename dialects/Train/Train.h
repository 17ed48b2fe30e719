//===- Train.h - the train dialect ----------------------------*- C++ -*-===//
#ifndef MCUTRAIN_DIALECTS_TRAIN_TRAIN_H
#define MCUTRAIN_DIALECTS_TRAIN_TRAIN_H

#include "dialects/NN/NN.h"
#include "mlir/Dialect/Bufferization/IR/BufferizableOpInterface.h"
#include "mlir/IR/SymbolTable.h"

#include "dialects/Train/TrainOpsDialect.h.inc"

namespace mcutrain::train {
/// Name of the f32 global holding the run-time learning rate.
inline constexpr llvm::StringLiteral kLearningRateGlobal =
    "mcutrain_learning_rate";
} // namespace mcutrain::train

#define GET_OP_CLASSES
#include "dialects/Train/TrainOps.h.inc"

#endif
