//===- Import.h - ONNX → nn dialect ---------------------------*- C++ -*-===//
#ifndef MCUTRAIN_COMPILER_IMPORT_H
#define MCUTRAIN_COMPILER_IMPORT_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

namespace mcutrain {

struct ImportOptions {
  /// Used for a symbolic (dim_param) batch dimension of the graph input.
  int64_t batchSize = 1;
  /// Initializers the ONNX exporter merged behind Identity nodes (equal
  /// values) stay one tensor, its gradient summed over every use; by
  /// default each alias becomes a parameter of its own.
  bool tieSharedInitializers = false;
};

/// Reads an ONNX model file into a module with `func.func @forward` on static
/// tensors and one `ml_program.global` per initializer; the module verifies.
/// On failure, emits a diagnostic (naming the file, or the ONNX node and op
/// type) and returns null.
mlir::OwningOpRef<mlir::ModuleOp> importOnnxFile(mlir::MLIRContext &ctx,
                                                 llvm::StringRef path,
                                                 const ImportOptions &opts);

/// The same for a model already in memory; `name` stands for the file in
/// diagnostics.
mlir::OwningOpRef<mlir::ModuleOp> importOnnxBuffer(mlir::MLIRContext &ctx,
                                                   llvm::StringRef bytes,
                                                   llvm::StringRef name,
                                                   const ImportOptions &opts);

} // namespace mcutrain

#endif
