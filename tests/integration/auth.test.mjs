// API keys and roles (issue 12 item 1) and the audit log (item 7), against a real `paddock serve`
// with a keys file written by `paddock keys`: the role × route matrix (200-class vs 403), 401 vs
// 403 in each API's error shape with WWW-Authenticate, the probes without a key, the model
// allow-list, expiry, revocation picked up from the file, a key added and seen after SIGHUP, the
// upload sink refusing before the body, the real clients (openai, ollama-js) with and without a
// key, a non-loopback bind allowed once keys are configured, and audit lines without secrets or
// prompts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import OpenAI from 'openai';
import { Ollama } from 'ollama';
import { BIN, MODEL, makeStore, startServer, post, waitFor, scrape, metric, sleep } from './helpers.mjs';

const store = makeStore();
const tmp = mkdtempSync(join(tmpdir(), 'paddock-auth-'));
const KEYS = join(tmp, 'keys.json');
const AUDIT = join(tmp, 'audit.log');
const keys = {};
let srv;

function keysCmd(args) {
  return execFileSync(BIN, ['keys', ...args, '--file', KEYS], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}
function create(name, extra = []) {
  const token = keysCmd(['create', '--name', name, ...extra]).trim();
  assert.match(token, /^pdk_[0-9a-f]{12}_[0-9a-f]{64}$/);
  return { token, id: token.slice(4, 16) };
}
const bearer = (k) => ({ Authorization: `Bearer ${k.token}` });

before(async () => {
  keys.viewer = create('viewer', ['--role', 'viewer']);
  keys.user = create('user', ['--role', 'user']);
  keys.admin = create('admin', ['--role', 'admin']);
  keys.otherModel = create('other-model', ['--role', 'user', '--models', 'other:latest']);
  keys.tinyOnly = create('tiny-only', ['--role', 'admin', '--models', 'tiny']);
  keys.expired = create('expired', ['--expires', '2020-01-01']);
  srv = await startServer({ dir: store, args: ['--keys-file', KEYS, '--audit-log', AUDIT, '--keys-poll-ms', '100'] });
});
after(async () => {
  await srv?.stop();
  rmSync(store, { recursive: true, force: true });
  rmSync(tmp, { recursive: true, force: true });
});

async function call(method, path, body, headers = {}) {
  const r = await fetch(srv.url + path, {
    method, headers: { 'Content-Type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: r.status, json, text, headers: r.headers };
}

test('no key: 401 with WWW-Authenticate in each API\'s error shape; the probes need none', async () => {
  const o = await call('GET', '/api/tags');
  assert.equal(o.status, 401);
  assert.equal(o.headers.get('www-authenticate'), 'Bearer');
  assert.match(o.json.error, /missing API key/);
  const v = await call('GET', '/v1/models');
  assert.equal(v.status, 401);
  assert.equal(v.json.error.code, 'invalid_api_key');
  assert.equal(v.json.error.type, 'invalid_request_error');
  assert.match(v.json.error.message, /missing API key/);
  const bad = await call('GET', '/api/tags', undefined, { Authorization: `Bearer pdk_${keys.user.id}_${'0'.repeat(64)}` });
  assert.equal(bad.status, 401);
  assert.equal(bad.json.error, 'invalid API key');
  const junk = await call('GET', '/api/version', undefined, { Authorization: 'Bearer sk-not-ours' });
  assert.equal(junk.status, 401);
  for (const p of ['/livez', '/readyz']) assert.equal((await fetch(srv.url + p)).status, 200, p);
  // The probe paths are the only ones: an unknown path is 401 before 404.
  assert.equal((await call('GET', '/nope')).status, 401);
  assert.equal((await call('GET', '/nope', undefined, bearer(keys.viewer))).status, 404);
});

// Each route with a request that the role allowing it gets past access control with.
const ROUTES = [
  ['viewer', 'GET', '/api/version'],
  ['viewer', 'GET', '/api/tags'],
  ['viewer', 'POST', '/api/show', { model: MODEL }],
  ['viewer', 'GET', '/api/ps'],
  ['viewer', 'GET', '/v1/models'],
  ['viewer', 'GET', `/v1/models/${MODEL}`],
  ['user', 'POST', '/api/generate', { model: MODEL, prompt: 'hi', stream: false, options: { num_predict: 2 } }],
  ['user', 'POST', '/api/chat', { model: MODEL, messages: [{ role: 'user', content: 'hi' }], stream: false, options: { num_predict: 2 } }],
  ['user', 'POST', '/api/embed', { model: MODEL, input: 'hi' }],
  ['user', 'POST', '/api/embeddings', { model: MODEL, prompt: 'hi' }],
  ['user', 'POST', '/v1/chat/completions', { model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 }],
  ['user', 'POST', '/v1/completions', { model: MODEL, prompt: 'hi', max_tokens: 2 }],
  ['user', 'POST', '/v1/embeddings', { model: MODEL, input: 'hi' }],
  ['admin', 'POST', '/api/copy', { source: MODEL, destination: 'copied:ROLE' }],
  ['admin', 'DELETE', '/api/delete', { model: 'copied:ROLE' }],
  ['admin', 'POST', '/api/create', { model: 'made:ROLE', files: { 'x.gguf': `sha256:${'0'.repeat(64)}` } }],
  ['admin', 'POST', '/api/pull', { model: 'x' }],
  ['admin', 'POST', '/api/push', { model: 'x' }],
  ['admin', 'HEAD', `/api/blobs/sha256:${'0'.repeat(64)}`],
];
const RANK = { viewer: 1, user: 2, admin: 3 };

test('role × route matrix: allowed routes pass access control, the others are 403', async () => {
  const failures = [];
  for (const role of ['viewer', 'user', 'admin']) {
    for (const [need, method, path, body] of ROUTES) {
      const b = body && JSON.parse(JSON.stringify(body).replaceAll('ROLE', role));
      const r = await call(method, path, b, bearer(keys[role]));
      const allowed = RANK[role] >= RANK[need];
      if (allowed && (r.status === 401 || r.status === 403)) failures.push(`${role} ${method} ${path}: ${r.status} ${r.text}`);
      if (allowed && path === '/api/copy' && r.status !== 200) failures.push(`${role} copy: ${r.status} ${r.text}`);
      if (allowed && path.startsWith('/api/generate') && r.status !== 200) failures.push(`${role} generate: ${r.status}`);
      if (!allowed && r.status !== 403) failures.push(`${role} ${method} ${path}: want 403, got ${r.status}`);
      if (!allowed && method !== 'HEAD') {
        const msg = path.startsWith('/v1/') ? r.json?.error?.message : r.json?.error;
        if (!/may not use .* it needs role/.test(msg ?? '')) failures.push(`${role} ${path}: message ${r.text}`);
        if (path.startsWith('/v1/') && r.json?.error?.code !== 'insufficient_permissions') failures.push(`${role} ${path}: code`);
      }
    }
  }
  assert.deepEqual(failures, []);
});

test('model allow-list: 403 for other models (before any 404), the allowed model works', async () => {
  const g = await call('POST', '/api/generate', { model: MODEL, prompt: 'hi', stream: false }, bearer(keys.otherModel));
  assert.equal(g.status, 403);
  assert.match(g.json.error, /may not use model "tiny:latest"/);
  const o = await call('POST', '/v1/chat/completions', { model: MODEL, messages: [{ role: 'user', content: 'x' }] }, bearer(keys.otherModel));
  assert.equal(o.status, 403);
  assert.equal(o.json.error.code, 'model_not_allowed');
  // "other" does not exist: still 403, so a key cannot probe for models it may not use.
  const missing = await call('POST', '/api/generate', { model: 'nothere', prompt: 'x' }, bearer(keys.tinyOnly));
  assert.equal(missing.status, 403);
  const ok = await call('POST', '/api/generate', { model: 'tiny', prompt: 'hi', stream: false, options: { num_predict: 2 } }, bearer(keys.tinyOnly));
  assert.equal(ok.status, 200, ok.text);
  const show = await call('POST', '/api/show', { model: 'nothere' }, bearer(keys.tinyOnly));
  assert.equal(show.status, 403);
  const copy = await call('POST', '/api/copy', { source: MODEL, destination: 'elsewhere' }, bearer(keys.tinyOnly));
  assert.equal(copy.status, 403);
});

test('expired key: 401 "API key expired"', async () => {
  const r = await call('GET', '/api/tags', undefined, bearer(keys.expired));
  assert.equal(r.status, 401);
  assert.equal(r.json.error, 'API key expired');
});

test('revocation in the file is picked up without a restart; rotation hands out a working key', async () => {
  const k = create('to-revoke', ['--role', 'viewer']);
  assert.equal((await waitFor(async () => (await call('GET', '/api/tags', undefined, bearer(k))).status === 200, 5000)), true);
  keysCmd(['revoke', k.id]);
  const r = await waitFor(async () => {
    const x = await call('GET', '/api/tags', undefined, bearer(k));
    return x.status === 401 ? x : null;
  }, 5000);
  assert.ok(r, 'revoked key still accepted after 5 s');
  assert.equal(r.json.error, 'API key revoked');
  // Rotate: the new token works, the old one stops.
  const old = create('to-rotate', ['--role', 'viewer']);
  const fresh = keysCmd(['rotate', old.id]).trim();
  assert.match(fresh, /^pdk_/);
  const nk = { token: fresh, id: fresh.slice(4, 16) };
  assert.ok(await waitFor(async () => (await call('GET', '/api/tags', undefined, bearer(nk))).status === 200, 5000));
  assert.equal((await call('GET', '/api/tags', undefined, bearer(old))).status, 401);
  const list = JSON.parse(keysCmd(['list', '--json']));
  assert.equal(list.find((x) => x.id === old.id).status, 'revoked');
  assert.ok(!JSON.stringify(list).includes(fresh.slice(17)), 'list never shows secrets');
  assert.ok(!readFileSync(KEYS, 'utf8').includes(fresh.slice(17)), 'the file holds no secret');
});

test('SIGHUP reloads the keys file (no polling)', async () => {
  const file = join(tmp, 'hup.json');
  execFileSync(BIN, ['keys', 'create', '--file', file, '--role', 'viewer'], { stdio: 'ignore' });
  const s = await startServer({ dir: store, args: ['--keys-file', file, '--keys-poll-ms', '3600000', '--audit-log', join(tmp, 'hup.log')] });
  try {
    const token = execFileSync(BIN, ['keys', 'create', '--file', file, '--role', 'viewer'], { encoding: 'utf8' }).trim();
    const get = () => fetch(`${s.url}/api/tags`, { headers: { Authorization: `Bearer ${token}` } }).then((r) => r.status);
    await sleep(300);
    assert.equal(await get(), 401);
    s.proc.kill('SIGHUP');
    assert.equal(await waitFor(async () => (await get()) === 200, 5000), true);
    const m = await scrape(s.metricsUrl);
    assert.equal(metric(m.samples, 'paddock_keys_reloads_total', { result: 'ok' }), 1);
  } finally {
    await s.stop();
  }
});

test('blob uploads are refused before the body without an admin key', async () => {
  const digest = `sha256:${'1'.repeat(64)}`;
  const none = await fetch(`${srv.url}/api/blobs/${digest}`, { method: 'POST', body: 'x' });
  assert.equal(none.status, 401);
  const user = await fetch(`${srv.url}/api/blobs/${digest}`, { method: 'POST', body: 'x', headers: bearer(keys.user) });
  assert.equal(user.status, 403);
  const admin = await fetch(`${srv.url}/api/blobs/${digest}`, { method: 'POST', body: 'x', headers: bearer(keys.admin) });
  assert.equal(admin.status, 400);  // past access control: the digest does not match the body
});

test('the real clients work with a key and get clear errors without one', async () => {
  const ok = new OpenAI({ baseURL: `${srv.url}/v1`, apiKey: keys.user.token, maxRetries: 0 });
  const c = await ok.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 3 });
  assert.ok(c.choices[0].message);
  const stream = await ok.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 3, stream: true });
  let n = 0;
  for await (const chunk of stream) if (chunk.choices?.length) n++;
  assert.ok(n > 0);
  const nokey = new OpenAI({ baseURL: `${srv.url}/v1`, apiKey: 'sk-wrong', maxRetries: 0 });
  await assert.rejects(nokey.models.list(), (e) => e instanceof OpenAI.AuthenticationError && e.status === 401 &&
    e.code === 'invalid_api_key' && /invalid API key/.test(e.message));
  const viewer = new OpenAI({ baseURL: `${srv.url}/v1`, apiKey: keys.viewer.token, maxRetries: 0 });
  await assert.rejects(viewer.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'x' }] }),
    (e) => e instanceof OpenAI.PermissionDeniedError && e.status === 403);

  const ol = new Ollama({ host: srv.url, headers: bearer(keys.user) });
  const g = await ol.generate({ model: MODEL, prompt: 'hi', options: { num_predict: 3 } });
  assert.equal(g.done, true);
  const ch = await ol.chat({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], stream: true, options: { num_predict: 3 } });
  let parts = 0;
  for await (const p of ch) if (p.message) parts++;
  assert.ok(parts > 0);
  const anon = new Ollama({ host: srv.url });
  await assert.rejects(anon.list(), (e) => e.status_code === 401 && /missing API key/.test(e.message));
  const ov = new Ollama({ host: srv.url, headers: bearer(keys.viewer) });
  await assert.rejects(ov.delete({ model: MODEL }), (e) => e.status_code === 403 && /needs role admin/.test(e.message));
});

test('the paddock CLI sends PADDOCK_API_KEY', () => {
  const cli = (key, args) => spawnSync(BIN, args, { encoding: 'utf8', timeout: 30000,
    env: { ...process.env, PADDOCK_HOST: srv.url, OLLAMA_HOST: '', PADDOCK_API_KEY: key } });
  let r = cli(keys.viewer.token, ['list']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^tiny:latest\s/m);
  r = cli('', ['list']);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /missing API key/);
  r = cli(keys.viewer.token, ['rm', 'nothing:latest']);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /needs role admin/);
});

test('audit log: admin actions and auth failures, with key ids and never secrets or prompts', async () => {
  const secretPrompt = 'the-prompt-that-must-not-be-logged';
  await call('POST', '/api/generate', { model: MODEL, prompt: secretPrompt, stream: false, options: { num_predict: 2 } }, bearer(keys.user));
  await call('POST', '/api/copy', { source: MODEL, destination: 'audited:copy' }, bearer(keys.admin));
  await call('GET', '/api/tags', undefined, { Authorization: `Bearer pdk_${keys.viewer.id}_${'f'.repeat(64)}` });
  await call('POST', '/api/delete', {}, bearer(keys.viewer));
  const lines = await waitFor(() => {
    const ls = readFileSync(AUDIT, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    return ls.some((l) => l.route === '/api/copy' && l.model?.includes('audited:copy')) ? ls : null;
  }, 5000);
  assert.ok(lines, 'no audit line for the copy');
  const copy = lines.find((l) => l.route === '/api/copy' && l.model?.includes('audited:copy'));
  assert.equal(copy.event, 'admin');
  assert.equal(copy.key_id, keys.admin.id);
  assert.equal(copy.role, 'admin');
  assert.equal(copy.status, 200);
  assert.equal(copy.client, '127.0.0.1');
  assert.equal(typeof copy.duration_s, 'number');
  const bad = lines.find((l) => l.event === 'auth_failure' && l.key_id === keys.viewer.id && l.reason === 'invalid_key');
  assert.ok(bad, 'no audit line for the bad secret');
  assert.equal(bad.status, 401);
  assert.ok(lines.some((l) => l.event === 'auth_failure' && l.reason === 'missing_key' && l.key_id === null));
  const forbidden = lines.find((l) => l.event === 'forbidden' && l.route === '/api/delete');
  assert.equal(forbidden.role, 'viewer');
  assert.equal(forbidden.status, 403);
  assert.ok(lines.some((l) => l.reason === 'expired_key'));
  assert.ok(lines.some((l) => l.reason === 'model' && l.model === 'tiny:latest'));
  const text = readFileSync(AUDIT, 'utf8') + srv.stderr();
  for (const k of Object.values(keys)) assert.ok(!text.includes(k.token.slice(17)), 'a secret reached a log');
  assert.ok(!text.includes(secretPrompt), 'a prompt reached a log');
  assert.ok(!lines.some((l) => l.route === '/api/generate' && l.status === 200), 'inference is not audited by default');
  // Rejections by reason (the metrics family shared with the HTTP layer).
  const m = await scrape(srv.metricsUrl);
  assert.ok(metric(m.samples, 'paddock_rejected_requests_total', { code: '401', reason: 'unauthorized' }) > 0);
  assert.ok(metric(m.samples, 'paddock_rejected_requests_total', { code: '403', reason: 'forbidden' }) > 0);
});

test('--log-prompts audits inference with its prompt and output', async () => {
  const log = join(tmp, 'prompts.log');
  const s = await startServer({ dir: store, args: ['--keys-file', KEYS, '--audit-log', log, '--log-prompts'] });
  try {
    const r = await post(`${s.url}/api/generate`, { model: MODEL, prompt: 'log-me-please', stream: false, options: { num_predict: 2 } }, bearer(keys.user));
    assert.equal(r.status, 200);
    const line = await waitFor(() => readFileSync(log, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l))
      .find((l) => l.event === 'inference'), 5000);
    assert.ok(line);
    assert.match(line.prompt, /log-me-please/);
    assert.match(line.output, /"done":true/);
    assert.equal(line.key_id, keys.user.id);
  } finally {
    await s.stop();
  }
});

test('keys configured: a non-loopback bind starts without --insecure-no-auth, and still needs keys', async () => {
  const proc = spawn(BIN, ['serve', '--host', '0.0.0.0:0', '--models', join(store, 'models'), '--keys-file', KEYS,
    '--metrics-addr', 'off', '--audit-log', join(tmp, 'bind.log')], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PADDOCK_HOST: '', OLLAMA_HOST: '' } });
  try {
    const port = await new Promise((resolve, reject) => {
      let out = '', err = '';
      proc.stdout.on('data', (d) => { out += d; const m = out.match(/listening on http:\/\/[^\n]*:(\d+)\n/); if (m) resolve(Number(m[1])); });
      proc.stderr.on('data', (d) => { err += d; });
      proc.on('exit', (c) => reject(new Error(`exited ${c}: ${err}`)));
    });
    assert.equal((await fetch(`http://127.0.0.1:${port}/api/tags`)).status, 401);
    assert.equal((await fetch(`http://127.0.0.1:${port}/api/tags`, { headers: bearer(keys.viewer) })).status, 200);
  } finally {
    proc.kill('SIGKILL');
  }
});

test('a bad keys file stops the server from starting; a bad edit keeps the keys in force', async () => {
  const bad = join(tmp, 'bad.json');
  execFileSync('sh', ['-c', `echo '{"keys": [{"id": "zz"}]}' > ${bad}`]);
  const r = (() => {
    try { execFileSync(BIN, ['serve', '--host', '127.0.0.1:0', '--models', join(store, 'models'), '--keys-file', bad, '--metrics-addr', 'off'], { stdio: 'pipe', timeout: 20000 }); return null; } catch (e) { return e; }
  })();
  assert.ok(r && r.status !== 0);
  assert.match(r.stderr.toString(), /keys file .*bad\.json: key #1: id must be/);
});
