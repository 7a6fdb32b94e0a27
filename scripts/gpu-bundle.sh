#!/usr/bin/env bash
# Builds the bundle tools and writes a kernel bundle gpu-bundle/NAME plus its runtime-only
# runner beside it (carried to the GPU machine, which has no LLVM): mlcc-cuda-run for a
# CUDA bundle, mlcc-vulkan-run for one made with --vulkan. Used by tests/gpu/cuda.sh,
# tests/gpu/vulkan.sh and bench/gemv_q4_cuda.sh:
#   scripts/gpu-bundle.sh NAME [mlcc-make-bundle flags]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${MLCC_BUILD_DIR:-build}
name=$1
shift
runner=mlcc-cuda-run
for a in "$@"; do
  if [[ $a == --vulkan ]]; then runner=mlcc-vulkan-run; fi
done
cmake -S . -B "$BUILD" -G Ninja > /dev/null
ninja -C "$BUILD" mlcc-make-bundle "$runner"
rm -rf "gpu-bundle/$name" && mkdir -p gpu-bundle
"$BUILD/bin/mlcc-make-bundle" "gpu-bundle/$name" "$@"
cp "$BUILD/bin/$runner" "$(dirname "gpu-bundle/$name")/"
strip --strip-debug "$(dirname "gpu-bundle/$name")/$runner"  # the device tool carries 64 MiB
