//===- Conv.cpp - Conv, Gemm and MatMul
//-------------------------------------===//
//
// The contractions: 2-D convolutions (groups, depthwise, strides, pads,
// dilations, auto_pad), Gemm (transposes, alpha, beta, C) and MatMul (2-D
// and batched), and their int8 forms QLinearConv, ConvInteger (nn.qconv2d),
// QLinearMatMul and MatMulInteger (nn.qgemm, 2-D). Result shapes come from
// the nn ops' builders.
//
//===----------------------------------------------------------------------===//
#include "compiler/Import/Importer.h"

using namespace mlir;
using namespace mcutrain;
using namespace mcutrain::importer;

namespace {

/// strides, dilations and pads of a 2-D window op (auto_pad applied), after
/// checking them; failure is diagnosed.
struct Window2d {
  SmallVector<int64_t> strides, dilations, pads;
};

FailureOr<Window2d> convWindow(OnnxImporter &I, const onnx::NodeProto &n,
                               ArrayRef<int64_t> xs, ArrayRef<int64_t> ks) {
  Window2d w{attrInts(n, "strides", {1, 1}), attrInts(n, "dilations", {1, 1}),
             attrInts(n, "pads", {0, 0, 0, 0})};
  if (w.strides.size() != 2 || w.dilations.size() != 2 || w.pads.size() != 4)
    return I.nodeError(n) << "strides/dilations/pads must describe 2 spatial "
                             "dimensions",
           failure();
  if (llvm::any_of(w.strides, [](int64_t v) { return v < 1; }) ||
      llvm::any_of(w.dilations, [](int64_t v) { return v < 1; }))
    return I.nodeError(n) << "strides and dilations must be positive",
           failure();
  std::string autoPad = attrString(n, "auto_pad", "NOTSET");
  if (autoPad == "VALID") {
    w.pads = {0, 0, 0, 0};
  } else if (autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER") {
    for (int d = 0; d < 2; ++d)
      samePads(xs[2 + d], ks[d], w.strides[d], w.dilations[d],
               autoPad == "SAME_UPPER", w.pads[d], w.pads[d + 2]);
  } else if (autoPad != "NOTSET") {
    return I.nodeError(n) << "auto_pad '" << autoPad << "' is not supported",
           failure();
  }
  return w;
}

/// The optional bias: a float vector of `channels`.
FailureOr<Value> convBias(OnnxImporter &I, const onnx::NodeProto &n,
                          int64_t channels) {
  if (n.input_size() <= 2 || n.input(2).empty())
    return Value();
  FailureOr<Value> b = I.tensorOperand(n, 2);
  if (failed(b))
    return failure();
  auto bs = shapeOf(*b);
  if (bs.size() != 1 || bs[0] != channels ||
      !OnnxImporter::elementTypeOf(*b).isF32())
    return I.nodeError(n) << "the bias must be a float tensor of " << channels
                          << " elements",
           failure();
  return *b;
}

LogicalResult importConv(OnnxImporter &I, const onnx::NodeProto &n) {
  if (failed(I.checkElementTypes(n, ElementTypes::Float)))
    return failure();
  FailureOr<Value> x = I.tensorOperand(n, 0), w = I.tensorOperand(n, 1);
  if (failed(x) || failed(w))
    return failure();
  auto xs = shapeOf(*x), ws = shapeOf(*w);
  if (xs.size() != 4 || ws.size() != 4)
    return I.nodeError(n) << "convolution over other than 2 spatial dims is "
                             "not supported",
           failure();
  int64_t group = attrInt(n, "group", 1);
  if (group < 1 || ws[0] % group || xs[1] != ws[1] * group)
    return I.nodeError(n) << "group=" << group << " does not match " << xs[1]
                          << " input and " << ws[0] << " output channels",
           failure();
  auto ks = attrInts(n, "kernel_shape", {ws[2], ws[3]});
  if (ks.size() != 2 || ks[0] != ws[2] || ks[1] != ws[3])
    return I.nodeError(n) << "kernel_shape disagrees with the weight",
           failure();
  FailureOr<Window2d> win = convWindow(I, n, xs, ks);
  if (failed(win))
    return failure();
  FailureOr<Value> bias = convBias(I, n, ws[0]);
  if (failed(bias))
    return failure();
  if (!nn::conv2dShape(xs, ws, win->strides, win->pads, win->dilations))
    return I.nodeError(n) << "the kernel does not fit the padded input",
           failure();
  return I.define(n, nn::Conv2dOp::create(I.builder, I.nodeLoc(n), *x, *w,
                                          *bias, win->strides, win->pads,
                                          win->dilations, group));
}

/// MatMul of rank > 2 operands: batched over the broadcast leading dims.
LogicalResult importBatchedMatMul(OnnxImporter &I, const onnx::NodeProto &n,
                                  Value a, Value b) {
  if (!nn::matMulShape(shapeOf(a), shapeOf(b)))
    return I.nodeError(n) << "operand shapes do not match", failure();
  return I.define(n, nn::MatMulOp::create(I.builder, I.nodeLoc(n), a, b));
}

LogicalResult importGemm(OnnxImporter &I, const onnx::NodeProto &n) {
  if (failed(I.checkElementTypes(n, ElementTypes::Float)))
    return failure();
  FailureOr<Value> a = I.tensorOperand(n, 0), b = I.tensorOperand(n, 1);
  if (failed(a) || failed(b))
    return failure();
  auto as = shapeOf(*a), bs = shapeOf(*b);
  bool isMatMul = n.op_type() == "MatMul";
  if (isMatMul && as.size() >= 2 && bs.size() >= 2 &&
      (as.size() > 2 || bs.size() > 2))
    return importBatchedMatMul(I, n, *a, *b);
  if (as.size() != 2 || bs.size() != 2)
    return I.nodeError(n) << "1-D operands are not supported", failure();
  bool ta = attrInt(n, "transA", 0), tb = attrInt(n, "transB", 0);
  Value c;
  if (!isMatMul && n.input_size() > 2 && !n.input(2).empty()) {
    FailureOr<Value> cv = I.tensorOperand(n, 2);
    if (failed(cv))
      return failure();
    c = *cv;
  }
  int64_t m = ta ? as[1] : as[0], k = ta ? as[0] : as[1];
  int64_t kb = tb ? bs[1] : bs[0], cols = tb ? bs[0] : bs[1];
  if (k != kb)
    return I.nodeError(n) << "inner dimensions differ (" << k << " vs " << kb
                          << ")",
           failure();
  if (c) {
    auto bc = nn::broadcastShapes(shapeOf(c), {m, cols});
    if (failed(bc) || (*bc)[0] != m || (*bc)[1] != cols)
      return I.nodeError(n) << "C does not broadcast to the output", failure();
  }
  return I.define(n, nn::GemmOp::create(I.builder, I.nodeLoc(n), *a, *b, c, ta,
                                        tb, attrFloat(n, "alpha", 1.0f),
                                        attrFloat(n, "beta", 1.0f)));
}

/// An 8-bit integer operand and its ONNX type (uint8 or int8).
FailureOr<std::pair<Value, int32_t>>
int8Operand(OnnxImporter &I, const onnx::NodeProto &n, int idx) {
  FailureOr<Value> v = I.tensorOperand(n, idx);
  if (failed(v))
    return failure();
  if (!OnnxImporter::elementTypeOf(*v).isInteger(8))
    return I.nodeError(n) << "input " << idx << " must be uint8 or int8",
           failure();
  return std::make_pair(*v, I.isUnsigned(*v)
                                ? int32_t(onnx::TensorProto::UINT8)
                                : int32_t(onnx::TensorProto::INT8));
}

/// The operands and types of an int8 layer node: x and w at inputs 0 and 3
/// with their scales and zero points after each (QLinearConv/QLinearMatMul,
/// `scaled`), or at 0 and 1 with optional zero points at 2 and 3 and scale
/// 1 (ConvInteger/MatMulInteger); the weight per axis along `weightAxis`.
struct Int8Layer {
  Value x, w;
  Type xType, wType;
};
FailureOr<Int8Layer> int8Layer(OnnxImporter &I, const onnx::NodeProto &n,
                               bool scaled, int64_t weightAxis) {
  int xIdx = 0, wIdx = scaled ? 3 : 1;
  if (failed(I.needInputs(n, scaled ? 8 : 2)))
    return failure();
  auto x = int8Operand(I, n, xIdx), w = int8Operand(I, n, wIdx);
  if (failed(x) || failed(w))
    return failure();
  int xScale = scaled ? xIdx + 1 : -1, wScale = scaled ? wIdx + 1 : -1;
  int xZero = scaled ? xIdx + 2 : 2, wZero = scaled ? wIdx + 2 : 3;
  FailureOr<Type> xt =
      quantParamsType(I, n, xScale, xZero, shapeOf(x->first), x->second, 1);
  FailureOr<Type> wt = quantParamsType(I, n, wScale, wZero, shapeOf(w->first),
                                       w->second, weightAxis);
  if (failed(xt) || failed(wt))
    return failure();
  if (!isa<quant::UniformQuantizedType>(*xt))
    return I.nodeError(n) << "the input's quantization must be per tensor",
           failure();
  auto matches = [&](Type t, int32_t onnxType) {
    return cast<quant::QuantizedType>(t).isSigned() ==
           (onnxType == onnx::TensorProto::INT8);
  };
  if (!matches(*xt, x->second) || !matches(*wt, w->second))
    return I.nodeError(n) << "a zero point's type differs from its tensor's",
           failure();
  return Int8Layer{x->first, w->first, *xt, *wt};
}

/// The output type of QLinearConv/QLinearMatMul (y_scale, y_zero_point at
/// inputs 6 and 7), per tensor.
FailureOr<Type> int8OutputType(OnnxImporter &I, const onnx::NodeProto &n,
                               ArrayRef<int64_t> shape) {
  FailureOr<Type> t =
      quantParamsType(I, n, 6, 7, shape, onnx::TensorProto::UINT8, 1);
  if (succeeded(t) && !isa<quant::UniformQuantizedType>(*t))
    return I.nodeError(n) << "the output's quantization must be per tensor",
           failure();
  return t;
}

/// QLinearConv (scaled, requantized to y's type, int32 bias) and
/// ConvInteger (the int32 sums).
LogicalResult importInt8Conv(OnnxImporter &I, const onnx::NodeProto &n) {
  bool scaled = n.op_type() == "QLinearConv";
  FailureOr<Int8Layer> L = int8Layer(I, n, scaled, /*weightAxis=*/0);
  if (failed(L))
    return failure();
  auto xs = shapeOf(L->x), ws = shapeOf(L->w);
  int64_t group = attrInt(n, "group", 1);
  if (xs.size() != 4 || ws.size() != 4 || group < 1 || ws[0] % group ||
      xs[1] != ws[1] * group)
    return I.nodeError(n) << "needs 2-D NCHW input and FCHW weight matching "
                             "group="
                          << group,
           failure();
  FailureOr<Window2d> win = convWindow(I, n, xs, {ws[2], ws[3]});
  if (failed(win))
    return failure();
  auto ys = nn::conv2dShape(xs, ws, win->strides, win->pads, win->dilations);
  if (!ys)
    return I.nodeError(n) << "the kernel does not fit the padded input",
           failure();
  Value bias;
  if (scaled && n.input_size() > 8 && !n.input(8).empty()) {
    FailureOr<Value> b = I.tensorOperand(n, 8);
    if (failed(b))
      return failure();
    if (!OnnxImporter::elementTypeOf(*b).isInteger(32) ||
        shapeOf(*b) != ArrayRef<int64_t>{ws[0]})
      return I.nodeError(n)
                 << "the bias must be int32 of " << ws[0] << " elements",
             failure();
    bias = *b;
  }
  TypeAttr outType;
  Type element = I.builder.getI32Type();
  if (scaled) {
    FailureOr<Type> yt = int8OutputType(I, n, *ys);
    if (failed(yt))
      return failure();
    outType = TypeAttr::get(*yt);
    element = I.builder.getI8Type();
  }
  Value y = nn::QConv2dOp::create(
      I.builder, I.nodeLoc(n), I.tensorType(*ys, element), L->x, L->w, bias,
      TypeAttr::get(L->xType), TypeAttr::get(L->wType), outType,
      I.builder.getDenseI64ArrayAttr(win->strides),
      I.builder.getDenseI64ArrayAttr(win->pads),
      I.builder.getDenseI64ArrayAttr(win->dilations),
      I.builder.getI64IntegerAttr(group), IntegerAttr(), IntegerAttr());
  if (outType && !cast<quant::QuantizedType>(outType.getValue()).isSigned())
    I.unsignedValues.insert(y);
  return I.define(n, y);
}

/// QLinearMatMul and MatMulInteger of 2-D operands (b per tensor or per
/// column); batched (N-D) forms are refused.
LogicalResult importInt8MatMul(OnnxImporter &I, const onnx::NodeProto &n) {
  bool scaled = n.op_type() == "QLinearMatMul";
  FailureOr<Int8Layer> L = int8Layer(I, n, scaled, /*weightAxis=*/1);
  if (failed(L))
    return failure();
  auto as = shapeOf(L->x), bs = shapeOf(L->w);
  if (as.size() != 2 || bs.size() != 2)
    return I.refuseForm(n, "operands of rank other than 2");
  if (as[1] != bs[0])
    return I.nodeError(n) << "inner dimensions differ (" << as[1] << " vs "
                          << bs[0] << ")",
           failure();
  SmallVector<int64_t> ys = {as[0], bs[1]};
  TypeAttr outType;
  Type element = I.builder.getI32Type();
  if (scaled) {
    FailureOr<Type> yt = int8OutputType(I, n, ys);
    if (failed(yt))
      return failure();
    outType = TypeAttr::get(*yt);
    element = I.builder.getI8Type();
  }
  Value y = nn::QGemmOp::create(
      I.builder, I.nodeLoc(n), I.tensorType(ys, element), L->x, L->w, Value(),
      TypeAttr::get(L->xType), TypeAttr::get(L->wType), outType,
      I.builder.getBoolAttr(false), IntegerAttr(), IntegerAttr());
  if (outType && !cast<quant::QuantizedType>(outType.getValue()).isSigned())
    I.unsignedValues.insert(y);
  return I.define(n, y);
}

} // namespace

void mcutrain::importer::registerConvHandlers(HandlerTable &table) {
  table.on("Conv", 1, importConv);
  table.on("Gemm", 1, importGemm);
  table.on("MatMul", 1, importGemm);
  table.on("QLinearConv", 10, importInt8Conv);
  table.on("ConvInteger", 10, importInt8Conv);
  table.on("QLinearMatMul", 10, importInt8MatMul);
  table.on("MatMulInteger", 10, importInt8MatMul);
}
