//===- PlanMemory.cpp - all buffers in one static arena by liveness -------===//
#include "passes/Passes.h"

#include "llvm/ADT/SetVector.h"

#include "llvm/ADT/MapVector.h"

#include "llvm/ADT/STLExtras.h"
#include <cctype>
#include <functional>
#include <map>

namespace mcutrain {
#define GEN_PASS_DEF_PLANMEMORYPASS
#include "passes/Passes.h.inc"
} // namespace mcutrain

using namespace mlir;
using namespace mcutrain;

namespace {

constexpr StringLiteral kArenaName = "mcutrain_arena";

struct Buffer {
  memref::AllocOp alloc;
  Type element;            // the buffer's element type
  Type arena;              // its arena's (arenaElement)
  bool gradient = false;   // allocated by a backward op (derive-backward)
  DictionaryAttr chain;    // a fused conv chain's scratch (kConvChainAttr)
  bool mask = false;       // a bit-packed mask (pack-masks)
  bool recomputed = false; // a forward tensor made again (recompute)
  std::string name;
  std::string pointerName; // a C identifier for the generated code
  int64_t bytes = 0;
  int64_t first = 0, last = 0; // top-level op positions, inclusive
  int64_t offset = -1;
};

std::string bufferName(Location loc, size_t index) {
  std::string base = onnxNodeName(loc);
  return (base.empty() ? "buffer" : base) + "#" + std::to_string(index);
}

/// "act_<node>_<index>" or "grad_<node>_<index>", <node> the last two
/// components of the ONNX node's name as a C identifier ("/features/
/// features.0/Conv" -> features_0_Conv): the name of the buffer's pointer
/// in the generated code, unique within its function.
std::string pointerName(Location loc, bool gradient, size_t index) {
  std::string nodeName = onnxNodeName(loc);
  StringRef node = StringRef(nodeName).trim('/');
  size_t cut = node.rfind('/');
  if (cut != StringRef::npos && cut > 0)
    cut = node.rfind('/', cut - 1);
  if (cut != StringRef::npos)
    node = node.drop_front(cut + 1);
  std::string id;
  for (char c : node) {
    bool keep = isalnum((unsigned char)c) && (unsigned char)c < 0x80;
    if (keep)
      id += c;
    else if (!id.empty() && id.back() != '_')
      id += '_';
  }
  while (!id.empty() && id.back() == '_')
    id.pop_back();
  return (gradient ? "grad_" : "act_") + (id.empty() ? "buffer" : id) + "_" +
         std::to_string(index);
}

int64_t alignTo(int64_t x, int64_t a) { return (x + a - 1) / a * a; }

/// Bytes of one element in C (bool is a byte).
int64_t elementBytes(Type t) {
  return std::max<int64_t>(1, (t.getIntOrFloatBitWidth() + 7) / 8);
}

/// The arena a buffer of element type `t` lives in, by that arena's element
/// type: float32 and 8-bit buffers share the main one (a char type may
/// alias anything, so no type-based alias analysis reorders their accesses
/// across a reuse); other integers and bools have one arena per type.
Type arenaElement(Type t) {
  if (t.isInteger(8))
    return Float32Type::get(t.getContext());
  return t;
}

std::string arenaName(Type t) {
  if (t.isF32())
    return kArenaName.str();
  std::string s;
  llvm::raw_string_ostream os(s);
  os << kArenaName << "_" << t;
  return s;
}

/// Places `bufs` in `order`, each in a gap between the already placed
/// buffers whose lifetimes overlap it: the smallest gap that fits
/// (best-fit) or the lowest (first-fit). Returns the arena size.
int64_t placeInOrder(std::vector<Buffer> &bufs, ArrayRef<size_t> order,
                     int64_t alignment, bool bestFit) {
  int64_t arena = 0;
  std::vector<size_t> placed;
  for (size_t i : order) {
    Buffer &buf = bufs[i];
    std::vector<std::pair<int64_t, int64_t>> busy;
    for (size_t j : placed)
      if (bufs[j].first <= buf.last && buf.first <= bufs[j].last)
        busy.push_back({bufs[j].offset, bufs[j].offset + bufs[j].bytes});
    llvm::sort(busy);
    int64_t bestOffset = -1, bestGap = INT64_MAX, cursor = 0;
    for (auto [lo, hi] : busy) {
      int64_t gap = lo - cursor;
      if (gap >= buf.bytes && gap < bestGap) {
        bestGap = gap;
        bestOffset = cursor;
        if (!bestFit)
          break;
      }
      cursor = std::max(cursor, alignTo(hi, alignment));
    }
    buf.offset = bestOffset >= 0 ? bestOffset : cursor;
    arena = std::max(arena, buf.offset + buf.bytes);
    placed.push_back(i);
  }
  return alignTo(arena, alignment);
}

int64_t liveLowerBound(const std::vector<Buffer> &bufs);

/// Greedy placement under several orders (largest first, as TFLite Micro;
/// longest-lived first; biggest size x lifetime first; earliest first) and
/// both gap rules; keeps the smallest arena. Each try is O(n^2) in the
/// buffer count, which stays in the hundreds for MCU models.
int64_t placeBuffers(std::vector<Buffer> &bufs, int64_t alignment) {
  auto life = [&](size_t i) { return bufs[i].last - bufs[i].first + 1; };
  using Less = std::function<bool(size_t, size_t)>;
  Less orders[] = {
      [&](size_t a, size_t b) { return bufs[a].bytes > bufs[b].bytes; },
      [&](size_t a, size_t b) { return life(a) > life(b); },
      [&](size_t a, size_t b) {
        return bufs[a].bytes * life(a) > bufs[b].bytes * life(b);
      },
      [&](size_t a, size_t b) { return bufs[a].first < bufs[b].first; },
  };
  int64_t best = INT64_MAX;
  std::vector<int64_t> bestOffsets;
  std::vector<size_t> bestOrder;
  bool bestRule = true;
  auto consider = [&](ArrayRef<size_t> order, bool bestFit) {
    int64_t arena = placeInOrder(bufs, order, alignment, bestFit);
    if (arena >= best)
      return false;
    best = arena;
    bestOffsets.clear();
    for (const Buffer &b : bufs)
      bestOffsets.push_back(b.offset);
    bestOrder.assign(order.begin(), order.end());
    bestRule = bestFit;
    return true;
  };
  for (const Less &less : orders) {
    std::vector<size_t> order(bufs.size());
    for (size_t i = 0; i < order.size(); ++i)
      order[i] = i;
    // Ties: larger first, then earlier.
    llvm::stable_sort(order, [&](size_t a, size_t b) {
      if (less(a, b) != less(b, a))
        return less(a, b);
      if (bufs[a].bytes != bufs[b].bytes)
        return bufs[a].bytes > bufs[b].bytes;
      return bufs[a].first < bufs[b].first;
    });
    for (bool bestFit : {true, false})
      consider(order, bestFit);
  }
  // Then a local search from the best order: swap two buffers, keep the
  // order if the arena shrinks; stop at the lower bound. The generator is
  // seeded, so the plan is deterministic.
  int64_t bound = alignTo(liveLowerBound(bufs), alignment);
  size_t n = bufs.size();
  int64_t tries = n < 2 ? 0 : std::min<int64_t>(2000, 100000000 / (n * n));
  uint64_t state = 0x9E3779B97F4A7C15ull;
  auto next = [&]() {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return (size_t)(state >> 33);
  };
  for (int64_t t = 0; t < tries && best > bound; ++t) {
    std::vector<size_t> order = bestOrder;
    std::swap(order[next() % n], order[next() % n]);
    consider(order, bestRule);
  }
  for (size_t i = 0; i < bufs.size(); ++i)
    bufs[i].offset = bestOffsets[i];
  return bufs.empty() ? 0 : best;
}

/// Live bytes at every position `first..last` covers, as (position, bytes)
/// of the maximum: the schedule point a budget error names.
std::pair<int64_t, int64_t> livePeak(const std::vector<Buffer> &bufs) {
  std::map<int64_t, int64_t> delta;
  for (const Buffer &b : bufs) {
    delta[b.first] += b.bytes;
    delta[b.last + 1] -= b.bytes;
  }
  int64_t live = 0, peak = 0, at = 0;
  for (auto [pos, d] : delta) {
    live += d;
    if (live > peak) {
      peak = live;
      at = pos;
    }
  }
  return {at, peak};
}

/// Two buffers of one arena that are live at the same time must not share a
/// byte; a planner bug here would corrupt training silently, so it is
/// checked on every plan.
LogicalResult verifyNoOverlap(func::FuncOp func,
                              const std::vector<Buffer> &bufs) {
  for (size_t i = 0; i < bufs.size(); ++i)
    for (size_t j = i + 1; j < bufs.size(); ++j) {
      const Buffer &a = bufs[i], &b = bufs[j];
      if (a.arena != b.arena || a.last < b.first || b.last < a.first)
        continue;
      if (a.offset < b.offset + b.bytes && b.offset < a.offset + a.bytes)
        return func.emitError("internal error: planned buffers ")
               << a.name << " and " << b.name << " overlap while both live";
    }
  return success();
}

/// The most bytes live at one point: no placement can do better.
int64_t liveLowerBound(const std::vector<Buffer> &bufs) {
  std::vector<std::pair<int64_t, int64_t>> events;
  for (const Buffer &b : bufs) {
    events.push_back({b.first, b.bytes});
    events.push_back({b.last + 1, -b.bytes});
  }
  llvm::sort(events, [](auto x, auto y) {
    return x.first != y.first ? x.first < y.first : x.second < y.second;
  });
  int64_t live = 0, peak = 0;
  for (auto [t, d] : events) {
    live += d;
    peak = std::max(peak, live);
  }
  return peak;
}

/// Where the most bytes are live: the schedule point a budget error names.
struct Peak {
  std::string func;
  int64_t position = 0, bytes = 0;
  std::string node;
  bool backward = false;
};

/// The position of each top-level op of a function's body.
using Positions = llvm::DenseMap<Operation *, int64_t>;

/// The plan of every function of a module, built function by function.
struct Planner {
  MLIRContext *ctx;
  int64_t alignment;
  OpBuilder b;
  int64_t lowerBound = 0, noReuse = 0;
  llvm::MapVector<Type, int64_t> arenaOf; // bytes each arena needs
  // Element types read through a typed view of another arena (8-bit
  // buffers in the main one): a global the package makes a pointer.
  llvm::SetVector<Type> views;
  Peak peak;
  SmallVector<Attribute> bufferAttrs, chainAttrs;
  SmallVector<std::pair<func::FuncOp, std::vector<Buffer>>> plans;

  Planner(MLIRContext *ctx, int64_t alignment)
      : ctx(ctx), alignment(alignment), b(ctx) {}

  LogicalResult planFunction(func::FuncOp func);
  FailureOr<std::vector<Buffer>> collectBuffers(func::FuncOp func,
                                                const Positions &position);
  int64_t placeByElementType(std::vector<Buffer> &bufs);
  void recordPeak(func::FuncOp func, const std::vector<Buffer> &bufs,
                  const Positions &position);
  Attribute bufferAttr(func::FuncOp func, const Buffer &buf);
  Attribute chainAttr(const Buffer &buf);
  llvm::DenseMap<Type, MemRefType> createArenas(ModuleOp module,
                                                int64_t &arenaBytes);
  void rewriteUses(func::FuncOp func, std::vector<Buffer> &bufs,
                   const llvm::DenseMap<Type, MemRefType> &arenaTypes);
  void rewriteUser(Operation *user, Buffer &buf, Value arena);
  SmallVector<Attribute> viewAttrs();
  DictionaryAttr planAttr(int64_t arenaBytes);
};

LogicalResult Planner::planFunction(func::FuncOp func) {
  if (!func.getBody().hasOneBlock())
    return func.emitError("memory planning needs a straight-line function");
  Positions position;
  int64_t pos = 0;
  for (Operation &op : func.getBody().front())
    position[&op] = pos++;
  FailureOr<std::vector<Buffer>> bufs = collectBuffers(func, position);
  if (failed(bufs))
    return failure();
  lowerBound = std::max(lowerBound, placeByElementType(*bufs));
  if (failed(verifyNoOverlap(func, *bufs)))
    return failure();
  recordPeak(func, *bufs, position);
  int64_t sum = 0;
  for (const Buffer &buf : *bufs) {
    sum += buf.bytes;
    bufferAttrs.push_back(bufferAttr(func, buf));
    if (buf.chain)
      chainAttrs.push_back(chainAttr(buf));
  }
  noReuse = std::max(noReuse, sum);
  plans.push_back({func, std::move(*bufs)});
  return success();
}

/// Every allocation of the body, its size and the top-level positions of
/// its first and last use.
FailureOr<std::vector<Buffer>>
Planner::collectBuffers(func::FuncOp func, const Positions &position) {
  Block &body = func.getBody().front();
  std::vector<Buffer> bufs;
  // Shape-only operands of loops leave allocations nobody reads.
  func.walk([&](memref::AllocOp alloc) {
    if (alloc->use_empty())
      alloc.erase();
  });
  WalkResult r = func.walk([&](memref::AllocOp alloc) {
    if (alloc->getBlock() != &body) {
      alloc.emitError("allocation inside a region cannot be planned");
      return WalkResult::interrupt();
    }
    MemRefType t = alloc.getType();
    if (!t.getElementType().isIntOrFloat() || t.getRank() != 1) {
      alloc.emitError("the arena holds flat buffers of scalars only, got ")
          << t;
      return WalkResult::interrupt();
    }
    Buffer buf;
    buf.alloc = alloc;
    buf.element = t.getElementType();
    buf.arena = arenaElement(buf.element);
    buf.recomputed = isRecomputedLoc(alloc.getLoc());
    buf.gradient = isBackwardLoc(alloc.getLoc()) && !buf.recomputed;
    buf.chain = alloc->getAttrOfType<DictionaryAttr>(kConvChainAttr);
    buf.mask = isMaskLoc(alloc.getLoc());
    buf.name = bufferName(alloc.getLoc(), bufs.size());
    buf.pointerName = pointerName(alloc.getLoc(), buf.gradient, bufs.size());
    buf.bytes =
        alignTo(t.getNumElements() * elementBytes(buf.element), alignment);
    buf.first = buf.last = position.lookup(alloc);
    for (Operation *user : alloc->getUsers()) {
      if (!isa<memref::LoadOp, memref::StoreOp, train::RuntimeCallOp>(user)) {
        user->emitError("planned buffers may only be loaded and stored");
        return WalkResult::interrupt();
      }
      Operation *top = body.findAncestorOpInBlock(*user);
      buf.last = std::max(buf.last, position.lookup(top));
    }
    bufs.push_back(std::move(buf));
    return WalkResult::advance();
  });
  if (r.wasInterrupted())
    return failure();
  return bufs;
}

/// f32 and 8-bit buffers go to the main arena; the other integer and
/// boolean tensors to one arena per element type (arenaElement). Returns
/// the function's lower bound.
int64_t Planner::placeByElementType(std::vector<Buffer> &bufs) {
  int64_t funcBound = 0;
  SmallVector<Type> types;
  for (const Buffer &buf : bufs) {
    if (!llvm::is_contained(types, buf.arena))
      types.push_back(buf.arena);
    if (buf.arena != buf.element)
      views.insert(buf.element);
  }
  for (Type t : types) {
    std::vector<Buffer> group;
    for (const Buffer &buf : bufs)
      if (buf.arena == t)
        group.push_back(buf);
    int64_t &need = arenaOf[t];
    need = std::max(need, placeBuffers(group, std::max<int64_t>(
                                                  alignment, elementBytes(t))));
    funcBound += liveLowerBound(group);
    size_t k = 0;
    for (Buffer &buf : bufs)
      if (buf.arena == t)
        buf.offset = group[k++].offset;
  }
  return funcBound;
}

void Planner::recordPeak(func::FuncOp func, const std::vector<Buffer> &bufs,
                         const Positions &position) {
  auto [peakPos, peakBytes] = livePeak(bufs);
  if (peakBytes <= peak.bytes)
    return;
  Operation *at = nullptr;
  for (Operation &op : func.getBody().front())
    if (position.lookup(&op) == peakPos)
      at = &op;
  peak = {func.getSymName().str(), peakPos, peakBytes,
          at ? onnxNodeName(at->getLoc()) : "",
          at && isBackwardLoc(at->getLoc())};
}

/// What report.json and memory.svg call the buffer.
static StringRef bufferKind(const Buffer &buf) {
  if (buf.chain)
    return "scratch";
  if (buf.mask)
    return "mask";
  if (buf.recomputed)
    return "recomputed";
  return buf.gradient ? "gradient" : "activation";
}

Attribute Planner::bufferAttr(func::FuncOp func, const Buffer &buf) {
  return DictionaryAttr::get(
      ctx, {b.getNamedAttr("func", b.getStringAttr(func.getSymName())),
            b.getNamedAttr("name", b.getStringAttr(buf.name)),
            b.getNamedAttr("bytes", b.getI64IntegerAttr(buf.bytes)),
            b.getNamedAttr("offset", b.getI64IntegerAttr(buf.offset)),
            b.getNamedAttr("first", b.getI64IntegerAttr(buf.first)),
            b.getNamedAttr("last", b.getI64IntegerAttr(buf.last)),
            b.getNamedAttr("arena", b.getStringAttr(arenaName(buf.arena))),
            b.getNamedAttr("dtype", b.getStringAttr(dtypeName(buf.element))),
            b.getNamedAttr("kind", b.getStringAttr(bufferKind(buf)))});
}

/// A fused conv chain (fuse-conv-chains): its layers, the bytes of the
/// intermediate tensors it never materialises and of its scratch.
Attribute Planner::chainAttr(const Buffer &buf) {
  return DictionaryAttr::get(
      ctx, {b.getNamedAttr("layers", buf.chain.get("layers")),
            b.getNamedAttr("intermediate_bytes",
                           buf.chain.get("intermediate_bytes")),
            b.getNamedAttr("scratch_bytes", b.getI64IntegerAttr(buf.bytes))});
}

/// The arenas: one flat global per element type (f32 always). Their
/// alignment is in the plan attribute (EmitC globals carry none; the
/// package adds alignas).
llvm::DenseMap<Type, MemRefType> Planner::createArenas(ModuleOp module,
                                                       int64_t &arenaBytes) {
  b.setInsertionPointToStart(module.getBody());
  arenaOf.try_emplace(b.getF32Type(), 0);
  llvm::DenseMap<Type, MemRefType> arenaTypes;
  auto create = [&](Type t, int64_t bytes) {
    auto type =
        MemRefType::get({std::max<int64_t>(bytes / elementBytes(t), 1)}, t);
    arenaTypes[t] = type;
    memref::GlobalOp::create(b, module.getLoc(), arenaName(t),
                             b.getStringAttr("private"), type, Attribute(),
                             /*constant=*/false, IntegerAttr());
  };
  for (auto [t, bytes] : arenaOf) {
    arenaBytes += bytes;
    create(t, bytes);
  }
  for (Type t : views)
    create(t, arenaOf.lookup(arenaElement(t)));
  return arenaTypes;
}

/// Loads, stores and runtime calls of `buf` address the arena instead.
void Planner::rewriteUser(Operation *user, Buffer &buf, Value arena) {
  int64_t offsetElems = buf.offset / elementBytes(buf.element);
  b.setInsertionPoint(user);
  Location loc = user->getLoc();
  auto shifted = [&](Value idx) -> Value {
    if (offsetElems == 0)
      return idx;
    Value off = arith::ConstantIndexOp::create(b, loc, offsetElems);
    return arith::AddIOp::create(b, loc, idx, off);
  };
  if (auto call = dyn_cast<train::RuntimeCallOp>(user)) {
    // The runtime gets a pointer into the arena.
    SmallVector<int64_t> offsets(call.getArgs().size(), 0);
    if (auto old = call.getArenaOffsets())
      offsets.assign(old->begin(), old->end());
    SmallVector<StringRef> names(call.getArgs().size(), "");
    if (auto old = call.getArenaNames())
      names = llvm::to_vector(old->getAsValueRange<StringAttr>());
    for (OpOperand &arg : call.getArgsMutable())
      if (arg.get() == buf.alloc.getResult()) {
        offsets[arg.getOperandNumber()] = offsetElems;
        names[arg.getOperandNumber()] = buf.pointerName;
        arg.set(arena);
      }
    call.setArenaOffsets(offsets);
    call.setArenaNamesAttr(b.getStrArrayAttr(names));
  } else if (auto ld = dyn_cast<memref::LoadOp>(user)) {
    Value v =
        memref::LoadOp::create(b, loc, arena, shifted(ld.getIndices()[0]));
    ld.replaceAllUsesWith(v);
    ld.erase();
  } else {
    auto st = cast<memref::StoreOp>(user);
    memref::StoreOp::create(b, loc, st.getValueToStore(), arena,
                            shifted(st.getIndices()[0]));
    st.erase();
  }
}

void Planner::rewriteUses(func::FuncOp func, std::vector<Buffer> &bufs,
                          const llvm::DenseMap<Type, MemRefType> &arenaTypes) {
  Block &body = func.getBody().front();
  llvm::DenseMap<Type, Value> arenas;
  for (Buffer &buf : bufs) {
    Value &arena = arenas[buf.element];
    if (!arena) {
      b.setInsertionPointToStart(&body);
      arena = memref::GetGlobalOp::create(b, func.getLoc(),
                                          arenaTypes.lookup(buf.element),
                                          arenaName(buf.element));
    }
    // Each user once: a call given the buffer twice (an in-place kernel's
    // input and output) is rewritten whole at its first use.
    llvm::SetVector<Operation *> users(buf.alloc->user_begin(),
                                       buf.alloc->user_end());
    for (Operation *user : users)
      rewriteUser(user, buf, arena);
    buf.alloc.erase();
  }
}

/// The view globals: {name, arena} pairs, the typed pointers the package
/// declares into their arena.
SmallVector<Attribute> Planner::viewAttrs() {
  SmallVector<Attribute> out;
  for (Type t : views)
    out.push_back(b.getDictionaryAttr(
        {b.getNamedAttr("name", b.getStringAttr(arenaName(t))),
         b.getNamedAttr("arena",
                        b.getStringAttr(arenaName(arenaElement(t))))}));
  return out;
}

DictionaryAttr Planner::planAttr(int64_t arenaBytes) {
  auto peakAttr = b.getDictionaryAttr(
      {b.getNamedAttr("func", b.getStringAttr(peak.func)),
       b.getNamedAttr("position", b.getI64IntegerAttr(peak.position)),
       b.getNamedAttr("bytes", b.getI64IntegerAttr(peak.bytes)),
       b.getNamedAttr("node", b.getStringAttr(peak.node)),
       b.getNamedAttr(
           "phase", b.getStringAttr(peak.backward ? "backward" : "forward"))});
  SmallVector<NamedAttribute> fields = {
      b.getNamedAttr("arena_bytes", b.getI64IntegerAttr(arenaBytes)),
      b.getNamedAttr("lower_bound_bytes", b.getI64IntegerAttr(lowerBound)),
      b.getNamedAttr("no_reuse_bytes", b.getI64IntegerAttr(noReuse)),
      b.getNamedAttr("alignment", b.getI64IntegerAttr(alignment)),
      b.getNamedAttr("peak", peakAttr),
      b.getNamedAttr("buffers", b.getArrayAttr(bufferAttrs))};
  if (!views.empty())
    fields.push_back(b.getNamedAttr("views", b.getArrayAttr(viewAttrs())));
  if (!chainAttrs.empty())
    fields.push_back(b.getNamedAttr("conv_chains", b.getArrayAttr(chainAttrs)));
  return DictionaryAttr::get(ctx, fields);
}

struct PlanMemoryPass
    : public mcutrain::impl::PlanMemoryPassBase<PlanMemoryPass> {
  using PlanMemoryPassBase::PlanMemoryPassBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (alignment < 4 || (alignment & (alignment - 1))) {
      module.emitError("alignment must be a power of two >= 4");
      return signalPassFailure();
    }
    if (module.lookupSymbol(kArenaName)) {
      module.emitError("memory is already planned");
      return signalPassFailure();
    }
    Planner planner(module.getContext(), alignment);
    for (auto func : module.getOps<func::FuncOp>())
      if (!func.isExternal() && failed(planner.planFunction(func)))
        return signalPassFailure();
    int64_t arenaBytes = 0;
    auto arenaTypes = planner.createArenas(module, arenaBytes);
    for (auto &[func, bufs] : planner.plans)
      if (!bufs.empty())
        planner.rewriteUses(func, bufs, arenaTypes);
    module->setAttr("mcutrain.memory_plan", planner.planAttr(arenaBytes));
  }
};

} // namespace
