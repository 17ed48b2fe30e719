//===- Options.h - the compile options, defined once ----------*- C++ -*-===//
//
// Every option that shapes the compiled code is an option of the pass that
// reads it, defined once in passes/Passes.td. From there mlir-tblgen makes
// the XPassOptions structs that hold the values (aggregated below), and
// tools/mcutrain-tblgen the X-macros MCUTRAIN_<PASS>_OPTIONS(X) from which
// the driver declares its flags and the pipelines their textual options.
//
//===----------------------------------------------------------------------===//
#ifndef MCUTRAIN_COMPILER_OPTIONS_H
#define MCUTRAIN_COMPILER_OPTIONS_H

#include "passes/PassOptions.inc"
#include "passes/Passes.h"

#include "mlir/Pass/PassOptions.h"

namespace mcutrain {

/// X(Type, cppName, "argument", Default, "help") for each option of the
/// training pipeline, then of the lowering pipeline.
#define MCUTRAIN_TRAINING_OPTIONS(X)                                           \
  MCUTRAIN_DERIVEBACKWARDPASS_OPTIONS(X)                                       \
  MCUTRAIN_SPARSIFYPASS_OPTIONS(X)                                             \
  MCUTRAIN_PACKMASKSPASS_OPTIONS(X) MCUTRAIN_RECOMPUTEPASS_OPTIONS(X)
#define MCUTRAIN_LOWERING_OPTIONS(X)                                           \
  MCUTRAIN_USEKERNELSPASS_OPTIONS(X)                                           \
  MCUTRAIN_FUSECONVCHAINSPASS_OPTIONS(X)                                       \
  MCUTRAIN_INPLACEDEPTHWISEPASS_OPTIONS(X)                                     \
  MCUTRAIN_INPLACEELEMENTWISEPASS_OPTIONS(X) MCUTRAIN_PLANMEMORYPASS_OPTIONS(X)

/// The training passes' options (derive-backward, sparsify, pack-masks,
/// recompute).
struct TrainingOptions : DeriveBackwardPassOptions,
                         SparsifyPassOptions,
                         PackMasksPassOptions,
                         RecomputePassOptions {};

/// The lowering passes' options (use-kernels, fuse-conv-chains,
/// in-place-depthwise, in-place-elementwise, plan-memory).
struct LoweringOptions : UseKernelsPassOptions,
                         FuseConvChainsPassOptions,
                         InPlaceDepthwisePassOptions,
                         InPlaceElementwisePassOptions,
                         PlanMemoryPassOptions {};

#define MCUTRAIN_PIPELINE_OPTION(Type, Field, Arg, Default, Help)              \
  Option<Type> Field{*this, Arg, llvm::cl::desc(Help), llvm::cl::init(Default)};

/// The same options as a textual pipeline's (mcutrain-opt
/// --mcutrain-training='optimizer=adam lr=0.001').
struct TrainingPipelineOptions
    : mlir::PassPipelineOptions<TrainingPipelineOptions> {
  MCUTRAIN_TRAINING_OPTIONS(MCUTRAIN_PIPELINE_OPTION)
  TrainingOptions values() const;
};

/// (mcutrain-opt --mcutrain-lowering='kernels=false alignment=16').
struct LoweringPipelineOptions
    : mlir::PassPipelineOptions<LoweringPipelineOptions> {
  MCUTRAIN_LOWERING_OPTIONS(MCUTRAIN_PIPELINE_OPTION)
  LoweringOptions values() const;
};

#undef MCUTRAIN_PIPELINE_OPTION

} // namespace mcutrain

#endif
