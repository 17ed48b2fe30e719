// mcutrain_runtime.h - header-only runtime included by generated training
// code. Dependency-free: no heap, no exceptions, no RTTI, no STL containers;
// builds with arm-none-eabi-g++ for Cortex-M.
#ifndef MCUTRAIN_RUNTIME_H
#define MCUTRAIN_RUNTIME_H

#include <cstddef>
#include <cstdint>

namespace mcutrain {

/// What the last training step did.
struct StepStats {
  float loss = 0.0f;    // mean loss of the step's batch (NaN if rejected)
  bool skipped = false; // no update was applied
  bool rejected_input = false; // a label was out of range; nothing was run
  std::uint64_t macs = 0;      // multiply-accumulates the step performed
  float backprop_ratio = 1.0f; // share of the dense backward pass that ran
  std::uint32_t steps = 0;     // steps run since init()
  std::uint32_t skipped_steps = 0;
  // Sparse updates: the backward ratio each sparse layer used this step
  // (output first), owned by the generated code; null when dense.
  const float *layer_ratios = nullptr;
  std::size_t num_sparse_layers = 0;
  // The input or the loss was NaN/Inf (nothing was updated; counted in
  // skipped_steps), or a parameter's gradient was (that update was
  // dropped, the others applied).
  bool non_finite = false;
};

//===----------------------------------------------------------------------===//
// Sparse-update controller: the run-time decisions of TinyProp/TinyPropv2
// and DGSU. Generated code owns all state and scratch (planned in the
// arena or as globals); nothing here allocates.
//===----------------------------------------------------------------------===//

/// Sum of |d[i]|: TinyProp's local error of a layer (per sample).
inline float l1_norm(const float *d, std::size_t n) {
  float s = 0.0f;
  for (std::size_t i = 0; i < n; ++i)
    s += d[i] < 0.0f ? -d[i] : d[i];
  return s;
}

/// TinyProp hyperparameters (Rueb et al. 2023); tau > 0 turns on
/// TinyPropv2's step skipping.
struct TinyPropConfig {
  float s_min = 0.1f, s_max = 0.9f, zeta = 0.5f, tau = 0.0f;
};

/// Per-layer state: the running maximum of the local error.
struct TinyPropLayer {
  float y_max = 0.0f;
};

/// Backprop ratio of a layer at distance `depth` from the output (0 = last
/// layer) for local error y: (S_min + y (S_max - S_min) / Ymax) zeta^depth,
/// after Ymax = max(Ymax, y). A zero Ymax (no error seen yet) gives S_min.
inline float tinyprop_ratio(TinyPropLayer &layer, float y, unsigned depth,
                            const TinyPropConfig &c) {
  if (y > layer.y_max)
    layer.y_max = y;
  float r = c.s_min;
  if (layer.y_max > 0.0f)
    r += y * (c.s_max - c.s_min) / layer.y_max;
  for (unsigned i = 0; i < depth; ++i)
    r *= c.zeta;
  return r;
}

/// Elements to keep: clamp(round(n * ratio), 1, n).
inline std::size_t tinyprop_k(std::size_t n, float ratio) {
  if (n == 0)
    return 0;
  float k = (float)n * ratio + 0.5f;
  if (!(k >= 1.0f)) // also NaN
    return 1;
  return k >= (float)n ? n : (std::size_t)k;
}

/// TinyPropv2: skip the backward pass and the update when the output
/// error y is below tau times its running maximum (updated with y first).
/// Decided before any backward work.
inline bool tinyprop2_skip(TinyPropLayer &output, float y, float tau) {
  if (y > output.y_max)
    output.y_max = y;
  return tau > 0.0f && y < tau * output.y_max;
}

namespace detail {
inline float magnitude(float x) { return x < 0.0f ? -x : x; }
inline void swap(std::uint32_t &a, std::uint32_t &b) {
  std::uint32_t t = a;
  a = b;
  b = t;
}

/// Moves the k elements of idx[0..n) that come first under `before` (a
/// strict weak order) to idx[0..k), in no particular order. Quickselect with
/// median-of-three pivots: O(n) on average, no heap, no recursion.
template <typename Before>
void select_first(std::uint32_t *idx, std::size_t n, std::size_t k,
                  Before before) {
  std::size_t lo = 0, hi = n; // the boundary k lies in [lo, hi]
  while (k > lo && k < hi && hi - lo > 1) {
    std::size_t mid = lo + (hi - lo) / 2;
    if (before(idx[mid], idx[lo]))
      swap(idx[mid], idx[lo]);
    if (before(idx[hi - 1], idx[lo]))
      swap(idx[hi - 1], idx[lo]);
    if (before(idx[hi - 1], idx[mid]))
      swap(idx[hi - 1], idx[mid]);
    std::uint32_t pivot = idx[mid];
    swap(idx[mid], idx[hi - 1]);
    std::size_t store = lo;
    for (std::size_t i = lo; i + 1 < hi; ++i)
      if (before(idx[i], pivot))
        swap(idx[i], idx[store++]);
    swap(idx[store], idx[hi - 1]);
    // idx[lo..store) precede the pivot, now at `store`.
    if (store == k || store + 1 == k)
      return;
    if (store > k)
      hi = store;
    else
      lo = store + 1;
  }
}

/// Ascending order (insertion sort: the selections are small).
inline void sort_ascending(std::uint32_t *a, std::size_t n) {
  for (std::size_t i = 1; i < n; ++i) {
    std::uint32_t x = a[i];
    std::size_t j = i;
    for (; j > 0 && a[j - 1] > x; --j)
      a[j] = a[j - 1];
    a[j] = x;
  }
}
} // namespace detail

/// Keeps the k largest |v[i]| of v[0..n) and zeroes the others, in place;
/// the kept indices go to idx[0..k) ascending. Ties go to the lower index;
/// NaN counts as larger than any number (it is kept, so it shows). No
/// scratch beyond 16 counters: a radix select on the magnitudes' bit
/// patterns (monotone for non-negative floats), 4 bits per pass.
inline void keep_topk_abs(float *v, std::size_t n, std::size_t k,
                          std::int32_t *idx) {
  if (k > n)
    k = n;
  auto key = [v](std::size_t i) {
    std::uint32_t bits;
    __builtin_memcpy(&bits, &v[i], sizeof bits);
    return bits & 0x7FFFFFFFu;
  };
  // The k-th largest key: fixed nibble by nibble from the top; `rest` is
  // how many of the keys equal to the prefix are still to be taken.
  std::uint32_t prefix = 0, mask = 0;
  std::size_t rest = k;
  if (k > 0) {
    for (int shift = 28; shift >= 0; shift -= 4) {
      std::size_t count[16] = {};
      for (std::size_t i = 0; i < n; ++i) {
        std::uint32_t q = key(i);
        if ((q & mask) == prefix)
          ++count[(q >> shift) & 15u];
      }
      unsigned digit = 15;
      for (; digit > 0 && count[digit] < rest; --digit)
        rest -= count[digit];
      prefix |= (std::uint32_t)digit << shift;
      mask |= 15u << shift;
    }
  }
  std::size_t kept = 0;
  for (std::size_t i = 0; i < n; ++i) {
    std::uint32_t q = key(i);
    bool keep = k > 0 && (q > prefix || (q == prefix && rest > 0));
    if (keep && q == prefix)
      --rest;
    if (keep)
      idx[kept++] = (std::int32_t)i;
    else
      v[i] = 0.0f;
  }
}

/// True when every v[i] is a number (no NaN, no infinity): no exponent
/// has all its bits set. From 16 values on, the integer maxima over the
/// exponents are kept in 16 independent lanes (one running maximum stayed
/// a serial chain where n is not a compile-time constant: 704 ns for 640
/// values, 17 ns in lanes), the last n % 16 values read as one more block
/// of 16 ending at v[n - 1].
inline bool all_finite(const float *v, std::size_t n) {
  constexpr std::uint32_t kExponent = 0x7f800000u;
  constexpr std::size_t kLanes = 16;
  auto exponent = [&](std::size_t i) {
    std::uint32_t bits;
    __builtin_memcpy(&bits, &v[i], sizeof bits);
    return bits & kExponent;
  };
  std::uint32_t any = 0;
  if (n < kLanes) {
    for (std::size_t i = 0; i < n; ++i)
      any = exponent(i) > any ? exponent(i) : any;
    return any != kExponent;
  }
  std::uint32_t top[kLanes] = {};
  auto block = [&](std::size_t i0) {
    for (std::size_t l = 0; l < kLanes; ++l)
      top[l] = exponent(i0 + l) > top[l] ? exponent(i0 + l) : top[l];
  };
  for (std::size_t i = 0; i + kLanes <= n; i += kLanes)
    block(i);
  if (n % kLanes != 0)
    block(n - kLanes);
  for (std::size_t l = 0; l < kLanes; ++l)
    any = top[l] > any ? top[l] : any;
  return any != kExponent;
}

namespace detail {
/// max |v[i]| (NaN when some v[i] is NaN, else infinity when one is): as
/// the largest magnitude bits, which order like the magnitudes with NaN
/// and infinity above every finite value (a loop that vectorizes).
inline float largest_magnitude(const float *v, std::size_t n) {
  std::uint32_t top = 0;
  for (std::size_t i = 0; i < n; ++i) {
    std::uint32_t bits;
    __builtin_memcpy(&bits, &v[i], sizeof bits);
    bits &= 0x7fffffffu;
    top = bits > top ? bits : top;
  }
  float magnitude;
  __builtin_memcpy(&magnitude, &top, sizeof magnitude);
  return magnitude;
}
} // namespace detail

/// True when every product a[i] * b[j] (i < m, j < n) is finite, without
/// forming them: every factor is finite and so is max|a| * max|b| (float
/// rounding is monotone, so that product rounds to the largest of the
/// products' magnitudes; a NaN or infinite factor makes some product NaN or
/// infinite whenever the other vector is not empty). The magnitudes' bits
/// order like the magnitudes, NaN and infinity above every finite value.
inline bool outer_product_finite(const float *a, std::size_t m, const float *b,
                                 std::size_t n) {
  if (m == 0 || n == 0)
    return true;
  float product =
      detail::largest_magnitude(a, m) * detail::largest_magnitude(b, n);
  return all_finite(&product, 1);
}

/// True when every element of the rank-k gradient g = a^T b (a k x m, b
/// k x n; g[i][j] = sum over r of a[r][i] * b[r][j], summed in r order) is
/// finite, mostly without forming it: a NaN or infinite factor makes some
/// element non-finite (m, n > 0); finite factors whose bound sum over r of
/// max|a[r]| * max|b[r]| (in double) is below the float range by more than
/// the rounding of k products and sums (k <= 16: a factor of 1 + 2^-20;
/// the margin is 2^-10) cannot overflow. Past that margin every element
/// is formed and checked (rare: gradients near 3.4e38). The row maxima:
/// one vectorized pass over the factors (largest_magnitude).
inline bool low_rank_finite(const float *a, std::size_t km, const float *b,
                            std::size_t kn, std::size_t k) {
  if (k == 0 || km == 0 || kn == 0)
    return true;
  const std::size_t m = km / k, n = kn / k;
  double bound = 0.0;
  for (std::size_t r = 0; r < k; ++r) {
    float ta = detail::largest_magnitude(a + r * m, m);
    float tb = detail::largest_magnitude(b + r * n, n);
    if (!all_finite(&ta, 1) || !all_finite(&tb, 1))
      return false;
    bound += double(ta) * double(tb);
  }
  if (bound * (1.0 + 0x1p-10) <= double(0x1.fffffep127f))
    return true;
  for (std::size_t i = 0; i < m; ++i)
    for (std::size_t j = 0; j < n; ++j) {
      float g = a[i] * b[j];
      for (std::size_t r = 1; r < k; ++r)
        g += a[r * m + i] * b[r * n + j];
      if (!all_finite(&g, 1))
        return false;
    }
  return true;
}

/// The step's first skip decision, right after the loss: *skip = 1 when
/// the loss is not finite (the backward pass and updates then do not run),
/// else 0.
inline void skip_unless_finite(const float *loss, std::size_t n,
                               std::int32_t *skip) {
  *skip = all_finite(loss, n) ? 0 : 1;
}

/// One TinyProp layer's run-time step, called by the generated code with
/// the layer's output error `delta` (one sample, n elements): its local
/// error y = sum |delta|, the backprop ratio from the running maximum
/// (y_max[layer]), and the top k = min(tinyprop_k(n, ratio), kmax) errors
/// kept in place (the rest zeroed), their indices in idx[0..k), k in
/// *count, k / n in ratios[layer]. With tau > 0 (TinyPropv2, output layer)
/// it first decides whether the step's backward pass is skipped: then
/// *skip = 1 and nothing else is done (it never clears *skip: the
/// non-finite loss guard decided first).
inline void tinyprop_select(float *delta, std::size_t n, std::size_t kmax,
                            float *y_max, float *ratios, std::size_t layer,
                            unsigned depth, float s_min, float s_max,
                            float zeta, float tau, std::int32_t *idx,
                            std::int32_t *count, std::int32_t *skip) {
  float y = l1_norm(delta, n);
  TinyPropLayer state{y_max[layer]};
  if (tau > 0.0f) {
    bool skipped = tinyprop2_skip(state, y, tau);
    y_max[layer] = state.y_max;
    if (skipped) {
      *skip = 1;
      ratios[layer] = 0.0f;
      *count = 0;
      return;
    }
  }
  TinyPropConfig config{s_min, s_max, zeta, tau};
  float ratio = tinyprop_ratio(state, y, depth, config);
  y_max[layer] = state.y_max;
  std::size_t k = tinyprop_k(n, ratio);
  if (k > kmax)
    k = kmax;
  keep_topk_abs(delta, n, k, idx);
  *count = (std::int32_t)k;
  ratios[layer] = n ? (float)k / (float)n : 0.0f;
}

/// Channels a sparse update (static or DGSU) keeps: ceil(ratio * C) of the
/// decimal ratio, in [1, C]. The float product carries the ratio's rounding
/// (0.3f * 90 is 27.000002), so it is taken 1e-5 relative down first: 0.3
/// of 90 channels keeps 27, as the user reads it. The compiler's count
/// (sparsify) is this function, so both sides agree.
inline std::size_t dgsu_count(std::size_t channels, float ratio) {
  float m = ratio * (float)channels;
  m -= 1e-5f * (m > 1.0f ? m : 1.0f);
  std::size_t k = m > 0.0f ? (std::size_t)m : 0;
  if ((float)k < m)
    ++k;
  return k < 1 ? 1 : (k > channels ? channels : k);
}

/// Iterations within which DGSU visits every channel: ceil(C / m), which is
/// ceil(1 / ratio) when ratio * C is whole.
inline std::size_t dgsu_period(std::size_t channels, std::size_t m) {
  return (channels + m - 1) / m;
}

/// DGSU's channel choice for one iteration: m = dgsu_count channels, every
/// channel chosen at least once per D = dgsu_period iterations, the
/// remaining freedom spent on the most important channels. age[c] counts
/// the iterations since channel c was last chosen (zero-initialised,
/// updated here); importance[c] is e.g. running mean |activation| x
/// ||W[:, c]||.
///
/// Deadline scheduling: channel c must be chosen within its slack
/// s = D - 1 - min(age, D - 1) more iterations. Choosing now the q channels
/// of least slack, q = max over h of (#channels with s <= h) - m h, keeps
/// every future deadline satisfiable (m slots per iteration, C <= m D);
/// the other m - q slots go to importance. Equal slack breaks by
/// importance. Writes the chosen channels to out[] (ascending), returns m.
/// scratch holds C entries.
inline std::size_t dgsu_select(std::uint16_t *age, const float *importance,
                               std::size_t channels, float ratio,
                               std::uint32_t *out, std::uint32_t *scratch) {
  if (channels == 0)
    return 0;
  const std::uint16_t chosenMark = 0xFFFF;
  std::size_t m = dgsu_count(channels, ratio);
  std::size_t period = dgsu_period(channels, m);
  auto slack = [&](std::size_t c) -> std::size_t {
    std::size_t a = age[c];
    return a >= period - 1 ? 0 : period - 1 - a;
  };
  // Histogram of slack in scratch[0..period) (period <= channels).
  for (std::size_t h = 0; h < period; ++h)
    scratch[h] = 0;
  for (std::size_t c = 0; c < channels; ++c)
    ++scratch[slack(c)];
  std::size_t q = 0, atMost = 0;
  for (std::size_t h = 0; h < period; ++h) {
    atMost += scratch[h];
    if (atMost > m * h && atMost - m * h > q)
      q = atMost - m * h;
  }
  if (q > m)
    q = m;
  auto moreImportant = [importance](std::uint32_t a, std::uint32_t b) {
    if (importance[a] != importance[b])
      return importance[a] > importance[b];
    return a < b;
  };
  std::size_t chosen = 0;
  // Least slack first, level by level; a partial level by importance.
  for (std::size_t level = 0; level < period && chosen < q; ++level) {
    std::size_t count = 0;
    for (std::size_t c = 0; c < channels; ++c)
      if (slack(c) == level)
        scratch[count++] = (std::uint32_t)c;
    std::size_t take = q - chosen < count ? q - chosen : count;
    detail::select_first(scratch, count, take, moreImportant);
    for (std::size_t i = 0; i < take; ++i)
      out[chosen++] = scratch[i];
  }
  for (std::size_t i = 0; i < chosen; ++i)
    age[out[i]] = chosenMark;
  // The other slots: the most important channels not chosen yet.
  if (chosen < m) {
    std::size_t count = 0;
    for (std::size_t c = 0; c < channels; ++c)
      if (age[c] != chosenMark)
        scratch[count++] = (std::uint32_t)c;
    std::size_t take = m - chosen < count ? m - chosen : count;
    detail::select_first(scratch, count, take, moreImportant);
    for (std::size_t i = 0; i < take; ++i) {
      out[chosen++] = scratch[i];
      age[scratch[i]] = chosenMark;
    }
  }
  for (std::size_t c = 0; c < channels; ++c)
    age[c] = age[c] == chosenMark       ? 0
             : age[c] + 1 >= chosenMark ? chosenMark - 1
                                        : age[c] + 1;
  detail::sort_ascending(out, chosen);
  return chosen;
}

/// The generated code's form: signless int16/int32 arrays.
inline std::size_t dgsu_select(std::int16_t *age, const float *importance,
                               std::size_t channels, float ratio,
                               std::int32_t *out, std::int32_t *scratch) {
  return dgsu_select(reinterpret_cast<std::uint16_t *>(age), importance,
                     channels, ratio, reinterpret_cast<std::uint32_t *>(out),
                     reinterpret_cast<std::uint32_t *>(scratch));
}

/// Running importance of a channel: decay * old + (1 - decay) * value.
inline void update_importance(float &score, float value, float decay) {
  score = decay * score + (1.0f - decay) * value;
}

/// A trainable parameter of a generated model (for checkpoints, inspection).
struct ParamInfo {
  const char *name; // the ONNX initializer name
  float *data;      // lives in RAM; updated in place by train_step
  std::size_t size; // number of elements
  // An int8 weight (int8 training, --weight-update int8): its integers
  // (the storage bytes of its quantization type), and data is null.
  std::int8_t *int8_data = nullptr;
  // An int32 bias of an int8 layer (ONNX Runtime's QDQ): its integers, and
  // data is null.
  std::int32_t *int32_data = nullptr;
};

/// True when every label is a class index in [0, num_classes).
inline bool labels_valid(const std::int32_t *labels, std::size_t count,
                         std::int32_t num_classes) {
  for (std::size_t i = 0; i < count; ++i)
    if (labels[i] < 0 || labels[i] >= num_classes)
      return false;
  return true;
}

/// Index of the largest of n scores (first on ties), e.g. the predicted
/// class. NaN scores lose to any number.
inline std::size_t argmax(const float *scores, std::size_t n) {
  std::size_t best = 0;
  for (std::size_t i = 1; i < n; ++i)
    if (scores[i] > scores[best] || scores[best] != scores[best])
      best = i;
  return best;
}

} // namespace mcutrain

#endif // MCUTRAIN_RUNTIME_H
