// Hardening against a hostile or careless client (issue 20), black-box against a real server:
// request smuggling through Transfer-Encoding, creates the store could not read back, manifests
// only a hand edit could remove, connection and body-memory caps, keep_alive overflow, store paths
// and free disk space in error texts, quantize values, /v1 error shapes and percent-decoded ids.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { mkdirSync, writeFileSync, existsSync, readdirSync, unlinkSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { startServer, MODEL, BIN, post, sleep } from './helpers.mjs';

let srv;
before(async () => { srv = await startServer({ args: ['--max-connections', '40', '--max-body-memory', '1M'] }); });
after(async () => {
  assert.equal(srv.proc.exitCode, null, 'server crashed during the tests');
  await srv?.stop();
});

// Sends raw bytes; resolves with everything read until the server closes (or `ms` passes).
function raw(bytes, ms = 3000) {
  return new Promise((resolve) => {
    const s = net.connect(srv.port, '127.0.0.1', () => s.write(bytes));
    let buf = '';
    s.on('data', (d) => { buf += d; });
    const t = setTimeout(() => { s.destroy(); resolve({ text: buf, closed: false }); }, ms);
    s.on('close', () => { clearTimeout(t); resolve({ text: buf, closed: true }); });
    s.on('error', () => {});
  });
}

test('an unknown Transfer-Encoding is a 400 and a close: the body never runs as a request', async () => {
  await post(`${srv.url}/api/copy`, { source: MODEL, destination: 'victim:latest' });
  const smuggled = JSON.stringify({ model: 'victim:latest' });
  const inner = `DELETE /api/delete HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
    `Content-Length: ${smuggled.length}\r\n\r\n${smuggled}`;
  for (const te of ['xchunked', 'identity', '', 'chunked, identity']) {
    const r = await raw(`POST /api/show HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: ${te}\r\n\r\n${inner}`);
    assert.match(r.text, /^HTTP\/1\.1 400 /, `TE "${te}": ${r.text}`);
    assert.equal((r.text.match(/HTTP\/1\.1 /g) ?? []).length, 1, `TE "${te}": a second response came: ${r.text}`);
    assert.ok(r.closed, `TE "${te}": connection left open`);
  }
  const show = await post(`${srv.url}/api/show`, { model: 'victim:latest' });
  assert.equal(show.status, 200, 'the smuggled DELETE ran');
  // Bare-LF chunk lines: refused at once, not a wait for the body timeout.
  const t0 = Date.now();
  const r = await raw('POST /api/show HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n2\n{}\n0\n\n');
  assert.match(r.text, /^HTTP\/1\.1 400 /);
  assert.ok(Date.now() - t0 < 2000);
});

test('a create over the store limits is a 400 and writes nothing; delete removes any manifest', async () => {
  const blobs = join(srv.dir, 'models', 'blobs');
  const before = readdirSync(blobs).length;
  const license = Array.from({ length: 50000 }, (_, i) => `license ${i}`);
  const r = await post(`${srv.url}/api/create`, { model: 'many-licenses', from: MODEL, license, stream: false });
  assert.equal(r.status, 400, r.text);
  assert.match(r.json.error, /too many layers/);
  assert.equal(readdirSync(blobs).length, before, 'blobs were written for a refused create');
  assert.equal((await post(`${srv.url}/api/show`, { model: 'many-licenses' })).status, 404);
  // A manifest no reader accepts (too large, not JSON) still deletes.
  const dir = join(srv.dir, 'models', 'manifests', 'registry.ollama.ai', 'library', 'junk');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'latest'), ' '.repeat(7 << 20) + '{}');
  assert.equal((await post(`${srv.url}/api/show`, { model: 'junk' })).status >= 400, true);
  const del = await fetch(`${srv.url}/api/delete`, { method: 'DELETE', body: JSON.stringify({ model: 'junk' }) });
  assert.equal(del.status, 200, await del.text());
  assert.equal(existsSync(join(dir, 'latest')), false);
});

test('quantize: 400 for an unknown type, 501 for a known one', async () => {
  for (const [q, status] of [['q4_K_M', 501], ['Q8_0', 501], ['bogus', 400], [5, 400]]) {
    const r = await post(`${srv.url}/api/create`, { model: 'q', from: MODEL, quantize: q, stream: false });
    assert.equal(r.status, status, `${q}: ${r.text}`);
  }
});

test('keep_alive of 2^63 or 1e308 is forever, not a deadline in the past', async () => {
  for (const ka of ['9223372036854775808', '1e308']) {
    const r = await post(`${srv.url}/api/generate`, `{"model":"${MODEL}","prompt":"","keep_alive":${ka}}`);
    assert.equal(r.status, 200, r.text);
    const ps = await (await fetch(`${srv.url}/api/ps`)).json();
    const m = ps.models.find((x) => x.name === MODEL);
    assert.ok(m, JSON.stringify(ps));
    assert.ok(Date.parse(m.expires_at) > Date.now() + 50 * 365 * 86400e3, `expires_at ${m.expires_at}`);
  }
});

test('error texts name models and digests, not store paths or free disk space', async () => {
  // A blob far larger than the disk (but under the 512 GiB blob cap).
  const digest = 'sha256:' + 'ab'.repeat(32);
  const big = await raw(`POST /api/blobs/${digest} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ${500 * 2 ** 30}\r\n\r\n`);
  assert.match(big.text, /^HTTP\/1\.1 507/, big.text);
  assert.doesNotMatch(big.text, /free/);
  // A model whose weights blob went missing: the load error names the digest, not the file.
  const gguf = join(srv.dir, 'other.gguf');
  execFileSync(BIN, ['gguf-tiny', gguf, '--n-ctx', '256', '--seed', '11']);
  const bytes = readFileSync(gguf);
  const wd = 'sha256:' + createHash('sha256').update(bytes).digest('hex');
  assert.equal((await fetch(`${srv.url}/api/blobs/${wd}`, { method: 'POST', body: bytes })).status, 201);
  const c = await post(`${srv.url}/api/create`, { model: 'broken', files: { 'x.gguf': wd }, stream: false });
  assert.equal(c.status, 200, c.text);
  unlinkSync(join(srv.dir, 'models', 'blobs', wd.replace(':', '-')));
  const g = await post(`${srv.url}/api/generate`, { model: 'broken', prompt: 'x', stream: false });
  assert.ok(g.status >= 400, g.text);
  for (const r of [big, c, g]) assert.ok(!r.text.includes(join(srv.dir, 'models')), r.text);
  assert.ok(g.text.includes(wd) || g.text.includes('broken'), g.text);
});

test('/v1 Host-check errors are in OpenAI\'s shape; %3A in /v1/models/{id} is decoded', async () => {
  const r = await raw('GET /v1/models HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n');
  assert.match(r.text, /^HTTP\/1\.1 403/);
  const body = JSON.parse(r.text.slice(r.text.indexOf('\r\n\r\n') + 4));
  assert.equal(typeof body.error, 'object', r.text);
  assert.equal(body.error.message, 'host not allowed');
  assert.equal(typeof body.error.type, 'string');
  const m = await fetch(`${srv.url}/v1/models/${MODEL.replace(':', '%3A')}`);
  assert.equal(m.status, 200, await m.clone().text());
  assert.equal((await m.json()).id, MODEL);
  assert.equal((await fetch(`${srv.url}/v1/models/tiny%3`)).status, 400);
});

test('connections over --max-connections get 503 at once', async () => {
  const socks = [];
  try {
    for (let i = 0; i < 45; i++) {
      socks.push(await new Promise((res) => { const s = net.connect(srv.port, '127.0.0.1', () => res(s)); s.on('error', () => {}); }));
    }
    await sleep(200);
    const r = await raw('GET /api/version HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    assert.match(r.text, /^HTTP\/1\.1 503/, r.text);
    assert.match(r.text, /Retry-After: 1/i);
  } finally { for (const s of socks) s.destroy(); }
  await sleep(300);
  assert.equal((await fetch(`${srv.url}/api/version`)).status, 200);
});

test('request bodies over --max-body-memory in all get 503', async () => {
  // Three bodies of 600 KB arriving slowly: the third would take the total over 1 MiB.
  const socks = [];
  const texts = [];
  try {
    for (let i = 0; i < 3; i++) {
      const s = net.connect(srv.port, '127.0.0.1');
      s.on('error', () => {});
      let buf = '';
      s.on('data', (d) => { buf += d; });
      texts.push(() => buf);
      await new Promise((res) => s.on('connect', res));
      s.write(`POST /api/show HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 600000\r\n\r\n{"model":"`);
      socks.push(s);
      await sleep(100);
    }
    await sleep(300);
    assert.match(texts[2](), /^HTTP\/1\.1 503/, texts[2]());
    assert.equal(texts[0](), '');
  } finally { for (const s of socks) s.destroy(); }
});
