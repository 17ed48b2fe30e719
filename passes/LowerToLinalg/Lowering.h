//===- Lowering.h - shared helpers of the nn/train → linalg patterns -*- C++
//-*-===//
//
// lower-to-linalg is a DialectConversion: one file per op family
// (Conv.cpp, Contraction.cpp, Elementwise.cpp, Pooling.cpp, Reduction.cpp,
// Loss.cpp, DataMovement.cpp, Masks.cpp, ...) adds its patterns with
// populate*Patterns. Each pattern builds its op's replacement from the op's own
// operands (the conversion runs without rollback, so they already are the
// lowered values) with the builder helpers of `Lowering`.
//
//===----------------------------------------------------------------------===//
#ifndef MCUTRAIN_PASSES_LOWERTOLINALG_LOWERING_H
#define MCUTRAIN_PASSES_LOWERTOLINALG_LOWERING_H

#include "passes/Passes.h"

#include "mlir/IR/AffineExpr.h"
#include "mlir/Transforms/DialectConversion.h"

namespace mcutrain::lowering {

using mlir::utils::IteratorType;
constexpr IteratorType kPar = IteratorType::parallel;
constexpr IteratorType kRed = IteratorType::reduction;

using BodyFn = llvm::function_ref<mlir::Value(mlir::OpBuilder &, mlir::Location,
                                              mlir::ValueRange)>;

using namespace mlir;

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
                      bool isUnsigned = false);
  /// x > y for f32, or signed/unsigned integers.
  Value greater(OpBuilder &ob, Value x, Value y, bool isUnsigned);
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
                ArrayRef<IteratorType> iters, BodyFn body);
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
  /// Indexing maps of an output-stationary generic over `rank` dimensions
  /// whose inputs are only `kernelIns` (each mapped to its element 0: the
  /// body reads them whole, the marked kernel as its operands), then the
  /// output's identity.
  SmallVector<AffineMap> kernelInputMaps(unsigned rank, ValueRange kernelIns);
  void tagKernel(Value result, train::KernelName name, ArrayRef<int64_t> args,
                 ArrayRef<int64_t> operands, ArrayRef<float> scalars = {},
                 bool overwrites = false);
  /// Names the plane-at-a-time variant of the kernel `result` is tagged
  /// with (see kKernelPlanesAttr), when its operand `spreadOperand` is a
  /// spread copy (a fill and a copy generic; not a generate).
  void tagPlaneKernel(Value result, train::KernelName name,
                      ArrayRef<int64_t> args, int64_t spreadOperand);
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
                     float lo, float hi);
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
  Value clamp(OpBuilder &ob, Value v, int64_t hi);

  /// Input row o * stride + shift of a pooling window (for output row o),
  /// clamped into [0, n); `valid` says whether it was inside.
  Value windowInput(OpBuilder &ob, Value o, int64_t shift, int64_t stride,
                    int64_t n, Value &valid);

  /// Input row o * stride + k * dilation - pad of output row o and tap k
  /// (index values), clamped into [0, n); `inside` says whether it was.
  Value tapRow(OpBuilder &ob, Value o, Value k, int64_t stride,
               int64_t dilation, int64_t pad, int64_t n, Value &inside);

  /// Element (kh, kw) of the pooling window of output (n, c, oh, ow) = iv
  /// in the unpadded NCHW `x`, read at a clamped index; `inside` says
  /// whether it lies in the input (not in the padding). Also returns the
  /// input row and column.
  Value windowElement(OpBuilder &ob, Value x, ValueRange iv, int64_t kh,
                      int64_t kw, ArrayRef<int64_t> s, ArrayRef<int64_t> p,
                      ArrayRef<int64_t> dl, Value &inside, Value &hh,
                      Value &ww);

  /// Source row for position `i` of a zero-inserted (stride `s`) and shifted
  /// (by `shift`) copy of an axis of length `n`; sets `valid`.
  Value sourceIndex(OpBuilder &ob, Value i, int64_t shift, int64_t s, int64_t n,
                    Value &valid);

  /// out[n,c,i,j] = x[n,c,(i-shift0)/s0,(j-shift1)/s1] where that is a whole
  /// in-range index, else `fill`. Covers padding (s = 1) and the
  /// zero-insertion of a strided transposed convolution.
  Value spread(Value x, ArrayRef<int64_t> outShape, int64_t shift0,
               int64_t shift1, int64_t s0, int64_t s1, double fill,
               bool isUnsigned = false);

  /// Row-major flat index (i32) of element `iv` of a tensor of `shape`,
  /// and back (index values).
  Value flatIndex(OpBuilder &ob, ValueRange iv, ArrayRef<int64_t> shape);
  SmallVector<Value> unflatten(OpBuilder &ob, Value flat,
                               ArrayRef<int64_t> shape);
  /// Field `flat` (i32) of `bits` bits of a packed mask (packFields'
  /// layout) as an i32; bit `flat` as an i1.
  Value maskField(OpBuilder &ob, Value mask, Value flat, int64_t bits);
  Value maskBit(OpBuilder &ob, Value mask, Value flat);

  /// Any static reshape: collapse to 1-D, expand to the target.
  Value reshape(Value x, RankedTensorType to);

  /// Map of an operand broadcast (numpy rules) into an iteration space of
  /// rank `rank` whose dims are the result dims.
  AffineMap broadcastMap(ArrayRef<int64_t> operand, ArrayRef<int64_t> result);
};

/// The element of an output-stationary generic (the int8 layers and their
/// gradients): linalg.index of each of the `rank` output dimensions.
SmallVector<Value> outputIndices(OpBuilder &ob, Location l, unsigned rank);

/// Sum of `product(red)` over the loops `extents` (zero-based, step 1),
/// starting from `init`, in a register: an scf.for nest carrying it.
Value sumOverLoops(
    OpBuilder &ob, Location l, ArrayRef<int64_t> extents, Value init,
    llvm::function_ref<Value(OpBuilder &, Location, ValueRange red)> product);

int64_t numElementsOf(Value tensor);

/// `n` fields of `bits` bits (1, 2, 4 or 8), 32 / bits to an i32 word
/// (field i at bit (i % (32 / bits)) * bits of word i / (32 / bits)):
/// `fieldOf` gives field i (an i32 below 2^bits) from i (i32, kept inside
/// [0, n)); the last word's spare bits are 0. packBits: one bit (an i1)
/// per element, nn.pack_mask's layout.
Value packFields(Lowering &L, int64_t n, int64_t bits,
                 llvm::function_ref<Value(OpBuilder &, Value)> fieldOf);
Value packBits(Lowering &L, int64_t n,
               llvm::function_ref<Value(OpBuilder &, Value)> bitOf);

/// One generic over the operands' (broadcast) shape that yields `body`.
Value elementwise(Lowering &L, ValueRange ins, BodyFn body);

/// An op's lowering as a conversion pattern: `lower` builds the value that
/// replaces the op (before it).
template <typename OpTy> struct LowerOp : OpConversionPattern<OpTy> {
  using LowerFn = Value (*)(Lowering &, OpTy);
  LowerOp(MLIRContext *ctx, LowerFn lower)
      : OpConversionPattern<OpTy>(ctx), lower(lower) {}
  LogicalResult
  matchAndRewrite(OpTy op, typename OpTy::Adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Lowering L{rewriter, op->getLoc()};
    Value replacement = lower(L, op);
    if (!replacement)
      return failure();
    rewriter.replaceOp(op, replacement);
    return success();
  }
  LowerFn lower;
};

template <typename OpTy>
void addLowering(RewritePatternSet &patterns,
                 Value (*lower)(Lowering &, OpTy)) {
  patterns.add<LowerOp<OpTy>>(patterns.getContext(), lower);
}

void populateConvPatterns(RewritePatternSet &patterns);
void populateContractionPatterns(RewritePatternSet &patterns);
void populateElementwisePatterns(RewritePatternSet &patterns);
void populatePoolingPatterns(RewritePatternSet &patterns);
void populateReductionPatterns(RewritePatternSet &patterns);
void populateLossPatterns(RewritePatternSet &patterns);
void populateDataMovementPatterns(RewritePatternSet &patterns);
void populateGatherPatterns(RewritePatternSet &patterns);
void populateQuantizationPatterns(RewritePatternSet &patterns);
void populateQuantizedLayerPatterns(RewritePatternSet &patterns);
void populateQuantizedGradientPatterns(RewritePatternSet &patterns);
void populateMaskPatterns(RewritePatternSet &patterns);

} // namespace mcutrain::lowering

#endif
