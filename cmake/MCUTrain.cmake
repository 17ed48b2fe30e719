# mcutrain_add_model(TARGET <target> ONNX <model.onnx> [NAME <name>]
#                    [OPTIONS <mcutrain compile options>...])
#
# Runs `mcutrain compile` at build time (again whenever the ONNX file
# changes) and adds the generated sources and their folder to <target>.
# The compiler is ${MCUTRAIN_EXECUTABLE} (found on PATH if unset).
# Sets <NAME>_MCUTRAIN_DIR to the package folder (report.json is there).
function(mcutrain_add_model)
  cmake_parse_arguments(ARG "" "TARGET;ONNX;NAME" "OPTIONS" ${ARGN})
  if(NOT ARG_TARGET OR NOT ARG_ONNX)
    message(FATAL_ERROR "mcutrain_add_model: TARGET and ONNX are required")
  endif()
  if(NOT ARG_NAME)
    get_filename_component(ARG_NAME ${ARG_ONNX} NAME_WE)
    string(MAKE_C_IDENTIFIER ${ARG_NAME} ARG_NAME)
  endif()
  if(NOT MCUTRAIN_EXECUTABLE)
    find_program(MCUTRAIN_EXECUTABLE mcutrain REQUIRED)
  endif()
  get_filename_component(onnx ${ARG_ONNX} ABSOLUTE)
  set(dir ${CMAKE_CURRENT_BINARY_DIR}/${ARG_NAME}_mcutrain)
  set(outputs ${dir}/${ARG_NAME}.h ${dir}/${ARG_NAME}.cpp
              ${dir}/${ARG_NAME}_params.cpp ${dir}/mcutrain_runtime.h
              ${dir}/mcutrain_kernels.h ${dir}/mcutrain_kernels_mcu.h
              ${dir}/mcutrain_int8_kernels.h
              ${dir}/mcutrain_checkpoint.h ${dir}/report.json)
  add_custom_command(
    OUTPUT ${outputs}
    COMMAND ${MCUTRAIN_EXECUTABLE} compile ${onnx} -o ${dir} --name ${ARG_NAME}
            ${ARG_OPTIONS}
    DEPENDS ${onnx} ${MCUTRAIN_EXECUTABLE}
    COMMENT "mcutrain: compiling ${ARG_ONNX}"
    VERBATIM)
  target_sources(${ARG_TARGET} PRIVATE ${dir}/${ARG_NAME}.cpp
                                       ${dir}/${ARG_NAME}_params.cpp)
  target_include_directories(${ARG_TARGET} PRIVATE ${dir})
  set(${ARG_NAME}_MCUTRAIN_DIR ${dir} PARENT_SCOPE)
endfunction()
