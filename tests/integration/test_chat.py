#!/usr/bin/env python3
"""test_chat.py - `omnic render-chat` (chat prompt formatting, shared/spec/chat.md §2)
against the npm oracle @huggingface/jinja (tests/oracle/render_template.mjs), which
renders the same template files with the same environment.

Checks:
  * the compiled-in OmniServe templates are byte-identical to shared/reference;
  * 40+ conversations (system, multi-turn, tools, tool calls with object and string
    arguments, consecutive tool results, image/video/audio parts, reasoning_content and
    <think> in content, thinking on/off, skip_reasoning, no generation prompt,
    Korean/emoji) rendered with Track A, Track B, the legacy template and the golden
    models' own templates, compared byte for byte with the oracle. The oracle gets the
    messages after this file's own implementation of the normalization rules (chat.md
    2.1, api.md 4.3/6), omnic gets them raw, so normalization is tested too;
  * the worked renderings of chat.md 2.4 and the legacy format of 2.6 exactly;
  * template selection in model folders (config.json architectures, chat_template.jinja,
    chat_template.json, tokenizer_config.json string / named list with tool_use),
    stop strings, and error handling (bad JSON, bad arguments, syntax errors with line
    numbers, raise_exception, missing templates) - never a crash.

Prints "PASS <name>" / "FAIL <name>: <why>" per case; exits 1 on any failure. A missing
or broken oracle is a failure, never a skip."""
import copy
import json
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OMNIC = os.environ.get("OMNIC", os.path.join(ROOT, "build", "omnic"))
ORACLE = os.path.join(ROOT, "tests", "oracle", "render_template.mjs")
SHARED = os.path.normpath(os.path.join(ROOT, "..", "shared"))
if not os.path.isdir(SHARED):
    SHARED = "/work/shared"
TRACK_A = os.path.join(SHARED, "reference", "omniserve", "track_a", "chat_template.jinja")
TRACK_B = os.path.join(SHARED, "reference", "omniserve", "track_b", "chat_template.jinja")
LEGACY = os.path.join(ROOT, "src", "text", "templates", "hcx_legacy.jinja")
GOLDEN = [os.path.join(SHARED, "golden", n, "model") for n in ("hcx-tiny", "hcx-small")]

failures = 0
passes = 0
TMP = tempfile.mkdtemp(prefix="omnic_chat_")


def report(ok, name, why=""):
    global failures, passes
    if ok:
        passes += 1
        print(f"PASS {name}")
    else:
        failures += 1
        print(f"FAIL {name}: {why}")
    sys.stdout.flush()


def show(s, n=400):
    r = repr(s)
    return r if len(r) <= n else r[:n] + "..."


def first_diff(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return f"at char {i}: omnic {show(a[max(0, i - 40):i + 60])} vs expected {show(b[max(0, i - 40):i + 60])}"
    return f"lengths {len(a)} vs {len(b)}: omnic tail {show(a[-80:])}, expected tail {show(b[-80:])}"


_n_files = 0


def write_json(obj):
    global _n_files
    _n_files += 1
    p = os.path.join(TMP, f"in{_n_files}.json")
    with open(p, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False)
    return p


def omnic_render(messages, family=None, model=None, tools=None, kwargs=None, agp=True, raw=False):
    """Returns (rc, stdout text, stderr text)."""
    cmd = [OMNIC, "render-chat", "--messages", write_json(messages)]
    if family:
        cmd += ["--family", family]
    if model:
        cmd += ["-m", model]
    if tools is not None:
        cmd += ["--tools", write_json(tools)]
    if kwargs is not None:
        cmd += ["--kwargs", json.dumps(kwargs, ensure_ascii=False)]
    if not agp:
        cmd.append("--no-generation-prompt")
    if raw:
        cmd.append("--raw")
    p = subprocess.run(cmd, capture_output=True, timeout=120)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def run_oracle(jobs):
    """jobs: [{"template_file" | "template", "context"}] -> list of {"text"} / {"error"}."""
    p = subprocess.run(["node", ORACLE], input=json.dumps({"jobs": jobs}, ensure_ascii=False).encode(),
                       capture_output=True, timeout=600, cwd=os.path.dirname(ORACLE))
    if p.returncode != 0:
        raise RuntimeError("oracle failed: " + p.stderr.decode()[-2000:])
    return json.loads(p.stdout)["results"]


# ------------------------------------------------------------ normalization (independent)

def normalize(messages, tools, model_template=False, legacy=False):
    """This test's own implementation of chat.h's input normalization."""
    msgs = copy.deepcopy(messages)
    for m in msgs:
        role = m["role"]
        c = m.get("content")
        if role == "assistant" and c is None:
            m["content"] = ""
        if isinstance(c, list):
            texts = [p["text"] for p in c if isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str)]
            all_text = all(isinstance(p, dict) and p.get("type") == "text" for p in c)
            if role in ("system", "assistant", "tool") or (role == "user" and (legacy or (model_template and all_text))):
                m["content"] = "\n".join(texts)
            elif role == "user":
                m["content"] = [{"type": "image_url", "image_url": {"url": p["video_url"].get("url")}}
                                if isinstance(p, dict) and p.get("type") == "video_url" and isinstance(p.get("video_url"), dict)
                                else p for p in c]
        for tc in m.get("tool_calls") or []:
            fn = tc["function"] if isinstance(tc.get("function"), dict) else tc
            a = fn.get("arguments")
            if a is None or (isinstance(a, str) and not a.strip()):
                fn["arguments"] = {}
            elif isinstance(a, str):
                fn["arguments"] = json.loads(a)
    ntools = None
    if tools is not None:
        ntools = []
        for t in tools:
            fn = t["function"] if isinstance(t.get("function"), dict) else t
            ntools.append({"type": "function", "function": {"name": fn["name"], "description": fn.get("description"),
                                                            "parameters": fn.get("parameters")}})
    return msgs, ntools


def context(messages, tools, kwargs, agp, special=None, model_template=False, legacy=False):
    msgs, ntools = normalize(messages, tools, model_template, legacy)
    ctx = {"messages": msgs, "add_generation_prompt": agp}
    if ntools is not None:
        ctx["tools"] = ntools
    ctx.update(special or {})
    ctx.update(kwargs or {})
    return ctx


# ------------------------------------------------------------ conversations

SYS = {"role": "system", "content": "You are a helpful assistant."}
WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "날씨 조회",
    "parameters": {"type": "object", "properties": {"location": {"type": "string"},
                                                    "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
                   "required": ["location"]}}}
TIME_TOOL = {"type": "function", "function": {"name": "get_time", "description": "Current time <HH:MM> & zone",
                                              "parameters": {"type": "object", "properties": {"tz": {"type": "string"}}},
                                              "strict": True}}
T2I_TOOL = {"type": "function", "function": {
    "name": "t2i_model_generation",
    "description": "Generates an RGB image based on the provided discrete image representation.",
    "parameters": {"type": "object", "required": ["discrete_image_token"],
                   "properties": {"discrete_image_token": {"type": "string",
                                                           "description": "A serialized string of discrete vision tokens.",
                                                           "minLength": 1}}}}}
BARE_TOOL = {"name": "lookup", "description": "Look something up", "parameters": {"type": "object", "properties": {}}}


def img(url):
    return {"type": "image_url", "image_url": {"url": url}}


def txt(t):
    return {"type": "text", "text": t}


def audio():
    return {"type": "input_audio", "input_audio": {"data": "UklGRiQAAABXQVZF", "format": "wav"}}


def call(name, args, cid="call_1"):
    return {"id": cid, "type": "function", "function": {"name": name, "arguments": args}}


CONVS = [
    # (name, messages, tools, kwargs, add_generation_prompt)
    ("system_user", [SYS, {"role": "user", "content": "안녕? 1+1은?"}], None, None, True),
    ("system_user_thinking", [SYS, {"role": "user", "content": "안녕? 1+1은?"}], None, {"thinking": True}, True),
    ("system_user_thinking_false", [SYS, {"role": "user", "content": "hi"}], None, {"thinking": False}, True),
    ("user_only", [{"role": "user", "content": "Hello"}], None, None, True),
    ("user_skip_reasoning", [{"role": "user", "content": "Hello"}], None, {"skip_reasoning": True}, True),
    ("user_skip_false", [{"role": "user", "content": "Hello"}], None, {"skip_reasoning": False, "thinking": True}, True),
    ("no_generation_prompt", [SYS, {"role": "user", "content": "Hi"}], None, None, False),
    ("multi_turn_reasoning_dropped", [SYS, {"role": "user", "content": "Hi"},
                                      {"role": "assistant", "content": "Hello!", "reasoning_content": "greet back"},
                                      {"role": "user", "content": "What is 2+3?"}], None, {"thinking": True}, True),
    ("final_assistant_keeps_reasoning", [SYS, {"role": "user", "content": "Hi"},
                                         {"role": "assistant", "content": "<think>\ngreet\n</think>\n\nHello!"},
                                         {"role": "user", "content": "What is 2+3?"},
                                         {"role": "assistant", "content": "5", "reasoning_content": "2+3=5"}], None, None, False),
    ("think_in_content_final", [{"role": "user", "content": "x"},
                                {"role": "assistant", "content": "<think>\n\nstep 1\nstep 2\n\n</think>\n\n\nAnswer"}],
     None, None, False),
    ("think_multiple_tags", [{"role": "user", "content": "x"},
                             {"role": "assistant", "content": "pre<think>a</think>mid<think>b</think>\nend"}], None, None, False),
    ("assistant_null_content_final", [{"role": "user", "content": "x"}, {"role": "assistant", "content": None}],
     None, None, False),
    ("assistant_after_user_not_final", [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
                                        {"role": "assistant", "content": "c", "reasoning_content": "r"}], None, None, True),
    ("reasoning_nonstring_ignored", [{"role": "user", "content": "q"},
                                     {"role": "assistant", "content": "ans", "reasoning_content": None}], None, None, False),
    ("tools_system", [SYS, {"role": "user", "content": "서울 날씨 알려줘"}], [WEATHER_TOOL], None, True),
    ("tools_no_system", [{"role": "user", "content": "고양이 그림 그려줘"}], [T2I_TOOL], {"skip_reasoning": True}, True),
    ("tools_two_plus_bare", [SYS, {"role": "user", "content": "time?"}], [WEATHER_TOOL, TIME_TOOL, BARE_TOOL], None, True),
    ("tool_call_object_args", [SYS, {"role": "user", "content": "서울 날씨 알려줘"},
                               {"role": "assistant", "content": "", "tool_calls": [call("get_weather", {"location": "Seoul, KR", "unit": "celsius"})]},
                               {"role": "tool", "tool_call_id": "call_1", "name": "get_weather", "content": "{\"temp_c\": 3, \"condition\": \"clear\"}"}],
     [WEATHER_TOOL], {"thinking": True}, True),
    ("tool_call_string_args", [{"role": "user", "content": "서울 날씨 알려줘"},
                               {"role": "assistant", "content": None, "tool_calls": [call("get_weather", "{\"location\":\"Seoul, KR\",\"n\":[1,2.5,\"é\"],\"o\":{\"k\":null,\"b\":true}}")]}],
     [WEATHER_TOOL], None, False),
    ("tool_call_empty_args", [{"role": "user", "content": "t"},
                              {"role": "assistant", "content": None, "tool_calls": [call("get_time", "")]}], [TIME_TOOL], None, True),
    ("tool_calls_two_with_content", [{"role": "user", "content": "both"},
                                     {"role": "assistant", "content": "Checking both.",
                                      "tool_calls": [call("get_weather", {"location": "부산"}, "c1"), call("get_time", {"tz": "Asia/Seoul"}, "c2")]},
                                     {"role": "tool", "name": "get_weather", "content": "{\"temp_c\": 3}"},
                                     {"role": "tool", "name": "get_time", "content": "09:00"}],
     [WEATHER_TOOL, TIME_TOOL], {"skip_reasoning": True}, True),
    ("tool_results_then_answer", [{"role": "user", "content": "w"},
                                  {"role": "assistant", "content": "", "tool_calls": [call("get_weather", {"location": "Seoul"})]},
                                  {"role": "tool", "name": "get_weather", "content": "sunny"},
                                  {"role": "assistant", "content": "It is sunny."},
                                  {"role": "user", "content": "thanks"}], [WEATHER_TOOL], None, True),
    ("tool_result_list_content", [{"role": "user", "content": "w"},
                                  {"role": "assistant", "content": "", "tool_calls": [call("get_weather", {"location": "X"})]},
                                  {"role": "tool", "name": "get_weather", "content": [txt("part one"), txt("part two")]}],
     [WEATHER_TOOL], None, True),
    ("tool_first_message", [{"role": "tool", "name": "x", "content": "orphan"}, {"role": "user", "content": "?"}], None, None, True),
    ("tool_call_nested_values", [{"role": "user", "content": "n"},
                                 {"role": "assistant", "content": "",
                                  "tool_calls": [call("get_weather", {"location": "Seoul", "days": 3, "ratio": 0.25, "flags": [True, False, None],
                                                                      "meta": {"한국어": "값", "quote": "a\"b\\c\n"}})]}],
     [WEATHER_TOOL], None, False),
    ("image_then_text", [{"role": "user", "content": [img("https://example.com/photos/cat.png"), txt("이 사진을 설명해줘.")]}],
     None, None, True),
    ("video_then_text", [{"role": "user", "content": [img("https://example.com/v/clip.mp4"), txt("무슨 장면이야?")]}],
     None, {"thinking": True}, True),
    ("video_upper_ext_and_image", [{"role": "user", "content": [img("http://x/a/B.MKV"), img("http://x/y/z.webp"), img("http://x/q/r.Mov")]}],
     None, None, True),
    ("two_users_media_counters", [{"role": "user", "content": [img("http://h/1.jpg"), txt("one")]},
                                  {"role": "assistant", "content": "ok"},
                                  {"role": "user", "content": [img("http://h/2.jpg"), img("http://h/v.avi"), img("http://h/3.png"), audio(), audio()]}],
     None, {"skip_reasoning": True}, True),
    ("text_then_audio", [{"role": "user", "content": [txt("이 음성을 받아 적어줘."), audio()]}], None, {"skip_reasoning": True}, True),
    ("video_then_audio", [{"role": "user", "content": [img("https://e.com/m/movie.mp4"), audio()]}], None, {"skip_reasoning": True}, True),
    ("video_url_part", [{"role": "user", "content": [{"type": "video_url", "video_url": {"url": "https://e.com/s/clip.webm"}}, txt("요약해줘")]}],
     None, None, True),
    ("system_list_content", [{"role": "system", "content": [txt("You are "), txt("terse.")]}, {"role": "user", "content": "hi"}],
     None, None, True),
    ("system_list_with_tools", [{"role": "system", "content": [txt("Sys A"), txt("Sys B")]}, {"role": "user", "content": "hi"}],
     [TIME_TOOL], None, True),
    ("later_system_turn", [SYS, {"role": "user", "content": "a"}, {"role": "system", "content": "new rules"},
                           {"role": "user", "content": "b"}], None, None, True),
    ("assistant_list_content", [{"role": "user", "content": "a"}, {"role": "assistant", "content": [txt("x"), txt("y")]},
                                {"role": "user", "content": "b"}], None, None, True),
    ("file_part_ignored", [{"role": "user", "content": [{"type": "file", "file": {"file_data": "x", "file_id": "f", "filename": "a.txt"}}, txt("see file")]}],
     None, None, True),
    ("korean_emoji_long", [SYS, {"role": "user", "content": "대한민국의 수도는? 🇰🇷😀 " * 20 + "\n\n  끝  "}], None, None, True),
    ("special_chars", [{"role": "user", "content": "quotes ' \" backslash \\ braces {{ x }} {% y %} tabs\t\tcr\r\nend"}],
     None, None, True),
    ("unknown_role", [{"role": "developer", "content": "dev note"}, {"role": "user", "content": "u"}], None, None, True),
    ("empty_strings", [{"role": "system", "content": ""}, {"role": "user", "content": ""}], None, None, True),
    ("many_turns", [SYS] + [m for i in range(25) for m in ({"role": "user", "content": f"질문 {i}"},
                                                          {"role": "assistant", "content": f"답 {i}", "reasoning_content": f"생각 {i}"})]
     + [{"role": "user", "content": "마지막"}], None, {"thinking": True}, True),
]


# ------------------------------------------------------------ tests

def check_embedded():
    for fam, path in (("track-a", TRACK_A), ("track-b", TRACK_B), ("hcx-legacy", LEGACY)):
        p = subprocess.run([OMNIC, "render-chat", "--family", fam, "--dump-template"], capture_output=True)
        want = open(path, "rb").read()
        report(p.returncode == 0 and p.stdout == want, f"embedded_template_{fam}",
               f"rc={p.returncode} {len(p.stdout)} vs {len(want)} bytes (run tools/embed_templates.py)")
    p = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "embed_templates.py"), "--check",
                        "--reference", os.path.join(SHARED, "reference")], capture_output=True, text=True)
    report(p.returncode == 0, "embedded_data_up_to_date", p.stdout + p.stderr)


def golden_special(model):
    tc = json.load(open(os.path.join(model, "tokenizer_config.json")))
    out = {}
    for k in ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"):
        v = tc.get(k)
        if isinstance(v, dict):
            v = v.get("content")
        if isinstance(v, str):
            out[k] = v
    if isinstance(tc.get("additional_special_tokens"), list):
        out["additional_special_tokens"] = [t if isinstance(t, str) else t.get("content") for t in tc["additional_special_tokens"]]
    return out


def check_conversations():
    cases = []  # (name, omnic args, oracle job)
    for name, msgs, tools, kwargs, agp in CONVS:
        for fam, path in (("track-a", TRACK_A), ("track-b", TRACK_B), ("hcx-legacy", LEGACY)):
            cases.append((f"{fam}/{name}", dict(messages=msgs, family=fam, tools=tools, kwargs=kwargs, agp=agp),
                          {"template_file": path, "context": context(msgs, tools, kwargs, agp, legacy=fam == "hcx-legacy")}))
        for g in GOLDEN:
            # plain-text conversations only: the golden template concatenates content strings
            if all(isinstance(m.get("content"), str) for m in msgs):
                tpl = json.load(open(os.path.join(g, "tokenizer_config.json")))["chat_template"]
                cases.append((f"{os.path.basename(os.path.dirname(g))}/{name}",
                              dict(messages=msgs, model=g, tools=tools, kwargs=kwargs, agp=agp),
                              {"template": tpl, "context": context(msgs, tools, kwargs, agp, golden_special(g), True)}))
    try:
        results = run_oracle([c[2] for c in cases])
    except Exception as e:  # noqa: BLE001
        report(False, "oracle", str(e))
        return
    n_ok = 0
    for (name, args, _), res in zip(cases, results):
        rc, out, err = omnic_render(**args)
        if "error" in res:
            # the oracle failing is acceptable only if omnic fails too (e.g. Track B on string args)
            report(rc != 0, f"conv/{name}", f"oracle error {res['error']!r} but omnic rc={rc}")
            continue
        ok = rc == 0 and out == res["text"]
        n_ok += ok
        report(ok, f"conv/{name}", f"rc={rc} {err.strip()} " + ("" if rc else first_diff(out, res["text"])))
    report(len(cases) >= 100, "conv_count", f"only {len(cases)} renderings")


# chat.md 2.4 (escaped forms copied from the spec)
A1 = "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n안녕? 1+1은?<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"
A3 = "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\nWhat is 2+3?<|im_end|>\n<|im_start|>assistant\n<think>\n"
A3B = "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\nWhat is 2+3?<|im_end|>\n<|im_start|>assistant\n<think>\n2+3=5\n</think>\n\n5<|im_end|>\n"
TOOLS_BLOCK = ("# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
               "You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n{TOOLS}\n</tools>\n\n"
               "For each function call, output the function name and arguments within the following XML format:\n"
               "<tool_call>{function-name}\n<arg_key>{arg-key-1}</arg_key>\n<arg_value>{arg-value-1}</arg_value>\n"
               "<arg_key>{arg-key-2}</arg_key>\n<arg_value>{arg-value-2}</arg_value>\n...\n</tool_call><|im_end|>\n")
WEATHER_JSON = ('{"type": "function", "function": {"name": "get_weather", "description": "날씨 조회", "parameters": '
                '{"type": "object", "properties": {"location": {"type": "string"}, "unit": {"type": "string", "enum": '
                '["celsius", "fahrenheit"]}}, "required": ["location"]}}}')
A4 = ("<|im_start|>system\nYou are a helpful assistant.\n\n" + TOOLS_BLOCK.replace("{TOOLS}", WEATHER_JSON) +
      "<|im_start|>user\n서울 날씨 알려줘<|im_end|>\n<|im_start|>assistant\n<tool_call>get_weather\n"
      "<arg_key>location</arg_key>\n<arg_value>Seoul, KR</arg_value>\n<arg_key>unit</arg_key>\n<arg_value>celsius</arg_value>\n"
      "</tool_call><|im_end|>\n<|im_start|>tool\n<tool_response>get_weather\n{\"temp_c\": 3, \"condition\": \"clear\"}\n"
      "</tool_response><|im_end|>\n<|im_start|>assistant\n<think>\n")
A4B = ("<|im_start|>system\nYou are a helpful assistant.\n\n" + TOOLS_BLOCK.replace("{TOOLS}", WEATHER_JSON) +
       "<|im_start|>user\n서울 날씨 알려줘<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n")
A4C = "<|im_start|>user\n서울 날씨 알려줘<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n<tool_call>get_weather\n<arguments>{\"location\":\"Seoul, KR\"}</arguments>\n</tool_call><|im_end|>\n"
A5 = "<|im_start|>user\n<|mime_start|>{\"id\": \"image_00\", \"type\": \"image/jpeg\", \"filename\": \"cat.png\"}<|mime_end|>\n<|image_start|><|IMAGE_PAD|><|image_end|>\n이 사진을 설명해줘.<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"
A6 = "<|im_start|>user\n<|mime_start|>{\"id\": \"video_00\", \"type\": \"video/mp4\", \"filename\": \"clip.mp4\"}<|mime_end|>\n<|video_aux_start|>다음 중 video_duration은 비디오 길이 정보입니다. 참고하여 답변하세요. {\"video_duration\": \"<|video_meta_duration|>\"}<|video_aux_end|>\n<|video_start|><|VIDEO_PAD|><|video_end|>\n\n무슨 장면이야?<|im_end|>\n<|im_start|>assistant\n<think>\n"
B3 = "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n<|mime_start|>{\"id\": \"image_00\", \"type\": \"image/jpeg\", \"filename\": \"image.jpg\"}<|mime_end|>\n<|discrete_image_start|><|DISCRETE_IMAGE_PAD|><|discrete_image_end|>\n<|image_start|><|IMAGE_PAD|><|image_end|>\n이 표정 어때?<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"
B4 = "<|im_start|>user\n이 음성을 받아 적어줘.\n<|mime_start|>{\"id\": \"audio_00\", \"type\": \"audio/mpeg\", \"filename\": \"user_query.wav\"}<|mime_end|>\n<|audio_aux_start|>다음 중 audio_duration은 오디오 길이 정보입니다. 참고하여 답변하세요. {\"audio_duration\": \"<|audio_meta_duration|>\"}<|audio_aux_end|>\n<|discrete_audio_start|><|DISCRETE_AUDIO_PAD|><|discrete_audio_end|>\n<|audio_start|><|AUDIO_PAD|><|audio_end|><|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"
B4B = "\"filename\": \"video.mp4\"}<|mime_end|>\n<|video_aux_start|>다음 중 video_duration은 비디오 길이 정보입니다. 참고하여 답변하세요. {\"video_duration\": \"<|video_meta_duration|>\"}<|video_aux_end|>\n<|video_start|><|VIDEO_PAD|><|video_end|>\n<|mime_start|>{\"id\": \"audio_00\", "
B5 = "<|im_start|>system\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>\n{\"type\": \"function\", \"function\": {\"name\": \"t2i_model_generation\", \"description\": \"Generates an RGB image based on the provided discrete image representation.\", \"parameters\": {\"type\": \"object\", \"required\": [\"discrete_image_token\"], \"properties\": {\"discrete_image_token\": {\"type\": \"string\", \"description\": \"A serialized string of discrete vision tokens.\", \"minLength\": 1}}}}}\n</tools>\n\nFor each function call, output the function name and arguments within the following XML format:\n<tool_call>{function-name}\n<arg_key>{arg-key-1}</arg_key>\n<arg_value>{arg-value-1}</arg_value>\n<arg_key>{arg-key-2}</arg_key>\n<arg_value>{arg-value-2}</arg_value>\n...\n</tool_call><|im_end|>\n<|im_start|>user\n고양이 그림 그려줘<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"
B6 = "</tool_call><|im_end|>\n<|im_start|>tool\n<tool_response>get_weather\n{\"temp_c\": 3}\n</tool_response>\n<tool_response>get_time\n09:00\n</tool_response><|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"


def expect(name, got, want, mode="exact"):
    rc, out, err = got
    if rc != 0:
        report(False, name, f"rc={rc}: {err.strip()}")
        return
    if mode == "exact":
        ok = out == want
    elif mode == "suffix":
        ok = out.endswith(want)
    elif mode == "prefix":
        ok = out.startswith(want)
    else:
        ok = want in out
    report(ok, name, f"{mode} mismatch: got {show(out, 800)}" + (" " + first_diff(out, want) if mode == "exact" else ""))


def check_spec_examples():
    a1 = [SYS, {"role": "user", "content": "안녕? 1+1은?"}]
    expect("spec/A1", omnic_render(a1, "track-a"), A1)
    expect("spec/A2", omnic_render(a1, "track-a", kwargs={"thinking": True}), A1[:-len("\n</think>\n\n")])
    expect("spec/A2_suffix", omnic_render(a1, "track-a", kwargs={"thinking": True}), "<|im_start|>assistant\n<think>\n", "suffix")
    a3 = [SYS, {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!", "reasoning_content": "greet back"},
          {"role": "user", "content": "What is 2+3?"}]
    expect("spec/A3", omnic_render(a3, "track-a", kwargs={"thinking": True}), A3)
    a3b = [SYS, {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "<think>\ngreet\n</think>\n\nHello!"},
           {"role": "user", "content": "What is 2+3?"}, {"role": "assistant", "content": "5", "reasoning_content": "2+3=5"}]
    expect("spec/A3b", omnic_render(a3b, "track-a", agp=False), A3B)
    a4 = [SYS, {"role": "user", "content": "서울 날씨 알려줘"},
          {"role": "assistant", "content": "", "tool_calls": [call("get_weather", {"location": "Seoul, KR", "unit": "celsius"})]},
          {"role": "tool", "tool_call_id": "call_1", "name": "get_weather", "content": "{\"temp_c\": 3, \"condition\": \"clear\"}"}]
    expect("spec/A4", omnic_render(a4, "track-a", tools=[WEATHER_TOOL], kwargs={"thinking": True}), A4)
    a4s = copy.deepcopy(a4)
    a4s[2]["tool_calls"][0]["function"]["arguments"] = json.dumps({"location": "Seoul, KR", "unit": "celsius"})
    expect("spec/A4_string_args_converted", omnic_render(a4s, "track-a", tools=[WEATHER_TOOL], kwargs={"thinking": True}), A4)
    expect("spec/A4b", omnic_render(a4[:2], "track-a", tools=[WEATHER_TOOL]), A4B)
    a4c = [{"role": "user", "content": "서울 날씨 알려줘"},
           {"role": "assistant", "content": "", "tool_calls": [call("get_weather", "{\"location\":\"Seoul, KR\"}")]}]
    expect("spec/A4c_raw", omnic_render(a4c, "track-a", agp=False, raw=True), A4C)
    expect("spec/A4c_normalized", omnic_render(a4c, "track-a", agp=False),
           A4C.replace("<arguments>{\"location\":\"Seoul, KR\"}</arguments>\n", "<arg_key>location</arg_key>\n<arg_value>Seoul, KR</arg_value>\n"))
    expect("spec/A5", omnic_render([{"role": "user", "content": [img("https://example.com/photos/cat.png"), txt("이 사진을 설명해줘.")]}],
                                   "track-a"), A5)
    expect("spec/A6", omnic_render([{"role": "user", "content": [img("https://example.com/v/clip.mp4"), txt("무슨 장면이야?")]}],
                                   "track-a", kwargs={"thinking": True}), A6)
    expect("spec/B1", omnic_render(a1, "track-b", kwargs={"skip_reasoning": True}), A1)
    expect("spec/B2", omnic_render(a1, "track-b"), A1[:-len("\n</think>\n\n")])
    expect("spec/B2_thinking_no_effect", omnic_render(a1, "track-b", kwargs={"thinking": True}), A1[:-len("\n</think>\n\n")])
    expect("spec/B3", omnic_render([SYS, {"role": "user", "content": [img("https://e.com/face.png"), txt("이 표정 어때?")]}],
                                   "track-b", kwargs={"skip_reasoning": True}), B3)
    expect("spec/B4", omnic_render([{"role": "user", "content": [txt("이 음성을 받아 적어줘."), audio()]}],
                                   "track-b", kwargs={"skip_reasoning": True}), B4)
    expect("spec/B4b", omnic_render([{"role": "user", "content": [img("https://e.com/m/movie.mp4"), audio()]}],
                                    "track-b", kwargs={"skip_reasoning": True}), B4B, "contains")
    expect("spec/B5", omnic_render([{"role": "user", "content": "고양이 그림 그려줘"}], "track-b", tools=[T2I_TOOL],
                                   kwargs={"skip_reasoning": True}), B5)
    b6 = [{"role": "user", "content": "both"},
          {"role": "assistant", "content": "", "tool_calls": [call("get_weather", {"location": "Seoul"}, "c1"),
                                                              call("get_time", {"tz": "KST"}, "c2")]},
          {"role": "tool", "name": "get_weather", "content": "{\"temp_c\": 3}"},
          {"role": "tool", "name": "get_time", "content": "09:00"}]
    expect("spec/B6", omnic_render(b6, "track-b", tools=[WEATHER_TOOL, TIME_TOOL], kwargs={"skip_reasoning": True}), B6, "suffix")
    expect("spec/B6_track_a", omnic_render(b6, "track-a", tools=[WEATHER_TOOL, TIME_TOOL]), B6, "suffix")
    # Track B raises on string arguments when not normalized (chat.md 2.3): an error, not a crash
    rc, out, err = omnic_render(a4c, "track-b", agp=False, raw=True)
    report(rc == 1 and "items" in err and "line" in err, "spec/B_raw_string_args_error", f"rc={rc} err={err.strip()!r}")
    # Track B with content null unnormalized raises ('</think>' in None) -> clear error
    rc, out, err = omnic_render([{"role": "user", "content": "q"}, {"role": "assistant", "content": None}], "track-b", raw=True)
    report(rc == 1 and "NoneType" in err, "spec/B_raw_null_content_error", f"rc={rc} err={err.strip()!r}")
    rc, out, err = omnic_render([{"role": "user", "content": "q"}, {"role": "assistant", "content": None}], "track-b")
    report(rc == 0 and out.endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n<|im_end|>\n<|im_start|>assistant\n<think>\n"),
           "spec/B_null_content_normalized", f"rc={rc} {show(out)} {err}")


LEG_SYS = "- AI 언어모델의 이름은 \"CLOVA X\" 이며 네이버에서 만들었다.\n- 오늘은 2025년 04월 24일(목)이다."
LEG_USER = "슈뢰딩거 방정식과 양자역학의 관계를 최대한 자세히 알려줘."


def check_legacy():
    # 0.5B model card conversation (chat.md 2.6): explicit empty tool_list turn
    conv = [{"role": "tool_list", "content": ""}, {"role": "system", "content": LEG_SYS}, {"role": "user", "content": LEG_USER}]
    base = (f"<|im_start|>tool_list\n<|im_end|>\n<|im_start|>system\n{LEG_SYS}<|im_end|>\n"
            f"<|im_start|>user\n{LEG_USER}<|im_end|>\n<|im_start|>assistant")
    expect("legacy/card_0.5b", omnic_render(conv, "hcx-legacy"), base)
    expect("legacy/auto_tool_list", omnic_render(conv[1:], "hcx-legacy"), base)
    expect("legacy/force_reasoning", omnic_render(conv, "hcx-legacy", kwargs={"force_reasoning": True}), base + "/think\n")
    expect("legacy/skip_reasoning", omnic_render(conv, "hcx-legacy", kwargs={"skip_reasoning": True}), base + "\n")
    expect("legacy/force_wins", omnic_render(conv, "hcx-legacy", kwargs={"skip_reasoning": True, "force_reasoning": True}),
           base + "/think\n")
    expect("legacy/no_generation_prompt", omnic_render(conv, "hcx-legacy", agp=False), base[:-len("<|im_start|>assistant")])
    # tools in the tool_list turn (14B card), multi-turn history, tool call and result
    tl = ('[{"name": "get_weather", "description": "Check the current weather at the requested location.", '
          '"parameters": {"type": "object", "properties": {"location": {"type": "string", "description": "Name of the city"}}, '
          '"required": ["location"]}}]')
    tool = {"type": "function", "function": json.loads(tl)[0]}
    conv2 = [{"role": "system", "content": "- sys"}, {"role": "user", "content": "Tell me the weather in Seoul"},
             {"role": "assistant", "content": "Let's check the weather using the get_weather tool.",
              "tool_calls": [call("get_weather", "{\"location\": \"Seoul\"}")]},
             {"role": "tool", "content": "{\"result\":{\"location\": \"Seoul\", \"weather\": \"Sunny\", \"temperature\": 25}}"}]
    want2 = (f"<|im_start|>tool_list\n{tl}<|im_end|>\n<|im_start|>system\n- sys<|im_end|>\n"
             "<|im_start|>user\nTell me the weather in Seoul<|im_end|>\n"
             "<|im_start|>assistant\nLet's check the weather using the get_weather tool.<|im_end|>\n"
             "<|im_start|>assistant -> tool/function_call\n[{\"name\": \"get_weather\", \"arguments\": {\"location\": \"Seoul\"}}]<|im_end|><|stop|>\n"
             "<|im_start|>tool/function_call\n{\"result\":{\"location\": \"Seoul\", \"weather\": \"Sunny\", \"temperature\": 25}}<|im_end|>\n"
             "<|im_start|>assistant")
    expect("legacy/tool_call_turns", omnic_render(conv2, "hcx-legacy", tools=[tool]), want2)
    conv3 = [{"role": "tool_list", "content": ""}, {"role": "system", "content": ""},
             {"role": "user", "content": "Calculate the sum of odd numbers from 1 to 10"},
             {"role": "assistant", "content": "The answer is **25**.", "reasoning_content": "1+3+5+7+9"},
             {"role": "user", "content": "What is the result of adding 10 to that sum?"}]
    want3 = ("<|im_start|>tool_list\n<|im_end|>\n<|im_start|>system\n<|im_end|>\n"
             "<|im_start|>user\nCalculate the sum of odd numbers from 1 to 10<|im_end|>\n"
             "<|im_start|>assistant\nThe answer is **25**.<|im_end|><|endofturn|>\n"
             "<|im_start|>user\nWhat is the result of adding 10 to that sum?<|im_end|>\n<|im_start|>assistant/think\n")
    expect("legacy/multiturn_reasoning_dropped", omnic_render(conv3, "hcx-legacy", kwargs={"force_reasoning": True}), want3)
    expect("legacy/user_list_flattened",
           omnic_render([{"role": "user", "content": [txt("a"), img("http://x/y.png"), txt("b")]}], "hcx-legacy"),
           "<|im_start|>tool_list\n<|im_end|>\n<|im_start|>user\na\nb<|im_end|>\n<|im_start|>assistant")
    conv4 = conv3[:3] + [{"role": "assistant", "content": "25", "reasoning_content": "odd numbers..."}]
    expect("legacy/final_reasoning_kept", omnic_render(conv4, "hcx-legacy", agp=False),
           "<|im_start|>assistant/think\nodd numbers...<|im_end|>\n<|im_start|>assistant\n25<|im_end|><|endofturn|>\n", "suffix")


def make_folder(name, config=None, tokenizer_config=None, files=None):
    d = os.path.join(TMP, name)
    os.makedirs(d, exist_ok=True)
    if config is not None:
        json.dump(config, open(os.path.join(d, "config.json"), "w"))
    if tokenizer_config is not None:
        json.dump(tokenizer_config, open(os.path.join(d, "tokenizer_config.json"), "w"), ensure_ascii=False)
    for fn, text in (files or {}).items():
        with open(os.path.join(d, fn), "w", encoding="utf-8") as f:
            f.write(text)
    return d


def info(model=None, family=None):
    cmd = [OMNIC, "render-chat", "--info"]
    if model:
        cmd += ["-m", model]
    if family:
        cmd += ["--family", family]
    p = subprocess.run(cmd, capture_output=True, text=True)
    return p.returncode, (json.loads(p.stdout) if p.returncode == 0 else None), p.stderr


# a template exercising many interpreter features (compared with the oracle)
FEATURE_TPL = r"""{%- macro fmt_msg(m, prefix='> ', upper=false) -%}
{{ prefix }}{{ (m.content | upper) if upper else m.content | trim }}
{%- endmacro -%}
{#- comment -#}
{%- set ns = namespace(n=0, names=[]) -%}
{%- for m in messages if m.role != 'system' -%}
{%- set ns.n = ns.n + 1 -%}
{{ loop.index }}/{{ loop.length }}{% if loop.first %} first{% endif %}{% if loop.last %} last{% endif %}: {{ fmt_msg(m, upper=loop.index is even) }}
{% set ns.names = ns.names + [m.role] %}
{%- else -%}
none
{%- endfor -%}
count={{ ns.n }} roles={{ ns.names | join(',') }} uniq={{ ns.names | unique | list | length }}
{{ messages | selectattr('role', 'equalto', 'user') | list | length }} users
{{ messages[-1].content[:5] }}|{{ messages[0].content[-3:] }}|{{ 'many' if messages | length > 2 else 'few' }}
{%- for k, v in {'a': 1, 'b': [1, 2], 'c': {'d': 'é'}}.items() %}
{{ k }}={{ v | tojson }}{{ ',' if not loop.last }}
{%- endfor %}
{{ {'z': 1, 'a': [1, {'b': none}]} | tojson(indent=2) }}
{{ 'a-b-c'.split('-') | join('+') }} {{ '  x  '.strip() }}|{{ 'xxhixx'.lstrip() }} {{ 'sw' if 'Hello'.startswith('He') }}
{{ 'abc' ~ 1 ~ 'x' }} {{ 10 // 3 }} {{ 10 % 3 }} {{ 2 ** 10 }} {{ 7 / 2 }}
{%- if tools is defined and tools %} tools={{ tools | length }}{% elif add_generation_prompt %} agp{% else %} none{% endif %}
{% for x in range(5) %}{% if x == 1 %}{% continue %}{% endif %}{% if x == 4 %}{% break %}{% endif %}{{ x }}{% endfor %}
{{ "%s-%03d-%.2f-%x" % ("s", 7, 3.14159, 255) }} {{ [3, 1, 2] | sort | join }} {{ [3, 1, 2] | sort(reverse=true) | first }}
{{ messages | selectattr('role', 'equalto', 'assistant') | map(attribute='content') | join(' / ') }}
{{ (messages | last).role | capitalize }} {{ 'Title case words' | title }} {{ 'x' if 1 in [1, 2] else 'y' }} {{ 'ni' if 'q' not in 'abc' }}
{%- set captured %}inner {{ 1 + 1 }}{% endset %} [{{ captured }}] {{ bos_token ~ '|' ~ eos_token }}
{{ raise_exception('never') if false else 'no raise' }}
"""


def check_folders():
    d = make_folder("arch_a", {"architectures": ["HCXVisionV2ForCausalLM"], "model_type": "vlm"}, {"eos_token": "<|im_end|>"})
    rc, inf, err = info(d)
    report(rc == 0 and inf["family"] == "track-a" and inf["stop"][0] == "<|im_end|>" and inf["never_stop"] == ["</think>"],
           "folder/detect_track_a", f"{rc} {inf} {err}")
    d = make_folder("arch_a2", {"model_type": "hyperclovax_vision_v2"})
    rc, inf, err = info(d)
    report(rc == 0 and inf["family"] == "track-a", "folder/detect_track_a_model_type", f"{rc} {inf} {err}")
    d = make_folder("arch_b", {"architectures": ["HCXVisionForCausalLM"]})
    rc, inf, err = info(d)
    report(rc == 0 and inf["family"] == "track-b", "folder/detect_track_b", f"{rc} {inf} {err}")
    rc, inf, err = info(d, "model-template")
    report(rc != 0 and d in err and "no chat template" in err, "folder/model_template_missing", f"{rc} {inf} {err}")
    rc, inf, err = info(GOLDEN[0])
    report(rc == 0 and inf["family"] == "model-template" and inf["stop"] == ["<|endofturn|>", "<|stop|>"]
           and inf["never_stop"] == ["<|im_end|>"], "folder/golden_model_template", f"{rc} {inf} {err}")
    rc, inf, err = info(GOLDEN[0], "track-a")
    report(rc == 0 and inf["family"] == "track-a" and inf["stop"][0] == "<|im_end|>",
           "folder/explicit_family_no_arch", f"{rc} {inf} {err}")
    d = make_folder("arch_a_hub", {"architectures": ["HCXVisionV2ForCausalLM"]}, {"chat_template": "hub"})
    rc, inf, err = info(d, "model-template")
    report(rc == 0 and inf["family"] == "model-template" and inf["stop"][0] == "<|im_end|>" and inf["never_stop"] == ["</think>"],
           "folder/hub_template_keeps_arch_stops", f"{rc} {inf} {err}")
    d = make_folder("none", {"architectures": ["LlamaForCausalLM"]}, {"eos_token": "x"})
    rc, inf, err = info(d)
    report(rc != 0 and d in err and "no chat template" in err, "folder/no_template_error", err.strip())
    rc, inf, err = info(os.path.join(TMP, "does_not_exist"))
    report(rc != 0 and "no chat template" in err, "folder/missing_dir_error", err.strip())
    rc, inf, err = info(None, "bogus")
    report(rc != 0 and "bogus" in err, "folder/unknown_family", err.strip())
    rc, _, err = info(None, "model-template")
    report(rc != 0 and "model folder" in err, "folder/model_template_needs_dir", err.strip())
    # chat_template.jinja beats tokenizer_config.json
    d = make_folder("jinja_file", {"architectures": ["LlamaForCausalLM"]},
                    {"chat_template": "WRONG", "bos_token": {"content": "<s>", "lstrip": False}, "eos_token": "</s>"},
                    {"chat_template.jinja": "{{ bos_token }}{% for m in messages %}[{{ m.role }}]{{ m.content }}{% endfor %}{{ eos_token }}\n"})
    r = omnic_render([{"role": "user", "content": "hi"}], model=d)
    expect("folder/chat_template_jinja_file", r, "<s>[user]hi</s>")
    d = make_folder("json_file", None, {"chat_template": "WRONG"},
                    {"chat_template.json": json.dumps({"chat_template": "J:{{ messages[0].content }}"})})
    expect("folder/chat_template_json", omnic_render([{"role": "user", "content": "x"}], model=d), "J:x")
    d = make_folder("named", None, {"chat_template": [{"name": "default", "template": "D{{ messages | length }}"},
                                                      {"name": "tool_use", "template": "T{{ tools | length }}"}]})
    expect("folder/named_default", omnic_render([{"role": "user", "content": "x"}], model=d), "D1")
    expect("folder/named_tool_use", omnic_render([{"role": "user", "content": "x"}], model=d, tools=[TIME_TOOL, BARE_TOOL]), "T2")
    d = make_folder("user_list", None, {"chat_template": "{% for m in messages %}{{ m.content + '|' }}{% endfor %}"})
    expect("folder/user_text_list_flattened", omnic_render([{"role": "user", "content": [txt("a"), txt("b")]}], model=d), "a\nb|")
    # syntax error: message names the file and line
    d = make_folder("bad_syntax", None, None, {"chat_template.jinja": "line1\n{% if x %}\n{{ 1 + }}\n{% endif %}\n"})
    rc, out, err = omnic_render([{"role": "user", "content": "x"}], model=d)
    report(rc == 1 and "chat_template.jinja line 3" in err, "error/syntax_line", err.strip())
    d = make_folder("unclosed", None, None, {"chat_template.jinja": "a\n\n{% for m in messages %}{{ m.content }}\n"})
    rc, out, err = omnic_render([{"role": "user", "content": "x"}], model=d)
    report(rc == 1 and "line 3" in err and "endfor" in err, "error/unclosed_block", err.strip())
    d = make_folder("raises", None, {"chat_template": "{% if messages[0].role != 'system' %}{{ raise_exception('First message must be system, got ' + messages[0].role) }}{% endif %}ok"})
    rc, out, err = omnic_render([{"role": "user", "content": "x"}], model=d)
    report(rc == 1 and "First message must be system, got user" in err, "error/raise_exception", err.strip())
    expect("folder/raise_not_taken", omnic_render([{"role": "system", "content": "x"}], model=d), "ok")
    d = make_folder("unknown_filter", None, {"chat_template": "{{ messages | frobnicate }}"})
    rc, out, err = omnic_render([{"role": "user", "content": "x"}], model=d)
    report(rc == 1 and "frobnicate" in err, "error/unknown_filter", err.strip())
    d = make_folder("undefined_method", None, {"chat_template": "{{ messages[0].content.nosuch() }}"})
    rc, out, err = omnic_render([{"role": "user", "content": "x"}], model=d)
    report(rc == 1 and "nosuch" in err, "error/undefined_method", err.strip())
    d = make_folder("infinite", None, {"chat_template": "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}"})
    rc, out, err = omnic_render([{"role": "user", "content": "x"}], model=d)
    report(rc == 1 and "nested" in err, "error/recursion_limit", err.strip())
    d = make_folder("huge", None, {"chat_template": "{% for i in range(100000) %}{% for j in range(100000) %}{{ 'x' * 1000 }}{% endfor %}{% endfor %}"})
    rc, out, err = omnic_render([{"role": "user", "content": "x"}], model=d)
    report(rc == 1 and ("exceeds" in err or "steps" in err or "memory" in err), "error/output_limit", err.strip())
    # a feature-rich template against the oracle
    d = make_folder("features", None, {"chat_template": FEATURE_TPL, "bos_token": "<B>", "eos_token": "<E>"})
    jobs, runs = [], []
    for name, msgs, tools, kwargs, agp in CONVS:
        if all(isinstance(m.get("content"), str) for m in msgs) and len(msgs) >= 2:
            jobs.append({"template": FEATURE_TPL, "context": context(msgs, tools, kwargs, agp, {"bos_token": "<B>", "eos_token": "<E>"}, True)})
            runs.append((name, msgs, tools, kwargs, agp))
    res = run_oracle(jobs)
    for (name, msgs, tools, kwargs, agp), r in zip(runs, res):
        if "error" in r:
            report(False, f"features/{name}", "oracle: " + r["error"])
            continue
        rc, out, err = omnic_render(msgs, model=d, tools=tools, kwargs=kwargs, agp=agp)
        report(rc == 0 and out == r["text"], f"features/{name}", f"rc={rc} {err.strip()} " + ("" if rc else first_diff(out, r["text"])))


def check_input_errors():
    def render_raw_file(path_text, extra=()):
        p = os.path.join(TMP, "raw_input.json")
        open(p, "w").write(path_text)
        r = subprocess.run([OMNIC, "render-chat", "--family", "track-a", "--messages", p, *extra], capture_output=True, text=True)
        return r.returncode, r.stdout, r.stderr
    rc, out, err = render_raw_file("[{\"role\": \"user\", \"content\": ")
    report(rc == 1 and "invalid JSON" in err, "input/bad_json", err.strip())
    rc, out, err = render_raw_file("{\"role\": \"user\"}")
    report(rc == 1 and "messages" in err and "array" in err, "input/not_array", err.strip())
    rc, out, err = render_raw_file("[{\"content\": \"x\"}]")
    report(rc == 1 and "messages[0].role" in err, "input/no_role", err.strip())
    rc, out, err = render_raw_file("[5]")
    report(rc == 1 and "messages[0]" in err, "input/message_not_object", err.strip())
    bad = [{"role": "user", "content": "x"}, {"role": "assistant", "content": None, "tool_calls": [call("f", "{not json")]}]
    rc, out, err = omnic_render(bad, "track-a")
    report(rc == 1 and "messages[1].tool_calls[0].function.arguments" in err, "input/bad_arguments", err.strip())
    bad[1]["tool_calls"][0]["function"]["arguments"] = "[1, 2]"
    rc, out, err = omnic_render(bad, "track-a")
    report(rc == 1 and "object" in err, "input/arguments_not_object", err.strip())
    rc, out, err = omnic_render([{"role": "user", "content": "x"}], "track-a", tools=[{"type": "function", "function": {"description": "no name"}}])
    report(rc == 1 and "tools[0].function.name" in err, "input/tool_without_name", err.strip())
    rc, out, err = omnic_render([{"role": "user", "content": "x"}], "track-a", kwargs={"messages": []})
    report(rc == 1 and "messages" in err, "input/kwargs_reserved", err.strip())
    rc, out, err = render_raw_file("[{\"role\": \"user\", \"content\": \"x\"}]", ("--kwargs", "[1]"))
    report(rc == 1 and "object" in err, "input/kwargs_not_object", err.strip())
    # deep nesting in the input must not crash
    deep = {"role": "user", "content": "x", "extra": json.loads("[" * 500 + "]" * 500)}
    rc, out, err = omnic_render([deep], "track-a")
    report(rc == 0, "input/deep_json", err.strip())


def main():
    if not os.path.exists(OMNIC):
        report(False, "omnic_binary", f"{OMNIC} not found")
        sys.exit(1)
    try:
        check_embedded()
        check_spec_examples()
        check_legacy()
        check_conversations()
        check_folders()
        check_input_errors()
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    print(f"# {passes} passed, {failures} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
