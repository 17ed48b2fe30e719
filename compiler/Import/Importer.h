//===- Importer.h - the ONNX importer's shared state and handlers -*- C++
//-*-===//
//
// One OnnxImporter imports one model. Its nodes are dispatched through a
// HandlerTable from (op type, first opset version a handler covers) to the
// handler, the way torch-mlir's ONNX importer registers onOp(name,
// sinceVersion, ...) around one binder object: here the importer is the
// binder. Handlers live in op-family files (Conv.cpp, Pooling.cpp,
// Elementwise.cpp, Normalization.cpp, DataMovement.cpp, Reduction.cpp,
// Resize.cpp, Recurrent.cpp, ShapeFolding.cpp);
// an op or op version the table does not cover is refused in one place
// (OnnxImporter::unsupported / refuseForm).
//
//===----------------------------------------------------------------------===//
#ifndef MCUTRAIN_COMPILER_IMPORT_IMPORTER_H
#define MCUTRAIN_COMPILER_IMPORT_IMPORTER_H

#include "compiler/Import.h"

#include "dialects/NN/NN.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/StringMap.h"

#include "onnx/onnx_pb.h"

#include <optional>

namespace mcutrain::importer {

using namespace mlir;

/// How an ONNX element type is represented: MLIR integers are signless (as
/// in arith), so uint8 is i8 with `unsigned` set.
struct ElementKind {
  int32_t onnx = 0;
  unsigned bits = 0; // 0: f32
  bool isUnsigned = false;
};
std::optional<ElementKind> elementKind(int32_t onnxType);

/// Element count of `shape`, or nothing if a dimension is negative or the
/// count exceeds 2^28 (far beyond any microcontroller model; the limit keeps
/// products of untrusted dimensions from overflowing).
std::optional<int64_t> checkedElements(ArrayRef<int64_t> shape);

/// Row-major strides of `shape`.
SmallVector<int64_t> stridesOf(ArrayRef<int64_t> shape);

/// Pads for auto_pad SAME_UPPER/SAME_LOWER (stride s, kernel k, input x).
void samePads(int64_t x, int64_t k, int64_t s, int64_t d, bool upper,
              int64_t &begin, int64_t &end);

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

// ONNX attributes.
const onnx::AttributeProto *findAttr(const onnx::NodeProto &n, StringRef name);
int64_t attrInt(const onnx::NodeProto &n, StringRef name, int64_t def);
float attrFloat(const onnx::NodeProto &n, StringRef name, float def);
SmallVector<int64_t> attrInts(const onnx::NodeProto &n, StringRef name,
                              ArrayRef<int64_t> def);
std::string attrString(const onnx::NodeProto &n, StringRef name, StringRef def);

SmallVector<int64_t> shapeOf(Value v);

/// Which element types a runtime op takes besides float32.
enum class ElementTypes {
  Float,    // float32 only
  Integers, // and 8- to 64-bit integers
  Any,      // and bool
};

class OnnxImporter;
/// A handler imports one node of its op, at an opset it covers.
using Handler = LogicalResult (*)(OnnxImporter &, const onnx::NodeProto &);

/// (op type, first opset version covered) -> handler.
class HandlerTable {
public:
  void on(StringRef op, int64_t sinceVersion, Handler handler);
  /// The handler of the latest version at or below `opset`, or null.
  Handler lookup(StringRef op, int64_t opset) const;

private:
  llvm::StringMap<SmallVector<std::pair<int64_t, Handler>, 2>> handlers;
};

void registerConvHandlers(HandlerTable &table);
void registerPoolingHandlers(HandlerTable &table);
void registerElementwiseHandlers(HandlerTable &table);
void registerNormalizationHandlers(HandlerTable &table);
void registerDataMovementHandlers(HandlerTable &table);
void registerShapeFoldingHandlers(HandlerTable &table);
void registerQuantizationHandlers(HandlerTable &table);
void registerReductionHandlers(HandlerTable &table);
void registerResizeHandlers(HandlerTable &table);
void registerRecurrentHandlers(HandlerTable &table);

class OnnxImporter;
/// The !quant.uniform type of a node's scale (input `scaleIdx`, or -1 for
/// scale 1) and zero point (input `zeroIdx`, optional) for a tensor of
/// `shape`: per tensor, or per axis along `axis`. Diagnoses non-constant or
/// invalid parameters.
FailureOr<Type> quantParamsType(OnnxImporter &I, const onnx::NodeProto &n,
                                int scaleIdx, int zeroIdx,
                                ArrayRef<int64_t> shape, int32_t intType,
                                int64_t axis);

/// The state of one model's import, which handlers read and extend.
class OnnxImporter {
public:
  /// `path` names the model in diagnostics; `bytes` is its content.
  OnnxImporter(MLIRContext &ctx, StringRef path, StringRef bytes,
               const ImportOptions &opts)
      : ctx(ctx), path(path), bytes(bytes), opts(opts), builder(&ctx) {}

  OwningOpRef<ModuleOp> run();

  MLIRContext &ctx;
  std::string path;
  StringRef bytes;
  ImportOptions opts;
  OpBuilder builder;
  int64_t opset = 17;

  // Diagnostics.
  Location fileLoc() { return FileLineColLoc::get(&ctx, path, 0, 0); }
  /// The node's location: its name, made unique (ONNX names are optional
  /// and need not be unique, but the backward passes find a layer's
  /// gradient ops by location): an unnamed node is "<op>(<first output>)",
  /// a repeated name gets "#2", "#3", ...
  Location nodeLoc(const onnx::NodeProto &n);
  InFlightDiagnostic nodeError(const onnx::NodeProto &n);
  llvm::DenseMap<const onnx::NodeProto *, std::string> nodeNames;
  llvm::StringMap<int> nodeNameUses;
  /// The node names its first `count` inputs (no empty names).
  LogicalResult needInputs(const onnx::NodeProto &n, int count);
  /// Integer and boolean inputs only where `allowed` says (every input of a
  /// runtime op is checked before it is imported).
  LogicalResult checkElementTypes(const onnx::NodeProto &n,
                                  ElementTypes allowed);
  /// An op the table does not cover: its inputs' types are checked as for
  /// a float-only op, then it is refused.
  LogicalResult unsupported(const onnx::NodeProto &n);
  /// An old op version whose meaning differs from what mcutrain implements:
  /// "the opset N form (<what>) is not supported".
  LogicalResult refuseForm(const onnx::NodeProto &n, StringRef what);

  // Values: runtime tensors and compile-time constants by ONNX name.
  llvm::StringMap<Value> values;
  llvm::StringMap<ConstTensor> consts;
  LogicalResult define(const onnx::NodeProto &n, Value v) {
    values[n.output(0)] = v;
    return success();
  }
  LogicalResult defineConst(const onnx::NodeProto &n, ConstTensor c) {
    consts[n.output(0)] = std::move(c);
    return success();
  }
  /// Every named input is a compile-time constant (and there is one).
  bool allConst(const onnx::NodeProto &n);
  /// Input `idx` as a runtime value (a constant becomes a loaded global).
  FailureOr<Value> tensorOperand(const onnx::NodeProto &n, int idx);
  /// Input `idx` if it is a compile-time constant, else null.
  const ConstTensor *constOperand(const onnx::NodeProto &n, int idx);
  /// Input `idx` as compile-time integers, or failure diagnosed: "<what>
  /// must be a compile-time integer constant".
  FailureOr<const ConstTensor *> integerOperand(const onnx::NodeProto &n,
                                                int idx, StringRef what);
  LogicalResult readTensor(const onnx::TensorProto &t, ConstTensor &out,
                           const onnx::NodeProto *node);
  /// Identity, inference Dropout and a Cast to the input's own type.
  LogicalResult forwardInput(const onnx::NodeProto &n);
  Value loadGlobal(const ConstTensor &c, StringRef valueName);

  // Types.
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

private:
  LogicalResult importNode(const onnx::NodeProto &n);
  LogicalResult readInitializers(const onnx::GraphProto &graph);
  FailureOr<SmallVector<Type>> inputTypes(const onnx::GraphProto &graph);
  LogicalResult importNodes(const onnx::GraphProto &graph);
  LogicalResult finishForward(const onnx::GraphProto &graph,
                              ArrayRef<Type> inTypes);
  std::string uniqueSymbol(StringRef onnxName);

  ModuleOp module;
  func::FuncOp func;
  Block *entry = nullptr;
  Operation *lastLoad = nullptr;
  HandlerTable table;
  SmallVector<const onnx::ValueInfoProto *> inputs;
  SmallVector<bool> inputUnsigned; // per entry of `inputs`
  llvm::StringMap<Value> loadedGlobals;
  llvm::StringMap<int> usedSymbols;
  // --tie-shared-initializers: initializer name -> the aliases tied to it.
  llvm::StringMap<SmallVector<std::string>> tiedAliases;
};

// Compile-time folding (ShapeFolding.cpp), for the handlers of ops that
// fold when their inputs are constants.
/// Integer Add/Sub/Mul/Div/Equal, Where, Reshape, Slice or Transpose on
/// constants.
FailureOr<ConstTensor> foldIntegerNode(OnnxImporter &I,
                                       const onnx::NodeProto &n);
/// Integer shape arithmetic (F.pad's pads, view sizes) folded and defined
/// as the node's constant result: it never reaches the runtime.
LogicalResult defineFoldedInteger(OnnxImporter &I, const onnx::NodeProto &n);
/// Gather, Unsqueeze, Squeeze, Concat or Cast of constants (float ones
/// only for Cast).
LogicalResult foldConstantNode(OnnxImporter &I, const onnx::NodeProto &n);
/// Where a Slice (either form) reads a tensor of `shape`: per dim the first
/// index, the step (negative: backwards) and the extent (0: empty).
struct SliceBounds {
  SmallVector<int64_t> first, step, shape;
};
FailureOr<SliceBounds> sliceBounds(OnnxImporter &I, const onnx::NodeProto &n,
                                   ArrayRef<int64_t> shape);
/// All inputs constant and the first an integer tensor.
bool isIntegerConst(OnnxImporter &I, const onnx::NodeProto &n);

} // namespace mcutrain::importer

#endif
