// Single-core FP32 peak: independent chains of fused multiply-adds on the
// widest vectors the compiler targets (-O3 -march=native), enough chains to
// cover the FMA latency on every port. Prints GFLOP/s (2 flops per lane per
// FMA), the best of several timed rounds.
#include <chrono>
#include <cstdio>

// The target's own register width and count: a wider vector type, or more
// chains than registers, measures spills instead (an AVX2 build of a
// 512-bit, 16-chain loop reported a fifth of the core's peak).
#if defined(__AVX512F__)
constexpr int kLanes = 16, kChains = 16; // 32 zmm registers
#elif defined(__AVX__)
constexpr int kLanes = 8, kChains = 12; // 16 ymm registers
#else
constexpr int kLanes = 4, kChains = 12; // 128-bit SIMD (or scalar pairs)
#endif
typedef float Vec __attribute__((vector_size(kLanes * sizeof(float))));

__attribute__((noinline)) void fmaChains(Vec *acc, Vec a, Vec b, long iters) {
  Vec r[kChains];
  for (int c = 0; c < kChains; ++c)
    r[c] = acc[c];
  for (long i = 0; i < iters; ++i)
    for (int c = 0; c < kChains; ++c)
      r[c] = r[c] * a + b; // contracted to one FMA per chain
  for (int c = 0; c < kChains; ++c)
    acc[c] = r[c];
}

int main() {
  Vec acc[kChains];
  for (int c = 0; c < kChains; ++c)
    for (int l = 0; l < kLanes; ++l)
      acc[c][l] = 0.001f * (c + l);
  Vec a, b;
  for (int l = 0; l < kLanes; ++l) {
    a[l] = 0.999999f;
    b[l] = 1e-7f;
  }
  const long iters = 20000000;
  double best = 0.0;
  for (int round = 0; round < 5; ++round) {
    auto t0 = std::chrono::steady_clock::now();
    fmaChains(acc, a, b, iters);
    auto t1 = std::chrono::steady_clock::now();
    double s = std::chrono::duration<double>(t1 - t0).count();
    double gflops = 2.0 * kLanes * kChains * double(iters) / s * 1e-9;
    if (gflops > best)
      best = gflops;
  }
  float sink = 0;
  for (int c = 0; c < kChains; ++c)
    for (int l = 0; l < kLanes; ++l)
      sink += acc[c][l];
  std::printf("fma_peak_gflops %.2f\n", best);
  std::printf("checksum %g\n", sink);
  return 0;
}
