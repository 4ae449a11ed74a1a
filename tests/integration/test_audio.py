#!/usr/bin/python3
"""test_audio.py - the audio front end (audio.md §2, §3, §5.2) through
`omnic audio F [--memory] [--max-seconds S] [--out pcm.npy] [--mel whisper|s3 --mel-out F.npy]`.

Test files are generated here: WAV written byte by byte (16/24/32-bit int, 8-bit,
float32; mono, stereo, 5.1; 8/16/22.05/44.1/48 kHz), the rest with the `ffmpeg`
command (FLAC, MP3, OGG/Vorbis, Opus, M4A/AAC, WebM, MP4 video with an audio track).
References, all independent of the engine:
  * decoded samples: the WAV/FLAC source arrays (exact), or `ffmpeg -f f32le` of the
    same lossy file at its own rate (no resampling), channels averaged in NumPy;
  * resampling: python3-resampy 0.4.2 kaiser_best + librosa's length rule;
  * Whisper features: a NumPy float64 implementation of §3.1 written here, checked
    against torchaudio (Spectrogram + melscale_fbanks) and the WhisperFeatureExtractor
    of the @huggingface/transformers npm package (when installed);
  * S3 features: NumPy float64 §5.2; counts: the §3.3/§5.5 formulas and examples.
Bad input (no audio stream, corrupt, truncated, empty, absurd headers, too short,
too long) must exit non-zero with a message naming the file; a deterministic
mutation fuzz over small WAV/MP3/FLAC files must never crash.
Prints "PASS <case>" / "FAIL <case>: <why>"; exit status 1 on any failure.
"""
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time

import numpy as np
import harness  # noqa: E402
from harness import report, sanitizer_issue  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OMNIC = os.environ.get("OMNIC", os.path.join(ROOT, "build", "omnic"))
PRE_CFG = os.path.normpath(os.path.join(
    ROOT, "..", "shared", "reference", "omni-8b-audio-encoder",
    "qwen2-audio-encoder-from-qwen2-audio-7b-instruct", "preprocessor_config.json"))
TJS_CANDIDATES = [
    os.path.join(ROOT, "tests", "oracle", "node_modules", "@huggingface", "transformers"),
    "/work/h-image/tests/oracle/node_modules/@huggingface/transformers",
]
TIMEOUT = 120
T0 = time.time()


class CaseFail(Exception):
    pass


class Skip(Exception):
    pass


def run(args, timeout=TIMEOUT):
    try:
        p = subprocess.run([OMNIC] + args, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise CaseFail("timed out: omnic %s" % " ".join(args))
    return p.returncode, p.stdout, p.stderr


def audio(path, *extra):
    rc, out, err = run(["audio", path] + list(extra))
    san = sanitizer_issue(err)
    if san:
        raise CaseFail("%s: %s" % (san, err[-800:]))
    if rc != 0:
        raise CaseFail("omnic audio %s failed (%d): %s" % (path, rc, err.strip()[-400:]))
    return json.loads(out.strip().splitlines()[-1])


def case(name, fn):
    t0 = time.time()
    try:
        r = fn()
        if os.environ.get("AUDIO_TEST_TIMES"):
            r = "%s, %.2f s" % (r or "", time.time() - t0)
        report(name, True, r or "")
    except CaseFail as e:
        report(name, False, str(e))
    except Skip as e:  # neither PASS nor FAIL: an optional oracle is missing
        print("SKIP %s: %s" % (name, e), flush=True)
    except Exception as e:  # a bug in the test or an unexpected output
        report(name, False, "%s: %s" % (type(e).__name__, e))


def ffmpeg(*args):
    p = subprocess.run(["ffmpeg", "-v", "error", "-y", "-nostdin"] + list(args), capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError("ffmpeg %s: %s" % (" ".join(args), p.stderr[-300:]))


# ---- test signals and WAV files ---------------------------------------------------

def signal(n, sr, ch, seed, amp=0.6):
    """Deterministic band-limited-ish content: a few sines per channel plus noise."""
    rng = np.random.RandomState(seed)
    t = np.arange(n) / sr
    out = np.zeros((n, ch))
    for c in range(ch):
        for _ in range(3):
            f = rng.uniform(60, 0.42 * sr)
            out[:, c] += rng.uniform(0.1, 0.3) * np.sin(2 * np.pi * f * t + rng.uniform(0, 6.28))
        out[:, c] += 0.03 * rng.randn(n)
    return np.clip(out * amp / max(1e-9, np.abs(out).max()), -1, 1)


def wav_bytes(data, sr, ch, bits, tag, n_frames=None, extra_fmt=b""):
    """A RIFF/WAVE file from raw sample bytes; header fields may be set to anything."""
    block = ch * bits // 8
    fmt = struct.pack("<HHIIHH", tag, ch & 0xFFFF, sr & 0xFFFFFFFF, (sr * block) & 0xFFFFFFFF,
                      block & 0xFFFF, bits) + extra_fmt
    size = len(data) if n_frames is None else n_frames
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", size & 0xFFFFFFFF) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


def write_wav(path, x, sr, kind):
    """x: float [n, ch] in [-1, 1]. Returns the exact float values the file holds."""
    n, ch = x.shape
    if kind == "s16":
        q = np.clip(np.round(x * 32767), -32768, 32767).astype("<i2")
        data, val, bits, tag = q.tobytes(), q / 32768.0, 16, 1
    elif kind == "s24":
        q = np.clip(np.round(x * 8388607), -8388608, 8388607).astype("<i4")
        b = q.astype("<i4").view(np.uint8).reshape(-1, 4)[:, :3]
        data, val, bits, tag = b.tobytes(), q / 8388608.0, 24, 1
    elif kind == "s32":
        q = np.clip(np.round(x * 2147483647), -2147483648, 2147483647).astype("<i4")
        data, val, bits, tag = q.tobytes(), q / 2147483648.0, 32, 1
    elif kind == "u8":
        q = np.clip(np.round(x * 127) + 128, 0, 255).astype(np.uint8)
        data, val, bits, tag = q.tobytes(), (q.astype(np.float64) - 128) / 128.0, 8, 1
    elif kind == "f32":
        q = x.astype("<f4")
        data, val, bits, tag = q.tobytes(), q.astype(np.float64), 32, 3
    elif kind == "f64":
        q = (x * 0.999).astype("<f8")  # not representable in float32: the engine rounds once
        data, val, bits, tag = q.tobytes(), q.astype(np.float32).astype(np.float64), 64, 3
    else:
        raise ValueError(kind)
    with open(path, "wb") as f:
        f.write(wav_bytes(data, sr, ch, bits, tag))
    return val


def mono(val):
    """Channel mean of exact sample values, rounded once to float32."""
    return np.asarray(val, np.float64).mean(axis=1).astype(np.float32)


_resampy = None


def ref_16k(m, sr, dtype=np.float32):
    """librosa 0.9.1 / resampy 0.4.2: kaiser_best, then length ceil(n * 16000 / sr).
    librosa passes float32 (resampy then accumulates in float32); dtype=float64
    gives resampy's float64 computation of the same filter."""
    global _resampy
    if sr == 16000:
        return m.astype(np.float32)
    if _resampy is None:
        import resampy
        _resampy = resampy
    y = _resampy.resample(m.astype(np.float32).astype(dtype), sr, 16000, filter="kaiser_best")
    n = int(np.ceil(len(m) * (float(16000) / sr)))
    return np.pad(y, (0, max(0, n - len(y))))[:n]


def ffmpeg_decode(path):
    """Independent decode: the ffmpeg command, first audio stream, float32, native rate."""
    pr = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "a:0", "-show_entries",
                         "stream=sample_rate,channels", "-of", "json", path], capture_output=True, text=True)
    st = json.loads(pr.stdout)["streams"][0]
    sr, ch = int(st["sample_rate"]), int(st["channels"])
    p = subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-i", path, "-map", "0:a:0", "-f", "f32le",
                        "-c:a", "pcm_f32le", "-"], capture_output=True)
    x = np.frombuffer(p.stdout, "<f4").reshape(-1, ch)
    return x, sr


# ---- NumPy float64 references of §3 and §5.2 ------------------------------------

LOGSTEP = np.log(6.4) / 27.0


def hz_to_mel(f):
    f = np.asarray(f, np.float64)
    return np.where(f >= 1000, 15 + np.log(np.maximum(f, 1e-300) / 1000) / LOGSTEP, f * 3 / 200)


def mel_to_hz(m):
    m = np.asarray(m, np.float64)
    return np.where(m >= 15, 1000 * np.exp(LOGSTEP * (m - 15)), m * 200 / 3)


def slaney_fbank(sr=16000, n_fft=400, n_mels=128, fmin=0.0, fmax=8000.0):
    F = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    phi = np.arange(n_fft // 2 + 1) * sr / n_fft
    W = np.zeros((n_mels, n_fft // 2 + 1))
    for b in range(n_mels):
        up = (phi - F[b]) / (F[b + 1] - F[b])
        down = (F[b + 2] - phi) / (F[b + 2] - F[b + 1])
        W[b] = np.maximum(0, np.minimum(up, down)) * 2 / (F[b + 2] - F[b])
    return F, W.astype(np.float32)


FB = slaney_fbank()[1].astype(np.float64)


def ref_logmel(q, T):
    w = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(400) / 400)
    out = np.empty((128, T))
    for s in range(0, T, 1000):
        f = np.arange(s, min(T, s + 1000))
        X = np.fft.rfft(q[f[:, None] * 160 + np.arange(400)[None, :]] * w, axis=1)
        out[:, f] = FB @ (X.real ** 2 + X.imag ** 2).T
    L = np.log10(np.maximum(out, 1e-10))
    L = np.maximum(L, L.max() - 8)
    return (L + 4) / 4


def ref_whisper(x):
    p = np.zeros(480000)
    p[:len(x)] = x
    return ref_logmel(np.pad(p, 200, mode="reflect"), 3000)


def ref_s3(x):
    x = np.asarray(x, np.float64)
    if len(x) < 400:
        x = np.pad(x, (0, 400 - len(x)))
    return ref_logmel(np.pad(x, 200, mode="reflect"), len(x) // 160)


def s3_chunks(n):
    out, s = [], 0
    while s < n:
        ln = min(1280000, n - s)
        if 0 < n - (s + ln) < 16000:
            ln = n - s
        out.append((s, ln))
        s += ln
    return out


def count_rows(n):
    rows = 0
    for s in range(0, n, 480000):
        ln = min(480000, n - s)
        n_mel = -(-ln // 160)
        l1 = (n_mel - 1) // 2 + 1
        rows += (l1 - 2) // 2 + 1
    return rows


def count_codes(n):
    codes = 0
    for _, ln in s3_chunks(n):
        t = max(ln, 400) // 160
        t1 = (t - 1) // 2 + 1
        codes += (t1 - 1) // 2 + 1
    return codes


# ---- cases ----------------------------------------------------------------------

def main():
    if not os.path.exists(OMNIC):
        report("binary", False, "%s not found" % OMNIC)
        return 1
    tmp = tempfile.mkdtemp(prefix="omnic_audio_")
    try:
        run_cases(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("# %.1f s" % (time.time() - T0))
    return harness.exit_code()


def run_cases(tmp):
    P = lambda name: os.path.join(tmp, name)  # noqa: E731

    # -- lossless WAV / FLAC: exact samples, resampling vs resampy --------------
    wavs = [  # name, sr, channels, kind, seconds
        ("s16_16k_mono", 16000, 1, "s16", 1.0),
        ("s16_44k_stereo", 44100, 2, "s16", 1.5),
        ("s24_16k_stereo", 16000, 2, "s24", 0.5),
        ("s24_48k_mono", 48000, 1, "s24", 1.0),
        ("s32_22k_mono", 22050, 1, "s32", 1.0),
        ("s32_16k_5.1", 16000, 6, "s32", 0.5),
        ("f32_8k_mono", 8000, 1, "f32", 2.0),
        ("f32_16k_stereo", 16000, 2, "f32", 0.5),
        ("s16_48k_5.1", 48000, 6, "s16", 1.0),
        ("u8_16k_mono", 16000, 1, "u8", 0.5),
        ("f64_16k_mono", 16000, 1, "f64", 0.5),
        ("s16_11025_mono", 11025, 1, "s16", 0.5),
        ("s16_44101_mono", 44101, 1, "s16", 0.5),   # 16000 phases: the engine's direct path
        ("s16_768k_mono", 768000, 1, "s16", 0.1),
        ("s16_1k_mono", 1000, 1, "s16", 1.0),
    ]
    sources = {}
    resample_errs = []
    for i, (name, sr, ch, kind, sec) in enumerate(wavs):
        def c(name=name, sr=sr, ch=ch, kind=kind, sec=sec, i=i):
            path = P(name + ".wav")
            val = write_wav(path, signal(int(sec * sr), sr, ch, seed=10 + i), sr, kind)
            sources[name] = (path, val, sr)
            out = P(name + ".npy")
            info = audio(path, "--out", out)
            got = np.load(out)
            want = ref_16k(mono(val), sr)
            if info["sample_rate"] != sr or info["channels"] != ch or info["container"] != "wav":
                raise CaseFail("info %s" % info)
            if info["source_samples"] != len(val) or info["samples"] != len(want) or len(got) != len(want):
                raise CaseFail("lengths: info %s, got %d, want %d" % (info, len(got), len(want)))
            err = float(np.abs(got.astype(np.float64) - want).max())
            if sr == 16000:
                if err != 0:
                    raise CaseFail("decoded samples differ from the file's exact values by %g" % err)
            else:
                err64 = float(np.abs(got.astype(np.float64) - ref_16k(mono(val), sr, np.float64)).max())
                resample_errs.append((err, err64))
                if err > 1e-5 or err64 > 1e-6:
                    raise CaseFail("resampled signal differs from resampy kaiser_best by %g (float32 input), "
                                   "%g (float64)" % (err, err64))
            # the in-memory path gives the same bits
            out2 = P(name + ".mem.npy")
            audio(path, "--memory", "--out", out2)
            if not np.array_equal(np.load(out2), got):
                raise CaseFail("--memory decode differs from the file decode")
            return "max err %.3g%s, %s, %d -> %d samples" % (
                err, " (float64 resampy %.3g)" % resample_errs[-1][1] if sr != 16000 else "", info["codec"], len(val), len(got))
        case("wav_" + name, c)
    if resample_errs:
        print("# resampling vs resampy: max abs error %.3g (librosa's float32 input), %.3g (float64) over %d inputs" % (
            max(e[0] for e in resample_errs), max(e[1] for e in resample_errs), len(resample_errs)))

    def flac_case(src, extra, label):
        def c():
            path, val, sr = sources[src]
            fl = P(label + ".flac")
            ffmpeg("-i", path, *extra, fl)
            out = P(label + ".npy")
            info = audio(fl, "--out", out)
            got, want = np.load(out), ref_16k(mono(val), sr)
            if info["codec"] != "flac" or len(got) != len(want):
                raise CaseFail("info %s, %d samples (want %d)" % (info, len(got), len(want)))
            err = float(np.abs(got.astype(np.float64) - want).max())
            if err > (0 if sr == 16000 else 1e-5):
                raise CaseFail("differs from the source by %g" % err)
            return "max err %.3g" % err
        return c
    case("flac_s16_16k_mono", flac_case("s16_16k_mono", [], "flac16"))
    case("flac_s16_44k_stereo", flac_case("s16_44k_stereo", [], "flac44"))
    case("flac_s24_16k_stereo", flac_case("s24_16k_stereo", ["-sample_fmt", "s32"], "flac24"))

    # -- lossy containers: vs the ffmpeg command's own decode, then resampy ------
    base = P("lossy_src.wav")
    write_wav(base, signal(int(1.6 * 44100), 44100, 2, seed=77), 44100, "s16")
    base48 = P("lossy_src48.wav")
    write_wav(base48, signal(int(1.3 * 48000), 48000, 2, seed=78), 48000, "s16")
    lossy = [  # name, source, ffmpeg args, expected codec (our decoder's name)
        ("mp3", base, ["-c:a", "libmp3lame", "-b:a", "128k"], "a.mp3", "mp3float"),
        ("ogg_vorbis", base, ["-ar", "22050", "-ac", "1", "-c:a", "libvorbis"], "a.ogg", "vorbis"),
        ("opus", base48, ["-c:a", "libopus", "-b:a", "64k"], "a.opus", "opus"),
        ("m4a_aac", base48, ["-c:a", "aac", "-b:a", "96k"], "a.m4a", "aac"),
        ("webm_opus", base48, ["-ac", "1", "-c:a", "libopus"], "a.webm", "opus"),
        ("mp3_8k_mono", base, ["-ar", "8000", "-ac", "1", "-c:a", "libmp3lame"], "b.mp3", "mp3float"),
    ]
    for name, src, args, fname, codec in lossy:
        def c(src=src, args=args, fname=fname, codec=codec):
            f = P(fname)
            ffmpeg("-i", src, *args, f)
            return check_lossy(f, codec, P(fname + ".npy"))
        case("lossy_" + name, c)

    def video_case():
        f = P("video.mp4")
        ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x48:rate=10:duration=1.2", "-i", base48,
               "-c:v", "mpeg4", "-c:a", "aac", "-shortest", f)
        return check_lossy(f, "aac", P("video.npy"))
    case("video_mp4_audio_track", video_case)

    # -- Whisper log-mel ---------------------------------------------------------
    mel_inputs = [  # name, samples
        ("min_400", 400),
        ("1s", 16000),
        ("3s_77", 48077),
        ("dyn_range_5s", 80000),
        ("30s", 480000),
        ("30s_plus_1", 480001),
        ("45s", 720000),
        ("90s", 1440000),
    ]
    mel_errs = []
    tjs_jobs = []
    for i, (name, n) in enumerate(mel_inputs):
        def c(name=name, n=n, i=i):
            x = signal(n, 16000, 1, seed=200 + i, amp=0.5)[:, 0]
            if name.startswith("dyn"):
                x[: n // 2] *= 1e-4  # quiet half: bins near the g - 8 clamp
            path = P("mel_%s.wav" % name)
            val = write_wav(path, x[:, None], 16000, "f32")[:, 0]
            out = P("mel_%s.npy" % name)
            info = audio(path, "--mel", "whisper", "--mel-out", out)
            F = np.load(out)
            nc = -(-n // 480000)
            if F.shape != (nc, 128, 3000) or info["mel_shape"] != [nc, 128, 3000]:
                raise CaseFail("shape %s, info %s" % (F.shape, info.get("mel_shape")))
            err = 0.0
            for k in range(nc):
                chunk = val[480000 * k: 480000 * (k + 1)]
                err = max(err, float(np.abs(F[k] - ref_whisper(chunk)).max()))
                if name in ("min_400", "3s_77", "dyn_range_5s", "30s_plus_1"):
                    raw = P("tjs_%s_%d.f32" % (name, k))
                    chunk.astype("<f4").tofile(raw)
                    tjs_jobs.append((name, k, raw, F[k]))
            mel_errs.append(err)
            if err > 1e-4:
                raise CaseFail("max |F - NumPy float64| = %g" % err)
            return "max err %.3g, %d chunk(s), %.1f ms" % (err, nc, info["mel_ms"])
        case("whisper_mel_" + name, c)
    if mel_errs:
        print("# whisper features vs NumPy float64: max abs error %.3g" % max(mel_errs))

    case("whisper_mel_vs_transformers_js", lambda: check_tjs(tjs_jobs, tmp))
    case("whisper_ref_vs_torchaudio", lambda: check_torchaudio(P))
    case("filterbank_check_values", check_filterbank)

    def chain_case():
        path, val, sr = sources["s16_44k_stereo"]
        out = P("chain.npy")
        audio(path, "--mel", "whisper", "--mel-out", out)
        F = np.load(out)[0]
        err = float(np.abs(F - ref_whisper(ref_16k(mono(val), sr).astype(np.float64))).max())
        if err > 1e-4:
            raise CaseFail("44.1 kHz stereo WAV -> features differ from resampy + NumPy by %g" % err)
        return "max err %.3g" % err
    case("whisper_mel_44k_chain", chain_case)

    # -- S3 log-mel ----------------------------------------------------------------
    s3_inputs = [("min_400", 400), ("3s_77", 48077), ("81s_tail_merged", 1280000 + 15000),
                 ("100s_two_chunks", 1600000)]
    for i, (name, n) in enumerate(s3_inputs):
        def c(name=name, n=n, i=i):
            x = signal(n, 16000, 1, seed=300 + i, amp=0.5)[:, 0]
            path = P("s3_%s.wav" % name)
            val = write_wav(path, x[:, None], 16000, "f32")[:, 0]
            out = P("s3_%s.npy" % name)
            info = audio(path, "--mel", "s3", "--mel-out", out)
            F = np.load(out)
            parts = [ref_s3(val[s:s + ln]) for s, ln in s3_chunks(n)]
            want = np.concatenate(parts, axis=1)
            got_ch = [(c["start"], c["samples"], c["frames"]) for c in info["s3_chunks"]]
            want_ch = [(s, ln, p.shape[1]) for (s, ln), p in zip(s3_chunks(n), parts)]
            if got_ch != want_ch or F.shape != want.shape:
                raise CaseFail("chunks %s (want %s), shape %s (want %s)" % (got_ch, want_ch, F.shape, want.shape))
            err = float(np.abs(F - want).max())
            if err > 1e-4:
                raise CaseFail("max |F - NumPy float64| = %g" % err)
            return "max err %.3g, chunks %s" % (err, [c[1] for c in got_ch])
        case("s3_mel_" + name, c)

    # -- lengths and counts (§3.3, §5.5) -------------------------------------------
    def counts_case():
        examples = {  # samples: (continuous rows, discrete codes) from the spec's examples
            48000: (75, 75), 480001: (750, None), 720000: (1125, None), 1600000: (2500, 2500),
            1280000: (None, 2000), 16000: (None, 25),
        }
        checked = []
        for n in sorted(set(list(examples) + [400, 401, 3200, 480000, 480320, 480321, 1295999, 1296000])):
            path = P("cnt_%d.wav" % n)
            with open(path, "wb") as f:
                f.write(wav_bytes(b"\0\0" * n, 16000, 1, 16, 1))
            info = audio(path)
            want_r, want_c = count_rows(n), count_codes(n)
            ex = examples.get(n, (None, None))
            if ex[0] is not None and ex[0] != want_r or ex[1] is not None and ex[1] != want_c:
                raise CaseFail("test formulas disagree with the spec example at %d" % n)
            if info["samples"] != n or info["continuous_rows"] != want_r or info["discrete_codes"] != want_c:
                raise CaseFail("n=%d: got rows %s codes %s, want %d %d" % (
                    n, info["continuous_rows"], info["discrete_codes"], want_r, want_c))
            checked.append(n)
        return "%d lengths" % len(checked)
    case("counts", counts_case)

    # -- bad input -------------------------------------------------------------------
    run_bad_inputs(P, sources, base)
    run_fuzz(P, sources, base)


def check_lossy(f, codec, out):
    info = audio(f, "--out", out)
    got = np.load(out)
    x, sr = ffmpeg_decode(f)
    want = ref_16k(mono(x), sr)
    if info["codec"] != codec or info["sample_rate"] != sr or info["channels"] != x.shape[1]:
        raise CaseFail("info %s (want codec %s, %d Hz, %d ch)" % (info, codec, sr, x.shape[1]))
    if len(got) != len(want):
        raise CaseFail("%d samples, the ffmpeg decode gives %d" % (len(got), len(want)))
    err = float(np.abs(got.astype(np.float64) - want).max())
    if err > 1e-5:
        raise CaseFail("differs from ffmpeg's decode + resampy by %g" % err)
    if np.abs(got).max() < 0.05:
        raise CaseFail("decoded signal is silent")
    out2 = out + ".mem.npy"
    audio(f, "--memory", "--out", out2)
    if not np.array_equal(np.load(out2), got):
        raise CaseFail("--memory decode differs from the file decode")
    return "max err %.3g, %s, %d Hz x%d" % (err, info["container"], sr, x.shape[1])


def check_tjs(jobs, tmp):
    pkg = next((p for p in TJS_CANDIDATES
                if os.path.isfile(os.path.join(p, "dist", "transformers.node.mjs"))), None)
    if pkg is None:
        raise Skip("@huggingface/transformers is not installed in tests/oracle")
    if not jobs:
        raise CaseFail("no chunks to compare")
    entry = os.path.join(pkg, "dist", "transformers.node.mjs")
    script = os.path.join(tmp, "wfe.mjs")
    with open(script, "w") as f:
        f.write("""
import { pathToFileURL } from 'node:url';
import fs from 'node:fs';
const [entry, cfgPath, ...files] = process.argv.slice(2);
const t = await import(pathToFileURL(entry).href);
const fe = new t.WhisperFeatureExtractor(JSON.parse(fs.readFileSync(cfgPath, 'utf8')));
for (const f of files) {
  const b = fs.readFileSync(f);
  const x = new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
  const r = await fe._call(x);
  if (r.input_features.dims.join(',') !== '1,128,3000') throw new Error('dims ' + r.input_features.dims);
  fs.writeFileSync(f + '.out', Buffer.from(new Float32Array(r.input_features.data).buffer));
}
""")
    p = subprocess.run(["node", script, entry, PRE_CFG] + [j[2] for j in jobs],
                       capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        raise CaseFail("node: %s" % p.stderr[-500:])
    err = 0.0
    for name, k, raw, F in jobs:
        ref = np.fromfile(raw + ".out", "<f4").reshape(128, 3000)
        err = max(err, float(np.abs(F - ref).max()))
    if err > 1e-4:
        raise CaseFail("max |F - WhisperFeatureExtractor (transformers.js)| = %g" % err)
    print("# whisper features vs transformers.js: max abs error %.3g over %d chunks" % (err, len(jobs)))
    return "max err %.3g over %d chunks (%s)" % (err, len(jobs), os.path.relpath(pkg, ROOT) if pkg.startswith(ROOT) else pkg)


def check_torchaudio(P):
    """The NumPy reference itself against torchaudio's spectrogram and filterbank."""
    import torch
    import torchaudio
    x = signal(100000, 16000, 1, seed=5)[:, 0]
    p = torch.zeros(480000, dtype=torch.float64)
    p[:len(x)] = torch.from_numpy(x)
    spec = torchaudio.transforms.Spectrogram(n_fft=400, hop_length=160, power=2.0, center=True,
                                             pad_mode="reflect", window_fn=torch.hann_window,
                                             wkwargs={"dtype": torch.float64})(p)[:, :3000]
    fb = torchaudio.functional.melscale_fbanks(201, 0.0, 8000.0, 128, 16000, norm="slaney", mel_scale="slaney")
    fb = fb.to(torch.float32).to(torch.float64)  # [201, 128], float32 storage (§3.2)
    M = (fb.T @ spec).numpy()
    L = np.log10(np.maximum(M, 1e-10))
    L = np.maximum(L, L.max() - 8)
    ta = (L + 4) / 4
    e_fb = float(np.abs(fb.numpy().T - FB).max())
    e = float(np.abs(ta - ref_whisper(x)).max())
    # torchaudio builds the filterbank in float32 (~2e-7 from the float64 build)
    if e_fb > 1e-6 or e > 1e-4:
        raise CaseFail("NumPy reference vs torchaudio: filterbank %g, features %g" % (e_fb, e))
    return "filterbank %.2g, features %.2g" % (e_fb, e)


def check_filterbank():
    F, W = slaney_fbank()
    ok = (abs(F[1] - 23.38276) < 1e-5 and abs(F[129] - 8000) < 1e-6
          and np.count_nonzero(W[0]) == 1 and abs(W[0, 1] - 0.0123740) < 5e-8
          and np.all(W[127, 191:200] > 0) and abs(W[127].sum() - 0.0249360) < 5e-7
          and np.all(W.sum(axis=1) > 0))
    if not ok:
        raise CaseFail("§3.2 check values: F1 %r F129 %r row0 nz %d W01 %r row127 sum %r" % (
            F[1], F[129], np.count_nonzero(W[0]), W[0, 1], W[127].sum()))
    return "F[1] = %.5f Hz, W[0][1] = %.7f, row 127 sum %.7f" % (F[1], W[0, 1], W[127].sum())


# ---- bad input -------------------------------------------------------------------------

def expect_error(name, path, extra=(), want=None):
    def c():
        for mode in ([], ["--memory"]) if os.path.isfile(path) else ([],):
            rc, out, err = run(["audio", path] + mode + list(extra))
            san = sanitizer_issue(err)
            if san:
                raise CaseFail("%s: %s" % (san, err[-800:]))
            if rc == 0:
                raise CaseFail("accepted %s: %s" % (" ".join(mode), out.strip()))
            if rc < 0 or rc > 2:
                raise CaseFail("exit status %d (crash?): %s" % (rc, err[-300:]))
            if path not in err:
                raise CaseFail("message does not name the file: %s" % err.strip())
            if want and want not in err:
                raise CaseFail("message lacks '%s': %s" % (want, err.strip()))
        return err.strip().replace(path, "F")[:110]
    case("bad_" + name, c)


def run_bad_inputs(P, sources, base):
    def write(name, data):
        path = P(name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    pcm = np.zeros(16000, "<i2").tobytes()
    expect_error("empty_file", write("empty.wav", b""), want="empty")
    expect_error("random_bytes", write("junk.bin", np.random.RandomState(1).bytes(5000)))
    expect_error("text_file", write("notes.mp3", b"hello, this is not audio\n" * 50))
    expect_error("missing_file", P("does_not_exist.wav"), want="cannot open")
    expect_error("directory", os.path.dirname(P("x")), want="not a regular file")
    expect_error("wav_0_channels", write("ch0.wav", wav_bytes(pcm, 16000, 0, 16, 1)))
    expect_error("wav_1e9_hz", write("hz1e9.wav", wav_bytes(pcm, 1000000000, 1, 16, 1)))
    expect_error("wav_500_hz", write("hz500.wav", wav_bytes(pcm, 500, 1, 16, 1)), want="sample rate")
    expect_error("wav_0_hz", write("hz0.wav", wav_bytes(pcm, 0, 1, 16, 1)))
    expect_error("wav_100_channels", write("ch100.wav", wav_bytes(b"\0" * 200 * 100, 16000, 100, 16, 1)),
                 want="channels")
    expect_error("wav_65535_channels", write("ch65535.wav", wav_bytes(b"\0" * 4096, 16000, 65535, 16, 1)))
    expect_error("wav_bits_0", write("bits0.wav", wav_bytes(pcm, 16000, 1, 0, 1)))
    expect_error("wav_unknown_format_tag", write("tag.wav", wav_bytes(pcm, 16000, 1, 16, 0x7777)))
    expect_error("wav_header_only", write("hdr.wav", wav_bytes(b"", 16000, 1, 16, 1)))
    # a data chunk claiming 10^8 bytes (3125 s) with 1 s present
    expect_error("wav_claims_3125s", write("claims.wav", wav_bytes(pcm, 16000, 1, 16, 1, n_frames=100000000)),
                 want="truncated")
    full = open(sources["s16_44k_stereo"][0], "rb").read()
    cut = 44 + (len(full) - 44) * 6 // 10 // 4 * 4
    expect_error("wav_truncated", write("trunc.wav", full[:cut]), want="truncated")
    expect_error("wav_truncated_mid_sample", write("trunc2.wav", full[:cut + 3]))

    def streamed_wav():
        # data size 0xFFFFFFFF is the streaming convention (length unknown): decode what is there
        path = write("streamed.wav", wav_bytes(pcm, 16000, 1, 16, 1, n_frames=0xFFFFFFFF))
        info = audio(path)
        if info["samples"] != 16000:
            raise CaseFail("info %s" % info)
    case("wav_streamed_size", streamed_wav)
    expect_error("too_short_16k", write("short.wav", wav_bytes(b"\1\0" * 399, 16000, 1, 16, 1)), want="too short")
    expect_error("too_short_after_resampling",
                 write("short44.wav", wav_bytes(b"\1\0" * 1000, 44100, 1, 16, 1)), want="too short")
    expect_error("too_long_declared", sources["s16_44k_stereo"][0], ["--max-seconds", "0.2"], want="longer")
    expect_error("too_long_exact", sources["s16_44k_stereo"][0], ["--max-seconds", "1.4999"], want="longer")
    # an MP3 without a Xing header (no declared duration): the limit is hit while decoding
    nox = P("noxing.mp3")
    ffmpeg("-i", base, "-c:a", "libmp3lame", "-write_xing", "0", "-id3v2_version", "0", nox)
    expect_error("too_long_while_decoding", nox, ["--max-seconds", "0.5"], want="longer")
    # no audio stream: a video-only file
    vo = P("video_only.mp4")
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x48:rate=10:duration=1", "-c:v", "mpeg4", "-an", vo)
    expect_error("video_without_audio", vo, want="no audio stream")
    # truncated / corrupt compressed files
    mp3 = P("a.mp3")
    if os.path.exists(mp3):
        d = open(mp3, "rb").read()
        expect_error("mp3_truncated", write("trunc.mp3", d[: len(d) // 2]))
        rng = np.random.RandomState(3)
        bad = bytearray(d)
        bad[len(d) // 4: len(d) * 3 // 4] = rng.bytes(len(d) * 3 // 4 - len(d) // 4)
        expect_error("mp3_corrupt_middle", write("corrupt.mp3", bytes(bad)))
    fl = P("flac44.flac")
    if os.path.exists(fl):
        d = open(fl, "rb").read()
        expect_error("flac_truncated", write("trunc.flac", d[: len(d) // 2]))
        bad = bytearray(d)
        for k in range(len(d) // 3, len(d) // 3 + 400):
            bad[k] ^= 0x5A
        expect_error("flac_corrupt", write("corrupt.flac", bytes(bad)))
    m4a = P("a.m4a")
    if os.path.exists(m4a):
        d = open(m4a, "rb").read()
        expect_error("m4a_truncated", write("trunc.m4a", d[: len(d) // 2]))
    # bad option values
    def bad_opt():
        path = sources["s16_16k_mono"][0]
        for args in (["--mel", "mfcc", "--mel-out", "x.npy"], ["--mel", "whisper"], ["--max-seconds", "-1"],
                     ["--max-seconds", "abc"]):
            rc, _, err = run(["audio", path] + args)
            if rc == 0 or sanitizer_issue(err):
                raise CaseFail("accepted %s" % args)
    case("bad_options", bad_opt)


def run_fuzz(P, sources, base):
    seeds = []
    w = P("fz.wav")
    write_wav(w, signal(6000, 8000, 2, seed=9), 8000, "s16")
    seeds.append(w)
    m = P("fz.mp3")
    ffmpeg("-i", w, "-c:a", "libmp3lame", "-b:a", "32k", m)
    seeds.append(m)
    f = P("fz.flac")
    ffmpeg("-i", w, f)
    seeds.append(f)
    rng = np.random.RandomState(2024)
    iters = int(os.environ.get("AUDIO_FUZZ_ITERS", "16"))

    def c():
        runs = accepted = 0
        for s in seeds:
            d = open(s, "rb").read()
            for it in range(iters):
                b = bytearray(d)
                op = it % 4
                if op == 0:   # flip a few bytes anywhere
                    for _ in range(rng.randint(1, 12)):
                        b[rng.randint(len(b))] = rng.randint(256)
                elif op == 1:  # header damage: extreme 32-bit values in the first 64 bytes
                    for _ in range(rng.randint(1, 4)):
                        k = rng.randint(0, 60)
                        b[k:k + 4] = struct.pack("<I", [0, 0xFFFFFFFF, 0x7FFFFFFF, rng.randint(1 << 31)][rng.randint(4)])
                elif op == 2:  # truncate
                    b = b[: rng.randint(1, len(b))]
                else:          # duplicate / delete a block
                    k, ln = rng.randint(len(b)), rng.randint(1, 600)
                    b = b[:k] + b[k:k + ln] * rng.randint(0, 3) + b[k + ln:]
                path = P("fuzz%s" % os.path.splitext(s)[1])
                with open(path, "wb") as fo:
                    fo.write(bytes(b))
                rc, out, err = run(["audio", path] + (["--memory"] if it % 2 else []) + ["--mel", "s3", "--mel-out", P("fz.npy")],
                                   timeout=60)
                runs += 1
                san = sanitizer_issue(err)
                if san or rc not in (0, 1):
                    keep = P("fuzz_crash_%d%s" % (runs, os.path.splitext(s)[1]))
                    shutil.copy(path, keep)
                    raise CaseFail("%s on a mutation of %s (op %d): rc %d %s" % (san or "crash", os.path.basename(s), op, rc, err[-600:]))
                if rc == 0:
                    accepted += 1
                    json.loads(out.strip().splitlines()[-1])
                elif path not in err:
                    raise CaseFail("error without the file name: %s" % err.strip())
        return "%d mutated files, %d accepted, no crash" % (runs, accepted)
    case("fuzz_mutations", c)


if __name__ == "__main__":
    sys.exit(main())
