#!/usr/bin/env bash
# ctest: examples/benchmark.py, unchanged, on the project's own small model (tiny-kjv),
# converted and compiled for the CPU into dist/ of a temporary working directory, so the
# script's MLC-style lookups (a model name under dist/, dist/libs/NAME-cpu.so) are used.
#   run_benchmark_example.sh MLCC PYTHON SOURCE_DIR
set -euo pipefail
MLCC=$1 PY=$2 SRC=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$MLCC" convert-weight "$SRC/examples/tiny-kjv" --quantization q4f16_1 \
  -o "$tmp/dist/tiny-kjv-q4f16_1" > /dev/null
"$MLCC" compile "$SRC/examples/tiny-kjv" --target cpu --quantization q4f16_1 \
  -o "$tmp/dist/libs/tiny-kjv-q4f16_1-cpu.so" > /dev/null
cd "$tmp"
"$PY" "$SRC/examples/benchmark.py" --model tiny-kjv-q4f16_1 --generate-length 64
