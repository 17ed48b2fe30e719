//===- NNAutodiff.cpp - each nn op builds its own adjoint -----------------===//
//
// derive-backward walks the forward ops in reverse and calls buildAdjoint on
// each; the op emits only the operand gradients it was asked for, which is
// what keeps the backward graph pruned.
//
//===----------------------------------------------------------------------===//
#include "dialects/NN/NN.h"

#include "mlir/IR/Builders.h"

using namespace mlir;
using namespace mcutrain::nn;

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
    grads[0] = Conv2dGradInputOp::create(b, loc, getInput().getType(), dy,
                                         getWeight(), getStridesAttr(),
                                         getPadsAttr(), getDilationsAttr());
  if (needGrad[1])
    grads[1] = Conv2dGradWeightOp::create(b, loc, getWeight().getType(), dy,
                                          getInput(), getStridesAttr(),
                                          getPadsAttr(), getDilationsAttr());
  if (getBias() && needGrad[2]) {
    int64_t f = getWeight().getType().getDimSize(0);
    auto perChannel = RankedTensorType::get({1, f, 1, 1}, b.getF32Type());
    Value summed = sumToShape(b, loc, dy, perChannel);
    grads[2] = ReshapeOp::create(b, loc, getBias().getType(), summed);
  }
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
    grads[0] = MaxPool2dGradOp::create(b, getLoc(), getInput().getType(), dy,
                                       getInput(), getKernelAttr(),
                                       getStridesAttr(), getPadsAttr());
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
    grads[0] = ReshapeOp::create(b, getLoc(), getInput().getType(), dy);
  return success();
}

LogicalResult Pad2dOp::buildAdjoint(OpBuilder &b, Value dy,
                                    ArrayRef<bool> needGrad,
                                    SmallVectorImpl<Value> &grads) {
  grads.assign(1, Value());
  if (needGrad[0])
    grads[0] =
        Crop2dOp::create(b, getLoc(), getInput().getType(), dy,
                         b.getDenseI64ArrayAttr({getPads()[0], getPads()[1]}));
  return success();
}
