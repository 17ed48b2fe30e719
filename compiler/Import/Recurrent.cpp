//===- Recurrent.cpp - GRU and LSTM ---------------------------------------===//
//
// One-layer, forward GRU and LSTM (the default activations, no clip,
// full-length sequences; LSTM peepholes) unrolled over the static sequence into
// nn ops: the input projection of every step is one Gemm, each step a Gemm
// of the hidden state and the gate arithmetic. derive-backward then gives
// backpropagation through time, and the weights (W, R, B viewed per gate
// by slices) train.
//
//===----------------------------------------------------------------------===//
#include "compiler/Import/Importer.h"

using namespace mlir;
using namespace mcutrain;
using namespace mcutrain::importer;

namespace {

/// The nn-op vocabulary of one recurrent node.
struct Cell {
  OnnxImporter &I;
  const onnx::NodeProto &n;
  Location loc;

  Type f32(ArrayRef<int64_t> s) { return I.tensorType(s); }
  Value reshape(Value v, ArrayRef<int64_t> s) {
    return nn::ReshapeOp::create(I.builder, loc, f32(s), v);
  }
  /// Columns [k * h, (k + 1) * h) of a 2-D tensor (gate k).
  Value gate(Value v, int64_t k, int64_t h) {
    auto s = shapeOf(v);
    return nn::SliceOp::create(I.builder, loc, f32({s[0], h}), v,
                               I.builder.getDenseI64ArrayAttr({0, k * h}));
  }
  /// Rows [k * h, (k + 1) * h) of a weight (gate k's block).
  Value rows(Value w, int64_t k, int64_t h) {
    auto s = shapeOf(w);
    SmallVector<int64_t> first(s.size(), 0), shape(s);
    first[0] = k * h;
    shape[0] = h;
    return nn::SliceOp::create(I.builder, loc, f32(shape), w,
                               I.builder.getDenseI64ArrayAttr(first));
  }
  Value add(Value a, Value b) {
    return nn::AddOp::create(I.builder, loc, a, b, UnitAttr());
  }
  Value sub(Value a, Value b) {
    return nn::SubOp::create(I.builder, loc, a, b, UnitAttr());
  }
  Value mul(Value a, Value b) {
    return nn::MulOp::create(I.builder, loc, a, b, UnitAttr());
  }
  Value act(Value v, nn::ActivationKind k) {
    return nn::ActivationOp::create(
        I.builder, loc, v, nn::ActivationKindAttr::get(&I.ctx, k),
        I.builder.getF32FloatAttr(0), I.builder.getF32FloatAttr(0), UnitAttr());
  }
  /// a @ b^T (+ c).
  Value gemmT(Value a, Value b, Value c) {
    return nn::GemmOp::create(I.builder, loc, a, b, c, false, true, 1.0f, 1.0f);
  }
  Value one() {
    ConstTensor c;
    c.f = {1.0f};
    return I.loadGlobal(c, n.output_size() && !n.output(0).empty()
                               ? n.output(0) + "__one"
                               : n.name() + "__one");
  }
};

/// The forms this unrolling implements; anything else is refused.
LogicalResult checkForm(OnnxImporter &I, const onnx::NodeProto &n,
                        ArrayRef<StringRef> defaultActs) {
  if (attrString(n, "direction", "forward") != "forward")
    return I.nodeError(n) << "direction '"
                          << attrString(n, "direction", "forward")
                          << "' is not supported (forward is)",
           failure();
  if (findAttr(n, "clip") || attrInt(n, "input_forget", 0) != 0)
    return I.nodeError(n) << "clip and input_forget are not supported",
           failure();
  if (const onnx::AttributeProto *a = findAttr(n, "activations"))
    for (int i = 0; i < a->strings_size(); ++i)
      if (i >= (int)defaultActs.size() ||
          !StringRef(a->strings(i)).equals_insensitive(defaultActs[i]))
        return I.nodeError(n) << "activations other than the defaults are "
                                 "not supported",
               failure();
  if (n.input_size() > 4 && !n.input(4).empty()) {
    const ConstTensor *lens = I.constOperand(n, 4);
    FailureOr<Value> x = I.tensorOperand(n, 0);
    if (failed(x))
      return failure();
    int64_t t = shapeOf(*x)[0];
    if (!lens || lens->isFloat ||
        llvm::any_of(lens->i, [&](int64_t l) { return l != t; }))
      return I.nodeError(n) << "sequence_lens other than the full length " << t
                            << " are not supported",
             failure();
  }
  return success();
}

/// X as [T * B, I], W, R and B as 2-D views, the initial state; failure
/// diagnosed. `gates`: 3 (GRU) or 4 (LSTM).
struct RecurrentOperands {
  Value x2, w, r, wb, rb, h0, c0;
  int64_t t, b, h;
};
FailureOr<RecurrentOperands> recurrentOperands(Cell &c, int64_t gates) {
  OnnxImporter &I = c.I;
  const onnx::NodeProto &n = c.n;
  if (failed(I.needInputs(n, 3)) ||
      failed(I.checkElementTypes(n, ElementTypes::Float)))
    return failure();
  FailureOr<Value> x = I.tensorOperand(n, 0), w = I.tensorOperand(n, 1),
                   r = I.tensorOperand(n, 2);
  if (failed(x) || failed(w) || failed(r))
    return failure();
  // layout 1 (batch first): X as [T, B, I].
  if (attrInt(c.n, "layout", 0) != 0 && shapeOf(*x).size() == 3)
    x = nn::TransposeOp::create(I.builder, c.loc, *x,
                                ArrayRef<int64_t>{1, 0, 2})
            .getResult();
  auto xs = shapeOf(*x), ws = shapeOf(*w), rs = shapeOf(*r);
  int64_t h = attrInt(n, "hidden_size", rs.size() == 3 ? rs[2] : 0);
  if (xs.size() != 3 || ws.size() != 3 || rs.size() != 3 || ws[0] != 1 ||
      ws[1] != gates * h || ws[2] != xs[2] || rs[1] != gates * h || rs[2] != h)
    return I.nodeError(n) << "X, W and R must be [T, B, I], [1, " << gates
                          << "H, I] and [1, " << gates << "H, H]",
           failure();
  RecurrentOperands o{c.reshape(*x, {xs[0] * xs[1], xs[2]}),
                      c.reshape(*w, {gates * h, xs[2]}),
                      c.reshape(*r, {gates * h, h}),
                      {},
                      {},
                      {},
                      {},
                      xs[0],
                      xs[1],
                      h};
  if (n.input_size() > 3 && !n.input(3).empty()) {
    FailureOr<Value> bias = I.tensorOperand(n, 3);
    if (failed(bias) ||
        shapeOf(*bias) != SmallVector<int64_t>{1, 2 * gates * h})
      return I.nodeError(n) << "B must be [1, " << 2 * gates << "H]", failure();
    Value b1 = c.reshape(*bias, {2 * gates * h});
    o.wb = c.rows(b1, 0, gates * h);
    o.rb = c.rows(b1, 1, gates * h);
  }
  for (int k = 0; k < 2; ++k) {
    int idx = 5 + k;
    if (n.input_size() <= idx || n.input(idx).empty())
      continue;
    FailureOr<Value> s = I.tensorOperand(n, idx);
    bool batchFirst = attrInt(n, "layout", 0) != 0;
    SmallVector<int64_t> stateShape = {batchFirst ? xs[1] : 1,
                                       batchFirst ? 1 : xs[1], h};
    if (failed(s) || shapeOf(*s) != stateShape)
      return I.nodeError(n) << "initial states must be [1, B, H]", failure();
    (k ? o.c0 : o.h0) = c.reshape(*s, {xs[1], h});
  }
  return o;
}

/// Y [T, 1, B, H] from the steps' states, Y_h / Y_c [1, B, H] (layout 0).
void defineOutputs(Cell &c, ArrayRef<Value> states, Value lastC, int64_t b,
                   int64_t h) {
  OnnxImporter &I = c.I;
  const onnx::NodeProto &n = c.n;
  // layout 1: Y [B, T, 1, H], Y_h / Y_c [B, 1, H].
  bool batchFirst = attrInt(n, "layout", 0) != 0;
  SmallVector<int64_t> state = {batchFirst ? b : 1, batchFirst ? 1 : b, h};
  if (n.output_size() > 0 && !n.output(0).empty()) {
    SmallVector<Value> rows;
    for (Value s : states)
      rows.push_back(batchFirst ? c.reshape(s, {b, 1, 1, h})
                                : c.reshape(s, {1, 1, b, h}));
    I.values[n.output(0)] =
        rows.size() == 1
            ? rows[0]
            : nn::ConcatOp::create(I.builder, c.loc, rows, batchFirst ? 1 : 0)
                  .getResult();
  }
  if (n.output_size() > 1 && !n.output(1).empty())
    I.values[n.output(1)] = c.reshape(states.back(), state);
  if (lastC && n.output_size() > 2 && !n.output(2).empty())
    I.values[n.output(2)] = c.reshape(lastC, state);
}

/// GRU, gates z, r, h (ONNX's order); linear_before_reset as torch exports
/// (1) or not.
LogicalResult importGRU(OnnxImporter &I, const onnx::NodeProto &n) {
  Cell c{I, n, I.nodeLoc(n)};
  if (failed(checkForm(I, n, {"Sigmoid", "Tanh"})))
    return failure();
  FailureOr<RecurrentOperands> o = recurrentOperands(c, 3);
  if (failed(o))
    return failure();
  int64_t t = o->t, b = o->b, h = o->h;
  bool beforeReset = attrInt(n, "linear_before_reset", 0) != 0;
  // Every step's input projection at once: [T * B, 3H].
  Value xw = c.gemmT(o->x2, o->w, o->wb);
  Value hPrev = o->h0, one = c.one();
  SmallVector<Value> states;
  for (int64_t s = 0; s < t; ++s) {
    Value xs = nn::SliceOp::create(I.builder, c.loc, c.f32({b, 3 * h}), xw,
                                   I.builder.getDenseI64ArrayAttr({s * b, 0}));
    // With no initial state h is 0 at the first step: R's terms are its
    // bias alone.
    Value hr = hPrev ? c.gemmT(hPrev, o->r, o->rb) : Value();
    auto rGate = [&](int64_t k) -> Value {
      if (hr)
        return c.gate(hr, k, h);
      return o->rb ? c.rows(o->rb, k, h) : Value();
    };
    auto plus = [&](Value a, Value v) { return v ? c.add(a, v) : a; };
    Value z =
        c.act(plus(c.gate(xs, 0, h), rGate(0)), nn::ActivationKind::sigmoid);
    Value r =
        c.act(plus(c.gate(xs, 1, h), rGate(1)), nn::ActivationKind::sigmoid);
    Value cand;
    if (!hPrev && !beforeReset) { // (r * 0) R^T + Rb
      cand = plus(c.gate(xs, 2, h), rGate(2));
    } else if (beforeReset) {
      Value rh = rGate(2);
      cand = plus(c.gate(xs, 2, h), rh ? c.mul(r, rh) : Value());
    } else {
      Value rhPrev = c.gemmT(c.mul(r, hPrev), c.rows(o->r, 2, h),
                             o->rb ? c.rows(o->rb, 2, h) : Value());
      cand = c.add(c.gate(xs, 2, h), rhPrev);
    }
    Value hNew = c.mul(c.sub(one, z), c.act(cand, nn::ActivationKind::tanh));
    hPrev = hPrev ? c.add(hNew, c.mul(z, hPrev)) : hNew;
    states.push_back(hPrev);
  }
  defineOutputs(c, states, Value(), b, h);
  return success();
}

/// LSTM, gates i, o, f, c (ONNX's order), with or without peepholes.
LogicalResult importLSTM(OnnxImporter &I, const onnx::NodeProto &n) {
  Cell c{I, n, I.nodeLoc(n)};
  if (failed(checkForm(I, n, {"Sigmoid", "Tanh", "Tanh"})))
    return failure();
  FailureOr<RecurrentOperands> o = recurrentOperands(c, 4);
  if (failed(o))
    return failure();
  int64_t t = o->t, b = o->b, h = o->h;
  // Peepholes P = [Pi, Po, Pf] look at the cell state.
  Value peep;
  if (n.input_size() > 7 && !n.input(7).empty()) {
    FailureOr<Value> p = I.tensorOperand(n, 7);
    if (failed(p) || shapeOf(*p) != SmallVector<int64_t>{1, 3 * h})
      return I.nodeError(n) << "P must be [1, 3H]", failure();
    peep = c.reshape(*p, {3 * h});
  }
  auto peek = [&](Value pre, int64_t k, Value cell) {
    return peep && cell ? c.add(pre, c.mul(c.rows(peep, k, h), cell)) : pre;
  };
  Value xw = c.gemmT(o->x2, o->w, o->wb);
  if (o->rb)
    xw = c.add(xw, o->rb);
  Value hPrev = o->h0, cPrev = o->c0;
  SmallVector<Value> states;
  for (int64_t s = 0; s < t; ++s) {
    Value g = nn::SliceOp::create(I.builder, c.loc, c.f32({b, 4 * h}), xw,
                                  I.builder.getDenseI64ArrayAttr({s * b, 0}));
    if (hPrev)
      g = c.gemmT(hPrev, o->r, g);
    auto sigmoid = [&](Value v) {
      return c.act(v, nn::ActivationKind::sigmoid);
    };
    Value in = sigmoid(peek(c.gate(g, 0, h), 0, cPrev));
    Value forget = sigmoid(peek(c.gate(g, 2, h), 2, cPrev));
    Value cand = c.act(c.gate(g, 3, h), nn::ActivationKind::tanh);
    Value cNew = c.mul(in, cand);
    cPrev = cPrev ? c.add(c.mul(forget, cPrev), cNew) : cNew;
    Value out = sigmoid(peek(c.gate(g, 1, h), 1, cPrev));
    hPrev = c.mul(out, c.act(cPrev, nn::ActivationKind::tanh));
    states.push_back(hPrev);
  }
  defineOutputs(c, states, cPrev, b, h);
  return success();
}

} // namespace

void mcutrain::importer::registerRecurrentHandlers(HandlerTable &table) {
  table.on("GRU", 7, importGRU);
  table.on("LSTM", 7, importLSTM);
}
