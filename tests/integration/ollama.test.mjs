// ollama-js against a real paddock server: generate and chat (streaming and not), embed, list,
// show, ps, create, copy, delete, load/unload with keep_alive, and abort mid-stream.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Ollama } from 'ollama';
import { startServer, MODEL, runnerStats, waitFor } from './helpers.mjs';

// The text of `bytes` if they are valid UTF-8, else null.
function utf8OrNull(bytes) {
  try { return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(Uint8Array.from(bytes)); } catch { return null; }
}

let srv, ollama;
before(async () => {
  srv = await startServer();
  ollama = new Ollama({ host: srv.url });
});
after(async () => { await srv?.stop(); });

test('generate, not streamed: final object with Ollama statistics', async () => {
  const r = await ollama.generate({ model: MODEL, prompt: 'hello there', stream: false });
  assert.equal(r.model, MODEL);
  assert.equal(r.done, true);
  assert.ok(['stop', 'length'].includes(r.done_reason));
  assert.equal(typeof r.response, 'string');
  for (const k of ['total_duration', 'load_duration', 'prompt_eval_count', 'prompt_eval_duration', 'eval_count', 'eval_duration'])
    assert.ok(Number.isInteger(r[k]) && r[k] >= 0, `${k}=${r[k]}`);
  assert.ok(r.prompt_eval_count > 0);
  assert.ok(r.eval_count > 0 && r.eval_count <= 8, `num_predict 8 from the Modelfile, got ${r.eval_count}`);
  assert.ok(Array.isArray(r.context) && r.context.length >= r.prompt_eval_count);
  assert.match(r.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z$/);
});

test('generate, streamed: chunks then one done object; text equals the unstreamed answer (greedy)', async () => {
  const whole = await ollama.generate({ model: MODEL, prompt: 'abc', stream: false, options: { temperature: 0 } });
  const stream = await ollama.generate({ model: MODEL, prompt: 'abc', stream: true, options: { temperature: 0 } });
  let text = '', last = null, n = 0;
  for await (const part of stream) {
    n++;
    if (!part.done) text += part.response;
    last = part;
  }
  assert.ok(n >= 2);
  assert.equal(last.done, true);
  assert.equal(last.eval_count, whole.eval_count);
  assert.equal(text, whole.response);
});

test('options: num_predict limits the answer and reports length', async () => {
  const r = await ollama.generate({ model: MODEL, prompt: 'x', stream: false, options: { num_predict: 3, temperature: 0 } });
  assert.equal(r.eval_count, 3);
  assert.equal(r.done_reason, 'length');
});

test('chat, streamed and not', async () => {
  const msgs = [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'hi' }];
  const r = await ollama.chat({ model: MODEL, messages: msgs, stream: false });
  assert.equal(r.message.role, 'assistant');
  assert.equal(typeof r.message.content, 'string');
  assert.equal(r.done, true);
  assert.ok(r.eval_count > 0);
  const s = await ollama.chat({ model: MODEL, messages: msgs, stream: true });
  let parts = 0, done = null;
  for await (const p of s) { parts++; if (p.done) done = p; else assert.equal(p.message.role, 'assistant'); }
  assert.ok(parts >= 2 && done && done.done_reason);
});

test('embed and legacy embeddings', async () => {
  const e = await ollama.embed({ model: MODEL, input: ['one', 'two words'] });
  assert.equal(e.embeddings.length, 2);
  assert.ok(e.embeddings[0].length > 0);
  assert.ok(e.embeddings[0].every(Number.isFinite));
  assert.ok(e.prompt_eval_count > 0);
  const legacy = await ollama.embeddings({ model: MODEL, prompt: 'one' });
  assert.equal(legacy.embedding.length, e.embeddings[0].length);
  // Same input, same vector.
  legacy.embedding.forEach((x, i) => assert.ok(Math.abs(x - e.embeddings[0][i]) < 1e-4));
});

test('list and show', async () => {
  const l = await ollama.list();
  const m = l.models.find((x) => x.name === MODEL);
  assert.ok(m, JSON.stringify(l));
  assert.match(m.digest, /^[0-9a-f]{64}$/);
  assert.ok(m.size > 0);
  assert.equal(m.details.family, 'llama');
  const s = await ollama.show({ model: MODEL });
  assert.equal(s.model_info['general.architecture'], 'llama');
  assert.match(s.parameters, /num_predict\s+8/);
  assert.ok(s.capabilities.includes('completion'));
});

test('ps shows the loaded model; keep_alive 0 unloads it; empty prompt loads it', async () => {
  await ollama.generate({ model: MODEL, prompt: '', keep_alive: '10m' });
  let ps = await ollama.ps();
  const m = ps.models.find((x) => x.name === MODEL);
  assert.ok(m);
  assert.ok(new Date(m.expires_at) > new Date(Date.now() + 9 * 60 * 1000));
  const unload = await ollama.generate({ model: MODEL, prompt: '', keep_alive: 0 });
  assert.equal(unload.done_reason, 'unload');
  ps = await waitFor(async () => { const p = await ollama.ps(); return p.models.length === 0 ? p : null; });
  assert.ok(ps, 'model still loaded after keep_alive 0');
  const load = await ollama.generate({ model: MODEL, prompt: '' });
  assert.equal(load.done, true);
  assert.equal(load.done_reason, 'load');
  assert.equal((await ollama.ps()).models.length, 1);
});

test('create from an existing model, copy, delete', async () => {
  const progress = [];
  const stream = await ollama.create({ model: 'derived:v1', from: MODEL, system: 'You are terse.',
    parameters: { temperature: 0.2 }, stream: true });
  for await (const p of stream) progress.push(p.status);
  assert.equal(progress.at(-1), 'success');
  const s = await ollama.show({ model: 'derived:v1' });
  assert.equal(s.system, 'You are terse.');
  await ollama.copy({ source: 'derived:v1', destination: 'copied:v2' });
  assert.ok((await ollama.list()).models.some((m) => m.name === 'copied:v2'));
  await ollama.delete({ model: 'copied:v2' });
  await ollama.delete({ model: 'derived:v1' });
  const names = (await ollama.list()).models.map((m) => m.name);
  assert.ok(!names.includes('copied:v2') && !names.includes('derived:v1'));
  await assert.rejects(ollama.delete({ model: 'copied:v2' }), (e) => e.status_code === 404);
});

test('unknown model: 404 with Ollama\'s message', async () => {
  await assert.rejects(ollama.generate({ model: 'nope:latest', prompt: 'x', stream: false }), (e) => {
    assert.equal(e.status_code, 404);
    assert.match(e.message, /model "nope:latest" not found, try pulling it first/);
    return true;
  });
});

test('pull answers with a clear error until registry support lands', async () => {
  await assert.rejects(ollama.pull({ model: 'llama3.2', stream: false }), (e) => e.status_code === 501 && /registry/.test(e.message));
});

test('abort mid-stream frees the sequence in the runner', async () => {
  const stream = await ollama.generate({ model: MODEL, prompt: 'long', stream: true, options: { num_predict: 100000, temperature: 0 } });
  let n = 0;
  for await (const part of stream) {
    if (++n === 3) { stream.abort(); break; }
  }
  const ok = await waitFor(async () => {
    const rs = await runnerStats(srv.url);
    const r = rs.find((x) => x.name === MODEL);
    return r && r.stats && r.stats.running === 0 && r.stats.kv_blocks_free === r.stats.kv_blocks_total ? r : null;
  });
  assert.ok(ok, `sequence still running: ${JSON.stringify(await runnerStats(srv.url))}`);
});

test('logprobs: chosen token plus top alternatives, best first', async () => {
  const r = await ollama.generate({ model: MODEL, prompt: 'hi', stream: false, logprobs: true, top_logprobs: 3,
    options: { num_predict: 3, temperature: 0 } });
  assert.equal(r.logprobs.length, 3);
  for (const lp of r.logprobs) {
    assert.ok(lp.logprob <= 0);
    assert.equal(lp.top_logprobs.length, 3);
    // Greedy: the chosen token is the most likely one.
    assert.equal(lp.top_logprobs[0].token, lp.token);
    assert.ok(lp.top_logprobs[0].logprob >= lp.top_logprobs[1].logprob);
    // `bytes` are the token's own bytes: the UTF-8 of `token` when those bytes are valid UTF-8 (a
    // token holding part of a character has U+FFFD in `token` and its raw bytes in `bytes`).
    for (const t of [lp, ...lp.top_logprobs]) {
      assert.ok(Array.isArray(t.bytes) && t.bytes.every((b) => Number.isInteger(b) && b >= 0 && b < 256),
        JSON.stringify(t));
      const decoded = utf8OrNull(t.bytes);
      if (decoded !== null) assert.equal(decoded, t.token, JSON.stringify(t));
      else assert.ok(t.token.includes('\uFFFD'), JSON.stringify(t));
    }
  }
  // The chosen tokens' bytes, in order, are the response.
  const all = Buffer.concat(r.logprobs.map((lp) => Buffer.from(lp.bytes)));
  if (utf8OrNull(all) !== null) assert.equal(all.toString('utf8'), r.response);
});
