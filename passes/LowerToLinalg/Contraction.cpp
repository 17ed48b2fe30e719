//===- Contraction.cpp - Gemm and MatMul -------===//
//
// Gemm and (batched) MatMul as linalg.generic; Gemm is marked for the
// gemm kernel.
//
//===----------------------------------------------------------------------===//
#include "passes/LowerToLinalg/Lowering.h"

using namespace mlir;
using namespace mcutrain;
using namespace mcutrain::lowering;

namespace {

Value lowerGemm(Lowering &L, nn::GemmOp op) {
  auto ys = op.getOutput().getType().getShape();
  float alpha = op.getAlpha().convertToFloat();
  float beta = op.getBeta().convertToFloat();
  Value init;
  if (Value c = op.getC()) {
    auto cs = cast<RankedTensorType>(c.getType()).getShape();
    init = L.generic(
        L.empty(ys), c, {L.broadcastMap(cs, ys), L.b.getMultiDimIdentityMap(2)},
        {kPar, kPar}, [&](OpBuilder &ob, Location l, ValueRange a) -> Value {
          if (beta == 1.0f)
            return a[0];
          return arith::MulFOp::create(ob, l, a[0], L.f32c(ob, beta));
        });
  } else {
    init = L.filled(ys, 0.0f);
  }
  // dims: i k j — j innermost walks rows of B and Y.
  auto d = [&](unsigned i) { return L.d(i); };
  AffineMap aMap =
      op.getTransA() ? L.map(3, {d(1), d(0)}) : L.map(3, {d(0), d(1)});
  AffineMap bMap =
      op.getTransB() ? L.map(3, {d(2), d(1)}) : L.map(3, {d(1), d(2)});
  AffineMap yMap = L.map(3, {d(0), d(2)});
  Value y =
      L.generic(init, ValueRange{op.getA(), op.getB()}, {aMap, bMap, yMap},
                {kPar, kRed, kPar},
                [&](OpBuilder &ob, Location l, ValueRange a) -> Value {
                  Value m = arith::MulFOp::create(ob, l, a[0], a[1]);
                  if (alpha != 1.0f)
                    m = arith::MulFOp::create(ob, l, m, L.f32c(ob, alpha));
                  return arith::AddFOp::create(ob, l, a[2], m);
                });
  auto as = op.getA().getType().getShape();
  int64_t k = op.getTransA() ? as[0] : as[1];
  L.tagKernel(y, train::KernelName::gemm,
              {ys[0], ys[1], k, op.getTransA() ? 1 : 0, op.getTransB() ? 1 : 0},
              {0, 1, 2}, {alpha}, /*overwrites=*/true);
  return y;
}

/// dims: output batch dims..., i, k, j (j innermost: rows of B and Y).
Value lowerMatMul(Lowering &L, nn::MatMulOp op) {
  auto as = op.getA().getType().getShape();
  auto bs = op.getB().getType().getShape();
  auto ys = op.getOutput().getType().getShape();
  unsigned batch = ys.size() - 2, dims = batch + 3;
  auto operandMap = [&](ArrayRef<int64_t> shape, AffineExpr r, AffineExpr c) {
    SmallVector<AffineExpr> e;
    unsigned own = shape.size() - 2, off = batch - own;
    for (unsigned i = 0; i < own; ++i)
      e.push_back(shape[i] == 1 && ys[i + off] != 1
                      ? L.b.getAffineConstantExpr(0)
                      : L.d(i + off));
    e.push_back(r);
    e.push_back(c);
    return L.map(dims, e);
  };
  AffineExpr i = L.d(batch), k = L.d(batch + 1), j = L.d(batch + 2);
  SmallVector<AffineExpr> yExprs;
  for (unsigned d = 0; d < batch; ++d)
    yExprs.push_back(L.d(d));
  yExprs.push_back(i);
  yExprs.push_back(j);
  SmallVector<IteratorType> iters(batch, kPar);
  iters.append({kPar, kRed, kPar});
  return L.generic(
      L.filled(ys, 0.0f), ValueRange{op.getA(), op.getB()},
      {operandMap(as, i, k), operandMap(bs, k, j), L.map(dims, yExprs)}, iters,
      [](OpBuilder &ob, Location l, ValueRange a) -> Value {
        Value m = arith::MulFOp::create(ob, l, a[0], a[1]);
        return arith::AddFOp::create(ob, l, a[2], m);
      });
}

} // namespace

void mcutrain::lowering::populateContractionPatterns(
    RewritePatternSet &patterns) {
  addLowering<nn::GemmOp>(patterns, lowerGemm);
  addLowering<nn::MatMulOp>(patterns, lowerMatMul);
}
