//===- Package.h - ONNX file → generated C++ package ----------*- C++ -*-===//
#ifndef MCUTRAIN_COMPILER_PACKAGE_H
#define MCUTRAIN_COMPILER_PACKAGE_H

#include "compiler/Import.h"
#include "compiler/Pipeline.h"

namespace mcutrain {

struct PackageOptions {
  std::string name = "model";
  std::string outDir;
  /// Only @forward (predict): any number of inputs and outputs, every
  /// parameter frozen (flash).
  bool inferenceOnly = false;
  /// RAM budget in bytes (0: none). Over it, compilation fails with the
  /// breakdown and the schemes that would fit.
  int64_t sramBytes = 0;
  /// dense: train what --trainable says; auto: the densest scheme that fits
  /// sramBytes.
  std::string update = "dense";
  /// Also plan the schedule without the memory transformations
  /// (fuse-conv-chains, pack-masks) when they applied, for report.json's
  /// original_lower_bound_bytes (off in --update auto's trial builds).
  bool measureOriginalSchedule = true;
  /// <name>_params.cpp's data as C++ initializer lists (any toolchain; slow
  /// to compile for large models) rather than ELF assembler.
  bool paramsAsText = false;
  ImportOptions import;
  TrainingOptions training;
  LoweringOptions lowering;
};

/// Compiles `onnxPath` into `opts.outDir`: <name>.h, <name>.cpp,
/// <name>_params.cpp, mcutrain_runtime.h, report.json, memory.svg. The folder
/// is
/// written to a temporary sibling and renamed only when everything
/// succeeded, so a failure leaves no half-written output.
mlir::LogicalResult compilePackage(mlir::MLIRContext &ctx,
                                   llvm::StringRef onnxPath,
                                   const PackageOptions &opts);

/// The runtime header's text (embedded at build time).
llvm::StringRef runtimeHeaderText();
/// runtime/mcutrain_kernels.h, embedded at build time.
llvm::StringRef kernelsHeaderText();
/// runtime/mcutrain_kernels_mcu.h (which mcutrain_kernels.h includes).
llvm::StringRef mcuKernelsHeaderText();
/// runtime/mcutrain_int8_kernels.h (which mcutrain_kernels.h includes).
llvm::StringRef int8KernelsHeaderText();
/// runtime/mcutrain_checkpoint.h, embedded at build time.
llvm::StringRef checkpointHeaderText();

} // namespace mcutrain

#endif
