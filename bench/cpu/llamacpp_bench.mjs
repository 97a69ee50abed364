// llama.cpp side of bench/cpu (node-llama-cpp@3.21.1, CPU build): pp (one batch of N tokens) and
// tg (N single-token decodes from an empty cache) on the same GGUF, same threads; prints JSON.
// Usage: node bench/cpu/llamacpp_bench.mjs MODEL THREADS [PP=512] [TG=128] [REPS=2]
import {join, dirname} from "node:path";
import {fileURLToPath} from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "../..");
const {getLlama} = await import(join(root, "tools/oracles/node_modules/node-llama-cpp/dist/index.js"));
const [model_path, threadsArg, ppArg, tgArg, repsArg] = process.argv.slice(2);
const threads = Number(threadsArg ?? 2), pp = Number(ppArg ?? 512), tg = Number(tgArg ?? 128), reps = Number(repsArg ?? 2);
const llama = await getLlama({gpu: false, build: "never", logLevel: "error"});
const model = await llama.loadModel({modelPath: model_path});
const nVocab = model.fileInsights.metadata?.tokenizer?.ggml?.tokens?.length ?? 32000;
const ctx = await model.createContext({contextSize: Math.max(1024, pp + tg + 16), sequences: 1, threads, batchSize: pp});
const seq = ctx.getSequence();
const tok = (i) => 3 + ((i * 7919) % (nVocab - 3));
let bestPp = 0, bestTg = 0;
for (let r = 0; r < reps; ++r) {
  await seq.clearHistory();
  let t0 = performance.now();
  await seq.evaluateWithoutGeneratingNewTokens(Array.from({length: pp}, (_, i) => tok(i)));
  bestPp = Math.max(bestPp, pp / ((performance.now() - t0) / 1000));
  await seq.clearHistory();
  t0 = performance.now();
  for (let i = 0; i < tg; ++i) await seq.evaluateWithoutGeneratingNewTokens([tok(i)]);
  bestTg = Math.max(bestTg, tg / ((performance.now() - t0) / 1000));
}
console.log(JSON.stringify({engine: "llama.cpp", threads, pp, pp_tps: bestPp, tg, tg_tps: bestTg}));
await ctx.dispose();
await model.dispose();
