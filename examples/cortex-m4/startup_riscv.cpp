/* RV32IMAFC start-up for QEMU's riscv32 virt board (-bios none: the reset
 * ROM jumps to 0x80000000): stack, .data copy, .bss zeroing, the FPU on
 * (mstatus.FS, before any float instruction), C++ constructors, then
 * main(); a trap ends the run with status 3, returning from main with
 * main's status (a semihosting exit: QEMU would not stop otherwise). */
#include "semihosting.h"

#include <cstdint>

extern "C" {
extern std::uint32_t __data_load, __data_start, __data_end, __bss_start,
    __bss_end, __stack_top;
extern void (*__preinit_array_start[])(void), (*__preinit_array_end[])(void),
    (*__init_array_start[])(void), (*__init_array_end[])(void);
void SysTick_Handler(void);
void start_c(void);
}
int main();

extern "C" __attribute__((naked, section(".text.start"))) void _start(void) {
  __asm__ volatile(".option push\n .option norelax\n"
                   " la gp, __global_pointer$\n"
                   ".option pop\n"
                   " la sp, __stack_top\n"
                   " j start_c");
}

/* A trap (an illegal instruction, a misaligned access) ends the run. */
extern "C" __attribute__((interrupt("machine"), aligned(4))) void
trap_handler(void) {
  semihosting::exit(3);
}

extern "C" void start_c(void) {
  __asm__ volatile("csrw mtvec, %0" ::"r"(&trap_handler));
  /* mstatus.FS = initial (01): float instructions allowed. */
  __asm__ volatile("csrs mstatus, %0" ::"r"(1u << 13));
  std::uint32_t *src = &__data_load, *dst = &__data_start;
  while (dst < &__data_end)
    *dst++ = *src++;
  for (dst = &__bss_start; dst < &__bss_end;)
    *dst++ = 0;
  for (void (**f)(void) = __preinit_array_start; f < __preinit_array_end; ++f)
    (*f)();
  for (void (**f)(void) = __init_array_start; f < __init_array_end; ++f)
    (*f)();
  semihosting::exit(main());
}
