//===- ParamsFile.cpp - <name>_params.cpp and the checkpoint blocks -------===//
//
// The translated code declares every parameter global extern; its data -
// flash images of frozen parameters and initial values of trainable ones -
// is written to <name>_params.cpp, so the code file stays readable and the
// data file compiles once.
//
// The data is assembler (hex words in top-level asm statements that define
// each parameter's symbol in its own section), not C++ initializer lists:
// g++ 12 spends about 290 bytes of memory and 3 us on every element of a
// braced list (ResNet-18's 11.2 M parameters: 32 s and 3.2 GB), on the
// assembler's hex words 1.0 s and 527 MB (bench/params_build.py). ELF targets
// only (the symbol and section directives); `--params-text` writes the C++
// lists instead.
//
//===----------------------------------------------------------------------===//
#include "compiler/Package/PackageParts.h"

#include "dialects/Train/Train.h"
#include "mlir/Dialect/EmitC/IR/EmitC.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>
#include <cstdio>
#include <cstring>

using namespace mlir;
using namespace mcutrain;
using namespace mcutrain::package;

static std::string cTypeOf(Type et) {
  if (et.isInteger(1))
    return "bool";
  if (!et.isF32())
    return "std::int" + std::to_string(et.getIntOrFloatBitWidth()) + "_t";
  return "float";
}

/// Moves `g`'s initial value into `p` (non-finite floats are refused: they
/// would not survive as literals and no step could recover from them).
static LogicalResult takeInitialValue(emitc::GlobalOp g, ParamData &p) {
  auto init = g.getInitialValueAttr();
  if (!init)
    return success();
  p.data = dyn_cast<DenseElementsAttr>(init);
  if (!p.data)
    return g.emitError("parameter data is not dense"), failure();
  if (p.cType == "float")
    for (float v : p.data.getValues<float>())
      if (!std::isfinite(v))
        return g.emitError("parameter @")
                   << p.name << " holds a non-finite value",
               failure();
  g.removeInitialValueAttr();
  return success();
}

LogicalResult mcutrain::package::extractParams(ModuleOp module,
                                               std::vector<ParamData> &out) {
  for (auto g : module.getOps<emitc::GlobalOp>()) {
    if (g.getStaticSpecifier())
      continue;
    auto arr = dyn_cast<emitc::ArrayType>(g.getType());
    if (!arr || !arr.getElementType().isIntOrFloat() ||
        (isa<FloatType>(arr.getElementType()) && !arr.getElementType().isF32()))
      return g.emitError("unexpected global in the generated code"), failure();
    ParamData p{g.getSymName().str(), arr.getNumElements(),
                (bool)g.getConstSpecifier(), nullptr,
                cTypeOf(arr.getElementType())};
    if (failed(takeInitialValue(g, p)))
      return failure();
    g.setExternSpecifier(true);
    out.push_back(std::move(p));
  }
  return success();
}

static std::string floatLiteral(float v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9ef", v);
  return buf;
}

/// The initializer list's elements: floats 8 per line, integers 16.
static void printElements(llvm::raw_ostream &d, const ParamData &p) {
  int64_t i = 0;
  if (p.cType == "float") {
    for (float v : p.data.getValues<float>())
      d << (i++ % 8 ? " " : "\n    ") << floatLiteral(v) << ",";
    return;
  }
  bool isBool = p.cType == "bool";
  for (APInt v : p.data.getValues<APInt>()) {
    d << (i++ % 16 ? " " : "\n    ");
    if (isBool)
      d << (v.isZero() ? "false" : "true");
    else if (v.isMinSignedValue() && v.getBitWidth() == 64)
      d << "INT64_MIN"; // no literal spells it
    else
      d << v.getSExtValue() << (v.getBitWidth() == 64 ? "LL" : "");
    d << ",";
  }
}

/// Bytes of one element of a parameter of C type `cType`.
static int elementBytes(StringRef cType) {
  if (cType == "float")
    return 4;
  if (cType == "bool")
    return 1;
  int bits = 0;
  cType.drop_front(strlen("std::int")).consumeInteger(10, bits);
  return bits / 8;
}

/// The Itanium-mangled name of `ns`::detail::`name` (a namespace-scope
/// variable: _ZN, each name with its length, E), which the code file's
/// extern declaration refers to on every ELF target.
static std::string mangledName(StringRef ns, StringRef name) {
  return ("_ZN" + std::to_string(ns.size()) + ns + "6detail" +
          std::to_string(name.size()) + name + "E")
      .str();
}

/// The element words of `p` (its bit patterns, as wide as its type).
static std::vector<uint64_t> elementWords(const ParamData &p) {
  std::vector<uint64_t> words;
  words.reserve(p.elements);
  if (p.cType == "float") {
    for (APFloat v : p.data.getValues<APFloat>())
      words.push_back(v.bitcastToAPInt().getZExtValue());
    return words;
  }
  for (APInt v : p.data.getValues<APInt>())
    words.push_back(v.getZExtValue() & llvm::maskTrailingOnes<uint64_t>(
                                           8 * elementBytes(p.cType)));
  return words;
}

/// One parameter with data as a top-level asm statement: its symbol,
/// global, in a section of its own (.rodata.* for constants, .data.* for
/// RAM parameters: the linker's --gc-sections drops unused ones as it did
/// the C++ arrays), aligned to 16 bytes, then its elements as hex words, 16
/// per line.
static void printAsmParam(llvm::raw_ostream &d, StringRef ns,
                          const ParamData &p) {
  std::string sym = mangledName(ns, p.name);
  int width = elementBytes(p.cType);
  d << "__asm__(\"\\t.pushsection " << (p.constant ? ".rodata." : ".data.")
    << sym << (p.constant ? ",\\\"a\\\"" : ",\\\"aw\\\"")
    << ",%progbits\\n\"\n        \"\\t.balign 16\\n\\t.globl " << sym
    << "\\n\\t.type " << sym << ", %object\\n\\t.size " << sym << ", "
    << p.elements * width << "\\n"
    << sym << ":\\n\"";
  std::vector<uint64_t> words = elementWords(p);
  const char *directive = width == 1   ? ".byte"
                          : width == 2 ? ".2byte"
                          : width == 4 ? ".4byte"
                                       : ".8byte";
  for (size_t i = 0; i < words.size(); ++i) {
    if (i % 16 == 0)
      d << (i ? "\\n\"" : "") << "\n        \"\\t" << directive << " ";
    else
      d << ",";
    d << llvm::format_hex(words[i], 2 + 2 * width);
  }
  d << "\\n\"\n        \"\\t.popsection\\n\");\n";
}

/// Whether every element of `p`'s data is zero (C++ writes those as `{}`:
/// RAM ones then go to .bss).
static bool allZero(const ParamData &p) {
  if (p.data.isSplat())
    return p.cType == "float" ? p.data.getSplatValue<APFloat>().isPosZero()
                              : p.data.getSplatValue<APInt>().isZero();
  return false;
}

std::string mcutrain::package::emitParamsSource(StringRef name,
                                                ArrayRef<ParamData> params,
                                                bool asText) {
  std::string data;
  llvm::raw_string_ostream d(data);
  d << "// Generated by mcutrain: parameter data. Do not edit.\n"
    << "#include <cstddef>\n#include <cstdint>\n\n";
  if (!asText)
    d << "// The data is assembler for ELF targets (see --params-text).\n"
      << "#if !defined(__ELF__)\n#error \"" << name
      << "_params.cpp holds ELF assembler: compile the model with "
         "--params-text for this toolchain\"\n#endif\n\n";
  d << "namespace " << name << " {\nnamespace detail {\n";
  for (const ParamData &p : params) {
    bool zero = p.data && allZero(p);
    if (p.data && !asText && !zero) {
      // Declared for the compiler (the code file declares it too), defined
      // by the assembler.
      d << "extern " << (p.constant ? "const " : "") << p.cType << " " << p.name
        << "[" << p.elements << "];\n";
      printAsmParam(d, name, p);
      continue;
    }
    // Constants need the extern declaration or they would be file-local.
    if (p.constant)
      d << "extern const " << p.cType << " " << p.name << "[" << p.elements
        << "];\n";
    d << (p.constant ? "const " : "") << p.cType << " " << p.name << "["
      << p.elements << "]";
    if (zero && !asText) {
      d << " = {}";
    } else if (p.data) {
      d << " = {";
      printElements(d, p);
      d << "\n}";
    }
    d << ";\n";
  }
  d << "} // namespace detail\n} // namespace " << name << "\n";
  return data;
}

std::vector<StateBlockInfo>
mcutrain::package::checkpointBlocks(ModuleOp module) {
  std::vector<StateBlockInfo> blocks;
  for (auto g : module.getOps<emitc::GlobalOp>()) {
    StringRef sym = g.getSymName();
    if (g.getConstSpecifier() || sym.starts_with("mcutrain_arena") ||
        sym == train::kDynamicMacsGlobal || sym == train::kSkipStepGlobal ||
        sym == train::kTinyPropRatioGlobal)
      continue;
    auto arr = cast<emitc::ArrayType>(g.getType());
    int64_t elementBytes =
        std::max<int64_t>(1, arr.getElementType().getIntOrFloatBitWidth() / 8);
    blocks.push_back({sym.str(), arr.getNumElements() * elementBytes});
  }
  return blocks;
}
