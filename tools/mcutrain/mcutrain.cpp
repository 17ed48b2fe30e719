//===- mcutrain.cpp - the driver: ONNX model → trainable C++ package ------===//
#include "compiler/Import.h"
#include "compiler/MemoryReport.h"
#include "compiler/Package.h"
#include "compiler/Pipeline.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

using namespace llvm;

static cl::SubCommand compileCmd("compile",
                                 "Compile an ONNX model into a C++ package "
                                 "that trains on the device");
static cl::SubCommand importCmd("import",
                                "Print the imported nn-dialect IR of a model");

static cl::opt<std::string> modelPath(cl::Positional, cl::Required,
                                      cl::desc("<model.onnx>"),
                                      cl::sub(compileCmd), cl::sub(importCmd));
static cl::opt<std::string> outDir("o", cl::desc("Output folder"),
                                   cl::value_desc("dir"), cl::sub(compileCmd));
static cl::opt<std::string> name("name",
                                 cl::desc("C++ namespace and file stem of the "
                                          "package"),
                                 cl::init("model"), cl::sub(compileCmd));
static cl::opt<int64_t> batch("batch",
                              cl::desc("Batch size used when the model's "
                                       "batch dimension is symbolic"),
                              cl::init(1), cl::sub(compileCmd),
                              cl::sub(importCmd));
static cl::opt<bool> tieSharedInitializers(
    "tie-shared-initializers",
    cl::desc("Initializers the ONNX exporter merged behind Identity nodes "
             "(equal values) stay one tensor whose gradient sums over every "
             "use (the ONNX graph's meaning); by default each alias is a "
             "parameter of its own, named after the alias, as in the "
             "PyTorch model"),
    cl::init(false), cl::sub(compileCmd), cl::sub(importCmd));
static cl::opt<bool> printDebugInfo("print-debuginfo",
                                    cl::desc("Print locations (ONNX nodes)"),
                                    cl::init(false), cl::sub(importCmd));
static cl::opt<bool> inferenceOnly(
    "inference-only",
    cl::desc("Generate only predict() (no training step); allows any number "
             "of inputs and outputs"),
    cl::init(false), cl::sub(compileCmd));
static cl::opt<bool> paramsText(
    "params-text",
    cl::desc("Write <name>_params.cpp's data as C++ initializer lists, for "
             "toolchains without ELF assembler (macOS, MSVC); by default it "
             "is assembler, which g++ builds in seconds for any model size"),
    cl::init(false), cl::sub(compileCmd));
static cl::opt<std::string>
    sram("sram",
         cl::desc("RAM budget (e.g. 256KiB, 0.5MiB, 200000): arena + "
                  "trainable parameters + optimizer state must fit, or "
                  "compilation fails and says what would fit"),
         cl::init(""), cl::sub(compileCmd));
static cl::opt<std::string>
    update("update",
           cl::desc("dense: train what --trainable says; auto: the densest "
                    "scheme (all, last:K, bias-only) that fits --sram"),
           cl::init("dense"), cl::sub(compileCmd));

// The flags of the passes' options (passes/Passes.td, compiler/Options.h).
namespace flags {
#define MCUTRAIN_FLAG(Type, Field, Arg, Default, Help)                         \
  static cl::opt<Type> Field(Arg, cl::desc(Help), cl::init(Default),           \
                             cl::sub(compileCmd));
MCUTRAIN_TRAINING_OPTIONS(MCUTRAIN_FLAG)
MCUTRAIN_LOWERING_OPTIONS(MCUTRAIN_FLAG)
#undef MCUTRAIN_FLAG
} // namespace flags

int main(int argc, char **argv) {
  InitLLVM init(argc, argv);
  // The top level has only LLVM's own options (backend flags and the like):
  // keep them out of `mcutrain --help`; the subcommands list ours.
  for (auto &entry : cl::getRegisteredOptions())
    if (entry.first != "help" && entry.first != "version")
      entry.second->setHiddenFlag(cl::Hidden);
  cl::ParseCommandLineOptions(
      argc, argv,
      "mcutrain: ahead-of-time training compiler for microcontrollers\n\n"
      "  mcutrain compile model.onnx -o outdir/ [--name N] [--trainable ...]\n"
      "  mcutrain import model.onnx\n");

  mlir::DialectRegistry registry;
  mcutrain::registerAllDialects(registry);
  mlir::MLIRContext ctx(registry);
  ctx.loadAllAvailableDialects();
  SourceMgr sourceMgr;
  mlir::SourceMgrDiagnosticHandler diag(sourceMgr, &ctx);

  if (batch < 1) {
    errs() << "mcutrain: --batch must be at least 1\n";
    return 1;
  }
  mcutrain::ImportOptions importOpts;
  importOpts.batchSize = batch;
  importOpts.tieSharedInitializers = tieSharedInitializers;

  if (importCmd) {
    auto module = mcutrain::importOnnxFile(ctx, modelPath, importOpts);
    if (!module)
      return 1;
    mlir::OpPrintingFlags printing;
    if (printDebugInfo)
      printing.enableDebugInfo();
    module->print(outs(), printing);
    return 0;
  }
  if (compileCmd) {
    if (outDir.empty()) {
      errs() << "mcutrain compile: an output folder is required (-o DIR)\n";
      return 1;
    }
    mcutrain::PackageOptions opts;
    opts.name = name;
    opts.outDir = outDir;
    opts.inferenceOnly = inferenceOnly;
    opts.paramsAsText = paramsText;
    opts.import = importOpts;
    opts.update = update;
#define MCUTRAIN_SET(Type, Field, Arg, Default, Help)                          \
  opts.training.Field = flags::Field;
    MCUTRAIN_TRAINING_OPTIONS(MCUTRAIN_SET)
#undef MCUTRAIN_SET
#define MCUTRAIN_SET(Type, Field, Arg, Default, Help)                          \
  opts.lowering.Field = flags::Field;
    MCUTRAIN_LOWERING_OPTIONS(MCUTRAIN_SET)
#undef MCUTRAIN_SET
    if (!sram.empty()) {
      opts.sramBytes = mcutrain::parseByteSize(sram);
      if (opts.sramBytes <= 0) {
        errs() << "mcutrain compile: --sram '" << sram
               << "' is not a size (e.g. 256KiB, 0.5MiB, 262144)\n";
        return 1;
      }
    }
    if (failed(mcutrain::compilePackage(ctx, modelPath, opts)))
      return 1;
    outs() << "mcutrain: wrote " << outDir << "\n";
    return 0;
  }
  errs() << "mcutrain: expected a subcommand (compile, import); see --help\n";
  return 1;
}
