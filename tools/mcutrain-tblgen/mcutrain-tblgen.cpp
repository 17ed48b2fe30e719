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

int main(int argc, char **argv) {
  cl::ParseCommandLineOptions(argc, argv);
  return TableGenMain(argv[0], &emitOptionLists);
}
