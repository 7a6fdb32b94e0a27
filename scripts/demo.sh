#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine: install packages, build mlcc, then compile
# kernels from the tensor IR for this CPU and run them against the interpreter.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
BUILD=${MLCC_BUILD_DIR:-build}
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
ninja -C "$BUILD" mlcc
"$BUILD/tools/mlcc" demo
