//===- Reduction.cpp - ReduceSum, ReduceMean, ReduceSumSquare -------------===//
//
// ReduceSum, ReduceSumSquare (of x * x) and ReduceMean (x.mean([2, 3]) in
// mnasnet, shufflenet and transformer heads) become nn.reduce_sum_to over the
// kept-dims shape (scale 1 / count for the mean), then a reshape when keepdims
// is 0. Their adjoint is nn.broadcast_to.
//
//===----------------------------------------------------------------------===//
#include "compiler/Import/Importer.h"

using namespace mlir;
using namespace mcutrain;
using namespace mcutrain::importer;

namespace {

/// The reduced axes: the `axes` attribute (`fromInput` false) or input 1,
/// normalised; every axis when none are given, unless noop_with_empty_axes.
FailureOr<SmallVector<bool>> reducedAxes(OnnxImporter &I,
                                         const onnx::NodeProto &n, int64_t rank,
                                         bool fromInput) {
  SmallVector<int64_t> axes = attrInts(n, "axes", {});
  if (fromInput && n.input_size() > 1 && !n.input(1).empty()) {
    FailureOr<const ConstTensor *> c = I.integerOperand(n, 1, "axes");
    if (failed(c))
      return failure();
    axes.assign((*c)->i.begin(), (*c)->i.end());
  }
  bool noop = attrInt(n, "noop_with_empty_axes", 0) != 0;
  SmallVector<bool> reduced(rank, axes.empty() && !noop);
  for (int64_t a : axes) {
    a = a < 0 ? a + rank : a;
    if (a < 0 || a >= rank || reduced[a])
      return I.nodeError(n) << "axes out of range or repeated", failure();
    reduced[a] = true;
  }
  return reduced;
}

LogicalResult importReduce(OnnxImporter &I, const onnx::NodeProto &n,
                           bool axesFromInput) {
  if (failed(I.checkElementTypes(n, ElementTypes::Float)))
    return failure();
  FailureOr<Value> x = I.tensorOperand(n, 0);
  if (failed(x))
    return failure();
  if (n.op_type() == "ReduceSumSquare")
    x = nn::MulOp::create(I.builder, I.nodeLoc(n), *x, *x, UnitAttr())
            .getResult();
  auto xs = shapeOf(*x);
  FailureOr<SmallVector<bool>> reduced =
      reducedAxes(I, n, xs.size(), axesFromInput);
  if (failed(reduced))
    return failure();
  SmallVector<int64_t> kept, dropped;
  int64_t count = 1;
  for (size_t d = 0; d < xs.size(); ++d) {
    kept.push_back((*reduced)[d] ? 1 : xs[d]);
    if ((*reduced)[d])
      count *= xs[d];
    else
      dropped.push_back(xs[d]);
  }
  float scale = n.op_type() == "ReduceMean" ? 1.0f / (float)count : 1.0f;
  Value y = *x; // reducing only extent-1 dims: the input itself
  if (count != 1)
    y = nn::ReduceSumToOp::create(I.builder, I.nodeLoc(n), I.tensorType(kept),
                                  *x, I.builder.getF32FloatAttr(scale));
  if (attrInt(n, "keepdims", 1) == 0 && dropped != kept)
    y = nn::ReshapeOp::create(I.builder, I.nodeLoc(n), I.tensorType(dropped),
                              y);
  return I.define(n, y);
}

LogicalResult importReduceAttr(OnnxImporter &I, const onnx::NodeProto &n) {
  return importReduce(I, n, false);
}

LogicalResult importReduceInput(OnnxImporter &I, const onnx::NodeProto &n) {
  return importReduce(I, n, true);
}

} // namespace

void mcutrain::importer::registerReductionHandlers(HandlerTable &table) {
  table.on("ReduceSum", 1, importReduceAttr);
  table.on("ReduceSum", 13, importReduceInput);
  table.on("ReduceMean", 1, importReduceAttr);
  table.on("ReduceMean", 18, importReduceInput);
  table.on("ReduceSumSquare", 1, importReduceAttr);
  table.on("ReduceSumSquare", 18, importReduceInput);
}
