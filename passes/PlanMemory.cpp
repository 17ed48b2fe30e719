//===- PlanMemory.cpp - all buffers in one static arena by liveness -------===//
#include "passes/Passes.h"

#include "llvm/ADT/STLExtras.h"

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
  std::string name;
  int64_t bytes = 0;
  int64_t first = 0, last = 0; // top-level op positions, inclusive
  int64_t offset = -1;
};

std::string bufferName(Location loc, size_t index) {
  std::string base = "buffer";
  if (auto n = dyn_cast<NameLoc>(loc))
    base = n.getName().str();
  else if (auto f = dyn_cast<FusedLoc>(loc))
    for (Location l : f.getLocations())
      if (auto n = dyn_cast<NameLoc>(l)) {
        base = n.getName().str();
        break;
      }
  return base + "#" + std::to_string(index);
}

int64_t alignTo(int64_t x, int64_t a) { return (x + a - 1) / a * a; }

/// Largest-first placement at the lowest offset that fits between the
/// buffers already placed whose lifetimes overlap (greedy by size, the
/// heuristic of TFLite Micro and most MCU planners).
int64_t placeBuffers(std::vector<Buffer> &bufs, int64_t alignment) {
  std::vector<size_t> order(bufs.size());
  for (size_t i = 0; i < order.size(); ++i)
    order[i] = i;
  llvm::stable_sort(order, [&](size_t a, size_t b) {
    if (bufs[a].bytes != bufs[b].bytes)
      return bufs[a].bytes > bufs[b].bytes;
    return bufs[a].first < bufs[b].first;
  });
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
      }
      cursor = std::max(cursor, alignTo(hi, alignment));
    }
    buf.offset = bestOffset >= 0 ? bestOffset : cursor;
    arena = std::max(arena, buf.offset + buf.bytes);
    placed.push_back(i);
  }
  return alignTo(arena, alignment);
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

struct PlanMemoryPass
    : public mcutrain::impl::PlanMemoryPassBase<PlanMemoryPass> {
  using PlanMemoryPassBase::PlanMemoryPassBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = module.getContext();
    OpBuilder b(ctx);
    if (alignment < 4 || (alignment & (alignment - 1))) {
      module.emitError("alignment must be a power of two >= 4");
      return signalPassFailure();
    }
    if (module.lookupSymbol(kArenaName)) {
      module.emitError("memory is already planned");
      return signalPassFailure();
    }

    int64_t arenaBytes = 0, lowerBound = 0, noReuse = 0;
    SmallVector<Attribute> bufferAttrs;
    SmallVector<std::pair<func::FuncOp, std::vector<Buffer>>> plans;
    for (auto func : module.getOps<func::FuncOp>()) {
      if (func.isExternal())
        continue;
      if (!func.getBody().hasOneBlock()) {
        func.emitError("memory planning needs a straight-line function");
        return signalPassFailure();
      }
      Block &body = func.getBody().front();
      llvm::DenseMap<Operation *, int64_t> position;
      int64_t pos = 0;
      for (Operation &op : body)
        position[&op] = pos++;
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
        if (!t.getElementType().isF32() || t.getRank() != 1) {
          alloc.emitError("the arena holds flat f32 buffers only, got ") << t;
          return WalkResult::interrupt();
        }
        Buffer buf;
        buf.alloc = alloc;
        buf.name = bufferName(alloc.getLoc(), bufs.size());
        buf.bytes = alignTo(t.getNumElements() * 4, alignment);
        buf.first = buf.last = position[alloc];
        for (Operation *user : alloc->getUsers()) {
          if (!isa<memref::LoadOp, memref::StoreOp>(user)) {
            user->emitError("planned buffers may only be loaded and stored");
            return WalkResult::interrupt();
          }
          Operation *top = body.findAncestorOpInBlock(*user);
          buf.last = std::max(buf.last, position[top]);
        }
        bufs.push_back(std::move(buf));
        return WalkResult::advance();
      });
      if (r.wasInterrupted())
        return signalPassFailure();
      arenaBytes = std::max(arenaBytes, placeBuffers(bufs, alignment));
      lowerBound = std::max(lowerBound, liveLowerBound(bufs));
      int64_t sum = 0;
      for (const Buffer &buf : bufs) {
        sum += buf.bytes;
        bufferAttrs.push_back(DictionaryAttr::get(
            ctx, {b.getNamedAttr("func", b.getStringAttr(func.getSymName())),
                  b.getNamedAttr("name", b.getStringAttr(buf.name)),
                  b.getNamedAttr("bytes", b.getI64IntegerAttr(buf.bytes)),
                  b.getNamedAttr("offset", b.getI64IntegerAttr(buf.offset)),
                  b.getNamedAttr("first", b.getI64IntegerAttr(buf.first)),
                  b.getNamedAttr("last", b.getI64IntegerAttr(buf.last))}));
      }
      noReuse = std::max(noReuse, sum);
      plans.push_back({func, std::move(bufs)});
    }

    // The arena: one flat f32 global. Its alignment is in the plan attribute
    // (EmitC globals carry none; the C++ emitter adds alignas).
    b.setInsertionPointToStart(module.getBody());
    auto arenaType =
        MemRefType::get({std::max<int64_t>(arenaBytes / 4, 1)}, b.getF32Type());
    memref::GlobalOp::create(b, module.getLoc(), kArenaName,
                             b.getStringAttr("private"), arenaType, Attribute(),
                             /*constant=*/false, IntegerAttr());

    for (auto &[func, bufs] : plans) {
      if (bufs.empty())
        continue;
      Block &body = func.getBody().front();
      b.setInsertionPointToStart(&body);
      Value arena =
          memref::GetGlobalOp::create(b, func.getLoc(), arenaType, kArenaName);
      for (Buffer &buf : bufs) {
        int64_t offsetElems = buf.offset / 4;
        for (Operation *user :
             llvm::make_early_inc_range(buf.alloc->getUsers())) {
          b.setInsertionPoint(user);
          Location loc = user->getLoc();
          auto shifted = [&](Value idx) -> Value {
            if (offsetElems == 0)
              return idx;
            Value off = arith::ConstantIndexOp::create(b, loc, offsetElems);
            return arith::AddIOp::create(b, loc, idx, off);
          };
          if (auto ld = dyn_cast<memref::LoadOp>(user)) {
            Value v = memref::LoadOp::create(b, loc, arena,
                                             shifted(ld.getIndices()[0]));
            ld.replaceAllUsesWith(v);
            ld.erase();
          } else {
            auto st = cast<memref::StoreOp>(user);
            memref::StoreOp::create(b, loc, st.getValueToStore(), arena,
                                    shifted(st.getIndices()[0]));
            st.erase();
          }
        }
        buf.alloc.erase();
      }
    }

    module->setAttr(
        "mcutrain.memory_plan",
        DictionaryAttr::get(
            ctx,
            {b.getNamedAttr("arena_bytes", b.getI64IntegerAttr(arenaBytes)),
             b.getNamedAttr("lower_bound_bytes",
                            b.getI64IntegerAttr(lowerBound)),
             b.getNamedAttr("no_reuse_bytes", b.getI64IntegerAttr(noReuse)),
             b.getNamedAttr("alignment", b.getI64IntegerAttr(alignment)),
             b.getNamedAttr("buffers", b.getArrayAttr(bufferAttrs))}));
  }
};

} // namespace
