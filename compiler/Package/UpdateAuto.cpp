//===- UpdateAuto.cpp - fitting the training step into --sram -------------===//
//
// When the requested package is over the RAM budget, trial builds (with
// diagnostics silenced) find the densest update schemes that fit: `all`,
// the most trainable layers (`last:K`, K by bisection: RAM grows with K), a
// greedy pick of parameters from the output back, and bias-only. --update
// auto with no --sparsity also tries static channel-sparse updates
// (`static:R`, R = 1/2, 1/4, 1/8: each trained Conv/Gemm weight updates
// that share of its input channels and saves only their features), which
// reach more layers in the same RAM. It writes the scheme under which
// training can change the most parameter bytes (a static sparse weight
// counts only its selected channels: the others never move; DGSU's
// channels change each step, so all of its weight counts), then the one
// needing least RAM, dense before sparse; report.json's `update_auto`
// lists every candidate. Static rather than DGSU: at the same ratio DGSU
// saves the same features plus its run-time selection's buffers (and with
// the classifier trained densely the two fine-tune alike,
// docs/sparse_experiment.md). Otherwise the fits are the error's
// suggestions.
//
//===----------------------------------------------------------------------===//
#include "compiler/Package/PackageParts.h"

#include "mlir/IR/Diagnostics.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

#include <optional>

using namespace mlir;
using namespace mcutrain;
using namespace mcutrain::package;

namespace {

/// The channel ratios --update auto tries with static sparse updates,
/// densest first.
constexpr const char *kStaticRatios[] = {"0.5", "0.25", "0.125"};

/// A denser-to-sparser update scheme that fits the budget.
struct Fit {
  std::string trainable, sparsity;
  BuiltPackage pkg;

  /// " --trainable T" and, when not the requested one, " --sparsity S".
  std::string flags(StringRef requestedSparsity) const {
    std::string text = " --trainable " + trainable;
    if (sparsity != requestedSparsity)
      text += " --sparsity " + sparsity;
    return text;
  }
};

struct FitSearch {
  MLIRContext &ctx;
  StringRef onnxPath;
  const PackageOptions &opts;

  /// Builds with diagnostics silenced, training `trainable` with
  /// `sparsity`.
  /// Under --recompute auto, one that does not fit is tried again
  /// recomputing every candidate (writeChosen settles how many it takes).
  FailureOr<BuiltPackage> tryBuild(StringRef trainable, StringRef sparsity) {
    ScopedDiagnosticHandler silence(&ctx,
                                    [](Diagnostic &) { return success(); });
    PackageOptions trial = opts;
    trial.training.trainable = trainable.str();
    trial.training.sparsity = sparsity.str();
    trial.measureOriginalSchedule = false;
    FailureOr<BuiltPackage> p = buildPackage(ctx, onnxPath, trial);
    if (fitsBudget(p) || trial.training.recompute != "auto")
      return p;
    trial.training.recompute = "all";
    FailureOr<BuiltPackage> recomputing = buildPackage(ctx, onnxPath, trial);
    return fitsBudget(recomputing) ? recomputing : p;
  }
  FailureOr<BuiltPackage> tryBuild(StringRef trainable) {
    return tryBuild(trainable, opts.training.sparsity);
  }
  bool fitsBudget(const FailureOr<BuiltPackage> &p) {
    return succeeded(p) && p->memory.total <= opts.sramBytes;
  }

  /// The largest K with last:K fitting under `sparsity`, up to `maxK` (0 if
  /// none).
  std::pair<int64_t, std::optional<BuiltPackage>>
  bisectLastK(int64_t maxK, StringRef sparsity);
  /// Greedy by parameters, from the output back; nothing if no prefix of
  /// the picks fits.
  std::optional<Fit> greedyFit(const BuiltPackage &all,
                               const BuiltPackage &lastK);
  /// With static channel-sparse updates at each of kStaticRatios: `all`, or
  /// else the largest last:K when it reaches more layers than `reached`
  /// (the dense last:K's) and the denser ratios.
  void addSparseFits(int64_t maxK, int64_t reached, std::vector<Fit> &fits);
};

std::pair<int64_t, std::optional<BuiltPackage>>
FitSearch::bisectLastK(int64_t maxK, StringRef sparsity) {
  int64_t lo = 0, hi = maxK; // last:lo fits (0: none known)
  std::optional<BuiltPackage> best;
  while (lo < hi) {
    int64_t mid = (lo + hi + 1) / 2;
    FailureOr<BuiltPackage> p =
        tryBuild("last:" + std::to_string(mid), sparsity);
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
  return Fit{spec(good), opts.training.sparsity, std::move(*greedy)};
}

void FitSearch::addSparseFits(int64_t maxK, int64_t reached,
                              std::vector<Fit> &fits) {
  for (const char *ratio : kStaticRatios) {
    std::string sparsity = std::string("static:") + ratio;
    FailureOr<BuiltPackage> all = tryBuild("all", sparsity);
    if (fitsBudget(all)) {
      fits.push_back({"all", sparsity, std::move(*all)});
      return; // a sparser ratio reaches no more layers and updates less
    }
    auto [lastK, best] = bisectLastK(maxK, sparsity);
    if (best && lastK > reached)
      fits.push_back(
          {"last:" + std::to_string(lastK), sparsity, std::move(*best)});
    reached = std::max(reached, lastK);
  }
}

/// Whether `a` is the better scheme: more parameter bytes training can
/// change, then less RAM (the order of `fits` breaks ties: dense first).
bool betterFit(const Fit &a, const Fit &b) {
  if (a.pkg.changeableBytes != b.pkg.changeableBytes)
    return a.pkg.changeableBytes > b.pkg.changeableBytes;
  return a.pkg.memory.total < b.pkg.memory.total;
}

/// The schemes that fit `opts.sramBytes`, the better first (betterFit).
/// `all` is tried first; static sparse schemes only for --update auto
/// without --sparsity.
std::vector<Fit> findFits(FitSearch &search, const BuiltPackage &requested) {
  const PackageOptions &opts = search.opts;
  std::vector<Fit> fits;
  // The dense build: the one just made (and over budget) when it trains
  // everything, else a trial.
  FailureOr<BuiltPackage> all = opts.training.trainable == "all"
                                    ? FailureOr<BuiltPackage>(requested)
                                    : search.tryBuild("all");
  if (search.fitsBudget(all)) {
    fits.push_back({"all", opts.training.sparsity, std::move(*all)});
    return fits;
  }
  // last:K for K up to the number of trainable tensors of the dense build
  // (at least the number of layers).
  int64_t maxK = std::max<int64_t>(
      1, succeeded(all) ? all->trainableTensors : requested.trainableTensors);
  auto [lastK, best] = search.bisectLastK(maxK, opts.training.sparsity);
  if (succeeded(all) && best)
    if (std::optional<Fit> greedy = search.greedyFit(*all, *best);
        greedy && greedy->pkg.trainableBytes > best->trainableBytes)
      fits.push_back(std::move(*greedy));
  if (best)
    fits.push_back({"last:" + std::to_string(lastK), opts.training.sparsity,
                    std::move(*best)});
  FailureOr<BuiltPackage> bias = search.tryBuild("bias-only");
  if (search.fitsBudget(bias))
    fits.push_back({"bias-only", opts.training.sparsity, std::move(*bias)});
  if (opts.update == "auto" && opts.training.sparsity == "none")
    search.addSparseFits(maxK, lastK, fits);
  llvm::stable_sort(fits, betterFit);
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
      os << f.flags(opts.training.sparsity) << " (RAM "
         << groupDigits(f.pkg.memory.total) << " B)"
         << (&f == &fits.back() ? "" : ",");
    os << "; or let --update auto choose";
  }
  return text;
}

/// report.json's `update_auto`: what --update auto compared and chose.
llvm::json::Object describeChoice(const PackageOptions &opts,
                                  ArrayRef<Fit> fits) {
  llvm::json::Array candidates;
  for (const Fit &f : fits)
    candidates.push_back(
        llvm::json::Object{{"trainable", f.trainable},
                           {"sparsity", f.sparsity},
                           {"ram_bytes", f.pkg.memory.total},
                           {"trainable_bytes", f.pkg.trainableBytes},
                           {"changeable_bytes", f.pkg.changeableBytes},
                           {"recomputed_tensors", f.pkg.recomputedTensors},
                           {"recomputed_macs", f.pkg.recomputedMacs}});
  return llvm::json::Object{
      {"budget_bytes", opts.sramBytes},
      {"objective",
       "the most parameter bytes training can change (a static sparse "
       "weight counts only its selected channels), then the least RAM, "
       "dense before sparse; a scheme over the budget as it is may "
       "recompute forward tensors (--recompute auto: then the fewest "
       "that fit; a candidate's recomputed_* is with every one)"},
      {"searched_sparsity", opts.training.sparsity == "none"},
      {"chosen", 0},
      {"candidates", std::move(candidates)}};
}

/// `pkg`'s report.json with `update_auto` added.
void recordChoice(BuiltPackage &pkg, llvm::json::Object choice) {
  llvm::Expected<llvm::json::Value> report = llvm::json::parse(pkg.report);
  if (!report) {
    llvm::consumeError(report.takeError());
    return;
  }
  report->getAsObject()->insert({"update_auto", std::move(choice)});
  pkg.report.clear();
  llvm::raw_string_ostream os(pkg.report);
  os << llvm::formatv("{0:2}", *report) << "\n";
}

/// Writes `fits.front()`, built again with the original schedule measured
/// when the package asks for it (the trials skip it).
LogicalResult writeChosen(MLIRContext &ctx, StringRef onnxPath,
                          const PackageOptions &opts, std::vector<Fit> &fits,
                          Location cli) {
  Fit &chosen = fits.front();
  llvm::json::Object choice = describeChoice(opts, fits);
  PackageOptions final = opts;
  final.training.trainable = chosen.trainable;
  final.training.sparsity = chosen.sparsity;
  std::optional<BuiltPackage> pkg;
  // A trial under --recompute auto that fitted only recomputing everything
  // settles how many it takes; one the user asked to recompute all is kept.
  if (chosen.pkg.recompute == "all" && opts.training.recompute == "auto")
    pkg = recomputeToFit(ctx, onnxPath, final);
  else if (!opts.measureOriginalSchedule)
    pkg = std::move(chosen.pkg);
  else if (FailureOr<BuiltPackage> p = buildPackage(ctx, onnxPath, final);
           succeeded(p))
    pkg = std::move(*p);
  if (!pkg)
    return emitError(cli) << "--update auto: the chosen scheme"
                          << chosen.flags(opts.training.sparsity)
                          << " did not build again within the budget",
           failure();
  llvm::errs() << "mcutrain: --update auto:"
               << chosen.flags(opts.training.sparsity) << " fits (RAM "
               << groupDigits(pkg->memory.total) << " of "
               << groupDigits(opts.sramBytes) << " B); "
               << groupDigits(pkg->changeableBytes)
               << " parameter bytes can change\n";
  recordChoice(*pkg, std::move(choice));
  return writePackage(*pkg, opts.outDir, cli);
}

} // namespace

std::optional<BuiltPackage>
mcutrain::package::recomputeToFit(MLIRContext &ctx, StringRef onnxPath,
                                  const PackageOptions &opts) {
  if (opts.training.recompute != "auto" || opts.inferenceOnly ||
      opts.sramBytes <= 0)
    return std::nullopt;
  auto build = [&](int64_t count) -> std::optional<BuiltPackage> {
    ScopedDiagnosticHandler silence(&ctx,
                                    [](Diagnostic &) { return success(); });
    PackageOptions trial = opts;
    trial.training.recompute = count < 0 ? "all" : std::to_string(count);
    trial.measureOriginalSchedule = false;
    FailureOr<BuiltPackage> p = buildPackage(ctx, onnxPath, trial);
    if (failed(p) || p->memory.total > opts.sramBytes)
      return std::nullopt;
    return std::move(*p);
  };
  std::optional<BuiltPackage> best = build(-1);
  if (!best || best->recomputedTensors == 0)
    return std::nullopt;
  // RAM falls roughly with the count: the fewest that fit, by bisection.
  int64_t tooFew = 0, enough = best->recomputedTensors;
  while (enough - tooFew > 1) {
    int64_t mid = (tooFew + enough) / 2;
    if (std::optional<BuiltPackage> p = build(mid)) {
      enough = mid;
      best = std::move(p);
    } else {
      tooFew = mid;
    }
  }
  if (opts.measureOriginalSchedule) {
    PackageOptions final = opts;
    final.training.recompute = std::to_string(enough);
    FailureOr<BuiltPackage> p = buildPackage(ctx, onnxPath, final);
    if (failed(p))
      return std::nullopt;
    best = std::move(*p);
  }
  llvm::errs() << "mcutrain: --recompute auto: recomputing " << enough
               << " forward tensor" << (enough == 1 ? "" : "s")
               << " in the backward pass (" << groupDigits(best->recomputedMacs)
               << " MACs a step) fits (RAM " << groupDigits(best->memory.total)
               << " of " << groupDigits(opts.sramBytes) << " B)\n";
  return best;
}

LogicalResult mcutrain::package::resolveOverBudget(
    MLIRContext &ctx, StringRef onnxPath, const PackageOptions &opts,
    const BuiltPackage &requested, Location cli) {
  std::vector<Fit> fits;
  FitSearch search{ctx, onnxPath, opts};
  if (!opts.inferenceOnly)
    fits = findFits(search, requested);
  if (opts.update == "auto" && !fits.empty())
    return writeChosen(ctx, onnxPath, opts, fits, cli);
  return emitError(cli) << "the "
                        << (opts.inferenceOnly ? "inference" : "training step")
                        << " " << overBudgetMessage(opts, requested, fits),
         failure();
}
