// Drain on SIGTERM (issue 20): readiness goes false, new requests get 503 (the connection is
// still accepted), requests in flight finish within --drain-timeout, and streams still running
// then end cleanly — an NDJSON error line, an SSE error event and `data: [DONE]` — before the
// process exits 0.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { request } from 'node:http';
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

// POSTs `body` on its own connection; `sent()` once the body is handed to the socket. Resolves
// with the status, the JSON body and when the answer came (0 status: the connection closed).
function rawPost(port, path, body, sent) {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(body)) } }, (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => {
        let json = null;
        try { json = JSON.parse(text); } catch { /* not JSON */ }
        resolve({ status: res.statusCode, json, text, at: Date.now() });
      });
    });
    req.on('error', (e) => resolve({ status: 0, json: null, text: String(e), at: Date.now() }));
    req.on('finish', sent);
    req.end(body);
  });
}

// Requests in the middle of request-pool work (parsing and compiling schemas at the compile
// budget) when SIGTERM comes: each still gets a whole answer (its 400, or a 503 if it had not been
// handed over yet), the stream in flight ends cleanly at the drain timeout, and the process exits
// 0 within the documented bound (drain timeout + 15 s; in practice well under it).
test('SIGTERM while requests compile schemas: answered, streams end cleanly, exit within the bound', async () => {
  const srv = await startServer({ dir, args: ['--num-parallel', '2', '--drain-timeout', '1000ms'] });
  const exited = new Promise((r) => srv.proc.on('exit', (code, sig) => r({ code, sig, at: Date.now() })));
  try {
    await post(`${srv.url}/api/generate`, { model: MODEL, prompt: '' });  // load
    let n = 0;
    const ndjson = stream(`${srv.url}/api/generate`, { model: MODEL, prompt: 'a',
      options: { num_predict: 1000000, temperature: 0 } }, () => { n++; });
    assert.ok(await waitFor(() => n >= 2));
    // 150,000 alternatives: past the 100,000 compile steps; about 3 MB of JSON each.
    const wide = JSON.stringify({ model: MODEL, prompt: 'x', stream: false, options: { num_predict: 1 },
      format: { anyOf: Array.from({ length: 150000 }, (_, i) => ({ const: i })) } });
    let sent = 0;
    const hostile = Array.from({ length: 6 }, () => rawPost(srv.port, '/api/generate', wide, () => { sent++; }));
    assert.ok(await waitFor(() => sent === hostile.length));
    // The signal comes while a request-pool thread is compiling one of them (the server's own
    // gauge says so), with the others queued behind it or still being received.
    const gauge = (text, name) => Number(text.match(new RegExp(`^${name} (\\S+)$`, 'm'))?.[1] ?? NaN);
    let working = false;
    for (let i = 0; i < 2000 && !working; i++) {
      const m = await (await fetch(`${srv.metricsUrl}/metrics`)).text();
      working = gauge(m, 'paddock_request_pool_running') >= 1;
    }
    assert.ok(working, 'no request reached the request pool');
    const t0 = Date.now();
    srv.proc.kill('SIGTERM');
    const rs = await Promise.all(hostile);
    for (const r of rs) {
      const ok = (r.status === 400 && /too complex|limit/.test(r.json?.error ?? '')) ||
        (r.status === 503 && r.json?.error === 'server is shutting down');
      assert.ok(ok, `${r.status} ${r.text.slice(0, 200)}`);
    }
    assert.ok(rs.some((r) => r.at > t0), 'every request was answered before the signal');
    const a = await ndjson;
    const lines = a.text.trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(lines.at(-1).error, 'server is shutting down', a.text.slice(-300));
    const { code, sig, at } = await exited;
    assert.equal(sig, null, srv.stderr().slice(-2000));
    assert.equal(code, 0, srv.stderr().slice(-2000));
    assert.ok(at - t0 < 1000 + 15000, `exited ${at - t0} ms after SIGTERM`);
    if (process.env.PADDOCK_IT_VERBOSE) console.log(`exit ${at - t0} ms after SIGTERM`);
  } finally { await srv.stop(); }
});
