// Rate limits (issue 12 item 2) against a real `paddock serve`: per-key requests per minute with
// 429 + Retry-After + X-RateLimit-*, other keys unaffected, concurrent streams, generated tokens
// per minute, a global limit, the OpenAI client's RateLimitError; and with a real redis-server
// started here: two server processes sharing one limit, Redis going away with fail-open (admitted,
// counted) and fail-closed (503, counted).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import { spawn, execFileSync } from 'node:child_process';
import OpenAI from 'openai';
import { BIN, MODEL, makeStore, startServer, post, waitFor, scrape, metric, sleep } from './helpers.mjs';

const store = makeStore();
const tmp = mkdtempSync(join(tmpdir(), 'paddock-rl-'));
const KEYS = join(tmp, 'keys.json');
let srv;
const k = {};

function create(extra) {
  const token = execFileSync(BIN, ['keys', 'create', '--file', KEYS, ...extra], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  return { token, id: token.slice(4, 16), h: { Authorization: `Bearer ${token}` } };
}
const gen = (url, key, extra = {}) => post(`${url}/api/generate`,
  { model: MODEL, prompt: 'hi', stream: false, options: { num_predict: 2 }, ...extra }, key.h);

before(async () => {
  k.rpm3 = create(['--requests-per-minute', '3']);
  k.free = create([]);
  k.streams1 = create(['--concurrent-streams', '1']);
  k.tpm5 = create(['--tokens-per-minute', '5']);
  k.oai = create(['--requests-per-minute', '1']);
  k.shared = create(['--requests-per-minute', '4']);
  srv = await startServer({ dir: store, args: ['--keys-file', KEYS, '--audit-log', join(tmp, 'audit.log')] });
});
after(async () => {
  await srv?.stop();
  rmSync(store, { recursive: true, force: true });
  rmSync(tmp, { recursive: true, force: true });
});

test('requests per minute: headers count down, then 429 with Retry-After; other keys unaffected', async () => {
  for (const left of [2, 1, 0]) {
    const r = await gen(srv.url, k.rpm3);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('x-ratelimit-limit'), '3');
    assert.equal(r.headers.get('x-ratelimit-remaining'), String(left));
    assert.ok(Number(r.headers.get('x-ratelimit-reset')) >= 1);
  }
  const r = await gen(srv.url, k.rpm3);
  assert.equal(r.status, 429);
  const retry = Number(r.headers.get('retry-after'));
  assert.ok(retry >= 1 && retry <= 20, `Retry-After ${retry}`);  // 3/min: one request every 20 s
  assert.equal(r.headers.get('x-ratelimit-limit'), '3');
  assert.equal(r.headers.get('x-ratelimit-remaining'), '0');
  assert.match(r.json.error, /rate limit reached: requests/);
  assert.equal((await gen(srv.url, k.free)).status, 200);
  // Viewer-class routes are not inference: not counted.
  assert.equal((await fetch(`${srv.url}/api/tags`, { headers: k.rpm3.h })).status, 200);
  const m = await scrape(srv.metricsUrl);
  assert.ok(metric(m.samples, 'paddock_ratelimit_refusals_total', { limit: 'requests', scope: 'key' }) >= 1);
  assert.ok(metric(m.samples, 'paddock_rejected_requests_total', { code: '429', reason: 'rate_limited' }) >= 1);
});

test('the OpenAI client sees a RateLimitError with its headers', async () => {
  const c = new OpenAI({ baseURL: `${srv.url}/v1`, apiKey: k.oai.token, maxRetries: 0 });
  await c.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'x' }], max_tokens: 2 });
  await assert.rejects(c.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'x' }], max_tokens: 2 }),
    (e) => e instanceof OpenAI.RateLimitError && e.status === 429 && e.code === 'rate_limit_exceeded' &&
      Number(e.headers.get('retry-after')) >= 1 && e.headers.get('x-ratelimit-limit') === '1');
});

test('concurrent streams: a second request while one streams is 429; after it ends, admitted', async () => {
  const ac = new AbortController();
  const first = await fetch(`${srv.url}/api/generate`, { method: 'POST', signal: ac.signal, headers: k.streams1.h,
    body: JSON.stringify({ model: MODEL, prompt: 'hi', stream: true, options: { num_predict: 100000 } }) });
  assert.equal(first.status, 200);
  const reader = first.body.getReader();
  await reader.read();  // streaming now
  const second = await gen(srv.url, k.streams1);
  assert.equal(second.status, 429);
  assert.match(second.json.error, /streams/);
  ac.abort();
  // The slot is given back when the first request ends (here: its client leaves).
  assert.ok(await waitFor(async () => (await gen(srv.url, k.streams1)).status === 200, 10000));
});

test('generated tokens per minute: a request spending the bucket blocks the next one', async () => {
  const r = await gen(srv.url, k.tpm5, { options: { num_predict: 8 } });
  assert.equal(r.status, 200);
  assert.ok(r.json.eval_count >= 6, `eval_count ${r.json.eval_count}`);
  const next = await gen(srv.url, k.tpm5);
  assert.equal(next.status, 429);
  assert.match(next.json.error, /tokens/);
  assert.ok(Number(next.headers.get('retry-after')) >= 10);
});

test('a global limit holds across keys', async () => {
  const s = await startServer({ dir: store, args: ['--keys-file', KEYS, '--global-requests-per-minute', '2', '--audit-log', join(tmp, 'g.log')] });
  try {
    assert.equal((await gen(s.url, k.free)).status, 200);
    assert.equal((await gen(s.url, k.rpm3)).status, 200);
    const r = await gen(s.url, k.streams1);
    assert.equal(r.status, 429);
    assert.match(r.json.error, /global limit of 2/);
  } finally {
    await s.stop();
  }
});

async function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
}
async function startRedis() {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'paddock-redis-'));
  const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
    '--dir', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`redis did not start: ${out}`)), 10000);
    proc.stdout.on('data', (d) => { out += d; if (/Ready to accept connections/.test(out)) { clearTimeout(t); resolve(); } });
    proc.on('exit', (c) => { clearTimeout(t); reject(new Error(`redis exited ${c}: ${out}`)); });
  });
  return {
    port, url: `redis://127.0.0.1:${port}`,
    async stop() {
      if (proc.exitCode === null) { const d = new Promise((r) => proc.on('exit', r)); proc.kill('SIGKILL'); await d; }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

test('Redis: two server processes share one per-key limit', async () => {
  const redis = await startRedis();
  const a = await startServer({ dir: store, args: ['--keys-file', KEYS, '--ratelimit-redis', redis.url, '--audit-log', join(tmp, 'a.log')] });
  const b = await startServer({ dir: store, args: ['--keys-file', KEYS, '--ratelimit-redis', redis.url, '--audit-log', join(tmp, 'b.log')] });
  try {
    const got = [];
    for (const s of [a, b, a, b]) got.push((await gen(s.url, k.shared)).status);
    assert.deepEqual(got, [200, 200, 200, 200]);
    const ra = await gen(a.url, k.shared);
    const rb = await gen(b.url, k.shared);
    assert.equal(ra.status, 429);
    assert.equal(rb.status, 429);
    assert.equal(rb.headers.get('x-ratelimit-limit'), '4');
    assert.ok(Number(rb.headers.get('retry-after')) >= 1);
    // The limit was not kept in each process: with memory buckets each would have admitted 4.
    const keysInRedis = execFileSync('redis-cli', ['-p', String(redis.port), '--scan', '--pattern', 'paddock:rl:*'], { encoding: 'utf8' });
    assert.match(keysInRedis, new RegExp(`paddock:rl:key:${k.shared.id}:req`));
    assert.ok(!keysInRedis.includes(k.shared.token.slice(17)));
  } finally {
    await a.stop();
    await b.stop();
    await redis.stop();
  }
});

test('Redis: streams are shared too and released when the request ends', async () => {
  const redis = await startRedis();
  const a = await startServer({ dir: store, args: ['--keys-file', KEYS, '--ratelimit-redis', redis.url, '--audit-log', join(tmp, 'c.log')] });
  const b = await startServer({ dir: store, args: ['--keys-file', KEYS, '--ratelimit-redis', redis.url, '--audit-log', join(tmp, 'd.log')] });
  try {
    const ac = new AbortController();
    const first = await fetch(`${a.url}/api/generate`, { method: 'POST', signal: ac.signal, headers: k.streams1.h,
      body: JSON.stringify({ model: MODEL, prompt: 'hi', stream: true, options: { num_predict: 100000 } }) });
    await first.body.getReader().read();
    assert.equal((await gen(b.url, k.streams1)).status, 429);
    ac.abort();
    assert.ok(await waitFor(async () => (await gen(b.url, k.streams1)).status === 200, 10000));
  } finally {
    await a.stop();
    await b.stop();
    await redis.stop();
  }
});

test('Redis down: fail-open admits and counts; fail-closed refuses with 503 and counts', async () => {
  const redis = await startRedis();
  const open = await startServer({ dir: store, args: ['--keys-file', KEYS, '--ratelimit-redis', redis.url, '--audit-log', join(tmp, 'e.log')] });
  const closed = await startServer({ dir: store, args: ['--keys-file', KEYS, '--ratelimit-redis', redis.url,
    '--ratelimit-fail-closed', '--audit-log', join(tmp, 'f.log')] });
  try {
    // Keys with limits go to Redis (a key without any, and no global limit, never asks it).
    assert.equal((await gen(open.url, k.rpm3)).status, 200);
    assert.equal((await gen(closed.url, k.shared)).status, 200);
    await redis.stop();
    const o = await gen(open.url, k.rpm3);
    assert.equal(o.status, 200, o.text);
    assert.equal(o.headers.get('x-ratelimit-limit'), null);
    const c = await gen(closed.url, k.shared);
    assert.equal(c.status, 503);
    assert.equal(c.headers.get('retry-after'), '1');
    assert.match(c.json.error, /rate limit store unavailable/);
    const oc = await post(`${closed.url}/v1/completions`, { model: MODEL, prompt: 'x', max_tokens: 2 }, k.shared.h);
    assert.equal(oc.status, 503);
    assert.equal(oc.json.error.code, 'rate_limit_store_unavailable');
    const mo = await scrape(open.metricsUrl);
    assert.ok(metric(mo.samples, 'paddock_ratelimit_store_errors_total', { mode: 'open' }) >= 1);
    const mc = await scrape(closed.metricsUrl);
    assert.ok(metric(mc.samples, 'paddock_ratelimit_store_errors_total', { mode: 'closed' }) >= 2);
    assert.match(open.stderr(), /rate limit store \(Redis\) error: .*fail-open/);
    assert.match(closed.stderr(), /fail-closed/);
  } finally {
    await open.stop();
    await closed.stop();
  }
});
