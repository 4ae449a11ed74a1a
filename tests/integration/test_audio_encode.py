#!/usr/bin/python3
"""test_audio_encode.py - speech output encoding (src/media/audio_encode.c) through
`omnic encode-audio IN.npy --format F -o OUT [--stream CHUNK]`.

Every result is decoded independently: wav with Python's wave module, pcm with NumPy,
the others with the ffmpeg CLI (ffprobe for rate/channels; Ogg Opus: the OpusHead
input rate read from the bytes). Checks: rate 24000, mono, duration (960 samples per
unit matter to callers), wav/pcm/flac samples EXACTLY equal to NumPy's
(float32 y * 32767) truncated toward zero (audio.md 9.9), lossy SNR against those
samples after the best alignment (mp3/opus/aac > 20 dB on tonal signals), streaming
output decoding to the same samples, and errors naming the format.
Prints "PASS <case>" / "FAIL <case>: <why>"; exit 1 on any failure."""
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import wave

import numpy as np
import harness  # noqa: E402
from harness import report, sanitizer_issue  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OMNIC = os.environ.get("OMNIC", os.path.join(ROOT, "build", "omnic"))
SR = 24000
TIMEOUT = 120


class CaseFail(Exception):
    pass


def run(args, expect_ok=True):
    try:
        p = subprocess.run([OMNIC] + args, capture_output=True, text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        raise CaseFail("timeout: omnic %s" % " ".join(args))
    s = sanitizer_issue(p.stderr)
    if s:
        raise CaseFail("sanitizer report (%s): %s" % (s, p.stderr[-1500:]))
    if expect_ok and p.returncode != 0:
        raise CaseFail("omnic %s -> exit %d: %s" % (" ".join(args), p.returncode, p.stderr.strip()[-600:]))
    return p


def ref_s16(y):
    """audio.md 9.9 as NumPy does it: float32 product, truncation toward zero. The
    engine's conventions outside |y| <= 1: clip y to [-1, 1] first, NaN -> 0."""
    y = np.clip(y.astype(np.float32), np.float32(-1), np.float32(1))
    y = np.where(np.isnan(y), np.float32(0), y)
    v = y * np.float32(32767)
    return np.trunc(v).astype(np.int16)


def ffprobe(path):
    p = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=codec_name,sample_rate,channels",
                        "-of", "json", path], capture_output=True, text=True, timeout=TIMEOUT)
    if p.returncode != 0:
        raise CaseFail("ffprobe cannot read %s: %s" % (path, p.stderr.strip()[-300:]))
    st = json.loads(p.stdout).get("streams", [])
    if len(st) != 1:
        raise CaseFail("ffprobe: %d streams in %s" % (len(st), path))
    return st[0]


def ffdecode(path, rate=None):
    cmd = ["ffmpeg", "-v", "error", "-i", path, "-f", "s16le", "-acodec", "pcm_s16le"]
    if rate:
        cmd += ["-ar", str(rate)]
    p = subprocess.run(cmd + ["-"], capture_output=True, timeout=TIMEOUT)
    if p.returncode != 0:
        raise CaseFail("ffmpeg cannot decode %s: %s" % (path, p.stderr.decode(errors="replace")[-300:]))
    return np.frombuffer(p.stdout, dtype="<i2")


def read_wav(data):
    with wave.open(io.BytesIO(data)) as w:
        if w.getnchannels() != 1 or w.getsampwidth() != 2 or w.getframerate() != SR or w.getcomptype() != "NONE":
            raise CaseFail("wav params %s" % (w.getparams(),))
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")


def opus_head(data):
    i = data.find(b"OpusHead")
    if i < 0:
        raise CaseFail("no OpusHead in the Ogg stream")
    ch = data[i + 9]
    pre_skip, in_rate = struct.unpack_from("<HI", data, i + 10)
    return ch, in_rate, pre_skip


def snr_aligned(ref, dec, max_lag):
    """Best SNR (dB) over lags 0..max_lag of dec against ref (dec[lag:lag+n] ~ ref)."""
    r = ref.astype(np.float64)
    d = dec.astype(np.float64)
    n = len(r)
    best = (-1e9, 0)
    for lag in range(0, max_lag + 1):
        seg = d[lag:lag + n]
        if len(seg) < n:
            seg = np.concatenate([seg, np.zeros(n - len(seg))])
        e = np.sum((r - seg) ** 2)
        s = 10 * np.log10(np.sum(r ** 2) / max(e, 1e-9))
        if s > best[0]:
            best = (s, lag)
    return best


def coarse_lag(ref, dec, max_lag):
    """Lag by cross-correlation (FFT) to narrow the SNR search."""
    n = len(ref)
    m = 1 << int(np.ceil(np.log2(len(dec) + n + 1)))
    c = np.fft.irfft(np.fft.rfft(dec.astype(np.float64), m) * np.conj(np.fft.rfft(ref.astype(np.float64), m)), m)
    return int(np.argmax(c[:max_lag + 1]))


# Decoded length bounds (samples at 24 kHz) relative to n, per format and mode:
# mp3 one-shot carries the encoder delay/padding in its LAME header; a stream cannot
# (no seek back), so it starts with LAME's 1105-sample delay. Opus: pre-skip and the
# end granule trim exactly. ADTS AAC cannot signal its 1024-sample priming.
def length_bounds(fmt, n, streamed):
    if fmt in ("wav", "pcm", "flac"):
        return n, n
    if fmt == "opus":  # exact except for inputs shorter than a 20 ms frame
        return (n, n) if n >= 480 else (0, 480)
    if fmt == "mp3":
        return (max(0, n - 1152), n + 1152) if not streamed else (n, n + 1105 + 2 * 1152)
    if fmt == "aac":
        return n + 1024, n + 1024 + 1024
    raise ValueError(fmt)


LAG = {"mp3": 1105 + 1152, "aac": 1024 + 64, "opus": 64}
SNR_MIN = 20.0


def signals():
    rng = np.random.default_rng(11)
    t = lambda sec: np.arange(int(round(sec * SR))) / SR  # noqa: E731
    yield "sine440", (0.5 * np.sin(2 * np.pi * 440 * t(1.0))).astype(np.float32), True
    tt = t(2.3)
    yield "tones", (0.3 * np.sin(2 * np.pi * 220 * tt) + 0.2 * np.sin(2 * np.pi * 1250 * tt) +
                    0.1 * np.sin(2 * np.pi * 3100 * tt)).astype(np.float32), True
    # speech-like: harmonic series with a moving pitch and an envelope, 10 s
    tt = t(10.0)
    f0 = 120 + 40 * np.sin(2 * np.pi * 0.5 * tt)
    ph = 2 * np.pi * np.cumsum(f0) / SR
    env = 0.5 + 0.5 * np.sin(2 * np.pi * 3 * tt) ** 2
    y = sum((0.4 / k) * np.sin(k * ph) for k in range(1, 9)) * env
    yield "speechlike10s", y.astype(np.float32), True
    yield "noise", rng.uniform(-0.9, 0.9, int(0.5 * SR)).astype(np.float32), False
    yield "silence", np.zeros(SR, np.float32), False
    yield "one_sample", np.array([0.25], np.float32), False
    yield "units3", (0.4 * np.sin(2 * np.pi * 300 * t(3 * 960 / SR))).astype(np.float32), False


FORMATS = ["wav", "pcm", "mp3", "flac", "opus", "aac"]


def decode(fmt, path):
    """Returns the decoded int16 samples at 24 kHz after checking rate/channels."""
    data = open(path, "rb").read()
    if fmt == "wav":
        return read_wav(data)
    if fmt == "pcm":
        if len(data) % 2:
            raise CaseFail("odd pcm size %d" % len(data))
        return np.frombuffer(data, dtype="<i2")
    st = ffprobe(path)
    want_codec = {"mp3": "mp3", "flac": "flac", "opus": "opus", "aac": "aac"}[fmt]
    if st.get("codec_name") != want_codec:
        raise CaseFail("codec %s, expected %s" % (st.get("codec_name"), want_codec))
    if int(st.get("channels", 0)) != 1:
        raise CaseFail("channels %s" % st.get("channels"))
    if fmt == "opus":
        ch, in_rate, _ = opus_head(data)
        if ch != 1 or in_rate != SR:
            raise CaseFail("OpusHead channels %d input rate %d" % (ch, in_rate))
        if int(st["sample_rate"]) != 48000:
            raise CaseFail("opus decodes at %s Hz" % st["sample_rate"])
        d48 = ffdecode(path)
        if len(d48) % 2:
            raise CaseFail("opus decoded %d samples at 48 kHz, not a whole number at 24 kHz" % len(d48))
        d24 = ffdecode(path, SR)
        if abs(len(d24) - len(d48) // 2) > 1:
            raise CaseFail("opus 24 kHz decode %d vs 48 kHz %d" % (len(d24), len(d48)))
        return d24[:len(d48) // 2]
    if int(st.get("sample_rate", 0)) != SR:
        raise CaseFail("sample rate %s" % st.get("sample_rate"))
    return ffdecode(path)


def check_case(tmp, name, y, tonal, fmt, streamed, chunk):
    inp = os.path.join(tmp, name + ".npy")
    if not os.path.exists(inp):
        np.save(inp, y)
    out = os.path.join(tmp, "%s.%s%s" % (name, "s" if streamed else "", fmt))
    args = ["encode-audio", inp, "--format", fmt, "-o", out]
    if streamed:
        args += ["--stream", str(chunk)]
    p = run(args)
    info = json.loads(p.stdout)
    if info["samples"] != len(y) or info["bytes"] != os.path.getsize(out):
        raise CaseFail("JSON line %s disagrees with the file" % info)
    ref = ref_s16(y)
    n = len(y)
    if n == 0:
        return decode(fmt, out) if fmt in ("wav", "pcm", "flac") else None, "empty", info
    dec = decode(fmt, out)
    lo, hi = length_bounds(fmt, n, streamed)
    if not lo <= len(dec) <= hi:
        raise CaseFail("decoded %d samples, expected %d..%d (input %d)" % (len(dec), lo, hi, n))
    if fmt in ("wav", "pcm", "flac"):
        if len(dec) != n or not np.array_equal(dec, ref):
            bad = int(np.argmax(dec[:n] != ref)) if len(dec) >= n else -1
            raise CaseFail("samples differ from trunc(y*32767) (first at %d)" % bad)
        return dec, "exact, %d samples" % n, info
    if not tonal:
        if np.all(ref == 0) and np.max(np.abs(dec.astype(np.int32))) > 64:
            raise CaseFail("silence decodes to peak %d" % np.max(np.abs(dec)))
        return dec, "%d samples" % len(dec), info
    ml = LAG[fmt]
    c = coarse_lag(ref, dec, ml)
    snr, lag = snr_aligned(ref, dec, ml) if n <= 30000 else snr_aligned_near(ref, dec, c, ml)
    if snr < SNR_MIN:
        raise CaseFail("SNR %.1f dB < %.0f (lag %d)" % (snr, SNR_MIN, lag))
    return dec, "SNR %.1f dB at lag %d, %d samples" % (snr, lag, len(dec)), info


def snr_aligned_near(ref, dec, c, ml):
    best = (-1e9, 0)
    for lag in range(max(0, c - 8), min(ml, c + 8) + 1):
        s, _ = snr_aligned(ref, dec[lag:], 0)
        if s > best[0]:
            best = (s, lag)
    return best


def main():
    if not shutil.which("ffmpeg") or not shutil.which("ffprobe"):
        report("ffmpeg_cli", False, "ffmpeg/ffprobe not installed")
        return 1
    tmp = tempfile.mkdtemp(prefix="omnic_aenc_")
    try:
        sigs = list(signals())
        for name, y, tonal in sigs:
            for fmt in FORMATS:
                results = {}
                for streamed in (False, True):
                    chunk = 1 if len(y) <= 2 else (960 if len(y) <= 3 * SR else 4800)
                    case = "%s_%s%s" % (name, fmt, "_stream" if streamed else "")
                    try:
                        dec, why, info = check_case(tmp, name, y, tonal, fmt, streamed, chunk)
                        results[streamed] = dec
                        if streamed and len(y) >= 5 * SR and info["chunks"] < 4:
                            raise CaseFail("stream output came in %d pieces only" % info["chunks"])
                        if streamed and dec is not None and results.get(False) is not None and \
                                fmt in ("wav", "pcm", "flac", "opus", "aac"):
                            if not np.array_equal(dec, results[False]):
                                raise CaseFail("streamed decode differs from one-shot")
                            why += ", = one-shot"
                        report(case, True, why)
                    except CaseFail as e:
                        report(case, False, str(e))
        # empty input: a valid (empty) file for every format
        y0 = np.zeros(0, np.float32)
        for fmt in FORMATS:
            for streamed in (False, True):
                case = "empty_%s%s" % (fmt, "_stream" if streamed else "")
                try:
                    dec, _, _ = check_case(tmp, "empty", y0, False, fmt, streamed, 1)
                    if dec is not None and len(dec):
                        raise CaseFail("%d samples from nothing" % len(dec))
                    report(case, True)
                except CaseFail as e:
                    report(case, False, str(e))
        # int16 rule on edge values and many random ones (wav and pcm)
        rng = np.random.default_rng(3)
        edge = np.array([0, 1, -1, 0.5, -0.5, 1 / 32767, -1 / 32767, 0.99999, -0.99999, 1e-6, -1e-6,
                         1.5, -1.5, 2.0, -3.0, np.inf, -np.inf, np.nan, np.float32(12345 / 32767)],
                        np.float32)
        rnd = rng.uniform(-1, 1, 200000).astype(np.float32)
        # values whose float32 product lands near an integer (where float64 would differ)
        k = rng.integers(-32767, 32767, 20000)
        near = (k / 32767.0).astype(np.float32)
        yy = np.concatenate([edge, rnd, near, np.nextafter(near, np.float32(2)),
                             np.nextafter(near, np.float32(-2))])
        for fmt in ("wav", "pcm"):
            case = "int16_rule_%s" % fmt
            try:
                dec, why, _ = check_case(tmp, "edge", yy, False, fmt, False, 0)
                report(case, True, "%d values exact" % len(yy))
            except CaseFail as e:
                report(case, False, str(e))
        # streamed wav header: unknown length
        try:
            p = os.path.join(tmp, "sine440.swav")
            h = open(p, "rb").read(44)
            if h[:4] != b"RIFF" or struct.unpack_from("<I", h, 4)[0] != 0xFFFFFFFF or \
                    struct.unpack_from("<I", h, 40)[0] != 0xFFFFFFFF:
                raise CaseFail("header %r" % h)
            p1 = open(os.path.join(tmp, "sine440.wav"), "rb").read()
            if struct.unpack_from("<I", p1, 40)[0] != 2 * SR or struct.unpack_from("<I", p1, 4)[0] != 36 + 2 * SR:
                raise CaseFail("one-shot header sizes wrong")
            report("wav_stream_header", True)
        except CaseFail as e:
            report("wav_stream_header", False, str(e))
        # errors name the format / the problem and never crash
        inp = os.path.join(tmp, "sine440.npy")
        bad_int = os.path.join(tmp, "int.npy")
        np.save(bad_int, np.zeros(10, np.int32))
        bad_2d = os.path.join(tmp, "2d.npy")
        np.save(bad_2d, np.zeros((3, 4), np.float32))
        junk = os.path.join(tmp, "junk.npy")
        open(junk, "wb").write(b"\x93NUMPY\x01\x00garbage")
        for case, args, want in [
            ("err_unknown_format", [inp, "--format", "wma"], "wma"),
            ("err_rate_mp3", [inp, "--format", "mp3", "--sr", "100"], "mp3"),
            ("err_rate_wav_stream", [inp, "--format", "wav", "--sr", "500000", "--stream", "10"], "wav"),
            ("err_int_npy", [bad_int, "--format", "wav"], "int.npy"),
            ("err_2d_npy", [bad_2d, "--format", "wav"], "2d.npy"),
            ("err_junk_npy", [junk, "--format", "flac"], "junk.npy"),
        ]:
            try:
                o = os.path.join(tmp, "err.out")
                p = run(["encode-audio"] + args + ["-o", o], expect_ok=False)
                if p.returncode == 0 or want not in p.stderr or p.returncode < 0:
                    raise CaseFail("exit %d, stderr %r" % (p.returncode, p.stderr[-300:]))
                report(case, True)
            except CaseFail as e:
                report(case, False, str(e))
        # another input rate: 22050 Hz opus is resampled to 24 kHz (the next rate libopus takes)
        try:
            t = np.arange(22050) / 22050
            y = (0.5 * np.sin(2 * np.pi * 500 * t)).astype(np.float32)
            p2 = os.path.join(tmp, "r22.npy")
            np.save(p2, y)
            o = os.path.join(tmp, "r22.opus")
            run(["encode-audio", p2, "--format", "opus", "-o", o, "--sr", "22050"])
            ch, in_rate, _ = opus_head(open(o, "rb").read())
            d = ffdecode(o, 22050)
            if in_rate != 24000 or abs(len(d) - len(y)) > 2:
                raise CaseFail("input rate %d, %d samples for %d" % (in_rate, len(d), len(y)))
            snr, lag = snr_aligned(ref_s16(y), d, 64)
            if snr < SNR_MIN:
                raise CaseFail("SNR %.1f" % snr)
            report("opus_22050_resampled", True, "SNR %.1f dB" % snr)
        except CaseFail as e:
            report("opus_22050_resampled", False, str(e))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return harness.exit_code()


if __name__ == "__main__":
    sys.exit(main())
