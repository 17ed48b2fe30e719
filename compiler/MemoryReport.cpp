//===- MemoryReport.cpp - RAM summary, budget errors, memory.svg ----------===//
#include "compiler/MemoryReport.h"

#include "llvm/ADT/StringSet.h"

#include "mlir/Dialect/EmitC/IR/EmitC.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/FormatVariadic.h"

#include <cmath>
#include <cstdlib>

using namespace mlir;
using namespace mcutrain;

namespace {

int64_t bytesOf(Type t) {
  if (auto arr = dyn_cast<emitc::ArrayType>(t))
    return arr.getNumElements() * bytesOf(arr.getElementType());
  if (t.isIntOrFloat())
    return std::max<int64_t>(1, (t.getIntOrFloatBitWidth() + 7) / 8);
  return 0;
}

} // namespace

std::string mcutrain::groupDigits(int64_t v) {
  std::string s = std::to_string(v < 0 ? -v : v), out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i && (s.size() - i) % 3 == 0)
      out += ',';
    out += s[i];
  }
  return (v < 0 ? "-" : "") + out;
}

namespace {

std::string grouped(int64_t v) { return groupDigits(v); }

std::string xmlEscape(StringRef s) {
  std::string out;
  for (char c : s) {
    if (c == '<')
      out += "&lt;";
    else if (c == '>')
      out += "&gt;";
    else if (c == '&')
      out += "&amp;";
    else if (c == '"')
      out += "&quot;";
    else
      out += c;
  }
  return out;
}

} // namespace

MemorySummary mcutrain::summarizeMemory(ModuleOp module) {
  MemorySummary m;
  // Views (typed pointers into another arena) hold no bytes of their own.
  llvm::StringSet<> views;
  if (auto plan = module->getAttrOfType<DictionaryAttr>("mcutrain.memory_plan"))
    if (auto list = plan.getAs<ArrayAttr>("views"))
      for (Attribute a : list)
        views.insert(cast<DictionaryAttr>(a).getAs<StringAttr>("name"));
  for (auto g : module.getOps<emitc::GlobalOp>()) {
    if (g.getConstSpecifier() || views.contains(g.getSymName()))
      continue; // flash, or a view
    int64_t bytes = bytesOf(g.getType());
    StringRef name = g.getSymName();
    if (name.starts_with("mcutrain_arena"))
      m.arena += bytes;
    else if (name.contains("__state") || name.contains("__dgsu_"))
      m.state += bytes;
    else if (name.starts_with("mcutrain_"))
      m.other += bytes;
    else
      m.params += bytes;
  }
  m.total = m.arena + m.params + m.state + m.other;
  auto plan = module->getAttrOfType<DictionaryAttr>("mcutrain.memory_plan");
  if (!plan)
    return m;
  auto integer = [](DictionaryAttr d, StringRef key) -> int64_t {
    auto a = d ? d.getAs<IntegerAttr>(key) : nullptr;
    return a ? a.getInt() : 0;
  };
  auto string = [](DictionaryAttr d, StringRef key) -> std::string {
    auto a = d ? d.getAs<StringAttr>(key) : nullptr;
    return a ? a.str() : "";
  };
  m.lowerBound = integer(plan, "lower_bound_bytes");
  m.noReuse = integer(plan, "no_reuse_bytes");
  m.alignment = integer(plan, "alignment");
  auto peak = plan.getAs<DictionaryAttr>("peak");
  m.peakFunc = string(peak, "func");
  m.peakNode = string(peak, "node");
  m.peakPhase = string(peak, "phase");
  m.peakPosition = integer(peak, "position");
  m.peakBytes = integer(peak, "bytes");
  if (auto list = plan.getAs<ArrayAttr>("buffers"))
    for (Attribute a : list) {
      auto d = cast<DictionaryAttr>(a);
      m.buffers.push_back(
          {string(d, "name"), string(d, "kind"), string(d, "func"),
           string(d, "arena"), string(d, "dtype"), integer(d, "bytes"),
           integer(d, "offset"), integer(d, "first"), integer(d, "last")});
    }
  return m;
}

int64_t mcutrain::parseByteSize(StringRef text) {
  StringRef t = text.trim();
  size_t end = 0;
  while (end < t.size() && (isdigit((unsigned char)t[end]) || t[end] == '.'))
    ++end;
  if (end == 0)
    return -1;
  std::string number = t.take_front(end).str();
  char *stop = nullptr;
  double v = std::strtod(number.c_str(), &stop);
  if (!stop || *stop)
    return -1;
  StringRef unit = t.drop_front(end).trim();
  double scale;
  if (unit.empty() || unit.equals_insensitive("b"))
    scale = 1;
  else if (unit == "K" || unit == "k" || unit.equals_insensitive("kib"))
    scale = 1024;
  else if (unit.equals_insensitive("kb"))
    scale = 1000;
  else if (unit == "M" || unit.equals_insensitive("mib"))
    scale = 1024 * 1024;
  else if (unit.equals_insensitive("mb"))
    scale = 1000 * 1000;
  else
    return -1;
  double bytes = v * scale;
  if (!(bytes >= 1) || bytes > 1e12 || bytes != std::floor(bytes))
    return -1;
  return (int64_t)bytes;
}

void mcutrain::describeOverrun(raw_ostream &os, const MemorySummary &m,
                               int64_t budget) {
  os << "needs " << grouped(m.total) << " B of RAM, over the --sram budget of "
     << grouped(budget) << " B by " << grouped(m.total - budget) << " B\n"
     << "  arena " << grouped(m.arena) << " B (liveness lower bound "
     << grouped(m.lowerBound) << " B), trainable parameters "
     << grouped(m.params) << " B, optimizer state " << grouped(m.state)
     << " B, run-time scalars " << grouped(m.other) << " B\n";
  if (m.peakFunc.empty())
    return;
  os << "  the arena peaks at " << grouped(m.peakBytes) << " B live in @"
     << m.peakFunc << ", schedule step " << m.peakPosition;
  if (!m.peakNode.empty())
    os << ", ONNX node '" << m.peakNode << "' (" << m.peakPhase << ")";
  os << "; largest buffers live there:\n";
  std::vector<const MemoryBuffer *> live;
  for (const MemoryBuffer &b : m.buffers)
    if (b.func == m.peakFunc && b.first <= m.peakPosition &&
        m.peakPosition <= b.last)
      live.push_back(&b);
  llvm::stable_sort(live, [](const MemoryBuffer *a, const MemoryBuffer *b) {
    return a->bytes > b->bytes;
  });
  for (size_t i = 0; i < live.size() && i < 5; ++i)
    os << llvm::formatv("    {0,-36} {1,-10} {2,12} B (steps {3}..{4})\n",
                        live[i]->name, live[i]->kind, grouped(live[i]->bytes),
                        live[i]->first, live[i]->last);
}

namespace {

struct BufferKind {
  const char *name, *colour;
};
constexpr BufferKind kBufferKinds[] = {{"activation", "#4e79a7"},
                                       {"gradient", "#e15759"},
                                       // A fused conv chain's planes.
                                       {"scratch", "#76b7b2"},
                                       // Bit-packed gradient masks.
                                       {"mask", "#edc948"},
                                       // Forward tensors made again in
                                       // the backward pass (recompute).
                                       {"recomputed", "#b07aa1"},
                                       {"parameter", "#59a14f"},
                                       {"optimizer state", "#f28e2b"},
                                       {"run-time scalars", "#9c755f"}};

/// memory.svg: arena buffers over the schedule of one function, the
/// whole-step RAM above them, the budget line.
struct MemoryChart {
  const MemorySummary &m;
  int64_t budget;
  llvm::raw_ostream &os;
  std::string func = "forward";
  int64_t steps = 1, yMax = 1;
  static constexpr double width = 960, height = 560, left = 90, right = 190,
                          top = 40, bottom = 50;
  static constexpr double plotW = width - left - right,
                          plotH = height - top - bottom;

  MemoryChart(const MemorySummary &m, int64_t budget, llvm::raw_ostream &os)
      : m(m), budget(budget), os(os) {
    // The training step if there is one, else inference.
    for (const MemoryBuffer &b : m.buffers)
      if (b.func == "train_step")
        func = "train_step";
    for (const MemoryBuffer &b : m.buffers)
      if (b.func == func)
        steps = std::max(steps, b.last + 1);
    yMax = std::max<int64_t>({m.total, budget, 1});
  }
  double x(double step) const { return left + plotW * step / steps; }
  double y(double bytes) const { return top + plotH * (1 - bytes / yMax); }
  static const char *colour(StringRef kind) {
    for (const BufferKind &k : kBufferKinds)
      if (kind == k.name)
        return k.colour;
    return "#bab0ac";
  }

  void header() {
    os << llvm::formatv(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" "
        "width=\"{0}\" height=\"{1}\" font-family=\"sans-serif\" "
        "font-size=\"12\">\n",
        width, height);
    os << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
    os << llvm::formatv("<text x=\"{0}\" y=\"22\" font-size=\"15\">RAM of "
                        "@{1}: {2} B (arena {3} B, lower bound {4} B)</text>\n",
                        left, func, grouped(m.total), grouped(m.arena),
                        grouped(m.lowerBound));
  }

  /// Each arena's base: the main f32 arena at offset 0, others stacked
  /// above it in the order of the plan.
  std::vector<std::pair<std::string, int64_t>> arenaBases() const {
    std::vector<std::string> arenas;
    for (const MemoryBuffer &b : m.buffers)
      if (!llvm::is_contained(arenas, b.arena))
        arenas.push_back(b.arena);
    llvm::stable_sort(arenas, [](const std::string &a, const std::string &b) {
      return a == "mcutrain_arena" && b != "mcutrain_arena";
    });
    std::vector<std::pair<std::string, int64_t>> bases;
    int64_t base = 0;
    for (const std::string &arena : arenas) {
      bases.push_back({arena, base});
      int64_t end = 0;
      for (const MemoryBuffer &b : m.buffers)
        if (b.arena == arena)
          end = std::max(end, b.offset + b.bytes);
      base += end;
    }
    return bases;
  }

  void arenaBuffers() {
    auto bases = arenaBases();
    for (const MemoryBuffer &b : m.buffers) {
      if (b.func != func)
        continue;
      int64_t base = llvm::find_if(bases, [&](auto &a) {
                       return a.first == b.arena;
                     })->second;
      double y0 = y(base + b.offset + b.bytes), y1 = y(base + b.offset);
      // float32 unless the tooltip says otherwise.
      std::string dtype = b.dtype.empty() || b.dtype == "float32"
                              ? std::string()
                              : " " + b.dtype;
      os << llvm::formatv(
          "<rect x=\"{0:f1}\" y=\"{1:f1}\" width=\"{2:f1}\" "
          "height=\"{3:f1}\" fill=\"{4}\" stroke=\"white\" "
          "stroke-width=\"0.3\"><title>{5}: {6} B{11}, {7}, steps "
          "{8}..{9}, offset {10}</title></rect>\n",
          x(b.first), y0, std::max(0.5, x(b.last + 1) - x(b.first)),
          std::max(0.5, y1 - y0), colour(b.kind), xmlEscape(b.name),
          grouped(b.bytes), b.kind, b.first, b.last, b.offset, dtype);
    }
  }

  /// Whole-step RAM above the arena: parameters, optimizer state, scalars.
  void wholeStepBands() {
    int64_t at = m.arena;
    std::pair<const char *, int64_t> bands[] = {{"parameter", m.params},
                                                {"optimizer state", m.state},
                                                {"run-time scalars", m.other}};
    for (auto [kind, bytes] : bands) {
      if (bytes <= 0)
        continue;
      os << llvm::formatv("<rect x=\"{0}\" y=\"{1:f1}\" width=\"{2}\" "
                          "height=\"{3:f1}\" fill=\"{4}\" opacity=\"0.85\">"
                          "<title>{5}: {6} B (whole step)</title></rect>\n",
                          left, y(at + bytes), plotW,
                          std::max(0.5, y(at) - y(at + bytes)), colour(kind),
                          kind, grouped(bytes));
      at += bytes;
    }
  }

  void axes() {
    os << llvm::formatv("<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\" "
                        "stroke=\"black\"/>\n",
                        left, top, top + plotH);
    os << llvm::formatv("<line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\" "
                        "stroke=\"black\"/>\n",
                        left, top + plotH, left + plotW);
    for (int i = 0; i <= 4; ++i) {
      int64_t v = yMax * i / 4;
      os << llvm::formatv("<text x=\"{0}\" y=\"{1:f1}\" "
                          "text-anchor=\"end\">{2}</text>\n",
                          left - 6, y(v) + 4, grouped(v));
      int64_t st = steps * i / 4;
      os << llvm::formatv("<text x=\"{0:f1}\" y=\"{1}\" "
                          "text-anchor=\"middle\">{2}</text>\n",
                          x(st), top + plotH + 16, st);
    }
    os << llvm::formatv("<text x=\"{0:f1}\" y=\"{1}\" text-anchor=\"middle\">"
                        "schedule step (top-level op of @{2})</text>\n",
                        left + plotW / 2, height - 10, func);
    os << llvm::formatv("<text x=\"14\" y=\"{0:f1}\" transform=\"rotate(-90 "
                        "14 {0:f1})\" text-anchor=\"middle\">bytes (arena "
                        "offset, then whole-step RAM)</text>\n",
                        top + plotH / 2);
  }

  void budgetAndLegend() {
    if (budget > 0)
      os << llvm::formatv(
          "<line x1=\"{0}\" y1=\"{1:f1}\" x2=\"{2}\" y2=\"{1:f1}\" "
          "stroke=\"black\" stroke-dasharray=\"6 4\"/><text "
          "x=\"{2}\" y=\"{3:f1}\" text-anchor=\"end\">--sram "
          "{4} B</text>\n",
          left, y(budget), left + plotW, y(budget) - 4, grouped(budget));
    double ly = top + 10;
    for (const BufferKind &k : kBufferKinds) {
      os << llvm::formatv("<rect x=\"{0}\" y=\"{1}\" width=\"14\" "
                          "height=\"14\" fill=\"{2}\"/><text x=\"{3}\" "
                          "y=\"{4}\">{5}</text>\n",
                          left + plotW + 16, ly, k.colour, left + plotW + 36,
                          ly + 11, k.name);
      ly += 22;
    }
    os << "</svg>\n";
  }
};

} // namespace

std::string mcutrain::renderMemorySvg(const MemorySummary &m, int64_t budget) {
  std::string s;
  llvm::raw_string_ostream os(s);
  MemoryChart chart(m, budget, os);
  chart.header();
  chart.arenaBuffers();
  chart.wholeStepBands();
  chart.axes();
  chart.budgetAndLegend();
  return s;
}
