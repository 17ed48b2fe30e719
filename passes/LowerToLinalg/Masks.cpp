//===- Masks.cpp - bit-packed masks of saved tensors and their reads ------===//
//
// nn.pack_mask packs a bound test of a forward tensor into bits (pack-masks
// puts it where the tensor is made); nn.masked_grad applies it where the
// gradient read the tensor. The selects are those of the gradients they
// replace (Elementwise.cpp, QuantizedGradients.cpp): the same values.
//
//===----------------------------------------------------------------------===//
#include "passes/LowerToLinalg/Lowering.h"

#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Quant/IR/QuantTypes.h"

using namespace mlir;
using namespace mcutrain;
using namespace mcutrain::lowering;

namespace {

/// round(x / scale) + zero inside the storage range (inclusive), with
/// 1/scale rounded to f32 and the ops of nn.quantize_grad's lowering.
Value quantizesUnsaturated(Lowering &L, OpBuilder &ob, Value x,
                           quant::UniformQuantizedType q) {
  Location l = L.loc;
  Value inv = L.f32c(ob, 1.0f / static_cast<float>(q.getScale()));
  Value zero = L.f32c(ob, static_cast<float>(q.getZeroPoint()));
  Value shifted = arith::AddFOp::create(
      ob, l,
      math::RoundEvenOp::create(ob, l, arith::MulFOp::create(ob, l, x, inv)),
      zero);
  float lo = static_cast<float>(q.getStorageTypeMin());
  float hi = static_cast<float>(q.getStorageTypeMax());
  return L.both(ob,
                arith::CmpFOp::create(ob, l, arith::CmpFPredicate::OGE, shifted,
                                      L.f32c(ob, lo)),
                arith::CmpFOp::create(ob, l, arith::CmpFPredicate::OLE, shifted,
                                      L.f32c(ob, hi)));
}

/// lo < x and x < hi (each when set): ordered float compares as the
/// activation gradients make them, or i32 compares of the widened integer
/// as nn.qoutput_grad's.
Value boundsTest(Lowering &L, OpBuilder &ob, Value x, nn::PackMaskOp op) {
  Location l = L.loc;
  if (auto q = op.getQuantTypeAttr())
    return quantizesUnsaturated(
        L, ob, x, cast<quant::UniformQuantizedType>(q.getValue()));
  Value test;
  auto both = [&](Value t) { test = test ? L.both(ob, test, t) : t; };
  if (x.getType().isF32()) {
    if (auto lo = op.getLoAttr())
      both(arith::CmpFOp::create(ob, l, arith::CmpFPredicate::OGT, x,
                                 L.f32c(ob, float(lo.getValueAsDouble()))));
    if (auto hi = op.getHiAttr())
      both(arith::CmpFOp::create(ob, l, arith::CmpFPredicate::OLT, x,
                                 L.f32c(ob, float(hi.getValueAsDouble()))));
  } else {
    Type i32 = ob.getI32Type();
    Value y = op.getIsUnsigned()
                  ? arith::ExtUIOp::create(ob, l, i32, x).getResult()
                  : arith::ExtSIOp::create(ob, l, i32, x).getResult();
    if (auto lo = op.getLoAttr())
      both(L.cmp(ob, arith::CmpIPredicate::sgt, y,
                 L.i32c(ob, int64_t(lo.getValueAsDouble()))));
    if (auto hi = op.getHiAttr())
      both(L.cmp(ob, arith::CmpIPredicate::slt, y,
                 L.i32c(ob, int64_t(hi.getValueAsDouble()))));
  }
  return test ? test : arith::ConstantOp::create(ob, l, ob.getBoolAttr(true));
}

Value lowerPackMask(Lowering &L, nn::PackMaskOp op) {
  Value x = op.getInput();
  auto type = cast<RankedTensorType>(x.getType());
  int64_t n = type.getNumElements();
  Value flat = L.reshape(x, L.tensorOf({n}, type.getElementType()));
  return packBits(L, n, [&](OpBuilder &ob, Value i) -> Value {
    Value v = tensor::ExtractOp::create(ob, L.loc, flat,
                                        ValueRange{L.toIndex(ob, i)});
    return boundsTest(L, ob, v, op);
  });
}

Value lowerMaskedGrad(Lowering &L, nn::MaskedGradOp op) {
  auto shape = op.getInputGrad().getType().getShape();
  unsigned rank = shape.size();
  AffineMap id = L.b.getMultiDimIdentityMap(rank);
  Value mask = op.getMask();
  FloatAttr slope = op.getOffSlopeAttr();
  // Over its own input (the output gradient, usually dead after it):
  // bufferization writes in place then, else copies it first.
  return L.generic(
      op.getOutputGrad(), ValueRange{}, {id},
      SmallVector<IteratorType>(rank, kPar),
      [&](OpBuilder &ob, Location l, ValueRange a) -> Value {
        Value flat = L.flatIndex(ob, outputIndices(ob, l, rank), shape);
        Value off = slope ? arith::MulFOp::create(
                                ob, l, a[0],
                                L.f32c(ob, float(slope.getValueAsDouble())))
                                .getResult()
                          : L.f32c(ob, 0.0f);
        return arith::SelectOp::create(ob, l, L.maskBit(ob, mask, flat), a[0],
                                       off);
      });
}

} // namespace

void mcutrain::lowering::populateMaskPatterns(RewritePatternSet &patterns) {
  addLowering<nn::PackMaskOp>(patterns, lowerPackMask);
  addLowering<nn::MaskedGradOp>(patterns, lowerMaskedGrad);
}
