//===- Import.cpp - ONNX ModelProto → func @forward on nn ops -------------===//
//
// Values are either runtime tensors (MLIR values) or compile-time constants
// (initializers, Constant nodes, and the Shape/Gather/Concat chains that
// torch.onnx.export emits for view/flatten, folded here). Weights become
// ml_program.global symbols loaded at the top of @forward.
//
//===----------------------------------------------------------------------===//
#include "compiler/Import.h"

#include "dialects/NN/NN.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MLProgram/IR/MLProgram.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/MemoryBuffer.h"

#include "onnx/onnx_pb.h"

#include <functional>
#include <optional>

using namespace mlir;
using namespace mcutrain;

namespace {

/// How an ONNX element type is represented: MLIR integers are signless (as
/// in arith), so uint8 is i8 with `unsigned` set.
struct ElementKind {
  int32_t onnx = 0;
  unsigned bits = 0; // 0: f32
  bool isUnsigned = false;
};

static std::optional<ElementKind> elementKind(int32_t onnxType) {
  switch (onnxType) {
  case onnx::TensorProto::FLOAT:
    return ElementKind{onnxType, 0, false};
  case onnx::TensorProto::BOOL:
    return ElementKind{onnxType, 1, false};
  case onnx::TensorProto::INT8:
    return ElementKind{onnxType, 8, false};
  case onnx::TensorProto::UINT8:
    return ElementKind{onnxType, 8, true};
  case onnx::TensorProto::INT16:
    return ElementKind{onnxType, 16, false};
  case onnx::TensorProto::UINT16:
    return ElementKind{onnxType, 16, true};
  case onnx::TensorProto::INT32:
    return ElementKind{onnxType, 32, false};
  case onnx::TensorProto::INT64:
    return ElementKind{onnxType, 64, false};
  default:
    return std::nullopt;
  }
}

/// Element count of `shape`, or nothing if a dimension is negative or the
/// count exceeds 2^28 (far beyond any microcontroller model; the limit keeps
/// products of untrusted dimensions from overflowing).
static std::optional<int64_t> checkedElements(llvm::ArrayRef<int64_t> shape) {
  constexpr int64_t kMaxElements = int64_t(1) << 28;
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0 || (d > 0 && n > kMaxElements / d))
      return std::nullopt;
    n *= d;
  }
  return n;
}

/// A folded compile-time tensor: float data (weights) or integer data
/// (shapes, and integer or boolean tensors of type `dtype`).
struct ConstTensor {
  SmallVector<int64_t> shape;
  std::vector<float> f;
  std::vector<int64_t> i;
  bool isFloat = true;
  int32_t dtype = onnx::TensorProto::FLOAT;
  // The parameter's name: its initializer's, or for an untied alias the
  // alias's (see forwardInput); empty for folded values.
  std::string onnxName;
  // An untied alias: the initializer whose data it starts from.
  std::string aliasOf;
  int64_t numElements() const {
    int64_t n = 1;
    for (int64_t d : shape)
      n *= d;
    return n;
  }
};

class OnnxImporter {
public:
  /// `path` names the model in diagnostics; `bytes` is its content.
  OnnxImporter(MLIRContext &ctx, StringRef path, StringRef bytes,
               const ImportOptions &opts)
      : ctx(ctx), path(path), bytes(bytes), opts(opts), builder(&ctx) {}

  OwningOpRef<ModuleOp> run();

private:
  MLIRContext &ctx;
  std::string path;
  StringRef bytes;
  ImportOptions opts;
  OpBuilder builder;
  ModuleOp module;
  func::FuncOp func;
  llvm::StringMap<Value> values;
  llvm::StringMap<ConstTensor> consts;
  llvm::StringMap<Value> loadedGlobals;
  llvm::StringMap<int> usedSymbols;
  // --tie-shared-initializers: initializer name -> the aliases tied to it.
  llvm::StringMap<SmallVector<std::string>> tiedAliases;
  Block *entry = nullptr;
  Operation *lastLoad = nullptr;
  int64_t opset = 17;

  Location fileLoc() { return FileLineColLoc::get(&ctx, path, 0, 0); }
  Location nodeLoc(const onnx::NodeProto &n) {
    std::string name = n.name().empty() ? n.op_type() : n.name();
    return NameLoc::get(StringAttr::get(&ctx, name), fileLoc());
  }
  InFlightDiagnostic nodeError(const onnx::NodeProto &n) {
    auto d = emitError(nodeLoc(n));
    d << "ONNX node '" << n.name() << "' (op " << n.op_type() << "): ";
    return d;
  }

  /// The node names its first `count` inputs (no empty names).
  LogicalResult needInputs(const onnx::NodeProto &n, int count) {
    for (int i = 0; i < count; ++i)
      if (i >= n.input_size() || n.input(i).empty())
        return nodeError(n)
                   << "needs " << count << " input" << (count == 1 ? "" : "s"),
               failure();
    return success();
  }
  LogicalResult readTensor(const onnx::TensorProto &t, ConstTensor &out,
                           const onnx::NodeProto *node);
  LogicalResult importNode(const onnx::NodeProto &n);
  LogicalResult importBatchNormTraining(const onnx::NodeProto &n);
  LogicalResult forwardInput(const onnx::NodeProto &n);
  bool castKeepsType(const onnx::NodeProto &n);
  FailureOr<ConstTensor> foldIntegerNode(const onnx::NodeProto &n);
  FailureOr<Value> tensorOperand(const onnx::NodeProto &n, int idx);
  const ConstTensor *constOperand(const onnx::NodeProto &n, int idx);
  Value loadGlobal(const ConstTensor &c, StringRef name);
  std::string uniqueSymbol(StringRef onnxName);
  Type tensorType(ArrayRef<int64_t> shape, Type element = {}) {
    return RankedTensorType::get(shape,
                                 element ? element : builder.getF32Type());
  }
  Type mlirElementType(const ElementKind &k) {
    return k.bits ? Type(builder.getIntegerType(k.bits))
                  : Type(builder.getF32Type());
  }
  static Type elementTypeOf(Value v) {
    return cast<ShapedType>(v.getType()).getElementType();
  }
  /// The `is_unsigned` attribute for ops on `v`.
  UnitAttr isUnsigned(Value v) {
    return unsignedValues.contains(v) ? builder.getUnitAttr() : UnitAttr();
  }
  llvm::DenseSet<Value> unsignedValues;
};

} // namespace

// ONNX attribute helpers ----------------------------------------------------

static const onnx::AttributeProto *findAttr(const onnx::NodeProto &n,
                                            StringRef name) {
  for (const auto &a : n.attribute())
    if (a.name() == name)
      return &a;
  return nullptr;
}
static int64_t attrInt(const onnx::NodeProto &n, StringRef name, int64_t def) {
  const auto *a = findAttr(n, name);
  return a ? a->i() : def;
}
static float attrFloat(const onnx::NodeProto &n, StringRef name, float def) {
  const auto *a = findAttr(n, name);
  return a ? a->f() : def;
}
static SmallVector<int64_t> attrInts(const onnx::NodeProto &n, StringRef name,
                                     ArrayRef<int64_t> def) {
  const auto *a = findAttr(n, name);
  if (!a)
    return SmallVector<int64_t>(def);
  return SmallVector<int64_t>(a->ints().begin(), a->ints().end());
}
static std::string attrString(const onnx::NodeProto &n, StringRef name,
                              StringRef def) {
  const auto *a = findAttr(n, name);
  return a ? a->s() : def.str();
}

static SmallVector<int64_t> shapeOf(Value v) {
  return SmallVector<int64_t>(cast<ShapedType>(v.getType()).getShape());
}

LogicalResult OnnxImporter::readTensor(const onnx::TensorProto &t,
                                       ConstTensor &out,
                                       const onnx::NodeProto *node) {
  out.shape.assign(t.dims().begin(), t.dims().end());
  auto fail = [&](const Twine &msg) -> LogicalResult {
    if (node)
      return nodeError(*node) << msg, failure();
    return emitError(fileLoc()) << "initializer '" << t.name() << "': " << msg,
           failure();
  };
  std::optional<int64_t> count = checkedElements(out.shape);
  if (!count)
    return fail("negative or too large dimensions");
  int64_t n = *count;
  if (t.data_location() == onnx::TensorProto::EXTERNAL)
    return fail("external tensor data is not supported");
  const std::string &raw = t.raw_data();
  switch (t.data_type()) {
  case onnx::TensorProto::FLOAT:
    out.isFloat = true;
    if (!raw.empty()) {
      if ((int64_t)raw.size() != n * 4)
        return fail("raw data size does not match its shape");
      out.f.resize(n);
      memcpy(out.f.data(), raw.data(), raw.size());
    } else {
      if (t.float_data_size() != n)
        return fail("float data size does not match its shape");
      out.f.assign(t.float_data().begin(), t.float_data().end());
    }
    return success();
  default:
    break;
  }
  std::optional<ElementKind> kind = elementKind(t.data_type());
  if (!kind)
    return fail("tensor element type " + Twine(t.data_type()) +
                " is not supported (float32, bool and 8- to 64-bit integers "
                "are)");
  out.isFloat = false;
  out.dtype = t.data_type();
  if (!raw.empty()) {
    size_t width = kind->bits == 1 ? 1 : kind->bits / 8;
    if ((int64_t)raw.size() != n * (int64_t)width)
      return fail("raw data size does not match its shape");
    out.i.resize(n);
    for (int64_t k = 0; k < n; ++k) {
      const char *at = raw.data() + k * width;
      uint64_t bits = 0;
      memcpy(&bits, at, width); // little-endian, as ONNX stores raw data
      if (!kind->isUnsigned && kind->bits > 1 && kind->bits < 64 &&
          (bits >> (kind->bits - 1)) & 1)
        bits |= ~uint64_t(0) << kind->bits; // sign-extend
      out.i[k] = (int64_t)bits;
    }
  } else if (t.data_type() == onnx::TensorProto::INT64) {
    out.i.assign(t.int64_data().begin(), t.int64_data().end());
  } else {
    // bool and integers up to 32 bits live in int32_data.
    out.i.assign(t.int32_data().begin(), t.int32_data().end());
  }
  if ((int64_t)out.i.size() != n)
    return fail("integer data size does not match its shape");
  return success();
}

std::string OnnxImporter::uniqueSymbol(StringRef onnxName) {
  std::string s;
  for (char c : onnxName)
    s += (isalnum((unsigned char)c) ? c : '_');
  if (s.empty() || isdigit((unsigned char)s[0]))
    s = "p_" + s;
  int &count = usedSymbols[s];
  if (count++ > 0)
    s += "_" + std::to_string(count);
  return s;
}

/// Weights are globals, loaded once at the top of @forward: a parameter
/// once per parameter name (a tied alias loads its initializer), a folded
/// value once per value name.
Value OnnxImporter::loadGlobal(const ConstTensor &c, StringRef valueName) {
  StringRef name = c.onnxName.empty() ? valueName : StringRef(c.onnxName);
  auto it = loadedGlobals.find(name);
  if (it != loadedGlobals.end())
    return it->second;
  std::optional<ElementKind> kind = elementKind(c.dtype);
  auto type =
      cast<RankedTensorType>(tensorType(c.shape, mlirElementType(*kind)));
  std::string sym = uniqueSymbol(name);
  OpBuilder::InsertionGuard g(builder);
  builder.setInsertionPoint(func);
  DenseElementsAttr data;
  if (c.isFloat) {
    data = DenseElementsAttr::get(type, ArrayRef<float>(c.f));
  } else {
    SmallVector<APInt> ints;
    for (int64_t v : c.i)
      ints.push_back(APInt(kind->bits, (uint64_t)v, /*isSigned=*/true,
                           /*implicitTrunc=*/true));
    data = DenseElementsAttr::get(type, ints);
  }
  auto global = ml_program::GlobalOp::create(
      builder, NameLoc::get(builder.getStringAttr(name), fileLoc()), sym, type,
      /*is_mutable=*/false, data, builder.getStringAttr("private"));
  global->setAttr("onnx.name", builder.getStringAttr(name));
  if (!c.aliasOf.empty())
    global->setAttr("onnx.alias_of", builder.getStringAttr(c.aliasOf));
  // Values of Constant nodes are not parameters: they never train.
  if (c.onnxName.empty())
    global->setAttr("onnx.constant", builder.getUnitAttr());
  // Loads sit at the top of @forward, in the order of first use.
  if (lastLoad)
    builder.setInsertionPointAfter(lastLoad);
  else
    builder.setInsertionPointToStart(entry);
  Value v = ml_program::GlobalLoadOp::create(builder, global.getLoc(), type,
                                             SymbolRefAttr::get(global));
  lastLoad = v.getDefiningOp();
  if (kind->isUnsigned)
    unsignedValues.insert(v);
  loadedGlobals[name] = v;
  return v;
}

FailureOr<Value> OnnxImporter::tensorOperand(const onnx::NodeProto &n,
                                             int idx) {
  if (idx >= n.input_size() || n.input(idx).empty())
    return nodeError(n) << "missing input #" << idx, failure();
  const std::string &name = n.input(idx);
  auto v = values.find(name);
  if (v != values.end())
    return v->second;
  auto c = consts.find(name);
  if (c != consts.end())
    return loadGlobal(c->second, name);
  return nodeError(n) << "input '" << name << "' is not defined before use",
         failure();
}

const ConstTensor *OnnxImporter::constOperand(const onnx::NodeProto &n,
                                              int idx) {
  if (idx >= n.input_size() || n.input(idx).empty())
    return nullptr;
  auto c = consts.find(n.input(idx));
  return c == consts.end() ? nullptr : &c->second;
}

/// Pads for auto_pad SAME_UPPER/SAME_LOWER (stride s, kernel k, input x).
static void samePads(int64_t x, int64_t k, int64_t s, int64_t d, bool upper,
                     int64_t &begin, int64_t &end) {
  int64_t out = (x + s - 1) / s;
  int64_t total = std::max<int64_t>(0, (out - 1) * s + d * (k - 1) + 1 - x);
  begin = upper ? total / 2 : total - total / 2;
  end = total - begin;
}

/// Training-mode BatchNormalization (opset 14+): normalises with the batch's
/// own statistics (biased variance, as ONNX's reference) and returns the
/// running mean and variance updated by `momentum`. Built from nn ops.
LogicalResult OnnxImporter::importBatchNormTraining(const onnx::NodeProto &n) {
  Location loc = nodeLoc(n);
  SmallVector<Value> ins; // X, scale, B, input_mean, input_var
  for (int i = 0; i < 5; ++i) {
    FailureOr<Value> v = tensorOperand(n, i);
    if (failed(v))
      return failure();
    ins.push_back(*v);
  }
  Value x = ins[0];
  auto xs = shapeOf(x);
  if (xs.size() < 2)
    return nodeError(n) << "the input needs a channel dimension", failure();
  int64_t channels = xs[1], count = 1;
  for (size_t d = 0; d < xs.size(); ++d)
    count *= d == 1 ? 1 : xs[d];
  for (int i = 1; i < 5; ++i) {
    auto s = shapeOf(ins[i]);
    if (s.size() != 1 || s[0] != channels)
      return nodeError(n) << "scale, bias, mean and var must have " << channels
                          << " elements",
             failure();
  }
  SmallVector<int64_t> statShape(xs.size(), 1);
  statShape[1] = channels;
  Type st = tensorType(statShape), xt = x.getType(),
       ct = tensorType({channels});
  auto scalar = [&](float v, StringRef what) {
    ConstTensor c;
    c.f = {v};
    return loadGlobal(c, (n.output(0) + "__" + what).str());
  };
  float eps = attrFloat(n, "epsilon", 1e-5f);
  float momentum = attrFloat(n, "momentum", 0.9f);
  auto inv = builder.getF32FloatAttr(1.0f / (float)count);
  Value mean = nn::ReduceSumToOp::create(builder, loc, st, x, inv);
  Value centred = nn::SubOp::create(builder, loc, xt, x, mean, UnitAttr());
  Value var = nn::ReduceSumToOp::create(
      builder, loc, st,
      nn::MulOp::create(builder, loc, xt, centred, centred, UnitAttr()), inv);
  Value sd = nn::ActivationOp::create(
      builder, loc,
      nn::AddOp::create(builder, loc, st, var, scalar(eps, "epsilon"),
                        UnitAttr()),
      nn::ActivationKindAttr::get(&ctx, nn::ActivationKind::sqrt),
      builder.getF32FloatAttr(0.0f), builder.getF32FloatAttr(0.0f), UnitAttr());
  Value norm = nn::DivOp::create(builder, loc, xt, centred, sd, UnitAttr());
  Value y = nn::AddOp::create(
      builder, loc, xt,
      nn::MulOp::create(builder, loc, xt, norm,
                        nn::ReshapeOp::create(builder, loc, st, ins[1]),
                        UnitAttr()),
      nn::ReshapeOp::create(builder, loc, st, ins[2]), UnitAttr());
  values[n.output(0)] = y;
  // running = input * momentum + batch statistic * (1 - momentum)
  for (int k = 1; k <= 2 && k < n.output_size(); ++k) {
    if (n.output(k).empty())
      continue;
    Value batchStat =
        nn::ReshapeOp::create(builder, loc, ct, k == 1 ? mean : var);
    values[n.output(k)] = nn::AddOp::create(
        builder, loc, ct,
        nn::MulOp::create(builder, loc, ct, ins[2 + k],
                          scalar(momentum, "momentum"), UnitAttr()),
        nn::MulOp::create(builder, loc, ct, batchStat,
                          scalar(1.0f - momentum, "one_minus_momentum"),
                          UnitAttr()),
        UnitAttr());
  }
  if (n.output_size() > 3)
    return nodeError(n) << "outputs beyond running_mean and running_var are "
                           "not supported",
           failure();
  return success();
}

/// Identity, inference Dropout and a Cast to the input's own type: the
/// output is the input. A parameter seen through such a node is an alias:
/// torch.onnx.export (do_constant_folding) merges initializers of equal
/// value (zero biases, a fresh model's BN-folded biases, gamma = 1 and
/// beta = 0) into one plus Identity nodes whose outputs keep the PyTorch
/// names. By default each alias is a parameter of its own, starting from the
/// shared data, as the separate tensors of the user's PyTorch model are;
/// with --tie-shared-initializers it is the initializer itself (one tensor
/// whose gradient sums over its uses, the ONNX graph's meaning).
LogicalResult OnnxImporter::forwardInput(const onnx::NodeProto &n) {
  const std::string &out = n.output(0);
  auto c = consts.find(n.input(0));
  if (c == consts.end()) {
    FailureOr<Value> x = tensorOperand(n, 0);
    if (failed(x))
      return failure();
    values[out] = *x;
    return success();
  }
  ConstTensor alias = c->second;
  if (!alias.onnxName.empty() && opts.tieSharedInitializers) {
    tiedAliases[alias.onnxName].push_back(out);
  } else if (!alias.onnxName.empty()) {
    if (alias.aliasOf.empty())
      alias.aliasOf = alias.onnxName;
    alias.onnxName = out;
  }
  consts[out] = std::move(alias);
  return success();
}

/// A Cast whose `to` is its input's element type (a no-op).
bool OnnxImporter::castKeepsType(const onnx::NodeProto &n) {
  std::optional<ElementKind> to = elementKind(attrInt(n, "to", 0));
  if (!to)
    return false;
  if (const ConstTensor *c = constOperand(n, 0))
    return c->dtype == to->onnx;
  auto v = values.find(n.input(0));
  return v != values.end() &&
         elementTypeOf(v->second) == mlirElementType(*to) &&
         unsignedValues.contains(v->second) == to->isUnsigned;
}

/// Row-major strides of `shape`.
static SmallVector<int64_t> stridesOf(ArrayRef<int64_t> shape) {
  SmallVector<int64_t> s(shape.size(), 1);
  for (int64_t d = (int64_t)shape.size() - 2; d >= 0; --d)
    s[d] = s[d + 1] * shape[d + 1];
  return s;
}

/// Folds an integer elementwise op, Reshape, Slice or Transpose on constants.
FailureOr<ConstTensor> OnnxImporter::foldIntegerNode(const onnx::NodeProto &n) {
  const std::string &op = n.op_type();
  if (failed(needInputs(n, op == "Slice" ? 3 : op == "Transpose" ? 1 : 2)))
    return failure();
  const ConstTensor &a = consts[n.input(0)];
  ConstTensor c;
  c.isFloat = false;
  c.dtype = a.dtype;
  if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div") {
    const ConstTensor &b = consts[n.input(1)];
    if (b.isFloat)
      return nodeError(n) << "operands differ in element type", failure();
    auto shape = nn::broadcastShapes(a.shape, b.shape);
    if (failed(shape))
      return nodeError(n) << "operand shapes do not broadcast", failure();
    c.shape = *shape;
    if (!checkedElements(c.shape))
      return nodeError(n) << "the result is too large", failure();
    auto ys = stridesOf(c.shape);
    // Index of output element k in an operand broadcast to c.shape.
    auto at = [&](const ConstTensor &t, int64_t k) {
      auto ts = stridesOf(t.shape);
      size_t off = c.shape.size() - t.shape.size();
      int64_t idx = 0;
      for (size_t d = 0; d < t.shape.size(); ++d) {
        int64_t i = (k / ys[d + off]) % c.shape[d + off];
        idx += (t.shape[d] == 1 ? 0 : i) * ts[d];
      }
      return t.i[idx];
    };
    for (int64_t k = 0; k < c.numElements(); ++k) {
      int64_t x = at(a, k), y = at(b, k);
      if (op == "Div" && y == 0)
        return nodeError(n) << "integer division by zero", failure();
      c.i.push_back(op == "Add"   ? x + y
                    : op == "Sub" ? x - y
                    : op == "Mul" ? x * y
                                  : x / y);
    }
    return c;
  }
  if (op == "Reshape") {
    const ConstTensor &s = consts[n.input(1)];
    int64_t known = 1, inferAt = -1;
    for (size_t d = 0; d < s.i.size(); ++d) {
      int64_t v = s.i[d];
      if (v == 0 && !attrInt(n, "allowzero", 0))
        v = d < a.shape.size() ? a.shape[d] : -2;
      if (v == -1 && inferAt < 0) {
        inferAt = d;
        c.shape.push_back(1);
        continue;
      }
      if (v < 0)
        return nodeError(n) << "invalid dimension in the shape", failure();
      c.shape.push_back(v);
      if (!checkedElements(c.shape))
        return nodeError(n) << "the shape is too large", failure();
      known *= v;
    }
    if (inferAt >= 0 && known > 0)
      c.shape[inferAt] = a.numElements() / known;
    if (c.numElements() != a.numElements())
      return nodeError(n) << "the shape does not match the element count",
             failure();
    c.i = a.i;
    return c;
  }
  int64_t rank = a.shape.size();
  auto as = stridesOf(a.shape);
  if (op == "Transpose") {
    SmallVector<int64_t> rev;
    for (int64_t d = rank - 1; d >= 0; --d)
      rev.push_back(d);
    auto perm = attrInts(n, "perm", rev);
    if ((int64_t)perm.size() != rank)
      return nodeError(n) << "perm is not a permutation of the dims", failure();
    SmallVector<bool> seen(rank, false);
    for (int64_t p : perm) {
      if (p < 0 || p >= rank || seen[p])
        return nodeError(n) << "perm is not a permutation of the dims",
               failure();
      seen[p] = true;
      c.shape.push_back(a.shape[p]);
    }
    auto ys = stridesOf(c.shape);
    for (int64_t k = 0; k < c.numElements(); ++k) {
      int64_t idx = 0;
      for (int64_t d = 0; d < rank; ++d)
        idx += ((k / ys[d]) % c.shape[d]) * as[perm[d]];
      c.i.push_back(a.i[idx]);
    }
    return c;
  }
  // Slice: starts, ends[, axes[, steps]] as constants (opset 10+).
  if (n.input_size() < 3)
    return nodeError(n) << "the opset " << opset
                        << " form (attributes) is not supported",
           failure();
  const ConstTensor &starts = consts[n.input(1)], &ends = consts[n.input(2)];
  SmallVector<int64_t> axes, steps;
  for (size_t k = 0; k < starts.i.size(); ++k)
    axes.push_back(k);
  if (const ConstTensor *ax = constOperand(n, 3))
    axes.assign(ax->i.begin(), ax->i.end());
  steps.assign(axes.size(), 1);
  if (const ConstTensor *st = constOperand(n, 4))
    steps.assign(st->i.begin(), st->i.end());
  if (ends.i.size() != starts.i.size() || axes.size() != starts.i.size() ||
      steps.size() != starts.i.size())
    return nodeError(n) << "starts, ends, axes and steps differ in length",
           failure();
  SmallVector<int64_t> first(rank, 0), step(rank, 1);
  c.shape.assign(a.shape.begin(), a.shape.end());
  for (size_t k = 0; k < axes.size(); ++k) {
    int64_t ax = axes[k] < 0 ? axes[k] + rank : axes[k];
    if (ax < 0 || ax >= rank || steps[k] == 0)
      return nodeError(n) << "invalid axis or zero step", failure();
    int64_t dim = a.shape[ax], s = steps[k];
    auto norm = [&](int64_t v, int64_t lo, int64_t hi) {
      v = v < 0 ? v + dim : v;
      return std::clamp(v, lo, hi);
    };
    int64_t b =
        s > 0 ? norm(starts.i[k], 0, dim) : norm(starts.i[k], -1, dim - 1);
    int64_t e = s > 0 ? norm(ends.i[k], 0, dim) : norm(ends.i[k], -1, dim - 1);
    int64_t len = s > 0 ? (e > b ? (e - b + s - 1) / s : 0)
                        : (b > e ? (b - e - s - 1) / -s : 0);
    first[ax] = b;
    step[ax] = s;
    c.shape[ax] = len;
  }
  auto ys = stridesOf(c.shape);
  for (int64_t k = 0; k < c.numElements(); ++k) {
    int64_t idx = 0;
    for (int64_t d = 0; d < rank; ++d)
      idx += (first[d] + ((k / ys[d]) % c.shape[d]) * step[d]) * as[d];
    c.i.push_back(a.i[idx]);
  }
  return c;
}

LogicalResult OnnxImporter::importNode(const onnx::NodeProto &n) {
  const std::string &op = n.op_type();
  Location loc = nodeLoc(n);
  if (!n.domain().empty() && n.domain() != "ai.onnx")
    return nodeError(n) << "operator domain '" << n.domain()
                        << "' is not supported",
           failure();
  if (n.output_size() == 0 || n.output(0).empty())
    return nodeError(n) << "has no output", failure();
  if (op != "Constant" && failed(needInputs(n, 1)))
    return failure();
  auto define = [&](Value v) {
    values[n.output(0)] = v;
    return success();
  };
  auto defineConst = [&](ConstTensor c) {
    consts[n.output(0)] = std::move(c);
    return success();
  };
  auto allConst = [&]() {
    for (const auto &in : n.input())
      if (!in.empty() && !consts.count(in))
        return false;
    return n.input_size() > 0;
  };

  // Compile-time folding of shape computations --------------------------
  if (op == "Constant") {
    const auto *a = findAttr(n, "value");
    if (!a || !a->has_t())
      return nodeError(n)
                 << "forms other than the 'value' tensor are not supported",
             failure();
    ConstTensor c;
    if (failed(readTensor(a->t(), c, &n)))
      return failure();
    return defineConst(std::move(c));
  }
  if (op == "Shape") {
    SmallVector<int64_t> dims;
    if (const ConstTensor *k = constOperand(n, 0)) {
      dims = k->shape;
    } else {
      FailureOr<Value> x = tensorOperand(n, 0);
      if (failed(x))
        return failure();
      dims = shapeOf(*x);
    }
    ConstTensor c;
    c.isFloat = false;
    c.dtype = onnx::TensorProto::INT64;
    c.i.assign(dims.begin(), dims.end());
    int64_t rank = c.i.size();
    int64_t start = attrInt(n, "start", 0), end = attrInt(n, "end", rank);
    start = std::clamp<int64_t>(start < 0 ? start + rank : start, 0, rank);
    end = std::clamp<int64_t>(end < 0 ? end + rank : end, 0, rank);
    c.i = std::vector<int64_t>(c.i.begin() + start,
                               c.i.begin() + std::max(start, end));
    c.shape = {(int64_t)c.i.size()};
    return defineConst(std::move(c));
  }
  if (op == "Reshape" && opset < 5)
    return nodeError(n) << "the opset " << opset
                        << " form (shape attribute) is not supported",
           failure();
  if (op == "Identity" || op == "Dropout") {
    if (op == "Dropout") {
      // A random mask cannot be compiled; Dropout that keeps everything
      // (inference, or ratio 0) is the identity with an all-true mask.
      bool training = opset < 7 && attrInt(n, "is_test", 0) == 0;
      float ratio = opset < 12 ? attrFloat(n, "ratio", 0.5f) : 0.5f;
      if (opset >= 12) {
        if (n.input_size() > 1 && !n.input(1).empty()) {
          const ConstTensor *r = constOperand(n, 1);
          if (!r || !r->isFloat || r->f.size() != 1)
            return nodeError(n) << "a ratio computed at run time is not "
                                   "supported (constants only)",
                   failure();
          ratio = r->f[0];
        }
        if (n.input_size() > 2 && !n.input(2).empty()) {
          const ConstTensor *t = constOperand(n, 2);
          if (!t || t->isFloat || t->i.size() != 1)
            return nodeError(n) << "a training_mode computed at run time is "
                                   "not supported (constants only)",
                   failure();
          training = t->i[0] != 0;
        }
      }
      if (training && ratio != 0.0f)
        return nodeError(n)
                   << "training-mode Dropout (a random mask, ratio " << ratio
                   << ") is not supported; export the model in "
                      "eval mode",
               failure();
      if (n.output_size() > 1 && !n.output(1).empty()) {
        SmallVector<int64_t> shape;
        if (const ConstTensor *k = constOperand(n, 0)) {
          shape = k->shape;
        } else {
          FailureOr<Value> x = tensorOperand(n, 0);
          if (failed(x))
            return failure();
          shape = shapeOf(*x);
        }
        ConstTensor mask;
        mask.isFloat = false;
        mask.dtype = onnx::TensorProto::BOOL;
        mask.shape = shape;
        mask.i.assign(mask.numElements(), 1);
        consts[n.output(1)] = std::move(mask);
      }
    }
    return forwardInput(n);
  }
  if (op == "Cast" && castKeepsType(n))
    return forwardInput(n);
  // Integer shape arithmetic (F.pad's pads, view sizes) folds at compile
  // time; these ops never reach the runtime on integer constants.
  if (allConst() && !consts[n.input(0)].isFloat &&
      (op == "Add" || op == "Sub" || op == "Mul" || op == "Div" ||
       op == "Reshape" || op == "Slice" || op == "Transpose")) {
    FailureOr<ConstTensor> c = foldIntegerNode(n);
    if (failed(c))
      return failure();
    return defineConst(std::move(*c));
  }
  if (op == "ConstantOfShape") {
    const ConstTensor *shape = constOperand(n, 0);
    if (!shape || shape->isFloat)
      return nodeError(n) << "a shape computed at run time is not supported",
             failure();
    ConstTensor value; // default: one float 0
    value.f = {0.0f};
    if (const auto *a = findAttr(n, "value"))
      if (failed(readTensor(a->t(), value, &n)))
        return failure();
    if (value.numElements() != 1)
      return nodeError(n) << "value must hold one element", failure();
    ConstTensor c = value;
    c.onnxName.clear();
    c.shape.assign(shape->i.begin(), shape->i.end());
    if (!checkedElements(c.shape))
      return nodeError(n) << "negative or too large dimensions in the shape",
             failure();
    if (c.isFloat)
      c.f.assign(c.numElements(), value.f[0]);
    else
      c.i.assign(c.numElements(), value.i[0]);
    return defineConst(std::move(c));
  }
  if (allConst() && (op == "Gather" || op == "Unsqueeze" || op == "Squeeze" ||
                     op == "Concat" || op == "Cast")) {
    const ConstTensor &a = consts[n.input(0)];
    if (a.isFloat && op != "Cast")
      return nodeError(n) << "folding float constants is not supported",
             failure();
    ConstTensor c;
    c.isFloat = false;
    c.dtype = onnx::TensorProto::INT64;
    if (op == "Cast") {
      int64_t to = attrInt(n, "to", 0);
      if (to != onnx::TensorProto::INT64 && to != onnx::TensorProto::INT32)
        return nodeError(n) << "Cast of a runtime tensor is not supported "
                               "(constants only)",
               failure();
      c = a;
      c.dtype = to;
      c.onnxName.clear();
      if (a.isFloat) {
        c.isFloat = false;
        c.i.assign(a.f.begin(), a.f.end());
        c.f.clear();
      }
    } else if (op == "Gather") {
      if (failed(needInputs(n, 2)))
        return failure();
      const ConstTensor &idx = consts[n.input(1)];
      if (a.shape.size() != 1 || attrInt(n, "axis", 0) != 0)
        return nodeError(n) << "only 1-D constant Gather is folded", failure();
      c.shape = idx.shape;
      for (int64_t k : idx.i) {
        int64_t j = k < 0 ? k + (int64_t)a.i.size() : k;
        if (j < 0 || j >= (int64_t)a.i.size())
          return nodeError(n) << "Gather index out of range", failure();
        c.i.push_back(a.i[j]);
      }
    } else if (op == "Concat") {
      for (const auto &in : n.input())
        c.i.insert(c.i.end(), consts[in].i.begin(), consts[in].i.end());
      c.shape = {(int64_t)c.i.size()};
    } else { // Unsqueeze / Squeeze: data unchanged, shape only
      c = a;
      c.onnxName.clear();
      SmallVector<int64_t> axes = attrInts(n, "axes", {});
      if (const ConstTensor *ax = constOperand(n, 1))
        axes.assign(ax->i.begin(), ax->i.end());
      if (op == "Unsqueeze") {
        int64_t rank = c.shape.size() + axes.size();
        for (int64_t &x : axes)
          x = x < 0 ? x + rank : x;
        llvm::sort(axes);
        for (int64_t x : axes)
          c.shape.insert(c.shape.begin() + std::min<int64_t>(x, c.shape.size()),
                         1);
      } else {
        SmallVector<int64_t> s;
        for (int64_t d = 0; d < (int64_t)c.shape.size(); ++d)
          if (!(axes.empty() ? c.shape[d] == 1
                             : llvm::is_contained(axes, d) ||
                                   llvm::is_contained(
                                       axes, d - (int64_t)c.shape.size())))
            s.push_back(c.shape[d]);
        c.shape = s;
      }
    }
    return defineConst(std::move(c));
  }

  // Runtime ops ----------------------------------------------------------
  // Integer and boolean tensors: data movement, elementwise arithmetic, Clip
  // and MaxPool take them; everything else computes in float32.
  static const char *integerOps[] = {
      "Add",       "Sub",       "Mul",     "Div",     "Clip",
      "MaxPool",   "Pad",       "Reshape", "Flatten", "Squeeze",
      "Unsqueeze", "Transpose", "Concat"};
  bool takesIntegers = llvm::is_contained(integerOps, StringRef(op));
  for (const auto &in : n.input()) {
    auto v = values.find(in);
    Type et;
    if (v != values.end())
      et = elementTypeOf(v->second);
    else if (consts.count(in) && !consts[in].isFloat && in == n.input(0))
      et = mlirElementType(*elementKind(consts[in].dtype));
    if (!et || et.isF32())
      continue;
    if (!takesIntegers ||
        (et.isInteger(1) && op != "Reshape" && op != "Flatten" &&
         op != "Squeeze" && op != "Unsqueeze" && op != "Transpose" &&
         op != "Concat" && op != "Pad"))
      return nodeError(n) << "input '" << in << "' has element type " << et
                          << ", which is not supported by " << op
                          << " (float32 only)",
             failure();
  }
  if (op == "Conv") {
    FailureOr<Value> x = tensorOperand(n, 0), w = tensorOperand(n, 1);
    if (failed(x) || failed(w))
      return failure();
    auto xs = shapeOf(*x), ws = shapeOf(*w);
    if (xs.size() != 4 || ws.size() != 4)
      return nodeError(n) << "convolution over other than 2 spatial dims is "
                             "not supported",
             failure();
    int64_t group = attrInt(n, "group", 1);
    if (group < 1 || ws[0] % group || xs[1] != ws[1] * group)
      return nodeError(n) << "group=" << group << " does not match " << xs[1]
                          << " input and " << ws[0] << " output channels",
             failure();
    auto strides = attrInts(n, "strides", {1, 1});
    auto dil = attrInts(n, "dilations", {1, 1});
    auto pads = attrInts(n, "pads", {0, 0, 0, 0});
    auto ks = attrInts(n, "kernel_shape", {ws[2], ws[3]});
    if (ks.size() != 2 || ks[0] != ws[2] || ks[1] != ws[3])
      return nodeError(n) << "kernel_shape disagrees with the weight",
             failure();
    if (strides.size() != 2 || dil.size() != 2 || pads.size() != 4)
      return nodeError(n) << "strides/dilations/pads must describe 2 spatial "
                             "dimensions",
             failure();
    if (llvm::any_of(strides, [](int64_t v) { return v < 1; }) ||
        llvm::any_of(dil, [](int64_t v) { return v < 1; }))
      return nodeError(n) << "strides and dilations must be positive",
             failure();
    std::string autoPad = attrString(n, "auto_pad", "NOTSET");
    if (autoPad == "VALID") {
      pads = {0, 0, 0, 0};
    } else if (autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER") {
      for (int d = 0; d < 2; ++d)
        samePads(xs[2 + d], ks[d], strides[d], dil[d], autoPad == "SAME_UPPER",
                 pads[d], pads[d + 2]);
    } else if (autoPad != "NOTSET") {
      return nodeError(n) << "auto_pad '" << autoPad << "' is not supported",
             failure();
    }
    Value bias;
    if (n.input_size() > 2 && !n.input(2).empty()) {
      FailureOr<Value> b = tensorOperand(n, 2);
      if (failed(b))
        return failure();
      bias = *b;
      auto bs = shapeOf(bias);
      if (bs.size() != 1 || bs[0] != ws[0] || !elementTypeOf(bias).isF32())
        return nodeError(n) << "the bias must be a float tensor of " << ws[0]
                            << " elements",
               failure();
    }
    int64_t oh = nn::slidingOutputSize(xs[2], ks[0], strides[0], pads[0],
                                       pads[2], dil[0]);
    int64_t ow = nn::slidingOutputSize(xs[3], ks[1], strides[1], pads[1],
                                       pads[3], dil[1]);
    if (oh <= 0 || ow <= 0)
      return nodeError(n) << "the kernel does not fit the padded input",
             failure();
    return define(nn::Conv2dOp::create(
        builder, loc, tensorType({xs[0], ws[0], oh, ow}), *x, *w, bias,
        builder.getDenseI64ArrayAttr(strides),
        builder.getDenseI64ArrayAttr(pads), builder.getDenseI64ArrayAttr(dil),
        builder.getI64IntegerAttr(group)));
  }
  if (op == "Gemm" || op == "MatMul") {
    FailureOr<Value> a = tensorOperand(n, 0), b = tensorOperand(n, 1);
    if (failed(a) || failed(b))
      return failure();
    auto as = shapeOf(*a), bs = shapeOf(*b);
    if (op == "MatMul" && as.size() >= 2 && bs.size() >= 2 &&
        (as.size() > 2 || bs.size() > 2)) {
      auto batch = nn::broadcastShapes(ArrayRef<int64_t>(as).drop_back(2),
                                       ArrayRef<int64_t>(bs).drop_back(2));
      if (failed(batch) || as.back() != bs[bs.size() - 2])
        return nodeError(n) << "operand shapes do not match", failure();
      SmallVector<int64_t> ys(*batch);
      ys.push_back(as[as.size() - 2]);
      ys.push_back(bs.back());
      return define(nn::MatMulOp::create(builder, loc, tensorType(ys), *a, *b));
    }
    if (as.size() != 2 || bs.size() != 2)
      return nodeError(n) << "1-D operands are not supported", failure();
    bool ta = attrInt(n, "transA", 0), tb = attrInt(n, "transB", 0);
    Value c;
    if (op == "Gemm" && n.input_size() > 2 && !n.input(2).empty()) {
      FailureOr<Value> cv = tensorOperand(n, 2);
      if (failed(cv))
        return failure();
      c = *cv;
    }
    int64_t m = ta ? as[1] : as[0], k = ta ? as[0] : as[1];
    int64_t kb = tb ? bs[1] : bs[0], nn_ = tb ? bs[0] : bs[1];
    if (k != kb)
      return nodeError(n) << "inner dimensions differ (" << k << " vs " << kb
                          << ")",
             failure();
    if (c) {
      auto bc = nn::broadcastShapes(shapeOf(c), {m, nn_});
      if (failed(bc) || (*bc)[0] != m || (*bc)[1] != nn_)
        return nodeError(n) << "C does not broadcast to the output", failure();
    }
    return define(nn::GemmOp::create(
        builder, loc, tensorType({m, nn_}), *a, *b, c, builder.getBoolAttr(ta),
        builder.getBoolAttr(tb),
        builder.getF32FloatAttr(attrFloat(n, "alpha", 1.0f)),
        builder.getF32FloatAttr(attrFloat(n, "beta", 1.0f))));
  }
  if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div") {
    if (opset < 7)
      return nodeError(n) << "the opset " << opset
                          << " form (broadcast attribute) is not supported",
             failure();
    FailureOr<Value> a = tensorOperand(n, 0), b = tensorOperand(n, 1);
    if (failed(a) || failed(b))
      return failure();
    auto bs = nn::broadcastShapes(shapeOf(*a), shapeOf(*b));
    if (failed(bs))
      return nodeError(n) << "operand shapes do not broadcast", failure();
    if (elementTypeOf(*a) != elementTypeOf(*b))
      return nodeError(n) << "operands differ in element type", failure();
    Type t = tensorType(*bs, elementTypeOf(*a));
    UnitAttr u = isUnsigned(*a);
    if (op == "Add")
      return define(nn::AddOp::create(builder, loc, t, *a, *b, u));
    if (op == "Sub")
      return define(nn::SubOp::create(builder, loc, t, *a, *b, u));
    if (op == "Mul")
      return define(nn::MulOp::create(builder, loc, t, *a, *b, u));
    return define(nn::DivOp::create(builder, loc, t, *a, *b, u));
  }
  if (op == "Relu") {
    FailureOr<Value> x = tensorOperand(n, 0);
    if (failed(x))
      return failure();
    return define(nn::ReluOp::create(builder, loc, *x));
  }
  if (op == "MaxPool" || op == "AveragePool" || op == "GlobalAveragePool") {
    FailureOr<Value> x = tensorOperand(n, 0);
    if (failed(x))
      return failure();
    auto xs = shapeOf(*x);
    if (xs.size() < 3 || xs.size() > 5)
      return nodeError(n) << "pooling over " << (int64_t)xs.size() - 2
                          << " spatial dims is not supported (1 to 3 are)",
             failure();
    size_t sp = xs.size() - 2;
    bool global = op == "GlobalAveragePool";
    SmallVector<int64_t> ones(sp, 1), zeros(2 * sp, 0);
    auto ks = global ? SmallVector<int64_t>(ArrayRef(xs).drop_front(2))
                     : attrInts(n, "kernel_shape", {});
    auto strides = global ? ones : attrInts(n, "strides", ones);
    auto pads = global ? zeros : attrInts(n, "pads", zeros);
    auto dil = global ? ones : attrInts(n, "dilations", ones);
    if (ks.size() != sp || strides.size() != sp || pads.size() != 2 * sp ||
        dil.size() != sp)
      return nodeError(n) << "kernel_shape/strides/pads/dilations must "
                             "describe "
                          << sp << " spatial dimensions",
             failure();
    for (size_t d = 0; d < sp; ++d)
      if (ks[d] < 1 || strides[d] < 1 || dil[d] < 1 || pads[d] < 0 ||
          pads[d + sp] < 0)
        return nodeError(n) << "kernel_shape, strides and dilations must be "
                               "positive and pads non-negative",
               failure();
    bool ceilMode = attrInt(n, "ceil_mode", 0) != 0;
    if (op != "MaxPool" && llvm::any_of(dil, [](int64_t v) { return v != 1; }))
      return nodeError(n) << "average pooling dilations are not supported",
             failure();
    std::string autoPad = attrString(n, "auto_pad", "NOTSET");
    if (autoPad == "VALID") {
      pads = zeros;
    } else if (autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER") {
      for (size_t d = 0; d < sp; ++d)
        samePads(xs[2 + d], ks[d], strides[d], dil[d], autoPad == "SAME_UPPER",
                 pads[d], pads[d + sp]);
    } else if (autoPad != "NOTSET") {
      return nodeError(n) << "auto_pad '" << autoPad << "' is not supported",
             failure();
    }
    for (size_t d = 0; d < sp; ++d)
      if (pads[d] >= ks[d] || pads[d + sp] >= ks[d])
        return nodeError(n) << "pads must be smaller than the kernel",
               failure();
    bool wantIndices = n.output_size() > 1 && !n.output(1).empty();
    if (wantIndices && (op != "MaxPool" || sp != 2))
      return nodeError(n) << "the Indices output is supported for 2-D "
                             "MaxPool only",
             failure();
    bool cip = attrInt(n, "count_include_pad", 0) != 0;
    // One 2-D pooling over dims 2 and 3 of a 4-D tensor.
    auto pool2d = [&](Value in, ArrayRef<int64_t> k, ArrayRef<int64_t> s,
                      ArrayRef<int64_t> p, ArrayRef<int64_t> dl) -> Value {
      auto is = shapeOf(in);
      int64_t oh =
          nn::poolOutputSize(is[2], k[0], s[0], p[0], p[2], dl[0], ceilMode);
      int64_t ow =
          nn::poolOutputSize(is[3], k[1], s[1], p[1], p[3], dl[1], ceilMode);
      if (oh <= 0 || ow <= 0)
        return Value();
      Type rt = tensorType({is[0], is[1], oh, ow}, elementTypeOf(in));
      auto ceil = builder.getBoolAttr(ceilMode);
      auto dils = builder.getDenseI64ArrayAttr(dl);
      auto kk = builder.getDenseI64ArrayAttr(k);
      auto ss = builder.getDenseI64ArrayAttr(s);
      auto pp = builder.getDenseI64ArrayAttr(p);
      if (op == "MaxPool")
        return nn::MaxPool2dOp::create(builder, loc, rt, in, kk, ss, pp,
                                       builder.getBoolAttr(false), ceil, dils,
                                       isUnsigned(in));
      return nn::AvgPool2dOp::create(builder, loc, rt, in, kk, ss, pp,
                                     builder.getBoolAttr(cip), ceil, dils);
    };
    auto reshaped = [&](Value v, ArrayRef<int64_t> shape) -> Value {
      return nn::ReshapeOp::create(builder, loc,
                                   tensorType(shape, elementTypeOf(v)), v);
    };
    auto noFit = [&]() {
      return nodeError(n) << "the kernel does not fit the padded input",
             failure();
    };
    Value y;
    if (sp == 2) {
      y = pool2d(*x, ks, strides, pads, dil);
    } else if (sp == 1) {
      // [N,C,L] pools as [N,C,1,L].
      Value y4 = pool2d(reshaped(*x, {xs[0], xs[1], 1, xs[2]}), {1, ks[0]},
                        {1, strides[0]}, {0, pads[0], 0, pads[1]}, {1, dil[0]});
      if (!y4)
        return noFit();
      y = reshaped(y4, {xs[0], xs[1], shapeOf(y4)[3]});
    } else {
      // Max and average pooling are separable over a box window (the valid
      // part of a window is a product of intervals): pool H,W per depth
      // slice, then D per output pixel.
      Value hw = pool2d(reshaped(*x, {xs[0], xs[1] * xs[2], xs[3], xs[4]}),
                        {ks[1], ks[2]}, {strides[1], strides[2]},
                        {pads[1], pads[2], pads[4], pads[5]}, {dil[1], dil[2]});
      if (!hw)
        return noFit();
      int64_t oh = shapeOf(hw)[2], ow = shapeOf(hw)[3];
      Value dpool =
          pool2d(reshaped(hw, {xs[0], xs[1], xs[2], oh * ow}), {ks[0], 1},
                 {strides[0], 1}, {pads[0], 0, pads[3], 0}, {dil[0], 1});
      if (!dpool)
        return noFit();
      y = reshaped(dpool, {xs[0], xs[1], shapeOf(dpool)[2], oh, ow});
    }
    if (!y)
      return noFit();
    if (wantIndices)
      values[n.output(1)] = nn::MaxPool2dIndicesOp::create(
          builder, loc, tensorType(shapeOf(y), builder.getI64Type()), *x,
          y.getDefiningOp<nn::MaxPool2dOp>().getKernelAttr(),
          y.getDefiningOp<nn::MaxPool2dOp>().getStridesAttr(),
          y.getDefiningOp<nn::MaxPool2dOp>().getPadsAttr(),
          builder.getBoolAttr(ceilMode),
          y.getDefiningOp<nn::MaxPool2dOp>().getDilationsAttr(), isUnsigned(*x),
          builder.getBoolAttr(attrInt(n, "storage_order", 0) != 0));
    return define(y);
  }
  if (op == "Pad") {
    FailureOr<Value> x = tensorOperand(n, 0);
    if (failed(x))
      return failure();
    std::string mode = attrString(n, "mode", "constant");
    if (mode != "constant" && mode != "edge" && mode != "reflect")
      return nodeError(n) << "mode '" << mode << "' is not supported",
             failure();
    const ConstTensor *pads = constOperand(n, 1);
    if (!pads || pads->isFloat)
      return nodeError(n) << "pads must be a compile-time integer constant",
             failure();
    if (n.input_size() > 3 && !n.input(3).empty())
      return nodeError(n) << "the axes input is not supported", failure();
    float value = 0.0f;
    if (n.input_size() > 2 && !n.input(2).empty()) {
      const ConstTensor *v = constOperand(n, 2);
      if (!v || v->numElements() != 1)
        return nodeError(n) << "a constant_value computed at run time is not "
                               "supported (constants only)",
               failure();
      value = v->isFloat ? v->f[0] : (float)v->i[0];
      if (!v->isFloat && (int64_t)value != v->i[0])
        return nodeError(n) << "integer constant_value " << v->i[0]
                            << " is not supported (|value| < 2^24 is)",
               failure();
    }
    auto xs = shapeOf(*x);
    size_t rank = xs.size();
    if (pads->i.size() != 2 * rank)
      return nodeError(n) << "pads must have 2 values per dimension", failure();
    if (llvm::all_of(pads->i, [](int64_t p) { return p == 0; }))
      return define(*x);
    if (rank != 4 || pads->i[0] || pads->i[1] || pads->i[4] || pads->i[5] ||
        llvm::any_of(pads->i, [](int64_t p) { return p < 0; }))
      return nodeError(n) << "only non-negative padding of the two spatial "
                             "dims of a 4-D tensor is supported; this padding "
                             "is not supported",
             failure();
    SmallVector<int64_t> p{pads->i[2], pads->i[3], pads->i[6], pads->i[7]};
    if (mode == "reflect" &&
        (p[0] >= xs[2] || p[2] >= xs[2] || p[1] >= xs[3] || p[3] >= xs[3]))
      return nodeError(n) << "reflect pads must be smaller than the input",
             failure();
    return define(nn::Pad2dOp::create(
        builder, loc,
        tensorType({xs[0], xs[1], xs[2] + p[0] + p[2], xs[3] + p[1] + p[3]},
                   elementTypeOf(*x)),
        *x, builder.getDenseI64ArrayAttr(p), builder.getF32FloatAttr(value),
        nn::PadModeAttr::get(&ctx, *nn::symbolizePadMode(mode))));
  }
  if (op == "LeakyRelu" || op == "Sigmoid" || op == "Tanh" ||
      op == "HardSigmoid" || op == "HardSwish" || op == "Clip") {
    FailureOr<Value> x = tensorOperand(n, 0);
    if (failed(x))
      return failure();
    float alpha = 0.0f, beta = 0.0f;
    nn::ActivationKind kind;
    if (op == "LeakyRelu") {
      kind = nn::ActivationKind::leaky_relu;
      alpha = attrFloat(n, "alpha", 0.01f);
    } else if (op == "Sigmoid") {
      kind = nn::ActivationKind::sigmoid;
    } else if (op == "Tanh") {
      kind = nn::ActivationKind::tanh;
    } else if (op == "HardSigmoid") {
      kind = nn::ActivationKind::hard_sigmoid;
      alpha = attrFloat(n, "alpha", 0.2f);
      beta = attrFloat(n, "beta", 0.5f);
    } else if (op == "HardSwish") {
      kind = nn::ActivationKind::hard_swish;
    } else {
      kind = nn::ActivationKind::clip;
      alpha = -std::numeric_limits<float>::infinity();
      beta = std::numeric_limits<float>::infinity();
      if (opset < 11) {
        alpha = attrFloat(n, "min", alpha);
        beta = attrFloat(n, "max", beta);
      } else {
        for (int i = 1; i < 3; ++i) {
          if (n.input_size() <= i || n.input(i).empty())
            continue;
          const ConstTensor *c = constOperand(n, i);
          if (!c || c->numElements() != 1)
            return nodeError(n) << "min/max computed at run time are not "
                                   "supported (constants only)",
                   failure();
          float bound = c->isFloat ? c->f[0] : (float)c->i[0];
          // Integer bounds travel as f32 attributes: they must be exact.
          if (!c->isFloat && (int64_t)bound != c->i[0])
            return nodeError(n) << "integer bound " << c->i[0]
                                << " is not supported (|bound| < 2^24 is)",
                   failure();
          (i == 1 ? alpha : beta) = bound;
        }
      }
    }
    return define(nn::ActivationOp::create(
        builder, loc, *x, nn::ActivationKindAttr::get(&ctx, kind),
        builder.getF32FloatAttr(alpha), builder.getF32FloatAttr(beta),
        isUnsigned(*x)));
  }
  if (op == "BatchNormalization" &&
      (attrInt(n, "training_mode", 0) != 0 || n.output_size() > 1)) {
    if (opset < 14)
      return nodeError(n) << "the opset " << opset
                          << " training form (saved mean/variance outputs) "
                             "is not supported",
             failure();
    return importBatchNormTraining(n);
  }
  if (op == "BatchNormalization") {
    if (opset < 9 && attrInt(n, "spatial", 1) != 1)
      return nodeError(n) << "spatial=0 is not supported", failure();
    SmallVector<Value> ins;
    for (int i = 0; i < 5; ++i) {
      FailureOr<Value> v = tensorOperand(n, i);
      if (failed(v))
        return failure();
      ins.push_back(*v);
    }
    auto xs = shapeOf(ins[0]);
    if (xs.size() < 2)
      return nodeError(n) << "the input needs a channel dimension", failure();
    for (int i = 1; i < 5; ++i) {
      auto s = shapeOf(ins[i]);
      if (s.size() != 1 || s[0] != xs[1])
        return nodeError(n) << "scale, bias, mean and var must have " << xs[1]
                            << " elements",
               failure();
    }
    return define(nn::BatchNormOp::create(
        builder, loc, ins[0].getType(), ins[0], ins[1], ins[2], ins[3], ins[4],
        builder.getF32FloatAttr(attrFloat(n, "epsilon", 1e-5f))));
  }
  if (op == "Transpose") {
    FailureOr<Value> x = tensorOperand(n, 0);
    if (failed(x))
      return failure();
    auto xs = shapeOf(*x);
    SmallVector<int64_t> rev;
    for (int64_t d = xs.size() - 1; d >= 0; --d)
      rev.push_back(d);
    auto perm = attrInts(n, "perm", rev);
    SmallVector<int64_t> ys;
    SmallVector<bool> seen(xs.size(), false);
    if (perm.size() != xs.size())
      return nodeError(n) << "perm is not a permutation of the dims", failure();
    for (int64_t p : perm) {
      if (p < 0 || p >= (int64_t)xs.size() || seen[p])
        return nodeError(n) << "perm is not a permutation of the dims",
               failure();
      seen[p] = true;
      ys.push_back(xs[p]);
    }
    return define(nn::TransposeOp::create(builder, loc,
                                          tensorType(ys, elementTypeOf(*x)), *x,
                                          builder.getDenseI64ArrayAttr(perm)));
  }
  if (op == "Squeeze" || op == "Unsqueeze") {
    FailureOr<Value> x = tensorOperand(n, 0);
    if (failed(x))
      return failure();
    SmallVector<int64_t> axes = attrInts(n, "axes", {});
    if (n.input_size() > 1 && !n.input(1).empty()) {
      const ConstTensor *ax = constOperand(n, 1);
      if (!ax || ax->isFloat)
        return nodeError(n) << "axes computed at run time are not supported",
               failure();
      axes.assign(ax->i.begin(), ax->i.end());
    }
    auto xs = shapeOf(*x);
    SmallVector<int64_t> ys;
    if (op == "Unsqueeze") {
      int64_t rank = xs.size() + axes.size();
      SmallVector<bool> inserted(rank, false);
      for (int64_t a : axes) {
        a = a < 0 ? a + rank : a;
        if (a < 0 || a >= rank || inserted[a])
          return nodeError(n) << "axes out of range", failure();
        inserted[a] = true;
      }
      size_t next = 0;
      for (int64_t d = 0; d < rank; ++d)
        ys.push_back(inserted[d] ? 1 : xs[next++]);
    } else {
      int64_t rank = xs.size();
      SmallVector<bool> drop(rank, axes.empty());
      for (int64_t a : axes) {
        a = a < 0 ? a + rank : a;
        if (a < 0 || a >= rank || xs[a] != 1)
          return nodeError(n) << "can only squeeze dims of extent 1", failure();
        drop[a] = true;
      }
      for (int64_t d = 0; d < rank; ++d)
        if (!(drop[d] && xs[d] == 1))
          ys.push_back(xs[d]);
    }
    return define(nn::ReshapeOp::create(builder, loc,
                                        tensorType(ys, elementTypeOf(*x)), *x));
  }
  if (op == "Concat") {
    SmallVector<Value> ins;
    for (int i = 0; i < n.input_size(); ++i) {
      FailureOr<Value> v = tensorOperand(n, i);
      if (failed(v))
        return failure();
      ins.push_back(*v);
    }
    if (ins.empty())
      return nodeError(n) << "needs at least one input", failure();
    auto ys = shapeOf(ins[0]);
    int64_t axis = attrInt(n, "axis", 0);
    if (axis < 0)
      axis += ys.size();
    if (axis < 0 || axis >= (int64_t)ys.size())
      return nodeError(n) << "axis out of range", failure();
    ys[axis] = 0;
    for (Value v : ins) {
      auto s = shapeOf(v);
      if (elementTypeOf(v) != elementTypeOf(ins[0]))
        return nodeError(n) << "inputs differ in element type", failure();
      if (s.size() != ys.size())
        return nodeError(n) << "inputs differ in rank", failure();
      for (size_t d = 0; d < s.size(); ++d)
        if ((int64_t)d != axis && s[d] != ys[d])
          return nodeError(n) << "inputs differ outside the axis", failure();
      ys[axis] += s[axis];
    }
    if (ins.size() == 1)
      return define(ins[0]);
    return define(nn::ConcatOp::create(builder, loc,
                                       tensorType(ys, elementTypeOf(ins[0])),
                                       ins, builder.getI64IntegerAttr(axis)));
  }
  if (op == "Softmax" || op == "LogSoftmax") {
    FailureOr<Value> x = tensorOperand(n, 0);
    if (failed(x))
      return failure();
    int64_t rank = shapeOf(*x).size();
    int64_t axis = attrInt(n, "axis", opset < 13 ? 1 : -1);
    if (axis < 0)
      axis += rank;
    if (axis < 0 || axis >= rank)
      return nodeError(n) << "axis out of range", failure();
    // Before opset 13 the input is flattened to 2-D at `axis`; that equals
    // the per-axis form only for the last axis.
    if (opset < 13 && axis != rank - 1)
      return nodeError(n) << "the opset " << opset
                          << " (flatten-to-2-D) form on a non-last axis is "
                             "not supported",
             failure();
    return define(
        nn::SoftmaxOp::create(builder, loc, *x, builder.getI64IntegerAttr(axis),
                              builder.getBoolAttr(op == "LogSoftmax")));
  }
  if (op == "Flatten" || op == "Reshape") {
    FailureOr<Value> x = tensorOperand(n, 0);
    if (failed(x))
      return failure();
    auto xs = shapeOf(*x);
    int64_t total = 1;
    for (int64_t d : xs)
      total *= d;
    SmallVector<int64_t> shape;
    if (op == "Flatten") {
      int64_t axis = attrInt(n, "axis", 1);
      if (axis < 0)
        axis += xs.size();
      if (axis < 0 || axis > (int64_t)xs.size())
        return nodeError(n) << "axis out of range", failure();
      int64_t outer = 1;
      for (int64_t d = 0; d < axis; ++d)
        outer *= xs[d];
      shape = {outer, total / outer};
    } else {
      const ConstTensor *s = constOperand(n, 1);
      if (!s || s->isFloat)
        return nodeError(n) << "the target shape must be a compile-time "
                               "constant",
               failure();
      bool allowZero = attrInt(n, "allowzero", 0);
      int64_t known = 1, inferAt = -1;
      for (size_t d = 0; d < s->i.size(); ++d) {
        int64_t v = s->i[d];
        if (v == 0 && !allowZero) {
          if (d >= xs.size())
            return nodeError(n) << "0 in shape refers to a missing dimension",
                   failure();
          v = xs[d];
        }
        if (v == -1) {
          if (inferAt >= 0)
            return nodeError(n) << "more than one -1 in the shape", failure();
          inferAt = d;
          shape.push_back(1);
          continue;
        }
        if (v < 0)
          return nodeError(n) << "negative dimension in the shape", failure();
        shape.push_back(v);
        if (!checkedElements(shape))
          return nodeError(n) << "the shape is too large", failure();
        known *= v;
      }
      if (inferAt >= 0) {
        if (known == 0 || total % known)
          return nodeError(n) << "cannot infer the -1 dimension", failure();
        shape[inferAt] = total / known;
        known = total;
      }
      if (known != total)
        return nodeError(n) << "the shape has " << known
                            << " elements but the input has " << total,
               failure();
    }
    return define(nn::ReshapeOp::create(
        builder, loc, tensorType(shape, elementTypeOf(*x)), *x));
  }
  return nodeError(n) << "unsupported operator '" << op << "'", failure();
}

OwningOpRef<ModuleOp> OnnxImporter::run() {
  onnx::ModelProto model;
  if (bytes.size() > (size_t)INT32_MAX ||
      !model.ParseFromArray(bytes.data(), (int)bytes.size()) ||
      !model.has_graph() || model.ir_version() <= 0 ||
      model.graph().node_size() == 0) {
    emitError(fileLoc()) << "'" << path
                         << "' is not an ONNX model (cannot parse a "
                            "ModelProto with a graph)";
    return nullptr;
  }
  int64_t opset = -1;
  for (const auto &o : model.opset_import())
    if (o.domain().empty() || o.domain() == "ai.onnx")
      opset = o.version();
  // Ops keep their meaning across most opsets; importNode refuses the
  // few whose older definitions differ from what we implement.
  if (opset < 1 || opset > 17) {
    emitError(fileLoc()) << "opset " << opset
                         << " is not supported (opsets 1 to 17 are; older "
                            "op versions are checked per node)";
    return nullptr;
  }
  this->opset = opset;
  const onnx::GraphProto &graph = model.graph();

  for (const auto &init : graph.initializer()) {
    ConstTensor c;
    if (failed(readTensor(init, c, nullptr)))
      return nullptr;
    c.onnxName = init.name();
    consts[init.name()] = std::move(c);
  }

  // Runtime inputs: the graph inputs that are not initializers.
  SmallVector<const onnx::ValueInfoProto *> inputs;
  for (const auto &in : graph.input())
    if (!consts.count(in.name()))
      inputs.push_back(&in);
  if (graph.output_size() == 0) {
    emitError(fileLoc()) << "models without an output are not supported";
    return nullptr;
  }
  SmallVector<Type> inTypes;
  SmallVector<ElementKind> inKinds;
  for (const onnx::ValueInfoProto *input : inputs) {
    const auto &tt = input->type().tensor_type();
    if (!input->type().has_tensor_type() || !tt.has_shape()) {
      emitError(fileLoc()) << "input '" << input->name()
                           << "' is not a tensor of known shape; optional, "
                              "sequence and unranked inputs are not supported";
      return nullptr;
    }
    std::optional<ElementKind> kind = elementKind(tt.elem_type());
    if (!kind) {
      emitError(fileLoc()) << "input '" << input->name() << "' has element "
                           << "type " << tt.elem_type()
                           << ", which is not supported (float32, bool and "
                              "8- to 64-bit integers are)";
      return nullptr;
    }
    inKinds.push_back(*kind);
    SmallVector<int64_t> inShape;
    for (int d = 0; d < tt.shape().dim_size(); ++d) {
      const auto &dim = tt.shape().dim(d);
      if (dim.has_dim_value() && dim.dim_value() == 0) {
        emitError(fileLoc()) << "input '" << input->name()
                             << "' has no elements; empty tensors are not "
                                "supported";
        return nullptr;
      }
      if (dim.has_dim_value() && dim.dim_value() > 0) {
        inShape.push_back(dim.dim_value());
      } else if (d == 0) {
        inShape.push_back(opts.batchSize); // symbolic batch
      } else {
        emitError(fileLoc())
            << "input '" << input->name() << "' has a dynamic dimension " << d
            << " ('" << dim.dim_param()
            << "'); only the batch dimension may be symbolic";
        return nullptr;
      }
    }
    if (!checkedElements(inShape)) {
      emitError(fileLoc()) << "input '" << input->name()
                           << "' is too large (over 2^28 elements)";
      return nullptr;
    }
    inTypes.push_back(tensorType(inShape, mlirElementType(*kind)));
  }

  module = ModuleOp::create(fileLoc());
  module->setAttr("mcutrain.source", builder.getStringAttr(path));
  builder.setInsertionPointToEnd(module.getBody());
  func = func::FuncOp::create(builder, fileLoc(), "forward",
                              builder.getFunctionType(inTypes, {}));
  entry = func.addEntryBlock();
  // MLIR's signless integers do not say whether uint8 or int8 was meant:
  // unsigned inputs and outputs are marked.
  for (auto [i, input] : llvm::enumerate(inputs)) {
    values[input->name()] = entry->getArgument(i);
    if (inKinds[i].isUnsigned) {
      func.setArgAttr(i, "mcutrain.unsigned", builder.getUnitAttr());
      unsignedValues.insert(entry->getArgument(i));
    }
  }
  builder.setInsertionPointToEnd(entry);

  for (const auto &node : graph.node()) {
    if (failed(importNode(node))) {
      module.erase();
      return nullptr;
    }
    // Results stay within the element limit, so that shape arithmetic on
    // them (products of dimensions) cannot overflow further on.
    for (const auto &out : node.output()) {
      auto v = values.find(out);
      if (v != values.end() &&
          !checkedElements(cast<ShapedType>(v->second.getType()).getShape())) {
        nodeError(node) << "the result is too large (over 2^28 elements)";
        module.erase();
        return nullptr;
      }
    }
    // Integer results of an op on unsigned data are unsigned (MaxPool's
    // int64 Indices are not: their type differs).
    auto first = node.input_size() ? values.find(node.input(0)) : values.end();
    if (first != values.end() && unsignedValues.contains(first->second))
      for (const auto &out : node.output()) {
        auto v = values.find(out);
        if (v != values.end() &&
            elementTypeOf(v->second) == elementTypeOf(first->second))
          unsignedValues.insert(v->second);
      }
    builder.setInsertionPointToEnd(entry);
  }
  // Tied aliases are names of their initializer too (--trainable matches
  // them; the report lists them).
  for (auto g : module.getOps<ml_program::GlobalOp>()) {
    auto tied =
        tiedAliases.find(g->getAttrOfType<StringAttr>("onnx.name").getValue());
    if (tied != tiedAliases.end())
      g->setAttr("onnx.tied_aliases",
                 builder.getStrArrayAttr(SmallVector<StringRef>(
                     tied->second.begin(), tied->second.end())));
  }
  SmallVector<Value> results;
  for (const auto &output : graph.output()) {
    auto out = values.find(output.name());
    if (out == values.end() && consts.count(output.name())) {
      // A constant output (a Constant node, a Dropout mask) is copied out.
      results.push_back(loadGlobal(consts[output.name()], output.name()));
      continue;
    }
    if (out == values.end()) {
      emitError(fileLoc()) << "graph output '" << output.name()
                           << "' is not computed by any node";
      module.erase();
      return nullptr;
    }
    results.push_back(out->second);
  }
  func::ReturnOp::create(builder, fileLoc(), results);
  func.setType(
      builder.getFunctionType(inTypes, ValueRange(results).getTypes()));
  for (auto [i, v] : llvm::enumerate(results)) {
    Type et = elementTypeOf(v);
    if (unsignedValues.contains(v) && et.isInteger() && !et.isInteger(1))
      func.setResultAttr(i, "mcutrain.unsigned", builder.getUnitAttr());
  }
  return OwningOpRef<ModuleOp>(module);
}

OwningOpRef<ModuleOp> mcutrain::importOnnxFile(MLIRContext &ctx, StringRef path,
                                               const ImportOptions &opts) {
  auto buf = llvm::MemoryBuffer::getFile(path);
  if (!buf) {
    emitError(FileLineColLoc::get(&ctx, path, 0, 0))
        << "cannot read '" << path << "': " << buf.getError().message();
    return nullptr;
  }
  return importOnnxBuffer(ctx, (*buf)->getBuffer(), path, opts);
}

OwningOpRef<ModuleOp> mcutrain::importOnnxBuffer(MLIRContext &ctx,
                                                 StringRef bytes,
                                                 StringRef name,
                                                 const ImportOptions &opts) {
  ctx.loadDialect<func::FuncDialect, ml_program::MLProgramDialect,
                  nn::NNDialect>();
  OnnxImporter importer(ctx, name, bytes, opts);
  OwningOpRef<ModuleOp> module = importer.run();
  // What the importer does not check itself the ops' verifiers do: a model
  // they reject is refused with their diagnostic (located at the ONNX node),
  // never handed on.
  if (module && failed(verify(*module)))
    return nullptr;
  return module;
}
