//===- Elementwise.cpp - arithmetic, activations, Softmax -----------------===//
//
// Add/Sub/Mul/Div with numpy broadcasting (integer constants fold, see
// ShapeFolding.cpp), Relu, the activations of nn.activation (LeakyRelu,
// Sigmoid, Tanh, HardSigmoid, HardSwish, Clip, Sqrt, Pow, Exp, Log, Abs,
// Reciprocal, Softplus, Softsign, Elu, Selu, Erf), PRelu, Neg, Sum, Mean,
// Max, Min and Softmax/LogSoftmax.
//
//===----------------------------------------------------------------------===//
#include "compiler/Import/Importer.h"

#include <limits>

using namespace mlir;
using namespace mcutrain;
using namespace mcutrain::importer;

namespace {

/// Add, Sub, Mul or Div of two operands that broadcast numpy's way.
LogicalResult defineBinary(OnnxImporter &I, const onnx::NodeProto &n, Value lhs,
                           Value rhs) {
  if (failed(nn::broadcastShapes(shapeOf(lhs), shapeOf(rhs))))
    return I.nodeError(n) << "operand shapes do not broadcast", failure();
  if (OnnxImporter::elementTypeOf(lhs) != OnnxImporter::elementTypeOf(rhs))
    return I.nodeError(n) << "operands differ in element type", failure();
  OpBuilder &builder = I.builder;
  Location loc = I.nodeLoc(n);
  UnitAttr u = I.isUnsigned(lhs);
  const std::string &op = n.op_type();
  if (op == "Add")
    return I.define(n, nn::AddOp::create(builder, loc, lhs, rhs, u));
  if (op == "Sub")
    return I.define(n, nn::SubOp::create(builder, loc, lhs, rhs, u));
  if (op == "Mul")
    return I.define(n, nn::MulOp::create(builder, loc, lhs, rhs, u));
  return I.define(n, nn::DivOp::create(builder, loc, lhs, rhs, u));
}

/// Opset 1-6: without `broadcast` the shapes are equal; with it B's shape
/// is a contiguous run of A's dims (or 1s) from `axis` (default: A's last dims,
/// as numpy aligns them), or B has one element. Converted to numpy's rule by
/// giving B trailing dims of 1 (a view: an initializer stays the parameter).
LogicalResult importBinary1(OnnxImporter &I, const onnx::NodeProto &n) {
  if (isIntegerConst(I, n))
    return defineFoldedInteger(I, n);
  if (failed(I.checkElementTypes(n, ElementTypes::Integers)))
    return failure();
  FailureOr<Value> lhs = I.tensorOperand(n, 0), rhs = I.tensorOperand(n, 1);
  if (failed(lhs) || failed(rhs))
    return failure();
  auto as = shapeOf(*lhs), bs = shapeOf(*rhs);
  if (!attrInt(n, "broadcast", 0)) {
    if (ArrayRef<int64_t>(as) != ArrayRef<int64_t>(bs))
      return I.nodeError(n) << "operand shapes differ and broadcast is 0",
             failure();
    return defineBinary(I, n, *lhs, *rhs);
  }
  int64_t rankA = as.size(), rankB = bs.size();
  int64_t axis = attrInt(n, "axis", rankA - rankB);
  axis = axis < 0 ? axis + rankA : axis;
  int64_t elementsB = 1;
  for (int64_t d : bs)
    elementsB *= d;
  bool run = axis >= 0 && axis + rankB <= rankA;
  for (int64_t d = 0; run && d < rankB; ++d)
    run = bs[d] == as[axis + d] || bs[d] == 1;
  if (!run && elementsB != 1)
    return I.nodeError(n) << "B's shape is not a run of A's dims from axis "
                          << axis,
           failure();
  if (run && axis + rankB < rankA) {
    SmallVector<int64_t> aligned(bs.begin(), bs.end());
    aligned.append(rankA - axis - rankB, 1);
    *rhs = nn::ReshapeOp::create(
        I.builder, I.nodeLoc(n),
        I.tensorType(aligned, OnnxImporter::elementTypeOf(*rhs)), *rhs);
  }
  return defineBinary(I, n, *lhs, *rhs);
}

/// Opset 7+: numpy broadcasting.
LogicalResult importBinary7(OnnxImporter &I, const onnx::NodeProto &n) {
  if (isIntegerConst(I, n))
    return defineFoldedInteger(I, n);
  if (failed(I.checkElementTypes(n, ElementTypes::Integers)))
    return failure();
  FailureOr<Value> lhs = I.tensorOperand(n, 0), rhs = I.tensorOperand(n, 1);
  if (failed(lhs) || failed(rhs))
    return failure();
  return defineBinary(I, n, *lhs, *rhs);
}

/// The node's operands combined left to right by `combine`; they must
/// broadcast together and share an element type.
FailureOr<Value> chainOperands(OnnxImporter &I, const onnx::NodeProto &n,
                               function_ref<Value(Value, Value)> combine) {
  if (failed(I.needInputs(n, 1)))
    return failure();
  FailureOr<Value> acc = I.tensorOperand(n, 0);
  if (failed(acc))
    return failure();
  for (int i = 1; i < n.input_size(); ++i) {
    FailureOr<Value> next = I.tensorOperand(n, i);
    if (failed(next))
      return failure();
    if (failed(nn::broadcastShapes(shapeOf(*acc), shapeOf(*next))) ||
        OnnxImporter::elementTypeOf(*next) != OnnxImporter::elementTypeOf(*acc))
      return I.nodeError(n) << "operand " << i << "'s shape or type does not "
                            << "match the others",
             failure();
    acc = combine(*acc, *next);
  }
  return acc;
}

/// Sum and Mean of one or more operands (numpy broadcasting): a chain of
/// nn.add in input order, Mean's divided by the count (a scalar constant).
LogicalResult importVariadicSum(OnnxImporter &I, const onnx::NodeProto &n) {
  if (failed(I.checkElementTypes(n, ElementTypes::Float)))
    return failure();
  Location loc = I.nodeLoc(n);
  FailureOr<Value> sum = chainOperands(I, n, [&](Value a, Value b) -> Value {
    return nn::AddOp::create(I.builder, loc, a, b, UnitAttr());
  });
  if (failed(sum))
    return failure();
  if (n.op_type() == "Sum" || n.input_size() == 1)
    return I.define(n, *sum);
  ConstTensor count;
  count.f = {(float)n.input_size()};
  Value divisor = I.loadGlobal(count, n.output(0) + "__count");
  return I.define(n,
                  nn::DivOp::create(I.builder, loc, *sum, divisor, UnitAttr()));
}

/// Max / Min of any number of operands (broadcasting): a chain of nn.max /
/// nn.min in input order.
LogicalResult importVariadicMax(OnnxImporter &I, const onnx::NodeProto &n) {
  if (failed(I.checkElementTypes(n, ElementTypes::Integers)))
    return failure();
  FailureOr<Value> first = I.tensorOperand(n, 0);
  if (failed(first))
    return failure();
  // Every link compares as the operands do (the chain's own results are
  // not marked unsigned until the node is done).
  UnitAttr isUnsigned = I.isUnsigned(*first);
  Location loc = I.nodeLoc(n);
  bool isMax = n.op_type() == "Max";
  FailureOr<Value> y = chainOperands(I, n, [&](Value a, Value b) -> Value {
    if (isMax)
      return nn::MaxOp::create(I.builder, loc, a, b, isUnsigned);
    return nn::MinOp::create(I.builder, loc, a, b, isUnsigned);
  });
  return failed(y) ? failure() : I.define(n, *y);
}

LogicalResult importRelu(OnnxImporter &I, const onnx::NodeProto &n) {
  if (failed(I.checkElementTypes(n, ElementTypes::Float)))
    return failure();
  FailureOr<Value> x = I.tensorOperand(n, 0);
  if (failed(x))
    return failure();
  return I.define(n, nn::ReluOp::create(I.builder, I.nodeLoc(n), *x));
}

/// An nn.activation's kind and its two parameters.
struct Activation {
  nn::ActivationKind kind;
  float alpha = 0.0f, beta = 0.0f;
};

LogicalResult buildActivation(OnnxImporter &I, const onnx::NodeProto &n,
                              const Activation &act) {
  FailureOr<Value> x = I.tensorOperand(n, 0);
  if (failed(x))
    return failure();
  return I.define(
      n, nn::ActivationOp::create(I.builder, I.nodeLoc(n), *x,
                                  nn::ActivationKindAttr::get(&I.ctx, act.kind),
                                  I.builder.getF32FloatAttr(act.alpha),
                                  I.builder.getF32FloatAttr(act.beta),
                                  I.isUnsigned(*x)));
}

/// The activations without parameters, by ONNX op type.
const llvm::StringMap<nn::ActivationKind> &plainActivations() {
  static const llvm::StringMap<nn::ActivationKind> kinds = {
      {"Sigmoid", nn::ActivationKind::sigmoid},
      {"Tanh", nn::ActivationKind::tanh},
      {"HardSwish", nn::ActivationKind::hard_swish},
      {"Sqrt", nn::ActivationKind::sqrt},
      {"Exp", nn::ActivationKind::exp},
      {"Log", nn::ActivationKind::log},
      {"Abs", nn::ActivationKind::abs},
      {"Reciprocal", nn::ActivationKind::reciprocal},
      {"Softplus", nn::ActivationKind::softplus},
      {"Softsign", nn::ActivationKind::softsign},
      {"Erf", nn::ActivationKind::erf}};
  return kinds;
}

/// The elementwise activations of nn.activation (float32 only): those of
/// plainActivations, LeakyRelu, HardSigmoid, Elu and Selu.
LogicalResult importActivation(OnnxImporter &I, const onnx::NodeProto &n) {
  if (failed(I.checkElementTypes(n, ElementTypes::Float)))
    return failure();
  const std::string &op = n.op_type();
  Activation act{nn::ActivationKind::hard_swish};
  auto plain = plainActivations().find(op);
  if (plain != plainActivations().end())
    act = {plain->second};
  else if (op == "Elu")
    act = {nn::ActivationKind::elu, attrFloat(n, "alpha", 1.0f)};
  else if (op == "Selu")
    act = {nn::ActivationKind::selu,
           attrFloat(n, "alpha", 1.67326319217681884765625f),
           attrFloat(n, "gamma", 1.05070102214813232421875f)};
  else if (op == "LeakyRelu")
    act = {nn::ActivationKind::leaky_relu, attrFloat(n, "alpha", 0.01f)};
  else if (op == "HardSigmoid")
    act = {nn::ActivationKind::hard_sigmoid, attrFloat(n, "alpha", 0.2f),
           attrFloat(n, "beta", 0.5f)};
  return buildActivation(I, n, act);
}

/// `v` as float32 (nn.cast of an integer tensor).
Value asFloat(OnnxImporter &I, const onnx::NodeProto &n, Value v) {
  if (OnnxImporter::elementTypeOf(v).isF32())
    return v;
  return nn::CastOp::create(I.builder, I.nodeLoc(n), I.tensorType(shapeOf(v)),
                            v, I.isUnsigned(v));
}

/// Pow of tensors (nn.pow with broadcasting). The result has the base's
/// type: a float exponent of an integer base is applied in float32 and
/// truncated back (ONNX's reference computes in double and truncates), an
/// integer exponent of a float base is made float.
LogicalResult buildTensorPow(OnnxImporter &I, const onnx::NodeProto &n, Value x,
                             Value y) {
  Type xt = OnnxImporter::elementTypeOf(x), yt = OnnxImporter::elementTypeOf(y);
  Location loc = I.nodeLoc(n);
  if (xt == yt || xt.isF32())
    return I.define(n, nn::PowOp::create(I.builder, loc, x,
                                         xt == yt ? y : asFloat(I, n, y),
                                         I.isUnsigned(x)));
  if (!yt.isF32())
    return I.nodeError(n) << "integer Pow with exponent type " << yt
                          << " other than the base's " << xt
                          << " is not supported",
           failure();
  Value p = nn::PowOp::create(I.builder, loc, asFloat(I, n, x), y, UnitAttr());
  return I.define(n, nn::CastOp::create(I.builder, loc,
                                        I.tensorType(shapeOf(p), xt), p,
                                        I.isUnsigned(x)));
}

/// Pow: a constant scalar exponent of a float base (LayerNorm's opset-13
/// form squares) is x*x for 2, sqrt for 0.5, x for 1, else nn.activation
/// pow; any other is buildTensorPow's.
LogicalResult importPow(OnnxImporter &I, const onnx::NodeProto &n) {
  if (failed(I.needInputs(n, 2)) ||
      failed(I.checkElementTypes(n, ElementTypes::Integers)))
    return failure();
  FailureOr<Value> x = I.tensorOperand(n, 0);
  if (failed(x))
    return failure();
  const ConstTensor *e = I.constOperand(n, 1);
  if (!e || e->numElements() != 1 || !OnnxImporter::elementTypeOf(*x).isF32()) {
    FailureOr<Value> y = I.tensorOperand(n, 1);
    return failed(y) ? failure() : buildTensorPow(I, n, *x, *y);
  }
  float p = e->isFloat ? e->f[0] : (float)e->i[0];
  if (p == 1.0f)
    return I.define(n, *x);
  if (p == 2.0f)
    return I.define(
        n, nn::MulOp::create(I.builder, I.nodeLoc(n), *x, *x, UnitAttr()));
  return buildActivation(
      I, n,
      {p == 0.5f ? nn::ActivationKind::sqrt : nn::ActivationKind::pow, p});
}

constexpr float kInf = std::numeric_limits<float>::infinity();

/// Opset 1-10: min and max are attributes.
LogicalResult importClip1(OnnxImporter &I, const onnx::NodeProto &n) {
  if (failed(I.checkElementTypes(n, ElementTypes::Integers)))
    return failure();
  return buildActivation(I, n,
                         {nn::ActivationKind::clip, attrFloat(n, "min", -kInf),
                          attrFloat(n, "max", kInf)});
}

/// Opset 11+: min and max are optional inputs, compile-time constants here.
LogicalResult importClip11(OnnxImporter &I, const onnx::NodeProto &n) {
  if (failed(I.checkElementTypes(n, ElementTypes::Integers)))
    return failure();
  Activation act{nn::ActivationKind::clip, -kInf, kInf};
  for (int i = 1; i < 3; ++i) {
    if (n.input_size() <= i || n.input(i).empty())
      continue;
    const ConstTensor *c = I.constOperand(n, i);
    if (!c || c->numElements() != 1)
      return I.nodeError(n) << "min/max computed at run time are not "
                               "supported (constants only)",
             failure();
    float bound = c->isFloat ? c->f[0] : (float)c->i[0];
    // Integer bounds travel as f32 attributes: they must be exact.
    if (!c->isFloat && (int64_t)bound != c->i[0])
      return I.nodeError(n) << "integer bound " << c->i[0]
                            << " is not supported (|bound| < 2^24 is)",
             failure();
    (i == 1 ? act.alpha : act.beta) = bound;
  }
  return buildActivation(I, n, act);
}

/// PRelu: the slope broadcasts to X (a PyTorch PReLU's weight, [C] made
/// [C, 1, 1] by the exporter's Unsqueeze, stays the trainable parameter).
LogicalResult importPRelu(OnnxImporter &I, const onnx::NodeProto &n) {
  if (failed(I.checkElementTypes(n, ElementTypes::Float)) ||
      failed(I.needInputs(n, 2)))
    return failure();
  FailureOr<Value> x = I.tensorOperand(n, 0), slope = I.tensorOperand(n, 1);
  if (failed(x) || failed(slope))
    return failure();
  auto xs = shapeOf(*x), ss = shapeOf(*slope);
  auto bs = nn::broadcastShapes(xs, ss);
  if (failed(bs) || ArrayRef<int64_t>(*bs) != ArrayRef<int64_t>(xs))
    return I.nodeError(n) << "the slope (" << ss.size()
                          << "-D) does not broadcast to the input",
           failure();
  // Before opset 7 a slope that is neither one value nor X's shape meant
  // the channel axis; no exporter we know wrote that.
  int64_t slopeElements = 1;
  for (int64_t d : ss)
    slopeElements *= d;
  if (I.opset < 7 && slopeElements != 1 && ss != xs)
    return I.refuseForm(n, "slope broadcast along the channel axis");
  return I.define(n, nn::PReluOp::create(I.builder, I.nodeLoc(n), *x, *slope));
}

LogicalResult importNeg(OnnxImporter &I, const onnx::NodeProto &n) {
  if (failed(I.checkElementTypes(n, ElementTypes::Integers)))
    return failure();
  FailureOr<Value> x = I.tensorOperand(n, 0);
  if (failed(x))
    return failure();
  if (I.isUnsigned(*x))
    return I.nodeError(n) << "Neg of an unsigned tensor is not defined by "
                             "ONNX (signed integers and float32 are)",
           failure();
  return I.define(n, nn::NegOp::create(I.builder, I.nodeLoc(n), *x));
}

/// Softmax and LogSoftmax along one axis. Before opset 13 the input is
/// flattened to 2-D at `axis` (default 1); that equals the per-axis form
/// only for the last axis.
LogicalResult importSoftmax(OnnxImporter &I, const onnx::NodeProto &n) {
  if (failed(I.checkElementTypes(n, ElementTypes::Float)))
    return failure();
  FailureOr<Value> x = I.tensorOperand(n, 0);
  if (failed(x))
    return failure();
  int64_t rank = shapeOf(*x).size();
  bool flattening = I.opset < 13;
  int64_t axis = attrInt(n, "axis", flattening ? 1 : -1);
  if (axis < 0)
    axis += rank;
  if (axis < 0 || axis >= rank)
    return I.nodeError(n) << "axis out of range", failure();
  if (flattening && axis != rank - 1)
    return I.nodeError(n) << "the opset " << I.opset
                          << " (flatten-to-2-D) form on a non-last axis is "
                             "not supported",
           failure();
  return I.define(n, nn::SoftmaxOp::create(
                         I.builder, I.nodeLoc(n), *x,
                         I.builder.getI64IntegerAttr(axis),
                         I.builder.getBoolAttr(n.op_type() == "LogSoftmax")));
}

} // namespace

void mcutrain::importer::registerElementwiseHandlers(HandlerTable &table) {
  for (StringRef op : {"Add", "Sub", "Mul", "Div"}) {
    table.on(op, 1, importBinary1);
    table.on(op, 7, importBinary7);
  }
  table.on("Sum", 1, importVariadicSum);
  table.on("Mean", 1, importVariadicSum);
  table.on("Max", 1, importVariadicMax);
  table.on("Min", 1, importVariadicMax);
  table.on("Relu", 1, importRelu);
  for (StringRef op : {"LeakyRelu", "HardSigmoid", "Elu", "Selu"})
    table.on(op, 1, importActivation);
  for (const auto &plain : plainActivations())
    table.on(plain.getKey(), 1, importActivation);
  table.on("Clip", 1, importClip1);
  table.on("Clip", 11, importClip11);
  table.on("PRelu", 1, importPRelu);
  table.on("Neg", 1, importNeg);
  table.on("Pow", 1, importPow);
  table.on("Softmax", 1, importSoftmax);
  table.on("LogSoftmax", 1, importSoftmax);
}
