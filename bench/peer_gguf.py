#!/usr/bin/env python3
"""peer_gguf.py - write a Hugging Face random-weight folder (tools/make_random_hcx.py,
plain Llama shapes: 0.5b / 1.5b) as a GGUF that stock llama.cpp (and NAVER's fork)
loads, so llama-bench can run the very same weights omnic runs. Uses the gguf-py
package of a llama.cpp checkout (--gguf-py DIR); nothing of it is copied here.

  bench/peer_gguf.py --gguf-py PEER/gguf-py -m models/hcx-0.5b-bf16 -o models/peer-0.5b-bf16.gguf

BF16 tensors are passed through unchanged; q/k rows are permuted for llama.cpp's
adjacent-pair RoPE. The vocabulary is written as "no_vocab" (benchmarks feed ids).
"""
import argparse
import json
import os
import sys

import numpy as np


def read_safetensors(path):
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        hdr = json.loads(f.read(n))
    base = 8 + n
    mm = np.memmap(path, dtype=np.uint8, mode="r")
    out = {}
    for name, info in hdr.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        dt = {"BF16": np.uint16, "F16": np.float16, "F32": np.float32}[info["dtype"]]
        out[name] = (info["dtype"], np.frombuffer(mm[base + b:base + e], dtype=dt).reshape(info["shape"]))
    return out


def permute(w, n_head):
    # HF rotate-half rows -> llama.cpp adjacent pairs (rows of each head interleaved)
    r, c = w.shape
    return w.reshape(n_head, 2, r // n_head // 2, c).swapaxes(1, 2).reshape(r, c)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gguf-py", required=True)
    ap.add_argument("-m", required=True)
    ap.add_argument("-o", required=True)
    a = ap.parse_args()
    sys.path.insert(0, a.gguf_py)
    import gguf  # noqa: E402

    cfg = json.load(open(os.path.join(a.m, "config.json")))
    if cfg.get("model_type") != "llama":
        sys.exit("peer_gguf.py: only plain Llama shapes (0.5b/1.5b presets) are converted")
    T = read_safetensors(os.path.join(a.m, "model.safetensors"))
    H, KV = cfg["num_attention_heads"], cfg.get("num_key_value_heads", cfg["num_attention_heads"])
    w = gguf.GGUFWriter(a.o, "llama")
    w.add_context_length(cfg.get("max_position_embeddings", 2048))
    w.add_embedding_length(cfg["hidden_size"])
    w.add_block_count(cfg["num_hidden_layers"])
    w.add_feed_forward_length(cfg["intermediate_size"])
    w.add_head_count(H)
    w.add_head_count_kv(KV)
    w.add_rope_freq_base(cfg.get("rope_theta", 10000.0))
    w.add_layer_norm_rms_eps(cfg.get("rms_norm_eps", 1e-6))
    w.add_rope_dimension_count(cfg.get("head_dim", cfg["hidden_size"] // H))
    w.add_vocab_size(cfg["vocab_size"])
    w.add_file_type(gguf.LlamaFileType.MOSTLY_BF16)
    w.add_tokenizer_model("no_vocab")
    names = {"model.embed_tokens.weight": "token_embd.weight", "model.norm.weight": "output_norm.weight",
             "lm_head.weight": "output.weight"}
    per = {"input_layernorm": "attn_norm", "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k",
           "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output", "post_attention_layernorm": "ffn_norm",
           "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down"}
    for name, (dt, arr) in T.items():
        if name in names:
            out = names[name]
        else:
            parts = name.split(".")
            key = ".".join(parts[3:-1])
            out = "blk.%s.%s.weight" % (parts[2], per[key])
            if key == "self_attn.q_proj":
                arr = permute(arr, H)
            elif key == "self_attn.k_proj":
                arr = permute(arr, KV)
        if arr.ndim == 1:  # norms as F32
            arr = (arr.astype(np.uint32) << 16).view(np.float32) if dt == "BF16" else arr.astype(np.float32)
            w.add_tensor(out, np.ascontiguousarray(arr))
        elif dt == "BF16":
            w.add_tensor(out, np.ascontiguousarray(arr), raw_shape=arr.shape, raw_dtype=gguf.GGMLQuantizationType.BF16)
        else:
            w.add_tensor(out, np.ascontiguousarray(arr.astype(np.float32)))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


if __name__ == "__main__":
    main()
