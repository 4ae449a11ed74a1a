#!/usr/bin/python3
"""test_mm.py - media in the LLM sequence, end to end (llm.md §5, vision.md §3,
audio.md §6), on random-weight unified checkpoints written by tools/make_random_vlm.py
(+ tools/make_random_audio.py, tools/make_random_tatok.py):

  * `omnic embed --image` (PNG and JPEG files) against the independent chain Pillow
    decode/resize (tests/integration/test_image.py's reference) -> NumPy patchify ->
    tests/ref/vit_ref.py: relative error <= 1e-4 (max_abs / max|ref|);
  * `omnic logits --image F --image G` (Think-32B layout: <|IMAGE_PAD|> expanded to the
    merged-token rows) against tests/ref/hcx_ref.py fed the reference rows at the
    expanded positions (the embedding multiplier applies to them): <= 1e-4;
  * Omni layout with audio: <|DISCRETE_AUDIO_PAD|> -> ids <|audio0000|> + unit (units
    from tests/ref/audio_ref.py), <|AUDIO_PAD|> -> continuous rows; logits <= 1e-4;
  * Omni layout with an image: the discrete TA-Tok block in layout A (ratio token,
    27 x (27 codes + <|vision_eol|>), <|vision_eof|>) then the continuous rows (when the
    model has a TA-Tok; codes from the engine itself, checked separately by
    test_tatok.py): logits <= 1e-4 against the reference given those ids and rows;
  * errors: more placeholders than media, media without a placeholder, a text-only
    model given an image, a corrupt image file: non-zero exit, message naming it;
  * `omnic run --chat --image` and `omnic chat` with /image: an answer, exit 0;
  * `omnic serve` + the official openai npm client (tests/oracle/openai_media.mjs):
    image data URLs on /v1 and /a, audio on /b, /v1/audio/transcriptions.
"""
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import wave

import numpy as np
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OMNIC = os.environ.get("OMNIC", os.path.join(ROOT, "build", "omnic"))
PY = sys.executable
sys.path.insert(0, os.path.join(ROOT, "tests", "ref"))
import audio_ref  # noqa: E402
import hcx_ref  # noqa: E402
import vit_ref  # noqa: E402
import harness  # noqa: E402
from harness import report, sanitizer_issue  # noqa: E402

_spec = importlib.util.spec_from_file_location("test_image", os.path.join(ROOT, "tests", "integration", "test_image.py"))
timg = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(timg)


def run(args, ok=True, stdin=None, timeout=600):
    p = subprocess.run([OMNIC] + args, capture_output=True, text=True, input=stdin, timeout=timeout)
    s = sanitizer_issue(p.stderr)
    if s:
        raise RuntimeError("sanitizer report (%s): %s" % (s, p.stderr[-1500:]))
    if ok and p.returncode != 0:
        raise RuntimeError("omnic %s -> exit %d: %s" % (" ".join(args[:2]), p.returncode, p.stderr.strip()[-500:]))
    return p


def tool(name, args):
    subprocess.run([PY, os.path.join(ROOT, "tools", name)] + args, check=True, capture_output=True, timeout=600)


def token_ids(d):
    tj = json.load(open(os.path.join(d, "tokenizer.json")))
    return {t["content"]: t["id"] for t in tj["added_tokens"]}


def rel(a, b):
    return float(np.abs(np.asarray(a, np.float64) - b).max() / max(np.abs(b).max(), 1e-30))


def ref_image_rows(vm, path):
    rgb = timg.ref_rgb(path)
    h, w = timg.ref_smart_resize(rgb.shape[0], rgb.shape[1])
    x, grid = timg.ref_patches(timg.ref_resize(rgb, w, h))
    return vit_ref.encode(vm, x.astype(np.float64), [grid])


def expand(ids, parts):
    """ids with placeholders -> (expanded ids, {pos: row}); parts: {ph: [list of (ids|None, rows|None)]}."""
    out, rows, used = [], {}, {k: 0 for k in parts}
    for t in ids:
        if t in parts:
            item_ids, item_rows = parts[t][used[t]]
            used[t] += 1
            if item_ids is not None:
                out.extend(int(v) for v in item_ids)
            else:
                for r in item_rows:
                    rows[len(out)] = r
                    out.append(0)
        else:
            out.append(t)
    return out, rows


def make_images(tmp):
    rs = np.random.RandomState(7)
    a = os.path.join(tmp, "a.png")
    y, x = np.mgrid[0:60, 0:100]
    arr = np.stack([(x * 2.5) % 256, (y * 4) % 256, ((x + y) * 3) % 256], -1).astype(np.uint8)
    arr = np.clip(arr.astype(int) + rs.randint(-20, 20, arr.shape), 0, 255).astype(np.uint8)
    Image.fromarray(arr, "RGB").save(a)
    b = os.path.join(tmp, "b.jpg")
    Image.fromarray(rs.randint(0, 255, (150, 90, 3)).astype(np.uint8), "RGB").resize((130, 200)).save(b, quality=90)
    return a, b


def make_wav(tmp, seconds=1.2, sr=16000):
    t = np.arange(int(seconds * sr)) / sr
    x = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.1 * np.sin(2 * np.pi * 1375 * t) + 0.05 * np.random.RandomState(3).randn(len(t))
    pcm = np.clip(x * 32767, -32768, 32767).astype("<i2")
    path = os.path.join(tmp, "q.wav")
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes(pcm.tobytes())
    return path, pcm.astype(np.float64) / 32768.0


def has_tatok():
    return os.path.exists(os.path.join(ROOT, "tools", "make_random_tatok.py"))


def main():
    tmp = tempfile.mkdtemp(prefix="omnic-mm-")
    try:
        A = os.path.join(tmp, "track-a")
        O = os.path.join(tmp, "omni")
        tool("make_random_vlm.py", ["--out", A, "--layout", "track-a", "--seed", "3", "--quiet"])
        tool("make_random_vlm.py", ["--out", O, "--layout", "omni", "--seed", "4", "--vision-codes", "512", "--quiet"])
        tool("make_random_audio.py", [O, "--seed", "5"])
        tatok = has_tatok()
        if tatok:
            tool("make_random_tatok.py", ["--model", O, "--seed", "6", "--codebook", "512", "--quiet"])
        img_a, img_b = make_images(tmp)
        wav, x16 = make_wav(tmp)
        ta = token_ids(A)
        to = token_ids(O)

        # ---- Track A: embed and logits with two images
        vm = vit_ref.load(A)
        ref_a, ref_b = ref_image_rows(vm, img_a), ref_image_rows(vm, img_b)
        for name, path, ref in (("png", img_a, ref_a), ("jpeg", img_b, ref_b)):
            out = os.path.join(tmp, "e.npy")
            run(["embed", "-m", A, "--image", path, "--out", out])
            got = np.load(out)
            ok = got.shape == ref.shape and rel(got, ref) <= 1e-4
            report("track-a/embed_%s" % name, ok, "shape %s vs %s, rel %.2e" % (got.shape, ref.shape,
                                                                                 rel(got, ref) if got.shape == ref.shape else -1))
        pad = ta["<|IMAGE_PAD|>"]
        ids = [5, 17, ta["<|image_start|>"], pad, ta["<|image_end|>"], 9, ta["<|image_start|>"], pad,
               ta["<|image_end|>"], 33, 2]
        exp, rows = expand(ids, {pad: [(None, ref_a), (None, ref_b)]})
        lm = hcx_ref.load(A)
        ref_lg = lm.logits(exp, rows)
        out = os.path.join(tmp, "l.npy")
        run(["logits", "-m", A, "--ids", ",".join(map(str, ids)), "--image", img_a, "--image", img_b, "--out", out])
        got = np.load(out)
        report("track-a/logits_two_images", got.shape == ref_lg.shape and rel(got, ref_lg) <= 1e-4,
               "T %d (expanded from %d), rel %.2e" % (got.shape[0], len(ids), rel(got, ref_lg) if got.shape == ref_lg.shape else -1))

        # ---- Track A: a short video (<|VIDEO_PAD|> -> n/2 temporal groups of merged rows);
        # the pixel values come from `omnic video` (checked bit-exact against torchvision
        # and NumPy by test_video.py), the encoder and the placement are checked here
        vid = os.path.join(tmp, "v.mp4")
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=96x64:rate=4:duration=2",
                        "-pix_fmt", "yuv420p", "-c:v", "libx264", vid], check=True, timeout=120)
        pxp = os.path.join(tmp, "px.npy")
        info = json.loads(run(["video", vid, "--track", "a", "--out", pxp]).stdout.strip().splitlines()[-1])
        grid = tuple(info["grid"])
        ref_v = vit_ref.encode(vm, np.load(pxp).astype(np.float64), [grid])
        run(["embed", "-m", A, "--video", vid, "--out", out])
        got = np.load(out)
        report("track-a/embed_video", got.shape == ref_v.shape and rel(got, ref_v) <= 1e-4,
               "grid %s, rows %d, rel %.2e" % (grid, len(ref_v), rel(got, ref_v) if got.shape == ref_v.shape else -1))
        vpad = ta["<|VIDEO_PAD|>"]
        ids = [5, ta["<|video_start|>"], vpad, ta["<|video_end|>"], 7, pad, 8]
        exp, rows = expand(ids, {vpad: [(None, ref_v)], pad: [(None, ref_a)]})
        ref_lg = lm.logits(exp, rows)
        run(["logits", "-m", A, "--ids", ",".join(map(str, ids)), "--video", vid, "--image", img_a, "--out", out])
        got = np.load(out)
        report("track-a/logits_video_and_image", got.shape == ref_lg.shape and rel(got, ref_lg) <= 1e-4,
               "T %d, rel %.2e" % (got.shape[0], rel(got, ref_lg) if got.shape == ref_lg.shape else -1))

        # ---- Omni: audio (discrete units + continuous rows)
        W, cfg = audio_ref.load(O)
        x = np.asarray(x16, np.float64)
        codes = audio_ref.discrete(W, x)[0]
        crow = audio_ref.continuous(W, cfg, x)
        base = to["<|audio0000|>"]
        dpad, cpad = to["<|DISCRETE_AUDIO_PAD|>"], to["<|AUDIO_PAD|>"]
        ids = [5, to["<|discrete_audio_start|>"], dpad, to["<|discrete_audio_end|>"], 10, to["<|audio_start|>"], cpad,
               to["<|audio_end|>"], 11]
        exp, rows = expand(ids, {dpad: [(base + codes, None)], cpad: [(None, crow)]})
        lo = hcx_ref.load(O)
        ref_lg = lo.logits(exp, rows)
        run(["logits", "-m", O, "--ids", ",".join(map(str, ids)), "--audio", wav, "--out", out])
        got = np.load(out)
        report("omni/logits_audio", got.shape == ref_lg.shape and rel(got, ref_lg) <= 1e-4,
               "%d units + %d rows, T %d, rel %.2e" % (len(codes), len(crow), got.shape[0],
                                                      rel(got, ref_lg) if got.shape == ref_lg.shape else -1))

        # ---- Omni: image (layout A discrete block + continuous rows)
        if tatok:
            vo = vit_ref.load(O)
            ref_c = ref_image_rows(vo, img_a)
            cpath = os.path.join(tmp, "c.npy")
            run(["embed", "-m", O, "--image", img_a, "--stream", "discrete", "--out", cpath])
            c = np.load(cpath)
            w_, h_ = Image.open(img_a).size
            ratios = [(1, 1), (1, 2), (2, 1), (3, 4), (4, 3), (9, 16), (16, 9), (1, 3), (3, 1)]
            rw, rh = min(ratios, key=lambda r: abs(w_ / h_ - r[0] / r[1]))
            disc = [to["<|vision_ratio_%d:%d|>" % (rw, rh)]]
            for yy in range(27):
                disc += [to["<|vision00000|>"] + int(v) for v in c[yy * 27:(yy + 1) * 27]] + [to["<|vision_eol|>"]]
            disc.append(to["<|vision_eof|>"])
            ipad, dipad = to["<|IMAGE_PAD|>"], to["<|DISCRETE_IMAGE_PAD|>"]
            ids = [5, to["<|discrete_image_start|>"], dipad, to["<|discrete_image_end|>"], 12, to["<|image_start|>"],
                   ipad, to["<|image_end|>"], 13]
            exp, rows = expand(ids, {dipad: [(disc, None)], ipad: [(None, ref_c)]})
            ref_lg = lo.logits(exp, rows)
            run(["logits", "-m", O, "--ids", ",".join(map(str, ids)), "--image", img_a, "--out", out])
            got = np.load(out)
            report("omni/logits_image_layout_a", got.shape == ref_lg.shape and rel(got, ref_lg) <= 1e-4,
                   "758 discrete + %d rows, T %d, rel %.2e" % (len(ref_c), got.shape[0],
                                                              rel(got, ref_lg) if got.shape == ref_lg.shape else -1))
        else:
            print("SKIP omni/logits_image_layout_a (no TA-Tok generator yet)")

        # ---- errors
        def expect_error(name, args, needle):
            p = run(args, ok=False)
            report("errors/" + name, p.returncode != 0 and needle in p.stderr, p.stderr.strip()[-200:])

        expect_error("more_placeholders_than_images",
                     ["logits", "-m", A, "--ids", "5,%d,6,%d" % (pad, pad), "--image", img_a, "--out", out],
                     "more placeholder tokens")
        expect_error("image_without_placeholder", ["logits", "-m", A, "--ids", "5,6", "--image", img_a, "--out", out],
                     "no placeholder")
        golden = os.path.normpath(os.path.join(ROOT, "..", "shared", "golden", "hcx-tiny", "model"))
        expect_error("text_model_image", ["logits", "-m", golden, "--ids", "5,6", "--image", img_a, "--out", out],
                     "IMAGE_PAD")
        bad = os.path.join(tmp, "bad.png")
        open(bad, "wb").write(open(img_a, "rb").read()[:60])
        expect_error("corrupt_image", ["logits", "-m", A, "--ids", "5,%d" % pad, "--image", bad, "--out", out], "bad.png")
        expect_error("missing_image", ["logits", "-m", A, "--ids", "5,%d" % pad, "--image", bad + ".nope", "--out", out],
                     "bad.png.nope")

        # ---- CLI chat with media
        p = run(["run", "-m", A, "--chat", "--image", img_a, "-p", "이 사진을 설명해 줘", "-n", "4", "--temp", "0"], ok=False)
        report("cli/run_chat_image", p.returncode == 0 and "prompt" in p.stderr, p.stderr.strip()[-300:])
        p = run(["chat", "-m", A, "-n", "3", "--no-color"], ok=False,
                stdin="/image %s\nwhat is it?\n/image %s\nand this one?\n" % (img_a, img_b))
        n_turns = len(re.findall(r"\[prompt (\d+) tokens", p.stderr))
        lens = [int(v) for v in re.findall(r"\[prompt (\d+) tokens", p.stderr)]
        report("cli/chat_slash_image", p.returncode == 0 and n_turns == 2 and lens[1] > lens[0] + len(ref_b),
               "prompt lengths %s" % lens)
        p = run(["transcribe", "-m", O, wav, "-n", "3"], ok=False)
        report("cli/transcribe", p.returncode == 0, p.stderr.strip()[-300:])

        # ---- speech output (CLI): the answer is forced to a unit block (OMNIC_TEST_FORCE,
        # test only); its units must come out through the folder's vocoder exactly as
        # `omnic vocode` renders them (the vocoder itself: test_vocoder.py)
        tool("make_random_vocoder.py", ["--omni-dir", O, "--seed", "8"])
        tool("make_random_vocoder.py", ["--omni-dir", O, "--seed", "9", "--zero-shot"])
        units = [12, 345, 6000, 7, 7, 1234, 42, 999, 3000, 5]
        force = "<user_transcript>hi</user_transcript>\n<audio_decoder_call>\n<speaker_info>{}</speaker_info>\n" + \
            "".join("<|audio%04d|>" % u for u in units)
        env = dict(os.environ, OMNIC_TEST_FORCE=force)
        sw, rw = os.path.join(tmp, "speak.wav"), os.path.join(tmp, "ref.wav")
        p = subprocess.run([OMNIC, "speak", "-m", O, "안녕하세요", "-o", sw, "--voice", "fkms"], capture_output=True,
                           text=True, env=env, timeout=300)
        run(["vocode", "-m", O, "--units", ",".join(map(str, units)), "--voice", "fkms", "--out", rw])
        same = p.returncode == 0 and os.path.exists(sw) and open(sw, "rb").read() == open(rw, "rb").read()
        with wave.open(rw) as w:
            nfr, rate = w.getnframes(), w.getframerate()
        report("cli/speak_wav", same and nfr == 960 * len(units) and rate == 24000,
               "%d samples at %d Hz; %s" % (nfr, rate, p.stderr.strip()[-200:]))
        for fmt in ("mp3", "flac", "opus", "aac"):
            fo = os.path.join(tmp, "speak." + fmt)
            p = subprocess.run([OMNIC, "speak", "-m", O, "안녕", "-o", fo], capture_output=True, text=True, env=env,
                               timeout=300)
            pr = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=sample_rate,channels", "-of",
                                 "json", fo], capture_output=True, text=True) if p.returncode == 0 else None
            st = json.loads(pr.stdout)["streams"][0] if pr and pr.returncode == 0 and pr.stdout.strip() else {}
            report("cli/speak_%s" % fmt, st.get("channels") == 1 and int(st.get("sample_rate", 0)) in (24000, 48000),
                   "%s %s" % (st, p.stderr.strip()[-150:]))
        cw, crw = os.path.join(tmp, "clone.wav"), os.path.join(tmp, "clone_ref.wav")
        p = subprocess.run([OMNIC, "run", "-m", O, "--chat", "--audio", wav, "-p", "대답해 줘", "--speak", cw, "--clone"],
                           capture_output=True, text=True, env=env, timeout=300)
        run(["vocode", "-m", O, "--units", ",".join(map(str, units)), "--ref-audio", wav, "--out", crw])
        same = p.returncode == 0 and os.path.exists(cw) and open(cw, "rb").read() == open(crw, "rb").read()
        report("cli/speech_to_speech_clone", same, p.stderr.strip()[-200:])
        env2 = dict(os.environ, OMNIC_TEST_FORCE="no speech here")
        p = subprocess.run([OMNIC, "speak", "-m", O, "x", "-o", os.path.join(tmp, "none.wav")], capture_output=True,
                           text=True, env=env2, timeout=300)
        report("cli/speak_without_units_fails", p.returncode != 0 and "speech unit" in p.stderr, p.stderr.strip()[-200:])

        # ---- server + openai client
        servers = []
        try:
            scripts = os.path.join(tmp, "scripts.json")
            su = "".join("<|audio%04d|>" % u for u in units)
            json.dump({"speech": "말씀드릴게요" + su,
                       "block": "<user_transcript>안녕</user_transcript>\n<assistant_transcript>네 안녕하세요"
                                "</assistant_transcript>\n<audio_decoder_call>\n<speaker_info>{\"gender\": \"m\"}"
                                "</speaker_info>\n<discrete_audio>\n<|discrete_audio_start|>" + su},
                      open(scripts, "w"), ensure_ascii=False)
            store = os.path.join(tmp, "store")
            os.makedirs(store)
            for d in (A, O):
                errf = open(os.path.join(tmp, "serve-%d.log" % len(servers)), "w+")
                sp = subprocess.Popen([OMNIC, "serve", "-m", d, "--port", "0", "--parallel", "2", "--media-dir", store],
                                      stdout=subprocess.DEVNULL, stderr=errf,
                                      env=dict(os.environ, OMNIC_TEST_SCRIPT=scripts))
                servers.append((sp, errf))
            # a third server with a tiny context: media that do not fit are a 400, not a crash
            errf = open(os.path.join(tmp, "serve-small.log"), "w+")
            servers.append((subprocess.Popen([OMNIC, "serve", "-m", A, "--port", "0", "--ctx", "48"],
                                             stdout=subprocess.DEVNULL, stderr=errf), errf))
            ports = []
            for sp, errf in servers:
                t0 = time.time()
                port = None
                while time.time() - t0 < 60 and port is None:
                    errf.seek(0)
                    m = re.search(r"listening on http://[^:]+:(\d+)\n", errf.read())
                    port = int(m.group(1)) if m else None
                    if sp.poll() is not None:
                        break
                    time.sleep(0.05)
                ports.append(port)
            if None in ports:
                report("serve/start", False, "servers did not start")
            else:
                node = subprocess.run(["node", os.path.join(ROOT, "tests", "oracle", "openai_media.mjs"),
                                       "http://127.0.0.1:%d" % ports[0], "http://127.0.0.1:%d" % ports[1], img_a, wav, vid],
                                      capture_output=True, text=True, timeout=900)
                import base64
                import http.client
                img64 = "data:image/png;base64," + base64.b64encode(open(img_a, "rb").read()).decode()
                body = {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": img64}}] * 6
                                      + [{"type": "text", "text": "compare"}]}], "max_tokens": 2}
                c = http.client.HTTPConnection("127.0.0.1", ports[2], timeout=120)
                c.request("POST", "/v1/chat/completions", json.dumps(body), {"Content-Type": "application/json"})
                rr = c.getresponse()
                jj = json.loads(rr.read())
                c.close()
                report("serve/too_many_images_for_context", rr.status == 400 and "context length" in
                       jj.get("error", {}).get("message", ""), "%s %s" % (rr.status, str(jj)[:200]))
                vid64 = "data:video/mp4;base64," + base64.b64encode(open(vid, "rb").read()).decode()
                body = {"messages": [{"role": "user", "content": [{"type": "video_url", "video_url": {"url": vid64}},
                                                                   {"type": "text", "text": "what happens?"}]}],
                        "max_tokens": 2}
                c = http.client.HTTPConnection("127.0.0.1", ports[2], timeout=120)
                c.request("POST", "/v1/chat/completions", json.dumps(body), {"Content-Type": "application/json"})
                rr = c.getresponse()
                jj = json.loads(rr.read())
                c.close()
                report("serve/video_too_long_for_context", rr.status == 400 and "context length" in
                       jj.get("error", {}).get("message", ""), "%s %s" % (rr.status, str(jj)[:200]))
                for line in node.stdout.splitlines():
                    if line.startswith("PASS ") or line.startswith("FAIL "):
                        print(line, flush=True)
                        if line.startswith("FAIL "):
                            harness.failures += 1
                if node.returncode != 0 and "FAIL" not in node.stdout:
                    report("serve/openai_media", False, node.stderr[-500:])
        finally:
            for sp, errf in servers:
                if sp.poll() is None:
                    sp.send_signal(signal.SIGTERM)
                try:
                    sp.wait(30)
                except subprocess.TimeoutExpired:
                    sp.kill()
                errf.seek(0)
                s = sanitizer_issue(errf.read())
                if s:
                    report("serve/sanitizer", False, s)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    sys.exit(harness.exit_code())


if __name__ == "__main__":
    main()
