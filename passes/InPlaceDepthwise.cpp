//===- InPlaceDepthwise.cpp - int8 depthwise layers over their input ------===//
//
// Where it sits: after use-kernels and fuse-conv-chains (the depthwise calls
// the chains did not take), on buffers, before the loops and the planner.
// See Passes.td.
//
// A depthwise layer's output channel reads only its own input channel, and
// qdepthwise2d widens each input row into a ring of rows before the output
// row over it is written: with stride 1 and the output the input's size,
// the output can be the input's buffer when nothing reads the input after
// the layer. MobileNetV2's first block at 128x128 (16 x 64 x 64 int8
// channels in and out) keeps one 65,536-byte tensor instead of two.
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"

#include "runtime/mcutrain_int8_kernels.h"

namespace mcutrain {
#define GEN_PASS_DEF_INPLACEDEPTHWISEPASS
#include "passes/Passes.h.inc"
} // namespace mcutrain

using namespace mlir;
using namespace mcutrain;
using KernelName = train::KernelName;

namespace {

// qdepthwise2d's template arguments (dialects/Train/TrainKernels.td).
enum QDepthwiseArg {
  qN,
  qC,
  qH,
  qW,
  qKH,
  qKW,
  qOH,
  qOW,
  qSH,
  qSW,
  qPT,
  qPL,
  qDH,
  qDW
};

/// The in-place variant of an int8 depthwise kernel, if it has one.
std::optional<KernelName> inPlaceVariant(KernelName k) {
  if (k == KernelName::qdepthwise2d)
    return KernelName::qdepthwise2d_inplace;
  if (k == KernelName::qdepthwise2d_lut)
    return KernelName::qdepthwise2d_lut_inplace;
  return std::nullopt;
}

/// Whether an op after `op` in its block uses `v` or a view of it.
bool readAfter(Value v, Operation *op) {
  for (OpOperand &use : v.getUses()) {
    Operation *top = op->getBlock()->findAncestorOpInBlock(*use.getOwner());
    if (top && op->isBeforeInBlock(top))
      return true;
    if (auto view = dyn_cast<ViewLikeOpInterface>(use.getOwner());
        view && view.getViewSource() == v && readAfter(view->getResult(0), op))
      return true;
  }
  return false;
}

/// Writes `call`'s output over its input when the kernel can (stride 1,
/// same size, a small image's plane fits in its scratch), both are arena
/// buffers of one type and the input dies at the call. Returns whether it
/// did.
bool writeOverInput(train::RuntimeCallOp call) {
  auto kernel = dyn_cast<train::KernelAttr>(call.getCallee());
  std::optional<KernelName> variant =
      kernel ? inPlaceVariant(kernel.getKernel()) : std::nullopt;
  if (!variant)
    return false;
  ArrayRef<int64_t> a = kernel.getArgs();
  if (!kernels::int8::depthwiseInPlaceFits(a[qH], a[qW], a[qKH], a[qKW], a[qOH],
                                           a[qOW], a[qSH], a[qSW], a[qPT],
                                           a[qPL], a[qDH], a[qDW]))
    return false;
  // (x, w, multiplier, shift, offset, [table,] y, scratch)
  OperandRange args = call.getArgs();
  Value x = args.front(), y = args[args.size() - 2];
  auto xAlloc = x.getDefiningOp<memref::AllocOp>();
  auto yAlloc = y.getDefiningOp<memref::AllocOp>();
  if (!xAlloc || !yAlloc || x.getType() != y.getType() || readAfter(x, call))
    return false;
  // Every use of the output must come after the input's buffer is made.
  for (Operation *user : y.getUsers())
    if (!xAlloc->isBeforeInBlock(
            call->getBlock()->findAncestorOpInBlock(*user)))
      return false;
  y.replaceAllUsesWith(x);
  yAlloc.erase();
  call.setCalleeAttr(train::KernelAttr::get(call.getContext(), *variant, a));
  return true;
}

struct InPlaceDepthwisePass
    : public mcutrain::impl::InPlaceDepthwisePassBase<InPlaceDepthwisePass> {
  using InPlaceDepthwisePassBase::InPlaceDepthwisePassBase;

  void runOnOperation() override {
    if (!inPlaceDepthwise)
      return;
    SmallVector<train::RuntimeCallOp> calls;
    getOperation().walk(
        [&](train::RuntimeCallOp call) { calls.push_back(call); });
    int64_t applied = 0;
    for (train::RuntimeCallOp call : calls)
      applied += writeOverInput(call);
    if (applied)
      getOperation()->setAttr(
          kInPlaceDepthwiseAttr,
          Builder(&getContext()).getI64IntegerAttr(applied));
  }
};

} // namespace
