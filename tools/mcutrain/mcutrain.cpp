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
static cl::opt<std::string> loss("loss", cl::desc("Loss: cross-entropy | mse"),
                                 cl::init("cross-entropy"),
                                 cl::sub(compileCmd));
static cl::opt<std::string> optimizer("optimizer",
                                      cl::desc("Optimizer: sgd | momentum | "
                                               "nesterov | adam | adagrad"),
                                      cl::init("sgd"), cl::sub(compileCmd));
static cl::opt<double> momentum("momentum",
                                cl::desc("Momentum (momentum, nesterov)"),
                                cl::init(0.9), cl::sub(compileCmd));
static cl::opt<double> beta1("beta1", cl::desc("Adam beta1"), cl::init(0.9),
                             cl::sub(compileCmd));
static cl::opt<double> beta2("beta2", cl::desc("Adam beta2"), cl::init(0.999),
                             cl::sub(compileCmd));
static cl::opt<double>
    epsilon("epsilon", cl::desc("Adam/Adagrad epsilon (default 1e-8 / 1e-10)"),
            cl::init(-1), cl::sub(compileCmd));
static cl::opt<double> weightDecay("weight-decay",
                                   cl::desc("L2 weight decay (as torch.optim)"),
                                   cl::init(0.0), cl::sub(compileCmd));
static cl::opt<double> lrDecay("lr-decay",
                               cl::desc("Adagrad learning-rate decay"),
                               cl::init(0.0), cl::sub(compileCmd));
static cl::opt<double>
    dampening("dampening",
              cl::desc("Momentum dampening (as torch.optim.SGD; none on "
                       "the first step)"),
              cl::init(0.0), cl::sub(compileCmd));
static cl::opt<double> lr("lr", cl::desc("Learning rate"), cl::init(0.01),
                          cl::sub(compileCmd));
static cl::opt<std::string>
    trainable("trainable",
              cl::desc("Which parameters train: all | last:K (last K "
                       "parameterised layers) | bias-only | comma-separated "
                       "ONNX initializer (or alias) names and globs"),
              cl::init("all"), cl::sub(compileCmd));
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
static cl::opt<std::string> sparsity(
    "sparsity",
    cl::desc("Sparse updates: none; static:RATIO (every trainable Conv/Gemm "
             "weight updates its RATIO x C input channels of largest L2 "
             "norm) or static:NAME=RATIO,... (ONNX names or globs); "
             "dgsu:RATIO or dgsu:NAME=RATIO,... (channels chosen each step "
             "at run time); tinyprop[:SMIN,SMAX,ZETA] (each layer "
             "back-propagates only its top-k output errors, k adapted to "
             "the error each step; defaults 0.1,0.9,0.5; batch 1); "
             "tinyprop2[:SMIN,SMAX,ZETA,TAU] (also skips the backward pass "
             "when the output error is below TAU x its running max; TAU "
             "0.05); combined[:RATIO[,SMIN,SMAX,ZETA,TAU]] (DGSU channels "
             "and TinyPropv2 errors together; RATIO 0.1)"),
    cl::init("none"), cl::sub(compileCmd));
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
static cl::opt<bool>
    kernels("kernels",
            cl::desc("Dense convolutions and Gemm call the kernels of "
                     "mcutrain_kernels.h (--kernels=false: plain loops)"),
            cl::init(true), cl::sub(compileCmd));
static cl::opt<int64_t> alignment("alignment",
                                  cl::desc("Byte alignment of arena buffers"),
                                  cl::init(8), cl::sub(compileCmd));

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
    mlir::OpPrintingFlags flags;
    if (printDebugInfo)
      flags.enableDebugInfo();
    module->print(outs(), flags);
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
    opts.training.optimizer = optimizer;
    opts.training.momentum = momentum;
    opts.training.beta1 = beta1;
    opts.training.beta2 = beta2;
    opts.training.epsilon = epsilon;
    opts.training.weightDecay = weightDecay;
    opts.training.lrDecay = lrDecay;
    opts.training.dampening = dampening;
    opts.training.sparsity = sparsity;
    opts.inferenceOnly = inferenceOnly;
    opts.import = importOpts;
    opts.training.loss = loss;
    opts.training.lr = lr;
    opts.training.trainable = trainable;
    opts.lowering.alignment = alignment;
    opts.lowering.kernels = kernels;
    opts.update = update;
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
