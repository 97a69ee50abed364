// Load and fault tests: 100 concurrent streaming clients, disconnects returning KV blocks,
// queue overflow (503 + Retry-After), and a runner killed with SIGKILL mid-request.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Ollama } from 'ollama';
import { startServer, MODEL, BIN, post, runnerStats, waitFor, makeStore } from './helpers.mjs';
import { rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

const dir = makeStore();
after(() => rmSync(dir, { recursive: true, force: true }));

test('100 concurrent streaming clients all complete with the same greedy answer', async () => {
  const srv = await startServer({ dir, args: ['--num-parallel', '8', '--max-queue', '200'] });
  try {
    const ollama = new Ollama({ host: srv.url });
    const solo = await ollama.generate({ model: MODEL, prompt: 'same prompt', stream: false, options: { temperature: 0, num_predict: 8 } });
    const runs = await Promise.all(Array.from({ length: 100 }, async () => {
      const s = await new Ollama({ host: srv.url }).generate({ model: MODEL, prompt: 'same prompt', stream: true,
        options: { temperature: 0, num_predict: 8 } });
      let text = '', last = null;
      for await (const p of s) { if (!p.done) text += p.response; last = p; }
      return { text, last };
    }));
    for (const r of runs) {
      assert.equal(r.last.done, true);
      assert.equal(r.last.eval_count, solo.eval_count);
      assert.equal(r.text, solo.response);
    }
    const rs = await waitFor(async () => {
      const s = (await runnerStats(srv.url)).find((x) => x.name === MODEL);
      return s?.stats?.running === 0 ? s : null;
    });
    assert.ok(rs);
  } finally { await srv.stop(); }
});

test('disconnect mid-stream, repeated: KV blocks return to the pool', async () => {
  const srv = await startServer({ dir, args: ['--num-parallel', '4'] });
  try {
    const ollama = new Ollama({ host: srv.url });
    await ollama.generate({ model: MODEL, prompt: '' });  // load
    const base = (await runnerStats(srv.url)).find((x) => x.name === MODEL).stats;
    for (let i = 0; i < 20; i++) {
      const s = await new Ollama({ host: srv.url }).generate({ model: MODEL, prompt: `p${i}`, stream: true,
        options: { num_predict: 100000, temperature: 0 } });
      let n = 0;
      for await (const _ of s) { if (++n === 2) { s.abort(); break; } }
    }
    const back = await waitFor(async () => {
      const st = (await runnerStats(srv.url)).find((x) => x.name === MODEL).stats;
      return st.running === 0 && st.kv_blocks_free === base.kv_blocks_free ? st : null;
    });
    assert.ok(back, JSON.stringify(await runnerStats(srv.url)));
  } finally { await srv.stop(); }
});

test('queue overflow: 503 with Retry-After, admitted requests still complete', async () => {
  const srv = await startServer({ dir, args: ['--num-parallel', '1', '--max-queue', '2'] });
  try {
    await post(`${srv.url}/api/generate`, { model: MODEL, prompt: '' });  // load first
    // A long greedy stream holds the only slot while the burst arrives, so exactly max-queue (2)
    // requests are admitted as waiters and the other 8 are refused, however slowly they arrive.
    const holder = await new Ollama({ host: srv.url }).generate({ model: MODEL, prompt: 'hold', stream: true,
      options: { num_predict: 100000, temperature: 0 } });
    const chunks = holder[Symbol.asyncIterator]();
    assert.equal((await chunks.next()).value.done, false);
    const body = { model: MODEL, prompt: 'q', stream: false, options: { num_predict: 16, temperature: 1 } };
    const settled = [];
    const burst = Array.from({ length: 10 }, () => post(`${srv.url}/api/generate`, body).then((r) => { settled.push(r); return r; }));
    assert.ok(await waitFor(() => settled.length >= 8), `only ${settled.length} answered while the slot was held`);
    const first = settled.slice();
    assert.equal((await chunks.next()).value.done, false, 'the holder must still be generating');
    holder.abort();
    const results = await Promise.all(burst);
    assert.deepEqual(first.map((r) => r.status), Array(8).fill(503));
    const busy = results.filter((r) => r.status === 503);
    const ok = results.filter((r) => r.status === 200);
    assert.equal(busy.length, 8, results.map((r) => r.status).join(','));
    assert.equal(ok.length, 2, results.map((r) => r.status).join(','));
    for (const b of busy) {
      assert.equal(b.json.error, 'server busy, please try again.  maximum pending requests exceeded');
      assert.ok(Number(b.headers.get('retry-after')) >= 1);
    }
    for (const o of ok) assert.equal(o.json.done, true);
  } finally { await srv.stop(); }
});

test('runner killed mid-request: that request fails cleanly, the next one works', async () => {
  const srv = await startServer({ dir });
  try {
    const ollama = new Ollama({ host: srv.url });
    await ollama.generate({ model: MODEL, prompt: '' });
    const pid = (await runnerStats(srv.url)).find((x) => x.name === MODEL).pid;
    const s = await ollama.generate({ model: MODEL, prompt: 'k', stream: true, options: { num_predict: 100000, temperature: 0 } });
    let n = 0, err = null;
    try {
      for await (const _ of s) { if (++n === 2) process.kill(pid, 'SIGKILL'); }
    } catch (e) { err = e; }
    assert.ok(err, 'the stream should end with an error');
    assert.match(String(err.message ?? err), /runner|killed|signal/i);
    const r = await ollama.generate({ model: MODEL, prompt: 'after', stream: false });
    assert.equal(r.done, true);
    const newPid = (await runnerStats(srv.url)).find((x) => x.name === MODEL).pid;
    assert.notEqual(newPid, pid);
    assert.equal(srv.proc.exitCode, null);
  } finally { await srv.stop(); }
});

test('per-request timeout ends a long generation with a clear error', async () => {
  const srv = await startServer({ dir, args: ['--request-timeout', '300ms'] });
  try {
    const r = await post(`${srv.url}/api/generate`, { model: MODEL, prompt: 't', stream: false,
      options: { num_predict: 100000, temperature: 0 } });
    assert.equal(r.status, 504, r.text);
    assert.match(r.json.error, /timed out/);
    const ok = await post(`${srv.url}/api/generate`, { model: MODEL, prompt: 't', stream: false });
    assert.equal(ok.status, 200);
  } finally { await srv.stop(); }
});

test('slow headers (slowloris) get 408 and the connection is closed', async () => {
  const net = await import('node:net');
  const srv = await startServer({ dir, args: ['--header-timeout-ms', '400'] });
  try {
    const out = await new Promise((resolve) => {
      const s = net.connect(srv.port, '127.0.0.1', () => s.write('GET /api/tags HTTP/1.1\r\nHo'));
      let buf = '';
      s.on('data', (d) => { buf += d; });
      const t = setTimeout(() => { s.destroy(); resolve(buf + '<timeout>'); }, 5000);
      s.on('close', () => { clearTimeout(t); resolve(buf); });
    });
    assert.match(out, /^HTTP\/1\.1 408/);
    assert.doesNotMatch(out, /<timeout>/);
  } finally { await srv.stop(); }
});

// A second model with different weights (a different blob, so its own runner).
function addSecondModel() {
  const gguf = join(dir, 'tiny2.gguf');
  execFileSync(BIN, ['gguf-tiny', gguf, '--n-ctx', '1024', '--seed', '8']);
  writeFileSync(join(dir, 'Modelfile2'), `FROM ${gguf}\n`);
  execFileSync(BIN, ['create', 'tiny2:latest', '-f', join(dir, 'Modelfile2'), '--models', join(dir, 'models')]);
}

async function loadedNames(url) {
  const r = await fetch(`${url}/api/ps`);
  return (await r.json()).models.map((m) => m.name).sort();
}

test('max loaded models: loading a second model evicts the idle first one', async () => {
  addSecondModel();
  const srv = await startServer({ dir, args: ['--max-loaded-models', '1'] });
  try {
    await post(`${srv.url}/api/generate`, { model: MODEL, prompt: 'a', stream: false });
    assert.deepEqual(await loadedNames(srv.url), [MODEL]);
    const r = await post(`${srv.url}/api/generate`, { model: 'tiny2', prompt: 'b', stream: false });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(await loadedNames(srv.url), ['tiny2:latest']);
  } finally { await srv.stop(); }
});

test('memory budget: a model that does not fit next to another evicts it; two fit in a larger budget', async () => {
  const small = await startServer({ dir, args: ['--memory-gib', '0.1'] });  // each estimate is ~65 MiB
  try {
    await post(`${small.url}/api/generate`, { model: MODEL, prompt: 'a', stream: false });
    await post(`${small.url}/api/generate`, { model: 'tiny2', prompt: 'b', stream: false });
    assert.deepEqual(await loadedNames(small.url), ['tiny2:latest']);
  } finally { await small.stop(); }
  const big = await startServer({ dir, args: ['--memory-gib', '1'] });
  try {
    await post(`${big.url}/api/generate`, { model: MODEL, prompt: 'a', stream: false });
    await post(`${big.url}/api/generate`, { model: 'tiny2', prompt: 'b', stream: false });
    assert.deepEqual(await loadedNames(big.url), [MODEL, 'tiny2:latest'].sort());
  } finally { await big.stop(); }
});

test('keep_alive expiry unloads an idle model', async () => {
  const srv = await startServer({ dir });
  try {
    await post(`${srv.url}/api/generate`, { model: MODEL, prompt: 'a', stream: false, keep_alive: '1s' });
    assert.deepEqual(await loadedNames(srv.url), [MODEL]);
    const gone = await waitFor(async () => (await loadedNames(srv.url)).length === 0, 5000, 100);
    assert.ok(gone, 'still loaded 5 s after a 1 s keep_alive');
  } finally { await srv.stop(); }
});
