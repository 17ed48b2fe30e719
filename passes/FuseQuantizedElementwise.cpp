//===- FuseQuantizedElementwise.cpp - float ops between int8 tensors ------===//
//
// Where it sits: right after lower-to-linalg, on tensors. See Passes.td.
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
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

/// Marked for a kernel call (lower-to-linalg's tags). An activation's mark
/// (kActivationAttr, kActivationBoundsAttr: fusable into the convolution
/// kernel that produces its input) does not count: a fused generic's
/// producer is no kernel.
bool isMarked(Operation *op) {
  return llvm::any_of(op->getDiscardableAttrs(), [](NamedAttribute a) {
    return a.getName() != kActivationAttr &&
           a.getName() != kActivationBoundsAttr;
  });
}

/// Whether an op between `producer` and `consumer` may write memory (an
/// in-place train.update): fusing would move the producer's reads after it,
/// and an int8 layer's gradient reads the weight the update rewrites
/// (through tensor.extract of the global's value, which carries no order).
bool writeBetween(Operation *producer, Operation *consumer) {
  if (producer->getBlock() != consumer->getBlock())
    return true;
  for (Operation *op = producer->getNextNode(); op && op != consumer;
       op = op->getNextNode())
    if (!isMemoryEffectFree(op))
      return true;
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
