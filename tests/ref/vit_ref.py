#!/usr/bin/python3
"""vit_ref.py - independent float64 NumPy reference of the continuous vision encoder
(vision.md §2.3: Qwen2.5-VL vision transformer + patch merger + mm_projector), written
from the spec. It reads the unified checkpoint itself (its own safetensors reader) and
encodes each medium separately (the engine batches them; the results must agree).

  rows = encode(load(DIR), pixel_values [L, 1176], [(t, gh, gw), ...])  -> [sum L/4, D]
"""
import json
import os

import numpy as np

_DT = {"F32": np.dtype("<f4"), "F16": np.dtype("<f2"), "BF16": np.dtype("<u2"), "F64": np.dtype("<f8")}


def _read_file(path, want):
    out = {}
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        hdr = json.loads(f.read(n))
        base = 8 + n
        for name, e in hdr.items():
            if name == "__metadata__" or not want(name):
                continue
            b, en = e["data_offsets"]
            f.seek(base + b)
            raw = np.frombuffer(f.read(en - b), dtype=_DT[e["dtype"]])
            if e["dtype"] == "BF16":
                x = (raw.astype(np.uint32) << 16).view(np.float32)
            else:
                x = raw
            out[name] = x.astype(np.float64).reshape(e["shape"])
    return out


def load(d):
    """Vision config + float64 tensors under model.vision_model. / model.mm_projector."""
    with open(os.path.join(d, "config.json")) as f:
        cfg = json.load(f)
    want = lambda n: n.startswith("model.vision_model.") or n.startswith("model.mm_projector.")  # noqa: E731
    idx = os.path.join(d, "model.safetensors.index.json")
    if os.path.exists(idx):
        with open(idx) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
    else:
        files = ["model.safetensors"]
    w = {}
    for fn in files:
        w.update(_read_file(os.path.join(d, fn), want))
    return {"cfg": cfg["vision_config"], "w": w}


def _rms(x, g):
    return g * x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + 1e-6)


def _window_index(T, Mh, Mw, wm):
    """Permutation of merged tokens + window lengths, by the literal pad rule."""
    grid = np.arange(T * Mh * Mw).reshape(T, Mh, Mw)
    pad_h, pad_w = wm - Mh % wm, wm - Mw % wm
    nh, nw = (Mh + pad_h) // wm, (Mw + pad_w) // wm
    padded = np.full((T, Mh + pad_h, Mw + pad_w), -1, dtype=np.int64)
    padded[:, :Mh, :Mw] = grid
    win = padded.reshape(T, nh, wm, nw, wm).transpose(0, 1, 3, 2, 4).reshape(T * nh * nw, wm * wm)
    lengths = (win >= 0).sum(axis=1)
    order = win.reshape(-1)
    order = order[order >= 0]
    return order, lengths[lengths > 0]


def _rotary(T, gh, gw, hd):
    """cos, sin [L, hd] in raster patch order (§2.3 step 2; angles in float32)."""
    half = hd // 2  # rotary width 40 for hd 80
    inv = (np.float32(1.0) / (np.float32(10000.0) ** (np.arange(0, half, 2, dtype=np.float32) / np.float32(half))))
    rows = []
    for _t in range(T):
        for bh in range(gh // 2):
            for bw in range(gw // 2):
                for r in range(2):
                    for s in range(2):
                        rows.append((2 * bh + r, 2 * bw + s))
    pos = np.array(rows, dtype=np.float32)
    th = np.concatenate([pos[:, :1] * inv[None, :], pos[:, 1:] * inv[None, :]], axis=1).astype(np.float64)
    phi = np.concatenate([th, th], axis=1)
    return np.cos(phi), np.sin(phi)


def _rope(x, cos, sin):
    """x [L, H, hd]: rotate-half with the full-width angle vector."""
    h = x.shape[-1] // 2
    rot = np.concatenate([-x[..., h:], x[..., :h]], axis=-1)
    return x * cos[:, None, :] + rot * sin[:, None, :]


def _attention(q, k, v, bounds):
    """Non-causal attention inside each [b0, b1) row range; q, k, v [L, H, hd]."""
    out = np.zeros_like(q)
    scale = 1.0 / np.sqrt(q.shape[-1])
    for b0, b1 in zip(bounds[:-1], bounds[1:]):
        qs, ks, vs = q[b0:b1].transpose(1, 0, 2), k[b0:b1].transpose(1, 0, 2), v[b0:b1].transpose(1, 0, 2)
        s = qs @ ks.transpose(0, 2, 1) * scale
        s -= s.max(axis=-1, keepdims=True)
        p = np.exp(s)
        p /= p.sum(axis=-1, keepdims=True)
        out[b0:b1] = (p @ vs).transpose(1, 0, 2)
    return out


def _erf(x):
    from math import erf
    return np.vectorize(erf)(x)


def encode_one(model, X, grid):
    cfg, w = model["cfg"], model["w"]
    p = "model.vision_model."
    T, gh, gw = grid
    E, H = cfg["hidden_size"], cfg["num_heads"]
    hd = E // H
    wm = cfg["window_size"] // 2 // 14
    Mh, Mw = gh // 2, gw // 2
    L = T * gh * gw
    assert X.shape == (L, 1176)
    x = X.astype(np.float64) @ w[p + "patch_embed.proj.weight"].reshape(E, -1).T
    cos, sin = _rotary(T, gh, gw, hd)
    order, lengths = _window_index(T, Mh, Mw, wm)
    rows = (order[:, None] * 4 + np.arange(4)[None, :]).reshape(-1)
    x, cos, sin = x[rows], cos[rows], sin[rows]
    win_b = np.concatenate([[0], np.cumsum(lengths * 4)])
    full_b = np.arange(T + 1) * gh * gw
    full = set(cfg.get("fullatt_block_indexes", [7, 15, 23, 31]))
    for i in range(cfg["depth"]):
        b = p + "blocks.%d." % i
        a = _rms(x, w[b + "norm1.weight"])
        qkv = a @ w[b + "attn.qkv.weight"].T + w[b + "attn.qkv.bias"]
        q, k, v = (qkv[:, j * E:(j + 1) * E].reshape(L, H, hd) for j in range(3))
        q, k = _rope(q, cos, sin), _rope(k, cos, sin)
        o = _attention(q, k, v, full_b if i in full else win_b).reshape(L, E)
        x = x + o @ w[b + "attn.proj.weight"].T + w[b + "attn.proj.bias"]
        m = _rms(x, w[b + "norm2.weight"])
        g = m @ w[b + "mlp.gate_proj.weight"].T + w[b + "mlp.gate_proj.bias"]
        u = m @ w[b + "mlp.up_proj.weight"].T + w[b + "mlp.up_proj.bias"]
        x = x + (g / (1 + np.exp(-g)) * u) @ w[b + "mlp.down_proj.weight"].T + w[b + "mlp.down_proj.bias"]
    z = _rms(x, w[p + "merger.ln_q.weight"]).reshape(L // 4, 4 * E)
    y = z @ w[p + "merger.mlp.0.weight"].T + w[p + "merger.mlp.0.bias"]
    y = y / 2 * (1 + _erf(y / np.sqrt(2.0)))
    y = y @ w[p + "merger.mlp.2.weight"].T + w[p + "merger.mlp.2.bias"]
    raster = np.empty_like(y)
    raster[order] = y
    return raster @ w["model.mm_projector.weight"].T + w["model.mm_projector.bias"]


def encode(model, X, grids):
    out, off = [], 0
    for g in grids:
        L = g[0] * g[1] * g[2]
        out.append(encode_one(model, X[off:off + L], g))
        off += L
    return np.concatenate(out, axis=0)
