#!/usr/bin/env bash
# Prefill linear layers on CUDA at Llama-2-7B shapes (q4f16_1, 512 rows): the tensor-core
# schedule with 128x128 and 128x64 tiles beside the CUDA-core tiled product, in GFLOP/s
# (the runner's GB/s column; weights rotated to miss the L2 cache).
#   bench/linear_prefill_cuda.sh prepare   # here: compile to PTX, write gpu-bundle/prefill
#   bench/linear_prefill_cuda.sh run       # on the GPU machine
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
  prepare) scripts/gpu-bundle.sh prefill --bench-prefill ;;
  run) ./gpu-bundle/mlcc-cuda-run gpu-bundle/prefill --repeat 20 ;;
  *) echo "usage: $0 prepare|run" >&2; exit 2 ;;
esac
