// bench_helpers: the scripted endpoint (paddock_fake_llm, PADDOCK_FAKE_LLM) and `paddock bench`
// runs with their JSON reports, for bench.test.mjs and bench_rate.test.mjs.
import { spawn, execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN } from './helpers.mjs';

const FAKE = process.env.PADDOCK_FAKE_LLM;
if (!FAKE) throw new Error('PADDOCK_FAKE_LLM must name the paddock_fake_llm binary');
export const work = mkdtempSync(join(tmpdir(), 'paddock-bench-it-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));

export async function startFake(args = []) {
  const proc = spawn(FAKE, ['--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  proc.stderr.on('data', (d) => { err += d; });
  const url = await new Promise((resolve, reject) => {
    let out = '';
    proc.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/listening on (\S+)/);
      if (m) resolve(m[1]);
    });
    proc.on('exit', (c) => reject(new Error(`fake server exited ${c}: ${err}`)));
  });
  return {
    url, proc,
    async stats() { return (await fetch(`${url}/stats`)).json(); },
    async stop() {
      if (proc.exitCode !== null) return;
      const done = new Promise((r) => proc.on('exit', r));
      proc.kill('SIGTERM');
      await done;
    },
  };
}

// Runs `paddock bench ARGS --json F` and resolves to { code, stdout, stderr, report }.
export function bench(args, { json = true } = {}) {
  const file = join(work, `r${Math.random().toString(36).slice(2)}.json`);
  const full = ['bench', '--quiet', ...args, ...(json ? ['--json', file] : [])];
  return new Promise((resolve) => {
    execFile(BIN, full, { maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const report = json && existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : null;
      resolve({ code: err ? err.code ?? 1 : 0, stdout, stderr, report });
    });
  });
}

