//===- FuseConvChains.cpp - conv -> depthwise -> pointwise by channel -----===//
//
// After use-kernels: a dense convolution whose output only a depthwise one
// reads, whose output in turn only a pointwise one reads (MobileNetV2's
// inverted residual block: expand, depthwise, project, each with its bias
// and activation or its requantization), becomes one call of
// kernels::conv_chain (float) or kernels::qconv_chain (int8), which compute
// the two intermediate tensors a channel at a time in a scratch of a few
// planes. Nothing else may read the intermediates: a layer that trains, or
// one the backward pass goes through, saves them (or their masks) for the
// backward pass and keeps its three calls. MobileNetV2-0.35 at 128x128:
// block 2's float expansion is 786,432 bytes, the chain's scratch 37,904.
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"

#include "runtime/mcutrain_int8_kernels.h"
#include "runtime/mcutrain_kernels.h"

#include <optional>

namespace mcutrain {
#define GEN_PASS_DEF_FUSECONVCHAINSPASS
#include "passes/Passes.h.inc"
} // namespace mcutrain

using namespace mlir;
using namespace mcutrain;
using KernelName = train::KernelName;

namespace {

// Template arguments of the layer kernels (dialects/Train/TrainKernels.td),
// by position: conv2d_bias_act, depthwise_conv2d_bias_act, qconv2d and
// qdepthwise2d.
enum ConvArg {
  cN,
  cC,
  cHP,
  cWP,
  cF,
  cCG,
  cKH,
  cKW,
  cOH,
  cOW,
  cSH,
  cSW,
  cDH,
  cDW,
  cG,
  cAct
};
enum DepthwiseArg {
  dN,
  dC,
  dH,
  dW,
  dHP,
  dWP,
  dT,
  dL,
  dKH,
  dKW,
  dOH,
  dOW,
  dSH,
  dSW,
  dDH,
  dDW,
  dAct
};
enum QConvArg {
  qN,
  qC,
  qH,
  qW,
  qF,
  qKH,
  qKW,
  qOH,
  qOW,
  qSH,
  qSW,
  qPT,
  qPL,
  qDH,
  qDW,
  qXU,
  qXZ,
  qLo,
  qHi,
  qWS
};
enum QDepthwiseArg {
  qdN,
  qdC,
  qdH,
  qdW,
  qdKH,
  qdKW,
  qdOH,
  qdOW,
  qdSH,
  qdSW,
  qdPT,
  qdPL,
  qdDH,
  qdDW,
  qdXU,
  qdXZ,
  qdLo,
  qdHi,
  qdWS
};

/// Where a chain's calls keep their buffers: the kernels of its first (and
/// last) and depthwise layer, the operand positions of their outputs, and
/// the buffers each call uses alone (planes and scratch).
struct ChainForm {
  KernelName conv, depthwise;
  unsigned convOut, depthwiseOut;
  SmallVector<unsigned, 1> convPrivate, depthwisePrivate;
};

const ChainForm kFloatChain = {KernelName::conv2d_bias_act,
                               KernelName::depthwise_conv2d_bias_act,
                               2,
                               2,
                               {},
                               {3}};
const ChainForm kInt8Chain = {
    KernelName::qconv2d, KernelName::qdepthwise2d, 5, 5, {6}, {6}};

/// The call's kernel arguments when it calls `name`; else none.
std::optional<ArrayRef<int64_t>> kernelArgs(train::RuntimeCallOp call,
                                            KernelName name) {
  auto kernel = dyn_cast<train::KernelAttr>(call.getCallee());
  if (!kernel || kernel.getKernel() != name)
    return std::nullopt;
  return kernel.getArgs();
}

/// `v` is a fresh buffer that exactly `users` use (each once).
bool onlyUsedBy(Value v, ArrayRef<Operation *> users) {
  if (!v.getDefiningOp<memref::AllocOp>())
    return false;
  size_t uses = 0;
  for (OpOperand &use : v.getUses()) {
    if (!llvm::is_contained(users, use.getOwner()))
      return false;
    ++uses;
  }
  return uses == users.size();
}

/// Bytes of a statically shaped buffer type.
int64_t typeBytes(MemRefType t) {
  return t.getNumElements() * t.getElementTypeBitWidth() / 8;
}

/// Bytes of a statically shaped buffer.
int64_t bufferBytes(Value v) {
  return typeBytes(cast<MemRefType>(v.getType()));
}

/// Bytes `v` takes in the arena: a function's arguments and results are
/// the caller's.
int64_t arenaBytes(Value v) {
  return v.getDefiningOp<memref::AllocOp>() ? bufferBytes(v) : 0;
}

/// Whether an op after `op` in its block uses `v`.
bool usedAfter(Value v, Operation *op) {
  return llvm::any_of(v.getUsers(), [&](Operation *user) {
    Operation *top = op->getBlock()->findAncestorOpInBlock(*user);
    return top && op->isBeforeInBlock(top);
  });
}

/// The three calls of a chain, their kernel arguments and its buffers.
struct Chain {
  const ChainForm *form;
  train::RuntimeCallOp first, depthwise, pointwise;
  ArrayRef<int64_t> a, b, c;
  Value expanded, filtered;
  SmallVector<Value> privates; // with their call: planes, scratch
  // Bytes of the private buffers of the first, depthwise and last call.
  int64_t firstOwn = 0, depthwiseOwn = 0, lastOwn = 0;

  /// Bytes the two intermediate tensors and the private buffers take.
  int64_t replacedBytes() const {
    return bufferBytes(expanded) + bufferBytes(filtered) + firstOwn +
           depthwiseOwn + lastOwn;
  }

  /// The most bytes the three calls have live at once (besides what lives
  /// across them): the input until the first call (or on, when read
  /// later), the intermediates, the output from the last call.
  int64_t unfusedPeak() {
    Value x = first.getArgs()[0], y = pointwise.getArgs()[form->convOut];
    int64_t in = arenaBytes(x), kept = usedAfter(x, first) ? in : 0;
    int64_t e = bufferBytes(expanded), d = bufferBytes(filtered);
    return std::max({in + e + firstOwn, kept + e + d + depthwiseOwn,
                     kept + d + arenaBytes(y) + lastOwn});
  }
};

/// The chain of `form` whose depthwise call is `dw`, if its kernels and
/// data flow match.
std::optional<Chain> matchChain(train::RuntimeCallOp dw,
                                const ChainForm &form) {
  Chain ch{&form, {}, dw, {}, {}, {}, {}, {}, {}, {}};
  auto b = kernelArgs(dw, form.depthwise);
  if (!b)
    return std::nullopt;
  ch.b = *b;
  ch.expanded = dw.getArgs()[0];
  ch.filtered = dw.getArgs()[form.depthwiseOut];
  for (Operation *user : ch.expanded.getUsers())
    if (auto call = dyn_cast<train::RuntimeCallOp>(user);
        call && call != dw && call.getArgs().size() > form.convOut &&
        call.getArgs()[form.convOut] == ch.expanded)
      ch.first = call;
  for (Operation *user : ch.filtered.getUsers())
    if (auto call = dyn_cast<train::RuntimeCallOp>(user);
        call && call != dw && !call.getArgs().empty() &&
        call.getArgs()[0] == ch.filtered)
      ch.pointwise = call;
  if (!ch.first || !ch.pointwise)
    return std::nullopt;
  auto a = kernelArgs(ch.first, form.conv);
  auto c = kernelArgs(ch.pointwise, form.conv);
  if (!a || !c)
    return std::nullopt;
  ch.a = *a;
  ch.c = *c;
  for (unsigned i : form.convPrivate) {
    ch.privates.push_back(ch.first.getArgs()[i]);
    ch.privates.push_back(ch.pointwise.getArgs()[i]);
    ch.firstOwn += bufferBytes(ch.first.getArgs()[i]);
    ch.lastOwn += bufferBytes(ch.pointwise.getArgs()[i]);
  }
  for (unsigned i : form.depthwisePrivate) {
    ch.privates.push_back(dw.getArgs()[i]);
    ch.depthwiseOwn += bufferBytes(dw.getArgs()[i]);
  }
  return ch;
}

/// The float chain's shapes: a dense first layer, a depthwise layer on its
/// output, a pointwise last layer (1x1, stride 1, no padding).
bool floatShapesAgree(ArrayRef<int64_t> a, ArrayRef<int64_t> b,
                      ArrayRef<int64_t> c) {
  return a[cG] == 1 && a[cN] == b[dN] && a[cF] == b[dC] && a[cOH] == b[dH] &&
         a[cOW] == b[dW] && c[cN] == b[dN] && c[cC] == b[dC] && c[cG] == 1 &&
         c[cKH] == 1 && c[cKW] == 1 && c[cSH] == 1 && c[cSW] == 1 &&
         c[cHP] == b[dOH] && c[cWP] == b[dOW];
}

/// The same for int8 layers (qconv2d has no groups).
bool int8ShapesAgree(ArrayRef<int64_t> a, ArrayRef<int64_t> b,
                     ArrayRef<int64_t> c) {
  return a[qN] == b[qdN] && a[qF] == b[qdC] && a[qOH] == b[qdH] &&
         a[qOW] == b[qdW] && c[qN] == b[qdN] && c[qC] == b[qdC] &&
         c[qKH] == 1 && c[qKW] == 1 && c[qSH] == 1 && c[qSW] == 1 &&
         c[qPT] == 0 && c[qPL] == 0 && c[qH] == b[qdOH] && c[qW] == b[qdOW] &&
         c[qOH] == c[qH] && c[qOW] == c[qW];
}

/// The shapes agree, nothing but the chain reads the intermediates (or
/// its calls' private buffers), and between its first and last call
/// nothing writes memory: the fused call can take the last one's place.
bool isFusible(Chain &ch) {
  bool int8 = ch.form == &kInt8Chain;
  if (!(int8 ? int8ShapesAgree(ch.a, ch.b, ch.c)
             : floatShapesAgree(ch.a, ch.b, ch.c)) ||
      !onlyUsedBy(ch.expanded, {ch.first, ch.depthwise}) ||
      !onlyUsedBy(ch.filtered, {ch.depthwise, ch.pointwise}))
    return false;
  for (Value v : ch.privates)
    if (llvm::count(ch.privates, v) != 1 ||
        !llvm::any_of(
            ArrayRef<Operation *>{ch.first, ch.depthwise, ch.pointwise},
            [&](Operation *op) { return onlyUsedBy(v, {op}); }))
      return false;
  // predict() may run in place (output over input): with both the chain's
  // input and output the caller's, the fused call would read what it wrote.
  if (!ch.first.getArgs()[0].getDefiningOp<memref::AllocOp>() &&
      !ch.pointwise.getArgs()[ch.form->convOut]
           .getDefiningOp<memref::AllocOp>())
    return false;
  Block *block = ch.first->getBlock();
  if (ch.depthwise->getBlock() != block || ch.pointwise->getBlock() != block ||
      !ch.first->isBeforeInBlock(ch.depthwise) ||
      !ch.depthwise->isBeforeInBlock(ch.pointwise))
    return false;
  for (Operation *op = ch.first->getNextNode(); op != ch.pointwise;
       op = op->getNextNode())
    if (op != ch.depthwise && !isa<memref::AllocOp>(op) &&
        !isMemoryEffectFree(op))
      return false;
  return true;
}

/// conv_chain's kernel, operands and scratch floats.
struct FusedCall {
  train::KernelAttr kernel;
  SmallVector<Value> args; // the scratch goes after the first `scratchAt`
  size_t scratchAt;
  MemRefType scratch;
};

/// The float chain computing `mb` intermediate channels at a time.
FusedCall floatCall(MLIRContext *ctx, Chain &ch, int64_t mb) {
  ArrayRef<int64_t> a = ch.a, b = ch.b, c = ch.c;
  int64_t floats = kernels::chainScratchFloats(mb, a[cOH], a[cOW], b[dHP],
                                               b[dWP], b[dOH], b[dOW]);
  ValueRange x = ch.first.getArgs(), d = ch.depthwise.getArgs(),
             p = ch.pointwise.getArgs();
  // (x, w1, b1, w2, b2, w3, b3, y, scratch, lo1, hi1, lo2, hi2, lo3, hi3)
  return {
      train::KernelAttr::get(ctx, KernelName::conv_chain,
                             {a[cN],  a[cC],  a[cHP],  a[cWP],  a[cF],   a[cKH],
                              a[cKW], a[cOH], a[cOW],  a[cSH],  a[cSW],  a[cDH],
                              a[cDW], b[dHP], b[dWP],  b[dT],   b[dL],   b[dKH],
                              b[dKW], b[dOH], b[dOW],  b[dSH],  b[dSW],  b[dDH],
                              b[dDW], c[cF],  a[cAct], b[dAct], c[cAct], mb}),
      {x[0], x[1], x[3], d[1], d[4], p[1], p[3], p[2], x[4], x[5], d[5], d[6],
       p[4], p[5]},
      8,
      MemRefType::get({floats}, Float32Type::get(ctx))};
}

/// The int8 chain computing `mb` intermediate channels at a time.
FusedCall int8Call(MLIRContext *ctx, Chain &ch, int64_t mb) {
  ArrayRef<int64_t> a = ch.a, b = ch.b, c = ch.c;
  int64_t bytes = kernels::int8::convChainScratchBytes(
      mb, a[qC], a[qW], a[qKH], a[qKW], a[qOH], a[qOW], a[qSH], a[qSW], a[qPL],
      a[qDH], a[qDW], b[qdKH], b[qdKW], b[qdOH], b[qdOW], b[qdSW], b[qdPL],
      b[qdDH], b[qdDW], c[qF]);
  SmallVector<int64_t> args(a.take_front(qWS + 1));
  args.append(b.begin() + qdKH, b.end());
  args.append({c[qF], c[qXU], c[qXZ], c[qLo], c[qHi], c[qWS], mb});
  ValueRange x = ch.first.getArgs(), d = ch.depthwise.getArgs(),
             p = ch.pointwise.getArgs();
  // (x, w1, m1, s1, o1, w2, m2, s2, o2, w3, m3, s3, o3, y, scratch)
  return {train::KernelAttr::get(ctx, KernelName::qconv_chain, args),
          {x[0], x[1], x[2], x[3], x[4], d[1], d[2], d[3], d[4], p[1], p[2],
           p[3], p[4], p[5]},
          14,
          MemRefType::get({bytes}, IntegerType::get(ctx, 8))};
}

/// The scratch's mark: the layers and the bytes it stands for.
DictionaryAttr chainMark(OpBuilder &b, Chain &ch) {
  return b.getDictionaryAttr(
      {b.getNamedAttr("layers",
                      b.getStrArrayAttr({onnxNodeName(ch.first.getLoc()),
                                         onnxNodeName(ch.depthwise.getLoc()),
                                         onnxNodeName(ch.pointwise.getLoc())})),
       b.getNamedAttr("intermediate_bytes",
                      b.getI64IntegerAttr(ch.replacedBytes()))});
}

/// What a block of channels may add to the scratch of blocks of one: each
/// block shares the first layer's set-up (int8: its widened input), which
/// on small planes costs as much as the products (Cortex-M4, MobileNetV2-
/// 0.35 int8 at 128x128: 5.16 instructions per MAC in blocks of one, 3.81
/// in blocks within 16 KiB, 2.87 with the sums in pairs; 2.12 unfused).
constexpr int64_t kBlockExtraBytes = 16 * 1024;
constexpr int64_t kMaxBlock = 16;

/// The chain call with the most channels per block (a divisor of M, at most
/// kMaxBlock, its scratch within kBlockExtraBytes of one channel's) that
/// lowers the most bytes live at once there: the fused call holds its
/// input, its output and its scratch together, which the three calls never
/// did (MobileNetV1's pointwise layers: larger input and output than
/// intermediates), and an int8 chain sums into int32, four bytes per
/// output. None if even blocks of one do not.
std::optional<FusedCall> chooseCall(MLIRContext *ctx, Chain &ch) {
  bool int8 = ch.form == &kInt8Chain;
  int64_t m = int8 ? ch.a[qF] : ch.a[cF];
  int64_t io = arenaBytes(ch.first.getArgs()[0]) +
               arenaBytes(ch.pointwise.getArgs()[ch.form->convOut]);
  int64_t limit = ch.unfusedPeak(), single = 0;
  std::optional<FusedCall> best;
  for (int64_t mb = 1; mb <= std::min(m, kMaxBlock); ++mb) {
    if (m % mb)
      continue;
    FusedCall call = int8 ? int8Call(ctx, ch, mb) : floatCall(ctx, ch, mb);
    int64_t bytes = typeBytes(call.scratch);
    single = mb == 1 ? bytes : single;
    if (io + bytes >= limit || bytes > single + kBlockExtraBytes)
      break;
    best = call;
  }
  return best;
}

/// One chain call in place of the three (chooseCall's).
bool fuse(Chain &ch) {
  MLIRContext *ctx = ch.first.getContext();
  std::optional<FusedCall> chosen = chooseCall(ctx, ch);
  if (!chosen)
    return false;
  FusedCall &call = *chosen;
  OpBuilder b(ch.pointwise);
  auto scratch = memref::AllocOp::create(b, ch.depthwise.getLoc(), call.scratch,
                                         b.getI64IntegerAttr(8));
  scratch->setAttr(kConvChainAttr, chainMark(b, ch));
  call.args.insert(call.args.begin() + call.scratchAt, scratch);
  Location loc = FusedLoc::get(
      ctx, {ch.first.getLoc(), ch.depthwise.getLoc(), ch.pointwise.getLoc()});
  train::RuntimeCallOp::create(b, loc, TypeRange{}, call.kernel, call.args,
                               DenseI64ArrayAttr(), ArrayAttr());
  SmallVector<Operation *> buffers = {ch.expanded.getDefiningOp(),
                                      ch.filtered.getDefiningOp()};
  for (Value v : ch.privates)
    buffers.push_back(v.getDefiningOp());
  ch.pointwise.erase();
  ch.depthwise.erase();
  ch.first.erase();
  for (Operation *buffer : buffers)
    buffer->erase();
  return true;
}

struct FuseConvChainsPass
    : public mcutrain::impl::FuseConvChainsPassBase<FuseConvChainsPass> {
  using FuseConvChainsPassBase::FuseConvChainsPassBase;

  void runOnOperation() override {
    if (!fuseConvChains)
      return;
    // Matched one at a time: a fused chain's last call may have been the
    // first of the next candidate, which then no longer matches.
    SmallVector<std::pair<train::RuntimeCallOp, const ChainForm *>> depthwise;
    getOperation().walk([&](train::RuntimeCallOp call) {
      for (const ChainForm *form : {&kFloatChain, &kInt8Chain})
        if (kernelArgs(call, form->depthwise))
          depthwise.push_back({call, form});
    });
    for (auto [call, form] : depthwise)
      if (std::optional<Chain> ch = matchChain(call, *form);
          ch && isFusible(*ch))
        fuse(*ch);
  }
};

} // namespace
