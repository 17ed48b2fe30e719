//===- RealReads.cpp - buffer elements in real units ----------------------===//
//
// The gradient-side loops of int8 training (sparse gradients, DGSU's
// importance, channel-sliced updates) read int8 tensors element by element
// in real units, (q - zero) * scale, instead of from a float copy of the
// tensor. A per-axis type's scales and zero points are constant vectors.
//
//===----------------------------------------------------------------------===//
#include "passes/LowerTrainBuffers/Patterns.h"

#include "dialects/NN/NN.h"

#include "mlir/Dialect/Quant/IR/QuantTypes.h"

using namespace mlir;
using namespace mcutrain;
using namespace mcutrain::trainbuffers;

Value mcutrain::trainbuffers::constantVector(OpBuilder &b, Operation *from,
                                             StringRef name,
                                             ArrayRef<float> values,
                                             Location loc) {
  if (Value existing = getGlobalMemRef(b, from, name, loc))
    return existing;
  auto module = from->getParentOfType<ModuleOp>();
  auto type = MemRefType::get({int64_t(values.size())}, b.getF32Type());
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(module.getBody());
    auto tensorType = RankedTensorType::get(type.getShape(), b.getF32Type());
    memref::GlobalOp::create(b, loc, name, b.getStringAttr("private"), type,
                             DenseElementsAttr::get(tensorType, values),
                             /*constant=*/true, IntegerAttr());
  }
  return getGlobalMemRef(b, from, name, loc);
}

/// `prefix`_N holding `values`: an existing one with the same values, or the
/// next free N (deterministic: patterns apply in program order).
static Value sharedConstantVector(OpBuilder &b, Operation *from,
                                  StringRef prefix, ArrayRef<float> values,
                                  Location loc) {
  auto module = from->getParentOfType<ModuleOp>();
  auto wanted = DenseElementsAttr::get(
      RankedTensorType::get({int64_t(values.size())}, b.getF32Type()), values);
  int64_t n = 0;
  for (auto g : module.getOps<memref::GlobalOp>()) {
    if (!g.getSymName().starts_with(prefix))
      continue;
    if (g.getInitialValue() == std::optional<Attribute>(wanted))
      return getGlobalMemRef(b, from, g.getSymName(), loc);
    ++n;
  }
  return constantVector(b, from, (prefix + "_" + Twine(n)).str(), values, loc);
}

RealReader RealReader::get(OpBuilder &b, Operation *from, Value buffer,
                           TypeAttr quantType, Location loc) {
  RealReader r;
  r.buffer = buffer;
  if (!quantType)
    return r;
  r.type = cast<quant::QuantizedType>(quantType.getValue());
  auto perAxis = dyn_cast<quant::UniformQuantizedPerAxisType>(r.type);
  if (!perAxis)
    return r;
  r.axis = perAxis.getQuantizedDimension();
  SmallVector<float> scales, zeros;
  for (auto [s, z] : llvm::zip(perAxis.getScales(), perAxis.getZeroPoints())) {
    scales.push_back(float(s));
    zeros.push_back(float(z));
  }
  r.scales = sharedConstantVector(b, from, "mcutrain_qscales", scales, loc);
  r.zeros = sharedConstantVector(b, from, "mcutrain_qzeros", zeros, loc);
  return r;
}

Value RealReader::load(OpBuilder &b, Location loc, ValueRange at) const {
  Value v = memref::LoadOp::create(b, loc, buffer, at);
  if (!type)
    return v;
  Type f32 = b.getF32Type();
  v = type.isSigned() ? arith::SIToFPOp::create(b, loc, f32, v).getResult()
                      : arith::UIToFPOp::create(b, loc, f32, v).getResult();
  Value scale, zero;
  if (axis >= 0) {
    scale = memref::LoadOp::create(b, loc, scales, ValueRange{at[axis]});
    zero = memref::LoadOp::create(b, loc, zeros, ValueRange{at[axis]});
  } else {
    auto u = cast<quant::UniformQuantizedType>(type);
    scale = arith::ConstantOp::create(b, loc,
                                      b.getF32FloatAttr(float(u.getScale())));
    zero = arith::ConstantOp::create(
        b, loc, b.getF32FloatAttr(float(u.getZeroPoint())));
  }
  return arith::MulFOp::create(b, loc, arith::SubFOp::create(b, loc, v, zero),
                               scale);
}
