//===- Patterns.h - lowering of the train dialect's buffer ops -*- C++ -*-===//
//
// lower-train-buffers expands each train.buffer.* op (what a train op
// bufferizes into) with a pattern: the optimizer step (Update.cpp), the
// sparse convolution gradients' loops (SparseConv.cpp), and the run-time
// selections and checks as runtime calls (Selection.cpp).
//
//===----------------------------------------------------------------------===//
#ifndef MCUTRAIN_PASSES_LOWERTRAINBUFFERS_PATTERNS_H
#define MCUTRAIN_PASSES_LOWERTRAINBUFFERS_PATTERNS_H

#include "passes/Passes.h"

#include "mlir/Dialect/Quant/IR/QuantTypes.h"
#include "mlir/Transforms/DialectConversion.h"

namespace mcutrain::trainbuffers {

/// `memref.get_global @name` if `from` sees a global of that name, else null.
mlir::Value getGlobalMemRef(mlir::OpBuilder &b, mlir::Operation *from,
                            llvm::StringRef name, mlir::Location loc);

/// A private constant f32 vector global named `name` (created once).
mlir::Value constantVector(mlir::OpBuilder &b, mlir::Operation *from,
                           llvm::StringRef name, llvm::ArrayRef<float> values,
                           mlir::Location loc);

/// Loads of a buffer's elements in real units: a float buffer's as they
/// are, an int8 buffer of `type` as (q - zero) * scale in f32, a per-axis
/// type's scale and zero read from constant vectors at the index along its
/// axis (RealReads.cpp).
struct RealReader {
  mlir::Value buffer;
  mlir::quant::QuantizedType type; // null: a float buffer
  mlir::Value scales, zeros;       // per axis
  int64_t axis = -1;
  static RealReader get(mlir::OpBuilder &b, mlir::Operation *from,
                        mlir::Value buffer, mlir::TypeAttr quantType,
                        mlir::Location loc);
  mlir::Value load(mlir::OpBuilder &b, mlir::Location loc,
                   mlir::ValueRange at) const;
};

void populateUpdatePatterns(mlir::RewritePatternSet &patterns);
void populateSparseConvPatterns(mlir::RewritePatternSet &patterns);
void populateSelectionPatterns(mlir::RewritePatternSet &patterns);

} // namespace mcutrain::trainbuffers

#endif
