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
  bufferization::func_ext::registerBufferizableOpInterfaceExternalModels(
      registry);
}

void mcutrain::buildTrainingPipeline(OpPassManager &pm,
                                     const TrainingOptions &o) {
  DeriveBackwardPassOptions db;
  db.loss = o.loss;
  db.trainable = o.trainable;
  db.lr = o.lr;
  db.optimizer = o.optimizer;
  db.momentum = o.momentum;
  db.beta1 = o.beta1;
  db.beta2 = o.beta2;
  db.epsilon = o.epsilon;
  db.weightDecay = o.weightDecay;
  db.lrDecay = o.lrDecay;
  db.dampening = o.dampening;
  pm.addPass(createDeriveBackwardPass(db));
  pm.addPass(createShareFrozenAliasesPass());
  SparsifyPassOptions sp;
  sp.sparsity = o.sparsity;
  pm.addPass(createSparsifyPass(sp));
  pm.addNestedPass<func::FuncOp>(createReorderUpdatesPass());
  pm.addNestedPass<func::FuncOp>(createFuseOuterProductUpdatesPass());
  pm.addNestedPass<func::FuncOp>(createFuseInputGradIntoUpdatesPass());
}

void mcutrain::buildInferencePipeline(OpPassManager &pm) {
  pm.addPass(createShareFrozenAliasesPass());
}

void mcutrain::buildLoweringPipeline(OpPassManager &pm,
                                     const LoweringOptions &o) {
  pm.addPass(createLowerToLinalgPass());
  pm.addPass(createCanonicalizerPass());

  bufferization::OneShotBufferizePassOptions bufferize;
  bufferize.bufferizeFunctionBoundaries = true;
  bufferize.functionBoundaryTypeConversion =
      bufferization::LayoutMapOption::IdentityLayoutMap;
  bufferize.unknownTypeConversion =
      bufferization::LayoutMapOption::IdentityLayoutMap;
  bufferize.bufferAlignment = 0;
  pm.addPass(bufferization::createOneShotBufferizePass(bufferize));

  bufferization::BufferResultsToOutParamsPassOptions outParams;
  outParams.hoistStaticAllocs = true;
  outParams.modifyPublicFunctions = true;
  pm.addPass(bufferization::createBufferResultsToOutParamsPass(outParams));

  UseKernelsPassOptions useKernels;
  useKernels.enabled = o.kernels;
  pm.addNestedPass<func::FuncOp>(createUseKernelsPass(useKernels));
  pm.addNestedPass<func::FuncOp>(createCollapseLoopDimsPass());
  pm.addNestedPass<func::FuncOp>(createConvertLinalgToLoopsPass());
  pm.addPass(createLowerAffinePass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createFlattenMemRefsPass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  PlanMemoryPassOptions plan;
  plan.alignment = o.alignment;
  pm.addPass(createPlanMemoryPass(plan));
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createGuardBackwardPass());
  // No form-expressions: it copies multi-use values into every use, which
  // grows select chains exponentially; g++ forms the expressions itself.
  pm.addPass(createLowerToEmitCPass());
}

void mcutrain::registerPipelines() {
  PassPipelineRegistration<>(
      "mcutrain-training",
      "derive-backward, share-frozen-aliases, sparsify, reorder-updates, "
      "fuse-outer-product-updates and fuse-input-grad-into-updates "
      "(defaults)",
      [](OpPassManager &pm) { buildTrainingPipeline(pm, TrainingOptions()); });
  PassPipelineRegistration<>(
      "mcutrain-lowering", "nn/train → planned EmitC (defaults)",
      [](OpPassManager &pm) { buildLoweringPipeline(pm, LoweringOptions()); });
}
