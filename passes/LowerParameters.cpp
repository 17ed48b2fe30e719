//===- LowerParameters.cpp - ml_program globals → memref globals, @init ---===//
//
// Where it sits: the first step of lowering, before lower-to-linalg. See
// Passes.td.
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"

#include "mlir/Dialect/MLProgram/IR/MLProgram.h"

namespace mcutrain {
#define GEN_PASS_DEF_LOWERPARAMETERSPASS
#include "passes/Passes.h.inc"
} // namespace mcutrain

using namespace mlir;
using namespace mcutrain;

namespace {

/// A trainable parameter (RAM) and the flash image @init copies it from.
struct ParameterImage {
  StringRef param, image;
};

struct LowerParametersPass
    : public mcutrain::impl::LowerParametersPassBase<LowerParametersPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    OpBuilder b(module.getContext());
    FailureOr<SmallVector<ParameterImage>> trainable = lowerGlobals(b);
    if (failed(trainable))
      return signalPassFailure();
    SmallVector<train::UpdateOp> updates;
    module.walk([&](train::UpdateOp u) { updates.push_back(u); });
    std::optional<train::UpdateOp> adam;
    for (auto u : updates)
      if (u.getOptimizer().getKind() == train::OptimizerKind::adam && !adam)
        adam = u;
    createScalars(b, updates, adam);
    SmallVector<StringRef> states = createOptimizerState(b, updates);
    advanceCounters(b, updates, adam);
    if (!module.lookupSymbol("init"))
      buildInit(b, *trainable, states, !updates.empty(), adam.has_value());
    lowerLoads(b);
  }

  /// Frozen parameters become constant globals (flash); trainable ones a
  /// RAM global plus a constant flash image that @init copies from.
  FailureOr<SmallVector<ParameterImage>> lowerGlobals(OpBuilder &b) {
    ModuleOp module = getOperation();
    SmallVector<ml_program::GlobalOp> globals(
        module.getOps<ml_program::GlobalOp>());
    SmallVector<ParameterImage> trainable;
    // Flash data by ONNX initializer: a frozen parameter's constant (one per
    // initializer after share-frozen-aliases), else the first image made;
    // the other trainable parameters untied from it take that as image.
    llvm::DenseMap<StringAttr, std::pair<StringAttr, Attribute>> flashCopy;
    for (auto g : globals)
      if (!g.getIsMutable() && !g->hasAttr("onnx.constant"))
        if (StringAttr source = initializerOf(g))
          flashCopy.try_emplace(source, g.getSymNameAttr(), g.getValueAttr());
    for (auto g : globals) {
      auto type = cast<RankedTensorType>(g.getType());
      auto mtype = MemRefType::get(type.getShape(), type.getElementType());
      auto init = dyn_cast_or_null<ElementsAttr>(g.getValueAttr());
      if (!init)
        return g.emitError("parameter has no initial value"), failure();
      b.setInsertionPoint(g);
      memref::GlobalOp param;
      if (g.getIsMutable()) {
        param = memref::GlobalOp::create(
            b, g.getLoc(), g.getSymName(), b.getStringAttr("public"), mtype,
            Attribute(), /*constant=*/false, IntegerAttr());
        StringAttr source = initializerOf(g), image;
        auto copy = source ? flashCopy.find(source) : flashCopy.end();
        if (copy != flashCopy.end() && copy->second.second == init) {
          image = copy->second.first;
        } else {
          std::string initName = (g.getSymName() + "__init").str();
          auto imageOp = memref::GlobalOp::create(
              b, g.getLoc(), initName, b.getStringAttr("public"), mtype, init,
              /*constant=*/true, IntegerAttr());
          imageOp->setAttr("mcutrain.image_of", g.getSymNameAttr());
          image = imageOp.getSymNameAttr();
          if (source)
            flashCopy.insert_or_assign(source, std::make_pair(image, init));
        }
        trainable.push_back({param.getSymName(), image.getValue()});
      } else {
        param = memref::GlobalOp::create(b, g.getLoc(), g.getSymName(),
                                         b.getStringAttr("public"), mtype, init,
                                         /*constant=*/true, IntegerAttr());
      }
      if (auto name = g->getAttr("onnx.name"))
        param->setAttr("onnx.name", name);
      param->setAttr("mcutrain.trainable", b.getBoolAttr(g.getIsMutable()));
      g.erase();
    }
    return trainable;
  }

  /// Run-time scalars: the learning rate (initialised to the compiled-in
  /// value), the step count and Adam's beta powers.
  void createScalars(OpBuilder &b, MutableArrayRef<train::UpdateOp> updates,
                     std::optional<train::UpdateOp> adam) {
    ModuleOp module = getOperation();
    auto scalarGlobal = [&](StringRef name, float init) {
      if (module.lookupSymbol(name))
        return;
      b.setInsertionPointToStart(module.getBody());
      memref::GlobalOp::create(
          b, module.getLoc(), name, b.getStringAttr("public"),
          MemRefType::get({}, b.getF32Type()),
          DenseElementsAttr::get(RankedTensorType::get({}, b.getF32Type()),
                                 init),
          /*constant=*/false, IntegerAttr());
    };
    if (!updates.empty()) {
      scalarGlobal(train::kLearningRateGlobal,
                   updates.front().getOptimizer().getLr().convertToFloat());
      scalarGlobal(train::kStepCountGlobal, 0.0f);
    }
    if (adam) {
      scalarGlobal(train::kBeta1PowerGlobal, 1.0f);
      scalarGlobal(train::kBeta2PowerGlobal, 1.0f);
    }
  }

  /// Optimizer state: float32 RAM buffers shaped like their parameter,
  /// zeroed by @init.
  SmallVector<StringRef>
  createOptimizerState(OpBuilder &b, ArrayRef<train::UpdateOp> updates) {
    ModuleOp module = getOperation();
    SmallVector<StringRef> states;
    for (auto u : updates) {
      auto g = module.lookupSymbol<memref::GlobalOp>(u.getParam());
      for (unsigned i = 0; i < u.getNumStateBuffers(); ++i) {
        std::string name = train::UpdateOp::stateName(u.getParam(), i);
        if (module.lookupSymbol(name))
          continue;
        b.setInsertionPointAfter(g);
        // float32 also for an int8 parameter's (its updates' real values).
        auto type = MemRefType::get(g.getType().getShape(), b.getF32Type());
        auto st = memref::GlobalOp::create(
            b, g.getLoc(), name, b.getStringAttr("public"), type, Attribute(),
            /*constant=*/false, IntegerAttr());
        st->setAttr("mcutrain.optimizer_state", b.getUnitAttr());
        states.push_back(st.getSymName());
      }
    }
    return states;
  }

  /// Each training step advances the counters right before its first
  /// update, as part of the backward pass: a step TinyPropv2 skips
  /// (guard-backward) does not count.
  void advanceCounters(OpBuilder &b, ArrayRef<train::UpdateOp> updates,
                       std::optional<train::UpdateOp> adam) {
    SmallVector<func::FuncOp> steps;
    for (auto u : updates) {
      auto f = u->getParentOfType<func::FuncOp>();
      if (!llvm::is_contained(steps, f))
        steps.push_back(f);
    }
    auto scalarType = MemRefType::get({}, b.getF32Type());
    auto scale = [&](Location loc, StringRef name, float factor, bool add) {
      Value m = memref::GetGlobalOp::create(b, loc, scalarType, name);
      Value v = memref::LoadOp::create(b, loc, m, ValueRange{});
      Value c = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(factor));
      Value next = add ? arith::AddFOp::create(b, loc, v, c).getResult()
                       : arith::MulFOp::create(b, loc, v, c).getResult();
      memref::StoreOp::create(b, loc, next, m, ValueRange{});
    };
    for (auto f : steps) {
      train::UpdateOp first =
          *f.getBody().front().getOps<train::UpdateOp>().begin();
      b.setInsertionPoint(first);
      Location loc = FusedLoc::get(b.getContext(), {f.getLoc()},
                                   b.getStringAttr("mcutrain.backward"));
      scale(loc, train::kStepCountGlobal, 1.0f, true);
      if (adam) {
        scale(loc, train::kBeta1PowerGlobal,
              adam->getOptimizer().getBeta1().convertToFloat(), false);
        scale(loc, train::kBeta2PowerGlobal,
              adam->getOptimizer().getBeta2().convertToFloat(), false);
      }
    }
  }

  /// @init() copies each trainable parameter from its flash image, zeroes
  /// the optimizer state and the sparse-update controllers' state, and
  /// resets the counters.
  void buildInit(OpBuilder &b, ArrayRef<ParameterImage> trainable,
                 ArrayRef<StringRef> states, bool counters, bool adam) {
    ModuleOp module = getOperation();
    b.setInsertionPointToEnd(module.getBody());
    auto init = func::FuncOp::create(b, module.getLoc(), "init",
                                     b.getFunctionType({}, {}));
    b.setInsertionPointToStart(init.addEntryBlock());
    Location loc = module.getLoc();
    for (auto [param, image] : trainable) {
      auto g = module.lookupSymbol<memref::GlobalOp>(image);
      fillGlobal(b, loc, param,
                 memref::GetGlobalOp::create(b, loc, g.getType(), image), 0.0f);
    }
    for (StringRef st : states)
      fillGlobal(b, loc, st, Value(), 0.0f);
    // Sparse-update controller state (DGSU's channel ages, importance).
    SmallVector<StringRef> zeroed;
    for (auto g : module.getOps<memref::GlobalOp>())
      if (g->hasAttr("mcutrain.zero_at_init"))
        zeroed.push_back(g.getSymName());
    for (StringRef name : zeroed)
      fillGlobal(b, loc, name, Value(), 0.0f);
    if (counters)
      fillGlobal(b, loc, train::kStepCountGlobal, Value(), 0.0f);
    if (adam) {
      fillGlobal(b, loc, train::kBeta1PowerGlobal, Value(), 1.0f);
      fillGlobal(b, loc, train::kBeta2PowerGlobal, Value(), 1.0f);
    }
    func::ReturnOp::create(b, loc);
  }

  /// Global `name` = `src` (a buffer shaped like it), or `value` everywhere.
  void fillGlobal(OpBuilder &b, Location loc, StringRef name, Value src,
                  float value) {
    auto g = getOperation().lookupSymbol<memref::GlobalOp>(name);
    Value dst = memref::GetGlobalOp::create(b, loc, g.getType(), name);
    unsigned rank = g.getType().getRank();
    AffineMap id = b.getMultiDimIdentityMap(rank);
    SmallVector<AffineMap> maps;
    if (src)
      maps.push_back(id);
    maps.push_back(id);
    linalg::GenericOp::create(
        b, loc, TypeRange(), src ? ValueRange{src} : ValueRange{}, dst, maps,
        SmallVector<utils::IteratorType>(rank, utils::IteratorType::parallel),
        [&](OpBuilder &ob, Location l, ValueRange a) {
          Type et = g.getType().getElementType();
          Value v =
              src ? a[0]
              : et.isF32()
                  ? arith::ConstantOp::create(ob, l, ob.getF32FloatAttr(value))
                        .getResult()
                  : arith::ConstantOp::create(
                        ob, l, ob.getIntegerAttr(et, (int64_t)value))
                        .getResult();
          linalg::YieldOp::create(ob, l, v);
        });
  }

  /// Each load becomes the global read as a tensor: restrict, since only
  /// that op reads it as a tensor and nothing writes through it, so
  /// bufferization makes no copy.
  void lowerLoads(OpBuilder &b) {
    ModuleOp module = getOperation();
    module.walk([&](ml_program::GlobalLoadOp load) {
      auto g = module.lookupSymbol<memref::GlobalOp>(
          load.getGlobal().getLeafReference());
      b.setInsertionPoint(load);
      Value m = memref::GetGlobalOp::create(b, load.getLoc(), g.getType(),
                                            g.getSymName());
      Value t = bufferization::ToTensorOp::create(
          b, load.getLoc(), load.getType(), m, /*restrict=*/true,
          /*writable=*/false);
      load.replaceAllUsesWith(t);
      load.erase();
    });
  }
};

} // namespace
