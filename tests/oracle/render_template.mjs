// render_template.mjs - chat-template oracle for omnic's tests: renders Jinja chat
// templates with @huggingface/jinja (Hugging Face's JavaScript Jinja interpreter, the
// one used by transformers.js and the Hub), with the apply_chat_template environment:
// trim_blocks + lstrip_blocks (the library's defaults), variables messages / tools /
// add_generation_prompt / bos_token / eos_token and every kwargs key.
//
// The library lacks Python's printf-style string formatting (`'video_%02d' % n`), which
// the OmniServe templates use; this script adds it (conversions s d i f x X o e g r %,
// flags - + space 0 #, width, precision, tuple or single argument).
//
// Usage: node render_template.mjs < jobs.json
//   {"jobs":[{"template_file":PATH | "template":STRING, "context":{...}}]}
//   -> {"results":[{"text":STRING} | {"error":STRING}]}
import fs from "node:fs";
import { Template, Interpreter } from "@huggingface/jinja";

function pyFormat(fmt, args) {
  let ai = 0;
  const next = () => {
    if (ai >= args.length) throw new Error("not enough arguments for format string");
    return args[ai++];
  };
  const re = /%([-+ 0#]*)(\d+|\*)?(?:\.(\d+|\*))?([sdifxXoeEgGr%])/g;
  const out = fmt.replace(re, (m, flags, width, prec, conv) => {
    if (conv === "%") return "%";
    if (width === "*") width = String(next());
    if (prec === "*") prec = String(next());
    const v = next();
    let s;
    const num = () => {
      if (typeof v === "boolean") return v ? 1 : 0;
      if (typeof v !== "number") throw new Error(`%${conv} format: a number is required`);
      return v;
    };
    switch (conv) {
      case "s": case "r":
        s = v === null ? "None" : typeof v === "boolean" ? (v ? "True" : "False") : String(v);
        if (prec !== undefined) s = s.slice(0, Number(prec));
        break;
      case "d": case "i": s = String(Math.trunc(num())); break;
      case "x": s = Math.trunc(num()).toString(16); break;
      case "X": s = Math.trunc(num()).toString(16).toUpperCase(); break;
      case "o": s = Math.trunc(num()).toString(8); break;
      case "f": s = num().toFixed(prec === undefined ? 6 : Number(prec)); break;
      case "e": case "E": {
        s = num().toExponential(prec === undefined ? 6 : Number(prec));
        s = s.replace(/e([+-])(\d)$/, "e$10$2");
        if (conv === "E") s = s.toUpperCase();
        break;
      }
      default: s = String(num());
    }
    if ("dixXofeE".includes(conv)) {
      const neg = s.startsWith("-");
      let body = neg ? s.slice(1) : s;
      const sign = neg ? "-" : flags.includes("+") ? "+" : flags.includes(" ") ? " " : "";
      const w = width ? Number(width) : 0;
      if (flags.includes("0") && !flags.includes("-")) body = body.padStart(w - sign.length, "0");
      s = sign + body;
    }
    const w = width ? Number(width) : 0;
    return flags.includes("-") ? s.padEnd(w) : s.padStart(w);
  });
  if (ai < args.length) throw new Error("not all arguments converted during string formatting");
  return out;
}

// Add `str % value` / `str % (a, b)` to the interpreter.
const origBinary = Interpreter.prototype.evaluateBinaryExpression;
Interpreter.prototype.evaluateBinaryExpression = function (node, environment) {
  if (node.operator.value === "%") {
    const left = this.evaluate(node.left, environment);
    if (left.type === "StringValue") {
      const right = this.evaluate(node.right, environment);
      const raw = (x) => (x.type === "NullValue" ? null : x.value);
      const args = right.type === "ArrayValue" || right.type === "TupleValue" ? right.value.map(raw) : [raw(right)];
      return new left.constructor(pyFormat(left.value, args));
    }
  }
  return origBinary.call(this, node, environment);
};

function main() {
  const input = JSON.parse(fs.readFileSync(0, "utf8"));
  const results = [];
  for (const job of input.jobs) {
    try {
      const src = job.template_file !== undefined ? fs.readFileSync(job.template_file, "utf8") : job.template;
      const t = new Template(src);
      results.push({ text: t.render(job.context ?? {}) });
    } catch (e) {
      results.push({ error: String(e && e.message ? e.message : e) });
    }
  }
  process.stdout.write(JSON.stringify({ results }));
}
main();
