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
// With plain SGD the same holds at rank K <= 16: a batch-K Linear layer's
// gradient dy^T x (K rows each), or a 1 x 1 convolution's on a plane of
// K pixels (dy and x transposed to pixel rows), formed in the update's one
// pass over the weight. EfficientNet-B0's 2 x 2 stages at 64 x 64 stored,
// zero-filled, checked and re-read 4 M gradients per step that way.
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

/// The largest rank K of a gradient formed in its update: K products per
/// weight stay cheaper than storing, zero-filling and re-reading it.
constexpr int64_t kMaxRank = 16;

/// Where a rank-K (K > 1) gradient may move into its update: plain SGD
/// without weight decay on a dense float parameter (the runtime kernel's
/// case; another optimizer's state would be updated in loops).
bool takesLowRank(train::UpdateOp update) {
  train::OptimizerAttr hp = update.getOptimizer();
  return hp.getKind() == train::OptimizerKind::sgd &&
         hp.getWeightDecay().isZero() && !update.getChannels() &&
         !update.getWeightTypeAttr();
}

/// The Gemm of `grad` when it is a product A^T B (A K x M, B K x N, no C,
/// alpha 1) that only `update` uses, of rank K = 1 or (takesLowRank) up to
/// kMaxRank; else null.
nn::GemmOp outerProductGradient(train::UpdateOp update) {
  auto gemm = update.getGrad().getDefiningOp<nn::GemmOp>();
  if (!gemm || !gemm->hasOneUse() || gemm.getC() || !gemm.getTransA() ||
      gemm.getTransB() || gemm.getAlpha().convertToFloat() != 1.0f)
    return {};
  int64_t k = cast<RankedTensorType>(gemm.getA().getType()).getDimSize(0);
  if (k == 1 || (k <= kMaxRank && takesLowRank(update)))
    return gemm;
  return {};
}

/// `v` (N x C x H x W) as K = N*H*W pixel rows of C values, [K, C]: a
/// reshape where the plane is one pixel, else a transpose of [N, C, H*W].
Value pixelRows(OpBuilder &b, Operation *like, Value v) {
  auto t = cast<RankedTensorType>(v.getType());
  int64_t n = t.getDimSize(0), c = t.getDimSize(1);
  int64_t p = t.getDimSize(2) * t.getDimSize(3);
  Type f32 = t.getElementType();
  auto mark = [&](Operation *op) {
    op->setDiscardableAttrs(like->getDiscardableAttrDictionary());
    return op->getResult(0);
  };
  auto reshape = [&](Value x, ArrayRef<int64_t> shape) {
    return mark(nn::ReshapeOp::create(b, like->getLoc(),
                                      RankedTensorType::get(shape, f32), x));
  };
  if (p == 1)
    return reshape(v, {n, c});
  Value planes = reshape(v, {n, c, p});
  Value rows = mark(nn::TransposeOp::create(b, like->getLoc(), planes,
                                            ArrayRef<int64_t>{0, 2, 1}));
  return reshape(rows, {n * p, c});
}

/// A 1 x 1 convolution (stride 1, group 1, no padding, float) on a plane
/// of K = N*H*W pixels, 1 < K <= kMaxRank, with plain SGD: its weight
/// gradient [F, C, 1, 1] is the rank-K product of the error's and the
/// input's pixel rows.
bool fuseConvLowRank(train::UpdateOp update) {
  auto grad = update.getGrad().getDefiningOp<nn::Conv2dGradWeightOp>();
  if (!grad || !grad->hasOneUse() || grad.getGroup() != 1 ||
      !takesLowRank(update) ||
      llvm::any_of(grad.getPads(), [](int64_t p) { return p != 0; }) ||
      llvm::any_of(grad.getStrides(), [](int64_t s) { return s != 1; }))
    return false;
  auto ws = grad.getWeightGrad().getType().getShape();
  auto dy = grad.getOutputGrad().getType().getShape();
  auto x = grad.getInput().getType().getShape();
  int64_t k = dy[0] * dy[2] * dy[3];
  if (ws[2] != 1 || ws[3] != 1 || k <= 1 || k > kMaxRank ||
      dy.drop_front(2) != x.drop_front(2))
    return false;
  OpBuilder b(grad);
  update.getGradMutable().assign(pixelRows(b, grad, grad.getOutputGrad()));
  update.getOuterMutable().assign(pixelRows(b, grad, grad.getInput()));
  grad.erase();
  return true;
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
          fuseConvOuterProduct<nn::QConv2dGradWeightOp>(update) ||
          fuseConvLowRank(update))
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
