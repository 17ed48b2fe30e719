//===- FuseOuterProductUpdates.cpp - batch-1 dW inside its update --------===//
//
// At batch 1 a Linear layer's weight gradient is the outer product of the
// output error and the layer input (a Gemm with a reduction of one). Stored,
// it costs the arena M x N floats, a pass writing them, and the update's
// finiteness check and optimizer pass reading them back; computed where the
// update uses it, it costs one multiplication per weight. The product
// (`outer` on train.update) is the same floating-point operation either way.
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"

namespace mcutrain {
#define GEN_PASS_DEF_FUSEOUTERPRODUCTUPDATESPASS
#include "passes/Passes.h.inc"
} // namespace mcutrain

using namespace mlir;
using namespace mcutrain;

namespace {

/// The Gemm of `grad` when it is an outer product A^T B (A 1 x M, B 1 x N,
/// no C, alpha 1) that only `update` uses; else null.
nn::GemmOp outerProductGradient(train::UpdateOp update) {
  auto gemm = update.getGrad().getDefiningOp<nn::GemmOp>();
  if (!gemm || !gemm->hasOneUse() || gemm.getC() || !gemm.getTransA() ||
      gemm.getTransB() || gemm.getAlpha().convertToFloat() != 1.0f)
    return {};
  auto isRow = [](Value v) {
    auto t = cast<RankedTensorType>(v.getType());
    return t.getRank() == 2 && t.getDimSize(0) == 1;
  };
  return isRow(gemm.getA()) && isRow(gemm.getB()) ? gemm : nn::GemmOp();
}

struct FuseOuterProductUpdatesPass
    : public mcutrain::impl::FuseOuterProductUpdatesPassBase<
          FuseOuterProductUpdatesPass> {
  void runOnOperation() override {
    getOperation().walk([](train::UpdateOp update) {
      if (update.getChannels() || update.getOuter())
        return;
      nn::GemmOp gemm = outerProductGradient(update);
      if (!gemm)
        return;
      update.getGradMutable().assign(gemm.getA());
      update.getOuterMutable().assign(gemm.getB());
      gemm.erase();
    });
  }
};

} // namespace
