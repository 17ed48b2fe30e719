//===- Normalization.cpp - BatchNormalization
//------------------------------===//
//
// Inference BatchNormalization is nn.batch_norm (frozen statistics; its
// scale and bias train). The training form of opset 14 (batch statistics,
// running mean/variance outputs) is built from nn ops; older versions' saved
// mean/variance outputs are refused.
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
struct TrainingBatchNorm {
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
  /// Returns Y, mean and biased variance (shaped like `statType`).
  std::array<Value, 3> normalise(ArrayRef<Value> ins, Type statType,
                                 int64_t count) {
    OpBuilder &b = I.builder;
    Value x = ins[0];
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
    Value norm = nn::DivOp::create(b, loc, xt, centred, sd, UnitAttr());
    Value y = add(xt, mul(xt, norm, reshape(statType, ins[1])),
                  reshape(statType, ins[2]));
    return {y, mean, var};
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
  TrainingBatchNorm bn{I, n, I.nodeLoc(n)};
  auto [y, mean, var] = bn.normalise(*ins, I.tensorType(statShape), count);
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

} // namespace

void mcutrain::importer::registerNormalizationHandlers(HandlerTable &table) {
  table.on("BatchNormalization", 1, importBatchNorm1);
  table.on("BatchNormalization", 9, importBatchNorm9);
  table.on("BatchNormalization", 14, importBatchNorm14);
}
