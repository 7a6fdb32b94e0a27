#!/usr/bin/env bash
# Issue 7's GPU benchmark: Llama-2-7B's shape (examples/llama2.json, q4f16_1, random
# weights) on CUDA, in two halves because the GPU machine has no LLVM:
#   bench/gpu.sh prepare [TARGET...]  # here: a runtime-only mlcc and the model compiled for
#                                     # "cuda -arch=sm_90" (and each extra TARGET, e.g.
#                                     # "vulkan -f16=0") into gpu-bundle/bench/
#   bench/gpu.sh run                  # there: one table per library: decode tok/s (512
#                                     # tokens after a 1-token prompt), prefill tok/s (512
#                                     # tokens), the GPU memory in use (nvidia-smi's peak),
#                                     # decode against the bandwidth roof; on CUDA without
#                                     # graphs too; then one decode step kernel by kernel.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/vulkan-loader.sh
OUT=gpu-bundle/bench
case "${1:-}" in
  prepare)
    shift
    BUILD=${MLCC_BUILD_DIR:-build}
    RT=${MLCC_RUNTIME_BUILD_DIR:-build-runtime}
    cmake -S . -B "$BUILD" -G Ninja > /dev/null
    ninja -C "$BUILD" mlcc
    cmake -S . -B "$RT" -G Ninja -DCMAKE_BUILD_TYPE=Release -DMLCC_WITH_LLVM=OFF \
      -DMLCC_BUILD_TESTS=OFF -DMLCC_BUILD_PYTHON=OFF > /dev/null
    ninja -C "$RT" mlcc
    rm -rf "$OUT" && mkdir -p "$OUT"
    : > "$OUT/libraries.txt"
    i=0
    for target in "cuda -arch=sm_90" "$@"; do
      lib="llama2-$i.so"
      "$BUILD/tools/mlcc" compile examples/llama2.json --target "$target" -o "$OUT/$lib" \
        > /dev/null
      printf '%s\t%s\n' "$lib" "$target" >> "$OUT/libraries.txt"
      i=$((i + 1))
    done
    cp "$RT/tools/mlcc" "$OUT/"
    for lib in libsentencepiece.so.0 libpcre2-8.so.0; do
      cp -L "$(ldconfig -p | awk -v l="$lib" '$1 == l {print $NF; exit}')" "$OUT/"
    done
    if grep -q vulkan "$OUT/libraries.txt"; then fetch_vulkan_loader "$OUT/deb"; fi
    du -sh "$OUT"
    ;;
  run)
    export LD_LIBRARY_PATH="$PWD/$OUT${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
    [[ -d $OUT/deb ]] && use_vulkan_loader "$OUT/deb"
    # bench LIB DEVICE LABEL [mlcc bench flags]: the run's output, with the GPU memory
    # nvidia-smi saw in use at most while it ran.
    bench() {
      local lib=$1 device=$2 label=$3
      shift 3
      echo "## $label"
      nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 100 \
        > "$OUT/memory.log" 2> /dev/null &
      local smi=$!
      "$OUT/mlcc" bench --model-lib "$OUT/$lib" --random-weights --device "$device" \
        --generate-length 512 --prefill-length 512 "$@" || echo "FAILED: $label"
      kill $smi 2> /dev/null || true
      wait $smi 2> /dev/null || true
      echo "GPU memory in use (nvidia-smi, peak): $(sort -n "$OUT/memory.log" | tail -1) MiB"
      echo
    }
    while IFS=$'\t' read -r lib target; do
      case $target in
        cuda*)
          bench "$lib" cuda "$target, CUDA graphs" --profile
          MLCC_CUDA_GRAPHS=0 bench "$lib" cuda "$target, no graphs (MLCC_CUDA_GRAPHS=0)"
          ;;
        vulkan*) bench "$lib" vulkan "$target" --profile ;;
        *) echo "unknown target $target" ;;
      esac
    done < "$OUT/libraries.txt"
    ;;
  *) echo "usage: $0 prepare [TARGET...] | run" >&2; exit 2 ;;
esac
