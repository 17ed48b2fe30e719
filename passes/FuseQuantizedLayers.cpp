//===- FuseQuantizedLayers.cpp - QDQ layers become int8 nn ops ------------===//
//
// Where it sits: the first pass after import, in both pipelines. See
// Passes.td.
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"

#include "dialects/NN/NN.h"
#include "mlir/Dialect/Quant/IR/QuantTypes.h"

#include <cmath>

namespace mcutrain {
#define GEN_PASS_DEF_FUSEQUANTIZEDLAYERSPASS
#include "passes/Passes.h.inc"
} // namespace mcutrain

using namespace mlir;
using namespace mcutrain;

namespace {

/// An 8-bit quantized tensor: its integer value and its !quant type.
struct Quantized {
  Value value;
  quant::QuantizedType type;
};

/// `v` = nn.dequantize(q) of 8-bit storage: q and its type.
std::optional<Quantized> dequantized8(Value v) {
  auto dq = v.getDefiningOp<nn::DequantizeOp>();
  if (!dq)
    return std::nullopt;
  auto t = cast<quant::QuantizedType>(dq.getQuantType());
  if (t.getStorageTypeIntegralWidth() != 8)
    return std::nullopt;
  return Quantized{dq.getInput(), t};
}

bool isPerTensor(const Quantized &q) {
  return isa<quant::UniformQuantizedType>(q.type);
}

/// The layer's output: its one use, nn.quantize to 8 bits per tensor,
/// perhaps through a ReLU or Clip, which become the clamp [lo, hi] in
/// output units (exact: quantization is monotone and maps 0 to the zero
/// point).
struct FusedOutput {
  nn::QuantizeOp quantize;
  Operation *activation = nullptr;
  std::optional<int64_t> lo, hi;
};

/// x in output units, as nn.quantize computes it.
int64_t quantizeScalar(float x, quant::UniformQuantizedType t) {
  return static_cast<int64_t>(nn::quantizeScalar(
      x, static_cast<float>(t.getScale()), static_cast<float>(t.getZeroPoint()),
      static_cast<float>(t.getStorageTypeMin()),
      static_cast<float>(t.getStorageTypeMax())));
}

/// The real interval a ReLU or Clip keeps, if `op` is one.
std::optional<std::pair<float, float>> activationBounds(Operation *op) {
  if (isa<nn::ReluOp>(op))
    return std::make_pair(0.0f, float(INFINITY));
  if (auto act = dyn_cast<nn::ActivationOp>(op))
    if (act.getKind() == nn::ActivationKind::clip)
      return std::make_pair(act.getAlpha().convertToFloat(),
                            act.getBeta().convertToFloat());
  return std::nullopt;
}

/// The clamp [lo, hi] in output units of the real interval `bounds`.
void clampOf(std::pair<float, float> bounds, quant::UniformQuantizedType t,
             std::optional<int64_t> &lo, std::optional<int64_t> &hi) {
  if (bounds.first > -INFINITY)
    lo = quantizeScalar(bounds.first, t);
  if (bounds.second < INFINITY)
    hi = quantizeScalar(bounds.second, t);
}

std::optional<FusedOutput> fusedOutput(Value result) {
  if (!result.hasOneUse())
    return std::nullopt;
  FusedOutput out;
  Operation *user = *result.getUsers().begin();
  auto bounds = activationBounds(user);
  if (bounds) {
    if (!user->getResult(0).hasOneUse())
      return std::nullopt;
    out.activation = user;
    user = *user->getResult(0).getUsers().begin();
  }
  out.quantize = dyn_cast<nn::QuantizeOp>(user);
  if (!out.quantize)
    return std::nullopt;
  auto t = dyn_cast<quant::UniformQuantizedType>(out.quantize.getQuantType());
  if (!t || t.getStorageTypeIntegralWidth() != 8)
    return std::nullopt;
  if (bounds)
    clampOf(*bounds, t, out.lo, out.hi);
  return out;
}

/// Operands of the int8 layer that replaces a float one.
struct LayerOperands {
  Quantized input, weight;
  FusedOutput output;
};

/// The operands if `x`, `w` and the layer's result fit the int8 layer:
/// 8-bit per-tensor input, 8-bit weight per tensor or per output channel
/// (`weightAxis`), quantized output.
std::optional<LayerOperands> layerOperands(Value x, Value w, Value result,
                                           int64_t weightAxis) {
  std::optional<Quantized> input = dequantized8(x), weight = dequantized8(w);
  if (!input || !weight || !isPerTensor(*input))
    return std::nullopt;
  if (auto axis = dyn_cast<quant::UniformQuantizedPerAxisType>(weight->type))
    if (axis.getQuantizedDimension() != weightAxis)
      return std::nullopt;
  std::optional<FusedOutput> output = fusedOutput(result);
  if (!output)
    return std::nullopt;
  return LayerOperands{*input, *weight, *output};
}

/// Replaces the output's quantize with `fused` and erases what it replaced
/// (dequantizes nothing else reads included).
void replaceLayer(Operation *layer, LayerOperands &ops, Value fused) {
  ops.output.quantize.getResult().replaceAllUsesWith(fused);
  ops.output.quantize->erase();
  if (ops.output.activation)
    ops.output.activation->erase();
  SmallVector<Operation *> inputs;
  for (Value v : layer->getOperands())
    if (Operation *def = v.getDefiningOp())
      inputs.push_back(def);
  layer->erase();
  for (Operation *def : inputs)
    if (isa<nn::DequantizeOp>(def) && def->use_empty())
      def->erase();
}

IntegerAttr optionalI64(OpBuilder &b, std::optional<int64_t> v) {
  return v ? b.getI64IntegerAttr(*v) : IntegerAttr();
}

void fuseConv(nn::Conv2dOp conv) {
  auto ops = layerOperands(conv.getInput(), conv.getWeight(), conv.getOutput(),
                           /*weightAxis=*/0);
  if (!ops)
    return;
  OpBuilder b(ops->output.quantize);
  Location loc = conv.getLoc();
  auto resultType = cast<RankedTensorType>(ops->output.quantize.getType());
  auto fused = nn::QConv2dOp::create(
      b, loc, resultType, ops->input.value, ops->weight.value, conv.getBias(),
      TypeAttr::get(ops->input.type), TypeAttr::get(ops->weight.type),
      TypeAttr::get(ops->output.quantize.getQuantType()), conv.getStridesAttr(),
      conv.getPadsAttr(), conv.getDilationsAttr(), conv.getGroupAttr(),
      optionalI64(b, ops->output.lo), optionalI64(b, ops->output.hi));
  replaceLayer(conv, *ops, fused);
}

/// Gemm as PyTorch's Linear exports it (A not transposed, alpha = beta = 1,
/// C a vector over the output columns) or a 2-D MatMul.
void fuseGemm(nn::GemmOp gemm) {
  if (gemm.getTransA() || gemm.getAlpha().convertToFloat() != 1.0f ||
      gemm.getBeta().convertToFloat() != 1.0f)
    return;
  bool tb = gemm.getTransB();
  auto ops = layerOperands(gemm.getA(), gemm.getB(), gemm.getOutput(),
                           /*weightAxis=*/tb ? 0 : 1);
  if (!ops)
    return;
  int64_t n = gemm.getOutput().getType().getDimSize(1);
  Value c = gemm.getC();
  if (c && cast<RankedTensorType>(c.getType()).getShape() != ArrayRef{n})
    return;
  OpBuilder b(ops->output.quantize);
  Location loc = gemm.getLoc();
  auto resultType = cast<RankedTensorType>(ops->output.quantize.getType());
  auto fused = nn::QGemmOp::create(
      b, loc, resultType, ops->input.value, ops->weight.value, c,
      TypeAttr::get(ops->input.type), TypeAttr::get(ops->weight.type),
      TypeAttr::get(ops->output.quantize.getQuantType()), b.getBoolAttr(tb),
      optionalI64(b, ops->output.lo), optionalI64(b, ops->output.hi));
  replaceLayer(gemm, *ops, fused);
}

/// quantize(act(dequantize(y))) of one type, y an int8 layer's result of
/// that type read nowhere else: the activation becomes the layer's clamp
/// (torch's FX quantization puts a fake-quant both after a convolution
/// and after its ReLU6). Exact: dequantizing and quantizing again with the
/// same type returns each integer.
void foldActivationIntoLayer(nn::QuantizeOp q) {
  Operation *act = q.getInput().getDefiningOp();
  auto bounds = act ? activationBounds(act) : std::nullopt;
  if (!bounds || !act->getResult(0).hasOneUse())
    return;
  auto dq = act->getOperand(0).getDefiningOp<nn::DequantizeOp>();
  if (!dq || dq.getQuantType() != q.getQuantType() ||
      !dq.getOutput().hasOneUse() || !dq.getInput().hasOneUse())
    return;
  Operation *layer = dq.getInput().getDefiningOp();
  if (!isa_and_nonnull<nn::QConv2dOp, nn::QGemmOp>(layer) ||
      layer->getAttrOfType<TypeAttr>("output_type") !=
          TypeAttr::get(q.getQuantType()))
    return;
  auto t = cast<quant::UniformQuantizedType>(q.getQuantType());
  std::optional<int64_t> lo, hi;
  clampOf(*bounds, t, lo, hi);
  OpBuilder b(layer);
  auto narrow = [&](StringRef name, std::optional<int64_t> v, bool isMin) {
    auto old = layer->getAttrOfType<IntegerAttr>(name);
    if (!v)
      return;
    int64_t value = !old    ? *v
                    : isMin ? std::max(*v, old.getInt())
                            : std::min(*v, old.getInt());
    layer->setAttr(name, b.getI64IntegerAttr(value));
  };
  narrow("output_min", lo, true);
  narrow("output_max", hi, false);
  q.getResult().replaceAllUsesWith(dq.getInput());
  q->erase();
  act->erase();
  dq->erase();
}

/// quantize(op(y)), op a max pooling or a reshape read nowhere else,
/// becomes op(quantize(y)) on the integers; returns the new quantize.
/// Exact for a per-tensor quantization: it is non-decreasing, so max
/// commutes with it (the integer pooling pads with the type's minimum,
/// which no quantized element is below).
nn::QuantizeOp moveBeforeDataMovement(nn::QuantizeOp q) {
  Operation *op = q.getInput().getDefiningOp();
  auto t = dyn_cast<quant::UniformQuantizedType>(q.getQuantType());
  if (!isa_and_nonnull<nn::MaxPool2dOp, nn::ReshapeOp>(op) || !t ||
      !op->getResult(0).hasOneUse())
    return {};
  OpBuilder b(op);
  Value y = op->getOperand(0);
  auto yType = cast<RankedTensorType>(y.getType());
  auto quantized = nn::QuantizeOp::create(
      b, q.getLoc(), yType.clone(t.getStorageType()), y, q.getQuantTypeAttr());
  b.setInsertionPoint(q);
  Operation *onIntegers = b.clone(*op);
  onIntegers->setOperand(0, quantized);
  onIntegers->getResult(0).setType(q.getType());
  if (isa<nn::MaxPool2dOp>(op) && !t.isSigned())
    onIntegers->setAttr("is_unsigned", b.getUnitAttr());
  q.getResult().replaceAllUsesWith(onIntegers->getResult(0));
  q->erase();
  op->erase();
  return quantized;
}

/// quantize(dequantize(x)) of one type is x.
bool foldRoundTrip(nn::QuantizeOp q) {
  auto dq = q.getInput().getDefiningOp<nn::DequantizeOp>();
  if (!dq || dq.getQuantType() != q.getQuantType())
    return false;
  q.getResult().replaceAllUsesWith(dq.getInput());
  q->erase();
  if (dq->use_empty())
    dq->erase();
  return true;
}

struct FuseQuantizedLayersPass
    : public mcutrain::impl::FuseQuantizedLayersPassBase<
          FuseQuantizedLayersPass> {
  void runOnOperation() override {
    SmallVector<Operation *> layers;
    getOperation().walk([&](Operation *op) {
      if (isa<nn::Conv2dOp, nn::GemmOp>(op))
        layers.push_back(op);
    });
    for (Operation *op : layers) {
      if (auto conv = dyn_cast<nn::Conv2dOp>(op))
        fuseConv(conv);
      else
        fuseGemm(cast<nn::GemmOp>(op));
    }
    SmallVector<nn::QuantizeOp> worklist;
    getOperation().walk([&](nn::QuantizeOp q) { worklist.push_back(q); });
    while (!worklist.empty()) {
      nn::QuantizeOp q = worklist.pop_back_val();
      if (nn::QuantizeOp earlier = moveBeforeDataMovement(q))
        worklist.push_back(earlier);
      else if (!foldRoundTrip(q))
        foldActivationIntoLayer(q);
    }
  }
};

} // namespace
