// Drain on SIGTERM (issue 20): readiness goes false, new requests get 503 (the connection is
// still accepted), requests in flight finish within --drain-timeout, and streams still running
// then end cleanly — an NDJSON error line, an SSE error event and `data: [DONE]` — before the
// process exits 0.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { startServer, MODEL, post, makeStore, sleep, waitFor } from './helpers.mjs';

const dir = makeStore();
after(() => rmSync(dir, { recursive: true, force: true }));

// Streams a POST; resolves with the whole body text once the response ends.
function stream(url, body, started) {
  return fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) })
    .then(async (r) => {
      const reader = r.body.getReader();
      const dec = new TextDecoder();
      let text = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        text += dec.decode(value);
        started();
      }
      return { status: r.status, text };
    });
}

test('SIGTERM drains: readiness false, new work 503, in-flight finishes, long streams end cleanly', async () => {
  const srv = await startServer({ dir, args: ['--num-parallel', '3', '--drain-timeout', '1500ms'] });
  let exited = false;
  srv.proc.on('exit', () => { exited = true; });
  try {
    assert.equal((await fetch(`${srv.url}/readyz`)).status, 200);
    assert.equal((await fetch(`${srv.url}/livez`)).status, 200);
    await post(`${srv.url}/api/generate`, { model: MODEL, prompt: '' });  // load
    let n = 0;
    const tick = () => { n++; };
    const long = { options: { num_predict: 1000000, temperature: 0 } };
    const ndjson = stream(`${srv.url}/api/generate`, { model: MODEL, prompt: 'a', ...long }, tick);
    const sse = stream(`${srv.url}/v1/chat/completions`, { model: MODEL, stream: true, max_tokens: 1000000,
      messages: [{ role: 'user', content: 'b' }] }, tick);
    assert.ok(await waitFor(() => n >= 4));
    // A short request in flight when the signal comes: it finishes normally.
    const short = post(`${srv.url}/api/generate`, { model: MODEL, prompt: 'c', stream: false, options: { num_predict: 16 } });
    await sleep(20);
    const t0 = Date.now();
    srv.proc.kill('SIGTERM');
    await sleep(200);
    assert.equal(exited, false, 'exited at once instead of draining');
    const ready = await fetch(`${srv.url}/readyz`);
    assert.equal(ready.status, 503);
    const fresh = await post(`${srv.url}/api/generate`, { model: MODEL, prompt: 'd', stream: false });
    assert.equal(fresh.status, 503, fresh.text);
    assert.equal(fresh.json.error, 'server is shutting down');
    assert.ok(Number(fresh.headers.get('retry-after')) >= 1);
    const s = await short;
    assert.equal(s.status, 200, s.text);
    assert.equal(s.json.done, true);
    // The long streams are ended cleanly after the drain timeout.
    const [a, b] = await Promise.all([ndjson, sse]);
    const waited = Date.now() - t0;
    assert.ok(waited >= 1300, `streams ended after ${waited} ms, before the drain timeout`);
    const lines = a.text.trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(lines.at(-1).error, 'server is shutting down', a.text.slice(-300));
    const events = b.text.trim().split('\n\n');
    assert.equal(events.at(-1), 'data: [DONE]', b.text.slice(-300));
    assert.equal(JSON.parse(events.at(-2).slice(6)).error.message, 'server is shutting down', b.text.slice(-300));
    assert.ok(await waitFor(() => exited, 8000), 'did not exit after the drain');
    assert.equal(srv.proc.exitCode, 0);
  } finally { await srv.stop(); }
});
