#!/usr/bin/env python3
"""test_chat_cli.py - `omnic run --chat` and `omnic chat` on the golden model: the prompt
the engine evaluates is exactly the rendered template (render-chat) tokenized, turns
reuse the cache, the slash commands work, and greedy one-shot output is reproducible.
Prints PASS/FAIL lines; env OMNIC = binary."""
import json
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OMNIC = os.environ.get("OMNIC", os.path.join(ROOT, "build", "omnic"))
MODEL = os.path.normpath(os.path.join(ROOT, "..", "shared", "golden", "hcx-small", "model"))
failures = 0


def report(name, ok, why=""):
    global failures
    print(("PASS %s" % name) if ok else ("FAIL %s: %s" % (name, why)))
    failures += 0 if ok else 1


def run(args, stdin=None):
    p = subprocess.run([OMNIC] + args, input=stdin, capture_output=True, text=True, timeout=120)
    bad = "AddressSanitizer" in p.stderr or "runtime error" in p.stderr
    return p.returncode, p.stdout, p.stderr, bad


def prompt_tokens(stderr):
    return [int(x) for x in re.findall(r"\[prompt (\d+) tokens", stderr)]


def main():
    tmp = tempfile.mkdtemp(prefix="omnic_chatcli_")
    msgs = [{"role": "system", "content": "너는 친절한 비서야"}, {"role": "user", "content": "안녕? 2024년 5월"}]
    mf = os.path.join(tmp, "m.json")
    json.dump(msgs, open(mf, "w"), ensure_ascii=False)
    kw = json.dumps({"thinking": False, "skip_reasoning": True})
    rc, rendered, err, bad = run(["render-chat", "-m", MODEL, "--messages", mf, "--kwargs", kw])
    report("render-chat", rc == 0 and not bad and len(rendered) > 0, err[-300:])
    tf = os.path.join(tmp, "p.txt")
    open(tf, "w").write(rendered)
    rc, ids, err, bad = run(["tokenize", "-m", MODEL, "--file", tf])
    ids = json.loads(ids) if rc == 0 and ids.strip().startswith("[") else [x for x in ids.strip().split(",") if x]
    rc, out, err, bad = run(["run", "--chat", "-m", MODEL, "--system", "너는 친절한 비서야", "-p", "안녕? 2024년 5월",
                             "-n", "12", "--temp", "0", "--no-color"])
    report("run-chat/exit", rc == 0 and not bad, err[-300:])
    report("run-chat/prompt-is-rendered-template", prompt_tokens(err) == [len(ids)],
           "engine saw %s tokens, template tokenizes to %d" % (prompt_tokens(err), len(ids)))
    rc2, out2, err2, _ = run(["run", "--chat", "-m", MODEL, "--system", "너는 친절한 비서야", "-p", "안녕? 2024년 5월",
                              "-n", "12", "--temp", "0", "--no-color"])
    report("run-chat/greedy-reproducible", rc2 == 0 and out2 == out, "outputs differ")
    script = "/system 시스템\n첫 질문\n/think on\n둘째 질문\n/reset\n/bogus\n셋째\n/quit\n"
    rc, out, err, bad = run(["chat", "-m", MODEL, "-n", "6", "--temp", "0", "--no-color"], stdin=script)
    pt = prompt_tokens(err)
    report("chat/exit", rc == 0 and not bad, err[-300:])
    report("chat/three-turns", len(pt) == 3, "prompt counts %s" % pt)
    report("chat/history-grows", len(pt) == 3 and pt[1] > pt[0], "prompt counts %s" % pt)
    report("chat/reset-shrinks", len(pt) == 3 and pt[2] < pt[1], "prompt counts %s" % pt)
    report("chat/unknown-command", "unknown command /bogus" in err, err[-300:])
    rc, out, err, bad = run(["chat", "-m", MODEL, "--think", "maybe"])
    report("chat/bad-flag", rc == 2 and "--think" in err and not bad, err[-200:])
    rc, out, err, bad = run(["chat", "-m", os.path.join(tmp, "nope"), "-p", "x"])
    report("chat/missing-model", rc == 1 and "nope" in err and not bad, err[-200:])
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
