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

#include "mlir/Transforms/DialectConversion.h"

namespace mcutrain::trainbuffers {

/// `memref.get_global @name` if `from` sees a global of that name, else null.
mlir::Value getGlobalMemRef(mlir::OpBuilder &b, mlir::Operation *from,
                            llvm::StringRef name, mlir::Location loc);

void populateUpdatePatterns(mlir::RewritePatternSet &patterns);
void populateSparseConvPatterns(mlir::RewritePatternSet &patterns);
void populateSelectionPatterns(mlir::RewritePatternSet &patterns);

} // namespace mcutrain::trainbuffers

#endif
