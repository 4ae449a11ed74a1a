#!/usr/bin/python3
"""make_audit_pairs.py - synthetic checkpoint pairs for `omnic audit` (issue 10).

Weights that look trained, not i.i.d. Gaussian: low-rank structure with a decaying
spectrum plus heavy-tailed (Student-t) noise, uneven row and column norms, norm
gains spread around 1, small heavy-tailed biases; the audio encoders' position
table is Whisper's fixed sinusoid (the same in every model: the pitfall that makes
independent encoders look correlated).

Layouts (small widths), in the real naming conventions:
  * HCX unified folder: model.language_model.model.* / model.language_model.lm_head,
    model.vision_model.* (Qwen2.5-VL ViT: blocks.N.attn.qkv fused), model.mm_projector.*,
    model.audio_model.* (Qwen2-Audio encoder), model.audio_projector.*;
  * Qwen2.5-VL-style: visual.* + model.* LLM + lm_head;
  * Qwen2-Audio-style: audio_tower.* + multi_modal_projector.linear + language_model.*;
  * Whisper-style: model.encoder.* + model.decoder.*;
  * standalone HCX LLM folder (for `omnic quantize` -> GGUF in the fork's conventions).

Transforms: copy, fine-tune drift (relative norm alpha), function-preserving
permutation of the vision tower's hidden units (residual width, heads, MLP units),
uniform rescaling, compensated scaling (Q x s / K / s per part of the fused qkv,
V x s with proj / s, up x s with down / s), partial layer copies.

`make_audit_pairs.py --out DIR` writes the set used by tests/integration/test_audit.py
(the test imports this module and builds them itself).

`make_audit_pairs.py --big DIR --layers N [--vocab V] --variant base|indep|copy|perm`
streams one 8B-size standalone HCX LLM (D 4096, FFN 12288, 32 / 8 heads of 128,
bf16; ~0.39 GB per layer) for timing `omnic audit` at scale: base (seed 0), indep
(another draw), copy (the base regenerated bit for bit), perm (the base with a
function-preserving permutation of the residual width, of the KV groups / query
heads and of the MLP units of every layer)."""
import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_random_hcx  # noqa: E402

# shapes
VIS = dict(E=48, F=96, depth=4, heads=4, out=64, patch=(3, 2, 4, 4))
AUD = dict(E=48, F=96, layers=4, mels=16, pos=64)
LLM_ARGS = ["--vocab", "256", "--hidden", "64", "--layers", "4", "--heads", "4", "--kv-heads", "2",
            "--head-dim", "16", "--ffn", "128", "--untied"]
D_LLM = 64


# ---- trained-looking tensors ----
def mat(rng, r, c, scale=0.02):
    k = max(2, min(r, c) // 4)
    s = np.exp(-np.arange(k) / (k / 3.0))
    low = (rng.standard_normal((r, k)) * s) @ rng.standard_normal((k, c)) / np.sqrt(k)
    w = 1.5 * low + 0.5 * rng.standard_t(3, size=(r, c))
    w *= np.exp(0.35 * rng.standard_normal((r, 1)))
    w *= np.exp(0.15 * rng.standard_normal((1, c)))
    return (w * scale / w.std()).astype(np.float32)


def gain(rng, n):
    return (1.0 + 0.25 * np.tanh(rng.standard_t(4, size=n))).astype(np.float32)


def bias(rng, n):
    return (0.01 * rng.standard_t(3, size=n)).astype(np.float32)


def sinusoids(length, channels):
    """Whisper's fixed position table: sin of the first half, cos of the second."""
    inc = np.log(10000.0) / (channels // 2 - 1)
    inv = np.exp(-inc * np.arange(channels // 2))
    t = np.arange(length)[:, None] * inv[None, :]
    return np.concatenate([np.sin(t), np.cos(t)], axis=1).astype(np.float32)


def vision(seed, E=None, depth=None):
    rng = np.random.default_rng(seed)
    E = E or VIS["E"]
    F, O = VIS["F"], VIS["out"]
    depth = depth or VIS["depth"]
    t = {"patch_embed.proj.weight": mat(rng, E, int(np.prod(VIS["patch"]))).reshape((E,) + VIS["patch"])}
    for i in range(depth):
        p = "blocks.%d." % i
        t[p + "norm1.weight"] = gain(rng, E)
        t[p + "attn.qkv.weight"] = np.concatenate([mat(rng, E, E) for _ in range(3)])
        t[p + "attn.qkv.bias"] = bias(rng, 3 * E)
        t[p + "attn.proj.weight"] = mat(rng, E, E)
        t[p + "attn.proj.bias"] = bias(rng, E)
        t[p + "norm2.weight"] = gain(rng, E)
        for n, (r, c) in (("gate_proj", (F, E)), ("up_proj", (F, E)), ("down_proj", (E, F))):
            t[p + "mlp.%s.weight" % n] = mat(rng, r, c)
            t[p + "mlp.%s.bias" % n] = bias(rng, r)
    t["merger.ln_q.weight"] = gain(rng, E)
    t["merger.mlp.0.weight"] = mat(rng, 4 * E, 4 * E)
    t["merger.mlp.0.bias"] = bias(rng, 4 * E)
    t["merger.mlp.2.weight"] = mat(rng, O, 4 * E)
    t["merger.mlp.2.bias"] = bias(rng, O)
    return t


def audio(seed, E=None):
    rng = np.random.default_rng(seed)
    E = E or AUD["E"]
    F, M = AUD["F"], AUD["mels"]
    t = {"conv1.weight": mat(rng, E, M * 3).reshape(E, M, 3), "conv1.bias": bias(rng, E),
         "conv2.weight": mat(rng, E, E * 3).reshape(E, E, 3), "conv2.bias": bias(rng, E),
         "embed_positions.weight": sinusoids(AUD["pos"], E)}
    for i in range(AUD["layers"]):
        p = "layers.%d." % i
        for n in ("q_proj", "k_proj", "v_proj", "out_proj"):
            t[p + "self_attn.%s.weight" % n] = mat(rng, E, E)
            if n != "k_proj":
                t[p + "self_attn.%s.bias" % n] = bias(rng, E)
        t[p + "self_attn_layer_norm.weight"] = gain(rng, E)
        t[p + "self_attn_layer_norm.bias"] = bias(rng, E)
        t[p + "fc1.weight"] = mat(rng, F, E)
        t[p + "fc1.bias"] = bias(rng, F)
        t[p + "fc2.weight"] = mat(rng, E, F)
        t[p + "fc2.bias"] = bias(rng, E)
        t[p + "final_layer_norm.weight"] = gain(rng, E)
        t[p + "final_layer_norm.bias"] = bias(rng, E)
    t["layer_norm.weight"] = gain(rng, E)
    t["layer_norm.bias"] = bias(rng, E)
    return t


def llm_args():
    return make_random_hcx.parse_args(LLM_ARGS + ["--out", "/dev/null"])


def llm(seed):
    """standalone names (model.*, lm_head.weight)"""
    rng = np.random.default_rng(seed)
    t = {}
    for name, shape, kind in make_random_hcx.tensor_specs(llm_args()):
        if kind == "mat":
            t[name] = mat(rng, shape[0], shape[1])
        elif kind == "norm":
            t[name] = gain(rng, shape[0])
        else:
            t[name] = bias(rng, shape[0])
    return t


def projectors(seed):
    rng = np.random.default_rng(seed)
    E, O = AUD["E"], VIS["out"]
    return ({"weight": mat(rng, D_LLM, O), "bias": bias(rng, D_LLM)},
            {"fc1.weight": mat(rng, E, E), "fc1.bias": bias(rng, E),
             "fc2.weight": mat(rng, D_LLM, E), "fc2.bias": bias(rng, D_LLM)})


# ---- transforms ----
def drift(t, alpha, seed, skip=("embed_positions",)):
    """fine-tuning: W + alpha |W| U/|U| with U low-rank + noise (per tensor)"""
    rng = np.random.default_rng(seed)
    out = {}
    for k, w in t.items():
        if any(s in k for s in skip):
            out[k] = w.copy()
            continue
        m = w.reshape(w.shape[0], -1) if w.ndim > 1 else w.reshape(1, -1)
        u = mat(rng, m.shape[0], m.shape[1]) if min(m.shape) > 1 else rng.standard_normal(m.shape).astype(np.float32)
        u *= np.linalg.norm(m) / max(np.linalg.norm(u), 1e-30) * alpha
        out[k] = (m + u).reshape(w.shape).astype(np.float32)
    return out


def scale_all(t, s):
    return {k: (w * s if w.ndim > 1 else w.copy()).astype(np.float32) for k, w in t.items()}


def permute_vision(t, seed):
    """function-preserving permutation of the residual width E, of heads and of
    the MLP units of every block"""
    rng = np.random.default_rng(seed)
    E = t["merger.ln_q.weight"].shape[0]
    H = VIS["heads"]
    hd = E // H
    pe = rng.permutation(E)
    o = {k: w.copy() for k, w in t.items()}
    pw = t["patch_embed.proj.weight"]
    o["patch_embed.proj.weight"] = pw[pe]
    depth = max(int(k.split(".")[1]) for k in t if k.startswith("blocks.")) + 1
    for i in range(depth):
        p = "blocks.%d." % i
        o[p + "norm1.weight"] = t[p + "norm1.weight"][pe]
        o[p + "norm2.weight"] = t[p + "norm2.weight"][pe]
        ph = rng.permutation(H)
        rows = np.concatenate([np.arange(h * hd, (h + 1) * hd) for h in ph])
        qkv, qb = t[p + "attn.qkv.weight"], t[p + "attn.qkv.bias"]
        allrows = np.concatenate([rows, rows + E, rows + 2 * E])
        o[p + "attn.qkv.weight"] = qkv[allrows][:, pe]
        o[p + "attn.qkv.bias"] = qb[allrows]
        o[p + "attn.proj.weight"] = t[p + "attn.proj.weight"][pe][:, rows]
        o[p + "attn.proj.bias"] = t[p + "attn.proj.bias"][pe]
        F = t[p + "mlp.up_proj.weight"].shape[0]
        pf = rng.permutation(F)
        for n in ("gate_proj", "up_proj"):
            o[p + "mlp.%s.weight" % n] = t[p + "mlp.%s.weight" % n][pf][:, pe]
            o[p + "mlp.%s.bias" % n] = t[p + "mlp.%s.bias" % n][pf]
        o[p + "mlp.down_proj.weight"] = t[p + "mlp.down_proj.weight"][pe][:, pf]
        o[p + "mlp.down_proj.bias"] = t[p + "mlp.down_proj.bias"][pe]
    o["merger.ln_q.weight"] = t["merger.ln_q.weight"][pe]
    cols = np.concatenate([g * E + pe for g in range(4)])
    o["merger.mlp.0.weight"] = t["merger.mlp.0.weight"][:, cols]
    return o


def compensate_vision(t):
    """function-preserving rescaling: Q x 2.5 / K x 0.4 (parts of the fused
    qkv, and their biases), V x 3 with proj / 3, up x 2 with down / 2"""
    o = {k: w.copy() for k, w in t.items()}
    E = t["merger.ln_q.weight"].shape[0]
    for k in t:
        if k.endswith("attn.qkv.weight") or k.endswith("attn.qkv.bias"):
            w = o[k]
            w[:E] *= 2.5
            w[E:2 * E] *= 0.4
            w[2 * E:] *= 3.0
        elif k.endswith("attn.proj.weight"):
            o[k] = o[k] / 3.0
        elif k.endswith("mlp.up_proj.weight") or k.endswith("mlp.up_proj.bias"):
            o[k] = o[k] * 2.0
        elif k.endswith("mlp.down_proj.weight"):
            o[k] = o[k] / 2.0
    return {k: w.astype(np.float32) for k, w in o.items()}


def mix_layers(copied, other, layers):
    """blocks in `layers` from `copied`, everything else from `other`"""
    o = {}
    for k in other:
        parts = k.split(".")
        from_copy = parts[0] in ("blocks", "layers") and int(parts[1]) in layers
        o[k] = (copied if from_copy else other)[k].copy()
    return o


# ---- writers ----
def prefixed(t, prefix):
    return {prefix + k: w for k, w in t.items()}


def write_st(folder, tensors, config, dtype="f32"):
    os.makedirs(folder, exist_ok=True)
    entries, blobs, off = [], [], 0
    for name in sorted(tensors):
        b = make_random_hcx.encode(np.ascontiguousarray(tensors[name], dtype=np.float32).ravel(), dtype)
        entries.append((name, dtype, tensors[name].shape, off, off + len(b)))
        blobs.append(b)
        off += len(b)
    with open(os.path.join(folder, "model.safetensors"), "wb") as f:
        f.write(make_random_hcx.st_header(entries))
        for b in blobs:
            f.write(b)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(config, f, indent=1)


def vision_config(E=None):
    E = E or VIS["E"]
    return {"model_type": "qwen2_5_vl_visual", "depth": VIS["depth"], "hidden_size": E, "num_heads": VIS["heads"],
            "intermediate_size": VIS["F"], "out_hidden_size": VIS["out"], "spatial_merge_size": 2}


def audio_config():
    return {"model_type": "qwen2_audio_encoder", "d_model": AUD["E"], "encoder_layers": AUD["layers"],
            "encoder_attention_heads": 4, "encoder_ffn_dim": AUD["F"], "num_mel_bins": AUD["mels"],
            "max_source_positions": AUD["pos"]}


def write_hcx(folder, vis, aud, lm, proj, dtype="f32"):
    """HCX unified layout (llm.md §3.2)"""
    t = {}
    if lm is not None:
        for k, w in lm.items():
            t["model.language_model." + k] = w
    if vis is not None:
        t.update(prefixed(vis, "model.vision_model."))
        t.update(prefixed(proj[0], "model.mm_projector."))
    if aud is not None:
        t.update(prefixed(aud, "model.audio_model."))
        t.update(prefixed(proj[1], "model.audio_projector."))
    cfg = {"architectures": ["HCXVisionV2ForCausalLM"], "model_type": "hyperclovax_vlm",
           "text_config": make_random_hcx.llm_config(llm_args()), "vision_config": vision_config()}
    if aud is not None:
        cfg["audio_config"] = audio_config()
    write_st(folder, t, cfg, dtype)


def write_qwen_vl(folder, vis, lm):
    t = prefixed(vis, "visual.")
    t.update(lm)
    cfg = {"architectures": ["Qwen2_5_VLForConditionalGeneration"], "model_type": "qwen2_5_vl",
           "vision_config": vision_config(vis["merger.ln_q.weight"].shape[0])}
    write_st(folder, t, cfg)


def write_qwen_audio(folder, aud, lm, seed):
    rng = np.random.default_rng(seed)
    t = prefixed(aud, "audio_tower.")
    t["multi_modal_projector.linear.weight"] = mat(rng, D_LLM, AUD["E"])
    t["multi_modal_projector.linear.bias"] = bias(rng, D_LLM)
    for k, w in lm.items():
        t["language_model." + k] = w
    write_st(folder, t, {"architectures": ["Qwen2AudioForConditionalGeneration"], "model_type": "qwen2_audio",
                         "audio_config": audio_config()})


def write_whisper(folder, aud, seed):
    rng = np.random.default_rng(seed)
    t = prefixed(aud, "model.encoder.")
    E = AUD["E"]
    t["model.decoder.embed_tokens.weight"] = mat(rng, 128, E)
    t["model.decoder.layers.0.fc1.weight"] = mat(rng, AUD["F"], E)
    t["model.decoder.layer_norm.weight"] = gain(rng, E)
    write_st(folder, t, {"architectures": ["WhisperForConditionalGeneration"], "model_type": "whisper",
                         "d_model": E, "encoder_layers": AUD["layers"]})


def write_llm(folder, lm):
    write_st(folder, lm, make_random_hcx.llm_config(llm_args()))


def build_all(out):
    """the set of folders the integration test uses; returns {name: path}"""
    V0, A0, W0, L0 = vision(100), audio(200), audio(300), llm(400)
    proj = projectors(500)
    P = {}

    def hcx(name, vis=V0, aud=A0, lm=L0, dtype="f32", prj=proj):
        P[name] = os.path.join(out, name)
        write_hcx(P[name], vis, aud, lm, prj, dtype)

    P["ref_vl"] = os.path.join(out, "ref_vl")
    write_qwen_vl(P["ref_vl"], V0, llm(401))
    P["ref_audio"] = os.path.join(out, "ref_audio")
    write_qwen_audio(P["ref_audio"], A0, llm(402), 403)
    P["ref_whisper"] = os.path.join(out, "ref_whisper")
    write_whisper(P["ref_whisper"], W0, 301)
    P["llm0"] = os.path.join(out, "llm0")
    write_llm(P["llm0"], L0)
    hcx("hcx_a")                                                  # (a) exact copies
    hcx("hcx_b", vis=drift(V0, 0.03, 1), aud=drift(A0, 0.03, 2))  # (b) fine-tuned a few %
    hcx("hcx_perm", vis=permute_vision(V0, 3))                    # (c) permuted
    hcx("hcx_scaled", vis=scale_all(V0, 1.7))                     # (c) rescaled
    hcx("hcx_bf16", dtype="bf16")                                 # (c) another dtype
    hcx("hcx_d", vis=vision(101), aud=audio(201), lm=llm(404), prj=projectors(501))   # (d) independent
    hcx("hcx_d2", vis=vision(102), aud=audio(202), lm=llm(405), prj=projectors(502))  # (d) another draw
    hcx("hcx_e", vis=vision(103, E=64), aud=None)                 # (e) other width, no audio
    hcx("hcx_f30", vis=drift(V0, 0.30, 4), aud=drift(A0, 0.30, 5))  # (f)
    hcx("hcx_f60", vis=drift(V0, 0.60, 6), aud=drift(A0, 0.60, 7))  # (f)
    hcx("hcx_g", vis=mix_layers(V0, vision(104), {0, 1}))         # (g) layers 0, 1 copied
    hcx("hcx_h", vis=compensate_vision(V0))                       # (h) compensated scaling
    hcx("hcx_w", aud=W0)                                          # Whisper's encoder copied
    hcx("hcx_pf", vis=drift(permute_vision(V0, 8), 0.3, 9))       # permuted and fine-tuned 30 %
    return P


# ---- 8B-size LLM for timings (streamed: one tensor in memory at a time) ----
BIG = dict(D=4096, F=12288, H=32, KV=8, hd=128)


def big_mat(seed, r, c, scale=0.02):
    """mat() at scale, cheaper (torch: numpy's reference BLAS is too slow here):
    float32, rank 64, Laplace tails"""
    import torch
    g = torch.Generator().manual_seed(seed)
    k = 64
    s = torch.exp(-torch.arange(k, dtype=torch.float32) / (k / 3.0)) * (1.5 / np.sqrt(k))
    w = (torch.randn(r, k, generator=g) * s) @ torch.randn(k, c, generator=g)
    t = torch.empty(r, c).exponential_(generator=g)
    t *= torch.randint(0, 2, (r, c), generator=g, dtype=torch.int8).float().mul_(2).sub_(1).mul_(0.5)
    w += t
    del t
    w *= torch.exp(0.35 * torch.randn(r, 1, generator=g))
    w *= torch.exp(0.15 * torch.randn(1, c, generator=g))
    w *= scale / float(w.std())
    return w.numpy()


def bf16_bytes(w):
    """float32 -> bf16 bytes, round to nearest (finite values)"""
    u = np.ascontiguousarray(w, dtype=np.float32).view(np.uint32)
    u += np.uint32(0x8000)
    return (u >> np.uint32(16)).astype("<u2").tobytes()


def big_specs(layers, vocab):
    D, F, H, KV, hd = BIG["D"], BIG["F"], BIG["H"], BIG["KV"], BIG["hd"]
    t = [("model.embed_tokens.weight", (vocab, D)), ("model.norm.weight", (D,)), ("lm_head.weight", (vocab, D))]
    for i in range(layers):
        p = "model.layers.%d." % i
        t += [(p + "input_layernorm.weight", (D,)), (p + "post_attention_layernorm.weight", (D,)),
              (p + "self_attn.q_proj.weight", (H * hd, D)), (p + "self_attn.k_proj.weight", (KV * hd, D)),
              (p + "self_attn.v_proj.weight", (KV * hd, D)), (p + "self_attn.o_proj.weight", (D, H * hd)),
              (p + "mlp.gate_proj.weight", (F, D)), (p + "mlp.up_proj.weight", (F, D)),
              (p + "mlp.down_proj.weight", (D, F))]
    return sorted(t)


def big_perms(layer, D, F, H, KV, hd):
    """(residual, query rows, kv rows, MLP units) permutations of one layer"""
    rng = np.random.default_rng(7000 + layer)
    pk = rng.permutation(KV)
    g = H // KV
    heads = np.concatenate([kv * g + rng.permutation(g) for kv in pk])
    q = np.concatenate([np.arange(h * hd, (h + 1) * hd) for h in heads])
    k = np.concatenate([np.arange(h * hd, (h + 1) * hd) for h in pk])
    return q, k, rng.permutation(F)


def big_llm(folder, layers, vocab, variant):
    D, F, H, KV, hd = BIG["D"], BIG["F"], BIG["H"], BIG["KV"], BIG["hd"]
    seed = 1 if variant == "indep" else 0
    specs = big_specs(layers, vocab)
    os.makedirs(folder, exist_ok=True)
    entries, off = [], 0
    for name, shape in specs:
        n = int(np.prod(shape)) * 2
        entries.append((name, "bf16", shape, off, off + n))
        off += n
    pe = np.random.default_rng(6999).permutation(D)
    with open(os.path.join(folder, "model.safetensors"), "wb") as f:
        f.write(make_random_hcx.st_header(entries))
        for idx, (name, shape) in enumerate(specs):
            w = gain(np.random.default_rng([seed, idx]), shape[0]) if len(shape) == 1 else \
                big_mat(seed * 100003 + idx, shape[0], shape[1])
            if variant == "perm":
                parts = name.split(".")
                lay = int(parts[2]) if parts[1] == "layers" else -1
                if lay >= 0:
                    q, k, pf = big_perms(lay, D, F, H, KV, hd)
                if len(shape) == 1:
                    w = w[pe]
                elif "embed_tokens" in name or "lm_head" in name:
                    w = w[:, pe]
                elif "q_proj" in name:
                    w = w[q][:, pe]
                elif "k_proj" in name or "v_proj" in name:
                    w = w[k][:, pe]
                elif "o_proj" in name:
                    w = w[pe][:, q]
                elif "gate_proj" in name or "up_proj" in name:
                    w = w[pf][:, pe]
                elif "down_proj" in name:
                    w = w[pe][:, pf]
            f.write(bf16_bytes(w))
            del w
    cfg = make_random_hcx.llm_config(make_random_hcx.parse_args(
        ["--vocab", str(vocab), "--hidden", str(D), "--layers", str(layers), "--heads", str(H), "--kv-heads",
         str(KV), "--head-dim", str(hd), "--ffn", str(F), "--untied", "--dtype", "bf16", "--out", "/dev/null"]))
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out")
    p.add_argument("--big", help="write one 8B-size LLM here (timings)")
    p.add_argument("--layers", type=int, default=8)
    p.add_argument("--vocab", type=int, default=32768)
    p.add_argument("--variant", choices=["base", "indep", "copy", "perm"], default="base")
    a = p.parse_args(argv)
    if a.big:
        big_llm(a.big, a.layers, a.vocab, a.variant)
        return
    if not a.out:
        p.error("--out or --big is required")
    for k, v in sorted(build_all(a.out).items()):
        print(k, v)


if __name__ == "__main__":
    main()
