//===- Pooling.cpp - MaxPool, AveragePool, their Global forms -------------===//
//
// 1-D to 3-D pooling as 2-D pooling on reshaped tensors (max and average
// pooling are separable over a box window), dilations, ceil_mode,
// count_include_pad, auto_pad, and MaxPool's Indices output (2-D).
//
//===----------------------------------------------------------------------===//
#include "compiler/Import/Importer.h"

using namespace mlir;
using namespace mcutrain;
using namespace mcutrain::importer;

namespace {

bool isMaxPool(const onnx::NodeProto &n) {
  return n.op_type() == "MaxPool" || n.op_type() == "GlobalMaxPool";
}

/// A pooling window over `sp` spatial dims: pads are begin..., end....
struct PoolWindow {
  SmallVector<int64_t> kernel, strides, pads, dilations;
  bool ceilMode = false, countIncludePad = false;
};

/// The window's attributes (a global pooling's whole plane), checked, with
/// auto_pad applied; failure is diagnosed.
FailureOr<PoolWindow> readPoolWindow(OnnxImporter &I, const onnx::NodeProto &n,
                                     ArrayRef<int64_t> xs) {
  size_t sp = xs.size() - 2;
  bool global = StringRef(n.op_type()).starts_with("Global");
  SmallVector<int64_t> ones(sp, 1), zeros(2 * sp, 0);
  PoolWindow w;
  w.kernel = global ? SmallVector<int64_t>(xs.drop_front(2))
                    : attrInts(n, "kernel_shape", {});
  w.strides = global ? ones : attrInts(n, "strides", ones);
  w.pads = global ? zeros : attrInts(n, "pads", zeros);
  w.dilations = global ? ones : attrInts(n, "dilations", ones);
  if (w.kernel.size() != sp || w.strides.size() != sp ||
      w.pads.size() != 2 * sp || w.dilations.size() != sp)
    return I.nodeError(n) << "kernel_shape/strides/pads/dilations must "
                             "describe "
                          << sp << " spatial dimensions",
           failure();
  for (size_t d = 0; d < sp; ++d)
    if (w.kernel[d] < 1 || w.strides[d] < 1 || w.dilations[d] < 1 ||
        w.pads[d] < 0 || w.pads[d + sp] < 0)
      return I.nodeError(n) << "kernel_shape, strides and dilations must be "
                               "positive and pads non-negative",
             failure();
  w.ceilMode = attrInt(n, "ceil_mode", 0) != 0;
  if (!isMaxPool(n) &&
      llvm::any_of(w.dilations, [](int64_t v) { return v != 1; }))
    return I.nodeError(n) << "average pooling dilations are not supported",
           failure();
  std::string autoPad = attrString(n, "auto_pad", "NOTSET");
  if (autoPad == "VALID") {
    w.pads = zeros;
  } else if (autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER") {
    for (size_t d = 0; d < sp; ++d)
      samePads(xs[2 + d], w.kernel[d], w.strides[d], w.dilations[d],
               autoPad == "SAME_UPPER", w.pads[d], w.pads[d + sp]);
  } else if (autoPad != "NOTSET") {
    return I.nodeError(n) << "auto_pad '" << autoPad << "' is not supported",
           failure();
  }
  for (size_t d = 0; d < sp; ++d)
    if (w.pads[d] >= w.kernel[d] || w.pads[d + sp] >= w.kernel[d])
      return I.nodeError(n) << "pads must be smaller than the kernel",
             failure();
  w.countIncludePad = attrInt(n, "count_include_pad", 0) != 0;
  return w;
}

/// Builds the pooling of one node on 4-D tensors (reshaping its 1-D or 3-D
/// input).
struct Pooler {
  OnnxImporter &I;
  const onnx::NodeProto &n;
  const PoolWindow &w;
  Location loc;

  /// One 2-D pooling over dims 2 and 3 of a 4-D tensor; null if the window
  /// does not fit.
  Value pool2d(Value in, ArrayRef<int64_t> k, ArrayRef<int64_t> s,
               ArrayRef<int64_t> p, ArrayRef<int64_t> dl) {
    if (!nn::pool2dShape(shapeOf(in), k, s, p, dl, w.ceilMode))
      return Value();
    if (isMaxPool(n))
      return nn::MaxPool2dOp::create(I.builder, loc, in, k, s, p, w.ceilMode,
                                     dl, I.isUnsigned(in));
    return nn::AvgPool2dOp::create(I.builder, loc, in, k, s, p,
                                   w.countIncludePad, w.ceilMode, dl);
  }
  Value reshaped(Value v, ArrayRef<int64_t> shape) {
    return nn::ReshapeOp::create(
        I.builder, loc, I.tensorType(shape, OnnxImporter::elementTypeOf(v)), v);
  }
  /// [N,C,L] pools as [N,C,1,L].
  Value pool1d(Value x, ArrayRef<int64_t> xs) {
    auto &k = w.kernel, &s = w.strides, &p = w.pads, &dl = w.dilations;
    Value y4 = pool2d(reshaped(x, {xs[0], xs[1], 1, xs[2]}), {1, k[0]},
                      {1, s[0]}, {0, p[0], 0, p[1]}, {1, dl[0]});
    return y4 ? reshaped(y4, {xs[0], xs[1], shapeOf(y4)[3]}) : Value();
  }
  /// Max and average pooling are separable over a box window (the valid
  /// part of a window is a product of intervals): pool H,W per depth
  /// slice, then D per output pixel.
  Value pool3d(Value x, ArrayRef<int64_t> xs) {
    auto &k = w.kernel, &s = w.strides, &p = w.pads, &dl = w.dilations;
    Value hw =
        pool2d(reshaped(x, {xs[0], xs[1] * xs[2], xs[3], xs[4]}), {k[1], k[2]},
               {s[1], s[2]}, {p[1], p[2], p[4], p[5]}, {dl[1], dl[2]});
    if (!hw)
      return Value();
    int64_t oh = shapeOf(hw)[2], ow = shapeOf(hw)[3];
    Value dpool = pool2d(reshaped(hw, {xs[0], xs[1], xs[2], oh * ow}),
                         {k[0], 1}, {s[0], 1}, {p[0], 0, p[3], 0}, {dl[0], 1});
    if (!dpool)
      return Value();
    return reshaped(dpool, {xs[0], xs[1], shapeOf(dpool)[2], oh, ow});
  }
};

LogicalResult importPool(OnnxImporter &I, const onnx::NodeProto &n) {
  bool isMax = isMaxPool(n);
  if (failed(I.checkElementTypes(n, isMax ? ElementTypes::Integers
                                          : ElementTypes::Float)))
    return failure();
  FailureOr<Value> x = I.tensorOperand(n, 0);
  if (failed(x))
    return failure();
  auto xs = shapeOf(*x);
  if (xs.size() < 3 || xs.size() > 5)
    return I.nodeError(n) << "pooling over " << (int64_t)xs.size() - 2
                          << " spatial dims is not supported (1 to 3 are)",
           failure();
  FailureOr<PoolWindow> w = readPoolWindow(I, n, xs);
  if (failed(w))
    return failure();
  bool wantIndices = n.output_size() > 1 && !n.output(1).empty();
  if (wantIndices && (!isMax || xs.size() != 4))
    return I.nodeError(n) << "the Indices output is supported for 2-D "
                             "MaxPool only",
           failure();
  Pooler pooler{I, n, *w, I.nodeLoc(n)};
  Value y = xs.size() == 4   ? pooler.pool2d(*x, w->kernel, w->strides, w->pads,
                                             w->dilations)
            : xs.size() == 3 ? pooler.pool1d(*x, xs)
                             : pooler.pool3d(*x, xs);
  if (!y)
    return I.nodeError(n) << "the kernel does not fit the padded input",
           failure();
  if (wantIndices)
    I.values[n.output(1)] = nn::MaxPool2dIndicesOp::create(
        I.builder, pooler.loc, *x, w->kernel, w->strides, w->pads, w->ceilMode,
        w->dilations, I.isUnsigned(*x), attrInt(n, "storage_order", 0) != 0);
  return I.define(n, y);
}

} // namespace

void mcutrain::importer::registerPoolingHandlers(HandlerTable &table) {
  table.on("MaxPool", 1, importPool);
  table.on("AveragePool", 1, importPool);
  table.on("GlobalAveragePool", 1, importPool);
  table.on("GlobalMaxPool", 1, importPool);
}
