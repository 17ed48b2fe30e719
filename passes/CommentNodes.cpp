//===- CommentNodes.cpp - ONNX node and phase comments in the C++ ---------===//
//
// After lower-to-emitc: a comment before the code of each ONNX node, so a
// reader of the generated step can tell which loops belong to which layer
// and whether they are its forward pass, its gradient or an update.
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"

#include "mlir/Dialect/EmitC/IR/EmitC.h"
#include "llvm/ADT/StringSet.h"

namespace mcutrain {
#define GEN_PASS_DEF_COMMENTNODESPASS
#include "passes/Passes.h.inc"
} // namespace mcutrain

using namespace mlir;
using namespace mcutrain;

namespace {

/// `name` safe inside a // comment and an emitc.verbatim format string:
/// printable ASCII only (no line break, no trailing backslash continuing
/// the comment onto the next line), no braces.
std::string commentSafe(StringRef name) {
  std::string s;
  for (char c : name)
    s += (c >= 0x20 && c < 0x7f && c != '\\' && c != '{' && c != '}') ? c : '?';
  return s;
}

struct CommentNodesPass
    : public mcutrain::impl::CommentNodesPassBase<CommentNodesPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    // Parameters' locations name them (an update carries its parameter's).
    for (auto g : module.getOps<emitc::GlobalOp>())
      if (auto n = dyn_cast<NameLoc>(g.getLoc()))
        parameters.insert(n.getName().getValue());
    for (auto func : module.getOps<emitc::FuncOp>())
      if (func.getSymName() != "init" && !func.isExternal())
        commentBlock(func.getBody().front(), func.getSymName() == "forward");
  }

  /// The comment for code at `loc`, or "" for code of no node.
  std::string label(Location loc, bool inference) {
    std::string node = onnxNodeName(loc);
    if (node.empty())
      return "";
    bool isParameter = parameters.contains(node);
    if (isRecomputedLoc(loc))
      return "// recomputed: " + commentSafe(node);
    if (!isBackwardLoc(loc))
      return isParameter ? ""
             : inference ? "// " + commentSafe(node)
                         : "// forward: " + commentSafe(node);
    return (isParameter ? "// update of " : "// backward of ") +
           commentSafe(node);
  }

  /// Whether the branches of `ifOp` hold code of other nodes or phases than
  /// its own `text` (the backward pass under its skip guard does; an
  /// update's finiteness check does not).
  bool holdsOtherNodes(emitc::IfOp ifOp, StringRef text, bool inference) {
    WalkResult r = ifOp->walk([&](Operation *op) {
      std::string inner = label(op->getLoc(), inference);
      return !inner.empty() && inner != text ? WalkResult::interrupt()
                                             : WalkResult::advance();
    });
    return r.wasInterrupted();
  }

  /// Comments the runs of `block`'s statements; the branches of an if that
  /// holds several nodes' code get their own.
  void commentBlock(Block &block, bool inference) {
    std::string previous;
    for (Operation &op : llvm::make_early_inc_range(block)) {
      // Declarations (hoisted constants, globals) and returns start no run.
      if (isa<emitc::ConstantOp, emitc::GetGlobalOp, emitc::LiteralOp,
              emitc::ReturnOp, emitc::YieldOp>(op))
        continue;
      std::string text = label(op.getLoc(), inference);
      auto ifOp = dyn_cast<emitc::IfOp>(op);
      if (ifOp && holdsOtherNodes(ifOp, text, inference)) {
        for (Region &r : ifOp->getRegions())
          if (!r.empty())
            commentBlock(r.front(), inference);
        previous.clear();
        continue;
      }
      if (text.empty() || text == previous)
        continue;
      insertComment(op, text);
      previous = text;
    }
  }

  /// Before `op` and the constants of its node right before it (an arena
  /// offset made for it).
  void insertComment(Operation &op, StringRef text) {
    Operation *first = &op;
    while (auto c = dyn_cast_or_null<emitc::ConstantOp>(first->getPrevNode())) {
      if (label(c.getLoc(), false) != label(op.getLoc(), false))
        break;
      first = c;
    }
    OpBuilder b(first);
    emitc::VerbatimOp::create(b, op.getLoc(), text);
  }

  llvm::StringSet<> parameters;
};

} // namespace
