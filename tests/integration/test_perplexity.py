#!/usr/bin/python3
"""test_perplexity.py - `omnic perplexity` (llama-perplexity's method: chunks from an empty
cache, NLL of each chunk's second half) and the issue-5 fidelity check of quantized files.

  * F32 golden hcx-small on a Korean/English text: omnic's PPL equals the PPL computed here
    from tests/ref/hcx_ref.py's float64 logits with the same chunking (<= 1e-4 relative);
  * the same model quantized by `omnic quantize` to Q8_0, Q4_0, Q4_K (GGUF): PPL within 5 %
    of F32. Caveat (printed): a random-weight model is nearly uniform over its vocabulary
    (PPL close to the vocabulary size), so this bound is weak evidence; the logits bounds of
    test_gguf.py are the stronger check;
  * bad input: a text shorter than one chunk, an id outside the vocabulary -> clear errors.
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "ref"))
import hcx_ref  # noqa: E402
import harness  # noqa: E402
from harness import report, sanitizer_issue  # noqa: E402

OMNIC = os.environ.get("OMNIC", os.path.join(ROOT, "build", "omnic"))
GOLDEN = os.environ.get("GOLDEN_DIR", os.path.normpath(os.path.join(ROOT, "..", "shared", "golden")))
CHUNK, CHUNKS = 64, 4


def omnic(args):
    p = subprocess.run([OMNIC] + args, capture_output=True, text=True, timeout=600)
    s = sanitizer_issue(p.stderr)
    if s:
        raise RuntimeError("sanitizer report (%s): %s" % (s, p.stderr[-1000:]))
    return p


def ref_ppl(model, ids):
    nll = []
    for k in range(CHUNKS):
        x = ids[k * CHUNK:(k + 1) * CHUNK]
        lg = model.logits(x)
        for t in range(CHUNK // 2, CHUNK - 1):
            row = lg[t]
            mx = row.max()
            nll.append(mx + np.log(np.exp(row - mx).sum()) - row[x[t + 1]])
    return float(np.exp(np.mean(nll)))


def main():
    model = os.path.join(GOLDEN, "hcx-small", "model")
    text = open(os.path.join(ROOT, "tests", "data", "tokenizer_corpus.txt"), encoding="utf-8").read()[:20000]
    with tempfile.TemporaryDirectory() as tmp:
        tf = os.path.join(tmp, "t.txt")
        open(tf, "w", encoding="utf-8").write(text)
        p = omnic(["tokenize", "-m", model, "--file", tf, "--no-special"])
        ids = json.loads(p.stdout)[:CHUNK * CHUNKS]
        csv = ",".join(map(str, ids))

        def ppl(m):
            p = omnic(["perplexity", "-m", m, "--ids", csv, "-c", str(CHUNK), "--json"])
            if p.returncode != 0:
                raise RuntimeError(p.stderr.strip()[-300:])
            return json.loads(p.stdout)["ppl"]

        base = ppl(model)
        ref = ref_ppl(hcx_ref.load(model), ids)
        report("f32_vs_float64_reference", abs(base - ref) / ref <= 1e-4, "omnic %.6f, reference %.6f" % (base, ref))
        for q in ("q8_0", "q4_0", "q4_k"):
            g = os.path.join(tmp, "m-%s.gguf" % q)
            p = omnic(["quantize", "-m", model, "-o", g, "--type", q, "--quiet"])
            if p.returncode != 0:
                report("quantized/" + q, False, p.stderr.strip()[-300:])
                continue
            v = ppl(g)
            report("quantized/" + q, abs(v - base) / base <= 0.05,
                   "PPL %.3f vs F32 %.3f (%+.2f %%; random weights: near-uniform, weak evidence)" %
                   (v, base, 100 * (v - base) / base))
        p = omnic(["perplexity", "-m", model, "--ids", csv[:20], "-c", str(CHUNK)])
        report("errors/shorter_than_a_chunk", p.returncode != 0 and "fewer than one chunk" in p.stderr,
               p.stderr.strip()[-200:])
        p = omnic(["perplexity", "-m", model, "--ids", "1,2,99999999", "-c", "4"])
        report("errors/id_outside_vocabulary", p.returncode != 0 and "outside the vocabulary" in p.stderr,
               p.stderr.strip()[-200:])
    sys.exit(harness.exit_code())


if __name__ == "__main__":
    main()
