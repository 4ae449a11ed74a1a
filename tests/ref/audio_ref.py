#!/usr/bin/python3
"""audio_ref.py - float64 NumPy reference of the Omni-8B audio encoders, written from
../shared/spec/audio.md: the Whisper log-mel (§3.1-3.2), the continuous encoder and
projector (§4.2, full 1500-position chunks with the key mask), the S3 tokenizer's mel
(§5.2), encoder (§5.3) and FSQ (§5.4), the chunking rules (§2.3) and counts (§3.3, §5.5).

Used by tests/integration/test_audio_enc.py; also a CLI:
  audio_ref.py MODEL_DIR samples.npy --stream continuous|discrete --out ref.npy
"""
import argparse
import json
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hcx_ref import read_folder_tensors  # noqa: E402

try:
    from scipy.special import erf as _erf
except ImportError:  # pragma: no cover
    _erf = np.vectorize(math.erf)

SR, N_FFT, HOP = 16000, 400, 160
CHUNK_C = 480000           # continuous chunk (30 s)
CHUNK_D = 1280000          # discrete chunk (80 s)
MIN_TAIL_D = 16000         # tail merge threshold (U2)
MIN_CHUNK_D = 400
FSQ_SCALE = float(np.float32(0.999))


def gelu(x):
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


def layernorm(x, w, b, eps):
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


# ---- §3.2 mel filterbank ------------------------------------------------------------

def hz_to_mel(f):
    f = np.asarray(f, dtype=np.float64)
    return np.where(f < 1000.0, 3.0 * f / 200.0, 15.0 + 27.0 * np.log(np.maximum(f, 1e-300) / 1000.0) / math.log(6.4))


def mel_to_hz(m):
    m = np.asarray(m, dtype=np.float64)
    return np.where(m < 15.0, 200.0 * m / 3.0, 1000.0 * np.exp((m - 15.0) * math.log(6.4) / 27.0))


def mel_filterbank(sr=SR, n_fft=N_FFT, n_mels=128, fmin=0.0, fmax=8000.0):
    """[n_mels, n_fft//2+1], built in float64 and rounded to float32 (returned as float64)."""
    m0, m1 = hz_to_mel(fmin), hz_to_mel(fmax)
    F = mel_to_hz(m0 + (m1 - m0) * np.arange(n_mels + 2) / (n_mels + 1))
    phi = np.arange(n_fft // 2 + 1) * sr / n_fft
    W = np.zeros((n_mels, n_fft // 2 + 1))
    for b in range(n_mels):
        lo = (phi - F[b]) / (F[b + 1] - F[b])
        hi = (F[b + 2] - phi) / (F[b + 2] - F[b + 1])
        W[b] = np.maximum(0.0, np.minimum(lo, hi)) * 2.0 / (F[b + 2] - F[b])
    return W.astype(np.float32).astype(np.float64)


_W = None


def _fb():
    global _W
    if _W is None:
        _W = mel_filterbank()
    return _W


def _log_mel(p, n_frames):
    """Centred STFT power of p (reflect pad 200), first n_frames frames -> log10 mel."""
    q = np.pad(np.asarray(p, dtype=np.float64), (N_FFT // 2, N_FFT // 2), mode="reflect")
    w = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(N_FFT) / N_FFT)
    idx = HOP * np.arange(n_frames)[:, None] + np.arange(N_FFT)[None, :]
    X = np.fft.rfft(q[idx] * w[None, :], axis=1)
    P = X.real ** 2 + X.imag ** 2                      # [frames, 201]
    M = _fb() @ P.T                                    # [128, frames]
    return np.log10(np.maximum(M, 1e-10))


def whisper_features(chunk):
    """§3.1: one chunk (1..480000 samples) -> [128, 3000]."""
    n = len(chunk)
    assert 1 <= n <= CHUNK_C
    p = np.zeros(CHUNK_C)
    p[:n] = chunk
    L = _log_mel(p, 3000)
    L = np.maximum(L, L.max() - 8.0)
    return (L + 4.0) / 4.0


def s3_features(chunk):
    """§5.2: one chunk (>= 201 samples) -> [128, floor(n/160)]."""
    L = _log_mel(chunk, len(chunk) // HOP)
    L = np.maximum(L, L.max() - 8.0)
    return (L + 4.0) / 4.0


# ---- counts and chunks -------------------------------------------------------------------

def continuous_chunks(n):
    return [(s, min(n, s + CHUNK_C)) for s in range(0, n, CHUNK_C)]


def chunk_rows(n):
    """§3.3 L2 of one chunk of n samples (Python floor division throughout)."""
    n_mel = -(-n // HOP)
    L1 = (n_mel - 1) // 2 + 1
    return L1, (L1 - 2) // 2 + 1


def discrete_chunks(n):
    if n <= CHUNK_D:
        return [(0, n)]
    out, s = [], 0
    while s < n:
        e = s + CHUNK_D
        if e >= n or n - e < MIN_TAIL_D:
            e = n
        out.append((s, e))
        s = e
    return out


def s3_codes_for_frames(T):
    T1 = (T - 1) // 2 + 1
    return (T1 - 1) // 2 + 1


# ---- model -------------------------------------------------------------------------------

def load(d):
    """{name: float64 array} of the audio tensors, and config.json."""
    with open(os.path.join(d, "config.json")) as f:
        cfg = json.load(f)
    t = read_folder_tensors(d)
    W = {k: v[2] for k, v in t.items()
         if k.startswith(("model.audio_model.", "model.audio_projector.", "model.discrete_audio_model."))}
    return W, cfg


def conv1d(u, w, b, stride):
    """u [C, T], w [O, C, 3], zero padding 1 -> [O, T_out]."""
    T = u.shape[1]
    T_out = (T + 2 - 3) // stride + 1
    up = np.pad(u, ((0, 0), (1, 1)))
    y = np.zeros((w.shape[0], T_out)) + b[:, None]
    for j in range(3):
        y += w[:, :, j] @ up[:, j:j + stride * (T_out - 1) + 1:stride]
    return y


def continuous_chunk(W, cfg, feat, n):
    """§4.2 on one chunk's features [128, 3000] of n samples -> [L2, D_llm]."""
    p = "model.audio_model."
    ac = cfg.get("audio_config") or {}
    D = W[p + "conv1.weight"].shape[0]
    H = ac.get("encoder_attention_heads", max(1, D // 64))
    nl = ac.get("encoder_layers")
    if nl is None:
        nl = 1 + max(int(k[len(p + "layers."):].split(".")[0]) for k in W if k.startswith(p + "layers."))
    dh = D // H
    L1, L2 = chunk_rows(n)
    x = gelu(conv1d(feat, W[p + "conv1.weight"], W[p + "conv1.bias"], 1))
    x = gelu(conv1d(x, W[p + "conv2.weight"], W[p + "conv2.bias"], 2))
    h = x.T + W[p + "embed_positions.weight"][:x.shape[1]]          # [1500, D]
    T = h.shape[0]
    mask = np.where(np.arange(T) < L1, 0.0, -np.inf)[None, :]
    for l in range(nl):
        q_ = p + "layers.%d." % l
        a = layernorm(h, W[q_ + "self_attn_layer_norm.weight"], W[q_ + "self_attn_layer_norm.bias"], 1e-5)
        q = (a @ W[q_ + "self_attn.q_proj.weight"].T + W[q_ + "self_attn.q_proj.bias"]) * dh ** -0.5
        k = a @ W[q_ + "self_attn.k_proj.weight"].T
        v = a @ W[q_ + "self_attn.v_proj.weight"].T + W[q_ + "self_attn.v_proj.bias"]
        ctx = np.zeros_like(q)
        for hh in range(H):
            sl = slice(hh * dh, (hh + 1) * dh)
            s = q[:, sl] @ k[:, sl].T + mask
            s = np.exp(s - s.max(axis=1, keepdims=True))
            ctx[:, sl] = (s / s.sum(axis=1, keepdims=True)) @ v[:, sl]
        h = h + ctx @ W[q_ + "self_attn.out_proj.weight"].T + W[q_ + "self_attn.out_proj.bias"]
        a = layernorm(h, W[q_ + "final_layer_norm.weight"], W[q_ + "final_layer_norm.bias"], 1e-5)
        h = h + gelu(a @ W[q_ + "fc1.weight"].T + W[q_ + "fc1.bias"]) @ W[q_ + "fc2.weight"].T + W[q_ + "fc2.bias"]
    z = 0.5 * (h[0:T - 1:2] + h[1:T:2])
    z = layernorm(z, W[p + "layer_norm.weight"], W[p + "layer_norm.bias"], 1e-5)[:L2]
    pp = "model.audio_projector."
    r = gelu(z @ W[pp + "fc1.weight"].T + W[pp + "fc1.bias"])
    return r @ W[pp + "fc2.weight"].T + W[pp + "fc2.bias"]


def continuous(W, cfg, x, features=None):
    """Whole signal -> [T_c, D_llm]. features: optional list of per-chunk features."""
    rows = []
    for c, (s, e) in enumerate(continuous_chunks(len(x))):
        if chunk_rows(e - s)[1] == 0:
            continue
        f = features[c] if features is not None else whisper_features(x[s:e])
        rows.append(continuous_chunk(W, cfg, f, e - s))
    D = W["model.audio_projector.fc2.weight"].shape[0]
    return np.concatenate(rows) if rows else np.zeros((0, D))


def rope_tables(T, dh=64):
    """cos/sin [T, dh/2]; frequencies and angles in float32 as the source does (P10)."""
    fr = (np.float32(1.0) / np.power(np.float32(10000.0),
                                     np.arange(0, dh, 2, dtype=np.float32) / np.float32(dh))).astype(np.float32)
    ang = (np.arange(T, dtype=np.float32)[:, None] * fr[None, :]).astype(np.float32).astype(np.float64)
    return np.cos(ang), np.sin(ang)


def rope(x, c, s):
    h = x.shape[1] // 2
    a, b = x[:, :h], x[:, h:]
    return np.concatenate([a * c - b * s, b * c + a * s], axis=1)


def s3_chunk(W, feat):
    """§5.3-5.4 on features [128, T] -> (codes [T2] int, pre-tanh h [T2, 8])."""
    p = "model.discrete_audio_model.encoder."
    S = W[p + "conv1.weight"].shape[0]
    H, dh = S // 64, 64
    nb = 1 + max(int(k[len(p + "blocks."):].split(".")[0]) for k in W if k.startswith(p + "blocks."))
    x = gelu(conv1d(feat, W[p + "conv1.weight"], W[p + "conv1.bias"], 2))
    x = gelu(conv1d(x, W[p + "conv2.weight"], W[p + "conv2.bias"], 2)).T    # [T2, S]
    T2 = x.shape[0]
    assert T2 <= 2048
    c, s = rope_tables(T2, dh)
    for bi in range(nb):
        q_ = p + "blocks.%d." % bi
        a = layernorm(x, W[q_ + "attn_ln.weight"], W[q_ + "attn_ln.bias"], 1e-6)
        q = a @ W[q_ + "attn.query.weight"].T + W[q_ + "attn.query.bias"]
        k = a @ W[q_ + "attn.key.weight"].T
        v = a @ W[q_ + "attn.value.weight"].T + W[q_ + "attn.value.bias"]
        ctx = np.zeros_like(q)
        for hh in range(H):
            sl = slice(hh * dh, (hh + 1) * dh)
            qh, kh = rope(q[:, sl], c, s), rope(k[:, sl], c, s)
            sc = qh @ kh.T / math.sqrt(dh)
            sc = np.exp(sc - sc.max(axis=1, keepdims=True))
            ctx[:, sl] = (sc / sc.sum(axis=1, keepdims=True)) @ v[:, sl]
        o = ctx @ W[q_ + "attn.out.weight"].T + W[q_ + "attn.out.bias"]
        K = W[q_ + "attn.fsmn_block.weight"][:, 0, :]                 # [S, 31]
        vp = np.pad(v, ((15, 15), (0, 0)))
        m = v.copy()
        for j in range(31):
            m += K[:, j][None, :] * vp[j:j + T2]
        x = x + o + m
        a = layernorm(x, W[q_ + "mlp_ln.weight"], W[q_ + "mlp_ln.bias"], 1e-5)
        x = x + gelu(a @ W[q_ + "mlp.0.weight"].T + W[q_ + "mlp.0.bias"]) @ W[q_ + "mlp.2.weight"].T + W[q_ + "mlp.2.bias"]
    qp = "model.discrete_audio_model.quantizer._codebook.project_down."
    h = x @ W[qp + "weight"].T + W[qp + "bias"]
    d = np.rint(np.tanh(h) * FSQ_SCALE).astype(np.int64) + 1   # rint: half to even
    codes = (d * (3 ** np.arange(8))[None, :]).sum(axis=1)
    return codes, h


def discrete(W, x, features=None):
    """Whole signal -> (codes [T_d], pre-tanh [T_d, 8])."""
    cs, hs = [], []
    for c, (s, e) in enumerate(discrete_chunks(len(x))):
        w = np.asarray(x[s:e], dtype=np.float64)
        if len(w) < MIN_CHUNK_D:
            w = np.pad(w, (0, MIN_CHUNK_D - len(w)))
        f = features[c] if features is not None else s3_features(w)
        co, h = s3_chunk(W, f)
        cs.append(co)
        hs.append(h)
    return np.concatenate(cs), np.concatenate(hs)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("samples")
    ap.add_argument("--stream", choices=["continuous", "discrete"], default="continuous")
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    W, cfg = load(a.model)
    x = np.load(a.samples).astype(np.float64)
    if a.stream == "continuous":
        np.save(a.out, continuous(W, cfg, x).astype(np.float32))
    else:
        np.save(a.out, discrete(W, x)[0].astype(np.int32))
    return 0


if __name__ == "__main__":
    sys.exit(main())
