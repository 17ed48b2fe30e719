//===- DeriveBackward.cpp - build @train_step from @forward ---------------===//
#include "passes/Passes.h"

#include "mlir/Dialect/MLProgram/IR/MLProgram.h"
#include "mlir/Dialect/Quant/IR/QuantTypes.h"
#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/GlobPattern.h"

namespace mcutrain {
#define GEN_PASS_DEF_DERIVEBACKWARDPASS
#include "passes/Passes.h.inc"
} // namespace mcutrain

using namespace mlir;
using namespace mcutrain;

namespace {

/// The ONNX name of a parameter (its initializer), else its symbol.
static std::string onnxName(ml_program::GlobalOp g) {
  if (auto a = g->getAttrOfType<StringAttr>("onnx.name"))
    return a.str();
  return g.getSymName().str();
}

/// An error at `op` that names its ONNX node (the printed location is the
/// model file's).
static InFlightDiagnostic nodeError(Operation *op) {
  InFlightDiagnostic diag = op->emitError();
  std::string node = onnxNodeName(op->getLoc());
  if (!node.empty())
    diag << "ONNX node '" << node << "' (" << op->getName() << "): ";
  return diag;
}

/// Whether `pattern` matches a name of `g`: its ONNX name, its symbol or an
/// alias tied to it (--tie-shared-initializers).
static bool matchesName(const llvm::GlobPattern &pattern,
                        ml_program::GlobalOp g) {
  if (pattern.match(onnxName(g)) || pattern.match(g.getSymName()))
    return true;
  auto tied = g->getAttrOfType<ArrayAttr>("onnx.tied_aliases");
  return tied && llvm::any_of(tied.getAsValueRange<StringAttr>(),
                              [&](StringRef a) { return pattern.match(a); });
}

/// Whether operand `index` of `user` is the 8-bit weight of an int8 layer
/// that can train: one with an output type (ConvInteger's and
/// MatMulInteger's result is the int32 sum, which has no gradient here).
static bool isInt8LayerWeight(Operation *user, unsigned index) {
  if (!isa<nn::QConv2dOp, nn::QGemmOp>(user) || index != 1 ||
      !user->hasAttr("output_type"))
    return false;
  auto type = cast<ShapedType>(user->getOperand(1).getType());
  return type.getElementType().isInteger(8);
}

/// Whether `v` is int32 data read through a dequantize as the bias
/// (operand 2) of `user`, an int8 layer (ONNX Runtime's QDQ biases); its
/// load, or null.
static ml_program::GlobalLoadOp int32LayerBias(Operation *user, unsigned index,
                                               Value v) {
  auto dq = v.getDefiningOp<nn::DequantizeOp>();
  if (!dq || !isa<nn::QConv2dOp, nn::QGemmOp>(user) || index != 2)
    return {};
  auto load = dq.getInput().getDefiningOp<ml_program::GlobalLoadOp>();
  auto type = cast<ShapedType>(dq.getInput().getType());
  return load && type.getElementType().isInteger(32)
             ? load
             : ml_program::GlobalLoadOp();
}

/// The weight_type of the int8 layers that read the loads of `g` as their
/// weight, if every use of them is one with one type.
static TypeAttr int8LayerWeightType(ArrayRef<ml_program::GlobalLoadOp> loads) {
  TypeAttr type;
  for (auto load : loads)
    for (OpOperand &use : load->getUses()) {
      Operation *user = use.getOwner();
      if (!isInt8LayerWeight(user, use.getOperandNumber()))
        return {};
      TypeAttr t = user->getAttrOfType<TypeAttr>("weight_type");
      if (!t || (type && type != t))
        return {};
      type = t;
    }
  return type;
}

/// What --trainable selects.
struct TrainableSet {
  llvm::SetVector<ml_program::GlobalOp> params;
  /// Those named exactly (no glob): one that cannot train is an error.
  llvm::DenseSet<Operation *> named;
};

/// What trains, for the diagnostics about integer data that does not.
static constexpr const char *kTrainableData =
    "float32 initializers train, and the 8-bit weights of int8 layers with a "
    "quantized output and the int32 biases they read through "
    "DequantizeLinear; other integer data does not (ConvInteger and "
    "MatMulInteger weights, QLinearConv's int32 bias, data read through "
    "DequantizeLinear elsewhere)";

/// The error for a --trainable that selects nothing; models with integer
/// initializers learn why theirs do not count.
static LogicalResult noParameterSelected(ModuleOp module, func::FuncOp forward,
                                         StringRef spec) {
  auto diag = emitError(forward.getLoc())
              << "--trainable '" << spec << "' selects no parameter";
  bool integerData =
      llvm::any_of(module.getOps<ml_program::GlobalOp>(), [](auto g) {
        auto t = dyn_cast<ShapedType>(g.getType());
        return t && !t.getElementType().isF32();
      });
  if (integerData)
    diag << " (" << kTrainableData << ")";
  return failure();
}

/// The error for a --trainable name that matches no trainable parameter,
/// saying why when it names integer data.
static FailureOr<TrainableSet> unmatchedName(ModuleOp module,
                                             func::FuncOp forward,
                                             StringRef name,
                                             const llvm::GlobPattern &pattern) {
  auto diag = emitError(forward.getLoc())
              << "--trainable names '" << name
              << "', which matches no trainable initializer of the model";
  for (auto g : module.getOps<ml_program::GlobalOp>()) {
    auto type = dyn_cast<ShapedType>(g.getType());
    if (type && !type.getElementType().isF32() && matchesName(pattern, g)) {
      diag << " ('" << onnxName(g) << "' is int"
           << type.getElementType().getIntOrFloatBitWidth()
           << " data: " << kTrainableData << ")";
      break;
    }
  }
  return failure();
}

/// Resolves --trainable into the set of parameter globals that train.
/// "last:K" counts parameterised layers (ops that read a parameter) from the
/// output backwards.
static FailureOr<TrainableSet>
resolveTrainable(ModuleOp module, func::FuncOp forward, StringRef spec) {
  TrainableSet set;
  llvm::SetVector<ml_program::GlobalOp> &result = set.params;
  SymbolTable symbols(module);
  // A weight an int8 layer reads through nn.quantize is that layer's, and
  // so is 8-bit data it reads directly (ONNX Runtime's QDQ: an int8
  // initializer and a DequantizeLinear, fused into the layer).
  auto globalOf = [&](Operation *user, unsigned index,
                      Value v) -> ml_program::GlobalOp {
    if (auto q = v.getDefiningOp<nn::QuantizeOp>())
      v = q.getInput();
    if (auto bias = int32LayerBias(user, index, v))
      return symbols.lookup<ml_program::GlobalOp>(
          bias.getGlobal().getLeafReference());
    auto load = v.getDefiningOp<ml_program::GlobalLoadOp>();
    if (!load)
      return nullptr;
    auto g = symbols.lookup<ml_program::GlobalOp>(
        load.getGlobal().getLeafReference());
    // Other integer data (read through a dequantize) does not train.
    auto type = g ? dyn_cast<ShapedType>(g.getType()) : ShapedType();
    if (type && !type.getElementType().isF32() &&
        !isInt8LayerWeight(user, index))
      return ml_program::GlobalOp();
    return g;
  };
  // Parameterised layers in program order.
  SmallVector<SmallVector<ml_program::GlobalOp>> layers;
  forward.walk([&](Operation *op) {
    if (!isa<nn::AutodiffOpInterface>(op) || isa<nn::QuantizeOp>(op))
      return;
    SmallVector<ml_program::GlobalOp> params;
    auto ad = cast<nn::AutodiffOpInterface>(op);
    for (auto [i, v] : llvm::enumerate(op->getOperands()))
      if (auto g = globalOf(op, i, v))
        if (ad.isDifferentiableOperand(i) && !g->hasAttr("onnx.constant"))
          params.push_back(g);
    if (!params.empty())
      layers.push_back(params);
  });
  if (spec == "all") {
    for (auto &l : layers)
      result.insert(l.begin(), l.end());
  } else if (spec.consume_front("last:")) {
    unsigned k;
    if (spec.getAsInteger(10, k) || k == 0)
      return emitError(forward.getLoc())
                 << "--trainable last:K needs a positive K, got '" << spec
                 << "'",
             failure();
    if (k > layers.size())
      return emitError(forward.getLoc())
                 << "--trainable last:" << k << " but the model has only "
                 << layers.size() << " parameterised layers",
             failure();
    for (size_t i = layers.size() - k; i < layers.size(); ++i)
      result.insert(layers[i].begin(), layers[i].end());
  } else if (spec == "bias-only") {
    // Rank-1 parameters of layers: biases (and batch-norm shifts/scales).
    for (auto &l : layers)
      for (auto g : l)
        if (cast<ShapedType>(g.getType()).getRank() == 1)
          result.insert(g);
  } else {
    SmallVector<StringRef> names;
    spec.split(names, ',', -1, false);
    for (StringRef name : names) {
      name = name.trim();
      bool found = false;
      auto pattern = llvm::GlobPattern::create(name);
      if (!pattern) {
        llvm::consumeError(pattern.takeError());
        return emitError(forward.getLoc())
                   << "--trainable pattern '" << name << "' is malformed",
               failure();
      }
      bool exact = name.find_first_of("*?[\\{") == StringRef::npos;
      for (auto &l : layers)
        for (auto g : l)
          if (matchesName(*pattern, g)) {
            result.insert(g);
            if (exact)
              set.named.insert(g);
            found = true;
          }
      if (!found)
        return unmatchedName(module, forward, name, *pattern);
    }
  }
  if (result.empty())
    return noParameterSelected(module, forward, spec);
  return set;
}

/// Integer initializers a layer reads where a float one would train (ONNX
/// Runtime's int32 biases through DequantizeLinear, QLinearConv's int32
/// bias, ConvInteger's weight): they stay frozen, never silently. A warning
/// for each that --trainable's pattern (or "all") covers.
static void
warnFrozenIntegerData(ModuleOp module, func::FuncOp forward, StringRef spec,
                      const llvm::SetVector<ml_program::GlobalOp> &trained) {
  SymbolTable symbols(module);
  llvm::MapVector<ml_program::GlobalOp, StringRef> frozen; // -> how it is read
  forward.walk([&](nn::AutodiffOpInterface ad) {
    Operation *op = ad.getOperation();
    if (isa<nn::QuantizeOp, nn::DequantizeOp>(op))
      return;
    bool intLayer = isa<nn::QConv2dOp, nn::QGemmOp>(op);
    for (auto [i, v] : llvm::enumerate(op->getOperands())) {
      auto dq = v.getDefiningOp<nn::DequantizeOp>();
      auto load = dq ? dq.getInput().getDefiningOp<ml_program::GlobalLoadOp>()
                     : v.getDefiningOp<ml_program::GlobalLoadOp>();
      bool direct = !dq && intLayer && (i == 1 || i == 2);
      if (!load || (!direct && !(dq && ad.isDifferentiableOperand(i))))
        continue;
      auto g = symbols.lookup<ml_program::GlobalOp>(
          load.getGlobal().getLeafReference());
      auto type = g ? dyn_cast<ShapedType>(g.getType()) : ShapedType();
      if (!type || type.getElementType().isF32() || trained.contains(g))
        continue;
      if (dq)
        frozen.insert({g, "read through DequantizeLinear"});
      else if (i == 2)
        frozen.insert({g, "an int8 layer's int32 bias, read directly"});
      else if (!op->hasAttr("output_type"))
        frozen.insert({g, "the weight of a layer whose result is its int32 "
                          "sum"});
    }
  });
  auto pattern = llvm::GlobPattern::create(spec);
  for (auto [g, how] : frozen) {
    bool covered = spec == "all" || (pattern && matchesName(*pattern, g));
    if (covered)
      emitWarning(g.getLoc()) << "integer initializer '" << onnxName(g) << "' ("
                              << how << ") stays frozen: " << kTrainableData;
  }
  if (!pattern)
    llvm::consumeError(pattern.takeError());
}

/// A trainable value reaches an operand the op has no gradient for (a
/// BatchNorm's running statistics, an index): an error naming the
/// parameter, and how it came to be shared.
void reportUntrainableUse(Operation *op, unsigned operand,
                          ml_program::GlobalOp param) {
  auto diag = nodeError(op)
              << "operand #" << operand << " of this op cannot train";
  if (!param)
    return;
  diag << ", but it reads trainable parameter '" << onnxName(param) << "'";
  if (auto tied = param->getAttrOfType<ArrayAttr>("onnx.tied_aliases"))
    diag << ", which --tie-shared-initializers shares with " << tied.size()
         << " alias" << (tied.size() == 1 ? "" : "es")
         << " (without that option each alias is a parameter of its own)";
  else
    diag << " (freeze it with --trainable)";
}

/// The marks of a backward op: the attribute for MAC counting; the location
/// tag survives lowering, so the planner can tell gradients from
/// activations.
void tagBackward(OpBuilder &b, Operation *op) {
  op->setAttr("mcutrain.backward", b.getUnitAttr());
  op->setLoc(FusedLoc::get(b.getContext(), {op->getLoc()},
                           b.getStringAttr("mcutrain.backward")));
}

/// @train_step's forward part: which values depend on a trainable
/// parameter (and so need gradients), and which parameter each load reads.
struct ForwardPart {
  SmallVector<Operation *> ops;
  llvm::DenseSet<Value> active;
  llvm::DenseMap<Value, ml_program::GlobalOp> paramOf;
};

ForwardPart
analyseForward(ModuleOp module, Block *body,
               const llvm::SetVector<ml_program::GlobalOp> &params) {
  ForwardPart fw;
  for (Operation &op : *body) {
    fw.ops.push_back(&op);
    if (auto load = dyn_cast<ml_program::GlobalLoadOp>(op)) {
      auto g = module.lookupSymbol<ml_program::GlobalOp>(
          load.getGlobal().getLeafReference());
      if (g && params.contains(g)) {
        fw.active.insert(load.getResult());
        fw.paramOf[load.getResult()] = g;
      }
      continue;
    }
    if (llvm::any_of(op.getOperands(),
                     [&](Value v) { return fw.active.contains(v); }))
      fw.active.insert(op.getResults().begin(), op.getResults().end());
  }
  return fw;
}

/// Reverse-mode differentiation of the forward part, op by op through
/// AutodiffOpInterface, appending to the step's body.
struct Backward {
  OpBuilder &b;
  Block *body;
  const ForwardPart &fw;
  llvm::DenseMap<Value, Value> grads;

  Backward(OpBuilder &b, Block *body, const ForwardPart &fw)
      : b(b), body(body), fw(fw) {}
  void accumulate(Value v, Value g, Location loc) {
    auto it = grads.find(v);
    if (it == grads.end()) {
      grads[v] = g;
      return;
    }
    auto add = nn::AddOp::create(b, loc, g.getType(), it->second, g);
    tagBackward(b, add);
    it->second = add;
  }
  /// The gradients of `op`'s operands from its result's.
  LogicalResult propagate(Operation *op, Value resultGrad);
};

LogicalResult Backward::propagate(Operation *op, Value resultGrad) {
  auto ad = dyn_cast<nn::AutodiffOpInterface>(op);
  SmallVector<bool> need;
  for (auto [i, v] : llvm::enumerate(op->getOperands())) {
    bool n = fw.active.contains(v);
    if (n && ad && !ad.isDifferentiableOperand(i))
      return reportUntrainableUse(op, i, fw.paramOf.lookup(v)), failure();
    need.push_back(n);
  }
  if (!ad && llvm::is_contained(need, true))
    // Never drop a gradient silently.
    return nodeError(op) << "no gradient is defined for this op", failure();
  if (llvm::none_of(need, [](bool x) { return x; }))
    return success();
  Block::iterator before = std::prev(body->end());
  bool wasEmpty = body->empty();
  SmallVector<Value> operandGrads;
  if (failed(ad.buildAdjoint(b, resultGrad, need, operandGrads)))
    return nodeError(op) << "cannot build the adjoint of this op", failure();
  for (Operation &made : llvm::make_range(
           wasEmpty ? body->begin() : std::next(before), body->end()))
    tagBackward(b, &made);
  for (auto [v, g] : llvm::zip(op->getOperands(), operandGrads))
    if (g)
      accumulate(v, g, op->getLoc());
  return success();
}

/// The skip flag the step's decisions write (guard-backward, TinyPropv2).
void declareSkipFlag(ModuleOp module, OpBuilder &b, func::FuncOp step) {
  if (module.lookupSymbol(train::kSkipStepGlobal))
    return;
  OpBuilder::InsertionGuard g(b);
  b.setInsertionPoint(step);
  auto flag = memref::GlobalOp::create(
      b, step.getLoc(), train::kSkipStepGlobal, b.getStringAttr("private"),
      MemRefType::get({1}, b.getI32Type()), Attribute(),
      /*constant=*/false, IntegerAttr());
  flag->setAttr("mcutrain.zero_at_init", b.getUnitAttr());
}

struct DeriveBackwardPass
    : public mcutrain::impl::DeriveBackwardPassBase<DeriveBackwardPass> {
  using DeriveBackwardPassBase::DeriveBackwardPassBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto forward = module.lookupSymbol<func::FuncOp>("forward");
    if (failed(checkModel(module, forward)))
      return signalPassFailure();
    auto trainableOr = resolveTrainable(module, forward, trainable);
    if (failed(trainableOr))
      return signalPassFailure();
    warnFrozenIntegerData(module, forward, trainable, trainableOr->params);
    for (auto g : trainableOr->params) {
      g.setIsMutable(true);
      if (failed(makeIntegerParam(g, forward)))
        return signalPassFailure();
    }

    OpBuilder b(module.getBodyRegion());
    auto [step, logits] = createStep(b, forward);
    Block *body = &step.getBody().front();
    ForwardPart fw = analyseForward(module, body, trainableOr->params);
    Location lossLoc = NameLoc::get(b.getStringAttr("loss"), step.getLoc());
    Value lossValue = buildLoss(b, lossLoc, logits, step.getArgument(1));
    // A sample whose loss is not finite touches no weight: the first skip
    // decision of the step (guard-backward puts the backward pass under it).
    train::FiniteGuardOp::create(b, lossLoc, lossValue);
    declareSkipFlag(module, b, step);

    Backward bw(b, body, fw);
    if (fw.active.contains(logits))
      bw.grads[logits] = seedGradient(b, lossLoc, logits, step.getArgument(1));
    for (Operation *op : llvm::reverse(fw.ops)) {
      if (op->getNumResults() != 1 || isa<ml_program::GlobalLoadOp>(op))
        continue; // parameters: updated below
      auto it = bw.grads.find(op->getResult(0));
      if (it != bw.grads.end() && failed(bw.propagate(op, it->second)))
        return signalPassFailure();
    }
    llvm::DenseSet<Operation *> updated = createUpdates(b, fw, bw.grads);
    Value scalar =
        tensor::ExtractOp::create(b, lossLoc, lossValue, ValueRange{});
    func::ReturnOp::create(b, step.getLoc(), scalar);
    if (failed(freezeUngraded(*trainableOr, updated)))
      return signalPassFailure();
  }

  LogicalResult checkModel(ModuleOp module, func::FuncOp forward) {
    if (!forward || forward.getNumArguments() != 1 ||
        forward.getNumResults() != 1)
      return module.emitError("training needs a model with one input and one "
                              "output (--inference-only compiles any other)");
    if (module.lookupSymbol("train_step"))
      return module.emitError("the module already has @train_step");
    if (!train::symbolizeOptimizerKind(optimizer))
      return module.emitError()
             << "unsupported optimizer '" << optimizer
             << "' (supported: sgd, momentum, nesterov, adam, adagrad)";
    if (loss != "cross-entropy" && loss != "mse")
      return module.emitError() << "unsupported loss '" << loss
                                << "' (supported: cross-entropy, mse)";
    if (weightUpdate != "int8" && weightUpdate != "fp32-master")
      return module.emitError()
             << "unsupported --weight-update '" << weightUpdate
             << "' (supported: int8, fp32-master)";
    if (qas != "on" && qas != "off")
      return module.emitError()
             << "unsupported --qas '" << qas << "' (supported: on, off)";
    auto logitsType = dyn_cast<RankedTensorType>(forward.getResultTypes()[0]);
    if (!logitsType || (loss != "mse" && logitsType.getRank() != 2))
      return forward.emitError("cross-entropy needs 2-D logits [batch, "
                               "classes], the model returns ")
             << forward.getResultTypes()[0];
    // One label per logits row, and the API passes kBatch (the input's
    // first dim) labels: a model that moved the batch dim away would read
    // labels past the caller's array.
    auto inputType = dyn_cast<RankedTensorType>(forward.getArgumentTypes()[0]);
    if (loss != "mse" && inputType && inputType.getRank() > 0 &&
        logitsType.getDimSize(0) != inputType.getDimSize(0))
      return forward.emitError("cross-entropy needs logits [batch, classes] "
                               "with the input's batch (")
             << inputType.getDimSize(0) << ") first; the model returns "
             << logitsType << " (a Transpose or Reshape moved the batch "
             << "dimension)";
    return success();
  }

  /// @train_step(input, labels) -> loss, starting as a copy of @forward;
  /// returns it and the copied logits. Labels are integer classes for
  /// cross-entropy, a target like the output for MSE.
  std::pair<func::FuncOp, Value> createStep(OpBuilder &b,
                                            func::FuncOp forward) {
    b.setInsertionPointAfter(forward);
    auto logitsType = cast<RankedTensorType>(forward.getResultTypes()[0]);
    Type labelsType =
        loss == "mse"
            ? Type(logitsType)
            : RankedTensorType::get({logitsType.getDimSize(0)}, b.getI32Type());
    auto step = func::FuncOp::create(
        b, forward.getLoc(), "train_step",
        b.getFunctionType({forward.getArgumentTypes()[0], labelsType},
                          {b.getF32Type()}));
    Block *body = step.addEntryBlock();
    IRMapping map;
    map.map(forward.getArgument(0), step.getArgument(0));
    b.setInsertionPointToEnd(body);
    Value logits;
    for (Operation &op : forward.getBody().front()) {
      if (auto ret = dyn_cast<func::ReturnOp>(op)) {
        logits = map.lookup(ret.getOperand(0));
        break;
      }
      b.clone(op, map);
    }
    return {step, logits};
  }

  Value buildLoss(OpBuilder &b, Location loc, Value logits, Value labels) {
    auto scalarType = RankedTensorType::get({}, b.getF32Type());
    if (loss == "mse")
      return train::MseLossOp::create(b, loc, scalarType, logits, labels);
    return train::CrossEntropyLossOp::create(b, loc, scalarType, logits,
                                             labels);
  }

  /// The loss's gradient with respect to the logits.
  Value seedGradient(OpBuilder &b, Location loc, Value logits, Value labels) {
    Type t = logits.getType();
    Operation *seed =
        loss == "mse"
            ? train::MseLossGradOp::create(b, loc, t, logits, labels)
                  .getOperation()
            : train::CrossEntropyLossGradOp::create(b, loc, t, logits, labels)
                  .getOperation();
    tagBackward(b, seed);
    return seed->getResult(0);
  }

  /// One update per trainable parameter load, at the end; reorder-updates
  /// moves each to its earliest legal point. Returns the updated globals.
  llvm::DenseSet<Operation *>
  createUpdates(OpBuilder &b, const ForwardPart &fw,
                const llvm::DenseMap<Value, Value> &grads) {
    train::OptimizerAttr rule = optimizerAttr();
    llvm::DenseSet<Operation *> updated;
    for (Operation *op : fw.ops) {
      auto load = dyn_cast<ml_program::GlobalLoadOp>(op);
      if (!load || !fw.paramOf.count(load.getResult()))
        continue;
      auto it = grads.find(load.getResult());
      if (it == grads.end())
        continue;
      ml_program::GlobalOp param = fw.paramOf.lookup(load.getResult());
      updated.insert(param);
      TypeAttr weightType = integerParams.lookup(param);
      auto upd = train::UpdateOp::create(
          b, load.getLoc(), /*input_grad=*/Type(),
          FlatSymbolRefAttr::get(load.getGlobal().getLeafReference()),
          it->second, rule, /*channels=*/Value(), b.getI64IntegerAttr(1),
          /*outer=*/Value(), weightType,
          weightType && qas == "off" ? b.getUnitAttr() : UnitAttr());
      tagBackward(b, upd);
    }
    return updated;
  }

  /// The integer parameters, each with its quant type (the update's
  /// weight_type): int8 weights (TTE), updated in place, and int32 biases.
  llvm::DenseMap<Operation *, TypeAttr> integerParams;

  /// Makes trainable `g` an integer parameter where its data and uses say
  /// so: int32 data read through dequantizes (a bias), int8 data an int8
  /// layer reads (ONNX Runtime's QDQ), or, with --weight-update int8, float
  /// data read only through one 8-bit quantize (PyTorch's QDQ).
  LogicalResult makeIntegerParam(ml_program::GlobalOp g, func::FuncOp forward) {
    auto data = dyn_cast_or_null<DenseElementsAttr>(g.getValueAttr());
    if (!data)
      return success();
    SmallVector<ml_program::GlobalLoadOp> loads;
    forward.walk([&](ml_program::GlobalLoadOp l) {
      if (l.getGlobal().getLeafReference() == g.getSymNameAttr())
        loads.push_back(l);
    });
    Type element = data.getElementType();
    if (element.isInteger(32))
      return adoptInt32Bias(g, loads);
    if (element.isInteger(8))
      return adoptInt8Data(g, loads);
    if (weightUpdate == "int8" && element.isF32())
      quantizeInt8Weight(g, data, loads);
    return success();
  }

  /// An int32 bias (ONNX Runtime's QDQ) trains in place in integer units
  /// of its dequantize's scale (x_scale * w_scale[f]), the int8 weights'
  /// rule with q + round(step) in integer arithmetic; its dequantize stays
  /// in the forward pass (the layer reads a float bias).
  LogicalResult adoptInt32Bias(ml_program::GlobalOp g,
                               ArrayRef<ml_program::GlobalLoadOp> loads) {
    TypeAttr type;
    for (auto load : loads)
      for (Operation *user : load->getUsers()) {
        auto dq = dyn_cast<nn::DequantizeOp>(user);
        if (!dq || (type && type != dq.getQuantTypeAttr()))
          return emitError(g.getLoc())
                 << "the int32 initializer '" << onnxName(g)
                 << "' trains only as a bias read through DequantizeLinears "
                    "of one quantization, and is read otherwise";
        type = dq.getQuantTypeAttr();
      }
    if (weightDecay != 0)
      return emitError(g.getLoc())
             << "--weight-decay does not apply to the int32 bias '"
             << onnxName(g) << "' (its update adds a rounded step to the "
             << "integer); train it without weight decay or freeze it";
    integerParams[g] = type;
    return success();
  }

  /// 8-bit data (ONNX Runtime's QDQ) already is the integers: it trains in
  /// place with its layers' weight type (fp32-master would need float data).
  LogicalResult adoptInt8Data(ml_program::GlobalOp g,
                              ArrayRef<ml_program::GlobalLoadOp> loads) {
    TypeAttr type = int8LayerWeightType(loads);
    if (!type)
      return emitError(g.getLoc())
             << "the int8 initializer '" << onnxName(g)
             << "' trains only as the weight of int8 layers of one "
                "quantization, and is read otherwise";
    if (weightUpdate != "int8")
      return emitError(g.getLoc())
             << "--weight-update " << weightUpdate
             << " keeps a float32 copy of float initializers; '" << onnxName(g)
             << "' is int8 data: use --weight-update int8";
    integerParams[g] = type;
    return success();
  }

  /// The int8 weights of PyTorch's QDQ (TTE): a trainable float global
  /// whose loads all feed one nn.quantize type with 8-bit storage (an int8
  /// layer's weight, no dequantize after it) becomes that type's integers,
  /// the quantizes gone.
  void quantizeInt8Weight(ml_program::GlobalOp g, DenseElementsAttr data,
                          ArrayRef<ml_program::GlobalLoadOp> loads) {
    TypeAttr type;
    for (auto load : loads)
      for (Operation *user : load->getUsers()) {
        auto q = dyn_cast<nn::QuantizeOp>(user);
        if (!q || (type && type != q.getQuantTypeAttr()) ||
            llvm::any_of(q->getUsers(),
                         [](Operation *u) { return isa<nn::DequantizeOp>(u); }))
          return;
        type = q.getQuantTypeAttr();
      }
    auto quantType =
        dyn_cast_or_null<quant::QuantizedType>(type ? type.getValue() : Type());
    if (!quantType || quantType.getStorageTypeIntegralWidth() != 8)
      return;
    DenseElementsAttr ints = nn::quantizeElements(data, quantType);
    g.setValueAttr(ints);
    g.setType(ints.getType());
    for (auto load : loads) {
      load.getResult().setType(ints.getType());
      for (Operation *q : llvm::make_early_inc_range(load->getUsers())) {
        q->getResult(0).replaceAllUsesWith(load.getResult());
        q->erase();
      }
    }
    integerParams[g] = type;
  }

  /// The update rule of the options (the optimizer's default epsilon;
  /// dampening only for the rules that have it).
  train::OptimizerAttr optimizerAttr() {
    train::OptimizerKind kind = *train::symbolizeOptimizerKind(optimizer);
    bool momentumRule = kind == train::OptimizerKind::momentum ||
                        kind == train::OptimizerKind::nesterov;
    float eps = epsilon >= 0                            ? epsilon
                : kind == train::OptimizerKind::adagrad ? 1e-10
                                                        : 1e-8;
    auto f = [](double v) { return APFloat((float)v); };
    return train::OptimizerAttr::get(
        &getContext(), kind, f(lr), f(momentum), f(beta1), f(beta2), f(eps),
        f(weightDecay), f(lrDecay), f(momentumRule ? (double)dampening : 0.0),
        train::AdamForm::pytorch);
  }

  /// A selected parameter that gets no gradient (nothing it feeds reaches
  /// the loss) is never frozen silently: an error if --trainable named it,
  /// else a warning, and it stays in flash.
  LogicalResult freezeUngraded(const TrainableSet &set,
                               const llvm::DenseSet<Operation *> &updated) {
    bool anyUpdated = false;
    for (ml_program::GlobalOp g : set.params) {
      if (updated.contains(g)) {
        anyUpdated = true;
        continue;
      }
      if (set.named.contains(g))
        return emitError(g.getLoc())
               << "--trainable names parameter '" << onnxName(g)
               << "', but no gradient reaches it from the loss (nothing "
                  "it feeds affects the loss through differentiable ops)";
      emitWarning(g.getLoc())
          << "parameter '" << onnxName(g) << "' (selected by --trainable "
          << trainable << ") gets no gradient from the loss; it stays frozen";
      g.setIsMutable(false);
    }
    if (!anyUpdated)
      return emitError(getOperation().getLoc())
             << "--trainable '" << trainable
             << "' selects no parameter that the loss depends on";
    return success();
  }
};

} // namespace
