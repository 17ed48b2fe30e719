//===- UseKernels.cpp - marked linalg ops → runtime kernel calls ----------===//
//
// The generic loop nests of convolutions and Gemm vectorize poorly when a
// C++ compiler sees them on one shared arena: every inner loop needs
// run-time alias checks and short rows get unrolled instead of vectorized.
// The kernels in runtime/mcutrain_kernels.h compute the same sums with
// register blocking over restrict pointers and compile-time shapes.
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

namespace mcutrain {
#define GEN_PASS_DEF_USEKERNELSPASS
#include "passes/Passes.h.inc"
} // namespace mcutrain

using namespace mlir;
using namespace mcutrain;

namespace {

bool isContiguous(Value v) {
  auto m = dyn_cast<MemRefType>(v.getType());
  return m && m.hasStaticShape() && m.getLayout().isIdentity();
}

/// The linalg.fill of +0.0 into `out` that comes right before `op` (only
/// ops without memory effects between them), or null.
linalg::FillOp zeroFillBefore(Operation *op, Value out) {
  for (Operation *prev = op->getPrevNode(); prev; prev = prev->getPrevNode()) {
    if (auto fill = dyn_cast<linalg::FillOp>(prev)) {
      if (fill.getDpsInitOperand(0)->get() != out ||
          !matchPattern(fill.value(), m_PosZeroFloat()))
        return {};
      return fill;
    }
    if (!isMemoryEffectFree(prev))
      return {};
  }
  return {};
}

struct UseKernelsPass
    : public mcutrain::impl::UseKernelsPassBase<UseKernelsPass> {
  using UseKernelsPassBase::UseKernelsPassBase;

  void runOnOperation() override {
    SmallVector<linalg::GenericOp> marked;
    getOperation().walk([&](linalg::GenericOp op) {
      if (op->hasAttr(kKernelAttr))
        marked.push_back(op);
    });
    for (linalg::GenericOp op : marked) {
      auto callee = op->getAttrOfType<StringAttr>(kKernelAttr);
      auto operands = op->getAttrOfType<DenseI64ArrayAttr>(kKernelOperandsAttr);
      auto scalars = op->getAttrOfType<DenseF32ArrayAttr>(kKernelScalarsAttr);
      auto overwrite = op->getAttrOfType<StringAttr>(kKernelOverwriteAttr);
      op->removeAttr(kKernelAttr);
      op->removeAttr(kKernelOperandsAttr);
      op->removeAttr(kKernelScalarsAttr);
      op->removeAttr(kKernelOverwriteAttr);
      if (!callee || !operands || !op.hasPureBufferSemantics()) {
        op.emitError("malformed kernel mark");
        return signalPassFailure();
      }
      SmallVector<Value> args;
      for (int64_t i : operands.asArrayRef()) {
        if (i < 0 || i >= (int64_t)op->getNumOperands()) {
          op.emitError("kernel operand index out of range");
          return signalPassFailure();
        }
        args.push_back(op->getOperand(i));
      }
      if (!enabled)
        continue;
      // A strided view keeps the loops: the kernels index dense buffers.
      if (!llvm::all_of(args, isContiguous))
        continue;
      // out = ... where the output was just zeroed: the fill, and the
      // kernel's reading it back, go (for a small Gemm they cost as much as
      // the products).
      StringRef kernel = callee.getValue();
      if (overwrite) {
        if (linalg::FillOp fill =
                zeroFillBefore(op, op.getDpsInitOperand(0)->get())) {
          fill.erase();
          kernel = overwrite.getValue();
        }
      }
      OpBuilder b(op);
      if (scalars)
        for (float v : scalars.asArrayRef())
          args.push_back(
              arith::ConstantOp::create(b, op.getLoc(), b.getF32FloatAttr(v)));
      train::RuntimeCallOp::create(b, op.getLoc(), TypeRange{}, kernel, args,
                                   DenseI64ArrayAttr());
      op.erase();
    }
  }
};

} // namespace
