#!/usr/bin/env bash
# Builds the bundle tools and writes a CUDA kernel bundle plus the runtime-only runner into
# gpu-bundle/ (carried to the GPU machine, which has no LLVM). Used by tests/gpu/cuda.sh
# and bench/gemv_q4_cuda.sh:  scripts/gpu-bundle.sh NAME [mlcc-make-cuda-bundle flags]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${MLCC_BUILD_DIR:-build}
name=$1
shift
cmake -S . -B "$BUILD" -G Ninja > /dev/null
ninja -C "$BUILD" mlcc-make-cuda-bundle mlcc-cuda-run
rm -rf "gpu-bundle/$name" && mkdir -p gpu-bundle
"$BUILD/bin/mlcc-make-cuda-bundle" "gpu-bundle/$name" "$@"
cp "$BUILD/bin/mlcc-cuda-run" gpu-bundle/
