#!/usr/bin/env python3
"""Runs here, with Python's standard library only: writes a small random Llama checkpoint
in Hugging Face's layout (config.json, model.safetensors in f32, grouped-query attention,
untied embeddings) and the token sequence tests/gpu/chat.sh checks, so that the library can
be compiled and the weights converted before the GPU machine is reached. There,
tests/gpu/hf_logits.py loads the directory with transformers (every tensor must match a
parameter of LlamaForCausalLM) and writes the logits transformers computes, the oracle
mlcc-model-check compares mlcc's model against.

  python3 tests/gpu/write_hf_checkpoint.py OUT_DIR
writes OUT_DIR/{config.json, model.safetensors, tokens.txt}
"""
import array
import json
import math
import os
import random
import struct
import sys

CONFIG = {
    "architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 512,
    "hidden_size": 128, "intermediate_size": 352, "num_hidden_layers": 2,
    "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 256,
    "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "tie_word_embeddings": False,
    "hidden_act": "silu", "torch_dtype": "float32",
}


def tensors(rng):
    """(name, shape, values) of every parameter, HF's names; std 0.02 as HF initializes,
    norm weights in [0.5, 1.5) so that a norm weight left out would show."""
    h, f, v = CONFIG["hidden_size"], CONFIG["intermediate_size"], CONFIG["vocab_size"]
    d = h // CONFIG["num_attention_heads"]
    kv = CONFIG["num_key_value_heads"] * d

    def normal(*shape):
        return shape, [rng.gauss(0.0, 0.02) for _ in range(math.prod(shape))]

    def norm():
        return (h,), [rng.uniform(0.5, 1.5) for _ in range(h)]

    yield "model.embed_tokens.weight", *normal(v, h)
    for i in range(CONFIG["num_hidden_layers"]):
        p = f"model.layers.{i}."
        yield p + "input_layernorm.weight", *norm()
        for name, rows in (("q", h), ("k", kv), ("v", kv), ("o", h)):
            yield p + f"self_attn.{name}_proj.weight", *normal(rows, h)
        yield p + "post_attention_layernorm.weight", *norm()
        yield p + "mlp.gate_proj.weight", *normal(f, h)
        yield p + "mlp.up_proj.weight", *normal(f, h)
        yield p + "mlp.down_proj.weight", *normal(h, f)
    yield "model.norm.weight", *norm()
    yield "lm_head.weight", *normal(v, h)


def main() -> None:
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    rng = random.Random(0)
    header, blobs, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for name, shape, values in tensors(rng):
        blob = array.array("f", values)
        if sys.byteorder != "little":
            blob.byteswap()
        data = blob.tobytes()
        header[name] = {"dtype": "F32", "shape": list(shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)  # the data starts 8-byte aligned
    with open(os.path.join(out, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for data in blobs:
            f.write(data)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(CONFIG, f, indent=1)
    tokens = [rng.randrange(CONFIG["vocab_size"]) for _ in range(24)]
    with open(os.path.join(out, "tokens.txt"), "w") as f:
        f.write(" ".join(map(str, tokens)) + "\n")
    print(f"write_hf_checkpoint: {offset // 4} parameters, {len(tokens)} tokens in {out}")


if __name__ == "__main__":
    main()
