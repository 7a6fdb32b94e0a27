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
BUILD=${MLCC_BUILD_DIR:-build}
OUT=gpu-bundle/model
TARGET="cuda -arch=sm_90"
case "${1:-}" in
  prepare)
    cmake -S . -B "$BUILD" -G Ninja > /dev/null
    ninja -C "$BUILD" mlcc mlcc-model-check
    rm -rf "$OUT" && mkdir -p "$OUT"
    small() {  # NAME KV_HEADS TIED FFN
      cat > "$OUT/$1.json" <<JSON
{"architectures": ["LlamaForCausalLM"], "vocab_size": 160, "hidden_size": 64,
 "intermediate_size": $4, "num_hidden_layers": 2, "num_attention_heads": 4,
 "num_key_value_heads": $2, "max_position_embeddings": 64, "rms_norm_eps": 1e-5,
 "rope_theta": 10000.0, "tie_word_embeddings": $3, "hidden_act": "silu"}
JSON
    }
    small gqa 2 false 96
    small tied 4 true 96
    small padded 2 false 80
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
    ;;
  run)
    nvidia-smi --query-gpu=name,driver_version --format=csv,noheader || true
    ./gpu-bundle/mlcc-model-check check "$OUT"/gqa-*.so "$OUT"/tied-*.so "$OUT"/padded-*.so \
      --device cuda
    ;;
  *) echo "usage: $0 prepare|run" >&2; exit 2 ;;
esac
