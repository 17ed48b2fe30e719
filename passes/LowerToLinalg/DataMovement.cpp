//===- DataMovement.cpp - data movement -------===//
//
// Transpose, slice and its gradient, concat, reshape, padding (constant, edge,
// reflect) and its gradient, and the channel gather of sparse updates.
//
//===----------------------------------------------------------------------===//
#include "passes/LowerToLinalg/Lowering.h"

using namespace mlir;
using namespace mcutrain;
using namespace mcutrain::lowering;

namespace {

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
  auto strides = op.getStrides();
  Value in = op.getInput();
  auto gen = tensor::GenerateOp::create(
      L.b, L.loc, op.getOutput().getType(), ValueRange{},
      [&](OpBuilder &ob, Location l, ValueRange iv) {
        SmallVector<Value> idx;
        for (auto [i, v] : llvm::enumerate(iv)) {
          int64_t stride = strides.empty() ? 1 : strides[i];
          Value at = v;
          if (stride != 1)
            at = arith::MulIOp::create(
                ob, l, at, arith::ConstantIndexOp::create(ob, l, stride));
          if (off[i] != 0)
            at = arith::AddIOp::create(
                ob, l, at, arith::ConstantIndexOp::create(ob, l, off[i]));
          idx.push_back(at);
        }
        tensor::YieldOp::create(ob, l,
                                tensor::ExtractOp::create(ob, l, in, idx));
      });
  return gen.getResult();
}

/// Zeros, except where a position is offset + i * stride along every dim:
/// there the gradient of slice element i (read at a clamped index, then
/// selected, so the body has no branches).
Value lowerSliceGrad(Lowering &L, nn::SliceGradOp op) {
  Value dy = op.getOutputGrad();
  auto ys = op.getOutputGrad().getType().getShape();
  auto off = op.getOffsets();
  auto strides = op.getStrides();
  auto gen = tensor::GenerateOp::create(
      L.b, L.loc, op.getInputGrad().getType(), ValueRange{},
      [&](OpBuilder &ob, Location l, ValueRange iv) {
        SmallVector<Value> idx;
        Value inside;
        for (auto [d, v] : llvm::enumerate(iv)) {
          // Backwards (stride -s): element q sits at off - q * s, i.e. at
          // -off + q * s in the negated position.
          Value valid, at = L.toI32(ob, v);
          bool back = strides[d] < 0;
          if (back)
            at = arith::SubIOp::create(ob, l, L.i32c(ob, 0), at);
          Value src =
              L.sourceIndex(ob, at, back ? -off[d] : off[d],
                            back ? -strides[d] : strides[d], ys[d], valid);
          idx.push_back(L.toIndex(ob, src));
          inside = inside ? L.both(ob, inside, valid) : valid;
        }
        Value g = tensor::ExtractOp::create(ob, l, dy, idx);
        tensor::YieldOp::create(
            ob, l, arith::SelectOp::create(ob, l, inside, g, L.f32c(ob, 0.0f)));
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

/// out[..., j, ...] = in[..., indices[j], ...] along `axis`.
/// A linalg.generic (not a tensor.generate, whose elements canonicalization
/// would fold into consumers that read with tensor.extract, such as the
/// int8 gradients): the gathered channels are a buffer of their own, so the
/// full input can die with the forward pass.
Value lowerGatherChannels(Lowering &L, train::GatherChannelsOp op) {
  Value in = op.getInput(), idx = op.getIndices();
  int64_t axis = op.getAxis();
  auto type = op.getOutput().getType();
  unsigned rank = type.getRank();
  return L.generic(
      tensor::EmptyOp::create(L.b, L.loc, type.getShape(),
                              type.getElementType()),
      ValueRange{}, {L.b.getMultiDimIdentityMap(rank)},
      SmallVector<IteratorType>(rank, kPar),
      [&](OpBuilder &ob, Location l, ValueRange) {
        SmallVector<Value> at;
        for (unsigned d = 0; d < rank; ++d)
          at.push_back(linalg::IndexOp::create(ob, l, d));
        at[axis] = L.toIndex(
            ob, tensor::ExtractOp::create(ob, l, idx, ValueRange{at[axis]}));
        return tensor::ExtractOp::create(ob, l, in, at).getResult();
      });
}

Value lowerReshape(Lowering &L, nn::ReshapeOp o) {
  return L.reshape(o.getInput(), o.getOutput().getType());
}

} // namespace

void mcutrain::lowering::populateDataMovementPatterns(
    RewritePatternSet &patterns) {
  addLowering<nn::TransposeOp>(patterns, lowerTranspose);
  addLowering<nn::SliceOp>(patterns, lowerSlice);
  addLowering<nn::SliceGradOp>(patterns, lowerSliceGrad);
  addLowering<nn::ConcatOp>(patterns, lowerConcat);
  addLowering<nn::ReshapeOp>(patterns, lowerReshape);
  addLowering<nn::Pad2dOp>(patterns, lowerPad);
  addLowering<nn::Pad2dGradOp>(patterns, lowerPadGrad);
  addLowering<train::GatherChannelsOp>(patterns, lowerGatherChannels);
}
