//===- ImportFuzzer.cpp - libFuzzer target: ONNX importer + verifier ------===//
//
// Every input must either import into a module that verifies, or be refused
// with at least one error diagnostic. Anything else (a crash, a sanitizer
// report, an import that yields no diagnostic, a module the verifier rejects)
// aborts, which libFuzzer reports as a finding.
//
//===----------------------------------------------------------------------===//
#include "compiler/Import.h"
#include "compiler/Pipeline.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"

#include <cstdio>
#include <cstdlib>
#include <string>

/// Debian's libMLIR is not built with ASan, this binary is: LLVM's
/// BumpPtrAllocator, inlined here, poisons the rest of each slab it
/// allocates (LLVM_ADDRESS_SANITIZER_BUILD) and unpoisons what it hands
/// out, but the library's copy hands out from the same slabs without
/// unpoisoning. An attribute uniqued here (nn's enum attributes) followed
/// by one uniqued in the library was then reported as use-after-poison.
/// Manual poisoning off: real heap overflows and uses after free are still
/// reported.
extern "C" const char *__asan_default_options() {
  return "allow_user_poisoning=0";
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  mlir::DialectRegistry registry;
  mcutrain::registerAllDialects(registry);
  // A context per input: what one model interns must not make the next one
  // look different (and the interned strings of a long run would pile up).
  mlir::MLIRContext ctx(registry, mlir::MLIRContext::Threading::DISABLED);
  unsigned errors = 0;
  std::string last; // shown when the input is a finding
  mlir::ScopedDiagnosticHandler handler(&ctx, [&](mlir::Diagnostic &d) {
    if (d.getSeverity() == mlir::DiagnosticSeverity::Error) {
      ++errors;
      last = d.str();
    }
    return mlir::success();
  });
  llvm::StringRef bytes(reinterpret_cast<const char *>(data), size);
  mlir::OwningOpRef<mlir::ModuleOp> module =
      mcutrain::importOnnxBuffer(ctx, bytes, "fuzz.onnx", {});
  if (!module) {
    if (errors == 0) {
      std::fprintf(stderr, "import failed without a diagnostic\n");
      std::abort();
    }
    return 0;
  }
  if (errors != 0) {
    std::fprintf(stderr, "import reported an error but returned a module\n");
    std::abort();
  }
  if (mlir::failed(mlir::verify(*module))) {
    std::fprintf(stderr, "imported module does not verify: %s\n", last.c_str());
    std::abort();
  }
  return 0;
}
