#!/usr/bin/python3
"""test_kv_cache.py - the F16 and Q8_0 KV cache options (--kv-type).

On the golden models (logits computed by an independent implementation, shared/golden):
  * --kv-type f32 reproduces the golden prompt logits (<= 1e-4 relative: max_abs / max|ref|);
  * f16 stays within 1e-3 and q8_0 within 2e-2 of them (measured 2.0e-4, 4.7e-3) (keys/values rounded to half
    precision, or to int8 blocks of 32 with an fp16 scale), and changes the result
    (the option is really in effect: the difference is not exactly zero);
  * both agree with the golden greedy tokens' top-1 on the prompt positions whose
    top1-top2 margin exceeds twice the measured error;
  * q8_0 on a head size that is not a multiple of 32 (hcx-tiny: 16) is refused with a
    message naming the constraint; an unknown --kv-type is refused.
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import harness  # noqa: E402
from harness import report  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OMNIC = os.environ.get("OMNIC", os.path.join(ROOT, "build", "omnic"))
GOLDEN = os.environ.get("GOLDEN_DIR", os.path.normpath(os.path.join(ROOT, "..", "shared", "golden")))


def omnic(args):
    return subprocess.run([OMNIC] + args, capture_output=True, text=True, timeout=300)


def main():
    bound = {"f32": 1e-4, "f16": 1e-3, "q8_0": 2e-2}
    with tempfile.TemporaryDirectory() as tmp:
        for gname in ("hcx-small",):
            g = os.path.join(GOLDEN, gname)
            man = json.load(open(os.path.join(g, "manifest.json")))
            seq = [s for s in man["sequences"] if len(s["tokens"]) == 33][0]
            ref = np.load(os.path.join(g, "len33.prompt_logits.npy")).astype(np.float64)
            scale = np.abs(ref).max()
            out = {}
            for kv in ("f32", "f16", "q8_0"):
                name = "%s/%s" % (gname, kv)
                f = os.path.join(tmp, kv + ".npy")
                p = omnic(["logits", "-m", os.path.join(g, "model"), "--ids", ",".join(map(str, seq["tokens"])),
                           "--kv-type", kv, "--out", f])
                if p.returncode != 0:
                    report(name, False, p.stderr.strip()[-300:])
                    continue
                got = np.load(f).astype(np.float64)
                out[kv] = got
                err = np.abs(got - ref).max() / scale
                srt = np.sort(ref, axis=1)
                margin = (srt[:, -1] - srt[:, -2]) / scale
                sure = margin > 2 * err
                agree = (got.argmax(1) == ref.argmax(1))[sure].mean() if sure.any() else 1.0
                report(name, err <= bound[kv] and agree == 1.0,
                       "rel err %.2e (bound %.0e), top-1 agreement %.3f on %d confident positions" %
                       (err, bound[kv], agree, int(sure.sum())))
            for kv in ("f16", "q8_0"):
                if kv in out and "f32" in out:
                    d = np.abs(out[kv] - out["f32"]).max()
                    report("%s/%s_differs_from_f32" % (gname, kv), d > 0, "max diff %.2e" % d)
        tiny = os.path.join(GOLDEN, "hcx-tiny", "model")
        p = omnic(["logits", "-m", tiny, "--ids", "1,2,3", "--kv-type", "q8_0", "--out", os.path.join(tmp, "x.npy")])
        report("q8_0_head16_refused", p.returncode != 0 and "divisible by 32" in p.stderr, p.stderr.strip()[-200:])
        p = omnic(["logits", "-m", tiny, "--ids", "1,2,3", "--kv-type", "q4", "--out", os.path.join(tmp, "x.npy")])
        report("unknown_kv_type_refused", p.returncode == 2 and "--kv-type" in p.stderr, p.stderr.strip()[-200:])
    sys.exit(harness.exit_code())


if __name__ == "__main__":
    main()
