#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine (packages), builds mlcc and runs the whole ctest suite.
# This is the README's test command and what CI runs (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
BUILD=${MLCC_BUILD_DIR:-build}
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
ninja -C "$BUILD"
ctest --test-dir "$BUILD" --output-on-failure -j "$(nproc)"
