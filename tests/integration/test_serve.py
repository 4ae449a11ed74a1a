#!/usr/bin/env python3
"""test_serve.py - `omnic serve` end to end over real HTTP on the golden random-weight
model (shared/golden/hcx-small): routes and response shapes (api.md), greedy output
against the golden manifest decoded by the npm tokenizers oracle, prefix reuse,
streaming SSE with usage, stop strings / stop ids, seeds, /a and /b routes, tokenize,
metrics, 30+ malformed requests (status + OpenAI error shape), raw malformed HTTP,
16 concurrent clients vs. alone, client disconnects, API key, 429, timeouts, the
reasoning / tool-call parse path (through the OMNIC_TEST_SCRIPT test hook), the
official `openai` npm client (tests/oracle/openai_client.mjs), and a clean SIGTERM
shutdown with no sanitizer report.

Prints "PASS <name>" / "FAIL <name>: <why>" per case; exits 1 on any failure."""
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OMNIC = os.environ.get("OMNIC", os.path.join(ROOT, "build", "omnic"))
ORACLE = os.path.join(ROOT, "tests", "oracle")
GOLDEN = os.path.normpath(os.path.join(ROOT, "..", "shared", "golden", "hcx-small"))
if not os.path.isdir(GOLDEN):
    GOLDEN = "/work/shared/golden/hcx-small"
MODEL = os.path.join(GOLDEN, "model")
MEDIA = None

failures = 0


def report(ok, name, why=""):
    global failures
    if ok:
        print("PASS %s" % name, flush=True)
    else:
        failures += 1
        print("FAIL %s: %s" % (name, why), flush=True)
    return ok


def case(name):
    """Decorator that runs the case at once: returning None passes, a string fails with
    that reason, an exception fails with its text."""
    def wrap(fn):
        try:
            r = fn()
            report(r is None, name, r if isinstance(r, str) else "")
        except Exception as ex:  # noqa: BLE001 - any error fails the case
            report(False, name, "%s: %s" % (type(ex).__name__, ex))
        return fn
    return wrap


class Server:
    def __init__(self, args, env=None, model=None):
        self.errf = tempfile.NamedTemporaryFile(prefix="omnic-serve-", suffix=".log", delete=False)
        e = dict(os.environ)
        e.update(env or {})
        self.p = subprocess.Popen([OMNIC, "serve", "-m", model or MODEL, "--port", "0"] + args, stdout=subprocess.DEVNULL,
                                  stderr=self.errf, env=e)
        self.port = None
        t0 = time.time()
        while time.time() - t0 < 60:
            m = re.search(r"listening on http://[^:]+:(\d+)\n", self.log())
            if m:
                self.port = int(m.group(1))
                break
            if self.p.poll() is not None:
                raise RuntimeError("server exited: " + self.log())
            time.sleep(0.05)
        if not self.port:
            raise RuntimeError("server did not start: " + self.log())

    def log(self):
        with open(self.errf.name, "r", errors="replace") as f:
            return f.read()

    def stop(self, timeout=30):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
        try:
            rc = self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            rc = "hung"
        return rc, self.log()

    # ---- HTTP helpers
    def request(self, method, path, body=None, headers=None, timeout=120):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        hdrs = {k.lower(): v for k, v in r.getheaders()}
        c.close()
        return r.status, hdrs, data

    def json(self, method, path, body=None, headers=None):
        st, h, data = self.request(method, path, body, headers)
        try:
            return st, h, json.loads(data)
        except ValueError:
            return st, h, data

    def post(self, path, body, headers=None):
        st, _, j = self.json("POST", path, body, headers)
        return st, j

    def stream(self, path, body, headers=None):
        """POST with stream: returns (status, headers, [events]); an event is a dict or '[DONE]'."""
        st, h, data = self.request("POST", path, body, headers)
        events = []
        text = data.decode("utf-8")
        if st != 200:
            return st, h, text
        assert text.endswith("\n\n"), "stream does not end with a blank line"
        for block in text.split("\n\n"):
            if not block:
                continue
            assert block.startswith("data: ") and "\n" not in block, "bad SSE frame %r" % block[:80]
            payload = block[6:]
            events.append("[DONE]" if payload == "[DONE]" else json.loads(payload))
        return st, h, events


def chat_body(text, **kw):
    b = {"messages": [{"role": "user", "content": text}]}
    b.update(kw)
    return b


def oracle_decode(seqs, skip_special=False):
    job = {"jobs": [{"tokenizer": MODEL, "texts_b64": [], "decode": seqs, "skip_special": skip_special}]}
    p = subprocess.run(["node", os.path.join(ORACLE, "tokenize.mjs"), "--batch"], input=json.dumps(job).encode(),
                       capture_output=True, timeout=120)
    if p.returncode:
        raise RuntimeError("oracle failed: " + p.stderr.decode()[-500:])
    res = json.loads(p.stdout)["results"][0]
    return res["rust"]["decoded"]


def metric(srv, name):
    _, _, data = srv.request("GET", "/metrics")
    m = re.search(r"^%s (\S+)$" % re.escape(name), data.decode(), re.M)
    return float(m.group(1)) if m else None


def check_error(st, j, status, etype=None, param=None, msg=None):
    """The OpenAI error shape (api.md 11.1) with both param and params."""
    if st != status:
        return "status %s != %s (%s)" % (st, status, j)
    if not isinstance(j, dict) or set(j) != {"error"}:
        return "not an error object: %r" % (j,)
    e = j["error"]
    for k in ("message", "type", "param", "params", "code"):
        if k not in e:
            return "error object lacks %r: %r" % (k, e)
    if e["code"] != status or not isinstance(e["message"], str) or not e["message"]:
        return "bad code/message: %r" % e
    if e["param"] != e["params"]:
        return "param %r != params %r" % (e["param"], e["params"])
    if etype and e["type"] != etype:
        return "type %r != %r (%s)" % (e["type"], etype, e["message"])
    if param is not None and e["param"] != param:
        return "param %r != %r (%s)" % (e["param"], param, e["message"])
    if msg and msg.lower() not in e["message"].lower():
        return "message %r lacks %r" % (e["message"], msg)
    return None


# ------------------------------------------------------------------------------------
# main server cases

SCRIPTS = {
    "tool": "<tool_call>get_weather\n<arg_key>city</arg_key>\n<arg_value>Seoul</arg_value>\n"
            "<arg_key>days</arg_key>\n<arg_value>3</arg_value>\n</tool_call>",
    "think": "let me think</think>\n\nThe answer is 4.",
    "answer": "Hello from the script, stop HERE please.",
}
TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "weather",
                                            "parameters": {"type": "object", "properties": {
                                                "city": {"type": "string"}, "days": {"type": "integer"}}}}}]


def run_main(srv):
    @case("health")
    def _():
        st, h, data = srv.request("GET", "/health")
        if st != 200 or data != b'{"status":"ok"}' or not h.get("content-type", "").startswith("application/json"):
            return "got %s %r %r" % (st, data, h)

    @case("models/v1")
    def _():
        st, _, j = srv.json("GET", "/v1/models")
        if st != 200 or j["object"] != "list" or len(j["data"]) != 1:
            return repr(j)
        m = j["data"][0]
        if m["id"] != "hcx-small" or m["object"] != "model" or m["max_model_len"] != 1024 or \
                not m["permission"][0]["id"].startswith("modelperm-") or not isinstance(m["created"], int):
            return repr(m)
        st, _, one = srv.json("GET", "/v1/models/hcx-small")
        if st != 200 or one["id"] != "hcx-small":
            return "retrieve: %s %r" % (st, one)
        st, _, j = srv.json("GET", "/v1/models/no-such-model")
        return check_error(st, j, 404, "NotFoundError", msg="The model `no-such-model` does not exist.")

    @case("models/weights_digest")
    def _():
        want = subprocess.run([OMNIC, "hash", "-m", MODEL, "--digest-only", "--quiet"], capture_output=True,
                              text=True, timeout=120).stdout.strip().split()[-1].replace("sha256:", "")
        got = None
        for _ in range(100):  # computed in the background after start
            st, _, j = srv.json("GET", "/v1/models")
            got = j["data"][0].get("omnic_weights_sha256")
            if got:
                break
            time.sleep(0.1)
        if not re.fullmatch(r"[0-9a-f]{64}", want or "") or got != want:
            return "served %r, omnic hash %r" % (got, want)

    @case("models/a_b")
    def _():
        for pre, name in (("/a", "track_a_model"), ("/b", "track_b_model")):
            st, _, j = srv.json("GET", pre + "/v1/models")
            if st != 200 or [d["id"] for d in j["data"]] != [name]:
                return "%s: %s %r" % (pre, st, j)
            st, _, j = srv.json("GET", pre + "/v1/other")
            err = check_error(st, j, 404)
            if err:
                return pre + "/v1/other: " + err

    usage_ref = {}

    @case("chat/non_streaming_shape")
    def _():
        st, j = srv.post("/v1/chat/completions", chat_body("Hello there", max_tokens=12, seed=7))
        if st != 200:
            return "%s %r" % (st, j)
        if not re.fullmatch(r"chatcmpl-[0-9a-f]{32}", j["id"]) or j["object"] != "chat.completion":
            return "id/object: %r" % j
        if j["model"] != "hcx-small" or not isinstance(j["created"], int) or abs(j["created"] - time.time()) > 300:
            return "model/created: %r" % j
        ch = j["choices"]
        if len(ch) != 1 or ch[0]["index"] != 0 or ch[0]["finish_reason"] not in ("stop", "length"):
            return "choices: %r" % ch
        msg = ch[0]["message"]
        if msg["role"] != "assistant" or msg["tool_calls"] != [] or msg["reasoning_content"] is not None:
            return "message: %r" % msg
        if not (msg["content"] is None or isinstance(msg["content"], str)):
            return "content: %r" % msg
        u = j["usage"]
        if u["total_tokens"] != u["prompt_tokens"] + u["completion_tokens"] or not 1 <= u["completion_tokens"] <= 12:
            return "usage: %r" % u
        if ch[0]["finish_reason"] == "length" and u["completion_tokens"] != 12:
            return "length finish with %d tokens" % u["completion_tokens"]
        usage_ref["prompt"] = u["prompt_tokens"]
        # the prompt size equals what /tokenize says for the same messages
        st, tk = srv.post("/tokenize", {"messages": [{"role": "user", "content": "Hello there"}]})
        if st != 200 or tk["count"] != u["prompt_tokens"] or len(tk["tokens"]) != tk["count"] or tk["max_model_len"] != 1024:
            return "tokenize count %r vs usage %r" % (tk, u)

    @case("chat/length_and_ignore_eos")
    def _():
        st, j = srv.post("/v1/chat/completions", chat_body("Count", max_tokens=40, seed=3, ignore_eos=True))
        if st != 200 or j["choices"][0]["finish_reason"] != "length" or j["usage"]["completion_tokens"] != 40:
            return "%s %r" % (st, j)
        st, j = srv.post("/v1/chat/completions", chat_body("Count", max_completion_tokens=5, max_tokens=40, seed=3,
                                                           ignore_eos=True))
        if j["usage"]["completion_tokens"] != 5:
            return "max_completion_tokens did not take precedence: %r" % j["usage"]

    @case("chat/seed_reproducible")
    def _():
        b = chat_body("Tell me a story", max_tokens=24, seed=1234, temperature=1.0, ignore_eos=True)
        a1 = srv.post("/v1/chat/completions", b)[1]["choices"][0]["message"]["content"]
        a2 = srv.post("/v1/chat/completions", b)[1]["choices"][0]["message"]["content"]
        b["seed"] = 4321
        a3 = srv.post("/v1/chat/completions", b)[1]["choices"][0]["message"]["content"]
        if a1 != a2:
            return "same seed, different output: %r vs %r" % (a1, a2)
        if a1 == a3:
            return "different seeds gave identical 24-token output %r" % a1

    manifest = json.load(open(os.path.join(GOLDEN, "manifest.json")))
    seqs = manifest["sequences"]
    expected = oracle_decode([s["greedy_tokens"] for s in seqs], skip_special=False)

    @case("completions/greedy_matches_golden")
    def _():
        for s, exp in zip(seqs, expected):
            st, j = srv.post("/v1/completions", {"prompt": s["tokens"], "max_tokens": 16, "temperature": 0,
                                                 "ignore_eos": True, "skip_special_tokens": False})
            if st != 200:
                return "%s: %s %r" % (s["name"], st, j)
            if not re.fullmatch(r"cmpl-[0-9a-f]{32}", j["id"]) or j["object"] != "text_completion":
                return "shape %r" % j
            got = j["choices"][0]["text"]
            if got != exp:
                return "%s: %r != golden %r" % (s["name"], got, exp)
            if j["usage"] != {"prompt_tokens": len(s["tokens"]), "completion_tokens": 16,
                              "total_tokens": len(s["tokens"]) + 16, "prompt_tokens_details": None}:
                return "usage %r" % j["usage"]

    @case("completions/prefix_reuse")
    def _():
        s = seqs[2]  # 33 tokens
        # 1) the first 20 tokens, one generated token: the slot keeps exactly those 20
        #    (this one may itself reuse a prefix left by an earlier case)
        srv.post("/v1/completions", {"prompt": s["tokens"][:20], "max_tokens": 1, "temperature": 0})
        before = metric(srv, "omnic_prompt_tokens_reused_total")
        # 2) the whole prompt extends them: only 13 new tokens are evaluated
        st, j = srv.post("/v1/completions", {"prompt": s["tokens"], "max_tokens": 16, "temperature": 0,
                                             "ignore_eos": True, "skip_special_tokens": False})
        after = metric(srv, "omnic_prompt_tokens_reused_total")
        if after - before != 20:
            return "reused tokens %s -> %s (expected +20)" % (before, after)
        if j["choices"][0]["text"] != expected[2]:
            return "output after reuse differs from golden: %r" % j["choices"][0]["text"]

    @case("completions/prefix_reuse_after_divergence")
    def _():
        s = seqs[2]  # 33 tokens
        # a cached prompt that diverges from the next one after 20 tokens: the slot is
        # truncated to the shared 20 and the output still equals golden
        srv.post("/v1/completions", {"prompt": s["tokens"][:20] + [7, 8, 9, 10], "max_tokens": 1, "temperature": 0})
        before = metric(srv, "omnic_prompt_tokens_reused_total")
        st, j = srv.post("/v1/completions", {"prompt": s["tokens"], "max_tokens": 16, "temperature": 0,
                                             "ignore_eos": True, "skip_special_tokens": False})
        after = metric(srv, "omnic_prompt_tokens_reused_total")
        if st != 200:
            return "%s %r" % (st, j)
        if after - before != 20:
            return "reused tokens %s -> %s (expected +20)" % (before, after)
        if j["choices"][0]["text"] != expected[2]:
            return "output after truncated reuse differs from golden: %r" % j["choices"][0]["text"]

    @case("chat/stream_include_usage")
    def _():
        body = chat_body("Stream me", max_tokens=20, seed=11, ignore_eos=True)
        whole = srv.post("/v1/chat/completions", body)[1]
        st, h, ev = srv.stream("/v1/chat/completions", dict(body, stream=True, stream_options={"include_usage": True}))
        if st != 200 or not h.get("content-type", "").startswith("text/event-stream"):
            return "%s %r" % (st, h)
        if ev[-1] != "[DONE]":
            return "no [DONE]"
        chunks = ev[:-1]
        ids = {c["id"] for c in chunks}
        if len(ids) != 1 or not all(c["object"] == "chat.completion.chunk" for c in chunks):
            return "ids/objects %r" % ids
        first = chunks[0]["choices"][0]["delta"]
        if first.get("role") != "assistant" or first.get("content") != "":
            return "first delta %r" % first
        usage = chunks[-1]
        if usage["choices"] != [] or usage["usage"] != {"prompt_tokens": whole["usage"]["prompt_tokens"],
                                                        "completion_tokens": 20,
                                                        "total_tokens": whole["usage"]["prompt_tokens"] + 20}:
            return "usage chunk %r" % usage
        final = chunks[-2]["choices"][0]
        if final["finish_reason"] != "length":
            return "final chunk %r" % final
        text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks[:-1])
        if text != (whole["choices"][0]["message"]["content"] or ""):
            return "stream text %r != non-stream %r" % (text, whole["choices"][0]["message"]["content"])
        # without stream_options: no usage chunk on /v1
        st, h, ev = srv.stream("/v1/chat/completions", dict(body, stream=True))
        if any(isinstance(c, dict) and "usage" in c for c in ev):
            return "usage sent without include_usage"

    @case("completions/stream")
    def _():
        body = {"prompt": seqs[1]["tokens"], "max_tokens": 16, "temperature": 0, "ignore_eos": True,
                "skip_special_tokens": False, "stream": True, "stream_options": {"include_usage": True}}
        st, h, ev = srv.stream("/v1/completions", body)
        if st != 200 or ev[-1] != "[DONE]":
            return "%s %r" % (st, ev[-3:])
        text = "".join(c["choices"][0]["text"] for c in ev[:-1] if c["choices"])
        if text != expected[1]:
            return "%r != %r" % (text, expected[1])
        if ev[-2]["usage"]["completion_tokens"] != 16 or ev[-3]["choices"][0]["finish_reason"] != "length":
            return "tail %r" % ev[-3:]

    # stop strings: take a greedy text and cut it at a piece of itself
    @case("stop/strings")
    def _():
        base = {"prompt": seqs[2]["tokens"], "max_tokens": 16, "temperature": 0, "ignore_eos": True,
                "skip_special_tokens": False}
        full = expected[2]
        stop = None
        for i in range(3, len(full) - 3):
            cand = full[i:i + 3]
            if full.find(cand) == i and "\ufffd" not in cand:
                stop = cand
                break
        if not stop:
            return "no usable stop string in %r" % full
        cut = full.find(stop)
        st, j = srv.post("/v1/completions", dict(base, stop=[stop, "\u2603never"]))
        c = j["choices"][0]
        if c["text"] != full[:cut] or c["finish_reason"] != "stop" or c["stop_reason"] != stop:
            return "stop %r: %r" % (stop, c)
        st, j = srv.post("/v1/completions", dict(base, stop=stop, include_stop_str_in_output=True))
        if j["choices"][0]["text"] != full[:cut + len(stop)]:
            return "include_stop_str_in_output: %r" % j["choices"][0]
        st, h, ev = srv.stream("/v1/completions", dict(base, stop=[stop], stream=True))
        text = "".join(e["choices"][0]["text"] for e in ev[:-1] if e["choices"])
        if text != full[:cut] or ev[-2]["choices"][0]["stop_reason"] != stop:
            return "stream: %r" % text

    @case("stop/token_ids")
    def _():
        s = seqs[1]  # greedy: 386, 131, 131, ...
        st, j = srv.post("/v1/completions", {"prompt": s["tokens"], "max_tokens": 16, "temperature": 0,
                                             "ignore_eos": True, "stop_token_ids": [s["greedy_tokens"][1]]})
        c = j["choices"][0]
        if c["finish_reason"] != "stop" or c["stop_reason"] != s["greedy_tokens"][1] or j["usage"]["completion_tokens"] != 2:
            return repr(j)

    @case("sampling/logit_bias_skip_special_penalties_min_tokens")
    def _():
        base = {"max_tokens": 16, "temperature": 0, "ignore_eos": True}
        # +100 on one token makes greedy pick it every step
        st, j = srv.post("/v1/completions", dict(base, prompt=seqs[0]["tokens"], max_tokens=3, logit_bias={"42": 100}))
        want = oracle_decode([[42, 42, 42]])[0]
        if j["choices"][0]["text"] != want:
            return "logit_bias: %r != %r" % (j["choices"][0]["text"], want)
        # skip_special_tokens (default true) drops the special tokens of the golden greedy output
        st, j = srv.post("/v1/completions", dict(base, prompt=seqs[0]["tokens"]))
        want = oracle_decode([seqs[0]["greedy_tokens"]], skip_special=True)[0]
        if j["choices"][0]["text"] != want or want == expected[0]:
            return "skip_special: %r != %r" % (j["choices"][0]["text"], want)
        # the golden len7 greedy output repeats one token 8 times; a frequency penalty breaks that
        st, j = srv.post("/v1/completions", dict(base, prompt=seqs[1]["tokens"], frequency_penalty=2.0,
                                                 skip_special_tokens=False))
        if j["choices"][0]["text"] == expected[1]:
            return "frequency_penalty had no effect"
        st, j = srv.post("/v1/completions", dict(base, prompt=seqs[1]["tokens"], repetition_penalty=1.8,
                                                 skip_special_tokens=False))
        if j["choices"][0]["text"] == expected[1]:
            return "repetition_penalty had no effect"
        # min_tokens keeps a stop token id from ending generation early
        rep = seqs[1]["greedy_tokens"][1]
        st, j = srv.post("/v1/completions", dict(base, prompt=seqs[1]["tokens"], stop_token_ids=[rep], min_tokens=5))
        if j["usage"]["completion_tokens"] < 6:
            return "min_tokens: %r" % j["usage"]
        # request_id becomes the id suffix; continuous_usage_stats puts usage in every chunk
        st, j = srv.post("/v1/chat/completions", chat_body("hi", max_tokens=2, request_id="abc-123"))
        if j["id"] != "chatcmpl-abc-123":
            return "request_id: %r" % j["id"]
        st, h, ev = srv.stream("/v1/chat/completions", chat_body("hi", max_tokens=3, ignore_eos=True, stream=True,
                                                                 stream_options={"include_usage": True,
                                                                                 "continuous_usage_stats": True}))
        if not all("usage" in e for e in ev[:-1]) or ev[-2]["usage"]["completion_tokens"] != 3:
            return "continuous_usage_stats: %r" % ev

    @case("response_format/json_object")
    def _():
        # constrained decoding: whatever the random model prefers, the output is one JSON
        # object; a bias toward the structural characters keeps the answers short
        ids = {}
        for ch in '"}:,':
            st, tk = srv.post("/tokenize", {"prompt": ch})
            ids[ch] = tk["tokens"][0]
        bias = {str(ids['"']): 4, str(ids["}"]): 4}
        for seed in (1, 2, 3):
            b = chat_body("json please", seed=seed, max_tokens=600, logit_bias=bias,
                          response_format={"type": "json_object"})
            st, j = srv.post("/v1/chat/completions", b)
            c = j["choices"][0]
            if st != 200 or c["finish_reason"] != "stop":
                return "seed %d: %s %r" % (seed, st, c)
            if not isinstance(json.loads(c["message"]["content"]), dict):
                return "seed %d: not an object: %r" % (seed, c["message"]["content"])
        st, h, ev = srv.stream("/v1/chat/completions", dict(b, stream=True))
        text = "".join(e["choices"][0]["delta"].get("content") or "" for e in ev[:-1] if e["choices"])
        if not isinstance(json.loads(text), dict):
            return "stream: %r" % text
        st, j = srv.post("/v1/chat/completions", chat_body("json", max_tokens=300, temperature=0, logit_bias=bias,
                                                           response_format={"type": "json_object"}))
        if not isinstance(json.loads(j["choices"][0]["message"]["content"]), dict):
            return "greedy: %r" % j["choices"][0]

    @case("chat/n_rejected")
    def _():
        st, j = srv.post("/v1/chat/completions", chat_body("hi", n=2))
        err = check_error(st, j, 400, param="n")
        if err:
            return err
        st, j = srv.post("/v1/chat/completions", chat_body("hi", n=1, max_tokens=2))
        if st != 200:
            return "n=1: %s" % st

    @case("routes/a_b_chat")
    def _():
        for pre, name in (("/a", "track_a_model"), ("/b", "track_b_model")):
            for model in (None, name, "hcx-small"):
                b = chat_body("hi", max_tokens=3)
                if model:
                    b["model"] = model
                st, j = srv.post(pre + "/v1/chat/completions", b)
                if st != 200 or j["model"] != name:
                    return "%s model=%s: %s %r" % (pre, model, st, j)
            st, j = srv.post(pre + "/v1/chat/completions", chat_body("hi", model="gpt-4"))
            err = check_error(st, j, 404, "NotFoundError", "model", "The model `gpt-4` does not exist.")
            if err:
                return pre + ": " + err
            # OmniServe default: stream_options without include_usage means usage (api.md 4.1)
            st, h, ev = srv.stream(pre + "/v1/chat/completions", chat_body("hi", max_tokens=3, stream=True,
                                                                         stream_options={}))
            if not any(isinstance(c, dict) and c.get("usage") for c in ev):
                return pre + ": no usage chunk with stream_options {}"
        # /v1 answers with the name the client sent
        st, j = srv.post("/v1/chat/completions", chat_body("hi", max_tokens=2, model="hcx-small"))
        if j["model"] != "hcx-small":
            return "v1 model %r" % j["model"]
        # extra_body sent literally is flattened (api.md 4.1)
        st, j = srv.post("/b/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}],
                                                    "extra_body": {"max_tokens": 4, "ignore_eos": True}})
        if st != 200 or j["usage"]["completion_tokens"] != 4:
            return "extra_body: %s %r" % (st, j)

    @case("tokenize")
    def _():
        cli = subprocess.run([OMNIC, "tokenize", "-m", MODEL, "--text", "Hello, 세계! <|im_start|>", "--json"],
                             capture_output=True, timeout=60)
        ref = json.loads(cli.stdout)["ids"]
        for path in ("/tokenize", "/v1/tokenize", "/a/tokenize", "/b/tokenize"):
            st, j = srv.post(path, {"prompt": "Hello, 세계! <|im_start|>", "return_token_strs": True})
            if st != 200 or j["tokens"] != ref or j["count"] != len(ref) or len(j["token_strs"]) != len(ref):
                return "%s: %s %r (cli %r)" % (path, st, j, ref)
        st, j = srv.post("/tokenize", {"prompt": "x"})
        if j["token_strs"] is not None:
            return "token_strs should be null: %r" % j
        st, j = srv.post("/tokenize", {"messages": [{"role": "user", "content": "hi"}], "add_generation_prompt": True,
                                       "continue_final_message": True})
        return check_error(st, j, 422)

    @case("metrics")
    def _():
        st, h, data = srv.request("GET", "/metrics")
        t = data.decode()
        if st != 200 or not h["content-type"].startswith("text/plain"):
            return "%s %r" % (st, h)
        for name in ("omnic_requests_total{route=\"/v1/chat/completions\",status=\"200\"}",
                     "omnic_generation_tokens_total", "omnic_time_to_first_token_seconds_count",
                     "omnic_requests_running{model=\"hcx-small\"}", "omnic_slots{model=\"hcx-small\"} 4"):
            if name not in t:
                return "missing %s" % name
        for line in t.splitlines():
            if line and not line.startswith("#") and \
                    not re.fullmatch(r'[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? -?[0-9.e+]+', line):
                return "bad exposition line %r" % line

    @case("media_store")
    def _():
        name = "0123456789abcdef0123456789abcdef.png"
        with open(os.path.join(MEDIA, name), "wb") as f:
            f.write(b"\x89PNG\r\n\x1a\nfake")
        st, h, data = srv.request("GET", "/media/" + name)
        if st != 200 or h.get("content-type") != "image/png" or data != b"\x89PNG\r\n\x1a\nfake":
            return "%s %r %r" % (st, h, data)
        for bad in ("../etc/passwd", "0123456789abcdef0123456789abcdef.exe", "nothex89abcdef0123456789abcdef.png",
                    "ffffffffffffffffffffffffffffffff.png", "%2e%2e%2fsecret"):
            st, _, j = srv.json("GET", "/media/" + bad)
            if st != 404:
                return "%s: %s" % (bad, st)

    @case("cors_preflight")
    def _():
        st, h, _ = srv.request("OPTIONS", "/v1/chat/completions", headers={
            "Origin": "http://localhost:5173", "Access-Control-Request-Method": "POST"})
        if st != 204 or h.get("access-control-allow-origin") != "http://localhost:5173":
            return "%s %r" % (st, h)

    run_bad_inputs(srv)
    run_raw_http(srv)
    run_concurrency(srv)
    run_disconnects(srv)


def run_bad_inputs(srv):
    C = "/v1/chat/completions"
    msgs = [{"role": "user", "content": "hi"}]
    long_text = " ".join(["word"] * 3000)
    bad = [
        # (name, method, path, body, headers, status, type, param, message part)
        ("json_syntax", "POST", C, '{"messages": [', None, 422, "invalid_request_error", None, "Invalid JSON"),
        ("json_array_body", "POST", C, "[]", None, 422, None, None, "JSON object"),
        ("empty_body", "POST", C, "", None, 422, None, None, "empty"),
        ("json_nan", "POST", C, '{"messages": [], "temperature": NaN}', None, 422, None, "temperature", "Invalid JSON"),
        ("json_duplicate_key", "POST", C, '{"messages": [], "messages": []}', None, 422, None, None, "duplicate"),
        ("invalid_utf8", "POST", C, b'{"messages": [{"role": "user", "content": "\xff\xfe"}]}', None, 422, None,
         "content", "Invalid JSON"),
        ("messages_missing", "POST", C, {"model": "hcx-small"}, None, 422, None, "messages", "required"),
        ("messages_not_array", "POST", C, {"messages": "hi"}, None, 422, None, "messages", "array"),
        ("messages_empty", "POST", C, {"messages": []}, None, 422, None, "messages", "non-empty"),
        ("message_not_object", "POST", C, {"messages": ["hi"]}, None, 422, None, "messages[0]", None),
        ("role_missing", "POST", C, {"messages": [{"content": "hi"}]}, None, 422, None, "messages[0].role", None),
        ("role_unknown", "POST", C, {"messages": [{"role": "wizard", "content": "hi"}]}, None, 422, None, "messages[0]",
         "wizard"),
        ("content_number", "POST", C, {"messages": [{"role": "user", "content": 5}]}, None, 422, None,
         "messages[0].content", None),
        ("user_content_null", "POST", C, {"messages": [{"role": "user", "content": None}]}, None, 422, None,
         "messages[0].content", "required"),
        ("part_type_unknown", "POST", C, {"messages": [{"role": "user", "content": [{"type": "hologram"}]}]}, None, 422,
         None, "messages[0].content[0]", "hologram"),
        ("part_text_not_string", "POST", C, {"messages": [{"role": "user", "content": [{"type": "text", "text": 1}]}]},
         None, 422, None, "messages[0].content[0].text", None),
        ("image_url_no_scheme", "POST", C, {"messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "no-scheme.png"}}]}]}, None, 422, "validation_error", None,
         "Invalid URL format"),
        ("image_remote_refused", "POST", C, {"messages": [{"role": "user", "content": [
            {"type": "text", "text": "what is this"},
            {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}]}]}, None, 400,
         "invalid_request_error", "messages[0].content[1]", "--allow-remote-media"),
        ("image_local_refused", "POST", C, {"messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "file:///etc/passwd"}}]}]}, None, 400,
         "invalid_request_error", "messages[0].content[0]", "below the media directory"),
        ("image_data_text_model", "POST", C, {"messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}]}]}, None, 400,
         "invalid_request_error", "messages[0].content[0]", None),
        ("image_data_bad_base64", "POST", C, {"messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,@@@"}}]}]}, None, 400,
         "invalid_request_error", "messages[0].content[0]", "base64"),
        ("audio_format_bad", "POST", "/b/v1/chat/completions", {"messages": [{"role": "user", "content": [
            {"type": "input_audio", "input_audio": {"data": "aGk=", "format": "midi"}}]}]}, None, 422, None,
         "messages[0].content[0].input_audio.format", None),
        ("audio_part_unsupported", "POST", "/b/v1/chat/completions", {"messages": [{"role": "user", "content": [
            {"type": "input_audio", "input_audio": {"data": "aGk=", "format": "wav"}}]}]}, None, 400, None,
         "messages[0].content[0]", "cannot take this media"),
        ("tool_args_invalid_json", "POST", C, {"messages": [{"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{not json"}}]}]}, None, 400, None,
         "messages[0].tool_calls[0].function.arguments", None),
        ("temperature_type", "POST", C, {"messages": msgs, "temperature": "hot"}, None, 422, None, "temperature", None),
        ("temperature_negative", "POST", C, {"messages": msgs, "temperature": -1}, None, 400, "BadRequestError",
         "temperature", None),
        ("top_p_zero", "POST", C, {"messages": msgs, "top_p": 0}, None, 400, None, "top_p", None),
        ("top_p_above_one", "POST", C, {"messages": msgs, "top_p": 1.5}, None, 400, None, "top_p", None),
        ("presence_penalty_range", "POST", C, {"messages": msgs, "presence_penalty": 3}, None, 400, None,
         "presence_penalty", None),
        ("max_tokens_zero", "POST", C, {"messages": msgs, "max_tokens": 0}, None, 400, None, "max_tokens", None),
        ("max_tokens_string", "POST", C, {"messages": msgs, "max_tokens": "10"}, None, 422, None, "max_tokens", None),
        ("max_tokens_huge", "POST", C, {"messages": msgs, "max_tokens": 1000000000}, None, 400, "BadRequestError",
         "max_tokens", "maximum context length"),
        ("prompt_too_long", "POST", C, {"messages": [{"role": "user", "content": long_text}]}, None, 400, None,
         "messages", "maximum context length"),
        ("min_tokens_gt_max", "POST", C, {"messages": msgs, "max_tokens": 2, "min_tokens": 5}, None, 400, None,
         "min_tokens", None),
        ("n_two", "POST", C, {"messages": msgs, "n": 2}, None, 400, None, "n", None),
        ("n_via_extra_body", "POST", C, {"messages": msgs, "extra_body": {"n": 3}}, None, 400, None, "n", None),
        ("stream_type", "POST", C, {"messages": msgs, "stream": "yes"}, None, 422, None, "stream", None),
        ("stream_options_without_stream", "POST", C, {"messages": msgs, "stream_options": {"include_usage": True}},
         None, 400, None, "stream_options", None),
        ("tool_choice_without_tools", "POST", C, {"messages": msgs, "tool_choice": "auto"}, None, 400, None,
         "tool_choice", "`tools` must be set"),
        ("tool_choice_required", "POST", C, {"messages": msgs, "tools": TOOLS, "tool_choice": "required"}, None, 400,
         None, "tool_choice", None),
        ("tools_not_array", "POST", C, {"messages": msgs, "tools": {"type": "function"}}, None, 422, None, "tools", None),
        ("tool_type_wrong", "POST", C, {"messages": msgs, "tools": [{"type": "retrieval"}]}, None, 422, None,
         "tools[0]", None),
        ("model_unknown", "POST", C, {"messages": msgs, "model": "gpt-4o"}, None, 404, "NotFoundError", "model",
         "The model `gpt-4o` does not exist."),
        ("model_not_string", "POST", C, {"messages": msgs, "model": 42}, None, 422, None, "model", None),
        ("stop_number", "POST", C, {"messages": msgs, "stop": 5}, None, 422, None, "stop", None),
        ("stop_too_many", "POST", C, {"messages": msgs, "stop": ["s%d" % i for i in range(100)]}, None, 400, None,
         "stop", None),
        ("logit_bias_key", "POST", C, {"messages": msgs, "logit_bias": {"abc": 1}}, None, 400, None, "logit_bias",
         None),
        ("logit_bias_value", "POST", C, {"messages": msgs, "logit_bias": {"5": 500}}, None, 400, None, "logit_bias",
         None),
        ("logit_bias_vocab", "POST", C, {"messages": msgs, "logit_bias": {"99999": 1}}, None, 400, None, "logit_bias",
         "vocabulary"),
        ("stop_token_ids_vocab", "POST", C, {"messages": msgs, "stop_token_ids": [768]}, None, 400, None,
         "stop_token_ids", "vocabulary"),
        ("seed_type", "POST", C, {"messages": msgs, "seed": "42"}, None, 422, None, "seed", None),
        ("seed_out_of_range", "POST", C, '{"messages": [{"role": "user", "content": "hi"}], "seed": 18446744073709551616}',
         None, 422, None, None, None),
        ("chat_template_given", "POST", C, {"messages": msgs, "chat_template": "{{ 1 }}"}, None, 400, None,
         "chat_template", None),
        ("response_format_schema", "POST", C, {"messages": msgs, "response_format": {"type": "json_schema"}}, None, 400,
         None, "response_format", None),
        ("response_format_bogus", "POST", C, {"messages": msgs, "response_format": {"type": "yaml"}}, None, 422, None,
         "response_format", None),
        ("logprobs_true", "POST", C, {"messages": msgs, "logprobs": True}, None, 400, None, "logprobs", None),
        ("continue_and_generation_prompt", "POST", C, {"messages": msgs, "continue_final_message": True}, None, 400,
         None, "continue_final_message", None),
        ("thinking_budget_negative", "POST", C, {"messages": msgs, "thinking_token_budget": -1}, None, 400, None,
         "thinking_token_budget", None),
        ("kwargs_not_object", "POST", C, {"messages": msgs, "chat_template_kwargs": "thinking"}, None, 422, None,
         "chat_template_kwargs", None),
        ("completions_prompt_missing", "POST", "/v1/completions", {"max_tokens": 3}, None, 422, None, "prompt", None),
        ("completions_prompt_empty", "POST", "/v1/completions", {"prompt": []}, None, 400, None, "prompt", None),
        ("completions_prompt_vocab", "POST", "/v1/completions", {"prompt": [1, 2, 100000]}, None, 400, None, "prompt",
         "vocabulary"),
        ("completions_batch", "POST", "/v1/completions", {"prompt": ["a", "b"]}, None, 400, None, "prompt", "batch"),
        ("completions_echo", "POST", "/v1/completions", {"prompt": "a", "echo": True}, None, 400, None, "echo", None),
        ("content_type_text", "POST", C, {"messages": msgs}, {"Content-Type": "text/plain"}, 415,
         "invalid_request_error", None, "Content-Type"),
        ("content_type_form", "POST", C, "messages=hi", {"Content-Type": "application/x-www-form-urlencoded"}, 415,
         None, None, None),
        ("get_on_post_route", "GET", C, None, None, 405, None, None, "Method Not Allowed"),
        ("post_on_get_route", "POST", "/v1/models", {}, None, 405, None, None, "Method Not Allowed"),
        ("delete_method", "DELETE", "/health", None, None, 405, None, None, None),
        ("unknown_path", "GET", "/v2/everything", None, None, 404, None, None, "Not Found"),
        ("tokenize_both", "POST", "/tokenize", {"prompt": "a", "messages": msgs}, None, 422, None, None, None),
        ("transcribe_not_multipart", "POST", "/v1/audio/transcriptions", {"file": "x"}, None, 400,
         "invalid_request_error", None, "multipart/form-data"),
        ("transcribe_no_file", "POST", "/v1/audio/transcriptions", multipart({"model": "m"}),
         {"Content-Type": MP_CT}, 400, "invalid_request_error", "file", "'file' is required"),
        ("transcribe_bad_format", "POST", "/v1/audio/transcriptions",
         multipart({"response_format": "srt"}, ("file", "a.wav", b"RIFF1234")), {"Content-Type": MP_CT}, 400,
         "invalid_request_error", "response_format", "json, text or verbose_json"),
        ("transcribe_truncated", "POST", "/v1/audio/transcriptions",
         multipart({}, ("file", "a.wav", b"RIFF1234"))[:-12], {"Content-Type": MP_CT}, 400, "invalid_request_error",
         None, "truncated"),
        ("transcribe_text_model", "POST", "/v1/audio/transcriptions",
         multipart({"language": "ko"}, ("file", "a.wav", b"RIFF1234WAVE")), {"Content-Type": MP_CT}, 400,
         "invalid_request_error", None, "cannot take this media"),
        ("json_nested_too_deep", "POST", C, '{"messages": ' + "[" * 100000 + "]" * 100000 + "}", None, 422, None, None,
         "depth"),
    ]
    for (name, method, path, body, headers, status, etype, param, msg) in bad:
        @case("bad_input/" + name)
        def _():
            st, _, j = srv.json(method, path, body, headers)
            return check_error(st, j, status, etype, param, msg)

    @case("bad_input/body_too_large_chunked")
    def _():
        c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=60)
        c.request("POST", C, body=iter([b'{"messages": "' + b"x" * 65536] * 20), encode_chunked=True,
                  headers={"Content-Type": "application/json"})
        r = c.getresponse()
        j = json.loads(r.read())
        c.close()
        return check_error(r.status, j, 413, msg="limit")

    @case("bad_input/server_still_serves")
    def _():
        st, j = srv.post("/v1/chat/completions", chat_body("still alive?", max_tokens=3))
        if st != 200 or j["object"] != "chat.completion":
            return "%s %r" % (st, j)


MP_CT = "multipart/form-data; boundary=omnicTestBoundary"


def multipart(fields, *files):
    """multipart/form-data body: text fields, then (name, filename, bytes) files."""
    out = b""
    for k, v in fields.items():
        out += b"--omnicTestBoundary\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s\r\n" % (
            k.encode(), v.encode())
    for name, fn, data in files:
        out += (b"--omnicTestBoundary\r\nContent-Disposition: form-data; name=\"%s\"; filename=\"%s\"\r\n"
                b"Content-Type: application/octet-stream\r\n\r\n" % (name.encode(), fn.encode())) + data + b"\r\n"
    return out + b"--omnicTestBoundary--\r\n"


def raw_exchange(port, data, read_timeout=10):
    s = socket.create_connection(("127.0.0.1", port), timeout=read_timeout)
    try:
        s.sendall(data)
        try:
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        out = b""
        while True:
            try:
                b = s.recv(65536)
            except (socket.timeout, ConnectionResetError):
                break
            if not b:
                break
            out += b
        return out
    finally:
        s.close()


def run_raw_http(srv):
    raw = [
        ("garbage_line", b"GARBAGE\r\n\r\n", (400, None)),
        ("bad_version", b"GET /health HTTP/9.9\r\nHost: x\r\n\r\n", (400, 505)),
        ("header_without_colon", b"GET /health HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n", (400,)),
        ("huge_header", b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n", (400, 413, 431)),
        ("bad_content_length", b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n{}", (400,)),
        ("bad_chunked", b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                        b"Content-Type: application/json\r\n\r\nZZZ\r\nxx\r\n0\r\n\r\n", (400,)),
        ("truncated_body", b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                           b"Content-Length: 500\r\n\r\n{\"messages\":", (None,)),
        ("http10_no_host", b"GET /health HTTP/1.0\r\n\r\n", (200,)),
        ("http11_no_host", b"GET /health HTTP/1.1\r\n\r\n", (200, 400)),
        ("binary_noise", bytes(range(256)) * 8, (400, None)),
        ("declared_body_too_large", b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
                                    b"\r\nContent-Length: 99999999999\r\n\r\n{", (413,)),
    ]
    for name, data, statuses in raw:
        @case("raw_http/" + name)
        def _():
            out = raw_exchange(srv.port, data)
            m = re.match(rb"HTTP/1\.[01] (\d{3})", out)
            st = int(m.group(1)) if m else None
            if st not in statuses:
                return "status %s (expected one of %s): %r" % (st, statuses, out[:120])
            # the server keeps answering
            st2, _, body = srv.request("GET", "/health")
            if st2 != 200:
                return "health after: %s" % st2


def run_script_cases(srv):
    @case("script/tool_call_non_streaming")
    def _():
        st, j = srv.post("/a/v1/chat/completions", chat_body("weather?", tools=TOOLS, user="tool", max_tokens=200))
        if st != 200:
            return "%s %r" % (st, j)
        c = j["choices"][0]
        calls = c["message"]["tool_calls"]
        if c["finish_reason"] != "tool_calls" or len(calls) != 1:
            return repr(c)
        tc = calls[0]
        if not re.fullmatch(r"chatcmpl-tool-[0-9a-f]{32}", tc["id"]) or tc["type"] != "function" or \
                tc["function"]["name"] != "get_weather":
            return repr(tc)
        # "city" is a string in the schema, "days" an integer: typed per api.md 7.5.1
        if json.loads(tc["function"]["arguments"]) != {"city": "Seoul", "days": 3}:
            return "arguments %r" % tc["function"]["arguments"]
        if c["message"]["content"] not in (None, ""):
            return "content %r" % c["message"]["content"]

    @case("script/tool_call_streaming")
    def _():
        st, h, ev = srv.stream("/a/v1/chat/completions", chat_body("weather?", tools=TOOLS, user="tool",
                                                                   max_tokens=200, stream=True))
        calls = {}
        for e in ev[:-1]:
            for ch in e["choices"]:
                for tc in ch["delta"].get("tool_calls") or []:
                    d = calls.setdefault(tc["index"], {"name": "", "arguments": "", "id": None})
                    d["id"] = d["id"] or tc.get("id")
                    d["name"] += tc.get("function", {}).get("name") or ""
                    d["arguments"] += tc.get("function", {}).get("arguments") or ""
        fin = [ch["finish_reason"] for e in ev[:-1] for ch in e["choices"] if ch.get("finish_reason")]
        if list(calls) != [0] or calls[0]["name"] != "get_weather" or fin != ["tool_calls"]:
            return "calls %r finish %r" % (calls, fin)
        if json.loads(calls[0]["arguments"]) != {"city": "Seoul", "days": 3} or not calls[0]["id"]:
            return repr(calls)

    @case("script/tool_call_v1_own_family")
    def _():
        # the tiny model's own template family is Track A (unified Think-32B layout): /v1 parses XML calls too
        st, j = srv.post("/v1/chat/completions", chat_body("weather?", tools=TOOLS, user="tool"))
        c = j["choices"][0]
        if st != 200 or c["finish_reason"] != "tool_calls" or c["message"]["tool_calls"][0]["function"]["name"] != \
                "get_weather" or j["model"] == "track_a_model":
            return "%s %r" % (st, j)

    @case("script/tool_choice_none_no_parse")
    def _():
        st, j = srv.post("/a/v1/chat/completions", chat_body("weather?", tools=TOOLS, tool_choice="none", user="tool"))
        c = j["choices"][0]
        if c["message"]["tool_calls"] != [] or c["finish_reason"] != "stop" or "<tool_call>" not in c["message"]["content"]:
            return repr(c)

    @case("script/reasoning_split")
    def _():
        b = chat_body("2+2?", user="think", chat_template_kwargs={"thinking": True})
        st, j = srv.post("/a/v1/chat/completions", b)
        m = j["choices"][0]["message"]
        if m["reasoning_content"] != "let me think" or m["reasoning"] != "let me think" or \
                m["content"] != "The answer is 4.":
            return repr(m)
        st, h, ev = srv.stream("/a/v1/chat/completions", dict(b, stream=True))
        r = "".join(e["choices"][0]["delta"].get("reasoning_content") or "" for e in ev[:-1] if e["choices"])
        c = "".join(e["choices"][0]["delta"].get("content") or "" for e in ev[:-1] if e["choices"])
        if r != "let me think" or c != "The answer is 4.":
            return "stream reasoning %r content %r" % (r, c)
        # include_reasoning false: reasoning null, content unchanged
        st, j = srv.post("/a/v1/chat/completions", dict(b, include_reasoning=False))
        m = j["choices"][0]["message"]
        if m["reasoning_content"] is not None or m["content"] != "The answer is 4.":
            return "include_reasoning=false: %r" % m
        # thinking off: no split (api.md 7.3.1)
        st, j = srv.post("/a/v1/chat/completions", chat_body("2+2?", user="think"))
        m = j["choices"][0]["message"]
        if m["reasoning_content"] is not None or m["content"] != SCRIPTS["think"]:
            return "thinking off: %r" % m

    @case("thinking_budget/forced_close")
    def _():
        E = " Now formulate the answer."
        think = {"thinking": True}
        for B in (0, 6):
            b = chat_body("Think briefly", seed=77, temperature=1.0, ignore_eos=True, chat_template_kwargs=think)
            st, j = srv.post("/a/v1/chat/completions", dict(b, max_tokens=B + 40, thinking_token_budget=B))
            m = j["choices"][0]["message"]
            if st != 200 or not (m["reasoning_content"] or "").endswith(E) or not m["content"]:
                return "B=%d: %s %r" % (B, st, m)
            # the same seed without a budget gives the same first tokens; the prompt ends in
            # "<think>\n", so the "\n" is already one thinking token (api.md 5.3 step 1) and
            # the close is forced after B - 1 generated tokens
            if B:
                st, j2 = srv.post("/a/v1/chat/completions", dict(b, max_tokens=B - 1))
                if j2["choices"][0]["message"]["reasoning_content"] + E != m["reasoning_content"]:
                    return "B=%d: %r + E != %r" % (B, j2["choices"][0]["message"]["reasoning_content"],
                                                   m["reasoning_content"])
            elif m["reasoning_content"] != E:
                return "B=0: reasoning %r" % m["reasoning_content"]
            st, h, ev = srv.stream("/a/v1/chat/completions", dict(b, max_tokens=B + 40, thinking_token_budget=B,
                                                                  stream=True))
            r = "".join(e["choices"][0]["delta"].get("reasoning_content") or "" for e in ev[:-1] if e["choices"])
            if r != m["reasoning_content"]:
                return "B=%d stream reasoning %r != %r" % (B, r, m["reasoning_content"])

    @case("script/stop_string_on_scripted_text")
    def _():
        st, j = srv.post("/v1/chat/completions", chat_body("x", user="answer", stop=["HERE"]))
        c = j["choices"][0]
        if c["message"]["content"] != "Hello from the script, stop " or c["stop_reason"] != "HERE":
            return repr(c)


def run_concurrency(srv):
    prompts = ["Client %d asks about topic %d" % (i, i * 7) for i in range(16)]

    def body(i):
        return chat_body(prompts[i], max_tokens=24, seed=100 + i, temperature=0.9, ignore_eos=True)

    @case("concurrency/16_clients_match_alone")
    def _():
        alone = [srv.post("/v1/chat/completions", body(i))[1]["choices"][0]["message"]["content"] for i in range(16)]
        got = [None] * 16
        errs = []

        def worker(i):
            try:
                if i % 2:
                    st, h, ev = srv.stream("/v1/chat/completions", dict(body(i), stream=True))
                    got[i] = "".join(e["choices"][0]["delta"].get("content") or "" for e in ev[:-1] if e["choices"])
                else:
                    got[i] = srv.post("/v1/chat/completions", body(i))[1]["choices"][0]["message"]["content"]
            except Exception as ex:  # noqa: BLE001
                errs.append("%d: %s" % (i, ex))

        ths = [threading.Thread(target=worker, args=(i,)) for i in range(16)]
        steps0 = metric(srv, 'omnic_decode_steps_total{model="hcx-small"}')
        tok0 = metric(srv, 'omnic_decode_batch_tokens_total{model="hcx-small"}')
        for t in ths:
            t.start()
        for t in ths:
            t.join(120)
        if errs:
            return "; ".join(errs)
        diff = [i for i in range(16) if got[i] != alone[i]]
        if diff:
            i = diff[0]
            return "%d clients differ, e.g. %d: %r vs alone %r" % (len(diff), i, got[i], alone[i])
        steps = metric(srv, 'omnic_decode_steps_total{model="hcx-small"}') - steps0
        toks = metric(srv, 'omnic_decode_batch_tokens_total{model="hcx-small"}') - tok0
        if toks / steps < 1.5:
            return "no batching: %d tokens in %d decode steps" % (toks, steps)


def run_disconnects(srv):
    def cancelled():
        return metric(srv, 'omnic_generations_total{reason="cancelled"}')

    def wait_idle():
        t0 = time.time()
        while time.time() - t0 < 20:
            if metric(srv, 'omnic_requests_running{model="hcx-small"}') == 0:
                return True
            time.sleep(0.05)
        return False

    @case("disconnect/mid_stream")
    def _():
        c0 = cancelled()
        body = json.dumps(chat_body("long one", max_tokens=450, ignore_eos=True, stream=True)).encode()
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=30)
        s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: %d\r\n\r\n" % len(body) + body)
        got = b""
        while got.count(b"data: ") < 3:
            got += s.recv(4096)
        s.close()
        t0 = time.time()
        while cancelled() == c0 and time.time() - t0 < 20:
            time.sleep(0.05)
        if cancelled() != c0 + 1:
            return "generation was not cancelled (%s -> %s)" % (c0, cancelled())
        if not wait_idle():
            return "slot not released"

    @case("disconnect/non_streaming")
    def _():
        c0 = cancelled()
        body = json.dumps(chat_body("long one", max_tokens=450, ignore_eos=True)).encode()
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=30)
        s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: %d\r\n\r\n" % len(body) + body)
        time.sleep(0.05)
        s.close()
        t0 = time.time()
        while cancelled() == c0 and time.time() - t0 < 20:
            time.sleep(0.05)
        if cancelled() != c0 + 1 and not wait_idle():
            return "not cancelled and still running"

    @case("disconnect/good_request_after")
    def _():
        st, j = srv.post("/v1/chat/completions", chat_body("after", max_tokens=4, ignore_eos=True))
        if st != 200 or j["usage"]["completion_tokens"] != 4:
            return "%s %r" % (st, j)


def run_openai_client(srv, script_srv):
    node = subprocess.run(["node", os.path.join(ORACLE, "openai_client.mjs"), "http://127.0.0.1:%d" % srv.port,
                           "http://127.0.0.1:%d" % script_srv.port], capture_output=True, timeout=300, cwd=ORACLE)
    out = node.stdout.decode()
    lines = [ln for ln in out.splitlines() if ln.startswith(("PASS ", "FAIL "))]
    if not lines or (node.returncode and not any(ln.startswith("FAIL ") for ln in lines)):
        report(False, "openai_client", "rc=%s out=%s err=%s" % (node.returncode, out[-800:], node.stderr.decode()[-800:]))
        return
    for ln in lines:
        ok = ln.startswith("PASS ")
        name, _, why = ln[5:].partition(": ")
        report(ok, name, why)


# ------------------------------------------------------------------------------------
# second server: API key, 429 with one slot and no queue, per-request timeout

def run_limits():
    srv = Server(["--parallel", "1", "--queue", "0", "--api-key", "sekrit", "--timeout", "0.6", "-t", "1"])
    auth = {"Authorization": "Bearer sekrit"}
    try:
        @case("auth/missing_and_wrong_key")
        def _():
            st, j = srv.post("/v1/chat/completions", chat_body("hi", max_tokens=2))
            err = check_error(st, j, 401)
            if err:
                return "missing: " + err
            st, j = srv.post("/v1/chat/completions", chat_body("hi", max_tokens=2), {"Authorization": "Bearer nope"})
            err = check_error(st, j, 401)
            if err:
                return "wrong: " + err
            st, _, j = srv.json("GET", "/v1/models")
            if st != 401:
                return "models without key: %s" % st
            st, _, data = srv.request("GET", "/health")
            if st != 200:
                return "health needs no key: %s" % st
            st, j = srv.post("/v1/chat/completions", chat_body("hi", max_tokens=2), auth)
            if st != 200:
                return "with key: %s %r" % (st, j)

        @case("limits/429_when_busy_then_stream_timeout")
        def _():
            body = json.dumps(chat_body("busy", max_tokens=3000, ignore_eos=True, stream=True)).encode()
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=30)
            s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sekrit\r\n"
                      b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
            got = b""
            while got.count(b"data: ") < 2:
                got += s.recv(4096)
            st, h, j = srv.json("POST", "/v1/chat/completions", chat_body("hi", max_tokens=2), auth)
            err = check_error(st, j, 429, "rate_limit_error")
            if err:
                return err
            if h.get("retry-after") != "1":
                return "no Retry-After: %r" % h
            # the busy stream hits the 0.6 s deadline: an error event, then [DONE]
            while b"[DONE]" not in got:
                b = s.recv(65536)
                if not b:
                    break
                got += b
            s.close()
            if b'"code":408' not in got or b"data: [DONE]\n\n" not in got:
                return "stream end: %r" % got[-300:]

        @case("limits/non_streaming_timeout")
        def _():
            st, j = srv.post("/v1/chat/completions", chat_body("slow", max_tokens=3000, ignore_eos=True), auth)
            return check_error(st, j, 408, "timeout_error")

        @case("limits/works_after")
        def _():
            st, j = srv.post("/v1/chat/completions", chat_body("ok", max_tokens=3, ignore_eos=True), auth)
            if st != 200 or j["usage"]["completion_tokens"] != 3:
                return "%s %r" % (st, j)
    finally:
        rc, log = srv.stop()
        report(rc == 0 and "stopped" in log and not sanitizer_report(log), "limits/clean_exit",
               "rc=%s log tail %r" % (rc, log[-600:]))


def run_multi_model():
    tiny = os.path.join(os.path.dirname(GOLDEN), "hcx-tiny", "model")
    srv = Server(["-m", tiny, "--parallel", "2", "-t", "1"])
    try:
        @case("multi_model/routing")
        def _():
            st, _, j = srv.json("GET", "/v1/models")
            if sorted(d["id"] for d in j["data"]) != ["hcx-small", "hcx-tiny"]:
                return "models %r" % j
            st, j = srv.post("/v1/chat/completions", chat_body("hi", max_tokens=2))
            err = check_error(st, j, 400, param="model", msg="model")
            if err:
                return "no model: " + err
            for name in ("hcx-small", "hcx-tiny"):
                st, j = srv.post("/v1/chat/completions", chat_body("hi", max_tokens=3, ignore_eos=True, model=name))
                if st != 200 or j["model"] != name or j["usage"]["completion_tokens"] != 3:
                    return "%s: %s %r" % (name, st, j)
            # the two models answer differently to the same greedy prompt
            outs = [srv.post("/v1/completions", {"model": n, "prompt": [5, 6, 7], "max_tokens": 8, "temperature": 0,
                                                 "ignore_eos": True})[1]["choices"][0]["text"]
                    for n in ("hcx-small", "hcx-tiny")]
            if outs[0] == outs[1]:
                return "same output from both models: %r" % outs
            # /a with no Think-32B-family model among several: 404
            st, j = srv.post("/a/v1/chat/completions", chat_body("hi"))
            return check_error(st, j, 404, "NotFoundError")
    finally:
        rc, log = srv.stop()
        report(rc == 0 and not sanitizer_report(log), "multi_model/clean_exit", "rc=%s %r" % (rc, log[-400:]))


def sanitizer_report(log):
    return re.search(r"AddressSanitizer|LeakSanitizer|runtime error:|UndefinedBehaviorSanitizer", log)


def main():
    if not os.path.exists(OMNIC):
        report(False, "binary", "%s not found" % OMNIC)
        return 1
    scripts = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
    json.dump(SCRIPTS, scripts)
    scripts.close()
    t0 = time.time()
    global MEDIA
    MEDIA = tempfile.mkdtemp(prefix="omnic-media-")
    # The reasoning / tool-call / thinking-budget cases run on a second server: a tiny
    # random model (unified Think-32B layout, so its own template family is Track A) with
    # the golden tokenizer and the test scripts. Track A tool prompts are ~500 tokens;
    # the tiny model keeps them cheap under ASan.
    tiny = tempfile.mkdtemp(prefix="omnic-tinyA-")
    gen = subprocess.run([os.environ.get("PYTHON", "/usr/bin/python3"), os.path.join(ROOT, "tools", "make_random_hcx.py"),
                          "--preset", "tiny", "--vocab", "768", "--unified", "--tokenizer-from", MODEL, "--eos-id", "733",
                          "--bos-id", "715", "--max-pos", "2048", "--seed", "3", "--quiet", "--out", tiny],
                         capture_output=True, timeout=120)
    if gen.returncode:
        report(False, "make_tiny_model", gen.stderr.decode()[-500:])
        return 1
    script_srv = Server(["--parallel", "2", "--ctx", "2048", "-t", "1"], env={"OMNIC_TEST_SCRIPT": scripts.name},
                        model=tiny)
    srv = Server(["--parallel", "4", "--ctx", "1024", "--media-dir", MEDIA, "--max-body", str(1024 * 1024),
                  "--cors", "http://localhost:5173", "-t", "1"])
    try:
        run_main(srv)
        run_script_cases(script_srv)
        run_openai_client(srv, script_srv)
        rc, log = script_srv.stop()
        report(rc == 0 and "stopped" in log and not sanitizer_report(log), "script_server/clean_exit",
               "rc=%s %r" % (rc, log[-600:]))

        @case("shutdown/sigterm_with_request_in_flight")
        def _():
            res = {}

            def streamer():
                try:
                    res["r"] = srv.stream("/v1/chat/completions", chat_body("last", max_tokens=400, ignore_eos=True,
                                                                            stream=True))
                except Exception as ex:  # noqa: BLE001
                    res["err"] = ex
            th = threading.Thread(target=streamer)
            th.start()
            time.sleep(0.2)
            rc, log = srv.stop()
            th.join(30)
            if rc != 0:
                return "exit status %s: %s" % (rc, log[-800:])
            if "stopped" not in log:
                return "no clean stop in log"
            m = sanitizer_report(log)
            if m:
                return "sanitizer report: %s" % log[max(0, m.start() - 200):m.start() + 1500]
            st, h, ev = res.get("r", (None, None, None))
            if st != 200 or ev[-1] != "[DONE]":
                return "in-flight stream did not finish cleanly: %r" % (res,)
    finally:
        for x in (srv, script_srv):
            if x.p.poll() is None:
                x.stop()
        shutil.rmtree(tiny, ignore_errors=True)
    run_limits()
    run_multi_model()
    os.unlink(scripts.name)
    shutil.rmtree(MEDIA, ignore_errors=True)
    print("# %.1f s" % (time.time() - t0))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
