//===- Train.cpp - train dialect: verifiers, MACs, bufferization ----------===//
#include "dialects/Train/Train.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MLProgram/IR/MLProgram.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/Builders.h"

using namespace mlir;
using namespace mcutrain::train;

#include "dialects/Train/TrainOpsDialect.cpp.inc"

void TrainDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "dialects/Train/TrainOps.cpp.inc"
      >();
}

LogicalResult CrossEntropyLossOp::verify() {
  if (getLogits().getType().getDimSize(0) !=
      getLabels().getType().getDimSize(0))
    return emitOpError() << "logits and labels disagree on the batch size";
  return success();
}

int64_t CrossEntropyLossOp::getMacs() {
  return getLogits().getType().getNumElements();
}
int64_t CrossEntropyLossGradOp::getMacs() {
  return getLogits().getType().getNumElements();
}
int64_t SgdUpdateOp::getMacs() { return getGrad().getType().getNumElements(); }

/// The parameter is an ml_program.global before lowering and a memref.global
/// after; both must be mutable and shaped like the gradient.
LogicalResult
SgdUpdateOp::verifySymbolUses(SymbolTableCollection &symbolTable) {
  Operation *sym = symbolTable.lookupNearestSymbolFrom(*this, getParamAttr());
  if (!sym)
    return emitOpError() << "unknown parameter @" << getParam();
  ArrayRef<int64_t> shape;
  if (auto g = dyn_cast<ml_program::GlobalOp>(sym)) {
    if (!g.getIsMutable())
      return emitOpError() << "parameter @" << getParam()
                           << " is frozen (immutable global)";
    shape = cast<ShapedType>(g.getType()).getShape();
  } else if (auto g = dyn_cast<memref::GlobalOp>(sym)) {
    if (g.getConstant())
      return emitOpError() << "parameter @" << getParam() << " is constant";
    shape = g.getType().getShape();
  } else {
    return emitOpError() << "@" << getParam() << " is not a global";
  }
  if (shape != getGrad().getType().getShape())
    return emitOpError() << "gradient shape differs from parameter @"
                         << getParam();
  return success();
}

bool SgdUpdateOp::bufferizesToMemoryRead(OpOperand &,
                                         const bufferization::AnalysisState &) {
  return true;
}
bool SgdUpdateOp::bufferizesToMemoryWrite(
    OpOperand &, const bufferization::AnalysisState &) {
  return false;
}
bufferization::AliasingValueList
SgdUpdateOp::getAliasingValues(OpOperand &,
                               const bufferization::AnalysisState &) {
  return {};
}

/// Becomes an elementwise linalg.generic on memrefs that writes the global in
/// place: no copy of the parameter, no gradient buffer beyond the operand.
LogicalResult
SgdUpdateOp::bufferize(RewriterBase &rewriter,
                       const bufferization::BufferizationOptions &options,
                       bufferization::BufferizationState &state) {
  FailureOr<Value> grad = getBuffer(rewriter, getGrad(), options, state);
  if (failed(grad))
    return failure();
  auto global = SymbolTable::lookupNearestSymbolFrom<memref::GlobalOp>(
      *this, getParamAttr());
  if (!global)
    return emitOpError() << "parameter must be a memref.global when bufferized";
  Location loc = getLoc();
  Value param = memref::GetGlobalOp::create(rewriter, loc, global.getType(),
                                            global.getSymName());
  unsigned rank = global.getType().getRank();
  AffineMap id = rewriter.getMultiDimIdentityMap(rank);
  SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
  // The learning rate is a global the application may change at run time
  // (lower-to-linalg creates it); without one the attribute is a constant.
  Value lr;
  if (auto lrGlobal = SymbolTable::lookupNearestSymbolFrom<memref::GlobalOp>(
          *this, rewriter.getStringAttr(kLearningRateGlobal))) {
    Value m = memref::GetGlobalOp::create(rewriter, loc, lrGlobal.getType(),
                                          lrGlobal.getSymName());
    lr = memref::LoadOp::create(rewriter, loc, m, ValueRange{});
  } else {
    lr = arith::ConstantOp::create(rewriter, loc, getLrAttr());
  }
  linalg::GenericOp::create(
      rewriter, loc, TypeRange(), ValueRange{*grad}, ValueRange{param},
      ArrayRef<AffineMap>{id, id}, iters,
      [&](OpBuilder &b, Location l, ValueRange args) {
        Value step = arith::MulFOp::create(b, l, args[0], lr);
        Value next = arith::SubFOp::create(b, l, args[1], step);
        linalg::YieldOp::create(b, l, next);
      });
  rewriter.eraseOp(*this);
  return success();
}

#define GET_OP_CLASSES
#include "dialects/Train/TrainOps.cpp.inc"
