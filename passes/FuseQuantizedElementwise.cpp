//===- FuseQuantizedElementwise.cpp - float ops between int8 tensors ------===//
//
// Where it sits: right after lower-to-linalg, on tensors. See Passes.td.
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

namespace mcutrain {
#define GEN_PASS_DEF_FUSEQUANTIZEDELEMENTWISEPASS
#include "passes/Passes.h.inc"
} // namespace mcutrain

using namespace mlir;
using namespace mcutrain;

namespace {

bool allParallel(linalg::GenericOp op) {
  return op.getNumLoops() == op.getNumParallelLoops();
}

/// Whether `op` reads or writes an 8-bit integer tensor: a dequantize, a
/// quantize, or an op already fused with one.
bool touchesInt8(linalg::GenericOp op) {
  auto isI8 = [](Type t) {
    auto shaped = dyn_cast<ShapedType>(t);
    return shaped && shaped.getElementType().isInteger(8);
  };
  return llvm::any_of(op->getOperandTypes(), isI8) ||
         llvm::any_of(op->getResultTypes(), isI8);
}

/// Marked for a kernel call (lower-to-linalg's tags). An activation's or
/// its gradient's mark (kActivationAttr, kActivationGradAttr,
/// kActivationBoundsAttr: fusable into the convolution kernel that produces
/// its input) does not count: next to int8 tensors no kernel produces it.
bool isMarked(Operation *op) {
  return llvm::any_of(op->getDiscardableAttrs(), [](NamedAttribute a) {
    return a.getName() != kActivationAttr &&
           a.getName() != kActivationGradAttr &&
           a.getName() != kActivationBoundsAttr;
  });
}

/// The globals `op` reads: its operands and the values its region captures
/// that are a global's tensor (bufferization.to_tensor of
/// memref.get_global, as lower-parameters leaves a parameter's load).
llvm::SmallDenseSet<StringRef> globalsRead(Operation *op) {
  llvm::SmallDenseSet<StringRef> names;
  auto note = [&](Value v) {
    auto toTensor = v.getDefiningOp<bufferization::ToTensorOp>();
    auto get = toTensor
                   ? toTensor.getBuffer().getDefiningOp<memref::GetGlobalOp>()
                   : memref::GetGlobalOp();
    if (get)
      names.insert(get.getName());
  };
  for (Value v : op->getOperands())
    note(v);
  op->walk([&](Operation *inner) {
    for (Value v : inner->getOperands())
      if (!op->isAncestor(v.getParentBlock()->getParentOp()))
        note(v);
  });
  return names;
}

/// Whether an op between `producer` and `consumer` may change what the
/// producer reads: an in-place train.update of a global it reads (an int8
/// layer's gradient reads the weight through tensor.extract, which carries
/// no order), or any other op that writes memory. Fusing would move the
/// producer's reads after it.
bool writeBetween(Operation *producer, Operation *consumer) {
  if (producer->getBlock() != consumer->getBlock())
    return true;
  llvm::SmallDenseSet<StringRef> reads = globalsRead(producer);
  for (Operation *op = producer->getNextNode(); op && op != consumer;
       op = op->getNextNode()) {
    if (auto update = dyn_cast<train::UpdateOp>(op)) {
      if (reads.contains(update.getParam()))
        return true;
      continue;
    }
    if (!isMemoryEffectFree(op))
      return true;
  }
  return false;
}

/// An operand of `consumer` whose producer fuses into it: both elementwise
/// generics, one touching int8 tensors, the producer read by nothing else
/// and no memory write between them.
OpOperand *fusableOperand(linalg::GenericOp consumer) {
  if (!allParallel(consumer))
    return nullptr;
  for (OpOperand *operand : consumer.getDpsInputOperands()) {
    auto producer = operand->get().getDefiningOp<linalg::GenericOp>();
    if (!producer || !allParallel(producer) || !producer->hasOneUse() ||
        isMarked(producer) || isMarked(consumer))
      continue;
    if ((!touchesInt8(producer) && !touchesInt8(consumer)) ||
        writeBetween(producer, consumer))
      continue;
    if (linalg::areElementwiseOpsFusable(operand))
      return operand;
  }
  return nullptr;
}

struct FuseQuantizedElementwisePass
    : public mcutrain::impl::FuseQuantizedElementwisePassBase<
          FuseQuantizedElementwisePass> {
  void runOnOperation() override {
    IRRewriter rewriter(&getContext());
    bool changed = true;
    while (changed) {
      changed = false;
      SmallVector<linalg::GenericOp> generics;
      getOperation().walk(
          [&](linalg::GenericOp op) { generics.push_back(op); });
      for (linalg::GenericOp consumer : generics) {
        OpOperand *operand = fusableOperand(consumer);
        if (!operand)
          continue;
        rewriter.setInsertionPoint(consumer);
        FailureOr<linalg::ElementwiseOpFusionResult> fused =
            linalg::fuseElementwiseOps(rewriter, operand);
        if (failed(fused))
          continue;
        for (auto [from, to] : fused->replacements)
          rewriter.replaceAllUsesExcept(from, to, fused->fusedOp);
        Operation *producer = operand->get().getDefiningOp();
        rewriter.eraseOp(consumer);
        if (producer && producer->use_empty())
          rewriter.eraseOp(producer);
        changed = true;
        break;
      }
    }
  }
};

} // namespace
