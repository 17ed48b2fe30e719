//===- Train.cpp - train dialect: attributes, verifiers, MACs -------------===//
#include "dialects/Train/Train.h"

#include "mlir/Dialect/Quant/IR/QuantTypes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MLProgram/IR/MLProgram.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Builders.h"

using namespace mlir;
using namespace mcutrain::train;

#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

#include "dialects/Train/TrainEnums.cpp.inc"
#include "dialects/Train/TrainOpsDialect.cpp.inc"
#define GET_ATTRDEF_CLASSES
#include "dialects/Train/TrainAttrs.cpp.inc"

void TrainDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "dialects/Train/TrainOps.cpp.inc"
      >();
  addAttributes<
#define GET_ATTRDEF_LIST
#include "dialects/Train/TrainAttrs.cpp.inc"
      >();
}

FailureOr<APFloat> mcutrain::train::parseF32(AsmParser &parser) {
  APFloat value(0.0f);
  if (parser.parseFloat(APFloat::IEEEsingle(), value))
    return failure();
  return value;
}

namespace {
/// A kernel's template parameters (TrainKernels.td via mcutrain-tblgen).
struct KernelSignature {
  unsigned parameters, required;
  uint64_t boolMask;
  const char *declaration;
};
} // namespace

static const KernelSignature &signatureOf(KernelName kernel) {
  static const KernelSignature table[] = {
#define MCUTRAIN_KERNEL(name, parameters, required, boolMask, declaration)     \
  {parameters, required, boolMask, declaration},
#include "dialects/Train/TrainKernels.inc"
#undef MCUTRAIN_KERNEL
  };
  return table[static_cast<unsigned>(kernel)];
}

LogicalResult KernelAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                 KernelName kernel, ArrayRef<int64_t> args) {
  const KernelSignature &sig = signatureOf(kernel);
  if (args.size() < sig.required || args.size() > sig.parameters) {
    auto diag = emitError() << "kernel " << stringifyKernelName(kernel)
                            << " takes " << sig.required;
    if (sig.parameters != sig.required)
      diag << " to " << sig.parameters;
    return diag << " template arguments (" << sig.declaration << "), not "
                << args.size();
  }
  for (auto [i, a] : llvm::enumerate(args))
    if ((sig.boolMask >> i & 1) && a != 0 && a != 1)
      return emitError() << "template argument " << i << " of kernel "
                         << stringifyKernelName(kernel) << " is a bool";
  return success();
}

std::string KernelAttr::getCallee() const {
  const KernelSignature &sig = signatureOf(getKernel());
  std::string callee =
      ("mcutrain::kernels::" + stringifyKernelName(getKernel()) + "<").str();
  for (auto [i, a] : llvm::enumerate(getArgs())) {
    if (i)
      callee += ",";
    callee +=
        (sig.boolMask >> i & 1) ? (a ? "true" : "false") : std::to_string(a);
  }
  return callee + ">";
}

KernelAttr KernelAttr::withLastArg(int64_t value) const {
  SmallVector<int64_t> args(getArgs());
  if (args.size() == signatureOf(getKernel()).parameters)
    args.pop_back();
  args.push_back(value);
  return KernelAttr::get(getContext(), getKernel(), args);
}

std::string RuntimeCallOp::getCalleeName() {
  if (auto kernel = dyn_cast<KernelAttr>(getCallee()))
    return kernel.getCallee();
  return ("mcutrain::" + stringifyRuntimeFunction(
                             cast<RuntimeFunctionAttr>(getCallee()).getValue()))
      .str();
}

unsigned OptimizerAttr::getNumStateBuffers() const {
  switch (getKind()) {
  case OptimizerKind::adam:
    return 2;
  case OptimizerKind::momentum:
  case OptimizerKind::nesterov:
  case OptimizerKind::adagrad:
    return 1;
  case OptimizerKind::sgd:
    return 0;
  }
  llvm_unreachable("unknown optimizer");
}

LogicalResult
OptimizerAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                      OptimizerKind kind, APFloat, APFloat, APFloat, APFloat,
                      APFloat, APFloat, APFloat, APFloat dampening, AdamForm) {
  if (!dampening.isZero() && kind != OptimizerKind::momentum &&
      kind != OptimizerKind::nesterov)
    return emitError() << "dampening applies to momentum and nesterov only";
  return success();
}

LogicalResult CrossEntropyLossOp::verify() {
  if (getLogits().getType().getDimSize(0) !=
      getLabels().getType().getDimSize(0))
    return emitOpError() << "logits and labels disagree on the batch size";
  return success();
}

LogicalResult MseLossOp::verify() {
  if (getPrediction().getType() != getTarget().getType())
    return emitOpError() << "prediction and target types differ";
  return success();
}
int64_t MseLossOp::getMacs() {
  return getPrediction().getType().getNumElements();
}
int64_t MseLossGradOp::getMacs() {
  return getPrediction().getType().getNumElements();
}

int64_t CrossEntropyLossOp::getMacs() {
  return getLogits().getType().getNumElements();
}
int64_t CrossEntropyLossGradOp::getMacs() {
  return getLogits().getType().getNumElements();
}
LogicalResult GatherChannelsOp::verify() {
  auto in = getInput().getType(), out = getOutput().getType();
  int64_t axis = getAxis();
  if (axis < 0 || axis >= in.getRank() || out.getRank() != in.getRank())
    return emitOpError() << "axis out of range";
  if (in.getElementType() != out.getElementType())
    return emitOpError() << "result element type must be the input's";
  for (int64_t d = 0; d < in.getRank(); ++d)
    if (out.getDimSize(d) !=
        (d == axis ? getIndices().getType().getDimSize(0) : in.getDimSize(d)))
      return emitOpError() << "result must be the input with dim " << axis
                           << " the number of indices";
  return success();
}
int64_t GatherChannelsOp::getMacs() { return 0; }

/// `perAxisDim` for a value that may be quantized per axis along any
/// dimension (an int8 parameter: a Conv's output channels, dimension 0; a
/// Gemm weight's, 0 or 1 with transB).
static constexpr int64_t kAnyDim = -2;

/// An int8 `what` (operand, parameter) of element type `element` comes with
/// the 8-bit !quant.uniform type it stores in attribute `attr` (per tensor,
/// or per axis along `perAxisDim` if that is not -1); a float one with
/// none.
static LogicalResult verifyQuantElement(Operation *op, Type element,
                                        StringRef what, StringRef attr,
                                        int64_t perAxisDim,
                                        bool allowInt32 = false) {
  auto quantType = op->getAttrOfType<TypeAttr>(attr);
  if (!quantType)
    return element.isF32() ? success()
                           : op->emitOpError()
                                 << what << " of element type " << element
                                 << " needs its " << attr;
  auto q = dyn_cast<quant::QuantizedType>(quantType.getValue());
  unsigned width = q ? q.getStorageTypeIntegralWidth() : 0;
  if (!q || (width != 8 && !(allowInt32 && width == 32 && q.isSigned())) ||
      q.getStorageType() != element)
    return op->emitOpError() << attr << " must be an 8-bit"
                             << (allowInt32 ? " (or signed 32-bit)" : "")
                             << " !quant.uniform whose storage is the " << what
                             << "'s element type";
  auto axis = dyn_cast<quant::UniformQuantizedPerAxisType>(q);
  if (axis && perAxisDim == -1)
    return op->emitOpError() << attr << " must be per tensor";
  if (axis && perAxisDim != kAnyDim &&
      axis.getQuantizedDimension() != perAxisDim)
    return op->emitOpError() << "a per-axis " << attr
                             << " must quantize dimension " << perAxisDim;
  return success();
}

static LogicalResult verifyQuantOperand(Operation *op, Value v, StringRef attr,
                                        int64_t perAxisDim) {
  return verifyQuantElement(op, cast<ShapedType>(v.getType()).getElementType(),
                            "operand", attr, perAxisDim);
}

LogicalResult DgsuImportanceOp::verify() {
  if (failed(verifyQuantOperand(*this, getInput(), "input_type", -1)) ||
      failed(verifyQuantOperand(*this, getWeight(), "weight_type", kAnyDim)))
    return failure();
  int64_t axis = getWeightAxis();
  auto w = cast<ShapedType>(getWeight().getType());
  if (axis < 0 || axis >= w.getRank() ||
      w.getDimSize(axis) != getInput().getType().getDimSize(1))
    return emitOpError() << "weight_axis must be the weight's dimension of "
                            "the input's channels";
  return success();
}

SmallVector<int64_t> UpdateOp::getGradShape() {
  ArrayRef<int64_t> g = getGrad().getType().getShape();
  if (!getOuter())
    return SmallVector<int64_t>(g);
  return {g.back(), getOuter().getType().getShape().back()};
}

int64_t UpdateOp::getRank() {
  return getOuter() ? getOuter().getType().getDimSize(0) : 0;
}

/// With `outer`, the gradient's products (the Gemm's that it replaced, K
/// per element) too, and with `input_grad` the input gradient's.
int64_t UpdateOp::getMacs() {
  int64_t n = ShapedType::getNumElements(getGradShape());
  return n * (1 + getNumStateBuffers() + getRank() +
              (getInputGrad() ? getRank() : 0));
}

LogicalResult UpdateOp::verify() {
  if (getOuter()) {
    auto grad = getGrad().getType(), outer = getOuter().getType();
    if (grad.getRank() != 2 || outer.getRank() != 2 ||
        grad.getDimSize(0) != outer.getDimSize(0) || grad.getDimSize(0) < 1)
      return emitOpError()
             << "outer-product factors must be K x M and K x N (K >= 1)";
    // (The sparse and int8 steps form a rank-1 gradient's elements.)
    if (getRank() > 1 && (getChannels() || getWeightTypeAttr()))
      return emitOpError() << "a rank-" << getRank()
                           << " gradient (K > 1) needs a dense float update";
  }
  if (getInputGrad()) {
    if (!getOuter())
      return emitOpError() << "input_grad needs outer";
    if (getInputGrad().getType() != getOuter().getType())
      return emitOpError() << "input_grad must be shaped like outer";
    if (getRank() != 1)
      return emitOpError() << "input_grad needs a rank-1 (outer product) "
                              "gradient";
    // grad P reads all of P: a channel-sparse update's outer factor holds
    // only the selected channels.
    if (getChannels())
      return emitOpError() << "input_grad and channels are exclusive";
  }
  return success();
}

/// An int8 parameter (`weight_type`; an int32 bias also) is its quant
/// type's storage; any other is f32.
template <typename Op>
static LogicalResult verifyParameterElement(Op op, Type element) {
  return verifyQuantElement(op, element, "parameter", "weight_type", kAnyDim,
                            /*allowInt32=*/true);
}

/// The parameter of an update, an ml_program.global before lowering and a
/// memref.global after: mutable and shaped like the gradient.
template <typename Op>
static LogicalResult verifyParameter(Op op, SymbolTableCollection &symbols) {
  StringRef param = op.getParam();
  Type element;
  Operation *sym = symbols.lookupNearestSymbolFrom(op, op.getParamAttr());
  if (!sym)
    return op.emitOpError() << "unknown parameter @" << param;
  ArrayRef<int64_t> shape;
  if (auto g = dyn_cast<ml_program::GlobalOp>(sym)) {
    if (!g.getIsMutable())
      return op.emitOpError()
             << "parameter @" << param << " is frozen (immutable global)";
    shape = cast<ShapedType>(g.getType()).getShape();
    element = cast<ShapedType>(g.getType()).getElementType();
  } else if (auto g = dyn_cast<memref::GlobalOp>(sym)) {
    if (g.getConstant())
      return op.emitOpError() << "parameter @" << param << " is constant";
    shape = g.getType().getShape();
    element = g.getType().getElementType();
  } else {
    return op.emitOpError() << "@" << param << " is not a global";
  }
  if (failed(verifyParameterElement(op, element)))
    return failure();
  SmallVector<int64_t> expect(shape);
  // An outer product's [M, N] also updates a 1 x 1 convolution's
  // [M, N, 1, 1].
  while (op.getOuter() && expect.size() > 2 && expect.back() == 1)
    expect.pop_back();
  if (Value channels = op.getChannels()) {
    int64_t axis = op.getChannelAxis();
    if (axis < 0 || axis >= (int64_t)expect.size())
      return op.emitOpError() << "channel_axis out of range";
    expect[axis] = cast<ShapedType>(channels.getType()).getDimSize(0);
  }
  if (ArrayRef<int64_t>(expect) != ArrayRef<int64_t>(op.getGradShape()))
    return op.emitOpError()
           << "gradient shape differs from parameter @" << param
           << (op.getChannels() ? " (with the selected channels)" : "");
  return success();
}

LogicalResult UpdateOp::verifySymbolUses(SymbolTableCollection &symbols) {
  return verifyParameter(*this, symbols);
}

LogicalResult BufferUpdateOp::verifySymbolUses(SymbolTableCollection &symbols) {
  return verifyParameter(*this, symbols);
}

SmallVector<int64_t> BufferUpdateOp::getGradShape() {
  ArrayRef<int64_t> g = cast<MemRefType>(getGrad().getType()).getShape();
  if (!getOuter())
    return SmallVector<int64_t>(g);
  return {g.back(), cast<MemRefType>(getOuter().getType()).getShape().back()};
}

int64_t BufferUpdateOp::getRank() {
  return getOuter() ? cast<MemRefType>(getOuter().getType()).getDimSize(0) : 0;
}

//===----------------------------------------------------------------------===//
// TinyProp
//===----------------------------------------------------------------------===//

void TopkErrorOp::build(OpBuilder &b, OperationState &state, Value error,
                        int64_t kmax, int64_t layer, int64_t depth, float sMin,
                        float sMax, float zeta, float tau) {
  auto i32 = b.getI32Type();
  build(b, state, error.getType(), RankedTensorType::get({kmax}, i32),
        RankedTensorType::get({1}, i32), error, b.getI64IntegerAttr(layer),
        b.getI64IntegerAttr(depth), b.getF32FloatAttr(sMin),
        b.getF32FloatAttr(sMax), b.getF32FloatAttr(zeta),
        b.getF32FloatAttr(tau));
}

LogicalResult TopkErrorOp::verify() {
  auto t = getError().getType();
  if (t.getRank() < 1 || t.getDimSize(0) != 1)
    return emitOpError() << "selects per sample: the batch must be 1";
  int64_t kmax = getIndices().getType().getDimSize(0);
  if (kmax < 1 || kmax > t.getNumElements())
    return emitOpError() << "kmax " << kmax << " outside [1, "
                         << t.getNumElements() << "]";
  if (getCount().getType().getDimSize(0) != 1)
    return emitOpError() << "count holds one value";
  return success();
}

template <typename Op> static LogicalResult verifySparseConvGrad(Op op) {
  auto dy = op.getOutputGrad().getType();
  if (dy.getDimSize(0) != 1)
    return op.emitOpError() << "selects per sample: the batch must be 1";
  if (op.getCount().getType().getDimSize(0) != 1)
    return op.emitOpError() << "count holds one value";
  if (op.getStrides().size() != 2 || op.getPads().size() != 4 ||
      op.getDilations().size() != 2)
    return op.emitOpError() << "expects 2 strides, 4 pads, 2 dilations";
  return success();
}
LogicalResult SparseConv2dGradWeightOp::verify() {
  if (failed(verifyQuantOperand(*this, getInput(), "quant_type", -1)))
    return failure();
  return verifySparseConvGrad(*this);
}
LogicalResult SparseConv2dGradInputOp::verify() {
  if (failed(verifyQuantOperand(*this, getWeight(), "quant_type", 0)))
    return failure();
  return verifySparseConvGrad(*this);
}

int64_t SparseConv2dGradWeightOp::getMacsPerElement() {
  auto w = getWeightGrad().getType().getShape();
  return w[1] * w[2] * w[3];
}
int64_t SparseConv2dGradInputOp::getMacsPerElement() {
  auto w = getWeight().getType().getShape();
  return w[1] * w[2] * w[3];
}
int64_t SparseConv2dGradWeightOp::getMacs() {
  return getIndices().getType().getDimSize(0) * getMacsPerElement();
}
int64_t SparseConv2dGradInputOp::getMacs() {
  return getIndices().getType().getDimSize(0) * getMacsPerElement();
}
int64_t SparseConv2dGradWeightOp::getDenseMacs() {
  return getOutputGrad().getType().getNumElements() * getMacsPerElement();
}
int64_t SparseConv2dGradInputOp::getDenseMacs() {
  return getOutputGrad().getType().getNumElements() * getMacsPerElement();
}

#define GET_OP_CLASSES
#include "dialects/Train/TrainOps.cpp.inc"
