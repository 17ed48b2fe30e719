//===- ShareFrozenAliases.cpp - frozen aliases read one constant ----------===//
//
// Where it sits: after derive-backward (mutability is final), before
// lowering. See Passes.td.
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"

#include "mlir/Dialect/MLProgram/IR/MLProgram.h"
#include "llvm/ADT/MapVector.h"

namespace mcutrain {
#define GEN_PASS_DEF_SHAREFROZENALIASESPASS
#include "passes/Passes.h.inc"
} // namespace mcutrain

using namespace mlir;
using namespace mcutrain;

namespace {

struct ShareFrozenAliasesPass
    : public mcutrain::impl::ShareFrozenAliasesPassBase<
          ShareFrozenAliasesPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    // Frozen parameters by the initializer they hold, in module order.
    llvm::MapVector<StringAttr, SmallVector<ml_program::GlobalOp>> groups;
    for (auto g : module.getOps<ml_program::GlobalOp>())
      if (!g.getIsMutable() && !g->hasAttr("onnx.constant"))
        if (StringAttr source = initializerOf(g))
          groups[source].push_back(g);
    for (auto &[source, members] : groups) {
      if (members.size() < 2)
        continue;
      // The initializer's own global if it is among them.
      auto own = llvm::find_if(members, [&](ml_program::GlobalOp g) {
        return !g->hasAttr("onnx.alias_of");
      });
      ml_program::GlobalOp shared = own != members.end() ? *own : members[0];
      SmallVector<Attribute> names;
      for (ml_program::GlobalOp g : members) {
        if (g == shared || g.getType() != shared.getType() ||
            g.getValueAttr() != shared.getValueAttr())
          continue;
        if (failed(SymbolTable::replaceAllSymbolUses(g, shared.getSymNameAttr(),
                                                     module)))
          return signalPassFailure();
        names.push_back(g->getAttr("onnx.name"));
        g.erase();
      }
      if (!names.empty())
        shared->setAttr("mcutrain.frozen_aliases",
                        ArrayAttr::get(module.getContext(), names));
    }
  }
};

} // namespace
