// Raw protocol checks with curl and plain sockets: NDJSON and SSE framing, bad input at the API
// (malformed JSON, wrong types, bad options, traversal names, oversized bodies), Host allowlist,
// CORS, and the HTTP-level caps. Every case must be a clear 4xx, never a 5xx or a crash.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import net from 'node:net';
import { startServer, MODEL, post } from './helpers.mjs';

let srv;
before(async () => { srv = await startServer(); });
after(async () => {
  assert.equal(srv.proc.exitCode, null, 'server crashed during the tests');
  await srv?.stop();
});

function curl(args) {
  return execFileSync('curl', ['-sS', '-N', '--max-time', '30', ...args], { encoding: 'utf8', maxBuffer: 1 << 24 });
}

test('liveness and version', async () => {
  assert.equal(curl([`${srv.url}/`]), 'Ollama is running');
  assert.match(curl(['-I', `${srv.url}/`]), /^HTTP\/1\.1 200/);
  // `version` is the Ollama API version served (clients gate on it: some refuse below 0.6.4);
  // Paddock's own version is separate.
  const v = JSON.parse(curl([`${srv.url}/api/version`]));
  const [maj, min, patch] = v.version.split('.').map(Number);
  assert.ok(maj > 0 || min > 6 || (min === 6 && patch >= 4), `Ollama API version ${v.version} is below 0.6.4`);
  assert.match(v.paddock_version, /^\d+\.\d+\.\d+/);
  assert.notEqual(v.version, v.paddock_version);
});

test('NDJSON framing from curl', async () => {
  const out = curl(['-i', `${srv.url}/api/generate`, '-d', JSON.stringify({ model: MODEL, prompt: 'hi', options: { num_predict: 4 } })]);
  const [head, body] = out.split('\r\n\r\n');
  assert.match(head, /content-type: application\/x-ndjson/i);
  assert.match(head, /transfer-encoding: chunked/i);
  const lines = body.split('\n').filter(Boolean).map((l) => JSON.parse(l));
  assert.ok(lines.length >= 2);
  assert.ok(lines.slice(0, -1).every((l) => l.done === false && typeof l.response === 'string'));
  const last = lines.at(-1);
  assert.equal(last.done, true);
  assert.equal(last.eval_count, 4);
  assert.equal(lines.slice(0, -1).length <= 4, true);
});

test('SSE framing from curl', async () => {
  const out = curl([`${srv.url}/v1/chat/completions`, '-H', 'Content-Type: application/json', '-d',
    JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 3, stream: true })]);
  const events = out.split('\n\n').filter(Boolean);
  assert.ok(events.every((e) => e.startsWith('data: ')), out);
  assert.equal(events.at(-1), 'data: [DONE]');
  const chunks = events.slice(0, -1).map((e) => JSON.parse(e.slice(6)));
  assert.equal(chunks.at(-1).choices[0].finish_reason, 'length');
});

test('bad requests are clear 4xx', async () => {
  const u = `${srv.url}/api/generate`;
  const cases = [
    ['{"model":', 400, /invalid JSON/],
    ['[]', 400, /JSON object/],
    [{ prompt: 'x' }, 400, /model is required/],
    [{ model: 5, prompt: 'x' }, 400, /model/],
    [{ model: MODEL, prompt: 5 }, 400, /prompt/],
    [{ model: MODEL, prompt: 'x', stream: 'yes' }, 400, /stream/],
    [{ model: MODEL, prompt: 'x', options: { temperature: 'hot' } }, 400, /temperature/],
    [{ model: MODEL, prompt: 'x', options: { temperature: -1 } }, 400, /temperature/],
    [{ model: MODEL, prompt: 'x', options: { num_ctx: 2 ** 31 } }, 400, /num_ctx/],
    [{ model: MODEL, prompt: 'x', options: { num_ctx: 1e30 } }, 400, /num_ctx/],
    [{ model: MODEL, prompt: 'x', options: { top_p: 2 } }, 400, /top_p/],
    [{ model: MODEL, prompt: 'x', options: { seed: 2 ** 64 } }, 400, /seed/],
    [{ model: MODEL, prompt: 'x', options: { stop: Array(10000).fill('a') } }, 400, /stop/],
    [{ model: MODEL, prompt: 'x', keep_alive: 'forever' }, 400, /keep_alive/],
    [{ model: MODEL, prompt: 'x', images: ['aGVsbG8='] }, 400, /vision/],
    [{ model: MODEL, prompt: 'x', format: 'yaml' }, 400, /format/],
    [{ model: 'nope', prompt: 'x' }, 404, /not found, try pulling it first/],
  ];
  for (const [body, status, re] of cases) {
    const r = await post(u, body);
    assert.equal(r.status, status, `${JSON.stringify(body).slice(0, 80)} -> ${r.status} ${r.text}`);
    assert.match(r.json.error, re);
  }
  const deep = '{"model":' + '['.repeat(10000) + ']'.repeat(10000) + '}';
  assert.equal((await post(u, deep)).status, 400);
  const chat = await post(`${srv.url}/api/chat`, { model: MODEL, messages: [{ role: 'wizard', content: 'x' }] });
  assert.equal(chat.status, 400);
});

// 400 "invalid model name" is the name validator's answer, given before any lookup in the store;
// a 404 would mean the name passed validation and was looked up as a path.
test('model names that try to escape the store fail name validation (400), never reach a lookup', async () => {
  const names = ['../../etc/passwd', 'a/../../b', '/abs', '%2e%2e%2f', 'x/y/z/w:t', 'a'.repeat(129), 'bad\u0000name',
    'trailing+', 'mödel', '..', 'a:b:c'];
  for (const name of names) {
    for (const [path, body] of [['/api/generate', { model: name, prompt: 'x' }], ['/api/show', { model: name }],
      ['/api/chat', { model: name, messages: [{ role: 'user', content: 'x' }] }], ['/api/embed', { model: name, input: 'x' }]]) {
      const r = await post(`${srv.url}${path}`, body);
      assert.equal(r.status, 400, `${path} ${JSON.stringify(name)} -> ${r.status} ${r.text}`);
      assert.match(r.json?.error ?? '', /^invalid model name/, `${path} ${JSON.stringify(name)} -> ${r.text}`);
      assert.doesNotMatch(r.json.error, /invalid model name.*invalid model name/, `said once: ${r.text}`);
    }
    const del = await fetch(`${srv.url}/api/delete`, { method: 'DELETE', body: JSON.stringify({ model: name }) });
    const delText = await del.text();
    assert.equal(del.status, 400, `delete ${JSON.stringify(name)} -> ${del.status} ${delText}`);
    assert.match(JSON.parse(delText).error, /^invalid model name/, `delete ${JSON.stringify(name)} -> ${delText}`);
    assert.doesNotMatch(JSON.parse(delText).error, /invalid model name.*invalid model name/, `said once: ${delText}`);
  }
  for (const d of ['sha256:../../x', 'sha256:' + 'a'.repeat(63), 'sha256:' + 'a'.repeat(65), 'sha256:' + 'A'.repeat(64)]) {
    const r = await fetch(`${srv.url}/api/blobs/${d}`, { method: 'HEAD' });
    assert.equal(r.status, 400, d);
  }
});

test('blob upload checks the digest', async () => {
  const body = 'hello blob';
  const { createHash } = await import('node:crypto');
  const digest = 'sha256:' + createHash('sha256').update(body).digest('hex');
  assert.equal((await fetch(`${srv.url}/api/blobs/${digest}`, { method: 'HEAD' })).status, 404);
  const wrong = await fetch(`${srv.url}/api/blobs/sha256:${'0'.repeat(64)}`, { method: 'POST', body });
  assert.equal(wrong.status, 400);
  assert.equal((await fetch(`${srv.url}/api/blobs/${digest}`, { method: 'POST', body })).status, 201);
  assert.equal((await fetch(`${srv.url}/api/blobs/${digest}`, { method: 'HEAD' })).status, 200);
});

test('oversized body is 413', async () => {
  const big = JSON.stringify({ model: MODEL, prompt: 'x'.repeat(9 << 20) });
  const r = await post(`${srv.url}/api/generate`, big);
  assert.equal(r.status, 413);
});

test('Host header allowlist on a loopback bind (DNS rebinding)', async () => {
  const bad = curl(['-o', '/dev/null', '-w', '%{http_code}', '-H', 'Host: evil.com', `${srv.url}/api/tags`]);
  assert.equal(bad, '403');
  for (const h of ['localhost', 'localhost:11434', '127.0.0.1', 'foo.localhost', '10.1.2.3', '[::1]:80'])
    assert.equal(curl(['-o', '/dev/null', '-w', '%{http_code}', '-H', `Host: ${h}`, `${srv.url}/api/tags`]), '200', h);
});

test('CORS: localhost origins allowed, unknown origins get no allow header', async () => {
  const ok = curl(['-i', '-X', 'OPTIONS', '-H', 'Origin: http://localhost:3000', '-H', 'Access-Control-Request-Method: POST',
    `${srv.url}/api/chat`]);
  assert.match(ok, /^HTTP\/1\.1 204/);
  assert.match(ok, /access-control-allow-origin: http:\/\/localhost:3000/i);
  const bad = curl(['-i', '-X', 'OPTIONS', '-H', 'Origin: https://evil.example', '-H', 'Access-Control-Request-Method: POST',
    `${srv.url}/api/chat`]);
  assert.doesNotMatch(bad, /access-control-allow-origin/i);
  assert.match(bad, /^HTTP\/1\.1 403/);
});

function raw(bytes, { waitMs = 3000 } = {}) {
  return new Promise((resolve) => {
    const s = net.connect(srv.port, '127.0.0.1', () => s.write(bytes));
    let out = '';
    s.on('data', (d) => { out += d.toString(); });
    s.on('close', () => resolve(out));
    s.on('error', () => resolve(out));
    const t = setTimeout(() => { s.destroy(); resolve(out); }, waitMs);
    s.on('close', () => clearTimeout(t));
  });
}

test('HTTP-level abuse: smuggling, header floods, garbage', async () => {
  assert.match(await raw('POST /api/tags HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'), /^HTTP\/1\.1 400/);
  let many = 'GET /api/tags HTTP/1.1\r\nHost: x\r\n';
  for (let i = 0; i < 1000; i++) many += `X-${i}: y\r\n`;
  assert.match(await raw(many + '\r\n'), /^HTTP\/1\.1 431/);
  assert.match(await raw(`GET /api/tags HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(100 * 1024)}\r\n\r\n`), /^HTTP\/1\.1 431/);
  assert.match(await raw('\x00\x01\x02garbage\r\n\r\n'), /^HTTP\/1\.1 400/);
  assert.match(await raw('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n'), /Ollama is running/);
});
