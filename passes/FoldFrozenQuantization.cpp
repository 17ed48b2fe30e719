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

/// Scale and zero point of element `index` of a tensor of `shape`.
std::pair<float, float> paramsAt(Type quantType, ArrayRef<int64_t> shape,
                                 int64_t index) {
  if (auto u = dyn_cast<quant::UniformQuantizedType>(quantType))
    return {float(u.getScale()), float(u.getZeroPoint())};
  auto axis = cast<quant::UniformQuantizedPerAxisType>(quantType);
  int64_t dim = axis.getQuantizedDimension(), stride = 1;
  for (int64_t d = shape.size() - 1; d > dim; --d)
    stride *= shape[d];
  int64_t c = (index / stride) % shape[dim];
  return {float(axis.getScales()[c]), float(axis.getZeroPoints()[c])};
}

/// nn.quantize then nn.dequantize of one element, in the generated code's
/// float arithmetic (lower-to-linalg's Quantization.cpp).
float fakeQuantize(float x, float scale, float zero, float lo, float hi) {
  float q = std::nearbyint(x * (1.0f / scale)) + zero;
  q = q > lo ? q : lo;
  q = q < hi ? q : hi;
  return (q - zero) * scale;
}

/// The type every load of `g` is (de)quantized with, if each load feeds
/// only nn.quantize -> nn.dequantize pairs (`viaQuantize`) or only
/// nn.dequantize (an integer global), all of one quant_type.
FailureOr<Type> uniqueQuantization(ArrayRef<ml_program::GlobalLoadOp> loads,
                                   bool viaQuantize) {
  Type found;
  auto same = [&](Type t) {
    if (!found)
      found = t;
    return found == t;
  };
  for (auto load : loads)
    for (Operation *user : load->getUsers()) {
      if (viaQuantize) {
        auto q = dyn_cast<nn::QuantizeOp>(user);
        if (!q || !same(q.getQuantType()))
          return failure();
        for (Operation *qu : q->getUsers()) {
          auto dq = dyn_cast<nn::DequantizeOp>(qu);
          if (!dq || dq.getQuantType() != q.getQuantType())
            return failure();
        }
      } else {
        auto dq = dyn_cast<nn::DequantizeOp>(user);
        if (!dq || !same(dq.getQuantType()))
          return failure();
      }
    }
  if (!found)
    return failure();
  return found;
}

/// The dequantized (and, for a float global, first quantized) data.
DenseElementsAttr foldedData(DenseElementsAttr data, Type quantType,
                             bool viaQuantize) {
  auto shape = cast<ShapedType>(data.getType()).getShape();
  auto q = cast<quant::QuantizedType>(quantType);
  float lo = q.getStorageTypeMin(), hi = q.getStorageTypeMax();
  SmallVector<float> out;
  int64_t i = 0;
  auto push = [&](float v) {
    auto [scale, zero] = paramsAt(quantType, shape, i++);
    out.push_back(viaQuantize ? fakeQuantize(v, scale, zero, lo, hi)
                              : (v - zero) * scale);
  };
  if (viaQuantize)
    for (float v : data.getValues<float>())
      push(v);
  else
    for (const APInt &v : data.getValues<APInt>())
      push(q.isSigned() ? float(v.getSExtValue()) : float(v.getZExtValue()));
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

  void fold(ml_program::GlobalOp g, ArrayRef<ml_program::GlobalLoadOp> loads) {
    auto data = dyn_cast_or_null<DenseElementsAttr>(g.getValueAttr());
    if (!data || loads.empty())
      return;
    bool viaQuantize = data.getElementType().isF32();
    FailureOr<Type> quantType = uniqueQuantization(loads, viaQuantize);
    if (failed(quantType))
      return;
    DenseElementsAttr folded = foldedData(data, *quantType, viaQuantize);
    g.setValueAttr(folded);
    g.setType(folded.getType());
    for (auto load : loads) {
      load.getResult().setType(folded.getType());
      for (Operation *user : llvm::make_early_inc_range(load->getUsers()))
        replaceWithLoad(user, load);
    }
  }

  /// `user` (nn.quantize or nn.dequantize) and the dequantize after it are
  /// replaced by the load, which now holds their result.
  static void replaceWithLoad(Operation *user, ml_program::GlobalLoadOp load) {
    if (auto q = dyn_cast<nn::QuantizeOp>(user)) {
      for (Operation *dq : llvm::make_early_inc_range(q->getUsers())) {
        dq->getResult(0).replaceAllUsesWith(load.getResult());
        dq->erase();
      }
      q->erase();
      return;
    }
    user->getResult(0).replaceAllUsesWith(load.getResult());
    user->erase();
  }
};

} // namespace
