//===- Quantization.cpp - nn.quantize, nn.dequantize ----------------------===//
//
// One linalg.generic each. Per-tensor scales and zero points are constants
// in the body; per-axis ones are constant tensors read along the axis.
//
//===----------------------------------------------------------------------===//
#include "passes/LowerToLinalg/Lowering.h"

#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Quant/IR/QuantTypes.h"

using namespace mlir;
using namespace mcutrain;
using namespace mcutrain::lowering;

namespace {

using QuantBody = llvm::function_ref<Value(OpBuilder &, Location, Value x,
                                           Value scale, Value zero)>;

/// A generic over `x`'s shape with result element type `resultElement`;
/// `body` gets each element with its scale (or, if `reciprocal`, 1/scale
/// rounded to f32) and zero point, as f32. `along` (if any) is read at the
/// same position; `body` finds its element in `alongElement`.
Value quantGeneric(Lowering &L, Value x, Type quantType, Type resultElement,
                   bool reciprocal, QuantBody body, Value along = {},
                   Value *alongElement = nullptr) {
  auto f32Scale = [&](double s) {
    return reciprocal ? 1.0f / static_cast<float>(s) : static_cast<float>(s);
  };
  auto shape = cast<RankedTensorType>(x.getType()).getShape();
  unsigned rank = shape.size();
  SmallVector<Value> ins{x};
  SmallVector<AffineMap> maps{L.b.getMultiDimIdentityMap(rank)};
  float scale = 0.0f, zero = 0.0f;
  if (along) {
    ins.push_back(along);
    maps.push_back(L.b.getMultiDimIdentityMap(rank));
  }
  unsigned first = ins.size();
  auto perAxis = dyn_cast<quant::UniformQuantizedPerAxisType>(quantType);
  if (perAxis) {
    SmallVector<float> scales, zeros;
    for (double s : perAxis.getScales())
      scales.push_back(f32Scale(s));
    for (int64_t z : perAxis.getZeroPoints())
      zeros.push_back(static_cast<float>(z));
    auto type = RankedTensorType::get({int64_t(scales.size())}, L.f32());
    for (ArrayRef<float> values : {ArrayRef(scales), ArrayRef(zeros)}) {
      ins.push_back(arith::ConstantOp::create(
          L.b, L.loc, DenseElementsAttr::get(type, values)));
      maps.push_back(L.map(rank, {L.d(perAxis.getQuantizedDimension())}));
    }
  } else {
    auto uniform = cast<quant::UniformQuantizedType>(quantType);
    scale = f32Scale(uniform.getScale());
    zero = static_cast<float>(uniform.getZeroPoint());
  }
  maps.push_back(L.b.getMultiDimIdentityMap(rank));
  return L.generic(tensor::EmptyOp::create(L.b, L.loc, shape, resultElement),
                   ins, maps,
                   SmallVector<IteratorType>(rank, IteratorType::parallel),
                   [&](OpBuilder &ob, Location l, ValueRange a) {
                     Value s = perAxis ? a[first] : L.f32c(ob, scale);
                     Value z = perAxis ? a[first + 1] : L.f32c(ob, zero);
                     if (along)
                       *alongElement = a[1];
                     return body(ob, l, a[0], s, z);
                   });
}

/// c - zero, folded when the zero point is a constant (per tensor; exact:
/// integers below 2^24).
Value constantMinus(Lowering &L, OpBuilder &ob, Location l, float c,
                    Value zero) {
  FloatAttr z;
  if (matchPattern(zero, m_Constant(&z)))
    return L.f32c(ob, c - z.getValue().convertToFloat());
  return arith::SubFOp::create(ob, l, L.f32c(ob, c), zero);
}

/// round_half_even(x * (1/scale)) + zero, clamped to the storage range,
/// then converted (in range, so the C++ conversion is defined). The ONNX
/// text says x / scale; PyTorch's fake quantization, which a QDQ model was
/// calibrated and trained with, multiplies by the f32 reciprocal. They
/// differ where x / scale is within an ulp of a tie, and symmetric
/// per-channel weights put each channel's largest weight exactly on one
/// (127.5): dividing rounded LeNet-5's outputs up to 4 steps away from
/// PyTorch's, multiplying matches it exactly. The ONNX node tests pass
/// either way.
///
/// Computed as clamp first, round after: the bounds lo - zero and
/// hi - zero are integers, so rounding the clamped value is the same as
/// clamping the rounded one, and a clamped value (|v| < 2^22) rounds by
/// adding 1.5 * 2^23 (the sum's unit is 1; IEEE rounds it to nearest, ties
/// to even: 1.5 * 2^23 is even) and subtracting 1.5 * 2^23 - zero, both
/// exact. Two additions instead of a rounding call: 13 fewer Cortex-M4
/// instructions per element (ResNet-8's residual Adds: 30 -> 17).
Value lowerQuantize(Lowering &L, nn::QuantizeOp op) {
  auto q = cast<quant::QuantizedType>(op.getQuantType());
  float lo = static_cast<float>(q.getStorageTypeMin());
  float hi = static_cast<float>(q.getStorageTypeMax());
  Type storage = q.getStorageType();
  bool isSigned = q.isSigned();
  return quantGeneric(
      L, op.getInput(), q, storage, /*reciprocal=*/true,
      [&](OpBuilder &ob, Location l, Value x, Value inv, Value z) -> Value {
        Value scaled = arith::MulFOp::create(ob, l, x, inv);
        Value loC = constantMinus(L, ob, l, lo, z);
        Value hiC = constantMinus(L, ob, l, hi, z);
        // Ordered compares: NaN saturates low.
        Value aboveLo = arith::CmpFOp::create(ob, l, arith::CmpFPredicate::OGT,
                                              scaled, loC);
        Value low = arith::SelectOp::create(ob, l, aboveLo, scaled, loC);
        Value belowHi =
            arith::CmpFOp::create(ob, l, arith::CmpFPredicate::OLT, low, hiC);
        Value both = arith::SelectOp::create(ob, l, belowHi, low, hiC);
        const float shifter = 12582912.0f; // 1.5 * 2^23
        Value lifted = arith::AddFOp::create(ob, l, both, L.f32c(ob, shifter));
        Value back = constantMinus(L, ob, l, shifter, z);
        Value shifted = arith::SubFOp::create(ob, l, lifted, back);
        if (isSigned)
          return arith::FPToSIOp::create(ob, l, storage, shifted);
        return arith::FPToUIOp::create(ob, l, storage, shifted);
      });
}

/// (q - zero) * scale, the difference exact in f32 (|q - zero| < 2^24 for
/// 8-bit storage; int32 biases have zero point 0).
Value lowerDequantize(Lowering &L, nn::DequantizeOp op) {
  auto q = cast<quant::QuantizedType>(op.getQuantType());
  bool isSigned = q.isSigned();
  return quantGeneric(
      L, op.getInput(), q, L.f32(), /*reciprocal=*/false,
      [&](OpBuilder &ob, Location l, Value x, Value s, Value z) -> Value {
        Value f = isSigned
                      ? arith::SIToFPOp::create(ob, l, L.f32(), x).getResult()
                      : arith::UIToFPOp::create(ob, l, L.f32(), x).getResult();
        Value centered = arith::SubFOp::create(ob, l, f, z);
        return arith::MulFOp::create(ob, l, centered, s);
      });
}

/// The gradient of nn.quantize: output_grad where round(x * (1/scale)) +
/// zero (as lowerQuantize computes it, before saturating) lies in the
/// storage range, else 0 (PyTorch's fake-quantize backward). A NaN x
/// passes none.
Value lowerQuantizeGrad(Lowering &L, nn::QuantizeGradOp op) {
  auto q = cast<quant::QuantizedType>(op.getQuantType());
  float lo = static_cast<float>(q.getStorageTypeMin());
  float hi = static_cast<float>(q.getStorageTypeMax());
  Value dy;
  return quantGeneric(
      L, op.getInput(), q, L.f32(), /*reciprocal=*/true,
      [&](OpBuilder &ob, Location l, Value x, Value inv, Value z) -> Value {
        Value scaled = arith::MulFOp::create(ob, l, x, inv);
        Value rounded = math::RoundEvenOp::create(ob, l, scaled);
        Value shifted = arith::AddFOp::create(ob, l, rounded, z);
        Value aboveLo = arith::CmpFOp::create(ob, l, arith::CmpFPredicate::OGE,
                                              shifted, L.f32c(ob, lo));
        Value belowHi = arith::CmpFOp::create(ob, l, arith::CmpFPredicate::OLE,
                                              shifted, L.f32c(ob, hi));
        return arith::SelectOp::create(ob, l, L.both(ob, aboveLo, belowHi), dy,
                                       L.f32c(ob, 0.0f));
      },
      op.getOutputGrad(), &dy);
}

} // namespace

void mcutrain::lowering::populateQuantizationPatterns(
    RewritePatternSet &patterns) {
  addLowering<nn::QuantizeOp>(patterns, lowerQuantize);
  addLowering<nn::DequantizeOp>(patterns, lowerDequantize);
  addLowering<nn::QuantizeGradOp>(patterns, lowerQuantizeGrad);
}
