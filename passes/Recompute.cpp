//===- Recompute.cpp - forward tensors recomputed in the backward pass ----===//
//
// Where it sits: the last training pass, after pack-masks (the tensors still
// saved then are those whose values the backward pass reads). See
// Passes.td.
//
// A weight gradient reads its layer's input, so that tensor stays in RAM
// from the forward pass until the backward pass reaches the layer: a
// MobileNet block's expanded activation, six times the block's input, for
// the whole rest of the step. When the op that made it can run again from
// tensors that are cheaper to keep (the block's input, a parameter, the
// step's input), cloning that op (or a short chain of them) right before
// the backward pass's first read trades MACs for bytes, as POET and
// checkpointing do. The clone computes the same op on the same values: the
// same results.
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"

#include "dialects/NN/NN.h"
#include "mlir/Dialect/MLProgram/IR/MLProgram.h"
#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/SetVector.h"

namespace mcutrain {
#define GEN_PASS_DEF_RECOMPUTEPASS
#include "passes/Passes.h.inc"
} // namespace mcutrain

using namespace mlir;
using namespace mcutrain;

namespace {

/// Chains of recomputed ops this long at most (a conv, its BatchNorm, its
/// activation and a pool).
constexpr int kMaxChainOps = 4;

int64_t bytesOf(Value v) { return storageBytes(cast<ShapedType>(v.getType())); }

bool isBackward(Operation *op) { return op->hasAttr("mcutrain.backward"); }

/// A forward op that can run again in the backward pass: a pure nn op with
/// an adjoint (a layer, an activation, a (de)quantization, a pool or view)
/// producing one tensor.
bool isRecomputable(Operation *op) {
  return op && !isBackward(op) && op->getNumResults() == 1 &&
         isa<nn::AutodiffOpInterface>(op) && isPure(op) &&
         isa<RankedTensorType>(op->getResult(0).getType());
}

/// One recomputation: `ops` (producers first) cloned before `at` replace
/// `saved` in its backward reads; `kept` are the forward tensors that now
/// live until `at`.
struct Plan {
  Value saved;
  Operation *at = nullptr;
  llvm::SetVector<Operation *> ops;
  llvm::SetVector<Value> kept;
  int64_t keptBytes = 0, macs = 0, work = 0;
  int64_t netBytes() const { return bytesOf(saved) - keptBytes; }
};

/// The training step's top-level ops in order, and what each reads.
class StepOrder {
public:
  explicit StepOrder(Block &body) : body(body) {
    int64_t i = 0;
    for (Operation &op : body)
      position[&op] = i++;
  }
  int64_t of(Operation *op) const {
    return position.lookup(body.findAncestorOpInBlock(*op));
  }
  Operation *topLevel(Operation *op) const {
    return body.findAncestorOpInBlock(*op);
  }
  /// Whether `v` is read at or after `at` (so it is live there anyway).
  bool liveAt(Value v, Operation *at) const {
    int64_t p = of(at);
    return llvm::any_of(v.getUsers(), [&](Operation *u) {
      return of(u) >= p && readsValue(u, v);
    });
  }
  /// The first top-level backward op reading `v` (not merely naming it: an
  /// activation gradient reads its input or its output); null if none.
  Operation *firstBackwardRead(Value v) const {
    Operation *first = nullptr;
    for (Operation *user : v.getUsers()) {
      Operation *top = topLevel(user);
      if (isBackward(top) && readsValue(user, v) &&
          (!first || of(top) < of(first)))
        first = top;
    }
    return first;
  }
  /// Whether a top-level op before `at` names the global `sym` other than
  /// by loading it (an update writes it: a load after it differs).
  bool writtenBefore(SymbolRefAttr sym, Operation *at) const {
    for (Operation &op : body) {
      if (&op == at)
        return false;
      if (isa<ml_program::GlobalLoadOp>(op))
        continue;
      for (NamedAttribute a : op.getAttrs())
        if (a.getValue() == sym)
          return true;
    }
    return false;
  }

  /// Whether backward work runs between `v`'s last forward read and `at`
  /// (otherwise recomputing it frees nothing: the logits, read by the
  /// loss's gradient as soon as the backward pass starts).
  bool backwardRunsBefore(Value v, Operation *at) const {
    int64_t lastForward = of(v.getDefiningOp());
    for (Operation *user : v.getUsers())
      if (!isBackward(topLevel(user)))
        lastForward = std::max(lastForward, of(user));
    for (Operation *op = at->getPrevNode(); op && of(op) > lastForward;
         op = op->getPrevNode())
      if (isBackward(op))
        return true;
    return false;
  }

private:
  Block &body;
  DenseMap<Operation *, int64_t> position;
};

/// Whether `v` costs nothing to read at `at`: a step argument (the
/// caller's), a constant, or a parameter nothing has updated yet.
bool isFreeAt(Value v, Operation *at, const StepOrder &order) {
  Operation *def = v.getDefiningOp();
  if (!def)
    return true;
  if (auto load = dyn_cast<ml_program::GlobalLoadOp>(def))
    return !order.writtenBefore(load.getGlobalAttr(), at);
  return def->hasTrait<OpTrait::ConstantLike>();
}

/// Adds the ops recomputing `v` before `plan.at` to `plan` (producers
/// first). An operand that is not free and not live there anyway is either
/// kept (its bytes counted) or recomputed too, whichever keeps fewer bytes.
LogicalResult addChain(Value v, Plan &plan, const StepOrder &order,
                       int depth = 1) {
  Operation *op = v.getDefiningOp();
  if (!isRecomputable(op) || depth > kMaxChainOps)
    return failure();
  for (Value u : op->getOperands()) {
    if (isFreeAt(u, plan.at, order) || plan.kept.contains(u) ||
        (u.getDefiningOp() && plan.ops.contains(u.getDefiningOp())))
      continue;
    // A parameter an update has written (in place: a kept load would read
    // the new value too), or a backward value.
    if (isa<ml_program::GlobalLoadOp>(u.getDefiningOp()) ||
        isBackward(u.getDefiningOp()))
      return failure();
    if (order.liveAt(u, plan.at)) {
      plan.kept.insert(u);
      continue;
    }
    Plan deeper = plan;
    if (succeeded(addChain(u, deeper, order, depth + 1)) &&
        deeper.keptBytes < plan.keptBytes + bytesOf(u)) {
      plan = std::move(deeper);
      continue;
    }
    plan.kept.insert(u);
    plan.keptBytes += bytesOf(u);
  }
  plan.ops.insert(op);
  auto mc = cast<nn::MacCountOpInterface>(op);
  plan.macs += mc.getMacs();
  plan.work += mc.getMacs() + cast<ShapedType>(v.getType()).getNumElements();
  return success();
}

/// The recomputation of `saved` (a forward tensor the backward pass reads),
/// if it keeps fewer bytes than it frees.
std::optional<Plan> planFor(Value saved, const StepOrder &order) {
  Plan plan;
  plan.saved = saved;
  plan.at = order.firstBackwardRead(saved);
  if (!plan.at || !order.backwardRunsBefore(saved, plan.at) ||
      failed(addChain(saved, plan, order)) || plan.netBytes() <= 0)
    return std::nullopt;
  // The chain's intermediates are live in the backward pass for a moment,
  // beside its gradients: none may be larger than what is freed (a conv's
  // output recomputed for the max pool after it would add more at the
  // backward peak than it saves across the step).
  for (Operation *op : plan.ops)
    if (bytesOf(op->getResult(0)) > bytesOf(saved))
      return std::nullopt;
  return plan;
}

/// Clones `plan`'s ops before `plan.at`, tagged as backward work that was
/// recomputed, and points the backward reads of the saved tensor at the
/// clone.
Value apply(const Plan &plan, const StepOrder &order) {
  OpBuilder b(plan.at);
  MLIRContext *ctx = b.getContext();
  IRMapping map;
  for (Operation *op : plan.ops) {
    Operation *clone = b.clone(*op, map);
    clone->setAttr("mcutrain.backward", b.getUnitAttr());
    clone->setAttr(kRecomputedAttr, b.getUnitAttr());
    clone->setLoc(FusedLoc::get(ctx, {op->getLoc()},
                                StringAttr::get(ctx, kRecomputedAttr)));
  }
  // Only the uses from `at` on: an earlier backward op may name the tensor
  // without reading it (an activation gradient that reads its output, not
  // its input) and must not name the clone made after it.
  Value saved = plan.saved, recomputed = map.lookup(saved);
  int64_t from = order.of(plan.at);
  saved.replaceUsesWithIf(recomputed, [&](OpOperand &use) {
    Operation *top = order.topLevel(use.getOwner());
    return top && isBackward(top) && order.of(top) >= from;
  });
  return recomputed;
}

/// How the count option reads: none/auto 0, all -1, else the number.
FailureOr<int64_t> parseCount(StringRef text) {
  if (text == "none" || text == "auto")
    return 0;
  if (text == "all")
    return -1;
  int64_t n;
  if (text.getAsInteger(10, n) || n < 0)
    return failure();
  return n;
}

struct RecomputePass : public mcutrain::impl::RecomputePassBase<RecomputePass> {
  using RecomputePassBase::RecomputePassBase;

  void runOnOperation() override {
    FailureOr<int64_t> limit = parseCount(recompute);
    if (failed(limit)) {
      getOperation().emitError("recompute '")
          << recompute << "' is none, auto, all or a count";
      return signalPassFailure();
    }
    func::FuncOp func = getOperation();
    if (func.isExternal() || *limit == 0)
      return;
    Block &body = func.getBody().front();
    SmallVector<Attribute> done;
    llvm::DenseSet<Value> recomputedOnce;
    while (*limit < 0 || static_cast<int64_t>(done.size()) < *limit) {
      StepOrder order(body);
      std::optional<Plan> best = bestPlan(body, order, recomputedOnce);
      if (!best)
        break;
      recomputedOnce.insert(best->saved);
      done.push_back(describe(*best));
      apply(*best, order);
    }
    if (!done.empty())
      func->setAttr(kRecomputedAttr, ArrayAttr::get(&getContext(), done));
  }

  /// The plan freeing the most bytes per unit of recomputed work (MACs plus
  /// elements written).
  std::optional<Plan> bestPlan(Block &body, const StepOrder &order,
                               const llvm::DenseSet<Value> &skip) {
    std::optional<Plan> best;
    for (Operation &op : body) {
      if (isBackward(&op) || op.getNumResults() != 1 ||
          skip.contains(op.getResult(0)))
        continue;
      std::optional<Plan> plan = planFor(op.getResult(0), order);
      if (plan && (!best || plan->netBytes() * best->work >
                                best->netBytes() * plan->work))
        best = std::move(plan);
    }
    return best;
  }

  /// report.json's entry: the tensor (its ONNX node), bytes no longer
  /// saved, bytes kept instead, MACs recomputed.
  Attribute describe(const Plan &plan) {
    Builder b(&getContext());
    SmallVector<NamedAttribute> fields = {
        b.getNamedAttr("tensor", b.getStringAttr(onnxNodeName(
                                     plan.saved.getDefiningOp()->getLoc()))),
        b.getNamedAttr("bytes", b.getI64IntegerAttr(bytesOf(plan.saved))),
        b.getNamedAttr("kept_bytes", b.getI64IntegerAttr(plan.keptBytes)),
        b.getNamedAttr("ops", b.getI64IntegerAttr(plan.ops.size())),
        b.getNamedAttr("macs", b.getI64IntegerAttr(plan.macs))};
    return b.getDictionaryAttr(fields);
  }
};

} // namespace
