# Toolchain file: Cortex-M55 (hard float, scalar FPv5: +nomve) with
# arm-none-eabi-gcc. Without +nomve GCC 12 vectorizes the generated loops
# for Helium (MVE), and those builds train to NaN on QEMU 7.2's
# mps3-an547 (docs/cortex-m4.md): not yet known whether the compiler or the
# emulator is at fault.
set(MCU_FLAGS "-mcpu=cortex-m55+nomve -mthumb -mfloat-abi=hard")
include(${CMAKE_CURRENT_LIST_DIR}/arm-none-eabi-common.cmake)
