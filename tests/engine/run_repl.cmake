# cmake -DPROGRAM=exe -DARGS="a|b" -DINPUT=file -P run_repl.cmake: feeds the file to the
# program's stdin and prints its stdout and stderr, for PASS_REGULAR_EXPRESSION.
string(REPLACE "|" ";" args "${ARGS}")
execute_process(COMMAND ${PROGRAM} ${args} INPUT_FILE ${INPUT} OUTPUT_VARIABLE out
                ERROR_VARIABLE err RESULT_VARIABLE rc)
message("${out}\n${err}\nexit code ${rc}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${PROGRAM} exited with ${rc}")
endif()
