#!/usr/bin/env python3
"""Runs on the GPU machine (torch and transformers installed there): loads the checkpoint
tests/gpu/write_hf_checkpoint.py wrote with LlamaForCausalLM.from_pretrained, refuses it
unless every tensor is one of the model's parameters and none is missing, and writes the
logits transformers computes for DIR/tokens.txt: the oracle tests/gpu/chat.sh compares
mlcc's converted and compiled model against.

  python3 tests/gpu/hf_logits.py DIR
writes DIR/logits.bin (f32, [T, vocab])
"""
import sys

import torch
from transformers import LlamaForCausalLM


def main() -> None:
    d = sys.argv[1]
    model, info = LlamaForCausalLM.from_pretrained(d, torch_dtype=torch.float32,
                                                   attn_implementation="eager",
                                                   output_loading_info=True)
    wrong = {k: v for k, v in info.items() if v and k != "error_msgs"} or info.get("error_msgs")
    if wrong:
        sys.exit(f"hf_logits: {d}/model.safetensors does not match LlamaForCausalLM: {wrong}")
    model = model.float().eval()
    with open(f"{d}/tokens.txt") as f:
        tokens = torch.tensor([[int(t) for t in f.read().split()]])
    with torch.no_grad():
        logits = model(tokens).logits[0].float().contiguous()
    with open(f"{d}/logits.bin", "wb") as f:
        f.write(logits.numpy().astype("<f4").tobytes())
    print(f"hf_logits: {sum(p.numel() for p in model.parameters())} parameters, "
          f"logits {tuple(logits.shape)} written to {d}/logits.bin")


if __name__ == "__main__":
    main()
