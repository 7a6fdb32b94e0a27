# `mlcc bench --profile` on a Vulkan device (lavapipe in CI): a small random Llama (the
# shape of tests/gpu/common.sh's) compiled for vulkan in q4f16_1, benchmarked with random
# weights; the profile table must name a quantized linear kernel and end with a total line.
# Prints SKIPPED where no Vulkan device is found.
# cmake -DMLCC=... -DWORK=dir -P bench_profile.cmake
include(${CMAKE_CURRENT_LIST_DIR}/run_checked.cmake)
run(${MLCC} devices)
if(NOT out MATCHES "\nvulkan:0 ")
  message(STATUS "SKIPPED: no Vulkan device\n${out}")
  return()
endif()
file(MAKE_DIRECTORY ${WORK})
file(WRITE ${WORK}/small.json [[
{"architectures": ["LlamaForCausalLM"], "vocab_size": 160, "hidden_size": 64,
 "intermediate_size": 96, "num_hidden_layers": 2, "num_attention_heads": 4,
 "num_key_value_heads": 2, "max_position_embeddings": 64, "rms_norm_eps": 1e-5,
 "rope_theta": 10000.0, "tie_word_embeddings": false, "hidden_act": "silu"}
]])
set(lib ${WORK}/small-q4f16_1-vulkan.so)
run(${MLCC} compile ${WORK}/small.json --quantization q4f16_1 --target vulkan -o ${lib})
run(${MLCC} bench --model-lib ${lib} --random-weights --device vulkan --generate-length 4
    --prompt-length 3 --profile)
message(STATUS "${out}")
# A row: kernel name, launches per step, microseconds per step, percent of the step, MB the
# kernel moves per step and GB/s.
set(row "[0-9]+ +[0-9]+\\.[0-9] +[0-9]+\\.[0-9]% +[0-9]+\\.[0-9][0-9] +[0-9]+\\.[0-9]\n")
if(NOT out MATCHES "\nprofile: one decode step on vulkan:0 [^\n]*\nkernel +launches +us/step +% time +MB/step +GB/s")
  message(FATAL_ERROR "no profile table header")
endif()
if(NOT out MATCHES "\n[A-Za-z0-9_]*(linear|matmul|gemv)[A-Za-z0-9_]* +${row}")
  message(FATAL_ERROR "the profile table names no linear kernel")
endif()
if(NOT out MATCHES "\ntotal +[0-9]+ +[0-9]+\\.[0-9] +100\\.0% +[0-9]+\\.[0-9][0-9] +[0-9]+\\.[0-9]\n")
  message(FATAL_ERROR "the profile table has no total line")
endif()
message(STATUS "the profile table names a linear kernel and has a total line")
