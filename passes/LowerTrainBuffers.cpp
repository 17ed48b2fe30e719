//===- LowerTrainBuffers.cpp - train.buffer.* ops → loops and calls -------===//
//
// Where it sits: right after one-shot bufferization. See Passes.td.
//
//===----------------------------------------------------------------------===//
#include "passes/LowerTrainBuffers/Patterns.h"

namespace mcutrain {
#define GEN_PASS_DEF_LOWERTRAINBUFFERSPASS
#include "passes/Passes.h.inc"
} // namespace mcutrain

using namespace mlir;
using namespace mcutrain;

Value mcutrain::trainbuffers::getGlobalMemRef(OpBuilder &b, Operation *from,
                                              StringRef name, Location loc) {
  auto g = SymbolTable::lookupNearestSymbolFrom<memref::GlobalOp>(
      from, b.getStringAttr(name));
  if (!g)
    return Value();
  return memref::GetGlobalOp::create(b, loc, g.getType(), g.getSymName());
}

namespace {

struct LowerTrainBuffersPass
    : public mcutrain::impl::LowerTrainBuffersPassBase<LowerTrainBuffersPass> {
  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    RewritePatternSet patterns(ctx);
    trainbuffers::populateUpdatePatterns(patterns);
    trainbuffers::populateSparseConvPatterns(patterns);
    trainbuffers::populateSelectionPatterns(patterns);
    ConversionTarget target(*ctx);
    target.addIllegalOp<
        train::BufferUpdateOp, train::BufferSparseConv2dGradWeightOp,
        train::BufferSparseConv2dGradInputOp, train::BufferTopkErrorOp,
        train::BufferDgsuSelectOp, train::BufferDgsuImportanceOp,
        train::BufferFiniteGuardOp>();
    target.markUnknownOpDynamicallyLegal([](Operation *) { return true; });
    ConversionConfig config;
    config.allowPatternRollback = false;
    if (failed(applyPartialConversion(getOperation(), target,
                                      std::move(patterns), config)))
      signalPassFailure();
  }
};

} // namespace
