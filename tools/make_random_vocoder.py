#!/usr/bin/python3
"""make_random_vocoder.py - write random-weight unit-BigVGAN vocoder archives in the
real TorchServe .mar layout (audio.md §9.1): a ZIP with MAR-INF/MANIFEST.json,
config.json, spk_list.txt (finetuned) and the checkpoint written by torch.save (the
real zip format) holding {"generator": state_dict}. Tensor names as §9.8 / §10.4,
weight normalisation stored as weight_g/weight_v (or the parametrizations names).

  make_random_vocoder.py OUT.mar [--zero-shot] [--causal] [--channels 128]
        [--unit-dim 16] [--spk-dim 8] [--spk-hidden 32] [--seed 0] [--real]
        [--omni-dir DIR]   (write DIR/decoder/audio/NC{,ZS}CosybigvganDecoder.mar)
Also importable: make_config(), make_state(), write_mar(), and helpers that write the
bad archives the error tests use (legacy torch format, forbidden global/opcode)."""
import argparse
import collections
import io
import json
import math
import os
import sys
import zipfile

import numpy as np
import torch

SPK_NAMES = ["fkjy", "fkms", "fphj", "mhwj", "mphw", "msij", "fbhg", "fcj", "fcsy", "fkjh", "fkms2",
             "fljh", "fljh2", "mcjm", "mhjw", "mjch", "mjjh", "mkdk", "mkmy", "mkyw", "mlk", "mltm",
             "mmhb", "mngm", "msnh", "mjhh"]


def make_config(finetune=True, channels=128, unit_dim=16, spk_dim=8, spk_hidden=32, num_spk=26,
                causal=False, use_tanh=False, use_bias=False, logscale=True, dilations=None):
    cfg = collections.OrderedDict()
    cfg["resblock"] = "1"
    cfg["causal"] = causal
    cfg["finetune"] = finetune
    cfg["num_units"] = 6561
    cfg["unit_emb_dim"] = unit_dim
    cfg["spk_emb_dim"] = spk_dim
    if finetune:
        cfg["num_spk"] = num_spk
    cfg["upsample_initial_channel"] = channels
    cfg["upsample_rates"] = [5, 4, 4, 3, 2, 2]
    cfg["upsample_kernel_sizes"] = [10, 8, 8, 6, 4, 4]
    cfg["resblock_kernel_sizes"] = [3, 7, 11]
    cfg["resblock_dilation_sizes"] = dilations or [[1, 3, 5], [1, 3, 5], [1, 3, 5]]
    cfg["activation"] = "snakebeta"
    cfg["snake_logscale"] = logscale
    cfg["use_tanh_at_final"] = use_tanh
    cfg["use_bias_at_final"] = use_bias
    cfg["sampling_rate"] = 24000
    cfg["num_mels"] = 100
    cfg["n_fft"] = 1024
    cfg["hop_size"] = 256
    cfg["win_size"] = 1024
    cfg["fmin"] = 0
    cfg["fmax"] = 8000
    cfg["spk_hidden_dim"] = spk_hidden
    cfg["global_context_att"] = False
    return cfg


def kaiser_sinc_filter():
    """The 12-tap anti-aliasing filter of §9.4 (float32, as the checkpoint buffers)."""
    n = np.arange(12, dtype=np.float64)
    a = 2.285 * 5 * math.pi * 1.2 + 7.95
    beta = 0.1102 * (a - 8.7)
    w = np.i0(beta * np.sqrt(1 - ((n - 5.5) / 5.5) ** 2)) / np.i0(beta)
    h = 0.5 * w * np.sinc(0.5 * (n - 5.5))
    h = h / h.sum()
    return torch.tensor(h, dtype=torch.float32).reshape(1, 1, 12)


def _bn(sd, pre, c, g, scale=1.0):
    sd[pre + ".weight"] = scale * (1.0 + 0.1 * torch.randn(c, generator=g))
    sd[pre + ".bias"] = 0.1 * torch.randn(c, generator=g)
    sd[pre + ".running_mean"] = 0.1 * torch.randn(c, generator=g)
    sd[pre + ".running_var"] = 0.5 + torch.rand(c, generator=g)
    sd[pre + ".num_batches_tracked"] = torch.tensor(1000, dtype=torch.long)


def _ecapa(sd, cfg, g):
    h = cfg["spk_hidden_dim"]
    c3 = 3 * h
    p = "spk_emb."

    def w(*shape, scale=1.0):
        fan = int(np.prod(shape[1:]))
        return torch.randn(*shape, generator=g) * (scale / math.sqrt(fan))

    sd[p + "layer1.conv.weight"] = w(h, cfg["num_mels"], 5)
    _bn(sd, p + "layer1.bn", h, g)
    for li in (2, 3, 4):
        q = p + "layer%d." % li
        sd[q + "Conv1dReluBn1.conv.weight"] = w(h, h, 1)
        _bn(sd, q + "Conv1dReluBn1.bn", h, g)
        for k in range(7):
            sd[q + "Res2Conv1dReluBn.convs.%d.weight" % k] = w(h // 8, h // 8, 3)
        for k in range(7):
            _bn(sd, q + "Res2Conv1dReluBn.bns.%d" % k, h // 8, g)
        sd[q + "Conv1dReluBn2.conv.weight"] = w(h, h, 1)
        _bn(sd, q + "Conv1dReluBn2.bn", h, g)
        sd[q + "SE_Connect.linear1.weight"] = w(128, h)
        sd[q + "SE_Connect.linear1.bias"] = 0.1 * torch.randn(128, generator=g)
        sd[q + "SE_Connect.linear2.weight"] = w(h, 128)
        sd[q + "SE_Connect.linear2.bias"] = 0.1 * torch.randn(h, generator=g)
    sd[p + "conv.weight"] = w(c3, c3, 1)
    sd[p + "conv.bias"] = 0.1 * torch.randn(c3, generator=g)
    sd[p + "pooling.linear1.weight"] = w(128, c3, 1)
    sd[p + "pooling.linear1.bias"] = 0.1 * torch.randn(128, generator=g)
    sd[p + "pooling.linear2.weight"] = w(c3, 128, 1, scale=3.0)
    sd[p + "pooling.linear2.bias"] = 0.1 * torch.randn(c3, generator=g)
    _bn(sd, p + "bn", 2 * c3, g)
    sd[p + "linear.weight"] = w(cfg["spk_emb_dim"], 2 * c3)
    sd[p + "linear.bias"] = 0.1 * torch.randn(cfg["spk_emb_dim"], generator=g)
    _bn(sd, p + "bn_out", cfg["spk_emb_dim"], g, scale=0.3)


def make_state(cfg, seed=0, wn="legacy", causal_buffers=None, post_gain=0.1):
    """Random generator state dict. wn: 'legacy' (weight_g/weight_v), 'param'
    (parametrizations.weight.original0/1) or 'plain' (folded .weight)."""
    g = torch.Generator().manual_seed(seed)
    sd = collections.OrderedDict()
    causal = cfg.get("causal", True) if causal_buffers is None else causal_buffers
    u, s = cfg["unit_emb_dim"], cfg["spk_emb_dim"]
    c0 = cfg["upsample_initial_channel"]

    def conv(mod, cout, cin, k, gain, bias=True, transposed=False, pad=None):
        v = torch.randn(cout if not transposed else cin, cin if not transposed else cout, k, generator=g)
        d0 = v.shape[0]
        gg = (gain * (1.0 + 0.2 * torch.rand(d0, generator=g))).reshape(d0, 1, 1)
        if wn == "legacy":
            sd[mod + ".weight_g"] = gg
            sd[mod + ".weight_v"] = v
        elif wn == "param":
            sd[mod + ".parametrizations.weight.original0"] = gg
            sd[mod + ".parametrizations.weight.original1"] = v
        else:
            sd[mod + ".weight"] = gg * v / v.pow(2).sum(dim=(1, 2), keepdim=True).sqrt()
        if bias:
            sd[mod + ".bias"] = 0.05 * torch.randn(cout, generator=g)

    def act(pre, c):
        sd[pre + ".act.alpha"] = 0.3 * torch.randn(c, generator=g)
        sd[pre + ".act.beta"] = 0.3 * torch.randn(c, generator=g)
        sd[pre + ".upsample.filter"] = kaiser_sinc_filter()
        sd[pre + ".downsample.lowpass.filter"] = kaiser_sinc_filter()

    sd["unit_emb.weight"] = torch.randn(cfg["num_units"], u, generator=g)
    if cfg.get("finetune", False):
        sd["spk_emb.weight"] = torch.randn(cfg["num_spk"], s, generator=g)
    else:
        _ecapa(sd, cfg, g)
    conv("conv_pre.conv", c0, u + s, 7, 1.0)
    if causal:
        sd["conv_pre.pad_buffer"] = torch.zeros(1, u + s, 6)
    for i, (r, k) in enumerate(zip(cfg["upsample_rates"], cfg["upsample_kernel_sizes"])):
        cin, cout = c0 // 2 ** i, c0 // 2 ** (i + 1)
        conv("ups.%d.0.deconv" % i, cout, cin, k, math.sqrt(cout * r / cin) * 1.2, transposed=True)
        for j, kk in enumerate(cfg["resblock_kernel_sizes"]):
            n = 3 * i + j
            for m in range(3):
                conv("resblocks.%d.convs1.%d.conv" % (n, m), cout, cout, kk, 0.5)
                conv("resblocks.%d.convs2.%d.conv" % (n, m), cout, cout, kk, 0.5)
                if causal:
                    d = cfg["resblock_dilation_sizes"][j][m]
                    sd["resblocks.%d.convs1.%d.pad_buffer" % (n, m)] = torch.zeros(1, cout, (kk - 1) * d)
                    sd["resblocks.%d.convs2.%d.pad_buffer" % (n, m)] = torch.zeros(1, cout, kk - 1)
            for a in range(6):
                act("resblocks.%d.activations.%d" % (n, a), cout)
    clast = c0 // 2 ** len(cfg["upsample_rates"])
    act("activation_post", clast)
    conv("conv_post.conv", 1, clast, 7, post_gain, bias=cfg["use_bias_at_final"])
    if causal:
        sd["conv_post.pad_buffer"] = torch.zeros(1, clast, 6)
    return sd


def ckpt_bytes(state, legacy=False):
    b = io.BytesIO()
    if legacy:
        torch.save({"generator": state}, b, _use_new_zipfile_serialization=False)
    else:
        torch.save({"generator": state}, b)
    return b.getvalue()


def raw_pickle_ckpt(pkl):
    """A torch-style zip checkpoint around an arbitrary data.pkl (error tests)."""
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", pkl)
        z.writestr("archive/version", "3\n")
    return b.getvalue()


# data.pkl that would call os.system("echo pwned") if unpickled by Python.
FORBIDDEN_GLOBAL_PKL = b"\x80\x02cos\nsystem\nq\x00X\x0b\x00\x00\x00echo pwnedq\x01\x85q\x02Rq\x03."
# a dict holding a float: BINFLOAT is not in the allowed opcode set.
FORBIDDEN_OPCODE_PKL = b"\x80\x02}q\x00X\t\x00\x00\x00generatorq\x01}q\x02X\x01\x00\x00\x00aG?\xf8\x00\x00\x00\x00\x00\x00ss."


def write_mar(path, cfg, ckpt, spk_names=None, serialized="generator.pt", deflate=True,
              ckpt_deflate=False, skip=(), config_text=None, spk_text=None):
    comp = zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED
    manifest = {"createdOn": "01/12/2026 00:00:00", "runtime": "python",
                "model": {"modelName": os.path.splitext(os.path.basename(path))[0],
                          "serializedFile": serialized, "handler": "handler_concrete.py",
                          "modelVersion": "1.0"},
                "archiverVersion": "0.8.2"}
    with zipfile.ZipFile(path, "w", comp) as z:
        if "manifest" not in skip:
            z.writestr("MAR-INF/MANIFEST.json", json.dumps(manifest, indent=2))
        if "config" not in skip:
            z.writestr("config.json", config_text if config_text is not None else json.dumps(cfg, indent=2))
        if spk_names is not None and "spk" not in skip:
            z.writestr("spk_list.txt", spk_text if spk_text is not None else "\n".join(spk_names) + "\n")
        z.writestr("handler_concrete.py", "# handler (ignored by the engine)\n")
        if "ckpt" not in skip:
            z.writestr(zipfile.ZipInfo(serialized, date_time=(2026, 1, 1, 0, 0, 0)), ckpt,
                       compress_type=zipfile.ZIP_DEFLATED if ckpt_deflate else zipfile.ZIP_STORED)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out", nargs="?")
    ap.add_argument("--zero-shot", action="store_true")
    ap.add_argument("--causal", action="store_true")
    ap.add_argument("--channels", type=int, default=128)
    ap.add_argument("--unit-dim", type=int, default=16)
    ap.add_argument("--spk-dim", type=int, default=8)
    ap.add_argument("--spk-hidden", type=int, default=32)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--real", action="store_true", help="real shapes (1536 channels, 1280/256/512)")
    ap.add_argument("--omni-dir", help="write both archives under DIR/decoder/audio/")
    a = ap.parse_args()
    if a.real:
        a.channels, a.unit_dim, a.spk_dim, a.spk_hidden = 1536, 1280, 256, 512
    todo = []
    if a.omni_dir:
        d = os.path.join(a.omni_dir, "decoder", "audio")
        os.makedirs(d, exist_ok=True)
        todo = [(os.path.join(d, "NCCosybigvganDecoder.mar"), True), (os.path.join(d, "NCZSCosybigvganDecoder.mar"), False)]
    elif a.out:
        todo = [(a.out, not a.zero_shot)]
    else:
        ap.error("OUT.mar or --omni-dir needed")
    for path, ft in todo:
        cfg = make_config(finetune=ft, channels=a.channels, unit_dim=a.unit_dim, spk_dim=a.spk_dim,
                          spk_hidden=a.spk_hidden, causal=a.causal)
        st = make_state(cfg, seed=a.seed)
        write_mar(path, cfg, ckpt_bytes(st), SPK_NAMES if ft else None)
        print(path)


if __name__ == "__main__":
    sys.exit(main())
