//===- Quantization.cpp - QuantizeLinear, DequantizeLinear ----------------===//
//
// Each becomes nn.quantize / nn.dequantize with its scale(s) and zero
// point(s) as a !quant.uniform type (per tensor, or per axis from opset 13).
// Scales and zero points must be compile-time constants; a one-element [1]
// scale is per tensor (torch's exporter writes those).
//
//===----------------------------------------------------------------------===//
#include "compiler/Import/Importer.h"

using namespace mlir;
using namespace mcutrain;
using namespace mcutrain::importer;

namespace {

/// The storage of a zero point's ONNX type: uint8, int8 or int32.
struct Storage {
  unsigned bits;
  bool isSigned;
};
std::optional<Storage> storageOf(int32_t onnxType) {
  switch (onnxType) {
  case onnx::TensorProto::UINT8:
    return Storage{8, false};
  case onnx::TensorProto::INT8:
    return Storage{8, true};
  case onnx::TensorProto::INT32:
    return Storage{32, true};
  default:
    return std::nullopt;
  }
}

} // namespace

/// The !quant.uniform type of the scale at input `scaleIdx` (-1: scale 1,
/// for ConvInteger/MatMulInteger) and zero point at `zeroIdx` of node `n`,
/// for a tensor of `shape` whose integer side has ONNX type `intType` (the
/// zero point's, if present). More than one value is per axis, along
/// `axis` (negative counts from the end).
FailureOr<Type> mcutrain::importer::quantParamsType(
    OnnxImporter &I, const onnx::NodeProto &n, int scaleIdx, int zeroIdx,
    ArrayRef<int64_t> shape, int32_t intType, int64_t axis) {
  const ConstTensor *scale =
      scaleIdx >= 0 ? I.constOperand(n, scaleIdx) : nullptr;
  const ConstTensor *zero = I.constOperand(n, zeroIdx);
  bool hasZero = n.input_size() > zeroIdx && !n.input(zeroIdx).empty();
  if ((scaleIdx >= 0 && (!scale || !scale->isFloat)) || (hasZero && !zero))
    return I.nodeError(n) << "scale and zero point must be constants",
           failure();
  if (zero)
    intType = zero->dtype;
  std::optional<Storage> storage = storageOf(intType);
  if (!storage)
    return I.nodeError(n) << "quantized type must be uint8, int8 or int32",
           failure();
  int64_t count = scale ? scale->numElements() : zero ? zero->numElements() : 1;
  if (zero && zero->numElements() != count)
    return I.nodeError(n) << "scale and zero point differ in size", failure();
  auto scaleAt = [&](int64_t i) { return scale ? double(scale->f[i]) : 1.0; };
  for (int64_t i = 0; i < count; ++i)
    if (!(scaleAt(i) > 0.0) || !std::isfinite(scaleAt(i)))
      return I.nodeError(n) << "scales must be positive and finite", failure();
  MLIRContext *ctx = &I.ctx;
  Type storageType = IntegerType::get(ctx, storage->bits);
  Type f32 = Float32Type::get(ctx);
  unsigned flags = storage->isSigned ? quant::QuantizationFlags::Signed : 0;
  int64_t qmin = storage->isSigned ? -(int64_t(1) << (storage->bits - 1)) : 0;
  int64_t qmax = storage->isSigned ? (int64_t(1) << (storage->bits - 1)) - 1
                                   : (int64_t(1) << storage->bits) - 1;
  auto zeroAt = [&](int64_t i) { return zero ? zero->i[i] : int64_t(0); };
  if (count == 1)
    return Type(quant::UniformQuantizedType::get(
        flags, storageType, f32, scaleAt(0), zeroAt(0), qmin, qmax));
  const ConstTensor *vector = scale ? scale : zero;
  if (vector->shape.size() != 1)
    return I.nodeError(n) << "scale must be a scalar or 1-D", failure();
  if (axis < 0)
    axis += shape.size();
  if (axis < 0 || axis >= static_cast<int64_t>(shape.size()) ||
      shape[axis] != count)
    return I.nodeError(n) << "a per-axis scale needs one value per element "
                             "of its axis",
           failure();
  SmallVector<double> scales;
  SmallVector<int64_t> zeros;
  for (int64_t i = 0; i < count; ++i) {
    scales.push_back(scaleAt(i));
    zeros.push_back(zeroAt(i));
  }
  return Type(quant::UniformQuantizedPerAxisType::get(
      flags, storageType, f32, scales, zeros, axis, qmin, qmax));
}

namespace {

/// The type of a QuantizeLinear/DequantizeLinear node (scale and zero point
/// at inputs 1 and 2; per axis only from opset 13, along `axis`).
FailureOr<Type> quantType(OnnxImporter &I, const onnx::NodeProto &n,
                          ArrayRef<int64_t> shape, int32_t intType) {
  const ConstTensor *scale = I.constOperand(n, 1);
  if (I.opset < 13 && scale && scale->numElements() != 1) {
    (void)I.refuseForm(n, "per-axis scale");
    return failure();
  }
  int64_t axis = I.opset >= 13 ? attrInt(n, "axis", 1) : 1;
  return quantParamsType(I, n, 1, 2, shape, intType, axis);
}

LogicalResult importQuantizeLinear(OnnxImporter &I, const onnx::NodeProto &n) {
  if (failed(I.needInputs(n, 2)) ||
      failed(I.checkElementTypes(n, ElementTypes::Float)))
    return failure();
  FailureOr<Value> x = I.tensorOperand(n, 0);
  if (failed(x))
    return failure();
  FailureOr<Type> qt = quantType(I, n, shapeOf(*x), onnx::TensorProto::UINT8);
  if (failed(qt))
    return failure();
  auto q = cast<quant::QuantizedType>(*qt);
  Value out = nn::QuantizeOp::create(
      I.builder, I.nodeLoc(n), I.tensorType(shapeOf(*x), q.getStorageType()),
      *x, TypeAttr::get(*qt));
  if (!q.isSigned())
    I.unsignedValues.insert(out);
  return I.define(n, out);
}

LogicalResult importDequantizeLinear(OnnxImporter &I,
                                     const onnx::NodeProto &n) {
  if (failed(I.needInputs(n, 2)) ||
      failed(I.checkElementTypes(n, ElementTypes::Integers)))
    return failure();
  FailureOr<Value> x = I.tensorOperand(n, 0);
  if (failed(x))
    return failure();
  if (OnnxImporter::elementTypeOf(*x).isF32())
    return I.nodeError(n) << "the input must be an integer tensor", failure();
  int32_t intType = I.isUnsigned(*x) ? onnx::TensorProto::UINT8
                    : OnnxImporter::elementTypeOf(*x).isInteger(32)
                        ? onnx::TensorProto::INT32
                        : onnx::TensorProto::INT8;
  FailureOr<Type> qt = quantType(I, n, shapeOf(*x), intType);
  if (failed(qt))
    return failure();
  auto q = cast<quant::QuantizedType>(*qt);
  if (q.getStorageType() != OnnxImporter::elementTypeOf(*x) ||
      q.isSigned() == bool(I.isUnsigned(*x)))
    return I.nodeError(n) << "the zero point's type differs from the input's",
           failure();
  return I.define(n, nn::DequantizeOp::create(I.builder, I.nodeLoc(n),
                                              I.tensorType(shapeOf(*x)), *x,
                                              TypeAttr::get(*qt)));
}

} // namespace

void mcutrain::importer::registerQuantizationHandlers(HandlerTable &table) {
  table.on("QuantizeLinear", 10, importQuantizeLinear);
  table.on("DequantizeLinear", 10, importDequantizeLinear);
}
