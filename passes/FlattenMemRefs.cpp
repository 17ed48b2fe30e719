//===- FlattenMemRefs.cpp - every memref 1-D, indices linearized ----------===//
#include "passes/Passes.h"

#include "mlir/IR/BuiltinAttributes.h"

namespace mcutrain {
#define GEN_PASS_DEF_FLATTENMEMREFSPASS
#include "passes/Passes.h.inc"
} // namespace mcutrain

using namespace mlir;
using namespace mcutrain;

namespace {

MemRefType flatType(MemRefType t) {
  return MemRefType::get({std::max<int64_t>(t.getNumElements(), 1)},
                         t.getElementType());
}

/// Row-major linear index of `indices` into a contiguous buffer of `shape`.
Value linearize(OpBuilder &b, Location loc, ValueRange indices,
                ArrayRef<int64_t> shape) {
  if (indices.empty())
    return arith::ConstantIndexOp::create(b, loc, 0);
  Value lin = indices[0];
  for (size_t i = 1; i < indices.size(); ++i) {
    Value dim = arith::ConstantIndexOp::create(b, loc, shape[i]);
    lin = arith::MulIOp::create(b, loc, lin, dim);
    lin = arith::AddIOp::create(b, loc, lin, indices[i]);
  }
  return lin;
}

/// Every buffer must be contiguous, or linear indices would be wrong.
LogicalResult checkLayouts(ModuleOp module) {
  WalkResult r = module.walk([&](Operation *op) {
    for (Type t :
         llvm::concat<Type>(op->getOperandTypes(), op->getResultTypes()))
      if (auto m = dyn_cast<MemRefType>(t))
        if (!m.getLayout().isIdentity() || !m.hasStaticShape()) {
          op->emitError("buffer with a non-identity layout or dynamic "
                        "shape cannot be flattened: ")
              << m;
          return WalkResult::interrupt();
        }
    return WalkResult::advance();
  });
  return failure(r.wasInterrupted());
}

/// Linear indices of every load and store, computed while the original
/// shapes are known.
SmallVector<std::pair<Operation *, Value>> linearizeAccesses(ModuleOp module,
                                                             OpBuilder &b) {
  SmallVector<std::pair<Operation *, Value>> accesses;
  module.walk([&](Operation *op) {
    if (auto ld = dyn_cast<memref::LoadOp>(op)) {
      b.setInsertionPoint(ld);
      accesses.push_back({ld, linearize(b, ld.getLoc(), ld.getIndices(),
                                        ld.getMemRefType().getShape())});
    } else if (auto st = dyn_cast<memref::StoreOp>(op)) {
      b.setInsertionPoint(st);
      accesses.push_back({st, linearize(b, st.getLoc(), st.getIndices(),
                                        st.getMemRefType().getShape())});
    }
  });
  return accesses;
}

/// Function signatures and globals become 1-D.
LogicalResult flattenSignaturesAndGlobals(ModuleOp module, OpBuilder &b) {
  for (auto func : module.getOps<func::FuncOp>()) {
    if (func.isExternal())
      continue;
    SmallVector<Type> args;
    for (BlockArgument a : func.getArguments()) {
      if (auto m = dyn_cast<MemRefType>(a.getType()))
        a.setType(flatType(m));
      args.push_back(a.getType());
    }
    if (llvm::any_of(func.getResultTypes(), llvm::IsaPred<MemRefType>))
      return func.emitError("memref results must be out-parameters before "
                            "flattening");
    func.setType(b.getFunctionType(args, func.getResultTypes()));
  }
  for (auto g : module.getOps<memref::GlobalOp>()) {
    MemRefType ft = flatType(g.getType());
    g.setType(ft);
    if (auto init =
            dyn_cast_or_null<DenseElementsAttr>(g.getInitialValueAttr()))
      g.setInitialValueAttr(init.reshape(
          RankedTensorType::get(ft.getShape(), ft.getElementType())));
  }
  return success();
}

/// Buffers become 1-D; views of a buffer become the buffer itself.
LogicalResult flattenBuffers(ModuleOp module) {
  SmallVector<Operation *> views;
  WalkResult r = module.walk([&](Operation *op) {
    if (isa<memref::AllocOp, memref::AllocaOp, memref::GetGlobalOp>(op)) {
      op->getResult(0).setType(
          flatType(cast<MemRefType>(op->getResult(0).getType())));
    } else if (isa<memref::CollapseShapeOp, memref::ExpandShapeOp,
                   memref::CastOp>(op)) {
      views.push_back(op);
    } else if (!isa<memref::LoadOp, memref::StoreOp, memref::CopyOp,
                    memref::DeallocOp, func::FuncOp, func::CallOp,
                    train::RuntimeCallOp>(op) &&
               llvm::any_of(op->getOperandTypes(), llvm::IsaPred<MemRefType>)) {
      op->emitError("cannot flatten a buffer used by this op");
      return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  if (r.wasInterrupted())
    return failure();
  for (Operation *v : views) {
    v->getResult(0).replaceAllUsesWith(v->getOperand(0));
    v->erase();
  }
  return success();
}

/// Accesses with one index.
void rewriteAccesses(ArrayRef<std::pair<Operation *, Value>> accesses,
                     OpBuilder &b) {
  for (auto [op, lin] : accesses) {
    b.setInsertionPoint(op);
    if (auto ld = dyn_cast<memref::LoadOp>(op)) {
      Value v = memref::LoadOp::create(b, ld.getLoc(), ld.getMemRef(), lin);
      ld.replaceAllUsesWith(v);
    } else {
      auto st = cast<memref::StoreOp>(op);
      memref::StoreOp::create(b, st.getLoc(), st.getValueToStore(),
                              st.getMemRef(), lin);
    }
    op->erase();
  }
}

/// Copies (rare after bufferization) become one flat loop.
void expandCopies(ModuleOp module, OpBuilder &b) {
  SmallVector<memref::CopyOp> copies;
  module.walk([&](memref::CopyOp c) { copies.push_back(c); });
  for (auto c : copies) {
    b.setInsertionPoint(c);
    Location loc = c.getLoc();
    int64_t n = cast<MemRefType>(c.getSource().getType()).getNumElements();
    Value lb = arith::ConstantIndexOp::create(b, loc, 0);
    Value ub = arith::ConstantIndexOp::create(b, loc, n);
    Value one = arith::ConstantIndexOp::create(b, loc, 1);
    Value src = c.getSource(), dst = c.getTarget();
    scf::ForOp::create(b, loc, lb, ub, one, ValueRange{},
                       [&](OpBuilder &ob, Location l, Value i, ValueRange) {
                         Value v = memref::LoadOp::create(ob, l, src, i);
                         memref::StoreOp::create(ob, l, v, dst, i);
                         scf::YieldOp::create(ob, l);
                       });
    c.erase();
  }
}

struct FlattenMemRefsPass
    : public mcutrain::impl::FlattenMemRefsPassBase<FlattenMemRefsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    OpBuilder b(module.getContext());
    if (failed(checkLayouts(module)))
      return signalPassFailure();
    auto accesses = linearizeAccesses(module, b);
    if (failed(flattenSignaturesAndGlobals(module, b)) ||
        failed(flattenBuffers(module)))
      return signalPassFailure();
    rewriteAccesses(accesses, b);
    expandCopies(module, b);
    // Deallocations are meaningless once buffers live in the arena.
    module.walk([&](memref::DeallocOp d) { d.erase(); });
  }
};

} // namespace
