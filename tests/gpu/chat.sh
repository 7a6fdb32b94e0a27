#!/usr/bin/env bash
# Issue 4's checks on the GPU machine, in two halves because it has no LLVM:
#   tests/gpu/chat.sh prepare   # here: a runtime-only build (mlcc, mlcc-chat), the
#                               # model-check tool, converted models and CUDA libraries
#                               # into gpu-bundle/chat/, with a small random checkpoint in
#                               # Hugging Face's layout (tests/gpu/write_hf_checkpoint.py)
#   tests/gpu/chat.sh run       # there: stories260K through mlcc-chat on CUDA (q0f32 must
#                               # print llama2.c's greedy text), the checkpoint's logits
#                               # from transformers (tests/gpu/hf_logits.py) against mlcc's,
#                               # and `mlcc bench --random-weights` on Llama-2-7B's shape.
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/gpu/common.sh
OUT=gpu-bundle/chat
TARGET="cuda -arch=sm_90"
STORIES=../shared/models/stories260K
case "${1:-}" in
  prepare)
    BUILD=${MLCC_BUILD_DIR:-build}
    RT=${MLCC_RUNTIME_BUILD_DIR:-build-runtime}
    cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release > /dev/null
    ninja -C "$BUILD" mlcc mlcc-model-check
    cmake -S . -B "$RT" -G Ninja -DCMAKE_BUILD_TYPE=Release -DMLCC_WITH_LLVM=OFF \
      -DMLCC_BUILD_TESTS=OFF -DMLCC_BUILD_PYTHON=OFF > /dev/null
    ninja -C "$RT" mlcc mlcc-chat
    rm -rf "$OUT" && mkdir -p "$OUT"
    MLCC="$BUILD/tools/mlcc"
    for q in q0f32 q4f16_1; do
      "$MLCC" convert-weight "$STORIES/stories260K.bin" --tokenizer "$STORIES/tok512.bin" \
        --quantization $q -o "$OUT/stories-$q" > /dev/null
      "$MLCC" compile "$STORIES/stories260K.bin" --target "$TARGET" --quantization $q \
        -o "$OUT/stories-$q-cuda.so" > /dev/null
    done
    cp "$STORIES/greedy_reference.txt" "$OUT/"
    HF=$OUT/hf
    python3 tests/gpu/write_hf_checkpoint.py "$HF"
    for q in q0f32 q0f16; do
      "$MLCC" convert-weight "$HF" --no-tokenizer --quantization $q -o "$OUT/hf-$q" > /dev/null
      "$MLCC" compile "$HF" --target "$TARGET" --quantization $q -o "$OUT/hf-$q-cuda.so" \
        > /dev/null
    done
    "$MLCC" compile examples/llama2.json --target "$TARGET" -o "$OUT/llama2-q4f16_1-cuda.so" \
      > /dev/null
    cp "$RT/tools/mlcc" "$RT/tools/mlcc-chat" "$BUILD/bin/mlcc-model-check" "$OUT/"
    # libsentencepiece and PCRE2 may not be on the GPU machine: they travel beside the
    # binaries.
    for lib in libsentencepiece.so.0 libpcre2-8.so.0; do
      cp -L "$(ldconfig -p | awk -v l="$lib" '$1 == l {print $NF; exit}')" "$OUT/"
    done
    du -sh "$OUT"
    ;;
  run)
    export LD_LIBRARY_PATH="$PWD/$OUT${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    nvidia-smi --query-gpu=name,driver_version --format=csv,noheader || true
    stories_through_chat "$OUT" cuda cuda
    echo
    python3 tests/gpu/hf_logits.py "$OUT/hf"
    echo "## transformers' LlamaForCausalLM (GQA, random, from_pretrained) against mlcc on cuda"
    echo "| model dir | quantization | sequence | max rel. error (decode, each position) | prefill (last) | limit | result |"
    echo "| --- | --- | --- | --- | --- | --- | --- |"
    "$OUT/mlcc-model-check" logits "$OUT/hf-q0f32-cuda.so" --model "$OUT/hf-q0f32" \
      --tokens "$OUT/hf/tokens.txt" --expect "$OUT/hf/logits.bin" --device cuda \
      --tolerance 1e-3 || true
    "$OUT/mlcc-model-check" logits "$OUT/hf-q0f16-cuda.so" --model "$OUT/hf-q0f16" \
      --tokens "$OUT/hf/tokens.txt" --expect "$OUT/hf/logits.bin" --device cuda \
      --tolerance 1e-2 || true
    echo
    echo "## mlcc bench --random-weights, examples/llama2.json q4f16_1"
    "$OUT/mlcc" bench --model-lib "$OUT/llama2-q4f16_1-cuda.so" --random-weights --device cuda \
      --generate-length 512 --prefill-length 512
    ;;
  *) echo "usage: $0 prepare | run" >&2; exit 2 ;;
esac
