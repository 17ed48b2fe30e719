//===- FuseQuantizedElementwise.cpp - float ops between int8 tensors ------===//
//
// Where it sits: right after lower-to-linalg, on tensors. See Passes.td.
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/Matchers.h"
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

/// The constant `v` is (an f32 arith.constant), if it is one.
std::optional<APFloat> constantOf(Value v) {
  FloatAttr attr;
  if (!matchPattern(v, m_Constant(&attr)))
    return std::nullopt;
  return attr.getValue();
}

/// `select` as max(v, bound) with a constant bound: select(cmpf ogt (v,
/// bound), v, bound), as lower-to-linalg writes a ReLU and a quantization's
/// lower clamp (the two bounds may be separate constants of one value).
/// Returns v.
Value maxWithConstant(arith::SelectOp select, double &bound) {
  auto cmp = select.getCondition().getDefiningOp<arith::CmpFOp>();
  if (!cmp || cmp.getPredicate() != arith::CmpFPredicate::OGT ||
      cmp.getLhs() != select.getTrueValue())
    return {};
  std::optional<APFloat> compared = constantOf(cmp.getRhs());
  std::optional<APFloat> chosen = constantOf(select.getFalseValue());
  if (!compared || !chosen || !compared->bitwiseIsEqual(*chosen))
    return {};
  bound = chosen->convertToDouble();
  return select.getTrueValue();
}

/// max(max(x, z) * k, c) is max(x * k, c) when k > 0 and z * k <= c: every
/// x <= z (and NaN, which the ordered compares send to the bound) gives c
/// either way. A ReLU before a quantization whose lower clamp is at or
/// above zero (after a ReLU, zero point = storage minimum: the usual case)
/// is such a pair; dropping the ReLU's compare saves three Cortex-M4
/// instructions per element of a residual Add. Returns whether it did.
bool dropRedundantMax(arith::SelectOp outer, RewriterBase &rewriter) {
  double c, z;
  Value scaled = maxWithConstant(outer, c);
  auto mul = scaled ? scaled.getDefiningOp<arith::MulFOp>() : nullptr;
  if (!mul)
    return false;
  for (unsigned i = 0; i < 2; ++i) {
    auto inner = mul->getOperand(i).getDefiningOp<arith::SelectOp>();
    std::optional<APFloat> factor = constantOf(mul->getOperand(1 - i));
    Value x = inner ? maxWithConstant(inner, z) : Value();
    double k = factor ? factor->convertToDouble() : 0.0;
    if (!x || !(k > 0.0) || !std::isfinite(k) ||
        !(static_cast<float>(z * k) <= c) || !inner->hasOneUse())
      continue;
    rewriter.modifyOpInPlace(mul, [&] { mul->setOperand(i, x); });
    Operation *cmp = inner.getCondition().getDefiningOp();
    rewriter.eraseOp(inner);
    if (cmp->use_empty())
      rewriter.eraseOp(cmp);
    return true;
  }
  return false;
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
    getOperation().walk([&](linalg::GenericOp op) {
      if (!touchesInt8(op) || isMarked(op))
        return;
      SmallVector<arith::SelectOp> selects(
          op.getBody()->getOps<arith::SelectOp>());
      for (arith::SelectOp select : selects)
        dropRedundantMax(select, rewriter);
    });
  }
};

} // namespace
