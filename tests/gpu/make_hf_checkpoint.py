#!/usr/bin/env python3
"""Run on the GPU machine (transformers installed there): makes a small random
LlamaForCausalLM with grouped-query attention, saves it with save_pretrained, and writes
the logits transformers computes for a fixed token sequence — the oracle that
tests/gpu/model.sh compares mlcc's converted and compiled model against.

  python3 tests/gpu/make_hf_checkpoint.py OUT_DIR
writes OUT_DIR/{config.json, model.safetensors, tokens.txt, logits.bin (f32, [T, vocab])}
"""
import sys

import numpy as np
import torch
from transformers import LlamaConfig, LlamaForCausalLM


def main() -> None:
    out = sys.argv[1]
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=512, hidden_size=128, intermediate_size=352,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=256, rms_norm_eps=1e-5, rope_theta=10000.0,
                         tie_word_embeddings=False)
    model = LlamaForCausalLM(config).float().eval()
    # Norm weights away from 1 so that a missing norm weight would show.
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name:
                p.uniform_(0.5, 1.5)
    model.save_pretrained(out, safe_serialization=True)
    tokens = torch.randint(0, config.vocab_size, (1, 24), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        logits = model(tokens).logits[0].float().numpy()
    np.savetxt(f"{out}/tokens.txt", tokens[0].numpy()[None], fmt="%d")
    logits.astype("<f4").tofile(f"{out}/logits.bin")
    print(f"make_hf_checkpoint: {sum(p.numel() for p in model.parameters())} parameters, "
          f"logits {logits.shape} written to {out}")


if __name__ == "__main__":
    main()
