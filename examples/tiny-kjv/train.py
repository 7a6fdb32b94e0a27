#!/usr/bin/env python3
"""Trains tiny-kjv, mlcc's own small Llama-architecture model, on the token file that
prepare_data.sh writes, and saves it as a Hugging Face checkpoint (config.json +
model.safetensors in f16) that `mlcc convert-weight` reads like any other.

The model is written here in plain PyTorch (no transformers needed, so it also trains with
Debian's python3-torch on a CPU); its conventions are Hugging Face's LlamaForCausalLM
(rotate_half RoPE, RMSNorm, SiLU-gated MLP, grouped-query attention, tied embeddings), which
--check-transformers verifies where transformers is installed.

  python3 train.py --tokens OUT/tokens.bin --out DIR [--steps 3000] [--device cuda]
"""
import argparse
import json
import math
import os
import struct
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

CONFIG = {
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "vocab_size": 2048,
    "hidden_size": 256,
    "intermediate_size": 768,
    "num_hidden_layers": 5,
    "num_attention_heads": 8,
    "num_key_value_heads": 4,
    "max_position_embeddings": 512,
    "rms_norm_eps": 1e-5,
    "rope_theta": 10000.0,
    "tie_word_embeddings": True,
    "hidden_act": "silu",
    "bos_token_id": 1,
    "eos_token_id": 2,
    "torch_dtype": "float16",
}


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        x32 = x.float()
        x32 = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x32.to(x.dtype)


def rotate_half(x):
    a, b = x.chunk(2, dim=-1)
    return torch.cat((-b, a), dim=-1)


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, self.h, self.kv = c["hidden_size"], c["num_attention_heads"], c["num_key_value_heads"]
        self.hd = d // self.h
        f = c["intermediate_size"]
        self.input_layernorm = RMSNorm(d, c["rms_norm_eps"])
        self.post_attention_layernorm = RMSNorm(d, c["rms_norm_eps"])
        self.q_proj = nn.Linear(d, self.h * self.hd, bias=False)
        self.k_proj = nn.Linear(d, self.kv * self.hd, bias=False)
        self.v_proj = nn.Linear(d, self.kv * self.hd, bias=False)
        self.o_proj = nn.Linear(self.h * self.hd, d, bias=False)
        self.gate_proj = nn.Linear(d, f, bias=False)
        self.up_proj = nn.Linear(d, f, bias=False)
        self.down_proj = nn.Linear(f, d, bias=False)

    def forward(self, x, cos, sin):
        B, T, _ = x.shape
        h = self.input_layernorm(x)
        q = self.q_proj(h).view(B, T, self.h, self.hd).transpose(1, 2)
        k = self.k_proj(h).view(B, T, self.kv, self.hd).transpose(1, 2)
        v = self.v_proj(h).view(B, T, self.kv, self.hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        rep = self.h // self.kv
        k, v = k.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1)
        a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.o_proj(a.transpose(1, 2).reshape(B, T, -1))
        h = self.post_attention_layernorm(x)
        return x + self.down_proj(F.silu(self.gate_proj(h)) * self.up_proj(h))


class TinyLlama(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.embed_tokens = nn.Embedding(c["vocab_size"], c["hidden_size"])
        self.layers = nn.ModuleList(Block(c) for _ in range(c["num_hidden_layers"]))
        self.norm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])
        hd = c["hidden_size"] // c["num_attention_heads"]
        inv = 1.0 / (c["rope_theta"] ** (torch.arange(0, hd, 2).float() / hd))
        t = torch.arange(c["max_position_embeddings"]).float()
        emb = torch.cat([torch.outer(t, inv)] * 2, dim=-1)
        self.register_buffer("cos", emb.cos(), persistent=False)
        self.register_buffer("sin", emb.sin(), persistent=False)
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, std=0.02)
        for blk in self.layers:  # scaled residual projections (GPT-2)
            for m in (blk.o_proj, blk.down_proj):
                nn.init.normal_(m.weight, std=0.02 / math.sqrt(2 * c["num_hidden_layers"]))

    def forward(self, ids):
        T = ids.shape[1]
        cos, sin = self.cos[:T].to(self.embed_tokens.weight.dtype), self.sin[:T]
        x = self.embed_tokens(ids)
        for blk in self.layers:
            x = blk(x, cos, sin.to(x.dtype))
        return self.norm(x) @ self.embed_tokens.weight.t()  # tied

    def hf_state_dict(self):
        """Tensors under Hugging Face's LlamaForCausalLM names (lm_head omitted: tied)."""
        out = {"model.embed_tokens.weight": self.embed_tokens.weight,
               "model.norm.weight": self.norm.weight}
        for i, b in enumerate(self.layers):
            p = f"model.layers.{i}."
            out[p + "input_layernorm.weight"] = b.input_layernorm.weight
            out[p + "post_attention_layernorm.weight"] = b.post_attention_layernorm.weight
            for n in ("q_proj", "k_proj", "v_proj", "o_proj"):
                out[p + f"self_attn.{n}.weight"] = getattr(b, n).weight
            for n in ("gate_proj", "up_proj", "down_proj"):
                out[p + f"mlp.{n}.weight"] = getattr(b, n).weight
        return out


def save_safetensors(tensors: dict, path: str) -> None:
    """The safetensors layout: u64 header size, JSON header, then the raw f16 data."""
    header, blobs, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for name, t in tensors.items():
        data = t.detach().to("cpu", torch.float16).contiguous().numpy().tobytes()
        header[name] = {"dtype": "F16", "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tokens", required=True, help="tokens.bin from prepare_data.sh")
    ap.add_argument("--out", required=True, help="directory for config.json + model.safetensors")
    ap.add_argument("--steps", type=int, default=700)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--check-transformers", action="store_true",
                    help="compare logits with transformers' LlamaForCausalLM after saving")
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    data = torch.from_numpy(np.fromfile(args.tokens, dtype="<u2").astype(np.int64))
    n_val = len(data) // 50
    train, val = data[:-n_val], data[-n_val:]
    model = TinyLlama(CONFIG).to(args.device)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"train: {n_params / 1e6:.2f}M parameters, {len(train)} training tokens, "
          f"{args.steps} steps of {args.batch}x{args.seq} on {args.device}")
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.95), weight_decay=0.1)
    gen = torch.Generator().manual_seed(args.seed)

    def batch(src):
        i = torch.randint(len(src) - args.seq - 1, (args.batch,), generator=gen)
        x = torch.stack([src[j:j + args.seq + 1] for j in i.tolist()]).to(args.device)
        return x[:, :-1], x[:, 1:]

    amp = torch.autocast(args.device, dtype=torch.bfloat16) if args.device == "cuda" else \
        torch.autocast("cpu", enabled=False)
    warmup, t0 = 100, time.time()
    for step in range(args.steps + 1):
        lr = args.lr * min(1.0, (step + 1) / warmup) * \
            (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / args.steps)))
        for g in opt.param_groups:
            g["lr"] = lr
        if step % 250 == 0 or step == args.steps:
            model.eval()
            with torch.no_grad(), amp:
                x, y = batch(val)
                vl = F.cross_entropy(model(x).float().flatten(0, 1), y.flatten()).item()
            print(f"step {step:5d}  val loss {vl:.3f}  lr {lr:.2e}  {time.time() - t0:.0f} s",
                  flush=True)
            model.train()
        if step == args.steps:
            break
        x, y = batch(train)
        with amp:
            loss = F.cross_entropy(model(x).float().flatten(0, 1), y.flatten())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(CONFIG, f, indent=2)
    save_safetensors(model.hf_state_dict(), os.path.join(args.out, "model.safetensors"))
    print(f"train: wrote {args.out}/config.json and model.safetensors")

    if args.check_transformers:
        from transformers import LlamaForCausalLM
        ref = LlamaForCausalLM.from_pretrained(args.out).float().to(args.device)
        ours = TinyLlama(CONFIG).to(args.device)
        # The saved (f16-rounded) values, as transformers reads them.
        sd = {k.removeprefix("model.").replace("self_attn.", "").replace("mlp.", ""):
              v.detach().half().float() for k, v in model.hf_state_dict().items()}
        ours.load_state_dict(sd, strict=True)
        ids = val[:64].unsqueeze(0).to(args.device)
        with torch.no_grad():
            a = ref(ids).logits.float()
            b = ours(ids).float()
        err = ((a - b).norm() / a.norm()).item()
        print(f"train: logits vs transformers' LlamaForCausalLM: relative error {err:.2e}")
        assert err < 1e-4, "the plain PyTorch model does not match transformers"


if __name__ == "__main__":
    main()
