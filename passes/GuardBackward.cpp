//===- GuardBackward.cpp - skipped steps do no backward work --------------===//
//
// A step is skipped when its loss is not finite (train.finite_guard) or,
// under TinyPropv2, when the output layer's error is small. The decisions
// are runtime calls that write mcutrain_skip_step; this pass makes the rest
// of the backward pass and the updates conditional on it. It runs after
// planning because the planner works on one straight-line block; the plan stays
// valid since guarded ops keep their order and a skipped op touches no buffer.
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"

#include "llvm/ADT/SmallPtrSet.h"

namespace mcutrain {
#define GEN_PASS_DEF_GUARDBACKWARDPASS
#include "passes/Passes.h.inc"
} // namespace mcutrain

using namespace mlir;
using namespace mcutrain;

namespace {

/// True if `op` or an op nested in it uses a value `moved` defines.
bool usesMoved(Operation *op, const llvm::SmallPtrSetImpl<Operation *> &moved) {
  WalkResult r = op->walk([&](Operation *inner) {
    for (Value v : inner->getOperands())
      if (Operation *def = v.getDefiningOp(); def && moved.contains(def))
        return WalkResult::interrupt();
    return WalkResult::advance();
  });
  return r.wasInterrupted();
}

struct GuardBackwardPass
    : public mcutrain::impl::GuardBackwardPassBase<GuardBackwardPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    for (auto func : module.getOps<func::FuncOp>())
      if (failed(guard(module, func)))
        return signalPassFailure();
  }

  LogicalResult guard(ModuleOp module, func::FuncOp func) {
    if (func.isExternal())
      return success();
    Block &body = func.getBody().front();
    // After the last decision (each only adds reasons to skip).
    Operation *decision = nullptr;
    for (Operation &op : body)
      if (op.hasAttr("mcutrain.skip_decision"))
        decision = &op;
    if (!decision)
      return success();
    auto flag = module.lookupSymbol<memref::GlobalOp>(train::kSkipStepGlobal);
    if (!flag)
      return decision->emitError("skip flag global missing");
    SmallVector<Operation *> guarded;
    llvm::SmallPtrSet<Operation *, 32> moved;
    for (Operation *op = decision->getNextNode(); op != body.getTerminator();
         op = op->getNextNode()) {
      if (isBackwardLoc(op->getLoc()) || usesMoved(op, moved)) {
        guarded.push_back(op);
        moved.insert(op);
        continue;
      }
      // Stays before the guard: must not write what guarded ops read.
      if (!isMemoryEffectFree(op) &&
          !(isa<memref::LoadOp, memref::GetGlobalOp>(op)))
        return op->emitError("writes memory after the step's skip decision "
                             "but is not part of the backward pass");
    }
    if (guarded.empty())
      return success();
    OpBuilder b(body.getTerminator());
    Location loc = decision->getLoc();
    Value flagRef =
        memref::GetGlobalOp::create(b, loc, flag.getType(), flag.getSymName());
    Value zero = arith::ConstantIndexOp::create(b, loc, 0);
    Value skip = memref::LoadOp::create(b, loc, flagRef, ValueRange{zero});
    Value run = arith::CmpIOp::create(
        b, loc, arith::CmpIPredicate::eq, skip,
        arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(0)));
    auto ifOp = scf::IfOp::create(b, loc, run, /*withElseRegion=*/false);
    Operation *yield = ifOp.getThenRegion().front().getTerminator();
    for (Operation *op : guarded)
      op->moveBefore(yield);
    return success();
  }
};

} // namespace
