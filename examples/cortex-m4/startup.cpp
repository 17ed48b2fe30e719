/* Cortex-M4F start-up for QEMU's mps2-an386: vector table, .data copy,
 * .bss zeroing, FPU enable, C++ constructors, then main(); the firmware
 * ends the run itself with a semihosting exit (returning from main would
 * not stop QEMU). */
#include "semihosting.h"

#include <cstdint>

extern "C" {
extern std::uint32_t __data_load, __data_start, __data_end, __bss_start,
    __bss_end, __stack_top;
extern void (*__preinit_array_start[])(void), (*__preinit_array_end[])(void),
    (*__init_array_start[])(void), (*__init_array_end[])(void);
void SysTick_Handler(void);
void Reset_Handler(void);
}
int main();

extern "C" void Reset_Handler(void) {
  std::uint32_t *src = &__data_load, *dst = &__data_start;
  while (dst < &__data_end)
    *dst++ = *src++;
  for (dst = &__bss_start; dst < &__bss_end;)
    *dst++ = 0;
  /* CP10 and CP11 full access: the FPU, before any float instruction. */
  *(volatile std::uint32_t *)0xE000ED88 |= 0xFu << 20;
  __asm__ volatile("dsb\n isb");
  for (void (**f)(void) = __preinit_array_start; f < __preinit_array_end; ++f)
    (*f)();
  for (void (**f)(void) = __init_array_start; f < __init_array_end; ++f)
    (*f)();
  semihosting::exit(main());
}

/* A fault ends the run with status 3 instead of hanging. */
static void Fault_Handler(void) { semihosting::exit(3); }

__attribute__((section(".vectors"),
               used)) static void (*const vectors[16])(void) = {
    (void (*)(void))(&__stack_top),
    Reset_Handler,
    Fault_Handler, /* NMI */
    Fault_Handler, /* HardFault */
    Fault_Handler, /* MemManage */
    Fault_Handler, /* BusFault */
    Fault_Handler, /* UsageFault */
    0,
    0,
    0,
    0, /* reserved */
    0, /* SVCall */
    0,
    0, /* reserved, PendSV placeholder */
    0, /* PendSV */
    SysTick_Handler,
};
