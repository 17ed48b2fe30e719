//===- Elementwise.cpp - elementwise ops and activations -------===//
//
// Elementwise arithmetic (numpy broadcasting), activations and their
// gradients, inference batch normalization: one linalg.generic each;
// ReLU/clip and their gradients are marked for fusion into the
// convolution kernels.
//
//===----------------------------------------------------------------------===//
#include "passes/LowerToLinalg/Lowering.h"

using namespace mlir;
using namespace mcutrain;
using namespace mcutrain::lowering;

namespace {

/// Elementwise binary op with numpy broadcasting.
template <typename BinaryOp, typename FloatOp, typename IntOp,
          typename UnsignedIntOp = IntOp>
Value lowerBinary(Lowering &L, BinaryOp op) {
  auto yt = op.getOutput().getType();
  auto ys = yt.getShape();
  SmallVector<IteratorType> iters(ys.size(), kPar);
  bool isUnsigned = op.getIsUnsigned();
  return L.generic(tensor::EmptyOp::create(L.b, L.loc, ys, yt.getElementType()),
                   ValueRange{op.getLhs(), op.getRhs()},
                   {L.broadcastMap(op.getLhs().getType().getShape(), ys),
                    L.broadcastMap(op.getRhs().getType().getShape(), ys),
                    L.b.getMultiDimIdentityMap(ys.size())},
                   iters,
                   [&](OpBuilder &ob, Location l, ValueRange a) -> Value {
                     if (a[0].getType().isF32())
                       return FloatOp::create(ob, l, a[0], a[1]);
                     if (isUnsigned)
                       return UnsignedIntOp::create(ob, l, a[0], a[1]);
                     return IntOp::create(ob, l, a[0], a[1]);
                   });
}

Value positive(OpBuilder &ob, Location l, Value x) {
  Value zero = arith::ConstantOp::create(ob, l, ob.getF32FloatAttr(0.0f));
  return arith::CmpFOp::create(ob, l, arith::CmpFPredicate::OGT, x, zero);
}

/// The forward value of the exp/log family of nn.activation, or null for
/// another kind: exp, log, abs, 1/x, softplus (max(x, 0) + log(1 +
/// exp(-|x|)): no overflow for large x, where ONNX's log(exp(x) + 1) is
/// inf), softsign, elu(alpha), selu(alpha, gamma = beta), erf, x^alpha.
Value lowerMathActivation(OpBuilder &ob, Location l, nn::ActivationKind kind,
                          Value x, float alpha, float beta) {
  auto c = [&](float v) -> Value {
    return arith::ConstantOp::create(ob, l, ob.getF32FloatAttr(v));
  };
  auto add = [&](Value u, Value v) -> Value {
    return arith::AddFOp::create(ob, l, u, v);
  };
  auto mul = [&](Value u, Value v) -> Value {
    return arith::MulFOp::create(ob, l, u, v);
  };
  auto exp = [&](Value v) -> Value { return math::ExpOp::create(ob, l, v); };
  auto abs = [&](Value v) -> Value { return math::AbsFOp::create(ob, l, v); };
  // alpha * (exp(x) - 1) below 0, x above (ELU's two sides).
  auto elu = [&](float a) -> Value {
    Value neg =
        mul(c(a), arith::SubFOp::create(ob, l, exp(x), c(1.0f)).getResult());
    return arith::SelectOp::create(ob, l, positive(ob, l, x), x, neg);
  };
  switch (kind) {
  case nn::ActivationKind::exp:
    return exp(x);
  case nn::ActivationKind::log:
    return math::LogOp::create(ob, l, x);
  case nn::ActivationKind::abs:
    return abs(x);
  case nn::ActivationKind::reciprocal:
    return arith::DivFOp::create(ob, l, c(1.0f), x);
  case nn::ActivationKind::softplus: {
    Value tail = math::LogOp::create(
        ob, l, add(c(1.0f), exp(arith::NegFOp::create(ob, l, abs(x)))));
    Value relu = arith::SelectOp::create(ob, l, positive(ob, l, x), x, c(0.0f));
    return add(relu, tail);
  }
  case nn::ActivationKind::softsign:
    return arith::DivFOp::create(ob, l, x, add(c(1.0f), abs(x)));
  case nn::ActivationKind::elu:
    return elu(alpha);
  case nn::ActivationKind::selu:
    return mul(c(beta), elu(alpha));
  case nn::ActivationKind::erf:
    return math::ErfOp::create(ob, l, x);
  case nn::ActivationKind::pow:
    return math::PowFOp::create(ob, l, x, c(alpha));
  default:
    return nullptr;
  }
}

/// dx of lowerMathActivation's kinds from dy and what the kind reads
/// (ActivationGradOp::getReadTensor: y for exp and 1/x, x otherwise), or
/// null for another kind.
Value lowerMathActivationGrad(OpBuilder &ob, Location l,
                              nn::ActivationKind kind, Value dy, Value read,
                              float alpha, float beta) {
  auto c = [&](float v) -> Value {
    return arith::ConstantOp::create(ob, l, ob.getF32FloatAttr(v));
  };
  auto mul = [&](Value u, Value v) -> Value {
    return arith::MulFOp::create(ob, l, u, v);
  };
  auto div = [&](Value u, Value v) -> Value {
    return arith::DivFOp::create(ob, l, u, v);
  };
  auto exp = [&](Value v) -> Value { return math::ExpOp::create(ob, l, v); };
  auto pick = [&](Value cond, Value t, Value f) -> Value {
    return arith::SelectOp::create(ob, l, cond, t, f);
  };
  Value x = read, y = read;
  switch (kind) {
  case nn::ActivationKind::exp:
    return mul(dy, y);
  case nn::ActivationKind::log:
    return div(dy, x);
  case nn::ActivationKind::abs: { // sign(x) dy, 0 at 0 (as torch.abs)
    Value neg =
        arith::CmpFOp::create(ob, l, arith::CmpFPredicate::OLT, x, c(0.0f));
    return pick(positive(ob, l, x), dy,
                pick(neg, arith::NegFOp::create(ob, l, dy), c(0.0f)));
  }
  case nn::ActivationKind::reciprocal: // -1 / x^2 = -y^2
    return arith::NegFOp::create(ob, l, mul(dy, mul(y, y)));
  case nn::ActivationKind::softplus: // sigmoid(x)
    return div(dy, arith::AddFOp::create(ob, l, c(1.0f),
                                         exp(arith::NegFOp::create(ob, l, x))));
  case nn::ActivationKind::softsign: { // 1 / (1 + |x|)^2
    Value d =
        arith::AddFOp::create(ob, l, c(1.0f), math::AbsFOp::create(ob, l, x));
    return div(dy, mul(d, d));
  }
  case nn::ActivationKind::elu:
  case nn::ActivationKind::selu: { // (gamma) (x > 0 ? 1 : alpha exp(x))
    Value g = pick(positive(ob, l, x), dy, mul(dy, mul(c(alpha), exp(x))));
    return kind == nn::ActivationKind::selu ? mul(g, c(beta)) : g;
  }
  case nn::ActivationKind::erf: // 2 / sqrt(pi) exp(-x^2)
    return mul(dy, mul(c(1.12837916709551257f),
                       exp(arith::NegFOp::create(ob, l, mul(x, x)))));
  case nn::ActivationKind::pow: // alpha x^(alpha - 1)
    return mul(dy,
               mul(c(alpha), math::PowFOp::create(ob, l, x, c(alpha - 1.0f))));
  default:
    return nullptr;
  }
}

/// condition ? lhs : rhs, every operand through its broadcast map.
Value lowerWhere(Lowering &L, nn::WhereOp op) {
  auto yt = op.getOutput().getType();
  auto ys = yt.getShape();
  return L.generic(tensor::EmptyOp::create(L.b, L.loc, ys, yt.getElementType()),
                   ValueRange{op.getCondition(), op.getLhs(), op.getRhs()},
                   {L.broadcastMap(op.getCondition().getType().getShape(), ys),
                    L.broadcastMap(op.getLhs().getType().getShape(), ys),
                    L.broadcastMap(op.getRhs().getType().getShape(), ys),
                    L.b.getMultiDimIdentityMap(ys.size())},
                   SmallVector<IteratorType>(ys.size(), kPar),
                   [](OpBuilder &ob, Location l, ValueRange a) -> Value {
                     return arith::SelectOp::create(ob, l, a[0], a[1], a[2]);
                   });
}

/// dy where the branch was chosen, else 0.
Value lowerWhereGrad(Lowering &L, nn::WhereGradOp op) {
  auto ys = op.getTerm().getType().getShape();
  bool rhs = op.getRhs();
  return L.generic(L.empty(ys),
                   ValueRange{op.getOutputGrad(), op.getCondition()},
                   {L.b.getMultiDimIdentityMap(ys.size()),
                    L.broadcastMap(op.getCondition().getType().getShape(), ys),
                    L.b.getMultiDimIdentityMap(ys.size())},
                   SmallVector<IteratorType>(ys.size(), kPar),
                   [&](OpBuilder &ob, Location l, ValueRange a) -> Value {
                     Value zero = L.f32c(ob, 0.0f);
                     return arith::SelectOp::create(
                         ob, l, a[1], rhs ? zero : a[0], rhs ? a[0] : zero);
                   });
}

/// dy, dy / 2 on ties, or 0: the operand's share of a max / min.
Value lowerSelectGrad(Lowering &L, nn::SelectGradOp op) {
  auto ys = op.getTerm().getType().getShape();
  bool isMin = op.getIsMin(), wrtRhs = op.getWrtRhs();
  return L.generic(
      L.empty(ys), ValueRange{op.getOutputGrad(), op.getLhs(), op.getRhs()},
      {L.b.getMultiDimIdentityMap(ys.size()),
       L.broadcastMap(op.getLhs().getType().getShape(), ys),
       L.broadcastMap(op.getRhs().getType().getShape(), ys),
       L.b.getMultiDimIdentityMap(ys.size())},
      SmallVector<IteratorType>(ys.size(), kPar),
      [&](OpBuilder &ob, Location l, ValueRange a) -> Value {
        Value self = wrtRhs ? a[2] : a[1], other = wrtRhs ? a[1] : a[2];
        Value won = arith::CmpFOp::create(ob, l,
                                          isMin ? arith::CmpFPredicate::OLT
                                                : arith::CmpFPredicate::OGT,
                                          self, other);
        Value tie = arith::CmpFOp::create(ob, l, arith::CmpFPredicate::OEQ,
                                          self, other);
        Value half = arith::MulFOp::create(ob, l, a[0], L.f32c(ob, 0.5f));
        Value lost =
            arith::SelectOp::create(ob, l, tie, half, L.f32c(ob, 0.0f));
        return arith::SelectOp::create(ob, l, won, a[0], lost);
      });
}

/// powf; integers through double (exact while the result is below 2^53),
/// then truncated back.
Value lowerPow(Lowering &L, nn::PowOp op) {
  auto yt = op.getOutput().getType();
  auto ys = yt.getShape();
  Type et = yt.getElementType();
  bool isUnsigned = op.getIsUnsigned();
  return L.generic(tensor::EmptyOp::create(L.b, L.loc, ys, et),
                   ValueRange{op.getLhs(), op.getRhs()},
                   {L.broadcastMap(op.getLhs().getType().getShape(), ys),
                    L.broadcastMap(op.getRhs().getType().getShape(), ys),
                    L.b.getMultiDimIdentityMap(ys.size())},
                   SmallVector<IteratorType>(ys.size(), kPar),
                   [&](OpBuilder &ob, Location l, ValueRange a) -> Value {
                     if (et.isF32())
                       return math::PowFOp::create(ob, l, a[0], a[1]);
                     Type f64 = ob.getF64Type();
                     auto toF64 = [&](Value v) -> Value {
                       if (isUnsigned)
                         return arith::UIToFPOp::create(ob, l, f64, v);
                       return arith::SIToFPOp::create(ob, l, f64, v);
                     };
                     Value p =
                         math::PowFOp::create(ob, l, toF64(a[0]), toF64(a[1]));
                     if (isUnsigned)
                       return arith::FPToUIOp::create(ob, l, et, p);
                     return arith::FPToSIOp::create(ob, l, et, p);
                   });
}

/// Integer <-> float32, elementwise (C's conversions).
Value lowerCast(Lowering &L, nn::CastOp op) {
  Type to = op.getOutput().getType().getElementType();
  bool isUnsigned = op.getIsUnsigned();
  auto ys = op.getOutput().getType().getShape();
  return L.generic(
      tensor::EmptyOp::create(L.b, L.loc, ys, to), op.getInput(),
      {L.b.getMultiDimIdentityMap(ys.size()),
       L.b.getMultiDimIdentityMap(ys.size())},
      SmallVector<IteratorType>(ys.size(), kPar),
      [&](OpBuilder &ob, Location l, ValueRange a) -> Value {
        if (to.isF32())
          return isUnsigned
                     ? arith::UIToFPOp::create(ob, l, to, a[0]).getResult()
                     : arith::SIToFPOp::create(ob, l, to, a[0]).getResult();
        return isUnsigned
                   ? arith::FPToUIOp::create(ob, l, to, a[0]).getResult()
                   : arith::FPToSIOp::create(ob, l, to, a[0]).getResult();
      });
}

/// d(b^e)/db = e b^(e-1), 0 where e is 0; d(b^e)/de = b^e log(b), 0 where
/// b is 0 (torch's masks).
Value lowerPowGrad(Lowering &L, nn::PowGradOp op) {
  auto ys = op.getTerm().getType().getShape();
  bool wrtExponent = op.getWrtExponent();
  return L.generic(
      L.empty(ys),
      ValueRange{op.getOutputGrad(), op.getBase(), op.getExponent()},
      {L.b.getMultiDimIdentityMap(ys.size()),
       L.broadcastMap(op.getBase().getType().getShape(), ys),
       L.broadcastMap(op.getExponent().getType().getShape(), ys),
       L.b.getMultiDimIdentityMap(ys.size())},
      SmallVector<IteratorType>(ys.size(), kPar),
      [&](OpBuilder &ob, Location l, ValueRange a) -> Value {
        Value dy = a[0], base = a[1], e = a[2];
        if (!wrtExponent) { // 0 where e is 0 (0 * 0^-1 would be NaN)
          Value em1 = arith::SubFOp::create(ob, l, e, L.f32c(ob, 1.0f));
          Value slope = arith::MulFOp::create(
              ob, l, e, math::PowFOp::create(ob, l, base, em1));
          Value constant = arith::CmpFOp::create(
              ob, l, arith::CmpFPredicate::OEQ, e, L.f32c(ob, 0.0f));
          return arith::SelectOp::create(
              ob, l, constant, L.f32c(ob, 0.0f),
              arith::MulFOp::create(ob, l, dy, slope));
        }
        Value t =
            arith::MulFOp::create(ob, l, math::PowFOp::create(ob, l, base, e),
                                  math::LogOp::create(ob, l, base));
        Value zero = arith::CmpFOp::create(ob, l, arith::CmpFPredicate::OEQ,
                                           base, L.f32c(ob, 0.0f));
        return arith::SelectOp::create(ob, l, zero, L.f32c(ob, 0.0f),
                                       arith::MulFOp::create(ob, l, dy, t));
      });
}

Value lowerActivation(Lowering &L, nn::ActivationOp op) {
  nn::ActivationKind kind = op.getKind();
  float alpha = op.getAlpha().convertToFloat();
  float beta = op.getBeta().convertToFloat();
  Type et = op.getInput().getType().getElementType();
  if (!et.isF32()) { // integer clip (the verifier allows nothing else)
    bool isUnsigned = op.getIsUnsigned();
    return elementwise(
        L, op.getInput(),
        [&](OpBuilder &ob, Location l, ValueRange a) -> Value {
          Value lo = L.typedConstant(ob, et, alpha, isUnsigned);
          Value hi = L.typedConstant(ob, et, beta, isUnsigned);
          Value low = arith::SelectOp::create(
              ob, l, L.greater(ob, lo, a[0], isUnsigned), lo, a[0]);
          return arith::SelectOp::create(
              ob, l, L.greater(ob, low, hi, isUnsigned), hi, low);
        });
  }
  Value y = elementwise(
      L, op.getInput(), [&](OpBuilder &ob, Location l, ValueRange a) -> Value {
        Value x = a[0];
        auto c = [&](float v) { return L.f32c(ob, v); };
        auto sel = [&](arith::CmpFPredicate p, Value u, Value v, Value t,
                       Value f) -> Value {
          return arith::SelectOp::create(
              ob, l, arith::CmpFOp::create(ob, l, p, u, v), t, f);
        };
        auto clampTo = [&](Value v, float lo, float hi) {
          Value low = sel(arith::CmpFPredicate::OLT, v, c(lo), c(lo), v);
          return sel(arith::CmpFPredicate::OGT, low, c(hi), c(hi), low);
        };
        if (kind == nn::ActivationKind::leaky_relu)
          return sel(arith::CmpFPredicate::OGT, x, c(0.0f), x,
                     arith::MulFOp::create(ob, l, x, c(alpha)));
        if (kind == nn::ActivationKind::clip)
          return clampTo(x, alpha, beta);
        if (kind == nn::ActivationKind::sigmoid) {
          Value e = math::ExpOp::create(ob, l, arith::NegFOp::create(ob, l, x));
          return arith::DivFOp::create(
              ob, l, c(1.0f), arith::AddFOp::create(ob, l, c(1.0f), e));
        }
        if (kind == nn::ActivationKind::tanh)
          return math::TanhOp::create(ob, l, x);
        if (kind == nn::ActivationKind::sqrt)
          return math::SqrtOp::create(ob, l, x);
        if (Value y = lowerMathActivation(ob, l, kind, x, alpha, beta))
          return y;
        if (kind == nn::ActivationKind::hard_sigmoid)
          return clampTo(
              arith::AddFOp::create(
                  ob, l, arith::MulFOp::create(ob, l, x, c(alpha)), c(beta)),
              0.0f, 1.0f);
        // hard_swish: x * relu6(x + 3) / 6
        Value r6 =
            clampTo(arith::AddFOp::create(ob, l, x, c(3.0f)), 0.0f, 6.0f);
        return arith::DivFOp::create(ob, l, arith::MulFOp::create(ob, l, x, r6),
                                     c(6.0f));
      });
  if (kind == nn::ActivationKind::clip)
    L.tagActivation(y, kActivationAttr, train::FusedActivation::clip, alpha,
                    beta);
  return y;
}

Value lowerActivationGrad(Lowering &L, nn::ActivationGradOp op) {
  nn::ActivationKind kind = op.getKind();
  float alpha = op.getAlpha().convertToFloat();
  float beta = op.getBeta().convertToFloat();
  // Each kind reads the forward input or the forward output, not both
  // (getReadTensor). The clip's gradient reads the output: lo < clip(x) < hi
  // exactly when lo < x < hi (NaN neither), and a convolution's
  // pre-activation output then has no use but the clip, which use-kernels
  // fuses into it.
  Value dx = elementwise(
      L, ValueRange{op.getOutputGrad(), op.getReadTensor()},
      [&](OpBuilder &ob, Location l, ValueRange a) -> Value {
        // a[1] is what the kind reads: x (input) or y (output).
        Value dy = a[0], x = a[1], y = a[1];
        auto c = [&](float v) { return L.f32c(ob, v); };
        auto cmp = [&](arith::CmpFPredicate p, Value u, Value v) -> Value {
          return arith::CmpFOp::create(ob, l, p, u, v);
        };
        auto pick = [&](Value cond, Value t, Value f) -> Value {
          return arith::SelectOp::create(ob, l, cond, t, f);
        };
        auto mul = [&](Value u, Value v) -> Value {
          return arith::MulFOp::create(ob, l, u, v);
        };
        auto sub = [&](Value u, Value v) -> Value {
          return arith::SubFOp::create(ob, l, u, v);
        };
        auto both = [&](Value u, Value v) -> Value {
          return arith::AndIOp::create(ob, l, u, v);
        };
        if (kind == nn::ActivationKind::leaky_relu)
          return pick(cmp(arith::CmpFPredicate::OGT, x, c(0.0f)), dy,
                      mul(dy, c(alpha)));
        if (kind ==
            nn::ActivationKind::clip) // strictly inside, as ReLU6 / hardtanh
          return pick(both(cmp(arith::CmpFPredicate::OGT, y, c(alpha)),
                           cmp(arith::CmpFPredicate::OLT, y, c(beta))),
                      dy, c(0.0f));
        if (kind == nn::ActivationKind::sigmoid)
          return mul(dy, mul(y, sub(c(1.0f), y)));
        if (kind == nn::ActivationKind::tanh)
          return mul(dy, sub(c(1.0f), mul(y, y)));
        if (kind == nn::ActivationKind::sqrt) // d sqrt(x) = 1 / (2 sqrt(x))
          return arith::DivFOp::create(ob, l, dy, mul(y, c(2.0f)));
        if (Value dx =
                lowerMathActivationGrad(ob, l, kind, dy, a[1], alpha, beta))
          return dx;
        if (kind == nn::ActivationKind::hard_sigmoid) {
          Value z = arith::AddFOp::create(ob, l, mul(x, c(alpha)), c(beta));
          return pick(both(cmp(arith::CmpFPredicate::OGT, z, c(0.0f)),
                           cmp(arith::CmpFPredicate::OLT, z, c(1.0f))),
                      mul(dy, c(alpha)), c(0.0f));
        }
        // hard_swish: 0 below -3, dy above 3, dy * (2x + 3) / 6 between.
        Value slope = arith::DivFOp::create(
            ob, l, arith::AddFOp::create(ob, l, mul(x, c(2.0f)), c(3.0f)),
            c(6.0f));
        Value upper = pick(cmp(arith::CmpFPredicate::OGT, x, c(3.0f)), dy,
                           mul(dy, slope));
        return pick(cmp(arith::CmpFPredicate::OLT, x, c(-3.0f)), c(0.0f),
                    upper);
      });
  if (kind == nn::ActivationKind::clip)
    L.tagActivation(dx, kActivationGradAttr, train::FusedActivation::clip,
                    alpha, beta);
  return dx;
}

Value lowerBatchNorm(Lowering &L, nn::BatchNormOp op) {
  auto xt = op.getInput().getType();
  unsigned rank = xt.getRank();
  float eps = op.getEpsilon().convertToFloat();
  AffineMap id = L.b.getMultiDimIdentityMap(rank);
  AffineMap ch = L.map(rank, {L.d(1)});
  return L.generic(
      tensor::EmptyOp::create(L.b, L.loc, xt.getShape(), L.f32()),
      ValueRange{op.getInput(), op.getScale(), op.getBias(), op.getMean(),
                 op.getVariance()},
      {id, ch, ch, ch, ch, id}, SmallVector<IteratorType>(rank, kPar),
      [&](OpBuilder &ob, Location l, ValueRange a) -> Value {
        Value sd = math::SqrtOp::create(
            ob, l, arith::AddFOp::create(ob, l, a[4], L.f32c(ob, eps)));
        Value xhat = arith::DivFOp::create(
            ob, l, arith::SubFOp::create(ob, l, a[0], a[3]), sd);
        return arith::AddFOp::create(
            ob, l, arith::MulFOp::create(ob, l, xhat, a[1]), a[2]);
      });
}

Value lowerRelu(Lowering &L, nn::ReluOp o) {
  Value y =
      elementwise(L, o.getInput(), [](OpBuilder &ob, Location l, ValueRange a) {
        Value zero = arith::ConstantOp::create(ob, l, ob.getF32FloatAttr(0.0f));
        return arith::SelectOp::create(ob, l, positive(ob, l, a[0]), a[0], zero)
            .getResult();
      });
  L.tagActivation(y, kActivationAttr, train::FusedActivation::relu, 0.0f, 0.0f);
  return y;
}

Value lowerReluGrad(Lowering &L, nn::ReluGradOp o) {
  Value dx = elementwise(
      L, ValueRange{o.getOutputGrad(), o.getOutput()},
      [](OpBuilder &ob, Location l, ValueRange a) {
        Value zero = arith::ConstantOp::create(ob, l, ob.getF32FloatAttr(0.0f));
        return arith::SelectOp::create(ob, l, positive(ob, l, a[1]), a[0], zero)
            .getResult();
      });
  L.tagActivation(dx, kActivationGradAttr, train::FusedActivation::relu, 0.0f,
                  0.0f);
  return dx;
}

/// One generic over `shape` reading `ins` (all of that shape) and the
/// broadcast `slope` last.
Value withBroadcastSlope(Lowering &L, ValueRange ins, Value slope,
                         BodyFn body) {
  auto ty = cast<RankedTensorType>(ins[0].getType());
  auto shape = ty.getShape();
  SmallVector<Value> operands(ins);
  operands.push_back(slope);
  SmallVector<AffineMap> maps(ins.size(),
                              L.b.getMultiDimIdentityMap(shape.size()));
  maps.push_back(L.broadcastMap(
      cast<RankedTensorType>(slope.getType()).getShape(), shape));
  maps.push_back(L.b.getMultiDimIdentityMap(shape.size()));
  return L.generic(tensor::EmptyOp::create(L.b, L.loc, shape, L.f32()),
                   operands, maps,
                   SmallVector<IteratorType>(shape.size(), kPar), body);
}

/// x > 0 ? value : slope * value (PReLU and its input gradient).
Value preluSelect(OpBuilder &ob, Location l, Value x, Value value,
                  Value slope) {
  Value scaled = arith::MulFOp::create(ob, l, slope, value);
  return arith::SelectOp::create(ob, l, positive(ob, l, x), value, scaled);
}

Value lowerPRelu(Lowering &L, nn::PReluOp o) {
  return withBroadcastSlope(L, o.getInput(), o.getSlope(),
                            [](OpBuilder &ob, Location l, ValueRange a) {
                              return preluSelect(ob, l, a[0], a[0], a[1]);
                            });
}

Value lowerPReluGradInput(Lowering &L, nn::PReluGradInputOp o) {
  return withBroadcastSlope(L, ValueRange{o.getOutputGrad(), o.getInput()},
                            o.getSlope(),
                            [](OpBuilder &ob, Location l, ValueRange a) {
                              return preluSelect(ob, l, a[1], a[0], a[2]);
                            });
}

/// -x: negf, or 0 - x on integers (two's complement, as C++ does).
Value lowerNeg(Lowering &L, nn::NegOp o) {
  return elementwise(
      L, o.getInput(), [](OpBuilder &ob, Location l, ValueRange a) -> Value {
        Type t = a[0].getType();
        if (t.isF32())
          return arith::NegFOp::create(ob, l, a[0]);
        Value zero = arith::ConstantOp::create(ob, l, ob.getIntegerAttr(t, 0));
        return arith::SubIOp::create(ob, l, zero, a[0]);
      });
}

} // namespace

void mcutrain::lowering::populateElementwisePatterns(
    RewritePatternSet &patterns) {
  addLowering<nn::AddOp>(patterns,
                         lowerBinary<nn::AddOp, arith::AddFOp, arith::AddIOp>);
  addLowering<nn::SubOp>(patterns,
                         lowerBinary<nn::SubOp, arith::SubFOp, arith::SubIOp>);
  addLowering<nn::MulOp>(patterns,
                         lowerBinary<nn::MulOp, arith::MulFOp, arith::MulIOp>);
  addLowering<nn::DivOp>(
      patterns,
      lowerBinary<nn::DivOp, arith::DivFOp, arith::DivSIOp, arith::DivUIOp>);
  addLowering<nn::PowOp>(patterns, lowerPow);
  addLowering<nn::MaxOp>(patterns, lowerBinary<nn::MaxOp, arith::MaximumFOp,
                                               arith::MaxSIOp, arith::MaxUIOp>);
  addLowering<nn::MinOp>(patterns, lowerBinary<nn::MinOp, arith::MinimumFOp,
                                               arith::MinSIOp, arith::MinUIOp>);
  addLowering<nn::SelectGradOp>(patterns, lowerSelectGrad);
  addLowering<nn::WhereOp>(patterns, lowerWhere);
  addLowering<nn::WhereGradOp>(patterns, lowerWhereGrad);
  addLowering<nn::CastOp>(patterns, lowerCast);
  addLowering<nn::PowGradOp>(patterns, lowerPowGrad);
  addLowering<nn::ReluOp>(patterns, lowerRelu);
  addLowering<nn::ReluGradOp>(patterns, lowerReluGrad);
  addLowering<nn::ActivationOp>(patterns, lowerActivation);
  addLowering<nn::ActivationGradOp>(patterns, lowerActivationGrad);
  addLowering<nn::BatchNormOp>(patterns, lowerBatchNorm);
  addLowering<nn::PReluOp>(patterns, lowerPRelu);
  addLowering<nn::PReluGradInputOp>(patterns, lowerPReluGradInput);
  addLowering<nn::NegOp>(patterns, lowerNeg);
}
