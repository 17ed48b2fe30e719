//===- FuseOuterProductUpdates.cpp - batch-1 dW inside its update --------===//
//
// At batch 1 a Linear layer's weight gradient is the outer product of the
// output error and the layer input (a Gemm with a reduction of one). Stored,
// it costs the arena M x N floats, a pass writing them, and the update's
// finiteness check and optimizer pass reading them back; computed where the
// update uses it, it costs one multiplication per weight. The product
// (`outer` on train.update) is the same floating-point operation either way.
// The same holds for a 1 x 1 convolution of a 1 x 1 image (MobileNet's last
// pointwise layers at small inputs), whose weight is [M, N, 1, 1]. A
// channel-sparse update (static, DGSU) of such a layer keeps its channels:
// its gradient is the outer product of the error and the selected input
// channels, N of them (LeNet-5 with --sparsity static:0.5 stored a 96,000 B
// gradient for its first Linear layer).
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

/// An int8 Linear layer's weight gradient at batch 1, nn.qgemm_grad_b of a
/// 1 x N error and a 1 x K int8 input that only `update` uses: the update
/// takes the error and the dequantized input (K floats) as the factors
/// instead ([N, K] weights with trans_b; [K, N] ones the other way round).
bool fuseInt8OuterProduct(train::UpdateOp update) {
  auto grad = update.getGrad().getDefiningOp<nn::QGemmGradBOp>();
  if (!grad || !grad->hasOneUse() ||
      grad.getOutputGrad().getType().getDimSize(0) != 1)
    return false;
  OpBuilder b(grad);
  auto inputType = grad.getA().getType();
  Value input = nn::DequantizeOp::create(
      b, grad.getLoc(),
      RankedTensorType::get(inputType.getShape(), b.getF32Type()), grad.getA(),
      grad.getInputTypeAttr());
  input.getDefiningOp()->setDiscardableAttrs(
      grad->getDiscardableAttrDictionary());
  Value error = grad.getOutputGrad();
  bool transB = grad.getTransB();
  update.getGradMutable().assign(transB ? error : input);
  update.getOuterMutable().assign(transB ? input : error);
  grad.erase();
  return true;
}

/// A 1 x 1 convolution (group 1, no padding) of a 1 x 1 image at batch 1,
/// as MobileNet's pointwise layers run at the end of the network: its weight
/// gradient [F, C, 1, 1] is the outer product of the error (F) and the input
/// (C), the convolution's one product per weight. Float and int8 layers
/// (nn.conv2d_grad_weight, nn.qconv2d_grad_weight: the input dequantized).
template <typename GradOp> bool fuseConvOuterProduct(train::UpdateOp update) {
  auto grad = update.getGrad().getDefiningOp<GradOp>();
  if (!grad || !grad->hasOneUse() || grad.getGroup() != 1 ||
      llvm::any_of(grad.getPads(), [](int64_t p) { return p != 0; }))
    return false;
  auto onePixel = [](Value v) {
    auto t = cast<RankedTensorType>(v.getType());
    return t.getDimSize(0) == 1 && t.getDimSize(2) == 1 && t.getDimSize(3) == 1;
  };
  auto ws = grad.getWeightGrad().getType().getShape();
  if (!onePixel(grad.getOutputGrad()) || !onePixel(grad.getInput()) ||
      ws[2] != 1 || ws[3] != 1)
    return false;
  OpBuilder b(grad);
  auto row = [&](Value v, Type element) -> Value {
    auto t = cast<RankedTensorType>(v.getType());
    Operation *r = nn::ReshapeOp::create(
        b, grad.getLoc(), RankedTensorType::get({1, t.getDimSize(1)}, element),
        v);
    r->setDiscardableAttrs(grad->getDiscardableAttrDictionary());
    return r->getResult(0);
  };
  Value input = grad.getInput();
  auto inputType = cast<RankedTensorType>(input.getType());
  input = row(input, inputType.getElementType());
  if constexpr (std::is_same_v<GradOp, nn::QConv2dGradWeightOp>) {
    Operation *dq = nn::DequantizeOp::create(
        b, grad.getLoc(),
        RankedTensorType::get({1, inputType.getDimSize(1)}, b.getF32Type()),
        input, grad.getInputTypeAttr());
    dq->setDiscardableAttrs(grad->getDiscardableAttrDictionary());
    input = dq->getResult(0);
  }
  update.getGradMutable().assign(row(grad.getOutputGrad(), b.getF32Type()));
  update.getOuterMutable().assign(input);
  grad.erase();
  return true;
}

struct FuseOuterProductUpdatesPass
    : public mcutrain::impl::FuseOuterProductUpdatesPassBase<
          FuseOuterProductUpdatesPass> {
  void runOnOperation() override {
    getOperation().walk([](train::UpdateOp update) {
      if (update.getOuter() || fuseInt8OuterProduct(update) ||
          fuseConvOuterProduct<nn::Conv2dGradWeightOp>(update) ||
          fuseConvOuterProduct<nn::QConv2dGradWeightOp>(update))
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
