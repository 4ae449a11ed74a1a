#!/usr/bin/python3
"""tatok_ref.py - independent float64 NumPy reference of TA-Tok (spec/vision.md §4): Pillow
bicubic resize to input_size (skipped when already that size), x/255, (v - shift)/scale,
SigLIP patch Conv2d, position embedding, layers 0 .. L+select_layer_id (pre-LN, biased
q/k/v/out, full attention, gelu-tanh MLP, LayerNorm eps from encoder_config or 1e-6),
encode_task_layer tanh, bottleneck in_linear, SimVQ cosine similarity against the
projected, L2-normalised codebook; codes = argmax (lowest index on ties).

Library use:
    r = load(dir); out = r.encode(rgb_uint8)   # dict: codes [n], sims [n, K], margin [n]
Command line:
    tatok_ref.py DIR IMG.npy [--out codes.npy]
"""
import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hcx_ref import read_safetensors  # noqa: E402  (the shared float64 safetensors reader)

PFX = "model.discrete_vision_model."


def _tensors(d):
    idx = os.path.join(d, "model.safetensors.index.json")
    keep = lambda n: n.startswith(PFX)  # noqa: E731
    if os.path.exists(idx):
        with open(idx) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
    else:
        files = ["model.safetensors"]
    out = {}
    for fn in files:
        for k, (_, _, v) in read_safetensors(os.path.join(d, fn), keep=keep).items():
            out[k[len(PFX):]] = v
    return out


def _find(cfg, key, default):
    """A discrete_vision_config key at the top level or in Tar's nested bottleneck args."""
    cands = [cfg]
    b = cfg.get("bottleneck")
    if isinstance(b, dict):
        cands.append(b)
        if isinstance(b.get("args"), dict):
            cands.append(b["args"])
            r = b["args"].get("regularizer")
            if isinstance(r, dict):
                cands += [r, r.get("args") or {}]
    for c in cands:
        if key in c and c[key] is not None:
            return c[key]
    return default


def layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def gelu_tanh(x):
    return 0.5 * x * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * x ** 3)))


def l2n(x):
    n = np.sqrt((x * x).sum(-1, keepdims=True))
    return x / np.maximum(n, 1e-12)


class Ref:
    def __init__(self, d):
        with open(os.path.join(d, "config.json")) as f:
            cfg = json.load(f).get("discrete_vision_config") or {}
        T = _tensors(d)
        self.T = T
        enc = cfg.get("encoder_config") or {}
        pw = T["encoder.embeddings.patch_embedding.weight"]
        self.D, self.P = pw.shape[0], pw.shape[2]
        self.S = int(_find(cfg, "input_size", 384))
        self.G = self.S // self.P
        nl = 0
        while ("encoder.encoder.layers.%d.layer_norm1.weight" % nl) in T:
            nl += 1
        sel = int(_find(cfg, "select_layer_id", -2))
        self.n_run = nl + 1 + sel if sel < 0 else sel
        self.H = int(enc.get("num_attention_heads") or self.D // 72)
        self.eps = float(enc.get("layer_norm_eps") or 1e-6)
        self.shift = T.get("scale_layer.shift", np.full((1, 3, 1, 1), 0.5)).reshape(3)
        self.scale = T.get("scale_layer.scale", np.full((1, 3, 1, 1), 0.5)).reshape(3)
        self.temperature = float(_find(cfg, "stochastic_temperature", 0.03))
        e = T["bottleneck.regularizer.embedding.weight"] @ T["bottleneck.regularizer.embedding_proj.weight"].T
        self.codebook = l2n(e + T["bottleneck.regularizer.embedding_proj.bias"])

    def resize(self, rgb):
        if rgb.shape[0] == self.S and rgb.shape[1] == self.S:
            return rgb
        from PIL import Image
        return np.asarray(Image.fromarray(rgb, "RGB").resize((self.S, self.S), Image.BICUBIC))

    def features(self, rgb):
        T, P, G, D, H = self.T, self.P, self.G, self.D, self.H
        img = self.resize(rgb).astype(np.float64) / 255.0
        img = (img - self.shift) / self.scale                    # [S, S, 3]
        img = img[:G * P, :G * P].reshape(G, P, G, P, 3)         # [gy, y, gx, x, c]
        w = T["encoder.embeddings.patch_embedding.weight"]       # [D, c, y, x]
        x = np.einsum("aybxc,dcyx->abd", img, w).reshape(G * G, D)
        x = x + T["encoder.embeddings.patch_embedding.bias"]
        x = x + T["encoder.embeddings.position_embedding.weight"]
        hd = D // H
        for i in range(self.n_run):
            p = "encoder.encoder.layers.%d." % i
            lin = lambda v, n: v @ T[p + n + ".weight"].T + T[p + n + ".bias"]  # noqa: E731
            h = layer_norm(x, T[p + "layer_norm1.weight"], T[p + "layer_norm1.bias"], self.eps)
            q = lin(h, "self_attn.q_proj").reshape(-1, H, hd).transpose(1, 0, 2)
            k = lin(h, "self_attn.k_proj").reshape(-1, H, hd).transpose(1, 0, 2)
            v = lin(h, "self_attn.v_proj").reshape(-1, H, hd).transpose(1, 0, 2)
            s = q @ k.transpose(0, 2, 1) / np.sqrt(hd)
            s = np.exp(s - s.max(-1, keepdims=True))
            s /= s.sum(-1, keepdims=True)
            a = (s @ v).transpose(1, 0, 2).reshape(-1, D)
            x = x + lin(a, "self_attn.out_proj")
            h = layer_norm(x, T[p + "layer_norm2.weight"], T[p + "layer_norm2.bias"], self.eps)
            x = x + lin(gelu_tanh(lin(h, "mlp.fc1")), "mlp.fc2")
        f = np.tanh(x @ T["encode_task_layer.0.weight"].T + T["encode_task_layer.0.bias"])
        return f @ T["bottleneck.in_linear.weight"].T + T["bottleneck.in_linear.bias"]

    def encode(self, rgb):
        z = l2n(self.features(rgb))
        sims = z @ self.codebook.T
        codes = sims.argmax(-1)                  # numpy: first maximum = lowest index
        top2 = np.sort(sims, -1)[:, -2:]
        return {"codes": codes.astype(np.int32), "sims": sims, "margin": top2[:, 1] - top2[:, 0]}

    def log_probs(self, sims):
        """log softmax(s / T) per token (the sampling mode's distribution)."""
        u = sims / self.temperature
        u = u - u.max(-1, keepdims=True)
        return u - np.log(np.exp(u).sum(-1, keepdims=True))


def load(d):
    return Ref(d)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("dir")
    p.add_argument("image", help="uint8 [H, W, 3] .npy")
    p.add_argument("--out")
    a = p.parse_args(argv)
    out = load(a.dir).encode(np.load(a.image))
    if a.out:
        np.save(a.out, out["codes"])
    else:
        print(",".join(map(str, out["codes"])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
