//===- Loss.cpp - losses and their gradients -------===//
//
// Cross-entropy from logits and integer labels, mean squared error: the
// losses and the gradients that seed the backward pass.
//
//===----------------------------------------------------------------------===//
#include "passes/LowerToLinalg/Lowering.h"

using namespace mlir;
using namespace mcutrain;
using namespace mcutrain::lowering;

namespace {

/// Per-row max and sum of exp(x - max) of [N, K] logits.
std::pair<Value, Value> rowSoftmaxStats(Lowering &L, Value logits) {
  auto ls = cast<RankedTensorType>(logits.getType()).getShape();
  AffineMap nk = L.b.getMultiDimIdentityMap(2), n = L.map(2, {L.d(0)});
  Value mx =
      L.generic(L.filled({ls[0]}, -std::numeric_limits<float>::infinity()),
                logits, {nk, n}, {kPar, kRed},
                [](OpBuilder &ob, Location l, ValueRange a) -> Value {
                  Value gt = arith::CmpFOp::create(
                      ob, l, arith::CmpFPredicate::OGT, a[0], a[1]);
                  return arith::SelectOp::create(ob, l, gt, a[0], a[1]);
                });
  Value sum = L.generic(L.filled({ls[0]}, 0.0f), ValueRange{logits, mx},
                        {nk, n, n}, {kPar, kRed},
                        [](OpBuilder &ob, Location l, ValueRange a) -> Value {
                          Value e = math::ExpOp::create(
                              ob, l, arith::SubFOp::create(ob, l, a[0], a[1]));
                          return arith::AddFOp::create(ob, l, a[2], e);
                        });
  return {mx, sum};
}

Value lowerCrossEntropy(Lowering &L, train::CrossEntropyLossOp op) {
  Value logits = op.getLogits();
  int64_t batch = op.getLogits().getType().getDimSize(0);
  auto [mx, sum] = rowSoftmaxStats(L, logits);
  AffineMap n = L.b.getMultiDimIdentityMap(1);
  AffineMap scalar = AffineMap::get(1, 0, {}, L.b.getContext());
  Value init = L.filled({}, 0.0f);
  return L.generic(
      init, ValueRange{mx, sum, op.getLabels()}, {n, n, n, scalar}, {kRed},
      [&](OpBuilder &ob, Location l, ValueRange a) -> Value {
        Value row = linalg::IndexOp::create(ob, l, 0);
        Value label = L.toIndex(ob, a[2]);
        Value picked =
            tensor::ExtractOp::create(ob, l, logits, ValueRange{row, label});
        Value lse = arith::AddFOp::create(
            ob, l, math::LogOp::create(ob, l, a[1]), a[0]);
        Value term = arith::DivFOp::create(
            ob, l, arith::SubFOp::create(ob, l, lse, picked),
            L.f32c(ob, float(batch)));
        return arith::AddFOp::create(ob, l, a[3], term);
      });
}

Value lowerCrossEntropyGrad(Lowering &L, train::CrossEntropyLossGradOp op) {
  Value logits = op.getLogits();
  auto ls = op.getLogits().getType().getShape();
  auto [mx, sum] = rowSoftmaxStats(L, logits);
  AffineMap nk = L.b.getMultiDimIdentityMap(2), n = L.map(2, {L.d(0)});
  return L.generic(
      tensor::EmptyOp::create(L.b, L.loc, ls, L.f32()),
      ValueRange{logits, mx, sum, op.getLabels()}, {nk, n, n, n, nk},
      {kPar, kPar}, [&](OpBuilder &ob, Location l, ValueRange a) -> Value {
        Value e = math::ExpOp::create(ob, l,
                                      arith::SubFOp::create(ob, l, a[0], a[1]));
        Value p = arith::DivFOp::create(ob, l, e, a[2]);
        Value col = L.toI32(ob, linalg::IndexOp::create(ob, l, 1));
        Value isLabel = L.cmp(ob, arith::CmpIPredicate::eq, col, a[3]);
        Value hot = arith::SelectOp::create(ob, l, isLabel, L.f32c(ob, 1.0f),
                                            L.f32c(ob, 0.0f));
        return arith::DivFOp::create(ob, l,
                                     arith::SubFOp::create(ob, l, p, hot),
                                     L.f32c(ob, float(ls[0])));
      });
}

/// Mean of (prediction - target)^2. Large predictions are summed in
/// interleaved partial sums, then divided once: a single running sum is a
/// chain of one dependent addition per element, through memory once
/// bufferized (16,384 of them were 8% of a 3x3 convolution layer's
/// training step), where the partial sums' inner loop vectorizes. Up to
/// 128 of them (eight 16-float vectors): one vector of partial sums, held
/// in a register, was still a chain of multiply-adds, one per 16 values
/// (a strided 1x1 layer's 8,192 outputs: 6% of its step).
int64_t mseLanes(int64_t count) {
  for (int64_t lanes : {128, 64, 32, 16})
    if (count >= 4 * lanes && count % lanes == 0)
      return lanes;
  return 0;
}

Value lowerMse(Lowering &L, train::MseLossOp op) {
  auto pt = op.getPrediction().getType();
  unsigned rank = pt.getRank();
  int64_t count = pt.getNumElements();
  float n = float(count);
  if (int64_t lanes = mseLanes(count)) {
    auto rows = L.tensorOf({count / lanes, lanes});
    Value p = L.reshape(op.getPrediction(), rows);
    Value t = L.reshape(op.getTarget(), rows);
    AffineMap id2 = L.b.getMultiDimIdentityMap(2);
    Value partial =
        L.generic(L.filled({lanes}, 0.0f), ValueRange{p, t},
                  {id2, id2, L.map(2, {L.d(1)})}, {kRed, kPar},
                  [&](OpBuilder &ob, Location l, ValueRange a) -> Value {
                    Value d = arith::SubFOp::create(ob, l, a[0], a[1]);
                    return arith::AddFOp::create(
                        ob, l, a[2], arith::MulFOp::create(ob, l, d, d));
                  });
    Value sum =
        L.generic(L.filled({}, 0.0f), ValueRange{partial},
                  {L.b.getMultiDimIdentityMap(1), L.map(1, {})}, {kRed},
                  [&](OpBuilder &ob, Location l, ValueRange a) -> Value {
                    return arith::AddFOp::create(ob, l, a[1], a[0]);
                  });
    return L.generic(L.empty({}), ValueRange{sum}, {L.map(0, {}), L.map(0, {})},
                     {}, [&](OpBuilder &ob, Location l, ValueRange a) -> Value {
                       return arith::DivFOp::create(ob, l, a[0], L.f32c(ob, n));
                     });
  }
  AffineMap id = L.b.getMultiDimIdentityMap(rank);
  AffineMap scalar = AffineMap::get(rank, 0, {}, L.b.getContext());
  return L.generic(
      L.filled({}, 0.0f), ValueRange{op.getPrediction(), op.getTarget()},
      {id, id, scalar}, SmallVector<IteratorType>(rank, kRed),
      [&](OpBuilder &ob, Location l, ValueRange a) -> Value {
        Value d = arith::SubFOp::create(ob, l, a[0], a[1]);
        Value sq = arith::MulFOp::create(ob, l, d, d);
        return arith::AddFOp::create(
            ob, l, a[2], arith::DivFOp::create(ob, l, sq, L.f32c(ob, n)));
      });
}

Value lowerMseGrad(Lowering &L, train::MseLossGradOp op) {
  float scale = 2.0f / float(op.getPrediction().getType().getNumElements());
  return elementwise(L, ValueRange{op.getPrediction(), op.getTarget()},
                     [&](OpBuilder &ob, Location l, ValueRange a) -> Value {
                       Value d = arith::SubFOp::create(ob, l, a[0], a[1]);
                       return arith::MulFOp::create(ob, l, d,
                                                    L.f32c(ob, scale));
                     });
}

} // namespace

void mcutrain::lowering::populateLossPatterns(RewritePatternSet &patterns) {
  addLowering<train::CrossEntropyLossOp>(patterns, lowerCrossEntropy);
  addLowering<train::CrossEntropyLossGradOp>(patterns, lowerCrossEntropyGrad);
  addLowering<train::MseLossOp>(patterns, lowerMse);
  addLowering<train::MseLossGradOp>(patterns, lowerMseGrad);
}
