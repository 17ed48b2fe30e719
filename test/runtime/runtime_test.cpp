// Unit tests of runtime/mcutrain_runtime.h (host). Prints one line per
// check and a closing "N passed, M failed"; exits non-zero on a failure.
#include "mcutrain_runtime.h"

#include <cmath>
#include <cstdio>
#include <initializer_list>

static int passed = 0, failed = 0;

static void check(bool ok, const char *what) {
  std::printf("%s %s\n", ok ? "ok  " : "FAIL", what);
  (ok ? passed : failed)++;
}

static bool near(float a, float b) { return std::fabs(a - b) <= 1e-6f; }

/// A small deterministic generator for the randomised checks.
static std::uint32_t rng = 12345;
static std::uint32_t nextRandom() {
  rng = rng * 1664525u + 1013904223u;
  return rng >> 8;
}

static void testTinyProp() {
  mcutrain::TinyPropConfig c; // 0.1, 0.9, 0.5
  mcutrain::TinyPropLayer layer;
  const float d[4] = {1.0f, -2.0f, 0.5f, -0.5f};
  check(near(mcutrain::l1_norm(d, 4), 4.0f), "l1_norm sums magnitudes");
  // The first error is its own maximum: S_max at the output layer.
  check(near(mcutrain::tinyprop_ratio(layer, 4.0f, 0, c), 0.9f),
        "tinyprop: first error gives S_max");
  check(near(layer.y_max, 4.0f), "tinyprop: running max updated");
  // Half the maximum: S_min + 0.5 (S_max - S_min) = 0.5.
  check(near(mcutrain::tinyprop_ratio(layer, 2.0f, 0, c), 0.5f),
        "tinyprop: ratio interpolates by error / running max");
  check(near(layer.y_max, 4.0f), "tinyprop: a smaller error keeps the max");
  // Two layers from the output: damped by zeta^2 = 0.25.
  mcutrain::TinyPropLayer deep;
  deep.y_max = 4.0f;
  check(near(mcutrain::tinyprop_ratio(deep, 2.0f, 2, c), 0.125f),
        "tinyprop: zeta^depth damping");
  mcutrain::TinyPropLayer zero;
  check(near(mcutrain::tinyprop_ratio(zero, 0.0f, 0, c), 0.1f),
        "tinyprop: no error seen yet gives S_min");
  check(mcutrain::tinyprop_k(100, 0.125f) == 13, "tinyprop_k rounds");
  check(mcutrain::tinyprop_k(100, 0.001f) == 1, "tinyprop_k keeps one");
  check(mcutrain::tinyprop_k(10, 1.7f) == 10, "tinyprop_k caps at n");
  check(mcutrain::tinyprop_k(10, NAN) == 1, "tinyprop_k of NaN keeps one");
  mcutrain::TinyPropLayer out;
  check(!mcutrain::tinyprop2_skip(out, 8.0f, 0.05f),
        "tinyprop2: a new maximum never skips");
  check(mcutrain::tinyprop2_skip(out, 0.3f, 0.05f),
        "tinyprop2: error below tau * max skips");
  check(!mcutrain::tinyprop2_skip(out, 0.5f, 0.05f),
        "tinyprop2: error at tau * max runs");
  check(!mcutrain::tinyprop2_skip(out, 0.0f, 0.0f), "tinyprop2: tau 0 never "
                                                    "skips");
}

static void testTopK() {
  // Against a brute-force selection on random vectors with ties and signs.
  bool allOk = true;
  float v[300], orig[300];
  std::int32_t idx[300];
  bool keep[300];
  for (int trial = 0; trial < 400 && allOk; ++trial) {
    std::size_t n = 1 + nextRandom() % 300, k = nextRandom() % (n + 2);
    for (std::size_t i = 0; i < n; ++i)
      v[i] = orig[i] = (float)((int)(nextRandom() % 41) - 20) * 0.25f;
    if (trial % 7 == 0) { // huge and tiny magnitudes too
      std::size_t a = nextRandom() % n, b = nextRandom() % n;
      v[a] = orig[a] = orig[a] * 1e30f;
      v[b] = orig[b] = orig[b] * 1e-40f;
    }
    mcutrain::keep_topk_abs(v, n, k, idx);
    std::size_t kk = k > n ? n : k;
    // Expected: rank every element by (|v| desc, index asc).
    for (std::size_t i = 0; i < n; ++i) {
      std::size_t better = 0;
      for (std::size_t j = 0; j < n; ++j) {
        float a = std::fabs(orig[j]), b = std::fabs(orig[i]);
        better += a > b || (a == b && j < i);
      }
      keep[i] = better < kk;
    }
    std::size_t kept = 0;
    for (std::size_t i = 0; i < n; ++i) {
      allOk &= keep[i] ? v[i] == orig[i] : v[i] == 0.0f;
      if (keep[i])
        allOk &= kept < kk && idx[kept++] == (std::int32_t)i;
    }
    allOk &= kept == kk;
  }
  check(allOk, "keep_topk_abs matches a brute-force selection (400 random "
               "vectors, ties, k = 0..n+1): kept values intact, others "
               "zeroed, indices ascending");
  float one[3] = {0.0f, -5.0f, 4.0f};
  std::int32_t i1[3];
  mcutrain::keep_topk_abs(one, 3, 1, i1);
  check(i1[0] == 1 && one[1] == -5.0f && one[2] == 0.0f,
        "keep_topk_abs compares magnitudes");
  float withNan[3] = {1.0f, NAN, 2.0f};
  mcutrain::keep_topk_abs(withNan, 3, 1, i1);
  check(i1[0] == 1 && withNan[2] == 0.0f, "keep_topk_abs keeps a NaN");
}

static void testFinite() {
  const float ok[3] = {1.0f, -1e38f, 0.0f};
  const float bad[3][2] = {{1.0f, NAN}, {INFINITY, 0.0f}, {0.0f, -INFINITY}};
  check(mcutrain::all_finite(ok, 3), "all_finite accepts numbers");
  bool anyAccepted = false;
  for (const auto &b : bad)
    anyAccepted |= mcutrain::all_finite(b, 2);
  check(!anyAccepted, "all_finite rejects NaN, +inf, -inf");
  // Lengths below one block of lanes, whole blocks, and blocks with a tail
  // (read as an overlapping last block): the extremes of the finite range
  // pass, one non-finite value anywhere fails.
  float many[64];
  for (int i = 0; i < 64; ++i)
    many[i] = i % 3 == 0 ? 3.4028235e38f : i % 3 == 1 ? -1e-45f : -0.0f;
  bool rejected = false, missed = false;
  const int lengths[] = {1, 3, 4, 5, 7, 8, 10, 12, 15, 16, 17, 32, 37, 64};
  for (int n : lengths) {
    rejected |= !mcutrain::all_finite(many, n);
    for (int at = 0; at < n; ++at) {
      const float keep = many[at];
      many[at] = at % 2 ? -NAN : INFINITY;
      missed |= mcutrain::all_finite(many, n);
      many[at] = keep;
    }
  }
  check(!rejected, "all_finite accepts FLT_MAX, denormals");
  check(!missed, "all_finite finds a non-finite value at every position");

  // outer_product_finite(a, b) == all_finite(the products a[i] * b[j]):
  // overflow by a hair or not, non-finite factors (also against zeros,
  // whose products are NaN), empty factors.
  const float big = 1.8446744e19f; // 2^64: 2^64 * 2^64 = 2^128 overflows
  const float cases[][2][3] = {
      {{1.0f, -2.0f, 3.0f}, {0.5f, 0.0f, -4.0f}},
      {{big, 1.0f, 0.0f}, {1.0f, -big, 2.0f}},
      {{big * 0.99f, 1.0f, 0.0f}, {1.0f, -big, 2.0f}},
      {{3.4028235e38f, 0.0f, 0.0f}, {1.0f, 0.5f, -1.0f}},
      {{3.4028235e38f, 0.0f, 0.0f}, {1.0f, 1.0000001f, 0.0f}},
      {{NAN, 0.0f, 0.0f}, {0.0f, 0.0f, 0.0f}},
      {{0.0f, 0.0f, 0.0f}, {0.0f, -INFINITY, 0.0f}},
      {{1e-45f, -1e-45f, 0.0f}, {1e-45f, 3.0f, 1e30f}},
  };
  bool agrees = true;
  for (const auto &c : cases) {
    float products[9];
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j)
        products[i * 3 + j] = c[0][i] * c[1][j];
    agrees &= mcutrain::outer_product_finite(c[0], 3, c[1], 3) ==
              mcutrain::all_finite(products, 9);
  }
  // Factors of the lengths a Linear layer has (below one block of 16
  // lanes, above it with an overlapping last block, whole blocks): the
  // largest magnitude at every position of one factor, against one just
  // below and one at the overflow line.
  const int rows[] = {5, 10, 12, 20}, columns[] = {4, 9, 64};
  const float tops[] = {big * 0.99f, big};
  for (int m : rows)
    for (int n : columns)
      for (int at = 0; at < m; ++at)
        for (float top : tops) {
          float a[20], b[64], products[20 * 64];
          for (int i = 0; i < m; ++i)
            a[i] = i == at ? top : 0.5f + 0.01f * i;
          for (int j = 0; j < n; ++j)
            b[j] = j == n - 1 ? -big : -0.25f * j;
          for (int i = 0; i < m; ++i)
            for (int j = 0; j < n; ++j)
              products[i * n + j] = a[i] * b[j];
          agrees &= mcutrain::outer_product_finite(a, m, b, n) ==
                    mcutrain::all_finite(products, m * n);
        }
  check(agrees, "outer_product_finite agrees with the products' all_finite");
  check(!mcutrain::outer_product_finite(cases[1][0], 3, cases[1][1], 3) &&
            mcutrain::outer_product_finite(cases[2][0], 3, cases[2][1], 3),
        "outer_product_finite finds an overflow by a hair");
  check(mcutrain::outer_product_finite(cases[5][0], 3, cases[5][1], 0),
        "outer_product_finite of no products is finite");

  // low_rank_finite(a, b, k) == all_finite(g = a^T b summed in r order): the
  // bound's margin (sums just below the range pass without forming g, or
  // by the exact pass), overflow of the sum where no product overflows,
  // cancelling terms near the edge (finite: only the exact pass sees it),
  // non-finite factors, rank 1 and empty factors.
  auto lowRankAgrees = [](const float *a, const float *b, int m, int n, int k) {
    bool finite = true;
    for (int i = 0; i < m; ++i)
      for (int j = 0; j < n; ++j) {
        float g = a[i] * b[j];
        for (int r = 1; r < k; ++r)
          g += a[r * m + i] * b[r * n + j];
        finite &= mcutrain::all_finite(&g, 1);
      }
    return mcutrain::low_rank_finite(a, k * m, b, k * n, k) == finite;
  };
  const float half = 2e38f; // two of them overflow, one does not
  const float lowRank[][2][4] = {
      {{1.0f, 2.0f, -3.0f, 0.5f}, {0.25f, -1.0f, 4.0f, 2.0f}},
      {{half, 0.0f, half, 0.0f}, {1.0f, 0.0f, 1.0f, 0.0f}},
      {{half, 0.0f, half, 0.0f}, {1.0f, 0.0f, -1.0f, 0.0f}},
      {{half, 1.0f, 1.0f, 1.0f}, {1.0f, 1.0f, 1e-30f, 1.0f}},
      {{3e38f, 0.0f, 0.1f, 0.0f}, {1.0f, 0.0f, 4e37f, 0.0f}},
      {{NAN, 0.0f, 1.0f, 1.0f}, {0.0f, 0.0f, 1.0f, 1.0f}},
      {{1.0f, 1.0f, 1.0f, 1.0f}, {1.0f, INFINITY, 1.0f, 1.0f}},
  };
  bool lowRankOk = true;
  for (const auto &c : lowRank)
    for (int k : {1, 2})
      lowRankOk &= lowRankAgrees(c[0], c[1], 4 / k, 4 / k, k);
  // Rank 4 on rows longer than a block of lanes: one term at the edge.
  static float la[4 * 40], lb[4 * 24];
  for (int t = 0; t < 4 * 40; ++t)
    la[t] = 0.001f * (t % 17) - 0.008f;
  for (int t = 0; t < 4 * 24; ++t)
    lb[t] = 0.01f * (t % 5);
  for (float top : {1e38f, 3.4e38f}) {
    la[3 * 40 + 39] = top;
    lb[3 * 24 + 23] = 1.0f;
    lb[0] = 3.0f;
    la[0] = 1e38f;
    lowRankOk &= lowRankAgrees(la, lb, 40, 24, 4);
  }
  check(lowRankOk, "low_rank_finite agrees with the rank-k sums' all_finite");
  check(!mcutrain::low_rank_finite(lowRank[1][0], 4, lowRank[1][1], 4, 2) &&
            mcutrain::low_rank_finite(lowRank[2][0], 4, lowRank[2][1], 4, 2),
        "low_rank_finite: an overflowing sum, and one that cancels");
  check(mcutrain::low_rank_finite(lowRank[5][0], 4, lowRank[5][1], 0, 2),
        "low_rank_finite of no products is finite");
  std::int32_t skip = 7;
  float loss = 2.0f;
  mcutrain::skip_unless_finite(&loss, 1, &skip);
  check(skip == 0, "skip_unless_finite clears the flag for a finite loss");
  loss = NAN;
  mcutrain::skip_unless_finite(&loss, 1, &skip);
  check(skip == 1, "skip_unless_finite sets it for a NaN loss");
}

static void testTinyPropSelect() {
  // Output layer of 10 errors, hidden layer of 40 at depth 1; kmax as the
  // compiler sizes it: tinyprop_k(n, S_max zeta^depth).
  float ymax[2] = {0.0f, 0.0f}, ratios[2] = {1.0f, 1.0f};
  std::int32_t idx[40], count = -1, skip = 0;
  float out[10];
  for (int i = 0; i < 10; ++i)
    out[i] = (float)(i + 1) * (i % 2 ? -0.1f : 0.1f);
  mcutrain::tinyprop_select(out, 10, 9, ymax, ratios, 0, 0, 0.1f, 0.9f, 0.5f,
                            0.05f, idx, &count, &skip);
  check(skip == 0 && count == 9 && near(ratios[0], 0.9f) &&
            near(ymax[0], 5.5f) && out[0] == 0.0f && idx[0] == 1 && idx[8] == 9,
        "tinyprop_select: first step keeps S_max of the errors (top 9 of "
        "10), zeroes the smallest");
  float small[10] = {0.01f, 0.0f, 0.0f, 0.0f, 0.0f,
                     0.0f,  0.0f, 0.0f, 0.0f, -0.01f};
  mcutrain::tinyprop_select(small, 10, 9, ymax, ratios, 0, 0, 0.1f, 0.9f, 0.5f,
                            0.05f, idx, &count, &skip);
  check(skip == 1 && count == 0 && near(ymax[0], 5.5f) && small[0] == 0.01f,
        "tinyprop_select: TinyPropv2 skips a small error, touches nothing");
  float hidden[40];
  for (int i = 0; i < 40; ++i)
    hidden[i] = (float)((i * 7) % 40) - 19.5f;
  std::size_t kmax = mcutrain::tinyprop_k(40, 0.9f * 0.5f);
  mcutrain::tinyprop_select(hidden, 40, kmax, ymax, ratios, 1, 1, 0.1f, 0.9f,
                            0.5f, 0.0f, idx, &count, &skip);
  check(count == 18 && (std::size_t)count <= kmax && near(ratios[1], 0.45f),
        "tinyprop_select: depth 1 damps by zeta, within kmax");
  mcutrain::tinyprop_select(hidden, 40, 5, ymax, ratios, 1, 1, 0.1f, 0.9f, 0.5f,
                            0.0f, idx, &count, &skip);
  check(count == 5, "tinyprop_select: k clamped to kmax");
}

static void testDgsu() {
  check(mcutrain::dgsu_count(100, 0.02f) == 2 &&
            mcutrain::dgsu_count(96, 0.05f) == 5 &&
            mcutrain::dgsu_count(7, 0.01f) == 1 &&
            mcutrain::dgsu_count(90, 0.3f) == 27 &&
            mcutrain::dgsu_count(7, 0.5f) == 4 &&
            mcutrain::dgsu_count(8, 0.25f) == 2 &&
            mcutrain::dgsu_count(3, 1.0f) == 3 &&
            mcutrain::dgsu_count(1000, 0.0001f) == 1,
        "dgsu_count is ceil(ratio * C) of the decimal ratio, at least 1 "
        "(0.3 of 90 is 27, not the float product's 28)");
  check(mcutrain::dgsu_period(96, 5) == 20 &&
            mcutrain::dgsu_period(100, 10) == 10,
        "dgsu_period is ceil(C / m)");
  // Every channel within the period, exactly m distinct channels per
  // iteration, for several sizes and random changing importance.
  const std::size_t sizes[] = {1, 7, 32, 96, 100, 250};
  const float ratios[] = {0.02f, 0.05f, 0.1f, 0.3f, 1.0f};
  bool guarantee = true, exact = true, importanceUsed = false;
  for (std::size_t C : sizes)
    for (float ratio : ratios) {
      std::uint16_t age[250] = {};
      std::uint32_t last[250], out[250], scratch[250];
      float imp[250];
      std::size_t m = mcutrain::dgsu_count(C, ratio);
      std::size_t period = mcutrain::dgsu_period(C, m);
      for (std::size_t c = 0; c < C; ++c)
        last[c] = 0;
      for (std::uint32_t it = 1; it <= 300; ++it) {
        for (std::size_t c = 0; c < C; ++c)
          imp[c] = (float)(nextRandom() % 1000);
        std::size_t got =
            mcutrain::dgsu_select(age, imp, C, ratio, out, scratch);
        exact &= got == m;
        for (std::size_t i = 0; i < got; ++i) {
          exact &= out[i] < C && (i == 0 || out[i - 1] < out[i]);
          last[out[i]] = it;
        }
        for (std::size_t c = 0; c < C; ++c)
          guarantee &= it - last[c] < period;
      }
    }
  check(exact, "dgsu_select picks exactly m distinct channels, ascending");
  check(guarantee, "dgsu_select visits every channel within ceil(C/m) "
                   "iterations (300 iterations, random importance)");
  // With slack (C = 96, m = 5: 100 slots per 20 iterations), the first
  // choice is by importance.
  std::uint16_t age[96] = {};
  std::uint32_t out[96], scratch[96];
  float imp[96];
  for (int c = 0; c < 96; ++c)
    imp[c] = (float)c;
  mcutrain::dgsu_select(age, imp, 96, 0.05f, out, scratch);
  importanceUsed = out[0] == 91 && out[4] == 95;
  check(importanceUsed, "dgsu_select spends free slots on the most "
                        "important channels");
  check(age[95] == 0 && age[0] == 1, "dgsu_select ages the others");
}

int main() {
  const std::int32_t good[3] = {0, 4, 9};
  const std::int32_t negative[2] = {1, -1};
  const std::int32_t tooLarge[2] = {3, 10};
  check(mcutrain::labels_valid(good, 3, 10), "labels in range are valid");
  check(!mcutrain::labels_valid(negative, 2, 10),
        "a negative label is rejected");
  check(!mcutrain::labels_valid(tooLarge, 2, 10),
        "a label equal to the class count is rejected");
  check(mcutrain::labels_valid(good, 0, 10), "an empty batch is valid");

  const float scores[5] = {0.5f, 2.0f, -1.0f, 2.0f, 1.0f};
  check(mcutrain::argmax(scores, 5) == 1, "argmax takes the first maximum");
  const float one[1] = {-3.0f};
  check(mcutrain::argmax(one, 1) == 0, "argmax of one score");
  const float withNan[3] = {NAN, 1.0f, 0.0f};
  check(mcutrain::argmax(withNan, 3) == 1, "argmax skips a leading NaN");

  mcutrain::StepStats s;
  check(s.steps == 0 && s.skipped_steps == 0 && !s.skipped &&
            s.backprop_ratio == 1.0f,
        "StepStats starts empty");

  testTinyProp();
  testTopK();
  testTinyPropSelect();
  testFinite();
  testDgsu();

  std::printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
