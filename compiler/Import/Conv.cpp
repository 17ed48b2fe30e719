//===- Conv.cpp - Conv, Gemm and MatMul
//-------------------------------------===//
//
// The contractions: 1-D and 2-D convolutions (groups, depthwise, strides,
// pads, dilations, auto_pad; 1-D as 2-D over height 1) and transposed
// convolutions (output_padding), Gemm (transposes, alpha, beta, C) and MatMul
// (2-D and batched), and their int8 forms QLinearConv, ConvInteger
// (nn.qconv2d), QLinearMatMul and MatMulInteger (nn.qgemm, 2-D). Result shapes
// come from the nn ops' builders.
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

/// The window of a 1-D or 2-D convolution over input `xs` (N, C, spatial)
/// with kernel `ks`, as 2-D (a 1-D one over height 1). auto_pad is the
/// caller's when `autoPads` is false (ConvTranspose's differs).
FailureOr<Window2d> convWindow(OnnxImporter &I, const onnx::NodeProto &n,
                               ArrayRef<int64_t> xs, ArrayRef<int64_t> ks,
                               bool autoPads = true) {
  size_t sp = xs.size() - 2;
  SmallVector<int64_t> ones(sp, 1), zeros(2 * sp, 0);
  Window2d w{attrInts(n, "strides", ones), attrInts(n, "dilations", ones),
             attrInts(n, "pads", zeros)};
  if (w.strides.size() != sp || w.dilations.size() != sp ||
      w.pads.size() != 2 * sp)
    return I.nodeError(n) << "strides/dilations/pads must describe " << sp
                          << " spatial dimensions",
           failure();
  if (llvm::any_of(w.strides, [](int64_t v) { return v < 1; }) ||
      llvm::any_of(w.dilations, [](int64_t v) { return v < 1; }))
    return I.nodeError(n) << "strides and dilations must be positive",
           failure();
  std::string autoPad = autoPads ? attrString(n, "auto_pad", "NOTSET") : "";
  if (!autoPads) {
  } else if (autoPad == "VALID") {
    w.pads = zeros;
  } else if (autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER") {
    for (size_t d = 0; d < sp; ++d)
      samePads(xs[2 + d], ks[d], w.strides[d], w.dilations[d],
               autoPad == "SAME_UPPER", w.pads[d], w.pads[d + sp]);
  } else if (autoPad != "NOTSET") {
    return I.nodeError(n) << "auto_pad '" << autoPad << "' is not supported",
           failure();
  }
  if (sp == 1)
    w = {{1, w.strides[0]}, {1, w.dilations[0]}, {0, w.pads[0], 0, w.pads[1]}};
  return w;
}

/// [N, C, L] as [N, C, 1, L]; 4-D shapes unchanged.
SmallVector<int64_t> shape2d(ArrayRef<int64_t> s) {
  if (s.size() != 3)
    return SmallVector<int64_t>(s);
  return {s[0], s[1], 1, s[2]};
}

/// A 1-D tensor [N, C, L] viewed as [N, C, 1, L] (4-D tensors unchanged).
Value as2d(OnnxImporter &I, const onnx::NodeProto &n, Value v) {
  auto s = shapeOf(v);
  if (s.size() != 3)
    return v;
  return nn::ReshapeOp::create(I.builder, I.nodeLoc(n),
                               I.tensorType(shape2d(s)), v);
}

/// y's 2-D result viewed back as 1-D when the node's input was.
Value as1dIf(OnnxImporter &I, const onnx::NodeProto &n, Value y, bool oneD) {
  if (!oneD)
    return y;
  auto s = shapeOf(y);
  return nn::ReshapeOp::create(I.builder, I.nodeLoc(n),
                               I.tensorType({s[0], s[1], s[3]}), y);
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

/// Conv over 1 or 2 spatial dims (1-D as 2-D over height 1, the way the
/// pooling is).
LogicalResult importConv(OnnxImporter &I, const onnx::NodeProto &n) {
  if (failed(I.checkElementTypes(n, ElementTypes::Float)))
    return failure();
  FailureOr<Value> x = I.tensorOperand(n, 0), w = I.tensorOperand(n, 1);
  if (failed(x) || failed(w))
    return failure();
  auto xs = shapeOf(*x), ws = shapeOf(*w);
  if ((xs.size() != 4 && xs.size() != 3) || ws.size() != xs.size())
    return I.nodeError(n) << "convolution over " << (int64_t)xs.size() - 2
                          << " spatial dims is not supported (1 or 2 are)",
           failure();
  int64_t group = attrInt(n, "group", 1);
  if (group < 1 || ws[0] % group || xs[1] != ws[1] * group)
    return I.nodeError(n) << "group=" << group << " does not match " << xs[1]
                          << " input and " << ws[0] << " output channels",
           failure();
  SmallVector<int64_t> wk(ws.begin() + 2, ws.end());
  if (attrInts(n, "kernel_shape", wk) != wk)
    return I.nodeError(n) << "kernel_shape disagrees with the weight",
           failure();
  FailureOr<Window2d> win = convWindow(I, n, xs, wk);
  if (failed(win))
    return failure();
  FailureOr<Value> bias = convBias(I, n, ws[0]);
  if (failed(bias))
    return failure();
  if (!nn::conv2dShape(shape2d(xs), shape2d(ws), win->strides, win->pads,
                       win->dilations))
    return I.nodeError(n) << "the kernel does not fit the padded input",
           failure();
  Value y = nn::Conv2dOp::create(I.builder, I.nodeLoc(n), as2d(I, n, *x),
                                 as2d(I, n, *w), *bias, win->strides, win->pads,
                                 win->dilations, group);
  return I.define(n, as1dIf(I, n, y, xs.size() == 3));
}

/// The extents of a transposed convolution's result (2-D form) and, for
/// output_shape or auto_pad SAME_*, its pads (ONNX's rule: the total
/// padding split evenly, the odd one at the end for SAME_UPPER).
FailureOr<SmallVector<int64_t>>
convTransposeShape(OnnxImporter &I, const onnx::NodeProto &n,
                   ArrayRef<int64_t> xs, ArrayRef<int64_t> ws, Window2d &win,
                   int64_t group) {
  size_t sp = xs.size() - 2, off = 2 - sp; // 1-D: the 2-D form's dim 1
  std::string autoPad = attrString(n, "auto_pad", "NOTSET");
  SmallVector<int64_t> outPad =
      attrInts(n, "output_padding", SmallVector<int64_t>(sp, 0));
  SmallVector<int64_t> outShape = attrInts(n, "output_shape", {});
  if (outPad.size() != sp || (!outShape.empty() && outShape.size() != sp))
    return I.nodeError(n) << "output_padding and output_shape must describe "
                          << sp << " spatial dimensions",
           failure();
  bool same = autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER";
  SmallVector<int64_t> ys = {xs[0], ws[1] * group};
  for (size_t d = 0; d < sp; ++d) {
    int64_t in = xs[2 + d], k = ws[2 + d], s = win.strides[d + off];
    int64_t dl = win.dilations[d + off];
    if (outPad[d] < 0 || outPad[d] >= std::max(s, dl))
      return I.nodeError(n) << "output_padding must be below the stride or "
                               "dilation",
             failure();
    int64_t full = s * (in - 1) + outPad[d] + (k - 1) * dl + 1;
    if (!outShape.empty() || same) {
      int64_t want = outShape.empty() ? in * s : outShape[d];
      // Beyond the full extent, the rows past it receive nothing (as an
      // output_padding); the verifier below bounds how far.
      int64_t total = std::max<int64_t>(full - want, 0);
      full = std::max(full, want);
      bool upper = autoPad == "SAME_UPPER";
      win.pads[d + off] = upper ? total / 2 : total - total / 2;
      win.pads[d + off + 2] = total - win.pads[d + off];
    } else if (autoPad != "NOTSET" && autoPad != "VALID") {
      return I.nodeError(n) << "auto_pad '" << autoPad << "' is not supported",
             failure();
    }
    ys.push_back(full - win.pads[d + off] - win.pads[d + off + 2]);
    if (ys.back() < 1)
      return I.nodeError(n) << "the pads leave an empty output", failure();
  }
  if (sp == 1)
    ys.insert(ys.begin() + 2, 1);
  return ys;
}

/// ConvTranspose over 1 or 2 spatial dims: nn.conv_transpose2d plus the
/// bias.
LogicalResult importConvTranspose(OnnxImporter &I, const onnx::NodeProto &n) {
  if (failed(I.checkElementTypes(n, ElementTypes::Float)))
    return failure();
  FailureOr<Value> x = I.tensorOperand(n, 0), w = I.tensorOperand(n, 1);
  if (failed(x) || failed(w))
    return failure();
  auto xs = shapeOf(*x), ws = shapeOf(*w);
  int64_t group = attrInt(n, "group", 1);
  if ((xs.size() != 4 && xs.size() != 3) || ws.size() != xs.size())
    return I.nodeError(n) << "ConvTranspose over " << (int64_t)xs.size() - 2
                          << " spatial dims is not supported (1 or 2 are)",
           failure();
  if (group < 1 || xs[1] != ws[0] || ws[0] % group)
    return I.nodeError(n) << "the weight's first dim must be the input's "
                          << xs[1] << " channels, in " << group << " groups",
           failure();
  SmallVector<int64_t> wk(ws.begin() + 2, ws.end());
  if (attrInts(n, "kernel_shape", wk) != wk)
    return I.nodeError(n) << "kernel_shape disagrees with the weight",
           failure();
  FailureOr<Window2d> win = convWindow(I, n, xs, wk, /*autoPads=*/false);
  if (failed(win))
    return failure();
  FailureOr<SmallVector<int64_t>> ys =
      convTransposeShape(I, n, xs, ws, *win, group);
  FailureOr<Value> bias = convBias(I, n, ws[1] * group);
  if (failed(ys) || failed(bias))
    return failure();
  auto back = nn::conv2dShape(*ys, shape2d(ws), win->strides, win->pads,
                              win->dilations);
  if (!back || ArrayRef<int64_t>(*back) != ArrayRef<int64_t>(shape2d(xs)))
    return I.nodeError(n) << "the output shape is not one the convolution "
                             "maps back to the input's",
           failure();
  Value y = nn::ConvTranspose2dOp::create(
      I.builder, I.nodeLoc(n), I.tensorType(*ys), as2d(I, n, *x),
      as2d(I, n, *w), I.builder.getDenseI64ArrayAttr(win->strides),
      I.builder.getDenseI64ArrayAttr(win->pads),
      I.builder.getDenseI64ArrayAttr(win->dilations),
      I.builder.getI64IntegerAttr(group));
  if (*bias) {
    Value b = nn::ReshapeOp::create(I.builder, I.nodeLoc(n),
                                    I.tensorType({(*ys)[1], 1, 1}), *bias);
    y = nn::AddOp::create(I.builder, I.nodeLoc(n), y, b, UnitAttr());
  }
  return I.define(n, as1dIf(I, n, y, xs.size() == 3));
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
  table.on("ConvTranspose", 1, importConvTranspose);
  table.on("Gemm", 1, importGemm);
  table.on("MatMul", 1, importGemm);
  table.on("QLinearConv", 10, importInt8Conv);
  table.on("ConvInteger", 10, importInt8Conv);
  table.on("QLinearMatMul", 10, importInt8MatMul);
  table.on("MatMulInteger", 10, importInt8MatMul);
}
