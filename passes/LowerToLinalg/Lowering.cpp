//===- Lowering.cpp - builder helpers of the lowerings -------===//
//
// The out-of-line helpers of Lowering (Lowering.h).
//
//===----------------------------------------------------------------------===//
#include "passes/LowerToLinalg/Lowering.h"

#include "mlir/Dialect/SCF/IR/SCF.h"

using namespace mlir;
using namespace mcutrain;
using namespace mcutrain::lowering;

namespace mcutrain::lowering {

Value Lowering::typedConstant(OpBuilder &ob, Type type, double v,
                              bool isUnsigned) {
  if (type.isF32())
    return f32c(ob, (float)v);
  unsigned bits = type.getIntOrFloatBitWidth();
  APInt value;
  if (isUnsigned) {
    APInt hi = APInt::getMaxValue(bits);
    value = v <= 0                         ? APInt(bits, 0)
            : v >= hi.roundToDouble(false) ? hi
                                           : APInt(bits, (uint64_t)v);
  } else {
    APInt lo = APInt::getSignedMinValue(bits);
    APInt hi = APInt::getSignedMaxValue(bits);
    value = v <= lo.roundToDouble(true)   ? lo
            : v >= hi.roundToDouble(true) ? hi
                                          : APInt(bits, (int64_t)v,
                                                  /*isSigned=*/true,
                                                  /*implicitTrunc=*/true);
  }
  return arith::ConstantOp::create(ob, loc, IntegerAttr::get(type, value));
}

Value Lowering::greater(OpBuilder &ob, Value x, Value y, bool isUnsigned) {
  if (x.getType().isF32())
    return arith::CmpFOp::create(ob, loc, arith::CmpFPredicate::OGT, x, y);
  return arith::CmpIOp::create(
      ob, loc,
      isUnsigned ? arith::CmpIPredicate::ugt : arith::CmpIPredicate::sgt, x, y);
}

Value Lowering::generic(Value init, ValueRange ins, ArrayRef<AffineMap> maps,
                        ArrayRef<IteratorType> iters, BodyFn body) {
  auto op = linalg::GenericOp::create(
      b, loc, init.getType(), ins, init, maps, iters,
      [&](OpBuilder &ob, Location l, ValueRange args) {
        linalg::YieldOp::create(ob, l, body(ob, l, args));
      });
  return op.getResult(0);
}

SmallVector<AffineMap> Lowering::kernelInputMaps(unsigned rank,
                                                 ValueRange kernelIns) {
  SmallVector<AffineMap> maps;
  for (Value in : kernelIns) {
    auto inRank = cast<ShapedType>(in.getType()).getRank();
    maps.push_back(AffineMap::get(
        rank, 0, SmallVector<AffineExpr>(inRank, b.getAffineConstantExpr(0)),
        b.getContext()));
  }
  maps.push_back(b.getMultiDimIdentityMap(rank));
  return maps;
}

void Lowering::tagKernel(Value result, train::KernelName name,
                         ArrayRef<int64_t> args, ArrayRef<int64_t> operands,
                         ArrayRef<float> scalars, bool overwrites) {
  Operation *op = result.getDefiningOp();
  if (overwrites)
    op->setAttr(kKernelOverwriteAttr, b.getUnitAttr());
  op->setAttr(kKernelAttr, kernel(name, args));
  op->setAttr(kKernelOperandsAttr, b.getDenseI64ArrayAttr(operands));
  if (!scalars.empty())
    op->setAttr(kKernelScalarsAttr, b.getDenseF32ArrayAttr(scalars));
}

void Lowering::tagPlaneKernel(Value result, train::KernelName name,
                              ArrayRef<int64_t> args, int64_t spreadOperand) {
  Operation *op = result.getDefiningOp();
  if (!op->getOperand(spreadOperand).getDefiningOp<linalg::GenericOp>())
    return;
  op->setAttr(kKernelPlanesAttr, kernel(name, args));
  op->setAttr(kKernelSpreadOperandAttr, b.getI64IntegerAttr(spreadOperand));
}

void Lowering::tagActivation(Value result, StringRef mark,
                             train::FusedActivation kind, float lo, float hi) {
  Operation *op = result.getDefiningOp();
  op->setAttr(mark, train::FusedActivationAttr::get(b.getContext(), kind));
  op->setAttr(kActivationBoundsAttr,
              b.getDenseF32ArrayAttr(ArrayRef<float>{lo, hi}));
}

Value Lowering::clamp(OpBuilder &ob, Value v, int64_t hi) {
  Value zero = i32c(ob, 0), top = i32c(ob, hi);
  Value lo = arith::SelectOp::create(
      ob, loc, cmp(ob, arith::CmpIPredicate::slt, v, zero), zero, v);
  return arith::SelectOp::create(
      ob, loc, cmp(ob, arith::CmpIPredicate::sgt, lo, top), top, lo);
}

Value Lowering::windowInput(OpBuilder &ob, Value o, int64_t shift,
                            int64_t stride, int64_t n, Value &valid) {
  Value r = arith::AddIOp::create(
      ob, loc, arith::MulIOp::create(ob, loc, toI32(ob, o), i32c(ob, stride)),
      i32c(ob, shift));
  valid = both(ob, cmp(ob, arith::CmpIPredicate::sge, r, i32c(ob, 0)),
               cmp(ob, arith::CmpIPredicate::slt, r, i32c(ob, n)));
  return toIndex(ob, clamp(ob, r, n - 1));
}

Value Lowering::tapRow(OpBuilder &ob, Value o, Value k, int64_t stride,
                       int64_t dilation, int64_t pad, int64_t n,
                       Value &inside) {
  Value r = arith::AddIOp::create(
      ob, loc, arith::MulIOp::create(ob, loc, toI32(ob, o), i32c(ob, stride)),
      arith::MulIOp::create(ob, loc, toI32(ob, k), i32c(ob, dilation)));
  r = arith::SubIOp::create(ob, loc, r, i32c(ob, pad));
  inside = both(ob, cmp(ob, arith::CmpIPredicate::sge, r, i32c(ob, 0)),
                cmp(ob, arith::CmpIPredicate::slt, r, i32c(ob, n)));
  return toIndex(ob, clamp(ob, r, n - 1));
}

Value Lowering::windowElement(OpBuilder &ob, Value x, ValueRange iv, int64_t kh,
                              int64_t kw, ArrayRef<int64_t> s,
                              ArrayRef<int64_t> p, ArrayRef<int64_t> dl,
                              Value &inside, Value &hh, Value &ww) {
  auto xs = cast<RankedTensorType>(x.getType()).getShape();
  Value v0, v1;
  hh = windowInput(ob, iv[2], kh * dl[0] - p[0], s[0], xs[2], v0);
  ww = windowInput(ob, iv[3], kw * dl[1] - p[1], s[1], xs[3], v1);
  inside = both(ob, v0, v1);
  return tensor::ExtractOp::create(ob, loc, x,
                                   ValueRange{iv[0], iv[1], hh, ww});
}

Value Lowering::sourceIndex(OpBuilder &ob, Value i, int64_t shift, int64_t s,
                            int64_t n, Value &valid) {
  Value r = arith::SubIOp::create(ob, loc, i, i32c(ob, shift));
  valid = cmp(ob, arith::CmpIPredicate::sge, r, i32c(ob, 0));
  if (s != 1) {
    Value rem = arith::RemSIOp::create(ob, loc, r, i32c(ob, s));
    valid =
        both(ob, valid, cmp(ob, arith::CmpIPredicate::eq, rem, i32c(ob, 0)));
    r = arith::DivSIOp::create(ob, loc, r, i32c(ob, s));
  }
  valid = both(ob, valid, cmp(ob, arith::CmpIPredicate::slt, r, i32c(ob, n)));
  return clamp(ob, r, n - 1);
}

Value Lowering::spread(Value x, ArrayRef<int64_t> outShape, int64_t shift0,
                       int64_t shift1, int64_t s0, int64_t s1, double fill,
                       bool isUnsigned) {
  auto xt = cast<RankedTensorType>(x.getType());
  auto xs = xt.getShape();
  if (shift0 == 0 && shift1 == 0 && s0 == 1 && s1 == 1 &&
      ArrayRef<int64_t>(outShape) == xs)
    return x;
  Type et = xt.getElementType();
  if (shift0 >= 0 && shift1 >= 0 && xs[0] == outShape[0] &&
      xs[1] == outShape[1] && shift0 + (xs[2] - 1) * s0 < outShape[2] &&
      shift1 + (xs[3] - 1) * s1 < outShape[3] &&
      // linalg takes an output dimension indexed by a plain loop to be
      // that loop's size.
      (s0 != 1 || shift0 != 0 || xs[2] == outShape[2]) &&
      (s1 != 1 || shift1 != 0 || xs[3] == outShape[3])) {
    // Every source element lands inside: fill, then one copy over the
    // source's elements to their (strided, shifted) places, instead of a
    // division and a bounds check per output element (MobileNetV2's
    // zero-inserted gradients took 5% of its step that way).
    Value init = linalg::FillOp::create(
                     b, loc, typedConstant(b, et, fill, isUnsigned),
                     tensor::EmptyOp::create(b, loc, outShape, et).getResult())
                     .getResult(0);
    return generic(
        init, ValueRange{x},
        {map(4, {d(0), d(1), d(2), d(3)}),
         map(4, {d(0), d(1), d(2) * s0 + shift0, d(3) * s1 + shift1})},
        {kPar, kPar, kPar, kPar},
        [](OpBuilder &, Location, ValueRange a) -> Value { return a[0]; });
  }
  auto gen = tensor::GenerateOp::create(
      b, loc, tensorOf(outShape, et), ValueRange{},
      [&](OpBuilder &ob, Location l, ValueRange iv) {
        Value v0, v1;
        Value r0 = sourceIndex(ob, toI32(ob, iv[2]), shift0, s0, xs[2], v0);
        Value r1 = sourceIndex(ob, toI32(ob, iv[3]), shift1, s1, xs[3], v1);
        Value e = tensor::ExtractOp::create(
            ob, l, x,
            ValueRange{iv[0], iv[1], toIndex(ob, r0), toIndex(ob, r1)});
        Value v =
            arith::SelectOp::create(ob, l, both(ob, v0, v1), e,
                                    typedConstant(ob, et, fill, isUnsigned));
        tensor::YieldOp::create(ob, l, v);
      });
  return gen.getResult();
}

Value Lowering::reshape(Value x, RankedTensorType to) {
  auto from = cast<RankedTensorType>(x.getType());
  if (from == to)
    return x;
  Value flat = x;
  if (from.getRank() == 0) {
    // A scalar (e.g. a sum over every dimension) becomes [1] by expanding
    // with no reassociation groups; collapsing would need one.
    flat = tensor::ExpandShapeOp::create(b, loc,
                                         tensorOf({1}, from.getElementType()),
                                         x, ArrayRef<ReassociationIndices>{});
  } else if (from.getRank() != 1) {
    ReassociationIndices all;
    for (int64_t i = 0; i < from.getRank(); ++i)
      all.push_back(i);
    flat = tensor::CollapseShapeOp::create(
        b, loc, tensorOf({from.getNumElements()}, from.getElementType()), x,
        ArrayRef<ReassociationIndices>{all});
  }
  if (to.getRank() == 1)
    return flat;
  if (to.getRank() == 0)
    return tensor::CollapseShapeOp::create(b, loc, to, flat,
                                           ArrayRef<ReassociationIndices>{});
  ReassociationIndices all;
  for (int64_t i = 0; i < to.getRank(); ++i)
    all.push_back(i);
  return tensor::ExpandShapeOp::create(b, loc, to, flat,
                                       ArrayRef<ReassociationIndices>{all});
}

AffineMap Lowering::broadcastMap(ArrayRef<int64_t> operand,
                                 ArrayRef<int64_t> result) {
  SmallVector<AffineExpr> exprs;
  size_t off = result.size() - operand.size();
  for (size_t i = 0; i < operand.size(); ++i)
    exprs.push_back(operand[i] == 1 && result[i + off] != 1
                        ? b.getAffineConstantExpr(0)
                        : d(i + off));
  return map(result.size(), exprs);
}

/// Elementwise over same-shaped operands.
SmallVector<Value> outputIndices(OpBuilder &ob, Location l, unsigned rank) {
  SmallVector<Value> out;
  for (unsigned d = 0; d < rank; ++d)
    out.push_back(linalg::IndexOp::create(ob, l, d));
  return out;
}

Value sumOverLoops(
    OpBuilder &ob, Location l, ArrayRef<int64_t> extents, Value init,
    llvm::function_ref<Value(OpBuilder &, Location, ValueRange red)> product) {
  SmallVector<Value> lbs, ubs, steps;
  for (int64_t e : extents) {
    lbs.push_back(arith::ConstantIndexOp::create(ob, l, 0));
    ubs.push_back(arith::ConstantIndexOp::create(ob, l, e));
    steps.push_back(arith::ConstantIndexOp::create(ob, l, 1));
  }
  bool isFloat = isa<FloatType>(init.getType());
  scf::LoopNest nest =
      scf::buildLoopNest(ob, l, lbs, ubs, steps, ValueRange{init},
                         [&](OpBuilder &ib, Location il, ValueRange red,
                             ValueRange acc) -> scf::ValueVector {
                           Value m = product(ib, il, red);
                           if (isFloat)
                             return {arith::AddFOp::create(ib, il, acc[0], m)};
                           return {arith::AddIOp::create(ib, il, acc[0], m)};
                         });
  return nest.results[0];
}

Value elementwise(Lowering &L, ValueRange ins, BodyFn body) {
  auto ty = cast<RankedTensorType>(ins[0].getType());
  unsigned rank = ty.getRank();
  SmallVector<AffineMap> maps(ins.size() + 1, L.b.getMultiDimIdentityMap(rank));
  SmallVector<IteratorType> iters(rank, kPar);
  return L.generic(
      tensor::EmptyOp::create(L.b, L.loc, ty.getShape(), ty.getElementType()),
      ins, maps, iters, body);
}

Value Lowering::flatIndex(OpBuilder &ob, ValueRange iv,
                          ArrayRef<int64_t> shape) {
  Value flat = i32c(ob, 0);
  for (auto [i, extent] : llvm::zip_equal(iv, shape))
    flat = arith::AddIOp::create(
        ob, loc, arith::MulIOp::create(ob, loc, flat, i32c(ob, extent)),
        toI32(ob, i));
  return flat;
}

SmallVector<Value> Lowering::unflatten(OpBuilder &ob, Value flat,
                                       ArrayRef<int64_t> shape) {
  SmallVector<Value> iv(shape.size());
  for (int64_t d = shape.size() - 1; d >= 0; --d) {
    Value extent = i32c(ob, shape[d]);
    iv[d] = toIndex(
        ob, d == 0 ? flat
                   : arith::RemSIOp::create(ob, loc, flat, extent).getResult());
    if (d > 0)
      flat = arith::DivSIOp::create(ob, loc, flat, extent);
  }
  return iv;
}

Value Lowering::maskField(OpBuilder &ob, Value mask, Value flat, int64_t bits) {
  int64_t perWord = 32 / bits;
  Value word = tensor::ExtractOp::create(
      ob, loc, mask,
      ValueRange{toIndex(
          ob, arith::DivUIOp::create(ob, loc, flat, i32c(ob, perWord)))});
  Value shift = arith::MulIOp::create(
      ob, loc, arith::RemUIOp::create(ob, loc, flat, i32c(ob, perWord)),
      i32c(ob, bits));
  return arith::AndIOp::create(ob, loc,
                               arith::ShRUIOp::create(ob, loc, word, shift),
                               i32c(ob, (int64_t(1) << bits) - 1));
}

Value Lowering::maskBit(OpBuilder &ob, Value mask, Value flat) {
  return cmp(ob, arith::CmpIPredicate::ne, maskField(ob, mask, flat, 1),
             i32c(ob, 0));
}

int64_t numElementsOf(Value tensor) {
  return cast<RankedTensorType>(tensor.getType()).getNumElements();
}

Value packFields(Lowering &L, int64_t n, int64_t bits,
                 llvm::function_ref<Value(OpBuilder &, Value)> fieldOf) {
  Type i32 = L.b.getI32Type();
  int64_t perWord = 32 / bits;
  int64_t words = nn::maskWords(n, bits);
  Value zero = L.i32c(L.b, 0);
  Value init =
      linalg::FillOp::create(
          L.b, L.loc, zero,
          tensor::EmptyOp::create(L.b, L.loc, ArrayRef<int64_t>{words}, i32)
              .getResult())
          .getResult(0);
  // Words in parallel, each the reduction (an or) over its fields (an
  // unread empty tensor gives that loop its extent, as the pooling windows).
  Value fields =
      tensor::EmptyOp::create(L.b, L.loc, ArrayRef<int64_t>{perWord}, i32);
  return L.generic(
      init, ValueRange{fields}, {L.map(2, {L.d(1)}), L.map(2, {L.d(0)})},
      {kPar, kRed}, [&](OpBuilder &ob, Location l, ValueRange a) -> Value {
        Value j = L.toI32(ob, linalg::IndexOp::create(ob, l, 1));
        Value i = arith::AddIOp::create(
            ob, l,
            arith::MulIOp::create(
                ob, l, L.toI32(ob, linalg::IndexOp::create(ob, l, 0)),
                L.i32c(ob, perWord)),
            j);
        Value inside = L.cmp(ob, arith::CmpIPredicate::slt, i, L.i32c(ob, n));
        Value at = arith::SelectOp::create(ob, l, inside, i, L.i32c(ob, n - 1));
        Value field = arith::SelectOp::create(ob, l, inside, fieldOf(ob, at),
                                              L.i32c(ob, 0));
        Value shift = arith::MulIOp::create(ob, l, j, L.i32c(ob, bits));
        return arith::OrIOp::create(ob, l, a[1],
                                    arith::ShLIOp::create(ob, l, field, shift));
      });
}

Value packBits(Lowering &L, int64_t n,
               llvm::function_ref<Value(OpBuilder &, Value)> bitOf) {
  return packFields(L, n, 1, [&](OpBuilder &ob, Value i) -> Value {
    return arith::ExtUIOp::create(ob, L.loc, ob.getI32Type(), bitOf(ob, i));
  });
}

} // namespace mcutrain::lowering
