//===- LowerToEmitC.cpp - loops on flat buffers → EmitC -------------------===//
//
// Everything left after planning is func/scf/arith/math on 1-D memrefs and
// globals, which the upstream *-to-emitc patterns cover; this pass only
// gathers them into one conversion (without pulling in every conversion
// pass's registration) and covers the math ops they miss. Includes are
// written by the package emitter, outside the model's namespace.
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"

#include "mlir/Conversion/ArithToEmitC/ArithToEmitC.h"
#include "mlir/Conversion/FuncToEmitC/FuncToEmitC.h"
#include "mlir/Conversion/MathToEmitC/MathToEmitC.h"
#include "mlir/Conversion/MemRefToEmitC/MemRefToEmitC.h"
#include "mlir/Conversion/SCFToEmitC/SCFToEmitC.h"
#include "mlir/Dialect/Arith/Transforms/Passes.h"
#include "mlir/Dialect/EmitC/Transforms/TypeConversions.h"
#include "mlir/Transforms/DialectConversion.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mcutrain {
#define GEN_PASS_DEF_LOWERTOEMITCPASS
#include "passes/Passes.h.inc"
} // namespace mcutrain

using namespace mlir;
using namespace mcutrain;

namespace {

/// Math ops the upstream patterns leave out become calls into <cmath>.
template <typename MathOp>
struct MathToCallOpaque : OpConversionPattern<MathOp> {
  MathToCallOpaque(MLIRContext *ctx, StringRef callee, unsigned benefit = 1)
      : OpConversionPattern<MathOp>(ctx, benefit), callee(callee.str()) {}
  LogicalResult
  matchAndRewrite(MathOp op, typename MathOp::Adaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    if (!op.getType().isF32())
      return rewriter.notifyMatchFailure(op, "f32 only");
    rewriter.replaceOpWithNewOp<emitc::CallOpaqueOp>(op, op.getType(), callee,
                                                     adaptor.getOperands());
    return success();
  }
  std::string callee;
};

/// f32 -> i64 (the requantization offsets of a trained float bias) through
/// mcutrain::kernels::to_int64: on 32-bit Arm the C conversion is the
/// library's __aeabi_f2lz, which goes through soft doubles (about 250
/// Cortex-M4 instructions; 0.7% of ResNet-8's int8 forward pass).
struct FPToSI64ToEmitC : OpConversionPattern<arith::FPToSIOp> {
  FPToSI64ToEmitC(const TypeConverter &converter, MLIRContext *ctx)
      : OpConversionPattern(converter, ctx, /*benefit=*/2) {}
  LogicalResult
  matchAndRewrite(arith::FPToSIOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    if (!op.getIn().getType().isF32() || !op.getType().isInteger(64))
      return rewriter.notifyMatchFailure(op, "f32 to i64 only");
    rewriter.replaceOpWithNewOp<emitc::CallOpaqueOp>(
        op, op.getType(), "mcutrain::kernels::to_int64", adaptor.getIn());
    return success();
  }
};

/// Float comparisons that C's operators already compute: `<`, `<=`, `>`,
/// `>=`, `==` are false and `!=` is true when an operand is NaN, exactly the
/// ordered (and une) predicates. Upstream spells out the NaN tests with
/// `&&`, whose branches kept g++ from vectorizing clamps (ReLU6: 4.8% of
/// MobileNetV2's step).
struct CmpFToEmitC : OpConversionPattern<arith::CmpFOp> {
  CmpFToEmitC(const TypeConverter &converter, MLIRContext *ctx)
      : OpConversionPattern(converter, ctx, /*benefit=*/2) {}
  LogicalResult
  matchAndRewrite(arith::CmpFOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    std::optional<emitc::CmpPredicate> pred;
    switch (op.getPredicate()) {
    case arith::CmpFPredicate::OLT:
      pred = emitc::CmpPredicate::lt;
      break;
    case arith::CmpFPredicate::OLE:
      pred = emitc::CmpPredicate::le;
      break;
    case arith::CmpFPredicate::OGT:
      pred = emitc::CmpPredicate::gt;
      break;
    case arith::CmpFPredicate::OGE:
      pred = emitc::CmpPredicate::ge;
      break;
    case arith::CmpFPredicate::OEQ:
      pred = emitc::CmpPredicate::eq;
      break;
    case arith::CmpFPredicate::UNE:
      pred = emitc::CmpPredicate::ne;
      break;
    default:
      return failure();
    }
    if (!isa<FloatType>(adaptor.getLhs().getType()))
      return failure();
    rewriter.replaceOpWithNewOp<emitc::CmpOp>(
        op, op.getType(), *pred, adaptor.getLhs(), adaptor.getRhs());
    return success();
  }
};

/// Calls into mcutrain_runtime.h (DGSU's selection): arrays decay to
/// pointers, index to size_t.
struct RuntimeCallToEmitC : OpConversionPattern<train::RuntimeCallOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(train::RuntimeCallOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    SmallVector<Value> args(adaptor.getArgs());
    if (auto offsets = op.getArenaOffsets()) {
      for (auto [arg, offset] : llvm::zip(args, *offsets)) {
        auto array = dyn_cast<emitc::ArrayType>(arg.getType());
        if (offset == 0 || !array)
          continue;
        // &arena[offset]
        Location loc = op.getLoc();
        Value at = emitc::ConstantOp::create(
            rewriter, loc, emitc::SizeTType::get(rewriter.getContext()),
            rewriter.getIndexAttr(offset));
        Value element = emitc::SubscriptOp::create(
            rewriter, loc, emitc::LValueType::get(array.getElementType()), arg,
            ValueRange{at});
        arg = emitc::ApplyOp::create(
            rewriter, loc, emitc::PointerType::get(array.getElementType()),
            rewriter.getStringAttr("&"), element);
      }
    }
    SmallVector<Type> results;
    if (failed(getTypeConverter()->convertTypes(op->getResultTypes(), results)))
      return failure();
    auto call = rewriter.replaceOpWithNewOp<emitc::CallOpaqueOp>(
        op, results, op.getCalleeName(), args);
    // For name-arena-pointers.
    if (auto names = op.getArenaNamesAttr())
      call->setAttr(kArenaNamesAttr, names);
    return success();
  }
};

struct LowerToEmitCPass
    : public mcutrain::impl::LowerToEmitCPassBase<LowerToEmitCPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = &getContext();
    // arith.maximumf / minimumf and the integer max / min (ONNX Max / Min)
    // have no EmitC form: compares and selects, NaN propagating.
    // Only where they occur, and without folding or constant CSE: other
    // modules' code stays exactly as it was.
    bool minMax =
        module
            .walk([](Operation *op) {
              return isa<arith::MaximumFOp, arith::MinimumFOp, arith::MaxSIOp,
                         arith::MaxUIOp, arith::MinSIOp, arith::MinUIOp>(op)
                         ? WalkResult::interrupt()
                         : WalkResult::advance();
            })
            .wasInterrupted();
    if (minMax) {
      RewritePatternSet expand(ctx);
      arith::populateArithExpandOpsPatterns(expand);
      GreedyRewriteConfig config;
      config.enableFolding(false).enableConstantCSE(false);
      if (failed(applyPatternsGreedily(module, std::move(expand), config)))
        return signalPassFailure();
    }

    TypeConverter converter;
    converter.addConversion([](Type t) { return t; });
    populateMemRefToEmitCTypeConversion(converter);
    populateEmitCSizeTTypeConversions(converter);

    RewritePatternSet patterns(ctx);
    populateArithToEmitCPatterns(converter, patterns);
    populateFuncToEmitCPatterns(converter, patterns);
    populateMemRefToEmitCConversionPatterns(patterns, converter);
    populateSCFToEmitCConversionPatterns(patterns, converter);
    populateConvertMathToEmitCPatterns(patterns, emitc::LanguageTarget::cpp11);
    patterns.add<MathToCallOpaque<math::LogOp>>(ctx, "std::log");
    // Branch-free, so elementwise loops around it vectorize.
    patterns.add<MathToCallOpaque<math::TanhOp>>(ctx,
                                                 "mcutrain::kernels::tanh");
    // Branch-free too (before the upstream std::exp pattern): the
    // sigmoids, SiLUs and softmaxes around it vectorize.
    patterns.add<MathToCallOpaque<math::ExpOp>>(ctx, "mcutrain::kernels::exp",
                                                /*benefit=*/2);
    patterns.add<MathToCallOpaque<math::SqrtOp>>(ctx, "std::sqrt");
    patterns.add<MathToCallOpaque<math::AbsFOp>>(ctx, "std::fabs");
    patterns.add<MathToCallOpaque<math::ErfOp>>(ctx, "std::erf");
    // Ties to even (ONNX QuantizeLinear); no library call on Cortex-M4.
    patterns.add<MathToCallOpaque<math::RoundEvenOp>>(
        ctx, "mcutrain::kernels::round_even");
    patterns.add<RuntimeCallToEmitC, CmpFToEmitC, FPToSI64ToEmitC>(converter,
                                                                   ctx);

    ConversionTarget target(*ctx);
    target.addLegalDialect<emitc::EmitCDialect>();
    target.addIllegalDialect<arith::ArithDialect, func::FuncDialect,
                             memref::MemRefDialect, scf::SCFDialect,
                             math::MathDialect>();
    target.addIllegalOp<train::RuntimeCallOp>();
    target.addLegalOp<ModuleOp>();
    if (failed(applyFullConversion(module, target, std::move(patterns))))
      return signalPassFailure();
  }
};
} // namespace
