//===- PackMasks.cpp - backward reads of predicates as bit-packed masks ---===//
//
// Where it sits: after sparsify and the update fusions (the backward pass
// is final), before recompute, the last training pass. See Passes.td.
//
// A ReLU's output is kept for the backward pass only to ask "> 0?" of each
// element (ReLU6 "inside (0, 6)?", max pooling "is this the window's first
// maximum?"). Where a layer around it trains, its weight gradient reads the
// tensor whole anyway; where none does (frozen layers the error still
// passes through, sparse updates that keep only some channels), 32 bits a
// value are kept for one.
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"

#include "mlir/Dialect/Quant/IR/QuantTypes.h"

#include <optional>

namespace mcutrain {
#define GEN_PASS_DEF_PACKMASKSPASS
#include "passes/Passes.h.inc"
} // namespace mcutrain

using namespace mlir;
using namespace mcutrain;

namespace {

constexpr llvm::StringLiteral kBackwardAttr = "mcutrain.backward";

/// What one backward op asks of the saved tensor: a bound test (lo < x,
/// x < hi) with the value passed where it fails scaled by `offSlope`, or
/// max-pool routing (`pool` set).
struct MaskUse {
  Operation *op;
  std::optional<double> lo, hi;
  std::optional<float> offSlope;
  bool isUnsigned = false;
  nn::MaxPool2dGradOp pool;
  Type quantType; // nn.quantize_grad's test instead of the bounds
};

/// Each dimension's windows do not overlap (or there is one window), so
/// each input element is routed at most one gradient.
bool hasDisjointWindows(nn::MaxPool2dGradOp op) {
  auto k = op.getKernel(), s = op.getStrides(), dl = op.getDilations();
  auto ys = op.getOutputGrad().getType().getShape();
  for (int i = 0; i < 2; ++i)
    if (dl[i] != 1 || (s[i] < k[i] && ys[2 + i] != 1))
      return false;
  return nn::MaxPool2dMaskOp::fieldBits(k) != 0;
}

/// The mask `op` needs of `v`, or nothing when it reads values of `v`.
std::optional<MaskUse> maskUseOf(Operation *op, Value v) {
  MaskUse use{op, {}, {}, {}, false, {}, {}};
  if (auto relu = dyn_cast<nn::ReluGradOp>(op)) {
    if (relu.getOutput() != v || relu.getOutputGrad() == v)
      return std::nullopt;
    use.lo = 0.0;
    return use;
  }
  if (auto act = dyn_cast<nn::ActivationGradOp>(op)) {
    if (act.getOutputGrad() == v)
      return std::nullopt;
    if (act.getKind() == nn::ActivationKind::clip) {
      use.lo = act.getAlpha().convertToDouble();
      use.hi = act.getBeta().convertToDouble();
      return use;
    }
    if (act.getKind() == nn::ActivationKind::leaky_relu) {
      use.lo = 0.0;
      use.offSlope = act.getAlpha().convertToFloat();
      return use;
    }
    return std::nullopt;
  }
  if (auto q = dyn_cast<nn::QOutputGradOp>(op)) {
    if (q.getOutput() != v)
      return std::nullopt;
    // (I64Attr's getters are uint64_t: a signed output's bound is negative.)
    use.lo = double(static_cast<int64_t>(q.getOutputMin()));
    use.hi = double(static_cast<int64_t>(q.getOutputMax()));
    use.isUnsigned = !cast<quant::QuantizedType>(q.getOutputType()).isSigned();
    return use;
  }
  if (auto q = dyn_cast<nn::QuantizeGradOp>(op)) {
    if (q.getInput() != v || q.getOutputGrad() == v ||
        !isa<quant::UniformQuantizedType>(q.getQuantType()))
      return std::nullopt;
    use.quantType = q.getQuantType();
    return use;
  }
  if (auto pool = dyn_cast<nn::MaxPool2dGradOp>(op)) {
    if (pool.getInput() != v || pool.getOutputGrad() == v ||
        !hasDisjointWindows(pool))
      return std::nullopt;
    use.pool = pool;
    return use;
  }
  return std::nullopt;
}

/// The backward reads of `v` if every one is a mask's; else empty.
SmallVector<MaskUse> maskUses(Value v) {
  SmallVector<MaskUse> uses;
  for (Operation *user : v.getUsers()) {
    if (!user->hasAttr(kBackwardAttr))
      continue;
    if (!readsValue(user, v))
      continue;
    std::optional<MaskUse> use = maskUseOf(user, v);
    if (!use)
      return {};
    uses.push_back(*use);
  }
  return uses;
}

RankedTensorType words(MLIRContext *ctx, int64_t n) {
  return RankedTensorType::get({n}, IntegerType::get(ctx, 32));
}

/// A bit per element of `v`.
RankedTensorType maskType(Value v) {
  int64_t n = cast<RankedTensorType>(v.getType()).getNumElements();
  return words(v.getContext(), nn::maskWords(n));
}

/// A window position per output of `pool`.
RankedTensorType poolMaskType(nn::MaxPool2dGradOp pool) {
  int64_t windows = pool.getOutputGrad().getType().getNumElements();
  return words(
      pool.getContext(),
      nn::maskWords(windows, nn::MaxPool2dMaskOp::fieldBits(pool.getKernel())));
}

/// Packs `v`'s masks right after it is made (one per distinct test) and
/// rewrites each backward read to use its mask.
void packMasks(Value v, ArrayRef<MaskUse> uses) {
  OpBuilder b(v.getContext());
  b.setInsertionPointAfterValue(v);
  Location loc = FusedLoc::get(v.getContext(), {v.getLoc()},
                               b.getStringAttr("mcutrain.mask"));
  auto f64 = [&](std::optional<double> x) {
    return x ? b.getF64FloatAttr(*x) : FloatAttr();
  };
  // Tests already packed, by (lo, hi, unsigned); pools by their op attrs.
  SmallVector<std::pair<MaskUse, Value>> packed;
  auto maskFor = [&](MaskUse use) -> Value {
    for (auto &[done, mask] : packed) {
      bool samePool = use.pool && done.pool &&
                      use.pool.getKernel() == done.pool.getKernel() &&
                      use.pool.getStrides() == done.pool.getStrides() &&
                      use.pool.getPads() == done.pool.getPads() &&
                      use.pool.getOutputGrad().getType() ==
                          done.pool.getOutputGrad().getType();
      bool sameTest = !use.pool && !done.pool && use.lo == done.lo &&
                      use.hi == done.hi && use.isUnsigned == done.isUnsigned &&
                      use.quantType == done.quantType;
      if (samePool || sameTest)
        return mask;
    }
    Value mask;
    if (use.pool)
      mask = nn::MaxPool2dMaskOp::create(
          b, loc, poolMaskType(use.pool), v, use.pool.getKernelAttr(),
          use.pool.getStridesAttr(), use.pool.getPadsAttr(),
          b.getDenseI64ArrayAttr(use.pool.getOutputGrad().getType().getShape()),
          use.pool.getIsUnsignedAttr());
    else
      mask = nn::PackMaskOp::create(
          b, loc, maskType(v), v, f64(use.lo), f64(use.hi),
          use.isUnsigned ? b.getUnitAttr() : UnitAttr(),
          use.quantType ? TypeAttr::get(use.quantType) : TypeAttr());
    packed.push_back({use, mask});
    return mask;
  };
  for (MaskUse use : uses) {
    Value mask = maskFor(use);
    OpBuilder at(use.op);
    Value dy = use.op->getOperand(0); // every mask user's output gradient
    Value dx;
    if (use.pool)
      dx = nn::MaxPool2dMaskedGradOp::create(
          at, use.op->getLoc(), use.pool.getInputGrad().getType(), dy, mask,
          use.pool.getKernelAttr(), use.pool.getStridesAttr(),
          use.pool.getPadsAttr());
    else
      dx = nn::MaskedGradOp::create(
          at, use.op->getLoc(), use.op->getResult(0).getType(), dy, mask,
          use.offSlope ? at.getF32FloatAttr(*use.offSlope) : FloatAttr());
    dx.getDefiningOp()->setAttr(kBackwardAttr, at.getUnitAttr());
    use.op->getResult(0).replaceAllUsesWith(dx);
    use.op->erase();
  }
}

struct PackMasksPass : public mcutrain::impl::PackMasksPassBase<PackMasksPass> {
  using PackMasksPassBase::PackMasksPassBase;

  void runOnOperation() override {
    if (!packMasks)
      return;
    // Forward results (the caller's tensors are not the arena's to free).
    SmallVector<Value> saved;
    getOperation().walk([&](Operation *op) {
      if (!op->hasAttr(kBackwardAttr) && isa<nn::NNDialect>(op->getDialect()))
        for (Value r : op->getResults())
          saved.push_back(r);
    });
    for (Value v : saved) {
      SmallVector<MaskUse> uses = maskUses(v);
      if (!uses.empty())
        ::packMasks(v, uses);
    }
  }
};

} // namespace
