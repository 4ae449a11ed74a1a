#!/usr/bin/python3
"""test_load_errors.py - damaged model folders and bad arguments must make `omnic` exit
non-zero with a message naming the fault, and never crash (no signal, no sanitizer report).
Ends with a deterministic fuzz loop over safetensors headers and config.json.

Each case copies a small generated model (tools/make_random_hcx.py), damages the copy, and
runs `$OMNIC info -m DIR` and `$OMNIC logits -m DIR --ids ... --out F` (and `run` where the
case is about generation). Prints "PASS <case>" / "FAIL <case>: <why>".
"""
import json
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import make_random_hcx  # noqa: E402

OMNIC = os.environ.get("OMNIC", os.path.join(ROOT, "build", "omnic"))
TIMEOUT = 120
FUZZ_ITERS = int(os.environ.get("FUZZ_ITERS", "200"))
VERBOSE = os.environ.get("VERBOSE") == "1"
failures = 0

# Small model: V=96, D=32, L=2, H=4, Hkv=2, d=8, F=48, untied, post-norms on, f32.
GEN = ["--vocab", "96", "--hidden", "32", "--layers", "2", "--heads", "4", "--kv-heads", "2",
       "--head-dim", "8", "--ffn", "48", "--untied", "--post-norm", "on", "--std", "0.2",
       "--seed", "7", "--quiet"]
VOCAB = 96


def report(name, ok, why=""):
    global failures
    if not ok:
        failures += 1
    print(("PASS %s" % name) if ok else ("FAIL %s: %s" % (name, why)), flush=True)


def sanitizer_issue(err):
    for pat in ("AddressSanitizer", "LeakSanitizer", "UndefinedBehaviorSanitizer",
                "runtime error:", "Segmentation fault", "core dumped"):
        if pat in err:
            return pat
    return None


def omnic(args):
    """(rc, stdout, stderr); rc None on timeout."""
    try:
        p = subprocess.run([OMNIC] + args, capture_output=True, text=True, errors="replace",
                           timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        return None, "", "timeout"
    return p.returncode, p.stdout, p.stderr


# ---- safetensors surgery ---------------------------------------------------------------

def st_read(path):
    with open(path, "rb") as f:
        buf = f.read()
    n = struct.unpack("<Q", buf[:8])[0]
    return json.loads(buf[8:8 + n]), buf[8 + n:]


def st_write(path, hdr, data, raw_header=None):
    js = raw_header if raw_header is not None else json.dumps(hdr).encode()
    js += b" " * ((8 - len(js) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(js)) + js + data)


def st_tensors(path):
    """{name: [dtype, shape, bytes]} in data order."""
    hdr, data = st_read(path)
    items = sorted((v["data_offsets"][0], k) for k, v in hdr.items() if k != "__metadata__")
    out = {}
    for _, k in items:
        v = hdr[k]
        b, e = v["data_offsets"]
        out[k] = [v["dtype"], list(v["shape"]), data[b:e]]
    return out


def st_repack(path, tensors):
    hdr, chunks, off = {"__metadata__": {"format": "pt"}}, [], 0
    for k, (dt, shape, raw) in tensors.items():
        hdr[k] = {"dtype": dt, "shape": shape, "data_offsets": [off, off + len(raw)]}
        chunks.append(raw)
        off += len(raw)
    st_write(path, hdr, b"".join(chunks))


def edit_header(path, fn):
    hdr, data = st_read(path)
    fn(hdr)
    st_write(path, hdr, data)


def edit_config(d, fn):
    p = os.path.join(d, "config.json")
    with open(p) as f:
        c = json.load(f)
    fn(c)
    with open(p, "w") as f:
        json.dump(c, f, indent=1)


# ---- the cases ---------------------------------------------------------------------

def check_fail(name, d, needles, cmds=("info", "logits"), extra=None):
    """Every command must exit 1-ish (non-zero, no signal), print no sanitizer report,
    and mention each needle group (a str, or a tuple of alternatives) on stderr."""
    why = []
    for cmd in cmds:
        if cmd == "info":
            args = ["info", "-m", d]
        elif cmd == "logits":
            args = ["logits", "-m", d, "--ids", "1,2,3", "--out", os.path.join(os.path.dirname(d), "o.npy")]
        else:
            args = ["run", "-m", d, "--ids", "1,2", "-n", "2", "--temp", "0", "--print-ids"]
        if extra and cmd in extra:
            args = extra[cmd]
        rc, _, err = omnic(args)
        if VERBOSE:
            print("  [%s] %s -> %s: %s" % (name, cmd, rc, err.strip()[-300:]))
        s = sanitizer_issue(err)
        if rc is None:
            why.append("%s: timeout" % cmd)
        elif s:
            why.append("%s: sanitizer/crash report (%s): %s" % (cmd, s, err.strip()[-800:]))
        elif rc < 0:
            why.append("%s: killed by signal %d" % (cmd, -rc))
        elif rc == 0:
            why.append("%s: exit 0 (expected failure)" % cmd)
        else:
            low = err.lower()
            for g in needles:
                alts = (g,) if isinstance(g, str) else g
                if not any(a.lower() in low for a in alts):
                    why.append("%s: stderr lacks %s: %r" % (cmd, " or ".join(repr(a) for a in alts),
                                                             err.strip()[-400:]))
    report(name, not why, "; ".join(why))


def run_cases(tmp, base, sharded):
    st_name = "model.safetensors"
    cases = []

    def case(name):
        def deco(fn):
            cases.append((name, fn))
            return fn
        return deco

    @case("missing_folder")
    def _(d):
        shutil.rmtree(d)
        return [os.path.basename(d)], None

    @case("missing_config_json")
    def _(d):
        os.remove(os.path.join(d, "config.json"))
        return ["config.json"], None

    @case("config_json_not_json")
    def _(d):
        with open(os.path.join(d, "config.json"), "w") as f:
            f.write('{"hidden_size": 32, "vocab_size": ')
        return ["config.json"], None

    @case("missing_model_safetensors")
    def _(d):
        os.remove(os.path.join(d, st_name))
        return [st_name], None

    @case("index_names_missing_shard")
    def _(d):
        shutil.rmtree(d)
        shutil.copytree(sharded, d)
        os.remove(os.path.join(d, "model-00002-of-00003.safetensors"))
        return ["model-00002-of-00003.safetensors"], None

    @case("empty_safetensors")
    def _(d):
        open(os.path.join(d, st_name), "wb").close()
        return [st_name], None

    @case("header_length_beyond_file")
    def _(d):
        p = os.path.join(d, st_name)
        size = os.path.getsize(p)
        with open(p, "r+b") as f:
            f.write(struct.pack("<Q", size + 100))
        return [st_name, ("header", "length", "truncat", "size", "short", "exceed", "beyond")], None

    @case("header_length_huge")
    def _(d):
        with open(os.path.join(d, st_name), "r+b") as f:
            f.write(struct.pack("<Q", 0xFFFFFFFFFFFFFFF0))
        return [st_name], None

    @case("data_truncated")
    def _(d):
        p = os.path.join(d, st_name)
        size = os.path.getsize(p)
        with open(p, "r+b") as f:
            f.truncate(int(size * 0.7))
        return [st_name], None

    @case("header_json_invalid")
    def _(d):
        p = os.path.join(d, st_name)
        _, data = st_read(p)
        st_write(p, None, data, raw_header=b'{"model.embed_tokens.weight": {"dtype": "F32", "shape": [96, 3')
        return [st_name, ("json", "header", "parse", "syntax")], None

    @case("data_offsets_out_of_range")
    def _(d):
        t = "model.layers.1.mlp.down_proj.weight"

        def f(h):
            b, e = h[t]["data_offsets"]
            h[t]["data_offsets"] = [b + 10 ** 7, e + 10 ** 7]
        edit_header(os.path.join(d, st_name), f)
        return [t], None

    @case("overlapping_tensors")
    def _(d):
        p = os.path.join(d, st_name)

        def f(h):
            items = sorted((v["data_offsets"][0], k) for k, v in h.items() if k != "__metadata__")
            k = items[5][1]
            b, e = h[k]["data_offsets"]
            h[k]["data_offsets"] = [b - 8, e - 8]
        edit_header(p, f)
        return ["overlap"], None

    @case("size_not_shape_times_dtype")
    def _(d):
        t = "model.layers.0.self_attn.q_proj.weight"

        def f(h):
            b, e = h[t]["data_offsets"]
            h[t]["data_offsets"] = [b, e - 4]
        edit_header(os.path.join(d, st_name), f)
        return [t], None

    @case("unknown_dtype_Q7")
    def _(d):
        def f(h):
            h["model.layers.0.mlp.gate_proj.weight"]["dtype"] = "Q7"
        edit_header(os.path.join(d, st_name), f)
        return ["Q7"], None

    @case("missing_tensor")
    def _(d):
        p = os.path.join(d, st_name)
        t = st_tensors(p)
        del t["model.layers.1.mlp.up_proj.weight"]
        st_repack(p, t)
        return ["model.layers.1.mlp.up_proj.weight"], None

    @case("missing_lm_head_untied")
    def _(d):
        p = os.path.join(d, st_name)
        t = st_tensors(p)
        del t["lm_head.weight"]
        st_repack(p, t)
        return ["lm_head"], None

    @case("tensor_wrong_shape")
    def _(d):
        p = os.path.join(d, st_name)
        t = st_tensors(p)
        k = "model.layers.1.self_attn.k_proj.weight"
        dt, shape, raw = t[k]
        t[k] = [dt, [shape[0] + 8, shape[1]], raw + b"\0" * (8 * shape[1] * 4)]
        st_repack(p, t)
        return [k], None

    @case("config_missing_hidden_size")
    def _(d):
        edit_config(d, lambda c: c.pop("hidden_size"))
        return ["hidden_size"], None

    @case("config_hidden_size_wrong_type")
    def _(d):
        edit_config(d, lambda c: c.update(hidden_size="big"))
        return ["hidden_size"], None

    @case("config_negative_layers")
    def _(d):
        edit_config(d, lambda c: c.update(num_hidden_layers=-2))
        return ["num_hidden_layers"], None

    @case("config_hidden_act_gelu")
    def _(d):
        edit_config(d, lambda c: c.update(hidden_act="gelu"))
        return ["hidden_act"], None

    @case("unsupported_architecture")
    def _(d):
        edit_config(d, lambda c: c.update(architectures=["MistralForCausalLM"], model_type="mistral"))
        return ["mistral"], None

    @case("rope_scaling_yarn")
    def _(d):
        edit_config(d, lambda c: c.update(rope_scaling={"type": "yarn", "rope_type": "yarn",
                                                        "factor": 4.0,
                                                        "original_max_position_embeddings": 1024}))
        return ["rope_scaling"], None

    @case("rope_parameters_yarn")
    def _(d):
        def f(c):
            c.pop("rope_theta", None)
            c.pop("rope_scaling", None)
            c["rope_parameters"] = {"rope_theta": 10000.0, "rope_type": "yarn", "factor": 2.0}
        edit_config(d, f)
        return [("rope_parameters", "rope_type", "rope_scaling")], None

    @case("post_norm_tensors_with_use_post_norm_false")
    def _(d):
        edit_config(d, lambda c: c.update(use_post_norm=False))
        return ["post_norm"], None

    @case("use_post_norm_true_tensors_missing")
    def _(d):
        p = os.path.join(d, st_name)
        t = st_tensors(p)
        del t["model.layers.1.post_norm2.weight"]
        st_repack(p, t)
        return ["post_norm2"], None

    @case("not_enough_memory_ctx")
    def _(d):
        return ["memory"], {"run": ["run", "-m", d, "--ids", "1", "-n", "1", "--ctx", "2000000000"]}

    @case("ids_out_of_vocab")
    def _(d):
        o = os.path.join(os.path.dirname(d), "o.npy")
        return ["--ids"], {"logits": ["logits", "-m", d, "--ids", "1,%d,2" % VOCAB, "--out", o],
                           "run": ["run", "-m", d, "--ids", "%d" % (VOCAB + 5), "-n", "1"]}

    for ci, (name, fn) in enumerate(cases):
        cdir = os.path.join(tmp, "case")
        shutil.rmtree(cdir, ignore_errors=True)
        os.makedirs(cdir)
        # neutral folder name: the message must not match a needle through the path
        d = os.path.join(cdir, "m%02d" % ci)
        shutil.copytree(base, d)
        needles, extra = fn(d)
        cmds = tuple(extra) if extra else ("info", "logits")
        check_fail("load_error/" + name, d, needles, cmds, extra)

    # The undamaged base must load (otherwise every case above passes vacuously).
    rc, _, err = omnic(["logits", "-m", base, "--ids", "1,2,3", "--out", os.path.join(tmp, "ok.npy")])
    report("load_error/undamaged_base_loads", rc == 0 and not sanitizer_issue(err),
           "exit %s: %s" % (rc, err.strip()[-400:]))

    # An unexpected tensor must be reported by name (error, or a warning).
    d = os.path.join(tmp, "case", "m99")
    shutil.rmtree(os.path.dirname(d), ignore_errors=True)
    shutil.copytree(base, d)
    p = os.path.join(d, st_name)
    t = st_tensors(p)
    t["model.layers.0.self_attn.q_norm.weight"] = ["F32", [8], b"\0" * 32]
    st_repack(p, t)
    rc, _, err = omnic(["info", "-m", d])
    ok = rc is not None and rc >= 0 and not sanitizer_issue(err) and "q_norm" in err
    report("load_error/unexpected_tensor_named", ok, "exit %s, stderr %r" % (rc, err.strip()[-300:]))


# ---- fuzz ------------------------------------------------------------------------------

FUZZ_VALUES = [0, -1, 1, 7, 2 ** 31, 2 ** 32 + 1, 2 ** 63, -(2 ** 63), 1e300, 3.5, "x", None,
               [], {}, True, [1, 2], ""]


def mutate_bytes(rng, b, lo, hi):
    b = bytearray(b)
    kind = rng.randrange(4)
    hi = min(hi, len(b))
    if hi <= lo:
        return bytes(b), "noop"
    if kind == 0:
        for _ in range(rng.randint(1, 6)):
            i = rng.randrange(lo, hi)
            b[i] ^= 1 << rng.randrange(8)
        return bytes(b), "bitflip"
    if kind == 1:  # change a digit -> shapes / offsets inconsistent but valid JSON
        digits = [i for i in range(lo, hi) if 48 <= b[i] <= 57]
        for _ in range(rng.randint(1, 3)):
            if digits:
                b[rng.choice(digits)] = rng.choice(b"0123456789")
        return bytes(b), "digit"
    if kind == 2:
        i = rng.randrange(lo, hi)
        b[i] = rng.choice(b'{}[]",:\\0-e9 \x00\xff')
        return bytes(b), "punct"
    return bytes(b[:rng.randrange(0, len(b))]), "truncate"


def fuzz(tmp, base):
    rng = random.Random(20240607)
    p0 = os.path.join(base, "model.safetensors")
    st_bytes = open(p0, "rb").read()
    hlen = 8 + struct.unpack("<Q", st_bytes[:8])[0]
    cfg_bytes = open(os.path.join(base, "config.json"), "rb").read()
    bad, codes = [], {}
    d = os.path.join(tmp, "fuzz", "model")
    for it in range(FUZZ_ITERS):
        shutil.rmtree(os.path.dirname(d), ignore_errors=True)
        shutil.copytree(base, d)
        target = rng.choice(["header", "header", "config", "config_value"])
        if target == "header":
            out, kind = mutate_bytes(rng, st_bytes, 0, hlen)
            if kind == "truncate":
                out = st_bytes[:rng.randrange(0, len(st_bytes))]
            open(os.path.join(d, "model.safetensors"), "wb").write(out)
        elif target == "config":
            out, kind = mutate_bytes(rng, cfg_bytes, 0, len(cfg_bytes))
            open(os.path.join(d, "config.json"), "wb").write(out)
        else:
            c = json.loads(cfg_bytes)
            k = rng.choice(sorted(c))
            c[k] = rng.choice(FUZZ_VALUES)
            kind = "%s=%r" % (k, c[k])
            open(os.path.join(d, "config.json"), "w").write(json.dumps(c))
        if it % 3 == 2:
            args = ["logits", "-m", d, "--ids", "0,1,5", "--out", os.path.join(tmp, "fuzz", "o.npy")]
        else:
            args = ["info", "-m", d]
        rc, _, err = omnic(args)
        s = sanitizer_issue(err)
        codes[rc] = codes.get(rc, 0) + 1
        if rc is None or s or rc not in (0, 1):
            bad.append("iter %d (%s %s, %s): exit %s %s" % (it, target, kind, args[0], rc,
                                                            (s or "") + " " + err.strip()[-300:]))
            if len(bad) >= 5:
                break
    name = "fuzz/header_and_config_%d_iters" % FUZZ_ITERS
    if bad:
        report(name, False, " | ".join(bad))
    else:
        report(name + " (exit 0: %d, exit 1: %d)" % (codes.get(0, 0), codes.get(1, 0)), True)


def main():
    if not os.access(OMNIC, os.X_OK):
        report("omnic-binary", False, "%s not found or not executable" % OMNIC)
        return 1
    tmp = tempfile.mkdtemp(prefix="omnic_loaderr_")
    try:
        base = os.path.join(tmp, "base")
        make_random_hcx.main(GEN + ["--out", base])
        sharded = os.path.join(tmp, "sharded")
        make_random_hcx.main(GEN + ["--shards", "3", "--out", sharded])
        run_cases(tmp, base, sharded)
        fbase = os.path.join(tmp, "fuzzbase")
        make_random_hcx.main(["--vocab", "40", "--hidden", "16", "--layers", "1", "--heads", "2",
                              "--ffn", "24", "--seed", "3", "--quiet", "--out", fbase])
        fuzz(tmp, fbase)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
