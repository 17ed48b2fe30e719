//===- Normalization.cpp - Batch, Layer and InstanceNormalization ---------===//
//
// Inference BatchNormalization is nn.batch_norm (frozen statistics; its
// scale and bias train). The training form of opset 14 (batch statistics,
// running mean/variance outputs) is built from nn ops; older versions' saved
// mean/variance outputs are refused. LayerNormalization and
// InstanceNormalization are built from nn ops the same way (their
// statistics are per sample, so the same at training and inference).
//
//===----------------------------------------------------------------------===//
#include "compiler/Import/Importer.h"

using namespace mlir;
using namespace mcutrain;
using namespace mcutrain::importer;

namespace {

/// X, scale, B, mean and var, with the per-channel ones checked against X's
/// channels; failure is diagnosed.
FailureOr<SmallVector<Value, 5>> batchNormOperands(OnnxImporter &I,
                                                   const onnx::NodeProto &n) {
  SmallVector<Value, 5> ins;
  for (int i = 0; i < 5; ++i) {
    FailureOr<Value> v = I.tensorOperand(n, i);
    if (failed(v))
      return failure();
    ins.push_back(*v);
  }
  auto xs = shapeOf(ins[0]);
  if (xs.size() < 2)
    return I.nodeError(n) << "the input needs a channel dimension", failure();
  for (int i = 1; i < 5; ++i) {
    auto s = shapeOf(ins[i]);
    if (s.size() != 1 || s[0] != xs[1])
      return I.nodeError(n) << "scale, bias, mean and var must have " << xs[1]
                            << " elements",
             failure();
  }
  return ins;
}

bool isTrainingForm(const onnx::NodeProto &n) {
  return attrInt(n, "training_mode", 0) != 0 || n.output_size() > 1;
}

LogicalResult importInference(OnnxImporter &I, const onnx::NodeProto &n) {
  FailureOr<SmallVector<Value, 5>> ins = batchNormOperands(I, n);
  if (failed(ins))
    return failure();
  auto &v = *ins;
  return I.define(
      n, nn::BatchNormOp::create(
             I.builder, I.nodeLoc(n), v[0].getType(), v[0], v[1], v[2], v[3],
             v[4], I.builder.getF32FloatAttr(attrFloat(n, "epsilon", 1e-5f))));
}

/// Builds the training form from nn ops: the batch's own statistics (biased
/// variance, as ONNX's reference) and the running mean and variance updated
/// by `momentum`.
struct Normaliser {
  OnnxImporter &I;
  const onnx::NodeProto &n;
  Location loc;

  Value scalar(float v, StringRef what) {
    ConstTensor c;
    c.f = {v};
    return I.loadGlobal(c, (n.output(0) + "__" + what).str());
  }
  Value add(Type t, Value a, Value b) {
    return nn::AddOp::create(I.builder, loc, t, a, b, UnitAttr());
  }
  Value mul(Type t, Value a, Value b) {
    return nn::MulOp::create(I.builder, loc, t, a, b, UnitAttr());
  }
  Value reshape(Type t, Value v) {
    return nn::ReshapeOp::create(I.builder, loc, t, v);
  }
  /// Returns Y = (x - mean) / sqrt(var + epsilon) * scale + bias, the mean,
  /// the biased variance and sqrt(var + epsilon) (shaped like `statType`,
  /// summing `count` elements); scale and bias broadcast to x.
  std::array<Value, 4> normalise(Value x, Type statType, int64_t count,
                                 Value scale, Value bias) {
    OpBuilder &b = I.builder;
    Type xt = x.getType();
    auto inv = b.getF32FloatAttr(1.0f / (float)count);
    Value mean = nn::ReduceSumToOp::create(b, loc, statType, x, inv);
    Value centred = nn::SubOp::create(b, loc, xt, x, mean, UnitAttr());
    Value var = nn::ReduceSumToOp::create(b, loc, statType,
                                          mul(xt, centred, centred), inv);
    float eps = attrFloat(n, "epsilon", 1e-5f);
    Value sd = nn::ActivationOp::create(
        b, loc, add(statType, var, scalar(eps, "epsilon")),
        nn::ActivationKindAttr::get(&I.ctx, nn::ActivationKind::sqrt),
        b.getF32FloatAttr(0.0f), b.getF32FloatAttr(0.0f), UnitAttr());
    Value y =
        mul(xt, nn::DivOp::create(b, loc, xt, centred, sd, UnitAttr()), scale);
    return {bias ? add(xt, y, bias) : y, mean, var, sd};
  }
  /// running = input * momentum + batch statistic * (1 - momentum)
  Value running(Type channelType, Value input, Value batchStat) {
    float momentum = attrFloat(n, "momentum", 0.9f);
    Value stat = reshape(channelType, batchStat);
    Value kept = mul(channelType, input, scalar(momentum, "momentum"));
    return add(
        channelType, kept,
        mul(channelType, stat, scalar(1.0f - momentum, "one_minus_momentum")));
  }
};

LogicalResult importTraining(OnnxImporter &I, const onnx::NodeProto &n) {
  FailureOr<SmallVector<Value, 5>> ins = batchNormOperands(I, n);
  if (failed(ins))
    return failure();
  auto xs = shapeOf((*ins)[0]);
  int64_t channels = xs[1], count = 1;
  for (size_t d = 0; d < xs.size(); ++d)
    count *= d == 1 ? 1 : xs[d];
  SmallVector<int64_t> statShape(xs.size(), 1);
  statShape[1] = channels;
  Normaliser bn{I, n, I.nodeLoc(n)};
  Type statType = I.tensorType(statShape);
  auto [y, mean, var, sd] =
      bn.normalise((*ins)[0], statType, count, bn.reshape(statType, (*ins)[1]),
                   bn.reshape(statType, (*ins)[2]));
  I.values[n.output(0)] = y;
  Type channelType = I.tensorType({channels});
  for (int k = 1; k <= 2 && k < n.output_size(); ++k)
    if (!n.output(k).empty())
      I.values[n.output(k)] =
          bn.running(channelType, (*ins)[2 + k], k == 1 ? mean : var);
  if (n.output_size() > 3)
    return I.nodeError(n) << "outputs beyond running_mean and running_var "
                             "are not supported",
           failure();
  return success();
}

/// Before opset 14 the training form's extra outputs are the saved batch
/// statistics, which mcutrain does not implement.
LogicalResult refuseSavedStatistics(OnnxImporter &I, const onnx::NodeProto &n) {
  return I.nodeError(n) << "the opset " << I.opset
                        << " training form (saved mean/variance outputs) is "
                           "not supported",
         failure();
}

/// Opset 1-8: the `spatial` attribute (per-activation statistics if 0).
LogicalResult importBatchNorm1(OnnxImporter &I, const onnx::NodeProto &n) {
  if (failed(I.checkElementTypes(n, ElementTypes::Float)))
    return failure();
  if (isTrainingForm(n))
    return refuseSavedStatistics(I, n);
  if (attrInt(n, "spatial", 1) != 1)
    return I.nodeError(n) << "spatial=0 is not supported", failure();
  return importInference(I, n);
}

LogicalResult importBatchNorm9(OnnxImporter &I, const onnx::NodeProto &n) {
  if (failed(I.checkElementTypes(n, ElementTypes::Float)))
    return failure();
  if (isTrainingForm(n))
    return refuseSavedStatistics(I, n);
  return importInference(I, n);
}

LogicalResult importBatchNorm14(OnnxImporter &I, const onnx::NodeProto &n) {
  if (failed(I.checkElementTypes(n, ElementTypes::Float)))
    return failure();
  if (isTrainingForm(n))
    return importTraining(I, n);
  return importInference(I, n);
}

/// LayerNormalization (opset 17): statistics over the dims from `axis` on;
/// scale and bias are shaped like those dims. The optional Mean and
/// InvStdDev outputs are the statistics (kept dims of extent 1).
LogicalResult importLayerNorm(OnnxImporter &I, const onnx::NodeProto &n) {
  if (failed(I.needInputs(n, 2)) ||
      failed(I.checkElementTypes(n, ElementTypes::Float)))
    return failure();
  FailureOr<Value> x = I.tensorOperand(n, 0), scale = I.tensorOperand(n, 1);
  if (failed(x) || failed(scale))
    return failure();
  Value bias;
  if (n.input_size() > 2 && !n.input(2).empty()) {
    FailureOr<Value> b = I.tensorOperand(n, 2);
    if (failed(b))
      return failure();
    bias = *b;
  }
  auto xs = shapeOf(*x);
  int64_t rank = xs.size(), axis = attrInt(n, "axis", -1);
  axis = axis < 0 ? axis + rank : axis;
  if (axis < 0 || axis >= rank)
    return I.nodeError(n) << "axis out of range", failure();
  SmallVector<int64_t> statShape(xs.begin(), xs.begin() + axis);
  statShape.append(rank - axis, 1);
  ArrayRef<int64_t> normalised = ArrayRef<int64_t>(xs).drop_front(axis);
  int64_t count = 1;
  for (int64_t d : normalised)
    count *= d;
  for (Value v : {*scale, bias})
    if (v && ArrayRef<int64_t>(shapeOf(v)) != normalised)
      return I.nodeError(n) << "scale and bias must be shaped like the "
                               "normalised dims",
             failure();
  Normaliser ln{I, n, I.nodeLoc(n)};
  Type statType = I.tensorType(statShape);
  auto [y, mean, var, sd] = ln.normalise(*x, statType, count, *scale, bias);
  if (n.output_size() > 1 && !n.output(1).empty())
    I.values[n.output(1)] = mean;
  if (n.output_size() > 2 && !n.output(2).empty())
    I.values[n.output(2)] = nn::ActivationOp::create(
        I.builder, ln.loc, sd,
        nn::ActivationKindAttr::get(&I.ctx, nn::ActivationKind::reciprocal),
        I.builder.getF32FloatAttr(0), I.builder.getF32FloatAttr(0), UnitAttr());
  return I.define(n, y);
}

/// InstanceNormalization: statistics per sample and channel over the
/// spatial dims; per-channel scale and bias.
LogicalResult importInstanceNorm(OnnxImporter &I, const onnx::NodeProto &n) {
  if (failed(I.needInputs(n, 3)) ||
      failed(I.checkElementTypes(n, ElementTypes::Float)))
    return failure();
  FailureOr<Value> x = I.tensorOperand(n, 0), scale = I.tensorOperand(n, 1),
                   bias = I.tensorOperand(n, 2);
  if (failed(x) || failed(scale) || failed(bias))
    return failure();
  auto xs = shapeOf(*x);
  if (xs.size() < 3)
    return I.nodeError(n) << "the input needs spatial dimensions", failure();
  for (Value v : {*scale, *bias})
    if (shapeOf(v) != SmallVector<int64_t>{xs[1]})
      return I.nodeError(n)
                 << "scale and bias must have " << xs[1] << " elements",
             failure();
  SmallVector<int64_t> statShape(xs.size(), 1), channelShape(xs.size() - 1, 1);
  statShape[0] = xs[0];
  statShape[1] = channelShape[0] = xs[1];
  int64_t count = 1;
  for (size_t d = 2; d < xs.size(); ++d)
    count *= xs[d];
  Normaliser in{I, n, I.nodeLoc(n)};
  Type channelType = I.tensorType(channelShape);
  return I.define(n, in.normalise(*x, I.tensorType(statShape), count,
                                  in.reshape(channelType, *scale),
                                  in.reshape(channelType, *bias))[0]);
}

} // namespace

void mcutrain::importer::registerNormalizationHandlers(HandlerTable &table) {
  table.on("BatchNormalization", 1, importBatchNorm1);
  table.on("BatchNormalization", 9, importBatchNorm9);
  table.on("BatchNormalization", 14, importBatchNorm14);
  table.on("LayerNormalization", 17, importLayerNorm);
  table.on("InstanceNormalization", 1, importInstanceNorm);
}
