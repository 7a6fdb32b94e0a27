#!/usr/bin/env bash
# CUDA checks of every kernel case (the ctest's families), in two halves because the GPU
# machine has no LLVM:
#   tests/gpu/cuda.sh prepare   # here: build, compile the kernels to PTX, write the bundle
#                               # and the runtime-only runner into gpu-bundle/
#   tests/gpu/cuda.sh run       # on the GPU machine: run the bundle, print the table
# Through the device tool: run `prepare` here, then `bash tests/gpu/cuda.sh run` there
# with gpu-bundle carried.
set -euo pipefail
cd "$(dirname "$0")/../.."
case "${1:-}" in
  prepare) scripts/gpu-bundle.sh kernels --checks ;;
  run)
    nvidia-smi --query-gpu=name,driver_version --format=csv,noheader || true
    ./gpu-bundle/mlcc-cuda-run gpu-bundle/kernels
    ;;
  *) echo "usage: $0 prepare|run" >&2; exit 2 ;;
esac
