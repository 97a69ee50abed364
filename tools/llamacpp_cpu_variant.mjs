// Runs llama.cpp (node-llama-cpp's prebuilt CPU binaries) as one of its CPU builds: ggml picks the
// best libggml-cpu-<variant>.so for this machine at load; to get another one (haswell = AVX2,
// x64 = no AVX, …) the others are moved aside while `fn` runs and put back afterwards.
// Used by tools/llamacpp_oracle.mjs and bench/cpu/llamacpp_bench.mjs (PADDOCK_LLAMACPP_CPU_VARIANT
// / PADDOCK_ORACLE_CPU_VARIANT). Not safe to run two of these at once on the same install.
import {mkdtempSync, readdirSync, renameSync, rmSync} from "node:fs";
import {tmpdir} from "node:os";
import {join, dirname} from "node:path";
import {fileURLToPath} from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const bins = join(root, "tools/oracles/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64");

export async function withCpuVariant(variant, fn) {
  if (!variant) return await fn();
  const libs = readdirSync(bins).filter((f) => /^libggml-cpu-.*\.so$/.test(f));
  if (!libs.includes(`libggml-cpu-${variant}.so`)) throw new Error(`no CPU variant ${variant} in ${bins}`);
  const aside = mkdtempSync(join(tmpdir(), "paddock-ggml-cpu-"));
  const moved = [];
  try {
    for (const f of libs.filter((f) => f !== `libggml-cpu-${variant}.so`)) {
      renameSync(join(bins, f), join(aside, f));
      moved.push(f);
    }
    return await fn();
  } finally {
    for (const f of moved) renameSync(join(aside, f), join(bins, f));
    rmSync(aside, {recursive: true, force: true});
  }
}
