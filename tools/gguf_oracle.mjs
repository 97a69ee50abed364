// gguf_oracle.mjs: regenerates tests/fixtures/gguf/oracle.json and ggml_written.gguf, the record
// of what llama.cpp makes of GGUF files written by our writer, and a file written by llama.cpp's.
//
// Oracle: llama.cpp as shipped prebuilt in node-llama-cpp@3.21.1 (tools/oracles/node_modules):
//   - ggml's own GGUF reader and writer (libggml-base.so, driven by tools/gguf_oracle_ggml.c),
//   - node-llama-cpp's GGUF parser (readGgufFileInfo) and llama.cpp's model loader (loadModel),
//     which also tokenizes and runs a few greedy steps on the tiny models.
//   - ggml's verdict (accepted / rejected) on each file of our corrupt-GGUF catalogue
//     (tests/unit/gguf/malformed_test.cpp, which writes them when PADDOCK_GGUF_CASES_DIR is set),
//     recorded in ggml_verdicts.json.
// Run (needs gcc, node 20, and `paddock` and `gguf_test` built):
//   cmake --build build/dev --target paddock gguf_test &&
//   node tools/gguf_oracle.mjs build/dev/src/cli/paddock build/dev/tests/unit/gguf/gguf_test
// The C++ test tests/unit/gguf/oracle_test.cpp regenerates each file with our writer from the
// recorded spec, checks its sha256 equals the one llama.cpp saw, and compares our reader's view
// with ggml's. No oracle is needed to run the tests.
import {execFileSync} from "node:child_process";
import {createHash} from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {fileURLToPath} from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const nlcDir = path.join(root, "tools/oracles/node_modules/node-llama-cpp");
const {getLlama, readGgufFileInfo} = await import(path.join(nlcDir, "dist/index.js"));
const bins = path.join(root, "tools/oracles/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64");
const nlcVersion = JSON.parse(fs.readFileSync(path.join(nlcDir, "package.json"))).version;
const llamaCppRelease = JSON.parse(fs.readFileSync(path.join(bins, "_nlcBuildMetadata.json"))).buildOptions.llamaCpp.release;

const paddock = path.resolve(process.argv[2] ?? path.join(root, "build/dev/src/cli/paddock"));
const ggufTest = path.resolve(process.argv[3] ?? path.join(root, "build/dev/tests/unit/gguf/gguf_test"));
const fixtures = path.join(root, "tests/fixtures/gguf");
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "gguf-oracle-"));
const ggmlTool = path.join(tmp, "gguf_oracle_ggml");
execFileSync("gcc", ["-O1", "-Wall", "-o", ggmlTool, path.join(root, "tools/gguf_oracle_ggml.c"), `-L${bins}`,
                     "-l:libggml-base.so", `-Wl,-rpath,${bins}`]);

// Each case: how our writer makes the file (the C++ test rebuilds it from the same spec).
const cases = [
  {id: "sample_v3", kind: "sample", spec: {version: 3, alignment: 32}},
  {id: "sample_v2_align64", kind: "sample", spec: {version: 2, alignment: 64}},
  {id: "tiny_llama_f32", kind: "tiny_llama", spec: {}},
  {id: "tiny_llama_f16_v2_tied", kind: "tiny_llama",
   spec: {type: "f16", version: 2, tied_output: true, n_layer: 1, seed: 7}},
  {id: "tiny_llama_bf16_align64", kind: "tiny_llama",
   spec: {type: "bf16", alignment: 64, n_head_kv: 4, n_embd: 32, n_ff: 96, n_ctx: 512, seed: 3}},
];

function cliArgs(c, out) {
  if (c.kind === "sample")
    return ["gguf-sample", out, "--version", String(c.spec.version), "--alignment", String(c.spec.alignment)];
  const args = ["gguf-tiny", out];
  for (const [k, v] of Object.entries(c.spec)) {
    if (k === "tied_output") { if (v) args.push("--tied-output"); continue; }
    args.push("--" + k.replaceAll("_", "-"), String(v));
  }
  return args;
}

const sha256 = (file) => createHash("sha256").update(fs.readFileSync(file)).digest("hex");
const ggmlRead = (file) => execFileSync(ggmlTool, ["read", file], {encoding: "utf8"}).trim();
const num = (v) => (typeof v === "bigint" ? Number(v) : v);

async function nlcParse(file) {
  const info = await readGgufFileInfo(file, {readTensorInfo: true});
  return {
    version: num(info.version),
    tensor_count: num(info.tensorCount),
    tensors: info.tensorInfo.map((t) => ({name: t.name, dims: t.dimensions.map(num), type: num(t.ggmlType),
                                          offset: num(t.offset), file_offset: num(t.fileOffset)})),
  };
}

const llama = await getLlama({gpu: false, build: "never", logLevel: "error"});

async function nlcRun(file) {
  const model = await llama.loadModel({modelPath: file});
  const prompt = "hello world";
  const tokens = model.tokenize(prompt);
  const ctx = await model.createContext({contextSize: 64});
  const greedy = [];
  for await (const t of ctx.getSequence().evaluate(tokens, {temperature: 0})) {
    greedy.push(t);
    if (greedy.length >= 8) break;
  }
  const r = {
    train_context_size: model.trainContextSize, embedding_size: model.embeddingVectorSize,
    type_description: model.typeDescription, vocabulary_type: model.vocabularyType,
    bos: model.tokens.bos, eos: model.tokens.eos, nl: model.tokens.nl,
    tokenize_prompt: prompt, tokenize_ids: Array.from(tokens), greedy_ids: greedy,
  };
  await ctx.dispose();
  await model.dispose();
  return r;
}

const parts = [];
for (const c of cases) {
  const file = path.join(tmp, c.id + ".gguf");
  execFileSync(paddock, cliArgs(c, file));
  const entry = {id: c.id, kind: c.kind, spec: c.spec, sha256: sha256(file), size: fs.statSync(file).size,
                 nlc_parse: await nlcParse(file)};
  if (c.kind === "tiny_llama") entry.llama_cpp_load = await nlcRun(file);
  // ggml's reader output is spliced in as raw JSON text so 64-bit integers stay exact.
  parts.push(JSON.stringify(entry, null, 1).replace(/\n}$/, `,\n "ggml_read": ${ggmlRead(file)}\n}`));
  console.error(`${c.id}: ok`);
}

const written = path.join(fixtures, "ggml_written.gguf");
fs.mkdirSync(fixtures, {recursive: true});
execFileSync(ggmlTool, ["write", written]);
const header = {oracle: `llama.cpp ${llamaCppRelease} via node-llama-cpp@${nlcVersion} (linux-x64 prebuilt)`,
                generated_by: "tools/gguf_oracle.mjs"};
const ggmlWritten = `{"file": "ggml_written.gguf", "sha256": "${sha256(written)}", "ggml_read": ${ggmlRead(written)}}`;
fs.writeFileSync(path.join(fixtures, "oracle.json"),
                 `{"header": ${JSON.stringify(header)},\n"cases": [\n${parts.join(",\n")}\n],\n"ggml_written": ${ggmlWritten}\n}\n`);
// The corrupt catalogue: what does llama.cpp's reader say about each file?
const casesDir = path.join(tmp, "cases");
fs.mkdirSync(casesDir);
execFileSync(ggufTest, ["--gtest_filter=GgufMalformed.*-GgufMalformed.GgmlVerdictsCoverTheCatalogue"], {env: {...process.env, PADDOCK_GGUF_CASES_DIR: casesDir},
                                                             stdio: ["ignore", "ignore", "inherit"]});
const verdicts = {};
for (const f of fs.readdirSync(casesDir).sort()) {
  let ok = true;
  try { execFileSync(ggmlTool, ["read", path.join(casesDir, f)], {stdio: "ignore"}); } catch { ok = false; }
  verdicts[f.replace(/\.gguf$/, "")] = ok ? "accepted" : "rejected";
}
fs.writeFileSync(path.join(fixtures, "ggml_verdicts.json"), JSON.stringify(verdicts, null, 1) + "\n");
console.error(`ggml verdicts: ${Object.keys(verdicts).length} files`);
fs.rmSync(tmp, {recursive: true, force: true});
console.error("wrote tests/fixtures/gguf/oracle.json and ggml_written.gguf");
process.exit(0);
