//===- Reduction.cpp - reductions and softmax -------===//
//
// Sums to a broadcast shape (bias gradients, ReduceSum/Mean; the sum_rows
// kernel) and broadcasting back (Expand, their adjoint), and
// softmax / log-softmax and their gradients along one axis.
//
//===----------------------------------------------------------------------===//
#include "passes/LowerToLinalg/Lowering.h"

using namespace mlir;
using namespace mcutrain;
using namespace mcutrain::lowering;

namespace {

/// Sums the broadcast dims away: reduce to the kept dims, then reshape.
Value lowerReduceSumTo(Lowering &L, nn::ReduceSumToOp op) {
  auto xs = op.getInput().getType().getShape();
  auto outTy = op.getOutput().getType();
  auto os = outTy.getShape();
  float scale = op.getScale().convertToFloat();
  size_t off = xs.size() - os.size();
  SmallVector<int64_t> kept;
  SmallVector<AffineExpr> keptExprs;
  SmallVector<IteratorType> iters;
  for (size_t i = 0; i < xs.size(); ++i) {
    bool reduced = i < off || (os[i - off] == 1 && xs[i] != 1);
    iters.push_back(reduced ? kRed : kPar);
    if (!reduced) {
      kept.push_back(xs[i]);
      keptExprs.push_back(L.d(i));
    }
  }
  Value sum = L.generic(
      L.filled(kept, 0.0f), op.getInput(),
      {L.b.getMultiDimIdentityMap(xs.size()), L.map(xs.size(), keptExprs)},
      iters, [&](OpBuilder &ob, Location l, ValueRange a) -> Value {
        Value v = a[0];
        if (scale != 1.0f)
          v = arith::MulFOp::create(ob, l, v, L.f32c(ob, scale));
        return arith::AddFOp::create(ob, l, a[1], v);
      });
  // Reduced, kept, then reduced dimensions (ignoring size-1 ones), e.g. a
  // batch-norm or bias gradient over N x C x H x W: the kernel sums rows
  // with partial sums in vector lanes, where the loops carry one serial
  // sum through memory.
  int64_t rows[3] = {1, 1, 1};
  int group = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    if (xs[i] == 1)
      continue;
    int want = iters[i] == kPar ? 1 : group == 0 ? 0 : 2;
    if (want < group)
      group = 3; // not of that form
    else
      group = want;
    if (group < 3)
      rows[group] *= xs[i];
  }
  if (group < 3)
    L.tagKernel(sum, train::KernelName::sum_rows, {rows[0], rows[1], rows[2]},
                {0, 1}, {scale},
                /*overwrites=*/true);
  return L.reshape(sum, outTy);
}

/// scale * input, read through a broadcast map (size-1 and missing dims
/// repeat).
Value lowerBroadcastTo(Lowering &L, nn::BroadcastToOp op) {
  auto outTy = op.getOutput().getType();
  float scale = op.getScale().convertToFloat();
  unsigned rank = outTy.getRank();
  return L.generic(
      L.empty(outTy.getShape()), op.getInput(),
      {L.broadcastMap(op.getInput().getType().getShape(), outTy.getShape()),
       L.b.getMultiDimIdentityMap(rank)},
      SmallVector<IteratorType>(rank, kPar),
      [&](OpBuilder &ob, Location l, ValueRange a) -> Value {
        if (scale == 1.0f)
          return a[0];
        return arith::MulFOp::create(ob, l, a[0], L.f32c(ob, scale));
      });
}

/// The dims other than `axis`, as map results.
SmallVector<AffineExpr> dimsExcept(Lowering &L, unsigned rank, int64_t axis) {
  SmallVector<AffineExpr> e;
  for (unsigned i = 0; i < rank; ++i)
    if ((int64_t)i != axis)
      e.push_back(L.d(i));
  return e;
}

/// Reduces along `axis`; `full[i]` says operand i has the full shape (else
/// it is already reduced).
Value reduceAxis(Lowering &L, ValueRange ins, ArrayRef<bool> full, int64_t axis,
                 float init, BodyFn body) {
  auto xt = cast<RankedTensorType>(ins[0].getType());
  unsigned rank = xt.getRank();
  SmallVector<int64_t> kept;
  SmallVector<IteratorType> iters;
  for (unsigned i = 0; i < rank; ++i) {
    iters.push_back((int64_t)i == axis ? kRed : kPar);
    if ((int64_t)i != axis)
      kept.push_back(xt.getDimSize(i));
  }
  AffineMap keptMap = L.map(rank, dimsExcept(L, rank, axis));
  SmallVector<AffineMap> maps;
  for (bool f : full)
    maps.push_back(f ? L.b.getMultiDimIdentityMap(rank) : keptMap);
  maps.push_back(keptMap);
  return L.generic(L.filled(kept, init), ins, maps, iters, body);
}

Value maxBody(OpBuilder &ob, Location l, ValueRange a) {
  Value gt =
      arith::CmpFOp::create(ob, l, arith::CmpFPredicate::OGT, a[0], a[1]);
  return arith::SelectOp::create(ob, l, gt, a[0], a[1]);
}

Value lowerSoftmax(Lowering &L, nn::SoftmaxOp op) {
  Value x = op.getInput();
  int64_t axis = op.getAxis();
  auto xt = op.getInput().getType();
  unsigned rank = xt.getRank();
  Value mx = reduceAxis(L, x, {true}, axis,
                        -std::numeric_limits<float>::infinity(), maxBody);
  Value sum = reduceAxis(L, ValueRange{x, mx}, {true, false}, axis, 0.0f,
                         [](OpBuilder &ob, Location l, ValueRange a) -> Value {
                           Value e = math::ExpOp::create(
                               ob, l, arith::SubFOp::create(ob, l, a[0], a[1]));
                           return arith::AddFOp::create(ob, l, a[2], e);
                         });
  AffineMap id = L.b.getMultiDimIdentityMap(rank);
  AffineMap kept = L.map(rank, dimsExcept(L, rank, axis));
  bool log = op.getLog();
  return L.generic(tensor::EmptyOp::create(L.b, L.loc, xt.getShape(), L.f32()),
                   ValueRange{x, mx, sum}, {id, kept, kept, id},
                   SmallVector<IteratorType>(rank, kPar),
                   [&](OpBuilder &ob, Location l, ValueRange a) -> Value {
                     Value z = arith::SubFOp::create(ob, l, a[0], a[1]);
                     if (log)
                       return arith::SubFOp::create(
                           ob, l, z, math::LogOp::create(ob, l, a[2]));
                     return arith::DivFOp::create(
                         ob, l, math::ExpOp::create(ob, l, z), a[2]);
                   });
}

Value lowerSoftmaxGrad(Lowering &L, nn::SoftmaxGradOp op) {
  Value dy = op.getOutputGrad(), y = op.getOutput();
  int64_t axis = op.getAxis();
  auto yt = op.getOutput().getType();
  unsigned rank = yt.getRank();
  bool log = op.getLog();
  // softmax: dx = y * (dy - sum(dy * y));  log: dx = dy - exp(y) * sum(dy)
  Value s =
      reduceAxis(L, ValueRange{dy, y}, {true, true}, axis, 0.0f,
                 [&](OpBuilder &ob, Location l, ValueRange a) -> Value {
                   Value t =
                       log ? a[0] : arith::MulFOp::create(ob, l, a[0], a[1]);
                   return arith::AddFOp::create(ob, l, a[2], t);
                 });
  AffineMap id = L.b.getMultiDimIdentityMap(rank);
  AffineMap kept = L.map(rank, dimsExcept(L, rank, axis));
  return L.generic(tensor::EmptyOp::create(L.b, L.loc, yt.getShape(), L.f32()),
                   ValueRange{dy, y, s}, {id, id, kept, id},
                   SmallVector<IteratorType>(rank, kPar),
                   [&](OpBuilder &ob, Location l, ValueRange a) -> Value {
                     if (log)
                       return arith::SubFOp::create(
                           ob, l, a[0],
                           arith::MulFOp::create(
                               ob, l, math::ExpOp::create(ob, l, a[1]), a[2]));
                     return arith::MulFOp::create(
                         ob, l, a[1], arith::SubFOp::create(ob, l, a[0], a[2]));
                   });
}

} // namespace

void mcutrain::lowering::populateReductionPatterns(
    RewritePatternSet &patterns) {
  addLowering<nn::ReduceSumToOp>(patterns, lowerReduceSumTo);
  addLowering<nn::BroadcastToOp>(patterns, lowerBroadcastTo);
  addLowering<nn::SoftmaxOp>(patterns, lowerSoftmax);
  addLowering<nn::SoftmaxGradOp>(patterns, lowerSoftmaxGrad);
}
