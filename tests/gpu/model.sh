#!/usr/bin/env bash
# Whole-model CUDA checks against the reference forward pass, in two halves because the
# GPU machine has no LLVM:
#   tests/gpu/model.sh prepare   # here: build, compile small random Llamas (four
#                                # quantizations, GQA, tied embeddings, an FFN width
#                                # that pads the last q4 group) for CUDA into
#                                # gpu-bundle/model/
#   tests/gpu/model.sh run       # there: check them against the reference forward pass
# Llama-2-7B's speed is measured by `mlcc bench` in tests/gpu/chat.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/gpu/common.sh
BUILD=${MLCC_BUILD_DIR:-build}
OUT=gpu-bundle/model
TARGET="cuda -arch=sm_90"
case "${1:-}" in
  prepare)
    cmake -S . -B "$BUILD" -G Ninja > /dev/null
    ninja -C "$BUILD" mlcc mlcc-model-check
    rm -rf "$OUT" && mkdir -p "$OUT"
    write_small_llamas "$OUT"
    for q in q0f32 q4f16_1 q4f32_1 q0f16; do
      "$BUILD/tools/mlcc" compile "$OUT/gqa.json" --target "$TARGET" --quantization $q \
        --context-window 64 --prefill-chunk-size 16 -o "$OUT/gqa-$q.so" > /dev/null
    done
    "$BUILD/tools/mlcc" compile "$OUT/tied.json" --target "$TARGET" --quantization q4f16_1 \
      --context-window 64 --prefill-chunk-size 8 -o "$OUT/tied-q4f16_1.so" > /dev/null
    for q in q4f16_1 q4f32_1; do
      "$BUILD/tools/mlcc" compile "$OUT/padded.json" --target "$TARGET" --quantization $q \
        --context-window 64 --prefill-chunk-size 16 -o "$OUT/padded-$q.so" > /dev/null
    done
    cp "$BUILD/bin/mlcc-model-check" gpu-bundle/
    strip --strip-debug gpu-bundle/mlcc-model-check  # the device tool carries 64 MiB
    ;;
  run)
    nvidia-smi --query-gpu=name,driver_version --format=csv,noheader || true
    ./gpu-bundle/mlcc-model-check check "$OUT"/gqa-*.so "$OUT"/tied-*.so "$OUT"/padded-*.so \
      --device cuda
    ;;
  *) echo "usage: $0 prepare|run" >&2; exit 2 ;;
esac
