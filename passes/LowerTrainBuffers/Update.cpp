//===- Update.cpp - the optimizer step of train.buffer.update -------------===//
//
// One elementwise linalg.generic on memrefs that reads the gradient and
// rewrites the parameter and its state buffers in place: no copy of the
// parameter, no buffer beyond the gradient operand. With `input_grad`, the
// generic also sums it over the gradient's rows. The whole step sits under
// a finiteness check of the gradient. Each update rule is one helper.
//
//===----------------------------------------------------------------------===//
#include "passes/LowerTrainBuffers/Patterns.h"

#include "mlir/Dialect/Quant/IR/QuantTypes.h"

using namespace mlir;
using namespace mcutrain;
using namespace mcutrain::train;
using namespace mcutrain::trainbuffers;

namespace {

/// A scalar run-time global (lower-parameters creates them), or `fallback`.
Value loadScalarGlobal(OpBuilder &b, Operation *from, StringRef name,
                       Location loc, float fallback) {
  Value m = getGlobalMemRef(b, from, name, loc);
  if (!m)
    return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(fallback));
  return memref::LoadOp::create(b, loc, m, ValueRange{});
}

/// f32 arithmetic at one location.
struct Arith {
  OpBuilder &b;
  Location loc;
  Value f(float v) {
    return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(v));
  }
  Value mul(Value x, Value y) { return arith::MulFOp::create(b, loc, x, y); }
  Value add(Value x, Value y) { return arith::AddFOp::create(b, loc, x, y); }
  Value sub(Value x, Value y) { return arith::SubFOp::create(b, loc, x, y); }
  Value div(Value x, Value y) { return arith::DivFOp::create(b, loc, x, y); }
  Value sqrt(Value x) { return math::SqrtOp::create(b, loc, x); }
};

/// What an update rule reads once per step, before its loop: the run-time
/// learning rate, and the rule's own scalars.
struct StepScalars {
  Value lr;
  Value gscale;   // momentum: 1 - dampening, or 1 on the first step
  Value clr;      // ONNX Adam and Adagrad: the corrected learning rate
  Value bc1, bc2; // PyTorch Adam: the bias corrections 1 - beta^t
};

/// Steps before this one (the step count was advanced at step start).
Value previousSteps(Arith &a, Operation *from) {
  Value t = loadScalarGlobal(a.b, from, kStepCountGlobal, a.loc, 1.0f);
  return a.sub(t, a.f(1.0f));
}

Value isFirstStep(Arith &a, Operation *from) {
  return arith::CmpFOp::create(a.b, a.loc, arith::CmpFPredicate::OLE,
                               previousSteps(a, from), a.f(0.0f));
}

/// ONNX Adam: lr * sqrt(1 - beta2^T) / (1 - beta1^T), T = t - 1; lr when
/// T = 0. The running powers hold beta^t, so beta^T = beta^t / beta.
Value onnxAdamRate(Arith &a, Operation *from, OptimizerAttr hp, Value lr) {
  auto power = [&](StringRef global, float beta) -> Value {
    if (beta == 0.0f) // 0^T = 0 for T > 0
      return a.f(0.0f);
    return a.div(loadScalarGlobal(a.b, from, global, a.loc, 0.0f), a.f(beta));
  };
  Value c1 = a.sub(a.f(1.0f),
                   power(kBeta1PowerGlobal, hp.getBeta1().convertToFloat()));
  Value c2 = a.sub(a.f(1.0f),
                   power(kBeta2PowerGlobal, hp.getBeta2().convertToFloat()));
  Value adjusted = a.div(a.mul(lr, a.sqrt(c2)), c1);
  return arith::SelectOp::create(a.b, a.loc, isFirstStep(a, from), lr,
                                 adjusted);
}

StepScalars loadStepScalars(Arith &a, Operation *from, OptimizerAttr hp) {
  StepScalars s;
  // The learning rate is a global the application may change at run time.
  s.lr = loadScalarGlobal(a.b, from, kLearningRateGlobal, a.loc,
                          hp.getLr().convertToFloat());
  float damp = hp.getDampening().convertToFloat();
  if (damp != 0.0f) // no dampening on the first step, as PyTorch and ONNX
    s.gscale = arith::SelectOp::create(a.b, a.loc, isFirstStep(a, from),
                                       a.f(1.0f), a.f(1.0f - damp));
  OptimizerKind kind = hp.getKind();
  if (kind == OptimizerKind::adam && hp.getAdamForm() == AdamForm::onnx) {
    s.clr = onnxAdamRate(a, from, hp, s.lr);
  } else if (kind == OptimizerKind::adam) {
    s.bc1 = a.sub(a.f(1.0f),
                  loadScalarGlobal(a.b, from, kBeta1PowerGlobal, a.loc, 0.0f));
    s.bc2 = a.sub(a.f(1.0f),
                  loadScalarGlobal(a.b, from, kBeta2PowerGlobal, a.loc, 0.0f));
  } else if (kind == OptimizerKind::adagrad) {
    // lr / (1 + (t - 1) * lr_decay)
    Value tm1 = previousSteps(a, from);
    Value den =
        a.add(a.f(1.0f), a.mul(tm1, a.f(hp.getLrDecay().convertToFloat())));
    s.clr = a.div(s.lr, den);
  }
  return s;
}

/// The rules on one element: gradient g, parameter p, state st; each
/// returns the new parameter and state.
SmallVector<Value> sgdStep(Arith &a, const StepScalars &s, Value g, Value p) {
  return {a.sub(p, a.mul(s.lr, g))};
}

SmallVector<Value> momentumStep(Arith &a, const StepScalars &s,
                                OptimizerAttr hp, Value g, Value p,
                                ValueRange st) {
  Value mu = a.f(hp.getMomentum().convertToFloat());
  Value m = a.add(a.mul(st[0], mu), s.gscale ? a.mul(g, s.gscale) : g);
  Value d = hp.getKind() == OptimizerKind::nesterov
                ? a.add(g, a.mul(m, a.f(hp.getMomentum().convertToFloat())))
                : m;
  return {a.sub(p, a.mul(s.lr, d)), m};
}

SmallVector<Value> adamStep(Arith &a, const StepScalars &s, OptimizerAttr hp,
                            Value g, Value p, ValueRange st) {
  float b1 = hp.getBeta1().convertToFloat();
  float b2 = hp.getBeta2().convertToFloat();
  float eps = hp.getEpsilon().convertToFloat();
  Value m = a.add(a.mul(st[0], a.f(b1)), a.mul(g, a.f(1.0f - b1)));
  Value v = a.add(a.mul(st[1], a.f(b2)), a.mul(a.mul(g, g), a.f(1.0f - b2)));
  if (s.clr) { // ONNX form
    Value den = a.add(a.sqrt(v), a.f(eps));
    return {a.sub(p, a.mul(s.clr, a.div(m, den))), m, v};
  }
  Value mhat = a.div(m, s.bc1);
  Value den = a.add(a.sqrt(a.div(v, s.bc2)), a.f(eps));
  return {a.sub(p, a.mul(s.lr, a.div(mhat, den))), m, v};
}

SmallVector<Value> adagradStep(Arith &a, const StepScalars &s, OptimizerAttr hp,
                               Value g, Value p, ValueRange st) {
  Value sum = a.add(st[0], a.mul(g, g));
  Value den = a.add(a.sqrt(sum), a.f(hp.getEpsilon().convertToFloat()));
  return {a.sub(p, a.mul(s.clr, a.div(g, den))), sum};
}

/// The rule of `hp` on one element, after weight decay (L2 on the gradient).
SmallVector<Value> stepElement(OpBuilder &b, Location loc, const StepScalars &s,
                               OptimizerAttr hp, Value g, Value p,
                               ValueRange st) {
  Arith a{b, loc};
  float wd = hp.getWeightDecay().convertToFloat();
  if (wd != 0.0f)
    g = a.add(g, a.mul(p, a.f(wd)));
  switch (hp.getKind()) {
  case OptimizerKind::sgd:
    return sgdStep(a, s, g, p);
  case OptimizerKind::momentum:
  case OptimizerKind::nesterov:
    return momentumStep(a, s, hp, g, p, st);
  case OptimizerKind::adam:
    return adamStep(a, s, hp, g, p, st);
  case OptimizerKind::adagrad:
    return adagradStep(a, s, hp, g, p, st);
  }
  llvm_unreachable("unknown optimizer");
}

/// The maps of the fused input gradient's generic over (i, j), i the
/// gradient's index: grad[0][i], the parameter p[i][j], the input gradient
/// (and `outer`) [0][j].
struct RowMaps {
  AffineMap gradRow, inputRow;
  SmallVector<utils::IteratorType> sumOverRows;
  explicit RowMaps(MLIRContext *ctx) {
    AffineExpr d0 = getAffineDimExpr(0, ctx), d1 = getAffineDimExpr(1, ctx);
    AffineExpr c0 = getAffineConstantExpr(0, ctx);
    gradRow = AffineMap::get(2, 0, {c0, d0}, ctx);
    inputRow = AffineMap::get(2, 0, {c0, d1}, ctx);
    sumOverRows = {utils::IteratorType::reduction,
                   utils::IteratorType::parallel};
  }
};

void zeroFill(OpBuilder &b, Location loc, Value buffer) {
  Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0f));
  linalg::FillOp::create(b, loc, zero, buffer);
}

/// dx[0][j] += grad[0][i] * p[i][j]: the input gradient without the update.
void inputGradOnly(OpBuilder &b, Location loc, const RowMaps &maps, Value grad,
                   Value param, Value inputGrad) {
  zeroFill(b, loc, inputGrad);
  linalg::GenericOp::create(
      b, loc, TypeRange(), ValueRange{grad, param}, ValueRange{inputGrad},
      ArrayRef<AffineMap>{maps.gradRow, b.getMultiDimIdentityMap(2),
                          maps.inputRow},
      maps.sumOverRows, [&](OpBuilder &ob, Location l, ValueRange a) {
        linalg::YieldOp::create(
            ob, l,
            ValueRange{arith::AddFOp::create(
                ob, l, a[2], arith::MulFOp::create(ob, l, a[0], a[1]))});
      });
}

/// A non-finite gradient (the loss was finite but the backward pass
/// overflowed) never reaches the parameter: the update is dropped and the
/// step's flag records it (2). Returns the block the update goes in.
Block *guardFinite(OpBuilder &b, BufferUpdateOp op, const RowMaps &maps,
                   Value param) {
  Location loc = op.getLoc();
  auto index = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  // One runtime call: its exponent test vectorizes, where a loop nest
  // carrying an i1 did not (it cost a third of a small model's step). It
  // reads the gradient as one contiguous array; an outer product's
  // finiteness follows from its factors' (no product is stored), a rank-K
  // product's mostly too (low_rank_finite).
  SmallVector<Value> args, factors{op.getGrad()};
  if (op.getOuter())
    factors.push_back(op.getOuter());
  for (Value buf : factors) {
    auto type = cast<MemRefType>(buf.getType());
    Value contiguous = buf;
    if (!type.getLayout().isIdentity()) {
      contiguous = memref::AllocOp::create(
          b, loc, MemRefType::get(type.getShape(), type.getElementType()));
      memref::CopyOp::create(b, loc, buf, contiguous);
    }
    args.append({contiguous, index(type.getNumElements())});
  }
  RuntimeFunction check = RuntimeFunction::all_finite;
  if (op.getRank() == 1)
    check = RuntimeFunction::outer_product_finite;
  if (op.getRank() > 1) {
    check = RuntimeFunction::low_rank_finite;
    args.push_back(index(op.getRank()));
  }
  Value all =
      RuntimeCallOp::create(b, loc, b.getI1Type(),
                            RuntimeFunctionAttr::get(b.getContext(), check),
                            args, DenseI64ArrayAttr(), ArrayAttr())
          .getResult();
  b.setInsertionPointAfterValue(all);
  auto guard = scf::IfOp::create(b, loc, all, /*withElseRegion=*/true);
  b.setInsertionPointToStart(&guard.getElseRegion().front());
  if (auto flag = SymbolTable::lookupNearestSymbolFrom<memref::GlobalOp>(
          op, b.getStringAttr(kSkipStepGlobal)))
    memref::StoreOp::create(
        b, loc, arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(2)),
        memref::GetGlobalOp::create(b, loc, flag.getType(), flag.getSymName()),
        ValueRange{index(0)});
  // The input gradient does not depend on the update: a dropped update
  // still yields it (grad P, the old parameter's).
  if (Value inputGrad = op.getInputGrad())
    inputGradOnly(b, loc, maps, op.getGrad(), param, inputGrad);
  return &guard.getThenRegion().front();
}

/// The learning rate's global where a plain SGD step (no weight decay, a
/// scalar rate) can be a runtime kernel's, which reads it as an operand;
/// null otherwise.
Value sgdKernelRate(OpBuilder &b, BufferUpdateOp op) {
  OptimizerAttr hp = op.getOptimizer();
  if (hp.getKind() != OptimizerKind::sgd || !hp.getWeightDecay().isZero())
    return {};
  Value lr = getGlobalMemRef(b, op, kLearningRateGlobal, op.getLoc());
  if (!lr || cast<MemRefType>(lr.getType()).getRank() != 0)
    return {};
  return lr;
}

/// One pass over the parameter for the update and the input gradient,
/// dx[0][j] += grad[0][i] * p[i][j] from the old p. SGD without weight decay
/// is a runtime kernel's (it reads the learning rate from its global, an
/// operand here).
void fusedInputGradUpdate(OpBuilder &b, BufferUpdateOp op, const RowMaps &maps,
                          const StepScalars &s, ValueRange outs) {
  Location loc = op.getLoc();
  OptimizerAttr hp = op.getOptimizer();
  SmallVector<Value> ins{op.getGrad(), op.getOuter()};
  SmallVector<AffineMap> indexing{maps.gradRow, maps.inputRow};
  Value lrGlobal = sgdKernelRate(b, op);
  bool kernel = static_cast<bool>(lrGlobal);
  if (kernel) {
    ins.push_back(lrGlobal);
    indexing.push_back(AffineMap::get(2, 0, {}, b.getContext()));
  }
  SmallVector<Value> results{op.getInputGrad()};
  results.append(outs.begin(), outs.end());
  indexing.push_back(maps.inputRow);
  indexing.append(outs.size(), b.getMultiDimIdentityMap(2));
  zeroFill(b, loc, op.getInputGrad());
  auto fused = linalg::GenericOp::create(
      b, loc, TypeRange(), ins, results, indexing, maps.sumOverRows,
      [&](OpBuilder &ob, Location l, ValueRange a) {
        Value dy = a[0], x = a[1];
        ValueRange rest = a.drop_front(ins.size());
        Value p = rest[1];
        Value dx = arith::AddFOp::create(ob, l, rest[0],
                                         arith::MulFOp::create(ob, l, dy, p));
        SmallVector<Value> yield{dx};
        yield.append(stepElement(ob, l, s, hp,
                                 arith::MulFOp::create(ob, l, dy, x), p,
                                 rest.drop_front(2)));
        linalg::YieldOp::create(ob, l, yield);
      });
  if (!kernel)
    return;
  int64_t m = cast<MemRefType>(op.getGrad().getType()).getDimSize(1);
  int64_t n = cast<MemRefType>(op.getOuter().getType()).getDimSize(1);
  // (Overwrite = false spelled out, as the generated code always had.)
  fused->setAttr(kKernelAttr,
                 KernelAttr::get(b.getContext(),
                                 KernelName::sgd_outer_update_input_grad,
                                 {m, n, 0}));
  fused->setAttr(kKernelOverwriteAttr, b.getUnitAttr());
  // (dy, x, lr, dx, w): the generic's operands in order.
  fused->setAttr(kKernelOperandsAttr, b.getDenseI64ArrayAttr({0, 1, 2, 3, 4}));
}

/// One elementwise pass over the parameter: g read from the gradient, or
/// with `outer` formed where it is used, g[i][j] = grad[0][i] * outer[0][j].
void denseUpdate(OpBuilder &b, BufferUpdateOp op, const RowMaps &maps,
                 const StepScalars &s, ValueRange outs) {
  unsigned rank = op.getGradShape().size();
  AffineMap id = b.getMultiDimIdentityMap(rank);
  SmallVector<Value> ins{op.getGrad()};
  SmallVector<AffineMap> indexing{id};
  Value outer = op.getOuter();
  if (outer) {
    ins.push_back(outer);
    indexing = {maps.gradRow, maps.inputRow};
  }
  indexing.append(outs.size(), id);
  SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
  OptimizerAttr hp = op.getOptimizer();
  // A float weight's SGD step from an outer product is a runtime kernel's
  // (sgd_outer_update: its loads and stores several floats at a time on a
  // Cortex-M).
  Value lrGlobal =
      outer && rank == 2 && outs.size() == 1 ? sgdKernelRate(b, op) : Value();
  if (lrGlobal) {
    ins.push_back(lrGlobal);
    indexing.insert(indexing.begin() + 2,
                    AffineMap::get(rank, 0, {}, b.getContext()));
  }
  auto generic = linalg::GenericOp::create(
      b, op.getLoc(), TypeRange(), ins, outs, indexing, iters,
      [&](OpBuilder &ob, Location l, ValueRange a) {
        Value g = outer ? arith::MulFOp::create(ob, l, a[0], a[1]) : a[0];
        ValueRange params = a.drop_front(ins.size());
        linalg::YieldOp::create(
            ob, l,
            stepElement(ob, l, s, hp, g, params[0], params.drop_front()));
      });
  if (!lrGlobal)
    return;
  auto shape = cast<MemRefType>(outs[0].getType()).getShape();
  generic->setAttr(kKernelAttr,
                   KernelAttr::get(b.getContext(), KernelName::sgd_outer_update,
                                   {shape[0], shape[1]}));
  // (dy, x, lr, w): the generic's operands in order.
  generic->setAttr(kKernelOperandsAttr, b.getDenseI64ArrayAttr({0, 1, 2, 3}));
}

/// (d0, d1) -> (k, d<dim>): row k of a K x L factor read along loop
/// dimension `dim` (RowMaps' gradRow and inputRow are row 0's). The whole
/// buffer is the operand, once per row: no views (flatten-memrefs takes
/// identity layouts only).
AffineMap rowMap(MLIRContext *ctx, int64_t k, unsigned dim) {
  return AffineMap::get(
      2, 0, {getAffineConstantExpr(k, ctx), getAffineDimExpr(dim, ctx)}, ctx);
}

/// A rank-K gradient's update, K > 1 (no input gradient): one pass over the
/// parameter, g[i][j] = sum over k of grad[k][i] * outer[k][j] in k order
/// (each factor an operand once per row, rowMap). Plain SGD is the runtime
/// kernel sgd_low_rank_update's.
void lowRankUpdate(OpBuilder &b, BufferUpdateOp op, const RowMaps &maps,
                   const StepScalars &s, ValueRange params) {
  MLIRContext *ctx = b.getContext();
  int64_t rank = op.getRank();
  SmallVector<Value> ins{op.getGrad(), op.getOuter()};
  SmallVector<AffineMap> indexing{maps.gradRow, maps.inputRow};
  Value lrGlobal = params.size() == 1 ? sgdKernelRate(b, op) : Value();
  if (lrGlobal) {
    ins.push_back(lrGlobal);
    indexing.push_back(AffineMap::get(2, 0, {}, ctx));
  }
  unsigned rows = ins.size();
  for (int64_t k = 1; k < rank; ++k) {
    ins.append({op.getGrad(), op.getOuter()});
    indexing.append({rowMap(ctx, k, 0), rowMap(ctx, k, 1)});
  }
  indexing.append(params.size(), b.getMultiDimIdentityMap(2));
  OptimizerAttr hp = op.getOptimizer();
  auto generic = linalg::GenericOp::create(
      b, op.getLoc(), TypeRange(), ins, params, indexing,
      SmallVector<utils::IteratorType>(2, utils::IteratorType::parallel),
      [&](OpBuilder &ob, Location l, ValueRange a) {
        Arith ar{ob, l};
        auto factor = [&](int64_t k, int64_t side) {
          return k == 0 ? a[side] : a[rows + 2 * (k - 1) + side];
        };
        Value g = ar.mul(factor(0, 0), factor(0, 1));
        for (int64_t k = 1; k < rank; ++k)
          g = ar.add(g, ar.mul(factor(k, 0), factor(k, 1)));
        ValueRange old = a.drop_front(ins.size());
        linalg::YieldOp::create(
            ob, l, stepElement(ob, l, s, hp, g, old[0], old.drop_front()));
      });
  if (!lrGlobal)
    return;
  auto shape = cast<MemRefType>(params[0].getType()).getShape();
  generic->setAttr(kKernelAttr,
                   KernelAttr::get(ctx, KernelName::sgd_low_rank_update,
                                   {shape[0], shape[1], rank}));
  // (grad, outer, lr, w): the factors whole, the parameter after the rows.
  generic->setAttr(kKernelOperandsAttr,
                   b.getDenseI64ArrayAttr({0, 1, 2, int64_t(ins.size())}));
}

/// x clamped to [lo, hi] by ordered compares (a NaN, which the guard lets
/// through none of, would go to lo).
Value clampOrdered(OpBuilder &ob, Location l, Value x, Value lo, Value hi,
                   bool isFloat) {
  auto gt = [&](Value a, Value b) -> Value {
    return isFloat
               ? arith::CmpFOp::create(ob, l, arith::CmpFPredicate::OGT, a, b)
                     .getResult()
               : arith::CmpIOp::create(ob, l, arith::CmpIPredicate::sgt, a, b)
                     .getResult();
  };
  x = arith::SelectOp::create(ob, l, gt(x, lo), x, lo);
  return arith::SelectOp::create(ob, l, gt(hi, x), x, hi);
}

/// One element of an int32 bias's update (weight_type with 32-bit
/// storage): the rule's step in integer units from p = 0 (the rules'
/// steps do not depend on p without weight decay, which is refused),
/// then q + round(step) in int64, ties to the even sum (as rounding q +
/// step would; float32 cannot hold q beyond 2^24), saturated to int32.
SmallVector<Value> int32Element(OpBuilder &ob, Location l, const StepScalars &s,
                                BufferUpdateOp op, Value g, Value stored,
                                ValueRange states) {
  Arith ar{ob, l};
  Type i64 = ob.getI64Type();
  SmallVector<Value> next =
      stepElement(ob, l, s, op.getOptimizer(), g, ar.f(0.0f), states);
  // |step| beyond 2^40 saturates anyway: the conversions stay defined.
  Value step = clampOrdered(ob, l, next[0], ar.f(-0x1p40f), ar.f(0x1p40f),
                            /*isFloat=*/true);
  Value floor = math::FloorOp::create(ob, l, step);
  Value tie = arith::CmpFOp::create(ob, l, arith::CmpFPredicate::OEQ,
                                    ar.sub(step, floor), ar.f(0.5f));
  Value q = arith::ExtSIOp::create(ob, l, i64, stored);
  Value base = arith::FPToSIOp::create(ob, l, i64, floor);
  Value odd = arith::AndIOp::create(
      ob, l, arith::AddIOp::create(ob, l, q, base),
      arith::ConstantOp::create(ob, l, ob.getI64IntegerAttr(1)));
  Value nearest = arith::FPToSIOp::create(
      ob, l, i64, math::RoundEvenOp::create(ob, l, step));
  Value r = arith::SelectOp::create(
      ob, l, tie, arith::AddIOp::create(ob, l, base, odd), nearest);
  auto i64c = [&](int64_t v) -> Value {
    return arith::ConstantOp::create(ob, l, ob.getI64IntegerAttr(v));
  };
  Value v = clampOrdered(ob, l, arith::AddIOp::create(ob, l, q, r),
                         i64c(INT32_MIN), i64c(INT32_MAX), /*isFloat=*/false);
  next[0] = arith::TruncIOp::create(ob, l, stored.getType(), v);
  return next;
}

/// One element of an int8 parameter's update (weight_type, TTE): the rule
/// runs on p = q - zero with the gradient in integer units, real / scale
/// (QAS) or real * scale (qas_off), and q becomes round_half_even(p') +
/// zero saturated to the storage range (an int32 bias: int32Element).
/// Returns q' and the new state.
SmallVector<Value> int8Element(OpBuilder &ob, Location l, const StepScalars &s,
                               BufferUpdateOp op, Value real, Value scale,
                               Value zero, Value stored, ValueRange states) {
  auto q = cast<quant::QuantizedType>(*op.getWeightType());
  float lo = q.getStorageTypeMin(), hi = q.getStorageTypeMax();
  Arith ar{ob, l};
  Value g = op.getQasOff() ? ar.mul(real, scale) : ar.div(real, scale);
  if (q.getStorageTypeIntegralWidth() == 32)
    return int32Element(ob, l, s, op, g, stored, states);
  Value f =
      q.isSigned()
          ? arith::SIToFPOp::create(ob, l, ob.getF32Type(), stored).getResult()
          : arith::UIToFPOp::create(ob, l, ob.getF32Type(), stored).getResult();
  Value p = ar.sub(f, zero);
  SmallVector<Value> next =
      stepElement(ob, l, s, op.getOptimizer(), g, p, states);
  Value v = ar.add(math::RoundEvenOp::create(ob, l, next[0]), zero);
  // Ordered compares: a NaN (the guard lets none through) would saturate
  // low, never reach an undefined conversion.
  Value above =
      arith::CmpFOp::create(ob, l, arith::CmpFPredicate::OGT, v, ar.f(lo));
  v = arith::SelectOp::create(ob, l, above, v, ar.f(lo));
  Value below =
      arith::CmpFOp::create(ob, l, arith::CmpFPredicate::OLT, v, ar.f(hi));
  v = arith::SelectOp::create(ob, l, below, v, ar.f(hi));
  Type storage = stored.getType();
  next[0] = q.isSigned()
                ? arith::FPToSIOp::create(ob, l, storage, v).getResult()
                : arith::FPToUIOp::create(ob, l, storage, v).getResult();
  return next;
}

/// The dimension an int8 parameter's scales run along (0 per tensor).
int64_t quantizedDim(BufferUpdateOp op) {
  auto axis = dyn_cast<quant::UniformQuantizedPerAxisType>(*op.getWeightType());
  return axis ? axis.getQuantizedDimension() : 0;
}

/// An int8 parameter's scales and zero points (per output channel: along
/// quantizedDim) as constant vectors.
std::pair<Value, Value> int8Params(OpBuilder &b, BufferUpdateOp op,
                                   ArrayRef<int64_t> shape) {
  auto q = cast<quant::QuantizedType>(*op.getWeightType());
  int64_t dim = quantizedDim(op);
  SmallVector<float> scales, zeros;
  int64_t stride = 1;
  for (int64_t d : shape.drop_front(dim + 1))
    stride *= d;
  for (int64_t c = 0; c < shape[dim]; ++c) {
    auto [scale, zero] = nn::quantParamsAt(q, shape, c * stride);
    scales.push_back(scale);
    zeros.push_back(zero);
  }
  std::string stem = (op.getParam() + "__quant").str();
  return {constantVector(b, op, stem + "_scales", scales, op.getLoc()),
          constantVector(b, op, stem + "_zeros", zeros, op.getLoc())};
}

/// A dense int8 update: one generic over the parameter (with `outer`, the
/// gradient formed from its factors there).
void int8Update(OpBuilder &b, BufferUpdateOp op, const StepScalars &s,
                ValueRange outs) {
  Location loc = op.getLoc();
  SmallVector<int64_t> shape = op.getGradShape();
  auto [scaleVec, zeroVec] = int8Params(b, op, shape);
  unsigned rank = shape.size();
  AffineMap id = b.getMultiDimIdentityMap(rank);
  AffineMap channel =
      AffineMap::get(rank, 0, b.getAffineDimExpr(quantizedDim(op)));
  SmallVector<Value> ins{op.getGrad()};
  SmallVector<AffineMap> indexing{id};
  if (Value outer = op.getOuter()) {
    RowMaps maps(b.getContext());
    ins.push_back(outer);
    indexing = {maps.gradRow, maps.inputRow};
  }
  unsigned factors = ins.size();
  ins.append({scaleVec, zeroVec});
  indexing.append({channel, channel});
  indexing.append(outs.size(), id);
  linalg::GenericOp::create(
      b, loc, TypeRange(), ins, outs, indexing,
      SmallVector<utils::IteratorType>(rank, utils::IteratorType::parallel),
      [&](OpBuilder &ob, Location l, ValueRange a) {
        Value real = factors == 2 ? Arith{ob, l}.mul(a[0], a[1]) : a[0];
        linalg::YieldOp::create(ob, l,
                                int8Element(ob, l, s, op, real, a[factors],
                                            a[factors + 1], a[factors + 2],
                                            a.drop_front(factors + 3)));
      });
}

/// The gradient at `ivs`: stored, or the outer product's element.
Value sparseGradient(OpBuilder &b, Location loc, BufferUpdateOp op,
                     ArrayRef<Value> ivs) {
  if (!op.getOuter())
    return memref::LoadOp::create(b, loc, op.getGrad(), ivs);
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value row = memref::LoadOp::create(b, loc, op.getGrad(), {zero, ivs[0]});
  Value col = memref::LoadOp::create(b, loc, op.getOuter(), {zero, ivs[1]});
  return arith::MulFOp::create(b, loc, row, col);
}

/// Sparse: loops over the gradient; along channel_axis the parameter and
/// state are addressed through the channel list (an int8 parameter's too).
/// With `outer`, the gradient element is grad[0][i] * outer[0][j].
void sparseUpdate(OpBuilder &b, BufferUpdateOp op, const StepScalars &s,
                  ValueRange outs) {
  Location loc = op.getLoc();
  int64_t axis = op.getChannelAxis();
  SmallVector<int64_t> shape = op.getGradShape();
  std::pair<Value, Value> int8;
  if (op.getWeightTypeAttr())
    int8 = int8Params(b, op, cast<MemRefType>(outs[0].getType()).getShape());
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  SmallVector<Value> ivs;
  OpBuilder::InsertionGuard guard(b);
  for (int64_t extent : shape) {
    Value ub = arith::ConstantIndexOp::create(b, loc, extent);
    auto loop = scf::ForOp::create(b, loc, zero, ub, one);
    ivs.push_back(loop.getInductionVar());
    b.setInsertionPointToStart(loop.getBody());
  }
  SmallVector<Value> at(ivs);
  Value c =
      memref::LoadOp::create(b, loc, op.getChannels(), ValueRange{ivs[axis]});
  at[axis] = arith::IndexCastOp::create(b, loc, b.getIndexType(), c);
  Value g = sparseGradient(b, loc, op, ivs);
  SmallVector<Value> old;
  for (Value buf : outs)
    old.push_back(memref::LoadOp::create(b, loc, buf, at));
  SmallVector<Value> updated;
  if (op.getWeightTypeAttr()) {
    // An int8 parameter's scale and zero point: its output channel's.
    Value channel = at[quantizedDim(op)];
    Value scale = memref::LoadOp::create(b, loc, int8.first, channel);
    Value zero = memref::LoadOp::create(b, loc, int8.second, channel);
    updated = int8Element(b, loc, s, op, g, scale, zero, old[0],
                          ArrayRef(old).drop_front());
  } else {
    updated = stepElement(b, loc, s, op.getOptimizer(), g, old[0],
                          ArrayRef(old).drop_front());
  }
  for (auto [v, buf] : llvm::zip(updated, outs))
    memref::StoreOp::create(b, loc, v, buf, at);
}

struct LowerUpdate : OpConversionPattern<BufferUpdateOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(BufferUpdateOp op, OpAdaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value param = getGlobalMemRef(rewriter, op, op.getParam(), loc);
    if (!param)
      return op.emitOpError("parameter must be a memref.global"), failure();
    SmallVector<Value> outs{param};
    unsigned states = op.getOptimizer().getNumStateBuffers();
    for (unsigned i = 0; i < states; ++i) {
      std::string name = UpdateOp::stateName(op.getParam(), i);
      Value st = getGlobalMemRef(rewriter, op, name, loc);
      if (!st)
        return op.emitOpError("missing optimizer state @") << name, failure();
      outs.push_back(st);
    }
    // An outer product updating a 1 x 1 convolution's [M, N, 1, 1]: its
    // [M, N] view.
    if (op.getOuter() && cast<MemRefType>(param.getType()).getRank() > 2) {
      int64_t rank = cast<MemRefType>(param.getType()).getRank();
      SmallVector<ReassociationIndices> rows{{0}, {}};
      for (int64_t d = 1; d < rank; ++d)
        rows[1].push_back(d);
      for (Value &buf : outs)
        buf = memref::CollapseShapeOp::create(rewriter, loc, buf, rows);
      param = outs[0];
    }
    Arith a{rewriter, loc};
    StepScalars s = loadStepScalars(a, op, op.getOptimizer());
    RowMaps maps(op.getContext());
    Block *body = guardFinite(rewriter, op, maps, param);
    rewriter.setInsertionPoint(body->getTerminator());
    if (op.getWeightTypeAttr() && !op.getChannels())
      int8Update(rewriter, op, s, outs);
    else if (op.getRank() > 1)
      lowRankUpdate(rewriter, op, maps, s, outs);
    else if (op.getInputGrad())
      fusedInputGradUpdate(rewriter, op, maps, s, outs);
    else if (!op.getChannels())
      denseUpdate(rewriter, op, maps, s, outs);
    else
      sparseUpdate(rewriter, op, s, outs);
    rewriter.eraseOp(op);
    return success();
  }
};

} // namespace

void mcutrain::trainbuffers::populateUpdatePatterns(
    RewritePatternSet &patterns) {
  patterns.add<LowerUpdate>(patterns.getContext());
}
