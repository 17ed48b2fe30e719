# Toolchain file: Cortex-M55 (hard float, Helium/MVE) with arm-none-eabi-gcc.
# GCC 12 vectorizes the generated elementwise loops for Helium; the dense
# kernels are mcutrain_kernels_mcu.h's register tiles, Helium tiles for the
# stride-1 convolutions, SGD updates and int8 products (the host's vector
# kernels took 5.49 instructions per MAC here and more stack than the
# firmware has: MVE builds trained to NaN until they stopped being used on
# Cortex-M, docs/cortex-m4.md).
set(MCU_FLAGS "-mcpu=cortex-m55 -mthumb -mfloat-abi=hard")
include(${CMAKE_CURRENT_LIST_DIR}/arm-none-eabi-common.cmake)
