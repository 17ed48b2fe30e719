//===- Conv.cpp - convolutions and their gradients -------===//
//
// Convolutions, their weight and input gradients as linalg.generic (the
// loop order walks rows of the input), marked for the kernels of
// runtime/mcutrain_kernels.h.
//
//===----------------------------------------------------------------------===//
#include "passes/LowerToLinalg/Lowering.h"

using namespace mlir;
using namespace mcutrain;
using namespace mcutrain::lowering;

namespace {

/// Input channel of output channel `f` and in-group channel `c`:
/// (f floordiv (F/G)) * (C/G) + c.
AffineExpr groupChannel(AffineExpr f, AffineExpr c, int64_t outPerGroup,
                        int64_t inPerGroup, int64_t group) {
  if (group == 1)
    return c;
  return f.floorDiv(outPerGroup) * inPerGroup + c;
}

/// One input and one output channel per group.
bool isDepthwise(ArrayRef<int64_t> xs, ArrayRef<int64_t> ws, int64_t g) {
  return g > 1 && xs[1] == g && ws[0] == g;
}

Value lowerConv(Lowering &L, nn::Conv2dOp op) {
  auto xs = op.getInput().getType().getShape();
  auto ws = op.getWeight().getType().getShape();
  auto ys = op.getOutput().getType().getShape();
  auto s = op.getStrides(), p = op.getPads(), dl = op.getDilations();
  int64_t g = op.getGroup();
  int64_t hp = xs[2] + p[0] + p[2], wp = xs[3] + p[1] + p[3];
  Value xp =
      L.spread(op.getInput(), {xs[0], xs[1], hp, wp}, p[0], p[1], 1, 1, 0.0f);
  Value init;
  if (Value bias = op.getBias()) {
    // (The broadcast writes every element: no fill before it.)
    init = L.generic(L.empty(ys), bias,
                     {L.map(4, {L.d(1)}), L.b.getMultiDimIdentityMap(4)},
                     {kPar, kPar, kPar, kPar},
                     [](OpBuilder &, Location, ValueRange a) { return a[0]; });
  } else {
    init = L.filled(ys, 0.0f);
  }
  // dims: n f c kh kw oh ow — ow innermost walks rows of x and y; c runs
  // over the channels of f's group.
  auto d = [&](unsigned i) { return L.d(i); };
  AffineMap xMap =
      L.map(7, {d(0), groupChannel(d(1), d(2), ws[0] / g, ws[1], g),
                d(5) * s[0] + d(3) * dl[0], d(6) * s[1] + d(4) * dl[1]});
  AffineMap wMap = L.map(7, {d(1), d(2), d(3), d(4)});
  AffineMap yMap = L.map(7, {d(0), d(1), d(5), d(6)});
  Value y = L.generic(init, ValueRange{xp, op.getWeight()}, {xMap, wMap, yMap},
                      {kPar, kPar, kRed, kRed, kRed, kPar, kPar},
                      [](OpBuilder &ob, Location l, ValueRange a) -> Value {
                        Value m = arith::MulFOp::create(ob, l, a[0], a[1]);
                        return arith::AddFOp::create(ob, l, a[2], m);
                      });
  L.tagKernel(y, train::KernelName::conv2d,
              {xs[0], xs[1], hp, wp, ws[0], ws[1], ws[2], ws[3], ys[2], ys[3],
               s[0], s[1], dl[0], dl[1], g},
              {0, 1, 2});
  SmallVector<int64_t> planeArgs = {xs[0], xs[1], xs[2], xs[3], hp,    wp,
                                    p[0],  p[1],  ws[2], ws[3], ys[2], ys[3],
                                    s[0],  s[1],  dl[0], dl[1]};
  bool planes = isDepthwise(xs, ws, g) && xp != op.getInput();
  if (planes)
    L.tagPlaneKernel(y, train::KernelName::depthwise_conv2d, planeArgs, 0);
  if (op.getBias()) {
    // The variants that start from the bias and end with an activation
    // (use-kernels appends the activation's template argument).
    L.tagFusedKernel(y, kKernelBiasActAttr, train::KernelName::conv2d_bias_act,
                     {xs[0], xs[1], hp, wp, ws[0], ws[1], ws[2], ws[3], ys[2],
                      ys[3], s[0], s[1], dl[0], dl[1], g});
    if (planes)
      L.tagFusedKernel(y, kKernelPlanesBiasActAttr,
                       train::KernelName::depthwise_conv2d_bias_act, planeArgs);
  }
  return y;
}

Value lowerConvGradWeight(Lowering &L, nn::Conv2dGradWeightOp op) {
  auto xs = op.getInput().getType().getShape();
  auto ws = op.getWeightGrad().getType().getShape();
  auto s = op.getStrides(), p = op.getPads(), dl = op.getDilations();
  int64_t g = op.getGroup();
  Value xp = L.spread(op.getInput(),
                      {xs[0], xs[1], xs[2] + p[0] + p[2], xs[3] + p[1] + p[3]},
                      p[0], p[1], 1, 1, 0.0f);
  auto d = [&](unsigned i) { return L.d(i); };
  // dims: f c kh kw n oh ow
  AffineMap dyMap = L.map(7, {d(4), d(0), d(5), d(6)});
  AffineMap xMap =
      L.map(7, {d(4), groupChannel(d(0), d(1), ws[0] / g, ws[1], g),
                d(5) * s[0] + d(2) * dl[0], d(6) * s[1] + d(3) * dl[1]});
  AffineMap wMap = L.map(7, {d(0), d(1), d(2), d(3)});
  Value dw =
      L.generic(L.filled(ws, 0.0f), ValueRange{op.getOutputGrad(), xp},
                {dyMap, xMap, wMap}, {kPar, kPar, kPar, kPar, kRed, kRed, kRed},
                [](OpBuilder &ob, Location l, ValueRange a) -> Value {
                  Value m = arith::MulFOp::create(ob, l, a[0], a[1]);
                  return arith::AddFOp::create(ob, l, a[2], m);
                });
  auto dys = op.getOutputGrad().getType().getShape();
  L.tagKernel(dw, train::KernelName::conv2d_grad_weight,
              {xs[0], xs[1], xs[2] + p[0] + p[2], xs[3] + p[1] + p[3], ws[0],
               ws[1], ws[2], ws[3], dys[2], dys[3], s[0], s[1], dl[0], dl[1],
               g},
              {0, 1, 2});
  if (isDepthwise(xs, ws, g) && xp != op.getInput())
    L.tagPlaneKernel(dw, train::KernelName::depthwise_conv2d_grad_weight,
                     {xs[0], xs[1], xs[2], xs[3], xs[2] + p[0] + p[2],
                      xs[3] + p[1] + p[3], p[0], p[1], ws[2], ws[3], dys[2],
                      dys[3], s[0], s[1], dl[0], dl[1]},
                     1);
  return dw;
}

/// The input gradient's loops are n c fo kh kw and two spatial ones, fo
/// running over the output channels of input channel c's group: f is that
/// output channel, cw c's index within its group, and `window` a shape-only
/// operand (read through kMap) that gives fo, kh and kw their extent.
struct GradInputChannels {
  AffineExpr f, cw;
  Value window;
  AffineMap kMap;
};
GradInputChannels gradInputChannels(Lowering &L, ArrayRef<int64_t> ws,
                                    int64_t g) {
  int64_t outPerGroup = ws[0] / g;
  AffineExpr c = L.d(1), fo = L.d(2);
  return {
      g == 1 ? fo : c.floorDiv(ws[1]) * outPerGroup + fo,
      g == 1 ? c : c % ws[1],
      tensor::EmptyOp::create(L.b, L.loc, {outPerGroup, ws[2], ws[3]}, L.f32()),
      L.map(7, {L.d(2), L.d(3), L.d(4)})};
}

/// Strided convolutions: dx as the adjoint of the forward pass, every dy
/// value times every tap added at the input position the forward pass read
/// it from (on the padded input, then cropped). Correlating a zero-inserted
/// dy instead would multiply by S*S times as many values, most of them
/// inserted zeros, and hold that S*S-times larger dy in the arena.
Value lowerStridedConvGradInput(Lowering &L, nn::Conv2dGradInputOp op) {
  auto dys = op.getOutputGrad().getType().getShape();
  auto ws = op.getWeight().getType().getShape();
  auto xs = op.getInputGrad().getType().getShape();
  auto s = op.getStrides(), p = op.getPads(), dl = op.getDilations();
  int64_t g = op.getGroup();
  SmallVector<int64_t> xps = {xs[0], xs[1], xs[2] + p[0] + p[2],
                              xs[3] + p[1] + p[3]};
  auto d = [&](unsigned i) { return L.d(i); };
  // dims: n c fo kh kw oh ow — every dimension but n and c revisits
  // elements of dx, so they are reductions.
  GradInputChannels ch = gradInputChannels(L, ws, g);
  AffineMap dyMap = L.map(7, {d(0), ch.f, d(5), d(6)});
  AffineMap wMap = L.map(7, {ch.f, ch.cw, d(3), d(4)});
  AffineMap xMap = L.map(
      7, {d(0), d(1), d(5) * s[0] + d(3) * dl[0], d(6) * s[1] + d(4) * dl[1]});
  Value dxp = L.generic(
      L.filled(xps, 0.0f),
      ValueRange{op.getOutputGrad(), op.getWeight(), ch.window},
      {dyMap, wMap, ch.kMap, xMap}, {kPar, kPar, kRed, kRed, kRed, kRed, kRed},
      [](OpBuilder &ob, Location l, ValueRange a) -> Value {
        Value m = arith::MulFOp::create(ob, l, a[0], a[1]);
        return arith::AddFOp::create(ob, l, a[3], m);
      });
  L.tagKernel(dxp, train::KernelName::conv2d_grad_input_strided,
              {xs[0], xs[1], xps[2], xps[3], ws[0], ws[1], ws[2], ws[3], dys[2],
               dys[3], s[0], s[1], dl[0], dl[1], g},
              {0, 1, 3});
  if (ArrayRef<int64_t>(xps) == xs)
    return dxp;
  // The crop as a generate: a generic's input indexed by a plain loop
  // (no top or left pad) would have to be the loop's size.
  auto crop = tensor::GenerateOp::create(
      L.b, L.loc, L.tensorOf(xs), ValueRange{},
      [&](OpBuilder &ob, Location l, ValueRange iv) {
        auto shifted = [&](Value i, int64_t by) -> Value {
          if (by == 0)
            return i;
          return arith::AddIOp::create(
              ob, l, i, arith::ConstantIndexOp::create(ob, l, by));
        };
        Value e = tensor::ExtractOp::create(ob, l, dxp,
                                            ValueRange{iv[0], iv[1],
                                                       shifted(iv[2], p[0]),
                                                       shifted(iv[3], p[1])});
        tensor::YieldOp::create(ob, l, e);
      });
  return crop.getResult();
}

/// dx = correlation of the zero-inserted, padded dy with the flipped kernel
/// (stride 1, and depthwise layers, one output channel per group: there the
/// scatter's short strided rows cost more than the products with inserted
/// zeros, 22-29 us against 16-20 us on a 32-channel 32x32 layer).
Value lowerConvGradInput(Lowering &L, nn::Conv2dGradInputOp op) {
  auto dys = op.getOutputGrad().getType().getShape();
  auto ws = op.getWeight().getType().getShape();
  auto xs = op.getInputGrad().getType().getShape();
  auto s = op.getStrides(), p = op.getPads(), dl = op.getDilations();
  bool oneOutputPerGroup = ws[0] == (int64_t)op.getGroup() && op.getGroup() > 1;
  if ((s[0] != 1 || s[1] != 1) && !oneOutputPerGroup)
    return lowerStridedConvGradInput(L, op);
  int64_t span0 = (ws[2] - 1) * dl[0], span1 = (ws[3] - 1) * dl[1];
  Value dyp = L.spread(op.getOutputGrad(),
                       {dys[0], dys[1], xs[2] + span0, xs[3] + span1},
                       span0 - p[0], span1 - p[1], s[0], s[1], 0.0f);
  int64_t g = op.getGroup();
  auto d = [&](unsigned i) { return L.d(i); };
  // dims: n c fo kh kw h w  (kh, kw index the flipped kernel)
  GradInputChannels ch = gradInputChannels(L, ws, g);
  AffineMap dyMap =
      L.map(7, {d(0), ch.f, d(5) + d(3) * dl[0], d(6) + d(4) * dl[1]});
  AffineMap wMap =
      L.map(7, {ch.f, ch.cw, L.b.getAffineConstantExpr(ws[2] - 1) - d(3),
                L.b.getAffineConstantExpr(ws[3] - 1) - d(4)});
  AffineMap xMap = L.map(7, {d(0), d(1), d(5), d(6)});
  Value dx = L.generic(
      L.filled(xs, 0.0f), ValueRange{dyp, op.getWeight(), ch.window},
      {dyMap, wMap, ch.kMap, xMap}, {kPar, kPar, kRed, kRed, kRed, kPar, kPar},
      [](OpBuilder &ob, Location l, ValueRange a) -> Value {
        Value m = arith::MulFOp::create(ob, l, a[0], a[1]);
        return arith::AddFOp::create(ob, l, a[3], m);
      });
  L.tagKernel(dx, train::KernelName::conv2d_grad_input,
              {xs[0], xs[1], xs[2], xs[3], ws[0], ws[1], ws[2], ws[3],
               xs[2] + span0, xs[3] + span1, dl[0], dl[1], g},
              {0, 1, 3});
  SmallVector<int64_t> planeArgs = {
      xs[0],  xs[1],  xs[2],         xs[3],         ws[2],        ws[3],
      dys[2], dys[3], xs[2] + span0, xs[3] + span1, span0 - p[0], span1 - p[1],
      s[0],   s[1],   dl[0],         dl[1]};
  bool planes = isDepthwise(xs, ws, g) && dyp != op.getOutputGrad();
  if (planes)
    L.tagPlaneKernel(dx, train::KernelName::depthwise_conv2d_grad_input,
                     planeArgs, 0);
  // The variants that end with the gradient of the activation the layer's
  // input came from (use-kernels appends its template argument).
  L.tagFusedKernel(dx, kKernelGradActAttr,
                   train::KernelName::conv2d_grad_input_act,
                   {xs[0], xs[1], xs[2], xs[3], ws[0], ws[1], ws[2], ws[3],
                    xs[2] + span0, xs[3] + span1, dl[0], dl[1], g});
  if (planes)
    L.tagFusedKernel(dx, kKernelPlanesGradActAttr,
                     train::KernelName::depthwise_conv2d_grad_input_act,
                     planeArgs);
  return dx;
}

/// nn.conv2d_grad_input by another name (lowered in turn).
Value lowerConvTranspose(Lowering &L, nn::ConvTranspose2dOp op) {
  return nn::Conv2dGradInputOp::create(
      L.b, L.loc, op.getOutput().getType(), op.getInput(), op.getWeight(),
      op.getStridesAttr(), op.getPadsAttr(), op.getDilationsAttr(),
      op.getGroupAttr());
}

} // namespace

void mcutrain::lowering::populateConvPatterns(RewritePatternSet &patterns) {
  addLowering<nn::ConvTranspose2dOp>(patterns, lowerConvTranspose);
  addLowering<nn::Conv2dOp>(patterns, lowerConv);
  addLowering<nn::Conv2dGradInputOp>(patterns, lowerConvGradInput);
  addLowering<nn::Conv2dGradWeightOp>(patterns, lowerConvGradWeight);
}
