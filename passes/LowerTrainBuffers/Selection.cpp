//===- Selection.cpp - run-time selections and checks of the train ops ----===//
//
// DGSU's channel choice and importance, TinyProp's error selection and the
// loss's finiteness check: runtime calls (mcutrain_runtime.h) on buffers,
// and DGSU's importance as loops over the channels.
//
//===----------------------------------------------------------------------===//
#include "passes/LowerTrainBuffers/Patterns.h"

using namespace mlir;
using namespace mcutrain;
using namespace mcutrain::train;
using namespace mcutrain::trainbuffers;

namespace {

/// The run-time choice writes the selection global.
struct LowerDgsuSelect : OpConversionPattern<BufferDgsuSelectOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(BufferDgsuSelectOp op, OpAdaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    int64_t channels = cast<MemRefType>(op.getAge().getType()).getNumElements();
    Value c = arith::ConstantIndexOp::create(rewriter, loc, channels);
    Value ratio = arith::ConstantOp::create(rewriter, loc, op.getRatioAttr());
    RuntimeCallOp::create(
        rewriter, loc, TypeRange{},
        RuntimeFunctionAttr::get(op.getContext(), RuntimeFunction::dgsu_select),
        ValueRange{op.getAge(), op.getImportance(), c, ratio, op.getSelection(),
                   op.getScratch()},
        DenseI64ArrayAttr(), ArrayAttr());
    rewriter.eraseOp(op);
    return success();
  }
};

/// Sum of |x| (or x^2 with `square`) over every index of `in`'s buffer but
/// `fixed`, which is `c` (in real units).
Value sumOver(OpBuilder &b, Location loc, const RealReader &in, int64_t fixed,
              Value c, bool square) {
  OpBuilder::InsertionGuard g(b);
  auto idx = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  ArrayRef<int64_t> shape = cast<MemRefType>(in.buffer.getType()).getShape();
  Value acc = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0f));
  SmallVector<Value> ivs(shape.size());
  SmallVector<scf::ForOp> loops;
  for (size_t d = 0; d < shape.size(); ++d) {
    if ((int64_t)d == fixed) {
      ivs[d] = c;
      continue;
    }
    auto loop = scf::ForOp::create(b, loc, idx(0), idx(shape[d]), idx(1),
                                   ValueRange{acc});
    if (!loops.empty())
      scf::YieldOp::create(b, loc, loop.getResults());
    loops.push_back(loop);
    ivs[d] = loop.getInductionVar();
    acc = loop.getRegionIterArgs()[0];
    b.setInsertionPointToStart(loop.getBody());
  }
  Value v = in.load(b, loc, ivs);
  Value t = square ? arith::MulFOp::create(b, loc, v, v).getResult()
                   : math::AbsFOp::create(b, loc, v).getResult();
  Value next = arith::AddFOp::create(b, loc, acc, t);
  if (loops.empty())
    return next;
  scf::YieldOp::create(b, loc, next);
  return loops.front().getResult(0);
}

/// importance[c] = decay importance[c] + (1 - decay) mean|x[:, c]|
/// ||w[.., c, ..]|| as loops over the channels (int8 operands read in real
/// units).
struct LowerDgsuImportance : OpConversionPattern<BufferDgsuImportanceOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(BufferDgsuImportanceOp op, OpAdaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto xType = cast<MemRefType>(op.getInput().getType());
    int64_t channels = xType.getShape()[1];
    float decay = op.getDecay().convertToFloat();
    auto idx = [&](int64_t v) -> Value {
      return arith::ConstantIndexOp::create(rewriter, loc, v);
    };
    auto f32 = [&](float v) -> Value {
      return arith::ConstantOp::create(rewriter, loc,
                                       rewriter.getF32FloatAttr(v));
    };
    OpBuilder::InsertionGuard guard(rewriter);
    RealReader x = RealReader::get(rewriter, op, op.getInput(),
                                   op.getInputTypeAttr(), loc);
    RealReader w = RealReader::get(rewriter, op, op.getWeight(),
                                   op.getWeightTypeAttr(), loc);
    auto channelLoop =
        scf::ForOp::create(rewriter, loc, idx(0), idx(channels), idx(1));
    rewriter.setInsertionPointToStart(channelLoop.getBody());
    Value c = channelLoop.getInductionVar();
    Value absSum = sumOver(rewriter, loc, x, 1, c, false);
    Value sq = sumOver(rewriter, loc, w, op.getWeightAxis(), c, true);
    int64_t count = xType.getNumElements() / channels;
    Value mean =
        arith::DivFOp::create(rewriter, loc, absSum, f32((float)count));
    Value score = arith::MulFOp::create(
        rewriter, loc, mean, math::SqrtOp::create(rewriter, loc, sq));
    Value imp = op.getImportance();
    Value old = memref::LoadOp::create(rewriter, loc, imp, ValueRange{c});
    Value updated = arith::AddFOp::create(
        rewriter, loc, arith::MulFOp::create(rewriter, loc, old, f32(decay)),
        arith::MulFOp::create(rewriter, loc, score, f32(1.0f - decay)));
    memref::StoreOp::create(rewriter, loc, updated, imp, ValueRange{c});
    rewriter.setInsertionPointAfter(channelLoop);
    rewriter.eraseOp(op);
    return success();
  }
};

/// The runtime's mcutrain::tinyprop_select; with tau > 0 the call is the
/// step's skip decision (guard-backward puts the backward ops after it
/// under it).
struct LowerTopkError : OpConversionPattern<BufferTopkErrorOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(BufferTopkErrorOp op, OpAdaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto index = [&](int64_t v) -> Value {
      return arith::ConstantIndexOp::create(rewriter, loc, v);
    };
    auto f32 = [&](FloatAttr a) -> Value {
      return arith::ConstantOp::create(rewriter, loc, a);
    };
    Value depth = arith::ConstantOp::create(
        rewriter, loc, rewriter.getI32IntegerAttr(op.getDepth()));
    int64_t n = cast<MemRefType>(op.getError().getType()).getNumElements();
    int64_t kmax = cast<MemRefType>(op.getIndices().getType()).getDimSize(0);
    auto call = RuntimeCallOp::create(
        rewriter, loc, TypeRange{},
        RuntimeFunctionAttr::get(op.getContext(),
                                 RuntimeFunction::tinyprop_select),
        ValueRange{op.getError(), index(n), index(kmax), op.getYmax(),
                   op.getRatios(), index(op.getLayer()), depth,
                   f32(op.getSMinAttr()), f32(op.getSMaxAttr()),
                   f32(op.getZetaAttr()), f32(op.getTauAttr()), op.getIndices(),
                   op.getCount(), op.getSkip()},
        DenseI64ArrayAttr(), ArrayAttr());
    if (op.getTau().convertToFloat() > 0.0f)
      call->setAttr("mcutrain.skip_decision", rewriter.getUnitAttr());
    rewriter.eraseOp(op);
    return success();
  }
};

/// The step's first skip decision: mcutrain::skip_unless_finite.
struct LowerFiniteGuard : OpConversionPattern<BufferFiniteGuardOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(BufferFiniteGuardOp op, OpAdaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto call = RuntimeCallOp::create(
        rewriter, loc, TypeRange{},
        RuntimeFunctionAttr::get(op.getContext(),
                                 RuntimeFunction::skip_unless_finite),
        ValueRange{op.getLoss(),
                   arith::ConstantIndexOp::create(rewriter, loc, 1),
                   op.getSkip()},
        DenseI64ArrayAttr(), ArrayAttr());
    call->setAttr("mcutrain.skip_decision", rewriter.getUnitAttr());
    rewriter.eraseOp(op);
    return success();
  }
};

} // namespace

void mcutrain::trainbuffers::populateSelectionPatterns(
    RewritePatternSet &patterns) {
  patterns.add<LowerDgsuSelect, LowerDgsuImportance, LowerTopkError,
               LowerFiniteGuard>(patterns.getContext());
}
