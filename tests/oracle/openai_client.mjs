// openai_client.mjs - drive `omnic serve` with the official OpenAI Node client (npm
// "openai", pinned in package.json) as a user would: models, chat completions (plain,
// streamed with usage, seeds, stop strings), legacy completions, tool calls and reasoning
// (through the server's OMNIC_TEST_SCRIPT scripts "tool", "think", "answer" set up by
// tests/integration/test_serve.py), the /a and /b OmniServe prefixes, and the SDK's
// error classes for 404 / 400 answers.
//   node openai_client.mjs BASE_URL SCRIPT_BASE_URL
// BASE_URL serves the golden hcx-small model; SCRIPT_BASE_URL a server started with
// OMNIC_TEST_SCRIPT (the scripted cases run there).
// Prints "PASS openai/<case>" or "FAIL openai/<case>: <why>" per case; exits 1 on failure.
import OpenAI from "openai";

const base = process.argv[2], sbase = process.argv[3];
if (!base || !sbase) {
  console.error("usage: node openai_client.mjs BASE_URL SCRIPT_BASE_URL");
  process.exit(2);
}
let failed = 0;
const v1 = new OpenAI({ baseURL: `${base}/v1`, apiKey: "sk-unused", maxRetries: 0, timeout: 120000 });
const a = new OpenAI({ baseURL: `${base}/a/v1`, apiKey: "sk-unused", maxRetries: 0, timeout: 120000 });
const b = new OpenAI({ baseURL: `${base}/b/v1`, apiKey: "sk-unused", maxRetries: 0, timeout: 120000 });
const sv1 = new OpenAI({ baseURL: `${sbase}/v1`, apiKey: "sk-unused", maxRetries: 0, timeout: 120000 });
const sa = new OpenAI({ baseURL: `${sbase}/a/v1`, apiKey: "sk-unused", maxRetries: 0, timeout: 120000 });
const TOOLS = [{ type: "function", function: { name: "get_weather", description: "weather",
  parameters: { type: "object", properties: { city: { type: "string" }, days: { type: "integer" } } } } }];

function eq(x, y) { return JSON.stringify(x) === JSON.stringify(y); }

async function check(name, fn) {
  try {
    const why = await fn();
    if (why) { failed++; console.log(`FAIL openai/${name}: ${why}`); } else console.log(`PASS openai/${name}`);
  } catch (e) {
    failed++;
    console.log(`FAIL openai/${name}: ${e && e.constructor ? e.constructor.name : ""} ${e && e.message}`);
  }
}

async function collect(stream) {
  const out = { content: "", reasoning: "", calls: {}, finish: [], usage: null, ids: new Set(), chunks: 0 };
  for await (const c of stream) {
    out.chunks++;
    out.ids.add(c.id);
    if (c.usage) out.usage = c.usage;
    for (const ch of c.choices) {
      const d = ch.delta || {};
      if (d.content) out.content += d.content;
      if (d.reasoning_content) out.reasoning += d.reasoning_content;
      for (const tc of d.tool_calls || []) {
        const t = (out.calls[tc.index] ||= { id: null, name: "", arguments: "" });
        t.id ||= tc.id;
        t.name += tc.function?.name || "";
        t.arguments += tc.function?.arguments || "";
      }
      if (ch.finish_reason) out.finish.push(ch.finish_reason);
    }
  }
  return out;
}

const msgs = (t) => [{ role: "user", content: t }];

await check("models_list", async () => {
  const l = await v1.models.list();
  const ids = l.data.map((m) => m.id);
  if (!eq(ids, ["hcx-small"])) return `ids ${ids}`;
  const m = await v1.models.retrieve("hcx-small");
  if (m.id !== "hcx-small" || m.object !== "model") return JSON.stringify(m);
  const la = await a.models.list(), lb = await b.models.list();
  if (!eq(la.data.map((x) => x.id), ["track_a_model"]) || !eq(lb.data.map((x) => x.id), ["track_b_model"]))
    return "a/b lists";
});

let plain = null;
await check("chat_non_streaming", async () => {
  const r = await v1.chat.completions.create({ model: "hcx-small", messages: msgs("Hi from the SDK"), max_tokens: 16,
    seed: 99, temperature: 0.7, ignore_eos: true });
  plain = r;
  if (!/^chatcmpl-[0-9a-f]{32}$/.test(r.id) || r.object !== "chat.completion") return `id ${r.id}`;
  const c = r.choices[0];
  if (c.message.role !== "assistant" || c.finish_reason !== "length") return JSON.stringify(c);
  if (r.usage.completion_tokens !== 16 || r.usage.total_tokens !== r.usage.prompt_tokens + 16) return JSON.stringify(r.usage);
});

await check("chat_streaming_usage_matches", async () => {
  const s = await v1.chat.completions.create({ model: "hcx-small", messages: msgs("Hi from the SDK"), max_tokens: 16,
    seed: 99, temperature: 0.7, ignore_eos: true, stream: true, stream_options: { include_usage: true } });
  const o = await collect(s);
  if (o.ids.size !== 1) return "several ids";
  if (o.content !== (plain.choices[0].message.content || "")) return `stream ${JSON.stringify(o.content)} vs ${JSON.stringify(plain.choices[0].message.content)}`;
  if (!eq(o.finish, ["length"])) return `finish ${o.finish}`;
  if (!o.usage || o.usage.completion_tokens !== 16 || o.usage.prompt_tokens !== plain.usage.prompt_tokens)
    return `usage ${JSON.stringify(o.usage)}`;
});

await check("seed_reproducible", async () => {
  const req = { messages: msgs("seeded"), max_tokens: 20, seed: 5, ignore_eos: true };
  const x = await v1.chat.completions.create(req), y = await v1.chat.completions.create(req);
  if (x.choices[0].message.content !== y.choices[0].message.content) return "differs";
});

await check("completions_legacy", async () => {
  const r = await v1.completions.create({ model: "hcx-small", prompt: [453], max_tokens: 8, temperature: 0,
    ignore_eos: true });
  const s = await v1.completions.create({ model: "hcx-small", prompt: [453], max_tokens: 8, temperature: 0,
    ignore_eos: true, stream: true });
  let t = "";
  for await (const c of s) for (const ch of c.choices) t += ch.text;
  if (r.object !== "text_completion" || r.usage.completion_tokens !== 8) return JSON.stringify(r);
  if (t !== r.choices[0].text) return `stream ${JSON.stringify(t)} vs ${JSON.stringify(r.choices[0].text)}`;
});

await check("stop_strings", async () => {
  const r = await sv1.chat.completions.create({ messages: msgs("x"), user: "answer", stop: ["HERE"] });
  const c = r.choices[0];
  if (c.message.content !== "Hello from the script, stop " || c.finish_reason !== "stop") return JSON.stringify(c);
});

await check("tool_call", async () => {
  const r = await sa.chat.completions.create({ model: "track_a_model", messages: msgs("weather in Seoul?"),
    tools: TOOLS, user: "tool" });
  const c = r.choices[0];
  if (c.finish_reason !== "tool_calls" || c.message.tool_calls.length !== 1) return JSON.stringify(c);
  const tc = c.message.tool_calls[0];
  if (tc.function.name !== "get_weather" || !eq(JSON.parse(tc.function.arguments), { city: "Seoul", days: 3 }))
    return JSON.stringify(tc);
  if (r.model !== "track_a_model") return r.model;
});

await check("tool_call_streaming", async () => {
  const s = await sa.chat.completions.create({ messages: msgs("weather in Seoul?"), tools: TOOLS, user: "tool",
    stream: true });
  const o = await collect(s);
  const c = o.calls[0];
  if (!c || c.name !== "get_weather" || !eq(JSON.parse(c.arguments), { city: "Seoul", days: 3 }) || !c.id)
    return JSON.stringify(o.calls);
  if (!eq(o.finish, ["tool_calls"])) return `finish ${o.finish}`;
});

await check("reasoning", async () => {
  const req = { messages: msgs("2+2?"), user: "think", chat_template_kwargs: { thinking: true } };
  const r = await sa.chat.completions.create(req);
  const m = r.choices[0].message;
  if (m.reasoning_content !== "let me think" || m.content !== "The answer is 4.") return JSON.stringify(m);
  const o = await collect(await sa.chat.completions.create({ ...req, stream: true }));
  if (o.reasoning !== "let me think" || o.content !== "The answer is 4.") return JSON.stringify(o);
});

await check("omniserve_b_route", async () => {
  const r = await b.chat.completions.create({ model: "track_b_model", messages: msgs("hi"), max_tokens: 4,
    ignore_eos: true });
  if (r.model !== "track_b_model" || r.usage.completion_tokens !== 4) return JSON.stringify(r);
});

await check("errors_map_to_sdk_classes", async () => {
  try {
    await v1.chat.completions.create({ model: "gpt-4o", messages: msgs("hi") });
    return "no error for an unknown model";
  } catch (e) {
    if (!(e instanceof OpenAI.NotFoundError) || e.status !== 404) return `unknown model: ${e}`;
  }
  try {
    await v1.chat.completions.create({ messages: msgs("hi"), n: 2 });
    return "no error for n=2";
  } catch (e) {
    if (!(e instanceof OpenAI.BadRequestError) || e.status !== 400 || !/n/.test(e.message)) return `n=2: ${e}`;
  }
});

process.exit(failed ? 1 : 0);
