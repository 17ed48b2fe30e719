//===- InPlaceElementwise.cpp - elementwise ops over their dead input -----===//
//
// Where it sits: after lower-to-linalg's int8 fusions and the canonicalizer,
// right before bufferization. See Passes.td.
//
// An elementwise generic (ReLU, a residual Add, a BatchNorm affine, a
// gradient's mask or scale) writes a fresh tensor of its input's shape; when
// that input dies there, the two buffers are live together for nothing.
// Writing the result over the input (the input becomes the generic's init,
// read through its block argument) lets bufferization reuse the buffer: the
// planner sees one buffer where there were two. Each element is read before
// it is written in the same iteration, so the values are the same.
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"

#include "mlir/IR/IRMapping.h"

namespace mcutrain {
#define GEN_PASS_DEF_INPLACEELEMENTWISEPASS
#include "passes/Passes.h.inc"
} // namespace mcutrain

using namespace mlir;
using namespace mcutrain;

namespace {

/// Marked for a kernel call or a later fusion (use-kernels, fuse-conv-chains
/// match these generics as lower-to-linalg made them).
bool isMarked(Operation *op) {
  return llvm::any_of(op->getDiscardableAttrs(), [](NamedAttribute a) {
    return a.getName().strref().starts_with("mcutrain.");
  });
}

/// The input of `op` its result can be written over: read through the
/// identity map like the result, of the result's type, made by a linalg op
/// (a fresh buffer, not a parameter, an argument or a view of another
/// tensor) and read by nothing else. -1 if none.
int overwritableInput(linalg::GenericOp op) {
  if (op.getNumDpsInits() != 1 || op.getNumResults() != 1 ||
      op.getNumLoops() != op.getNumParallelLoops() || isMarked(op))
    return -1;
  OpOperand *init = op.getDpsInitOperand(0);
  if (!init->get().getDefiningOp<tensor::EmptyOp>() ||
      op.payloadUsesValueFromOperand(init) ||
      !op.getMatchingIndexingMap(init).isIdentity())
    return -1;
  Type resultType = op.getResult(0).getType();
  for (OpOperand *in : op.getDpsInputOperands()) {
    Value v = in->get();
    if (v.getType() == resultType && v.hasOneUse() &&
        op.getMatchingIndexingMap(in).isIdentity() &&
        isa_and_nonnull<linalg::LinalgOp>(v.getDefiningOp()))
      return in->getOperandNumber();
  }
  return -1;
}

/// `op` with input `index` moved to its init: the body reads that element
/// through the init's block argument.
void writeOverInput(linalg::GenericOp op, int index, RewriterBase &rewriter) {
  Value target = op->getOperand(index);
  SmallVector<Value> inputs;
  SmallVector<AffineMap> maps;
  for (OpOperand *in : op.getDpsInputOperands())
    if ((int)in->getOperandNumber() != index) {
      inputs.push_back(in->get());
      maps.push_back(op.getMatchingIndexingMap(in));
    }
  maps.push_back(op.getMatchingIndexingMap(op.getDpsInitOperand(0)));
  rewriter.setInsertionPoint(op);
  auto fresh = linalg::GenericOp::create(
      rewriter, op.getLoc(), op.getResultTypes(), inputs, ValueRange{target},
      maps, op.getIteratorTypesArray());
  fresh->setDiscardableAttrs(op->getDiscardableAttrDictionary());
  Block *old = op.getBody();
  SmallVector<Type> argTypes;
  SmallVector<Location> argLocs;
  for (BlockArgument a : old->getArguments())
    if ((int)a.getArgNumber() != index) {
      argTypes.push_back(a.getType());
      argLocs.push_back(a.getLoc());
    }
  Block *body = rewriter.createBlock(&fresh.getRegion(), {}, argTypes, argLocs);
  IRMapping map;
  unsigned next = 0;
  for (BlockArgument a : old->getArguments()) {
    if ((int)a.getArgNumber() == index)
      continue;
    map.map(a, body->getArgument(next++));
  }
  // The moved input is read through the init's argument (the last).
  map.map(old->getArgument(index), body->getArguments().back());
  rewriter.setInsertionPointToStart(body);
  for (Operation &inner : old->without_terminator())
    rewriter.clone(inner, map);
  rewriter.clone(*old->getTerminator(), map);
  rewriter.replaceOp(op, fresh->getResults());
}

struct InPlaceElementwisePass
    : public mcutrain::impl::InPlaceElementwisePassBase<
          InPlaceElementwisePass> {
  using InPlaceElementwisePassBase::InPlaceElementwisePassBase;
  void runOnOperation() override {
    if (!inPlace)
      return;
    IRRewriter rewriter(&getContext());
    SmallVector<std::pair<linalg::GenericOp, int>> candidates;
    getOperation().walk([&](linalg::GenericOp op) {
      if (int index = overwritableInput(op); index >= 0)
        candidates.push_back({op, index});
    });
    for (auto [op, index] : candidates)
      writeOverInput(op, index, rewriter);
    Builder b(&getContext());
    getOperation()->setAttr(kInPlaceOpsAttr,
                            b.getI64IntegerAttr(candidates.size()));
  }
};

} // namespace
