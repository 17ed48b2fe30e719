//===- Train.cpp - train dialect: verifiers, MACs, bufferization ----------===//
#include "dialects/Train/Train.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MLProgram/IR/MLProgram.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Builders.h"

using namespace mlir;
using namespace mcutrain::train;

#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

#include "dialects/Train/TrainEnums.cpp.inc"
#include "dialects/Train/TrainOpsDialect.cpp.inc"
#define GET_ATTRDEF_CLASSES
#include "dialects/Train/TrainAttrs.cpp.inc"

void TrainDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "dialects/Train/TrainOps.cpp.inc"
      >();
  addAttributes<
#define GET_ATTRDEF_LIST
#include "dialects/Train/TrainAttrs.cpp.inc"
      >();
}

FailureOr<APFloat> mcutrain::train::parseF32(AsmParser &parser) {
  APFloat value(0.0f);
  if (parser.parseFloat(APFloat::IEEEsingle(), value))
    return failure();
  return value;
}

namespace {
/// A kernel's template parameters (TrainKernels.td via mcutrain-tblgen).
struct KernelSignature {
  unsigned parameters, required;
  uint64_t boolMask;
  const char *declaration;
};
} // namespace

static const KernelSignature &signatureOf(KernelName kernel) {
  static const KernelSignature table[] = {
#define MCUTRAIN_KERNEL(name, parameters, required, boolMask, declaration)     \
  {parameters, required, boolMask, declaration},
#include "dialects/Train/TrainKernels.inc"
#undef MCUTRAIN_KERNEL
  };
  return table[static_cast<unsigned>(kernel)];
}

LogicalResult KernelAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                 KernelName kernel, ArrayRef<int64_t> args) {
  const KernelSignature &sig = signatureOf(kernel);
  if (args.size() < sig.required || args.size() > sig.parameters) {
    auto diag = emitError() << "kernel " << stringifyKernelName(kernel)
                            << " takes " << sig.required;
    if (sig.parameters != sig.required)
      diag << " to " << sig.parameters;
    return diag << " template arguments (" << sig.declaration << "), not "
                << args.size();
  }
  for (auto [i, a] : llvm::enumerate(args))
    if ((sig.boolMask >> i & 1) && a != 0 && a != 1)
      return emitError() << "template argument " << i << " of kernel "
                         << stringifyKernelName(kernel) << " is a bool";
  return success();
}

std::string KernelAttr::getCallee() const {
  const KernelSignature &sig = signatureOf(getKernel());
  std::string callee =
      ("mcutrain::kernels::" + stringifyKernelName(getKernel()) + "<").str();
  for (auto [i, a] : llvm::enumerate(getArgs())) {
    if (i)
      callee += ",";
    callee +=
        (sig.boolMask >> i & 1) ? (a ? "true" : "false") : std::to_string(a);
  }
  return callee + ">";
}

KernelAttr KernelAttr::withLastArg(int64_t value) const {
  SmallVector<int64_t> args(getArgs());
  if (args.size() == signatureOf(getKernel()).parameters)
    args.pop_back();
  args.push_back(value);
  return KernelAttr::get(getContext(), getKernel(), args);
}

std::string RuntimeCallOp::getCalleeName() {
  if (auto kernel = dyn_cast<KernelAttr>(getCallee()))
    return kernel.getCallee();
  return ("mcutrain::" + stringifyRuntimeFunction(
                             cast<RuntimeFunctionAttr>(getCallee()).getValue()))
      .str();
}

unsigned OptimizerAttr::getNumStateBuffers() const {
  switch (getKind()) {
  case OptimizerKind::adam:
    return 2;
  case OptimizerKind::momentum:
  case OptimizerKind::nesterov:
  case OptimizerKind::adagrad:
    return 1;
  case OptimizerKind::sgd:
    return 0;
  }
  llvm_unreachable("unknown optimizer");
}

LogicalResult
OptimizerAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                      OptimizerKind kind, APFloat, APFloat, APFloat, APFloat,
                      APFloat, APFloat, APFloat, APFloat dampening, AdamForm) {
  if (!dampening.isZero() && kind != OptimizerKind::momentum &&
      kind != OptimizerKind::nesterov)
    return emitError() << "dampening applies to momentum and nesterov only";
  return success();
}

LogicalResult CrossEntropyLossOp::verify() {
  if (getLogits().getType().getDimSize(0) !=
      getLabels().getType().getDimSize(0))
    return emitOpError() << "logits and labels disagree on the batch size";
  return success();
}

LogicalResult MseLossOp::verify() {
  if (getPrediction().getType() != getTarget().getType())
    return emitOpError() << "prediction and target types differ";
  return success();
}
int64_t MseLossOp::getMacs() {
  return getPrediction().getType().getNumElements();
}
int64_t MseLossGradOp::getMacs() {
  return getPrediction().getType().getNumElements();
}

int64_t CrossEntropyLossOp::getMacs() {
  return getLogits().getType().getNumElements();
}
int64_t CrossEntropyLossGradOp::getMacs() {
  return getLogits().getType().getNumElements();
}
LogicalResult GatherChannelsOp::verify() {
  auto in = getInput().getType(), out = getOutput().getType();
  int64_t axis = getAxis();
  if (axis < 0 || axis >= in.getRank() || out.getRank() != in.getRank())
    return emitOpError() << "axis out of range";
  for (int64_t d = 0; d < in.getRank(); ++d)
    if (out.getDimSize(d) !=
        (d == axis ? getIndices().getType().getDimSize(0) : in.getDimSize(d)))
      return emitOpError() << "result must be the input with dim " << axis
                           << " the number of indices";
  return success();
}
int64_t GatherChannelsOp::getMacs() { return 0; }

SmallVector<int64_t> UpdateOp::getGradShape() {
  ArrayRef<int64_t> g = getGrad().getType().getShape();
  if (!getOuter())
    return SmallVector<int64_t>(g);
  return {g.back(), getOuter().getType().getShape().back()};
}

/// With `outer`, the gradient's products (the Gemm's that it replaced) too,
/// and with `input_grad` the input gradient's.
int64_t UpdateOp::getMacs() {
  int64_t n = ShapedType::getNumElements(getGradShape());
  return n * (1 + getNumStateBuffers() + (getOuter() ? 1 : 0) +
              (getInputGrad() ? 1 : 0));
}

LogicalResult UpdateOp::verify() {
  if (getOuter()) {
    auto isRow = [](RankedTensorType t) {
      return t.getRank() == 2 && t.getDimSize(0) == 1;
    };
    if (getChannels())
      return emitOpError() << "outer and channels are exclusive";
    if (!isRow(getGrad().getType()) || !isRow(getOuter().getType()))
      return emitOpError() << "outer-product factors must be 1 x M and 1 x N";
  }
  if (getInputGrad()) {
    if (!getOuter())
      return emitOpError() << "input_grad needs outer";
    if (getInputGrad().getType() != getOuter().getType())
      return emitOpError() << "input_grad must be shaped like outer";
  }
  return success();
}

/// The parameter is an ml_program.global before lowering and a memref.global
/// after; both must be mutable and shaped like the gradient.
LogicalResult UpdateOp::verifySymbolUses(SymbolTableCollection &symbolTable) {
  Operation *sym = symbolTable.lookupNearestSymbolFrom(*this, getParamAttr());
  if (!sym)
    return emitOpError() << "unknown parameter @" << getParam();
  ArrayRef<int64_t> shape;
  if (auto g = dyn_cast<ml_program::GlobalOp>(sym)) {
    if (!g.getIsMutable())
      return emitOpError() << "parameter @" << getParam()
                           << " is frozen (immutable global)";
    shape = cast<ShapedType>(g.getType()).getShape();
  } else if (auto g = dyn_cast<memref::GlobalOp>(sym)) {
    if (g.getConstant())
      return emitOpError() << "parameter @" << getParam() << " is constant";
    shape = g.getType().getShape();
  } else {
    return emitOpError() << "@" << getParam() << " is not a global";
  }
  SmallVector<int64_t> expect(shape);
  if (getChannels()) {
    int64_t axis = getChannelAxis();
    if (axis < 0 || axis >= (int64_t)expect.size())
      return emitOpError() << "channel_axis out of range";
    expect[axis] = getChannels().getType().getDimSize(0);
  }
  if (ArrayRef<int64_t>(expect) != ArrayRef<int64_t>(getGradShape()))
    return emitOpError() << "gradient shape differs from parameter @"
                         << getParam()
                         << (getChannels() ? " (with the selected channels)"
                                           : "");
  return success();
}

bool UpdateOp::bufferizesToMemoryRead(OpOperand &,
                                      const bufferization::AnalysisState &) {
  return true;
}
bool UpdateOp::bufferizesToMemoryWrite(OpOperand &,
                                       const bufferization::AnalysisState &) {
  return false;
}
bufferization::AliasingValueList
UpdateOp::getAliasingValues(OpOperand &, const bufferization::AnalysisState &) {
  return {};
}

/// A scalar run-time global (lower-to-linalg creates them), or `fallback`.
static Value loadScalarGlobal(RewriterBase &rewriter, Operation *from,
                              StringRef name, Location loc, float fallback) {
  auto g = SymbolTable::lookupNearestSymbolFrom<memref::GlobalOp>(
      from, rewriter.getStringAttr(name));
  if (!g)
    return arith::ConstantOp::create(rewriter, loc,
                                     rewriter.getF32FloatAttr(fallback));
  Value m =
      memref::GetGlobalOp::create(rewriter, loc, g.getType(), g.getSymName());
  return memref::LoadOp::create(rewriter, loc, m, ValueRange{});
}

/// Becomes one elementwise linalg.generic on memrefs that reads the gradient
/// and rewrites the parameter and its state buffers in place: no copy of the
/// parameter, no buffer beyond the gradient operand. With `input_grad`, the
/// generic also sums it (a new buffer) over the gradient's rows.
LogicalResult
UpdateOp::bufferize(RewriterBase &rewriter,
                    const bufferization::BufferizationOptions &options,
                    bufferization::BufferizationState &state) {
  FailureOr<Value> grad = getBuffer(rewriter, getGrad(), options, state);
  if (failed(grad))
    return failure();
  Value outer;
  if (getOuter()) {
    FailureOr<Value> buf = getBuffer(rewriter, getOuter(), options, state);
    if (failed(buf))
      return failure();
    outer = *buf;
  }
  Location loc = getLoc();
  // The input gradient's buffer, zero-filled in each branch of the guard
  // right before the generic that sums into it (use-kernels then calls the
  // kernel variant that overwrites it instead).
  Value inputGrad;
  if (getInputGrad())
    inputGrad = memref::AllocOp::create(
        rewriter, loc,
        MemRefType::get(getInputGrad().getType().getShape(),
                        rewriter.getF32Type()));
  auto zeroInputGrad = [&]() {
    Value zero = arith::ConstantOp::create(rewriter, loc,
                                           rewriter.getF32FloatAttr(0.0f));
    linalg::FillOp::create(rewriter, loc, zero, inputGrad);
  };
  // Its maps over (i, j), i the gradient's index: grad[0][i], the parameter
  // p[i][j], the input gradient (and `outer`) [0][j].
  MLIRContext *ctx = getContext();
  AffineExpr d0 = getAffineDimExpr(0, ctx), d1 = getAffineDimExpr(1, ctx);
  AffineExpr c0 = getAffineConstantExpr(0, ctx);
  AffineMap gradRow = AffineMap::get(2, 0, {c0, d0}, ctx);
  AffineMap inputRow = AffineMap::get(2, 0, {c0, d1}, ctx);
  SmallVector<utils::IteratorType> sumOverRows{utils::IteratorType::reduction,
                                               utils::IteratorType::parallel};
  auto lookup = [&](StringRef name) -> Value {
    auto g = SymbolTable::lookupNearestSymbolFrom<memref::GlobalOp>(
        *this, rewriter.getStringAttr(name));
    if (!g)
      return Value();
    return memref::GetGlobalOp::create(rewriter, loc, g.getType(),
                                       g.getSymName());
  };
  Value param = lookup(getParam());
  if (!param)
    return emitOpError() << "parameter must be a memref.global when bufferized";
  SmallVector<Value> outs{param};
  for (unsigned i = 0; i < getNumStateBuffers(); ++i) {
    Value st = lookup(stateName(getParam(), i));
    if (!st)
      return emitOpError() << "missing optimizer state @"
                           << stateName(getParam(), i);
    outs.push_back(st);
  }
  // The learning rate is a global the application may change at run time.
  OptimizerAttr hp = getOptimizer();
  OptimizerKind opt = hp.getKind();
  Value lr = loadScalarGlobal(rewriter, *this, kLearningRateGlobal, loc,
                              hp.getLr().convertToFloat());
  Value bc1, bc2, clr, gscale;
  auto f = [&](OpBuilder &b, float v) -> Value {
    return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(v));
  };
  // Steps before this one (the step count was advanced at step start).
  auto previousSteps = [&]() -> Value {
    Value t = loadScalarGlobal(rewriter, *this, kStepCountGlobal, loc, 1.0f);
    return arith::SubFOp::create(rewriter, loc, t, f(rewriter, 1.0f));
  };
  auto isFirstStep = [&]() -> Value {
    return arith::CmpFOp::create(rewriter, loc, arith::CmpFPredicate::OLE,
                                 previousSteps(), f(rewriter, 0.0f));
  };
  float damp = hp.getDampening().convertToFloat();
  if (damp != 0.0f) // no dampening on the first step, as PyTorch and ONNX
    gscale =
        arith::SelectOp::create(rewriter, loc, isFirstStep(), f(rewriter, 1.0f),
                                f(rewriter, 1.0f - damp));
  if (opt == OptimizerKind::adam && hp.getAdamForm() == AdamForm::onnx) {
    // lr * sqrt(1 - beta2^T) / (1 - beta1^T), T = t - 1; lr when T = 0. The
    // running powers hold beta^t, so beta^T = beta^t / beta.
    auto power = [&](StringRef global, float beta) -> Value {
      if (beta == 0.0f) // 0^T = 0 for T > 0
        return f(rewriter, 0.0f);
      return arith::DivFOp::create(
          rewriter, loc, loadScalarGlobal(rewriter, *this, global, loc, 0.0f),
          f(rewriter, beta));
    };
    Value c1 = arith::SubFOp::create(
        rewriter, loc, f(rewriter, 1.0f),
        power(kBeta1PowerGlobal, hp.getBeta1().convertToFloat()));
    Value c2 = arith::SubFOp::create(
        rewriter, loc, f(rewriter, 1.0f),
        power(kBeta2PowerGlobal, hp.getBeta2().convertToFloat()));
    Value adjusted = arith::DivFOp::create(
        rewriter, loc,
        arith::MulFOp::create(rewriter, loc, lr,
                              math::SqrtOp::create(rewriter, loc, c2)),
        c1);
    clr = arith::SelectOp::create(rewriter, loc, isFirstStep(), lr, adjusted);
  } else if (opt == OptimizerKind::adam) {
    // Bias corrections 1 - beta^t from the running powers.
    bc1 = arith::SubFOp::create(
        rewriter, loc, f(rewriter, 1.0f),
        loadScalarGlobal(rewriter, *this, kBeta1PowerGlobal, loc, 0.0f));
    bc2 = arith::SubFOp::create(
        rewriter, loc, f(rewriter, 1.0f),
        loadScalarGlobal(rewriter, *this, kBeta2PowerGlobal, loc, 0.0f));
  } else if (opt == OptimizerKind::adagrad) {
    // lr / (1 + (t - 1) * lr_decay)
    Value tm1 = previousSteps();
    Value den = arith::AddFOp::create(
        rewriter, loc, f(rewriter, 1.0f),
        arith::MulFOp::create(rewriter, loc, tm1,
                              f(rewriter, hp.getLrDecay().convertToFloat())));
    clr = arith::DivFOp::create(rewriter, loc, lr, den);
  }
  float wd = hp.getWeightDecay().convertToFloat();
  float mu = hp.getMomentum().convertToFloat();
  float b1 = hp.getBeta1().convertToFloat();
  float b2 = hp.getBeta2().convertToFloat();
  float eps = hp.getEpsilon().convertToFloat();

  Block *guardBody = nullptr;
  // The optimizer on one element: gradient g, parameter p, state st[i];
  // returns the new parameter and state.
  auto step = [&](OpBuilder &b, Location l, Value g, Value p,
                  ValueRange st) -> SmallVector<Value> {
    auto mul = [&](Value x, Value y) -> Value {
      return arith::MulFOp::create(b, l, x, y);
    };
    auto add = [&](Value x, Value y) -> Value {
      return arith::AddFOp::create(b, l, x, y);
    };
    auto sub = [&](Value x, Value y) -> Value {
      return arith::SubFOp::create(b, l, x, y);
    };
    auto div = [&](Value x, Value y) -> Value {
      return arith::DivFOp::create(b, l, x, y);
    };
    if (wd != 0.0f)
      g = add(g, mul(p, f(b, wd)));
    if (opt == OptimizerKind::sgd)
      return {sub(p, mul(lr, g))};
    if (opt == OptimizerKind::momentum || opt == OptimizerKind::nesterov) {
      Value m = add(mul(st[0], f(b, mu)), gscale ? mul(g, gscale) : g);
      Value d = opt == OptimizerKind::nesterov ? add(g, mul(m, f(b, mu))) : m;
      return {sub(p, mul(lr, d)), m};
    }
    if (opt == OptimizerKind::adam) {
      Value m = add(mul(st[0], f(b, b1)), mul(g, f(b, 1.0f - b1)));
      Value v = add(mul(st[1], f(b, b2)), mul(mul(g, g), f(b, 1.0f - b2)));
      if (clr) { // ONNX form
        Value den = add(math::SqrtOp::create(b, l, v), f(b, eps));
        return {sub(p, mul(clr, div(m, den))), m, v};
      }
      Value mhat = div(m, bc1);
      Value den = add(math::SqrtOp::create(b, l, div(v, bc2)), f(b, eps));
      return {sub(p, mul(lr, div(mhat, den))), m, v};
    }
    Value s = add(st[0], mul(g, g)); // adagrad
    Value den = add(math::SqrtOp::create(b, l, s), f(b, eps));
    return {sub(p, mul(clr, div(g, den))), s};
  };

  // A non-finite gradient (the loss was finite but the backward pass
  // overflowed) never reaches the parameter: the update is dropped and the
  // step's flag records it (2).
  {
    auto index = [&](int64_t v) -> Value {
      return arith::ConstantIndexOp::create(rewriter, loc, v);
    };
    // One runtime call: its exponent test vectorizes, where a loop nest
    // carrying an i1 did not (it cost a third of a small model's step). It
    // reads the gradient as one contiguous array; an outer product's
    // finiteness follows from its factors' (no product is stored).
    SmallVector<Value> args, factors{*grad};
    if (outer)
      factors.push_back(outer);
    for (Value buf : factors) {
      auto type = cast<MemRefType>(buf.getType());
      Value contiguous = buf;
      if (!type.getLayout().isIdentity()) {
        contiguous = memref::AllocOp::create(
            rewriter, loc,
            MemRefType::get(type.getShape(), type.getElementType()));
        memref::CopyOp::create(rewriter, loc, buf, contiguous);
      }
      args.append({contiguous, index(type.getNumElements())});
    }
    Value all =
        RuntimeCallOp::create(
            rewriter, loc, rewriter.getI1Type(),
            RuntimeFunctionAttr::get(
                getContext(), outer ? RuntimeFunction::outer_product_finite
                                    : RuntimeFunction::all_finite),
            args, DenseI64ArrayAttr())
            .getResult();
    rewriter.setInsertionPointAfterValue(all);
    auto guard = scf::IfOp::create(rewriter, loc, all, /*withElseRegion=*/true);
    rewriter.setInsertionPointToStart(&guard.getElseRegion().front());
    if (auto flag = SymbolTable::lookupNearestSymbolFrom<memref::GlobalOp>(
            *this, rewriter.getStringAttr(kSkipStepGlobal)))
      memref::StoreOp::create(
          rewriter, loc,
          arith::ConstantOp::create(rewriter, loc,
                                    rewriter.getI32IntegerAttr(2)),
          memref::GetGlobalOp::create(rewriter, loc, flag.getType(),
                                      flag.getSymName()),
          ValueRange{index(0)});
    // The input gradient does not depend on the update: a dropped update
    // still yields it (grad P, the old parameter's).
    if (inputGrad) {
      zeroInputGrad();
      linalg::GenericOp::create(
          rewriter, loc, TypeRange(), ValueRange{*grad, param},
          ValueRange{inputGrad},
          ArrayRef<AffineMap>{gradRow, rewriter.getMultiDimIdentityMap(2),
                              inputRow},
          sumOverRows, [&](OpBuilder &b, Location l, ValueRange a) {
            linalg::YieldOp::create(
                b, l,
                ValueRange{arith::AddFOp::create(
                    b, l, a[2], arith::MulFOp::create(b, l, a[0], a[1]))});
          });
    }
    guardBody = &guard.getThenRegion().front();
  }
  rewriter.setInsertionPoint(guardBody->getTerminator());

  unsigned rank = getGradShape().size();
  if (inputGrad) {
    // One pass over the parameter for the update and the input gradient,
    // dx[0][j] += grad[0][i] * p[i][j] from the old p.
    SmallVector<Value> ins{*grad, outer};
    SmallVector<AffineMap> maps{gradRow, inputRow};
    // SGD without weight decay is a runtime kernel's (it reads the
    // learning rate from its global, an operand here).
    Value lrGlobal = lookup(kLearningRateGlobal);
    bool kernel = opt == OptimizerKind::sgd && wd == 0.0f && lrGlobal &&
                  cast<MemRefType>(lrGlobal.getType()).getRank() == 0;
    if (kernel) {
      ins.push_back(lrGlobal);
      maps.push_back(AffineMap::get(2, 0, {}, ctx));
    }
    SmallVector<Value> results{inputGrad};
    results.append(outs);
    maps.push_back(inputRow);
    maps.append(outs.size(), rewriter.getMultiDimIdentityMap(2));
    zeroInputGrad();
    auto fused = linalg::GenericOp::create(
        rewriter, loc, TypeRange(), ins, results, maps, sumOverRows,
        [&](OpBuilder &b, Location l, ValueRange a) {
          Value dy = a[0], x = a[1];
          ValueRange rest = a.drop_front(ins.size());
          Value p = rest[1];
          Value dx = arith::AddFOp::create(b, l, rest[0],
                                           arith::MulFOp::create(b, l, dy, p));
          SmallVector<Value> yield{dx};
          yield.append(step(b, l, arith::MulFOp::create(b, l, dy, x), p,
                            rest.drop_front(2)));
          linalg::YieldOp::create(b, l, yield);
        });
    if (kernel) {
      int64_t m = getGrad().getType().getDimSize(1);
      int64_t n = getOuter().getType().getDimSize(1);
      // (Overwrite = false spelled out, as the generated code always had.)
      fused->setAttr(kKernelAttr,
                     KernelAttr::get(getContext(),
                                     KernelName::sgd_outer_update_input_grad,
                                     {m, n, 0}));
      fused->setAttr(kKernelOverwriteAttr, rewriter.getUnitAttr());
      // (dy, x, lr, dx, w): the generic's operands in order.
      fused->setAttr(kKernelOperandsAttr,
                     rewriter.getDenseI64ArrayAttr({0, 1, 2, 3, 4}));
    }
    bufferization::replaceOpWithBufferizedValues(rewriter, *this, inputGrad);
    return success();
  }
  if (!getChannels()) {
    // One elementwise pass over the parameter: g read from the gradient,
    // or with `outer` formed where it is used, g[i][j] = grad[0][i] *
    // outer[0][j].
    AffineMap id = rewriter.getMultiDimIdentityMap(rank);
    SmallVector<Value> ins{*grad};
    SmallVector<AffineMap> maps{id};
    if (outer) {
      ins.push_back(outer);
      maps = {gradRow, inputRow};
    }
    maps.append(outs.size(), id);
    SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
    linalg::GenericOp::create(
        rewriter, loc, TypeRange(), ins, outs, maps, iters,
        [&](OpBuilder &b, Location l, ValueRange a) {
          Value g = outer ? arith::MulFOp::create(b, l, a[0], a[1]) : a[0];
          ValueRange params = a.drop_front(ins.size());
          linalg::YieldOp::create(
              b, l, step(b, l, g, params[0], params.drop_front()));
        });
    rewriter.eraseOp(*this);
    return success();
  }
  // Sparse: loops over the gradient; along channel_axis the parameter and
  // state are addressed through the channel list.
  FailureOr<Value> channels =
      getBuffer(rewriter, getChannels(), options, state);
  if (failed(channels))
    return failure();
  int64_t axis = getChannelAxis();
  ArrayRef<int64_t> shape = getGrad().getType().getShape();
  Value zero = arith::ConstantIndexOp::create(rewriter, loc, 0);
  Value one = arith::ConstantIndexOp::create(rewriter, loc, 1);
  SmallVector<Value> ivs;
  OpBuilder::InsertionGuard guard(rewriter);
  for (unsigned d = 0; d < rank; ++d) {
    Value ub = arith::ConstantIndexOp::create(rewriter, loc, shape[d]);
    auto loop = scf::ForOp::create(rewriter, loc, zero, ub, one);
    ivs.push_back(loop.getInductionVar());
    rewriter.setInsertionPointToStart(loop.getBody());
  }
  SmallVector<Value> at(ivs);
  Value c =
      memref::LoadOp::create(rewriter, loc, *channels, ValueRange{ivs[axis]});
  at[axis] =
      arith::IndexCastOp::create(rewriter, loc, rewriter.getIndexType(), c);
  Value g = memref::LoadOp::create(rewriter, loc, *grad, ivs);
  SmallVector<Value> old;
  for (Value buf : outs)
    old.push_back(memref::LoadOp::create(rewriter, loc, buf, at));
  SmallVector<Value> updated =
      step(rewriter, loc, g, old[0], ArrayRef<Value>(old).drop_front());
  for (auto [v, buf] : llvm::zip(updated, outs))
    memref::StoreOp::create(rewriter, loc, v, buf, at);
  rewriter.eraseOp(*this);
  return success();
}

//===----------------------------------------------------------------------===//
// DGSU
//===----------------------------------------------------------------------===//

static Value getGlobalMemRef(RewriterBase &rewriter, Operation *from,
                             StringRef name, Location loc) {
  auto g = SymbolTable::lookupNearestSymbolFrom<memref::GlobalOp>(
      from, rewriter.getStringAttr(name));
  if (!g)
    return Value();
  return memref::GetGlobalOp::create(rewriter, loc, g.getType(),
                                     g.getSymName());
}

bool DgsuSelectOp::bufferizesToMemoryRead(
    OpOperand &, const bufferization::AnalysisState &) {
  return false;
}
bool DgsuSelectOp::bufferizesToMemoryWrite(
    OpOperand &, const bufferization::AnalysisState &) {
  return false;
}
bufferization::AliasingValueList
DgsuSelectOp::getAliasingValues(OpOperand &,
                                const bufferization::AnalysisState &) {
  return {};
}

/// The run-time choice writes the selection global; the result is that
/// global (no copy).
LogicalResult
DgsuSelectOp::bufferize(RewriterBase &rewriter,
                        const bufferization::BufferizationOptions &,
                        bufferization::BufferizationState &) {
  Location loc = getLoc();
  Value age = getGlobalMemRef(rewriter, *this, getAge(), loc);
  Value importance = getGlobalMemRef(rewriter, *this, getImportance(), loc);
  Value selection = getGlobalMemRef(rewriter, *this, getSelection(), loc);
  Value scratch = getGlobalMemRef(rewriter, *this, getScratch(), loc);
  if (!age || !importance || !selection || !scratch)
    return emitOpError() << "DGSU state globals missing";
  int64_t channels = cast<MemRefType>(age.getType()).getNumElements();
  Value c = arith::ConstantIndexOp::create(rewriter, loc, channels);
  Value ratio = arith::ConstantOp::create(rewriter, loc, getRatioAttr());
  RuntimeCallOp::create(
      rewriter, loc, TypeRange{},
      RuntimeFunctionAttr::get(getContext(), RuntimeFunction::dgsu_select),
      ValueRange{age, importance, c, ratio, selection, scratch},
      DenseI64ArrayAttr());
  bufferization::replaceOpWithBufferizedValues(rewriter, *this, selection);
  return success();
}

bool DgsuImportanceOp::bufferizesToMemoryRead(
    OpOperand &, const bufferization::AnalysisState &) {
  return true;
}
bool DgsuImportanceOp::bufferizesToMemoryWrite(
    OpOperand &, const bufferization::AnalysisState &) {
  return false;
}
bufferization::AliasingValueList
DgsuImportanceOp::getAliasingValues(OpOperand &,
                                    const bufferization::AnalysisState &) {
  return {};
}

/// importance[c] = decay importance[c] + (1 - decay) mean|x[:, c]|
/// ||w[.., c, ..]|| as loops over the channels.
LogicalResult
DgsuImportanceOp::bufferize(RewriterBase &rewriter,
                            const bufferization::BufferizationOptions &options,
                            bufferization::BufferizationState &state) {
  Location loc = getLoc();
  FailureOr<Value> x = getBuffer(rewriter, getInput(), options, state);
  FailureOr<Value> w = getBuffer(rewriter, getWeight(), options, state);
  if (failed(x) || failed(w))
    return failure();
  Value imp = getGlobalMemRef(rewriter, *this, getImportance(), loc);
  if (!imp)
    return emitOpError() << "DGSU importance global missing";
  auto xs = getInput().getType().getShape();
  auto ws = getWeight().getType().getShape();
  int64_t axis = getWeightAxis();
  int64_t channels = xs[1];
  float decay = getDecay().convertToFloat();
  auto idx = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(rewriter, loc, v);
  };
  auto f32 = [&](float v) -> Value {
    return arith::ConstantOp::create(rewriter, loc,
                                     rewriter.getF32FloatAttr(v));
  };
  OpBuilder::InsertionGuard guard(rewriter);
  auto channelLoop =
      scf::ForOp::create(rewriter, loc, idx(0), idx(channels), idx(1));
  rewriter.setInsertionPointToStart(channelLoop.getBody());
  Value c = channelLoop.getInductionVar();
  // Sum of f(element) over every index of `shape` but `fixed` (= c).
  auto sumOver = [&](Value buf, ArrayRef<int64_t> shape, int64_t fixed,
                     bool square) -> Value {
    OpBuilder::InsertionGuard g(rewriter);
    Value acc = f32(0.0f);
    SmallVector<Value> ivs(shape.size());
    SmallVector<scf::ForOp> loops;
    for (size_t d = 0; d < shape.size(); ++d) {
      if ((int64_t)d == fixed) {
        ivs[d] = c;
        continue;
      }
      auto loop = scf::ForOp::create(rewriter, loc, idx(0), idx(shape[d]),
                                     idx(1), ValueRange{acc});
      if (!loops.empty())
        scf::YieldOp::create(rewriter, loc, loop.getResults());
      loops.push_back(loop);
      ivs[d] = loop.getInductionVar();
      acc = loop.getRegionIterArgs()[0];
      rewriter.setInsertionPointToStart(loop.getBody());
    }
    Value v = memref::LoadOp::create(rewriter, loc, buf, ivs);
    Value t = square ? arith::MulFOp::create(rewriter, loc, v, v).getResult()
                     : math::AbsFOp::create(rewriter, loc, v).getResult();
    Value next = arith::AddFOp::create(rewriter, loc, acc, t);
    if (loops.empty())
      return next;
    scf::YieldOp::create(rewriter, loc, next);
    return loops.front().getResult(0);
  };
  Value absSum = sumOver(*x, xs, 1, /*square=*/false);
  Value sq = sumOver(*w, ws, axis, /*square=*/true);
  int64_t count = getInput().getType().getNumElements() / channels;
  Value mean = arith::DivFOp::create(rewriter, loc, absSum, f32((float)count));
  Value score = arith::MulFOp::create(rewriter, loc, mean,
                                      math::SqrtOp::create(rewriter, loc, sq));
  Value old = memref::LoadOp::create(rewriter, loc, imp, ValueRange{c});
  Value updated = arith::AddFOp::create(
      rewriter, loc, arith::MulFOp::create(rewriter, loc, old, f32(decay)),
      arith::MulFOp::create(rewriter, loc, score, f32(1.0f - decay)));
  memref::StoreOp::create(rewriter, loc, updated, imp, ValueRange{c});
  rewriter.setInsertionPointAfter(channelLoop);
  rewriter.eraseOp(*this);
  return success();
}

//===----------------------------------------------------------------------===//
// TinyProp
//===----------------------------------------------------------------------===//

void TopkErrorOp::build(OpBuilder &b, OperationState &state, Value error,
                        int64_t kmax, int64_t layer, int64_t depth, float sMin,
                        float sMax, float zeta, float tau) {
  auto i32 = b.getI32Type();
  build(b, state, error.getType(), RankedTensorType::get({kmax}, i32),
        RankedTensorType::get({1}, i32), error, b.getI64IntegerAttr(layer),
        b.getI64IntegerAttr(depth), b.getF32FloatAttr(sMin),
        b.getF32FloatAttr(sMax), b.getF32FloatAttr(zeta),
        b.getF32FloatAttr(tau));
}

LogicalResult TopkErrorOp::verify() {
  auto t = getError().getType();
  if (t.getRank() < 1 || t.getDimSize(0) != 1)
    return emitOpError() << "selects per sample: the batch must be 1";
  int64_t kmax = getIndices().getType().getDimSize(0);
  if (kmax < 1 || kmax > t.getNumElements())
    return emitOpError() << "kmax " << kmax << " outside [1, "
                         << t.getNumElements() << "]";
  if (getCount().getType().getDimSize(0) != 1)
    return emitOpError() << "count holds one value";
  return success();
}

bool TopkErrorOp::bufferizesToMemoryRead(OpOperand &,
                                         const bufferization::AnalysisState &) {
  return true;
}
bool TopkErrorOp::bufferizesToMemoryWrite(
    OpOperand &, const bufferization::AnalysisState &) {
  return true; // zeroes the unselected errors in place
}
bufferization::AliasingValueList
TopkErrorOp::getAliasingValues(OpOperand &,
                               const bufferization::AnalysisState &) {
  return {{getKept(), bufferization::BufferRelation::Equivalent}};
}

LogicalResult
TopkErrorOp::bufferize(RewriterBase &rewriter,
                       const bufferization::BufferizationOptions &options,
                       bufferization::BufferizationState &state) {
  Location loc = getLoc();
  FailureOr<Value> error = getBuffer(rewriter, getError(), options, state);
  if (failed(error))
    return failure();
  Value ymax = getGlobalMemRef(rewriter, *this, kTinyPropYMaxGlobal, loc);
  Value ratios = getGlobalMemRef(rewriter, *this, kTinyPropRatioGlobal, loc);
  Value skip = getGlobalMemRef(rewriter, *this, kSkipStepGlobal, loc);
  if (!ymax || !ratios || !skip)
    return emitOpError() << "TinyProp state globals missing";
  auto i32 = rewriter.getI32Type();
  int64_t kmax = getIndices().getType().getDimSize(0);
  Value indices =
      memref::AllocOp::create(rewriter, loc, MemRefType::get({kmax}, i32));
  Value count =
      memref::AllocOp::create(rewriter, loc, MemRefType::get({1}, i32));
  auto index = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(rewriter, loc, v);
  };
  auto f32 = [&](FloatAttr a) -> Value {
    return arith::ConstantOp::create(rewriter, loc, a);
  };
  Value depth = arith::ConstantOp::create(
      rewriter, loc, rewriter.getI32IntegerAttr(getDepth()));
  auto call = RuntimeCallOp::create(
      rewriter, loc, TypeRange{},
      RuntimeFunctionAttr::get(getContext(), RuntimeFunction::tinyprop_select),
      ValueRange{*error, index(getError().getType().getNumElements()),
                 index(kmax), ymax, ratios, index(getLayer()), depth,
                 f32(getSMinAttr()), f32(getSMaxAttr()), f32(getZetaAttr()),
                 f32(getTauAttr()), indices, count, skip},
      DenseI64ArrayAttr());
  // guard-backward puts the backward ops after this call under its decision.
  if (getTau().convertToFloat() > 0.0f)
    call->setAttr("mcutrain.skip_decision", rewriter.getUnitAttr());
  bufferization::replaceOpWithBufferizedValues(
      rewriter, *this, ValueRange{*error, indices, count});
  return success();
}

bool FiniteGuardOp::bufferizesToMemoryRead(
    OpOperand &, const bufferization::AnalysisState &) {
  return true;
}
bool FiniteGuardOp::bufferizesToMemoryWrite(
    OpOperand &, const bufferization::AnalysisState &) {
  return false;
}
bufferization::AliasingValueList
FiniteGuardOp::getAliasingValues(OpOperand &,
                                 const bufferization::AnalysisState &) {
  return {};
}

LogicalResult
FiniteGuardOp::bufferize(RewriterBase &rewriter,
                         const bufferization::BufferizationOptions &options,
                         bufferization::BufferizationState &state) {
  Location loc = getLoc();
  FailureOr<Value> loss = getBuffer(rewriter, getLoss(), options, state);
  if (failed(loss))
    return failure();
  Value skip = getGlobalMemRef(rewriter, *this, kSkipStepGlobal, loc);
  if (!skip)
    return emitOpError() << "global " << kSkipStepGlobal << " missing";
  auto call = RuntimeCallOp::create(
      rewriter, loc, TypeRange{},
      RuntimeFunctionAttr::get(getContext(),
                               RuntimeFunction::skip_unless_finite),
      ValueRange{*loss, arith::ConstantIndexOp::create(rewriter, loc, 1), skip},
      DenseI64ArrayAttr());
  call->setAttr("mcutrain.skip_decision", rewriter.getUnitAttr());
  rewriter.eraseOp(*this);
  return success();
}

template <typename Op> static LogicalResult verifySparseConvGrad(Op op) {
  auto dy = op.getOutputGrad().getType();
  if (dy.getDimSize(0) != 1)
    return op.emitOpError() << "selects per sample: the batch must be 1";
  if (op.getCount().getType().getDimSize(0) != 1)
    return op.emitOpError() << "count holds one value";
  if (op.getStrides().size() != 2 || op.getPads().size() != 4 ||
      op.getDilations().size() != 2)
    return op.emitOpError() << "expects 2 strides, 4 pads, 2 dilations";
  return success();
}
LogicalResult SparseConv2dGradWeightOp::verify() {
  return verifySparseConvGrad(*this);
}
LogicalResult SparseConv2dGradInputOp::verify() {
  return verifySparseConvGrad(*this);
}

int64_t SparseConv2dGradWeightOp::getMacsPerElement() {
  auto w = getWeightGrad().getType().getShape();
  return w[1] * w[2] * w[3];
}
int64_t SparseConv2dGradInputOp::getMacsPerElement() {
  auto w = getWeight().getType().getShape();
  return w[1] * w[2] * w[3];
}
int64_t SparseConv2dGradWeightOp::getMacs() {
  return getIndices().getType().getDimSize(0) * getMacsPerElement();
}
int64_t SparseConv2dGradInputOp::getMacs() {
  return getIndices().getType().getDimSize(0) * getMacsPerElement();
}
int64_t SparseConv2dGradWeightOp::getDenseMacs() {
  return getOutputGrad().getType().getNumElements() * getMacsPerElement();
}
int64_t SparseConv2dGradInputOp::getDenseMacs() {
  return getOutputGrad().getType().getNumElements() * getMacsPerElement();
}

bool SparseConv2dGradWeightOp::bufferizesToMemoryRead(
    OpOperand &, const bufferization::AnalysisState &) {
  return true;
}
bool SparseConv2dGradWeightOp::bufferizesToMemoryWrite(
    OpOperand &, const bufferization::AnalysisState &) {
  return false;
}
bufferization::AliasingValueList SparseConv2dGradWeightOp::getAliasingValues(
    OpOperand &, const bufferization::AnalysisState &) {
  return {};
}
bool SparseConv2dGradInputOp::bufferizesToMemoryRead(
    OpOperand &, const bufferization::AnalysisState &) {
  return true;
}
bool SparseConv2dGradInputOp::bufferizesToMemoryWrite(
    OpOperand &, const bufferization::AnalysisState &) {
  return false;
}
bufferization::AliasingValueList SparseConv2dGradInputOp::getAliasingValues(
    OpOperand &, const bufferization::AnalysisState &) {
  return {};
}

/// The loops of both sparse conv gradients: for each selected output
/// element (co, oh, ow) of a batch-1 error and each tap (cl, kh, kw) of its
/// group's window that falls inside the input, calls `body(co, cl, kh, kw,
/// ci, ih, iw, error)` (all index values but the f32 error). Then adds the
/// MACs done to mcutrain_dynamic_macs.
template <typename Op>
static LogicalResult
buildSparseConvLoops(RewriterBase &rewriter, Op op, Value dy, Value indices,
                     Value count, ArrayRef<int64_t> ws, ArrayRef<int64_t> xs,
                     function_ref<void(OpBuilder &, ValueRange, Value)> body) {
  Location loc = op.getLoc();
  auto ys = op.getOutputGrad().getType().getShape();
  auto s = op.getStrides(), p = op.getPads(), dl = op.getDilations();
  int64_t group = op.getGroup(), outPerGroup = ws[0] / group;
  auto index = [&](OpBuilder &b, int64_t v) -> Value {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  auto i32 = [&](OpBuilder &b, int64_t v) -> Value {
    return arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(v));
  };
  auto toIndex = [&](OpBuilder &b, Value v) -> Value {
    return arith::IndexCastOp::create(b, loc, b.getIndexType(), v);
  };
  auto toI32 = [&](OpBuilder &b, Value v) -> Value {
    return arith::IndexCastOp::create(b, loc, b.getI32Type(), v);
  };
  Value k = memref::LoadOp::create(rewriter, loc, count,
                                   ValueRange{index(rewriter, 0)});
  auto selected = scf::ForOp::create(rewriter, loc, index(rewriter, 0),
                                     toIndex(rewriter, k), index(rewriter, 1));
  {
    OpBuilder::InsertionGuard g(rewriter);
    rewriter.setInsertionPointToStart(selected.getBody());
    OpBuilder &b = rewriter;
    Value e = memref::LoadOp::create(b, loc, indices,
                                     ValueRange{selected.getInductionVar()});
    Value plane = i32(b, ys[2] * ys[3]);
    Value co = arith::DivSIOp::create(b, loc, e, plane);
    Value rest = arith::RemSIOp::create(b, loc, e, plane);
    Value oh = arith::DivSIOp::create(b, loc, rest, i32(b, ys[3]));
    Value ow = arith::RemSIOp::create(b, loc, rest, i32(b, ys[3]));
    Value err =
        memref::LoadOp::create(b, loc, dy,
                               ValueRange{index(b, 0), toIndex(b, co),
                                          toIndex(b, oh), toIndex(b, ow)});
    Value firstChannel = arith::MulIOp::create(
        b, loc, arith::DivSIOp::create(b, loc, co, i32(b, outPerGroup)),
        i32(b, ws[1]));
    // ih = oh s0 - p0 + kh d0 (i32: may be negative at the padding).
    Value ih0 = arith::SubIOp::create(
        b, loc, arith::MulIOp::create(b, loc, oh, i32(b, s[0])), i32(b, p[0]));
    Value iw0 = arith::SubIOp::create(
        b, loc, arith::MulIOp::create(b, loc, ow, i32(b, s[1])), i32(b, p[1]));
    auto cl =
        scf::ForOp::create(b, loc, index(b, 0), index(b, ws[1]), index(b, 1));
    b.setInsertionPointToStart(cl.getBody());
    auto kh =
        scf::ForOp::create(b, loc, index(b, 0), index(b, ws[2]), index(b, 1));
    b.setInsertionPointToStart(kh.getBody());
    Value ih = arith::AddIOp::create(
        b, loc, ih0,
        arith::MulIOp::create(b, loc, toI32(b, kh.getInductionVar()),
                              i32(b, dl[0])));
    auto kw =
        scf::ForOp::create(b, loc, index(b, 0), index(b, ws[3]), index(b, 1));
    b.setInsertionPointToStart(kw.getBody());
    Value iw = arith::AddIOp::create(
        b, loc, iw0,
        arith::MulIOp::create(b, loc, toI32(b, kw.getInductionVar()),
                              i32(b, dl[1])));
    auto inside = [&](Value v, int64_t n) {
      Value lo = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sge, v,
                                       i32(b, 0));
      Value hi = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, v,
                                       i32(b, n));
      return arith::AndIOp::create(b, loc, lo, hi);
    };
    Value in =
        arith::AndIOp::create(b, loc, inside(ih, xs[2]), inside(iw, xs[3]));
    auto tap = scf::IfOp::create(b, loc, in, /*withElseRegion=*/false);
    b.setInsertionPointToStart(&tap.getThenRegion().front());
    Value ci = arith::AddIOp::create(b, loc, firstChannel,
                                     toI32(b, cl.getInductionVar()));
    body(b,
         ValueRange{toIndex(b, co), cl.getInductionVar(), kh.getInductionVar(),
                    kw.getInductionVar(), toIndex(b, ci), toIndex(b, ih),
                    toIndex(b, iw)},
         err);
  }
  // The MACs this step really did: k x (taps per element).
  Value macs = getGlobalMemRef(rewriter, op, kDynamicMacsGlobal, loc);
  if (!macs)
    return op.emitOpError() << "global " << kDynamicMacsGlobal << " missing";
  Value zero = index(rewriter, 0);
  Value old = memref::LoadOp::create(rewriter, loc, macs, ValueRange{zero});
  Value done = arith::MulIOp::create(
      rewriter, loc,
      arith::ExtSIOp::create(rewriter, loc, rewriter.getI64Type(), k),
      arith::ConstantOp::create(
          rewriter, loc, rewriter.getI64IntegerAttr(op.getMacsPerElement())));
  memref::StoreOp::create(rewriter, loc,
                          arith::AddIOp::create(rewriter, loc, old, done), macs,
                          ValueRange{zero});
  return success();
}

/// A zero-filled buffer for a sparse gradient's result.
static Value zeroedBuffer(RewriterBase &rewriter, Location loc,
                          RankedTensorType type) {
  Value buf = memref::AllocOp::create(
      rewriter, loc, MemRefType::get(type.getShape(), type.getElementType()));
  Value zero =
      arith::ConstantOp::create(rewriter, loc, rewriter.getF32FloatAttr(0.0f));
  linalg::FillOp::create(rewriter, loc, zero, buf);
  return buf;
}

LogicalResult SparseConv2dGradWeightOp::bufferize(
    RewriterBase &rewriter, const bufferization::BufferizationOptions &options,
    bufferization::BufferizationState &state) {
  FailureOr<Value> dy = getBuffer(rewriter, getOutputGrad(), options, state);
  FailureOr<Value> x = getBuffer(rewriter, getInput(), options, state);
  FailureOr<Value> idx = getBuffer(rewriter, getIndices(), options, state);
  FailureOr<Value> cnt = getBuffer(rewriter, getCount(), options, state);
  if (failed(dy) || failed(x) || failed(idx) || failed(cnt))
    return failure();
  Location loc = getLoc();
  Value dw = zeroedBuffer(rewriter, loc, getWeightGrad().getType());
  // dW[co, cl, kh, kw] += error * x[0, ci, ih, iw]
  if (failed(buildSparseConvLoops(
          rewriter, *this, *dy, *idx, *cnt,
          getWeightGrad().getType().getShape(), getInput().getType().getShape(),
          [&](OpBuilder &b, ValueRange iv, Value err) {
            Value zero = arith::ConstantIndexOp::create(b, loc, 0);
            Value xv = memref::LoadOp::create(
                b, loc, *x, ValueRange{zero, iv[4], iv[5], iv[6]});
            ValueRange at = iv.take_front(4);
            Value old = memref::LoadOp::create(b, loc, dw, at);
            Value m = arith::MulFOp::create(b, loc, err, xv);
            memref::StoreOp::create(
                b, loc, arith::AddFOp::create(b, loc, old, m), dw, at);
          })))
    return failure();
  bufferization::replaceOpWithBufferizedValues(rewriter, *this, dw);
  return success();
}

LogicalResult SparseConv2dGradInputOp::bufferize(
    RewriterBase &rewriter, const bufferization::BufferizationOptions &options,
    bufferization::BufferizationState &state) {
  FailureOr<Value> dy = getBuffer(rewriter, getOutputGrad(), options, state);
  FailureOr<Value> w = getBuffer(rewriter, getWeight(), options, state);
  FailureOr<Value> idx = getBuffer(rewriter, getIndices(), options, state);
  FailureOr<Value> cnt = getBuffer(rewriter, getCount(), options, state);
  if (failed(dy) || failed(w) || failed(idx) || failed(cnt))
    return failure();
  Location loc = getLoc();
  Value dx = zeroedBuffer(rewriter, loc, getInputGrad().getType());
  // dX[0, ci, ih, iw] += error * W[co, cl, kh, kw]
  if (failed(buildSparseConvLoops(
          rewriter, *this, *dy, *idx, *cnt, getWeight().getType().getShape(),
          getInputGrad().getType().getShape(),
          [&](OpBuilder &b, ValueRange iv, Value err) {
            Value zero = arith::ConstantIndexOp::create(b, loc, 0);
            Value wv = memref::LoadOp::create(b, loc, *w, iv.take_front(4));
            SmallVector<Value> at{zero, iv[4], iv[5], iv[6]};
            Value old = memref::LoadOp::create(b, loc, dx, at);
            Value m = arith::MulFOp::create(b, loc, err, wv);
            memref::StoreOp::create(
                b, loc, arith::AddFOp::create(b, loc, old, m), dx, at);
          })))
    return failure();
  bufferization::replaceOpWithBufferizedValues(rewriter, *this, dx);
  return success();
}

#define GET_OP_CLASSES
#include "dialects/Train/TrainOps.cpp.inc"
