// llama.cpp side of bench/cpu (node-llama-cpp@3.21.1, prebuilt CPU binary): on the same GGUF and
// thread count as ours, prints one JSON line per repetition after a warm-up:
//   pp: one evaluation of PP tokens with batch size PP (evaluateWithoutGeneratingNewTokens);
//   tg: one native generation loop of TG tokens in a single sequence from an empty cache
//       (sequence.evaluate's generator, greedy), the way llama-bench's tg runs one token per decode;
// node-llama-cpp's own per-token cost in the tg loop (JS, scheduler, greedy sampling) is bounded by
// running this script on a tiny model, where a decode costs almost nothing (bench/cpu/README.md).
// Usage: node bench/cpu/llamacpp_bench.mjs MODEL THREADS [PP=512] [TG=128] [REPS=1] [N_VOCAB=32000]
// PADDOCK_LLAMACPP_CPU_VARIANT=haswell (or x64, …) runs that CPU build of llama.cpp instead of the one
// ggml picks for this machine (tools/llamacpp_cpu_variant.mjs), e.g. to compare AVX2 with AVX2.
import {join, dirname} from "node:path";
import {fileURLToPath} from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "../..");
const {getLlama} = await import(join(root, "tools/oracles/node_modules/node-llama-cpp/dist/index.js"));
const [model_path, threadsArg, ppArg, tgArg, repsArg, vocabArg] = process.argv.slice(2);
const threads = Number(threadsArg ?? 2), pp = Number(ppArg ?? 512), tg = Number(tgArg ?? 128), reps = Number(repsArg ?? 1);
const {withCpuVariant} = await import(join(root, "tools/llamacpp_cpu_variant.mjs"));
const variant = process.env.PADDOCK_LLAMACPP_CPU_VARIANT;
await withCpuVariant(variant, bench);

async function bench() {
  const llama = await getLlama({gpu: false, build: "never", logLevel: "error", maxThreads: threads});
  const model = await llama.loadModel({modelPath: model_path});
  const nVocab = Number(vocabArg ?? 32000);  // token ids as bench_cpu draws them
  const ctx = await model.createContext({
    contextSize: Math.max(1024, pp + tg + 16), sequences: 1, batchSize: pp, threads: {ideal: threads, min: threads},
  });
  const seq = ctx.getSequence();
  const tok = (i) => 3 + ((i * 7919) % (nVocab - 3));
  const prompt = (n) => Array.from({length: n}, (_, i) => tok(i));

  async function runPp(n) {
    await seq.clearHistory();
    const t0 = performance.now();
    await seq.evaluateWithoutGeneratingNewTokens(prompt(n));
    return (performance.now() - t0) / 1000;
  }

  // One generation loop: the first decode evaluates the single prompt token, each later decode the
  // token sampled before it, so n decodes of one token each (like llama-bench tg).
  async function runTg(n) {
    await seq.clearHistory();
    const t0 = performance.now();
    let count = 0;
    for await (const _ of seq.evaluate([tok(0)], {temperature: 0})) {
      if (++count >= n) break;
    }
    return (performance.now() - t0) / 1000;
  }

  // Warm-up: every weight page touched by both paths.
  await runPp(Math.min(pp, 64));
  await runTg(4);
  for (let r = 0; r < reps; ++r) {
    const sPp = await runPp(pp);
    const sTg = await runTg(tg);
    console.log(JSON.stringify({engine: "llama.cpp", cpu_variant: variant ?? "auto", threads, pp, pp_tps: pp / sPp, tg, tg_tps: tg / sTg}));
  }
  await ctx.dispose();
  await model.dispose();
}
