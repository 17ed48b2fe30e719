// What the per-kernel benches on QEMU's Cortex-M4 share (kernels_m4.cpp,
// int8_kernels_m4.cpp): a kernel call timed by SysTick under -icount and
// printed as one table row, instructions per call and per MAC.
#ifndef MCUTRAIN_BENCH_MEASURE_M4_H
#define MCUTRAIN_BENCH_MEASURE_M4_H

#include "semihosting.h"
#include "systick.h"

#include <cstdint>

namespace bench {

/// Instructions per SysTick tick (systick::calibrate's, set by main).
inline double instructionsPerTick = 40.0;

/// Runs `layer` `Reps` times; prints "name | MACs | instructions per call |
/// per MAC".
template <int Reps = 2, typename Layer>
void measure(const char *name, std::uint32_t macs, Layer layer) {
  std::uint64_t t0 = systick::ticks();
  for (int i = 0; i < Reps; ++i)
    layer();
  double instructions =
      double(systick::ticks() - t0) * instructionsPerTick / double(Reps);
  semihosting::Line line;
  line << name << " | " << (std::uint64_t)macs << " | "
       << (std::uint64_t)(instructions + 0.5) << " | ";
  line.fixed(float(instructions / double(macs)), 3);
  line.print();
}

} // namespace bench

#endif
