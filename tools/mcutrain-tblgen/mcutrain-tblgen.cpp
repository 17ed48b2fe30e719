//===- mcutrain-tblgen.cpp - pass options as X-macros, from Passes.td -----===//
//
// Passes.td defines every compile option once, as the option of the pass
// that reads it. This backend writes, for each pass with options, the
// X-macro
//   #define MCUTRAIN_<PASS>_OPTIONS(X) X(Type, cppName, "argument", Default,
//   "help") ...
// from which the driver declares its flags and the pipelines their
// PassPipelineOptions (compiler/Options.h); mlir-tblgen's XPassOptions
// structs hold the values. Nothing is written twice by hand.
//
//===----------------------------------------------------------------------===//
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/TableGen/Error.h"
#include "llvm/TableGen/Main.h"
#include "llvm/TableGen/Record.h"
#include "llvm/TableGen/TableGenBackend.h"

using namespace llvm;

/// A C++ string literal holding `s`.
static std::string literal(StringRef s) {
  std::string out = "\"";
  raw_string_ostream os(out);
  printEscapedString(s, os);
  return out + "\"";
}

enum class Action { PassOptionMacros, KernelSignatures };
static cl::opt<Action> action(
    cl::desc("What to generate:"),
    cl::values(clEnumValN(Action::PassOptionMacros, "gen-pass-option-macros",
                          "pass options as X-macros"),
               clEnumValN(Action::KernelSignatures, "gen-kernel-signatures",
                          "kernel template parameters")));

static bool emitOptionLists(raw_ostream &os, const RecordKeeper &records) {
  emitSourceFileHeader("mcutrain pass options as X-macros", os, records);
  for (const Record *pass : records.getAllDerivedDefinitions("PassBase")) {
    std::vector<const Record *> options = pass->getValueAsListOfDefs("options");
    if (options.empty())
      continue;
    os << "#define MCUTRAIN_" << StringRef(pass->getName()).upper()
       << "_OPTIONS(X)";
    for (const Record *o : options) {
      if (!o->isSubClassOf("Option"))
        PrintFatalError(o->getLoc(), "only Option is supported, not lists");
      os << " \\\n  X(" << o->getValueAsString("type") << ", "
         << o->getValueAsString("cppName") << ", "
         << literal(o->getValueAsString("argument")) << ", "
         << o->getValueAsString("defaultValue") << ", "
         << literal(o->getValueAsString("description")) << ")";
    }
    os << "\n\n";
  }
  return false;
}

/// One template parameter as the header declares it: `int N` or
/// `bool Overwrite = false`.
struct TemplateParameter {
  bool isBool = false, hasDefault = false;
};

static TemplateParameter parseParameter(const Record *kernel, StringRef decl) {
  auto [head, init] = decl.split('=');
  SmallVector<StringRef> words;
  head.split(words, ' ', -1, false);
  if (words.size() != 2 || (words[0] != "int" && words[0] != "bool"))
    PrintFatalError(kernel->getLoc(), "template parameter '" + decl +
                                          "' is not 'int N' or "
                                          "'bool N [= value]'");
  return {words[0] == "bool", !init.trim().empty()};
}

static bool emitKernelSignatures(raw_ostream &os, const RecordKeeper &records) {
  emitSourceFileHeader("kernel template parameters", os, records);
  std::vector<const Record *> kernels =
      records.getAllDerivedDefinitions("Train_Kernel");
  llvm::sort(kernels, [](const Record *a, const Record *b) {
    return a->getValueAsInt("value") < b->getValueAsInt("value");
  });
  for (const Record *k : kernels) {
    std::vector<StringRef> params =
        k->getValueAsListOfStrings("templateParameters");
    unsigned required = 0;
    uint64_t boolMask = 0;
    for (auto [i, decl] : llvm::enumerate(params)) {
      TemplateParameter p = parseParameter(k, decl);
      if (p.isBool)
        boolMask |= uint64_t(1) << i;
      if (!p.hasDefault)
        required = i + 1;
    }
    os << "MCUTRAIN_KERNEL(" << k->getValueAsString("str") << ", "
       << params.size() << ", " << required << ", 0x";
    os.write_hex(boolMask);
    os << ", " << literal(join(params, ", ")) << ")\n";
  }
  return false;
}

int main(int argc, char **argv) {
  cl::ParseCommandLineOptions(argc, argv);
  if (action == Action::KernelSignatures)
    return TableGenMain(argv[0], &emitKernelSignatures);
  return TableGenMain(argv[0], &emitOptionLists);
}
