//===- Train.h - the train dialect ----------------------------*- C++ -*-===//
#ifndef MCUTRAIN_DIALECTS_TRAIN_TRAIN_H
#define MCUTRAIN_DIALECTS_TRAIN_TRAIN_H

#include "dialects/NN/NN.h"
#include "mlir/Dialect/Bufferization/IR/BufferizableOpInterface.h"
#include "mlir/IR/SymbolTable.h"

#include "dialects/Train/TrainOpsDialect.h.inc"

#define GET_OP_CLASSES
#include "dialects/Train/TrainOps.h.inc"

#endif
