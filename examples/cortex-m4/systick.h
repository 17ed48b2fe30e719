// SysTick as an instruction counter: under qemu-system-arm -icount shift=0
// one instruction takes one virtual nanosecond, and SysTick counts the
// processor clock, so ticks are instructions times a constant that
// calibrate() measures with a loop of known length. The program's vector
// table calls onWrap() from SysTick_Handler.
#ifndef MCUTRAIN_SYSTICK_H
#define MCUTRAIN_SYSTICK_H

#include <cstdint>

namespace systick {

#if defined(__riscv)
// RISC-V: the minstret counter counts retired instructions (under QEMU's
// -icount, exactly); there is no interrupt to take.
inline void onWrap() {}
inline void start() {}
inline std::uint64_t ticks() {
  std::uint32_t hi, lo, again;
  do {
    __asm__ volatile("csrr %0, minstreth" : "=r"(hi));
    __asm__ volatile("csrr %0, minstret" : "=r"(lo));
    __asm__ volatile("csrr %0, minstreth" : "=r"(again));
  } while (hi != again);
  return (std::uint64_t)hi << 32 | lo;
}
/// Instructions per tick (1 here), from a loop of 2 instructions per
/// iteration run 2,000,000 times as on Arm.
inline double calibrate(std::uint64_t &loopTicks) {
  std::uint64_t t0 = ticks();
  std::uint32_t n = 2000000;
  __asm__ volatile("1: addi %0, %0, -1\n bnez %0, 1b" : "+r"(n));
  loopTicks = ticks() - t0;
  return 4000000.0 / (double)(loopTicks ? loopTicks : 1);
}
#else
inline volatile std::uint32_t wraps = 0;
constexpr std::uint32_t kReload = 0xFFFFFF;
inline volatile std::uint32_t *const CSR = (std::uint32_t *)0xE000E010;
inline volatile std::uint32_t *const RVR = (std::uint32_t *)0xE000E014;
inline volatile std::uint32_t *const CVR = (std::uint32_t *)0xE000E018;

inline void onWrap() { wraps = wraps + 1; }

/// Starts the 24-bit counter on the processor clock, interrupting on wrap.
inline void start() {
  *RVR = kReload;
  *CVR = 0;
  *CSR = 0x7; // processor clock, interrupt, enable
  while (*CVR == 0) {
    // The counter loads its reload value on the first tick.
  }
}

/// Ticks since start (24-bit down counter plus wraps).
inline std::uint64_t ticks() {
  std::uint32_t w, value;
  do {
    w = wraps;
    value = *CVR;
  } while (w != wraps);
  return (std::uint64_t)w * (kReload + 1) + (kReload - value);
}

/// Instructions per tick, from a loop of 2 instructions per iteration run
/// 2,000,000 times; `loopTicks` is what it took.
inline double calibrate(std::uint64_t &loopTicks) {
  std::uint64_t t0 = ticks();
  std::uint32_t n = 2000000;
  __asm__ volatile("1: subs %0, %0, #1\n bne 1b" : "+r"(n));
  loopTicks = ticks() - t0;
  return 4000000.0 / (double)(loopTicks ? loopTicks : 1);
}
#endif

} // namespace systick

#endif
