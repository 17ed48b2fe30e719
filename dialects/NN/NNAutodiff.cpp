//===- NNAutodiff.cpp - each nn op builds its own adjoint -----------------===//
//
// derive-backward walks the forward ops in reverse and calls buildAdjoint on
// each; the op emits only the operand gradients it was asked for, which is
// what keeps the backward graph pruned.
//
//===----------------------------------------------------------------------===//
#include "dialects/NN/NN.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Quant/IR/QuantTypes.h"
#include "mlir/IR/Builders.h"

#include <limits>

using namespace mlir;
using namespace mcutrain::nn;

/// The gradient type of `v`: float32 of its shape (an integer tensor's
/// gradient is in the real units its values stand for).
static RankedTensorType gradType(Value v) {
  auto t = cast<RankedTensorType>(v.getType());
  return RankedTensorType::get(t.getShape(), Float32Type::get(v.getContext()));
}

/// Sum `grad` down to `target`'s shape (the adjoint of broadcasting), or
/// return it unchanged when nothing was broadcast.
static Value sumToShape(OpBuilder &b, Location loc, Value grad, Type target,
                        float scale = 1.0f) {
  if (grad.getType() == target && scale == 1.0f)
    return grad;
  return ReduceSumToOp::create(b, loc, target, grad, b.getF32FloatAttr(scale));
}

LogicalResult Conv2dOp::buildAdjoint(OpBuilder &b, Value dy,
                                     ArrayRef<bool> needGrad,
                                     SmallVectorImpl<Value> &grads) {
  Location loc = getLoc();
  grads.assign(getNumOperands(), Value());
  if (needGrad[0])
    grads[0] = Conv2dGradInputOp::create(
        b, loc, getInput().getType(), dy, getWeight(), getStridesAttr(),
        getPadsAttr(), getDilationsAttr(), getGroupAttr());
  if (needGrad[1])
    grads[1] = Conv2dGradWeightOp::create(
        b, loc, getWeight().getType(), dy, getInput(), getStridesAttr(),
        getPadsAttr(), getDilationsAttr(), getGroupAttr());
  if (getBias() && needGrad[2]) {
    int64_t f = getWeight().getType().getDimSize(0);
    auto perChannel = RankedTensorType::get({1, f, 1, 1}, b.getF32Type());
    Value summed = sumToShape(b, loc, dy, perChannel);
    grads[2] = ReshapeOp::create(b, loc, getBias().getType(), summed);
  }
  return success();
}

/// The transposed convolution is conv2d's input gradient: its own input
/// gradient is the convolution of dy, its weight gradient conv2d's weight
/// gradient with the roles of dy and the input exchanged.
LogicalResult ConvTranspose2dOp::buildAdjoint(OpBuilder &b, Value dy,
                                              ArrayRef<bool> needGrad,
                                              SmallVectorImpl<Value> &grads) {
  Location loc = getLoc();
  grads.assign(2, Value());
  if (needGrad[0])
    grads[0] = Conv2dOp::create(b, loc, gradType(getInput()), dy, getWeight(),
                                Value(), getStridesAttr(), getPadsAttr(),
                                getDilationsAttr(), getGroupAttr());
  if (needGrad[1])
    grads[1] = Conv2dGradWeightOp::create(
        b, loc, getWeight().getType(), getInput(), dy, getStridesAttr(),
        getPadsAttr(), getDilationsAttr(), getGroupAttr());
  return success();
}

LogicalResult GemmOp::buildAdjoint(OpBuilder &b, Value dy,
                                   ArrayRef<bool> needGrad,
                                   SmallVectorImpl<Value> &grads) {
  Location loc = getLoc();
  grads.assign(getNumOperands(), Value());
  bool ta = getTransA(), tb = getTransB();
  FloatAttr alpha = getAlphaAttr(), one = b.getF32FloatAttr(1.0f);
  Value a = getA(), bm = getB();
  auto gemm = [&](Type ty, Value lhs, Value rhs, bool tl, bool tr) -> Value {
    return GemmOp::create(b, loc, ty, lhs, rhs, Value(), b.getBoolAttr(tl),
                          b.getBoolAttr(tr), alpha, one);
  };
  if (needGrad[0])
    grads[0] = ta ? gemm(a.getType(), bm, dy, tb, true)
                  : gemm(a.getType(), dy, bm, false, !tb);
  if (needGrad[1])
    grads[1] = tb ? gemm(bm.getType(), dy, a, true, ta)
                  : gemm(bm.getType(), a, dy, !ta, false);
  if (getC() && needGrad[2])
    grads[2] =
        sumToShape(b, loc, dy, getC().getType(), getBeta().convertToFloat());
  return success();
}

LogicalResult AddOp::buildAdjoint(OpBuilder &b, Value dy,
                                  ArrayRef<bool> needGrad,
                                  SmallVectorImpl<Value> &grads) {
  grads.assign(2, Value());
  for (int i = 0; i < 2; ++i)
    if (needGrad[i])
      grads[i] = sumToShape(b, getLoc(), dy, getOperand(i).getType());
  return success();
}

LogicalResult ReluOp::buildAdjoint(OpBuilder &b, Value dy,
                                   ArrayRef<bool> needGrad,
                                   SmallVectorImpl<Value> &grads) {
  grads.assign(1, Value());
  if (needGrad[0])
    grads[0] = ReluGradOp::create(b, getLoc(), dy.getType(), dy, getOutput());
  return success();
}

LogicalResult MaxPool2dOp::buildAdjoint(OpBuilder &b, Value dy,
                                        ArrayRef<bool> needGrad,
                                        SmallVectorImpl<Value> &grads) {
  grads.assign(1, Value());
  if (needGrad[0])
    grads[0] = MaxPool2dGradOp::create(b, getLoc(), gradType(getInput()), dy,
                                       getInput(), getKernelAttr(),
                                       getStridesAttr(), getPadsAttr(),
                                       getDilationsAttr(), getIsUnsignedAttr());
  return success();
}

LogicalResult AvgPool2dOp::buildAdjoint(OpBuilder &b, Value dy,
                                        ArrayRef<bool> needGrad,
                                        SmallVectorImpl<Value> &grads) {
  grads.assign(1, Value());
  if (needGrad[0])
    grads[0] = AvgPool2dGradOp::create(b, getLoc(), getInput().getType(), dy,
                                       getKernelAttr(), getStridesAttr(),
                                       getPadsAttr(), getCountIncludePadAttr());
  return success();
}

LogicalResult ReshapeOp::buildAdjoint(OpBuilder &b, Value dy,
                                      ArrayRef<bool> needGrad,
                                      SmallVectorImpl<Value> &grads) {
  grads.assign(1, Value());
  if (needGrad[0])
    grads[0] = ReshapeOp::create(b, getLoc(), gradType(getInput()), dy);
  return success();
}

LogicalResult Pad2dOp::buildAdjoint(OpBuilder &b, Value dy,
                                    ArrayRef<bool> needGrad,
                                    SmallVectorImpl<Value> &grads) {
  grads.assign(1, Value());
  if (needGrad[0] && getMode() != PadMode::constant)
    grads[0] = Pad2dGradOp::create(b, getLoc(), gradType(getInput()), dy,
                                   getPadsAttr(), getModeAttr());
  else if (needGrad[0])
    grads[0] = SliceOp::create(
        b, getLoc(), gradType(getInput()), dy,
        b.getDenseI64ArrayAttr({0, 0, getPads()[0], getPads()[1]}));
  return success();
}

LogicalResult SubOp::buildAdjoint(OpBuilder &b, Value dy,
                                  ArrayRef<bool> needGrad,
                                  SmallVectorImpl<Value> &grads) {
  grads.assign(2, Value());
  if (needGrad[0])
    grads[0] = sumToShape(b, getLoc(), dy, getLhs().getType());
  if (needGrad[1])
    grads[1] = sumToShape(b, getLoc(), dy, getRhs().getType(), -1.0f);
  return success();
}

LogicalResult MulOp::buildAdjoint(OpBuilder &b, Value dy,
                                  ArrayRef<bool> needGrad,
                                  SmallVectorImpl<Value> &grads) {
  grads.assign(2, Value());
  Location loc = getLoc();
  for (int i = 0; i < 2; ++i) {
    if (!needGrad[i])
      continue;
    Value other = getOperand(1 - i);
    Value prod = MulOp::create(b, loc, dy.getType(), dy, other);
    grads[i] = sumToShape(b, loc, prod, getOperand(i).getType());
  }
  return success();
}

LogicalResult DivOp::buildAdjoint(OpBuilder &b, Value dy,
                                  ArrayRef<bool> needGrad,
                                  SmallVectorImpl<Value> &grads) {
  grads.assign(2, Value());
  Location loc = getLoc();
  Type t = dy.getType();
  if (needGrad[0])
    grads[0] = sumToShape(b, loc, DivOp::create(b, loc, t, dy, getRhs()),
                          getLhs().getType());
  if (needGrad[1]) {
    // d(a/b)/db = -(a/b)/b
    Value q = DivOp::create(
        b, loc, t, MulOp::create(b, loc, t, dy, getOutput()), getRhs());
    grads[1] = sumToShape(b, loc, q, getRhs().getType(), -1.0f);
  }
  return success();
}

LogicalResult PowOp::buildAdjoint(OpBuilder &b, Value dy,
                                  ArrayRef<bool> needGrad,
                                  SmallVectorImpl<Value> &grads) {
  grads.assign(2, Value());
  for (int i = 0; i < 2; ++i) {
    if (!needGrad[i])
      continue;
    Value term = PowGradOp::create(b, getLoc(), dy.getType(), dy, getLhs(),
                                   getRhs(), i ? b.getUnitAttr() : UnitAttr());
    grads[i] = sumToShape(b, getLoc(), term, getOperand(i).getType());
  }
  return success();
}

/// Each operand's share of dy (nn.select_grad), summed to its shape.
static void buildSelectAdjoint(OpBuilder &b, Operation *op, Value dy,
                               ArrayRef<bool> needGrad, bool isMin,
                               SmallVectorImpl<Value> &grads) {
  grads.assign(2, Value());
  for (int i = 0; i < 2; ++i) {
    if (!needGrad[i])
      continue;
    Value term = SelectGradOp::create(
        b, op->getLoc(), dy.getType(), dy, op->getOperand(0), op->getOperand(1),
        isMin ? b.getUnitAttr() : UnitAttr(), i ? b.getUnitAttr() : UnitAttr());
    grads[i] = sumToShape(b, op->getLoc(), term, op->getOperand(i).getType());
  }
}

LogicalResult MaxOp::buildAdjoint(OpBuilder &b, Value dy,
                                  ArrayRef<bool> needGrad,
                                  SmallVectorImpl<Value> &grads) {
  buildSelectAdjoint(b, *this, dy, needGrad, /*isMin=*/false, grads);
  return success();
}

LogicalResult MinOp::buildAdjoint(OpBuilder &b, Value dy,
                                  ArrayRef<bool> needGrad,
                                  SmallVectorImpl<Value> &grads) {
  buildSelectAdjoint(b, *this, dy, needGrad, /*isMin=*/true, grads);
  return success();
}

LogicalResult WhereOp::buildAdjoint(OpBuilder &b, Value dy,
                                    ArrayRef<bool> needGrad,
                                    SmallVectorImpl<Value> &grads) {
  grads.assign(3, Value()); // the boolean condition never needs one
  for (int i = 1; i < 3; ++i) {
    if (!needGrad[i])
      continue;
    Value term =
        WhereGradOp::create(b, getLoc(), dy.getType(), dy, getCondition(),
                            i == 2 ? b.getUnitAttr() : UnitAttr());
    grads[i] = sumToShape(b, getLoc(), term, gradType(getOperand(i)));
  }
  return success();
}

LogicalResult GatherOp::buildAdjoint(OpBuilder &b, Value dy,
                                     ArrayRef<bool> needGrad,
                                     SmallVectorImpl<Value> &grads) {
  grads.assign(2, Value()); // integer indices never need one
  if (needGrad[0])
    grads[0] = GatherGradOp::create(b, getLoc(), gradType(getData()), dy,
                                    getIndices(), getAxisAttr());
  return success();
}

LogicalResult ActivationOp::buildAdjoint(OpBuilder &b, Value dy,
                                         ArrayRef<bool> needGrad,
                                         SmallVectorImpl<Value> &grads) {
  grads.assign(1, Value());
  if (needGrad[0])
    grads[0] = ActivationGradOp::create(b, getLoc(), dy.getType(), dy,
                                        getInput(), getOutput(), getKindAttr(),
                                        getAlphaAttr(), getBetaAttr());
  return success();
}

/// d/dx: dy where x > 0, else slope * dy; d/dslope: dy * min(x, 0) summed
/// over what the slope was broadcast to (PyTorch's PReLU backward).
LogicalResult PReluOp::buildAdjoint(OpBuilder &b, Value dy,
                                    ArrayRef<bool> needGrad,
                                    SmallVectorImpl<Value> &grads) {
  grads.assign(2, Value());
  Location loc = getLoc();
  Type t = dy.getType();
  if (needGrad[0])
    grads[0] = PReluGradInputOp::create(b, loc, t, dy, getInput(), getSlope());
  if (needGrad[1]) {
    float inf = std::numeric_limits<float>::infinity();
    Value negativePart = ActivationOp::create(
        b, loc, getInput(),
        ActivationKindAttr::get(b.getContext(), ActivationKind::clip),
        b.getF32FloatAttr(-inf), b.getF32FloatAttr(0.0f), UnitAttr());
    Value prod = MulOp::create(b, loc, t, dy, negativePart);
    grads[1] = sumToShape(b, loc, prod, getSlope().getType());
  }
  return success();
}

LogicalResult NegOp::buildAdjoint(OpBuilder &b, Value dy,
                                  ArrayRef<bool> needGrad,
                                  SmallVectorImpl<Value> &grads) {
  grads.assign(1, Value());
  if (needGrad[0])
    grads[0] = NegOp::create(b, getLoc(), dy);
  return success();
}

bool BatchNormOp::isDifferentiableOperand(unsigned index) { return index < 3; }

LogicalResult BatchNormOp::buildAdjoint(OpBuilder &b, Value dy,
                                        ArrayRef<bool> needGrad,
                                        SmallVectorImpl<Value> &grads) {
  grads.assign(5, Value());
  Location loc = getLoc();
  auto xt = getInput().getType();
  auto ct = cast<RankedTensorType>(getScale().getType());
  Value zeros =
      arith::ConstantOp::create(b, loc, DenseElementsAttr::get(ct, 0.0f));
  Value ones =
      arith::ConstantOp::create(b, loc, DenseElementsAttr::get(ct, 1.0f));
  // Frozen statistics: the op is affine in x with slope scale/sqrt(var+eps).
  if (needGrad[0])
    grads[0] = BatchNormOp::create(b, loc, xt, dy, getScale(), zeros, zeros,
                                   getVariance(), getEpsilonAttr());
  SmallVector<int64_t> perChannel(xt.getRank(), 1);
  perChannel[1] = xt.getDimSize(1);
  auto pct = RankedTensorType::get(perChannel, b.getF32Type());
  if (needGrad[1]) {
    Value xhat =
        BatchNormOp::create(b, loc, xt, getInput(), ones, zeros, getMean(),
                            getVariance(), getEpsilonAttr());
    Value prod = MulOp::create(b, loc, xt, dy, xhat);
    grads[1] = ReshapeOp::create(b, loc, ct, sumToShape(b, loc, prod, pct));
  }
  if (needGrad[2])
    grads[2] = ReshapeOp::create(b, loc, ct, sumToShape(b, loc, dy, pct));
  return success();
}

LogicalResult TransposeOp::buildAdjoint(OpBuilder &b, Value dy,
                                        ArrayRef<bool> needGrad,
                                        SmallVectorImpl<Value> &grads) {
  grads.assign(1, Value());
  if (!needGrad[0])
    return success();
  auto perm = getPerm();
  SmallVector<int64_t> inverse(perm.size());
  for (size_t i = 0; i < perm.size(); ++i)
    inverse[perm[i]] = i;
  grads[0] = TransposeOp::create(b, getLoc(), gradType(getInput()), dy,
                                 b.getDenseI64ArrayAttr(inverse));
  return success();
}

LogicalResult ConcatOp::buildAdjoint(OpBuilder &b, Value dy,
                                     ArrayRef<bool> needGrad,
                                     SmallVectorImpl<Value> &grads) {
  grads.assign(getNumOperands(), Value());
  int64_t axis = getAxis(), at = 0;
  unsigned rank = getOutput().getType().getRank();
  for (auto [i, v] : llvm::enumerate(getInputs())) {
    auto t = gradType(v);
    if (needGrad[i]) {
      SmallVector<int64_t> offsets(rank, 0);
      offsets[axis] = at;
      grads[i] =
          SliceOp::create(b, getLoc(), t, dy, b.getDenseI64ArrayAttr(offsets));
    }
    at += t.getDimSize(axis);
  }
  return success();
}

LogicalResult SliceOp::buildAdjoint(OpBuilder &b, Value dy,
                                    ArrayRef<bool> needGrad,
                                    SmallVectorImpl<Value> &grads) {
  grads.assign(1, Value());
  if (!needGrad[0])
    return success();
  SmallVector<int64_t> strides(getStrides());
  if (strides.empty())
    strides.assign(getOffsets().size(), 1);
  grads[0] =
      SliceGradOp::create(b, getLoc(), gradType(getInput()), dy,
                          getOffsetsAttr(), b.getDenseI64ArrayAttr(strides));
  return success();
}

LogicalResult ReduceSumToOp::buildAdjoint(OpBuilder &b, Value dy,
                                          ArrayRef<bool> needGrad,
                                          SmallVectorImpl<Value> &grads) {
  grads.assign(1, Value());
  if (needGrad[0])
    grads[0] = BroadcastToOp::create(b, getLoc(), gradType(getInput()), dy,
                                     getScaleAttr());
  return success();
}

LogicalResult BroadcastToOp::buildAdjoint(OpBuilder &b, Value dy,
                                          ArrayRef<bool> needGrad,
                                          SmallVectorImpl<Value> &grads) {
  grads.assign(1, Value());
  if (needGrad[0])
    grads[0] = sumToShape(b, getLoc(), dy, gradType(getInput()),
                          getScale().convertToFloat());
  return success();
}

LogicalResult SoftmaxOp::buildAdjoint(OpBuilder &b, Value dy,
                                      ArrayRef<bool> needGrad,
                                      SmallVectorImpl<Value> &grads) {
  grads.assign(1, Value());
  if (needGrad[0])
    grads[0] = SoftmaxGradOp::create(b, getLoc(), dy.getType(), dy, getOutput(),
                                     getAxisAttr(), getLogAttr());
  return success();
}

/// Swaps the two innermost dims.
static Value transposeLast2(OpBuilder &b, Location loc, Value v) {
  auto t = cast<RankedTensorType>(v.getType());
  SmallVector<int64_t> perm, shape(t.getShape());
  for (int64_t i = 0; i < t.getRank(); ++i)
    perm.push_back(i);
  std::swap(perm[t.getRank() - 1], perm[t.getRank() - 2]);
  std::swap(shape[t.getRank() - 1], shape[t.getRank() - 2]);
  return TransposeOp::create(b, loc,
                             RankedTensorType::get(shape, t.getElementType()),
                             v, b.getDenseI64ArrayAttr(perm));
}

LogicalResult MatMulOp::buildAdjoint(OpBuilder &b, Value dy,
                                     ArrayRef<bool> needGrad,
                                     SmallVectorImpl<Value> &grads) {
  grads.assign(2, Value());
  Location loc = getLoc();
  auto dyShape = cast<RankedTensorType>(dy.getType()).getShape();
  auto product = [&](Value x, Value y) -> Value {
    auto xs = cast<RankedTensorType>(x.getType()).getShape();
    auto ys = cast<RankedTensorType>(y.getType()).getShape();
    SmallVector<int64_t> shape(dyShape.drop_back(2));
    shape.push_back(xs[xs.size() - 2]);
    shape.push_back(ys.back());
    return MatMulOp::create(b, loc,
                            RankedTensorType::get(shape, b.getF32Type()), x, y);
  };
  // Batch dims broadcast: the products are summed back to each operand.
  if (needGrad[0])
    grads[0] = sumToShape(b, loc, product(dy, transposeLast2(b, loc, getB())),
                          getA().getType());
  if (needGrad[1])
    grads[1] = sumToShape(b, loc, product(transposeLast2(b, loc, getA()), dy),
                          getB().getType());
  return success();
}

//===----------------------------------------------------------------------===//
// int8 ops (TTE's scheme: int8 forward, float32 backward in real units from
// the integer tensors and their scales)
//===----------------------------------------------------------------------===//

LogicalResult QuantizeOp::buildAdjoint(OpBuilder &b, Value dy,
                                       ArrayRef<bool> needGrad,
                                       SmallVectorImpl<Value> &grads) {
  grads.assign(1, Value());
  if (needGrad[0])
    grads[0] = QuantizeGradOp::create(b, getLoc(), gradType(getInput()), dy,
                                      getInput(), getQuantTypeAttr());
  return success();
}

LogicalResult DequantizeOp::buildAdjoint(OpBuilder &b, Value dy,
                                         ArrayRef<bool> needGrad,
                                         SmallVectorImpl<Value> &grads) {
  grads.assign(1, Value());
  if (needGrad[0])
    grads[0] = dy;
  return success();
}

/// The gradient through an int8 layer's requantization and clamp; null for
/// a layer without an output type (its int32 accumulator has no trained
/// meaning here).
template <typename OpTy>
static Value maskedOutputGrad(OpBuilder &b, OpTy op, Value dy) {
  if (!op.getOutputTypeAttr()) {
    op.emitError() << "an int8 layer whose result is its int32 sum "
                      "(ConvInteger, MatMulInteger) has no gradient here; "
                      "freeze the layers before it with --trainable";
    return {};
  }
  auto out = cast<mlir::quant::QuantizedType>(*op.getOutputType());
  int64_t lo =
      std::max<int64_t>(op.getOutputMin().value_or(out.getStorageTypeMin()),
                        out.getStorageTypeMin());
  int64_t hi =
      std::min<int64_t>(op.getOutputMax().value_or(out.getStorageTypeMax()),
                        out.getStorageTypeMax());
  return QOutputGradOp::create(b, op.getLoc(), dy.getType(), dy, op.getOutput(),
                               op.getOutputTypeAttr(), b.getI64IntegerAttr(lo),
                               b.getI64IntegerAttr(hi));
}

LogicalResult QConv2dOp::buildAdjoint(OpBuilder &b, Value dy,
                                      ArrayRef<bool> needGrad,
                                      SmallVectorImpl<Value> &grads) {
  Location loc = getLoc();
  grads.assign(getNumOperands(), Value());
  Value masked = maskedOutputGrad(b, *this, dy);
  if (!masked)
    return failure();
  if (needGrad[0])
    grads[0] = QConv2dGradInputOp::create(
        b, loc, gradType(getInput()), masked, getWeight(), getWeightTypeAttr(),
        getStridesAttr(), getPadsAttr(), getDilationsAttr(), getGroupAttr());
  if (needGrad[1])
    grads[1] = QConv2dGradWeightOp::create(
        b, loc, gradType(getWeight()), masked, getInput(), getInputTypeAttr(),
        getStridesAttr(), getPadsAttr(), getDilationsAttr(), getGroupAttr());
  if (getBias() && needGrad[2]) {
    int64_t f = getWeight().getType().getDimSize(0);
    auto perChannel = RankedTensorType::get({1, f, 1, 1}, b.getF32Type());
    Value summed = sumToShape(b, loc, masked, perChannel);
    grads[2] = ReshapeOp::create(b, loc, gradType(getBias()), summed);
  }
  return success();
}

LogicalResult QGemmOp::buildAdjoint(OpBuilder &b, Value dy,
                                    ArrayRef<bool> needGrad,
                                    SmallVectorImpl<Value> &grads) {
  Location loc = getLoc();
  grads.assign(getNumOperands(), Value());
  Value masked = maskedOutputGrad(b, *this, dy);
  if (!masked)
    return failure();
  if (needGrad[0])
    grads[0] = QGemmGradAOp::create(b, loc, gradType(getA()), masked, getB(),
                                    getWeightTypeAttr(), getTransBAttr());
  if (needGrad[1])
    grads[1] = QGemmGradBOp::create(b, loc, gradType(getB()), masked, getA(),
                                    getInputTypeAttr(), getTransBAttr());
  if (getBias() && needGrad[2])
    grads[2] = sumToShape(b, loc, masked, gradType(getBias()));
  return success();
}
