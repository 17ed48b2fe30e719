//===- Pipeline.cpp - pass order of the mcutrain compiler -----------------===//
#include "compiler/Pipeline.h"

#include "passes/Passes.h"

#include "mlir/Conversion/AffineToStandard/AffineToStandard.h"
#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/Bufferization/Transforms/FuncBufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/Linalg/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/MLProgram/IR/MLProgram.h"
#include "mlir/Dialect/SCF/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/Tensor/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

void mcutrain::registerAllDialects(DialectRegistry &registry) {
  registry.insert<nn::NNDialect, train::TrainDialect, func::FuncDialect,
                  ml_program::MLProgramDialect, tensor::TensorDialect,
                  linalg::LinalgDialect, arith::ArithDialect, math::MathDialect,
                  scf::SCFDialect, memref::MemRefDialect, affine::AffineDialect,
                  bufferization::BufferizationDialect, emitc::EmitCDialect>();
  arith::registerBufferizableOpInterfaceExternalModels(registry);
  linalg::registerBufferizableOpInterfaceExternalModels(registry);
  scf::registerBufferizableOpInterfaceExternalModels(registry);
  tensor::registerBufferizableOpInterfaceExternalModels(registry);
  train::registerBufferizableOpInterfaceExternalModels(registry);
  bufferization::func_ext::registerBufferizableOpInterfaceExternalModels(
      registry);
}

void mcutrain::buildTrainingPipeline(OpPassManager &pm,
                                     const TrainingOptions &o) {
  pm.addPass(createFuseQuantizedLayersPass());
  pm.addPass(createDeriveBackwardPass(o));
  pm.addPass(createFoldFrozenQuantizationPass());
  pm.addPass(createShareFrozenAliasesPass());
  pm.addPass(createSparsifyPass(o));
  pm.addNestedPass<func::FuncOp>(createReorderUpdatesPass());
  pm.addNestedPass<func::FuncOp>(createFuseOuterProductUpdatesPass());
  pm.addNestedPass<func::FuncOp>(createSparseEmbeddingUpdatesPass());
  pm.addNestedPass<func::FuncOp>(createFuseInputGradIntoUpdatesPass());
  pm.addNestedPass<func::FuncOp>(createPackMasksPass(o));
  pm.addNestedPass<func::FuncOp>(createRecomputePass(o));
}

void mcutrain::buildInferencePipeline(OpPassManager &pm) {
  pm.addPass(createFuseQuantizedLayersPass());
  pm.addPass(createFoldFrozenQuantizationPass());
  pm.addPass(createShareFrozenAliasesPass());
}

void mcutrain::buildLoweringPipeline(OpPassManager &pm,
                                     const LoweringOptions &o) {
  pm.addPass(createLowerParametersPass());
  pm.addPass(createLowerToLinalgPass());
  pm.addPass(createFuseQuantizedElementwisePass());
  pm.addPass(createTabulateInt8MapsPass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createInPlaceElementwisePass(o));

  bufferization::OneShotBufferizePassOptions bufferize;
  bufferize.bufferizeFunctionBoundaries = true;
  bufferize.functionBoundaryTypeConversion =
      bufferization::LayoutMapOption::IdentityLayoutMap;
  bufferize.unknownTypeConversion =
      bufferization::LayoutMapOption::IdentityLayoutMap;
  bufferize.bufferAlignment = 0;
  pm.addPass(bufferization::createOneShotBufferizePass(bufferize));
  pm.addPass(createLowerTrainBuffersPass());

  bufferization::BufferResultsToOutParamsPassOptions outParams;
  outParams.hoistStaticAllocs = true;
  outParams.modifyPublicFunctions = true;
  pm.addPass(bufferization::createBufferResultsToOutParamsPass(outParams));

  pm.addNestedPass<func::FuncOp>(createUseKernelsPass(o));
  pm.addNestedPass<func::FuncOp>(createFuseConvChainsPass(o));
  pm.addPass(createInPlaceDepthwisePass(o));
  pm.addNestedPass<func::FuncOp>(createCollapseLoopDimsPass());
  pm.addNestedPass<func::FuncOp>(createConvertLinalgToLoopsPass());
  pm.addPass(createLowerAffinePass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createFlattenMemRefsPass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  pm.addPass(createPlanMemoryPass(o));
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createGuardBackwardPass());
  // No form-expressions: it copies multi-use values into every use, which
  // grows select chains exponentially; g++ forms the expressions itself.
  pm.addPass(createLowerToEmitCPass());
  pm.addPass(createNameArenaPointersPass());
  pm.addPass(createCommentNodesPass());
}

#define MCUTRAIN_COPY_OPTION(Type, Field, Arg, Default, Help) o.Field = Field;

mcutrain::TrainingOptions mcutrain::TrainingPipelineOptions::values() const {
  TrainingOptions o;
  MCUTRAIN_TRAINING_OPTIONS(MCUTRAIN_COPY_OPTION)
  return o;
}

mcutrain::LoweringOptions mcutrain::LoweringPipelineOptions::values() const {
  LoweringOptions o;
  MCUTRAIN_LOWERING_OPTIONS(MCUTRAIN_COPY_OPTION)
  return o;
}

void mcutrain::registerPipelines() {
  PassPipelineRegistration<TrainingPipelineOptions>(
      "mcutrain-training",
      "fuse-quantized-layers, derive-backward, fold-frozen-quantization, "
      "share-frozen-aliases, sparsify, reorder-updates, "
      "fuse-outer-product-updates, fuse-input-grad-into-updates, "
      "pack-masks and recompute",
      [](OpPassManager &pm, const TrainingPipelineOptions &o) {
        buildTrainingPipeline(pm, o.values());
      });
  PassPipelineRegistration<LoweringPipelineOptions>(
      "mcutrain-lowering", "nn/train → planned EmitC",
      [](OpPassManager &pm, const LoweringPipelineOptions &o) {
        buildLoweringPipeline(pm, o.values());
      });
}
