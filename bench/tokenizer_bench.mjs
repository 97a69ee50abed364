// tokenizer_bench.mjs: our tokenizer next to llama.cpp's (node-llama-cpp@3.21.1, prebuilt CPU
// binaries) on the same deterministic mixed-language text, llama3 and qwen3 vocabularies; also
// checks that both produce the same ids. Prints a Markdown table for docs/PERFORMANCE.md.
//   node bench/tokenizer_bench.mjs BUILD_DIR/tokenizer_bench [MB]
// The vocabularies are unpacked from tests/fixtures/tokenizer/vocabs/*.tar.xz into a temp dir;
// tokenizer_bench writes the text, our ids and one tiny llama GGUF per vocabulary for llama.cpp.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { execFileSync } from "node:child_process";

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
const bin = process.argv[2];
const mb = process.argv[3] ?? "10";
if (!bin) { console.error("usage: node bench/tokenizer_bench.mjs PATH/tokenizer_bench [MB]"); process.exit(2); }
const { getLlama } = await import(path.join(ROOT, "tools/oracles/node_modules/node-llama-cpp/dist/index.js"));

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "tokbench-"));
const vocabs = path.join(tmp, "vocabs");
for (const v of ["llama3", "qwen3"]) {
  fs.mkdirSync(path.join(vocabs, v), { recursive: true });
  execFileSync("tar", ["-xJf", path.join(ROOT, "tests/fixtures/tokenizer/vocabs", v + ".tar.xz"), "-C", path.join(vocabs, v)]);
}
const out = execFileSync(bin, ["--vocab-dir", vocabs, "--mb", mb, "--runs", "3", "--out", tmp], { encoding: "utf8" });
const ours = out.trim().split("\n").map((l) => JSON.parse(l));
const text = fs.readFileSync(path.join(tmp, "text.txt"), "utf8");

const llama = await getLlama({ gpu: false, build: "never", logLevel: "error" });
const rows = [];
for (const r of ours) {
  const model = await llama.loadModel({ modelPath: path.join(tmp, r.vocab + ".gguf") });
  model.tokenize(text.slice(0, 100000));  // warm up
  let best = Infinity, ids = null;
  for (let i = 0; i < 3; ++i) {
    const t0 = process.hrtime.bigint();
    ids = model.tokenize(text, false);
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e9);
  }
  const mine = new Int32Array(fs.readFileSync(path.join(tmp, r.vocab + ".ids")).buffer.slice(0));
  let first = -1;
  const n = Math.min(mine.length, ids.length);
  for (let i = 0; i < n; ++i) if (mine[i] !== ids[i]) { first = i; break; }
  if (first < 0 && mine.length !== ids.length) first = n;
  rows.push({ vocab: r.vocab, bytes: r.bytes, ours: r.mb_per_s, llamacpp: r.bytes / 1e6 / best, tokens: r.tokens,
              llama_tokens: ids.length, first_diff: first });
  await model.dispose();
}
console.log(`Tokenization of a ${mb} MB mixed-language text (best of 3, one thread), ${new Date().toISOString().slice(0, 10)}, node-llama-cpp 3.21.1:\n`);
console.log("| vocabulary | paddock MB/s | llama.cpp MB/s | speed-up | tokens (paddock / llama.cpp) | ids identical |");
console.log("| --- | ---: | ---: | ---: | --- | --- |");
for (const r of rows)
  console.log(`| ${r.vocab} | ${r.ours.toFixed(2)} | ${r.llamacpp.toFixed(2)} | ${(r.ours / r.llamacpp).toFixed(2)}x | ${r.tokens} / ${r.llama_tokens} | ${r.first_diff < 0 ? "yes" : "no, first difference at " + r.first_diff} |`);
fs.rmSync(tmp, { recursive: true, force: true });
