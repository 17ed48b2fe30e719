//===- Conv.cpp - Conv, Gemm and MatMul
//-------------------------------------===//
//
// The contractions: 2-D convolutions (groups, depthwise, strides, pads,
// dilations, auto_pad), Gemm (transposes, alpha, beta, C) and MatMul (2-D
// and batched). Result shapes come from the nn ops' builders.
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

} // namespace

void mcutrain::importer::registerConvHandlers(HandlerTable &table) {
  table.on("Conv", 1, importConv);
  table.on("Gemm", 1, importGemm);
  table.on("MatMul", 1, importGemm);
}
