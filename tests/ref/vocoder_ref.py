"""vocoder_ref.py - independent float64 reference of the unit BigVGAN vocoder and its
zero-shot speaker path, written from audio.md §9.3-9.9 and §10.2-10.4 with torch's
functional ops (float64). It reads the archive with Python's zipfile/json/torch.load,
not with the engine's parsers.

  synth(mar_path, units, voice=None | spk=vector) -> float64 samples (after tanh/clamp)
  ref_speaker(mar_path, pcm24k) -> speaker vector (ECAPA), ref_mel(cfg, pcm24k)
"""
import io
import json
import math
import zipfile

import numpy as np
import torch
import torch.nn.functional as F

D = torch.float64


def load_mar(path):
    with zipfile.ZipFile(path) as z:
        man = json.loads(z.read("MAR-INF/MANIFEST.json"))
        cfg = json.loads(z.read("config.json"))
        ck = torch.load(io.BytesIO(z.read(man["model"]["serializedFile"])), map_location="cpu")
        names = None
        if "spk_list.txt" in z.namelist():
            names = [ln.strip() for ln in z.read("spk_list.txt").decode().splitlines()]
    sd = {k: v.to(D) if v.is_floating_point() else v for k, v in ck["generator"].items()}
    return cfg, sd, names


def wn(sd, mod):
    if mod + ".weight" in sd:
        return sd[mod + ".weight"]
    if mod + ".weight_g" in sd:
        g, v = sd[mod + ".weight_g"], sd[mod + ".weight_v"]
    else:
        g, v = sd[mod + ".parametrizations.weight.original0"], sd[mod + ".parametrizations.weight.original1"]
    return g * v / v.pow(2).sum(dim=(1, 2), keepdim=True).sqrt()


def conv(sd, mod, x, causal, dil=1, bias=True):
    w = wn(sd, mod)
    k = w.shape[2]
    b = sd.get(mod + ".bias") if bias else None
    tot = (k - 1) * dil
    x = F.pad(x, (tot, 0)) if causal else F.pad(x, (tot // 2, tot - tot // 2))
    return F.conv1d(x, w, b, dilation=dil)


def upsample(sd, mod, x, r, causal):
    v = wn(sd, mod)
    k = v.shape[2]
    b = sd[mod + ".bias"]
    if causal:
        pre = math.ceil(k / r) - 1
        xp = torch.cat([x[:, :, :1].expand(-1, -1, pre), x], dim=2)
        y = F.conv_transpose1d(xp, v, b, stride=r)
        return y[:, :, r:y.shape[2] - r]
    p = math.ceil((k - r) / 2)
    o = (k - r) % 2
    return F.conv_transpose1d(x, v, b, stride=r, padding=p, output_padding=o)


def kaiser_filter():
    n = np.arange(12, dtype=np.float64)
    a = 2.285 * 5 * math.pi * 1.2 + 7.95
    beta = 0.1102 * (a - 8.7)
    w = np.i0(beta * np.sqrt(1 - ((n - 5.5) / 5.5) ** 2)) / np.i0(beta)
    h = 0.5 * w * np.sinc(0.5 * (n - 5.5))
    return torch.tensor(h / h.sum(), dtype=D)


def activation1d(sd, pre, x, logscale):
    c = x.shape[1]
    al, be = sd[pre + ".act.alpha"], sd[pre + ".act.beta"]
    if logscale:
        al, be = al.exp(), be.exp()
    hu = sd.get(pre + ".upsample.filter", kaiser_filter().reshape(1, 1, 12)).reshape(12)
    hd = sd.get(pre + ".downsample.lowpass.filter", kaiser_filter().reshape(1, 1, 12)).reshape(12)
    L = x.shape[2]
    xp = F.pad(x, (5, 5), mode="replicate")
    up = F.conv_transpose1d(xp, hu.reshape(1, 1, 12).expand(c, 1, 12).contiguous(), stride=2, groups=c) * 2
    up = up[:, :, 15:15 + 2 * L]
    z = up + torch.sin(al.reshape(1, -1, 1) * up) ** 2 / (be.reshape(1, -1, 1) + 1e-9)
    zp = F.pad(z, (5, 6), mode="replicate")
    return F.conv1d(zp, hd.reshape(1, 1, 12).expand(c, 1, 12).contiguous(), stride=2, groups=c)


def generator(cfg, sd, units, spk):
    causal = any(k.endswith("pad_buffer") for k in sd)
    logscale = cfg["snake_logscale"]
    ue = sd["unit_emb.weight"]
    e = ue[torch.tensor(units, dtype=torch.long)] * (ue.shape[1] ** -0.5)  # T x D
    s = torch.as_tensor(spk, dtype=D).reshape(1, -1).expand(e.shape[0], -1)
    x = torch.cat([e, s], dim=1).t().unsqueeze(0)  # 1 x (D+S) x T
    x = conv(sd, "conv_pre.conv", x, causal)
    nk = len(cfg["resblock_kernel_sizes"])
    for i, r in enumerate(cfg["upsample_rates"]):
        x = upsample(sd, "ups.%d.0.deconv" % i, x, r, causal)
        acc = 0
        for j in range(nk):
            n = i * nk + j
            xb = x
            for m, d in enumerate(cfg["resblock_dilation_sizes"][j]):
                t = activation1d(sd, "resblocks.%d.activations.%d" % (n, 2 * m), xb, logscale)
                t = conv(sd, "resblocks.%d.convs1.%d.conv" % (n, m), t, causal, dil=d)
                t = activation1d(sd, "resblocks.%d.activations.%d" % (n, 2 * m + 1), t, logscale)
                t = conv(sd, "resblocks.%d.convs2.%d.conv" % (n, m), t, causal)
                xb = xb + t
            acc = acc + xb
        x = acc / nk
    x = activation1d(sd, "activation_post", x, logscale)
    x = conv(sd, "conv_post.conv", x, causal, bias=cfg.get("use_bias_at_final", True))
    if cfg.get("use_tanh_at_final", True):
        x = torch.tanh(x)
    else:
        x = x.clamp(-1, 1)
    return x.reshape(-1).numpy()


def preset(sd, names, voice):
    if isinstance(voice, int):
        i = voice
    else:
        i = max(k for k, n in enumerate(names) if n == voice)
    return sd["spk_emb.weight"][i]


def synth(path, units, voice=None, spk=None):
    cfg, sd, names = load_mar(path)
    if spk is None:
        spk = preset(sd, names, voice if voice is not None else "fkms")
    return generator(cfg, sd, units, spk)


def to_int16(y):
    """audio.md §9.9: float32 product, truncation toward zero."""
    return (np.clip(y.astype(np.float32), -1, 1) * np.float32(32767)).astype(np.int16)


# ---- zero-shot speaker path (§10.2-10.4) ----

def slaney_mel(sr, n_fft, n_mels, fmin, fmax):
    def hz2mel(f):
        f = np.asarray(f, dtype=np.float64)
        lin = f / (200.0 / 3)
        log = 15.0 + np.log(np.maximum(f, 1e-10) / 1000.0) / (np.log(6.4) / 27.0)
        return np.where(f >= 1000.0, log, lin)

    def mel2hz(m):
        m = np.asarray(m, dtype=np.float64)
        lin = m * (200.0 / 3)
        log = 1000.0 * np.exp((np.log(6.4) / 27.0) * (m - 15.0))
        return np.where(m >= 15.0, log, lin)

    freqs = np.linspace(0, sr / 2, n_fft // 2 + 1)
    pts = mel2hz(np.linspace(hz2mel(fmin), hz2mel(fmax), n_mels + 2))
    fd = np.diff(pts)
    ramps = pts[:, None] - freqs[None, :]
    w = np.zeros((n_mels, len(freqs)))
    for i in range(n_mels):
        lo = -ramps[i] / fd[i]
        hi = ramps[i + 2] / fd[i + 1]
        w[i] = np.maximum(0, np.minimum(lo, hi))
    w *= (2.0 / (pts[2:n_mels + 2] - pts[:n_mels]))[:, None]
    return w.astype(np.float32).astype(np.float64)


def preprocess(pcm):
    """High-pass biquad (float64, DF2T) -> float32, then the loudness gain."""
    b = [0.9871251866715299, -1.9742503733430599, 0.9871251866715299]
    a = [1, -1.9740846056550854, 0.9744161410310344]
    x = np.asarray(pcm, dtype=np.float64)
    y = np.zeros_like(x)
    z1 = z2 = 0.0
    for i, xi in enumerate(x):
        yi = b[0] * xi + z1
        z1 = b[1] * xi - a[1] * yi + z2
        z2 = b[2] * xi - a[2] * yi
        y[i] = yi
    y = y.astype(np.float32).astype(np.float64)
    gain = min(0.05011872336272722 / np.sqrt(np.mean(y ** 2)), 1.0 / np.max(np.abs(y)))
    return y * gain


def ref_mel(cfg, y):
    n_fft, hop = cfg["n_fft"], cfg["hop_size"]
    pad = (n_fft - hop) // 2
    yp = np.pad(y, (pad, pad), mode="reflect")
    nfr = (len(yp) - n_fft) // hop + 1
    win = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(cfg["win_size"]) / cfg["win_size"])
    frames = np.stack([yp[f * hop:f * hop + n_fft] * win for f in range(nfr)])
    X = np.fft.rfft(frames, n=n_fft, axis=1)
    mag = np.sqrt(X.real ** 2 + X.imag ** 2 + 1e-9)
    fb = slaney_mel(24000, n_fft, cfg["num_mels"], cfg["fmin"], cfg["fmax"])
    return np.log(np.maximum(fb @ mag.T, 1e-5))  # n_mels x F


def bn(sd, pre, x):
    shape = (1, -1, 1) if x.dim() == 3 else (1, -1)
    m, v = sd[pre + ".running_mean"].reshape(shape), sd[pre + ".running_var"].reshape(shape)
    return (x - m) / torch.sqrt(v + 1e-5) * sd[pre + ".weight"].reshape(shape) + sd[pre + ".bias"].reshape(shape)


def crb(sd, pre, x, pad=0, dil=1):
    return bn(sd, pre + ".bn", F.relu(F.conv1d(x, sd[pre + ".conv.weight"], padding=pad, dilation=dil)))


def ecapa(sd, mel):
    p = "spk_emb."
    x = torch.tensor(mel, dtype=D).unsqueeze(0)
    o1 = crb(sd, p + "layer1", x, pad=2)
    outs = []
    h = o1
    for li, d in ((2, 2), (3, 3), (4, 4)):
        q = p + "layer%d." % li
        a = crb(sd, q + "Conv1dReluBn1", h)
        g = a.shape[1] // 8
        parts = torch.split(a, g, dim=1)
        ss = []
        prev = None
        for i in range(7):
            inp = parts[i] if i == 0 else prev + parts[i]
            prev = bn(sd, q + "Res2Conv1dReluBn.bns.%d" % i,
                      F.relu(F.conv1d(inp, sd[q + "Res2Conv1dReluBn.convs.%d.weight" % i], padding=d, dilation=d)))
            ss.append(prev)
        r = torch.cat(ss + [parts[7]], dim=1)
        b = crb(sd, q + "Conv1dReluBn2", r)
        m = b.mean(dim=2)
        e = torch.sigmoid(F.linear(F.relu(F.linear(m, sd[q + "SE_Connect.linear1.weight"], sd[q + "SE_Connect.linear1.bias"])),
                                   sd[q + "SE_Connect.linear2.weight"], sd[q + "SE_Connect.linear2.bias"]))
        h = b * e.unsqueeze(2) + h
        outs.append(h)
    c = F.relu(F.conv1d(torch.cat(outs, dim=1), sd[p + "conv.weight"], sd[p + "conv.bias"]))
    e = torch.tanh(F.conv1d(c, sd[p + "pooling.linear1.weight"], sd[p + "pooling.linear1.bias"]))
    s = F.conv1d(e, sd[p + "pooling.linear2.weight"], sd[p + "pooling.linear2.bias"])
    al = torch.softmax(s, dim=2)
    mu = (al * c).sum(dim=2)
    sg = torch.sqrt(torch.clamp((al * c * c).sum(dim=2) - mu * mu, min=1e-9))
    pp = bn(sd, p + "bn", torch.cat([mu, sg], dim=1))
    emb = bn(sd, p + "bn_out", F.linear(pp, sd[p + "linear.weight"], sd[p + "linear.bias"]))
    return emb.reshape(-1)


def ref_speaker(path, pcm):
    cfg, sd, _ = load_mar(path)
    y = preprocess(np.asarray(pcm, dtype=np.float32)[:30 * 24000])
    return ecapa(sd, ref_mel(cfg, y))


def synth_zero_shot(path, units, pcm):
    cfg, sd, _ = load_mar(path)
    spk = ref_speaker(path, pcm)
    return generator(cfg, sd, units, spk)
