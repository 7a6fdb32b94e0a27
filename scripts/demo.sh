#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine, with no download: install the packages, build
# mlcc, convert the project's own small model (examples/tiny-kjv, a 4.5M-parameter Llama
# trained on the King James Bible) to q4f16_1, compile it for this CPU, and chat with it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
BUILD=${MLCC_BUILD_DIR:-build}
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo > /dev/null
ninja -C "$BUILD" mlcc mlcc-chat
MODEL=dist/tiny-kjv-q4f16_1
LIB=dist/libs/tiny-kjv-q4f16_1-cpu.so

echo "== mlcc convert-weight: examples/tiny-kjv -> $MODEL"
"$BUILD/tools/mlcc" convert-weight examples/tiny-kjv --quantization q4f16_1 -o "$MODEL" --force
echo "== mlcc compile: examples/tiny-kjv -> $LIB"
"$BUILD/tools/mlcc" compile examples/tiny-kjv --target cpu --quantization q4f16_1 -o "$LIB"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for prompt in "And God said" "Blessed are the" "In the beginning"; do
  echo "== mlcc-chat --prompt \"$prompt\" (the model continues the text)"
  reply=$("$BUILD/tools/mlcc-chat" --model "$MODEL" --model-lib "$LIB" --template raw \
    --prompt "$prompt" --temperature 0.7 --top-p 0.9 --seed 7 --max-new-tokens 60 --stats \
    2> "$log") || { cat "$log"; exit 1; }
  echo "$prompt$reply"
  tail -n 1 "$log"
done
echo
echo "Chat interactively with:"
echo "  $BUILD/tools/mlcc-chat --model $MODEL --model-lib $LIB --template raw"
