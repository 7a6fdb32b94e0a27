# Sourced by the tests/gpu scripts: what the CUDA and Vulkan whole-model checks share.
#   write_small_llamas DIR        tests/compile's small Llamas as configs DIR/{gqa,tied,padded}.json
#                                 (GQA, tied embeddings, an FFN width that pads q4 groups)
#   stories_through_chat DIR DEVICE KIND
#                                 stories260K (DIR/stories-Q with DIR/stories-Q-KIND.so) through
#                                 mlcc-chat greedily from BOS, compared with llama2.c's text;
#                                 Q is each of q0f32 and q4f16_1 in turn, in $q for a caller's
#                                 per-quantization hook `after_story` when it defines one
write_small_llamas() {
  small() {  # NAME KV_HEADS TIED FFN
    cat > "$1/$2.json" << JSON
{"architectures": ["LlamaForCausalLM"], "vocab_size": 160, "hidden_size": 64,
 "intermediate_size": $5, "num_hidden_layers": 2, "num_attention_heads": 4,
 "num_key_value_heads": $3, "max_position_embeddings": 64, "rms_norm_eps": 1e-5,
 "rope_theta": 10000.0, "tie_word_embeddings": $4, "hidden_act": "silu"}
JSON
  }
  small "$1" gqa 2 false 96
  small "$1" tied 4 true 96
  small "$1" padded 2 false 80
}

stories_through_chat() {
  local dir=$1 device=$2 kind=$3 verdict
  echo "## stories260K through mlcc-chat on $device (greedy from BOS, 256 tokens)"
  for q in q0f32 q4f16_1; do
    "$dir/mlcc-chat" --model "$dir/stories-$q" --model-lib "$dir/stories-$q-$kind.so" \
      --device "$device" --template raw --prompt "" --temperature 0 --max-new-tokens 256 \
      > "$dir/stories-$q.txt" 2> "$dir/stories-$q.err" || cat "$dir/stories-$q.err"
    if cmp -s "$dir/stories-$q.txt" "$dir/greedy_reference.txt"; then
      verdict="identical to llama2.c's greedy_reference.txt"
    else
      verdict="differs from greedy_reference.txt"
    fi
    echo "### $q: $verdict"
    cat "$dir/stories-$q.txt"
    if declare -F after_story > /dev/null; then after_story; fi
  done
}
