//===- CollapseLoopDims.cpp - one loop per run of contiguous dimensions ---===//
#include "passes/Passes.h"

#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/IR/PatternMatch.h"

namespace mcutrain {
#define GEN_PASS_DEF_COLLAPSELOOPDIMSPASS
#include "passes/Passes.h.inc"
} // namespace mcutrain

using namespace mlir;
using namespace mcutrain;

namespace {

bool contiguous(Type t) {
  auto m = dyn_cast<MemRefType>(t);
  return m && m.hasStaticShape() && m.getLayout().isIdentity();
}

/// Runs of two or more consecutive loop dimensions of one iterator type
/// that every operand indexes contiguously (or not at all), on contiguous
/// buffers, each as one group (the upstream utility takes these only).
/// Maps with constant results, (d0, d1) -> (d0, 0), are left alone: the
/// utility expects projected permutations.
SmallVector<ReassociationIndices> mergeableRuns(linalg::GenericOp op) {
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  if (!llvm::all_of(op->getOperandTypes(),
                    [](Type t) { return t.isIntOrFloat() || contiguous(t); }) ||
      !llvm::all_of(maps,
                    [](AffineMap m) { return m.isProjectedPermutation(); }))
    return {};
  SmallVector<ReassociationIndices> runs;
  SmallVector<utils::IteratorType> iters = op.getIteratorTypesArray();
  for (unsigned d = 0; d < op.getNumLoops(); ++d) {
    if (!runs.empty() && iters[d] == iters[runs.back()[0]]) {
      ReassociationIndices longer = runs.back();
      longer.push_back(d);
      if (linalg::areDimSequencesPreserved(maps, longer)) {
        runs.back() = longer;
        continue;
      }
    }
    runs.push_back({int64_t(d)});
  }
  llvm::erase_if(runs,
                 [](const ReassociationIndices &r) { return r.size() < 2; });
  return runs;
}

/// Reads of size-1 dimensions through constant map results, (d0, d1) ->
/// (d0, 0) on memref<4x1xf32>, become reads of the buffer without them
/// (memref<4xf32>, (d0, d1) -> (d0)): a channel broadcast's operand then
/// leaves the inner dimensions free to merge.
void dropUnitDimReads(linalg::GenericOp op, RewriterBase &rewriter) {
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  bool changed = false;
  for (OpOperand &operand : op->getOpOperands()) {
    auto type = dyn_cast<MemRefType>(operand.get().getType());
    AffineMap map = maps[operand.getOperandNumber()];
    if (!type || !contiguous(type) || !op.isDpsInput(&operand))
      continue;
    SmallVector<AffineExpr> kept;
    SmallVector<ReassociationIndices> groups;
    bool unitConstants = true, anyConstant = false;
    for (auto [i, e] : llvm::enumerate(map.getResults())) {
      auto c = dyn_cast<AffineConstantExpr>(e);
      if (c && (c.getValue() != 0 || type.getDimSize(i) != 1))
        unitConstants = false;
      if (c) {
        anyConstant = true;
        if (!groups.empty())
          groups.back().push_back(i);
        continue;
      }
      // (Constants before the first kept dimension join its group.)
      ReassociationIndices group;
      if (groups.empty())
        for (unsigned j = 0; j < i; ++j)
          group.push_back(j);
      group.push_back(i);
      groups.push_back(group);
      kept.push_back(e);
    }
    if (!unitConstants || !anyConstant)
      continue;
    rewriter.setInsertionPoint(op);
    Value view = memref::CollapseShapeOp::create(rewriter, op.getLoc(),
                                                 operand.get(), groups);
    operand.set(view);
    maps[operand.getOperandNumber()] =
        AffineMap::get(map.getNumDims(), 0, kept, op.getContext());
    changed = true;
  }
  if (changed)
    op.setIndexingMapsAttr(rewriter.getAffineMapArrayAttr(maps));
}

struct CollapseLoopDimsPass
    : public mcutrain::impl::CollapseLoopDimsPassBase<CollapseLoopDimsPass> {
  void runOnOperation() override {
    IRRewriter rewriter(&getContext());
    // Fills merge too (as the generics they lower like).
    SmallVector<linalg::FillOp> fills;
    getOperation().walk([&](linalg::FillOp op) { fills.push_back(op); });
    for (linalg::FillOp fill : fills)
      if (fill.hasPureBufferSemantics()) {
        rewriter.setInsertionPoint(fill);
        (void)linalg::generalizeNamedOp(rewriter, fill);
      }
    SmallVector<linalg::GenericOp> ops;
    getOperation().walk([&](linalg::GenericOp op) { ops.push_back(op); });
    for (linalg::GenericOp op : ops) {
      if (!op.hasPureBufferSemantics() || op.hasIndexSemantics())
        continue;
      dropUnitDimReads(op, rewriter);
      SmallVector<ReassociationIndices> merged = mergeableRuns(op);
      if (merged.empty())
        continue;
      rewriter.setInsertionPoint(op);
      FailureOr<linalg::CollapseResult> collapsed =
          linalg::collapseOpIterationDims(op, merged, rewriter);
      if (failed(collapsed))
        continue; // (keeps its loop nest)
      rewriter.replaceOp(op, collapsed->results);
    }
  }
};

} // namespace
