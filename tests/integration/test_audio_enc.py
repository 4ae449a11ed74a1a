#!/usr/bin/python3
"""test_audio_enc.py - the audio encoders (audio.md §4 continuous encoder + projector,
§5 S3 tokenizer) through the conformance interface
  $OMNIC embed -m DIR --audio F [--stream continuous|discrete] --out F.npy
on random-weight Omni checkpoints (tools/make_random_hcx.py --unified +
tools/make_random_audio.py), against the float64 reference tests/ref/audio_ref.py.

Inputs are float32 [N] .npy files of 16 kHz samples (and a 16-bit WAV once the
decoder is there). While the log-mel front end (src/models/mel.c, another branch) is a
stub, the features the reference computes are injected with OMNIC_AUDIO_FEATURES (the
PASS lines then say "features injected"); once it is built the whole chain is compared.
Prints "PASS <case>" / "FAIL <case>: <why>"; exit status 1 on any failure.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import wave

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools"))
sys.path.insert(0, os.path.join(ROOT, "tests", "ref"))
import audio_ref as R  # noqa: E402
import make_random_audio  # noqa: E402
import make_random_hcx  # noqa: E402
import harness  # noqa: E402
from harness import report, sanitizer_issue  # noqa: E402

OMNIC = os.environ.get("OMNIC", os.path.join(ROOT, "build", "omnic"))
TIMEOUT = 300
SR = 16000
INJECT = False   # set by detect_mode()


class CaseFail(Exception):
    pass


def run(args, env=None):
    e = dict(os.environ)
    e.pop("OMNIC_AUDIO_FEATURES", None)
    e.update(env or {})
    try:
        p = subprocess.run([OMNIC] + args, capture_output=True, text=True, timeout=TIMEOUT, env=e)
    except subprocess.TimeoutExpired:
        raise CaseFail("timeout after %ds: omnic %s" % (TIMEOUT, " ".join(args)))
    s = sanitizer_issue(p.stderr)
    if s:
        raise CaseFail("sanitizer report (%s): %s" % (s, p.stderr[-1500:]))
    return p


def signal(n, seed):
    """Speech-like test signal: chirps, amplitude-modulated noise, a silent gap."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / SR
    f0 = 150 + 100 * np.sin(2 * np.pi * 0.3 * t + seed)
    x = 0.3 * np.sin(2 * np.pi * np.cumsum(f0) / SR) * (0.6 + 0.4 * np.sin(2 * np.pi * 3.1 * t))
    x += 0.05 * rng.standard_normal(n) * (0.5 + 0.5 * np.sin(2 * np.pi * 0.7 * t + 1.0))
    x += 0.1 * np.sin(2 * np.pi * 2200 * t) * (np.sin(2 * np.pi * 1.3 * t) > 0.6)
    g = n // 3
    x[g:g + n // 10] *= 0.001
    return x.astype(np.float32)


class Model:
    def __init__(self, tmp, name, hcx_args, audio_args):
        self.dir = os.path.join(tmp, name)
        make_random_hcx.main(["--preset", "tiny", "--unified", "--out", self.dir, "--quiet"] + hcx_args)
        make_random_audio.main([self.dir] + audio_args)
        self._w = None

    def weights(self):
        if self._w is None:
            self._w = R.load(self.dir)
        return self._w


def features_dir(tmp, feats):
    d = tempfile.mkdtemp(dir=tmp, prefix="feat")
    for i, f in enumerate(feats):
        np.save(os.path.join(d, "chunk%d.npy" % i), np.asarray(f, dtype=np.float32))
    return d


def embed(m, x, tmp, stream, feats=None, path=None, extra=None):
    if path is None:
        path = os.path.join(tmp, "in.npy")
        np.save(path, x)
    out = os.path.join(tmp, "out.npy")
    if os.path.exists(out):
        os.remove(out)
    env = {"OMNIC_AUDIO_FEATURES": features_dir(tmp, feats)} if feats is not None else {}
    args = ["embed", "-m", m.dir, "--audio", path, "--stream", stream, "--out", out]
    if extra:
        env.update(extra.get("env", {}))
        args += extra.get("args", [])
    p = run(args, env)
    if p.returncode != 0:
        raise CaseFail("omnic embed -> exit %d: %s" % (p.returncode, p.stderr.strip()[-600:]))
    try:
        return np.load(out)
    except Exception as e:  # noqa: BLE001
        raise CaseFail("cannot read %s: %s" % (out, e))


def detect_mode(m, tmp):
    """Is the log-mel front end built? Otherwise inject the reference's features."""
    global INJECT
    np.save(os.path.join(tmp, "probe.npy"), signal(4000, 0))
    p = run(["embed", "-m", m.dir, "--audio", os.path.join(tmp, "probe.npy"), "--out",
             os.path.join(tmp, "probe_out.npy")])
    INJECT = p.returncode != 0 and "not built yet" in p.stderr
    print("# mode: %s" % ("features injected (log-mel not built yet)" if INJECT else "end to end"), flush=True)


def continuous_case(m, name, n, tol, tmp, seed=1, inject=None, extra=None):
    inject = INJECT if inject is None else inject
    try:
        x = signal(n, seed)
        x64 = x.astype(np.float64)
        W, cfg = m.weights()
        feats = None
        if inject:
            feats = [R.whisper_features(x64[s:e]).astype(np.float32).astype(np.float64)
                     for s, e in R.continuous_chunks(n)]
        ref = R.continuous(W, cfg, x64, feats)
        got = embed(m, x, tmp, "continuous", feats, extra=extra)
        want_rows = sum(R.chunk_rows(e - s)[1] for s, e in R.continuous_chunks(n))
        if got.dtype != np.float32 or got.ndim != 2:
            raise CaseFail("got %s %s, want float32 [N, D]" % (got.dtype, got.shape))
        if got.shape != ref.shape or got.shape[0] != want_rows:
            raise CaseFail("shape %s, reference %s (T_c %d)" % (got.shape, ref.shape, want_rows))
        if not np.all(np.isfinite(got)):
            raise CaseFail("non-finite rows")
        err = np.abs(got - ref)
        rel = float(err.max() / max(np.abs(ref).max(), 1e-30))
        msg = "%d rows, rel %.2e (tol %.0e)%s" % (got.shape[0], rel, tol, ", features injected" if inject else "")
        report(name, rel <= tol, msg)
    except CaseFail as e:
        report(name, False, str(e))


def discrete_case(m, name, n, tmp, seed=2, extra=None):
    try:
        x = signal(n, seed)
        x64 = x.astype(np.float64)
        W, _ = m.weights()
        feats = None
        if INJECT:
            feats = []
            for s, e in R.discrete_chunks(n):
                w = x64[s:e] if e - s >= R.MIN_CHUNK_D else np.pad(x64[s:e], (0, R.MIN_CHUNK_D - (e - s)))
                feats.append(R.s3_features(w).astype(np.float32).astype(np.float64))
        ref, h = R.discrete(W, x64, feats)
        got = embed(m, x, tmp, "discrete", feats, extra=extra)
        want = sum(R.s3_codes_for_frames(max(e - s, R.MIN_CHUNK_D) // 160) for s, e in R.discrete_chunks(n))
        if got.dtype != np.int32 or got.ndim != 1:
            raise CaseFail("got %s %s, want int32 [N]" % (got.dtype, got.shape))
        if got.shape != ref.shape or len(got) != want:
            raise CaseFail("%d codes, reference %d (T_d %d)" % (len(got), len(ref), want))
        if got.min() < 0 or got.max() > 6560:
            raise CaseFail("codes outside 0..6560")
        agree = float((got == ref).mean())
        near = int((np.abs(np.abs(np.tanh(h) * R.FSQ_SCALE) - 0.5) < 1e-4).any(axis=1).sum())
        msg = "%d codes over %d chunk(s), %.4f%% exact (%d differ; %d positions within 1e-4 of a rounding boundary), " \
              "%d distinct%s" % (len(got), len(R.discrete_chunks(n)), 100 * agree, int((got != ref).sum()), near,
                                 len(set(ref.tolist())), ", features injected" if INJECT else "")
        report(name, agree >= 0.99, msg)
    except CaseFail as e:
        report(name, False, str(e))


def wav_case(m, name, seconds, sr, tmp, tol):
    """16-bit PCM WAV at sr through the decoder and resampler (end-to-end mode only);
    the reference resamples with resampy kaiser_best + librosa's length rule (§2.2)."""
    try:
        n = int(seconds * sr)
        x = signal(n, 5) if sr == SR else np.interp(np.arange(n) * SR / sr, np.arange(int(seconds * SR) + 1),
                                                    signal(int(seconds * SR) + 1, 5))
        q = np.clip(np.round(x * 32767), -32768, 32767).astype("<i2")
        path = os.path.join(tmp, "in.wav")
        with wave.open(path, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(sr)
            w.writeframes(q.tobytes())
        y = q.astype(np.float64) / 32768.0
        if sr != SR:
            import resampy
            want = -(-n * SR // sr)
            y = resampy.resample(y, sr, SR, filter="kaiser_best")
            y = np.pad(y, (0, max(0, want - len(y))))[:want]
        W, cfg = m.weights()
        msgs, ok = [], True
        ref = R.continuous(W, cfg, y)
        got = embed(m, None, tmp, "continuous", path=path)
        if got.shape != ref.shape:
            raise CaseFail("shape %s, reference %s" % (got.shape, ref.shape))
        rel = float(np.abs(got - ref).max() / np.abs(ref).max())
        ok &= rel <= tol
        msgs.append("rows rel %.2e (tol %.0e)" % (rel, tol))
        codes, _ = R.discrete(W, y)
        gc = embed(m, None, tmp, "discrete", path=path)
        agree = float((gc == codes).mean()) if gc.shape == codes.shape else 0.0
        ok &= agree >= 0.99
        msgs.append("codes %d, %.2f%% exact" % (len(gc), 100 * agree))
        report(name, ok, ", ".join(msgs))
    except CaseFail as e:
        report(name, False, str(e))


def expect_error(name, args, needle, tmp, env=None):
    try:
        p = run(args, env)
        if p.returncode == 0:
            raise CaseFail("exit 0, expected an error mentioning %r" % needle)
        if needle not in p.stderr:
            raise CaseFail("error does not mention %r: %s" % (needle, p.stderr.strip()[-400:]))
        report(name, True, p.stderr.strip().splitlines()[-1][:160])
    except CaseFail as e:
        report(name, False, str(e))


def count_cases():
    """§3.3 / §5.5 examples, through the reference's formulas (and thus the test's)."""
    def tc(n):
        return sum(R.chunk_rows(e - s)[1] for s, e in R.continuous_chunks(n))

    def td(n):
        return sum(R.s3_codes_for_frames(max(e - s, 400) // 160) for s, e in R.discrete_chunks(n))
    ok = (tc(48000) == 75 and tc(480001) == 750 and tc(720000) == 1125 and tc(1600000) == 2500 and
          tc(320) == 0 and tc(400) == 1 and R.chunk_rows(1) == (1, 0))
    report("counts continuous (3 s 75, 30 s+1 750, 45 s 1125, 100 s 2500, <=320 samples 0)", ok)
    ok = (td(16000) == 25 and td(48000) == 75 and td(1280000) == 2000 and
          len(R.discrete_chunks(1288000)) == 1 and len(R.discrete_chunks(1304000)) == 2)
    report("counts discrete (1 s 25, 3 s 75, 80 s 2000, tail merge < 1 s)", ok)
    h = np.array([[1.0, -1.0, 0.0, 0.3, -0.3, 3.0, -3.0, 0.7]])
    d = np.rint(np.tanh(h) * R.FSQ_SCALE).astype(int) + 1
    report("reference FSQ example (§5.4: 4979)", int((d * 3 ** np.arange(8)).sum()) == 4979)


def main():
    tmp = tempfile.mkdtemp(prefix="omnic_audio_")
    try:
        count_cases()
        a = Model(tmp, "a_f32", [], ["--d-model", "64", "--layers", "2", "--heads", "4", "--ffn", "128",
                                     "--s3-state", "128", "--s3-blocks", "2", "--seed", "3"])
        detect_mode(a, tmp)
        for n, nm in ((400, "25 ms"), (8000, "0.5 s"), (48000 + 77, "3 s")):
            continuous_case(a, "continuous f32 %s" % nm, n, 1e-4, tmp)
        scalar = {"env": {"OMNIC_SIMD": "scalar"}, "args": ["-t", "1"]}
        continuous_case(a, "continuous f32 3 s, scalar kernels, 1 thread", 48000, 1e-4, tmp, extra=scalar)
        discrete_case(a, "discrete f32 3 s, scalar kernels, 1 thread", 48000, tmp, extra=scalar)
        continuous_case(a, "continuous f32 30 s + 100 samples (empty last chunk)", 480100, 1e-4, tmp)
        for n, nm in ((8000, "0.5 s"), (48000, "3 s"), (496000, "31 s")):
            discrete_case(a, "discrete f32 %s" % nm, n, tmp)
        b = Model(tmp, "b_bf16", ["--dtype", "bf16"],
                  ["--d-model", "96", "--layers", "3", "--heads", "3", "--ffn", "160", "--proj-hidden", "48",
                   "--s3-state", "64", "--s3-blocks", "1", "--dtype", "bf16", "--seed", "4"])
        continuous_case(b, "continuous bf16 3 s", 48000, 2e-2, tmp)
        continuous_case(b, "continuous bf16 31 s", 496000, 2e-2, tmp)
        # > 80 s on the narrower tokenizer (one head, one block) to keep the sanitizer run short
        for n, nm in ((48000, "3 s"), (1304000, "81.5 s (2 chunks)"), (1288000, "80.5 s (tail merged)")):
            discrete_case(b, "discrete bf16 %s" % nm, n, tmp)
        c = Model(tmp, "c_f16", [], ["--d-model", "128", "--layers", "1", "--ffn", "96", "--dtype", "f16",
                                     "--no-audio-config", "--no-discrete", "--seed", "5"])
        continuous_case(c, "continuous f16, no audio_config (shapes) 2 s", 32000, 2e-2, tmp)
        if not INJECT:
            continuous_case(a, "continuous f32 3 s, features injected (OMNIC_AUDIO_FEATURES)", 48000, 1e-4, tmp,
                            inject=True)
            wav_case(a, "16-bit WAV 16 kHz 2 s", 2.0, SR, tmp, 1e-4)
            wav_case(a, "16-bit WAV 44.1 kHz 2 s (resampled)", 2.0, 44100, tmp, 2e-3)

        # Errors.
        x = os.path.join(tmp, "x.npy")
        np.save(x, signal(16000, 7))
        out = os.path.join(tmp, "err.npy")
        short = os.path.join(tmp, "short.npy")
        np.save(short, signal(399, 7))
        expect_error("too short audio (399 samples)", ["embed", "-m", a.dir, "--audio", short, "--out", out],
                     "too short", tmp)
        f64 = os.path.join(tmp, "f64.npy")
        np.save(f64, signal(16000, 7).astype(np.float64))
        expect_error("float64 .npy input", ["embed", "-m", a.dir, "--audio", f64, "--out", out], "float32", tmp)
        for tag, hargs, aargs, stream, needle in (
                ("missing tensor", [], ["--drop", "model.audio_model.layers.1.fc2.bias"], "continuous",
                 "model.audio_model.layers.1.fc2.bias"),
                ("unknown tensor", [], ["--extra", "model.audio_model.layers.0.self_attn.k_proj.bias"],
                 "continuous", "model.audio_model.layers.0.self_attn.k_proj.bias"),
                ("unknown projector tensor", [], ["--extra", "model.audio_projector.fc3.weight"], "continuous",
                 "model.audio_projector.fc3.weight"),
                ("config ffn disagrees with tensors", [], ["--set-config", "encoder_ffn_dim=96"], "continuous",
                 "fc1.weight"),
                ("config fewer layers than tensors", [], ["--set-config", "encoder_layers=1"], "continuous",
                 "model.audio_model.layers.1."),
                ("bad num_mel_bins", [], ["--set-config", "num_mel_bins=80"], "continuous", "num_mel_bins"),
                ("S3 missing fsmn", [], ["--drop", "model.discrete_audio_model.encoder.blocks.0.attn.fsmn_block.weight"],
                 "discrete", "fsmn_block.weight"),
                ("S3 unknown tensor", [], ["--extra", "model.discrete_audio_model.encoder.ln_post.weight"], "discrete",
                 "model.discrete_audio_model.encoder.ln_post.weight"),
                ("no discrete tokenizer", [], ["--no-discrete"], "discrete", "no discrete audio"),
                ("no continuous encoder", [], ["--no-continuous"], "continuous", "no continuous audio")):
            try:
                bad = Model(tmp, "bad", hargs, ["--d-model", "64", "--layers", "2", "--heads", "4", "--ffn", "128",
                                                "--s3-blocks", "1"] + aargs)
            except SystemExit as e:
                report("bad checkpoint: " + tag, False, "generator failed: %s" % e)
                continue
            expect_error("bad checkpoint: " + tag,
                         ["embed", "-m", bad.dir, "--audio", x, "--stream", stream, "--out", out], needle, tmp)
            shutil.rmtree(bad.dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return harness.exit_code()


if __name__ == "__main__":
    sys.exit(main())
