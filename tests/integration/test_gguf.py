#!/usr/bin/python3
"""test_gguf.py - `omnic quantize` and GGUF loading, end to end.

For the golden models and models written by tools/make_random_hcx.py:
  * quantize to f32 / bf16 / q8_0 / q4_0 / q4_k GGUF;
  * check each file with this script's own GGUF parser and NumPy dequantizers
    (written from the format definition, independent of the C code): metadata keys
    and tensor names of NAVER's fork (hyperclovax) or llama.cpp (llama), q/k rows
    permuted per head, m_emb folded into token_embd, m_res into the post-norm
    gains (or residual_scale without post-norms), weights within the format's
    per-block rounding bound;
  * omnic's logits from the GGUF against its logits from the safetensors folder:
    f32 <= 1e-5 relative (max_abs / max|logit|); bf16 / q8_0 / q4_* within the
    bounds below; top-1 agreement over a 512-token greedy continuation (the F32
    GGUF's greedy run, teacher-forced through the quantized file);
  * malformed GGUF files: non-zero exit, an error naming the fault, no crash and
    no sanitizer report.
If a llama.cpp checkout is found ($LLAMA_CPP, default ../peer/llama.cpp beside the
repo: gguf-py and build/bin/libggml-base.so), also: its GGUFReader parses omnic's
files and its reference quantizers produce the very same Q8_0 / Q4_0 / Q4_K bytes
(lines "SKIP ..." otherwise).

Bounds (measured on these random-weight models, see the report in the README):
Q8_0 weights alone (the format, with ggml's exact quantizer) move the logits by
1.3-2.5 % of max|logit| (bf16 weights: 0.2-1 %), int8 activations add ~0.3 %;
measured 1.5-3.4 % (the golden tiny model is the most sensitive); bound 5e-2. 4-bit weights
move these chaotic random models' logits by 10-35 %: Q4_0 / Q4_K bound 0.4. Greedy
run: Q8_0 top-1 agreement >= 99 % on positions whose F32 top1-top2 margin exceeds
twice the file's max error (elsewhere a flip is within the format's rounding; at
least 40 such positions) and >= 85 % overall (measured ~88 %: random-weight logits
have top1-top2 margins mostly within a few % of max|logit|); Q4_*: >= 20 % overall (chance is 1 / 600) - a smoke test.
"""
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import make_random_hcx  # noqa: E402
import harness  # noqa: E402
from harness import report, sanitizer_issue  # noqa: E402

OMNIC = os.environ.get("OMNIC", os.path.join(ROOT, "build", "omnic"))
GOLDEN = os.environ.get("GOLDEN_DIR", os.path.normpath(os.path.join(ROOT, "..", "shared", "golden")))
LLAMA_CPP = os.environ.get("LLAMA_CPP", os.path.normpath(os.path.join(ROOT, "..", "peer", "llama.cpp")))
TIMEOUT = 120

BOUND = {"f32": 1e-5, "bf16": 2e-2, "q8_0": 5e-2, "q4_0": 0.4, "q4_k": 0.4}


class CaseFail(Exception):
    pass


def run(args, ok_codes=(0,), env=None):
    try:
        p = subprocess.run([OMNIC] + args, capture_output=True, text=True, timeout=TIMEOUT,
                           env=dict(os.environ, **env) if env else None)
    except subprocess.TimeoutExpired:
        raise CaseFail("timeout: omnic %s" % " ".join(args))
    s = sanitizer_issue(p.stderr)
    if s:
        raise CaseFail("sanitizer report (%s): %s" % (s, p.stderr[-1500:]))
    if ok_codes and p.returncode not in ok_codes:
        raise CaseFail("omnic %s -> exit %d: %s" % (" ".join(args[:3]), p.returncode, p.stderr.strip()[-600:]))
    return p


def logits(model, ids, tmp, env=None):
    out = os.path.join(tmp, "l.npy")
    if os.path.exists(out):
        os.remove(out)
    run(["logits", "-m", model, "--ids", ",".join(map(str, ids)), "--out", out], env=env)
    return np.load(out).astype(np.float64)


# ---- an independent GGUF reader -------------------------------------------------

VT = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
GGML = {0: ("F32", 1, 4), 1: ("F16", 1, 2), 2: ("Q4_0", 32, 18), 8: ("Q8_0", 32, 34), 12: ("Q4_K", 256, 144),
        30: ("BF16", 1, 2)}


def parse_gguf(path):
    b = open(path, "rb").read()
    pos = [0]

    def rd(fmt):
        v = struct.unpack_from(fmt, b, pos[0])
        pos[0] += struct.calcsize(fmt)
        return v[0]

    def rstr():
        n = rd("<Q")
        s = b[pos[0]:pos[0] + n].decode("utf-8")
        pos[0] += n
        return s

    def val(t):
        if t == 8:
            return rstr()
        if t == 9:
            at, n = rd("<I"), rd("<Q")
            return [val(at) for _ in range(n)]
        return rd(VT[t])

    assert b[:4] == b"GGUF", "magic"
    pos[0] = 4
    ver, nt, nkv = rd("<I"), rd("<Q"), rd("<Q")
    kv, kvt = {}, {}
    for _ in range(nkv):
        k = rstr()
        t = rd("<I")
        kvt[k] = t
        kv[k] = val(t)
    align = kv.get("general.alignment", 32)
    tens = {}
    for _ in range(nt):
        name = rstr()
        nd = rd("<I")
        ne = [rd("<Q") for _ in range(nd)]
        t, off = rd("<I"), rd("<Q")
        tens[name] = (t, ne, off)
    data = (pos[0] + align - 1) // align * align
    return dict(version=ver, kv=kv, kvt=kvt, tensors=tens, data=data, buf=b, align=align)


def f16(u):
    return np.frombuffer(np.ascontiguousarray(u, dtype="<u2").tobytes(), dtype="<f2").astype(np.float64)


def tensor(g, name):
    """Dequantized float64 array of shape ne[::-1] (rows, cols)."""
    t, ne, off = g["tensors"][name]
    tn, be, bb = GGML[t]
    n = int(np.prod(ne))
    raw = np.frombuffer(g["buf"], dtype=np.uint8, count=n // be * bb, offset=g["data"] + off)
    if tn == "F32":
        x = raw.view("<f4").astype(np.float64)
    elif tn == "F16":
        x = raw.view("<f2").astype(np.float64)
    elif tn == "BF16":
        x = (raw.view("<u2").astype(np.uint32) << 16).view(np.float32).astype(np.float64)
    elif tn == "Q8_0":
        blk = raw.reshape(-1, 34)
        d = f16(blk[:, :2].copy().view("<u2")[:, 0])
        x = (blk[:, 2:].view(np.int8).astype(np.float64) * d[:, None]).reshape(-1)
    elif tn == "Q4_0":
        blk = raw.reshape(-1, 18)
        d = f16(blk[:, :2].copy().view("<u2")[:, 0])
        q = blk[:, 2:]
        vals = np.concatenate([(q & 15), (q >> 4)], axis=1).astype(np.float64) - 8  # elements 0..15, 16..31
        x = (vals * d[:, None]).reshape(-1)
    elif tn == "Q4_K":
        blk = raw.reshape(-1, 144)
        d = f16(blk[:, 0:2].copy().view("<u2")[:, 0])
        dmin = f16(blk[:, 2:4].copy().view("<u2")[:, 0])
        s = blk[:, 4:16].astype(np.int64)
        sc = np.zeros((len(blk), 8))
        mn = np.zeros((len(blk), 8))
        for j in range(8):
            if j < 4:
                sc[:, j], mn[:, j] = s[:, j] & 63, s[:, j + 4] & 63
            else:
                sc[:, j] = (s[:, j + 4] & 15) | ((s[:, j - 4] >> 6) << 4)
                mn[:, j] = (s[:, j + 4] >> 4) | ((s[:, j] >> 6) << 4)
        q = blk[:, 16:].reshape(-1, 4, 32)
        vals = np.zeros((len(blk), 256))
        for c in range(4):
            vals[:, 64 * c:64 * c + 32] = q[:, c, :] & 15
            vals[:, 64 * c + 32:64 * c + 64] = q[:, c, :] >> 4
        j = np.arange(256) // 32
        x = (d[:, None] * sc[:, j] * vals - dmin[:, None] * mn[:, j]).reshape(-1)
    else:
        raise CaseFail("type %d" % t)
    return x.reshape(list(reversed(ne))), tn


# ---- HF side (float64 from safetensors) -------------------------------------------

def read_hf(d):
    cfg = json.load(open(os.path.join(d, "config.json")))
    path = os.path.join(d, "model.safetensors")
    b = open(path, "rb").read()
    n = struct.unpack_from("<Q", b, 0)[0]
    hdr = json.loads(b[8:8 + n])
    out = {}
    for k, v in hdr.items():
        if k == "__metadata__":
            continue
        s, e = v["data_offsets"]
        raw = b[8 + n + s:8 + n + e]
        if v["dtype"] == "F32":
            a = np.frombuffer(raw, "<f4")
        elif v["dtype"] == "F16":
            a = np.frombuffer(raw, "<f2")
        else:
            a = (np.frombuffer(raw, "<u2").astype(np.uint32) << 16).view(np.float32)
        out[k] = a.astype(np.float32).reshape(v["shape"])
    return cfg, out


def permute(w, heads):
    r = w.shape[0]
    return w.reshape(heads, 2, r // heads // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def block_bound(src, tn):
    """Per-element bound of |dequant - src| for a row-major 2-D src."""
    a = np.abs(src)
    if tn in ("F32",):
        return np.zeros_like(src) + 1e-30
    if tn in ("BF16", "F16"):
        return a * (2.0 ** -8 if tn == "BF16" else 2.0 ** -11) + (1e-30 if tn == "BF16" else 2.0 ** -25)
    be = 256 if tn == "Q4_K" else 32
    blocks = src.reshape(src.shape[0], -1, be)
    if tn == "Q8_0":
        amax = np.abs(blocks).max(axis=2, keepdims=True)
        bd = amax / 127 * 0.5 * 1.13 + 1e-30
    elif tn == "Q4_0":
        amax = np.abs(blocks).max(axis=2, keepdims=True)
        bd = amax / 8 * 1.01 + 1e-30
    else:
        sub = src.reshape(src.shape[0], -1, 8, 32)
        rng = sub.max(axis=3) - np.minimum(sub.min(axis=3), 0)
        bd = (rng / 15 + rng.max(axis=2, keepdims=True) / 63 * 2)[..., None] + 1e-30
        bd = np.broadcast_to(bd, sub.shape).reshape(src.shape[0], -1, be)
    return np.broadcast_to(bd, blocks.shape).reshape(src.shape)


def check_file(name, hf_dir, gpath, qtype):
    """The written GGUF against the HF tensors, by this script's own reader."""
    cfg, W = read_hf(hf_dir)
    tc = cfg.get("text_config", cfg)
    g = parse_gguf(gpath)
    kv = g["kv"]
    hcx = tc["model_type"] != "llama"
    arch = "hyperclovax" if hcx else "llama"
    if kv.get("general.architecture") != arch:
        raise CaseFail("general.architecture %r" % kv.get("general.architecture"))
    H, KV, D = tc["num_attention_heads"], tc.get("num_key_value_heads", tc["num_attention_heads"]), tc["hidden_size"]
    d = tc.get("head_dim", D // H)
    want = {"%s.embedding_length" % arch: D, "%s.block_count" % arch: tc["num_hidden_layers"],
            "%s.feed_forward_length" % arch: tc["intermediate_size"], "%s.attention.head_count" % arch: H,
            "%s.attention.head_count_kv" % arch: KV}
    for k, v in want.items():
        if kv.get(k) != v or g["kvt"][k] != 4:
            raise CaseFail("key %s = %r (type %s), expected u32 %r" % (k, kv.get(k), g["kvt"].get(k), v))
    eps_key = "%s.attention.%s" % (arch, "layer_norm_epsilon" if hcx else "layer_norm_rms_epsilon")
    if abs(kv.get(eps_key, -1) - tc.get("rms_norm_eps", 1e-6)) > 1e-9 * max(1, tc.get("rms_norm_eps", 1e-6)) + 1e-12:
        raise CaseFail("%s = %r" % (eps_key, kv.get(eps_key)))
    post = hcx and any(k.endswith("post_norm1.weight") for k in W)
    emb_m = tc.get("embedding_multiplier", 1.0) if hcx else 1.0
    res_m = tc.get("residual_multiplier", 1.0) if hcx else 1.0
    if hcx:
        if abs(kv["hyperclovax.attention.scale"] - tc["attention_multiplier"]) > 1e-6 * tc["attention_multiplier"]:
            raise CaseFail("attention.scale %r" % kv["hyperclovax.attention.scale"])
        if abs(kv["hyperclovax.logit_scale"] - tc["logits_scaling"]) > 1e-6 * tc["logits_scaling"]:
            raise CaseFail("logit_scale %r" % kv["hyperclovax.logit_scale"])
        if not post and res_m != 1.0 and abs(kv.get("hyperclovax.residual_scale", 0) - res_m) > 1e-6:
            raise CaseFail("no post-norms: residual_scale %r, expected %r" % (kv.get("hyperclovax.residual_scale"), res_m))
    if qtype != "f32" and kv.get("general.quantization_version", 2) != 2:
        raise CaseFail("quantization_version")
    pre = "model.language_model." if "model.language_model.model.embed_tokens.weight" in W else ""
    mp = pre + "model." if pre else "model."

    def hf(n):
        return W[mp + n].astype(np.float64)

    tied = tc.get("tie_word_embeddings", False) or ((pre or "") + "lm_head.weight") not in W
    pairs = [("token_embd.weight", hf("embed_tokens.weight") * np.float32(emb_m), 0)]
    if hcx or not tied:
        pairs.append(("output.weight", hf("embed_tokens.weight") if tied else W[pre + "lm_head.weight"].astype(np.float64), 0))
    elif "output.weight" in g["tensors"]:
        raise CaseFail("tied llama model has an output tensor")
    pairs.append(("output_norm.weight", hf("norm.weight"), 0))
    for i in range(tc["num_hidden_layers"]):
        p = "layers.%d." % i
        pairs += [("blk.%d.attn_norm.weight" % i, hf(p + "input_layernorm.weight"), 0),
                  ("blk.%d.ffn_norm.weight" % i, hf(p + "post_attention_layernorm.weight"), 0),
                  ("blk.%d.attn_q.weight" % i, permute(hf(p + "self_attn.q_proj.weight"), H), 0),
                  ("blk.%d.attn_k.weight" % i, permute(hf(p + "self_attn.k_proj.weight"), KV), 0),
                  ("blk.%d.attn_v.weight" % i, hf(p + "self_attn.v_proj.weight"), 0),
                  ("blk.%d.attn_output.weight" % i, hf(p + "self_attn.o_proj.weight"), 0),
                  ("blk.%d.ffn_gate.weight" % i, hf(p + "mlp.gate_proj.weight"), 0),
                  ("blk.%d.ffn_up.weight" % i, hf(p + "mlp.up_proj.weight"), 0),
                  ("blk.%d.ffn_down.weight" % i, hf(p + "mlp.down_proj.weight"), 0)]
        if mp + p + "self_attn.q_proj.bias" in W:
            pairs += [("blk.%d.attn_q.bias" % i, permute(hf(p + "self_attn.q_proj.bias"), H), 0),
                      ("blk.%d.attn_k.bias" % i, permute(hf(p + "self_attn.k_proj.bias"), KV), 0)]
        if post:
            pairs += [("blk.%d.post_attention_norm.weight" % i, hf(p + "post_norm1.weight") * np.float32(res_m), 0),
                      ("blk.%d.post_ffw_norm.weight" % i, hf(p + "post_norm2.weight") * np.float32(res_m), 0)]
    worst = 0.0
    for tname, ref, _ in pairs:
        if tname not in g["tensors"]:
            raise CaseFail("missing tensor %s" % tname)
        got, tn = tensor(g, tname)
        if ref.ndim == 1:
            if tn != "F32":
                raise CaseFail("%s: 1-D tensor stored as %s" % (tname, tn))
            ref = ref.astype(np.float32).astype(np.float64)
            tol = np.abs(ref) * 1e-6 + 1e-30
        else:
            ref = ref.astype(np.float32).astype(np.float64)  # the quantizer's input
            tol = block_bound(ref, tn) * 1.0001
        if got.shape != ref.shape:
            raise CaseFail("%s: shape %s, expected %s" % (tname, got.shape, ref.shape))
        err = np.abs(got - ref)
        if not np.all(err <= tol):
            k = int(np.argmax(err - tol))
            raise CaseFail("%s (%s): element %d off by %.3g (bound %.3g)" % (tname, tn, k, err.flat[k], tol.flat[k]))
        worst = max(worst, float((err / np.maximum(np.abs(ref).max(), 1e-30)).max()))
    extra = set(g["tensors"]) - {p[0] for p in pairs} - {n for n in g["tensors"] if n.endswith(".bias")}
    if extra:
        raise CaseFail("unexpected tensors %s" % sorted(extra)[:5])
    return g, worst


def oracle_checks(name, hf_dir, gpaths):
    """llama.cpp's own reader and reference quantizers, if a checkout is here."""
    gp = os.path.join(LLAMA_CPP, "gguf-py")
    lib = os.path.join(LLAMA_CPP, "build", "bin", "libggml-base.so")
    if not os.path.isdir(gp):
        print("SKIP oracle/%s: no llama.cpp gguf-py at %s" % (name, gp))
        return
    sys.path.insert(0, gp)
    try:
        import gguf  # noqa: F401
    except Exception as e:  # noqa: BLE001
        print("SKIP oracle/%s: gguf-py does not import: %s" % (name, e))
        return
    import ctypes
    cl = None
    if os.path.exists(lib):
        try:
            cl = ctypes.CDLL(lib)
        except OSError:
            cl = None
    _, W = read_hf(hf_dir)
    src = {k: v for k, v in W.items() if v.ndim == 2}
    for qt, path in gpaths.items():
        case = "oracle/%s/%s" % (name, qt)
        try:
            r = gguf.GGUFReader(path)
            names = {t.name for t in r.tensors}
            g = parse_gguf(path)
            if names != set(g["tensors"]):
                raise CaseFail("gguf-py sees tensors %s" % sorted(names ^ set(g["tensors"]))[:4])
            if qt not in ("q8_0", "q4_0", "q4_k"):
                report(case, True, "gguf-py GGUFReader parses it")
                continue
            fn = {"q8_0": "quantize_row_q8_0_ref", "q4_0": "quantize_row_q4_0_ref", "q4_k": "quantize_row_q4_K_ref"}[qt]
            if cl is None or not hasattr(cl, fn):
                report(case, True, "GGUFReader parses it; no libggml-base for the byte check")
                continue
            f = getattr(cl, fn)
            f.argtypes, f.restype = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64], None
            checked = 0
            for t in r.tensors:
                m = re.match(r"blk\.(\d+)\.(attn_v|ffn_up|ffn_gate)\.weight", t.name)
                if not m or t.tensor_type.name.lower() != qt:
                    continue
                hfn = {"attn_v": "self_attn.v_proj", "ffn_up": "mlp.up_proj", "ffn_gate": "mlp.gate_proj"}[m.group(2)]
                key = [k for k in src if k.endswith("layers.%s.%s.weight" % (m.group(1), hfn))][0]
                x = np.ascontiguousarray(src[key], dtype=np.float32)
                be, bb = {"q8_0": (32, 34), "q4_0": (32, 18), "q4_k": (256, 144)}[qt]
                out = np.zeros(x.size // be * bb, dtype=np.uint8)
                f(x.ctypes.data, out.ctypes.data, x.size)
                mine = np.array(t.data).view(np.uint8).reshape(-1)
                if not np.array_equal(out, mine):
                    raise CaseFail("%s: %d of %d bytes differ from ggml's %s" % (t.name, int((out != mine).sum()), out.size, fn))
                checked += 1
            report(case, checked > 0, "%d tensors byte-identical to ggml's %s; GGUFReader parses the file" % (checked, fn))
        except CaseFail as e:
            report(case, False, str(e))


def model_cases(name, hf_dir, ids, tmp, types=("f32", "bf16", "q8_0", "q4_0", "q4_k")):
    ref = logits(hf_dir, ids, tmp)
    paths = {}
    for qt in types:
        case = "%s/%s" % (name, qt)
        try:
            gp = os.path.join(tmp, "%s-%s.gguf" % (name.replace("/", "_"), qt))
            run(["quantize", "-m", hf_dir, "-o", gp, "--type", qt, "--quiet"])
            paths[qt] = gp
            _, werr = check_file(name, hf_dir, gp, qt)
            got = logits(gp, ids, tmp)
            if got.shape != ref.shape:
                raise CaseFail("shape %s vs %s" % (got.shape, ref.shape))
            rel = float(np.abs(got - ref).max() / np.abs(ref).max())
            top1 = float((got.argmax(1) == ref.argmax(1)).mean())
            report(case, rel <= BOUND[qt], "file layout ok; logits rel err %.2e (bound %.0e), top-1 %.3f, max weight err %.2e"
                   % (rel, BOUND[qt], top1, werr))
        except CaseFail as e:
            report(case, False, str(e))
    return paths


def greedy_case(tmp):
    """512 greedy tokens from the F32 GGUF, teacher-forced through Q8_0/Q4_*."""
    d = os.path.join(tmp, "g512")
    make_random_hcx.main(["--out", d, "--vocab", "600", "--hidden", "256", "--layers", "2", "--heads", "4",
                          "--kv-heads", "2", "--ffn", "512", "--max-pos", "1024", "--seed", "7", "--quiet"])
    prompt = [5, 17, 99, 3, 250, 42, 7, 311]
    try:
        paths = {}
        for qt in ("f32", "q8_0", "q4_0", "q4_k"):
            paths[qt] = os.path.join(tmp, "g512-%s.gguf" % qt)
            run(["quantize", "-m", d, "-o", paths[qt], "--type", qt, "--quiet"])
        out = run(["run", "-m", paths["f32"], "--ids", ",".join(map(str, prompt)), "-n", "512", "--temp", "0",
                   "--print-ids", "--ignore-eos"]).stdout.strip()
        toks = [int(t) for t in out.split(",")]
        if len(toks) != 512:
            raise CaseFail("greedy run gave %d tokens" % len(toks))
        seq = prompt + toks[:-1]
        ref = logits(paths["f32"], seq, tmp)
        st = logits(d, seq, tmp)
        fr = float(np.abs(ref - st).max() / np.abs(st).max())
        chosen = ref[len(prompt) - 1:].argmax(1)
        if fr > 1e-5 or not np.array_equal(chosen, np.array(toks)):
            raise CaseFail("f32 GGUF vs safetensors rel %.2e, greedy ids consistent: %s" % (fr, np.array_equal(chosen, toks)))
        srt = np.sort(ref, axis=1)
        margin = srt[:, -1] - srt[:, -2]
        for qt in ("q8_0", "q4_0", "q4_k"):
            got = logits(paths[qt], seq, tmp)
            err = np.abs(got - ref)
            rel = float(err.max() / np.abs(ref).max())
            agree = got.argmax(1) == ref.argmax(1)
            firm = margin > 2 * err.max()
            if qt == "q8_0":
                ok = rel <= BOUND[qt] and firm.sum() >= 40 and agree[firm].mean() >= 0.99 and agree.mean() >= 0.85
            else:
                ok = rel <= BOUND[qt] and agree.mean() >= 0.2
            report("greedy512/%s" % qt, ok, "rel err %.2e, top-1 agreement %.3f overall, %.3f on the %d of %d positions "
                   "with margin > 2 x max err" % (rel, agree.mean(), agree[firm].mean() if firm.any() else 0, firm.sum(),
                                                   len(seq)))
    except CaseFail as e:
        report("greedy512", False, str(e))
        return
    chunk_case(paths, prompt, seq, tmp)


X16_BOUND = {"q8_0": 1e-2, "q4_0": 1e-2, "q4_k": 2e-2}


def chunk_case(paths, prompt, seq, tmp):
    """Q8_0/Q4_0 held in memory are rearranged at load into chunked rows or rows
    interleaved by 16, Q4_K into interleaved rows (src/kernels/quant.h; Q4_K's
    "chunked" run keeps GGUF's layout): logits and a greedy decode must match
    GGUF's layout (an mmap'ed file, or OMNIC_QCHUNK=0). The scalar level reads
    every layout with the same arithmetic (bit-identical); at the AVX-512 level
    the chunked rows share the GGUF kernels' arithmetic (identical), while the
    interleaved rows have their own kernel (k_x16: another summation order, and
    int8 activation rounding amplifies such differences through a random model),
    so those logits are held to the scalar reference within X16_BOUND, about
    the distance the GGUF-layout AVX-512 kernels themselves show here (Q8_0 /
    Q4_0 0.5-1 %: 1e-2; Q4_K 1.1 %: 2e-2). Prompt
    attention takes the per-query loop (OMNIC_ATTN=rows), whose order matches the
    scalar level's, so only the matrix layouts differ between the runs (the lane
    kernel's own fp32 rounding, checked in test_attn.c, moves this random model's
    logits by ~1e-2 through the int8 activation rounding)."""
    layouts = {"chunked": {"OMNIC_MMAP": "0", "OMNIC_QX16": "0"}, "x16": {"OMNIC_MMAP": "0", "OMNIC_QX16": "1"},
               "gguf-copy": {"OMNIC_MMAP": "0", "OMNIC_QCHUNK": "0"}, "gguf-mmap": {"OMNIC_MMAP": "1", "OMNIC_QCHUNK": "0"}}
    for qt in ("q8_0", "q4_0", "q4_k"):
        ref = None
        for simd in ("scalar", "avx512"):
            case = "chunked/%s/%s" % (qt, simd)
            try:
                lg, ids = {}, {}
                for name, env in layouts.items():
                    env = dict(env, OMNIC_SIMD=simd, OMNIC_ATTN="rows")
                    lg[name] = logits(paths[qt], seq[:96], tmp, env)
                    out = run(["run", "-m", paths[qt], "--ids", ",".join(map(str, prompt)), "-n", "48", "--temp", "0",
                               "--print-ids", "--ignore-eos"], env=env).stdout.strip()
                    ids[name] = out
                scale = np.abs(lg["gguf-mmap"]).max()
                if simd == "scalar":
                    ref = lg["gguf-mmap"]
                own = [n for n in lg if simd == "scalar" or n != "x16"]
                rel = max(float(np.abs(lg[n] - lg["gguf-mmap"]).max() / scale) for n in own)
                same = len(set(ids[n] for n in own)) == 1
                msg = "logits vs GGUF layout rel %.2e (bound 1e-05); 48 greedy ids identical across layouts %s: %s" % (
                    rel, "/".join(own), same)
                ok = rel <= 1e-5 and same and all(len(ids[n].split(",")) == 48 for n in ids)
                if simd != "scalar":
                    rx = float(np.abs(lg["x16"] - ref).max() / scale) if ref is not None else float("inf")
                    rg = float(np.abs(lg["gguf-mmap"] - ref).max() / scale) if ref is not None else float("inf")
                    ok = ok and rx <= X16_BOUND[qt]
                    msg += "; x16 vs scalar rel %.2e (bound %.0e; GGUF layout vs scalar %.2e)" % (rx, X16_BOUND[qt], rg)
                report(case, ok, msg)
            except CaseFail as e:
                report(case, False, str(e))


def patch(src, dst, edits):
    b = bytearray(open(src, "rb").read())
    for off, data in edits:
        b[off:off + len(data)] = data
    open(dst, "wb").write(bytes(b))


def malformed_cases(f32_path, q4k_path, tmp):
    g = parse_gguf(f32_path)
    b = g["buf"]

    def info_off(path_buf, tname):
        key = struct.pack("<Q", len(tname)) + tname.encode()
        i = path_buf.find(key)
        return i + len(key)

    def key_off(kname):
        key = struct.pack("<Q", len(kname)) + kname.encode()
        return b.find(key) + 8

    cases = []
    bad = os.path.join(tmp, "bad.gguf")
    cases.append(("bad-magic", [(0, b"GGML")], "bad magic"))
    cases.append(("version", [(4, struct.pack("<I", 7))], "version 7"))
    cases.append(("huge-kv-count", [(16, struct.pack("<Q", 1 << 61))], "metadata keys"))
    cases.append(("huge-tensor-count", [(8, struct.pack("<Q", 1 << 61))], "tensors"))
    k0 = 24
    cases.append(("huge-key-length", [(k0, struct.pack("<Q", 1 << 62))], "key #0"))
    qo = info_off(b, "blk.0.attn_q.weight")
    cases.append(("shape", [(qo + 4, struct.pack("<Q", g["tensors"]["blk.0.attn_q.weight"][1][0] // 2))],
                  "blk.0.attn_q.weight"))
    eo = info_off(b, "token_embd.weight")
    cases.append(("type", [(eo + 4 + 16, struct.pack("<I", 26))], "token_embd.weight' has type I32"))
    cases.append(("offset", [(eo + 4 + 16 + 4, struct.pack("<Q", 1 << 40))], "token_embd.weight"))
    ko = key_off("hyperclovax.embedding_length")
    cases.append(("missing-key", [(ko + len("hyperclovax.embedding_lengt"), b"X")], "hyperclovax.embedding_length"))
    ao = key_off("general.architecture")
    cases.append(("architecture", [(ao + len("general.architecture") + 4 + 8, b"X")], "not supported"))
    for cname, edits, want in cases:
        try:
            patch(f32_path, bad, edits)
            p = run(["logits", "-m", bad, "--ids", "1,2", "--out", os.path.join(tmp, "x.npy")], ok_codes=())
            ok = p.returncode != 0 and want in p.stderr
            report("malformed/" + cname, ok, "exit %d: %s" % (p.returncode, p.stderr.strip().splitlines()[-1][:200]
                                                              if p.stderr.strip() else ""))
        except CaseFail as e:
            report("malformed/" + cname, False, str(e))
    # truncations
    for frac in (0.01, 0.3, 0.9999):
        cname = "malformed/truncated-%g" % frac
        try:
            open(bad, "wb").write(b[:max(8, int(len(b) * frac))])
            p = run(["logits", "-m", bad, "--ids", "1", "--out", os.path.join(tmp, "x.npy")], ok_codes=())
            report(cname, p.returncode != 0 and ("truncated" in p.stderr or "past the end" in p.stderr or
                                                 "cannot fit" in p.stderr or "more than the file" in p.stderr),
                   p.stderr.strip()[-200:])
        except CaseFail as e:
            report(cname, False, str(e))
    # Q4_K tensor whose columns are a multiple of 32 but not of 256
    try:
        gq = parse_gguf(q4k_path)
        name = [n for n, (t, ne, _) in gq["tensors"].items() if t == 12][0]
        patch(q4k_path, bad, [(info_off(gq["buf"], name) + 4, struct.pack("<Q", 96))])
        p = run(["logits", "-m", bad, "--ids", "1", "--out", os.path.join(tmp, "x.npy")], ok_codes=())
        report("malformed/q4_k-cols", p.returncode != 0 and "not a multiple of the Q4_K block size 256" in p.stderr
               and name in p.stderr, p.stderr.strip()[-200:])
    except (CaseFail, IndexError) as e:
        report("malformed/q4_k-cols", False, str(e))


def main():
    if not os.access(OMNIC, os.X_OK):
        report("setup", False, "no omnic binary at %s" % OMNIC)
        return 1
    tmp = tempfile.mkdtemp(prefix="omnic-gguf-")
    try:
        gold = {}
        for gname in ("hcx-tiny", "hcx-small"):
            mf = os.path.join(GOLDEN, gname, "manifest.json")
            if not os.path.exists(mf):
                report("golden/" + gname, False, "missing %s" % mf)
                continue
            man = json.load(open(mf))
            ids = man["sequences"][-1]["tokens"]
            gold[gname] = model_cases("golden/" + gname, os.path.join(GOLDEN, gname, man.get("model_dir", "model")), ids, tmp)
        # generated: plain llama (tied, omitted output), HCX without post-norms (residual_scale), biases + odd head_dim
        gens = [("llama-tied", ["--arch", "llama", "--vocab", "520", "--hidden", "256", "--layers", "2", "--heads", "4",
                                "--kv-heads", "2", "--ffn", "512", "--tied"]),
                ("hcx-nopost", ["--vocab", "512", "--hidden", "256", "--layers", "2", "--heads", "4", "--kv-heads", "1",
                                "--ffn", "256", "--post-norm", "off", "--untied", "--res-mult", "0.6"]),
                ("hcx-bias-d40", ["--vocab", "512", "--hidden", "96", "--layers", "2", "--heads", "3", "--kv-heads", "3",
                                  "--head-dim", "40", "--ffn", "160", "--attention-bias", "--mlp-bias", "--untied"])]
        for gname, args in gens:
            d = os.path.join(tmp, gname)
            make_random_hcx.main(["--out", d, "--seed", "11", "--quiet"] + args)
            paths = model_cases("gen/" + gname, d, [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7], tmp)
            if gname == "llama-tied":
                oracle_checks(gname, d, paths)
        if "hcx-small" in gold:
            oracle_checks("hcx-small", os.path.join(GOLDEN, "hcx-small", "model"), gold["hcx-small"])
        greedy_case(tmp)
        if "hcx-small" in gold and "f32" in gold["hcx-small"]:
            malformed_cases(gold["hcx-small"]["f32"], gold["hcx-small"]["q4_k"], tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return harness.exit_code()


if __name__ == "__main__":
    sys.exit(main())
