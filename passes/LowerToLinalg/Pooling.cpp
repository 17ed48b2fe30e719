//===- Pooling.cpp - pooling and its gradients -------===//
//
// Max and average pooling (ceil_mode, dilations, padding), their gradients
// and MaxPool's indices: windows read at clamped indices with selects.
//
//===----------------------------------------------------------------------===//
#include "passes/LowerToLinalg/Lowering.h"

using namespace mlir;
using namespace mcutrain;
using namespace mcutrain::lowering;

namespace {

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
  Value y = L.generic(init, ValueRange{xp, window}, {xMap, kMap, yMap},
                      {kPar, kPar, kRed, kRed, kPar, kPar},
                      [&](OpBuilder &ob, Location l, ValueRange a) -> Value {
                        Value gt = L.greater(ob, a[0], a[2], isUnsigned);
                        return arith::SelectOp::create(ob, l, gt, a[0], a[2]);
                      });
  // 8-bit (int8 models): the generic's six-deep nest costs 17 Cortex-M4
  // instructions per window element; the kernel unrolls the window.
  if (et.isInteger(8)) {
    auto ps = cast<RankedTensorType>(xp.getType()).getShape();
    L.tagKernel(y, train::KernelName::max_pool8,
                {ps[0], ps[1], ps[2], ps[3], k[0], k[1], ys[2], ys[3], s[0],
                 s[1], dl[0], dl[1], isUnsigned},
                {0, 2});
  }
  return y;
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

/// The strides of disjoint windows: a single window along a dimension (a
/// global pool, whatever its stride) is disjoint too, its stride taken as
/// its extent. Whether the windows are disjoint (stride >= extent).
bool disjointStrides(ArrayRef<int64_t> k, ArrayRef<int64_t> s,
                     ArrayRef<int64_t> dl, ArrayRef<int64_t> ys,
                     int64_t st[2]) {
  int64_t extent[2] = {(k[0] - 1) * dl[0] + 1, (k[1] - 1) * dl[1] + 1};
  st[0] = ys[2] == 1 ? std::max(s[0], extent[0]) : s[0];
  st[1] = ys[3] == 1 ? std::max(s[1], extent[1]) : s[1];
  return st[0] >= extent[0] && st[1] >= extent[1];
}

/// Of disjoint windows: the window (index, clamped into [0, n)) that input
/// row i (i32) lies in, its kernel row `kpos` and whether it lies in one
/// (`valid`). Row i + pad is in window (i + pad) / s at offset
/// (i + pad) % s, kernel row offset / dilation when that divides.
Value ownWindow(Lowering &L, OpBuilder &ob, Value i, int64_t pad,
                int64_t stride, int64_t kk, int64_t d, int64_t n, Value &valid,
                Value &kpos) {
  using P = arith::CmpIPredicate;
  Location l = L.loc;
  Value r = arith::AddIOp::create(ob, l, i, L.i32c(ob, pad));
  Value o = arith::DivSIOp::create(ob, l, r, L.i32c(ob, stride));
  Value off = arith::RemSIOp::create(ob, l, r, L.i32c(ob, stride));
  valid = L.both(ob, L.cmp(ob, P::slt, o, L.i32c(ob, n)),
                 L.cmp(ob, P::slt, off, L.i32c(ob, (kk - 1) * d + 1)));
  if (d != 1) {
    Value rem = arith::RemSIOp::create(ob, l, off, L.i32c(ob, d));
    valid = L.both(ob, valid, L.cmp(ob, P::eq, rem, L.i32c(ob, 0)));
    off = arith::DivSIOp::create(ob, l, off, L.i32c(ob, d));
  }
  kpos = off;
  return L.toIndex(ob, L.clamp(ob, o, n - 1));
}

/// dx[n,c,h,w] = sum over the windows (oh, ow) that contain (h, w) of
/// contrib(oh, ow, window position as f32), at input position iv; kernels
/// are small and static, so the window positions are unrolled. Windows
/// that do not overlap (stride >= extent, e.g. a global average pool) hold
/// each position at most once: then its one window is computed instead of
/// trying them all (DS-CNN's 25x5 global pool spent 125 tries per
/// position, 30% of a step).
using ContribFn =
    function_ref<Value(OpBuilder &, ValueRange, Value, Value, Value)>;
Value windowSum(Lowering &L, OpBuilder &ob, ValueRange iv, ArrayRef<int64_t> ys,
                ArrayRef<int64_t> k, ArrayRef<int64_t> s, ArrayRef<int64_t> p,
                ArrayRef<int64_t> dl, ContribFn contrib) {
  Location l = L.loc;
  int64_t st[2];
  Value h = L.toI32(ob, iv[2]), w = L.toI32(ob, iv[3]);
  if (disjointStrides(k, s, dl, ys, st)) {
    Value vh, vw, kh, kw;
    Value oh = ownWindow(L, ob, h, p[0], st[0], k[0], dl[0], ys[2], vh, kh);
    Value ow = ownWindow(L, ob, w, p[1], st[1], k[1], dl[1], ys[3], vw, kw);
    Value pos = arith::AddIOp::create(
        ob, l, arith::MulIOp::create(ob, l, kh, L.i32c(ob, k[1])), kw);
    Value c = contrib(ob, iv, oh, ow,
                      arith::SIToFPOp::create(ob, l, ob.getF32Type(), pos));
    return arith::SelectOp::create(ob, l, L.both(ob, vh, vw), c,
                                   L.f32c(ob, 0.0f));
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
  return acc;
}

/// windowSum over every input position, as a tensor.generate.
Value windowGather(Lowering &L, ArrayRef<int64_t> xs, ArrayRef<int64_t> ys,
                   ArrayRef<int64_t> k, ArrayRef<int64_t> s,
                   ArrayRef<int64_t> p, ArrayRef<int64_t> dl,
                   ContribFn contrib) {
  auto gen = tensor::GenerateOp::create(
      L.b, L.loc, L.tensorOf(xs), ValueRange{},
      [&](OpBuilder &ob, Location l, ValueRange iv) {
        tensor::YieldOp::create(ob, l,
                                windowSum(L, ob, iv, ys, k, s, p, dl, contrib));
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

/// Position (kh*KW + kw, as f32) of the first maximum of the window of
/// output (n, c, oh, ow) = iv of max pooling `x`. Integer inputs (int8 max
/// pooling) compare as their signedness says; the first element inside the
/// window is taken whatever `best` holds.
Value firstMaxPosition(Lowering &L, OpBuilder &ob, Value x, ValueRange iv,
                       ArrayRef<int64_t> k, ArrayRef<int64_t> s,
                       ArrayRef<int64_t> p, ArrayRef<int64_t> dl,
                       bool isUnsigned) {
  Location l = L.loc;
  Type element = cast<RankedTensorType>(x.getType()).getElementType();
  Value best = L.typedConstant(
      ob, element, -std::numeric_limits<double>::infinity(), isUnsigned);
  Value pos = L.f32c(ob, -1.0f);
  for (int64_t kh = 0; kh < k[0]; ++kh) {
    for (int64_t kw = 0; kw < k[1]; ++kw) {
      Value inside, hh, ww;
      Value v = L.windowElement(ob, x, iv, kh, kw, s, p, dl, inside, hh, ww);
      Value first = arith::CmpFOp::create(ob, l, arith::CmpFPredicate::OLT, pos,
                                          L.f32c(ob, 0.0f));
      Value gt = L.greater(ob, v, best, isUnsigned);
      Value take = L.both(ob, inside, arith::OrIOp::create(ob, l, first, gt));
      best = arith::SelectOp::create(ob, l, take, v, best);
      pos = arith::SelectOp::create(ob, l, take,
                                    L.f32c(ob, float(kh * k[1] + kw)), pos);
    }
  }
  return pos;
}

/// Position (kh*KW + kw, as f32) of the first maximum of every window, as
/// PyTorch routes max-pool gradients; then gather dy where it matches. The
/// positions are a linalg.generic, a tensor of their own: as a
/// tensor.generate the canonicalizer folded each read into a copy of the
/// window scan, so every input element rescanned all its windows
/// (overlapping 3x3/2 pools: 81 compares an element, 86% of
/// shufflenet_v2's step, 25% of resnet18's).
Value lowerMaxPoolGrad(Lowering &L, nn::MaxPool2dGradOp op) {
  auto xs = op.getInputGrad().getType().getShape();
  auto ys = op.getOutputGrad().getType().getShape();
  auto k = op.getKernel(), s = op.getStrides(), p = op.getPads();
  auto dl = op.getDilations();
  Value x = op.getInput();
  bool isUnsigned = op.getIsUnsigned();
  unsigned rank = ys.size();
  Value am =
      L.generic(L.empty(ys), ValueRange{}, {L.b.getMultiDimIdentityMap(rank)},
                SmallVector<IteratorType>(rank, kPar),
                [&](OpBuilder &ob, Location l, ValueRange) -> Value {
                  return firstMaxPosition(L, ob, x, outputIndices(ob, l, rank),
                                          k, s, p, dl, isUnsigned);
                });
  Value dy = op.getOutputGrad();
  auto contrib = [&](OpBuilder &ob, ValueRange iv, Value oh, Value ow,
                     Value kpos) -> Value {
    SmallVector<Value> at{iv[0], iv[1], oh, ow};
    Value a = tensor::ExtractOp::create(ob, L.loc, am, at);
    Value g = tensor::ExtractOp::create(ob, L.loc, dy, at);
    Value hit =
        arith::CmpFOp::create(ob, L.loc, arith::CmpFPredicate::OEQ, a, kpos);
    return arith::SelectOp::create(ob, L.loc, hit, g, L.f32c(ob, 0.0f));
  };
  if (isa<IntegerType>(op.getInput().getType().getElementType()))
    return windowGather(L, xs, ys, k, s, p, dl, contrib);
  // Float pooling: a generic over dx whose (unread) inputs x and dy are the
  // max_pool_grad kernel's, which scatters from the windows; use-kernels
  // drops the window positions `am` with the loops.
  SmallVector<Value> kernelIns{x, dy};
  Value dx =
      L.generic(L.empty(xs), kernelIns, L.kernelInputMaps(xs.size(), kernelIns),
                SmallVector<IteratorType>(xs.size(), kPar),
                [&](OpBuilder &ob, Location l, ValueRange) -> Value {
                  return windowSum(L, ob, outputIndices(ob, l, 4), ys, k, s, p,
                                   dl, contrib);
                });
  L.tagKernel(dx, train::KernelName::max_pool_grad,
              {xs[0], xs[1], xs[2], xs[3], k[0], k[1], ys[2], ys[3], s[0], s[1],
               p[0], p[1], dl[0], dl[1]},
              {0, 1, 2});
  return dx;
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

/// Per window (disjoint ones): the position of its first maximum, the
/// routing nn.max_pool2d_grad computes from the input.
Value lowerMaxPoolMask(Lowering &L, nn::MaxPool2dMaskOp op) {
  Value x = op.getInput();
  auto ys = op.getOutputShape();
  auto k = op.getKernel(), s = op.getStrides(), p = op.getPads();
  int64_t one[2] = {1, 1};
  bool isUnsigned = op.getIsUnsigned();
  int64_t windows = ShapedType::getNumElements(ys);
  return packFields(
      L, windows, nn::MaxPool2dMaskOp::fieldBits(k),
      [&](OpBuilder &ob, Value i) -> Value {
        Value first = firstMaxPosition(L, ob, x, L.unflatten(ob, i, ys), k, s,
                                       p, one, isUnsigned);
        return arith::FPToSIOp::create(ob, L.loc, ob.getI32Type(), first);
      });
}

/// nn.max_pool2d_grad's disjoint-window gather with the window's first
/// maximum read from the mask: the same selects, so the same bits.
Value lowerMaxPoolMaskedGrad(Lowering &L, nn::MaxPool2dMaskedGradOp op) {
  auto xs = op.getInputGrad().getType().getShape();
  auto ys = op.getOutputGrad().getType().getShape();
  auto k = op.getKernel(), s = op.getStrides(), p = op.getPads();
  int64_t one[2] = {1, 1};
  int64_t bits = nn::MaxPool2dMaskOp::fieldBits(k);
  Value dy = op.getOutputGrad(), mask = op.getMask();
  return windowGather(
      L, xs, ys, k, s, p, one,
      [&](OpBuilder &ob, ValueRange iv, Value oh, Value ow,
          Value kpos) -> Value {
        SmallVector<Value> at{iv[0], iv[1], oh, ow};
        Value g = tensor::ExtractOp::create(ob, L.loc, dy, at);
        Value first = arith::SIToFPOp::create(
            ob, L.loc, ob.getF32Type(),
            L.maskField(ob, mask, L.flatIndex(ob, at, ys), bits));
        Value hit = arith::CmpFOp::create(ob, L.loc, arith::CmpFPredicate::OEQ,
                                          first, kpos);
        return arith::SelectOp::create(ob, L.loc, hit, g, L.f32c(ob, 0.0f));
      });
}

} // namespace

void mcutrain::lowering::populatePoolingPatterns(RewritePatternSet &patterns) {
  addLowering<nn::MaxPool2dOp>(patterns, lowerMaxPool);
  addLowering<nn::AvgPool2dOp>(patterns, lowerAvgPool);
  addLowering<nn::MaxPool2dGradOp>(patterns, lowerMaxPoolGrad);
  addLowering<nn::AvgPool2dGradOp>(patterns, lowerAvgPoolGrad);
  addLowering<nn::MaxPool2dIndicesOp>(patterns, lowerMaxPoolIndices);
  addLowering<nn::MaxPool2dMaskOp>(patterns, lowerMaxPoolMask);
  addLowering<nn::MaxPool2dMaskedGradOp>(patterns, lowerMaxPoolMaskedGrad);
}
