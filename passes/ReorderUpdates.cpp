//===- ReorderUpdates.cpp - in-place updates as early as legal ------------===//
#include "passes/Passes.h"

#include "mlir/Dialect/MLProgram/IR/MLProgram.h"

namespace mcutrain {
#define GEN_PASS_DEF_REORDERUPDATESPASS
#include "passes/Passes.h.inc"
} // namespace mcutrain

using namespace mlir;
using namespace mcutrain;

namespace {
struct ReorderUpdatesPass
    : public mcutrain::impl::ReorderUpdatesPassBase<ReorderUpdatesPass> {
  void runOnOperation() override {
    func::FuncOp func = getOperation();
    if (!func.getBody().hasOneBlock())
      return;
    Block &block = func.getBody().front();
    SmallVector<train::UpdateOp> updates(block.getOps<train::UpdateOp>());
    for (train::UpdateOp upd : updates) {
      // The update must follow its gradient and every read of the old value
      // (the ops that use a load of the same global).
      Operation *latest = upd.getGrad().getDefiningOp();
      auto later = [&](Operation *op) {
        while (op && op->getBlock() != &block)
          op = op->getParentOp();
        if (op && (!latest || latest->isBeforeInBlock(op)))
          latest = op;
      };
      for (auto load : block.getOps<ml_program::GlobalLoadOp>()) {
        if (load.getGlobal().getLeafReference() != upd.getParamAttr().getAttr())
          continue;
        later(load);
        for (Operation *user : load->getUsers())
          later(user);
      }
      if (!latest || latest == upd.getOperation())
        continue;
      // Reads after the update would see the new value: refuse.
      if (upd->isBeforeInBlock(latest)) {
        upd.emitError("parameter @")
            << upd.getParam() << " is read after its in-place update";
        return signalPassFailure();
      }
      upd->moveAfter(latest);
    }
  }
};
} // namespace
