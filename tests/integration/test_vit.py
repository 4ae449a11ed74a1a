#!/usr/bin/python3
"""test_vit.py - the continuous vision encoder (vision.md §2) on random-weight unified
checkpoints written by tools/make_random_vlm.py (Track A and Omni layouts, several ViT
shapes, windowed and full attention, odd merged grids and multiples of the window for the
pad rule, 1-3 media per call, video-like grids with t = 2..3), against the independent
float64 reference tests/ref/vit_ref.py; and the errors for bad checkpoints and inputs.

  $OMNIC embed -m DIR --pixel-values P.npy --grid T,H,W [...] --out rows.npy

Error measure: rel = max|engine - ref| / max|ref| over all rows of the call.
Prints "PASS <case>" / "FAIL <case>: <why>"; exit status 1 on any failure.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools"))
sys.path.insert(0, os.path.join(ROOT, "tests", "ref"))
import make_random_vlm  # noqa: E402
import vit_ref  # noqa: E402
import harness  # noqa: E402
from harness import report, sanitizer_issue  # noqa: E402

OMNIC = os.environ.get("OMNIC", os.path.join(ROOT, "build", "omnic"))
TIMEOUT = 120
TOL = {"f32": 1e-4, "f16": 1e-4, "bf16": 2e-2}


class CaseFail(Exception):
    pass


def run(args, env=None):
    e = dict(os.environ)
    e.update(env or {})
    try:
        p = subprocess.run([OMNIC] + args, capture_output=True, text=True, timeout=TIMEOUT, env=e)
    except subprocess.TimeoutExpired:
        raise CaseFail("timeout after %ds: omnic %s" % (TIMEOUT, " ".join(args)))
    s = sanitizer_issue(p.stderr)
    if s:
        raise CaseFail("sanitizer report (%s): %s" % (s, p.stderr[-1500:]))
    return p


def embed_args(d, files, grids, out):
    args = ["embed", "-m", d]
    for f, g in zip(files, grids):
        args += ["--pixel-values", f, "--grid", "%d,%d,%d" % tuple(g)]
    return args + ["--out", out]


def pixels(rng, grids, tmp, tag):
    files, xs = [], []
    for i, g in enumerate(grids):
        x = rng.standard_normal((g[0] * g[1] * g[2], 1176)).astype(np.float32)
        f = os.path.join(tmp, "%s_px%d.npy" % (tag, i))
        np.save(f, x)
        files.append(f)
        xs.append(x)
    return files, np.concatenate(xs, axis=0)


def make(tmp, name, **kw):
    d = os.path.join(tmp, name)
    argv = ["--out", d, "--quiet"]
    for k, v in kw.items():
        k = "--" + k.replace("_", "-")
        for item in (v if isinstance(v, list) else [v]):
            argv += [k, str(item)]
    make_random_vlm.main(argv)
    return d


# ViT shapes: (hidden, heads, intermediate, out_hidden, depth, fullatt, window)
SHAPES = {
    "s1": dict(hidden=32, heads=2, intermediate=48, out_hidden=40, depth=3, fullatt="1", window=112),
    "s2": dict(hidden=48, heads=4, intermediate=64, out_hidden=96, depth=4, fullatt="0,3", window=56),
    "s3": dict(hidden=64, heads=2, intermediate=80, out_hidden=64, depth=2, fullatt="", window=168),
    "hd80": dict(hidden=160, heads=2, intermediate=64, out_hidden=64, depth=2, fullatt="1", window=112),
    "hd96": dict(hidden=96, heads=1, intermediate=32, out_hidden=48, depth=1, fullatt="0", window=56),
    "full": dict(hidden=32, heads=4, intermediate=40, out_hidden=32, depth=2, fullatt="0,1", window=112),
}

# (grids of one call): odd merged grids, multiples of the window (pad rule), videos, batches
GRIDS = {
    "odd5x7": [(1, 10, 14)],
    "mult4": [(1, 16, 8)],
    "three": [(1, 10, 14), (1, 8, 16), (2, 6, 10)],
    "video3": [(3, 12, 10)],
    "mixed2": [(2, 4, 18), (1, 2, 2)],
    "big": [(1, 18, 20), (1, 2, 4)],   # a 360-row frame: several key / query blocks
}


def accuracy_cases(tmp):
    rng = np.random.default_rng(7)
    plan = [
        ("trackA-s1-f32", "track-a", "s1", "f32", ["odd5x7", "mult4", "three", "video3"]),
        ("omni-s2-f32", "omni", "s2", "f32", ["odd5x7", "mult4", "three", "mixed2"]),
        ("trackA-s3-f32", "track-a", "s3", "f32", ["odd5x7", "video3"]),
        ("omni-full-f32", "omni", "full", "f32", ["three"]),
        ("trackA-hd80-f32", "track-a", "hd80", "f32", ["big"]),
        ("omni-hd96-bf16", "omni", "hd96", "bf16", ["big"]),
        ("trackA-s1-bf16", "track-a", "s1", "bf16", ["odd5x7", "three"]),
        ("omni-s2-f16", "omni", "s2", "f16", ["mult4"]),
    ]
    for name, layout, shape, dt, grid_names in plan:
        try:
            d = make(tmp, name, layout=layout, dtype=dt, llm_hidden=64 if layout == "omni" else 48,
                     seed=len(name), **SHAPES[shape])
            model = vit_ref.load(d)
        except Exception as e:  # noqa: BLE001
            report(name, False, "cannot generate/load: %s" % e)
            continue
        for gname in grid_names:
            case = "%s/%s" % (name, gname)
            try:
                grids = GRIDS[gname]
                files, X = pixels(rng, grids, tmp, case.replace("/", "_"))
                out = os.path.join(tmp, "rows.npy")
                if os.path.exists(out):
                    os.remove(out)
                p = run(embed_args(d, files, grids, out))
                if p.returncode != 0:
                    raise CaseFail("exit %d: %s" % (p.returncode, p.stderr.strip()[-500:]))
                got = np.load(out)
                ref = vit_ref.encode(model, X, grids)
                if got.dtype != np.float32 or got.shape != ref.shape:
                    raise CaseFail("got %s %s, expected float32 %s" % (got.dtype, got.shape, ref.shape))
                rel = float(np.abs(got - ref).max() / np.abs(ref).max())
                report(case, rel <= TOL[dt], "rel %.2e, tol %.0e, %d rows" % (rel, TOL[dt], ref.shape[0]))
            except CaseFail as e:
                report(case, False, str(e))
        if name == "trackA-s1-f32":  # the portable kernels too
            case = name + "/three-scalar"
            try:
                grids = GRIDS["three"]
                files, X = pixels(rng, grids, tmp, "scalar")
                out = os.path.join(tmp, "rows.npy")
                p = run(embed_args(d, files, grids, out) + ["-t", "1"], env={"OMNIC_SIMD": "scalar"})
                if p.returncode != 0:
                    raise CaseFail("exit %d: %s" % (p.returncode, p.stderr.strip()[-500:]))
                got, ref = np.load(out), vit_ref.encode(model, X, grids)
                rel = float(np.abs(got - ref).max() / np.abs(ref).max())
                report(case, rel <= 1e-4, "rel %.2e, 1 thread" % rel)
            except CaseFail as e:
                report(case, False, str(e))


def expect_error(case, d, grids, files, needles):
    """omnic embed must fail with a message containing every needle."""
    try:
        out = os.path.join(os.path.dirname(files[0]), "bad_rows.npy")
        p = run(embed_args(d, files, grids, out))
        if p.returncode == 0:
            raise CaseFail("succeeded, expected an error mentioning %s" % needles)
        if p.returncode < 0 or p.returncode > 125:
            raise CaseFail("crashed (exit %d): %s" % (p.returncode, p.stderr[-300:]))
        miss = [n for n in needles if n not in p.stderr]
        if miss:
            raise CaseFail("message lacks %s: %s" % (miss, p.stderr.strip()[-400:]))
        report(case, True, p.stderr.strip().splitlines()[-1][:110])
    except CaseFail as e:
        report(case, False, str(e))


def error_cases(tmp):
    rng = np.random.default_rng(3)
    grids = [(1, 4, 4)]
    files, _ = pixels(rng, grids, tmp, "err")
    base = dict(layout="track-a", dtype="f32", llm_hidden=48, **SHAPES["s1"])
    V = "model.vision_model."
    tensor_cases = [
        ("no-merger", dict(omit=V + "merger.*"), ["merger", V + "merger.ln_q.weight"]),
        ("no-projector", dict(omit="model.mm_projector.weight"), ["model.mm_projector.weight"]),
        ("no-projector-bias", dict(omit="model.mm_projector.bias"), ["model.mm_projector.bias"]),
        ("missing-block-tensor", dict(omit=V + "blocks.2.mlp.up_proj.bias"), [V + "blocks.2.mlp.up_proj.bias"]),
        ("missing-patch-embed", dict(omit=V + "patch_embed.proj.weight"), [V + "patch_embed.proj.weight"]),
        ("bad-qkv-shape", dict(reshape=V + "blocks.0.attn.qkv.weight=95,32"), [V + "blocks.0.attn.qkv.weight", "[95, 32]"]),
        ("bad-patch-shape", dict(reshape=V + "patch_embed.proj.weight=32,3,1,14,14"), [V + "patch_embed.proj.weight"]),
        ("bad-merger-shape", dict(reshape=V + "merger.mlp.2.weight=40,64"), [V + "merger.mlp.2.weight"]),
        ("bad-norm-shape", dict(reshape=V + "blocks.1.norm2.weight=33"), [V + "blocks.1.norm2.weight"]),
        ("projector-vs-llm", dict(reshape="model.mm_projector.weight=50,40"), ["model.mm_projector.weight", "hidden_size"]),
        ("projector-in-width", dict(reshape="model.mm_projector.weight=48,41"), ["model.mm_projector.weight", "out_hidden_size"]),
    ]
    for name, extra, needles in tensor_cases:
        kw = dict(base)
        kw.update(extra)
        try:
            d = make(tmp, "bad-" + name, **kw)
        except Exception as e:  # noqa: BLE001
            report("bad-ckpt/" + name, False, "cannot generate: %s" % e)
            continue
        expect_error("bad-ckpt/" + name, d, grids, files, needles)

    good = make(tmp, "good", **base)
    config_cases = [
        ("hidden_act", "\"gelu\"", ["vision_config.hidden_act"]),
        ("spatial_merge_size", "3", ["vision_config.spatial_merge_size"]),
        ("window_size", "100", ["vision_config.window_size"]),
        ("window_size", "0", ["vision_config.window_size"]),
        ("fullatt_block_indexes", "[1, 3]", ["vision_config.fullatt_block_indexes"]),
        ("fullatt_block_indexes", "\"7\"", ["vision_config.fullatt_block_indexes"]),
        ("model_type", "\"siglip_vision_model\"", ["vision_config.model_type"]),
        ("depth", None, ["vision_config.depth"]),
        ("depth", "4", [V + "blocks.3."]),
        ("hidden_size", "48", [V + "patch_embed.proj.weight"]),
        ("num_heads", "3", ["vision_config.hidden_size", "num_heads"]),
        ("intermediate_size", "\"48\"", ["vision_config.intermediate_size"]),
        ("patch_size", "16", ["vision_config.patch_size"]),
        ("out_hidden_size", "64", [V + "merger.mlp.2.weight"]),
    ]
    for key, val, needles in config_cases:
        name = "bad-config/%s=%s" % (key, "absent" if val is None else val.replace("\"", "'"))
        d = os.path.join(tmp, "cfg")
        shutil.rmtree(d, ignore_errors=True)
        shutil.copytree(good, d)
        with open(os.path.join(d, "config.json")) as f:
            cfg = json.load(f)
        if val is None:
            cfg["vision_config"].pop(key)
        else:
            cfg["vision_config"][key] = json.loads(val)
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(cfg, f)
        expect_error(name, d, grids, files, needles)
    for mt in ("qwen2_5_vl_vision", "qwen2_5_vl_visual"):  # accepted spellings
        name = "config/model_type=" + mt
        d = os.path.join(tmp, "cfg")
        shutil.rmtree(d, ignore_errors=True)
        shutil.copytree(good, d)
        with open(os.path.join(d, "config.json")) as f:
            cfg = json.load(f)
        cfg["vision_config"]["model_type"] = mt
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(cfg, f)
        try:
            p = run(embed_args(d, files, grids, os.path.join(tmp, "ok.npy")))
            report(name, p.returncode == 0, p.stderr.strip()[-200:])
        except CaseFail as e:
            report(name, False, str(e))

    # wrong pixel_values inputs
    bad = os.path.join(tmp, "bad_px.npy")
    np.save(bad, rng.standard_normal((16, 1175)).astype(np.float32))
    expect_error("bad-pixels/cols", good, grids, [bad], ["pixel-values", "1176"])
    np.save(bad, rng.standard_normal((15, 1176)).astype(np.float32))
    expect_error("bad-pixels/rows-vs-grid", good, grids, [bad], ["pixel-values", "1,4,4"])
    np.save(bad, rng.standard_normal((16, 1176)).astype(np.float64))
    expect_error("bad-pixels/float64", good, grids, [bad], ["pixel-values", "float32"])
    np.save(bad, rng.standard_normal((16 * 1176,)).astype(np.float32))
    expect_error("bad-pixels/1-d", good, grids, [bad], ["pixel-values"])
    np.save(bad, rng.standard_normal((4 * 3 * 1176,)).astype(np.float32).reshape(12, 1176))
    expect_error("bad-pixels/odd-grid", good, [(1, 4, 3)], [bad], ["grid"])
    with open(bad, "wb") as f:
        f.write(b"\x93NUMPY garbage")
    expect_error("bad-pixels/corrupt-npy", good, grids, [bad], [bad])
    # a text-only model has no vision tower
    try:
        txt = os.path.join(tmp, "text-only")
        import make_random_hcx
        make_random_hcx.main(["--preset", "tiny", "--out", txt, "--quiet"])
        expect_error("no-vision-tower", txt, grids, files, ["vision"])
    except Exception as e:  # noqa: BLE001
        report("no-vision-tower", False, str(e))


def main():
    if not os.path.exists(OMNIC):
        print("FAIL setup: %s not found" % OMNIC)
        return 1
    tmp = tempfile.mkdtemp(prefix="test_vit-")
    try:
        accuracy_cases(tmp)
        error_cases(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return harness.exit_code()


if __name__ == "__main__":
    sys.exit(main())
