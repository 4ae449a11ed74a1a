#!/usr/bin/env python3
"""test_tokenizer.py - `omnic tokenize` against independent oracles (tests/oracle):
Hugging Face's Rust tokenizers (npm "tokenizers") and Tokenizers.js
(npm "@huggingface/tokenizers"). Encodes many strings (Korean, English, digits,
whitespace, CJK, emoji, added/special tokens, invalid UTF-8, long text) and decodes id
lists with the tokenizer.json of both golden models and with synthetic tokenizer.json
files built here for features the golden ones lack (ignore_merges, lstrip/rstrip,
single_word, non-special and normalized added tokens, NFC/NFKC, merges as strings and
as pairs, GPT-2 ByteLevel regex + prefix space, Split behaviours, char-level BPE with
unk). Also checks streaming decode and CLI error handling.

Prints "PASS <name>" / "FAIL <name>: <why>" per case; exits 1 on any failure. A missing
or broken oracle is a failure, never a skip."""
import base64
import collections
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OMNIC = os.environ.get("OMNIC", os.path.join(ROOT, "build", "omnic"))
ORACLE = os.path.join(ROOT, "tests", "oracle")
GOLDEN = [os.path.join(ROOT, "..", "shared", "golden", n, "model") for n in ("hcx-tiny", "hcx-small")]
GOLDEN = [os.path.normpath(p) for p in GOLDEN]
if not os.path.isdir(GOLDEN[0]):
    GOLDEN = ["/work/shared/golden/hcx-tiny/model", "/work/shared/golden/hcx-small/model"]

failures = 0
passes = 0


def report(ok, name, why=""):
    global failures, passes
    if ok:
        passes += 1
        print(f"PASS {name}")
    else:
        failures += 1
        print(f"FAIL {name}: {why}")
    sys.stdout.flush()


# ---------------------------------------------------------------- test strings

def long_korean():
    base = ("대한민국의 수도는 서울입니다. 한국어는 교착어이며, 조사와 어미가 발달했습니다. "
            "오늘은 2024년 3월 15일 금요일이고, 기온은 영상 12.5도입니다!\n")
    return base * 60


def random_mix(seed, n):
    rng = random.Random(seed)
    pools = ["abcdefghijklmnopqrstuvwxyzABCXYZ", "가나다라마바사아자차카타파하한국어서울", "0123456789",
             " \t\n\r  ", ".,!?;:'\"()[]{}<>-_=+*/\\|@#$%^&~`", "東京你好世界ひらがなカタカナ", "😀👍🏽🇰🇷‍",
             "\u00e9\u0301\u00a0\u3000\u2028\u0085\ufeff\u00bd\u2167"]
    out = []
    for _ in range(n):
        out.append(rng.choice(rng.choice(pools)))
    return "".join(out)


TEXTS = [
    ("ko_sentence", "대한민국의 수도는 서울입니다."),
    ("ko_greeting", "안녕하세요, 반갑습니다! 저는 하이퍼클로바X입니다."),
    ("ko_mixed", "오늘 날씨는 sunny 하고 기온은 25도예요."),
    ("ko_particles", "한국어를 배우는 것은 재미있어요"),
    ("en_hello", "Hello, world!"),
    ("en_fox", "The quick brown fox jumps over the lazy dog."),
    ("en_contractions", "I'm sure they're fine; we've seen it, don't worry."),
    ("en_punct_letters", "visit example.com for -based 's and #tags @user"),
    ("en_caps", "HELLO World hELLo"),
    ("digits_year", "2024년 3월 15일"),
    ("digits_space5", " 5"),
    ("digits_spaces", "5 5  5   5"),
    ("digits_float", "pi = 3.14159, e = 2.71828"),
    ("digits_other", "१२३ ٣٤ Ⅻ ½ ² ①"),
    ("ws_leading", "   leading spaces"),
    ("ws_trailing", "trailing spaces   "),
    ("ws_tabs", "a\tb\t\tc"),
    ("ws_newlines", "\n\n\n"),
    ("ws_mixed", "a \n b  \n\n  c \r\n d"),
    ("ws_crlf", " \r\n \r\n"),
    ("ws_ideographic", "\u3000全角\u3000スペース"),
    ("ws_nbsp", "\u00a0nbsp\u00a0 here"),
    ("ws_linesep", "x\u2028y\u2029z"),
    ("ws_nel", "a\u0085b \u0085 c"),
    ("ws_bom", "\ufeffbom start"),
    ("ws_only", "     "),
    ("repeat_short", "aaa aaaa aaaaa ll lll llll ee eee"),
    ("repeat_korean", "ㅋㅋㅋ ㅋㅋㅋㅋ 하하하 ㅎㅎㅎㅎㅎ"),
    ("repeat_punct", "... !!! ???? ---- ===="),
    ("repeat_spaces", "a  b   c    d     e"),
    ("cjk_tokyo", "東京タワー"),
    ("cjk_chinese", "你好世界，我爱编程。"),
    ("cjk_kana", "ひらがなとカタカナ"),
    ("cjk_mixed", "漢字かな交じり文とHangul한글"),
    ("cjk_out_of_range", "\u9fa6\u9fff 鿿 㐀"),
    ("cjk_ext_b", "𠀀𠀁 𪚥"),
    ("emoji_simple", "😀😃😄 smile"),
    ("emoji_zwj", "👍🏽 👨‍👩‍👧‍👦 🇰🇷"),
    ("special_chat", "<|im_start|>user\n안녕하세요<|im_end|>\n<|im_start|>assistant\n"),
    ("special_eot", "<|endoftext|>"),
    ("special_adjacent", "<|im_start|><|im_end|><|endoftext|><|endoftext|>"),
    ("special_partial", "<|im_start <|im_end| < |im_start|> <|IM_START|>"),
    ("special_inline", "text<|fim_prefix|>more<|fim_suffix|>end<|fim_middle|>"),
    ("special_pii", "call <NAME> at <EMAIL>, key=<KEY><PASSWORD>"),
    ("special_spaces", "  <|im_start|>  system  <|im_end|>  "),
    ("empty", ""),
    ("space", " "),
    ("nul", "a\x00b\x00"),
    ("controls", "\x01\x02\x1b[0m\x7f"),
    ("combining", "e\u0301 cafe\u0301 caf\u00e9"),
    ("lone_combining", "\u0301\u0302 x"),
    ("compat", "ﬁ ligature ① ＡＢＣ ｶﾀｶﾅ"),
    ("code", "def f(x):\n    return x**2  # comment\n\nif __name__ == '__main__':\n\tprint(f(3))\n"),
    ("json", '{"key": [1, 2.5, "값"], "ok": true}'),
    ("url", "https://example.com/path?q=1&r=%20#frag"),
    ("long_korean", long_korean()),
    ("long_mix_1", random_mix(1, 20000)),
    ("long_mix_2", random_mix(2, 5000)),
    ("long_a", "a" * 5000),
    ("long_spaces", " " * 3000 + "x"),
    ("long_syllable", "가" * 2000),
    ("long_digits", "1234567890" * 300),
    ("long_emoji", "😀" * 500),
]

BAD_BYTES = [
    ("invalid_ff", b"\xff\xfe abc"),
    ("invalid_mixed", b"ok \xc3\x28 \xe2\x82 \xed\xa0\x80 \xf4\x90\x80\x80 \xc0\xaf end"),
    ("invalid_truncated_end", "한국".encode() + b"\xed\x95"),
    ("invalid_lone_cont", b"\x80\x80abc\xbf"),
]


def all_inputs():
    items = [(n, t.encode("utf-8")) for n, t in TEXTS]
    return items + BAD_BYTES


# ---------------------------------------------------------------- synthetic tokenizers

BS = list(range(0x21, 0x7F)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))


def byte_alphabet():
    cs, n = {}, 0
    for b in range(256):
        if b in BS:
            cs[b] = chr(b)
        else:
            cs[b] = chr(256 + n)
            n += 1
    return cs


B2C = byte_alphabet()

CORPUS = (long_korean() * 2 + "The quick brown fox jumps over the lazy dog. " * 40 +
          "hello hello world world hello there, they're here. " * 30 +
          "def f(x): return x ** 2\n" * 20 + "東京タワー 你好世界 ひらがな " * 20 + "2024 1234 5 5 " * 20 +
          "aaaa aaa ㅋㅋㅋㅋ ㅋㅋ 하하하 ... !!! ---- " * 25)


def train_bpe(corpus, n_merges, byte_level=True):
    """Tiny BPE trainer (pair counts over space-prefixed words) for test vocabularies."""
    words = collections.Counter(re.findall(r" ?[^ ]+| +", corpus))
    seqs = {}
    for w, c in words.items():
        syms = tuple(B2C[b] for b in w.encode()) if byte_level else tuple(w)
        seqs[syms] = seqs.get(syms, 0) + c
    vocab = {}
    if byte_level:
        for b in range(256):
            vocab[B2C[b]] = len(vocab)
    else:
        vocab["<unk>"] = 0
        for ch in sorted(set(corpus) - set("가나다라마바사")):  # leave some characters unknown
            vocab[ch] = len(vocab)
    merges = []
    for _ in range(n_merges):
        pairs = collections.Counter()
        for s, c in seqs.items():
            for a, b in zip(s, s[1:]):
                if a in vocab and b in vocab:
                    pairs[(a, b)] += c
        if not pairs:
            break
        (a, b), _ = max(pairs.items(), key=lambda kv: (kv[1], kv[0]))
        merges.append((a, b))
        vocab.setdefault(a + b, len(vocab))
        new = {}
        for s, c in seqs.items():
            out, i = [], 0
            while i < len(s):
                if i + 1 < len(s) and s[i] == a and s[i + 1] == b:
                    out.append(a + b)
                    i += 2
                else:
                    out.append(s[i])
                    i += 1
            new[tuple(out)] = new.get(tuple(out), 0) + c
        seqs = new
    return vocab, merges


HCX_SPLITS = [
    {"type": "Split", "pattern": {"Regex": "\\p{N}"}, "behavior": "Isolated", "invert": False},
    {"type": "Split", "pattern": {"Regex": "[\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+"}, "behavior": "Isolated",
     "invert": False},
    {"type": "Split", "pattern": {"Regex": "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}"
                                           "\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"},
     "behavior": "Isolated", "invert": False},
]
BYTELEVEL_PRE = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}
BYTELEVEL_DEC = {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True}
BYTELEVEL_POST = {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True}


def added(i, content, special=False, lstrip=False, rstrip=False, single_word=False, normalized=None):
    return {"id": i, "content": content, "single_word": single_word, "lstrip": lstrip, "rstrip": rstrip,
            "normalized": (not special) if normalized is None else normalized, "special": special}


def make_tokenizer(vocab, merges, *, merges_as="pairs", ignore_merges=False, normalizer=None, pre=None,
                   decoder=BYTELEVEL_DEC, post=BYTELEVEL_POST, extra_added=(), unk=None, extra_vocab=()):
    vocab = dict(vocab)
    for w in extra_vocab:
        vocab.setdefault(w, len(vocab))
    n = len(vocab)
    toks = [added(n, "<|endoftext|>", special=True, normalized=False),
            added(n + 1, "<|im_start|>", special=True, normalized=False),
            added(n + 2, "<|im_end|>", special=True, normalized=False)]
    for k, (content, kw) in enumerate(extra_added):
        toks.append(added(n + 3 + k, content, **kw))
    m = [list(p) for p in merges] if merges_as == "pairs" else [f"{a} {b}" for a, b in merges]
    return {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": toks,
        "normalizer": normalizer,
        "pre_tokenizer": pre if pre is not None else {"type": "Sequence", "pretokenizers": HCX_SPLITS + [BYTELEVEL_PRE]},
        "post_processor": post, "decoder": decoder,
        "model": {"type": "BPE", "dropout": None, "unk_token": unk, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
                  "ignore_merges": ignore_merges, "vocab": vocab, "merges": m},
    }


def bl(s):
    return "".join(B2C[b] for b in s.encode())


def synthetic_tokenizers():
    vocab, merges = train_bpe(CORPUS, 400)
    whole_words = [bl(w) for w in (" hello", " world", "Hello", " 서울입니다", " lazy", "대한민국의")]
    extra = [("<think>", {}), ("</think>", {}),
             ("<mask>", {"lstrip": True, "rstrip": True, "special": True, "normalized": False}),
             ("<lonly>", {"lstrip": True, "normalized": False}),
             ("<ronly>", {"rstrip": True, "normalized": False}),
             ("[TOOL]", {"normalized": True}),
             ("안녕", {"normalized": False})]
    out = {}
    out["synth_ignore_merges_true"] = make_tokenizer(vocab, merges, merges_as="pairs", ignore_merges=True,
                                                     extra_vocab=whole_words, extra_added=extra)
    out["synth_ignore_merges_false"] = make_tokenizer(vocab, merges, merges_as="strings", ignore_merges=False,
                                                      extra_vocab=whole_words, extra_added=extra)
    out["synth_nfc"] = make_tokenizer(
        vocab, merges, normalizer={"type": "Sequence", "normalizers": [{"type": "NFC"}]},
        extra_added=[("caf\u00e9", {"normalized": True}), ("ＴＯＫ", {"normalized": True})])
    out["synth_nfkc"] = make_tokenizer(
        vocab, merges, normalizer={"type": "NFKC"},
        extra_added=[("ＴＯＫ", {"normalized": True}), ("①", {"normalized": False})])
    out["synth_gpt2_bytelevel"] = make_tokenizer(
        vocab, merges, pre={"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True})
    out["synth_split_removed"] = make_tokenizer(
        vocab, merges, pre={"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": " "}, "behavior": "Removed", "invert": False},
            {"type": "Split", "pattern": {"String": "ab"}, "behavior": "Isolated", "invert": False},
            {"type": "Split", "pattern": {"Regex": "\\p{N}+"}, "behavior": "Isolated", "invert": False},
            BYTELEVEL_PRE]})
    cvocab, cmerges = train_bpe(CORPUS, 150, byte_level=False)
    out["synth_charlevel_unk"] = make_tokenizer(
        cvocab, cmerges, merges_as="pairs", unk="<unk>", decoder=None, post=None,
        pre={"type": "Split", "pattern": {"Regex": "\\s+"}, "behavior": "Isolated", "invert": False})
    return out


EXTRA_TEXTS = [
    ("ignore_words", "hello world Hello lazy 서울입니다 대한민국의 hello, world"),
    ("think", "<think>\n생각 중</think>\n답: 42"),
    ("mask_strip", "hello   <mask>   world <mask>\n\tend"),
    ("lonly_ronly", "a   <lonly>   b   <ronly>   c<lonly><ronly> d"),
    ("tool_norm", "call [TOOL] now[TOOL]x"),
    ("added_korean", "안녕하세요 안녕 안녕안녕"),
    ("nfc_input", "cafe\u0301 caf\u00e9 e\u0301te\u0301 \u1100\u1161\u11a8 한"),
    ("nfkc_input", "ＴＯＫ TOK ① ﬁ ｶﾀｶﾅ ２０２４"),
    ("unknown_chars", "가나다 라마 바사 known text"),
]


# ---------------------------------------------------------------- oracle / omnic runners

def ensure_oracle():
    if not shutil.which("node"):
        return "node is not installed"
    if not os.path.isdir(os.path.join(ORACLE, "node_modules", "@huggingface", "tokenizers")) or \
            not os.path.isdir(os.path.join(ORACLE, "node_modules", "tokenizers")):
        r = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=ORACLE, capture_output=True, text=True)
        if r.returncode != 0:
            return "npm ci in tests/oracle failed: " + r.stderr[-500:]
    return None


def run_oracle(jobs):
    r = subprocess.run(["node", os.path.join(ORACLE, "tokenize.mjs"), "--batch"], input=json.dumps({"jobs": jobs}),
                       capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        raise RuntimeError("oracle failed: " + r.stderr[-2000:])
    return json.loads(r.stdout)["results"]


def omnic(args, timeout=120):
    return subprocess.run([OMNIC, "tokenize"] + args, capture_output=True, timeout=timeout)


def omnic_encode(tok, data, tmp, extra=()):
    path = os.path.join(tmp, "input.txt")
    with open(path, "wb") as f:
        f.write(data)
    r = omnic(["-m", tok, "--file", path] + list(extra))
    if r.returncode != 0:
        return None, r.stderr.decode(errors="replace")
    line = r.stdout.decode().strip()
    return ([int(x) for x in line.split(",")] if line else []), None


def omnic_decode(tok, ids, skip=False, stream=False):
    args = ["-m", tok, "--decode", ",".join(map(str, ids)), "--json"]
    if skip:
        args.append("--skip-special")
    if stream:
        args.append("--stream")
    r = omnic(args)
    if r.returncode != 0:
        return None, r.stderr.decode(errors="replace")
    return json.loads(r.stdout.decode()), None


def b64(data):
    return base64.b64encode(data).decode()


def first_diff(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return f"at {i}: omnic {a[max(0, i - 3):i + 5]} vs oracle {b[max(0, i - 3):i + 5]}"
    return f"lengths omnic {len(a)} vs oracle {len(b)}"


# Inputs where Tokenizers.js is known to differ from the Rust library (which is the
# reference omnic follows); for these only the Rust oracle is compared.
JS_KNOWN = {
    # Tokenizers.js ignores single_word and trims lstrip/rstrip with JavaScript's
    # notion of whitespace (U+FEFF yes, U+0085 no).
    "single_word", "single_word_edges",
}


def compare_encode(label, tok, inputs, tmp, oracle_res, js_skip=()):
    for k, (name, data) in enumerate(inputs):
        ids, err = omnic_encode(tok, data, tmp)
        case = f"{label}/encode/{name}"
        if err is not None:
            report(False, case, "omnic failed: " + err.strip())
            continue
        rust = oracle_res["rust"]
        js = oracle_res["js"]
        if "error" in rust:
            report(False, case, "rust oracle error: " + rust["error"])
            continue
        if ids != rust["ids"][k]:
            report(False, case, "differs from HF tokenizers (Rust) " + first_diff(ids, rust["ids"][k]))
            continue
        if name not in js_skip and name not in JS_KNOWN:
            if "error" in js:
                report(False, case, "js oracle error: " + js["error"])
                continue
            if ids != js["ids"][k]:
                report(False, case, "matches Rust but differs from Tokenizers.js " + first_diff(ids, js["ids"][k]))
                continue
        report(True, case)


def compare_decode(label, tok, id_lists, skip, oracle_res, js_ok=True):
    for k, ids in enumerate(id_lists):
        case = f"{label}/decode{'_skip' if skip else ''}/{k}"
        got, err = omnic_decode(tok, ids, skip=skip)
        if err is not None:
            report(False, case, "omnic failed: " + err.strip())
            continue
        want = oracle_res["rust"]["decoded"][k] if "decoded" in oracle_res["rust"] else None
        if want is None:
            report(False, case, "rust oracle error: " + oracle_res["rust"].get("error", "?"))
            continue
        if got["text"] != want:
            report(False, case, f"omnic {got['text'][:80]!r} vs HF tokenizers {str(want)[:80]!r}")
            continue
        if js_ok and oracle_res["js"].get("decoded", [None] * (k + 1))[k] != want:
            report(False, case, f"oracles disagree: js {oracle_res['js'].get('decoded', ['?'])[k][:80]!r}")
            continue
        st, err = omnic_decode(tok, ids, skip=skip, stream=True)
        if err is not None or st["text"] != got["text"] or "".join(st["pieces"]) != got["text"]:
            report(False, case, f"streaming decode differs: {err or st}")
            continue
        report(True, case)


def decode_lists(vocab_size, encoded, seed):
    rng = random.Random(seed)
    lists = [ids for ids in encoded if ids][:12]
    for _ in range(8):  # random ids, often cutting UTF-8 sequences apart
        lists.append([rng.randrange(vocab_size) for _ in range(rng.randrange(1, 40))])
    lists.append([236])  # first byte of a Hangul syllable alone
    lists.append([236, 149])
    return lists


def main():
    if not os.access(OMNIC, os.X_OK):
        report(False, "setup", f"omnic binary not found at {OMNIC}")
        return
    err = ensure_oracle()
    if err:
        report(False, "oracle/install", err)
        return
    tmp = tempfile.mkdtemp(prefix="omnic_tok_")
    try:
        inputs = all_inputs()
        tokenizers = [(os.path.basename(os.path.dirname(g)), g) for g in GOLDEN]
        synth = synthetic_tokenizers()
        for name, tj in synth.items():
            d = os.path.join(tmp, name)
            os.makedirs(d)
            with open(os.path.join(d, "tokenizer.json"), "w", encoding="utf-8") as f:
                json.dump(tj, f, ensure_ascii=False)
            tokenizers.append((name, d))
        extra_inputs = [(n, t.encode()) for n, t in EXTRA_TEXTS]
        extra_inputs += [("single_word", "a <sw> b x<sw> <sw>y <sw>_ é<sw> <sw>".encode()),
                         ("single_word_edges", "<sw>".encode())]

        # single_word token on a copy of the first synthetic tokenizer
        sw = json.loads(json.dumps(synth["synth_ignore_merges_false"]))
        sw["added_tokens"].append(added(max(a["id"] for a in sw["added_tokens"]) + 1, "<sw>", single_word=True,
                                        normalized=False))
        d = os.path.join(tmp, "synth_single_word")
        os.makedirs(d)
        with open(os.path.join(d, "tokenizer.json"), "w", encoding="utf-8") as f:
            json.dump(sw, f, ensure_ascii=False)
        tokenizers.append(("synth_single_word", d))

        # no-special: the oracle gets the file without special added tokens
        nospecial_dir = os.path.join(tmp, "golden_nospecial")
        os.makedirs(nospecial_dir)
        g = json.load(open(os.path.join(GOLDEN[0], "tokenizer.json"), encoding="utf-8"))
        g["added_tokens"] = [a for a in g["added_tokens"] if not a["special"]]
        with open(os.path.join(nospecial_dir, "tokenizer.json"), "w", encoding="utf-8") as f:
            json.dump(g, f, ensure_ascii=False)
        nospecial_inputs = [(n, t.encode()) for n, t in TEXTS if n.startswith("special") or n.startswith("ko")]

        # 1. encode everything with both oracles
        jobs = []
        for name, path in tokenizers:
            ins = inputs + (extra_inputs if name.startswith("synth") else [])
            jobs.append({"tokenizer": path, "texts_b64": [b64(d) for _, d in ins]})
        jobs.append({"tokenizer": nospecial_dir, "texts_b64": [b64(d) for _, d in nospecial_inputs]})
        try:
            enc = run_oracle(jobs)
        except Exception as e:  # noqa: BLE001
            report(False, "oracle/run", str(e))
            return
        if any("error" in r["js"] for r in enc[:2]) or any("error" in r["rust"] for r in enc[:2]):
            report(False, "oracle/load", json.dumps(enc[:2])[:1000])
            return
        report(True, "oracle/load")

        for (name, path), res in zip(tokenizers, enc):
            ins = inputs + (extra_inputs if name.startswith("synth") else [])
            compare_encode(name, path, ins, tmp, res)

        # --no-special against the oracle without special tokens
        res = enc[len(tokenizers)]
        for k, (name, data) in enumerate(nospecial_inputs):
            ids, err = omnic_encode(GOLDEN[0], data, tmp, ["--no-special"])
            ok = err is None and ids == res["rust"]["ids"][k] == res["js"]["ids"][k]
            report(ok, f"hcx-tiny/no-special/{name}", err or (first_diff(ids, res["rust"]["ids"][k]) if not ok else ""))

        # 2. decode: oracle ids, random ids, with and without skip_special
        djobs, dlists = [], []
        for (name, path), res in zip(tokenizers, enc):
            vs = len(json.load(open(os.path.join(path, "tokenizer.json"), encoding="utf-8"))["model"]["vocab"]) + 3
            lists = decode_lists(vs, res["rust"].get("ids", []), zlib.crc32(name.encode()))
            dlists.append(lists)
            for skip in (False, True):
                djobs.append({"tokenizer": path, "decode": lists, "skip_special": skip})
        dec = run_oracle(djobs)
        for i, (name, path) in enumerate(tokenizers):
            for skip in (False, True):
                r = dec[2 * i + int(skip)]
                # both oracles must agree here (Tokenizers.js would differ for added tokens
                # made of Latin-1 letters, which it does not pass through ByteLevel)
                compare_decode(name, path, dlists[i], skip, r, js_ok=True)

        # 3. every split behaviour (Tokenizers.js lacks the merged ones: Rust only)
        split_behaviors(tmp)

        # 4. CLI errors
        cli_errors(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def split_behaviors(tmp):
    vocab = {B2C[b]: b for b in range(256)}
    for i, c in enumerate(["the", "final", "countdown", "-", "the-", "final-", "-final", "-countdown", "--"]):
        vocab[c] = 300 + i
    texts = ["the-final--countdown", "-the--", "---", "no delimiter", "a-b-c"]
    jobs, paths = [], []
    for beh in ("Removed", "Isolated", "MergedWithPrevious", "MergedWithNext", "Contiguous"):
        for inv in (False, True):
            pre = {"type": "Sequence", "pretokenizers": [
                {"type": "Split", "pattern": {"String": "-"}, "behavior": beh, "invert": inv}, BYTELEVEL_PRE]}
            tj = make_tokenizer(vocab, [], ignore_merges=True, pre=pre)
            d = os.path.join(tmp, f"split_{beh}_{int(inv)}")
            os.makedirs(d)
            with open(os.path.join(d, "tokenizer.json"), "w", encoding="utf-8") as f:
                json.dump(tj, f)
            paths.append((f"split_{beh}_{'invert' if inv else 'plain'}", d))
            jobs.append({"tokenizer": d, "texts_b64": [b64(t.encode()) for t in texts], "engines": ["rust"]})
    res = run_oracle(jobs)
    for (name, d), r in zip(paths, res):
        compare_encode(name, d, [(t, t.encode()) for t in texts], tmp, dict(r, js={}),
                       js_skip=set(texts))


def cli_errors(tmp):
    r = omnic(["-m", os.path.join(tmp, "nope")])
    report(r.returncode == 2, "cli/usage_missing_input", f"exit {r.returncode}")
    r = omnic(["--text", "x"])
    report(r.returncode == 2, "cli/usage_missing_model", f"exit {r.returncode}")
    r = omnic(["-m", GOLDEN[0], "--text", "x", "--file", "y"])
    report(r.returncode == 2, "cli/usage_both_inputs", f"exit {r.returncode}")
    r = omnic(["-m", GOLDEN[0], "--decode", "1,x"])
    report(r.returncode == 2, "cli/usage_bad_ids", f"exit {r.returncode}")
    r = omnic(["-m", os.path.join(tmp, "nope"), "--text", "x"])
    report(r.returncode == 1 and b"tokenizer.json" in r.stderr, "cli/missing_tokenizer",
           f"exit {r.returncode}, {r.stderr!r}")
    bad = os.path.join(tmp, "bad")
    os.makedirs(bad)
    with open(os.path.join(bad, "tokenizer.json"), "w") as f:
        f.write('{"model": {"type": "BPE", "vocab": {"a": 0}, ')
    r = omnic(["-m", bad, "--text", "x"])
    report(r.returncode == 1 and b"tokenizer.json" in r.stderr and b"invalid JSON" in r.stderr, "cli/invalid_json",
           f"exit {r.returncode}, {r.stderr!r}")
    with open(os.path.join(bad, "tokenizer.json"), "w") as f:
        f.write('{"model": {"type": "BPE", "merges": []}}')
    r = omnic(["-m", bad, "--text", "x"])
    report(r.returncode == 1 and b"model.vocab" in r.stderr, "cli/missing_vocab", f"exit {r.returncode}, {r.stderr!r}")
    r = omnic(["-m", GOLDEN[0], "--file", os.path.join(tmp, "missing.txt")])
    report(r.returncode == 1 and b"missing.txt" in r.stderr, "cli/missing_input_file", f"exit {r.returncode}")
    r = omnic(["-m", GOLDEN[0], "--text", "안녕 <|im_end|>", "--json"])
    ok = r.returncode == 0
    if ok:
        j = json.loads(r.stdout)
        ok = len(j["ids"]) == len(j["tokens"]) and j["tokens"][-1] == "<|im_end|>"
    report(ok, "cli/json_output", r.stdout.decode(errors="replace")[:200])


if __name__ == "__main__":
    main()
    print(f"{passes} passed, {failures} failed")
    sys.exit(1 if failures else 0)
