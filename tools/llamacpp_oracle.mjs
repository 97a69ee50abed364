// llama.cpp oracle for the model tests: for each test-model spec, builds the random-weight GGUF
// with our generator (paddock_make_test_model), runs it in llama.cpp through node-llama-cpp on
// the CPU, and records the greedy continuation of a fixed token prompt with the top-5
// probabilities at every step, plus the file's sha256, into tests/fixtures/model/<name>.json.
//
// Run (from the repository root, after building the generator):
//   cmake --build build/dev --target paddock_make_test_model
//   node tools/llamacpp_oracle.mjs [build/dev/tests/unit/model/paddock_make_test_model] [spec...]
// Oracle: node-llama-cpp@3.21.1 (tools/oracles/node_modules), getLlama({gpu:false, build:"never"}).
// Context: flash attention off (llama.cpp's default "auto" turns it on for the CPU, where its
// kernel accumulates the attention output in F16, a rounding of its own; without it the graph
// is K/V in F16, Q rounded to F16 for Q·Kᵀ, softmax in F32 and the probabilities rounded to F16
// for ·V — what our CPU attention does), and generation continues through EOS (yieldEogToken),
// so every fixture has the full 64 steps.
//
// llama.cpp against itself: PADDOCK_ORACLE_CPU_VARIANT=haswell (or x64, skylakex, …: the
// libggml-cpu-<variant>.so files node-llama-cpp ships) makes llama.cpp run that CPU build
// (tools/llamacpp_cpu_variant.mjs) and writes the fixtures to
// tests/fixtures/model/cpu_<variant>/. The model tests measure from them how far llama.cpp's own
// builds disagree (another SIMD level = another summation order) and allow us no more than that.
//   PADDOCK_ORACLE_CPU_VARIANT=haswell node tools/llamacpp_oracle.mjs <generator>
//   PADDOCK_ORACLE_CPU_VARIANT=x64 node tools/llamacpp_oracle.mjs <generator>
import {execFileSync} from "node:child_process";
import {mkdtempSync, mkdirSync, writeFileSync, rmSync, readFileSync} from "node:fs";
import {tmpdir} from "node:os";
import {join, dirname} from "node:path";
import {fileURLToPath} from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const {withCpuVariant} = await import(join(root, "tools/llamacpp_cpu_variant.mjs"));
const {getLlama} = await import(join(root, "tools/oracles/node_modules/node-llama-cpp/dist/index.js"));
const nlcVersion = JSON.parse(readFileSync(join(root, "tools/oracles/node_modules/node-llama-cpp/package.json"))).version;

const gen = process.argv[2] ?? join(root, "build/dev/tests/unit/model/paddock_make_test_model");
const kAllTypes = ["f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "q2_K", "q3_K", "q4_K", "q5_K", "q6_K"];
const kDefault = [
  ...kAllTypes.map((t) => `llama:${t}`),
  ...["qwen2", "qwen3", "phi3", "gemma2"].flatMap((a) => ["f16", "q8_0", "q4_K", "q6_K"].map((t) => `${a}:${t}`)),
  ...["f16", "q8_0", "q4_K", "q6_K"].map((t) => `gemma3:${t}:n_layer=6`),
  "llama:f16:rope_freqs=1:tied=1:n_head_kv=1",
];
const variant = process.env.PADDOCK_ORACLE_CPU_VARIANT;
// PADDOCK_ORACLE_OUT: write the fixtures elsewhere.
const outDir = process.env.PADDOCK_ORACLE_OUT ??
  join(root, "tests/fixtures/model", variant ? `cpu_${variant}` : "");
mkdirSync(outDir, {recursive: true});
const specs = process.argv.length > 3 ? process.argv.slice(3) : kDefault;

const kPromptLen = 40, kGenerate = 64, kTop = 5;
// Fixed prompt: BOS then a deterministic LCG walk over ordinary token ids (>= 3).
function prompt(nVocab) {
  const p = [1];
  let s = 12345;
  while (p.length < kPromptLen) {
    s = (s * 1103515245 + 12345) % 2147483648;
    p.push(3 + (s % (nVocab - 3)));
  }
  return p;
}
const fixtureName = (spec) => spec.replace(/[:=]/g, "_");

// Runs every spec through llama.cpp and writes its fixture.
async function writeFixtures(dir) {
  const llama = await getLlama({gpu: false, build: "never", logLevel: "error"});
  for (const spec of specs) {
    const out = execFileSync(gen, [dir, spec]).toString().trim().split(" ");
    const [, sha256, path, nVocab] = out;
    const model = await llama.loadModel({modelPath: path});
    const ctx = await model.createContext({contextSize: 256, sequences: 1, threads: 2, batchSize: 256, flashAttention: false});
    const seq = ctx.getSequence();
    const p = prompt(Number(nVocab));
    const tokens = [], top = [];
    const it = seq.evaluateWithMetadata(p, {probabilities: true}, {temperature: 0, yieldEogToken: true});
    let res = await it.next();
    while (!res.done && tokens.length < kGenerate) {
      const v = res.value;
      tokens.push(v.token);
      top.push([...v.probabilities.entries()].sort((a, b) => b[1] - a[1]).slice(0, kTop));
      res = await it.next();
    }
    await it.return();
    await ctx.dispose();
    await model.dispose();
    const fixture = {
      oracle: `node-llama-cpp@${nlcVersion} (llama.cpp ${llama.llamaCppRelease.release}), cpu${variant ? ` (build ${variant} only)` : ""}, flash attention off, greedy (temperature 0)`,
      spec, sha256, n_vocab: Number(nVocab), prompt: p, tokens, top5: top,
    };
    const file = join(outDir, fixtureName(spec) + ".json");
    writeFileSync(file, JSON.stringify(fixture) + "\n");
    console.log(`${spec}: ${tokens.length} tokens, top1 p=${top[0][0][1].toFixed(3)} -> ${file}`);
  }
}

const dir = mkdtempSync(join(tmpdir(), "paddock-oracle-"));
try {
  await withCpuVariant(variant, () => writeFixtures(dir));
} finally {
  rmSync(dir, {recursive: true, force: true});
}
