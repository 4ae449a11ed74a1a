// train_bpe.mjs - train a byte-level BPE tokenizer in the HyperCLOVA X structure with
// Hugging Face's Rust trainer (npm "tokenizers"): the HCX pre-tokenizer (three Splits +
// ByteLevel, taken from a given tokenizer.json), ByteLevel decoder and post-processor,
// the full 256-character byte alphabet and HCX-like added tokens. Used by the tokenizer
// tests (a realistic Korean vocabulary, not hand-made) and by bench/bench_tokenizer.c.
//
//   node train_bpe.mjs STRUCTURE_TOKENIZER_JSON TEXT_FILE OUT_DIR [--ignore-merges]
// Writes OUT_DIR/tokenizer.json. The trainer's default vocabulary size (30,000) is used.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const { Tokenizer } = require("tokenizers");

const args = process.argv.slice(2);
const ignoreMerges = args.includes("--ignore-merges");
const [structPath, textPath, outDir] = args.filter((a) => !a.startsWith("--"));
if (!outDir) {
  process.stderr.write("usage: node train_bpe.mjs STRUCTURE_TOKENIZER_JSON TEXT_FILE OUT_DIR [--ignore-merges]\n");
  process.exit(2);
}

const st = JSON.parse(fs.readFileSync(structPath, "utf8"));
const skeleton = {
  version: "1.0", truncation: null, padding: null, added_tokens: [], normalizer: null,
  pre_tokenizer: st.pre_tokenizer, post_processor: st.post_processor, decoder: st.decoder,
  model: { type: "BPE", dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null,
           fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab: {}, merges: [] },
};
const tok = Tokenizer.fromString(JSON.stringify(skeleton));
tok.train([textPath]);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "omnic_train_"));
const raw = path.join(tmp, "trained.json");
tok.save(raw);
const tj = JSON.parse(fs.readFileSync(raw, "utf8"));
fs.rmSync(tmp, { recursive: true, force: true });

// every byte must have its character in the vocabulary (HCX has no unknown token)
const vocab = tj.model.vocab;
let next = Math.max(-1, ...Object.values(vocab)) + 1;
const printable = (b) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || b >= 0xae;
for (let b = 0, extra = 0; b < 256; b++) {
  const ch = String.fromCodePoint(printable(b) ? b : 256 + extra++);
  if (!(ch in vocab)) vocab[ch] = next++;
}
tj.model.ignore_merges = ignoreMerges;

// added tokens in the HCX layout: special control tokens, non-special <think> pair
const added = [
  ["<|endoftext|>", true], ["<|fim_prefix|>", true], ["<|fim_middle|>", true], ["<|fim_suffix|>", true],
  ["<|im_start|>", true], ["<|im_end|>", true], ["<|stop|>", true], ["<|endofturn|>", true],
  ["<|endofprompt|>", true], ["<tool_call>", false], ["</tool_call>", false], ["<think>", false],
  ["</think>", false], ["<NAME>", true], ["<EMAIL>", true],
];
tj.added_tokens = added.map(([content, special]) => ({
  id: next++, content, single_word: false, lstrip: false, rstrip: false, normalized: !special, special,
}));
fs.mkdirSync(outDir, { recursive: true });
fs.writeFileSync(path.join(outDir, "tokenizer.json"), JSON.stringify(tj));
process.stderr.write(
  `${path.join(outDir, "tokenizer.json")}: ${Object.keys(vocab).length} vocab, ${tj.model.merges.length} merges\n`);
