//===- LowerToLinalg.cpp - nn/train tensor ops → linalg and tensor ops ----===//
//
// Contractions and elementwise ops become linalg.generic with the loop order
// chosen for unit-stride inner loops (convert-linalg-to-loops keeps the
// order of the iteration dimensions). Index-irregular ops (padding, strided
// transposed convolution, pooling gradients) become tensor.generate with
// branch-free bodies: clamped loads plus selects. One DialectConversion
// over the patterns of passes/LowerToLinalg/ (one file per op family).
//
//===----------------------------------------------------------------------===//
#include "passes/LowerToLinalg/Lowering.h"

namespace mcutrain {
#define GEN_PASS_DEF_LOWERTOLINALGPASS
#include "passes/Passes.h.inc"
} // namespace mcutrain

using namespace mlir;
using namespace mcutrain;

namespace {

struct LowerToLinalgPass
    : public mcutrain::impl::LowerToLinalgPassBase<LowerToLinalgPass> {
  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    RewritePatternSet patterns(ctx);
    lowering::populateConvPatterns(patterns);
    lowering::populateContractionPatterns(patterns);
    lowering::populateElementwisePatterns(patterns);
    lowering::populatePoolingPatterns(patterns);
    lowering::populateReductionPatterns(patterns);
    lowering::populateLossPatterns(patterns);
    lowering::populateDataMovementPatterns(patterns);
    lowering::populateGatherPatterns(patterns);
    lowering::populateQuantizationPatterns(patterns);
    lowering::populateQuantizedLayerPatterns(patterns);
    lowering::populateQuantizedGradientPatterns(patterns);
    lowering::populateMaskPatterns(patterns);

    // Every nn op and the train ops of the loss and of sparse updates'
    // gathers; the rest of the train dialect bufferizes itself.
    ConversionTarget target(*ctx);
    target.addIllegalDialect<nn::NNDialect>();
    target.addIllegalOp<train::CrossEntropyLossOp,
                        train::CrossEntropyLossGradOp, train::MseLossOp,
                        train::MseLossGradOp, train::GatherChannelsOp>();
    target.markUnknownOpDynamicallyLegal([](Operation *) { return true; });
    // Replacements take effect at once, so a pattern reads the lowered
    // values of its op's operands (and the kernel marks see the generics
    // that produce them).
    ConversionConfig config;
    config.allowPatternRollback = false;
    if (failed(applyPartialConversion(getOperation(), target,
                                      std::move(patterns), config)))
      signalPassFailure();
  }
};

} // namespace
