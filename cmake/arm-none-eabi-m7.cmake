# Toolchain file: Cortex-M7 (hard float, FPv5 double precision) with
# arm-none-eabi-gcc.
set(MCU_FLAGS "-mcpu=cortex-m7 -mthumb -mfloat-abi=hard -mfpu=fpv5-d16")
include(${CMAKE_CURRENT_LIST_DIR}/arm-none-eabi-common.cmake)
