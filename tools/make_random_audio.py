#!/usr/bin/python3
"""make_random_audio.py - add random-weight Omni-8B audio encoders (audio.md §4.3, §5.6)
to a unified folder written by tools/make_random_hcx.py --unified: an extra shard
model-audio.safetensors (model.audio_model.*, model.audio_projector.*,
model.discrete_audio_model.*), model.safetensors.index.json covering every shard, and
the audio_config / audio_projector_type / discrete_audio_config keys of config.json.

Shapes are tiny but keep what the reference hard-codes (128 mel bins, 1500 positions,
S3 head width 64, FSMN kernel 31, MLP 4x state, FSQ 8 digits). Weights are scaled to
look trained: activations of order 1, norm gains 1 + N(0, 0.2), non-zero biases.

Examples:
  make_random_hcx.py --preset tiny --unified --out /tmp/m
  make_random_audio.py /tmp/m --d-model 64 --layers 2 --heads 4 --ffn 128 --dtype bf16
Checkpoint breakers for tests: --drop NAME, --extra NAME, --set-config KEY=JSON.
"""
import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_random_hcx import ELEM_SIZE, add_shard, encode  # noqa: E402

SHARD = "model-audio.safetensors"
AE, AP, S3 = "model.audio_model.", "model.audio_projector.", "model.discrete_audio_model."
N_MELS, N_POS, S3_HEAD, FSMN_K = 128, 1500, 64, 31


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("dir", help="unified model folder (from make_random_hcx.py --unified)")
    p.add_argument("--d-model", type=int, default=64)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--ffn", type=int, default=128)
    p.add_argument("--proj-hidden", type=int, help="projector hidden width (default d-model)")
    p.add_argument("--s3-state", type=int, default=128, help="S3 state width (multiple of 64)")
    p.add_argument("--s3-blocks", type=int, default=2)
    p.add_argument("--dtype", choices=["f32", "bf16", "f16"], default="f32")
    p.add_argument("--no-continuous", action="store_true")
    p.add_argument("--no-discrete", action="store_true")
    p.add_argument("--no-audio-config", action="store_true", help="omit audio_config (shapes decide)")
    p.add_argument("--drop", action="append", default=[], help="leave out this tensor")
    p.add_argument("--extra", action="append", default=[], help="add an unknown [4] tensor of this name")
    p.add_argument("--set-config", action="append", default=[],
                   help="audio_config KEY=JSON override (e.g. encoder_ffn_dim=96)")
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args(argv)
    if a.s3_state % S3_HEAD:
        p.error("--s3-state must be a multiple of 64")
    if a.d_model % a.heads:
        p.error("--d-model must be a multiple of --heads")
    a.proj_hidden = a.proj_hidden or a.d_model
    return a


def specs(a, d_llm):
    """[(name, shape, kind)], kind in mat/conv/norm/bias/pos/fsmn/proj."""
    t = []
    if not a.no_continuous:
        D, F = a.d_model, a.ffn
        t += [(AE + "conv1.weight", (D, N_MELS, 3), "conv"), (AE + "conv1.bias", (D,), "bias"),
              (AE + "conv2.weight", (D, D, 3), "conv"), (AE + "conv2.bias", (D,), "bias"),
              (AE + "embed_positions.weight", (N_POS, D), "pos"),
              (AE + "layer_norm.weight", (D,), "norm"), (AE + "layer_norm.bias", (D,), "bias")]
        for i in range(a.layers):
            p = AE + "layers.%d." % i
            for w in ("q_proj", "k_proj", "v_proj", "out_proj"):
                t.append((p + "self_attn.%s.weight" % w, (D, D), "mat"))
                if w != "k_proj":
                    t.append((p + "self_attn.%s.bias" % w, (D,), "bias"))
            t += [(p + "self_attn_layer_norm.weight", (D,), "norm"),
                  (p + "self_attn_layer_norm.bias", (D,), "bias"),
                  (p + "fc1.weight", (F, D), "mat"), (p + "fc1.bias", (F,), "bias"),
                  (p + "fc2.weight", (D, F), "mat"), (p + "fc2.bias", (D,), "bias"),
                  (p + "final_layer_norm.weight", (D,), "norm"),
                  (p + "final_layer_norm.bias", (D,), "bias")]
        Hp = a.proj_hidden
        t += [(AP + "fc1.weight", (Hp, D), "mat"), (AP + "fc1.bias", (Hp,), "bias"),
              (AP + "fc2.weight", (d_llm, Hp), "mat"), (AP + "fc2.bias", (d_llm,), "bias")]
    if not a.no_discrete:
        S = a.s3_state
        e = S3 + "encoder."
        t += [(e + "conv1.weight", (S, N_MELS, 3), "conv"), (e + "conv1.bias", (S,), "bias"),
              (e + "conv2.weight", (S, S, 3), "conv"), (e + "conv2.bias", (S,), "bias")]
        for b in range(a.s3_blocks):
            p = e + "blocks.%d." % b
            for w in ("query", "key", "value", "out"):
                t.append((p + "attn.%s.weight" % w, (S, S), "mat"))
                if w != "key":
                    t.append((p + "attn.%s.bias" % w, (S,), "bias"))
            t += [(p + "attn.fsmn_block.weight", (S, 1, FSMN_K), "fsmn"),
                  (p + "attn_ln.weight", (S,), "norm"), (p + "attn_ln.bias", (S,), "bias"),
                  (p + "mlp.0.weight", (4 * S, S), "mat"), (p + "mlp.0.bias", (4 * S,), "bias"),
                  (p + "mlp.2.weight", (S, 4 * S), "mat"), (p + "mlp.2.bias", (S,), "bias"),
                  (p + "mlp_ln.weight", (S,), "norm"), (p + "mlp_ln.bias", (S,), "bias")]
        t += [(S3 + "quantizer._codebook.project_down.weight", (8, S), "proj"),
              (S3 + "quantizer._codebook.project_down.bias", (8,), "bias")]
    t = [x for x in t if x[0] not in set(a.drop)]
    t += [(n, (4,), "bias") for n in a.extra]
    return sorted(t, key=lambda x: x[0])


def make(rng, shape, kind):
    x = rng.standard_normal(int(np.prod(shape)), dtype=np.float32).reshape(shape)
    if kind == "norm":
        return 1.0 + np.float32(0.2) * x
    if kind == "bias":
        return np.float32(0.1) * x
    if kind == "pos":
        return np.float32(0.3) * x
    if kind == "fsmn":
        return x / np.float32(np.sqrt(FSMN_K))
    if kind == "proj":
        return x * np.float32(0.4 / np.sqrt(shape[1]))
    fan_in = int(np.prod(shape[1:]))
    return x / np.float32(np.sqrt(fan_in))


def audio_config(a):
    c = {"architectures": ["Qwen2AudioEncoder"], "model_type": "qwen2_audio_encoder",
         "num_mel_bins": N_MELS, "d_model": a.d_model, "encoder_layers": a.layers,
         "num_hidden_layers": a.layers, "encoder_attention_heads": a.heads,
         "encoder_ffn_dim": a.ffn, "activation_function": "gelu", "max_source_positions": N_POS,
         "scale_embedding": False, "dropout": 0.0, "attention_dropout": 0.0,
         "activation_dropout": 0.0, "encoder_layerdrop": 0.0, "init_std": 0.02,
         "torch_dtype": {"f32": "float32", "bf16": "bfloat16", "f16": "float16"}[a.dtype]}
    for kv in a.set_config:
        k, v = kv.split("=", 1)
        c[k] = json.loads(v)
    return c


def main(argv=None):
    a = parse_args(argv if argv is not None else sys.argv[1:])
    cfg_path = os.path.join(a.dir, "config.json")
    with open(cfg_path) as f:
        cfg = json.load(f)
    d_llm = cfg.get("text_config", cfg)["hidden_size"]
    sp = specs(a, d_llm)
    rng = np.random.default_rng(a.seed)
    entries, blobs, off = [], [], 0
    for name, shape, kind in sp:
        b = encode(make(rng, shape, kind).reshape(-1), a.dtype)
        assert len(b) == int(np.prod(shape)) * ELEM_SIZE[a.dtype]
        entries.append((name, a.dtype, shape, off, off + len(b)))
        blobs.append(b)
        off += len(b)
    add_shard(a.dir, SHARD, entries, blobs)

    for k in ("audio_config", "audio_projector_type", "discrete_audio_config"):
        cfg.pop(k, None)
    if not a.no_continuous:
        if not a.no_audio_config:
            cfg["audio_config"] = audio_config(a)
        cfg["audio_projector_type"] = "mlp"
    if not a.no_discrete:
        cfg["discrete_audio_config"] = {"model_name_or_path": "discrete_audio_weights.pt",
                                        "model_type": "cosyvoice2", "torch_dtype": "bfloat16"}
    with open(cfg_path, "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
