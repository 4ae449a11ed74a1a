// tokenize.mjs - independent tokenizer oracles for omnic's tests.
//   js:   @huggingface/tokenizers (Tokenizers.js, pure JavaScript)
//   rust: tokenizers (Hugging Face's Rust library through its Node binding)
//
// Usage:
//   node tokenize.mjs [--engine js|rust] TOKENIZER TEXT...   one comma-separated id line per TEXT
//   node tokenize.mjs --batch < jobs.json                    JSON in, JSON out (used by the tests)
// TOKENIZER is a tokenizer.json file or a folder holding one (and maybe tokenizer_config.json).
// Batch input: {"jobs":[{"tokenizer":PATH, "texts_b64":[...], "decode":[[ids]...],
//                        "skip_special":bool, "roundtrip":bool, "engines":["js","rust"]}]}
// Text is given as base64 bytes and turned into a string by Buffer (invalid UTF-8 -> U+FFFD).
// Output: {"results":[{"js":{"ids":[[...]],"decoded":[...],"roundtrip":[...]} | {"error":msg}, "rust":{...}}]}
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

function files(p) {
  if (fs.statSync(p).isDirectory()) {
    const cfg = path.join(p, "tokenizer_config.json");
    return { json: path.join(p, "tokenizer.json"), config: fs.existsSync(cfg) ? cfg : null };
  }
  return { json: p, config: null };
}

async function loadJs() {
  const mod = await import("@huggingface/tokenizers");
  return (p) => {
    const f = files(p);
    const tj = JSON.parse(fs.readFileSync(f.json, "utf8"));
    const cfg = f.config ? JSON.parse(fs.readFileSync(f.config, "utf8")) : {};
    // omnic (like vLLM and transformers v5) never applies clean_up_tokenization_spaces
    cfg.clean_up_tokenization_spaces = false;
    const tok = new mod.Tokenizer(tj, cfg);
    return {
      encode: async (text) => tok.encode(text).ids,
      decode: async (ids, skip) =>
        ids.length ? tok.decode(ids, { skip_special_tokens: skip, clean_up_tokenization_spaces: false }) : "",
    };
  };
}

function loadRust() {
  const { Tokenizer } = require("tokenizers");
  return (p) => {
    const tok = Tokenizer.fromFile(files(p).json);
    return {
      encode: async (text) => (await tok.encode(text)).getIds(),
      decode: async (ids, skip) => tok.decode(ids, skip),
    };
  };
}

// Node's Buffer -> string conversion: every ill-formed UTF-8 subsequence becomes U+FFFD
// (WHATWG / Unicode "maximal subpart" rule, the same as TextDecoder and Python's
// errors="replace"); this is what reaches HF's tokenizers when a caller has bytes.
const bytesToText = (b64) => Buffer.from(b64, "base64").toString("utf8");

async function runEngine(make, job) {
  try {
    const tok = make(job.tokenizer);
    const ids = [];
    for (const t of job.texts_b64 ?? []) ids.push(Array.from(await tok.encode(bytesToText(t))));
    const decoded = [];
    for (const d of job.decode ?? []) decoded.push(await tok.decode(d, !!job.skip_special));
    const out = { ids, decoded };
    // roundtrip: also decode every id list just encoded (saves loading the tokenizer twice)
    if (job.roundtrip) {
      out.roundtrip = [];
      for (const d of ids) out.roundtrip.push(d.length ? await tok.decode(d, false) : "");
    }
    return out;
  } catch (e) {
    return { error: String(e && e.message ? e.message : e) };
  }
}

async function main() {
  const argv = process.argv.slice(2);
  if (argv[0] === "--batch") {
    const input = JSON.parse(fs.readFileSync(0, "utf8"));
    const engines = { js: await loadJs(), rust: loadRust() };
    const results = [];
    for (const job of input.jobs) {
      const r = {};
      for (const name of job.engines ?? ["js", "rust"]) r[name] = await runEngine(engines[name], job);
      results.push(r);
    }
    process.stdout.write(JSON.stringify({ results }) + "\n");
    return;
  }
  let engine = "js";
  if (argv[0] === "--engine") {
    engine = argv[1];
    argv.splice(0, 2);
  }
  if (argv.length < 2) {
    process.stderr.write("usage: node tokenize.mjs [--engine js|rust] TOKENIZER TEXT...\n");
    process.exit(2);
  }
  const make = engine === "rust" ? loadRust() : await loadJs();
  const tok = make(argv[0]);
  for (const text of argv.slice(1)) process.stdout.write((await tok.encode(text)).join(",") + "\n");
}

main().catch((e) => {
  process.stderr.write(`oracle: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
