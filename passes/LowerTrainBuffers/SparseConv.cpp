//===- SparseConv.cpp - TinyProp's sparse convolution gradients -----------===//
//
// The weight and input gradients of a batch-1 convolution from the output
// errors TinyProp kept: loops over the `count[0]` selected elements and the
// taps of each one's window, so the cost scales with k. Each step also adds
// the MACs it did to mcutrain_dynamic_macs. An int8 layer's weight or input
// is read in real units (RealReader).
//
//===----------------------------------------------------------------------===//
#include "passes/LowerTrainBuffers/Patterns.h"

using namespace mlir;
using namespace mcutrain;
using namespace mcutrain::train;
using namespace mcutrain::trainbuffers;

namespace {

/// The index arithmetic of the loops, at one location.
struct IndexMath {
  Location loc;
  Value index(OpBuilder &b, int64_t v) {
    return arith::ConstantIndexOp::create(b, loc, v);
  }
  Value i32(OpBuilder &b, int64_t v) {
    return arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(v));
  }
  Value toIndex(OpBuilder &b, Value v) {
    return arith::IndexCastOp::create(b, loc, b.getIndexType(), v);
  }
  Value toI32(OpBuilder &b, Value v) {
    return arith::IndexCastOp::create(b, loc, b.getI32Type(), v);
  }
  /// 0 <= v < n (i32).
  Value inside(OpBuilder &b, Value v, int64_t n) {
    Value lo =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sge, v, i32(b, 0));
    Value hi =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, v, i32(b, n));
    return arith::AndIOp::create(b, loc, lo, hi);
  }
};

/// A convolution's geometry: strides, pads, dilations, group, and the
/// shapes of the error (ys), the weight (ws) and the input (xs).
struct ConvGeometry {
  ArrayRef<int64_t> s, p, dl, ys, ws, xs;
  int64_t group;
};

/// Element e (flat index into the error) of the selection: its output
/// channel, row and column, its error, and where its window starts.
struct SelectedElement {
  Value co, oh, ow, err, firstChannel, ih0, iw0;
};

SelectedElement loadSelected(OpBuilder &b, IndexMath &m, const ConvGeometry &g,
                             Value dy, Value e) {
  Location loc = m.loc;
  SelectedElement el;
  Value plane = m.i32(b, g.ys[2] * g.ys[3]);
  el.co = arith::DivSIOp::create(b, loc, e, plane);
  Value rest = arith::RemSIOp::create(b, loc, e, plane);
  el.oh = arith::DivSIOp::create(b, loc, rest, m.i32(b, g.ys[3]));
  el.ow = arith::RemSIOp::create(b, loc, rest, m.i32(b, g.ys[3]));
  el.err = memref::LoadOp::create(b, loc, dy,
                                  ValueRange{m.index(b, 0), m.toIndex(b, el.co),
                                             m.toIndex(b, el.oh),
                                             m.toIndex(b, el.ow)});
  el.firstChannel = arith::MulIOp::create(
      b, loc,
      arith::DivSIOp::create(b, loc, el.co, m.i32(b, g.ws[0] / g.group)),
      m.i32(b, g.ws[1]));
  // ih = oh s0 - p0 + kh d0 (i32: may be negative at the padding).
  el.ih0 = arith::SubIOp::create(
      b, loc, arith::MulIOp::create(b, loc, el.oh, m.i32(b, g.s[0])),
      m.i32(b, g.p[0]));
  el.iw0 = arith::SubIOp::create(
      b, loc, arith::MulIOp::create(b, loc, el.ow, m.i32(b, g.s[1])),
      m.i32(b, g.p[1]));
  return el;
}

/// For each tap (cl, kh, kw) of the element's group's window that falls
/// inside the input, calls `body(co, cl, kh, kw, ci, ih, iw, error)` (index
/// values but the f32 error).
void forEachTap(OpBuilder &b, IndexMath &m, const ConvGeometry &g,
                const SelectedElement &el,
                function_ref<void(OpBuilder &, ValueRange, Value)> body) {
  Location loc = m.loc;
  auto loop = [&](int64_t extent) {
    auto f = scf::ForOp::create(b, loc, m.index(b, 0), m.index(b, extent),
                                m.index(b, 1));
    b.setInsertionPointToStart(f.getBody());
    return f;
  };
  auto cl = loop(g.ws[1]);
  auto kh = loop(g.ws[2]);
  Value ih = arith::AddIOp::create(
      b, loc, el.ih0,
      arith::MulIOp::create(b, loc, m.toI32(b, kh.getInductionVar()),
                            m.i32(b, g.dl[0])));
  auto kw = loop(g.ws[3]);
  Value iw = arith::AddIOp::create(
      b, loc, el.iw0,
      arith::MulIOp::create(b, loc, m.toI32(b, kw.getInductionVar()),
                            m.i32(b, g.dl[1])));
  Value in = arith::AndIOp::create(b, loc, m.inside(b, ih, g.xs[2]),
                                   m.inside(b, iw, g.xs[3]));
  auto tap = scf::IfOp::create(b, loc, in, /*withElseRegion=*/false);
  b.setInsertionPointToStart(&tap.getThenRegion().front());
  Value ci = arith::AddIOp::create(b, loc, el.firstChannel,
                                   m.toI32(b, cl.getInductionVar()));
  body(b,
       ValueRange{m.toIndex(b, el.co), cl.getInductionVar(),
                  kh.getInductionVar(), kw.getInductionVar(), m.toIndex(b, ci),
                  m.toIndex(b, ih), m.toIndex(b, iw)},
       el.err);
}

/// The loops of both sparse gradients (into `result`, zero-filled first),
/// then mcutrain_dynamic_macs += k x (taps per element).
template <typename Op>
LogicalResult
buildSparseConvLoops(ConversionPatternRewriter &rewriter, Op op, Value result,
                     ArrayRef<int64_t> ws, ArrayRef<int64_t> xs,
                     function_ref<void(OpBuilder &, ValueRange, Value)> body) {
  Location loc = op.getLoc();
  Value zeroF =
      arith::ConstantOp::create(rewriter, loc, rewriter.getF32FloatAttr(0.0f));
  linalg::FillOp::create(rewriter, loc, zeroF, result);
  IndexMath m{loc};
  ConvGeometry g{op.getStrides(),
                 op.getPads(),
                 op.getDilations(),
                 cast<MemRefType>(op.getOutputGrad().getType()).getShape(),
                 ws,
                 xs,
                 (int64_t)op.getGroup()};
  Value k = memref::LoadOp::create(rewriter, loc, op.getCount(),
                                   ValueRange{m.index(rewriter, 0)});
  auto selected =
      scf::ForOp::create(rewriter, loc, m.index(rewriter, 0),
                         m.toIndex(rewriter, k), m.index(rewriter, 1));
  {
    OpBuilder::InsertionGuard guard(rewriter);
    rewriter.setInsertionPointToStart(selected.getBody());
    Value e = memref::LoadOp::create(rewriter, loc, op.getIndices(),
                                     ValueRange{selected.getInductionVar()});
    SelectedElement el = loadSelected(rewriter, m, g, op.getOutputGrad(), e);
    forEachTap(rewriter, m, g, el, body);
  }
  Value macs = getGlobalMemRef(rewriter, op, kDynamicMacsGlobal, loc);
  if (!macs)
    return op.emitOpError() << "global " << kDynamicMacsGlobal << " missing";
  Value zero = m.index(rewriter, 0);
  Value old = memref::LoadOp::create(rewriter, loc, macs, ValueRange{zero});
  Value done = arith::MulIOp::create(
      rewriter, loc,
      arith::ExtSIOp::create(rewriter, loc, rewriter.getI64Type(), k),
      arith::ConstantOp::create(
          rewriter, loc, rewriter.getI64IntegerAttr(ws[1] * ws[2] * ws[3])));
  memref::StoreOp::create(rewriter, loc,
                          arith::AddIOp::create(rewriter, loc, old, done), macs,
                          ValueRange{zero});
  return success();
}

/// buf[at] += err * factor.
void accumulate(OpBuilder &b, Location loc, Value buf, ValueRange at, Value err,
                Value factor) {
  Value old = memref::LoadOp::create(b, loc, buf, at);
  Value m = arith::MulFOp::create(b, loc, err, factor);
  memref::StoreOp::create(b, loc, arith::AddFOp::create(b, loc, old, m), buf,
                          at);
}

/// dW[co, cl, kh, kw] += error * x[0, ci, ih, iw]
struct LowerSparseGradWeight
    : OpConversionPattern<BufferSparseConv2dGradWeightOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(BufferSparseConv2dGradWeightOp op, OpAdaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value dw = op.getWeightGrad();
    RealReader x = RealReader::get(rewriter, op, op.getInput(),
                                   op.getQuantTypeAttr(), loc);
    if (failed(buildSparseConvLoops(
            rewriter, op, dw, cast<MemRefType>(dw.getType()).getShape(),
            cast<MemRefType>(x.buffer.getType()).getShape(),
            [&](OpBuilder &b, ValueRange iv, Value err) {
              Value zero = arith::ConstantIndexOp::create(b, loc, 0);
              Value xv = x.load(b, loc, {zero, iv[4], iv[5], iv[6]});
              accumulate(b, loc, dw, iv.take_front(4), err, xv);
            })))
      return failure();
    rewriter.eraseOp(op);
    return success();
  }
};

/// dX[0, ci, ih, iw] += error * W[co, cl, kh, kw]
struct LowerSparseGradInput
    : OpConversionPattern<BufferSparseConv2dGradInputOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(BufferSparseConv2dGradInputOp op, OpAdaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value dx = op.getInputGrad();
    RealReader w = RealReader::get(rewriter, op, op.getWeight(),
                                   op.getQuantTypeAttr(), loc);
    if (failed(buildSparseConvLoops(
            rewriter, op, dx, cast<MemRefType>(w.buffer.getType()).getShape(),
            cast<MemRefType>(dx.getType()).getShape(),
            [&](OpBuilder &b, ValueRange iv, Value err) {
              Value zero = arith::ConstantIndexOp::create(b, loc, 0);
              Value wv = w.load(b, loc, iv.take_front(4));
              accumulate(b, loc, dx, {zero, iv[4], iv[5], iv[6]}, err, wv);
            })))
      return failure();
    rewriter.eraseOp(op);
    return success();
  }
};

} // namespace

void mcutrain::trainbuffers::populateSparseConvPatterns(
    RewritePatternSet &patterns) {
  patterns.add<LowerSparseGradWeight, LowerSparseGradInput>(
      patterns.getContext());
}
