// Semihosting output and exit for the QEMU firmware, without the C
// library's stdio (newlib's would link malloc): SYS_WRITE0 and
// SYS_EXIT_EXTENDED, on Arm (bkpt 0xAB) and RISC-V (ebreak).
#ifndef MCUTRAIN_SEMIHOSTING_H
#define MCUTRAIN_SEMIHOSTING_H

#include <cstddef>
#include <cstdint>

namespace semihosting {

#if defined(__riscv)
/// RISC-V's semihosting trap: ebreak between two marker instructions, all
/// uncompressed (QEMU reads the markers around the ebreak; M-mode without
/// paging, so no page alignment is needed: a .balign here broke the
/// linker's relaxation).
inline int call(int op, const void *arg) {
  register long a0 __asm__("a0") = op;
  register const void *a1 __asm__("a1") = arg;
  __asm__ volatile(".option push\n .option norvc\n"
                   " slli x0, x0, 0x1f\n ebreak\n srai x0, x0, 7\n"
                   ".option pop"
                   : "+r"(a0)
                   : "r"(a1)
                   : "memory");
  return (int)a0;
}
#else
inline int call(int op, const void *arg) {
  register int r0 __asm__("r0") = op;
  register const void *r1 __asm__("r1") = arg;
  __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
  return r0;
}
#endif

inline void write(const char *s) { call(0x04, s); }

/// Ends the QEMU run with `status` as its exit code.
[[noreturn]] inline void exit(int status) {
  const std::uint32_t block[2] = {0x20026u /* ApplicationExit */,
                                  (std::uint32_t)status};
  call(0x20, block);
  for (;;) {
  }
}

/// A small line builder: text, integers, fixed-point numbers.
class Line {
public:
  Line &operator<<(const char *s) {
    while (*s && n + 1 < sizeof buf)
      buf[n++] = *s++;
    buf[n] = 0;
    return *this;
  }
  Line &operator<<(std::uint64_t v) {
    char digits[24];
    int d = 0;
    do {
      digits[d++] = (char)('0' + v % 10);
      v /= 10;
    } while (v);
    while (d && n + 1 < sizeof buf)
      buf[n++] = digits[--d];
    buf[n] = 0;
    return *this;
  }
  Line &operator<<(int v) {
    if (v < 0) {
      *this << "-";
      v = -v;
    }
    return *this << (std::uint64_t)v;
  }
  /// `v` with `decimals` digits after the point.
  Line &fixed(float v, int decimals) {
    if (v != v)
      return *this << "nan";
    if (v < 0) {
      *this << "-";
      v = -v;
    }
    std::uint64_t scale = 1;
    for (int i = 0; i < decimals; ++i)
      scale *= 10;
    std::uint64_t q = (std::uint64_t)(v * (float)scale + 0.5f);
    *this << q / scale << ".";
    std::uint64_t frac = q % scale;
    for (std::uint64_t s = scale / 10; s > 0; s /= 10) {
      *this << (std::uint64_t)(frac / s);
      frac %= s;
    }
    return *this;
  }
  void print() {
    *this << "\n";
    write(buf);
    n = 0;
    buf[0] = 0;
  }

private:
  char buf[160] = {};
  std::size_t n = 0;
};

} // namespace semihosting

#endif
