//===- SparseEmbeddingUpdates.cpp - an embedding updates its looked-up rows
//===//
//
// An embedding table's gradient is zero but for the rows a step looked up:
// a keyword model with a 10,000 x 64 table and ten tokens per sample made
// and zero-filled a 2.5 MB gradient, checked it for non-finite values and
// ran SGD over all of it, to move ten rows. With plain SGD the other rows
// keep their values anyway, so the update writes only the looked-up rows
// from dy (train.update with `channels` along dimension 0). See Passes.td.
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"

namespace mcutrain {
#define GEN_PASS_DEF_SPARSEEMBEDDINGUPDATESPASS
#include "passes/Passes.h.inc"
} // namespace mcutrain

using namespace mlir;
using namespace mcutrain;

namespace {

/// Rows the dense step leaves alone whatever their gradient is zero: plain
/// SGD without weight decay (momentum, Adam and Adagrad states decay).
bool untouchedRowsKeep(train::OptimizerAttr opt) {
  return opt.getKind() == train::OptimizerKind::sgd &&
         opt.getWeightDecay().isZero();
}

/// The table's gather gradient when `update` can take the rows instead.
nn::GatherGradOp rowSparseGradient(train::UpdateOp update) {
  if (update.getChannels() || update.getOuter() || update.getWeightTypeAttr() ||
      !untouchedRowsKeep(update.getOptimizer()))
    return {};
  auto grad = update.getGrad().getDefiningOp<nn::GatherGradOp>();
  if (!grad || !grad->hasOneUse() || grad.getAxis() != 0 ||
      grad.getIndices().getType().getRank() < 1)
    return {};
  return grad;
}

/// dy with one row per index ([P] + the table's row shape) and the rows.
void updateRows(train::UpdateOp update, nn::GatherGradOp grad) {
  OpBuilder b(grad);
  auto table = grad.getDataGrad().getType();
  int64_t count = grad.getIndices().getType().getNumElements();
  SmallVector<int64_t> rowsShape{count};
  llvm::append_range(rowsShape, table.getShape().drop_front());
  Value dy = grad.getOutputGrad();
  if (cast<RankedTensorType>(dy.getType()).getShape() !=
      ArrayRef<int64_t>(rowsShape)) {
    Operation *reshape = nn::ReshapeOp::create(
        b, grad.getLoc(), RankedTensorType::get(rowsShape, b.getF32Type()), dy);
    reshape->setDiscardableAttrs(grad->getDiscardableAttrDictionary());
    dy = reshape->getResult(0);
  }
  Operation *rows = nn::RowIndicesOp::create(
      b, grad.getLoc(), RankedTensorType::get({count}, b.getI32Type()),
      grad.getIndices(), b.getI64IntegerAttr(table.getDimSize(0)));
  rows->setDiscardableAttrs(grad->getDiscardableAttrDictionary());
  update.getGradMutable().assign(dy);
  update.getChannelsMutable().assign(rows->getResult(0));
  update.setChannelAxis(0);
  grad.erase();
}

struct SparseEmbeddingUpdatesPass
    : public mcutrain::impl::SparseEmbeddingUpdatesPassBase<
          SparseEmbeddingUpdatesPass> {
  void runOnOperation() override {
    getOperation().walk([](train::UpdateOp update) {
      if (nn::GatherGradOp grad = rowSparseGradient(update))
        updateRows(update, grad);
    });
  }
};

} // namespace
