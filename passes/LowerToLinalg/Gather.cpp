//===- Gather.cpp - gathers at run-time indices and their gradient -------===//
//
// nn.gather (an embedding lookup) as a copy through the index tensor, and
// nn.gather_grad as its gather-form adjoint marked for the gather_grad
// kernel, which scatters each slice of dy to its row instead.
//
//===----------------------------------------------------------------------===//
#include "passes/LowerToLinalg/Lowering.h"

using namespace mlir;
using namespace mcutrain;
using namespace mcutrain::lowering;

namespace {

/// The index `idx` (i32 or i64) as nn.gather reads it along a dimension of
/// `n`: negative counts from the end, then clamped into [0, n).
Value normalIndex(OpBuilder &ob, Location l, Value idx, int64_t n) {
  Type i64 = ob.getI64Type();
  if (!idx.getType().isInteger(64))
    idx = arith::ExtSIOp::create(ob, l, i64, idx);
  auto c = [&](int64_t v) -> Value {
    return arith::ConstantOp::create(ob, l, ob.getI64IntegerAttr(v));
  };
  Value negative =
      arith::CmpIOp::create(ob, l, arith::CmpIPredicate::slt, idx, c(0));
  Value wrapped = arith::SelectOp::create(
      ob, l, negative, arith::AddIOp::create(ob, l, idx, c(n)), idx);
  Value lo = arith::MaxSIOp::create(ob, l, wrapped, c(0));
  Value hi = arith::MinSIOp::create(ob, l, lo, c(n - 1));
  return arith::IndexCastOp::create(ob, l, ob.getIndexType(), hi);
}

/// iv[0, axis) ++ mid ++ iv[from, end): a position in data or dy.
SmallVector<Value> spliceIndices(ValueRange iv, int64_t axis, ValueRange mid,
                                 int64_t from) {
  SmallVector<Value> at(iv.begin(), iv.begin() + axis);
  at.append(mid.begin(), mid.end());
  at.append(iv.begin() + from, iv.end());
  return at;
}

/// out[a, i, b] = data[a, indices[i], b]: a generic over the result whose
/// index input is read through the result's dimensions [axis, axis + r).
Value lowerGather(Lowering &L, nn::GatherOp op) {
  auto out = op.getOutput().getType();
  auto data = op.getData().getType();
  int64_t axis = op.getAxis(), rank = out.getRank();
  int64_t r = op.getIndices().getType().getRank();
  SmallVector<AffineExpr> indexDims;
  for (int64_t d = axis; d < axis + r; ++d)
    indexDims.push_back(L.d(d));
  Value table = op.getData();
  return L.generic(
      tensor::EmptyOp::create(L.b, L.loc, out.getShape(), out.getElementType()),
      op.getIndices(),
      {L.map(rank, indexDims), L.b.getMultiDimIdentityMap(rank)},
      SmallVector<IteratorType>(rank, kPar),
      [&](OpBuilder &ob, Location l, ValueRange a) -> Value {
        SmallVector<Value> iv = outputIndices(ob, l, rank);
        Value row = normalIndex(ob, l, a[0], data.getDimSize(axis));
        return tensor::ExtractOp::create(
            ob, l, table, spliceIndices(iv, axis, row, axis + r));
      });
}

/// d[a, k, b] = sum over index positions i with indices[i] = k of
/// dy[a, i, b]: every element tries every position (the loops' form); the
/// gather_grad kernel (Outer, Rows, Inner, Positions, IndexBytes) scatters
/// each position's slice once instead.
Value lowerGatherGrad(Lowering &L, nn::GatherGradOp op) {
  auto dataShape = op.getDataGrad().getType().getShape();
  auto indexType = op.getIndices().getType();
  int64_t axis = op.getAxis(), rank = dataShape.size();
  int64_t rows = dataShape[axis];
  Value dy = op.getOutputGrad(), indices = op.getIndices();
  SmallVector<Value> kernelIns{dy, indices};
  Value grad = L.generic(
      L.empty(dataShape), kernelIns, L.kernelInputMaps(rank, kernelIns),
      SmallVector<IteratorType>(rank, kPar),
      [&](OpBuilder &ob, Location l, ValueRange) -> Value {
        SmallVector<Value> iv = outputIndices(ob, l, rank);
        return sumOverLoops(
            ob, l, indexType.getShape(), L.f32c(ob, 0.0f),
            [&](OpBuilder &ib, Location il, ValueRange pos) -> Value {
              Value row = normalIndex(
                  ib, il, tensor::ExtractOp::create(ib, il, indices, pos),
                  rows);
              Value hit = arith::CmpIOp::create(
                  ib, il, arith::CmpIPredicate::eq, row, iv[axis]);
              Value g = tensor::ExtractOp::create(
                  ib, il, dy, spliceIndices(iv, axis, pos, axis + 1));
              return arith::SelectOp::create(ib, il, hit, g, L.f32c(ib, 0.0f));
            });
      });
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < rank; ++d)
    (d < axis ? outer : inner) *= d == axis ? 1 : dataShape[d];
  L.tagKernel(grad, train::KernelName::gather_grad,
              {outer, rows, inner, indexType.getNumElements(),
               indexType.getElementType().isInteger(64) ? 8 : 4},
              {0, 1, 2});
  return grad;
}

/// The rows as int32, each normalized as nn.gather reads it.
Value lowerRowIndices(Lowering &L, nn::RowIndicesOp op) {
  Value indices = op.getIndices();
  auto type = cast<RankedTensorType>(indices.getType());
  int64_t count = type.getNumElements();
  if (type.getRank() != 1)
    indices = tensor::CollapseShapeOp::create(
        L.b, L.loc, RankedTensorType::get({count}, type.getElementType()),
        indices,
        ArrayRef<ReassociationIndices>{
            llvm::to_vector(llvm::seq<int64_t>(0, type.getRank()))});
  int64_t extent = op.getExtent();
  return L.generic(
      tensor::EmptyOp::create(L.b, L.loc, {count}, L.b.getI32Type()), indices,
      {L.b.getMultiDimIdentityMap(1), L.b.getMultiDimIdentityMap(1)}, {kPar},
      [&](OpBuilder &ob, Location l, ValueRange a) -> Value {
        return arith::IndexCastOp::create(ob, l, ob.getI32Type(),
                                          normalIndex(ob, l, a[0], extent));
      });
}

} // namespace

void mcutrain::lowering::populateGatherPatterns(RewritePatternSet &patterns) {
  addLowering<nn::GatherOp>(patterns, lowerGather);
  addLowering<nn::GatherGradOp>(patterns, lowerGatherGrad);
  addLowering<nn::RowIndicesOp>(patterns, lowerRowIndices);
}
