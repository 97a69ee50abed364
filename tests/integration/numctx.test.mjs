// num_ctx above the loaded runner's context: the request waits until the runner is idle, the
// runner restarts with the bigger context (/api/ps shows it), and requests already running are
// not disturbed. Above the model's trained context (4096 for the test model) it is clamped.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Ollama } from 'ollama';
import { startServer, MODEL, waitFor } from './helpers.mjs';

let srv, ollama;
before(async () => {
  srv = await startServer({ args: ['--num-ctx', '2048'] });
  ollama = new Ollama({ host: srv.url });
});
after(async () => { await srv?.stop(); });

const ctxOf = async () => (await ollama.ps()).models.find((m) => m.name === MODEL)?.context_length;

test('a request with num_ctx 4096 on a runner loaded with 2048 restarts it and works', async () => {
  const first = await ollama.generate({ model: MODEL, prompt: 'a', stream: false, options: { num_predict: 2 } });
  assert.equal(first.done, true);
  assert.equal(await ctxOf(), 2048);
  const pid1 = (await (await fetch(`${srv.url}/api/debug/runners`)).json()).runners[0].pid;
  // A long request is running on the 2048 runner when the 4096 request arrives (1500 tokens: about
  // a second here, against the milliseconds the second request takes to reach the manager).
  const long = ollama.generate({ model: MODEL, prompt: 'b', stream: true,
    options: { num_predict: 1500, temperature: 0 } });
  const stream = await long;
  const it = stream[Symbol.asyncIterator]();
  const firstChunk = await it.next();
  assert.equal(firstChunk.done, false);
  const big = ollama.generate({ model: MODEL, prompt: 'c', stream: false, options: { num_ctx: 4096, num_predict: 3 } });
  // The 4096 request reached the server while the long one was running: one snapshot shows it
  // queued (waiting 1) beside the 2048 runner with the long sequence still active on it.
  let snap = null;
  const overlap = await waitFor(async () => {
    snap = await (await fetch(`${srv.url}/api/debug/runners`)).json();
    const r = snap.runners.find((x) => x.name === MODEL);
    return snap.waiting === 1 && r?.pid === pid1 && r.active === 1 && r.stats?.running === 1;
  }, 10000, 5);
  assert.ok(overlap, `the 4096 request was never seen waiting beside the running one: ${JSON.stringify(snap)}`);
  let n = 1, last = null;
  for (let x = await it.next(); !x.done; x = await it.next()) { n++; last = x.value; }
  assert.equal(last.done, true);
  assert.equal(last.done_reason, 'length');
  assert.equal(last.eval_count, 1500, 'the running request finished undisturbed');
  const r = await big;
  assert.equal(r.done, true);
  assert.equal(r.eval_count, 3);
  assert.equal(await ctxOf(), 4096);
  const pid2 = (await (await fetch(`${srv.url}/api/debug/runners`)).json()).runners[0].pid;
  assert.notEqual(pid2, pid1, 'a new runner process');
  // Smaller contexts are served by the bigger runner without another restart.
  await ollama.generate({ model: MODEL, prompt: 'd', stream: false, options: { num_ctx: 1024, num_predict: 1 } });
  assert.equal(await ctxOf(), 4096);
  assert.equal((await (await fetch(`${srv.url}/api/debug/runners`)).json()).runners[0].pid, pid2);
});

test('num_ctx above the trained context is clamped to it (Ollama logs and uses the trained length)', async () => {
  const r = await ollama.generate({ model: MODEL, prompt: 'e', stream: false, options: { num_ctx: 100000, num_predict: 2 } });
  assert.equal(r.done, true);
  assert.equal(await ctxOf(), 4096);
  assert.match(srv.stderr(), /larger than the model's trained context 4096/);
});
