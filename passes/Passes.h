//===- Passes.h - mcutrain passes -----------------------------*- C++ -*-===//
#ifndef MCUTRAIN_PASSES_PASSES_H
#define MCUTRAIN_PASSES_PASSES_H

#include "dialects/NN/NN.h"
#include "dialects/Train/Train.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/EmitC/IR/EmitC.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Pass/Pass.h"

namespace mcutrain {

#define GEN_PASS_DECL
#include "passes/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "passes/Passes.h.inc"

/// A tensor element type as report.json names it: float32, int8, int16,
/// int32, int64, bool (integers are signless in the IR; an int8 tensor of
/// a uint8 quantization is int8 storage too).
inline std::string dtypeName(mlir::Type t) {
  if (t.isF32())
    return "float32";
  if (t.isInteger(1))
    return "bool";
  if (t.isInteger())
    return "int" + std::to_string(t.getIntOrFloatBitWidth());
  return "other";
}

/// Bytes of a tensor of `t` (sub-byte elements take a byte each).
inline int64_t storageBytes(mlir::ShapedType t) {
  return t.getNumElements() *
         std::max<int64_t>(1, (t.getElementTypeBitWidth() + 7) / 8);
}

/// The ONNX node an op came from: the importer's NameLoc, possibly inside a
/// fused location (derive-backward's tag); "" if there is none.
inline std::string onnxNodeName(mlir::Location loc) {
  if (auto n = llvm::dyn_cast<mlir::NameLoc>(loc))
    return n.getName().str();
  if (auto f = llvm::dyn_cast<mlir::FusedLoc>(loc))
    for (mlir::Location l : f.getLocations())
      if (auto n = llvm::dyn_cast<mlir::NameLoc>(l))
        return n.getName().str();
  return "";
}

/// Whether `op`'s operand `v` is read by its lowering: nn.activation_grad
/// reads either its input or its output, not both.
inline bool readsValue(mlir::Operation *op, mlir::Value v) {
  auto act = llvm::dyn_cast<nn::ActivationGradOp>(op);
  return !act || act.getOutputGrad() == v || act.getReadTensor() == v;
}

/// A depthwise kernel whose input is a spread (padded or zero-inserted)
/// copy of another tensor also names the variant that spreads a plane at a
/// time into scratch (kKernelPlanesAttr, a train::KernelAttr), and which of
/// the generic's operands is the spread copy: use-kernels calls that
/// variant on the copy's source when nothing else reads the copy.
inline constexpr llvm::StringLiteral kKernelPlanesAttr =
    "mcutrain.kernel_planes";
inline constexpr llvm::StringLiteral kKernelSpreadOperandAttr =
    "mcutrain.kernel_spread_operand";

/// A convolution with a bias also names the kernels that start from the
/// bias and end with an activation (train::KernelAttr with Act = none:
/// use-kernels sets it), for the whole input and for a spread input a plane
/// at a time; lower-to-linalg marks the activations they can take
/// (train::FusedActivationAttr: relu, clip) with their bounds.
inline constexpr llvm::StringLiteral kKernelBiasActAttr =
    "mcutrain.kernel_bias_act";
inline constexpr llvm::StringLiteral kKernelPlanesBiasActAttr =
    "mcutrain.kernel_planes_bias_act";
inline constexpr llvm::StringLiteral kActivationAttr = "mcutrain.activation";
/// Likewise an input gradient's kernels that end with the gradient of the
/// activation the layer's input came from (from the activation's output),
/// and the marks of those gradients (relu, clip; bounds as above).
inline constexpr llvm::StringLiteral kKernelGradActAttr =
    "mcutrain.kernel_grad_act";
inline constexpr llvm::StringLiteral kKernelPlanesGradActAttr =
    "mcutrain.kernel_planes_grad_act";
inline constexpr llvm::StringLiteral kActivationGradAttr =
    "mcutrain.activation_grad";
inline constexpr llvm::StringLiteral kActivationBoundsAttr =
    "mcutrain.activation_bounds";

/// On the scratch buffer of a fused conv -> depthwise -> pointwise chain
/// (fuse-conv-chains): a dictionary of the three layers' ONNX nodes
/// (`layers`) and the bytes of the tensors it stands for
/// (`intermediate_bytes`); plan-memory reports it.
inline constexpr llvm::StringLiteral kConvChainAttr = "mcutrain.conv_chain";

/// The ONNX initializer whose data a parameter global starts from: the one
/// an untied alias names (onnx.alias_of), else its own (onnx.name).
inline mlir::StringAttr initializerOf(mlir::Operation *global) {
  if (auto of = global->getAttrOfType<mlir::StringAttr>("onnx.alias_of"))
    return of;
  return global->getAttrOfType<mlir::StringAttr>("onnx.name");
}

/// On the module: how many elementwise generics in-place-elementwise wrote
/// over their input (report.json).
constexpr llvm::StringLiteral kInPlaceOpsAttr = "mcutrain.in_place_ops";

/// On the module: how many depthwise kernel calls in-place-depthwise made
/// write over their input (report.json).
constexpr llvm::StringLiteral kInPlaceDepthwiseAttr =
    "mcutrain.in_place_depthwise";

/// On an emitc.call_opaque from a runtime call: the planned buffers' pointer
/// names, one per argument (lower-to-emitc -> name-arena-pointers).
constexpr llvm::StringLiteral kArenaNamesAttr = "mcutrain.arena_names";

/// Whether `loc` is a FusedLoc whose metadata is the string `tag`.
inline bool hasLocTag(mlir::Location loc, llvm::StringRef tag) {
  auto f = llvm::dyn_cast<mlir::FusedLoc>(loc);
  auto metadata =
      f ? llvm::dyn_cast_or_null<mlir::StringAttr>(f.getMetadata()) : nullptr;
  return metadata && metadata.getValue() == tag;
}

/// derive-backward tags the locations of the ops it builds (fused with the
/// forward op's location); lowering keeps locations, so the tag survives to
/// the planner and guard-backward.
inline bool isBackwardLoc(mlir::Location loc) {
  return hasLocTag(loc, "mcutrain.backward") ||
         hasLocTag(loc, "mcutrain.recomputed");
}

/// On an op recompute cloned into the backward pass (and the tag of its
/// location); on the function, the list of what it recomputed.
constexpr llvm::StringLiteral kRecomputedAttr = "mcutrain.recomputed";

/// A forward tensor recompute made again in the backward pass.
inline bool isRecomputedLoc(mlir::Location loc) {
  return hasLocTag(loc, kRecomputedAttr);
}

/// pack-masks tags the locations of the masks it packs (fused with the
/// masked tensor's): the planner calls their buffers "mask".
inline bool isMaskLoc(mlir::Location loc) {
  return hasLocTag(loc, "mcutrain.mask");
}

} // namespace mcutrain

#endif
