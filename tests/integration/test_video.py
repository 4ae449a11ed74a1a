#!/usr/bin/python3
"""test_video.py - the video input path (vision.md §1.7) against independent references.

Clips are generated here with the ffmpeg CLI (tiny: testsrc/mandelbrot, mp4/h264, webm/vp9,
mkv, avi/mjpeg with an odd size, a BT.709-tagged clip, a portrait one; 24/25/30 fps).
  $OMNIC video F --frames-out R.npy --decoded-out D.npy --out P.npy   (one JSON line)
  $OMNIC video --plan TOTAL:FPS:W:H [--track a|b]                      (sampling/size only)
References, all run here:
  - frame count and fps: ffprobe -count_packets (decord counts the stream's packets) and the
    stream's avg_frame_rate; n and indices: NumPy reimplementation of §1.7 steps 2-3 and
    torch.linspace(...).round(); sizes: Python float smart_resize (video variant) and the
    §1.7 test vectors;
  - decoded RGB frames: the ffmpeg CLI's own decode (-pix_fmt rgb24 rawvideo, its default
    libavfilter scale conversion), compared exactly;
  - resized frames: torchvision.transforms.functional.resize(uint8 CHW, BICUBIC,
    antialias=True) on the same decoded frames, compared exactly;
  - pixel_values: NumPy float32 fused normalisation + §1.5 patchify of the resized frames,
    compared exactly;
  - bad input (not a video, zero-length, truncated, audio-only, 1 frame, missing file,
    directory) -> exit 1 with an error naming the file; a mutation-fuzz loop.
"""
import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import torch
from torchvision.transforms import InterpolationMode
from torchvision.transforms import functional as TF
import harness  # noqa: E402
from harness import report, sanitizer_issue  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OMNIC = os.environ.get("OMNIC", os.path.join(ROOT, "build", "omnic"))
SAN = "san" in os.path.basename(os.path.normpath(os.environ.get("BUILD_DIR", "build")))
TIMEOUT = 120

MEAN = (0.48145466, 0.4578275, 0.40821073)
STD = (0.26862954, 0.26130258, 0.27577711)


class CaseFail(Exception):
    pass


def run_omnic(args, check=True):
    try:
        p = subprocess.run([OMNIC] + args, capture_output=True, text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        raise CaseFail("timeout: omnic %s" % " ".join(args))
    s = sanitizer_issue(p.stderr)
    if s:
        raise CaseFail("sanitizer report (%s): %s" % (s, p.stderr[-1500:]))
    if p.returncode < 0:
        raise CaseFail("omnic %s killed by signal %d" % (" ".join(args), -p.returncode))
    if check and p.returncode != 0:
        raise CaseFail("omnic %s -> exit %d: %s" % (" ".join(args), p.returncode, p.stderr.strip()[-600:]))
    return p


def ffmpeg(args):
    p = subprocess.run(["ffmpeg", "-v", "error", "-y"] + args, capture_output=True, timeout=TIMEOUT)
    if p.returncode != 0:
        raise RuntimeError("ffmpeg %s: %s" % (" ".join(args), p.stderr.decode()[-400:]))


# ---------------------------------------------------------------- references

def floor_even(x):
    return math.floor(x / 2) * 2


def ref_nframes(total, fps, fmax):
    max_frames = floor_even(min(fmax, total))
    target = total / fps * 2.0
    n = floor_even(min(min(max(target, 4), max_frames), total))
    if n < 2 or n > total:
        return None
    return int(n)


def ref_indices_numpy(total, n):
    v = np.linspace(0, total - 1, n).astype(np.float32)
    return [int(x) for x in np.round(v)]


def ref_indices_torch(total, n):
    return torch.linspace(0, total - 1, n).round().long().tolist()


def ref_smart_resize(H, W, f=28, min_px=100352, max_px=142884):
    if max(H, W) / min(H, W) > 200:
        return None
    h = max(f, round(H / f) * f)
    w = max(f, round(W / f) * f)
    if h * w > max_px:
        beta = math.sqrt((H * W) / max_px)
        h = math.floor(H / beta / f) * f
        w = math.floor(W / beta / f) * f
    elif h * w < min_px:
        beta = math.sqrt(min_px / (H * W))
        h = math.ceil(H * beta / f) * f
        w = math.ceil(W * beta / f) * f
    return h, w


def ref_patchify(frames):
    n, H, W, _ = frames.shape
    m = np.array([np.float32(x) * np.float32(255) for x in MEAN], np.float32)
    s = np.array([np.float32(x) * np.float32(255) for x in STD], np.float32)
    v = (frames.astype(np.float32) - m) / s
    gt, gh, gw = n // 2, H // 14, W // 14
    v = v.reshape(gt, 2, gh // 2, 2, 14, gw // 2, 2, 14, 3)
    v = v.transpose(0, 2, 5, 3, 6, 8, 1, 4, 7)   # t, bh, bw, r, s, c, tau, y, x
    return np.ascontiguousarray(v.reshape(gt * gh * gw, 3 * 2 * 14 * 14)), (gt, gh, gw)


def ffprobe(path):
    p = subprocess.run(["ffprobe", "-v", "error", "-count_packets", "-select_streams", "v:0",
                        "-show_entries", "stream=nb_read_packets,avg_frame_rate,r_frame_rate,width,height",
                        "-of", "json", path], capture_output=True, text=True, timeout=TIMEOUT)
    st = json.loads(p.stdout)["streams"][0]
    num, den = (int(x) for x in st["avg_frame_rate"].split("/"))
    if num <= 0 or den <= 0:
        num, den = (int(x) for x in st["r_frame_rate"].split("/"))
    return int(st["nb_read_packets"]), num / den, int(st["width"]), int(st["height"])


def ffmpeg_rgb_frames(path, w, h):
    p = subprocess.run(["ffmpeg", "-v", "error", "-i", path, "-map", "0:v:0", "-fps_mode", "passthrough",
                        "-pix_fmt", "rgb24", "-f", "rawvideo", "-"], capture_output=True, timeout=TIMEOUT)
    if p.returncode != 0:
        raise CaseFail("ffmpeg decode of %s failed: %s" % (path, p.stderr.decode()[-300:]))
    return np.frombuffer(p.stdout, np.uint8).reshape(-1, h, w, 3)


# ---------------------------------------------------------------- clips

def make_clips(tmp):
    def p(name):
        return os.path.join(tmp, name)
    clips = {}
    ffmpeg(["-f", "lavfi", "-i", "testsrc=size=320x240:rate=25", "-t", "3", "-c:v", "libx264",
            "-preset", "ultrafast", "-pix_fmt", "yuv420p", p("a.mp4")])
    clips["mp4-h264-320x240-25fps"] = p("a.mp4")
    ffmpeg(["-f", "lavfi", "-i", "mandelbrot=size=640x480:rate=30", "-t", "2", "-c:v", "libvpx-vp9",
            "-deadline", "realtime", "-cpu-used", "8", "-b:v", "300k", p("b.webm")])
    clips["webm-vp9-640x480-30fps"] = p("b.webm")
    ffmpeg(["-f", "lavfi", "-i", "testsrc=size=161x121:rate=24", "-t", "2", "-c:v", "mjpeg", p("c.avi")])
    clips["avi-mjpeg-161x121-24fps"] = p("c.avi")
    ffmpeg(["-f", "lavfi", "-i", "testsrc=size=240x320:rate=30", "-t", "2", "-c:v", "libx264",
            "-preset", "ultrafast", "-pix_fmt", "yuv420p", p("d.mkv")])
    clips["mkv-h264-portrait-240x320-30fps"] = p("d.mkv")
    ffmpeg(["-f", "lavfi", "-i", "testsrc=size=320x180:rate=24", "-t", "2", "-vf",
            "scale=out_color_matrix=bt709:out_range=tv", "-c:v", "libx264", "-preset", "ultrafast",
            "-pix_fmt", "yuv420p", "-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709",
            p("e.mp4")])
    clips["mp4-h264-bt709-320x180-24fps"] = p("e.mp4")
    ffmpeg(["-f", "lavfi", "-i", "testsrc=size=64x48:rate=10", "-t", "9.6", "-c:v", "libx264",
            "-preset", "veryfast", "-bf", "3", "-g", "12", "-pix_fmt", "yuv420p", p("f.mp4")])
    clips["mp4-h264-64x48-10fps-bframes"] = p("f.mp4")
    return clips


def clip_case(name, path, tmp, track="a"):
    fr, dd, pv = (os.path.join(tmp, x) for x in ("fr.npy", "dd.npy", "pv.npy"))
    for x in (fr, dd, pv):
        if os.path.exists(x):
            os.remove(x)
    out = run_omnic(["video", path, "--track", track, "--frames-out", fr, "--decoded-out", dd, "--out", pv])
    r = json.loads(out.stdout.strip().splitlines()[-1])
    total, fps, W, H = ffprobe(path)
    fmax = 170 if track == "a" else 128
    # frame count, fps, indices, sizes
    ok = r["total_frames"] == total and abs(r["fps"] - fps) <= 1e-12 * fps and \
        (r["src_width"], r["src_height"]) == (W, H)
    report(name + "/count", ok, "total %d fps %g (ffprobe %d, %g)" % (r["total_frames"], r["fps"], total, fps))
    n = ref_nframes(total, fps, fmax)
    idx_np, idx_t = ref_indices_numpy(total, n), ref_indices_torch(total, n)
    report(name + "/indices", r["n"] == n and r["indices"] == idx_np == idx_t,
           "n %d %s" % (r["n"], r["indices"]) if r["n"] == n else "n %d vs %d" % (r["n"], n))
    h, w = ref_smart_resize(H, W)
    report(name + "/size", (r["height"], r["width"]) == (h, w) and
           r["grid"] == [n // 2, h // 14, w // 14] and r["tokens"] == n // 2 * (h // 28) * (w // 28),
           "%dx%d -> %dx%d grid %s" % (W, H, r["width"], r["height"], r["grid"]))
    # decoded frames vs the ffmpeg CLI
    d = np.load(dd)
    ref = ffmpeg_rgb_frames(path, W, H)
    if ref.shape[0] <= max(idx_t):
        report(name + "/decode", False, "ffmpeg decoded only %d frames" % ref.shape[0])
        return
    ref = ref[idx_t]
    diff = np.abs(ref.astype(np.int16) - d.astype(np.int16)) if d.shape == ref.shape else None
    report(name + "/decode", diff is not None and diff.max() == 0,
           "exact vs ffmpeg CLI rgb24, %d frames" % d.shape[0] if diff is not None and diff.max() == 0 else
           ("shape %s vs %s" % (d.shape, ref.shape) if diff is None else
            "max diff %d, %d values differ" % (diff.max(), int((diff > 0).sum()))))
    # resized frames vs torchvision on the same decoded frames
    f = np.load(fr)
    t = torch.from_numpy(d).permute(0, 3, 1, 2).contiguous()
    tv = TF.resize(t, [h, w], interpolation=InterpolationMode.BICUBIC, antialias=True)
    tv = tv.permute(0, 2, 3, 1).numpy()
    dr = np.abs(tv.astype(np.int16) - f.astype(np.int16)) if f.shape == tv.shape else None
    report(name + "/resize", dr is not None and dr.max() == 0,
           "bit-exact vs torchvision, %d values" % f.size if dr is not None and dr.max() == 0 else
           ("shape %s vs %s" % (f.shape, tv.shape) if dr is None else
            "max diff %d, %d values differ" % (dr.max(), int((dr > 0).sum()))))
    # pixel values vs NumPy normalisation + patchify of the resized frames
    got = np.load(pv)
    want, grid = ref_patchify(f)
    same = got.dtype == np.float32 and got.shape == want.shape and np.array_equal(got, want)
    report(name + "/pixel_values", same and list(grid) == r["grid"],
           "exact, %s" % (got.shape,) if same else
           "%s %s vs %s, max diff %g" % (got.dtype, got.shape, want.shape,
                                         float(np.abs(got - want).max()) if got.shape == want.shape else -1))


def memory_case(tmp):
    """A 12 s 640x480 clip: decoding must keep only the sampled frames (all 360 decoded RGB
    frames would be 330 MB)."""
    path = os.path.join(tmp, "long.mp4")
    ffmpeg(["-f", "lavfi", "-i", "testsrc=size=640x480:rate=30", "-t", "12", "-c:v", "libx264",
            "-preset", "ultrafast", "-pix_fmt", "yuv420p", path])
    code = ("import resource,subprocess,sys;p=subprocess.run(sys.argv[1:],capture_output=True,text=True);"
            "print(p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss);print(p.stdout)")
    p = subprocess.run([sys.executable, "-c", code, OMNIC, "video", path], capture_output=True, text=True,
                       timeout=TIMEOUT)
    first, rest = p.stdout.split("\n", 1)
    rc, rss_kb = (int(x) for x in first.split())
    try:
        r = json.loads(rest.strip())
    except ValueError:
        report("long-clip/memory", False, "exit %d, no JSON: %s" % (rc, p.stderr[-300:]))
        return
    ok = rc == 0 and r["total_frames"] == 360 and r["n"] == 24
    if not SAN:
        ok = ok and rss_kb < 150 * 1024
    report("long-clip/memory", ok, "360 frames, n=%d, max RSS %.0f MB%s" %
           (r["n"], rss_kb / 1024, " (not checked under ASan)" if SAN else " (< 150 MB)"))


def plan_cases():
    # §1.7 test vectors: W x H -> W' x H', tokens per 2 frames
    vectors = [((1920, 1080), (476, 280), 170), ((1280, 720), (504, 280), 180), ((720, 1280), (280, 504), 180),
               ((640, 480), (420, 308), 165), ((480, 480), (364, 364), 169)]
    for (W, H), (w2, h2), tok in vectors:
        try:
            r = json.loads(run_omnic(["video", "--plan", "100:25:%d:%d" % (W, H)]).stdout)
            ok = (r["width"], r["height"]) == (w2, h2) and r["tokens"] == r["n"] // 2 * tok
            report("plan/size-%dx%d" % (W, H), ok, "%dx%d" % (r["width"], r["height"]))
        except CaseFail as e:
            report("plan/size-%dx%d" % (W, H), False, str(e))
    # the spec's 60 s 30 fps 1920x1080 example: n = 120, 10,200 rows
    r = json.loads(run_omnic(["video", "--plan", "1800:30:1920:1080"]).stdout)
    report("plan/60s-1080p", r["n"] == 120 and r["tokens"] == 10200, "n %d tokens %d" % (r["n"], r["tokens"]))
    # random totals / fps / sizes vs NumPy + torch; large totals vs torch only
    rng = random.Random(7)
    bad, count = [], 0
    cases = [(2, 25.0), (3, 25.0), (4, 30.0), (5, 1.0), (7, 100.0), (171, 1.0), (340, 1.0), (100000, 0.5)]
    cases += [(rng.randint(2, 3000), rng.choice([23.976, 24.0, 25.0, 29.97, 30.0, 50.0, 60.0, 2.5, 0.7]))
              for _ in range(60)]
    cases += [(rng.randint(10 ** 5, 3 * 10 ** 6), rng.choice([30.0, 0.01, 0.005])) for _ in range(12)]
    sizes = [(rng.randint(1, 4000), rng.randint(1, 4000)) for _ in range(40)] + [(1, 150), (3000, 20), (28, 28)]
    for i, (total, fps) in enumerate(cases):
        W, H = sizes[i % len(sizes)]
        for track, fmax in (("a", 170), ("b", 128)):
            count += 1
            p = run_omnic(["video", "--plan", "%d:%r:%d:%d" % (total, fps, W, H), "--track", track], check=False)
            n = ref_nframes(total, fps, fmax)
            hw = ref_smart_resize(H, W)
            if n is None or hw is None or hw[0] < 28 or hw[1] < 28:
                if p.returncode != 1 or "omnic:" not in p.stderr:
                    bad.append("%d:%g:%dx%d should fail, got exit %d" % (total, fps, W, H, p.returncode))
                continue
            if p.returncode != 0:
                bad.append("%d:%g:%dx%d: %s" % (total, fps, W, H, p.stderr.strip()))
                continue
            r = json.loads(p.stdout)
            want = ref_indices_torch(total, n)
            if total < 100000 and ref_indices_numpy(total, n) != want:
                bad.append("numpy and torch disagree at %d,%d" % (total, n))
            if r["n"] != n or r["indices"] != want or (r["height"], r["width"]) != hw:
                bad.append("%d:%g:%dx%d: n %d/%d size %dx%d/%dx%d idx %s" % (
                    total, fps, W, H, r["n"], n, r["width"], r["height"], hw[1], hw[0],
                    "ok" if r["indices"] == want else "differ"))
    report("plan/random", not bad, "%d cases" % count if not bad else "; ".join(bad[:4]))


def bad_input_cases(tmp, clips):
    def p(name):
        return os.path.join(tmp, name)
    with open(p("text.mp4"), "w") as f:
        f.write("this is not a video\n" * 50)
    open(p("empty.mp4"), "wb").close()
    ffmpeg(["-f", "lavfi", "-i", "sine=frequency=440:duration=1", "-c:a", "aac", p("audio.m4a")])
    ffmpeg(["-f", "lavfi", "-i", "testsrc=size=64x48:rate=10", "-frames:v", "1", "-c:v", "libx264",
            "-pix_fmt", "yuv420p", p("one.mp4")])
    data = open(clips["mp4-h264-320x240-25fps"], "rb").read()
    with open(p("trunc.mp4"), "wb") as f:   # moov at the end: the index is lost
        f.write(data[:len(data) // 2])
    ffmpeg(["-i", clips["mp4-h264-320x240-25fps"], "-c", "copy", "-movflags", "+faststart", p("fast.mp4")])
    fast = open(p("fast.mp4"), "rb").read()
    with open(p("trunc_fast.mp4"), "wb") as f:   # index intact, media data cut short
        f.write(fast[:len(fast) * 2 // 3])
    os.mkdir(p("dir.mp4"))
    cases = [("not-a-video", "text.mp4", "not a readable video"), ("zero-length", "empty.mp4", "empty"),
             ("audio-only", "audio.m4a", "no video stream"), ("one-frame", "one.mp4", "at least 2"),
             ("truncated", "trunc.mp4", ""), ("missing", "nope.mp4", "cannot open"),
             ("directory", "dir.mp4", "not a regular file")]
    for name, f, want in cases:
        try:
            r = run_omnic(["video", p(f)], check=False)
            err = r.stderr.strip()
            ok = r.returncode == 1 and p(f) in err and want in err
            report("bad/" + name, ok, err if ok else "exit %d: %s" % (r.returncode, err[-300:]))
        except CaseFail as e:
            report("bad/" + name, False, str(e))
    # a truncated file whose index survives: either a clean error naming the file or
    # success on the packets that could be read
    try:
        r = run_omnic(["video", p("trunc_fast.mp4")], check=False)
        if r.returncode == 0:
            j = json.loads(r.stdout)
            ok, why = j["total_frames"] <= 75, "decoded: %d frames counted" % j["total_frames"]
        else:
            ok, why = r.returncode == 1 and p("trunc_fast.mp4") in r.stderr, r.stderr.strip()
        report("bad/truncated-faststart", ok, why)
    except CaseFail as e:
        report("bad/truncated-faststart", False, str(e))
    # the in-memory path gives the same result as the file path
    try:
        path = clips["avi-mjpeg-161x121-24fps"]
        a = run_omnic(["video", path, "--out", p("m1.npy")]).stdout
        b = run_omnic(["video", path, "--from-memory", "--out", p("m2.npy")]).stdout
        report("from-memory", a == b and np.array_equal(np.load(p("m1.npy")), np.load(p("m2.npy"))))
        r = run_omnic(["video", p("audio.m4a"), "--from-memory"], check=False)
        report("from-memory/audio-only", r.returncode == 1 and "no video stream" in r.stderr, r.stderr.strip())
    except CaseFail as e:
        report("from-memory", False, str(e))


def fuzz_cases(tmp, clips):
    rng = random.Random(1234)
    seeds = [open(clips[k], "rb").read() for k in ("mp4-h264-64x48-10fps-bframes", "avi-mjpeg-161x121-24fps")]
    n_runs, n_ok, problems = 0, 0, []
    path = os.path.join(tmp, "fuzz.bin")
    for it in range(36 if not SAN else 24):
        data = bytearray(seeds[it % 2])
        kind = it % 3
        if kind == 0:
            for _ in range(rng.randint(1, 16)):
                data[rng.randrange(len(data))] = rng.randrange(256)
        elif kind == 1:
            data = data[:rng.randrange(len(data))]
        else:
            pos = rng.randrange(len(data))
            data[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
        with open(path, "wb") as f:
            f.write(data)
        n_runs += 1
        try:
            r = run_omnic(["video", path], check=False)
        except CaseFail as e:
            problems.append("mutant %d: %s" % (it, e))
            continue
        if r.returncode == 0:
            n_ok += 1
        elif r.returncode != 1 or path not in r.stderr:
            problems.append("mutant %d: exit %d: %s" % (it, r.returncode, r.stderr[-200:]))
    report("fuzz", not problems, "%d mutants, %d decoded, the rest rejected cleanly" % (n_runs, n_ok)
           if not problems else "; ".join(problems[:3]))


def main():
    if not os.access(OMNIC, os.X_OK):
        report("omnic-binary", False, "%s not found or not executable" % OMNIC)
        return 1
    tmp = tempfile.mkdtemp(prefix="omnic_video_")
    try:
        clips = make_clips(tmp)
        for name, path in clips.items():
            try:
                clip_case(name, path, tmp)
            except CaseFail as e:
                report(name, False, str(e))
        try:
            clip_case("mp4-h264-320x240-25fps-trackb", clips["mp4-h264-320x240-25fps"], tmp, track="b")
        except CaseFail as e:
            report("trackb", False, str(e))
        memory_case(tmp)
        plan_cases()
        bad_input_cases(tmp, clips)
        fuzz_cases(tmp, clips)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return harness.exit_code()


if __name__ == "__main__":
    sys.exit(main())
