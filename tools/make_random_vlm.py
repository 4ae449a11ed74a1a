#!/usr/bin/python3
"""make_random_vlm.py - write a random-weight UNIFIED vision-language checkpoint folder
(llm.md §3.2, vision.md §2): config.json with text_config + vision_config, sharded
safetensors + model.safetensors.index.json, a small tokenizer with the vision placeholder
tokens, and preprocessor_config.json. The LLM part comes from make_random_hcx.py
(--unified); the ViT (model.vision_model.*) and projector (model.mm_projector.*) are
written here, scaled so activations stay O(1) through the tower (non-trivial RMSNorm
gains and biases), like a trained network would keep them.

Layouts: track-a (Think-32B style: HyperCLOVAXVisionV2ForConditionalGeneration,
vision model_type qwen2_5_vl) and omni (HCXVisionV2ForCausalLM, qwen2_5_vl_visual).

Examples:
  make_random_vlm.py --out /tmp/v --layout omni --depth 3 --hidden 32 --heads 2 \\
      --intermediate 48 --out-hidden 40 --fullatt 1 --window 112 --dtype f32
  make_random_vlm.py --out /tmp/vreal --preset real --dtype bf16     # benchmark shape
Test helpers: --omit NAME (fnmatch pattern, repeatable) leaves tensors out;
--reshape NAME=d0,d1,... writes a tensor with another shape; --set KEY=JSON overrides a
vision_config key (--set KEY= deletes it).
"""
import argparse
import fnmatch
import json
import os
import shutil
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_random_hcx as mrh  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.normpath(os.path.join(ROOT, "..", "shared"))
VISION_TOKENS = ["<|mime_start|>", "<|mime_end|>", "<|image_start|>", "<|image_end|>", "<|IMAGE_PAD|>",
                 "<|video_start|>", "<|video_end|>", "<|VIDEO_PAD|>", "<|video_aux_start|>",
                 "<|video_aux_end|>", "<|discrete_image_start|>", "<|discrete_image_end|>",
                 "<|DISCRETE_IMAGE_PAD|>", "<|vision_eol|>", "<|vision_eof|>"]
# Omni-8B input-side tokens (chat.md §2.3, llm.md §5.3): audio placeholders and the
# 6,562 unit tokens, layout A's ratio tokens, and image code tokens (--vision-codes of
# them; 65,536 in the real vocabulary).
OMNI_TOKENS = (["<|audio_start|>", "<|audio_end|>", "<|AUDIO_PAD|>", "<|discrete_audio_start|>",
                "<|discrete_audio_end|>", "<|DISCRETE_AUDIO_PAD|>", "<|audio_aux_start|>", "<|audio_aux_end|>",
                "<|vision_token|>"] +
               ["<|vision_ratio_%d:%d|>" % r for r in ((1, 1), (1, 2), (2, 1), (3, 4), (4, 3), (9, 16), (16, 9),
                                                        (1, 3), (3, 1))] +
               ["<|audio%04d|>" % i for i in range(6562)])
PRESETS = {
    "tiny": dict(depth=2, hidden=32, heads=2, intermediate=48, out_hidden=48, fullatt="1", window=112,
                 llm_hidden=64),
    # the real tower (vision.md §2.1); projector to 4096 (Omni) with a minimal LLM
    "real": dict(depth=32, hidden=1280, heads=16, intermediate=3456, out_hidden=5120, fullatt="7,15,23,31",
                 window=112, llm_hidden=4096),
}


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True)
    p.add_argument("--layout", choices=["track-a", "omni"], default="track-a")
    p.add_argument("--preset", choices=sorted(PRESETS), default="tiny")
    p.add_argument("--depth", type=int)
    p.add_argument("--hidden", type=int)
    p.add_argument("--heads", type=int)
    p.add_argument("--intermediate", type=int)
    p.add_argument("--out-hidden", type=int)
    p.add_argument("--fullatt", help="comma-separated full-attention block indexes ('' for none)")
    p.add_argument("--window", type=int, help="window_size in pixels")
    p.add_argument("--llm-hidden", type=int, help="LLM width D = projector rows")
    p.add_argument("--dtype", choices=sorted(mrh.ST_DTYPE), default="f32", help="ViT + projector dtype")
    p.add_argument("--norm-dtype", choices=sorted(mrh.ST_DTYPE), help="dtype of gains and biases (default --dtype)")
    p.add_argument("--llm-dtype", choices=sorted(mrh.ST_DTYPE), help="default --dtype")
    p.add_argument("--shards", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--omit", action="append", default=[])
    p.add_argument("--reshape", action="append", default=[])
    p.add_argument("--set", action="append", default=[])
    p.add_argument("--omni-tokens", action="store_true",
                   help="also add the Omni audio/unit/ratio tokens (implied by --layout omni)")
    p.add_argument("--vision-codes", type=int, default=0,
                   help="add <|vision00000|>... code tokens (TA-Tok codebook size)")
    p.add_argument("--quiet", action="store_true")
    a = p.parse_args(argv)
    a.omni_tokens = a.omni_tokens or a.layout == "omni"
    for k, v in PRESETS[a.preset].items():
        if getattr(a, k) is None:
            setattr(a, k, v)
    a.fullatt = [int(x) for x in a.fullatt.split(",") if x.strip() != ""]
    a.norm_dtype = a.norm_dtype or a.dtype
    a.llm_dtype = a.llm_dtype or a.dtype
    return a


def vision_specs(a):
    """[(name, shape, kind, scale)]: kind mat/norm/bias; scale = std of the values."""
    E, F, O, D = a.hidden, a.intermediate, a.out_hidden, a.llm_hidden
    v = "model.vision_model."
    t = [(v + "patch_embed.proj.weight", (E, 3, 2, 14, 14), "mat", 1.0 / np.sqrt(1176))]
    for i in range(a.depth):
        b = v + "blocks.%d." % i
        t += [(b + "norm1.weight", (E,), "norm", 0.2), (b + "norm2.weight", (E,), "norm", 0.2),
              (b + "attn.qkv.weight", (3 * E, E), "mat", 1.0 / np.sqrt(E)),
              (b + "attn.qkv.bias", (3 * E,), "bias", 0.1),
              (b + "attn.proj.weight", (E, E), "mat", 0.5 / np.sqrt(E)),
              (b + "attn.proj.bias", (E,), "bias", 0.05),
              (b + "mlp.gate_proj.weight", (F, E), "mat", 1.0 / np.sqrt(E)),
              (b + "mlp.gate_proj.bias", (F,), "bias", 0.1),
              (b + "mlp.up_proj.weight", (F, E), "mat", 1.0 / np.sqrt(E)),
              (b + "mlp.up_proj.bias", (F,), "bias", 0.1),
              (b + "mlp.down_proj.weight", (E, F), "mat", 0.5 / np.sqrt(F)),
              (b + "mlp.down_proj.bias", (E,), "bias", 0.05)]
    t += [(v + "merger.ln_q.weight", (E,), "norm", 0.2),
          (v + "merger.mlp.0.weight", (4 * E, 4 * E), "mat", 1.0 / np.sqrt(4 * E)),
          (v + "merger.mlp.0.bias", (4 * E,), "bias", 0.1),
          (v + "merger.mlp.2.weight", (O, 4 * E), "mat", 1.0 / np.sqrt(4 * E)),
          (v + "merger.mlp.2.bias", (O,), "bias", 0.05),
          ("model.mm_projector.weight", (D, O), "mat", 1.0 / np.sqrt(O)),
          ("model.mm_projector.bias", (D,), "bias", 0.05)]
    return t


def read_st(path):
    """Header entries of one safetensors file: {name: (dtype, shape, bytes)}."""
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        h = json.loads(f.read(n))
        base = 8 + n
        out = {}
        for k, e in h.items():
            if k == "__metadata__":
                continue
            b, en = e["data_offsets"]
            f.seek(base + b)
            out[k] = (e["dtype"], e["shape"], f.read(en - b))
    return out


def write_vision_tensor(f, rng, shape, kind, scale, dt):
    n = mrh.nelem(shape)
    done = 0
    while done < n:
        m = min(mrh.CHUNK_ELEMS, n - done)
        x = rng.standard_normal(m, dtype=np.float32) * np.float32(scale)
        if kind == "norm":
            x += np.float32(1.0)
        f.write(mrh.encode(x, dt))
        done += m


def tokenizer(src_dir, out_dir, extra=()):
    """Copy a small tokenizer and append the vision placeholder tokens (and extra);
    returns {str: id}."""
    with open(os.path.join(src_dir, "tokenizer.json")) as f:
        tj = json.load(f)
    with open(os.path.join(src_dir, "tokenizer_config.json")) as f:
        tc = json.load(f)
    nxt = max([t["id"] for t in tj["added_tokens"]] + list(tj["model"]["vocab"].values())) + 1
    ids = {}
    for s in list(VISION_TOKENS) + list(extra):
        ids[s] = nxt
        e = {"id": nxt, "content": s, "single_word": False, "lstrip": False, "rstrip": False,
             "normalized": False, "special": True}
        tj["added_tokens"].append(e)
        tc.setdefault("added_tokens_decoder", {})[str(nxt)] = {k: v for k, v in e.items() if k != "id"}
        nxt += 1
    with open(os.path.join(out_dir, "tokenizer.json"), "w") as f:
        json.dump(tj, f, ensure_ascii=False)
    with open(os.path.join(out_dir, "tokenizer_config.json"), "w") as f:
        json.dump(tc, f, ensure_ascii=False, indent=2)
    return ids, nxt


def main(argv=None):
    a = parse_args(argv if argv is not None else sys.argv[1:])
    os.makedirs(a.out, exist_ok=True)
    for fn in os.listdir(a.out):
        if fn.endswith(".safetensors") or fn == "model.safetensors.index.json":
            os.remove(os.path.join(a.out, fn))
    tok_src = os.path.join(SHARED, "golden", "hcx-tiny", "model")
    extra = (OMNI_TOKENS if a.omni_tokens else []) + ["<|vision%05d|>" % i for i in range(a.vision_codes)]
    tok_ids, n_tok = tokenizer(tok_src, a.out, extra) if os.path.exists(tok_src) else ({}, 512)
    vocab = max(640, (n_tok + 63) // 64 * 64)

    # LLM part: a minimal unified HCX decoder of width D
    D = a.llm_hidden
    tmp = tempfile.mkdtemp(prefix="vlm-llm-")
    try:
        heads = 4 if D % 64 == 0 else 2
        mrh.main(["--out", tmp, "--unified", "--vocab", str(vocab), "--hidden", str(D), "--layers", "1",
                  "--heads", str(heads), "--kv-heads", "2", "--head-dim", "16", "--ffn", "64",
                  "--dtype", a.llm_dtype, "--seed", str(a.seed + 1), "--quiet"])
        with open(os.path.join(tmp, "config.json")) as f:
            llm_cfg = json.load(f)
        llm = read_st(os.path.join(tmp, "model.safetensors"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    # config.json
    vc = {"depth": a.depth, "hidden_size": a.hidden, "num_heads": a.heads, "intermediate_size": a.intermediate,
          "out_hidden_size": a.out_hidden, "hidden_act": "silu", "patch_size": 14, "spatial_patch_size": 14,
          "temporal_patch_size": 2, "in_channels": 3, "in_chans": 3, "spatial_merge_size": 2,
          "window_size": a.window, "fullatt_block_indexes": a.fullatt, "tokens_per_second": 2,
          "model_type": "qwen2_5_vl" if a.layout == "track-a" else "qwen2_5_vl_visual",
          "architectures": ["Qwen2_5_VisionTransformerPretrainedModel"]}
    for s in a.set:
        k, _, v = s.partition("=")
        if v == "":
            vc.pop(k, None)
        else:
            vc[k] = json.loads(v)
    cfg = {"architectures": ["HyperCLOVAXVisionV2ForConditionalGeneration" if a.layout == "track-a"
                             else "HCXVisionForCausalLM"],
           "model_type": "hyperclovax_vision_v2" if a.layout == "track-a" else "vlm",
           "text_config": llm_cfg["text_config"], "vision_config": vc,
           "tie_word_embeddings": llm_cfg["tie_word_embeddings"], "torch_dtype": llm_cfg["torch_dtype"],
           "mm_projector_type": "linear"}
    for key, s in (("image_token_id", "<|IMAGE_PAD|>"), ("video_token_id", "<|VIDEO_PAD|>"),
                   ("image_start_token_id", "<|image_start|>"), ("image_end_token_id", "<|image_end|>")):
        if s in tok_ids:
            cfg[key] = tok_ids[s]
    if a.layout == "omni" and "<|DISCRETE_IMAGE_PAD|>" in tok_ids:
        cfg["discrete_image_token_id"] = tok_ids["<|DISCRETE_IMAGE_PAD|>"]
    for key, s in (("audio_start_id", "<|AUDIO_PAD|>"), ("discrete_audio_start_id", "<|DISCRETE_AUDIO_PAD|>"),
                   ("discrete_audio_unit_0_id", "<|audio0000|>"), ("discrete_image_unit_0_id", "<|vision00000|>")):
        if s in tok_ids:
            cfg[key] = tok_ids[s]
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    pp = os.path.join(SHARED, "reference", "omniserve", "encoder_vision_track_a", "preprocessor_config.json")
    if os.path.exists(pp):
        shutil.copyfile(pp, os.path.join(a.out, "preprocessor_config.json"))

    # tensors: LLM (raw bytes) + vision (generated), name order, split into shards
    reshape = {}
    for r in a.reshape:
        k, _, v = r.partition("=")
        reshape[k] = tuple(int(x) for x in v.split(","))
    items = []  # (name, st_dtype, shape, nbytes, source)
    for name, (dt, shape, raw) in llm.items():
        items.append((name, dt, tuple(shape), len(raw), ("raw", raw)))
    for name, shape, kind, scale in vision_specs(a):
        dt = a.dtype if kind == "mat" else a.norm_dtype
        shape = reshape.get(name, shape)
        items.append((name, mrh.ST_DTYPE[dt], shape, mrh.nelem(shape) * mrh.ELEM_SIZE[dt], ("gen", kind, scale, dt)))
    items = [it for it in items if not any(fnmatch.fnmatchcase(it[0], p) for p in a.omit)]
    items.sort(key=lambda x: x[0])
    ns = max(1, min(a.shards, len(items)))
    per = (len(items) + ns - 1) // ns
    groups = [items[i:i + per] for i in range(0, len(items), per)]
    ns = len(groups)
    rng = np.random.default_rng(a.seed)
    weight_map, total = {}, 0
    for si, grp in enumerate(groups):
        fn = "model.safetensors" if ns == 1 else "model-%05d-of-%05d.safetensors" % (si + 1, ns)
        h, off = {"__metadata__": {"format": "pt"}}, 0
        for name, dt, shape, nb, _ in grp:
            h[name] = {"dtype": dt, "shape": list(shape), "data_offsets": [off, off + nb]}
            off += nb
            weight_map[name] = fn
        total += off
        js = json.dumps(h, separators=(",", ":")).encode()
        js += b" " * ((8 - len(js) % 8) % 8)
        with open(os.path.join(a.out, fn), "wb") as f:
            f.write(len(js).to_bytes(8, "little") + js)
            for name, dt, shape, nb, src in grp:
                if src[0] == "raw":
                    f.write(src[1])
                else:
                    write_vision_tensor(f, rng, shape, src[1], src[2], src[3])
    if ns > 1:
        with open(os.path.join(a.out, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}, f, indent=2)
    if not a.quiet:
        print("%s: %s layout, ViT depth %d width %d, %d tensors in %d shard(s), %.1f MB" %
              (a.out, a.layout, a.depth, a.hidden, len(items), ns, total / 1e6), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
