//===- FoldFrozenQuantization.cpp - fake-quantized frozen weights ---------===//
//
// Where it sits: where mutability is final, before share-frozen-aliases.
// See Passes.td.
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"

#include "dialects/NN/NN.h"
#include "mlir/Dialect/MLProgram/IR/MLProgram.h"
#include "mlir/Dialect/Quant/IR/QuantTypes.h"

#include <cmath>

namespace mcutrain {
#define GEN_PASS_DEF_FOLDFROZENQUANTIZATIONPASS
#include "passes/Passes.h.inc"
} // namespace mcutrain

using namespace mlir;
using namespace mcutrain;

namespace {

/// nn.quantize then nn.dequantize of one element, in the generated code's
/// float arithmetic (lower-to-linalg's Quantization.cpp).
float fakeQuantize(float x, float scale, float zero, float lo, float hi) {
  return (nn::quantizeScalar(x, scale, zero, lo, hi) - zero) * scale;
}

/// What a frozen global's loads feed.
enum class Use {
  quantizeDequantize, // float data, each load -> nn.quantize -> dequantize
  quantize,           // float data, each load -> nn.quantize (int8 layers)
  dequantize,         // integer data, each load -> nn.dequantize
};

/// The type every load of `g` is (de)quantized with, and how, if all of
/// its loads are used one way (`Use`) with one quant_type.
FailureOr<std::pair<Type, Use>>
uniqueQuantization(ArrayRef<ml_program::GlobalLoadOp> loads, bool isFloat) {
  Type found;
  std::optional<Use> use;
  auto same = [&](Type t, Use u) {
    if (!found) {
      found = t;
      use = u;
    }
    return found == t && use == u;
  };
  for (auto load : loads)
    for (Operation *user : load->getUsers()) {
      if (!isFloat) {
        auto dq = dyn_cast<nn::DequantizeOp>(user);
        if (!dq || !same(dq.getQuantType(), Use::dequantize))
          return failure();
        continue;
      }
      auto q = dyn_cast<nn::QuantizeOp>(user);
      if (!q)
        return failure();
      bool pairs =
          !q->use_empty() && llvm::all_of(q->getUsers(), [&](Operation *qu) {
            auto dq = dyn_cast<nn::DequantizeOp>(qu);
            return dq && dq.getQuantType() == q.getQuantType();
          });
      bool layers = llvm::none_of(q->getUsers(), [](Operation *qu) {
        return isa<nn::DequantizeOp>(qu);
      });
      if ((!pairs && !layers) ||
          !same(q.getQuantType(),
                pairs ? Use::quantizeDequantize : Use::quantize))
        return failure();
    }
  if (!found)
    return failure();
  return std::make_pair(found, *use);
}

/// The folded data: the quantized integers (`Use::quantize`), or the
/// dequantized floats of the (first quantized) data.
DenseElementsAttr foldedData(DenseElementsAttr data, Type quantType, Use use) {
  if (use == Use::quantize)
    return nn::quantizeElements(data, quantType);
  auto shape = cast<ShapedType>(data.getType()).getShape();
  auto q = cast<quant::QuantizedType>(quantType);
  float lo = q.getStorageTypeMin(), hi = q.getStorageTypeMax();
  SmallVector<float> out;
  int64_t i = 0;
  auto push = [&](float v) {
    auto [scale, zero] = nn::quantParamsAt(quantType, shape, i++);
    if (use == Use::dequantize)
      out.push_back((v - zero) * scale);
    else
      out.push_back(fakeQuantize(v, scale, zero, lo, hi));
  };
  if (use == Use::dequantize)
    for (const APInt &v : data.getValues<APInt>())
      push(q.isSigned() ? float(v.getSExtValue()) : float(v.getZExtValue()));
  else
    for (float v : data.getValues<float>())
      push(v);
  auto type = RankedTensorType::get(shape, Float32Type::get(data.getContext()));
  return DenseElementsAttr::get(type, ArrayRef<float>(out));
}

struct FoldFrozenQuantizationPass
    : public mcutrain::impl::FoldFrozenQuantizationPassBase<
          FoldFrozenQuantizationPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    llvm::MapVector<StringAttr, SmallVector<ml_program::GlobalLoadOp>> loads;
    module.walk([&](ml_program::GlobalLoadOp load) {
      loads[load.getGlobal().getLeafReference()].push_back(load);
    });
    for (auto g : module.getOps<ml_program::GlobalOp>())
      if (!g.getIsMutable())
        fold(g, loads.lookup(g.getSymNameAttr()));
  }

  /// Folds until the global's loads feed no quantization (an int32 bias
  /// read through a dequantize that an int8 layer quantizes again folds
  /// twice).
  void fold(ml_program::GlobalOp g, ArrayRef<ml_program::GlobalLoadOp> loads) {
    while (foldOnce(g, loads)) {
    }
  }

  bool foldOnce(ml_program::GlobalOp g,
                ArrayRef<ml_program::GlobalLoadOp> loads) {
    auto data = dyn_cast_or_null<DenseElementsAttr>(g.getValueAttr());
    if (!data || loads.empty())
      return false;
    auto quantization =
        uniqueQuantization(loads, data.getElementType().isF32());
    if (failed(quantization))
      return false;
    auto [quantType, use] = *quantization;
    DenseElementsAttr folded = foldedData(data, quantType, use);
    g.setValueAttr(folded);
    g.setType(folded.getType());
    for (auto load : loads) {
      load.getResult().setType(folded.getType());
      for (Operation *user : llvm::make_early_inc_range(load->getUsers()))
        replaceWithLoad(user, load, use);
    }
    return true;
  }

  /// `user` (nn.quantize or nn.dequantize) and, for quantize-dequantize
  /// pairs, the dequantize after it are replaced by the load, which now
  /// holds their result.
  static void replaceWithLoad(Operation *user, ml_program::GlobalLoadOp load,
                              Use use) {
    if (use == Use::quantizeDequantize)
      for (Operation *dq : llvm::make_early_inc_range(user->getUsers())) {
        dq->getResult(0).replaceAllUsesWith(load.getResult());
        dq->erase();
      }
    user->getResult(0).replaceAllUsesWith(load.getResult());
    user->erase();
  }
};

} // namespace
