//===- UpdateAuto.cpp - fitting the training step into --sram -------------===//
//
// When the requested package is over the RAM budget, trial builds (with
// diagnostics silenced) find the densest update schemes that fit: `all`,
// the most trainable layers (`last:K`, K by bisection: RAM grows with K), a
// greedy pick of parameters from the output back, and bias-only. --update
// auto writes the one that trains the most parameter bytes; otherwise they
// are the error's suggestions.
//
//===----------------------------------------------------------------------===//
#include "compiler/Package/PackageParts.h"

#include "mlir/IR/Diagnostics.h"
#include "llvm/Support/raw_ostream.h"

#include <optional>

using namespace mlir;
using namespace mcutrain;
using namespace mcutrain::package;

namespace {

/// A denser-to-sparser update scheme that fits the budget.
struct Fit {
  std::string trainable;
  BuiltPackage pkg;
};

struct FitSearch {
  MLIRContext &ctx;
  StringRef onnxPath;
  const PackageOptions &opts;

  /// Builds with diagnostics silenced, training `trainable`.
  FailureOr<BuiltPackage> tryBuild(StringRef trainable) {
    ScopedDiagnosticHandler silence(&ctx,
                                    [](Diagnostic &) { return success(); });
    PackageOptions trial = opts;
    trial.training.trainable = trainable.str();
    trial.measureOriginalSchedule = false;
    return buildPackage(ctx, onnxPath, trial);
  }
  bool fitsBudget(const FailureOr<BuiltPackage> &p) {
    return succeeded(p) && p->memory.total <= opts.sramBytes;
  }

  /// The largest K with last:K fitting, up to `maxK` (0 if none).
  std::pair<int64_t, std::optional<BuiltPackage>> bisectLastK(int64_t maxK);
  /// Greedy by parameters, from the output back; nothing if no prefix of
  /// the picks fits.
  std::optional<Fit> greedyFit(const BuiltPackage &all,
                               const BuiltPackage &lastK);
};

std::pair<int64_t, std::optional<BuiltPackage>>
FitSearch::bisectLastK(int64_t maxK) {
  int64_t lo = 0, hi = maxK; // last:lo fits (0: none known)
  std::optional<BuiltPackage> best;
  while (lo < hi) {
    int64_t mid = (lo + hi + 1) / 2;
    FailureOr<BuiltPackage> p = tryBuild("last:" + std::to_string(mid));
    if (fitsBudget(p)) {
      lo = mid;
      best = std::move(*p);
    } else {
      hi = mid - 1;
    }
  }
  return {lo, std::move(best)};
}

/// Takes each trainable tensor whose RAM (with optimizer state) still fits
/// beside the smallest arena seen (last:K's), skipping those that do not -
/// so one huge layer near the output does not freeze everything before it.
/// The longest prefix of the picks that really fits is found by bisection
/// over builds.
std::optional<Fit> FitSearch::greedyFit(const BuiltPackage &all,
                                        const BuiltPackage &lastK) {
  int64_t perByte =
      std::max<int64_t>(1, (all.memory.params + all.memory.state) /
                               std::max<int64_t>(all.trainableBytes, 1));
  int64_t room = opts.sramBytes - lastK.memory.arena - lastK.memory.other;
  std::vector<std::string> picked;
  int64_t used = 0;
  for (auto it = all.trainableParams.rbegin(); it != all.trainableParams.rend();
       ++it) {
    int64_t cost = it->second * perByte;
    if (used + cost > room)
      continue;
    used += cost;
    picked.push_back(it->first);
  }
  auto spec = [&](size_t n) {
    std::string names;
    for (size_t i = 0; i < n; ++i)
      names += (i ? "," : "") + picked[i];
    return names;
  };
  size_t good = 0, bad = picked.size() + 1;
  std::optional<BuiltPackage> greedy;
  while (bad - good > 1) {
    size_t mid = (good + bad) / 2;
    FailureOr<BuiltPackage> p = tryBuild(spec(mid));
    if (fitsBudget(p)) {
      good = mid;
      greedy = std::move(*p);
    } else {
      bad = mid;
    }
  }
  if (!greedy)
    return std::nullopt;
  return Fit{spec(good), std::move(*greedy)};
}

/// The densest schemes that fit `opts.sramBytes`, the one that trains more
/// parameter bytes first. `all` is tried first.
std::vector<Fit> findFits(FitSearch &search, const BuiltPackage &requested) {
  std::vector<Fit> fits;
  // The dense build: the one just made (and over budget) when it trains
  // everything, else a trial.
  FailureOr<BuiltPackage> all = search.opts.training.trainable == "all"
                                    ? FailureOr<BuiltPackage>(requested)
                                    : search.tryBuild("all");
  if (search.fitsBudget(all)) {
    fits.push_back({"all", std::move(*all)});
    return fits;
  }
  // last:K for K up to the number of trainable tensors of the dense build
  // (at least the number of layers).
  auto [lastK, best] = search.bisectLastK(std::max<int64_t>(
      1, succeeded(all) ? all->trainableTensors : requested.trainableTensors));
  if (succeeded(all) && best)
    if (std::optional<Fit> greedy = search.greedyFit(*all, *best);
        greedy && greedy->pkg.trainableBytes > best->trainableBytes)
      fits.push_back(std::move(*greedy));
  if (best)
    fits.push_back({"last:" + std::to_string(lastK), std::move(*best)});
  FailureOr<BuiltPackage> bias = search.tryBuild("bias-only");
  if (search.fitsBudget(bias))
    fits.push_back({"bias-only", std::move(*bias)});
  llvm::stable_sort(fits, [](const Fit &a, const Fit &b) {
    return a.pkg.trainableBytes > b.pkg.trainableBytes;
  });
  return fits;
}

/// "... needs N B of RAM, over the budget ...; fits with: ..."
std::string overBudgetMessage(const PackageOptions &opts,
                              const BuiltPackage &requested,
                              ArrayRef<Fit> fits) {
  std::string text;
  llvm::raw_string_ostream os(text);
  describeOverrun(os, requested.memory, opts.sramBytes);
  if (opts.inferenceOnly) {
    os << "  inference keeps no training state; a smaller model or budget "
          "headroom is needed";
  } else if (fits.empty()) {
    os << "  no update scheme fits: not --trainable last:1, not bias-only";
  } else {
    os << "  fits with:";
    for (const Fit &f : fits)
      os << " --trainable " << f.trainable << " (RAM "
         << groupDigits(f.pkg.memory.total) << " B)"
         << (&f == &fits.back() ? "" : ",");
    os << "; or let --update auto choose";
  }
  return text;
}

} // namespace

LogicalResult mcutrain::package::resolveOverBudget(
    MLIRContext &ctx, StringRef onnxPath, const PackageOptions &opts,
    const BuiltPackage &requested, Location cli) {
  std::vector<Fit> fits;
  FitSearch search{ctx, onnxPath, opts};
  if (!opts.inferenceOnly)
    fits = findFits(search, requested);
  if (opts.update == "auto" && !fits.empty()) {
    Fit &chosen = fits.front();
    llvm::errs() << "mcutrain: --update auto: --trainable " << chosen.trainable
                 << " fits (RAM " << groupDigits(chosen.pkg.memory.total)
                 << " of " << groupDigits(opts.sramBytes) << " B)\n";
    if (!opts.measureOriginalSchedule)
      return writePackage(chosen.pkg, opts.outDir, cli);
    // Again with the original schedule measured (the trials skip it).
    PackageOptions final = opts;
    final.training.trainable = chosen.trainable;
    FailureOr<BuiltPackage> pkg = buildPackage(ctx, onnxPath, final);
    return failed(pkg) ? failure() : writePackage(*pkg, opts.outDir, cli);
  }
  return emitError(cli) << "the "
                        << (opts.inferenceOnly ? "inference" : "training step")
                        << " " << overBudgetMessage(opts, requested, fits),
         failure();
}
