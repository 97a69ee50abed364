#!/usr/bin/env python3
"""Hugging Face transformers reference logits for random-weight models, written to GGUF.

Oracle: transformers (PyTorch), the original architecture definitions. For each family
(llama, qwen2, qwen3, gemma2, gemma3) this builds a tiny model with random weights from a fixed
seed, runs a fixed token sequence through it, and writes
  <out>/<arch>.gguf          the same weights in GGUF (F32), converted the way llama.cpp's
                             converter does it (llama Q/K row permutation, gemma norm +1)
  <out>/<arch>.logits.bin    float32 little-endian [n_tokens, n_vocab] logits from transformers
  <out>/<arch>.json          tokens, shapes, transformers/torch versions
Run where PyTorch + transformers are installed (the GPU machine has both; CPU is enough):
  python3 tools/hf_reference.py OUT_DIR
The outputs are committed under tests/fixtures/hf/ and checked by tests/unit/model_hf/hf_logits_test.cpp.
This script needs nothing but torch, transformers and the standard library (its GGUF writer is
the minimal subset of the format it needs, written here).
"""
import json
import struct
import sys
from pathlib import Path

import torch
import transformers

VOCAB = 384
N_TOKENS = 40  # crosses a 16-token KV block boundary twice and the sliding window (8)


# --- minimal GGUF v3 writer -----------------------------------------------------------------
T_U32, T_I32, T_F32, T_BOOL, T_STR, T_ARR, T_U64 = 4, 5, 6, 7, 8, 9, 10


def _str(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def _kv(key, typ, val):
    out = _str(key) + struct.pack("<I", typ)
    if typ == T_U32:
        out += struct.pack("<I", val)
    elif typ == T_I32:
        out += struct.pack("<i", val)
    elif typ == T_F32:
        out += struct.pack("<f", val)
    elif typ == T_BOOL:
        out += struct.pack("<B", 1 if val else 0)
    elif typ == T_STR:
        out += _str(val)
    elif typ == T_ARR:
        etyp, items = val
        out += struct.pack("<IQ", etyp, len(items))
        for it in items:
            if etyp == T_STR:
                out += _str(it)
            elif etyp == T_F32:
                out += struct.pack("<f", it)
            elif etyp == T_I32:
                out += struct.pack("<i", it)
    return out


def write_gguf(path, kvs, tensors, align=32):
    head = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kvs))
    for k, t, v in kvs:
        head += _kv(k, t, v)
    offset = 0
    blobs = []
    for name, arr in tensors:
        a = arr.detach().to(torch.float32).contiguous().cpu()
        ne = list(reversed(a.shape))  # ggml: ne[0] is the contiguous dimension
        head += _str(name) + struct.pack("<I", len(ne)) + b"".join(struct.pack("<Q", n) for n in ne)
        head += struct.pack("<IQ", 0, offset)  # type F32
        data = a.numpy().tobytes() if hasattr(a, "numpy") else bytes(a.untyped_storage())
        pad = (-len(data)) % align
        blobs.append(data + b"\0" * pad)
        offset += len(data) + pad
    head += b"\0" * ((-len(head)) % align)
    with open(path, "wb") as f:
        f.write(head)
        for b in blobs:
            f.write(b)


# --- conversion ----------------------------------------------------------------------------
def permute(w, n_head):
    # llama.cpp's converter: HF rotate-half layout -> interleaved pairs for LLAMA_ROPE_TYPE_NORM
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def convert(arch, model, cfg):
    sd = model.state_dict()
    n_head, n_kv = cfg.num_attention_heads, cfg.num_key_value_heads
    gemma = arch.startswith("gemma")
    names = {
        "input_layernorm": "attn_norm",
        "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
        "self_attn.o_proj": "attn_output", "self_attn.q_norm": "attn_q_norm", "self_attn.k_norm": "attn_k_norm",
        "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down",
    }
    if gemma:
        names.update({"post_attention_layernorm": "post_attention_norm", "pre_feedforward_layernorm": "ffn_norm",
                      "post_feedforward_layernorm": "post_ffw_norm"})
    else:
        names["post_attention_layernorm"] = "ffn_norm"
    out = []
    for key, w in sd.items():
        w = w.clone()
        if key == "model.embed_tokens.weight":
            out.append(("token_embd.weight", w))
            continue
        if key == "model.norm.weight":
            out.append(("output_norm.weight", w + 1 if gemma else w))
            continue
        if key == "lm_head.weight":
            if not getattr(cfg, "tie_word_embeddings", False):
                out.append(("output.weight", w))
            continue
        parts = key.split(".")
        assert parts[0] == "model" and parts[1] == "layers", key
        bid = int(parts[2])
        stem, kind = ".".join(parts[3:-1]), parts[-1]
        gname = names[stem]
        if arch == "llama" and stem == "self_attn.q_proj":
            w = permute(w, n_head)
        if arch == "llama" and stem == "self_attn.k_proj":
            w = permute(w, n_kv)
        if gemma and kind == "weight" and stem.endswith(("layernorm", "norm")):
            w = w + 1
        out.append((f"blk.{bid}.{gname}.{kind}", w))
    return out


def base_kvs(arch, cfg, head_dim):
    a = arch
    kvs = [
        ("general.architecture", T_STR, a),
        ("general.name", T_STR, f"hf-reference-{a}-random"),
        ("general.file_type", T_U32, 0),
        (f"{a}.context_length", T_U32, 256),
        (f"{a}.embedding_length", T_U32, cfg.hidden_size),
        (f"{a}.block_count", T_U32, cfg.num_hidden_layers),
        (f"{a}.feed_forward_length", T_U32, cfg.intermediate_size),
        (f"{a}.attention.head_count", T_U32, cfg.num_attention_heads),
        (f"{a}.attention.head_count_kv", T_U32, cfg.num_key_value_heads),
        (f"{a}.attention.layer_norm_rms_epsilon", T_F32, cfg.rms_norm_eps),
        (f"{a}.attention.key_length", T_U32, head_dim),
        (f"{a}.attention.value_length", T_U32, head_dim),
        (f"{a}.rope.dimension_count", T_U32, head_dim),
        (f"{a}.rope.freq_base", T_F32, 10000.0),
        (f"{a}.vocab_size", T_U32, VOCAB),
    ]
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{i:02X}>" for i in range(256)]
    tokens += [f"tok{i}" for i in range(VOCAB - len(tokens))]
    types = [2, 3, 3] + [6] * 256 + [1] * (VOCAB - 259)
    kvs += [
        ("tokenizer.ggml.model", T_STR, "llama"),
        ("tokenizer.ggml.tokens", T_ARR, (T_STR, tokens)),
        ("tokenizer.ggml.scores", T_ARR, (T_F32, [0.0] * VOCAB)),
        ("tokenizer.ggml.token_type", T_ARR, (T_I32, types)),
        ("tokenizer.ggml.bos_token_id", T_U32, 1),
        ("tokenizer.ggml.eos_token_id", T_U32, 2),
        ("tokenizer.ggml.unknown_token_id", T_U32, 0),
    ]
    return kvs


def build(arch):
    common = dict(vocab_size=VOCAB, hidden_size=64, intermediate_size=96, num_hidden_layers=3,
                  num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                  rms_norm_eps=1e-5, rope_theta=10000.0, tie_word_embeddings=False)
    head_dim = 16
    extra = []
    if arch == "llama":
        cfg = transformers.LlamaConfig(**common, head_dim=head_dim)
        model = transformers.LlamaForCausalLM(cfg)
    elif arch == "qwen2":
        cfg = transformers.Qwen2Config(**common)
        model = transformers.Qwen2ForCausalLM(cfg)
    elif arch == "qwen3":
        cfg = transformers.Qwen3Config(**{**common, "tie_word_embeddings": True}, head_dim=head_dim)
        model = transformers.Qwen3ForCausalLM(cfg)
    elif arch == "gemma2":
        cfg = transformers.Gemma2Config(**{**common, "tie_word_embeddings": True, "rms_norm_eps": 1e-6}, head_dim=head_dim,
                                        query_pre_attn_scalar=head_dim, sliding_window=8,
                                        attn_logit_softcapping=50.0, final_logit_softcapping=30.0,
                                        hidden_activation="gelu_pytorch_tanh")
        model = transformers.Gemma2ForCausalLM(cfg)
        extra = [("gemma2.attention.sliding_window", T_U32, 8),
                 ("gemma2.attn_logit_softcapping", T_F32, 50.0),
                 ("gemma2.final_logit_softcapping", T_F32, 30.0)]
    elif arch == "gemma3":
        cfg = transformers.Gemma3TextConfig(**{**common, "num_hidden_layers": 7, "tie_word_embeddings": True,
                                               "rms_norm_eps": 1e-6}, head_dim=head_dim,
                                            query_pre_attn_scalar=head_dim, sliding_window=8,
                                            rope_local_base_freq=10000.0, final_logit_softcapping=None,
                                            hidden_activation="gelu_pytorch_tanh")
        model = transformers.Gemma3ForCausalLM(cfg)
        extra = [("gemma3.attention.sliding_window", T_U32, 8)]
    else:
        raise ValueError(arch)
    # Random weights with a scale that keeps activations O(1); norms away from 0.
    g = torch.Generator().manual_seed(1234)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name:
                p.copy_(0.5 + 0.5 * torch.rand(p.shape, generator=g) - (1.0 if arch.startswith("gemma") else 0.0))
            elif name.endswith("bias"):
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(torch.randn(p.shape, generator=g) / (p.shape[-1] ** 0.5))
    model.eval()
    return cfg, model, head_dim, extra


def main():
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    tokens = [1] + [(i * 37 + 11) % (VOCAB - 3) + 3 for i in range(N_TOKENS - 1)]
    for arch in ["llama", "qwen2", "qwen3", "gemma2", "gemma3"]:
        cfg, model, head_dim, extra = build(arch)
        with torch.no_grad():
            logits = model(torch.tensor([tokens]), use_cache=False).logits[0].to(torch.float32)
        kvs = base_kvs(arch, cfg, head_dim) + extra
        if arch == "gemma3":
            kvs = [kv for kv in kvs if kv[0] != "gemma3.rope.freq_base"] + [("gemma3.rope.freq_base", T_F32, 10000.0)]
        write_gguf(out / f"{arch}.gguf", kvs, convert(arch, model, cfg))
        (out / f"{arch}.logits.bin").write_bytes(logits.contiguous().numpy().tobytes())
        meta = {"oracle": "transformers", "transformers": transformers.__version__, "torch": torch.__version__,
                "arch": arch, "tokens": tokens, "n_vocab": VOCAB, "config": cfg.to_dict()}
        (out / f"{arch}.json").write_text(json.dumps(meta, indent=1, default=str))
        print(arch, "ok", tuple(logits.shape), float(logits.abs().mean()))


if __name__ == "__main__":
    main()
