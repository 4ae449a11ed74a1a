#!/usr/bin/python3
"""make_random_tatok.py - add a random-weight TA-Tok discrete image tokenizer (vision.md §4)
to a unified model folder written by tools/make_random_hcx.py --unified: one extra
safetensors shard with the model.discrete_vision_model.* tensors (used ones and the unused
ones of §4.5: the last encoder layer, post_layernorm, head, bottleneck.out_linear, the
decoder, decode_task_layer, scale_layer), model.safetensors.index.json created or extended,
and discrete_vision_config added to config.json.

The engine's output is fixed at 729 codes, so test models keep the real 27x27 grid
(input 384 or 378, patch 14) and shrink the width, depth and codebook instead.

Example:
  make_random_hcx.py --preset tiny --unified --out /tmp/m
  make_random_tatok.py --model /tmp/m --width 48 --layers 3 --heads 4 --mlp 96 \\
      --bottleneck 64 --codebook 1024
Bad-checkpoint options for the loader tests: --drop NAME, --extra NAME, --reshape NAME=2,3
(NAME after the model.discrete_vision_model. prefix).
"""
import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_random_hcx import add_shard, encode  # noqa: E402

PFX = "model.discrete_vision_model."
SHARD = "model-discrete-vision.safetensors"


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", required=True, help="unified model folder (make_random_hcx.py --unified)")
    p.add_argument("--width", type=int, default=48)
    p.add_argument("--layers", type=int, default=3, help="encoder layers in the checkpoint")
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--mlp", type=int, default=96)
    p.add_argument("--patch", type=int, default=14)
    p.add_argument("--input-size", type=int, default=384)
    p.add_argument("--bottleneck", type=int, default=64, help="bottleneck_dim")
    p.add_argument("--codebook", type=int, default=1024, help="codebook_size")
    p.add_argument("--select-layer", type=int, default=-2, help="select_layer_id")
    p.add_argument("--dtype", choices=["f32", "bf16", "f16"], default="f32")
    p.add_argument("--config", choices=["flat", "nested", "none"], default="flat",
                   help="discrete_vision_config layout: flat keys, Tar's nested bottleneck "
                        "args, or absent (engine falls back to the spec's table)")
    p.add_argument("--cfg-codebook-size", type=int,
                   help="codebook_size written to the config (default: --codebook; a mismatch test)")
    p.add_argument("--temperature", type=float, default=0.03, help="stochastic_temperature")
    p.add_argument("--no-heads-config", action="store_true",
                   help="omit encoder_config.num_attention_heads (engine uses width / 72)")
    p.add_argument("--decoder-layers", type=int, default=1, help="unused feature-decoder layers")
    p.add_argument("--tie-codes", action="store_true",
                   help="codebook row 2j+1 = row 2j (exact ties: argmax must pick the even one)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--drop", action="append", default=[], help="leave out tensor NAME")
    p.add_argument("--extra", action="append", default=[], help="add an unknown tensor NAME [4]")
    p.add_argument("--reshape", action="append", default=[], help="NAME=d0,d1,...: wrong shape")
    p.add_argument("--quiet", action="store_true")
    return p.parse_args(argv)


def tensor_specs(a):
    """[(name after the prefix, shape, kind)]; kind: mat (std 1/sqrt(fan_in)), norm, bias,
    pos, code (N(0,1)), half (0.5 constants)."""
    D, F, P, Z, K = a.width, a.mlp, a.patch, a.bottleneck, a.codebook
    n = (a.input_size // P) ** 2
    t = [("encoder.embeddings.patch_embedding.weight", (D, 3, P, P), "mat"),
         ("encoder.embeddings.patch_embedding.bias", (D,), "bias"),
         ("encoder.embeddings.position_embedding.weight", (n, D), "pos")]
    for i in range(a.layers):
        q = "encoder.encoder.layers.%d." % i
        for ln in ("layer_norm1", "layer_norm2"):
            t += [(q + ln + ".weight", (D,), "norm"), (q + ln + ".bias", (D,), "bias")]
        for pr in ("q_proj", "k_proj", "v_proj", "out_proj"):
            t += [(q + "self_attn." + pr + ".weight", (D, D), "mat"),
                  (q + "self_attn." + pr + ".bias", (D,), "bias")]
        t += [(q + "mlp.fc1.weight", (F, D), "mat"), (q + "mlp.fc1.bias", (F,), "bias"),
              (q + "mlp.fc2.weight", (D, F), "mat"), (q + "mlp.fc2.bias", (D,), "bias")]
    # unused: SigLIP's post-layernorm and pooling head
    t += [("encoder.post_layernorm.weight", (D,), "norm"), ("encoder.post_layernorm.bias", (D,), "bias"),
          ("encoder.head.probe", (1, 1, D), "pos"),
          ("encoder.head.attention.in_proj_weight", (3 * D, D), "mat"),
          ("encoder.head.attention.in_proj_bias", (3 * D,), "bias"),
          ("encoder.head.attention.out_proj.weight", (D, D), "mat"),
          ("encoder.head.attention.out_proj.bias", (D,), "bias"),
          ("encoder.head.layernorm.weight", (D,), "norm"), ("encoder.head.layernorm.bias", (D,), "bias"),
          ("encoder.head.mlp.fc1.weight", (F, D), "mat"), ("encoder.head.mlp.fc1.bias", (F,), "bias"),
          ("encoder.head.mlp.fc2.weight", (D, F), "mat"), ("encoder.head.mlp.fc2.bias", (D,), "bias")]
    t += [("encode_task_layer.0.weight", (D, D), "mat"), ("encode_task_layer.0.bias", (D,), "bias"),
          ("bottleneck.in_linear.weight", (Z, D), "mat"), ("bottleneck.in_linear.bias", (Z,), "bias"),
          ("bottleneck.out_linear.weight", (Z, Z), "mat"), ("bottleneck.out_linear.bias", (Z,), "bias"),
          ("bottleneck.regularizer.embedding.weight", (K, Z), "code"),
          ("bottleneck.regularizer.embedding_proj.weight", (Z, Z), "mat"),
          ("bottleneck.regularizer.embedding_proj.bias", (Z,), "bias"),
          ("decode_task_layer.0.weight", (D, D), "mat"), ("decode_task_layer.0.bias", (D,), "bias"),
          ("decode_task_layer.2.weight", (D, D), "mat"), ("decode_task_layer.2.bias", (D,), "bias"),
          ("scale_layer.shift", (1, 3, 1, 1), "half"), ("scale_layer.scale", (1, 3, 1, 1), "half")]
    # unused: the SigLIP2 feature decoder (small stand-in shapes)
    dv = "decoder.vision_model."
    t += [(dv + "embeddings.patch_embedding.weight", (D, Z), "mat"),
          (dv + "embeddings.patch_embedding.bias", (D,), "bias"),
          (dv + "embeddings.position_embedding.weight", (16, D), "pos")]
    for i in range(a.decoder_layers):
        q = dv + "encoder.layers.%d." % i
        t += [(q + "layer_norm1.weight", (D,), "norm"), (q + "self_attn.q_proj.weight", (D, D), "mat"),
              (q + "mlp.fc1.weight", (F, D), "mat")]
    t += [(dv + "post_layernorm.weight", (D,), "norm"), (dv + "head.probe", (1, 1, D), "pos")]
    return t


def discrete_vision_config(a):
    enc = {"model_type": "siglip_vision_model", "hidden_size": a.width, "intermediate_size": a.mlp,
           "num_hidden_layers": a.layers, "patch_size": a.patch, "image_size": a.input_size,
           "layer_norm_eps": 1e-6, "hidden_act": "gelu_pytorch_tanh"}
    if not a.no_heads_config:
        enc["num_attention_heads"] = a.heads
    n = (a.input_size // a.patch) ** 2
    reg = {"codebook_size": a.cfg_codebook_size or a.codebook, "l2_normalized": True, "stochastic": True,
           "stochastic_temperature": a.temperature, "commitment_weight": 0.25}
    if a.config == "flat":
        c = {"model_type": "ta_tok", "input_size": a.input_size, "bottleneck_token_num": n,
             "pool_scale": 1, "select_layer_id": a.select_layer, "bottleneck_dim": a.bottleneck,
             "encoder_config": enc}
        c.update(reg)
        return c
    return {"model_type": "ta_tok", "input_size": a.input_size, "bottleneck_token_num": n,
            "select_layer_id": a.select_layer, "encoder_config": enc,
            "bottleneck": {"name": "bottleneck",
                           "args": {"bottleneck_dim": a.bottleneck, "norm": "none",
                                    "regularizer": {"name": "simvq", "args": reg}}}}


def gen(rng, shape, kind):
    n = int(np.prod(shape))
    x = rng.standard_normal(n, dtype=np.float32)
    if kind == "mat":
        fan_in = int(np.prod(shape[1:]))
        x *= np.float32(1.0 / np.sqrt(fan_in))
    elif kind == "norm":
        x = 1.0 + np.float32(0.1) * x
    elif kind == "bias":
        x *= np.float32(0.05)
    elif kind == "pos":
        x *= np.float32(0.3)
    elif kind == "half":
        x = np.full(n, 0.5, np.float32)
    return x


def main(argv=None):
    a = parse_args(argv if argv is not None else sys.argv[1:])
    cfg_path = os.path.join(a.model, "config.json")
    with open(cfg_path) as f:
        cfg = json.load(f)
    if a.config != "none":
        cfg["discrete_vision_config"] = discrete_vision_config(a)
    else:
        cfg.pop("discrete_vision_config", None)
    with open(cfg_path, "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")

    specs = tensor_specs(a)
    reshape = {}
    for r in a.reshape:
        name, dims = r.split("=")
        reshape[name] = tuple(int(d) for d in dims.split(","))
    known = {n for n, _, _ in specs}
    for n in a.drop + list(reshape):
        if n not in known:
            raise SystemExit("make_random_tatok: no tensor %s" % n)
    specs = [(n, reshape.get(n, s), k) for n, s, k in specs if n not in a.drop]
    specs += [(n, (4,), "bias") for n in a.extra]
    specs.sort(key=lambda x: x[0])

    rng = np.random.default_rng(a.seed)
    entries, blobs, off = [], [], 0
    for n, s, k in specs:
        dt = "f32" if k == "half" else a.dtype
        x = gen(rng, s, k)
        if a.tie_codes and n == "bottleneck.regularizer.embedding.weight" and len(s) == 2:
            x = x.reshape(s)
            x[1::2] = x[0:s[0] // 2 * 2:2]
        b = encode(x, dt)
        entries.append((PFX + n, dt, s, off, off + len(b)))
        blobs.append(b)
        off += len(b)
    add_shard(a.model, SHARD, entries, blobs)
    if not a.quiet:
        print("wrote %s (%d tensors, %.1f MB)" % (SHARD, len(entries), off / 1e6), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
