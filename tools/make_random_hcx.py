#!/usr/bin/python3
"""make_random_hcx.py - write a random-weight HyperCLOVA X SEED text model (or a plain
Llama one) as a Hugging Face folder in the real checkpoint format (llm.md §1.2, §3):
config.json + model.safetensors, or shards + model.safetensors.index.json.

numpy only. Tensors are generated and written one chunk at a time, so the large presets
(0.5b, 1.5b, 8b) never hold the whole model in memory.

Examples:
  make_random_hcx.py --preset tiny --out /tmp/m
  make_random_hcx.py --preset 0.5b --dtype bf16 --out models/hcx-0.5b-bf16
  make_random_hcx.py --hidden 48 --heads 3 --kv-heads 1 --head-dim 20 --layers 2 \\
      --ffn 96 --vocab 300 --post-norm absent-key --unified --shards 3 --out /tmp/m2
"""
import argparse
import json
import os
import shutil
import sys

import numpy as np

# Real (or assumed) shapes; see llm.md §2.
PRESETS = {
    "tiny": dict(vocab=512, hidden=64, layers=2, heads=4, kv_heads=2, head_dim=16, ffn=160,
                 tied=True, arch="hyperclovax"),
    "small": dict(vocab=768, hidden=256, layers=4, heads=8, kv_heads=2, head_dim=32, ffn=384,
                  tied=False, arch="hyperclovax"),
    # Text-Instruct-0.5B (llm.md §2, inferred from the published size; plain Llama).
    "0.5b": dict(vocab=110592, hidden=1024, layers=24, heads=16, kv_heads=8, head_dim=64,
                 ffn=5120, tied=True, arch="llama"),
    # Text-Instruct-1.5B: this shape is ASSUMED (llm.md §2 has no verified values);
    # it gives ~1.59B parameters with tied embeddings.
    "1.5b": dict(vocab=110592, hidden=2048, layers=24, heads=16, kv_heads=8, head_dim=128,
                 ffn=7168, tied=True, arch="llama"),
    # Omni-8B-like LLM (D 4096, 36 layers per tech-report summaries; the real vocabulary is
    # >= 200704, 110592 is used for now). HCX decoder, untied.
    "8b": dict(vocab=110592, hidden=4096, layers=36, heads=32, kv_heads=8, head_dim=128,
               ffn=12288, tied=False, arch="hyperclovax"),
}

ST_DTYPE = {"f32": "F32", "bf16": "BF16", "f16": "F16"}
ELEM_SIZE = {"f32": 4, "bf16": 2, "f16": 2}
CHUNK_ELEMS = 1 << 22  # elements generated per step when streaming


def f32_to_bf16_bits(x):
    """Round float32 -> bfloat16 (round to nearest, ties to even); returns uint16."""
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32)
    nan = (u & 0x7FFFFFFF) > 0x7F800000
    r = ((u + np.uint32(0x7FFF) + ((u >> np.uint32(16)) & np.uint32(1))) >> np.uint32(16))
    r = r.astype(np.uint16)
    if nan.any():
        r[nan] = 0x7FC0
    return r


def encode(x, dtype):
    """float32 array -> little-endian bytes of the given storage dtype."""
    if dtype == "f32":
        return x.astype("<f4").tobytes()
    if dtype == "f16":
        return x.astype("<f2").tobytes()
    return f32_to_bf16_bits(x).astype("<u2").tobytes()


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True, help="output folder (created)")
    p.add_argument("--preset", choices=sorted(PRESETS))
    p.add_argument("--vocab", type=int)
    p.add_argument("--hidden", type=int)
    p.add_argument("--layers", type=int)
    p.add_argument("--heads", type=int)
    p.add_argument("--kv-heads", type=int)
    p.add_argument("--head-dim", type=int, help="per-head width (may differ from hidden/heads)")
    p.add_argument("--ffn", type=int)
    p.add_argument("--dtype", choices=sorted(ST_DTYPE), default="f32")
    p.add_argument("--norm-dtype", choices=sorted(ST_DTYPE),
                   help="dtype of the norm gains (default: --dtype)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--tied", dest="tied", action="store_true", default=None)
    g.add_argument("--untied", dest="tied", action="store_false")
    p.add_argument("--arch", choices=["hyperclovax", "llama"])
    p.add_argument("--post-norm", choices=["on", "off", "absent-key"],
                   help="use_post_norm in the config (default: on for hyperclovax; llama has none)")
    p.add_argument("--post-norm-tensors", choices=["yes", "no"],
                   help="write post_norm1/2 tensors (default: yes iff post norms are on/absent-key)")
    p.add_argument("--unified", action="store_true",
                   help="unified multimodal repo layout (HCXVisionV2ForCausalLM, text_config, "
                        "model.language_model.* prefixes)")
    p.add_argument("--attention-bias", action="store_true")
    p.add_argument("--mlp-bias", action="store_true")
    p.add_argument("--emb-mult", type=float, help="embedding_multiplier")
    p.add_argument("--attn-mult", type=float, help="attention_multiplier")
    p.add_argument("--res-mult", type=float, help="residual_multiplier")
    p.add_argument("--logit-scale", type=float, help="logits_scaling")
    p.add_argument("--rope-theta", type=float, default=None)
    p.add_argument("--rope-parameters", action="store_true",
                   help="write transformers-v5 rope_parameters instead of rope_theta/rope_scaling")
    p.add_argument("--eps", type=float, default=None, help="rms_norm_eps")
    p.add_argument("--max-pos", type=int, default=4096, help="max_position_embeddings")
    p.add_argument("--bos-id", type=int, default=1, help="bos_token_id (-1: omit)")
    p.add_argument("--eos-id", type=int, default=2, help="eos_token_id (-1: omit)")
    p.add_argument("--std", type=float, default=0.02, help="init std of matrices and embedding")
    p.add_argument("--norm-std", type=float, default=0.1,
                   help="norm gains are 1 + N(0, norm-std)")
    p.add_argument("--seed", type=int, default=0)
    s = p.add_mutually_exclusive_group()
    s.add_argument("--shards", type=int, default=0, help="split into N shards (+ index)")
    s.add_argument("--max-shard-bytes", type=int, default=0,
                   help="start a new shard when the next tensor would exceed this")
    p.add_argument("--tokenizer-from", help="copy tokenizer.json / tokenizer_config.json from DIR")
    p.add_argument("--quiet", action="store_true")
    a = p.parse_args(argv)

    base = dict(PRESETS[a.preset]) if a.preset else {}
    for k in ("vocab", "hidden", "layers", "heads", "kv_heads", "head_dim", "ffn", "arch"):
        v = getattr(a, k)
        if v is not None:
            base[k] = v
    if a.tied is not None:
        base["tied"] = a.tied
    base.setdefault("arch", "hyperclovax")
    base.setdefault("tied", False)
    for k in ("vocab", "hidden", "layers", "heads", "ffn"):
        if k not in base:
            p.error("--%s is required without --preset" % k)
    base.setdefault("kv_heads", base["heads"])
    base.setdefault("head_dim", base["hidden"] // base["heads"])
    for k, v in base.items():
        setattr(a, k, v)
    if a.heads % a.kv_heads:
        p.error("--heads must be a multiple of --kv-heads")
    if a.head_dim % 2:
        p.error("--head-dim must be even (rotate-half RoPE)")
    if a.post_norm is None:
        a.post_norm = "on" if a.arch == "hyperclovax" else None
    if a.post_norm_tensors is None:
        a.post_norm_tensors = "yes" if a.post_norm in ("on", "absent-key") else "no"
    a.norm_dtype = a.norm_dtype or a.dtype
    return a


def llm_config(a):
    """The LLM part of config.json (top level, or text_config when unified)."""
    hcx = a.arch == "hyperclovax"
    c = {
        "architectures": ["HyperCLOVAXForCausalLM" if hcx else "LlamaForCausalLM"],
        "attention_bias": bool(a.attention_bias),
        "attention_dropout": 0.0,
        "head_dim": a.head_dim,
        "hidden_act": "silu",
        "hidden_size": a.hidden,
        "initializer_range": a.std,
        "intermediate_size": a.ffn,
        "max_position_embeddings": a.max_pos,
        "mlp_bias": bool(a.mlp_bias),
        "model_type": a.arch,
        "num_attention_heads": a.heads,
        "num_hidden_layers": a.layers,
        "num_key_value_heads": a.kv_heads,
        "pretraining_tp": 1,
        "rms_norm_eps": a.eps if a.eps is not None else (1e-5 if hcx else 1e-6),
        "tie_word_embeddings": bool(a.tied),
        "torch_dtype": {"f32": "float32", "bf16": "bfloat16", "f16": "float16"}[a.dtype],
        "transformers_version": "4.52.4",
        "use_cache": True,
        "vocab_size": a.vocab,
    }
    for key, v in (("bos_token_id", a.bos_id), ("eos_token_id", a.eos_id)):
        if v >= 0:
            c[key] = min(v, a.vocab - 1)
    theta = a.rope_theta if a.rope_theta is not None else (50000.0 if hcx else 10000.0)
    if a.rope_parameters:
        c["rope_parameters"] = {"rope_theta": theta, "rope_type": "default"}
    else:
        c["rope_theta"] = theta
        c["rope_scaling"] = None
    mults = {
        "embedding_multiplier": a.emb_mult,
        "attention_multiplier": a.attn_mult,
        "residual_multiplier": a.res_mult,
        "logits_scaling": a.logit_scale,
    }
    if hcx:
        # HCX configs always carry the muP keys; defaults chosen to be non-trivial.
        defaults = {"embedding_multiplier": 2.0, "attention_multiplier": 1.2 / a.head_dim ** 0.5,
                    "residual_multiplier": 0.8, "logits_scaling": 0.5}
        for k, v in mults.items():
            c[k] = v if v is not None else defaults[k]
        if a.post_norm in ("on", "off"):
            c["use_post_norm"] = a.post_norm == "on"
    else:
        # Llama: no multipliers unless asked for (they must then be ignored by readers).
        for k, v in mults.items():
            if v is not None:
                c[k] = v
        if a.post_norm in ("on", "off"):
            c["use_post_norm"] = a.post_norm == "on"
    return dict(sorted(c.items()))


def tensor_specs(a):
    """[(name, shape, kind)] in the standalone layout (llm.md §3.1); kind in
    {"mat", "norm", "bias"}."""
    D, F, V, H, Hkv, d = a.hidden, a.ffn, a.vocab, a.heads, a.kv_heads, a.head_dim
    t = [("model.embed_tokens.weight", (V, D), "mat"), ("model.norm.weight", (D,), "norm")]
    if not a.tied:
        t.append(("lm_head.weight", (V, D), "mat"))
    for i in range(a.layers):
        p = "model.layers.%d." % i
        t += [(p + "input_layernorm.weight", (D,), "norm"),
              (p + "post_attention_layernorm.weight", (D,), "norm"),
              (p + "self_attn.q_proj.weight", (H * d, D), "mat"),
              (p + "self_attn.k_proj.weight", (Hkv * d, D), "mat"),
              (p + "self_attn.v_proj.weight", (Hkv * d, D), "mat"),
              (p + "self_attn.o_proj.weight", (D, H * d), "mat"),
              (p + "mlp.gate_proj.weight", (F, D), "mat"),
              (p + "mlp.up_proj.weight", (F, D), "mat"),
              (p + "mlp.down_proj.weight", (D, F), "mat")]
        if a.attention_bias:
            t += [(p + "self_attn.q_proj.bias", (H * d,), "bias"),
                  (p + "self_attn.k_proj.bias", (Hkv * d,), "bias"),
                  (p + "self_attn.v_proj.bias", (Hkv * d,), "bias"),
                  (p + "self_attn.o_proj.bias", (D,), "bias")]
        if a.mlp_bias:
            t += [(p + "mlp.gate_proj.bias", (F,), "bias"),
                  (p + "mlp.up_proj.bias", (F,), "bias"),
                  (p + "mlp.down_proj.bias", (D,), "bias")]
        if a.post_norm_tensors == "yes":
            t += [(p + "post_norm1.weight", (D,), "norm"), (p + "post_norm2.weight", (D,), "norm")]
    if a.unified:
        # model.X -> model.language_model.model.X; lm_head.weight ->
        # model.language_model.lm_head.weight (llm.md §3.2)
        t = [("model.language_model." + n, s, k) for n, s, k in t]
    return sorted(t, key=lambda x: x[0])


def nelem(shape):
    n = 1
    for s in shape:
        n *= s
    return n


def split_shards(specs, sizes, a):
    """Assign each tensor (in name order) to a shard; returns a list of index lists."""
    n = len(specs)
    if a.max_shard_bytes > 0:
        shards, cur, cur_b = [], [], 0
        for i in range(n):
            if cur and cur_b + sizes[i] > a.max_shard_bytes:
                shards.append(cur)
                cur, cur_b = [], 0
            cur.append(i)
            cur_b += sizes[i]
        shards.append(cur)
        return shards
    k = a.shards if a.shards > 0 else 1
    k = min(k, n)
    total = sum(sizes)
    shards = [[] for _ in range(k)]
    start, prev = 0, 0
    for i in range(n):
        s = min(k - 1, (start * k) // max(total, 1))
        s = max(s, prev, k - (n - i))  # keep order, and leave >= 1 tensor per later shard
        s = min(s, i)                  # ... and >= 1 per earlier shard
        shards[s].append(i)
        prev = s
        start += sizes[i]
    return shards


def st_header(entries):
    """Serialize a safetensors header (8-byte length + JSON padded with spaces to 8)."""
    h = {"__metadata__": {"format": "pt"}}
    for name, dt, shape, b, e in entries:
        h[name] = {"dtype": ST_DTYPE[dt], "shape": list(shape), "data_offsets": [b, e]}
    js = json.dumps(h, separators=(",", ":")).encode()
    js += b" " * ((8 - len(js) % 8) % 8)
    return len(js).to_bytes(8, "little") + js


def add_shard(model_dir, shard, entries, blobs):
    """Write tensors (entries as st_header takes them, blobs their bytes) as the extra
    shard `shard` of a model folder and point model.safetensors.index.json at it
    (made from the single model.safetensors if there is no index yet; entries of an
    earlier run of the same shard are replaced). total_size = the tensor bytes of all
    shards."""
    with open(os.path.join(model_dir, shard), "wb") as f:
        f.write(st_header(entries))
        for b in blobs:
            f.write(b)
    idx_path = os.path.join(model_dir, "model.safetensors.index.json")
    if os.path.exists(idx_path):
        with open(idx_path) as f:
            idx = json.load(f)
    else:
        with open(os.path.join(model_dir, "model.safetensors"), "rb") as f:
            n = int.from_bytes(f.read(8), "little")
            hdr = json.loads(f.read(n))
        idx = {"metadata": {}, "weight_map": {k: "model.safetensors" for k in hdr if k != "__metadata__"}}
    wm = {k: v for k, v in idx["weight_map"].items() if v != shard}
    for e in entries:
        wm[e[0]] = shard
    idx["weight_map"] = dict(sorted(wm.items()))
    total = 0
    for fn in set(wm.values()):
        with open(os.path.join(model_dir, fn), "rb") as f:
            n = int.from_bytes(f.read(8), "little")
        total += os.path.getsize(os.path.join(model_dir, fn)) - 8 - n
    idx.setdefault("metadata", {})["total_size"] = total
    with open(idx_path, "w") as f:
        json.dump(idx, f, indent=2)
        f.write("\n")


def write_tensor(f, rng, shape, kind, dt, a):
    n = nelem(shape)
    done = 0
    while done < n:
        m = min(CHUNK_ELEMS, n - done)
        x = rng.standard_normal(m, dtype=np.float32)
        if kind == "norm":
            x = 1.0 + np.float32(a.norm_std) * x
        elif kind == "bias":
            x *= np.float32(max(a.std, 0.02))
        else:
            x *= np.float32(a.std)
        f.write(encode(x, dt))
        done += m


def main(argv=None):
    a = parse_args(argv if argv is not None else sys.argv[1:])
    specs = tensor_specs(a)
    dts = [a.norm_dtype if k == "norm" else a.dtype for _, _, k in specs]
    sizes = [nelem(s) * ELEM_SIZE[dt] for (_, s, _), dt in zip(specs, dts)]
    shards = split_shards(specs, sizes, a)
    os.makedirs(a.out, exist_ok=True)

    # config.json
    lc = llm_config(a)
    if a.unified:
        tc = dict(lc)
        tc.pop("architectures", None)
        cfg = {
            "architectures": ["HCXVisionV2ForCausalLM"],
            "model_type": "vlm",
            "text_config": tc,
            "tie_word_embeddings": lc["tie_word_embeddings"],
            "torch_dtype": lc["torch_dtype"],
            "transformers_version": lc["transformers_version"],
        }
    else:
        cfg = lc
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")

    # Remove stale weight files from an earlier run into the same folder.
    for fn in os.listdir(a.out):
        if fn.endswith(".safetensors") or fn == "model.safetensors.index.json":
            os.remove(os.path.join(a.out, fn))

    rng = np.random.default_rng(a.seed)
    ns = len(shards)
    weight_map = {}
    for si, idx in enumerate(shards):
        fn = "model.safetensors" if ns == 1 else "model-%05d-of-%05d.safetensors" % (si + 1, ns)
        entries, off = [], 0
        for i in idx:
            entries.append((specs[i][0], dts[i], specs[i][1], off, off + sizes[i]))
            off += sizes[i]
            weight_map[specs[i][0]] = fn
        with open(os.path.join(a.out, fn), "wb") as f:
            f.write(st_header(entries))
            for i in idx:
                write_tensor(f, rng, specs[i][1], specs[i][2], dts[i], a)
        if not a.quiet:
            print("wrote %s (%d tensors, %.1f MB)" % (fn, len(idx), off / 1e6), file=sys.stderr)
    if ns > 1:
        index = {"metadata": {"total_size": sum(sizes)},
                 "weight_map": dict(sorted(weight_map.items()))}
        with open(os.path.join(a.out, "model.safetensors.index.json"), "w") as f:
            json.dump(index, f, indent=2)
            f.write("\n")

    if a.tokenizer_from:
        for fn in ("tokenizer.json", "tokenizer_config.json"):
            src = os.path.join(a.tokenizer_from, fn)
            if os.path.exists(src):
                shutil.copyfile(src, os.path.join(a.out, fn))
    if not a.quiet:
        n_params = sum(nelem(s) for _, s, _ in specs)
        print("%s: %d params, %s, %d file(s)" % (a.out, n_params, a.dtype, ns), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
