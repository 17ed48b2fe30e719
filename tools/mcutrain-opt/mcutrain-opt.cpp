//===- mcutrain-opt.cpp - run any mcutrain pass or upstream pass ----------===//
#include "compiler/Pipeline.h"
#include "passes/Passes.h"

#include "mlir/InitAllDialects.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  mlir::registerAllDialects(registry);
  mcutrain::registerAllDialects(registry);
  mlir::registerAllPasses();
  mcutrain::registerMCUTrainPasses();
  mcutrain::registerPipelines();
  return mlir::asMainReturnCode(mlir::MlirOptMain(
      argc, argv, "mcutrain optimizer driver (every dialect and pass)\n",
      registry));
}
