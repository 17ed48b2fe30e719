//===- Sparsify.cpp - sparse updates: which weight channels train ---------===//
//
// Static channel selection ("On-Device Training Under 256KB Memory"): a
// trainable Conv (group 1) or Gemm weight updates only ratio x C of its
// input channels, the ones with the largest L2 weight norm. The forward pass
// then saves only those channels of the layer's input for the backward
// pass (train.gather_channels), the weight gradient is computed for them
// alone (fewer MACs), and the update touches only their slices. DGSU
// (dgsu:) is the same with the channels chosen by the runtime each step.
//
// TinyProp (tinyprop:, tinyprop2:): the output error of every Conv/Gemm in
// the backward pass is cut to its top k elements at run time
// (train.topk_error), and the layer's weight and input gradients loop over
// those k only (train.sparse_conv2d_grad_*); TinyPropv2 also skips whole
// backward passes (guard-backward).
//
// int8 layers (TTE's scheme) take part in all of them: their saved input
// channels stay int8 (gathered as bytes), the selection and DGSU's
// importance see the weights' real values, the channel-sliced update
// rounds into the int8 weight, and the sparse gradients read the int8
// weight or input in real units.
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"
#include "runtime/mcutrain_runtime.h"

#include "mlir/Dialect/MLProgram/IR/MLProgram.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Quant/IR/QuantTypes.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/GlobPattern.h"

#include <cmath>

namespace mcutrain {
#define GEN_PASS_DEF_SPARSIFYPASS
#include "passes/Passes.h.inc"
} // namespace mcutrain

using namespace mlir;
using namespace mcutrain;

namespace {

/// `R` or `PATTERN=R,PATTERN=R` after `static:`/`dgsu:` (ONNX initializer
/// names or globs, or `op:Conv` / `op:Gemm` for every weight of that layer
/// kind: a BatchNorm-folded export names its conv weights onnx::Conv_N):
/// the channel ratio of each trainable weight (1 = dense).
struct ChannelSpec {
  enum class Kind { Name, Conv, Gemm };
  struct Entry {
    std::string text;
    llvm::GlobPattern glob;
    float ratio;
    Kind kind = Kind::Name;
    bool used = false;
  };
  float all = 1.0f;
  SmallVector<Entry> byName;
  /// The first entry matching the weight `name` (a convolution's if
  /// `conv`, else a Gemm's), or null (`all`).
  Entry *entryFor(StringRef name, bool conv) {
    for (Entry &e : byName)
      if (e.kind == Kind::Name ? e.glob.match(name)
                               : (e.kind == Kind::Conv) == conv)
        return &e;
    return nullptr;
  }
};

/// A pattern without glob characters names one weight exactly: one it
/// cannot apply to is an error, where a glob (`conv*` also matches the
/// convolutions' biases) skips it.
bool isExactName(StringRef pattern) {
  return pattern.find_first_of("*?[{\\") == StringRef::npos;
}

FailureOr<float> parseRatio(StringRef text, Location loc) {
  double r;
  if (text.trim().getAsDouble(r) || !(r > 0.0) || r > 1.0)
    return emitError(loc) << "--sparsity: ratio '" << text
                          << "' must be a number in (0, 1]",
           failure();
  return (float)r;
}

FailureOr<ChannelSpec> parseChannelSpec(StringRef spec, Location loc) {
  ChannelSpec s;
  if (!spec.contains('=')) {
    FailureOr<float> r = parseRatio(spec, loc);
    if (failed(r))
      return failure();
    s.all = *r;
    return s;
  }
  SmallVector<StringRef> items;
  spec.split(items, ',', -1, false);
  for (StringRef item : items) {
    auto [name, ratio] = item.split('=');
    FailureOr<float> r = parseRatio(ratio, loc);
    auto glob = llvm::GlobPattern::create(name.trim());
    if (failed(r))
      return failure();
    if (!glob) {
      llvm::consumeError(glob.takeError());
      return emitError(loc)
                 << "--sparsity: pattern '" << name << "' is malformed",
             failure();
    }
    ChannelSpec::Kind kind = ChannelSpec::Kind::Name;
    if (StringRef kindName = name.trim(); kindName.consume_front("op:")) {
      if (kindName != "Conv" && kindName != "Gemm")
        return emitError(loc) << "--sparsity: '" << name.trim()
                              << "' is not a layer kind (op:Conv, op:Gemm)",
               failure();
      kind = kindName == "Conv" ? ChannelSpec::Kind::Conv
                                : ChannelSpec::Kind::Gemm;
    }
    s.byName.push_back({name.trim().str(), std::move(*glob), *r, kind});
  }
  return s;
}

/// The real values of a parameter's initial value: as they are, or an int8
/// weight's (q - zero) * scale under its `weightType`.
std::vector<double> realValues(DenseElementsAttr w, TypeAttr weightType) {
  std::vector<double> real;
  if (!weightType) {
    for (float v : w.getValues<float>())
      real.push_back(v);
    return real;
  }
  auto q = cast<quant::QuantizedType>(weightType.getValue());
  auto shape = cast<ShapedType>(w.getType()).getShape();
  int64_t i = 0;
  for (const APInt &v : w.getValues<APInt>()) {
    auto [scale, zero] = nn::quantParamsAt(q, shape, i++);
    double stored =
        q.isSigned() ? (double)v.getSExtValue() : (double)v.getZExtValue();
    real.push_back((stored - zero) * scale);
  }
  return real;
}

/// The m input channels (along `axis` of `w`) with the largest L2 norm of
/// their real values, ascending; ties to the lower channel.
SmallVector<int32_t> strongestChannels(DenseElementsAttr w, TypeAttr weightType,
                                       int64_t axis, int64_t m) {
  auto shape = cast<ShapedType>(w.getType()).getShape();
  int64_t channels = shape[axis], inner = 1;
  for (size_t d = axis + 1; d < shape.size(); ++d)
    inner *= shape[d];
  std::vector<double> norm(channels, 0.0);
  int64_t i = 0;
  for (double v : realValues(w, weightType)) {
    norm[(i / inner) % channels] += v * v;
    ++i;
  }
  SmallVector<int32_t> order;
  for (int64_t c = 0; c < channels; ++c)
    order.push_back(c);
  llvm::stable_sort(order,
                    [&](int32_t a, int32_t b) { return norm[a] > norm[b]; });
  order.resize(m);
  llvm::sort(order);
  return order;
}

/// tinyprop[:SMIN,SMAX,ZETA] or tinyprop2[:SMIN,SMAX,ZETA[,TAU]].
struct TinyPropSpec {
  float sMin = 0.1f, sMax = 0.9f, zeta = 0.5f, tau = 0.0f;
};

FailureOr<TinyPropSpec> parseTinyProp(StringRef spec, Location loc) {
  TinyPropSpec t;
  StringRef kind = spec.take_until([](char c) { return c == ':'; });
  bool v2 = kind == "tinyprop2";
  if (!v2 && kind != "tinyprop")
    return emitError(loc) << "--sparsity '" << spec
                          << "': expected tinyprop or tinyprop2",
           failure();
  if (v2)
    t.tau = 0.05f;
  StringRef rest = spec.drop_front(kind.size());
  if (rest.consume_front(":")) {
    SmallVector<StringRef> parts;
    rest.split(parts, ',');
    float *fields[] = {&t.sMin, &t.sMax, &t.zeta, &t.tau};
    size_t most = v2 ? 4 : 3;
    if (parts.size() < 3 || parts.size() > most)
      return emitError(loc) << "--sparsity " << kind << ": expected "
                            << (v2 ? "SMIN,SMAX,ZETA[,TAU]" : "SMIN,SMAX,ZETA"),
             failure();
    for (auto [i, part] : llvm::enumerate(parts)) {
      double v;
      if (part.trim().getAsDouble(v))
        return emitError(loc) << "--sparsity " << kind << ": '" << part
                              << "' is not a number",
               failure();
      *fields[i] = (float)v;
    }
  }
  if (!(0.0f <= t.sMin && t.sMin <= t.sMax && t.sMax <= 1.0f && t.sMax > 0))
    return emitError(loc) << "--sparsity " << kind
                          << ": need 0 <= SMIN <= SMAX <= 1, SMAX > 0",
           failure();
  if (!(t.zeta > 0.0f && t.zeta <= 1.0f))
    return emitError(loc) << "--sparsity " << kind
                          << ": ZETA must be in (0, 1]",
           failure();
  if (!(t.tau >= 0.0f && t.tau < 1.0f))
    return emitError(loc) << "--sparsity " << kind << ": TAU must be in [0, 1)",
           failure();
  return t;
}

/// The runtime's k bound: its own tinyprop_k at ratio S_max zeta^depth
/// (damped as tinyprop_ratio does).
int64_t tinypropKmax(int64_t n, float sMax, float zeta, int64_t depth) {
  float r = sMax;
  for (int64_t d = 0; d < depth; ++d)
    r *= zeta;
  return (int64_t)mcutrain::tinyprop_k((std::size_t)n, r);
}

/// A weight gradient whose channels can be selected: which operand of the
/// gradient op is the layer input, and which axis of the weight its
/// channels are.
struct SelectableGrad {
  Value input;
  unsigned inputOperand = 0;
  int64_t weightAxis = 1;
  bool conv = false; // a convolution's weight (else a Gemm's)
  bool depthwise = false;
  bool grouped = false; // a grouped convolution: no channel selection
  TypeAttr inputType;   // an int8 layer's input: its quantization
};

/// A (float or int8) convolution's weight gradient.
template <typename GradOp> SelectableGrad convGrad(GradOp conv) {
  SelectableGrad g;
  g.conv = true;
  auto ws = conv.getWeightGrad().getType().getShape();
  g.depthwise = (int64_t)conv.getGroup() == ws[0] && ws[1] == 1 &&
                conv.getInput().getType().getDimSize(1) == ws[0];
  g.grouped = conv.getGroup() != 1 && !g.depthwise;
  g.input = conv.getInput();
  g.inputOperand = 1;
  // Depthwise: filter c reads input channel c alone, so selecting input
  // channels selects filters (axis 0) and their output errors too.
  g.weightAxis = g.depthwise ? 0 : 1;
  return g;
}

std::optional<SelectableGrad> selectableGrad(Operation *producer) {
  SelectableGrad g;
  if (auto conv = dyn_cast_or_null<nn::Conv2dGradWeightOp>(producer))
    return convGrad(conv);
  if (auto conv = dyn_cast_or_null<nn::QConv2dGradWeightOp>(producer)) {
    g = convGrad(conv);
    g.inputType = conv.getInputTypeAttr();
    return g;
  }
  if (auto qgemm = dyn_cast_or_null<nn::QGemmGradBOp>(producer)) {
    // db = x^T dy: the weight is [out, in] (trans_b) or [in, out].
    g = {qgemm.getA(), 1, qgemm.getTransB() ? 1 : 0};
    g.inputType = qgemm.getInputTypeAttr();
    return g;
  }
  auto gemm = dyn_cast_or_null<nn::GemmOp>(producer);
  if (!gemm || !gemm.getTransA() || gemm.getTransB() || gemm.getC())
    return std::nullopt;
  // derive-backward's weight gradients are dy^T x (weight [out, in]) and
  // x^T dy (weight [in, out]); dy comes from a backward op, x from the
  // forward pass.
  auto fromBackward = [](Value v) {
    Operation *def = v.getDefiningOp();
    return def && def->hasAttr("mcutrain.backward");
  };
  if (fromBackward(gemm.getA()) && !fromBackward(gemm.getB()))
    g = {gemm.getB(), 1, 1};
  else if (fromBackward(gemm.getB()) && !fromBackward(gemm.getA()))
    g = {gemm.getA(), 0, 0};
  else
    return std::nullopt;
  return g;
}

/// One layer's gradient ops that read its output error.
struct ErrorUsers {
  Value error;
  Operation *gradInput = nullptr, *gradWeight = nullptr;
};

/// TinyProp's replacement of one layer's gradient ops by loops over the
/// kept errors (all tagged backward).
struct SparseGradients {
  OpBuilder &b;
  Location tagged;
  train::TopkErrorOp topk;

  Operation *tag(Operation *op) {
    op->setAttr("mcutrain.backward", b.getUnitAttr());
    return op;
  }
  Value reshape(Value v, ArrayRef<int64_t> shape) {
    Type element = cast<RankedTensorType>(v.getType()).getElementType();
    return tag(nn::ReshapeOp::create(b, tagged,
                                     RankedTensorType::get(shape, element), v))
        ->getResult(0);
  }
  void replace(Operation *old, Operation *sparse) {
    tag(sparse);
    Value r = sparse->getResult(0);
    if (r.getType() != old->getResult(0).getType())
      r = reshape(
          r, cast<RankedTensorType>(old->getResult(0).getType()).getShape());
    old->getResult(0).replaceAllUsesWith(r);
    old->erase();
  }
  template <typename ConvOp> void forConv(ConvOp conv, const ErrorUsers &users);
  void forGemm(Value weight, const ErrorUsers &users);
};

/// The quantization of the int8 operand an int8 layer's gradient op reads
/// (its weight's or its input's); null for a float layer's.
TypeAttr int8OperandType(Operation *grad) {
  if (!grad)
    return {};
  for (StringRef name : {"weight_type", "input_type"})
    if (auto t = grad->getAttrOfType<TypeAttr>(name))
      return t;
  return {};
}

/// A float or int8 convolution: the gradients read the layer's weight and
/// (operand 1 of the weight gradient; under DGSU only the selected
/// channels) its input.
template <typename ConvOp>
void SparseGradients::forConv(ConvOp conv, const ErrorUsers &users) {
  Value kept = topk.getKept(), idx = topk.getIndices(), count = topk.getCount();
  if (Operation *gi = users.gradInput) {
    b.setInsertionPoint(gi);
    replace(gi, train::SparseConv2dGradInputOp::create(
                    b, tagged, gi->getResult(0).getType(), kept,
                    conv.getWeight(), idx, count, conv.getStridesAttr(),
                    conv.getPadsAttr(), conv.getDilationsAttr(),
                    conv.getGroupAttr(), int8OperandType(gi)));
  }
  if (Operation *gw = users.gradWeight) {
    b.setInsertionPoint(gw);
    replace(gw, train::SparseConv2dGradWeightOp::create(
                    b, tagged, gw->getResult(0).getType(), kept,
                    gw->getOperand(1), idx, count, conv.getStridesAttr(),
                    conv.getPadsAttr(), conv.getDilationsAttr(),
                    conv.getGroupAttr(), int8OperandType(gw)));
  }
}

/// A Linear layer (weight [out, in]) is a 1x1 convolution of a 1x1 image.
void SparseGradients::forGemm(Value weight, const ErrorUsers &users) {
  Value idx = topk.getIndices(), count = topk.getCount();
  auto ws = cast<RankedTensorType>(weight.getType()).getShape();
  auto ones = b.getDenseI64ArrayAttr({1, 1});
  auto zeros = b.getDenseI64ArrayAttr({0, 0, 0, 0});
  auto one = b.getI64IntegerAttr(1);
  // The kept errors as the convolution's [1, out, 1, 1].
  b.setInsertionPointAfter(topk);
  Value dy = reshape(topk.getKept(), {1, ws[0], 1, 1});
  if (Operation *gi = users.gradInput) {
    b.setInsertionPoint(gi);
    Value w = reshape(weight, {ws[0], ws[1], 1, 1});
    replace(gi,
            train::SparseConv2dGradInputOp::create(
                b, tagged,
                RankedTensorType::get({1, ws[1], 1, 1}, b.getF32Type()), dy, w,
                idx, count, ones, zeros, ones, one, int8OperandType(gi)));
  }
  if (Operation *gw = users.gradWeight) {
    // Input [1, in] (or, under DGSU, its gathered [1, m]): the float
    // gradient's B, the int8 one's a.
    b.setInsertionPoint(gw);
    Value in = gw->getOperand(1);
    int64_t inCh = cast<RankedTensorType>(in.getType()).getDimSize(1);
    Value x = reshape(in, {1, inCh, 1, 1});
    replace(gw,
            train::SparseConv2dGradWeightOp::create(
                b, tagged,
                RankedTensorType::get({ws[0], inCh, 1, 1}, b.getF32Type()), dy,
                x, idx, count, ones, zeros, ones, one, int8OperandType(gw)));
  }
}

struct SparsifyPass : public mcutrain::impl::SparsifyPassBase<SparsifyPass> {
  using SparsifyPassBase::SparsifyPassBase;
  bool dynamic = false; // DGSU: the runtime chooses the channels each step

  void runOnOperation() override {
    ModuleOp module = getOperation();
    Location loc = module.getLoc();
    StringRef spec = sparsity;
    if (spec == "none" || spec.empty())
      return;
    auto step = module.lookupSymbol<func::FuncOp>("train_step");
    if (!step) {
      emitError(loc) << "--sparsity needs a training step";
      return signalPassFailure();
    }
    if (spec.starts_with("tinyprop")) {
      FailureOr<TinyPropSpec> tp = parseTinyProp(spec, loc);
      if (failed(tp) || failed(sparsifyTinyProp(module, step, *tp)))
        return signalPassFailure();
      return;
    }
    if (spec.consume_front("combined")) {
      // DGSU's channels for the weight updates, then TinyPropv2's rows for
      // the errors: combined[:RATIO[,SMIN,SMAX,ZETA,TAU]].
      auto [ratioText, rest] = spec.consume_front(":")
                                   ? spec.split(',')
                                   : std::pair<StringRef, StringRef>("", "");
      ChannelSpec channels;
      channels.all = 0.1f;
      if (!ratioText.empty()) {
        FailureOr<float> r = parseRatio(ratioText, loc);
        if (failed(r))
          return signalPassFailure();
        channels.all = *r;
      }
      std::string tpSpec =
          rest.empty() ? "tinyprop2" : ("tinyprop2:" + rest).str();
      FailureOr<TinyPropSpec> tp = parseTinyProp(tpSpec, loc);
      if (failed(tp))
        return signalPassFailure();
      dynamic = true;
      SmallVector<train::UpdateOp> updates(
          step.getBody().front().getOps<train::UpdateOp>());
      for (train::UpdateOp upd : updates)
        if (failed(sparsify(module, upd, channels)))
          return signalPassFailure();
      if (failed(sparsifyTinyProp(module, step, *tp)))
        return signalPassFailure();
      return;
    }
    dynamic = spec.consume_front("dgsu:");
    if (!dynamic && !spec.consume_front("static:")) {
      emitError(loc) << "--sparsity '" << sparsity
                     << "' is not supported (none, static:RATIO, "
                        "static:NAME=RATIO,..., dgsu:RATIO, "
                        "dgsu:NAME=RATIO,..., tinyprop[:SMIN,SMAX,ZETA], "
                        "tinyprop2[:SMIN,SMAX,ZETA,TAU], "
                        "combined[:RATIO[,SMIN,SMAX,ZETA,TAU]])";
      return signalPassFailure();
    }
    FailureOr<ChannelSpec> parsed = parseChannelSpec(spec, loc);
    if (failed(parsed))
      return signalPassFailure();
    SmallVector<train::UpdateOp> updates(
        step.getBody().front().getOps<train::UpdateOp>());
    for (train::UpdateOp upd : updates)
      if (failed(sparsify(module, upd, *parsed)))
        return signalPassFailure();
    for (const ChannelSpec::Entry &e : parsed->byName) {
      if (e.used)
        continue;
      // Frozen by --trainable (or by --update auto's trial of a smaller
      // trainable set): said, not refused.
      if (matchesFrozen(module, e)) {
        emitWarning(loc) << "--sparsity pattern '" << e.text
                         << "' selects nothing: the weights it matches are "
                            "frozen";
        continue;
      }
      emitError(loc) << "--sparsity pattern '" << e.text
                     << "' matches no Conv (group 1) or Gemm weight";
      return signalPassFailure();
    }
  }

  /// Whether an entry no trainable weight used matches a frozen parameter
  /// of the model (op:Conv / op:Gemm: one a layer of that kind reads).
  static bool matchesFrozen(ModuleOp module, const ChannelSpec::Entry &e) {
    llvm::StringSet<> trained;
    module.walk([&](train::UpdateOp u) { trained.insert(u.getParam()); });
    auto frozen = [&](Value v) {
      auto load = v.getDefiningOp<ml_program::GlobalLoadOp>();
      return load &&
             !trained.contains(load.getGlobal().getLeafReference().getValue());
    };
    bool found = false;
    module.walk([&](Operation *op) {
      bool kind = e.kind == ChannelSpec::Kind::Conv
                      ? isa<nn::Conv2dOp, nn::QConv2dOp>(op)
                      : isa<nn::GemmOp, nn::QGemmOp>(op);
      if (e.kind != ChannelSpec::Kind::Name && kind)
        found |= llvm::any_of(op->getOperands(), frozen);
      if (auto g = dyn_cast<ml_program::GlobalOp>(op);
          g && e.kind == ChannelSpec::Kind::Name &&
          !trained.contains(g.getSymName())) {
        auto name = g->getAttrOfType<StringAttr>("onnx.name");
        found |= e.glob.match(name ? name.getValue() : g.getSymName());
      }
    });
    return found;
  }

  /// The output error of forward layer `layer` and the ops derive-backward
  /// built from it (they carry the layer's location, tagged backward).
  FailureOr<ErrorUsers> findErrorUsers(Operation *layer, Location tagged,
                                       func::FuncOp step) {
    ErrorUsers u;
    bool conv = isa<nn::Conv2dOp, nn::QConv2dOp>(layer);
    bool qgemm = isa<nn::QGemmOp>(layer);
    auto gemm = dyn_cast<nn::GemmOp>(layer);
    for (Operation &op : step.getBody().front()) {
      if (op.getLoc() != tagged || !op.hasAttr("mcutrain.backward"))
        continue;
      if ((conv && isa<nn::Conv2dGradInputOp, nn::QConv2dGradInputOp>(op)) ||
          (qgemm && isa<nn::QGemmGradAOp>(op)))
        u.gradInput = &op;
      else if ((conv &&
                isa<nn::Conv2dGradWeightOp, nn::QConv2dGradWeightOp>(op)) ||
               (qgemm && isa<nn::QGemmGradBOp>(op)))
        u.gradWeight = &op;
      else if (auto g = dyn_cast<nn::GemmOp>(op); g && gemm) {
        if (!g.getTransA() && !g.getTransB() && g.getB() == gemm.getB())
          u.gradInput = &op;
        else if (g.getTransA() && !g.getTransB() && g.getB() != gemm.getB())
          u.gradWeight = &op; // B: the layer input (DGSU: its gathered part)
      }
    }
    // Under DGSU a depthwise weight gradient reads the gathered error; it
    // stays a dense loop over the (kept) error the gather reads.
    if (u.gradWeight &&
        u.gradWeight->getOperand(0).getDefiningOp<train::GatherChannelsOp>())
      u.gradWeight = nullptr;
    for (Operation *op : {u.gradInput, u.gradWeight})
      if (op) {
        Value e = op->getOperand(0);
        if (u.error && u.error != e)
          return layer->emitError("tinyprop: the layer's gradients read "
                                  "different errors"),
                 failure();
        u.error = e;
      }
    if (!u.error && !u.gradInput && !u.gradWeight)
      for (Operation &op : step.getBody().front())
        if (auto gather = dyn_cast<train::GatherChannelsOp>(op);
            gather && op.getLoc() == tagged)
          u.error = gather.getInput();
    return u;
  }

  LogicalResult sparsifyTinyProp(ModuleOp module, func::FuncOp step,
                                 const TinyPropSpec &tp) {
    SmallVector<Operation *> layers;
    for (Operation &op : step.getBody().front())
      if (isa<nn::Conv2dOp, nn::GemmOp, nn::QConv2dOp, nn::QGemmOp>(op) &&
          !op.hasAttr("mcutrain.backward"))
        layers.push_back(&op);
    // A layer's gradient ops are found by its location: the products of an
    // unrolled GRU/LSTM share their node's, so they keep a dense backward.
    llvm::DenseMap<Location, int> perLoc;
    for (Operation *layer : layers)
      ++perLoc[layer->getLoc()];
    llvm::DenseSet<Location> warned;
    int64_t depth = 0;
    for (Operation *layer : llvm::reverse(layers)) {
      if (perLoc[layer->getLoc()] > 1) {
        if (warned.insert(layer->getLoc()).second)
          layer->emitWarning("tinyprop: the products of this unrolled "
                             "recurrent node keep a dense backward pass");
        continue;
      }
      FailureOr<bool> cut = cutLayerError(layer, step, tp, depth);
      if (failed(cut))
        return failure();
      depth += *cut;
    }
    if (depth == 0)
      return emitError(module.getLoc())
                 << "--sparsity tinyprop: no Conv or Gemm layer in the "
                    "backward pass",
             failure();
    // Controller state and statistics: zeroed by init().
    OpBuilder b(step);
    auto global = [&](StringRef name, int64_t n, Type et) {
      auto g = memref::GlobalOp::create(b, module.getLoc(), name,
                                        b.getStringAttr("private"),
                                        MemRefType::get({n}, et), Attribute(),
                                        /*constant=*/false, IntegerAttr());
      g->setAttr("mcutrain.zero_at_init", b.getUnitAttr());
    };
    global(train::kTinyPropYMaxGlobal, depth, b.getF32Type());
    global(train::kTinyPropRatioGlobal, depth, b.getF32Type());
    global(train::kDynamicMacsGlobal, 1, b.getI64Type());
    return success();
  }

  /// Cuts the output error of `layer` (the depth-th from the output) to its
  /// top k and makes its gradients loop over those; false if it has no
  /// error to cut or keeps a dense backward.
  FailureOr<bool> cutLayerError(Operation *layer, func::FuncOp step,
                                const TinyPropSpec &tp, int64_t depth) {
    MLIRContext *ctx = layer->getContext();
    Location tagged = FusedLoc::get(ctx, {layer->getLoc()},
                                    StringAttr::get(ctx, "mcutrain.backward"));
    FailureOr<ErrorUsers> users = findErrorUsers(layer, tagged, step);
    if (failed(users))
      return failure();
    if (!users->error)
      return false; // no gradient flows through this layer
    if (auto gemm = dyn_cast<nn::GemmOp>(layer))
      if (gemm.getTransA() || !gemm.getTransB() ||
          gemm.getAlpha().convertToFloat() != 1.0f) {
        layer->emitWarning("tinyprop: this Gemm's backward stays dense "
                           "(only transA = 0, transB = 1, alpha = 1, as "
                           "PyTorch's Linear exports, are selected)");
        return false;
      }
    if (auto qgemm = dyn_cast<nn::QGemmOp>(layer);
        qgemm && !qgemm.getTransB()) {
      layer->emitWarning("tinyprop: this int8 Gemm's backward stays dense "
                         "(only trans_b = 1, as PyTorch's Linear exports, is "
                         "selected)");
      return false;
    }
    Value error = users->error;
    auto et = cast<RankedTensorType>(error.getType());
    if (et.getDimSize(0) != 1)
      return layer->emitError("tinyprop selects errors per sample: compile "
                              "with batch 1 (this layer's error is ")
                 << et << ")",
             failure();
    OpBuilder b(ctx);
    if (Operation *def = error.getDefiningOp())
      b.setInsertionPointAfter(def);
    else
      b.setInsertionPointToStart(&step.getBody().front());
    // TinyPropv2's skip is decided at the output layer's error.
    int64_t kmax = tinypropKmax(et.getNumElements(), tp.sMax, tp.zeta, depth);
    auto topk = train::TopkErrorOp::create(b, tagged, error, kmax, depth, depth,
                                           tp.sMin, tp.sMax, tp.zeta,
                                           depth == 0 ? tp.tau : 0.0f);
    topk->setAttr("mcutrain.backward", b.getUnitAttr());
    keepErrorForLayer(layer, error, topk, tagged);
    SparseGradients sparse{b, tagged, topk};
    if (auto conv = dyn_cast<nn::Conv2dOp>(layer))
      sparse.forConv(conv, *users);
    else if (auto qconv = dyn_cast<nn::QConv2dOp>(layer))
      sparse.forConv(qconv, *users);
    else
      sparse.forGemm(layer->getOperand(1), *users);
    return true;
  }

  /// Every use among the layer's own gradient ops (the bias gradient too)
  /// sees the kept errors; other users of the same error (a residual
  /// branch) keep the dense one.
  static void keepErrorForLayer(Operation *layer, Value error,
                                train::TopkErrorOp topk, Location tagged) {
    error.replaceUsesWithIf(topk.getKept(), [&](OpOperand &use) {
      Operation *user = use.getOwner();
      if (user == topk)
        return false;
      if (user->getLoc() == tagged)
        return true;
      auto upd = dyn_cast<train::UpdateOp>(user);
      return upd && layer->getNumOperands() == 3 && [&] {
        auto load =
            layer->getOperand(2).getDefiningOp<ml_program::GlobalLoadOp>();
        return load && load.getGlobal().getLeafReference() == upd.getParam();
      }();
    });
  }

  LogicalResult sparsify(ModuleOp module, train::UpdateOp upd,
                         ChannelSpec &spec) {
    auto global = module.lookupSymbol<ml_program::GlobalOp>(upd.getParam());
    if (!global)
      return success();
    std::string name = global.getSymName().str();
    if (auto a = global->getAttrOfType<StringAttr>("onnx.name"))
      name = a.str();
    Operation *producer = upd.getGrad().getDefiningOp();
    std::optional<SelectableGrad> grad = selectableGrad(producer);
    if (grad && grad->grouped)
      return success(); // grouped: no channel selection
    ChannelSpec::Entry *entry = spec.entryFor(name, grad && grad->conv);
    if (entry && entry->kind != ChannelSpec::Kind::Name && !grad)
      entry = nullptr; // op:Conv/op:Gemm name selectable weights only
    float ratio = entry ? entry->ratio : spec.all;
    bool named = entry && entry->kind == ChannelSpec::Kind::Name &&
                 isExactName(entry->text);
    if (entry && grad)
      entry->used = true;
    if (ratio < 1.0f && isa_and_nonnull<nn::QuantizeGradOp>(producer))
      return upd.emitError("--sparsity selects the channels of int8 weights "
                           "updated in place (--weight-update int8); '")
                 << name
                 << "' is an fp32 master weight (--weight-update fp32-master)",
             failure();
    if (ratio >= 1.0f || (!grad && !named))
      return success(); // static:RATIO applies to the weights it can select
    if (!grad)
      return upd.emitError("--sparsity cannot select channels of '")
                 << name
                 << "' (its gradient is not that of a Conv with group 1 or a "
                    "Gemm)",
             failure();
    auto value = dyn_cast_or_null<DenseElementsAttr>(global.getValueAttr());
    if (!value)
      return upd.emitError("parameter @")
                 << upd.getParam() << " has no initial value",
             failure();
    auto ws = cast<ShapedType>(global.getType()).getShape();
    int64_t channels = ws[grad->weightAxis];
    // The runtime's count (DGSU selects this many each step).
    int64_t m = (int64_t)mcutrain::dgsu_count((std::size_t)channels, ratio);
    if (m == channels)
      return success();
    // report.json names which weights train sparsely and how (the
    // differential fuzzer's oracle reads it; users see what trains).
    global->setAttr("mcutrain.sparse_channels",
                    DenseI64ArrayAttr::get(global.getContext(),
                                           {grad->weightAxis, channels, m}));
    OpBuilder b(producer);
    auto step = upd->getParentOfType<func::FuncOp>();
    b.setInsertionPointToStart(&step.getBody().front());
    auto [idx, importance] =
        dynamic ? dgsuChoice(b, upd, step, channels, m, ratio)
                : staticChoice(b, upd, value, upd.getWeightTypeAttr(),
                               grad->weightAxis, m);
    Value selected = gatherSelected(b, grad->input, idx, m);
    if (dynamic &&
        failed(addImportance(b, upd, step, *grad, selected, importance)))
      return failure();
    restrictGradient(b, upd, producer, *grad, selected, idx, ws, m);
    return success();
  }

  /// The selected indices: a constant, at the top of the step.
  std::pair<Value, std::string> staticChoice(OpBuilder &b, train::UpdateOp upd,
                                             DenseElementsAttr value,
                                             TypeAttr weightType,
                                             int64_t weightAxis, int64_t m) {
    auto idxType = RankedTensorType::get({m}, b.getI32Type());
    SmallVector<int32_t> keep =
        strongestChannels(value, weightType, weightAxis, m);
    Value idx = arith::ConstantOp::create(
        b, upd.getLoc(), DenseElementsAttr::get(idxType, ArrayRef(keep)));
    return {idx, ""};
  }

  /// DGSU: the controller's state as RAM globals zeroed by init(), and its
  /// choice at the top of the step (before the forward pass gathers the
  /// selected channels). Returns the indices and the importance global.
  std::pair<Value, std::string> dgsuChoice(OpBuilder &b, train::UpdateOp upd,
                                           func::FuncOp step, int64_t channels,
                                           int64_t m, float ratio) {
    std::string base = upd.getParam().str() + "__dgsu_";
    auto makeGlobal = [&](StringRef what, int64_t n, Type et) {
      OpBuilder::InsertionGuard g(b);
      b.setInsertionPoint(step);
      auto gl = memref::GlobalOp::create(b, upd.getLoc(), base + what.str(),
                                         b.getStringAttr("private"),
                                         MemRefType::get({n}, et), Attribute(),
                                         /*constant=*/false, IntegerAttr());
      gl->setAttr("mcutrain.zero_at_init", b.getUnitAttr());
      return FlatSymbolRefAttr::get(gl.getSymNameAttr());
    };
    auto age = makeGlobal("age", channels, b.getIntegerType(16));
    auto imp = makeGlobal("importance", channels, b.getF32Type());
    auto sel = makeGlobal("selection", m, b.getI32Type());
    auto scratch = makeGlobal("scratch", channels, b.getI32Type());
    auto idxType = RankedTensorType::get({m}, b.getI32Type());
    Value idx =
        train::DgsuSelectOp::create(b, upd.getLoc(), idxType, age, imp, sel,
                                    scratch, b.getF32FloatAttr(ratio));
    return {idx, imp.getValue().str()};
  }

  /// The saved features: only the selected channels of the layer input,
  /// gathered where the input is made so the full input can die with the
  /// forward pass.
  static Value gatherSelected(OpBuilder &b, Value input, Value idx, int64_t m) {
    auto inType = cast<RankedTensorType>(input.getType());
    SmallVector<int64_t> selShape(inType.getShape());
    selShape[1] = m;
    // (idx sits at the top of the step, so before any op defining input.)
    if (Operation *def = input.getDefiningOp())
      b.setInsertionPointAfter(def);
    else
      b.setInsertionPointAfterValue(idx);
    return train::GatherChannelsOp::create(
        b, input.getLoc(),
        RankedTensorType::get(selShape, inType.getElementType()), input, idx,
        b.getI64IntegerAttr(1));
  }

  /// DGSU's importance from this step's input and the current weight, for
  /// the next steps' choices: after both the input and the weight's load.
  static LogicalResult addImportance(OpBuilder &b, train::UpdateOp upd,
                                     func::FuncOp step,
                                     const SelectableGrad &grad, Value selected,
                                     StringRef importance) {
    Value weight;
    step.walk([&](ml_program::GlobalLoadOp load) {
      if (load.getGlobal().getLeafReference() == upd.getParam())
        weight = load.getResult();
    });
    if (!weight)
      return upd.emitError("no load of @") << upd.getParam(), failure();
    OpBuilder::InsertionGuard g(b);
    Operation *load = weight.getDefiningOp();
    if (selected.getDefiningOp()->isBeforeInBlock(load))
      b.setInsertionPointAfter(load);
    else
      b.setInsertionPointAfter(selected.getDefiningOp());
    train::DgsuImportanceOp::create(
        b, grad.input.getLoc(), grad.input, weight,
        FlatSymbolRefAttr::get(b.getContext(), importance),
        b.getI64IntegerAttr(grad.weightAxis), b.getF32FloatAttr(0.9f),
        grad.inputType, upd.getWeightTypeAttr());
    return success();
  }

  /// The gradient of the selected channels only, which the update applies
  /// to their slices.
  static void restrictGradient(OpBuilder &b, train::UpdateOp upd,
                               Operation *producer, const SelectableGrad &grad,
                               Value selected, Value idx, ArrayRef<int64_t> ws,
                               int64_t m) {
    b.setInsertionPoint(producer);
    Operation *sparse = b.clone(*producer);
    sparse->setOperand(grad.inputOperand, selected);
    if (grad.depthwise) {
      // The selected filters' errors; operand 0 of either gradient op.
      Value dy = sparse->getOperand(0);
      SmallVector<int64_t> dyShape(
          cast<RankedTensorType>(dy.getType()).getShape());
      dyShape[1] = m;
      b.setInsertionPoint(sparse);
      auto dySelected = train::GatherChannelsOp::create(
          b, producer->getLoc(), RankedTensorType::get(dyShape, b.getF32Type()),
          dy, idx, b.getI64IntegerAttr(1));
      dySelected->setAttr("mcutrain.backward", b.getUnitAttr());
      sparse->setOperand(0, dySelected);
      sparse->setAttr("group", b.getI64IntegerAttr(m));
    }
    SmallVector<int64_t> gradShape(ws);
    gradShape[grad.weightAxis] = m;
    sparse->getResult(0).setType(
        RankedTensorType::get(gradShape, b.getF32Type()));
    upd.getGradMutable().assign(sparse->getResult(0));
    upd.getChannelsMutable().assign(idx);
    upd.setChannelAxis(grad.weightAxis);
    if (producer->use_empty())
      producer->erase();
  }
};

} // namespace
