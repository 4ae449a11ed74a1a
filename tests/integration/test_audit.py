#!/usr/bin/python3
"""test_audit.py - `omnic audit` and `omnic hash` end to end (issue 10).

Synthetic checkpoint pairs from tools/make_audit_pairs.py (trained-looking weights in
the real layouts: HCX unified, Qwen2.5-VL `visual.*`, Qwen2-Audio `audio_tower.*`,
Whisper `model.encoder.*`, standalone LLM) and GGUF copies written by `omnic quantize`
(the fork's per-head q/k row order, Q8_0 / Q4_0). Every case of the issue:
 (a) exact copy -> same weights; (b) fine-tuned 3 % -> derived; (c) permuted / rescaled /
 bf16 / Q8_0 / Q4_0 copies -> same weights; (d) independent draws of the same
 architecture -> independent (several pairs: never flagged); (e) another width ->
 not comparable; (f) drift 30 % / 60 % (also permuted + 30 %) -> derived; (g) layers
 0-1 copied -> those blocks same weights, the others independent, component flagged;
 (h) compensated scaling (per part of the fused qkv, V/proj, up/down) -> same weights;
 (i) HCX unified names vs a Q4_0 GGUF in the fork's layout -> same weights.
The margin to the null distribution is printed with each verdict. Also: the sinusoidal
position table is detected and left out; bad input (missing / corrupt files, an
unreadable tensor, missing components) gives clear messages and a partial report;
JSON, table and HTML reports; fingerprints; SHA-256 manifests checked against
Python's hashlib (per file, per tensor, the manifest digest recomputed here), and
independent of the path and the sharding."""
import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import make_audit_pairs as mk  # noqa: E402
import harness  # noqa: E402
from harness import report  # noqa: E402

OMNIC = os.environ.get("OMNIC", os.path.join(ROOT, "build", "omnic"))
TIMEOUT = 120


class CaseFail(Exception):
    pass


def run(args, ok_codes=(0,)):
    try:
        p = subprocess.run([OMNIC] + args, capture_output=True, text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        raise CaseFail("timeout: omnic %s" % " ".join(args))
    for pat in ("AddressSanitizer", "LeakSanitizer", "UndefinedBehaviorSanitizer", "runtime error:"):
        if pat in p.stderr:
            raise CaseFail("sanitizer report: %s" % p.stderr[-1500:])
    if ok_codes and p.returncode not in ok_codes:
        raise CaseFail("omnic %s -> exit %d: %s" % (" ".join(args[:3]), p.returncode, p.stderr.strip()[-600:]))
    return p


_cache = {}


def audit(a, b, comp="all", extra=()):
    key = (a, b, comp, tuple(extra))
    if key not in _cache:
        p = run(["audit", a, b, "--json", "--component", comp, "--quiet"] + list(extra))
        _cache[key] = json.loads(p.stdout)
    return _cache[key]


def comp_of(res, name):
    for c in res["components"]:
        if c["name"] == name:
            return c
    raise CaseFail("component %s not in the report" % name)


def case(name, fn):
    try:
        ok, why = fn()
        report(name, ok, why)
    except CaseFail as e:
        report(name, False, str(e))


def verdict_case(name, a, b, comp, want):
    def fn():
        r = audit(a, b, comp)
        c = comp_of(r, comp)
        blocks = [x for x in c["blocks"] if x["verdict"] != "none"]
        why = "%s: %s, margin %+.1f sd (null %.3f +- %.3f), median corr %.4f, resid %.4f, raw pearson %.4f" % (
            comp, c["verdict"], c["margin"] or 0, c["null"]["mean"] or 0, c["null"]["sd"] or 0,
            float(np.median([x["corr"] for x in blocks])) if blocks else float("nan"),
            float(np.median([x["resid"] for x in blocks])) if blocks else float("nan"),
            float(np.median([x["pearson"] for x in blocks])) if blocks else float("nan"))
        if c["verdict"] != want:
            return False, "expected %s; got %s" % (want, why)
        return True, why
    case(name, fn)
    return None


SAME, DER, IND, NC = "same weights", "derived (fine-tuned)", "independent", "not comparable"


def st_tensors(path):
    """name -> (dtype, shape, raw bytes) from one safetensors file (own parser)"""
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    h = json.loads(data[8:8 + n])
    out = {}
    for k, v in h.items():
        if k == "__metadata__":
            continue
        b, e = v["data_offsets"]
        out[k] = (v["dtype"], v["shape"], data[8 + n + b:8 + n + e])
    return out


def main():
    if not os.path.exists(OMNIC):
        print("FAIL setup: %s not found" % OMNIC)
        return 1
    tmp = tempfile.mkdtemp(prefix="omnic_audit_")
    try:
        P = mk.build_all(tmp)
        for q in ("q8_0", "q4_0"):
            P["llm0_" + q] = os.path.join(tmp, "llm0_%s.gguf" % q)
            run(["quantize", "-m", P["llm0"], "-o", P["llm0_" + q], "--type", q, "--quiet"])

        # (a)
        verdict_case("a_vision_copy_vs_qwen25vl", P["hcx_a"], P["ref_vl"], "vision", SAME)
        verdict_case("a_audio_copy_vs_qwen2audio", P["hcx_a"], P["ref_audio"], "audio", SAME)
        verdict_case("a_audio_copy_vs_whisper", P["hcx_w"], P["ref_whisper"], "audio", SAME)
        # (b)
        verdict_case("b_vision_finetuned_3pct", P["hcx_b"], P["ref_vl"], "vision", DER)
        verdict_case("b_audio_finetuned_3pct", P["hcx_b"], P["ref_audio"], "audio", DER)
        # (c)
        verdict_case("c_vision_permuted", P["hcx_perm"], P["ref_vl"], "vision", SAME)
        verdict_case("c_vision_rescaled", P["hcx_scaled"], P["ref_vl"], "vision", SAME)
        verdict_case("c_vision_bf16", P["hcx_bf16"], P["ref_vl"], "vision", SAME)
        verdict_case("c_llm_q8_0", P["llm0"], P["llm0_q8_0"], "llm", SAME)
        verdict_case("c_llm_q4_0", P["llm0"], P["llm0_q4_0"], "llm", SAME)

        def perm_raw():  # the disguise is real: raw numbers near 0, aligned 1
            c = comp_of(audit(P["hcx_perm"], P["ref_vl"], "vision"), "vision")
            raw = max(abs(x["pearson"]) for x in c["blocks"] if x["layer"] is not None)
            return raw < 0.1, "max |raw pearson| of the layer blocks %.4f, verdict %s" % (raw, c["verdict"])
        case("c_permutation_defeats_raw_stats", perm_raw)
        # (d): independent pairs of the same architecture are never flagged
        verdict_case("d_vision_independent", P["hcx_d"], P["ref_vl"], "vision", IND)
        verdict_case("d_vision_independent_2", P["hcx_d"], P["hcx_d2"], "vision", IND)
        verdict_case("d_audio_independent", P["hcx_d"], P["ref_audio"], "audio", IND)
        verdict_case("d_audio_whisper_vs_qwen2audio", P["ref_whisper"], P["ref_audio"], "audio", IND)
        verdict_case("d_audio_independent_2", P["hcx_d"], P["hcx_d2"], "audio", IND)
        verdict_case("d_llm_independent", P["hcx_d"], P["ref_vl"], "llm", IND)
        verdict_case("d_llm_independent_gguf", P["hcx_d"], P["llm0_q4_0"], "llm", IND)
        verdict_case("d_projector_independent", P["hcx_d"], P["hcx_d2"], "vision-projector", IND)

        def sinus():
            r = audit(P["ref_whisper"], P["ref_audio"], "audio")
            t = [x for x in r["tensors"] if x["role"] == "pos_embed.w"]
            if not t:
                return False, "no position table in the report"
            t = t[0]
            return (t["untrained"] == "sinusoidal" and not t["in_verdict"] and t["cos"] > 0.99,
                    "embed_positions: cos %.4f between independent encoders, flagged %r, in verdict %r" % (
                        t["cos"], t["untrained"], t["in_verdict"]))
        case("d_sinusoidal_table_left_out", sinus)
        # (e)
        verdict_case("e_vision_other_width", P["hcx_e"], P["ref_vl"], "vision", NC)
        # (f)
        verdict_case("f_vision_drift_30pct", P["hcx_f30"], P["ref_vl"], "vision", DER)
        verdict_case("f_vision_drift_60pct", P["hcx_f60"], P["ref_vl"], "vision", DER)
        verdict_case("f_audio_drift_30pct", P["hcx_f30"], P["ref_audio"], "audio", DER)
        verdict_case("f_audio_drift_60pct", P["hcx_f60"], P["ref_audio"], "audio", DER)
        verdict_case("f_vision_permuted_and_drift_30pct", P["hcx_pf"], P["ref_vl"], "vision", DER)

        # (g)
        def partial():
            c = comp_of(audit(P["hcx_g"], P["ref_vl"], "vision"), "vision")
            per = {x["layer"]: x["verdict"] for x in c["blocks"]}
            ok = (c["verdict"] == DER and per.get(0) == SAME and per.get(1) == SAME and per.get(2) == IND and
                  per.get(3) == IND and per.get(None) == IND)
            return ok, "component %s (%s), per layer %s, margins %s" % (
                c["verdict"], c["note"], per, ["%+.1f" % x["margin"] for x in c["blocks"]])
        case("g_partial_copy_per_layer", partial)
        # (h)
        verdict_case("h_compensated_scaling", P["hcx_h"], P["ref_vl"], "vision", SAME)
        # (i)
        verdict_case("i_unified_vs_fork_gguf_q4_0", P["hcx_a"], P["llm0_q4_0"], "llm", SAME)

        def qk_order():  # the fork's q/k rows are undone on read: no permutation needed
            r = audit(P["hcx_a"], P["llm0_q4_0"], "llm")
            qk = [x for x in r["tensors"] if x["role"] in ("attn_q.w", "attn_k.w")]
            bad = [x["a"] for x in qk if x["perm_rows"] or x["resid"] > 0.01]
            raw = min(x["pearson"] for x in qk)
            return not bad and raw > 0.98, "%d q/k tensors, min raw pearson %.4f, realigned %s" % (len(qk), raw, bad)
        case("i_fork_qk_row_order", qk_order)

        # mapping and report formats
        def mapping():
            c = comp_of(audit(P["hcx_a"], P["ref_whisper"], "audio"), "audio")
            return (c["prefix_a"] == "model.audio_model.*" and c["prefix_b"] == "model.encoder.*",
                    "A %s <-> B %s, %d pairs" % (c["prefix_a"], c["prefix_b"], c["pairs"]))
        case("mapping_reported", mapping)

        def table_html():
            html = os.path.join(tmp, "r.html")
            p = run(["audit", P["hcx_g"], P["ref_vl"], "--html", html, "--quiet"])
            s = open(html).read()
            ok = ("margin" in p.stdout and "same weights" in p.stdout and "<svg" in s and "<script" not in s
                  and "src=" not in s and "layer 0" in s)
            return ok, "table %d lines, html %d bytes" % (p.stdout.count("\n"), len(s))
        case("report_table_and_html", table_html)

        # bad input
        def missing_file():
            p = run(["audit", P["hcx_a"], os.path.join(tmp, "nope")], ok_codes=(1,))
            return "B:" in p.stderr and "no such" in p.stderr, p.stderr.strip()
        case("bad_missing_file", missing_file)

        def corrupt_file():
            d = os.path.join(tmp, "corrupt")
            os.makedirs(d)
            with open(os.path.join(P["ref_vl"], "model.safetensors"), "rb") as f:
                data = f.read()
            with open(os.path.join(d, "model.safetensors"), "wb") as f:
                f.write(data[:len(data) // 2])
            p = run(["audit", P["hcx_a"], d], ok_codes=(1,))
            return "model.safetensors" in p.stderr, p.stderr.strip()
        case("bad_truncated_file", corrupt_file)

        def unreadable_tensor():  # one tensor stored as I32: reported, the rest compared
            d = os.path.join(tmp, "i32")
            t = {"visual." + k: v for k, v in mk.vision(100).items()}
            bad = "visual.blocks.1.mlp.up_proj.weight"
            t[bad] = t[bad].view(np.int32)
            write_raw(d, t, bad)
            r = audit(P["hcx_a"], d, "vision")
            c = comp_of(r, "vision")
            tb = [x for x in r["tensors"] if x["b"] == bad][0]
            return (not tb["compared"] and "not readable" in tb["why"] and c["verdict"] == SAME,
                    "%s: %s; vision still %s" % (bad, tb.get("why"), c["verdict"]))
        case("bad_unreadable_tensor_partial_report", unreadable_tensor)

        def missing_comp():
            r = audit(P["hcx_w"], P["ref_whisper"])
            v = comp_of(r, "vision")
            a = comp_of(r, "audio")
            return (v["verdict"] == NC and "missing in B" in v["note"] and a["verdict"] == SAME,
                    "vision: %s (%s); audio: %s" % (v["verdict"], v["note"], a["verdict"]))
        case("bad_missing_component_partial_report", missing_comp)

        def arch_mismatch():
            r = audit(P["hcx_e"], P["ref_vl"])
            v = comp_of(r, "vision")
            m = comp_of(r, "llm")
            return (v["verdict"] == NC and "different architecture" in v["note"] and m["verdict"] == IND,
                    "vision: %s; llm still compared: %s" % (v["note"], m["verdict"]))
        case("bad_mismatched_architecture", arch_mismatch)

        # fingerprints
        fp = os.path.join(tmp, "fp.json")
        run(["audit", "--fingerprint", P["ref_vl"], "-o", fp, "--component", "vision", "--quiet"])

        def fp_small():
            j = json.load(open(fp))
            longest = max(len(x["sketch"]) for x in j["tensors"])
            return longest <= 128 and os.path.getsize(fp) < 200000, "%d entries, %d bytes, longest array %d" % (
                len(j["tensors"]), os.path.getsize(fp), longest)
        case("fingerprint_compact", fp_small)
        verdict_case("fingerprint_copy", P["hcx_a"], fp, "vision", SAME)
        verdict_case("fingerprint_bf16_copy", P["hcx_bf16"], fp, "vision", SAME)
        verdict_case("fingerprint_finetuned", P["hcx_b"], fp, "vision", DER)
        verdict_case("fingerprint_independent", P["hcx_d"], fp, "vision", IND)

        # hashes
        def hash_files():
            d = os.path.join(tmp, "hashme")
            shutil.copytree(P["llm0"], d)
            for n in (0, 1, 55, 56, 63, 64, 65, 119, 120, 1000, 100003):
                with open(os.path.join(d, "pad_%d.bin" % n), "wb") as f:
                    f.write(bytes((i * 7 + 3) % 256 for i in range(n)))
            j = json.loads(run(["hash", "-m", d, "--json", "--quiet"]).stdout)
            bad = []
            for e in j["files"]:
                h = hashlib.sha256(open(os.path.join(d, e["path"]), "rb").read()).hexdigest()
                if h != e["sha256"]:
                    bad.append(e["path"])
            files = sorted(os.listdir(d))
            ok = not bad and [e["path"] for e in j["files"]] == files
            return ok, "%d files checked against hashlib, mismatches %s" % (len(j["files"]), bad)
        case("hash_files_vs_hashlib", hash_files)

        def hash_tensors():
            j = json.loads(run(["hash", "-m", P["llm0"], "--json", "--quiet"]).stdout)
            ts = st_tensors(os.path.join(P["llm0"], "model.safetensors"))
            bad = [e["name"] for e in j["tensors"] if hashlib.sha256(ts[e["name"]][2]).hexdigest() != e["sha256"]]
            lines = "".join("%s\t%s\t%s\t%s\n" % (n, ts[n][0], ",".join(map(str, ts[n][1])),
                                                  hashlib.sha256(ts[n][2]).hexdigest()) for n in sorted(ts))
            want = hashlib.sha256(lines.encode()).hexdigest()
            ok = not bad and len(j["tensors"]) == len(ts) and j["manifest_sha256"] == want
            return ok, "%d tensors, manifest %s (python %s), mismatches %s" % (
                len(ts), j["manifest_sha256"][:16], want[:16], bad)
        case("hash_tensors_and_manifest_vs_hashlib", hash_tensors)

        def hash_content_only():
            d1 = run(["hash", "-m", P["llm0"], "--digest-only"]).stdout.strip()
            # same weights, other path, two shards + index
            d = os.path.join(tmp, "elsewhere", "resharded")
            ts = st_tensors(os.path.join(P["llm0"], "model.safetensors"))
            names = sorted(ts)
            half = len(names) // 2
            os.makedirs(d)
            wm = {}
            for si, part in enumerate((names[:half], names[half:])):
                fn = "model-%05d-of-00002.safetensors" % (si + 1)
                write_shard(os.path.join(d, fn), {n: ts[n] for n in part[::-1]})
                wm.update({n: fn for n in part})
            json.dump({"metadata": {"total_size": 0}, "weight_map": wm}, open(os.path.join(d, "model.safetensors.index.json"), "w"))
            shutil.copy(os.path.join(P["llm0"], "config.json"), d)
            d2 = run(["hash", "-m", d, "--digest-only"]).stdout.strip()
            g1 = run(["hash", "-m", P["llm0_q4_0"], "--digest-only"]).stdout.strip()
            cp = os.path.join(tmp, "elsewhere", "renamed.gguf")
            shutil.copy(P["llm0_q4_0"], cp)
            g2 = run(["hash", "-m", cp, "--digest-only"]).stdout.strip()
            d3 = run(["hash", "-m", P["hcx_b"], "--digest-only"]).stdout.strip()
            ok = d1 == d2 and g1 == g2 and d1 != g1 and d3 != d1 and d1.startswith("sha256:") and len(d1) == 71
            return ok, "folder %s == resharded %s; gguf %s == copy %s" % (d1[7:19], d2[7:19], g1[7:19], g2[7:19])
        case("hash_digest_depends_on_content_only", hash_content_only)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return harness.exit_code()


def write_shard(path, entries):
    """entries: name -> (dtype, shape, raw bytes)"""
    h, off = {}, 0
    for n, (dt, shape, raw) in entries.items():
        h[n] = {"dtype": dt, "shape": shape, "data_offsets": [off, off + len(raw)]}
        off += len(raw)
    js = json.dumps(h).encode()
    js += b" " * ((8 - len(js) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(js)) + js)
        for n, (dt, shape, raw) in entries.items():
            f.write(raw)


def write_raw(folder, tensors, i32_name):
    os.makedirs(folder, exist_ok=True)
    ent = {}
    for n in sorted(tensors):
        a = np.ascontiguousarray(tensors[n])
        ent[n] = ("I32" if n == i32_name else "F32", list(a.shape), a.tobytes())
    write_shard(os.path.join(folder, "model.safetensors"), ent)


if __name__ == "__main__":
    sys.exit(main())
