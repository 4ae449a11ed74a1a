#!/usr/bin/python3
"""test_image.py - image decoding and preprocessing (vision.md §1.1-1.5) against
Pillow 9.4 itself (python3-pil), a NumPy reimplementation of §1.2/§1.4/§1.5, and the
Qwen2-VL image processor of @huggingface/transformers (tests/oracle, node).

Uses the conformance interface:
  $OMNIC image F [--max-pixels N] [--resize WxH | --smart] [--patches] --out F.npy
Every reference runs here: images are generated with Pillow (or written byte by byte
where Pillow cannot write the variant), decoded by Pillow (open + the §1.1 conversion
through Pillow's own API: paste with the alpha mask onto white for RGBA,
convert("RGB") otherwise), resized by Pillow's Image.resize(BICUBIC).
Prints "PASS <case>" / "FAIL <case>: <why>"; exit status 1 on any failure.
"""
import io
import json
import os
import struct
import subprocess
import sys
import tempfile
import warnings
import zlib

import numpy as np
from PIL import Image
import harness  # noqa: E402
from harness import report, sanitizer_issue  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OMNIC = os.environ.get("OMNIC", os.path.join(ROOT, "build", "omnic"))
ORACLE = os.path.join(ROOT, "tests", "oracle")
PREPROC = os.path.join(ROOT, "..", "shared", "reference", "omniserve", "encoder_vision_track_a",
                       "preprocessor_config.json")
TIMEOUT = 60
warnings.filterwarnings("ignore")  # Pillow's palette-transparency notice


class CaseFail(Exception):
    pass


def run(args):
    try:
        p = subprocess.run([OMNIC] + args, capture_output=True, text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        raise CaseFail("timeout: omnic %s" % " ".join(args))
    s = sanitizer_issue(p.stderr)
    if s:
        raise CaseFail("sanitizer report (%s): %s" % (s, p.stderr[-1500:]))
    if p.returncode < 0:
        raise CaseFail("killed by signal %d" % -p.returncode)
    return p


def omnic_image(path, extra, out):
    if os.path.exists(out):
        os.remove(out)
    p = run(["image", path] + extra + ["--out", out])
    if p.returncode != 0:
        raise CaseFail("omnic image %s -> exit %d: %s" % (" ".join(extra), p.returncode, p.stderr.strip()[-400:]))
    try:
        info = json.loads(p.stdout.strip().splitlines()[-1])
    except Exception as e:  # noqa: BLE001
        raise CaseFail("bad JSON line %r: %s" % (p.stdout[:200], e))
    return info, np.load(out)


# ---- references ------------------------------------------------------------------------

def ref_rgb(path):
    """OmniServe's decode (§1.1) through Pillow's own API."""
    im = Image.open(path)
    if im.mode == "RGBA":
        bg = Image.new("RGB", im.size, (255, 255, 255))
        bg.paste(im, mask=im.split()[3])
        return np.asarray(bg)
    return np.asarray(im.convert("RGB"))


def ref_resize(rgb, w, h):
    return np.asarray(Image.fromarray(rgb, "RGB").resize((w, h), Image.BICUBIC))


def ref_smart_resize(H, W, factor=28, min_pixels=3136, max_pixels=2073600):
    """§1.2 in Python floats (the later transformers releases' helper)."""
    import math
    if max(H, W) / min(H, W) > 200:
        raise ValueError("aspect")
    h = round(H / factor) * factor
    w = round(W / factor) * factor
    if h * w > max_pixels:
        beta = math.sqrt((H * W) / max_pixels)
        h = max(factor, math.floor(H / beta / factor) * factor)
        w = max(factor, math.floor(W / beta / factor) * factor)
    elif h * w < min_pixels:
        beta = math.sqrt(min_pixels / (H * W))
        h = math.ceil(H * beta / factor) * factor
        w = math.ceil(W * beta / factor) * factor
    return h, w


MEAN = (0.48145466, 0.4578275, 0.40821073)
STD = (0.26862954, 0.26130258, 0.27577711)


def ref_patches(rgb):
    """§1.4 (float64 rescale -> float32, float32 normalise) and §1.5 via reshape/transpose."""
    H, W, _ = rgb.shape
    x = (rgb.astype(np.float64) * 0.00392156862745098).astype(np.float32)
    x = (x - np.array(MEAN, np.float32)) / np.array(STD, np.float32)
    x = x.astype(np.float32).transpose(2, 0, 1)[None]           # [1, C, H, W]
    x = np.concatenate([x, x], 0)                                # T = 2
    gh, gw = H // 14, W // 14
    x = x.reshape(1, 2, 3, gh // 2, 2, 14, gw // 2, 2, 14)
    x = x.transpose(0, 3, 6, 4, 7, 2, 1, 5, 8)
    return x.reshape(gh * gw, 3 * 2 * 14 * 14), (1, gh, gw)


# ---- image generation ------------------------------------------------------------------

def content(rs, w, h, ch):
    """Smooth ramps + blobs + noise: exercises interpolation and palettes."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    out = np.empty((h, w, ch))
    for c in range(ch):
        a, b = rs.uniform(-3, 3, 2)
        cx, cy, r = rs.uniform(0, w), rs.uniform(0, h), rs.uniform(2, 40)
        out[..., c] = 128 + a * x + b * y + 90 * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * r * r))
    out += rs.normal(0, 25, out.shape)
    return np.clip(out, 0, 255).astype(np.uint8)


def png_chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def png_bytes(samples, color, depth, interlace=False, plte=None, trns=None, extra=b""):
    """A PNG written byte by byte (variants Pillow cannot write: 16-bit RGB/RGBA/LA,
    1/2/4-bit gray and palette, Adam7). samples: int array [H, W, C]."""
    H, W, C = samples.shape

    def pack(rows):
        raw = b""
        for row in rows:
            v = row.reshape(-1).astype(np.uint32)
            if depth == 16:
                b = v.astype(">u2").tobytes()
            elif depth == 8:
                b = v.astype(np.uint8).tobytes()
            else:
                per = 8 // depth
                pad = (-len(v)) % per
                v = np.concatenate([v, np.zeros(pad, np.uint32)]).reshape(-1, per)
                shifts = np.array([8 - depth * (i + 1) for i in range(per)], np.uint32)
                b = (v << shifts).sum(1).astype(np.uint8).tobytes()
            raw += b"\x00" + b
        return raw

    if interlace:
        raw = b""
        for x0, y0, dx, dy in ADAM7:
            sub = samples[y0::dy, x0::dx]
            if sub.shape[0] and sub.shape[1]:
                raw += pack(sub)
    else:
        raw = pack(samples)
    out = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", W, H, depth, color, 0, 0, int(interlace)))
    if plte is not None:
        out += png_chunk(b"PLTE", bytes(plte))
    if trns is not None:
        out += png_chunk(b"tRNS", trns)
    return out + extra + png_chunk(b"IDAT", zlib.compress(raw)) + png_chunk(b"IEND", b"")


def bmp_bytes(W, H, bits, pixels_rows, palette=None, comp=0, masks=None, topdown=False):
    """A BMP with a 40-byte header (masks after it for BI_BITFIELDS) or a v4 header
    when an alpha mask is given."""
    stride = ((W * bits + 31) >> 3) & ~3
    data = b"".join(r.ljust(stride, b"\x00") for r in (pixels_rows if topdown else pixels_rows[::-1]))
    hs = 108 if (masks and len(masks) == 4) else 40
    pal = b"".join(bytes((b, g, r, 0)) for r, g, b in palette) if palette else b""
    extra = b""
    if masks and hs == 40:
        extra = struct.pack("<III", *masks)
    hdr = struct.pack("<IiiHHIIiiII", hs, W, -H if topdown else H, 1, bits, comp, len(data), 2835, 2835,
                      len(palette) if palette else 0, 0)
    if hs == 108:
        hdr += struct.pack("<IIII", *masks) + b"\x00" * (108 - 40 - 16)
    off = 14 + hs + len(extra) + len(pal)
    return b"BM" + struct.pack("<IHHI", off + len(data), 0, 0, off) + hdr + extra + pal + data


def make_images(tmp, rs):
    """-> list of (name, path). Random sizes; every mode/variant the brief lists."""
    cases = []

    def size(lo=1, hi=140):
        return int(rs.randint(lo, hi)), int(rs.randint(lo, hi))

    def save(name, im, fmt, **kw):
        p = os.path.join(tmp, name)
        im.save(p, fmt, **kw)
        cases.append((name, p))

    def write(name, data):
        p = os.path.join(tmp, name)
        with open(p, "wb") as f:
            f.write(data)
        cases.append((name, p))

    for i in range(3):
        w, h = size()
        save("rgb%d.png" % i, Image.fromarray(content(rs, w, h, 3)), "PNG")
    for i in range(2):
        w, h = size()
        save("l%d.png" % i, Image.fromarray(content(rs, w, h, 1)[..., 0], "L"), "PNG")
    w, h = size()
    save("la.png", Image.fromarray(content(rs, w, h, 2), "LA"), "PNG")
    for i in range(2):
        w, h = size()
        save("p%d.png" % i, Image.fromarray(content(rs, w, h, 3)).quantize(int(rs.randint(2, 256))), "PNG")
    w, h = size()
    save("p_trns.png", Image.fromarray(content(rs, w, h, 3)).quantize(64), "PNG", transparency=5)
    for i in range(3):
        w, h = size()
        a = content(rs, w, h, 4)
        a[..., 3][a[..., 3] < 60] = 0
        a[..., 3][a[..., 3] > 200] = 255
        save("rgba%d.png" % i, Image.fromarray(a, "RGBA"), "PNG")
    w, h = size()
    save("one_bit.png", Image.fromarray(content(rs, w, h, 1)[..., 0] > 128), "PNG")
    w, h = size()
    save("i16.png", Image.fromarray(rs.randint(0, 600, (h, w)).astype(np.uint16)), "PNG")
    # byte-level PNG variants
    w, h = size()
    write("rgb16.png", png_bytes(rs.randint(0, 65536, (h, w, 3)), 2, 16))
    w, h = size()
    write("rgba16.png", png_bytes(rs.randint(0, 65536, (h, w, 4)), 6, 16))
    w, h = size()
    write("la16.png", png_bytes(rs.randint(0, 65536, (h, w, 2)), 4, 16))
    w, h = size()
    write("gray16_trns.png", png_bytes(rs.randint(0, 400, (h, w, 1)), 0, 16, trns=b"\x00\x05"))
    for d in (1, 2, 4):
        w, h = size()
        write("gray%d.png" % d, png_bytes(rs.randint(0, 1 << d, (h, w, 1)), 0, d))
        w, h = size()
        n = int(rs.randint(1, (1 << d) + 1))
        write("pal%d.png" % d, png_bytes(rs.randint(0, 1 << d, (h, w, 1)), 3, d,
                                          plte=rs.randint(0, 256, 3 * n).tolist()))
    w, h = size()
    write("pal_short_trns.png", png_bytes(rs.randint(0, 256, (h, w, 1)), 3, 8,
                                          plte=rs.randint(0, 256, 3 * 40).tolist(), trns=bytes(range(0, 200, 7))))
    w, h = size()
    write("rgb_adam7.png", png_bytes(rs.randint(0, 256, (h, w, 3)), 2, 8, interlace=True))
    w, h = size()
    write("gray2_adam7.png", png_bytes(rs.randint(0, 4, (h, w, 1)), 0, 2, interlace=True))
    w, h = size()
    write("rgba16_adam7.png", png_bytes(rs.randint(0, 65536, (h, w, 4)), 6, 16, interlace=True))
    w, h = size()
    write("rgb_gamma.png", png_bytes(rs.randint(0, 256, (h, w, 3)), 2, 8, extra=png_chunk(
        b"gAMA", struct.pack(">I", 100000)) + png_chunk(b"cHRM", struct.pack(">8I", *([50000] * 8)))))
    # JPEG
    w, h = size(10, 120)
    ex = Image.Exif()
    ex[0x0112] = 6   # orientation "rotate 90": must not be applied
    save("jpeg_exif_rot.jpg", Image.fromarray(content(rs, w, h, 3)), "JPEG", quality=85, exif=ex.tobytes())
    for sub, tag in ((2, "420"), (1, "422"), (0, "444")):
        w, h = size()
        save("jpeg%s.jpg" % tag, Image.fromarray(content(rs, w, h, 3)), "JPEG",
             quality=int(rs.randint(40, 96)), subsampling=sub)
    w, h = size(20, 200)
    save("jpeg_prog.jpg", Image.fromarray(content(rs, w, h, 3)), "JPEG", quality=85, progressive=True)
    w, h = size()
    save("jpeg_gray.jpg", Image.fromarray(content(rs, w, h, 1)[..., 0], "L"), "JPEG", quality=80)
    w, h = size()
    save("jpeg_cmyk.jpg", Image.fromarray(content(rs, w, h, 4), "CMYK"), "JPEG", quality=90)
    w, h = size(100, 400)
    save("jpeg_big.jpg", Image.fromarray(content(rs, w, h, 3)), "JPEG", quality=75)
    # GIF
    w, h = size()
    save("gif_p.gif", Image.fromarray(content(rs, w, h, 3)).quantize(200), "GIF")
    w, h = size()
    save("gif_trns.gif", Image.fromarray(content(rs, w, h, 3)).quantize(32), "GIF", transparency=3)
    w, h = size()
    save("gif_l.gif", Image.fromarray(content(rs, w, h, 1)[..., 0], "L"), "GIF")
    w, h = size(8, 140)
    frames = [Image.fromarray(content(rs, w, h, 3)).quantize(64) for _ in range(3)]
    save("gif_anim.gif", frames[0], "GIF", save_all=True, append_images=frames[1:], duration=50, loop=0)
    w, h = size(8, 140)
    save("gif_interlace.gif", Image.fromarray(content(rs, w, h, 3)).quantize(100), "GIF", interlace=True)
    # first frame smaller than / offset in / sticking out of the logical screen (byte patches
    # of a Pillow-written GIF: screen size at 6..9, image descriptor after the first ',')
    for tag, (dw, dh, x0, y0), trns in (("inset", (11, 7, 3, 2), None), ("inset_trns", (5, 9, 4, 1), 9),
                                        ("outside", (-6, -4, 2, 3), None)):
        w, h = size(12, 100)
        bio = io.BytesIO()
        kw = {"transparency": trns} if trns is not None else {}
        Image.fromarray(content(rs, w, h, 3)).quantize(40).save(bio, "GIF", **kw)
        b = bytearray(bio.getvalue())
        b[6:10] = struct.pack("<HH", w + dw, h + dh)
        i = 13 + (3 << ((b[10] & 7) + 1) if b[10] & 128 else 0)
        while b[i] == 0x21:   # skip extensions
            i += 2
            while b[i]:
                i += b[i] + 1
            i += 1
        assert b[i] == 0x2C
        b[i + 1:i + 5] = struct.pack("<HH", x0, y0)
        write("gif_%s.gif" % tag, bytes(b))
    # WebP
    w, h = size()
    save("webp_lossy.webp", Image.fromarray(content(rs, w, h, 3)), "WEBP", quality=70)
    w, h = size()
    save("webp_lossless.webp", Image.fromarray(content(rs, w, h, 3)), "WEBP", lossless=True)
    w, h = size()
    save("webp_lossy_a.webp", Image.fromarray(content(rs, w, h, 4), "RGBA"), "WEBP", quality=80)
    w, h = size()
    save("webp_lossless_a.webp", Image.fromarray(content(rs, w, h, 4), "RGBA"), "WEBP", lossless=True)
    w, h = size(8, 140)
    frames = [Image.fromarray(content(rs, w, h, 3)) for _ in range(3)]
    save("webp_anim.webp", frames[0], "WEBP", save_all=True, append_images=frames[1:], duration=40, quality=60)
    w, h = size(8, 140)
    frames = [Image.fromarray(content(rs, w, h, 4), "RGBA") for _ in range(2)]
    save("webp_anim_a.webp", frames[0], "WEBP", save_all=True, append_images=frames[1:], lossless=True)
    # BMP (Pillow-written)
    w, h = size()
    save("bmp24.bmp", Image.fromarray(content(rs, w, h, 3)), "BMP")
    w, h = size()
    save("bmp_l.bmp", Image.fromarray(content(rs, w, h, 1)[..., 0], "L"), "BMP")
    w, h = size()
    save("bmp_p.bmp", Image.fromarray(content(rs, w, h, 3)).quantize(100), "BMP")
    w, h = size()
    save("bmp_1bit.bmp", Image.fromarray(content(rs, w, h, 1)[..., 0] > 100), "BMP")
    w, h = size()
    save("bmp32_rgba.bmp", Image.fromarray(content(rs, w, h, 4), "RGBA"), "BMP")
    # BMP (byte-level): 4-bit palette, 16-bit 5-5-5 and 5-6-5, 32-bit BGRA bitfields, top-down
    w, h = size()
    idx = rs.randint(0, 16, (h, w))
    rows = [bytes(((r[0::2] << 4) | np.append(r[1::2], 0)[:len(r[0::2])]).astype(np.uint8)) for r in idx]
    write("bmp4.bmp", bmp_bytes(w, h, 4, rows, palette=[tuple(rs.randint(0, 256, 3)) for _ in range(16)]))
    w, h = size()
    v = rs.randint(0, 1 << 15, (h, w)).astype("<u2")
    write("bmp16_555.bmp", bmp_bytes(w, h, 16, [r.tobytes() for r in v]))
    w, h = size()
    v = rs.randint(0, 1 << 16, (h, w)).astype("<u2")
    write("bmp16_565.bmp", bmp_bytes(w, h, 16, [r.tobytes() for r in v], comp=3, masks=(0xF800, 0x7E0, 0x1F)))
    w, h = size()
    px = content(rs, w, h, 4)[..., [2, 1, 0, 3]]
    write("bmp32_bgra_bf.bmp", bmp_bytes(w, h, 32, [r.tobytes() for r in px], comp=3,
                                         masks=(0xFF0000, 0xFF00, 0xFF, 0xFF000000)))
    w, h = size()
    px = content(rs, w, h, 3)[..., ::-1]
    write("bmp24_topdown.bmp", bmp_bytes(w, h, 24, [r.tobytes() for r in px], topdown=True))
    w, h = size()
    px = content(rs, w, h, 3)[..., ::-1]
    stride = (w * 3 + 3) & ~3
    data = b"".join(r.tobytes().ljust(stride, b"\x00") for r in px[::-1])
    core = struct.pack("<IHHHH", 12, w, h, 1, 24)
    write("bmp_os2.bmp", b"BM" + struct.pack("<IHHI", 26 + len(data), 0, 0, 26) + core + data)
    # sizes that need no resize (multiples of 28 inside the pixel bounds): exact oracle check
    for w, h in ((56, 84), (112, 56)):
        save("exact%dx%d.png" % (w, h), Image.fromarray(content(rs, w, h, 3)), "PNG")
    return cases


# ---- cases -----------------------------------------------------------------------------

def check_decode(name, path, tmp):
    ref = ref_rgb(path)
    info, got = omnic_image(path, [], os.path.join(tmp, "dec.npy"))
    if got.dtype != np.uint8 or got.shape != ref.shape:
        raise CaseFail("decoded %s %s, Pillow %s" % (got.dtype, got.shape, ref.shape))
    if info.get("width") != ref.shape[1] or info.get("height") != ref.shape[0]:
        raise CaseFail("JSON size %s x %s, expected %d x %d" % (info.get("width"), info.get("height"),
                                                              ref.shape[1], ref.shape[0]))
    fmt = Image.open(path).format.lower()
    if info.get("format") != fmt:
        raise CaseFail("format %r, expected %r" % (info.get("format"), fmt))
    d = np.abs(got.astype(int) - ref.astype(int))
    if d.max():
        y, x, c = np.unravel_index(int(d.argmax()), d.shape)
        raise CaseFail("%d of %d bytes differ from Pillow, max %d at [%d,%d,%d] (%d vs %d)" % (
            int((d > 0).sum()), d.size, d.max(), y, x, c, got[y, x, c], ref[y, x, c]))
    return ref


def check_resize(name, path, ref, w, h, tmp):
    want = ref_resize(ref, w, h)
    info, got = omnic_image(path, ["--resize", "%dx%d" % (w, h)], os.path.join(tmp, "rs.npy"))
    if got.shape != want.shape:
        raise CaseFail("resized shape %s, expected %s" % (got.shape, want.shape))
    if info.get("resized") != [w, h]:
        raise CaseFail("JSON resized %s, expected %s" % (info.get("resized"), [w, h]))
    n = int((got != want).sum())
    if n:
        raise CaseFail("%dx%d -> %dx%d: %d bytes differ from Pillow (max %d)" % (
            ref.shape[1], ref.shape[0], w, h, n, np.abs(got.astype(int) - want).max()))


def check_smart(path, ref, tmp, patches):
    H, W = ref.shape[:2]
    h2, w2 = ref_smart_resize(H, W)
    want = ref_resize(ref, w2, h2)
    if patches:
        info, got = omnic_image(path, ["--patches"], os.path.join(tmp, "pv.npy"))
        pv, grid = ref_patches(want)
        if info.get("grid") != list(grid) or info.get("tokens") != grid[1] * grid[2] // 4 or \
                info.get("resized") != [w2, h2]:
            raise CaseFail("JSON %s, expected resized %s grid %s" % (info, [w2, h2], grid))
        if got.dtype != np.float32 or got.shape != pv.shape:
            raise CaseFail("pixel_values %s %s, expected float32 %s" % (got.dtype, got.shape, pv.shape))
        err = float(np.abs(got - pv).max())
        if err > 1e-6:
            r, c = np.unravel_index(int(np.abs(got - pv).argmax()), pv.shape)
            raise CaseFail("pixel_values max err %.3g at [%d,%d]" % (err, r, c))
        return err, got, (w2, h2), grid
    info, got = omnic_image(path, ["--smart"], os.path.join(tmp, "sm.npy"))
    if got.shape != want.shape or (got != want).any():
        raise CaseFail("smart-resized %s vs Pillow %s: %d bytes differ" % (
            got.shape, want.shape, int((got != want).sum()) if got.shape == want.shape else -1))
    return 0.0, None, (w2, h2), None


TABLE = [((640, 480), (644, 476), 391), ((800, 600), (812, 588), 609), ((1024, 1024), (1036, 1036), 1369),
         ((384, 384), (392, 392), 196), ((512, 512), (504, 504), 324), ((1920, 1080), (1904, 1064), 2584),
         ((1080, 1920), (1064, 1904), 2584), ((3840, 2160), (1904, 1064), 2584),
         ((4000, 3000), (1652, 1232), 2596), ((100, 50), (112, 56), 8), ((20, 20), (56, 56), 4),
         ((1, 200), (28, 812), 29)]


def table_cases(tmp):
    """Every row through the Python reference; through omnic all but the two largest
    inputs (those are in test_image.c, and 1920x1080 already takes the max_pixels branch)."""
    for (W, H), (W2, H2), tok in TABLE:
        name = "smart_table_%dx%d" % (W, H)
        try:
            h2, w2 = ref_smart_resize(H, W)
            if (w2, h2) != (W2, H2):
                raise CaseFail("the Python reference gives %dx%d, the spec %dx%d" % (w2, h2, W2, H2))
            if W * H > 1920 * 1080:
                report(name, True, "Python reference only")
                continue
            p = os.path.join(tmp, "table.png")
            Image.new("RGB", (W, H), (int(W % 251), 90, int(H % 253))).save(p, "PNG", compress_level=1)
            r = run(["image", p, "--smart"])
            if r.returncode != 0:
                raise CaseFail("exit %d: %s" % (r.returncode, r.stderr.strip()))
            info = json.loads(r.stdout)
            want = {"resized": [W2, H2], "grid": [1, H2 // 14, W2 // 14], "tokens": tok}
            got = {k: info.get(k) for k in want}
            if got != want:
                raise CaseFail("got %s, expected %s" % (got, want))
            report(name, True)
        except CaseFail as e:
            report(name, False, str(e))


def oracle_eligible(H, W):
    """transformers.js's smart_resize differs from the Python helper of §1.2 by design in
    two places: it first scales images with a side < 28 up to 28 (the Python helper and
    the engine do not), and it rounds H/28 half up (Math.round) where Python rounds half
    to even. Sizes are compared exactly only where neither applies."""
    return min(H, W) >= 28 and H % 28 != 14 and W % 28 != 14


TABLE_ORACLE = [t for t in TABLE if oracle_eligible(t[0][1], t[0][0]) and t[0][0] * t[0][1] <= 1920 * 1080]


def oracle_cases(tmp, jobs):
    """Per image, two runs of the Qwen2-VL processor of transformers.js: on the decoded
    image (resized size, grid and patch count exactly; pixel values loosely, since it
    resizes with sharp, not Pillow) and on the Pillow-resized image (no resize happens:
    rescale/normalise and the patch row/column order must match to 1e-5)."""
    if not os.path.isdir(os.path.join(ORACLE, "node_modules", "@huggingface", "transformers")):
        report("oracle_qwen2vl", False, "tests/oracle/node_modules lacks @huggingface/transformers (npm ci there)")
        return
    spec = []
    for i, (name, rgb, _, (w2, h2), _) in enumerate(jobs):
        for tag, img in (("orig", rgb), ("resized", ref_resize(rgb, w2, h2))):
            f = os.path.join(tmp, "oracle%d_%s.rgb" % (i, tag))
            np.ascontiguousarray(img).tofile(f)
            spec.append({"rgb": f, "w": int(img.shape[1]), "h": int(img.shape[0]), "out": f + ".f32"})
    for (W, H), _, _ in TABLE_ORACLE:   # sizes only: a flat image per §1.2 table row
        f = os.path.join(tmp, "oracle_table_%dx%d.rgb" % (W, H))
        np.full((H, W, 3), 77, np.uint8).tofile(f)
        spec.append({"rgb": f, "w": W, "h": H, "out": f + ".f32"})
    jf = os.path.join(tmp, "jobs.json")
    with open(jf, "w") as f:
        json.dump(spec, f)
    try:
        p = subprocess.run(["node", os.path.join(ORACLE, "qwen2vl_processor.mjs"), PREPROC, jf],
                           capture_output=True, text=True, timeout=120, cwd=ORACLE)
    except (OSError, subprocess.TimeoutExpired) as e:
        report("oracle_qwen2vl", False, "cannot run node: %s" % e)
        return
    if p.returncode != 0:
        report("oracle_qwen2vl", False, "node failed: %s" % p.stderr[-800:])
        return
    res = json.loads(p.stdout)
    n = 2 * len(jobs)
    for (W, H), (W2, H2), _ in TABLE_ORACLE:
        r = res[n]
        n += 1
        want = {"resized": [H2, W2], "grid": [1, H2 // 14, W2 // 14]}
        got = {"resized": r["resized"], "grid": r["grid"]}
        report("oracle_qwen2vl_size_%dx%d" % (W, H), got == want, "transformers.js %s, §1.2 table %s" % (got, want))
    for k, (name, rgb, got, (w2, h2), grid) in enumerate(jobs):
        cname = "oracle_qwen2vl_%s" % name
        try:
            for j, r, tag in ((spec[2 * k], res[2 * k], "orig"), (spec[2 * k + 1], res[2 * k + 1], "resized")):
                if r["resized"] != [h2, w2] or r["grid"] != list(grid) or r["shape"] != list(got.shape):
                    raise CaseFail("%s: transformers.js resized %s grid %s shape %s; omnic %s %s %s" % (
                        tag, r["resized"], r["grid"], r["shape"], [h2, w2], list(grid), list(got.shape)))
            a = np.abs(np.fromfile(spec[2 * k]["out"], np.float32).reshape(got.shape) - got)
            b = np.abs(np.fromfile(spec[2 * k + 1]["out"], np.float32).reshape(got.shape) - got)
            if float(b.max()) > 1e-5:
                r_, c_ = np.unravel_index(int(b.argmax()), b.shape)
                raise CaseFail("same-size input: pixel_values differ by %.3g at [%d,%d]" % (b.max(), r_, c_))
            # loose: well below what a misplaced patch row would give
            wrong = float(np.abs(got - np.roll(got, 1, axis=0)).mean())
            if float(a.mean()) > 0.5 * wrong:
                raise CaseFail("sharp-resized pixel_values too far: mean abs %.3g (shifted rows: %.3g)" % (
                    a.mean(), wrong))
            report(cname, True, "%dx%d -> %dx%d grid %s; same-size max %.2g; sharp resize mean %.3g vs %.3g shifted" % (
                rgb.shape[1], rgb.shape[0], w2, h2, list(grid), b.max(), a.mean(), wrong))
        except CaseFail as e:
            report(cname, False, str(e))


def expect_error(name, args, must=(), path=None):
    try:
        r = run(args)
        if r.returncode == 0:
            raise CaseFail("exit 0, expected an error (stdout %r)" % r.stdout[:200])
        msg = r.stderr.strip()
        if path and path not in msg:
            raise CaseFail("message does not name the file: %r" % msg[-300:])
        for m in must:
            if m.lower() not in msg.lower():
                raise CaseFail("message lacks %r: %r" % (m, msg[-300:]))
        report(name, True, msg.splitlines()[-1][-110:] if msg else "")
    except CaseFail as e:
        report(name, False, str(e))


def bad_cases(tmp, cases):
    def w(fn, data):
        p = os.path.join(tmp, fn)
        with open(p, "wb") as f:
            f.write(data)
        return p

    by = dict(cases)
    for src in ("rgb0.png", "jpeg420.jpg", "jpeg_prog.jpg", "gif_p.gif", "webp_lossy.webp",
                "webp_lossless.webp", "bmp24.bmp", "rgb_adam7.png"):
        data = open(by[src], "rb").read()
        for frac in (0.5, 0.9):
            p = w("trunc_%d_%s" % (int(frac * 100), src), data[:int(len(data) * frac)])
            expect_error("truncated_%d_%s" % (int(frac * 100), src), ["image", p, "--out", p + ".npy"], path=p)
        p = w("head_" + src, data[:20])
        expect_error("header_only_%s" % src, ["image", p], path=p)
    # corrupt: broken PNG IHDR CRC, JPEG with a bad marker, GIF without image, BMP offset past the end
    data = bytearray(open(by["rgb0.png"], "rb").read())
    data[29] ^= 0xFF
    p = w("crc.png", bytes(data))
    expect_error("corrupt_png_crc", ["image", p], path=p)
    data = bytearray(open(by["jpeg444.jpg"], "rb").read())
    sof = data.find(b"\xff\xc0")
    data[sof + 5:sof + 9] = b"\x00\x00\x00\x00"
    p = w("zero.jpg", bytes(data))
    expect_error("zero_size_jpeg", ["image", p], path=p)
    p = w("noimage.gif", b"GIF89a" + struct.pack("<HHBBB", 10, 10, 0, 0, 0) + b";")
    expect_error("gif_without_image", ["image", p], ("no image",), path=p)
    data = bytearray(open(by["bmp24.bmp"], "rb").read())
    data[10:14] = struct.pack("<I", len(data) + 100)
    p = w("off.bmp", bytes(data))
    expect_error("bmp_offset_past_end", ["image", p], path=p)
    p = w("rle.bmp", bmp_bytes(4, 4, 8, [b"\x00" * 4] * 4, palette=[(0, 0, 0)] * 2, comp=1))
    expect_error("bmp_rle_refused", ["image", p], ("RLE",), path=p)
    # decompression bombs: huge declared sizes, tiny files (refused by the header check)
    ihdr = struct.pack(">IIBBBBB", 60000, 60000, 8, 2, 0, 0, 0)
    p = w("bomb.png", b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) +
          png_chunk(b"IDAT", zlib.compress(b"\x00" * 1000)) + png_chunk(b"IEND", b""))
    expect_error("bomb_png", ["image", p], ("cap",), path=p)
    data = bytearray(open(by["jpeg444.jpg"], "rb").read())
    data[sof + 5:sof + 9] = struct.pack(">HH", 65000, 65000)
    p = w("bomb.jpg", bytes(data))
    expect_error("bomb_jpeg", ["image", p], ("cap",), path=p)
    p = w("bomb.gif", b"GIF89a" + struct.pack("<HHBBB", 65000, 65000, 0, 0, 0) + b"," +
          struct.pack("<HHHHB", 0, 0, 65000, 65000, 0) + b"\x02\x02\x4c\x01\x00;")
    expect_error("bomb_gif", ["image", p], ("cap",), path=p)
    vp8x = b"VP8X" + struct.pack("<I", 10) + b"\x00\x00\x00\x00" + (16000 - 1).to_bytes(3, "little") * 2
    p = w("bomb.webp", b"RIFF" + struct.pack("<I", 4 + len(vp8x)) + b"WEBP" + vp8x)
    expect_error("bomb_webp", ["image", p], ("cap",), path=p)
    p = w("bomb.bmp", bmp_bytes(4, 4, 24, [b"\x00" * 12] * 4)[:18] + struct.pack("<ii", 40000, 40000) +
          bmp_bytes(4, 4, 24, [b"\x00" * 12] * 4)[26:])
    expect_error("bomb_bmp", ["image", p], ("cap",), path=p)
    expect_error("max_pixels_flag", ["image", by["rgb0.png"], "--max-pixels", "10"], ("cap",), path=by["rgb0.png"])
    try:
        r = run(["image", by["rgb0.png"], "--max-pixels", str(10 ** 8)])
        report("max_pixels_flag_allows", r.returncode == 0, r.stderr.strip()[-200:])
    except CaseFail as e:
        report("max_pixels_flag_allows", False, str(e))
    # zero sizes
    p = w("zero.bmp", bmp_bytes(4, 4, 24, [b"\x00" * 12] * 4)[:18] + struct.pack("<ii", 0, 4) +
          bmp_bytes(4, 4, 24, [b"\x00" * 12] * 4)[26:])
    expect_error("zero_size_bmp", ["image", p], ("zero",), path=p)
    p = w("zero.gif", b"GIF89a" + struct.pack("<HHBBB", 0, 0, 0, 0, 0) + b"," +
          struct.pack("<HHHHB", 0, 0, 0, 0, 0) + b"\x02\x02\x4c\x01\x00;")
    expect_error("zero_size_gif", ["image", p], ("zero",), path=p)
    p = w("zero.png", b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", 0, 5, 8, 2, 0, 0, 0)) +
          png_chunk(b"IEND", b""))
    expect_error("zero_size_png", ["image", p], ("zero",), path=p)
    # -m MODEL_DIR: preprocessor_config.json's min/max_pixels (over size{}) drive smart_resize
    mdir = os.path.join(tmp, "model")
    os.makedirs(mdir, exist_ok=True)
    with open(os.path.join(mdir, "preprocessor_config.json"), "w") as f:
        json.dump({"min_pixels": 50000, "max_pixels": 60000, "size": {"shortest_edge": 1, "longest_edge": 2},
                   "patch_size": 14, "merge_size": 2, "temporal_patch_size": 2}, f)
    try:
        src = by["jpeg_big.jpg"]
        ref = ref_rgb(src)
        h2, w2 = ref_smart_resize(ref.shape[0], ref.shape[1], 28, 50000, 60000)
        info, got = omnic_image(src, ["--smart", "-m", mdir], os.path.join(tmp, "m.npy"))
        want = ref_resize(ref, w2, h2)
        ok = info.get("resized") == [w2, h2] and got.shape == want.shape and not (got != want).any()
        report("model_dir_preprocessor_config", ok, "%s, expected %dx%d" % (info.get("resized"), w2, h2))
    except CaseFail as e:
        report("model_dir_preprocessor_config", False, str(e))
    with open(os.path.join(mdir, "preprocessor_config.json"), "w") as f:
        f.write("{\"min_pixels\": ")
    expect_error("model_dir_bad_config", ["image", by["rgb0.png"], "--smart", "-m", mdir],
                 ("preprocessor_config.json",))
    # aspect ratio over 200: decodes, but --smart / --patches refuse it
    p = os.path.join(tmp, "wide.png")
    Image.new("RGB", (402, 2), (1, 2, 3)).save(p)
    expect_error("aspect_over_200", ["image", p, "--patches", "--out", p + ".npy"], ("aspect",), path=p)
    p2 = os.path.join(tmp, "wide200.png")
    Image.new("RGB", (400, 2), (1, 2, 3)).save(p2)
    try:
        r = run(["image", p2, "--smart"])
        report("aspect_200_accepted", r.returncode == 0 and json.loads(r.stdout)["resized"] == [812, 28],
               r.stdout.strip() + r.stderr.strip()[-200:])
    except (CaseFail, ValueError, KeyError) as e:
        report("aspect_200_accepted", False, str(e))
    # unknown format (magic bytes decide, not the name), missing file, directory
    p = w("text.png", b"this is not an image at all\n")
    expect_error("unknown_format", ["image", p], ("unrecognised",), path=p)
    data = open(by["rgb0.png"], "rb").read()
    p = w("png_named.jpg", data)
    try:
        r = run(["image", p])
        report("sniff_not_extension", r.returncode == 0 and json.loads(r.stdout)["format"] == "png", r.stdout.strip())
    except (CaseFail, ValueError) as e:
        report("sniff_not_extension", False, str(e))
    p = os.path.join(tmp, "missing.png")
    expect_error("missing_file", ["image", p], path=p)
    expect_error("directory", ["image", tmp], path=tmp)
    expect_error("bad_resize_arg", ["image", by["rgb0.png"], "--resize", "0x5"], ("resize",))
    # CLI-level mutation fuzz (the in-process fuzz of a few hundred cases is in test_image.c)
    rs = np.random.RandomState(7)
    n_ok = n_err = 0
    try:
        for src in ("rgb0.png", "jpeg420.jpg", "gif_p.gif", "webp_lossy.webp", "bmp24.bmp", "pal4.png"):
            data = open(by[src], "rb").read()
            for k in range(6):
                b = bytearray(data)
                for _ in range(int(rs.randint(1, 6))):
                    b[int(rs.randint(0, len(b)))] = int(rs.randint(0, 256))
                if k % 3 == 2:
                    b = b[:int(rs.randint(1, len(b)))]
                p = w("fuzz_%d_%s" % (k, src), bytes(b))
                r = run(["image", p, "--out", p + ".npy"])
                if r.returncode == 0:
                    n_ok += 1
                else:
                    if p not in r.stderr:
                        raise CaseFail("fuzz %s: message does not name the file: %r" % (p, r.stderr[-200:]))
                    n_err += 1
        report("cli_mutation_fuzz", True, "%d decoded, %d refused, no crash" % (n_ok, n_err))
    except CaseFail as e:
        report("cli_mutation_fuzz", False, str(e))


def main():
    if not os.path.exists(OMNIC):
        report("binary", False, "%s not found" % OMNIC)
        return 1
    rs = np.random.RandomState(1234)
    with tempfile.TemporaryDirectory(prefix="omnic_img_") as tmp:
        cases = make_images(tmp, rs)
        oracle_jobs = []
        n_exact = 0
        for i, (name, path) in enumerate(cases):
            try:
                ref = check_decode(name, path, tmp)
                H, W = ref.shape[:2]
                # arbitrary sizes: down, up, one axis only
                kind = i % 4
                if kind == 0:
                    w2, h2 = max(1, W // 2 + int(rs.randint(-3, 4))), max(1, H // 3 + 1)
                elif kind == 1:
                    w2, h2 = W * 2 + int(rs.randint(0, 9)), H + int(rs.randint(1, 40))
                elif kind == 2:
                    w2, h2 = int(rs.randint(1, 300)), H
                else:
                    w2, h2 = W, int(rs.randint(1, 300))
                check_resize(name, path, ref, w2, h2, tmp)
                msg = "decode + resize %dx%d->%dx%d" % (W, H, w2, h2)
                if max(H, W) / min(H, W) <= 200:
                    err, pv, wh, grid = check_smart(path, ref, tmp, patches=(i % 3 != 2))
                    msg += ", smart %dx%d%s" % (wh[0], wh[1], " + patches (max err %.2g)" % err if pv is not None else "")
                    if pv is not None and oracle_eligible(H, W) and len(oracle_jobs) < 16:
                        oracle_jobs.append((name, ref, pv, wh, grid))
                n_exact += 1
                report("image_%s" % name, True, msg)
            except CaseFail as e:
                report("image_%s" % name, False, str(e))
        report("image_count", len(cases) >= 50, "%d generated images, %d exact" % (len(cases), n_exact))
        table_cases(tmp)
        oracle_cases(tmp, oracle_jobs)
        bad_cases(tmp, cases)
    return harness.exit_code()


if __name__ == "__main__":
    sys.exit(main())
