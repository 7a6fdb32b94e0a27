#!/usr/bin/env bash
# q4f16_1 GEMV benchmark on CUDA at Llama-2-7B decode shapes (4096x4096, 11008x4096,
# 4096x11008): GB/s of weights read beside the device's measured copy bandwidth.
#   bench/gemv_q4_cuda.sh prepare   # here: compile to PTX, write gpu-bundle/gemv
#   bench/gemv_q4_cuda.sh run       # on the GPU machine
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
  prepare) scripts/gpu-bundle.sh gemv --bench ;;
  run) ./gpu-bundle/mlcc-cuda-run gpu-bundle/gemv --repeat 200 ;;
  *) echo "usage: $0 prepare|run" >&2; exit 2 ;;
esac
