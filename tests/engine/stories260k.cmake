# The end-to-end check against llama2.c: stories260K converted (q0f32), compiled for the CPU
# and run greedily from BOS by mlcc-chat must print llama2.c's own greedy text.
# cmake -DMLCC=... -DMLCC_CHAT=... -DSHARED=../shared -DWORK=dir -P stories260k.cmake
set(src ${SHARED}/models/stories260K)
if(NOT EXISTS ${src}/stories260K.bin OR NOT EXISTS ${src}/tok512.bin
   OR NOT EXISTS ${src}/greedy_reference.txt)
  message(STATUS "SKIPPED: ${src} is not here")
  return()
endif()
function(run)
  execute_process(COMMAND ${ARGN} OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${ARGN} exited with ${rc}:\n${out}\n${err}")
  endif()
  set(out "${out}" PARENT_SCOPE)
endfunction()
run(${MLCC} convert-weight ${src}/stories260K.bin --tokenizer ${src}/tok512.bin
    --quantization q0f32 -o ${WORK}/stories260K-q0f32 --force)
run(${MLCC} compile ${src}/stories260K.bin --quantization q0f32 --target cpu
    -o ${WORK}/stories260K-q0f32-cpu.so)
# Not through run(): its ARGN would drop the empty prompt.
execute_process(COMMAND ${MLCC_CHAT} --model ${WORK}/stories260K-q0f32
                        --model-lib ${WORK}/stories260K-q0f32-cpu.so --template raw --prompt ""
                        --temperature 0 --max-new-tokens 256
                OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "mlcc-chat exited with ${rc}:\n${err}")
endif()
file(READ ${src}/greedy_reference.txt want)
if(NOT out STREQUAL want)
  message(FATAL_ERROR "mlcc-chat printed:\n[${out}]\nllama2.c printed:\n[${want}]")
endif()
message(STATUS "mlcc-chat prints llama2.c's greedy text")
