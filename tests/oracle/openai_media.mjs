// openai_media.mjs - media through `omnic serve` with the official OpenAI Node client
// (npm "openai", pinned), as a user would send them:
//   node openai_media.mjs VISION_BASE OMNI_BASE IMAGE.png AUDIO.wav VIDEO.mp4|-
// VISION_BASE serves a Think-32B-layout model (images on /v1 and /a/v1), OMNI_BASE an
// Omni-layout model (images, audio on /b/v1; /v1/audio/transcriptions). Each case checks
// the answer's shape and that usage.prompt_tokens counts the expanded media rows
// (more than the same request without the media). Prints "PASS openai_media/<case>" or
// "FAIL ...: <why>"; exits 1 on failure. The OMNI server runs with OMNIC_TEST_SCRIPT
// scripts "speech" (10 bare units after a sentence) and "block" (an
// <audio_decoder_call> block with 10 units): the speech cases check the returned audio
// (24 kHz, 960 samples per unit).
import fs from "node:fs";
import OpenAI, { toFile } from "openai";

const [vbase, obase, imgPath, wavPath, vidPath] = process.argv.slice(2);
if (!vbase || !obase || !imgPath || !wavPath) {
  console.error("usage: node openai_media.mjs VISION_BASE OMNI_BASE IMAGE.png AUDIO.wav VIDEO.mp4|-");
  process.exit(2);
}
const mk = (u) => new OpenAI({ baseURL: u, apiKey: "sk-unused", maxRetries: 0, timeout: 300000 });
const v1 = mk(`${vbase}/v1`), a = mk(`${vbase}/a/v1`), b = mk(`${obase}/b/v1`), o1 = mk(`${obase}/v1`);
const img = "data:image/png;base64," + fs.readFileSync(imgPath).toString("base64");
const wav = fs.readFileSync(wavPath).toString("base64");
let failed = 0;
const vid_ = (await v1.models.list()).data[0].id, oid = (await o1.models.list()).data[0].id;
const idOf = (c) => (c === v1 || c === a ? vid_ : oid);

async function check(name, fn) {
  try {
    const why = await fn();
    if (why) { failed++; console.log(`FAIL openai_media/${name}: ${why}`); } else console.log(`PASS openai_media/${name}`);
  } catch (e) {
    failed++;
    console.log(`FAIL openai_media/${name}: ${e && e.constructor ? e.constructor.name : ""} ${e && e.message}`);
  }
}

function answerOk(r) {
  if (!r || r.object !== "chat.completion") return "not a chat.completion";
  const m = r.choices && r.choices[0] && r.choices[0].message;
  if (!m || typeof m.content !== "string") return "no message content";
  return null;
}

async function mediaVsText(client, name, part, extraRows) {
  const text = { type: "text", text: "describe this" };
  const withMedia = await client.chat.completions.create({
    model: idOf(client), max_tokens: 3, temperature: 0, messages: [{ role: "user", content: [part, text] }] });
  const bad = answerOk(withMedia);
  if (bad) return bad;
  const plain = await client.chat.completions.create({
    model: idOf(client), max_tokens: 3, temperature: 0, messages: [{ role: "user", content: [text] }] });
  const d = withMedia.usage.prompt_tokens - plain.usage.prompt_tokens;
  if (d < extraRows) return `${name}: prompt_tokens grew by ${d}, want >= ${extraRows} media rows`;
  return null;
}

await check("v1_image_data_url", () => mediaVsText(v1, "v1", { type: "image_url", image_url: { url: img } }, 4));
await check("a_image_data_url", () => mediaVsText(a, "a", { type: "image_url", image_url: { url: img } }, 4));
await check("a_image_stream", async () => {
  const s = await a.chat.completions.create({ model: vid_, max_tokens: 3, temperature: 0, stream: true,
    stream_options: { include_usage: true },
    messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: img } }, { type: "text", text: "hi" }] }] });
  let usage = null, n = 0;
  for await (const c of s) { n++; if (c.usage) usage = c.usage; }
  if (!n || !usage || usage.prompt_tokens < 5) return `chunks ${n}, usage ${JSON.stringify(usage)}`;
  return null;
});
if (vidPath && vidPath !== "-") {
  const vid = "data:video/mp4;base64," + fs.readFileSync(vidPath).toString("base64");
  await check("a_video_data_url", () => mediaVsText(a, "a", { type: "image_url", image_url: { url: vid } }, 4));
}
await check("b_image_data_url", () => mediaVsText(b, "b", { type: "image_url", image_url: { url: img } }, 758));
await check("b_audio_base64", () =>
  mediaVsText(b, "b", { type: "input_audio", input_audio: { data: wav, format: "wav" } }, 10));
await check("b_audio_data_url", () =>
  mediaVsText(b, "b", { type: "input_audio", input_audio: { data: "data:audio/wav;base64," + wav, format: "wav" } }, 10));
await check("transcriptions_json", async () => {
  const r = await o1.audio.transcriptions.create({ model: oid, file: await toFile(fs.readFileSync(wavPath), "q.wav"),
    response_format: "json" });
  return typeof r.text === "string" ? null : `no text: ${JSON.stringify(r)}`;
});
await check("transcriptions_verbose", async () => {
  const r = await o1.audio.transcriptions.create({ model: oid, file: await toFile(fs.readFileSync(wavPath), "q.wav"),
    response_format: "verbose_json", language: "ko" });
  if (typeof r.text !== "string" || r.language !== "ko" || !(r.duration > 0)) return JSON.stringify(r);
  return null;
});
await check("transcriptions_text", async () => {
  const r = await o1.audio.transcriptions.create({ model: oid, file: await toFile(fs.readFileSync(wavPath), "q.wav"),
    response_format: "text" });
  return typeof r === "string" ? null : `not text: ${typeof r}`;
});
await check("bad_audio_is_400", async () => {
  try {
    await o1.chat.completions.create({ model: oid, max_tokens: 2,
      messages: [{ role: "user", content: [{ type: "input_audio", input_audio: { data: "!!!", format: "wav" } }] }] });
    return "no error";
  } catch (e) {
    return e instanceof OpenAI.BadRequestError ? null : `${e.constructor.name} ${e.message}`;
  }
});
function wavInfo(buf) {
  if (buf.length < 44 || buf.toString("latin1", 0, 4) !== "RIFF" || buf.toString("latin1", 8, 12) !== "WAVE")
    return null;
  return { rate: buf.readUInt32LE(24), channels: buf.readUInt16LE(22), samples: buf.readUInt32LE(40) / 2 };
}
const UNITS = 10;
await check("v1_chat_audio_inline", async () => {
  const r = await o1.chat.completions.create({ model: oid, max_tokens: 200, user: "speech",
    modalities: ["text", "audio"], audio: { voice: "mhwj", format: "wav" },
    messages: [{ role: "user", content: "말로 대답해 줘" }] });
  const m = r.choices[0].message;
  if (!m.audio || !m.audio.data) return `no audio: ${JSON.stringify(m).slice(0, 300)}`;
  const w = wavInfo(Buffer.from(m.audio.data, "base64"));
  if (!w || w.rate !== 24000 || w.channels !== 1 || w.samples !== 960 * UNITS) return `wav ${JSON.stringify(w)}`;
  if (m.content.includes("<|audio") || m.audio.transcript !== m.content) return `content ${m.content}`;
  return null;
});
await check("v1_chat_audio_stream", async () => {
  const s = await o1.chat.completions.create({ model: oid, max_tokens: 200, user: "speech", stream: true,
    audio: { voice: "fkms", format: "wav" }, messages: [{ role: "user", content: "말로 대답해 줘" }] });
  let text = "", audio = null, after = 0;
  for await (const c of s) {
    const d = c.choices[0] && c.choices[0].delta;
    if (!d) continue;
    if (d.content) { text += d.content; if (audio) after++; }
    if (d.audio) audio = d.audio;
  }
  if (text.includes("<|audio")) return `units leaked into the deltas: ${text}`;
  if (!audio) return "no delta.audio chunk";
  const w = wavInfo(Buffer.from(audio.data, "base64"));
  return w && w.samples === 960 * UNITS && after === 0 ? null : `wav ${JSON.stringify(w)}, text after audio ${after}`;
});
await check("b_chat_audio_url", async () => {
  const r = await b.chat.completions.create({ model: oid, max_tokens: 200, user: "block",
    messages: [{ role: "user", content: [{ type: "input_audio", input_audio: { data: wav, format: "wav" } },
      { type: "text", text: "음성으로 대답해 줘" }] }] });
  const m = r.choices[0].message;
  if (!m.audio || !m.audio.data) return `no audio: ${JSON.stringify(m).slice(0, 300)}`;
  const url = Buffer.from(m.audio.data.replace(/-/g, "+").replace(/_/g, "/"), "base64").toString();
  if (!/^http:\/\/.*\/media\/[0-9a-f]{32}\.wav$/.test(url)) return `not a media URL: ${url}`;
  const got = await fetch(url);
  const w = wavInfo(Buffer.from(await got.arrayBuffer()));
  if (got.status !== 200 || !w || w.samples !== 960 * UNITS) return `GET ${url}: ${got.status} ${JSON.stringify(w)}`;
  if (m.content !== "네 안녕하세요") return `content ${JSON.stringify(m.content)}`;
  return null;
});
await check("audio_speech_create_wav", async () => {
  const r = await o1.audio.speech.create({ model: oid, voice: "alloy", input: "안녕하세요", response_format: "wav",
    user: "speech" });
  const w = wavInfo(Buffer.from(await r.arrayBuffer()));
  return w && w.rate === 24000 && w.samples === 960 * UNITS ? null : `wav ${JSON.stringify(w)}`;
});
await check("audio_speech_create_mp3", async () => {
  const r = await o1.audio.speech.create({ model: oid, voice: "fkms", input: "안녕하세요", user: "speech" });
  const buf = Buffer.from(await r.arrayBuffer());
  const ct = r.headers.get("content-type");
  return ct === "audio/mpeg" && buf.length > 100 ? null : `${ct} ${buf.length} bytes`;
});
for (const fmt of ["flac", "opus", "aac", "pcm"]) {
  await check(`audio_speech_create_${fmt}`, async () => {
    const r = await o1.audio.speech.create({ model: oid, voice: "fkms", input: "안녕", response_format: fmt,
      user: "speech" });
    const buf = Buffer.from(await r.arrayBuffer());
    const p = `${process.env.TMPDIR || "/tmp"}/omnic-speech-${process.pid}.${fmt === "pcm" ? "raw" : fmt}`;
    fs.writeFileSync(p, buf);
    const { execFileSync } = await import("node:child_process");
    const args = fmt === "pcm" ? ["-f", "s16le", "-ar", "24000", "-ac", "1", "-i", p] : ["-i", p];
    const raw = execFileSync("ffmpeg", ["-v", "error", ...args, "-f", "s16le", "-ac", "1", "-ar", "24000", "-"]);
    fs.unlinkSync(p);
    const n = raw.length / 2, want = 960 * UNITS;
    /* lossless formats exactly; AAC adds its 1024-sample priming and frame padding */
    const ok = fmt === "aac" ? n >= want && n <= want + 3072 : n === want;
    return ok ? null : `${fmt}: ${n} samples decoded, want ${want}`;
  });
}
await check("audio_speech_bad_speed_400", async () => {
  try {
    await o1.audio.speech.create({ model: oid, voice: "fkms", input: "x", speed: 2.0 });
    return "no error";
  } catch (e) {
    return e instanceof OpenAI.BadRequestError ? null : `${e.constructor.name} ${e.message}`;
  }
});
process.exit(failed ? 1 : 0);
