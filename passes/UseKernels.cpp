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

/// The buffer a view (collapse, expand, subview, cast) is of.
Value rootBuffer(Value v) {
  while (auto view = v.getDefiningOp<ViewLikeOpInterface>())
    v = view.getViewSource();
  return v;
}

/// True if an op strictly between `from` and `to` (one block) may write
/// `buffer` or a view of it.
bool writtenBetween(Value buffer, Operation *from, Operation *to) {
  Value root = rootBuffer(buffer);
  for (Operation *op = from->getNextNode(); op && op != to;
       op = op->getNextNode()) {
    WalkResult r = op->walk([&](Operation *inner) {
      auto effects = dyn_cast<MemoryEffectOpInterface>(inner);
      if (!effects) {
        // Unknown effects (runtime calls): any buffer it is given.
        for (Value v : inner->getOperands())
          if (isa<MemRefType>(v.getType()) && rootBuffer(v) == root)
            return WalkResult::interrupt();
        return WalkResult::advance();
      }
      SmallVector<MemoryEffects::EffectInstance> list;
      effects.getEffects(list);
      for (auto &e : list) {
        if (!isa<MemoryEffects::Write>(e.getEffect()))
          continue;
        Value v = e.getValue();
        if (!v || rootBuffer(v) == root)
          return WalkResult::interrupt();
      }
      return WalkResult::advance();
    });
    if (r.wasInterrupted())
      return true;
  }
  return false;
}

/// When `padded` (read by `kernel`) is lower-to-linalg's spread of another
/// buffer — a fresh buffer, zero-filled, then a copy of every element of
/// the source into it, and read by nothing but `kernel` — the copy.
linalg::GenericOp spreadCopyInto(Value padded, Operation *kernel) {
  auto alloc = padded.getDefiningOp<memref::AllocOp>();
  if (!alloc || alloc->getBlock() != kernel->getBlock())
    return {};
  linalg::FillOp fill;
  linalg::GenericOp copy;
  for (Operation *user : alloc->getUsers()) {
    if (user == kernel)
      continue;
    if (auto f = dyn_cast<linalg::FillOp>(user); f && !fill) {
      fill = f;
      continue;
    }
    if (auto g = dyn_cast<linalg::GenericOp>(user); g && !copy) {
      copy = g;
      continue;
    }
    return {};
  }
  if (!fill || !copy || fill.getDpsInitOperand(0)->get() != padded ||
      !matchPattern(fill.value(), m_PosZeroFloat()) ||
      copy.getNumDpsInputs() != 1 || copy.getNumDpsInits() != 1 ||
      copy.getDpsInitOperand(0)->get() != padded ||
      copy.getNumParallelLoops() != copy.getNumLoops() ||
      !fill->isBeforeInBlock(copy) || !copy->isBeforeInBlock(kernel))
    return {};
  // The body only yields the source element.
  Block &body = copy.getRegion().front();
  auto yield = cast<linalg::YieldOp>(body.getTerminator());
  if (&body.front() != yield.getOperation() ||
      yield.getValues().front() != body.getArgument(0))
    return {};
  Value source = copy.getDpsInputOperand(0)->get();
  if (!isContiguous(source) || writtenBetween(source, copy, kernel))
    return {};
  return copy;
}

/// Users of `v` other than `except`, all after `op` in its block (or none).
bool onlyUsedAfter(Value v, Operation *op, ArrayRef<Operation *> except) {
  return llvm::all_of(v.getUsers(), [&](Operation *user) {
    if (llvm::is_contained(except, user))
      return true;
    // A read inside a later op's region (a max-pool mask's window loads)
    // counts where that op is.
    Operation *at = op->getBlock()->findAncestorOpInBlock(*user);
    return at && at != op && op->isBeforeInBlock(at);
  });
}

/// lower-to-linalg's start of a convolution's output `out` from its bias:
/// a generic before `kernel` that writes every element of `out` from a
/// vector indexed by the channel (dimension 1).
linalg::GenericOp biasBroadcastInto(Value out, Operation *kernel) {
  for (Operation *user : out.getUsers()) {
    auto g = dyn_cast<linalg::GenericOp>(user);
    if (!g || g->getBlock() != kernel->getBlock() ||
        !g->isBeforeInBlock(kernel) || g.getNumDpsInputs() != 1 ||
        g.getNumDpsInits() != 1 || g.getDpsInitOperand(0)->get() != out ||
        g.getNumParallelLoops() != g.getNumLoops())
      continue;
    auto maps = g.getIndexingMapsArray();
    Value bias = g.getDpsInputOperand(0)->get();
    auto rank = cast<MemRefType>(out.getType()).getRank();
    Block &body = g.getRegion().front();
    auto yield = cast<linalg::YieldOp>(body.getTerminator());
    if (rank < 2 || !isContiguous(bias) ||
        cast<MemRefType>(bias.getType()).getRank() != 1 ||
        maps[0] !=
            AffineMap::get(rank, 0, getAffineDimExpr(1, g.getContext())) ||
        !maps[1].isIdentity() || &body.front() != yield.getOperation() ||
        yield.getValues().front() != body.getArgument(0))
      continue;
    return g;
  }
  return {};
}

/// The activation gradient (lower-to-linalg's mark) that is the only
/// reader of the input gradient `out` that `kernel` accumulates into a
/// zero-filled fresh buffer: ins (out, the activation's output), a fresh
/// buffer out, both read and written whole; or null.
linalg::GenericOp activationGradOf(Value out, Operation *kernel) {
  auto alloc = out.getDefiningOp<memref::AllocOp>();
  if (!alloc || alloc->getBlock() != kernel->getBlock() ||
      llvm::range_size(out.getUsers()) != 3)
    return {};
  linalg::FillOp fill;
  linalg::GenericOp mask;
  for (Operation *user : out.getUsers()) {
    if (user == kernel)
      continue;
    if (auto f = dyn_cast<linalg::FillOp>(user))
      fill = f;
    else if (auto g = dyn_cast<linalg::GenericOp>(user);
             g && g->hasAttr(kActivationGradAttr))
      mask = g;
  }
  if (!fill || !mask || fill.getDpsInitOperand(0)->get() != out ||
      !matchPattern(fill.value(), m_PosZeroFloat()) ||
      fill->getBlock() != kernel->getBlock() ||
      !fill->isBeforeInBlock(kernel) ||
      mask->getBlock() != kernel->getBlock() || !kernel->isBeforeInBlock(mask))
    return {};
  auto bounds = mask->getAttrOfType<DenseF32ArrayAttr>(kActivationBoundsAttr);
  if (!bounds || bounds.size() != 2 || mask.getNumDpsInputs() != 2 ||
      mask.getNumDpsInits() != 1 || mask.getDpsInputOperand(0)->get() != out ||
      !llvm::all_of(mask.getIndexingMapsArray(),
                    [](AffineMap m) { return m.isIdentity(); }))
    return {};
  Value saved = mask.getDpsInputOperand(1)->get();
  Value result = mask.getDpsInitOperand(0)->get();
  auto resultAlloc = result.getDefiningOp<memref::AllocOp>();
  Operation *savedDef = saved.getDefiningOp();
  if (!isContiguous(saved) || !resultAlloc ||
      resultAlloc->getBlock() != kernel->getBlock() ||
      !onlyUsedAfter(result, mask, {mask}) ||
      (savedDef && (savedDef->getBlock() != kernel->getBlock() ||
                    !savedDef->isBeforeInBlock(kernel))) ||
      writtenBetween(saved, kernel, mask))
    return {};
  return mask;
}

/// A fused kernel ending with the activation `kind` (its Act argument).
train::KernelAttr withActivation(train::KernelAttr fused,
                                 train::FusedActivation kind) {
  return fused.withLastArg(static_cast<int64_t>(kind));
}

/// The kernel marks lower-to-linalg puts on a generic op (removed from it
/// as they are read).
struct KernelMarks {
  train::KernelAttr callee, planes, biasAct, planesBiasAct, gradAct,
      planesGradAct;
  DenseI64ArrayAttr operands;
  DenseF32ArrayAttr scalars;
  IntegerAttr spreadOperand, scratchBytes;
  bool overwrite = false;

  static KernelMarks take(linalg::GenericOp op) {
    auto kernel = [&](StringRef name) {
      return op->getAttrOfType<train::KernelAttr>(name);
    };
    KernelMarks m;
    m.callee = kernel(kKernelAttr);
    m.operands = op->getAttrOfType<DenseI64ArrayAttr>(kKernelOperandsAttr);
    m.scalars = op->getAttrOfType<DenseF32ArrayAttr>(kKernelScalarsAttr);
    m.overwrite = op->hasAttr(kKernelOverwriteAttr);
    m.planes = kernel(kKernelPlanesAttr);
    m.spreadOperand = op->getAttrOfType<IntegerAttr>(kKernelSpreadOperandAttr);
    m.scratchBytes = op->getAttrOfType<IntegerAttr>(kKernelScratchAttr);
    m.biasAct = kernel(kKernelBiasActAttr);
    m.planesBiasAct = kernel(kKernelPlanesBiasActAttr);
    m.gradAct = kernel(kKernelGradActAttr);
    m.planesGradAct = kernel(kKernelPlanesGradActAttr);
    for (StringRef name :
         {kKernelAttr, kKernelOperandsAttr, kKernelScalarsAttr,
          kKernelOverwriteAttr, kKernelPlanesAttr, kKernelSpreadOperandAttr,
          kKernelBiasActAttr, kKernelPlanesBiasActAttr, kKernelGradActAttr,
          kKernelPlanesGradActAttr, kKernelScratchAttr})
      op->removeAttr(name);
    return m;
  }
};

/// The activation generic that alone reads the convolution output `out`
/// (besides its bias broadcast and `op`), into a fresh buffer used only
/// after it; or null.
linalg::GenericOp fusibleActivation(Value out, linalg::GenericOp op,
                                    linalg::GenericOp broadcast) {
  linalg::GenericOp act;
  for (Operation *user : out.getUsers())
    if (user->hasAttr(kActivationAttr) && user != op.getOperation())
      act = dyn_cast<linalg::GenericOp>(user);
  if (!act)
    return {};
  Value result = act.getDpsInitOperand(0)->get();
  auto resultAlloc = result.getDefiningOp<memref::AllocOp>();
  auto bounds = act->getAttrOfType<DenseF32ArrayAttr>(kActivationBoundsAttr);
  if (!bounds || bounds.size() != 2 || act.getNumDpsInputs() != 1 ||
      act.getDpsInputOperand(0)->get() != out ||
      !act.getIndexingMapsArray()[0].isIdentity() ||
      !act.getIndexingMapsArray()[1].isIdentity() || !resultAlloc ||
      resultAlloc->getBlock() != op->getBlock() || !op->isBeforeInBlock(act) ||
      !onlyUsedAfter(result, act, {act}) ||
      !onlyUsedAfter(out, op, {broadcast, op, act}) ||
      llvm::range_size(out.getUsers()) != 3)
    return {};
  return act;
}

/// One marked op becoming a kernel call, with what fuses into it.
struct KernelCall {
  linalg::GenericOp op;
  const KernelMarks &marks;
  OpBuilder b;
  train::KernelAttr kernel;
  SmallVector<Value> args;
  SmallVector<Operation *> spread, fusedAway;
  SmallVector<float> activationBounds;
  bool padsPlanes = false; // the kernel spreads planes itself

  KernelCall(linalg::GenericOp op, const KernelMarks &marks)
      : op(op), marks(marks), b(op), kernel(marks.callee) {}

  void dropZeroFill();
  void fuseSpread();
  void fuseBiasActivation();
  void fuseActivationGrad();
  void appendScratch();
  void create();
  void dropUnreadBuffers(const SmallVector<Value> &bodyReads);
  void replaceArg(Value from, Value to) {
    for (Value &arg : args)
      if (arg == from)
        arg = to;
  }
  void appendConstants(ArrayRef<float> values) {
    for (float v : values)
      args.push_back(
          arith::ConstantOp::create(b, op.getLoc(), b.getF32FloatAttr(v)));
  }
};

/// out = ... where the output was just zeroed: the fill, and the kernel's
/// reading it back, go (for a small Gemm they cost as much as the
/// products).
void KernelCall::dropZeroFill() {
  if (!marks.overwrite)
    return;
  if (linalg::FillOp fill =
          zeroFillBefore(op, op.getDpsInitOperand(0)->get())) {
    fill.erase();
    kernel = marks.callee.withLastArg(1);
  }
}

/// A depthwise layer's spread input: the kernel spreads a plane at a time
/// into scratch; the whole spread copy, and its pass over memory, go
/// (MobileNetV2-128: 12% of the step's own loops, plus the fills).
void KernelCall::fuseSpread() {
  if (!marks.planes || !marks.spreadOperand)
    return;
  int64_t index = marks.spreadOperand.getInt();
  Value padded = op->getOperand(index);
  linalg::GenericOp copy = spreadCopyInto(padded, op);
  if (!copy)
    return;
  for (auto [i, operand] : llvm::enumerate(marks.operands.asArrayRef()))
    if (operand == index)
      args[i] = copy.getDpsInputOperand(0)->get();
  auto paddedType = cast<MemRefType>(padded.getType());
  auto alloc = padded.getDefiningOp<memref::AllocOp>();
  auto plane = memref::AllocOp::create(
      b, op.getLoc(),
      MemRefType::get(paddedType.getShape().take_back(2),
                      paddedType.getElementType()),
      alloc.getAlignmentAttr());
  args.push_back(plane);
  kernel = marks.planes;
  padsPlanes = true;
  // The spread goes with the op (its other users: fill and copy).
  spread = {alloc.getOperation()};
  for (Operation *user : alloc->getUsers())
    if (user != op.getOperation())
      spread.push_back(user);
}

/// A convolution's output that starts from the bias (and, when nothing else
/// reads it, ends in an activation): one kernel does all three a block at a
/// time, and writes the activation's buffer.
void KernelCall::fuseBiasActivation() {
  train::KernelAttr fused = padsPlanes ? marks.planesBiasAct : marks.biasAct;
  if (!fused)
    return;
  Value out = op.getDpsInitOperand(0)->get();
  auto outAlloc = out.getDefiningOp<memref::AllocOp>();
  linalg::GenericOp broadcast = biasBroadcastInto(out, op);
  linalg::GenericOp act = fusibleActivation(out, op, broadcast);
  if (!outAlloc || !broadcast || !onlyUsedAfter(out, op, {broadcast, op, act}))
    return;
  train::FusedActivation kind =
      act ? act->getAttrOfType<train::FusedActivationAttr>(kActivationAttr)
                .getValue()
          : train::FusedActivation::none;
  SmallVector<float, 2> bounds = {0.0f, 0.0f};
  if (act)
    bounds = llvm::to_vector<2>(
        act->getAttrOfType<DenseF32ArrayAttr>(kActivationBoundsAttr)
            .asArrayRef());
  kernel = withActivation(fused, kind);
  args.push_back(broadcast.getDpsInputOperand(0)->get());
  activationBounds = {bounds[0], bounds[1]};
  spread.push_back(broadcast);
  if (!act)
    return;
  Value result = act.getDpsInitOperand(0)->get();
  replaceArg(out, result);
  result.getDefiningOp()->moveBefore(op);
  spread.push_back(act);
  fusedAway.push_back(outAlloc);
}

/// An input gradient read only by the gradient of the activation its
/// layer's input came from (and zero-filled before): one kernel computes
/// it a block at a time and applies the activation's mask, into the mask's
/// buffer.
void KernelCall::fuseActivationGrad() {
  train::KernelAttr fused = padsPlanes ? marks.planesGradAct : marks.gradAct;
  if (!fused)
    return;
  Value out = op.getDpsInitOperand(0)->get();
  linalg::GenericOp mask = activationGradOf(out, op);
  if (!mask)
    return;
  Value result = mask.getDpsInitOperand(0)->get();
  Value saved = mask.getDpsInputOperand(1)->get();
  kernel = withActivation(
      fused,
      mask->getAttrOfType<train::FusedActivationAttr>(kActivationGradAttr)
          .getValue());
  replaceArg(out, result);
  args.push_back(saved);
  auto bounds = mask->getAttrOfType<DenseF32ArrayAttr>(kActivationBoundsAttr);
  activationBounds = {bounds[0], bounds[1]};
  result.getDefiningOp()->moveBefore(op);
  for (Operation *user : out.getUsers())
    if (user != op.getOperation())
      spread.push_back(user); // the zero fill and the mask
  fusedAway.push_back(out.getDefiningOp());
}

/// The kernel's scratch (its last argument): bytes, 8-aligned, in the
/// arena for the call's duration.
void KernelCall::appendScratch() {
  if (!marks.scratchBytes)
    return;
  auto type = MemRefType::get({marks.scratchBytes.getInt()}, b.getI8Type());
  args.push_back(
      memref::AllocOp::create(b, op.getLoc(), type, b.getI64IntegerAttr(8)));
}

/// Buffers the loop body reads that are not its operands (memref.load of a
/// value from above: the max-pool gradient's window positions).
SmallVector<Value> bodyReads(linalg::GenericOp op) {
  SmallVector<Value> reads;
  op.getRegion().walk([&](memref::LoadOp load) {
    Value m = load.getMemRef();
    if (!op.getRegion().isAncestor(m.getParentRegion()) &&
        !llvm::is_contained(reads, m))
      reads.push_back(m);
  });
  return reads;
}

/// True if `user` of `buffer` only writes it: a linalg op with `buffer` as
/// its one output whose body does not read the output's old value, or a
/// dealloc.
bool onlyWrites(Operation *user, Value buffer) {
  if (isa<memref::DeallocOp>(user))
    return true;
  auto linalgOp = dyn_cast<linalg::LinalgOp>(user);
  if (!linalgOp || linalgOp.getNumDpsInits() != 1)
    return false;
  OpOperand *init = linalgOp.getDpsInitOperand(0);
  return init->get() == buffer &&
         !llvm::is_contained(linalgOp.getDpsInputs(), buffer) &&
         !linalgOp.payloadUsesValueFromOperand(init);
}

/// The kernel computes from its operands what the loop body read from
/// `reads` too: an allocation among them that nothing else reads now goes,
/// with the ops that filled it.
void KernelCall::dropUnreadBuffers(const SmallVector<Value> &reads) {
  for (Value buffer : reads) {
    auto alloc = buffer.getDefiningOp<memref::AllocOp>();
    if (!alloc || !llvm::all_of(alloc->getUsers(), [&](Operation *user) {
          return onlyWrites(user, buffer);
        }))
      continue;
    for (Operation *user : llvm::make_early_inc_range(alloc->getUsers()))
      user->erase();
    alloc.erase();
  }
}

void KernelCall::create() {
  appendConstants(activationBounds);
  train::RuntimeCallOp::create(b, op.getLoc(), TypeRange{}, kernel, args,
                               DenseI64ArrayAttr(), ArrayAttr());
  SmallVector<Value> reads = bodyReads(op);
  op.erase();
  dropUnreadBuffers(reads);
  for (Operation *dead : llvm::reverse(spread))
    dead->erase();
  for (Operation *dead : fusedAway)
    dead->erase();
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
    for (linalg::GenericOp op : marked)
      if (failed(rewrite(op)))
        return signalPassFailure();
  }

  /// The marked op as a kernel call (with kernels=false, or on a strided
  /// view, the loops stay and only the marks go).
  LogicalResult rewrite(linalg::GenericOp op) {
    KernelMarks marks = KernelMarks::take(op);
    if (!marks.callee || !marks.operands || !op.hasPureBufferSemantics())
      return op.emitError("malformed kernel mark");
    KernelCall call(op, marks);
    for (int64_t i : marks.operands.asArrayRef()) {
      if (i < 0 || i >= (int64_t)op->getNumOperands())
        return op.emitError("kernel operand index out of range");
      call.args.push_back(op->getOperand(i));
    }
    // A strided view keeps the loops: the kernels index dense buffers.
    if (!kernels || !llvm::all_of(call.args, isContiguous))
      return success();
    call.dropZeroFill();
    call.fuseSpread();
    call.fuseBiasActivation();
    if (marks.scalars)
      call.appendConstants(marks.scalars.asArrayRef());
    call.fuseActivationGrad();
    call.appendScratch();
    call.create();
    return success();
  }
};

} // namespace
