//===- NN.h - the nn dialect ----------------------------------*- C++ -*-===//
#ifndef MCUTRAIN_DIALECTS_NN_NN_H
#define MCUTRAIN_DIALECTS_NN_NN_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/Dialect/Quant/IR/Quant.h"
#include "mlir/Dialect/Quant/IR/QuantTypes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include <cmath>
#include <optional>

namespace mcutrain::nn {
/// i32 words of a packed mask holding `fields` fields of `bits` bits each
/// (32 / bits to a word): one bit per element for nn.pack_mask, a window
/// position per field for nn.max_pool2d_mask.
inline int64_t maskWords(int64_t fields, int64_t bits = 1) {
  int64_t perWord = 32 / bits;
  return (fields + perWord - 1) / perWord;
}
} // namespace mcutrain::nn

#include "dialects/NN/NNEnums.h.inc"
#include "dialects/NN/NNInterfaces.h.inc"
#include "dialects/NN/NNOpsDialect.h.inc"

#define GET_ATTRDEF_CLASSES
#include "dialects/NN/NNAttrs.h.inc"

#define GET_OP_CLASSES
#include "dialects/NN/NNOps.h.inc"

namespace mcutrain::nn {

/// One value quantized as the generated code quantizes it (nn.quantize's
/// lowering): x * f32(1/scale), rounded to nearest with ties to even, plus
/// the zero point, saturated to [lo, hi] by ordered compares (NaN goes to
/// lo). Compile-time folds use it so that they match run time bit for bit.
inline float quantizeScalar(float x, float scale, float zero, float lo,
                            float hi) {
  float q = std::nearbyint(x * (1.0f / scale)) + zero;
  q = q > lo ? q : lo;
  return q < hi ? q : hi;
}
/// Scale and zero point of element `index` (row-major) of a tensor of
/// `shape` quantized with `quantType` (a per-tensor or per-axis
/// !quant.uniform).
std::pair<float, float> quantParamsAt(mlir::Type quantType,
                                      llvm::ArrayRef<int64_t> shape,
                                      int64_t index);
/// Float `data` quantized element by element with quantizeScalar: a dense
/// tensor of `quantType`'s storage type.
mlir::DenseElementsAttr quantizeElements(mlir::DenseElementsAttr data,
                                         mlir::Type quantType);
/// Output extent of a sliding window (convolution or pooling, floor mode).
int64_t slidingOutputSize(int64_t in, int64_t kernel, int64_t stride,
                          int64_t padBegin, int64_t padEnd,
                          int64_t dilation = 1);
/// Output extent of pooling with ONNX's ceil_mode and dilations.
int64_t poolOutputSize(int64_t in, int64_t kernel, int64_t stride,
                       int64_t padBegin, int64_t padEnd, int64_t dilation,
                       bool ceilMode);
/// Numpy-style broadcast of two static shapes; failure if incompatible.
mlir::FailureOr<llvm::SmallVector<int64_t>>
broadcastShapes(llvm::ArrayRef<int64_t> a, llvm::ArrayRef<int64_t> b);

// Result shapes, shared by the ops' builders and verifiers (the importer
// checks an op's operands with them, then builds it without a type).
/// nn.conv2d of an NCHW input and an FCHW weight; nothing if the kernel does
/// not fit the padded input.
std::optional<llvm::SmallVector<int64_t, 4>>
conv2dShape(llvm::ArrayRef<int64_t> input, llvm::ArrayRef<int64_t> weight,
            llvm::ArrayRef<int64_t> strides, llvm::ArrayRef<int64_t> pads,
            llvm::ArrayRef<int64_t> dilations);
/// 2-D pooling of an NCHW input; nothing if the window does not fit.
std::optional<llvm::SmallVector<int64_t, 4>>
pool2dShape(llvm::ArrayRef<int64_t> input, llvm::ArrayRef<int64_t> kernel,
            llvm::ArrayRef<int64_t> strides, llvm::ArrayRef<int64_t> pads,
            llvm::ArrayRef<int64_t> dilations, bool ceilMode);
/// Batched matrix product with broadcast batch dims; nothing if the inner
/// dimensions differ or the batch dims do not broadcast.
std::optional<llvm::SmallVector<int64_t>>
matMulShape(llvm::ArrayRef<int64_t> a, llvm::ArrayRef<int64_t> b);
/// The broadcast result type of an elementwise binary op (the lhs's type if
/// the shapes do not broadcast, for the verifier to report).
mlir::Type binaryResultType(mlir::Value lhs, mlir::Value rhs);
} // namespace mcutrain::nn

#endif
