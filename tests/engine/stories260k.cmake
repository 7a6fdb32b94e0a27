# The end-to-end check against llama2.c: stories260K converted, compiled for the CPU and run
# greedily from BOS by mlcc-chat. In q0f32 it must print llama2.c's own greedy text; in q4
# formats (weights rounded to 4 bits, so another story) the text is shown and must be a
# fluent story of the same kind: the same opening, whole words, the reference's length.
# With -DKIND=vulkan (and -DFOLLOW=the follow-greedy tool) the library is compiled for
# that target and run on it: it must pick the CPU library's token at every step and print
# the CPU's text. In f16 formats a step where the CPU's top two logits are closer than f16
# rounding noise (follow-greedy's --tie) may go either way; the path is then still checked
# step by step, and the texts, which part there, are not compared.
# cmake -DMLCC=... -DMLCC_CHAT=... -DSHARED=../shared -DWORK=dir -DQUANT=q0f32
#       [-DKIND=vulkan -DFOLLOW=...] -P stories260k.cmake
set(src ${SHARED}/models/stories260K)
if(NOT EXISTS ${src}/stories260K.bin OR NOT EXISTS ${src}/tok512.bin
   OR NOT EXISTS ${src}/greedy_reference.txt)
  message(STATUS "SKIPPED: ../shared not present")
  return()
endif()
include(${CMAKE_CURRENT_LIST_DIR}/run_checked.cmake)
run(${MLCC} convert-weight ${src}/stories260K.bin --tokenizer ${src}/tok512.bin
    --quantization ${QUANT} -o ${WORK}/stories260K-${QUANT} --force)
if(NOT DEFINED KIND)
  set(KIND cpu)
endif()
set(lib ${WORK}/stories260K-${QUANT}-${KIND}.so)
run(${MLCC} compile ${src}/stories260K.bin --quantization ${QUANT} --target ${KIND} -o ${lib})
# Greedy text from mlcc-chat with library $lib on $device, into `out`.
function(chat lib device)
  # Not through run(): its ARGN would drop the empty prompt.
  execute_process(COMMAND ${MLCC_CHAT} --model ${WORK}/stories260K-${QUANT} --model-lib ${lib}
                          --device ${device} --template raw --prompt ""
                          --temperature 0 --max-new-tokens 256
                  OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "mlcc-chat exited with ${rc}:\n${err}")
  endif()
  set(out "${out}" PARENT_SCOPE)
endfunction()
if(NOT KIND STREQUAL "cpu")
  # Every step's pick must be the CPU's, and the logits close: in f32 to 1e-4, with f16
  # activations (rounded at other points of a differently ordered sum) to 1e-2, where a
  # race closer than 1e-3 of the top logit is a near-tie either pick passes.
  set(cpu_lib ${WORK}/stories260K-${QUANT}-cpu-ref.so)
  run(${MLCC} compile ${src}/stories260K.bin --quantization ${QUANT} --target cpu -o ${cpu_lib})
  set(tolerance 1e-2)
  set(tie 1e-3)
  if(QUANT STREQUAL "q0f32")
    set(tolerance 1e-4)
    set(tie 0)
  endif()
  run(${FOLLOW} ${cpu_lib} ${lib} ${WORK}/stories260K-${QUANT} --device ${KIND} --steps 256
      --tolerance ${tolerance} --tie ${tie})
  message(STATUS "${out}")
  if(out MATCHES "near-ties: 0")
    chat(${cpu_lib} cpu)
    set(cpu_out "${out}")
  else()
    message(STATUS "a near-tie on the CPU's path: the texts part there and are not compared")
  endif()
endif()
chat(${lib} ${KIND})
if(DEFINED cpu_out AND NOT out STREQUAL cpu_out)
  message(FATAL_ERROR "mlcc-chat on ${KIND} printed:\n[${out}]\non the CPU:\n[${cpu_out}]")
endif()
file(READ ${src}/greedy_reference.txt want)
if(NOT QUANT STREQUAL "q0f32")
  message(STATUS "mlcc-chat (${QUANT}) printed:\n${out}")
  string(REGEX MATCHALL "[A-Za-z']+" words "${out}")
  list(LENGTH words n)
  string(REGEX MATCHALL "[A-Za-z']+" want_words "${want}")
  list(LENGTH want_words n_want)
  math(EXPR min_words "${n_want} * 4 / 5")
  if(NOT out MATCHES "^Once upon a time" OR n LESS min_words OR NOT out MATCHES "^[ -~\n]+$")
    message(FATAL_ERROR "not a story like llama2.c's (${n} words against ${n_want})")
  endif()
  message(STATUS "${n} words (llama2.c's fp32 text: ${n_want}), printable, opens as it does")
  return()
endif()
if(NOT out STREQUAL want)
  message(FATAL_ERROR "mlcc-chat printed:\n[${out}]\nllama2.c printed:\n[${want}]")
endif()
message(STATUS "mlcc-chat prints llama2.c's greedy text")
