//===- MemoryReport.h - RAM summary, budget errors, memory.svg -*- C++ -*-===//
#ifndef MCUTRAIN_COMPILER_MEMORYREPORT_H
#define MCUTRAIN_COMPILER_MEMORYREPORT_H

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/raw_ostream.h"

#include <string>
#include <vector>

namespace mcutrain {

/// One planned arena buffer (plan-memory's `mcutrain.memory_plan`).
struct MemoryBuffer {
  std::string name, kind, func, arena, dtype;
  int64_t bytes = 0, offset = 0, first = 0, last = 0;
};

/// Everything the generated code keeps in RAM: the arenas, the trainable
/// parameters' RAM copies, the optimizer state and the run-time scalars.
/// Frozen parameters are flash and not counted.
struct MemorySummary {
  int64_t total = 0, arena = 0, params = 0, state = 0, other = 0;
  int64_t lowerBound = 0, noReuse = 0, alignment = 0;
  std::string peakFunc, peakNode, peakPhase;
  int64_t peakPosition = 0, peakBytes = 0;
  std::vector<MemoryBuffer> buffers;
};

/// Reads the plan attribute and the RAM globals of a planned module (before
/// translation to C++).
MemorySummary summarizeMemory(mlir::ModuleOp module);

/// 12345678 → "12,345,678".
std::string groupDigits(int64_t v);

/// "256KiB", "256K", "0.5MiB", "1MB", "262144": bytes, or -1 if malformed.
/// K/KiB and M/MiB are powers of 1024; KB and MB powers of 1000.
int64_t parseByteSize(llvm::StringRef text);

/// The over-budget explanation: the breakdown, the schedule point of the
/// arena's peak and the five largest buffers live there.
void describeOverrun(llvm::raw_ostream &os, const MemorySummary &m,
                     int64_t budget);

/// memory.svg: the step's buffers over the schedule (x: position, y: arena
/// offset) with the parameters and optimizer state above the arena, one
/// colour per kind; the budget as a line.
std::string renderMemorySvg(const MemorySummary &m, int64_t budget);

} // namespace mcutrain

#endif
