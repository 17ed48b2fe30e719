//===- BufferizableOpInterfaceImpl.cpp - train ops → buffer forms ---------===//
//
// One-shot bufferization of the train ops: each becomes its train.buffer.*
// form on memrefs (destination-passing style: a result's buffer is an
// operand, freshly allocated, or the op's operand it is written in place
// of). Nothing more happens here: lower-train-buffers expands the buffer
// forms into loops, linalg ops and runtime calls. External models, as
// upstream dialects keep them; the analysis methods are one shared model.
//
//===----------------------------------------------------------------------===//
#include "dialects/Train/Train.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"

using namespace mlir;
using namespace mlir::bufferization;
using namespace mcutrain::train;

namespace {

/// The analysis side of every train op: its tensor operands are read, none
/// is written and no result aliases one, except the operand `InPlace`
/// (if not negative), which result `InPlace` is written in place of.
template <typename ConcreteModel, typename Op, int InPlace = -1>
struct TrainOpModel
    : public BufferizableOpInterface::ExternalModel<ConcreteModel, Op> {
  bool bufferizesToMemoryRead(Operation *, OpOperand &,
                              const AnalysisState &) const {
    return true;
  }
  bool bufferizesToMemoryWrite(Operation *, OpOperand &operand,
                               const AnalysisState &) const {
    return (int)operand.getOperandNumber() == InPlace;
  }
  AliasingValueList getAliasingValues(Operation *op, OpOperand &operand,
                                      const AnalysisState &) const {
    if ((int)operand.getOperandNumber() != InPlace)
      return {};
    return {{op->getResult(InPlace), BufferRelation::Equivalent}};
  }
};

/// The buffer of a tensor operand.
Value bufferOf(RewriterBase &rewriter, Value tensor,
               const BufferizationOptions &options, BufferizationState &state,
               bool &failedAny) {
  FailureOr<Value> buffer = getBuffer(rewriter, tensor, options, state);
  failedAny |= failed(buffer);
  return succeeded(buffer) ? *buffer : Value();
}

/// A fresh buffer for a tensor result.
Value allocFor(RewriterBase &rewriter, Location loc, Value result) {
  auto type = cast<RankedTensorType>(result.getType());
  return memref::AllocOp::create(
      rewriter, loc, MemRefType::get(type.getShape(), type.getElementType()));
}

/// The memref of a global the op names (run-time state), or null.
Value globalBuffer(RewriterBase &rewriter, Operation *op, StringRef name) {
  auto g = SymbolTable::lookupNearestSymbolFrom<memref::GlobalOp>(
      op, rewriter.getStringAttr(name));
  if (!g)
    return Value();
  return memref::GetGlobalOp::create(rewriter, op->getLoc(), g.getType(),
                                     g.getSymName());
}

struct UpdateModel : TrainOpModel<UpdateModel, UpdateOp> {
  LogicalResult bufferize(Operation *o, RewriterBase &rewriter,
                          const BufferizationOptions &options,
                          BufferizationState &state) const {
    auto op = cast<UpdateOp>(o);
    bool failedAny = false;
    auto buffer = [&](Value v) {
      return v ? bufferOf(rewriter, v, options, state, failedAny) : Value();
    };
    Value grad = buffer(op.getGrad()), outer = buffer(op.getOuter());
    Value channels = buffer(op.getChannels());
    if (failedAny)
      return failure();
    Value inputGrad;
    if (op.getInputGrad())
      inputGrad = allocFor(rewriter, op.getLoc(), op.getInputGrad());
    BufferUpdateOp::create(rewriter, op.getLoc(), op.getParamAttr(), grad,
                           op.getOptimizer(), channels, op.getChannelAxisAttr(),
                           outer, inputGrad, op.getWeightTypeAttr(),
                           op.getQasOffAttr());
    if (inputGrad)
      replaceOpWithBufferizedValues(rewriter, op, inputGrad);
    else
      rewriter.eraseOp(op);
    return success();
  }
};

template <typename TensorOp, typename BufferOp>
struct SparseConvGradModel
    : TrainOpModel<SparseConvGradModel<TensorOp, BufferOp>, TensorOp> {
  LogicalResult bufferize(Operation *o, RewriterBase &rewriter,
                          const BufferizationOptions &options,
                          BufferizationState &state) const {
    auto op = cast<TensorOp>(o);
    bool failedAny = false;
    SmallVector<Value> ins;
    for (Value v : op->getOperands())
      ins.push_back(bufferOf(rewriter, v, options, state, failedAny));
    if (failedAny)
      return failure();
    Value result = allocFor(rewriter, op.getLoc(), op->getResult(0));
    BufferOp::create(rewriter, op.getLoc(), ins[0], ins[1], ins[2], ins[3],
                     result, op.getStridesAttr(), op.getPadsAttr(),
                     op.getDilationsAttr(), op.getGroupAttr(),
                     op.getQuantTypeAttr());
    replaceOpWithBufferizedValues(rewriter, op, result);
    return success();
  }
};

/// The error is zeroed in place (the kept errors are the error's buffer).
struct TopkErrorModel : TrainOpModel<TopkErrorModel, TopkErrorOp, 0> {
  LogicalResult bufferize(Operation *o, RewriterBase &rewriter,
                          const BufferizationOptions &options,
                          BufferizationState &state) const {
    auto op = cast<TopkErrorOp>(o);
    bool failedAny = false;
    Value error = bufferOf(rewriter, op.getError(), options, state, failedAny);
    if (failedAny)
      return failure();
    Value ymax = globalBuffer(rewriter, op, kTinyPropYMaxGlobal);
    Value ratios = globalBuffer(rewriter, op, kTinyPropRatioGlobal);
    Value skip = globalBuffer(rewriter, op, kSkipStepGlobal);
    if (!ymax || !ratios || !skip)
      return op.emitOpError() << "TinyProp state globals missing";
    Value indices = allocFor(rewriter, op.getLoc(), op.getIndices());
    Value count = allocFor(rewriter, op.getLoc(), op.getCount());
    BufferTopkErrorOp::create(
        rewriter, op.getLoc(), error, ymax, ratios, skip, indices, count,
        op.getLayerAttr(), op.getDepthAttr(), op.getSMinAttr(),
        op.getSMaxAttr(), op.getZetaAttr(), op.getTauAttr());
    replaceOpWithBufferizedValues(rewriter, op,
                                  ValueRange{error, indices, count});
    return success();
  }
};

/// The selection is a global the runtime writes; the result is that global
/// (no copy).
struct DgsuSelectModel : TrainOpModel<DgsuSelectModel, DgsuSelectOp> {
  LogicalResult bufferize(Operation *o, RewriterBase &rewriter,
                          const BufferizationOptions &,
                          BufferizationState &) const {
    auto op = cast<DgsuSelectOp>(o);
    Value age = globalBuffer(rewriter, op, op.getAge());
    Value importance = globalBuffer(rewriter, op, op.getImportance());
    Value selection = globalBuffer(rewriter, op, op.getSelection());
    Value scratch = globalBuffer(rewriter, op, op.getScratch());
    if (!age || !importance || !selection || !scratch)
      return op.emitOpError() << "DGSU state globals missing";
    BufferDgsuSelectOp::create(rewriter, op.getLoc(), age, importance,
                               selection, scratch, op.getRatioAttr());
    replaceOpWithBufferizedValues(rewriter, op, selection);
    return success();
  }
};

struct DgsuImportanceModel
    : TrainOpModel<DgsuImportanceModel, DgsuImportanceOp> {
  LogicalResult bufferize(Operation *o, RewriterBase &rewriter,
                          const BufferizationOptions &options,
                          BufferizationState &state) const {
    auto op = cast<DgsuImportanceOp>(o);
    bool failedAny = false;
    Value x = bufferOf(rewriter, op.getInput(), options, state, failedAny);
    Value w = bufferOf(rewriter, op.getWeight(), options, state, failedAny);
    if (failedAny)
      return failure();
    Value importance = globalBuffer(rewriter, op, op.getImportance());
    if (!importance)
      return op.emitOpError() << "DGSU importance global missing";
    BufferDgsuImportanceOp::create(
        rewriter, op.getLoc(), x, w, importance, op.getWeightAxisAttr(),
        op.getDecayAttr(), op.getInputTypeAttr(), op.getWeightTypeAttr());
    rewriter.eraseOp(op);
    return success();
  }
};

struct FiniteGuardModel : TrainOpModel<FiniteGuardModel, FiniteGuardOp> {
  LogicalResult bufferize(Operation *o, RewriterBase &rewriter,
                          const BufferizationOptions &options,
                          BufferizationState &state) const {
    auto op = cast<FiniteGuardOp>(o);
    bool failedAny = false;
    Value loss = bufferOf(rewriter, op.getLoss(), options, state, failedAny);
    if (failedAny)
      return failure();
    Value skip = globalBuffer(rewriter, op, kSkipStepGlobal);
    if (!skip)
      return op.emitOpError() << "global " << kSkipStepGlobal << " missing";
    BufferFiniteGuardOp::create(rewriter, op.getLoc(), loss, skip);
    rewriter.eraseOp(op);
    return success();
  }
};

} // namespace

void mcutrain::train::registerBufferizableOpInterfaceExternalModels(
    DialectRegistry &registry) {
  registry.addExtension(+[](MLIRContext *ctx, TrainDialect *) {
    UpdateOp::attachInterface<UpdateModel>(*ctx);
    SparseConv2dGradWeightOp::attachInterface<SparseConvGradModel<
        SparseConv2dGradWeightOp, BufferSparseConv2dGradWeightOp>>(*ctx);
    SparseConv2dGradInputOp::attachInterface<SparseConvGradModel<
        SparseConv2dGradInputOp, BufferSparseConv2dGradInputOp>>(*ctx);
    TopkErrorOp::attachInterface<TopkErrorModel>(*ctx);
    DgsuSelectOp::attachInterface<DgsuSelectModel>(*ctx);
    DgsuImportanceOp::attachInterface<DgsuImportanceModel>(*ctx);
    FiniteGuardOp::attachInterface<FiniteGuardModel>(*ctx);
  });
}
