# Toolchain file: RISC-V RV32IMAFC (single-precision float, hard-float ABI)
# with Debian's riscv64-unknown-elf-gcc and picolibc. That toolchain has no
# C++ standard library: cmake/freestanding holds the few standard headers
# the generated code and the runtime use (<cstdint>, <cstddef>, <cmath>,
# <type_traits>) over picolibc's C headers.
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR riscv32)
set(CMAKE_C_COMPILER riscv64-unknown-elf-gcc)
set(CMAKE_CXX_COMPILER riscv64-unknown-elf-g++)
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)
set(MCU_FLAGS "-march=rv32imafc -mabi=ilp32f -mcmodel=medany --specs=picolibc.specs")
set(CMAKE_C_FLAGS_INIT "${MCU_FLAGS} -ffunction-sections -fdata-sections")
set(CMAKE_CXX_FLAGS_INIT
    "${MCU_FLAGS} -ffunction-sections -fdata-sections -fno-exceptions -fno-rtti -isystem ${CMAKE_CURRENT_LIST_DIR}/freestanding")
# (The link rule below passes the compile flags, --specs among them, again.)
set(CMAKE_EXE_LINKER_FLAGS_INIT "-nostartfiles -Wl,--gc-sections")
# No libstdc++ to link either: the C driver links (picolibc's libc, libm).
set(CMAKE_CXX_LINK_EXECUTABLE
    "riscv64-unknown-elf-gcc <FLAGS> <CMAKE_CXX_LINK_FLAGS> <LINK_FLAGS> <OBJECTS> -o <TARGET> <LINK_LIBRARIES>")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
