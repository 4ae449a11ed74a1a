#!/usr/bin/python3
"""test_vocoder.py - `omnic vocode` / `omnic voices` on random-weight vocoder archives
written by tools/make_random_vocoder.py in the real .mar + torch.save format, against the
independent float64 reference tests/ref/vocoder_ref.py (audio.md §9-10), plus the error
cases of hostile or inconsistent archives and bad inputs.

  $OMNIC vocode -m DIR|F.mar --units F.npy|CSV [--voice NAME|INDEX | --ref-audio F] --out F.npy|F.wav
  $OMNIC voices -m DIR|F.mar
Prints "PASS <case>" / "FAIL <case>: <why>"; exit 1 on any failure."""
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools"))
sys.path.insert(0, os.path.join(ROOT, "tests", "ref"))
import make_random_vocoder as M  # noqa: E402
import vocoder_ref as R  # noqa: E402
import harness  # noqa: E402
from harness import report, sanitizer_issue  # noqa: E402

OMNIC = os.environ.get("OMNIC", os.path.join(ROOT, "build", "omnic"))
TIMEOUT = 120
TOL = 1e-4
TMP = tempfile.mkdtemp(prefix="omnic_voc_")


def omnic(args, timeout=TIMEOUT):
    p = subprocess.run([OMNIC] + args, capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def mar(name, cfg=None, state=None, names=M.SPK_NAMES, **kw):
    path = os.path.join(TMP, name)
    cfg = cfg or M.make_config()
    if state is None:
        state = M.make_state(cfg)
    ck = kw.pop("ckpt", None)
    M.write_mar(path, cfg, ck if ck is not None else M.ckpt_bytes(state), names if cfg.get("finetune") else None, **kw)
    return path


def vocode(path, units, extra=(), out_ext=".npy"):
    out = os.path.join(TMP, "out" + out_ext)
    if os.path.exists(out):
        os.remove(out)
    if isinstance(units, str):
        uarg = units
    else:
        uarg = os.path.join(TMP, "units.npy")
        np.save(uarg, np.asarray(units, dtype=np.int32))
    rc, so, se = omnic(["vocode", "-m", path, "--units", uarg, "--out", out] + list(extra))
    return rc, se, out


def compare(name, path, units, extra=(), voice=None, spk=None, ref=None, uarg=None):
    try:
        rc, se, out = vocode(path, uarg or units, extra)
        san = sanitizer_issue(se)
        if rc != 0 or san:
            return report(name, False, "rc=%d %s %s" % (rc, san or "", se.strip()[-300:]))
        y = np.load(out)
        if ref is None:
            ref = R.synth(path, units, voice=voice, spk=spk)
        if y.dtype != np.float32 or y.shape != (960 * len(units),):
            return report(name, False, "got %s %s" % (y.dtype, y.shape))
        err = np.abs(y.astype(np.float64) - ref).max() / max(np.abs(ref).max(), 1e-12)
        report(name, err <= TOL, "max rel err %.2e, %d samples, %.0f%% clipped" % (err, y.size, 100 * np.mean(np.abs(ref) >= 1)))
        return y, ref
    except Exception as e:  # noqa: BLE001
        report(name, False, "exception %r" % e)


def expect_error(name, args, must):
    try:
        rc, so, se = omnic(args)
        san = sanitizer_issue(se)
        ok = rc != 0 and not san and all(m.lower() in se.lower() for m in must)
        report(name, ok, "" if ok else "rc=%d %s stderr=%r" % (rc, san or "", se.strip()[-300:]))
    except Exception as e:  # noqa: BLE001
        report(name, False, "exception %r" % e)


def main():
    rng = np.random.default_rng(1)
    # --- finetuned, non-causal, several lengths, voice by name / index / default ---
    ft = mar("ft.mar")
    for T in (1, 7, 30):
        units = rng.integers(0, 6561, T).tolist()
        compare("ft_noncausal_T%d_name" % T, ft, units, ["--voice", "mhwj"], voice="mhwj")
    units = rng.integers(0, 6561, 12).tolist()
    compare("ft_voice_index", ft, units, ["--voice", "5"], voice=5)
    compare("ft_voice_default_fkms", ft, units, voice="fkms")
    compare("ft_units_edges", ft, [0, 6560, 0, 6560], ["--voice", "fphj"], voice="fphj")
    # --- causal ---
    cfg_c = M.make_config(causal=True)
    ftc = mar("ft_causal.mar", cfg_c)
    for T in (1, 9, 25):
        units = rng.integers(0, 6561, T).tolist()
        compare("ft_causal_T%d" % T, ftc, units, ["--voice", "fkjy"], voice="fkjy")
    # --- other widths / storage variants ---
    cfg_w = M.make_config(channels=64, unit_dim=12, spk_dim=4, use_tanh=True, use_bias=True)
    w64 = mar("w64.mar", cfg_w, M.make_state(cfg_w, seed=3, wn="param"), deflate=True, ckpt_deflate=True)
    compare("w64_tanh_bias_param_names_deflated_ckpt", w64, rng.integers(0, 6561, 11).tolist(), ["--voice", "msnh"], voice="msnh")
    cfg_p = M.make_config(channels=256, unit_dim=8, spk_dim=8, logscale=False, dilations=[[1, 2], [2, 3], [1, 4]])
    st_p = M.make_state(cfg_p, seed=4, wn="plain")
    for k in list(st_p):
        if k.endswith(".act.alpha") or k.endswith(".act.beta"):
            st_p[k] = st_p[k].exp()  # direct (non-log) parameters
    p256 = mar("p256.mar", cfg_p, st_p, deflate=False)
    compare("w256_plain_weights_linear_snake_dilations_stored", p256, rng.integers(0, 6561, 6).tolist(), ["--voice", "0"], voice=0)
    cfg_cw = M.make_config(channels=64, unit_dim=16, spk_dim=8, causal=True)
    cw = mar("cw.mar", cfg_cw, M.make_state(cfg_cw, seed=5))
    compare("w64_causal", cw, rng.integers(0, 6561, 10).tolist(), ["--voice", "mjhh"], voice="mjhh")

    # --- Omni folder layout, WAV output, CSV units ---
    omni = os.path.join(TMP, "omni")
    os.makedirs(os.path.join(omni, "decoder", "audio"))
    shutil.copy(ft, os.path.join(omni, "decoder", "audio", "NCCosybigvganDecoder.mar"))
    units = rng.integers(0, 6561, 8).tolist()
    try:
        csv = os.path.join(TMP, "units.csv")
        with open(csv, "w") as f:
            f.write(",".join(map(str, units[:4])) + "\n" + " ".join(map(str, units[4:])) + "\n")
        rc, se, out = vocode(omni, csv, ["--voice", "mhwj"], out_ext=".wav")
        if rc != 0 or sanitizer_issue(se):
            report("omni_dir_csv_wav", False, se.strip()[-300:])
        else:
            raw = open(out, "rb").read()
            hdr_ok = raw[:4] == b"RIFF" and raw[8:16] == b"WAVEfmt " and struct.unpack("<HHIIHH", raw[20:36]) == (1, 1, 24000, 48000, 2, 16)
            s = np.frombuffer(raw[44:], dtype="<i2")
            rc2, se2, out2 = vocode(omni, csv, ["--voice", "mhwj"], out_ext=".npy")
            ye = np.load(out2)
            y = R.synth(ft, units, voice="mhwj")
            want = R.to_int16(y)
            # the WAV is exactly the engine's floats truncated; against the reference it
            # differs only where the two float values lie on both sides of an integer
            ve = np.clip(ye, -1, 1).astype(np.float32) * np.float32(32767)
            vr = np.clip(y, -1, 1).astype(np.float32) * np.float32(32767)
            cross = np.trunc(ve) != np.trunc(vr)
            bad = np.sum((s != want) & ~cross)
            ok = hdr_ok and rc2 == 0 and s.size == 960 * len(units) and np.array_equal(s, R.to_int16(ye)) and bad == 0
            report("omni_dir_csv_wav", ok, "header %s, %d samples, %d differ from the reference's int16, each where the floats straddle an integer"
                   % (hdr_ok, s.size, np.sum(s != want)))
    except Exception as e:  # noqa: BLE001
        report("omni_dir_csv_wav", False, repr(e))
    try:
        u64 = os.path.join(TMP, "u64.npy")
        np.save(u64, np.asarray(units, dtype=np.int64))
        compare("units_int64_npy", ft, units, ["--voice", "mhwj"], voice="mhwj", uarg=u64)
    except Exception as e:  # noqa: BLE001
        report("units_int64_npy", False, repr(e))

    # --- voices ---
    rc, so, se = omnic(["voices", "-m", omni])
    got = [ln.split("\t") for ln in so.strip().splitlines()]
    ok = rc == 0 and got == [[str(i), n] for i, n in enumerate(M.SPK_NAMES)]
    report("voices_list", ok, "%d voices" % len(got) if ok else so[:200] + se[-200:])
    names = ["  fkjy ", "fkms\r", "dup", "mhwj", "dup"] + ["s%d" % i for i in range(21)]
    text = "\r\n".join(names)  # CRLF, spaces, no final newline, duplicate name
    odd = mar("odd_spk.mar", spk_text=text)
    rc, so, se = omnic(["voices", "-m", odd])
    got = [ln.split("\t")[1] for ln in so.strip().splitlines()]
    report("voices_spk_list_strip", rc == 0 and got[:5] == ["fkjy", "fkms", "dup", "mhwj", "dup"] and len(got) == 26, repr(got[:5]))
    compare("voice_duplicate_name_last_line", odd, [5, 6, 7], ["--voice", "dup"], voice=4)

    # --- errors ---
    bad = os.path.join(TMP, "bad.mar")
    with open(bad, "wb") as f:
        f.write(os.urandom(5000))
    u = ["--units", "1,2,3", "--out", os.path.join(TMP, "e.npy")]
    expect_error("err_not_zip", ["vocode", "-m", bad] + u, ["bad.mar", "zip"])
    data = open(ft, "rb").read()
    trunc = os.path.join(TMP, "trunc.mar")
    with open(trunc, "wb") as f:
        f.write(data[:len(data) // 2])
    expect_error("err_truncated", ["vocode", "-m", trunc] + u, ["trunc.mar"])
    cut = os.path.join(TMP, "cut.mar")
    with open(cut, "wb") as f:
        f.write(data[:-10])
    expect_error("err_truncated_eocd", ["vocode", "-m", cut] + u, ["cut.mar"])
    flip = bytearray(open(w64, "rb").read())
    zi = zipfile.ZipFile(w64).getinfo("config.json")
    flip[zi.header_offset + 30 + len("config.json") + 3] ^= 0xFF
    fl = os.path.join(TMP, "flip.mar")
    open(fl, "wb").write(bytes(flip))
    expect_error("err_deflate_corrupt", ["vocode", "-m", fl] + u, ["flip.mar", "config.json"])
    expect_error("err_no_manifest", ["vocode", "-m", mar("nm.mar", skip=("manifest",))] + u, ["MANIFEST.json"])
    expect_error("err_no_config", ["vocode", "-m", mar("nc.mar", skip=("config",))] + u, ["config.json", "missing"])
    expect_error("err_no_ckpt", ["vocode", "-m", mar("nk.mar", skip=("ckpt",))] + u, ["generator.pt", "missing"])
    expect_error("err_no_spk_list", ["vocode", "-m", mar("ns.mar", skip=("spk",))] + u, ["spk_list.txt"])
    expect_error("err_forbidden_global", ["vocode", "-m", mar("fg.mar", ckpt=M.raw_pickle_ckpt(M.FORBIDDEN_GLOBAL_PKL))] + u,
                 ["data.pkl", "os.system", "not allowed"])
    expect_error("err_forbidden_opcode", ["vocode", "-m", mar("fo.mar", ckpt=M.raw_pickle_ckpt(M.FORBIDDEN_OPCODE_PKL))] + u,
                 ["data.pkl", "BINFLOAT", "not allowed"])
    st = M.make_state(M.make_config())
    expect_error("err_legacy_torch", ["vocode", "-m", mar("lg.mar", ckpt=M.ckpt_bytes(st, legacy=True))] + u, ["legacy", "generator.pt"])
    cfg = M.make_config()
    cfg2 = dict(cfg, unit_emb_dim=20)
    expect_error("err_cfg_unit_emb_dim", ["vocode", "-m", mar("c1.mar", cfg, st, config_text=json.dumps(cfg2))] + u, ["unit_emb_dim"])
    cfg2 = dict(cfg, upsample_initial_channel=256)
    expect_error("err_cfg_initial_channel", ["vocode", "-m", mar("c2.mar", cfg, st, config_text=json.dumps(cfg2))] + u, ["upsample_initial_channel"])
    cfg2 = dict(cfg, num_spk=20)
    expect_error("err_cfg_num_spk", ["vocode", "-m", mar("c3.mar", cfg, st, config_text=json.dumps(cfg2))] + u, ["num_spk"])
    cfg2 = dict(cfg, use_bias_at_final=True)
    expect_error("err_cfg_use_bias", ["vocode", "-m", mar("c4.mar", cfg, st, config_text=json.dumps(cfg2))] + u, ["use_bias_at_final"])
    cfg2 = dict(cfg, causal=True)
    expect_error("err_cfg_causal", ["vocode", "-m", mar("c5.mar", cfg, st, config_text=json.dumps(cfg2))] + u, ["causal"])
    cfg2 = dict(cfg)
    del cfg2["snake_logscale"]
    expect_error("err_cfg_missing_key", ["vocode", "-m", mar("c6.mar", cfg, st, config_text=json.dumps(cfg2))] + u, ["snake_logscale"])
    cfg2 = dict(cfg, upsample_kernel_sizes=[10, 8, 8, 6, 4, 6])
    expect_error("err_cfg_kernel", ["vocode", "-m", mar("c7.mar", cfg, st, config_text=json.dumps(cfg2))] + u, ["upsample_kernel_sizes"])
    expect_error("err_cfg_json", ["vocode", "-m", mar("c8.mar", cfg, st, config_text="{\"resblock\": ")] + u, ["config.json"])
    st2 = M.make_state(cfg)
    del st2["resblocks.4.convs2.1.conv.weight_v"]
    expect_error("err_tensor_missing", ["vocode", "-m", mar("t1.mar", cfg, st2)] + u, ["resblocks.4.convs2.1.conv"])
    st2 = M.make_state(cfg)
    st2["resblocks.7.activations.3.act.beta"] = st2["resblocks.7.activations.3.act.beta"][:3].clone()
    expect_error("err_tensor_shape", ["vocode", "-m", mar("t2.mar", cfg, st2)] + u, ["resblocks.7.activations.3.act.beta", "shape"])
    expect_error("err_unit_range", ["vocode", "-m", ft, "--units", "1,2,6561,4", "--out", os.path.join(TMP, "e.npy")], ["6561", "index 2"])
    expect_error("err_unit_negative", ["vocode", "-m", ft, "--units", "5,-1", "--out", os.path.join(TMP, "e.npy")], ["index 1"])
    expect_error("err_unknown_voice", ["vocode", "-m", ft, "--voice", "nobody"] + u, ["nobody"])
    expect_error("err_voice_index", ["vocode", "-m", ft, "--voice", "26"] + u, ["26", "range"])
    expect_error("err_units_file", ["vocode", "-m", ft, "--units", os.path.join(TMP, "none.npy"), "--out", os.path.join(TMP, "e.npy")], ["none.npy"])
    fl = np.zeros(3, dtype=np.float32)
    np.save(os.path.join(TMP, "fl.npy"), fl)
    expect_error("err_units_dtype", ["vocode", "-m", ft, "--units", os.path.join(TMP, "fl.npy"), "--out", os.path.join(TMP, "e.npy")], ["int"])
    expect_error("err_no_archive", ["vocode", "-m", TMP] + u, ["NCCosybigvganDecoder.mar"])
    return zero_shot_cases(rng)


def zero_shot_cases(rng):
    cfg = M.make_config(finetune=False)
    zs = mar("zs.mar", cfg, M.make_state(cfg, seed=7))
    cfgc = M.make_config(finetune=False, causal=True, channels=64, spk_hidden=16)
    zsc = mar("zsc.mar", cfgc, M.make_state(cfgc, seed=8))
    t = np.arange(int(24000 * 1.3)) / 24000.0
    pcm = (0.3 * np.sin(2 * np.pi * 180 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t)) +
           0.05 * rng.standard_normal(t.size)).astype(np.float32)
    refnpy = os.path.join(TMP, "ref.npy")
    np.save(refnpy, pcm)
    refwav = os.path.join(TMP, "ref.wav")
    with open(refwav, "wb") as f:
        s16 = (np.clip(pcm, -1, 1) * 32767).astype("<i2")
        f.write(b"RIFF" + struct.pack("<I", 36 + 2 * s16.size) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 1, 24000, 48000, 2, 16) +
                b"data" + struct.pack("<I", 2 * s16.size) + s16.tobytes())
    pcm16 = s16.astype(np.float32) / 32768.0
    units = rng.integers(0, 6561, 9).tolist()
    compare("zs_ecapa_ref_npy", zs, units, ["--ref-audio", refnpy], ref=R.synth_zero_shot(zs, units, pcm))
    compare("zs_ecapa_ref_wav", zs, units, ["--ref-audio", refwav], ref=R.synth_zero_shot(zs, units, pcm16))
    compare("zs_causal_ecapa", zsc, units[:5], ["--ref-audio", refnpy], ref=R.synth_zero_shot(zsc, units[:5], pcm))
    u = ["--units", "1,2,3", "--out", os.path.join(TMP, "e.npy")]
    expect_error("err_zs_needs_ref", ["vocode", "-m", zs] + u, ["ref-audio"])
    expect_error("err_ft_with_ref", ["vocode", "-m", mar("ft2.mar"), "--ref-audio", refnpy] + u, ["zero-shot"])
    np.save(os.path.join(TMP, "silent.npy"), np.zeros(24000, dtype=np.float32))
    expect_error("err_ref_silent", ["vocode", "-m", zs, "--ref-audio", os.path.join(TMP, "silent.npy")] + u, ["silent"])
    np.save(os.path.join(TMP, "short.npy"), pcm[:300])
    expect_error("err_ref_short", ["vocode", "-m", zs, "--ref-audio", os.path.join(TMP, "short.npy")] + u, ["short"])
    st = M.make_state(cfg, seed=7)
    del st["spk_emb.layer3.SE_Connect.linear2.bias"]
    expect_error("err_ecapa_tensor_missing", ["vocode", "-m", mar("zbad.mar", cfg, st), "--ref-audio", refnpy] + u,
                 ["spk_emb.layer3.SE_Connect.linear2.bias"])


if __name__ == "__main__":
    try:
        main()
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    sys.exit(harness.exit_code())
