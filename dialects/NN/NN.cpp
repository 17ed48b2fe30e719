//===- NN.cpp - nn dialect: registration, verifiers, MAC counts -----------===//
#include "dialects/NN/NN.h"

#include "mlir/IR/Builders.h"

using namespace mlir;
using namespace mcutrain::nn;

#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/InterleavedRange.h"

#include "dialects/NN/NNEnums.cpp.inc"
#include "dialects/NN/NNInterfaces.cpp.inc"
#include "dialects/NN/NNOpsDialect.cpp.inc"
#define GET_ATTRDEF_CLASSES
#include "dialects/NN/NNAttrs.cpp.inc"

void NNDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "dialects/NN/NNOps.cpp.inc"
      >();
  addAttributes<
#define GET_ATTRDEF_LIST
#include "dialects/NN/NNAttrs.cpp.inc"
      >();
}

int64_t mcutrain::nn::slidingOutputSize(int64_t in, int64_t kernel,
                                        int64_t stride, int64_t padBegin,
                                        int64_t padEnd, int64_t dilation) {
  int64_t span = dilation * (kernel - 1) + 1;
  int64_t padded = in + padBegin + padEnd;
  if (padded < span || stride <= 0)
    return 0;
  return (padded - span) / stride + 1;
}

int64_t mcutrain::nn::poolOutputSize(int64_t in, int64_t kernel, int64_t stride,
                                     int64_t padBegin, int64_t padEnd,
                                     int64_t dilation, bool ceilMode) {
  int64_t span = dilation * (kernel - 1) + 1;
  int64_t padded = in + padBegin + padEnd;
  if (padded < span || stride <= 0)
    return 0;
  if (!ceilMode)
    return (padded - span) / stride + 1;
  int64_t out = (padded - span + stride - 1) / stride + 1;
  // The last window must start inside the input or the left padding.
  if ((out - 1) * stride >= in + padBegin)
    --out;
  return out;
}

FailureOr<SmallVector<int64_t>>
mcutrain::nn::broadcastShapes(ArrayRef<int64_t> a, ArrayRef<int64_t> b) {
  size_t rank = std::max(a.size(), b.size());
  SmallVector<int64_t> out(rank);
  for (size_t i = 0; i < rank; ++i) {
    int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da != db && da != 1 && db != 1)
      return failure();
    out[i] = da == 1 ? db : da;
  }
  return out;
}

/// Spatial extents of a window op over an NCHW input (0 where the window
/// does not fit): floor mode for convolutions, ONNX's ceil_mode for pooling.
static SmallVector<int64_t, 4>
windowShape(ArrayRef<int64_t> x, int64_t channels, ArrayRef<int64_t> kernel,
            ArrayRef<int64_t> s, ArrayRef<int64_t> p, ArrayRef<int64_t> d,
            bool ceilMode) {
  return {x[0], channels,
          poolOutputSize(x[2], kernel[0], s[0], p[0], p[2], d[0], ceilMode),
          poolOutputSize(x[3], kernel[1], s[1], p[1], p[3], d[1], ceilMode)};
}

static std::optional<SmallVector<int64_t, 4>>
ifFits(SmallVector<int64_t, 4> shape) {
  if (shape[2] <= 0 || shape[3] <= 0)
    return std::nullopt;
  return shape;
}

std::optional<SmallVector<int64_t, 4>>
mcutrain::nn::conv2dShape(ArrayRef<int64_t> input, ArrayRef<int64_t> weight,
                          ArrayRef<int64_t> strides, ArrayRef<int64_t> pads,
                          ArrayRef<int64_t> dilations) {
  return ifFits(windowShape(input, weight[0], weight.drop_front(2), strides,
                            pads, dilations, /*ceilMode=*/false));
}

std::optional<SmallVector<int64_t, 4>>
mcutrain::nn::pool2dShape(ArrayRef<int64_t> input, ArrayRef<int64_t> kernel,
                          ArrayRef<int64_t> strides, ArrayRef<int64_t> pads,
                          ArrayRef<int64_t> dilations, bool ceilMode) {
  return ifFits(
      windowShape(input, input[1], kernel, strides, pads, dilations, ceilMode));
}

std::optional<SmallVector<int64_t>>
mcutrain::nn::matMulShape(ArrayRef<int64_t> a, ArrayRef<int64_t> b) {
  if (a.size() < 2 || b.size() < 2 || a.back() != b[b.size() - 2])
    return std::nullopt;
  auto batch = broadcastShapes(a.drop_back(2), b.drop_back(2));
  if (failed(batch))
    return std::nullopt;
  SmallVector<int64_t> shape(*batch);
  shape.push_back(a[a.size() - 2]);
  shape.push_back(b.back());
  return shape;
}

static ArrayRef<int64_t> shapeOf(Value v) {
  return cast<ShapedType>(v.getType()).getShape();
}

static Type tensorLike(Value v, ArrayRef<int64_t> shape) {
  return RankedTensorType::get(shape,
                               cast<ShapedType>(v.getType()).getElementType());
}

Type mcutrain::nn::binaryResultType(Value lhs, Value rhs) {
  auto shape = broadcastShapes(shapeOf(lhs), shapeOf(rhs));
  return succeeded(shape) ? tensorLike(lhs, *shape) : lhs.getType();
}

//===----------------------------------------------------------------------===//
// Builders that infer the result type
//===----------------------------------------------------------------------===//

void Conv2dOp::build(OpBuilder &b, OperationState &state, Value input,
                     Value weight, Value bias, ArrayRef<int64_t> strides,
                     ArrayRef<int64_t> pads, ArrayRef<int64_t> dilations,
                     int64_t group) {
  auto shape = windowShape(shapeOf(input), shapeOf(weight)[0],
                           shapeOf(weight).drop_front(2), strides, pads,
                           dilations, /*ceilMode=*/false);
  build(b, state, tensorLike(input, shape), input, weight, bias, strides, pads,
        dilations, static_cast<uint64_t>(group));
}

void GemmOp::build(OpBuilder &b, OperationState &state, Value lhs, Value rhs,
                   Value c, bool transA, bool transB, float alpha, float beta) {
  auto as = shapeOf(lhs), bs = shapeOf(rhs);
  SmallVector<int64_t, 2> shape{transA ? as[1] : as[0], transB ? bs[0] : bs[1]};
  build(b, state, tensorLike(lhs, shape), lhs, rhs, c, transA, transB,
        APFloat(alpha), APFloat(beta));
}

void MatMulOp::build(OpBuilder &b, OperationState &state, Value lhs,
                     Value rhs) {
  auto shape = matMulShape(shapeOf(lhs), shapeOf(rhs));
  build(b, state, shape ? tensorLike(lhs, *shape) : lhs.getType(), lhs, rhs);
}

void TransposeOp::build(OpBuilder &b, OperationState &state, Value input,
                        ArrayRef<int64_t> perm) {
  auto xs = shapeOf(input);
  SmallVector<int64_t> shape;
  for (int64_t p : perm)
    shape.push_back(p >= 0 && p < (int64_t)xs.size() ? xs[p] : 0);
  build(b, state, tensorLike(input, shape), input, perm);
}

void ConcatOp::build(OpBuilder &b, OperationState &state, ValueRange inputs,
                     int64_t axis) {
  SmallVector<int64_t> shape(shapeOf(inputs.front()));
  if (axis >= 0 && axis < (int64_t)shape.size()) {
    shape[axis] = 0;
    for (Value v : inputs)
      shape[axis] += shapeOf(v)[axis];
  }
  build(b, state, tensorLike(inputs.front(), shape), inputs, axis);
}

void Pad2dOp::build(OpBuilder &b, OperationState &state, Value input,
                    ArrayRef<int64_t> pads, float value, PadMode mode) {
  auto xs = shapeOf(input);
  SmallVector<int64_t, 4> shape{xs[0], xs[1], xs[2] + pads[0] + pads[2],
                                xs[3] + pads[1] + pads[3]};
  build(b, state, tensorLike(input, shape), input, pads, APFloat(value), mode);
}

void MaxPool2dOp::build(OpBuilder &b, OperationState &state, Value input,
                        ArrayRef<int64_t> kernel, ArrayRef<int64_t> strides,
                        ArrayRef<int64_t> pads, bool ceilMode,
                        ArrayRef<int64_t> dilations, UnitAttr isUnsigned) {
  auto xs = shapeOf(input);
  auto shape =
      windowShape(xs, xs[1], kernel, strides, pads, dilations, ceilMode);
  build(b, state, tensorLike(input, shape), input, kernel, strides, pads,
        /*count_include_pad=*/false, ceilMode, dilations, bool(isUnsigned));
}

void MaxPool2dIndicesOp::build(OpBuilder &b, OperationState &state, Value input,
                               ArrayRef<int64_t> kernel,
                               ArrayRef<int64_t> strides,
                               ArrayRef<int64_t> pads, bool ceilMode,
                               ArrayRef<int64_t> dilations, UnitAttr isUnsigned,
                               bool columnMajor) {
  auto xs = shapeOf(input);
  auto shape =
      windowShape(xs, xs[1], kernel, strides, pads, dilations, ceilMode);
  build(b, state, RankedTensorType::get(shape, b.getI64Type()), input, kernel,
        strides, pads, ceilMode, dilations, bool(isUnsigned), columnMajor);
}

void AvgPool2dOp::build(OpBuilder &b, OperationState &state, Value input,
                        ArrayRef<int64_t> kernel, ArrayRef<int64_t> strides,
                        ArrayRef<int64_t> pads, bool countIncludePad,
                        bool ceilMode, ArrayRef<int64_t> dilations) {
  auto xs = shapeOf(input);
  auto shape =
      windowShape(xs, xs[1], kernel, strides, pads, dilations, ceilMode);
  build(b, state, tensorLike(input, shape), input, kernel, strides, pads,
        countIncludePad, ceilMode, dilations);
}

static int64_t numElements(Value v) {
  return cast<ShapedType>(v.getType()).getNumElements();
}

static LogicalResult checkPairs(Operation *op, ArrayRef<int64_t> v, size_t n,
                                StringRef what) {
  if (v.size() != n)
    return op->emitOpError() << "expects " << n << " values in '" << what
                             << "', got " << v.size();
  for (int64_t x : v)
    if (x < 0)
      return op->emitOpError() << "expects non-negative '" << what << "'";
  return success();
}

//===----------------------------------------------------------------------===//
// Verifiers
//===----------------------------------------------------------------------===//

/// What nn.conv2d and nn.qconv2d check alike: window attributes, groups,
/// the bias's size and the result shape.
template <typename ConvOp> static LogicalResult verifyConvShapes(ConvOp op) {
  auto x = op.getInput().getType().getShape();
  auto w = op.getWeight().getType().getShape();
  auto y = op.getOutput().getType().getShape();
  if (failed(checkPairs(op, op.getStrides(), 2, "strides")) ||
      failed(checkPairs(op, op.getPads(), 4, "pads")) ||
      failed(checkPairs(op, op.getDilations(), 2, "dilations")))
    return failure();
  int64_t g = op.getGroup();
  if (g < 1 || w[0] % g)
    return op.emitOpError() << "group " << g << " does not divide the " << w[0]
                            << " output channels";
  if (x[1] != w[1] * g)
    return op.emitOpError() << "input has " << x[1]
                            << " channels but the weight expects " << w[1] * g;
  if (Value bias = op.getBias()) {
    int64_t n = cast<ShapedType>(bias.getType()).getDimSize(0);
    if (n != w[0])
      return op.emitOpError()
             << "bias has " << n << " elements, expected " << w[0];
  }
  auto expected =
      windowShape(x, w[0], w.drop_front(2), op.getStrides(), op.getPads(),
                  op.getDilations(), /*ceilMode=*/false);
  if (y != ArrayRef<int64_t>(expected))
    return op.emitOpError() << "result shape does not match the convolution ("
                            << llvm::interleaved(expected, "x") << ")";
  return success();
}

LogicalResult Conv2dOp::verify() { return verifyConvShapes(*this); }

LogicalResult ConvTranspose2dOp::verify() {
  auto x = getInput().getType().getShape();
  auto w = getWeight().getType().getShape();
  auto y = getOutput().getType().getShape();
  if (failed(checkPairs(*this, getStrides(), 2, "strides")) ||
      failed(checkPairs(*this, getPads(), 4, "pads")) ||
      failed(checkPairs(*this, getDilations(), 2, "dilations")))
    return failure();
  int64_t g = getGroup();
  if (g < 1 || w[0] % g || x[1] != w[0] || y[1] != w[1] * g)
    return emitOpError() << "weight " << w[0] << "x" << w[1] << " does not map "
                         << x[1] << " to " << y[1] << " channels in " << g
                         << " groups";
  // The convolution of the result must give the input's shape.
  auto back = conv2dShape(y, w, getStrides(), getPads(), getDilations());
  if (!back || ArrayRef<int64_t>(*back) != x)
    return emitOpError() << "result shape does not invert to the input by "
                            "the convolution";
  return success();
}

LogicalResult GemmOp::verify() {
  auto a = getA().getType().getShape();
  auto b = getB().getType().getShape();
  int64_t m = getTransA() ? a[1] : a[0], k = getTransA() ? a[0] : a[1];
  int64_t kb = getTransB() ? b[1] : b[0], n = getTransB() ? b[0] : b[1];
  if (k != kb)
    return emitOpError() << "inner dimensions differ: " << k << " vs " << kb;
  auto y = getOutput().getType().getShape();
  if (y[0] != m || y[1] != n)
    return emitOpError() << "result must be " << m << "x" << n;
  if (getC()) {
    auto cs = cast<RankedTensorType>(getC().getType()).getShape();
    auto bs = broadcastShapes(cs, y);
    if (failed(bs) || ArrayRef<int64_t>(*bs) != y)
      return emitOpError() << "C does not broadcast to the result";
  }
  return success();
}

static Type elementTypeOf(Value v) {
  return cast<ShapedType>(v.getType()).getElementType();
}

/// `is_unsigned` describes integer operands; floats have no such variant.
static LogicalResult verifyUnsignedFlag(Operation *op, Value v, bool flag) {
  if (flag && !isa<IntegerType>(elementTypeOf(v)))
    return op->emitOpError() << "is_unsigned needs integer operands";
  return success();
}

template <typename BinaryOp> static LogicalResult verifyBinary(BinaryOp op) {
  Type et = elementTypeOf(op.getLhs());
  if (elementTypeOf(op.getRhs()) != et || elementTypeOf(op.getOutput()) != et)
    return op.emitOpError() << "operands and result must share an element "
                               "type";
  if (et.isInteger(1))
    return op.emitOpError() << "does not take i1 (boolean) operands";
  if (failed(verifyUnsignedFlag(op, op.getLhs(), op.getIsUnsigned())))
    return failure();
  auto bs = broadcastShapes(op.getLhs().getType().getShape(),
                            op.getRhs().getType().getShape());
  if (failed(bs))
    return op.emitOpError() << "operand shapes do not broadcast";
  if (ArrayRef<int64_t>(*bs) != op.getOutput().getType().getShape())
    return op.emitOpError() << "result shape is not the broadcast shape";
  return success();
}
LogicalResult AddOp::verify() { return verifyBinary(*this); }
LogicalResult SubOp::verify() { return verifyBinary(*this); }
LogicalResult MulOp::verify() { return verifyBinary(*this); }
LogicalResult DivOp::verify() { return verifyBinary(*this); }
LogicalResult PowOp::verify() { return verifyBinary(*this); }
LogicalResult MaxOp::verify() { return verifyBinary(*this); }
LogicalResult MinOp::verify() { return verifyBinary(*this); }

LogicalResult WhereOp::verify() {
  Type et = elementTypeOf(getLhs());
  if (elementTypeOf(getRhs()) != et || elementTypeOf(getOutput()) != et)
    return emitOpError() << "branches and result must share an element type";
  auto bs = broadcastShapes(getLhs().getType().getShape(),
                            getRhs().getType().getShape());
  if (succeeded(bs))
    bs = broadcastShapes(*bs, getCondition().getType().getShape());
  if (failed(bs) || ArrayRef<int64_t>(*bs) != getOutput().getType().getShape())
    return emitOpError() << "operand shapes do not broadcast to the result";
  return success();
}

/// data's shape with the dimension `axis` replaced by `indices`.
static SmallVector<int64_t>
gatheredShape(ArrayRef<int64_t> data, ArrayRef<int64_t> indices, int64_t axis) {
  SmallVector<int64_t> shape(data.begin(), data.begin() + axis);
  shape.append(indices.begin(), indices.end());
  shape.append(data.begin() + axis + 1, data.end());
  return shape;
}

/// The shared checks of nn.gather and nn.gather_grad: `axis` is a
/// dimension of `data`, `gathered` is data's shape with the indices' in
/// place of the axis, the element types agree.
static LogicalResult verifyGather(Operation *op, RankedTensorType data,
                                  RankedTensorType indices,
                                  RankedTensorType gathered, int64_t axis) {
  if (axis < 0 || axis >= data.getRank())
    return op->emitOpError()
           << "axis " << axis << " is not a dimension of " << data;
  if (ArrayRef<int64_t>(gatheredShape(data.getShape(), indices.getShape(),
                                      axis)) != gathered.getShape())
    return op->emitOpError() << "the gathered shape must be data's with the "
                                "indices' shape in place of the axis";
  if (data.getElementType() != gathered.getElementType())
    return op->emitOpError() << "data and gathered slices must share an "
                                "element type";
  return success();
}

LogicalResult GatherOp::verify() {
  return verifyGather(*this, getData().getType(), getIndices().getType(),
                      getOutput().getType(), getAxis());
}

LogicalResult GatherGradOp::verify() {
  return verifyGather(*this, getDataGrad().getType(), getIndices().getType(),
                      getOutputGrad().getType(), getAxis());
}

LogicalResult RowIndicesOp::verify() {
  if (getExtent() < 1)
    return emitOpError() << "extent must be positive";
  if (getIndices().getType().getRank() < 1)
    return emitOpError() << "indices must have a dimension";
  if (getRows().getType().getDimSize(0) !=
      getIndices().getType().getNumElements())
    return emitOpError() << "one row per index";
  return success();
}

LogicalResult CastOp::verify() {
  Type from = elementTypeOf(getInput()), to = elementTypeOf(getOutput());
  if (getInput().getType().getShape() != getOutput().getType().getShape())
    return emitOpError() << "result shape must equal the input's";
  if (from.isF32() == to.isF32() || from.isInteger(1) || to.isInteger(1))
    return emitOpError() << "casts between float32 and a non-boolean "
                            "integer type only";
  return success();
}

LogicalResult ActivationOp::verify() {
  Type et = elementTypeOf(getInput());
  if (!et.isF32() && (getKind() != ActivationKind::clip || et.isInteger(1)))
    return emitOpError() << "integer operands support clip only";
  return verifyUnsignedFlag(*this, getInput(), getIsUnsigned());
}

/// `slope` broadcasts to `input` and the result is the input's type.
static LogicalResult verifyPReluOperands(Operation *op, Value input,
                                         Value slope, Value result) {
  auto xs = cast<RankedTensorType>(input.getType()).getShape();
  auto bs =
      broadcastShapes(xs, cast<RankedTensorType>(slope.getType()).getShape());
  if (failed(bs) || ArrayRef<int64_t>(*bs) != xs)
    return op->emitOpError() << "slope does not broadcast to the input";
  if (result.getType() != input.getType())
    return op->emitOpError() << "result type must equal the input type";
  return success();
}
LogicalResult PReluOp::verify() {
  return verifyPReluOperands(*this, getInput(), getSlope(), getOutput());
}
LogicalResult PReluGradInputOp::verify() {
  if (getOutputGrad().getType() != getInput().getType())
    return emitOpError() << "output_grad must have the input's type";
  return verifyPReluOperands(*this, getInput(), getSlope(), getInputGrad());
}

static LogicalResult verifyMaskOf(Operation *op, Value masked, Value mask) {
  int64_t words = cast<RankedTensorType>(mask.getType()).getShape()[0];
  int64_t needed = maskWords(numElements(masked));
  if (words != needed)
    return op->emitOpError()
           << "mask has " << words << " words, " << needed << " needed";
  return success();
}

static LogicalResult verifyDisjointWindows(Operation *op,
                                           ArrayRef<int64_t> kernel,
                                           ArrayRef<int64_t> strides,
                                           ArrayRef<int64_t> pads,
                                           ArrayRef<int64_t> outputShape) {
  if (kernel.size() != 2 || strides.size() != 2 || pads.size() != 4 ||
      outputShape.size() != 4)
    return op->emitOpError() << "needs 2-D kernel/strides, 4 pads and a "
                                "4-D output shape";
  for (int i = 0; i < 2; ++i)
    if (strides[i] < kernel[i] && outputShape[2 + i] != 1)
      return op->emitOpError() << "windows overlap (stride < kernel)";
  return success();
}

LogicalResult PackMaskOp::verify() {
  if (auto q = getQuantType()) {
    if (!isa<quant::UniformQuantizedType>(*q) || getLo() || getHi() ||
        !getInput().getType().getElementType().isF32())
      return emitOpError() << "quant_type must be a per-tensor quantization "
                              "of a float input, without bounds";
  }
  return verifyMaskOf(*this, getInput(), getMask());
}
int64_t MaxPool2dMaskOp::fieldBits(ArrayRef<int64_t> kernel) {
  int64_t positions = kernel[0] * kernel[1];
  for (int64_t bits : {1, 2, 4, 8})
    if (positions <= (int64_t(1) << bits))
      return bits;
  return 0;
}

/// A max-pool mask's words: one field per window of `outputShape`.
static LogicalResult verifyPoolMask(Operation *op, ArrayRef<int64_t> kernel,
                                    ArrayRef<int64_t> outputShape, Value mask) {
  int64_t bits = MaxPool2dMaskOp::fieldBits(kernel);
  if (bits == 0)
    return op->emitOpError() << "more than 256 window positions";
  int64_t windows = ShapedType::getNumElements(outputShape);
  int64_t need = maskWords(windows, bits);
  int64_t words = cast<RankedTensorType>(mask.getType()).getShape()[0];
  if (words != need)
    return op->emitOpError()
           << "mask has " << words << " words, " << need << " needed";
  return success();
}

LogicalResult MaxPool2dMaskOp::verify() {
  if (failed(verifyDisjointWindows(*this, getKernel(), getStrides(), getPads(),
                                   getOutputShape())))
    return failure();
  return verifyPoolMask(*this, getKernel(), getOutputShape(), getMask());
}
LogicalResult MaskedGradOp::verify() {
  if (getOutputGrad().getType() != getInputGrad().getType())
    return emitOpError() << "result type must equal output_grad's";
  return verifyMaskOf(*this, getInputGrad(), getMask());
}
LogicalResult MaxPool2dMaskedGradOp::verify() {
  auto windows = getOutputGrad().getType().getShape();
  if (failed(verifyDisjointWindows(*this, getKernel(), getStrides(), getPads(),
                                   windows)))
    return failure();
  return verifyPoolMask(*this, getKernel(), windows, getMask());
}

Value ActivationGradOp::getReadTensor() {
  ActivationKind kind = getKind();
  bool fromOutput =
      kind == ActivationKind::clip || kind == ActivationKind::sigmoid ||
      kind == ActivationKind::tanh || kind == ActivationKind::sqrt ||
      kind == ActivationKind::exp || kind == ActivationKind::reciprocal;
  return fromOutput ? getOutput() : getInput();
}

LogicalResult NegOp::verify() {
  if (elementTypeOf(getInput()).isInteger(1))
    return emitOpError() << "does not take i1 (boolean) operands";
  return success();
}

/// `quantType` is a !quant.uniform type (per tensor or per axis) of f32
/// values whose storage is `stored`'s element type, and `stored` and `real`
/// (the integer and the float tensor) have one shape.
static LogicalResult verifyQuantization(Operation *op, Type quantType,
                                        Value stored, Value real) {
  auto uniform = dyn_cast<quant::UniformQuantizedType>(quantType);
  auto perAxis = dyn_cast<quant::UniformQuantizedPerAxisType>(quantType);
  if (!uniform && !perAxis)
    return op->emitOpError()
           << "quant_type must be a !quant.uniform type, got " << quantType;
  auto q = cast<quant::QuantizedType>(quantType);
  if (!q.getExpressedType().isF32())
    return op->emitOpError() << "quant_type must quantize f32 values";
  auto storedType = cast<RankedTensorType>(stored.getType());
  if (storedType.getElementType() != q.getStorageType())
    return op->emitOpError() << "the integer tensor's element type must be "
                                "the storage type "
                             << q.getStorageType();
  auto shape = storedType.getShape();
  if (shape != cast<RankedTensorType>(real.getType()).getShape())
    return op->emitOpError() << "input and result shapes differ";
  if (!perAxis)
    return success();
  int64_t axis = perAxis.getQuantizedDimension();
  if (axis >= static_cast<int64_t>(shape.size()))
    return op->emitOpError()
           << "quantized dimension " << axis << " is out of range";
  if (static_cast<int64_t>(perAxis.getScales().size()) != shape[axis])
    return op->emitOpError() << "needs one scale per element of dimension "
                             << axis << " (" << shape[axis] << ")";
  return success();
}
std::pair<float, float> mcutrain::nn::quantParamsAt(Type quantType,
                                                    ArrayRef<int64_t> shape,
                                                    int64_t index) {
  if (auto u = dyn_cast<quant::UniformQuantizedType>(quantType))
    return {float(u.getScale()), float(u.getZeroPoint())};
  auto axis = cast<quant::UniformQuantizedPerAxisType>(quantType);
  int64_t dim = axis.getQuantizedDimension(), stride = 1;
  for (int64_t d = shape.size() - 1; d > dim; --d)
    stride *= shape[d];
  int64_t c = (index / stride) % shape[dim];
  return {float(axis.getScales()[c]), float(axis.getZeroPoints()[c])};
}

DenseElementsAttr mcutrain::nn::quantizeElements(DenseElementsAttr data,
                                                 Type quantType) {
  auto shape = cast<ShapedType>(data.getType()).getShape();
  auto q = cast<quant::QuantizedType>(quantType);
  float lo = q.getStorageTypeMin(), hi = q.getStorageTypeMax();
  unsigned bits = q.getStorageTypeIntegralWidth();
  SmallVector<APInt> ints;
  int64_t i = 0;
  for (float v : data.getValues<float>()) {
    auto [scale, zero] = quantParamsAt(quantType, shape, i++);
    ints.push_back(APInt(
        bits, static_cast<int64_t>(quantizeScalar(v, scale, zero, lo, hi)),
        /*isSigned=*/true, /*implicitTrunc=*/true));
  }
  return DenseElementsAttr::get(
      RankedTensorType::get(shape, q.getStorageType()), ints);
}

LogicalResult QuantizeOp::verify() {
  return verifyQuantization(*this, getQuantType(), getOutput(), getInput());
}
LogicalResult DequantizeOp::verify() {
  return verifyQuantization(*this, getQuantType(), getInput(), getOutput());
}

/// The per-tensor !quant.uniform f32 type of an int8 layer's input/output.
static LogicalResult verifyPerTensor(Operation *op, Type t, StringRef what) {
  auto u = dyn_cast_or_null<quant::UniformQuantizedType>(t);
  if (!u || !u.getExpressedType().isF32() ||
      u.getStorageTypeIntegralWidth() != 8)
    return op->emitOpError()
           << what << " must be a per-tensor 8-bit !quant.uniform of f32";
  return success();
}

/// What nn.qconv2d and nn.qgemm share: 8-bit quant types for input and
/// weight (the weight per tensor or per output channel, along
/// `weightAxis`), an 8-bit output type or an i32 result without one, and
/// a clamp inside the output range.
static LogicalResult verifyQuantizedLayer(Operation *op, Type inputType,
                                          Type weightType, Type outputType,
                                          Value bias, Value output,
                                          int64_t weightAxis,
                                          std::optional<int64_t> lo,
                                          std::optional<int64_t> hi) {
  if (failed(verifyPerTensor(op, inputType, "input_type")))
    return failure();
  auto w = dyn_cast<quant::QuantizedType>(weightType);
  if (!w || w.getStorageTypeIntegralWidth() != 8 ||
      !w.getExpressedType().isF32())
    return op->emitOpError() << "weight_type must be an 8-bit !quant.uniform "
                                "of f32";
  if (auto axis = dyn_cast<quant::UniformQuantizedPerAxisType>(weightType)) {
    if (axis.getQuantizedDimension() != weightAxis)
      return op->emitOpError() << "a per-axis weight_type must quantize the "
                                  "output channel dimension "
                               << weightAxis;
  } else if (!isa<quant::UniformQuantizedType>(weightType)) {
    return op->emitOpError() << "weight_type must be a !quant.uniform type";
  }
  unsigned resultBits = elementTypeOf(output).getIntOrFloatBitWidth();
  if (!outputType) {
    if (resultBits != 32 || lo || hi)
      return op->emitOpError() << "without output_type the result is the "
                                  "int32 accumulator, unclamped";
    if (bias && elementTypeOf(bias).isF32())
      return op->emitOpError() << "a float bias needs an output_type";
    return success();
  }
  if (failed(verifyPerTensor(op, outputType, "output_type")))
    return failure();
  if (resultBits != 8)
    return op->emitOpError() << "the result must be i8 with an output_type";
  auto out = cast<quant::QuantizedType>(outputType);
  if ((lo && *lo < out.getStorageTypeMin()) ||
      (hi && *hi > out.getStorageTypeMax()) || (lo && hi && *lo > *hi))
    return op->emitOpError() << "output_min/output_max must lie in the "
                                "output range";
  return success();
}

LogicalResult QConv2dOp::verify() {
  if (failed(verifyConvShapes(*this)))
    return failure();
  return verifyQuantizedLayer(*this, getInputType(), getWeightType(),
                              getOutputTypeAttr() ? *getOutputType() : Type(),
                              getBias(), getOutput(), 0, getOutputMin(),
                              getOutputMax());
}

LogicalResult QGemmOp::verify() {
  auto a = getA().getType().getShape();
  auto b = getB().getType().getShape();
  bool tb = getTransB();
  int64_t kb = tb ? b[1] : b[0], n = tb ? b[0] : b[1];
  if (a[1] != kb)
    return emitOpError() << "inner dimensions differ: " << a[1] << " vs " << kb;
  auto y = getOutput().getType().getShape();
  if (y[0] != a[0] || y[1] != n)
    return emitOpError() << "result must be " << a[0] << "x" << n;
  if (getBias() && getBias().getType().getDimSize(0) != n)
    return emitOpError() << "bias must have " << n << " elements";
  return verifyQuantizedLayer(*this, getInputType(), getWeightType(),
                              getOutputTypeAttr() ? *getOutputType() : Type(),
                              getBias(), getOutput(), tb ? 0 : 1,
                              getOutputMin(), getOutputMax());
}

LogicalResult BatchNormOp::verify() {
  auto x = getInput().getType();
  if (x.getRank() < 2)
    return emitOpError() << "input needs a channel dimension";
  int64_t c = x.getDimSize(1);
  for (Value v : {getScale(), getBias(), getMean(), getVariance()})
    if (cast<RankedTensorType>(v.getType()).getDimSize(0) != c)
      return emitOpError() << "per-channel operands must have " << c
                           << " elements";
  if (getOutput().getType() != x)
    return emitOpError() << "result type must equal the input type";
  return success();
}

LogicalResult TransposeOp::verify() {
  auto x = getInput().getType().getShape();
  auto y = getOutput().getType().getShape();
  auto perm = getPerm();
  if (elementTypeOf(getInput()) != elementTypeOf(getOutput()))
    return emitOpError() << "result element type must equal the input's";
  if (perm.size() != x.size() || y.size() != x.size())
    return emitOpError() << "perm must have one entry per dimension";
  SmallVector<bool> seen(x.size(), false);
  for (size_t i = 0; i < perm.size(); ++i) {
    if (perm[i] < 0 || perm[i] >= (int64_t)x.size() || seen[perm[i]])
      return emitOpError() << "perm is not a permutation";
    seen[perm[i]] = true;
    if (y[i] != x[perm[i]])
      return emitOpError() << "result shape does not match the permutation";
  }
  return success();
}

LogicalResult ConcatOp::verify() {
  auto y = getOutput().getType().getShape();
  int64_t axis = getAxis();
  if (axis < 0 || axis >= (int64_t)y.size() || getInputs().empty())
    return emitOpError() << "axis out of range";
  int64_t sum = 0;
  for (Value v : getInputs()) {
    auto s = cast<RankedTensorType>(v.getType()).getShape();
    if (elementTypeOf(v) != elementTypeOf(getOutput()))
      return emitOpError() << "inputs must have the result's element type";
    if (s.size() != y.size())
      return emitOpError() << "inputs must have the result's rank";
    for (size_t d = 0; d < s.size(); ++d)
      if ((int64_t)d != axis && s[d] != y[d])
        return emitOpError() << "inputs differ outside the axis";
    sum += s[axis];
  }
  if (sum != y[axis])
    return emitOpError() << "result extent along the axis must be the sum";
  return success();
}

LogicalResult SoftmaxOp::verify() {
  if (getAxis() < 0 || (int64_t)getAxis() >= getInput().getType().getRank())
    return emitOpError() << "axis out of range";
  return success();
}

LogicalResult MatMulOp::verify() {
  auto a = getA().getType().getShape(), b = getB().getType().getShape();
  auto y = getOutput().getType().getShape();
  if (a.size() < 2 || b.size() < 2)
    return emitOpError() << "operands must have rank >= 2";
  if (a.back() != b[b.size() - 2])
    return emitOpError() << "inner dimensions differ";
  auto expected = matMulShape(a, b);
  if (!expected)
    return emitOpError() << "batch dimensions do not broadcast";
  if (ArrayRef<int64_t>(*expected) != y)
    return emitOpError() << "result shape is wrong";
  return success();
}

template <typename PoolOp> static LogicalResult verifyPool(PoolOp op) {
  if (failed(checkPairs(op, op.getKernel(), 2, "kernel")) ||
      failed(checkPairs(op, op.getStrides(), 2, "strides")) ||
      failed(checkPairs(op, op.getPads(), 4, "pads")))
    return failure();
  auto x = op.getInput().getType().getShape();
  auto y = op.getOutput().getType().getShape();
  auto k = op.getKernel(), s = op.getStrides(), p = op.getPads();
  auto d = op.getDilations();
  if (failed(checkPairs(op, d, 2, "dilations")))
    return failure();
  auto expected = windowShape(x, x[1], k, s, p, d, op.getCeilMode());
  if (y != ArrayRef<int64_t>(expected))
    return op.emitOpError() << "result shape does not match the pooling ("
                            << expected[2] << "x" << expected[3] << " spatial)";
  if (p[0] >= k[0] || p[1] >= k[1] || p[2] >= k[0] || p[3] >= k[1])
    return op.emitOpError() << "pads must be smaller than the kernel";
  return success();
}

LogicalResult MaxPool2dOp::verify() {
  if (elementTypeOf(getInput()) != elementTypeOf(getOutput()))
    return emitOpError() << "result element type must equal the input's";
  if (elementTypeOf(getInput()).isInteger(1))
    return emitOpError() << "does not take i1 (boolean) operands";
  if (failed(verifyUnsignedFlag(*this, getInput(), getIsUnsigned())))
    return failure();
  return verifyPool(*this);
}
LogicalResult AvgPool2dOp::verify() { return verifyPool(*this); }

LogicalResult Pad2dOp::verify() {
  if (failed(checkPairs(*this, getPads(), 4, "pads")))
    return failure();
  auto x = getInput().getType().getShape();
  auto y = getOutput().getType().getShape();
  auto p = getPads();
  if (y[0] != x[0] || y[1] != x[1] || y[2] != x[2] + p[0] + p[2] ||
      y[3] != x[3] + p[1] + p[3])
    return emitOpError() << "result shape does not match the padding";
  if (elementTypeOf(getInput()) != elementTypeOf(getOutput()))
    return emitOpError() << "result element type must equal the input's";
  // Reflection mirrors inside the input, so it cannot reach past the border.
  if (getMode() == PadMode::reflect &&
      (p[0] >= x[2] || p[2] >= x[2] || p[1] >= x[3] || p[3] >= x[3]))
    return emitOpError() << "reflect pads must be smaller than the input";
  return success();
}

LogicalResult SliceOp::verify() {
  auto x = getInput().getType().getShape();
  auto y = getOutput().getType().getShape();
  auto o = getOffsets();
  auto s = getStrides();
  if (o.size() != x.size() || y.size() != x.size())
    return emitOpError() << "offsets must have one entry per dimension";
  if (!s.empty() && s.size() != x.size())
    return emitOpError() << "strides must be empty or one per dimension";
  if (elementTypeOf(getInput()) != elementTypeOf(getOutput()))
    return emitOpError() << "result element type must equal the input's";
  for (size_t i = 0; i < x.size(); ++i) {
    int64_t stride = s.empty() ? 1 : s[i];
    if (stride == 0)
      return emitOpError() << "strides must not be 0";
    int64_t last = o[i] + (y[i] - 1) * stride;
    if (y[i] < 1 || o[i] < 0 || o[i] >= x[i] || last < 0 || last >= x[i])
      return emitOpError() << "slice exceeds the input";
  }
  return success();
}

LogicalResult BroadcastToOp::verify() {
  auto out = getOutput().getType().getShape();
  auto bs = broadcastShapes(getInput().getType().getShape(), out);
  if (failed(bs) || ArrayRef<int64_t>(*bs) != out)
    return emitOpError() << "input shape does not broadcast to the result";
  return success();
}

LogicalResult ReshapeOp::verify() {
  if (numElements(getInput()) != numElements(getOutput()))
    return emitOpError() << "changes the number of elements";
  if (elementTypeOf(getInput()) != elementTypeOf(getOutput()))
    return emitOpError() << "result element type must equal the input's";
  return success();
}

LogicalResult ReduceSumToOp::verify() {
  auto in = getInput().getType().getShape();
  auto bs = broadcastShapes(getOutput().getType().getShape(), in);
  if (failed(bs) || ArrayRef<int64_t>(*bs) != in)
    return emitOpError() << "result shape does not broadcast to the input";
  return success();
}

//===----------------------------------------------------------------------===//
// MAC counts
//===----------------------------------------------------------------------===//

int64_t Conv2dOp::getMacs() {
  auto w = getWeight().getType().getShape();
  return numElements(getOutput()) * w[1] * w[2] * w[3];
}
int64_t ConvTranspose2dOp::getMacs() {
  auto w = getWeight().getType().getShape();
  return numElements(getInput()) * w[1] * w[2] * w[3];
}
int64_t Conv2dGradInputOp::getMacs() {
  auto w = getWeight().getType().getShape();
  return numElements(getOutputGrad()) * w[1] * w[2] * w[3];
}
int64_t Conv2dGradWeightOp::getMacs() {
  auto w = getWeightGrad().getType().getShape();
  return numElements(getOutputGrad()) * w[1] * w[2] * w[3];
}
int64_t GemmOp::getMacs() {
  auto a = getA().getType().getShape();
  int64_t k = getTransA() ? a[0] : a[1];
  return numElements(getOutput()) * k;
}
int64_t AddOp::getMacs() { return numElements(getOutput()); }
int64_t ReluOp::getMacs() { return numElements(getOutput()); }
int64_t MaxPool2dOp::getMacs() {
  return numElements(getOutput()) * getKernel()[0] * getKernel()[1];
}
int64_t AvgPool2dOp::getMacs() {
  return numElements(getOutput()) * getKernel()[0] * getKernel()[1];
}
int64_t ReshapeOp::getMacs() { return 0; }
int64_t Pad2dOp::getMacs() { return numElements(getOutput()); }
int64_t SliceOp::getMacs() { return numElements(getOutput()); }
int64_t BroadcastToOp::getMacs() { return numElements(getOutput()); }
int64_t SliceGradOp::getMacs() { return numElements(getInputGrad()); }
int64_t SubOp::getMacs() { return numElements(getOutput()); }
int64_t MulOp::getMacs() { return numElements(getOutput()); }
int64_t DivOp::getMacs() { return numElements(getOutput()); }
int64_t PowOp::getMacs() { return numElements(getOutput()); }
int64_t MaxOp::getMacs() { return numElements(getOutput()); }
int64_t MinOp::getMacs() { return numElements(getOutput()); }
int64_t SelectGradOp::getMacs() { return numElements(getTerm()); }
int64_t CastOp::getMacs() { return numElements(getOutput()); }
int64_t WhereOp::getMacs() { return numElements(getOutput()); }
int64_t GatherOp::getMacs() { return numElements(getOutput()); }
int64_t GatherGradOp::getMacs() { return numElements(getOutputGrad()); }
int64_t RowIndicesOp::getMacs() { return 0; }
int64_t WhereGradOp::getMacs() { return numElements(getTerm()); }
int64_t PowGradOp::getMacs() { return numElements(getTerm()); }
int64_t ActivationOp::getMacs() { return numElements(getOutput()); }
int64_t PReluOp::getMacs() { return numElements(getOutput()); }
int64_t PReluGradInputOp::getMacs() { return numElements(getInputGrad()); }
int64_t NegOp::getMacs() { return numElements(getOutput()); }
int64_t QConv2dOp::getMacs() {
  auto w = getWeight().getType().getShape();
  return numElements(getOutput()) * w[1] * w[2] * w[3];
}
int64_t QGemmOp::getMacs() {
  return numElements(getOutput()) * getA().getType().getShape()[1];
}
int64_t QuantizeOp::getMacs() { return numElements(getOutput()); }
int64_t DequantizeOp::getMacs() { return numElements(getOutput()); }
int64_t QuantizeGradOp::getMacs() { return numElements(getInputGrad()); }
int64_t QOutputGradOp::getMacs() { return numElements(getInputGrad()); }
int64_t QConv2dGradInputOp::getMacs() {
  auto w = getWeight().getType().getShape();
  return numElements(getOutputGrad()) * w[1] * w[2] * w[3];
}
int64_t QConv2dGradWeightOp::getMacs() {
  auto w = getWeightGrad().getType().getShape();
  return numElements(getOutputGrad()) * w[1] * w[2] * w[3];
}
int64_t QGemmGradAOp::getMacs() {
  return numElements(getOutputGrad()) * getAGrad().getType().getShape()[1];
}
int64_t QGemmGradBOp::getMacs() {
  return numElements(getOutputGrad()) * getA().getType().getShape()[1];
}
int64_t ActivationGradOp::getMacs() { return numElements(getInputGrad()); }
int64_t BatchNormOp::getMacs() { return numElements(getOutput()); }
int64_t TransposeOp::getMacs() { return numElements(getOutput()); }
int64_t ConcatOp::getMacs() { return numElements(getOutput()); }
int64_t SoftmaxOp::getMacs() { return 3 * numElements(getOutput()); }
int64_t SoftmaxGradOp::getMacs() { return 3 * numElements(getInputGrad()); }
int64_t MatMulOp::getMacs() {
  return numElements(getOutput()) * getA().getType().getShape().back();
}
int64_t ReduceSumToOp::getMacs() { return numElements(getInput()); }
int64_t ReluGradOp::getMacs() { return numElements(getInputGrad()); }
int64_t PackMaskOp::getMacs() { return numElements(getInput()); }
int64_t MaxPool2dMaskOp::getMacs() {
  return ShapedType::getNumElements(getOutputShape()) * getKernel()[0] *
         getKernel()[1];
}
int64_t MaskedGradOp::getMacs() { return numElements(getInputGrad()); }
int64_t MaxPool2dMaskedGradOp::getMacs() { return numElements(getInputGrad()); }
int64_t MaxPool2dGradOp::getMacs() {
  return numElements(getOutputGrad()) * getKernel()[0] * getKernel()[1];
}
int64_t Pad2dGradOp::getMacs() {
  // Two folds: over the padded rows, then over the padded columns.
  auto y = getOutputGrad().getType().getShape();
  auto x = getInputGrad().getType().getShape();
  return y[0] * y[1] * (x[2] * y[2] * y[3] + x[2] * x[3] * y[3]);
}
int64_t AvgPool2dGradOp::getMacs() {
  return numElements(getOutputGrad()) * getKernel()[0] * getKernel()[1];
}

#define GET_OP_CLASSES
#include "dialects/NN/NNOps.cpp.inc"
