// helpers: start a real `paddock serve` on a free port with a temporary store holding a small
// random-weight llama model (written by `paddock gguf-tiny`, imported with `paddock create`).
// PADDOCK_BIN names the binary (CTest passes $<TARGET_FILE:paddock>).
import { spawn, execFileSync } from 'node:child_process';
import net from 'node:net';
import { Worker } from 'node:worker_threads';
import { mkdtempSync, writeFileSync, rmSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const BIN = process.env.PADDOCK_BIN;
if (!BIN) throw new Error('PADDOCK_BIN must name the paddock binary');

export const MODEL = 'tiny:latest';

// Creates a store with `tiny:latest` (and returns its directory).
export function makeStore() {
  const dir = mkdtempSync(join(tmpdir(), 'paddock-it-'));
  const gguf = join(dir, 'tiny.gguf');
  execFileSync(BIN, ['gguf-tiny', gguf, '--n-ctx', '4096', '--seed', '7']);
  writeFileSync(join(dir, 'Modelfile'), `FROM ${gguf}\nPARAMETER temperature 0\nPARAMETER num_predict 8\n`);
  execFileSync(BIN, ['create', MODEL, '-f', join(dir, 'Modelfile'), '--models', join(dir, 'models')]);
  return dir;
}

// Starts the server; resolves to { url, port, metricsUrl, proc, dir, stop() }. The metrics
// listener gets a free port too (never the default 8080, which tests running side by side share).
export async function startServer({ args = [], env = {}, dir = null } = {}) {
  const storeDir = dir ?? makeStore();
  const metricsArgs = args.includes('--metrics-addr') ? [] : ['--metrics-addr', '127.0.0.1:0'];
  const proc = spawn(BIN, ['serve', '--host', '127.0.0.1:0', '--models', join(storeDir, 'models'),
    '--debug-endpoints', ...metricsArgs, ...args], {
    env: { ...process.env, PADDOCK_HOST: '', OLLAMA_HOST: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  proc.stderr.on('data', (d) => {
    stderr += d.toString();
    if (process.env.PADDOCK_IT_LOG) appendFileSync(process.env.PADDOCK_IT_LOG, d);
  });
  const wantMetrics = !args.includes('off');
  const [scheme, port, metricsPort] = await new Promise((resolve, reject) => {
    let out = '';
    const t = setTimeout(() => reject(new Error(`server did not start:\n${stderr}`)), 30000);
    proc.stdout.on('data', (d) => {
      out += d.toString();
      const m = out.match(/listening on (https?):\/\/[^\n]*:(\d+)\n/);
      const mm = out.match(/metrics on http:\/\/[^\n]*:(\d+)\n/);
      if (m && (mm || !wantMetrics)) { clearTimeout(t); resolve([m[1], Number(m[2]), mm ? Number(mm[1]) : 0]); }
    });
    proc.on('exit', (code) => { clearTimeout(t); reject(new Error(`server exited ${code}:\n${stderr}`)); });
  });
  const url = `${scheme}://127.0.0.1:${port}`;
  const metricsUrl = metricsPort ? `http://127.0.0.1:${metricsPort}` : null;
  return {
    url, port, metricsUrl, proc, dir: storeDir,
    stderr: () => stderr,
    async stop() {
      if (proc.exitCode === null) {
        const done = new Promise((r) => proc.on('exit', r));
        proc.kill('SIGTERM');
        let timer;
        await Promise.race([done, new Promise((r) => { timer = setTimeout(r, 10000); })]);
        clearTimeout(timer);
        if (proc.exitCode === null) proc.kill('SIGKILL');
      }
      if (!dir) rmSync(storeDir, { recursive: true, force: true });
    },
  };
}

// Raw HTTP helpers (fetch) that never throw on status codes.
export async function post(url, body, headers = {}) {
  const r = await fetch(url, { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body),
    headers: { 'Content-Type': 'application/json', ...headers } });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: r.status, text, json, headers: r.headers };
}

export async function runnerStats(url) {
  const r = await fetch(`${url}/api/debug/runners`);
  return (await r.json()).runners;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Polls `fn` until it returns truthy or the timeout passes; returns the last value.
export async function waitFor(fn, timeoutMs = 10000, everyMs = 50) {
  const end = Date.now() + timeoutMs;
  let v;
  while (Date.now() < end) {
    v = await fn();
    if (v) return v;
    await sleep(everyMs);
  }
  return v;
}

// One request on its own connection; resolves with { status, ms } once the response head is in,
// `ms` counted from the moment the request was written (the client's own connect queue for 200
// sockets at once is not the server's latency).
export function timed(port, bytes) {
  return new Promise((resolve) => {
    let t0 = performance.now();
    const s = net.connect(port, '127.0.0.1', () => { t0 = performance.now(); s.write(bytes); });
    let buf = '';
    let done = false;
    const finish = (status) => {
      if (done) return;
      done = true;
      resolve({ status, ms: performance.now() - t0, head: buf.slice(0, 400), sock: s });
    };
    s.on('data', (d) => {
      buf += d;
      const m = buf.match(/^HTTP\/1\.1 (\d+)/);
      if (m && buf.includes('\r\n\r\n')) finish(Number(m[1]));
    });
    s.on('error', () => finish(0));
    s.on('close', () => finish(0));
  });
}

export const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(p * s.length))]; };

// Times GET /api/version on fresh connections, 5 ms apart, until `done()` is true and at least
// `min` answers are in (or `maxMs` passed); resolves with the answers ({ status, ms }).
export async function probeVersion(port, done, min = 50, maxMs = 120000) {
  const out = [];
  const end = Date.now() + maxMs;
  while ((out.length < min || !done()) && Date.now() < end) {
    const v = await timed(port, 'GET /api/version HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
    v.sock.destroy();
    out.push(v);
    await sleep(5);
  }
  return out;
}

// One scrape of the metrics listener: the text, and the samples as [{name, labels, value}].
export async function scrape(metricsUrl, headers = {}) {
  const r = await fetch(`${metricsUrl}/metrics`, { headers });
  const text = await r.text();
  return { status: r.status, text, headers: r.headers, samples: r.status === 200 ? parseMetrics(text) : [] };
}

// Prometheus text format, the subset a scrape uses (no timestamps).
export function parseMetrics(text) {
  const out = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/);
    if (!m) throw new Error(`unparsable metrics line: ${line}`);
    const labels = {};
    if (m[3]) for (const l of m[3].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    out.push({ name: m[1], labels, value: Number(m[4].replace('+Inf', 'Infinity')) });
  }
  return out;
}

// The value of the one sample with this name and exactly these labels (undefined if none).
export function metric(samples, name, labels = {}) {
  const keys = Object.keys(labels);
  const hit = samples.filter((s) => s.name === name && Object.keys(s.labels).length === keys.length &&
    keys.every((k) => s.labels[k] === labels[k]));
  if (hit.length > 1) throw new Error(`${name} ${JSON.stringify(labels)} matches ${hit.length} samples`);
  return hit[0]?.value;
}

// Times `count` GET /api/version requests, `gapMs` apart, each on a fresh connection, from a
// worker thread with its own event loop: what the server takes, not how long this process's
// main loop (busy driving a burst of 200 clients) takes to notice the answer. Resolves with
// [{ status, ms }].
export function probeVersionInWorker(port, count, gapMs = 5) {
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    const net = require('node:net');
    const one = () => new Promise((resolve) => {
      let t0 = performance.now(), buf = '', done = false;
      const s = net.connect(workerData.port, '127.0.0.1', () => {
        t0 = performance.now();
        s.write('GET /api/version HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\nConnection: close\\r\\n\\r\\n');
      });
      const finish = (status) => { if (done) return; done = true; s.destroy(); resolve({ status, ms: performance.now() - t0 }); };
      s.on('data', (d) => { buf += d; const m = buf.match(/^HTTP\\/1\\.1 (\\d+)/); if (m && buf.includes('\\r\\n\\r\\n')) finish(Number(m[1])); });
      s.on('error', () => finish(0));
      s.on('close', () => finish(0));
    });
    (async () => {
      const out = [];
      for (let i = 0; i < workerData.count; i++) {
        out.push(await one());
        await new Promise((r) => setTimeout(r, workerData.gapMs));
      }
      parentPort.postMessage(out);
    })();`;
  return new Promise((resolve, reject) => {
    const w = new Worker(code, { eval: true, workerData: { port, count, gapMs } });
    w.once('message', (m) => { resolve(m); w.terminate(); });
    w.once('error', reject);
  });
}
