#!/usr/bin/python3
"""hcx_ref.py - independent float64 NumPy reference of the HyperCLOVA X SEED text decoder
(spec/llm.md §1.3, RoPE §1.6, checkpoint rules §3) for tests.

Reads a Hugging Face model folder directly (own safetensors parser: F32/F16/BF16, sharded
index, unified "model.language_model." prefixes, tying, post-norm detection rule §3.4,
biases, "llama" model type with multipliers ignored) and computes prompt logits [T, V] and
greedy generations (full recomputation every step, argmax with the lowest id winning ties).

Library use:
    m = load(dir); logits = m.logits([1, 2, 3]); toks, margins = m.greedy([1, 2, 3], 16)
Command line:
    hcx_ref.py DIR --ids 1,2,3 [--out logits.npy] [-n 16]
"""
import argparse
import json
import os
import struct
import sys

import numpy as np


class RefError(Exception):
    pass


# ---- safetensors -------------------------------------------------------------------

_ELEM = {"F32": 4, "F16": 2, "BF16": 2, "F64": 8}


def _decode(raw, dtype):
    """bytes -> float64 array."""
    if dtype == "F32":
        return np.frombuffer(raw, dtype="<f4").astype(np.float64)
    if dtype == "F16":
        return np.frombuffer(raw, dtype="<f2").astype(np.float64)
    if dtype == "F64":
        return np.frombuffer(raw, dtype="<f8").copy()
    if dtype == "BF16":
        u = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << np.uint32(16)
        return u.view(np.float32).astype(np.float64)
    raise RefError("unsupported dtype %r" % dtype)


def read_safetensors(path, keep=None):
    """Return {name: (dtype, shape, float64 array)} for the tensors of one file.
    keep(name) -> bool filters what is decoded."""
    size = os.path.getsize(path)
    out = {}
    with open(path, "rb") as f:
        hb = f.read(8)
        if len(hb) < 8:
            raise RefError("%s: shorter than 8 bytes" % path)
        n = struct.unpack("<Q", hb)[0]
        if n > size - 8:
            raise RefError("%s: header length %d beyond file" % (path, n))
        hdr = json.loads(f.read(n))
        base = 8 + n
        spans = []
        for name, info in hdr.items():
            if name == "__metadata__":
                continue
            dt, shape, (b, e) = info["dtype"], info["shape"], info["data_offsets"]
            if dt not in _ELEM:
                raise RefError("%s: tensor %s has unknown dtype %s" % (path, name, dt))
            cnt = int(np.prod(shape)) if shape else 1
            if e - b != cnt * _ELEM[dt] or b < 0 or base + e > size:
                raise RefError("%s: tensor %s has bad data_offsets" % (path, name))
            spans.append((b, e, name))
            if keep is not None and not keep(name):
                continue
            f.seek(base + b)
            out[name] = (dt, tuple(shape), _decode(f.read(e - b), dt).reshape(shape))
        spans.sort()
        for (b0, e0, n0), (b1, e1, n1) in zip(spans, spans[1:]):
            if b1 < e0:
                raise RefError("%s: tensors %s and %s overlap" % (path, n0, n1))
    return out


def read_folder_tensors(d):
    """All tensors of a model folder (single file or sharded index)."""
    idx = os.path.join(d, "model.safetensors.index.json")
    if os.path.exists(idx):
        with open(idx) as f:
            wm = json.load(f)["weight_map"]
        out = {}
        for fn in sorted(set(wm.values())):
            names = {k for k, v in wm.items() if v == fn}
            got = read_safetensors(os.path.join(d, fn), keep=lambda n: n in names)
            missing = names - set(got)
            if missing:
                raise RefError("%s: index names %s but the shard lacks it" % (fn, sorted(missing)[0]))
            out.update(got)
        return out
    return read_safetensors(os.path.join(d, "model.safetensors"))


def map_name(n):
    """Unified-repo prefix rules (llm.md §3.2), first match wins; None = not LLM."""
    if n.startswith("model.language_model.model."):
        return "model." + n[len("model.language_model.model."):]
    if n.startswith("model.language_model.lm_head."):
        return "lm_head." + n[len("model.language_model.lm_head."):]
    if n.startswith("model.language_model."):
        return n[len("model.language_model."):]
    for p in ("model.vision_model.", "model.mm_projector.", "model.discrete_vision_model.",
              "model.audio_model.", "model.audio_projector.", "model.discrete_audio_model.",
              "model.video_audio_compressor."):
        if n.startswith(p):
            return None
    return n


# ---- model -------------------------------------------------------------------------

class Model:
    def __init__(self, cfg, w, info):
        self.cfg, self.w, self.info = cfg, w, info

    # RMSNorm(x; g) = g * x / sqrt(mean(x^2) + eps), over the last axis
    def _rms(self, x, g):
        return g * x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + self.eps)

    def _lin(self, x, p):
        y = x @ self.w[p + ".weight"].T
        b = self.w.get(p + ".bias")
        return y if b is None else y + b

    def logits(self, ids, rows=None):
        """float64 logits [T, V] of every prompt position (positions 0..T-1).
        rows: optional {position: vector [D]} of media rows that replace the
        embedding-table row there (llm.md §5.1: the multiplier applies to them too);
        ids at those positions are ignored."""
        ids = np.asarray(ids, dtype=np.int64)
        if ids.ndim != 1 or len(ids) == 0:
            raise RefError("ids must be a non-empty list")
        rows = rows or {}
        tok = np.array([i not in rows for i in range(len(ids))])
        if tok.any() and (ids[tok].min() < 0 or ids[tok].max() >= self.V):
            raise RefError("token id out of range")
        H, Hkv, d = self.H, self.Hkv, self.d
        T = len(ids)
        x = self.w["model.embed_tokens.weight"][np.where(tok, ids, 0)].copy()
        for pos, r in rows.items():
            x[pos] = np.asarray(r, dtype=np.float64)
        x = self.m_emb * x
        half = d // 2
        inv = self.theta ** (-(2.0 * np.arange(half)) / d)
        ang = np.arange(T, dtype=np.float64)[:, None] * inv[None, :]
        cos, sin = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]

        def rope(u):  # u [T, heads, d], rotate-half pairs (i, i + d/2)
            a, b = u[..., :half], u[..., half:]
            return np.concatenate([a * cos - b * sin, b * cos + a * sin], axis=-1)

        causal = np.triu(np.ones((T, T), dtype=bool), k=1)
        r = H // Hkv
        for l in range(self.L):
            p = "model.layers.%d." % l
            a = self._rms(x, self.w[p + "input_layernorm.weight"])
            q = rope(self._lin(a, p + "self_attn.q_proj").reshape(T, H, d))
            k = rope(self._lin(a, p + "self_attn.k_proj").reshape(T, Hkv, d))
            v = self._lin(a, p + "self_attn.v_proj").reshape(T, Hkv, d)
            # query head h uses kv head h // r (consecutive blocks)
            k = np.repeat(k, r, axis=1)
            v = np.repeat(v, r, axis=1)
            s = self.m_attn * np.einsum("thd,uhd->htu", q, k)
            s[:, causal] = -np.inf
            s -= s.max(axis=-1, keepdims=True)
            e = np.exp(s)
            alpha = e / e.sum(axis=-1, keepdims=True)
            o = np.einsum("htu,uhd->thd", alpha, v).reshape(T, H * d)
            y = self._lin(o, p + "self_attn.o_proj")
            if self.post_norm:
                y = self._rms(y, self.w[p + "post_norm1.weight"])
            x = x + self.m_res * y
            b = self._rms(x, self.w[p + "post_attention_layernorm.weight"])
            g = self._lin(b, p + "mlp.gate_proj")
            u = self._lin(b, p + "mlp.up_proj")
            z = self._lin((g / (1.0 + np.exp(-g))) * u, p + "mlp.down_proj")
            if self.post_norm:
                z = self._rms(z, self.w[p + "post_norm2.weight"])
            x = x + self.m_res * z
        h = self._rms(x, self.w["model.norm.weight"])
        return self.m_logit * (h @ self.w_out.T)

    def greedy(self, ids, n):
        """n greedy tokens (full recomputation each step); returns (tokens, top1-top2
        margins, logits rows [n, V] the tokens were chosen from)."""
        seq = list(ids)
        toks, margins, rows = [], [], []
        for _ in range(n):
            lg = self.logits(seq)[-1]
            t = int(np.argmax(lg))  # first maximum = lowest id on ties
            srt = np.sort(lg)
            toks.append(t)
            margins.append(float(srt[-1] - srt[-2]) if len(srt) > 1 else float("inf"))
            rows.append(lg)
            seq.append(t)
        return toks, margins, np.array(rows)


def _num(c, key, default=None, kind=float):
    v = c.get(key, default)
    if v is None:
        if default is None:
            raise RefError("config: missing %s" % key)
        v = default
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise RefError("config: %s must be a number" % key)
    if kind is int and int(v) != v:
        raise RefError("config: %s must be an integer" % key)
    return kind(v)


def load(d):
    with open(os.path.join(d, "config.json")) as f:
        top = json.load(f)
    c = top.get("text_config") if isinstance(top.get("text_config"), dict) else top
    mtype = c.get("model_type", top.get("model_type"))
    if mtype not in ("hyperclovax", "llama"):
        raise RefError("config: unsupported model_type %r" % mtype)
    if c.get("hidden_act", "silu") != "silu":
        raise RefError("config: hidden_act must be silu")
    rp = c.get("rope_parameters") if isinstance(c.get("rope_parameters"), dict) else None
    rs = c.get("rope_scaling")
    rtype = (rp or {}).get("rope_type") or (rs or {}).get("rope_type") or (rs or {}).get("type")
    if rtype not in (None, "default"):
        raise RefError("config: rope_scaling type %r unsupported" % rtype)

    raw = read_folder_tensors(d)
    w, dtypes = {}, {}
    for name, (dt, shape, arr) in raw.items():
        m = map_name(name)
        if m is None or m.endswith(("rotary_emb.inv_freq", "rotary_emb.cos_cached",
                                    "rotary_emb.sin_cached")):
            continue
        w[m] = arr
        dtypes[dt] = dtypes.get(dt, 0) + 1

    mdl = Model(c, w, {"model_type": mtype, "dtypes": dtypes})
    mdl.D = _num(c, "hidden_size", kind=int)
    mdl.L = _num(c, "num_hidden_layers", kind=int)
    mdl.H = _num(c, "num_attention_heads", kind=int)
    mdl.Hkv = _num(c, "num_key_value_heads", mdl.H, kind=int)
    mdl.d = _num(c, "head_dim", mdl.D // mdl.H, kind=int)
    mdl.F = _num(c, "intermediate_size", kind=int)
    mdl.eps = _num(c, "rms_norm_eps", 1e-6)
    mdl.theta = _num(rp if rp is not None else c, "rope_theta", 10000.0)
    if "model.embed_tokens.weight" not in w:
        raise RefError("missing tensor model.embed_tokens.weight")
    mdl.V = w["model.embed_tokens.weight"].shape[0]
    if mtype == "llama":
        mdl.m_emb, mdl.m_res, mdl.m_logit = 1.0, 1.0, 1.0
        mdl.m_attn = mdl.d ** -0.5
    else:
        mdl.m_emb = _num(c, "embedding_multiplier", 1.0)
        mdl.m_res = _num(c, "residual_multiplier", 1.0)
        mdl.m_logit = _num(c, "logits_scaling", 1.0)
        am = c.get("attention_multiplier")
        mdl.m_attn = mdl.d ** -0.5 if am is None else float(am)

    # post-norm rule (llm.md §3.4)
    have = [("model.layers.%d.post_norm1.weight" % l in w) and
            ("model.layers.%d.post_norm2.weight" % l in w) for l in range(mdl.L)]
    anyp = any("post_norm" in k for k in w)
    if mtype == "llama":
        if anyp:
            raise RefError("llama model has post-norm tensors")
        mdl.post_norm = False
    elif "use_post_norm" in c:
        mdl.post_norm = bool(c["use_post_norm"])
        if mdl.post_norm and not all(have):
            raise RefError("use_post_norm true but post_norm tensors missing")
        if not mdl.post_norm and anyp:
            raise RefError("use_post_norm false but post_norm tensors present")
    else:
        if anyp and not all(have):
            raise RefError("post_norm tensors present in some layers only")
        mdl.post_norm = all(have) and mdl.L > 0

    tied = bool(c.get("tie_word_embeddings", top.get("tie_word_embeddings", False)))
    if tied:
        mdl.w_out = w["model.embed_tokens.weight"]  # unscaled E
    elif "lm_head.weight" in w:
        mdl.w_out = w["lm_head.weight"]
    else:
        raise RefError("missing tensor lm_head.weight")

    # shape checks (llm.md §3.1)
    D, F, H, Hkv, d, V = mdl.D, mdl.F, mdl.H, mdl.Hkv, mdl.d, mdl.V
    exp = {"model.embed_tokens.weight": (V, D), "model.norm.weight": (D,)}
    if not tied:
        exp["lm_head.weight"] = (V, D)
    for l in range(mdl.L):
        p = "model.layers.%d." % l
        exp.update({p + "input_layernorm.weight": (D,), p + "post_attention_layernorm.weight": (D,),
                    p + "self_attn.q_proj.weight": (H * d, D), p + "self_attn.k_proj.weight": (Hkv * d, D),
                    p + "self_attn.v_proj.weight": (Hkv * d, D), p + "self_attn.o_proj.weight": (D, H * d),
                    p + "mlp.gate_proj.weight": (F, D), p + "mlp.up_proj.weight": (F, D),
                    p + "mlp.down_proj.weight": (D, F)})
        if c.get("attention_bias"):
            exp.update({p + "self_attn.q_proj.bias": (H * d,), p + "self_attn.k_proj.bias": (Hkv * d,),
                        p + "self_attn.v_proj.bias": (Hkv * d,), p + "self_attn.o_proj.bias": (D,)})
        if c.get("mlp_bias"):
            exp.update({p + "mlp.gate_proj.bias": (F,), p + "mlp.up_proj.bias": (F,),
                        p + "mlp.down_proj.bias": (D,)})
        if mdl.post_norm:
            exp.update({p + "post_norm1.weight": (D,), p + "post_norm2.weight": (D,)})
    for k, s in exp.items():
        if k not in w:
            raise RefError("missing tensor %s" % k)
        if tuple(w[k].shape) != s:
            raise RefError("tensor %s has shape %s, expected %s" % (k, w[k].shape, s))
    for k in w:
        if k not in exp and not (tied and k == "lm_head.weight"):
            raise RefError("unexpected tensor %s" % k)
    if H % Hkv:
        raise RefError("num_attention_heads not a multiple of num_key_value_heads")
    return mdl


def main(argv=None):
    ap = argparse.ArgumentParser(description="float64 reference of the HCX text decoder")
    ap.add_argument("dir")
    ap.add_argument("--ids", required=True, help="comma-separated token ids")
    ap.add_argument("--out", help="write float32 prompt logits [T, V] here (.npy)")
    ap.add_argument("-n", type=int, default=0, help="greedy tokens to generate")
    a = ap.parse_args(argv)
    m = load(a.dir)
    ids = [int(t) for t in a.ids.split(",")]
    lg = m.logits(ids)
    if a.out:
        np.save(a.out, lg.astype(np.float32))
    print("logits [%d, %d], last argmax %d, max|logit| %.4f" %
          (lg.shape[0], lg.shape[1], int(np.argmax(lg[-1])), float(np.abs(lg).max())))
    if a.n > 0:
        toks, _, _ = m.greedy(ids, a.n)
        print(",".join(map(str, toks)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
