# cmake -DPROGRAM=exe -DARGS="a|b|c" -DPROMPT=text -DEXPECTED=file -P run_and_compare.cmake
# Runs `PROGRAM ARGS... --prompt PROMPT` and fails unless it exits 0 with stdout exactly the
# expected file. The prompt travels apart because CMake drops empty list elements.
string(REPLACE "|" ";" args "${ARGS}")
execute_process(COMMAND ${PROGRAM} ${args} --prompt "${PROMPT}" OUTPUT_VARIABLE out
                ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${PROGRAM} exited with ${rc}:\n${err}")
endif()
file(READ ${EXPECTED} want)
if(NOT out STREQUAL want)
  message(FATAL_ERROR "stdout of ${PROGRAM} differs from ${EXPECTED}:\n[${out}]\nexpected:\n[${want}]")
endif()
message(STATUS "stdout matches ${EXPECTED}")
