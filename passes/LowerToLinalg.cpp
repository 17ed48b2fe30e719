//===- LowerToLinalg.cpp - nn/train tensor ops → linalg and tensor ops ----===//
//
// Contractions and elementwise ops become linalg.generic with the loop order
// chosen for unit-stride inner loops (convert-linalg-to-loops keeps the
// order of the iteration dimensions). Index-irregular ops (padding, strided
// transposed convolution, pooling gradients) become tensor.generate with
// branch-free bodies: clamped loads plus selects. Parameters become
// memref.globals read through bufferization.to_tensor (no copy).
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"

#include "mlir/Dialect/MLProgram/IR/MLProgram.h"
#include "mlir/IR/AffineExpr.h"
#include "mlir/IR/PatternMatch.h"
#include "llvm/ADT/TypeSwitch.h"

namespace mcutrain {
#define GEN_PASS_DEF_LOWERTOLINALGPASS
#include "passes/Passes.h.inc"
} // namespace mcutrain

using namespace mlir;
using namespace mcutrain;
using utils::IteratorType;

namespace {

constexpr IteratorType kPar = IteratorType::parallel;
constexpr IteratorType kRed = IteratorType::reduction;

using BodyFn = function_ref<Value(OpBuilder &, Location, ValueRange)>;

/// Small builder helpers shared by all op lowerings.
struct Lowering {
  OpBuilder &b;
  Location loc;

  Type f32() { return b.getF32Type(); }
  RankedTensorType tensorOf(ArrayRef<int64_t> shape, Type element = {}) {
    return RankedTensorType::get(shape, element ? element : f32());
  }
  /// `v` as a constant of `type`: f32, or an integer clamped to the type's
  /// range (so -inf/+inf clip bounds become the type's min/max).
  Value typedConstant(OpBuilder &ob, Type type, double v,
                      bool isUnsigned = false) {
    if (type.isF32())
      return f32c(ob, (float)v);
    unsigned bits = type.getIntOrFloatBitWidth();
    APInt value;
    if (isUnsigned) {
      APInt hi = APInt::getMaxValue(bits);
      value = v <= 0                         ? APInt(bits, 0)
              : v >= hi.roundToDouble(false) ? hi
                                             : APInt(bits, (uint64_t)v);
    } else {
      APInt lo = APInt::getSignedMinValue(bits);
      APInt hi = APInt::getSignedMaxValue(bits);
      value = v <= lo.roundToDouble(true)   ? lo
              : v >= hi.roundToDouble(true) ? hi
                                            : APInt(bits, (int64_t)v,
                                                    /*isSigned=*/true,
                                                    /*implicitTrunc=*/true);
    }
    return arith::ConstantOp::create(ob, loc, IntegerAttr::get(type, value));
  }
  /// x > y for f32, or signed/unsigned integers.
  Value greater(OpBuilder &ob, Value x, Value y, bool isUnsigned) {
    if (x.getType().isF32())
      return arith::CmpFOp::create(ob, loc, arith::CmpFPredicate::OGT, x, y);
    return arith::CmpIOp::create(ob, loc,
                                 isUnsigned ? arith::CmpIPredicate::ugt
                                            : arith::CmpIPredicate::sgt,
                                 x, y);
  }
  Value f32c(OpBuilder &ob, float v) {
    return arith::ConstantOp::create(ob, loc, ob.getF32FloatAttr(v));
  }
  Value i32c(OpBuilder &ob, int64_t v) {
    return arith::ConstantOp::create(ob, loc, ob.getI32IntegerAttr(v));
  }
  Value empty(ArrayRef<int64_t> shape) {
    return tensor::EmptyOp::create(b, loc, shape, f32());
  }
  Value filled(ArrayRef<int64_t> shape, float v) {
    return linalg::FillOp::create(b, loc, f32c(b, v), empty(shape))
        .getResult(0);
  }
  Value generic(Value init, ValueRange ins, ArrayRef<AffineMap> maps,
                ArrayRef<IteratorType> iters, BodyFn body) {
    auto op = linalg::GenericOp::create(
        b, loc, init.getType(), ins, init, maps, iters,
        [&](OpBuilder &ob, Location l, ValueRange args) {
          linalg::YieldOp::create(ob, l, body(ob, l, args));
        });
    return op.getResult(0);
  }
  /// A kernel call with its template arguments (TrainKernels.td).
  train::KernelAttr kernel(train::KernelName name, ArrayRef<int64_t> args) {
    return train::KernelAttr::get(b.getContext(), name, args);
  }
  /// Marks the linalg.generic that computes `result` as the runtime kernel
  /// call `callee`, with the generic's operands `operands` (inputs then the
  /// output) and then `scalars`; use-kernels makes the call once the
  /// operands are buffers. Kernels with a trailing `bool Overwrite` template
  /// parameter (`overwrites`) may call that variant, for outputs that need
  /// no initial value.
  void tagKernel(Value result, train::KernelName name, ArrayRef<int64_t> args,
                 ArrayRef<int64_t> operands, ArrayRef<float> scalars = {},
                 bool overwrites = false) {
    Operation *op = result.getDefiningOp();
    if (overwrites)
      op->setAttr(kKernelOverwriteAttr, b.getUnitAttr());
    op->setAttr(kKernelAttr, kernel(name, args));
    op->setAttr(kKernelOperandsAttr, b.getDenseI64ArrayAttr(operands));
    if (!scalars.empty())
      op->setAttr(kKernelScalarsAttr, b.getDenseF32ArrayAttr(scalars));
  }
  /// Names the plane-at-a-time variant of the kernel `result` is tagged
  /// with (see kKernelPlanesAttr), when its operand `spreadOperand` is a
  /// spread copy (a fill and a copy generic; not a generate).
  void tagPlaneKernel(Value result, train::KernelName name,
                      ArrayRef<int64_t> args, int64_t spreadOperand) {
    Operation *op = result.getDefiningOp();
    if (!op->getOperand(spreadOperand).getDefiningOp<linalg::GenericOp>())
      return;
    op->setAttr(kKernelPlanesAttr, kernel(name, args));
    op->setAttr(kKernelSpreadOperandAttr, b.getI64IntegerAttr(spreadOperand));
  }
  /// Names a fused variant (`mark`) of the kernel `result` is tagged with:
  /// `name` with `args` and Act = none, which use-kernels sets to the
  /// activation it fuses.
  void tagFusedKernel(Value result, StringRef mark, train::KernelName name,
                      ArrayRef<int64_t> args) {
    SmallVector<int64_t> withAct(args);
    withAct.push_back(static_cast<int64_t>(train::FusedActivation::none));
    result.getDefiningOp()->setAttr(mark, kernel(name, withAct));
  }
  /// Marks the elementwise generic that computes `result` as the
  /// activation (`mark` kActivationAttr) or activation gradient
  /// (kActivationGradAttr) of `kind` (relu, or clip to [lo, hi]), which
  /// use-kernels may fuse into the convolution that produces its input.
  void tagActivation(Value result, StringRef mark, train::FusedActivation kind,
                     float lo, float hi) {
    Operation *op = result.getDefiningOp();
    op->setAttr(mark, train::FusedActivationAttr::get(b.getContext(), kind));
    op->setAttr(kActivationBoundsAttr,
                b.getDenseF32ArrayAttr(ArrayRef<float>{lo, hi}));
  }
  AffineMap map(unsigned dims, ArrayRef<AffineExpr> exprs) {
    return AffineMap::get(dims, 0, exprs, b.getContext());
  }
  AffineExpr d(unsigned i) { return b.getAffineDimExpr(i); }

  // i32 index arithmetic inside generate bodies: signed, and 32-bit on MCUs.
  Value toI32(OpBuilder &ob, Value idx) {
    return arith::IndexCastOp::create(ob, loc, ob.getI32Type(), idx);
  }
  Value toIndex(OpBuilder &ob, Value v) {
    return arith::IndexCastOp::create(ob, loc, ob.getIndexType(), v);
  }
  Value cmp(OpBuilder &ob, arith::CmpIPredicate p, Value x, Value y) {
    return arith::CmpIOp::create(ob, loc, p, x, y);
  }
  Value both(OpBuilder &ob, Value x, Value y) {
    return arith::AndIOp::create(ob, loc, x, y);
  }
  Value clamp(OpBuilder &ob, Value v, int64_t hi) {
    Value zero = i32c(ob, 0), top = i32c(ob, hi);
    Value lo = arith::SelectOp::create(
        ob, loc, cmp(ob, arith::CmpIPredicate::slt, v, zero), zero, v);
    return arith::SelectOp::create(
        ob, loc, cmp(ob, arith::CmpIPredicate::sgt, lo, top), top, lo);
  }

  /// Input row o * stride + shift of a pooling window (for output row o),
  /// clamped into [0, n); `valid` says whether it was inside.
  Value windowInput(OpBuilder &ob, Value o, int64_t shift, int64_t stride,
                    int64_t n, Value &valid) {
    Value r = arith::AddIOp::create(
        ob, loc, arith::MulIOp::create(ob, loc, toI32(ob, o), i32c(ob, stride)),
        i32c(ob, shift));
    valid = both(ob, cmp(ob, arith::CmpIPredicate::sge, r, i32c(ob, 0)),
                 cmp(ob, arith::CmpIPredicate::slt, r, i32c(ob, n)));
    return toIndex(ob, clamp(ob, r, n - 1));
  }

  /// Element (kh, kw) of the pooling window of output (n, c, oh, ow) = iv
  /// in the unpadded NCHW `x`, read at a clamped index; `inside` says
  /// whether it lies in the input (not in the padding). Also returns the
  /// input row and column.
  Value windowElement(OpBuilder &ob, Value x, ValueRange iv, int64_t kh,
                      int64_t kw, ArrayRef<int64_t> s, ArrayRef<int64_t> p,
                      ArrayRef<int64_t> dl, Value &inside, Value &hh,
                      Value &ww) {
    auto xs = cast<RankedTensorType>(x.getType()).getShape();
    Value v0, v1;
    hh = windowInput(ob, iv[2], kh * dl[0] - p[0], s[0], xs[2], v0);
    ww = windowInput(ob, iv[3], kw * dl[1] - p[1], s[1], xs[3], v1);
    inside = both(ob, v0, v1);
    return tensor::ExtractOp::create(ob, loc, x,
                                     ValueRange{iv[0], iv[1], hh, ww});
  }

  /// Source row for position `i` of a zero-inserted (stride `s`) and shifted
  /// (by `shift`) copy of an axis of length `n`; sets `valid`.
  Value sourceIndex(OpBuilder &ob, Value i, int64_t shift, int64_t s, int64_t n,
                    Value &valid) {
    Value r = arith::SubIOp::create(ob, loc, i, i32c(ob, shift));
    valid = cmp(ob, arith::CmpIPredicate::sge, r, i32c(ob, 0));
    if (s != 1) {
      Value rem = arith::RemSIOp::create(ob, loc, r, i32c(ob, s));
      valid =
          both(ob, valid, cmp(ob, arith::CmpIPredicate::eq, rem, i32c(ob, 0)));
      r = arith::DivSIOp::create(ob, loc, r, i32c(ob, s));
    }
    valid = both(ob, valid, cmp(ob, arith::CmpIPredicate::slt, r, i32c(ob, n)));
    return clamp(ob, r, n - 1);
  }

  /// out[n,c,i,j] = x[n,c,(i-shift0)/s0,(j-shift1)/s1] where that is a whole
  /// in-range index, else `fill`. Covers padding (s = 1) and the
  /// zero-insertion of a strided transposed convolution.
  Value spread(Value x, ArrayRef<int64_t> outShape, int64_t shift0,
               int64_t shift1, int64_t s0, int64_t s1, double fill,
               bool isUnsigned = false) {
    auto xt = cast<RankedTensorType>(x.getType());
    auto xs = xt.getShape();
    if (shift0 == 0 && shift1 == 0 && s0 == 1 && s1 == 1 &&
        ArrayRef<int64_t>(outShape) == xs)
      return x;
    Type et = xt.getElementType();
    if (shift0 >= 0 && shift1 >= 0 && xs[0] == outShape[0] &&
        xs[1] == outShape[1] && shift0 + (xs[2] - 1) * s0 < outShape[2] &&
        shift1 + (xs[3] - 1) * s1 < outShape[3] &&
        // linalg takes an output dimension indexed by a plain loop to be
        // that loop's size.
        (s0 != 1 || shift0 != 0 || xs[2] == outShape[2]) &&
        (s1 != 1 || shift1 != 0 || xs[3] == outShape[3])) {
      // Every source element lands inside: fill, then one copy over the
      // source's elements to their (strided, shifted) places, instead of a
      // division and a bounds check per output element (MobileNetV2's
      // zero-inserted gradients took 5% of its step that way).
      Value init =
          linalg::FillOp::create(
              b, loc, typedConstant(b, et, fill, isUnsigned),
              tensor::EmptyOp::create(b, loc, outShape, et).getResult())
              .getResult(0);
      return generic(
          init, ValueRange{x},
          {map(4, {d(0), d(1), d(2), d(3)}),
           map(4, {d(0), d(1), d(2) * s0 + shift0, d(3) * s1 + shift1})},
          {kPar, kPar, kPar, kPar},
          [](OpBuilder &, Location, ValueRange a) -> Value { return a[0]; });
    }
    auto gen = tensor::GenerateOp::create(
        b, loc, tensorOf(outShape, et), ValueRange{},
        [&](OpBuilder &ob, Location l, ValueRange iv) {
          Value v0, v1;
          Value r0 = sourceIndex(ob, toI32(ob, iv[2]), shift0, s0, xs[2], v0);
          Value r1 = sourceIndex(ob, toI32(ob, iv[3]), shift1, s1, xs[3], v1);
          Value e = tensor::ExtractOp::create(
              ob, l, x,
              ValueRange{iv[0], iv[1], toIndex(ob, r0), toIndex(ob, r1)});
          Value v =
              arith::SelectOp::create(ob, l, both(ob, v0, v1), e,
                                      typedConstant(ob, et, fill, isUnsigned));
          tensor::YieldOp::create(ob, l, v);
        });
    return gen.getResult();
  }

  /// Any static reshape: collapse to 1-D, expand to the target.
  Value reshape(Value x, RankedTensorType to) {
    auto from = cast<RankedTensorType>(x.getType());
    if (from == to)
      return x;
    Value flat = x;
    if (from.getRank() != 1) {
      ReassociationIndices all;
      for (int64_t i = 0; i < from.getRank(); ++i)
        all.push_back(i);
      flat = tensor::CollapseShapeOp::create(
          b, loc, tensorOf({from.getNumElements()}, from.getElementType()), x,
          ArrayRef<ReassociationIndices>{all});
    }
    if (to.getRank() == 1)
      return flat;
    if (to.getRank() == 0)
      return tensor::CollapseShapeOp::create(b, loc, to, flat,
                                             ArrayRef<ReassociationIndices>{});
    ReassociationIndices all;
    for (int64_t i = 0; i < to.getRank(); ++i)
      all.push_back(i);
    return tensor::ExpandShapeOp::create(b, loc, to, flat,
                                         ArrayRef<ReassociationIndices>{all});
  }

  /// Map of an operand broadcast (numpy rules) into an iteration space of
  /// rank `rank` whose dims are the result dims.
  AffineMap broadcastMap(ArrayRef<int64_t> operand, ArrayRef<int64_t> result) {
    SmallVector<AffineExpr> exprs;
    size_t off = result.size() - operand.size();
    for (size_t i = 0; i < operand.size(); ++i)
      exprs.push_back(operand[i] == 1 && result[i + off] != 1
                          ? b.getAffineConstantExpr(0)
                          : d(i + off));
    return map(result.size(), exprs);
  }
};

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

/// Elementwise binary op with numpy broadcasting.
template <typename BinaryOp, typename FloatOp, typename IntOp,
          typename UnsignedIntOp = IntOp>
Value lowerBinary(Lowering &L, BinaryOp op) {
  auto yt = op.getOutput().getType();
  auto ys = yt.getShape();
  SmallVector<IteratorType> iters(ys.size(), kPar);
  bool isUnsigned = op.getIsUnsigned();
  return L.generic(tensor::EmptyOp::create(L.b, L.loc, ys, yt.getElementType()),
                   ValueRange{op.getLhs(), op.getRhs()},
                   {L.broadcastMap(op.getLhs().getType().getShape(), ys),
                    L.broadcastMap(op.getRhs().getType().getShape(), ys),
                    L.b.getMultiDimIdentityMap(ys.size())},
                   iters,
                   [&](OpBuilder &ob, Location l, ValueRange a) -> Value {
                     if (a[0].getType().isF32())
                       return FloatOp::create(ob, l, a[0], a[1]);
                     if (isUnsigned)
                       return UnsignedIntOp::create(ob, l, a[0], a[1]);
                     return IntOp::create(ob, l, a[0], a[1]);
                   });
}

/// Elementwise over same-shaped operands.
Value elementwise(Lowering &L, ValueRange ins, BodyFn body) {
  auto ty = cast<RankedTensorType>(ins[0].getType());
  unsigned rank = ty.getRank();
  SmallVector<AffineMap> maps(ins.size() + 1, L.b.getMultiDimIdentityMap(rank));
  SmallVector<IteratorType> iters(rank, kPar);
  return L.generic(
      tensor::EmptyOp::create(L.b, L.loc, ty.getShape(), ty.getElementType()),
      ins, maps, iters, body);
}

Value positive(OpBuilder &ob, Location l, Value x) {
  Value zero = arith::ConstantOp::create(ob, l, ob.getF32FloatAttr(0.0f));
  return arith::CmpFOp::create(ob, l, arith::CmpFPredicate::OGT, x, zero);
}

/// Extra end padding so ceil_mode's last window is in bounds.
int64_t ceilExtra(int64_t in, int64_t out, int64_t k, int64_t s, int64_t d,
                  int64_t padBegin, int64_t padEnd) {
  return std::max<int64_t>(0, (out - 1) * s + (k - 1) * d + 1 -
                                  (in + padBegin + padEnd));
}

Value lowerMaxPool(Lowering &L, nn::MaxPool2dOp op) {
  auto xs = op.getInput().getType().getShape();
  auto ys = op.getOutput().getType().getShape();
  auto k = op.getKernel(), s = op.getStrides(), p = op.getPads();
  auto dl = op.getDilations();
  Type et = op.getInput().getType().getElementType();
  bool isUnsigned = op.getIsUnsigned();
  // -inf, or the integer type's minimum (typedConstant clamps).
  double lowest = -std::numeric_limits<double>::infinity();
  int64_t eh = ceilExtra(xs[2], ys[2], k[0], s[0], dl[0], p[0], p[2]);
  int64_t ew = ceilExtra(xs[3], ys[3], k[1], s[1], dl[1], p[1], p[3]);
  Value xp = L.spread(
      op.getInput(),
      {xs[0], xs[1], xs[2] + p[0] + p[2] + eh, xs[3] + p[1] + p[3] + ew}, p[0],
      p[1], 1, 1, lowest, isUnsigned);
  auto d = [&](unsigned i) { return L.d(i); };
  // dims: n c kh kw oh ow
  AffineMap xMap = L.map(
      6, {d(0), d(1), d(4) * s[0] + d(2) * dl[0], d(5) * s[1] + d(3) * dl[1]});
  AffineMap kMap = L.map(6, {d(2), d(3)});
  AffineMap yMap = L.map(6, {d(0), d(1), d(4), d(5)});
  // The kernel extent comes from a shape-only operand.
  Value window = tensor::EmptyOp::create(L.b, L.loc, op.getKernel(), L.f32());
  Value init = linalg::FillOp::create(
                   L.b, L.loc, L.typedConstant(L.b, et, lowest, isUnsigned),
                   tensor::EmptyOp::create(L.b, L.loc, ys, et).getResult())
                   .getResult(0);
  return L.generic(init, ValueRange{xp, window}, {xMap, kMap, yMap},
                   {kPar, kPar, kRed, kRed, kPar, kPar},
                   [&](OpBuilder &ob, Location l, ValueRange a) -> Value {
                     Value gt = L.greater(ob, a[0], a[2], isUnsigned);
                     return arith::SelectOp::create(ob, l, gt, a[0], a[2]);
                   });
}

/// Number of input elements a window covers (count_include_pad = false), or
/// the kernel area, as f32 for output position (oh, ow).
Value windowCount(Lowering &L, OpBuilder &ob, Value oh, Value ow,
                  ArrayRef<int64_t> k, ArrayRef<int64_t> s, ArrayRef<int64_t> p,
                  ArrayRef<int64_t> xs, bool includePad) {
  Location l = L.loc;
  // Window [o*s - p, o*s - p + k) clipped to the input, or to the padded
  // input when pads count (ceil_mode's overhang never counts).
  auto extent = [&](Value o, int axis) {
    int64_t lo = includePad ? -p[axis] : 0;
    int64_t hi = xs[2 + axis] + (includePad ? p[axis + 2] : 0);
    Value start = arith::SubIOp::create(
        ob, l,
        arith::MulIOp::create(ob, l, L.toI32(ob, o), L.i32c(ob, s[axis])),
        L.i32c(ob, p[axis]));
    Value end = arith::AddIOp::create(ob, l, start, L.i32c(ob, k[axis]));
    Value low = arith::SelectOp::create(
        ob, l, L.cmp(ob, arith::CmpIPredicate::slt, start, L.i32c(ob, lo)),
        L.i32c(ob, lo), start);
    Value high = arith::SelectOp::create(
        ob, l, L.cmp(ob, arith::CmpIPredicate::sgt, end, L.i32c(ob, hi)),
        L.i32c(ob, hi), end);
    return arith::SubIOp::create(ob, l, high, low);
  };
  Value n = arith::MulIOp::create(ob, l, extent(oh, 0), extent(ow, 1));
  return arith::SIToFPOp::create(ob, l, ob.getF32Type(), n);
}

/// Divides each element of a pooled tensor by its window's count.
Value divideByCount(Lowering &L, Value t, ArrayRef<int64_t> k,
                    ArrayRef<int64_t> s, ArrayRef<int64_t> p,
                    ArrayRef<int64_t> xs, bool includePad) {
  return elementwise(L, t, [&](OpBuilder &ob, Location l, ValueRange a) {
    Value oh = linalg::IndexOp::create(ob, l, 2);
    Value ow = linalg::IndexOp::create(ob, l, 3);
    Value cnt = windowCount(L, ob, oh, ow, k, s, p, xs, includePad);
    return arith::DivFOp::create(ob, l, a[0], cnt).getResult();
  });
}

Value lowerAvgPool(Lowering &L, nn::AvgPool2dOp op) {
  auto xs = op.getInput().getType().getShape();
  auto ys = op.getOutput().getType().getShape();
  auto k = op.getKernel(), s = op.getStrides(), p = op.getPads();
  int64_t eh = ceilExtra(xs[2], ys[2], k[0], s[0], 1, p[0], p[2]);
  int64_t ew = ceilExtra(xs[3], ys[3], k[1], s[1], 1, p[1], p[3]);
  Value xp = L.spread(
      op.getInput(),
      {xs[0], xs[1], xs[2] + p[0] + p[2] + eh, xs[3] + p[1] + p[3] + ew}, p[0],
      p[1], 1, 1, 0.0f);
  auto d = [&](unsigned i) { return L.d(i); };
  AffineMap xMap =
      L.map(6, {d(0), d(1), d(4) * s[0] + d(2), d(5) * s[1] + d(3)});
  AffineMap kMap = L.map(6, {d(2), d(3)});
  AffineMap yMap = L.map(6, {d(0), d(1), d(4), d(5)});
  Value window = tensor::EmptyOp::create(L.b, L.loc, k, L.f32());
  Value sum =
      L.generic(L.filled(ys, 0.0f), ValueRange{xp, window}, {xMap, kMap, yMap},
                {kPar, kPar, kRed, kRed, kPar, kPar},
                [](OpBuilder &ob, Location l, ValueRange a) -> Value {
                  return arith::AddFOp::create(ob, l, a[0], a[2]);
                });
  return divideByCount(L, sum, k, s, p, xs, op.getCountIncludePad());
}

/// dx[n,c,h,w] = sum over the windows (oh, ow) that contain (h, w) of
/// contrib(oh, ow, window position as f32); kernels are small and static,
/// so the window positions are unrolled. Windows that do not overlap
/// (stride >= extent, e.g. a global average pool) hold each position at
/// most once: then its one window is computed instead of trying them all
/// (DS-CNN's 25x5 global pool spent 125 tries per position, 30% of a step).
Value windowGather(
    Lowering &L, ArrayRef<int64_t> xs, ArrayRef<int64_t> ys,
    ArrayRef<int64_t> k, ArrayRef<int64_t> s, ArrayRef<int64_t> p,
    ArrayRef<int64_t> dl,
    function_ref<Value(OpBuilder &, ValueRange, Value, Value, Value)> contrib) {
  // A single window along a dimension (a global pool, whatever its stride)
  // is disjoint too: its stride can be taken as its extent.
  int64_t extent[2] = {(k[0] - 1) * dl[0] + 1, (k[1] - 1) * dl[1] + 1};
  int64_t st[2] = {ys[2] == 1 ? std::max(s[0], extent[0]) : s[0],
                   ys[3] == 1 ? std::max(s[1], extent[1]) : s[1]};
  bool disjoint = st[0] >= extent[0] && st[1] >= extent[1];
  auto gen = tensor::GenerateOp::create(
      L.b, L.loc, L.tensorOf(xs), ValueRange{},
      [&](OpBuilder &ob, Location l, ValueRange iv) {
        Value h = L.toI32(ob, iv[2]), w = L.toI32(ob, iv[3]);
        if (disjoint) {
          // Row h + pad lies in window (h + pad) / s at offset (h + pad) % s,
          // kernel row offset / dilation when that divides.
          auto own = [&](Value i, int64_t pad, int64_t stride, int64_t kk,
                         int64_t d, int64_t n, Value &valid, Value &kpos) {
            using P = arith::CmpIPredicate;
            Value r = arith::AddIOp::create(ob, l, i, L.i32c(ob, pad));
            Value o = arith::DivSIOp::create(ob, l, r, L.i32c(ob, stride));
            Value off = arith::RemSIOp::create(ob, l, r, L.i32c(ob, stride));
            valid =
                L.both(ob, L.cmp(ob, P::slt, o, L.i32c(ob, n)),
                       L.cmp(ob, P::slt, off, L.i32c(ob, (kk - 1) * d + 1)));
            if (d != 1) {
              Value rem = arith::RemSIOp::create(ob, l, off, L.i32c(ob, d));
              valid = L.both(ob, valid, L.cmp(ob, P::eq, rem, L.i32c(ob, 0)));
              off = arith::DivSIOp::create(ob, l, off, L.i32c(ob, d));
            }
            kpos = off;
            return L.toIndex(ob, L.clamp(ob, o, n - 1));
          };
          Value vh, vw, kh, kw;
          Value oh = own(h, p[0], st[0], k[0], dl[0], ys[2], vh, kh);
          Value ow = own(w, p[1], st[1], k[1], dl[1], ys[3], vw, kw);
          Value pos = arith::AddIOp::create(
              ob, l, arith::MulIOp::create(ob, l, kh, L.i32c(ob, k[1])), kw);
          Value c =
              contrib(ob, iv, oh, ow,
                      arith::SIToFPOp::create(ob, l, ob.getF32Type(), pos));
          tensor::YieldOp::create(ob, l,
                                  arith::SelectOp::create(ob, l,
                                                          L.both(ob, vh, vw), c,
                                                          L.f32c(ob, 0.0f))
                                      .getResult());
          return;
        }
        Value acc = L.f32c(ob, 0.0f);
        for (int64_t kh = 0; kh < k[0]; ++kh) {
          for (int64_t kw = 0; kw < k[1]; ++kw) {
            Value v0, v1;
            Value oh = L.sourceIndex(ob, h, kh * dl[0] - p[0], s[0], ys[2], v0);
            Value ow = L.sourceIndex(ob, w, kw * dl[1] - p[1], s[1], ys[3], v1);
            Value c = contrib(ob, iv, L.toIndex(ob, oh), L.toIndex(ob, ow),
                              L.f32c(ob, float(kh * k[1] + kw)));
            Value term = arith::SelectOp::create(ob, l, L.both(ob, v0, v1), c,
                                                 L.f32c(ob, 0.0f));
            acc = arith::AddFOp::create(ob, l, acc, term);
          }
        }
        tensor::YieldOp::create(ob, l, acc);
      });
  return gen.getResult();
}

Value lowerAvgPoolGrad(Lowering &L, nn::AvgPool2dGradOp op) {
  auto xs = op.getInputGrad().getType().getShape();
  auto ys = op.getOutputGrad().getType().getShape();
  auto k = op.getKernel(), s = op.getStrides(), p = op.getPads();
  Value scaled = divideByCount(L, op.getOutputGrad(), k, s, p, xs,
                               op.getCountIncludePad());
  int64_t one[2] = {1, 1};
  return windowGather(
      L, xs, ys, k, s, p, one,
      [&](OpBuilder &ob, ValueRange iv, Value oh, Value ow, Value) -> Value {
        return tensor::ExtractOp::create(ob, L.loc, scaled,
                                         ValueRange{iv[0], iv[1], oh, ow});
      });
}

/// Position (kh*KW + kw, as f32) of the first maximum of every window, as
/// PyTorch routes max-pool gradients; then gather dy where it matches.
Value lowerMaxPoolGrad(Lowering &L, nn::MaxPool2dGradOp op) {
  auto xs = op.getInputGrad().getType().getShape();
  auto ys = op.getOutputGrad().getType().getShape();
  auto k = op.getKernel(), s = op.getStrides(), p = op.getPads();
  auto dl = op.getDilations();
  Value x = op.getInput();
  auto argmax = tensor::GenerateOp::create(
      L.b, L.loc, L.tensorOf(ys), ValueRange{},
      [&](OpBuilder &ob, Location l, ValueRange iv) {
        Value best = L.f32c(ob, -std::numeric_limits<float>::infinity());
        Value pos = L.f32c(ob, -1.0f);
        for (int64_t kh = 0; kh < k[0]; ++kh) {
          for (int64_t kw = 0; kw < k[1]; ++kw) {
            Value inside, hh, ww;
            Value v =
                L.windowElement(ob, x, iv, kh, kw, s, p, dl, inside, hh, ww);
            Value first = arith::CmpFOp::create(
                ob, l, arith::CmpFPredicate::OLT, pos, L.f32c(ob, 0.0f));
            Value gt = arith::CmpFOp::create(ob, l, arith::CmpFPredicate::OGT,
                                             v, best);
            Value take =
                L.both(ob, inside, arith::OrIOp::create(ob, l, first, gt));
            best = arith::SelectOp::create(ob, l, take, v, best);
            pos = arith::SelectOp::create(
                ob, l, take, L.f32c(ob, float(kh * k[1] + kw)), pos);
          }
        }
        tensor::YieldOp::create(ob, l, pos);
      });
  Value am = argmax.getResult();
  Value dy = op.getOutputGrad();
  return windowGather(L, xs, ys, k, s, p, dl,
                      [&](OpBuilder &ob, ValueRange iv, Value oh, Value ow,
                          Value kpos) -> Value {
                        SmallVector<Value> at{iv[0], iv[1], oh, ow};
                        Value a = tensor::ExtractOp::create(ob, L.loc, am, at);
                        Value g = tensor::ExtractOp::create(ob, L.loc, dy, at);
                        Value hit = arith::CmpFOp::create(
                            ob, L.loc, arith::CmpFPredicate::OEQ, a, kpos);
                        return arith::SelectOp::create(ob, L.loc, hit, g,
                                                       L.f32c(ob, 0.0f));
                      });
}

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

Value lowerActivation(Lowering &L, nn::ActivationOp op) {
  nn::ActivationKind kind = op.getKind();
  float alpha = op.getAlpha().convertToFloat();
  float beta = op.getBeta().convertToFloat();
  Type et = op.getInput().getType().getElementType();
  if (!et.isF32()) { // integer clip (the verifier allows nothing else)
    bool isUnsigned = op.getIsUnsigned();
    return elementwise(
        L, op.getInput(),
        [&](OpBuilder &ob, Location l, ValueRange a) -> Value {
          Value lo = L.typedConstant(ob, et, alpha, isUnsigned);
          Value hi = L.typedConstant(ob, et, beta, isUnsigned);
          Value low = arith::SelectOp::create(
              ob, l, L.greater(ob, lo, a[0], isUnsigned), lo, a[0]);
          return arith::SelectOp::create(
              ob, l, L.greater(ob, low, hi, isUnsigned), hi, low);
        });
  }
  Value y = elementwise(
      L, op.getInput(), [&](OpBuilder &ob, Location l, ValueRange a) -> Value {
        Value x = a[0];
        auto c = [&](float v) { return L.f32c(ob, v); };
        auto sel = [&](arith::CmpFPredicate p, Value u, Value v, Value t,
                       Value f) -> Value {
          return arith::SelectOp::create(
              ob, l, arith::CmpFOp::create(ob, l, p, u, v), t, f);
        };
        auto clampTo = [&](Value v, float lo, float hi) {
          Value low = sel(arith::CmpFPredicate::OLT, v, c(lo), c(lo), v);
          return sel(arith::CmpFPredicate::OGT, low, c(hi), c(hi), low);
        };
        if (kind == nn::ActivationKind::leaky_relu)
          return sel(arith::CmpFPredicate::OGT, x, c(0.0f), x,
                     arith::MulFOp::create(ob, l, x, c(alpha)));
        if (kind == nn::ActivationKind::clip)
          return clampTo(x, alpha, beta);
        if (kind == nn::ActivationKind::sigmoid) {
          Value e = math::ExpOp::create(ob, l, arith::NegFOp::create(ob, l, x));
          return arith::DivFOp::create(
              ob, l, c(1.0f), arith::AddFOp::create(ob, l, c(1.0f), e));
        }
        if (kind == nn::ActivationKind::tanh)
          return math::TanhOp::create(ob, l, x);
        if (kind == nn::ActivationKind::sqrt)
          return math::SqrtOp::create(ob, l, x);
        if (kind == nn::ActivationKind::hard_sigmoid)
          return clampTo(
              arith::AddFOp::create(
                  ob, l, arith::MulFOp::create(ob, l, x, c(alpha)), c(beta)),
              0.0f, 1.0f);
        // hard_swish: x * relu6(x + 3) / 6
        Value r6 =
            clampTo(arith::AddFOp::create(ob, l, x, c(3.0f)), 0.0f, 6.0f);
        return arith::DivFOp::create(ob, l, arith::MulFOp::create(ob, l, x, r6),
                                     c(6.0f));
      });
  if (kind == nn::ActivationKind::clip)
    L.tagActivation(y, kActivationAttr, train::FusedActivation::clip, alpha,
                    beta);
  return y;
}

Value lowerActivationGrad(Lowering &L, nn::ActivationGradOp op) {
  nn::ActivationKind kind = op.getKind();
  float alpha = op.getAlpha().convertToFloat();
  float beta = op.getBeta().convertToFloat();
  // Each kind reads the forward input or the forward output, not both, so
  // that the other need not be kept for the backward pass. The clip's
  // gradient reads the output: lo < clip(x) < hi exactly when lo < x < hi
  // (NaN neither), and a convolution's pre-activation output then has no
  // use but the clip, which use-kernels fuses into it.
  bool fromOutput =
      kind == nn::ActivationKind::clip || kind == nn::ActivationKind::sigmoid ||
      kind == nn::ActivationKind::tanh || kind == nn::ActivationKind::sqrt;
  Value dx = elementwise(
      L,
      ValueRange{op.getOutputGrad(),
                 fromOutput ? op.getOutput() : op.getInput()},
      [&](OpBuilder &ob, Location l, ValueRange a) -> Value {
        // a[1] is what the kind reads: x (input) or y (output).
        Value dy = a[0], x = a[1], y = a[1];
        auto c = [&](float v) { return L.f32c(ob, v); };
        auto cmp = [&](arith::CmpFPredicate p, Value u, Value v) -> Value {
          return arith::CmpFOp::create(ob, l, p, u, v);
        };
        auto pick = [&](Value cond, Value t, Value f) -> Value {
          return arith::SelectOp::create(ob, l, cond, t, f);
        };
        auto mul = [&](Value u, Value v) -> Value {
          return arith::MulFOp::create(ob, l, u, v);
        };
        auto sub = [&](Value u, Value v) -> Value {
          return arith::SubFOp::create(ob, l, u, v);
        };
        auto both = [&](Value u, Value v) -> Value {
          return arith::AndIOp::create(ob, l, u, v);
        };
        if (kind == nn::ActivationKind::leaky_relu)
          return pick(cmp(arith::CmpFPredicate::OGT, x, c(0.0f)), dy,
                      mul(dy, c(alpha)));
        if (kind ==
            nn::ActivationKind::clip) // strictly inside, as ReLU6 / hardtanh
          return pick(both(cmp(arith::CmpFPredicate::OGT, y, c(alpha)),
                           cmp(arith::CmpFPredicate::OLT, y, c(beta))),
                      dy, c(0.0f));
        if (kind == nn::ActivationKind::sigmoid)
          return mul(dy, mul(y, sub(c(1.0f), y)));
        if (kind == nn::ActivationKind::tanh)
          return mul(dy, sub(c(1.0f), mul(y, y)));
        if (kind == nn::ActivationKind::sqrt) // d sqrt(x) = 1 / (2 sqrt(x))
          return arith::DivFOp::create(ob, l, dy, mul(y, c(2.0f)));
        if (kind == nn::ActivationKind::hard_sigmoid) {
          Value z = arith::AddFOp::create(ob, l, mul(x, c(alpha)), c(beta));
          return pick(both(cmp(arith::CmpFPredicate::OGT, z, c(0.0f)),
                           cmp(arith::CmpFPredicate::OLT, z, c(1.0f))),
                      mul(dy, c(alpha)), c(0.0f));
        }
        // hard_swish: 0 below -3, dy above 3, dy * (2x + 3) / 6 between.
        Value slope = arith::DivFOp::create(
            ob, l, arith::AddFOp::create(ob, l, mul(x, c(2.0f)), c(3.0f)),
            c(6.0f));
        Value upper = pick(cmp(arith::CmpFPredicate::OGT, x, c(3.0f)), dy,
                           mul(dy, slope));
        return pick(cmp(arith::CmpFPredicate::OLT, x, c(-3.0f)), c(0.0f),
                    upper);
      });
  if (kind == nn::ActivationKind::clip)
    L.tagActivation(dx, kActivationGradAttr, train::FusedActivation::clip,
                    alpha, beta);
  return dx;
}

Value lowerBatchNorm(Lowering &L, nn::BatchNormOp op) {
  auto xt = op.getInput().getType();
  unsigned rank = xt.getRank();
  float eps = op.getEpsilon().convertToFloat();
  AffineMap id = L.b.getMultiDimIdentityMap(rank);
  AffineMap ch = L.map(rank, {L.d(1)});
  return L.generic(
      tensor::EmptyOp::create(L.b, L.loc, xt.getShape(), L.f32()),
      ValueRange{op.getInput(), op.getScale(), op.getBias(), op.getMean(),
                 op.getVariance()},
      {id, ch, ch, ch, ch, id}, SmallVector<IteratorType>(rank, kPar),
      [&](OpBuilder &ob, Location l, ValueRange a) -> Value {
        Value sd = math::SqrtOp::create(
            ob, l, arith::AddFOp::create(ob, l, a[4], L.f32c(ob, eps)));
        Value xhat = arith::DivFOp::create(
            ob, l, arith::SubFOp::create(ob, l, a[0], a[3]), sd);
        return arith::AddFOp::create(
            ob, l, arith::MulFOp::create(ob, l, xhat, a[1]), a[2]);
      });
}

Value copyThroughMap(Lowering &L, Value in, ArrayRef<int64_t> ys,
                     ArrayRef<AffineExpr> inExprs) {
  return L.generic(
      tensor::EmptyOp::create(L.b, L.loc, ys,
                              cast<ShapedType>(in.getType()).getElementType()),
      in, {L.map(ys.size(), inExprs), L.b.getMultiDimIdentityMap(ys.size())},
      SmallVector<IteratorType>(ys.size(), kPar),
      [](OpBuilder &, Location, ValueRange a) { return a[0]; });
}

Value lowerTranspose(Lowering &L, nn::TransposeOp op) {
  auto perm = op.getPerm();
  SmallVector<AffineExpr> in(perm.size());
  for (size_t j = 0; j < perm.size(); ++j)
    in[perm[j]] = L.d(j);
  return copyThroughMap(L, op.getInput(), op.getOutput().getType().getShape(),
                        in);
}

/// A gather (not a linalg.generic: where an offset is 0 the input dim would
/// be a plain loop dim, and linalg would take its larger extent as the loop
/// bound).
Value lowerSlice(Lowering &L, nn::SliceOp op) {
  auto off = op.getOffsets();
  Value in = op.getInput();
  auto gen = tensor::GenerateOp::create(
      L.b, L.loc, op.getOutput().getType(), ValueRange{},
      [&](OpBuilder &ob, Location l, ValueRange iv) {
        SmallVector<Value> idx;
        for (auto [i, v] : llvm::enumerate(iv))
          idx.push_back(
              off[i] == 0
                  ? v
                  : arith::AddIOp::create(
                        ob, l, v, arith::ConstantIndexOp::create(ob, l, off[i]))
                        .getResult());
        tensor::YieldOp::create(ob, l,
                                tensor::ExtractOp::create(ob, l, in, idx));
      });
  return gen.getResult();
}

/// Branch-free: every input is read at a clamped index and the one whose
/// range holds the position along the axis is selected.
Value lowerConcat(Lowering &L, nn::ConcatOp op) {
  auto yt = op.getOutput().getType();
  int64_t axis = op.getAxis();
  auto gen = tensor::GenerateOp::create(
      L.b, L.loc, yt, ValueRange{},
      [&](OpBuilder &ob, Location l, ValueRange iv) {
        Value pos = L.toI32(ob, iv[axis]);
        Value result;
        int64_t start = 0;
        for (Value in : op.getInputs()) {
          int64_t len = cast<RankedTensorType>(in.getType()).getDimSize(axis);
          Value local = arith::SubIOp::create(ob, l, pos, L.i32c(ob, start));
          SmallVector<Value> idx(iv.begin(), iv.end());
          idx[axis] = L.toIndex(ob, L.clamp(ob, local, len - 1));
          Value v = tensor::ExtractOp::create(ob, l, in, idx);
          if (!result) {
            result = v;
          } else {
            Value inside =
                L.cmp(ob, arith::CmpIPredicate::sge, pos, L.i32c(ob, start));
            result = arith::SelectOp::create(ob, l, inside, v, result);
          }
          start += len;
        }
        tensor::YieldOp::create(ob, l, result);
      });
  return gen.getResult();
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

/// Source index along one padded axis of length `n` (edge: the nearest
/// border element; reflect: mirrored without repeating the border).
Value foldedIndex(Lowering &L, OpBuilder &ob, Value i, int64_t shift, int64_t n,
                  bool reflect) {
  Location l = L.loc;
  Value r = arith::SubIOp::create(ob, l, i, L.i32c(ob, shift));
  if (reflect) {
    Value neg = L.cmp(ob, arith::CmpIPredicate::slt, r, L.i32c(ob, 0));
    r = arith::SelectOp::create(
        ob, l, neg, arith::SubIOp::create(ob, l, L.i32c(ob, 0), r), r);
    Value over = L.cmp(ob, arith::CmpIPredicate::sgt, r, L.i32c(ob, n - 1));
    r = arith::SelectOp::create(
        ob, l, over, arith::SubIOp::create(ob, l, L.i32c(ob, 2 * (n - 1)), r),
        r);
  }
  return L.clamp(ob, r, n - 1);
}

Value lowerPad(Lowering &L, nn::Pad2dOp op) {
  auto ys = op.getOutput().getType().getShape();
  auto p = op.getPads();
  if (op.getMode() == nn::PadMode::constant) {
    double v = op.getValue().convertToFloat();
    // Non-negative values keep their bit pattern in unsigned tensors.
    return L.spread(op.getInput(), ys, p[0], p[1], 1, 1, v, v >= 0);
  }
  bool reflect = op.getMode() == nn::PadMode::reflect;
  Value x = op.getInput();
  auto xs = op.getInput().getType().getShape();
  auto gen = tensor::GenerateOp::create(
      L.b, L.loc, op.getOutput().getType(), ValueRange{},
      [&](OpBuilder &ob, Location l, ValueRange iv) {
        Value h = foldedIndex(L, ob, L.toI32(ob, iv[2]), p[0], xs[2], reflect);
        Value w = foldedIndex(L, ob, L.toI32(ob, iv[3]), p[1], xs[3], reflect);
        tensor::YieldOp::create(
            ob, l,
            tensor::ExtractOp::create(
                ob, l, x,
                ValueRange{iv[0], iv[1], L.toIndex(ob, h), L.toIndex(ob, w)}));
      });
  return gen.getResult();
}

/// The adjoint of edge/reflect padding, one axis at a time: every input
/// position sums the output gradients whose folded index is that position.
Value lowerPadGrad(Lowering &L, nn::Pad2dGradOp op) {
  auto ys = op.getOutputGrad().getType().getShape();
  auto xs = op.getInputGrad().getType().getShape();
  auto p = op.getPads();
  bool reflect = op.getMode() == nn::PadMode::reflect;
  auto d = [&](unsigned i) { return L.d(i); };
  // Fold rows: t[n,c,i,q] = sum_o [fold(o) == i] dy[n,c,o,q]; dims n c o i q.
  auto foldBody = [&](int64_t shift, int64_t n, unsigned srcDim,
                      unsigned dstDim) {
    return [&L, shift, n, srcDim, dstDim, reflect](OpBuilder &ob, Location l,
                                                   ValueRange a) -> Value {
      Value src = L.toI32(ob, linalg::IndexOp::create(ob, l, srcDim));
      Value dst = L.toI32(ob, linalg::IndexOp::create(ob, l, dstDim));
      Value hit = L.cmp(ob, arith::CmpIPredicate::eq,
                        foldedIndex(L, ob, src, shift, n, reflect), dst);
      Value term = arith::SelectOp::create(ob, l, hit, a[0], L.f32c(ob, 0.0f));
      return arith::AddFOp::create(ob, l, a[1], term);
    };
  };
  Value rows = L.generic(
      L.filled({ys[0], ys[1], xs[2], ys[3]}, 0.0f), op.getOutputGrad(),
      {L.map(5, {d(0), d(1), d(2), d(4)}), L.map(5, {d(0), d(1), d(3), d(4)})},
      {kPar, kPar, kRed, kPar, kPar}, foldBody(p[0], xs[2], 2, 3));
  // Fold columns: x[n,c,i,j] = sum_q [fold(q) == j] t[n,c,i,q]; dims n c i q j.
  return L.generic(
      L.filled(xs, 0.0f), rows,
      {L.map(5, {d(0), d(1), d(2), d(3)}), L.map(5, {d(0), d(1), d(2), d(4)})},
      {kPar, kPar, kPar, kRed, kPar}, foldBody(p[1], xs[3], 3, 4));
}

/// Flat NCHW index of the first maximum of every window (ONNX MaxPool's
/// Indices), unrolled over the small static window like the gradient.
Value lowerMaxPoolIndices(Lowering &L, nn::MaxPool2dIndicesOp op) {
  auto xs = op.getInput().getType().getShape();
  auto ys = op.getIndices().getType().getShape();
  auto k = op.getKernel(), s = op.getStrides(), p = op.getPads();
  auto dl = op.getDilations();
  bool isUnsigned = op.getIsUnsigned();
  Type et = op.getInput().getType().getElementType();
  Value x = op.getInput();
  auto gen = tensor::GenerateOp::create(
      L.b, L.loc, op.getIndices().getType(), ValueRange{},
      [&](OpBuilder &ob, Location l, ValueRange iv) {
        auto i64 = [&](Value v) -> Value {
          return arith::IndexCastOp::create(ob, l, ob.getI64Type(), v);
        };
        auto i64c = [&](int64_t v) -> Value {
          return arith::ConstantOp::create(ob, l, ob.getI64IntegerAttr(v));
        };
        Value best = L.typedConstant(
            ob, et, -std::numeric_limits<double>::infinity(), isUnsigned);
        Value found = i64c(-1);
        bool colMajor = op.getColumnMajor();
        // (n*C + c)*H (or *W when column-major): the base of every index
        // this window can return.
        Value plane = arith::MulIOp::create(
            ob, l,
            arith::AddIOp::create(
                ob, l, arith::MulIOp::create(ob, l, i64(iv[0]), i64c(xs[1])),
                i64(iv[1])),
            i64c(colMajor ? xs[3] : xs[2]));
        for (int64_t kh = 0; kh < k[0]; ++kh) {
          for (int64_t kw = 0; kw < k[1]; ++kw) {
            Value inside, hh, ww;
            Value v =
                L.windowElement(ob, x, iv, kh, kw, s, p, dl, inside, hh, ww);
            Value first = arith::CmpIOp::create(
                ob, l, arith::CmpIPredicate::slt, found, i64c(0));
            Value take =
                L.both(ob, inside,
                       arith::OrIOp::create(
                           ob, l, first, L.greater(ob, v, best, isUnsigned)));
            Value major = colMajor ? ww : hh, minor = colMajor ? hh : ww;
            Value flat = arith::AddIOp::create(
                ob, l,
                arith::MulIOp::create(
                    ob, l, arith::AddIOp::create(ob, l, plane, i64(major)),
                    i64c(colMajor ? xs[2] : xs[3])),
                i64(minor));
            best = arith::SelectOp::create(ob, l, take, v, best);
            found = arith::SelectOp::create(ob, l, take, flat, found);
          }
        }
        tensor::YieldOp::create(ob, l, found);
      });
  (void)ys;
  return gen.getResult();
}

/// out[..., j, ...] = in[..., indices[j], ...] along `axis`.
Value lowerGatherChannels(Lowering &L, train::GatherChannelsOp op) {
  Value in = op.getInput(), idx = op.getIndices();
  int64_t axis = op.getAxis();
  auto gen = tensor::GenerateOp::create(
      L.b, L.loc, op.getOutput().getType(), ValueRange{},
      [&](OpBuilder &ob, Location l, ValueRange iv) {
        SmallVector<Value> at(iv.begin(), iv.end());
        at[axis] = L.toIndex(
            ob, tensor::ExtractOp::create(ob, l, idx, ValueRange{iv[axis]}));
        tensor::YieldOp::create(ob, l,
                                tensor::ExtractOp::create(ob, l, in, at));
      });
  return gen.getResult();
}

/// Lowers one op; returns its replacement, or null if not ours.

FailureOr<Value> lowerOp(Lowering &L, Operation *op) {
  return llvm::TypeSwitch<Operation *, FailureOr<Value>>(op)
      .Case([&](nn::Conv2dOp o) { return lowerConv(L, o); })
      .Case([&](nn::Conv2dGradInputOp o) { return lowerConvGradInput(L, o); })
      .Case([&](nn::Conv2dGradWeightOp o) { return lowerConvGradWeight(L, o); })
      .Case([&](nn::GemmOp o) { return lowerGemm(L, o); })
      .Case([&](nn::AddOp o) {
        return lowerBinary<nn::AddOp, arith::AddFOp, arith::AddIOp>(L, o);
      })
      .Case([&](nn::SubOp o) {
        return lowerBinary<nn::SubOp, arith::SubFOp, arith::SubIOp>(L, o);
      })
      .Case([&](nn::MulOp o) {
        return lowerBinary<nn::MulOp, arith::MulFOp, arith::MulIOp>(L, o);
      })
      .Case([&](nn::DivOp o) {
        // Integer division truncates toward zero, as ONNX's reference does.
        return lowerBinary<nn::DivOp, arith::DivFOp, arith::DivSIOp,
                           arith::DivUIOp>(L, o);
      })
      .Case([&](nn::ActivationOp o) { return lowerActivation(L, o); })
      .Case([&](nn::ActivationGradOp o) { return lowerActivationGrad(L, o); })
      .Case([&](nn::BatchNormOp o) { return lowerBatchNorm(L, o); })
      .Case([&](nn::TransposeOp o) { return lowerTranspose(L, o); })
      .Case([&](nn::ConcatOp o) { return lowerConcat(L, o); })
      .Case([&](nn::SliceOp o) { return lowerSlice(L, o); })
      .Case([&](nn::SoftmaxOp o) { return lowerSoftmax(L, o); })
      .Case([&](nn::SoftmaxGradOp o) { return lowerSoftmaxGrad(L, o); })
      .Case([&](nn::MatMulOp o) { return lowerMatMul(L, o); })
      .Case([&](nn::ReluOp o) {
        Value y = elementwise(
            L, o.getInput(), [](OpBuilder &ob, Location l, ValueRange a) {
              Value zero =
                  arith::ConstantOp::create(ob, l, ob.getF32FloatAttr(0.0f));
              return arith::SelectOp::create(ob, l, positive(ob, l, a[0]), a[0],
                                             zero)
                  .getResult();
            });
        L.tagActivation(y, kActivationAttr, train::FusedActivation::relu, 0.0f,
                        0.0f);
        return y;
      })
      .Case([&](nn::ReluGradOp o) {
        Value dx = elementwise(
            L, ValueRange{o.getOutputGrad(), o.getOutput()},
            [](OpBuilder &ob, Location l, ValueRange a) {
              Value zero =
                  arith::ConstantOp::create(ob, l, ob.getF32FloatAttr(0.0f));
              return arith::SelectOp::create(ob, l, positive(ob, l, a[1]), a[0],
                                             zero)
                  .getResult();
            });
        L.tagActivation(dx, kActivationGradAttr, train::FusedActivation::relu,
                        0.0f, 0.0f);
        return dx;
      })
      .Case([&](nn::MaxPool2dOp o) { return lowerMaxPool(L, o); })
      .Case([&](nn::AvgPool2dOp o) { return lowerAvgPool(L, o); })
      .Case([&](nn::MaxPool2dGradOp o) { return lowerMaxPoolGrad(L, o); })
      .Case([&](nn::AvgPool2dGradOp o) { return lowerAvgPoolGrad(L, o); })
      .Case([&](nn::Pad2dOp o) { return lowerPad(L, o); })
      .Case([&](nn::Pad2dGradOp o) { return lowerPadGrad(L, o); })
      .Case([&](nn::MaxPool2dIndicesOp o) { return lowerMaxPoolIndices(L, o); })
      .Case([&](nn::ReshapeOp o) {
        return L.reshape(o.getInput(), o.getOutput().getType());
      })
      .Case([&](nn::ReduceSumToOp o) { return lowerReduceSumTo(L, o); })
      .Case(
          [&](train::CrossEntropyLossOp o) { return lowerCrossEntropy(L, o); })
      .Case([&](train::MseLossOp o) { return lowerMse(L, o); })
      .Case(
          [&](train::GatherChannelsOp o) { return lowerGatherChannels(L, o); })
      .Case([&](train::MseLossGradOp o) { return lowerMseGrad(L, o); })
      .Case([&](train::CrossEntropyLossGradOp o) {
        return lowerCrossEntropyGrad(L, o);
      })
      .Default([&](Operation *) -> FailureOr<Value> { return Value(); });
}

struct LowerToLinalgPass
    : public mcutrain::impl::LowerToLinalgPassBase<LowerToLinalgPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    OpBuilder b(module.getContext());

    // Parameters: frozen ones are constant globals (flash); trainable ones are
    // a RAM global plus a constant flash image that @init copies from.
    SmallVector<ml_program::GlobalOp> globals(
        module.getOps<ml_program::GlobalOp>());
    SmallVector<std::pair<StringRef, StringRef>> trainable;
    // Flash data by ONNX initializer: a frozen parameter's constant (one per
    // initializer after share-frozen-aliases), else the first image made;
    // the other trainable parameters untied from it take that as image.
    llvm::DenseMap<StringAttr, std::pair<StringAttr, Attribute>> flashCopy;
    for (auto g : globals)
      if (!g.getIsMutable() && !g->hasAttr("onnx.constant"))
        if (StringAttr source = initializerOf(g))
          flashCopy.try_emplace(source, g.getSymNameAttr(), g.getValueAttr());
    for (auto g : globals) {
      auto type = cast<RankedTensorType>(g.getType());
      auto mtype = MemRefType::get(type.getShape(), type.getElementType());
      auto init = dyn_cast_or_null<ElementsAttr>(g.getValueAttr());
      if (!init) {
        g.emitError("parameter has no initial value");
        return signalPassFailure();
      }
      b.setInsertionPoint(g);
      memref::GlobalOp param;
      if (g.getIsMutable()) {
        param = memref::GlobalOp::create(
            b, g.getLoc(), g.getSymName(), b.getStringAttr("public"), mtype,
            Attribute(), /*constant=*/false, IntegerAttr());
        StringAttr source = initializerOf(g), image;
        auto copy = source ? flashCopy.find(source) : flashCopy.end();
        if (copy != flashCopy.end() && copy->second.second == init) {
          image = copy->second.first;
        } else {
          std::string initName = (g.getSymName() + "__init").str();
          auto imageOp = memref::GlobalOp::create(
              b, g.getLoc(), initName, b.getStringAttr("public"), mtype, init,
              /*constant=*/true, IntegerAttr());
          imageOp->setAttr("mcutrain.image_of", g.getSymNameAttr());
          image = imageOp.getSymNameAttr();
          if (source)
            flashCopy.insert_or_assign(source, std::make_pair(image, init));
        }
        trainable.push_back({param.getSymName(), image.getValue()});
      } else {
        param = memref::GlobalOp::create(b, g.getLoc(), g.getSymName(),
                                         b.getStringAttr("public"), mtype, init,
                                         /*constant=*/true, IntegerAttr());
      }
      if (auto name = g->getAttr("onnx.name"))
        param->setAttr("onnx.name", name);
      param->setAttr("mcutrain.trainable", b.getBoolAttr(g.getIsMutable()));
      g.erase();
    }

    // Run-time scalars: the learning rate (initialised to the compiled-in
    // value), the step count and Adam's beta powers.
    SmallVector<train::UpdateOp> updates;
    module.walk([&](train::UpdateOp u) { updates.push_back(u); });
    auto scalarType = MemRefType::get({}, b.getF32Type());
    auto scalarGlobal = [&](StringRef name, float init) {
      if (module.lookupSymbol(name))
        return;
      b.setInsertionPointToStart(module.getBody());
      memref::GlobalOp::create(
          b, module.getLoc(), name, b.getStringAttr("public"), scalarType,
          DenseElementsAttr::get(RankedTensorType::get({}, b.getF32Type()),
                                 init),
          /*constant=*/false, IntegerAttr());
    };
    std::optional<train::UpdateOp> adam;
    for (auto u : updates)
      if (u.getOptimizer().getKind() == train::OptimizerKind::adam && !adam)
        adam = u;
    if (!updates.empty()) {
      scalarGlobal(train::kLearningRateGlobal,
                   updates.front().getOptimizer().getLr().convertToFloat());
      scalarGlobal(train::kStepCountGlobal, 0.0f);
    }
    if (adam) {
      scalarGlobal(train::kBeta1PowerGlobal, 1.0f);
      scalarGlobal(train::kBeta2PowerGlobal, 1.0f);
    }
    // Optimizer state: RAM buffers shaped like their parameter, zeroed by
    // @init.
    SmallVector<StringRef> states;
    for (auto u : updates) {
      auto g = module.lookupSymbol<memref::GlobalOp>(u.getParam());
      for (unsigned i = 0; i < u.getNumStateBuffers(); ++i) {
        std::string name = train::UpdateOp::stateName(u.getParam(), i);
        if (module.lookupSymbol(name))
          continue;
        b.setInsertionPointAfter(g);
        auto st = memref::GlobalOp::create(
            b, g.getLoc(), name, b.getStringAttr("public"), g.getType(),
            Attribute(), /*constant=*/false, IntegerAttr());
        st->setAttr("mcutrain.optimizer_state", b.getUnitAttr());
        states.push_back(st.getSymName());
      }
    }
    // Each training step advances the counters.
    SmallVector<func::FuncOp> steps;
    for (auto u : updates) {
      auto f = u->getParentOfType<func::FuncOp>();
      if (!llvm::is_contained(steps, f))
        steps.push_back(f);
    }
    auto scale = [&](OpBuilder &ob, Location loc, StringRef name, float factor,
                     bool add) {
      Value m = memref::GetGlobalOp::create(ob, loc, scalarType, name);
      Value v = memref::LoadOp::create(ob, loc, m, ValueRange{});
      Value c = arith::ConstantOp::create(ob, loc, ob.getF32FloatAttr(factor));
      Value next = add ? arith::AddFOp::create(ob, loc, v, c).getResult()
                       : arith::MulFOp::create(ob, loc, v, c).getResult();
      memref::StoreOp::create(ob, loc, next, m, ValueRange{});
    };
    // Right before the step's first update, as part of the backward pass: a
    // step TinyPropv2 skips (guard-backward) does not count.
    for (auto f : steps) {
      train::UpdateOp first =
          *f.getBody().front().getOps<train::UpdateOp>().begin();
      b.setInsertionPoint(first);
      Location loc = FusedLoc::get(b.getContext(), {f.getLoc()},
                                   b.getStringAttr("mcutrain.backward"));
      scale(b, loc, train::kStepCountGlobal, 1.0f, true);
      if (adam) {
        scale(b, loc, train::kBeta1PowerGlobal,
              adam->getOptimizer().getBeta1().convertToFloat(), false);
        scale(b, loc, train::kBeta2PowerGlobal,
              adam->getOptimizer().getBeta2().convertToFloat(), false);
      }
    }

    // @init() copies each trainable parameter from its flash image, zeroes
    // the optimizer state and resets the counters.
    if (!module.lookupSymbol("init")) {
      b.setInsertionPointToEnd(module.getBody());
      auto init = func::FuncOp::create(b, module.getLoc(), "init",
                                       b.getFunctionType({}, {}));
      b.setInsertionPointToStart(init.addEntryBlock());
      Location loc = module.getLoc();
      auto fillGlobal = [&](StringRef name, Value src, float value) {
        auto g = module.lookupSymbol<memref::GlobalOp>(name);
        Value dst = memref::GetGlobalOp::create(b, loc, g.getType(), name);
        unsigned rank = g.getType().getRank();
        AffineMap id = b.getMultiDimIdentityMap(rank);
        SmallVector<AffineMap> maps;
        if (src)
          maps.push_back(id);
        maps.push_back(id);
        linalg::GenericOp::create(
            b, loc, TypeRange(), src ? ValueRange{src} : ValueRange{}, dst,
            maps, SmallVector<IteratorType>(rank, kPar),
            [&](OpBuilder &ob, Location l, ValueRange a) {
              Type et = g.getType().getElementType();
              Value v = src ? a[0]
                        : et.isF32()
                            ? arith::ConstantOp::create(
                                  ob, l, ob.getF32FloatAttr(value))
                                  .getResult()
                            : arith::ConstantOp::create(
                                  ob, l, ob.getIntegerAttr(et, (int64_t)value))
                                  .getResult();
              linalg::YieldOp::create(ob, l, v);
            });
      };
      for (auto [param, image] : trainable) {
        auto g = module.lookupSymbol<memref::GlobalOp>(image);
        fillGlobal(param,
                   memref::GetGlobalOp::create(b, loc, g.getType(), image),
                   0.0f);
      }
      for (StringRef st : states)
        fillGlobal(st, Value(), 0.0f);
      // Sparse-update controller state (DGSU's channel ages, importance).
      SmallVector<StringRef> zeroed;
      for (auto g : module.getOps<memref::GlobalOp>())
        if (g->hasAttr("mcutrain.zero_at_init"))
          zeroed.push_back(g.getSymName());
      for (StringRef name : zeroed)
        fillGlobal(name, Value(), 0.0f);
      if (!updates.empty())
        fillGlobal(train::kStepCountGlobal, Value(), 0.0f);
      if (adam) {
        fillGlobal(train::kBeta1PowerGlobal, Value(), 1.0f);
        fillGlobal(train::kBeta2PowerGlobal, Value(), 1.0f);
      }
      func::ReturnOp::create(b, loc);
    }

    bool failedAny = false;
    module.walk([&](Operation *op) {
      if (auto load = dyn_cast<ml_program::GlobalLoadOp>(op)) {
        auto g = module.lookupSymbol<memref::GlobalOp>(
            load.getGlobal().getLeafReference());
        b.setInsertionPoint(load);
        Value m = memref::GetGlobalOp::create(b, load.getLoc(), g.getType(),
                                              g.getSymName());
        // restrict: only this op reads the global as a tensor; never
        // written through it, so bufferization makes no copy.
        Value t = bufferization::ToTensorOp::create(
            b, load.getLoc(), load.getType(), m, /*restrict=*/true,
            /*writable=*/false);
        load.replaceAllUsesWith(t);
        load.erase();
        return WalkResult::skip();
      }
      // The update and DGSU ops bufferize themselves.
      if (op->getNumResults() != 1 ||
          !isa<nn::NNDialect, train::TrainDialect>(op->getDialect()) ||
          isa<train::DgsuSelectOp, train::SparseConv2dGradInputOp,
              train::SparseConv2dGradWeightOp, train::UpdateOp>(op))
        return WalkResult::advance();
      b.setInsertionPoint(op);
      Lowering L{b, op->getLoc()};
      FailureOr<Value> v = lowerOp(L, op);
      if (failed(v) || !*v) {
        op->emitError("no lowering to linalg for this op");
        failedAny = true;
        return WalkResult::interrupt();
      }
      op->getResult(0).replaceAllUsesWith(*v);
      op->erase();
      return WalkResult::skip();
    });
    if (failedAny)
      signalPassFailure();
  }
};

} // namespace
