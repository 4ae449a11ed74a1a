#!/usr/bin/python3
"""test_logits.py - the engine's text decoder against (a) the shared golden vectors and
(b) random checkpoints of many shapes/layouts written by tools/make_random_hcx.py,
compared with the independent float64 reference tests/ref/hcx_ref.py.

Uses the conformance interface of the CLI:
  $OMNIC logits -m DIR --ids 1,2,3 --out FILE.npy     float32 [T, vocab]
  $OMNIC run -m DIR --ids 1,2,3 -n 16 --temp 0 --print-ids   greedy ids on stdout
Prints "PASS <case>" / "FAIL <case>: <why>" per case; exit status 1 on any failure.
Env: OMNIC (binary, default build/omnic), GOLDEN_DIR (default ../shared/golden beside the repo).
The golden cases run twice: with the default kernels and with OMNIC_SIMD=scalar.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools"))
sys.path.insert(0, os.path.join(ROOT, "tests", "ref"))
import hcx_ref  # noqa: E402
import make_random_hcx  # noqa: E402
import harness  # noqa: E402
from harness import report  # noqa: E402

OMNIC = os.environ.get("OMNIC", os.path.join(ROOT, "build", "omnic"))
GOLDEN = os.environ.get("GOLDEN_DIR", os.path.normpath(os.path.join(ROOT, "..", "shared", "golden")))
TIMEOUT = 120
N_GEN = 16


class CaseFail(Exception):
    pass


def sanitizer_issue(err):
    for pat in ("AddressSanitizer", "LeakSanitizer", "UndefinedBehaviorSanitizer",
                "runtime error:"):
        if pat in err:
            return pat
    return None


def omnic(args):
    try:
        p = subprocess.run([OMNIC] + args, capture_output=True, text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        raise CaseFail("timeout after %ds: omnic %s" % (TIMEOUT, " ".join(args)))
    s = sanitizer_issue(p.stderr)
    if s:
        raise CaseFail("sanitizer report (%s): %s" % (s, p.stderr[-1500:]))
    if p.returncode != 0:
        raise CaseFail("omnic %s -> exit %d: %s" % (args[0], p.returncode, p.stderr.strip()[-600:]))
    return p.stdout, p.stderr


def engine_logits(d, ids, tmp):
    out = os.path.join(tmp, "logits.npy")
    if os.path.exists(out):
        os.remove(out)
    omnic(["logits", "-m", d, "--ids", ",".join(map(str, ids)), "--out", out])
    try:
        a = np.load(out)
    except Exception as e:  # noqa: BLE001
        raise CaseFail("cannot read %s: %s" % (out, e))
    if a.dtype != np.float32:
        raise CaseFail("logits dtype %s, expected float32" % a.dtype)
    return a


def engine_greedy(d, ids, n):
    out, _ = omnic(["run", "-m", d, "--ids", ",".join(map(str, ids)), "-n", str(n),
                    "--temp", "0", "--print-ids"])
    txt = out.strip()
    if not re.fullmatch(r"\d+(\s*,\s*\d+)*", txt):
        raise CaseFail("cannot parse --print-ids output %r" % txt[:200])
    return [int(t) for t in txt.split(",")]


def cmp_logits(got, ref, rel_tol, abs_tol=None):
    """Returns (ok, summary). rel: max_abs / max|ref|."""
    if got.shape != ref.shape:
        return False, "shape %s, expected %s" % (got.shape, ref.shape)
    if not np.all(np.isfinite(got)):
        return False, "non-finite logits"
    err = np.abs(got.astype(np.float64) - ref)
    mx = float(err.max())
    scale = float(np.abs(ref).max())
    rel = mx / max(scale, 1e-30)
    t, v = np.unravel_index(int(err.argmax()), err.shape)
    msg = "max_abs %.3g at [%d,%d], max|logit| %.3g, rel %.3g" % (mx, t, v, scale, rel)
    ok = rel <= rel_tol and (abs_tol is None or mx <= abs_tol)
    return ok, msg


def cmp_greedy(got, ref_toks, margins, thresh, eos):
    """Tokens must agree until the first step where the reference's top1-top2 margin is
    <= thresh (an honest tie-break may differ there, and everything after). The engine may
    stop early right after an eos id."""
    for i, r in enumerate(ref_toks):
        if i >= len(got):
            if got and got[-1] in eos:
                return True, "stopped at eos after %d tokens" % len(got)
            return False, "only %d tokens, expected %d: %s" % (len(got), len(ref_toks), got)
        if got[i] != r:
            if margins[i] <= thresh:
                return True, "diverged at step %d where margin %.2g <= %.0e" % (i, margins[i], thresh)
            return False, "step %d: got %d, reference %d (margin %.3g); got %s ref %s" % (
                i, got[i], r, margins[i], got, ref_toks)
    if len(got) > len(ref_toks):
        return False, "%d tokens, expected %d" % (len(got), len(ref_toks))
    return True, ""


# ---- (a) golden ----------------------------------------------------------------------

def golden_cases(tmp, tag=""):
    mans = sorted(os.path.join(GOLDEN, m, "manifest.json") for m in
                  (os.listdir(GOLDEN) if os.path.isdir(GOLDEN) else []))
    mans = [m for m in mans if os.path.exists(m)]
    if not mans:
        report("golden", False, "no manifests under %s" % GOLDEN)
        return
    for mf in mans:
        gdir = os.path.dirname(mf)
        man = json.load(open(mf))
        mdir = os.path.join(gdir, man.get("model_dir", "model"))
        gname = os.path.basename(gdir)
        for s in man["sequences"]:
            name = "golden%s/%s/%s" % (tag, gname, s["name"])
            try:
                ref = np.load(os.path.join(gdir, s["prompt_logits"]["file"])).astype(np.float64)
                got = engine_logits(mdir, s["tokens"], tmp)
                ok, msg = cmp_logits(got, ref, 1e-4, abs_tol=1e-4)
                report(name + "/prompt_logits", ok, msg)
                toks = engine_greedy(mdir, s["tokens"], len(s["greedy_tokens"]))
                ok = toks == s["greedy_tokens"]
                report(name + "/greedy", ok, "" if ok else "got %s, expected %s" % (toks, s["greedy_tokens"]))
            except CaseFail as e:
                report(name, False, str(e))


# ---- (b) generated models vs the float64 reference ----------------------------------------

# name, generator options, prompt length, dtype class
BASE = ["--vocab", "320", "--hidden", "64", "--layers", "2", "--ffn", "128", "--std", "0.2"]
CASES = [
    ("hd-ne-D/H_gqa2_postnorm_tied_f32",
     ["--heads", "4", "--kv-heads", "2", "--head-dim", "24", "--post-norm", "on", "--tied"], 11),
    ("mha_postnorm-off_untied_f32",
     ["--heads", "4", "--kv-heads", "4", "--head-dim", "16", "--post-norm", "off", "--untied",
      "--emb-mult", "1.7", "--attn-mult", "0.31", "--res-mult", "0.6", "--logit-scale", "1.9"], 9),
    ("gqa4_absent-key-with-tensors_bf16",
     ["--heads", "8", "--kv-heads", "2", "--head-dim", "8", "--post-norm", "absent-key",
      "--post-norm-tensors", "yes", "--dtype", "bf16"], 13),
    ("mqa3_absent-key-without-tensors_f16",
     ["--heads", "3", "--kv-heads", "1", "--head-dim", "20", "--post-norm", "absent-key",
      "--post-norm-tensors", "no", "--dtype", "f16"], 10),
    ("bf16-matrices_f32-norms_rope-parameters_ffn72",
     ["--heads", "4", "--kv-heads", "2", "--ffn", "72", "--dtype", "bf16", "--norm-dtype", "f32",
      "--rope-parameters", "--rope-theta", "1000", "--eps", "1e-6"], 12),
    ("sharded3_untied_f32",
     ["--heads", "4", "--kv-heads", "1", "--layers", "3", "--shards", "3", "--untied"], 8),
    ("unified_sharded_bf16_untied",
     ["--heads", "4", "--kv-heads", "2", "--head-dim", "12", "--unified", "--shards", "2",
      "--dtype", "bf16", "--untied"], 9),
    ("unified_tied_f32_postnorm-off",
     ["--heads", "2", "--kv-heads", "2", "--unified", "--tied", "--post-norm", "off"], 7),
    ("llama_with-mult-keys_ignored",
     ["--arch", "llama", "--heads", "4", "--kv-heads", "2", "--tied",
      "--emb-mult", "3.0", "--attn-mult", "0.05", "--res-mult", "0.5", "--logit-scale", "4.0"], 10),
    ("attention-bias_mlp-bias_f32_D40_F88",
     ["--heads", "4", "--kv-heads", "2", "--head-dim", "16", "--hidden", "40", "--ffn", "88",
      "--attention-bias", "--mlp-bias",
      "--post-norm", "on"], 9),
    ("long-prompt-70_f32",
     ["--heads", "4", "--kv-heads", "2", "--rope-theta", "500", "--post-norm", "on"], 70),
    ("long-prompt-70_bf16_llama",
     ["--arch", "llama", "--heads", "2", "--kv-heads", "1", "--head-dim", "32", "--dtype", "bf16",
      "--untied"], 70),
]


def generated_cases(tmp):
    for ci, (name, opts, T) in enumerate(CASES):
        name = "gen/" + name
        d = os.path.join(tmp, "m%02d" % ci)
        try:
            make_random_hcx.main(BASE + opts + ["--seed", str(100 + ci), "--out", d, "--quiet"])
            m = hcx_ref.load(d)
            ids = [int(t) for t in np.random.default_rng(ci).integers(0, m.V, T)]
            ref = m.logits(ids)
            lowp = any(x in opts for x in ("bf16", "f16"))
            rel = 1e-3 if lowp else 1e-4
            got = engine_logits(d, ids, tmp)
            ok, msg = cmp_logits(got, ref, rel)
            report(name + "/prompt_logits", ok, msg)
            rt, margins, _ = m.greedy(ids, N_GEN)
            eos = {m.cfg["eos_token_id"]} if "eos_token_id" in m.cfg else set()
            toks = engine_greedy(d, ids, N_GEN)
            ok, msg = cmp_greedy(toks, rt, margins, 1e-3, eos)
            report(name + "/greedy", ok, msg)
        except CaseFail as e:
            report(name, False, str(e))
        except hcx_ref.RefError as e:
            report(name, False, "reference could not load the generated model: %s" % e)
        finally:
            shutil.rmtree(d, ignore_errors=True)


def layout_equivalence(tmp):
    """The same weights stored standalone, unified (prefixed, nested config) and in 3
    shards must give the same engine logits (a check that does not involve the reference)."""
    name = "gen/layout_equivalence_standalone_unified_sharded"
    common = BASE + ["--heads", "4", "--kv-heads", "2", "--untied", "--dtype", "bf16", "--seed", "77",
                     "--quiet"]
    ids = [5, 17, 300, 2, 9, 41, 128]
    try:
        outs = []
        for i, extra in enumerate([[], ["--unified"], ["--shards", "3"], ["--unified", "--shards", "3"]]):
            d = os.path.join(tmp, "eq%d" % i)
            make_random_hcx.main(common + extra + ["--out", d])
            outs.append(engine_logits(d, ids, tmp))
            shutil.rmtree(d, ignore_errors=True)
        diffs = [float(np.abs(o - outs[0]).max()) for o in outs[1:]]
        report(name, max(diffs) <= 1e-6, "max diffs vs standalone %s" % diffs)
    except CaseFail as e:
        report(name, False, str(e))


def main():
    if not os.access(OMNIC, os.X_OK):
        report("omnic-binary", False, "%s not found or not executable" % OMNIC)
        return 1
    tmp = tempfile.mkdtemp(prefix="omnic_logits_")
    try:
        golden_cases(tmp)
        os.environ["OMNIC_SIMD"] = "scalar"
        try:
            golden_cases(tmp, "-scalar")
        finally:
            del os.environ["OMNIC_SIMD"]
        generated_cases(tmp)
        layout_equivalence(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return harness.exit_code()


if __name__ == "__main__":
    sys.exit(main())
