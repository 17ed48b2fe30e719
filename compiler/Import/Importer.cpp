//===- Importer.cpp - ONNX ModelProto → func @forward on nn ops -----------===//
//
// Values are either runtime tensors (MLIR values) or compile-time constants
// (initializers, Constant nodes, and the Shape/Gather/Concat chains that
// torch.onnx.export emits for view/flatten, folded here). Weights become
// ml_program.global symbols loaded at the top of @forward. Each node goes
// to the handler the table has for its op and opset (Importer.h).
//
//===----------------------------------------------------------------------===//
#include "compiler/Import/Importer.h"

#include "mlir/Dialect/MLProgram/IR/MLProgram.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/MemoryBuffer.h"

using namespace mlir;
using namespace mcutrain;
using namespace mcutrain::importer;

std::optional<ElementKind> mcutrain::importer::elementKind(int32_t onnxType) {
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
  case onnx::TensorProto::UINT32:
    return ElementKind{onnxType, 32, true};
  case onnx::TensorProto::INT64:
    return ElementKind{onnxType, 64, false};
  case onnx::TensorProto::UINT64:
    return ElementKind{onnxType, 64, true};
  default:
    return std::nullopt;
  }
}

/// Element count of `shape`, or nothing if a dimension is negative or the
/// count exceeds 2^28 (far beyond any microcontroller model; the limit keeps
/// products of untrusted dimensions from overflowing).
std::optional<int64_t>
mcutrain::importer::checkedElements(ArrayRef<int64_t> shape) {
  constexpr int64_t kMaxElements = int64_t(1) << 28;
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0 || (d > 0 && n > kMaxElements / d))
      return std::nullopt;
    n *= d;
  }
  return n;
}

// ONNX attributes -----------------------------------------------------------

const onnx::AttributeProto *
mcutrain::importer::findAttr(const onnx::NodeProto &n, StringRef name) {
  for (const auto &a : n.attribute())
    if (a.name() == name)
      return &a;
  return nullptr;
}
int64_t mcutrain::importer::attrInt(const onnx::NodeProto &n, StringRef name,
                                    int64_t def) {
  const auto *a = findAttr(n, name);
  return a ? a->i() : def;
}
float mcutrain::importer::attrFloat(const onnx::NodeProto &n, StringRef name,
                                    float def) {
  const auto *a = findAttr(n, name);
  return a ? a->f() : def;
}
SmallVector<int64_t> mcutrain::importer::attrInts(const onnx::NodeProto &n,
                                                  StringRef name,
                                                  ArrayRef<int64_t> def) {
  const auto *a = findAttr(n, name);
  if (!a)
    return SmallVector<int64_t>(def);
  return SmallVector<int64_t>(a->ints().begin(), a->ints().end());
}
std::string mcutrain::importer::attrString(const onnx::NodeProto &n,
                                           StringRef name, StringRef def) {
  const auto *a = findAttr(n, name);
  return a ? a->s() : def.str();
}

SmallVector<int64_t> mcutrain::importer::shapeOf(Value v) {
  return SmallVector<int64_t>(cast<ShapedType>(v.getType()).getShape());
}

/// Pads for auto_pad SAME_UPPER/SAME_LOWER (stride s, kernel k, input x).
void mcutrain::importer::samePads(int64_t x, int64_t k, int64_t s, int64_t d,
                                  bool upper, int64_t &begin, int64_t &end) {
  int64_t out = (x + s - 1) / s;
  int64_t total = std::max<int64_t>(0, (out - 1) * s + d * (k - 1) + 1 - x);
  begin = upper ? total / 2 : total - total / 2;
  end = total - begin;
}

/// Row-major strides of `shape`.
SmallVector<int64_t> mcutrain::importer::stridesOf(ArrayRef<int64_t> shape) {
  SmallVector<int64_t> s(shape.size(), 1);
  for (int64_t d = (int64_t)shape.size() - 2; d >= 0; --d)
    s[d] = s[d + 1] * shape[d + 1];
  return s;
}

// Values --------------------------------------------------------------------

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
  } else if (kind->isUnsigned && kind->bits >= 32) {
    // uint32 and uint64 live in uint64_data (uint64 kept as its bits).
    out.i.assign(t.uint64_data().begin(), t.uint64_data().end());
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

FailureOr<const ConstTensor *>
OnnxImporter::integerOperand(const onnx::NodeProto &n, int idx,
                             StringRef what) {
  const ConstTensor *c = constOperand(n, idx);
  if (!c || c->isFloat)
    return nodeError(n) << what << " must be a compile-time integer constant",
           failure();
  return c;
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
} // Diagnostics and dispatch -------------------------------------------------

Location OnnxImporter::nodeLoc(const onnx::NodeProto &n) {
  auto [it, fresh] = nodeNames.try_emplace(&n);
  if (fresh) {
    std::string name = n.name();
    if (name.empty())
      name = n.op_type() + "(" + (n.output_size() ? n.output(0) : "") + ")";
    int uses = ++nodeNameUses[name];
    it->second = uses == 1 ? name : name + "#" + std::to_string(uses);
  }
  return NameLoc::get(StringAttr::get(&ctx, it->second), fileLoc());
}

InFlightDiagnostic OnnxImporter::nodeError(const onnx::NodeProto &n) {
  auto d = emitError(nodeLoc(n));
  if (n.name().empty())
    d << "ONNX node without a name (op " << n.op_type() << ", output '"
      << (n.output_size() ? n.output(0) : "") << "'): ";
  else
    d << "ONNX node '" << n.name() << "' (op " << n.op_type() << "): ";
  return d;
}

LogicalResult OnnxImporter::needInputs(const onnx::NodeProto &n, int count) {
  for (int i = 0; i < count; ++i)
    if (i >= n.input_size() || n.input(i).empty())
      return nodeError(n) << "needs " << count << " input"
                          << (count == 1 ? "" : "s"),
             failure();
  return success();
}

bool OnnxImporter::allConst(const onnx::NodeProto &n) {
  for (const auto &in : n.input())
    if (!in.empty() && !consts.count(in))
      return false;
  return n.input_size() > 0;
}

LogicalResult OnnxImporter::checkElementTypes(const onnx::NodeProto &n,
                                              ElementTypes allowed) {
  for (const auto &in : n.input()) {
    auto v = values.find(in);
    Type et;
    if (v != values.end())
      et = elementTypeOf(v->second);
    else if (consts.count(in) && !consts[in].isFloat && in == n.input(0))
      et = mlirElementType(*elementKind(consts[in].dtype));
    if (!et || et.isF32())
      continue;
    if (allowed == ElementTypes::Float ||
        (et.isInteger(1) && allowed != ElementTypes::Any))
      return nodeError(n) << "input '" << in << "' has element type " << et
                          << ", which is not supported by " << n.op_type()
                          << " (float32 only)",
             failure();
  }
  return success();
}

LogicalResult OnnxImporter::unsupported(const onnx::NodeProto &n) {
  if (failed(checkElementTypes(n, ElementTypes::Float)))
    return failure();
  return nodeError(n) << "unsupported operator '" << n.op_type() << "'",
         failure();
}

LogicalResult OnnxImporter::refuseForm(const onnx::NodeProto &n,
                                       StringRef what) {
  return nodeError(n) << "the opset " << opset << " form (" << what
                      << ") is not supported",
         failure();
}

void HandlerTable::on(StringRef op, int64_t sinceVersion, Handler handler) {
  auto &versions = handlers[op];
  versions.push_back({sinceVersion, handler});
  llvm::sort(versions, [](auto &a, auto &b) { return a.first < b.first; });
}

Handler HandlerTable::lookup(StringRef op, int64_t opset) const {
  auto it = handlers.find(op);
  if (it == handlers.end())
    return nullptr;
  Handler found = nullptr;
  for (auto [since, handler] : it->second)
    if (since <= opset)
      found = handler;
  return found;
}

LogicalResult OnnxImporter::importNode(const onnx::NodeProto &n) {
  if (!n.domain().empty() && n.domain() != "ai.onnx")
    return nodeError(n) << "operator domain '" << n.domain()
                        << "' is not supported",
           failure();
  if (llvm::all_of(n.output(), [](const std::string &o) { return o.empty(); }))
    return nodeError(n) << "has no output", failure();
  // Every op but Constant reads at least one input.
  if (n.op_type() != "Constant" && failed(needInputs(n, 1)))
    return failure();
  if (Handler handler = table.lookup(n.op_type(), opset))
    return handler(*this, n);
  return unsupported(n);
}

// The graph ------------------------------------------------------------------

LogicalResult OnnxImporter::readInitializers(const onnx::GraphProto &graph) {
  for (const auto &init : graph.initializer()) {
    ConstTensor c;
    if (failed(readTensor(init, c, nullptr)))
      return failure();
    c.onnxName = init.name();
    consts[init.name()] = std::move(c);
  }
  return success();
}

/// The runtime inputs (graph inputs that are not initializers) and their
/// types; a symbolic batch dimension takes the option's size.
FailureOr<SmallVector<Type>>
OnnxImporter::inputTypes(const onnx::GraphProto &graph) {
  for (const auto &in : graph.input())
    if (!consts.count(in.name()))
      inputs.push_back(&in);
  if (graph.output_size() == 0)
    return emitError(fileLoc()) << "models without an output are not supported",
           failure();
  SmallVector<Type> types;
  for (const onnx::ValueInfoProto *input : inputs) {
    const auto &tt = input->type().tensor_type();
    if (!input->type().has_tensor_type() || !tt.has_shape())
      return emitError(fileLoc())
                 << "input '" << input->name()
                 << "' is not a tensor of known shape; optional, sequence "
                    "and unranked inputs are not supported",
             failure();
    std::optional<ElementKind> kind = elementKind(tt.elem_type());
    if (!kind)
      return emitError(fileLoc())
                 << "input '" << input->name() << "' has element type "
                 << tt.elem_type()
                 << ", which is not supported (float32, bool and 8- to "
                    "64-bit integers are)",
             failure();
    SmallVector<int64_t> inShape;
    for (int d = 0; d < tt.shape().dim_size(); ++d) {
      const auto &dim = tt.shape().dim(d);
      if (dim.has_dim_value() && dim.dim_value() == 0)
        return emitError(fileLoc())
                   << "input '" << input->name()
                   << "' has no elements; empty tensors are not supported",
               failure();
      if (dim.has_dim_value() && dim.dim_value() > 0)
        inShape.push_back(dim.dim_value());
      else if (d == 0)
        inShape.push_back(opts.batchSize); // symbolic batch
      else
        return emitError(fileLoc())
                   << "input '" << input->name() << "' has a dynamic dimension "
                   << d << " ('" << dim.dim_param()
                   << "'); only the batch dimension may be symbolic",
               failure();
    }
    if (!checkedElements(inShape))
      return emitError(fileLoc()) << "input '" << input->name()
                                  << "' is too large (over 2^28 elements)",
             failure();
    types.push_back(tensorType(inShape, mlirElementType(*kind)));
    inputUnsigned.push_back(kind->isUnsigned);
  }
  return types;
}

LogicalResult OnnxImporter::importNodes(const onnx::GraphProto &graph) {
  for (const auto &node : graph.node()) {
    if (failed(importNode(node)))
      return failure();
    // Results stay within the element limit, so that shape arithmetic on
    // them (products of dimensions) cannot overflow further on.
    for (const auto &out : node.output()) {
      auto v = values.find(out);
      if (v != values.end() &&
          !checkedElements(cast<ShapedType>(v->second.getType()).getShape()))
        return nodeError(node)
                   << "the result is too large (over 2^28 elements)",
               failure();
    }
    // Integer results of an op on unsigned data are unsigned (MaxPool's
    // int64 Indices are not: their type differs), except where the op says
    // (a QLinearConv's output type is its y_zero_point's; Cast's is `to`).
    static const llvm::StringSet<> signednessFromOp = {
        "QLinearConv", "QLinearMatMul", "QuantizeLinear", "Cast"};
    auto first = node.input_size() && !signednessFromOp.contains(node.op_type())
                     ? values.find(node.input(0))
                     : values.end();
    if (first != values.end() && unsignedValues.contains(first->second))
      for (const auto &out : node.output()) {
        auto v = values.find(out);
        if (v != values.end() &&
            elementTypeOf(v->second) == elementTypeOf(first->second))
          unsignedValues.insert(v->second);
      }
    builder.setInsertionPointToEnd(entry);
  }
  return success();
}

/// The tied aliases' names on their globals, then @forward's results.
LogicalResult OnnxImporter::finishForward(const onnx::GraphProto &graph,
                                          ArrayRef<Type> inTypes) {
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
    if (out == values.end())
      return emitError(fileLoc()) << "graph output '" << output.name()
                                  << "' is not computed by any node",
             failure();
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
  return success();
}

OwningOpRef<ModuleOp> OnnxImporter::run() {
  onnx::ModelProto model;
  if (bytes.size() > (size_t)INT32_MAX ||
      !model.ParseFromArray(bytes.data(), (int)bytes.size()) ||
      !model.has_graph() || model.ir_version() <= 0) {
    emitError(fileLoc()) << "'" << path
                         << "' is not an ONNX model (cannot parse a "
                            "ModelProto with a graph)";
    return nullptr;
  }
  if (model.graph().node_size() == 0) {
    emitError(fileLoc()) << "'" << path
                         << "' has no nodes: its output is its input, "
                            "there is nothing to compute or train";
    return nullptr;
  }
  int64_t version = -1;
  for (const auto &o : model.opset_import())
    if (o.domain().empty() || o.domain() == "ai.onnx")
      version = o.version();
  // Ops keep their meaning across most opsets; the handler table refuses
  // the few older definitions that differ from what we implement.
  if (version < 1 || version > 17) {
    emitError(fileLoc()) << "opset " << version
                         << " is not supported (opsets 1 to 17 are; older "
                            "op versions are checked per node)";
    return nullptr;
  }
  opset = version;
  registerConvHandlers(table);
  registerPoolingHandlers(table);
  registerElementwiseHandlers(table);
  registerNormalizationHandlers(table);
  registerDataMovementHandlers(table);
  registerShapeFoldingHandlers(table);
  registerQuantizationHandlers(table);
  registerReductionHandlers(table);
  registerResizeHandlers(table);
  registerRecurrentHandlers(table);
  const onnx::GraphProto &graph = model.graph();
  if (failed(readInitializers(graph)))
    return nullptr;
  FailureOr<SmallVector<Type>> inTypes = inputTypes(graph);
  if (failed(inTypes))
    return nullptr;

  module = ModuleOp::create(fileLoc());
  module->setAttr("mcutrain.source", builder.getStringAttr(path));
  builder.setInsertionPointToEnd(module.getBody());
  func = func::FuncOp::create(builder, fileLoc(), "forward",
                              builder.getFunctionType(*inTypes, {}));
  entry = func.addEntryBlock();
  // MLIR's signless integers do not say whether uint8 or int8 was meant:
  // unsigned inputs and outputs are marked.
  for (auto [i, input] : llvm::enumerate(inputs)) {
    values[input->name()] = entry->getArgument(i);
    if (inputUnsigned[i]) {
      func.setArgAttr(i, "mcutrain.unsigned", builder.getUnitAttr());
      unsignedValues.insert(entry->getArgument(i));
    }
  }
  builder.setInsertionPointToEnd(entry);
  if (failed(importNodes(graph)) || failed(finishForward(graph, *inTypes))) {
    module.erase();
    return nullptr;
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
