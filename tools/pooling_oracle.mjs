// Pooling oracle for tests/integration/pooling.test.mjs: llama.cpp's embeddings of a few texts
// for a random-weight model with `llama.pooling_type` mean (1), cls (2) and last (3), written by
// our own `paddock gguf-tiny` (its sha256 is recorded, so the test proves it embeds the same file).
//
// Run (from the repository root, after building paddock):
//   node tools/pooling_oracle.mjs build/dev/src/cli/paddock
// Oracle: node-llama-cpp@3.21.1 (tools/oracles/node_modules), getLlama({gpu:false, build:"never"}),
// createEmbeddingContext().getEmbeddingFor(text); vectors are L2-normalized here (as /api/embed).
// Output: tests/fixtures/server/pooling.json.
import {execFileSync} from "node:child_process";
import {createHash} from "node:crypto";
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from "node:fs";
import {tmpdir} from "node:os";
import {dirname, join} from "node:path";
import {fileURLToPath} from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const nlc = join(root, "tools/oracles/node_modules/node-llama-cpp");
const {getLlama} = await import(join(nlc, "dist/index.js"));
const version = JSON.parse(readFileSync(join(nlc, "package.json"))).version;
const bin = process.argv[2] ?? join(root, "build/dev/src/cli/paddock");

const texts = ["xyz q", "hello world", "a", "The quick brown fox jumps over the lazy dog."];
const genArgs = ["--n-ctx", "512", "--seed", "5"];
const dir = mkdtempSync(join(tmpdir(), "paddock-pool-oracle-"));
const llama = await getLlama({gpu: false, build: "never", logLevel: "error"});
const out = {oracle: `node-llama-cpp@${version} (llama.cpp), getEmbeddingFor(text), L2-normalized`,
  generator: ["gguf-tiny", "<out>", ...genArgs, "--pooling", "<type>"], models: {}};
for (const [name, type] of [["mean", 1], ["cls", 2], ["last", 3]]) {
  const path = join(dir, `${name}.gguf`);
  execFileSync(bin, ["gguf-tiny", path, ...genArgs, "--pooling", String(type)]);
  const model = await llama.loadModel({modelPath: path});
  const ctx = await model.createEmbeddingContext({contextSize: 512});
  const embeddings = [];
  for (const t of texts) {
    const v = Array.from((await ctx.getEmbeddingFor(t)).vector);
    const n = Math.hypot(...v);
    embeddings.push(v.map((x) => Number((x / n).toPrecision(7))));
  }
  await ctx.dispose();
  await model.dispose();
  out.models[name] = {pooling_type: type, sha256: createHash("sha256").update(readFileSync(path)).digest("hex"),
    texts, embeddings};
}
writeFileSync(join(root, "tests/fixtures/server/pooling.json"), JSON.stringify(out, null, 1) + "\n");
rmSync(dir, {recursive: true, force: true});
console.log("wrote tests/fixtures/server/pooling.json");
