#!/usr/bin/env bash
# Vulkan checks of every kernel case family (the ctest's cases), in two halves because the
# GPU machine has no LLVM and no Vulkan loader:
#   tests/gpu/vulkan.sh prepare   # here: build, compile the kernels to SPIR-V for the default
#                                 # vulkan target and for -subgroup=32, and write into
#                                 # gpu-bundle/: vulkan/kernels.tar.gz (both bundles, their
#                                 # shared data), vulkan/mlcc-vulkan-run and deb/ (the
#                                 # loader packages, scripts/vulkan-loader.sh)
#   tests/gpu/vulkan.sh run       # on the GPU machine: run both bundles, print the tables
# Through the device tool: run `prepare` here, then `bash tests/gpu/vulkan.sh run` there
# with gpu-bundle carried (gpu-bundle/vulkan and gpu-bundle/deb are enough). `run` unpacks
# the bundles into a temporary folder and the loader packages where no loader is installed.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/vulkan-loader.sh
bundles=(default subgroup32)
case "${1:-}" in
  prepare)
    rm -rf gpu-bundle/vulkan
    scripts/gpu-bundle.sh vulkan/default --vulkan "vulkan" --data gpu-bundle/vulkan/data
    scripts/gpu-bundle.sh vulkan/subgroup32 --vulkan "vulkan -subgroup=32" \
      --data gpu-bundle/vulkan/data
    # SPIR-V compresses about 4x; the two bundles share their data.
    tar czf gpu-bundle/vulkan/kernels.tar.gz -C gpu-bundle/vulkan "${bundles[@]}" data
    (cd gpu-bundle/vulkan && rm -rf "${bundles[@]}" data)
    fetch_vulkan_loader gpu-bundle/deb
    du -sh gpu-bundle/vulkan/* gpu-bundle/deb
    ;;
  run)
    nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2> /dev/null || true
    runner=gpu-bundle/vulkan/mlcc-vulkan-run
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    tar xzf gpu-bundle/vulkan/kernels.tar.gz -C "$tmp"
    use_vulkan_loader gpu-bundle/deb
    "$runner" --devices
    status=0
    for b in "${bundles[@]}"; do
      echo
      echo "## $b"
      "$runner" "$tmp/$b" || status=1
    done
    exit $status
    ;;
  *)
    echo "usage: $0 prepare|run" >&2
    exit 2
    ;;
esac
