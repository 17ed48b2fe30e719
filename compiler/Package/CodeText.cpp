//===- CodeText.cpp - the edits of the translated C++ text ----------------===//
//
// The only two edits made on the C++ that EmitC translated, for constructs
// EmitC 22 cannot express: restrict-qualified parameters and an aligned
// global array. Both find a definition by its exact emitted shape and leave
// the text unchanged if it is absent. Tested by test/Target/code-text.test
// (mcutrain-opt --test-code-text).
//
//===----------------------------------------------------------------------===//
#include "compiler/Package/PackageParts.h"

using namespace mlir;
using namespace mcutrain;

/// The parameter list of the definition "<return type> <function>(...) {":
/// [open, close) in `code`, or nothing.
static std::optional<std::pair<size_t, size_t>>
findDefinitionParams(StringRef code, StringRef function) {
  std::string head = (" " + function + "(").str();
  for (size_t at = code.find(head); at != StringRef::npos;
       at = code.find(head, at + head.size())) {
    size_t lineStart = at == 0 ? 0 : code.rfind('\n', at - 1) + 1;
    size_t open = at + head.size();
    size_t close = code.find(')', open);
    if (close != StringRef::npos &&
        code.slice(lineStart, at).find(' ') == StringRef::npos &&
        code.substr(close).starts_with(") {\n"))
      return std::make_pair(open, close);
  }
  return std::nullopt;
}

/// Without restrict, g++ assumed any store to the arena could change
/// train_step's input and target (or labels, which may be the same array),
/// so a loss summed over the target went through memory, one dependent load
/// and store per element (a strided 1x1 layer's step 15 -> 13 us).
void mcutrain::package::restrictReadOnlyParams(std::string &code,
                                               StringRef function,
                                               size_t count) {
  auto range = findDefinitionParams(code, function);
  if (!range)
    return;
  auto [open, close] = *range;
  SmallVector<StringRef> params;
  StringRef(code).slice(open, close).split(params, ", ");
  std::string rewritten;
  for (size_t i = 0; i < params.size(); ++i) {
    StringRef param = params[i];
    // "float v1[64]" -> "float *__restrict v1"
    size_t bracket = param.find('['), space = param.rfind(' ', bracket);
    if (i < count && bracket != StringRef::npos && space != StringRef::npos)
      rewritten += (param.take_front(space) + " *__restrict " +
                    param.slice(space + 1, bracket))
                       .str();
    else
      rewritten += param.str();
    if (i + 1 < params.size())
      rewritten += ", ";
  }
  code.replace(open, close - open, rewritten);
}

/// The arena holds every planned buffer: it is aligned like its offsets.
void mcutrain::package::alignArenas(std::string &code, unsigned alignment) {
  std::string align = "alignas(" + std::to_string(alignment) + ") ";
  for (size_t at = code.find("static "); at != std::string::npos;
       at = code.find("static ", at + 1)) {
    size_t name = code.find(" mcutrain_arena", at);
    size_t eol = code.find('\n', at);
    if (name == std::string::npos || name > eol)
      continue;
    code.insert(at, align);
    at += align.size();
  }
}

void mcutrain::package::viewArenas(
    std::string &code,
    ArrayRef<std::pair<std::string, std::string>> viewsAndArenas) {
  for (const auto &[view, arena] : viewsAndArenas) {
    // "alignas(A) static int8_t mcutrain_arena_i8[N];" -> removed.
    size_t at = code.find(" " + view + "[");
    if (at == std::string::npos)
      continue;
    size_t lineStart = code.rfind('\n', at) + 1;
    size_t type = code.find("static ", lineStart) + 7;
    std::string cType = code.substr(type, at - type);
    code.erase(lineStart, code.find('\n', at) + 1 - lineStart);
    // After "... static float mcutrain_arena[N];": a pointer into it.
    size_t def = code.find(" " + arena + "[");
    if (def == std::string::npos)
      continue;
    size_t eol = code.find('\n', def) + 1;
    code.insert(eol, "static " + cType + " *const " + view +
                         " = reinterpret_cast<" + cType + " *>(" + arena +
                         ");\n");
  }
}
