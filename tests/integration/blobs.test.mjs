// Blob uploads streamed to disk: a GGUF bigger than the JSON body limit goes up with constant
// server memory (VmHWM), lands under its digest, and becomes a model through ollama-js `create`
// (files) that then generates; a wrong digest, an oversized Content-Length and a client that
// disconnects mid-upload leave nothing behind; SIGTERM during an upload or a create exits cleanly
// (no crash under ASan) with no temp file and no half-made model.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createReadStream, readFileSync, readdirSync, statSync, existsSync, rmSync, mkdtempSync } from 'node:fs';
import { request } from 'node:http';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ollama } from 'ollama';
import { BIN, startServer, makeStore, sleep, waitFor } from './helpers.mjs';

const kMaxBlob = 160 << 20;  // PADDOCK_MAX_BLOB_SIZE for these servers
let srv, ollama, big, bigDigest, bigSize, work;

function sha256File(path) {
  return 'sha256:' + createHash('sha256').update(readFileSync(path)).digest('hex');
}

function vmKiB(pid, field) {
  const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'));
  return Number(m[1]);
}

const blobsDir = (s) => join(s.dir, 'models', 'blobs');
const temps = (s) => readdirSync(blobsDir(s)).filter((f) => f.startsWith('.tmp-'));

// POST /api/blobs/<digest> with a body from `source` (a path or a Buffer); resolves {status, body}.
function upload(url, digest, source, { headers = {}, abortAfter = 0 } = {}) {
  return new Promise((resolve, reject) => {
    const size = typeof source === 'string' ? statSync(source).size : source.length;
    const req = request(`${url}/api/blobs/${digest}`, {
      method: 'POST', headers: { 'Content-Length': String(size), ...headers },
    }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    req.on('error', (e) => (abortAfter ? resolve({ status: 0, body: String(e) }) : reject(e)));
    if (typeof source !== 'string') return req.end(source);
    createReadStream(source).pipe(req);
  });
}

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'paddock-blob-'));
  big = join(work, 'big.gguf');
  // ~85 MiB of f32 weights: bigger than the 64 MiB this test promises and the 8 MiB JSON limit.
  execFileSync(BIN, ['gguf-tiny', big, '--n-embd', '768', '--n-ff', '2048', '--n-layer', '3', '--n-head', '12',
    '--n-head-kv', '4', '--n-ctx', '512', '--seed', '11']);
  bigSize = statSync(big).size;
  assert.ok(bigSize > (64 << 20), `test model is ${bigSize} bytes`);
  bigDigest = sha256File(big);
  // Under ASan (CI) freed blocks sit in the allocator's quarantine (256 MB by default) instead of
  // being reused, so a steady alloc/free per read would look like growth: measure with a small
  // quarantine (leak and error detection stay on).
  const asan = [process.env.ASAN_OPTIONS, 'quarantine_size_mb=4'].filter(Boolean).join(':');
  srv = await startServer({ env: { PADDOCK_MAX_BLOB_SIZE: String(kMaxBlob), ASAN_OPTIONS: asan } });
  ollama = new Ollama({ host: srv.url });
});
after(async () => {
  await srv?.stop();
  rmSync(work, { recursive: true, force: true });
});

test('a blob larger than the body limit streams to disk in constant memory', async () => {
  // Warm up the server's allocator so the high-water mark reflects steady state.
  await fetch(`${srv.url}/api/tags`);
  const before = vmKiB(srv.proc.pid, 'VmHWM');
  assert.equal((await fetch(`${srv.url}/api/blobs/${bigDigest}`, { method: 'HEAD' })).status, 404);
  const r = await upload(srv.url, bigDigest, big);
  assert.equal(r.status, 201, r.body);
  const grew = vmKiB(srv.proc.pid, 'VmHWM') - before;
  assert.ok(grew * 1024 < bigSize / 4, `server peak memory grew by ${grew} KiB for a ${bigSize}-byte blob`);
  assert.equal((await fetch(`${srv.url}/api/blobs/${bigDigest}`, { method: 'HEAD' })).status, 200);
  const onDisk = join(blobsDir(srv), bigDigest.replace(':', '-'));
  assert.equal(statSync(onDisk).size, bigSize);
  assert.equal(sha256File(onDisk), bigDigest);
  assert.deepEqual(temps(srv), []);
});

test('ollama-js create from the uploaded blob, then generate with it', async () => {
  const progress = [];
  const stream = await ollama.create({ model: 'uploaded:latest', files: { 'big.gguf': bigDigest }, stream: true,
    parameters: { temperature: 0, num_predict: 4 } });
  for await (const p of stream) progress.push(p.status);
  assert.equal(progress.at(-1), 'success');
  const list = await ollama.list();
  const m = list.models.find((x) => x.name === 'uploaded:latest');
  assert.ok(m, JSON.stringify(list));
  assert.ok(m.size >= bigSize);
  const g = await ollama.generate({ model: 'uploaded:latest', prompt: 'hello', stream: false });
  assert.equal(g.done, true);
  assert.equal(g.eval_count, 4);
});

test('wrong digest: 400 and nothing left behind', async () => {
  const data = Buffer.alloc(3 << 20, 7);
  const wrong = 'sha256:' + createHash('sha256').update('not this').digest('hex');
  const n = readdirSync(blobsDir(srv)).length;
  const r = await upload(srv.url, wrong, data);
  assert.equal(r.status, 400, r.body);
  assert.match(JSON.parse(r.body).error, /digest mismatch/);
  assert.equal(readdirSync(blobsDir(srv)).length, n);
  assert.equal((await fetch(`${srv.url}/api/blobs/${wrong}`, { method: 'HEAD' })).status, 404);
  // A malformed digest is refused before the body is read.
  const bad = await upload(srv.url, 'sha256:../../etc', Buffer.from('x'));
  assert.equal(bad.status, 400);
});

test('Content-Length over the maximum blob size: 413 before the body is sent', async () => {
  const r = await new Promise((resolve, reject) => {
    const req = request(`${srv.url}/api/blobs/sha256:${'a'.repeat(64)}`, {
      method: 'POST', headers: { 'Content-Length': String(kMaxBlob + 1) },
    }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    req.on('error', reject);
    req.flushHeaders();  // headers only: the answer must come without any body
  });
  assert.equal(r.status, 413);
  assert.deepEqual(temps(srv), []);
});

test('client disconnect mid-upload removes the temp file', async () => {
  const total = 32 << 20;
  const digest = 'sha256:' + createHash('sha256').update(Buffer.alloc(total, 1)).digest('hex');
  const req = request(`${srv.url}/api/blobs/${digest}`, { method: 'POST', headers: { 'Content-Length': String(total) } });
  req.on('error', () => {});
  req.write(Buffer.alloc(4 << 20, 1));
  // While the upload is open its bytes are in a temp file in the store, not in memory.
  const seen = await waitFor(() => temps(srv).length === 1, 10000);
  assert.ok(seen, 'a temp file while uploading');
  req.destroy();
  assert.ok(await waitFor(() => temps(srv).length === 0, 10000), `left: ${temps(srv)}`);
  assert.equal((await fetch(`${srv.url}/api/blobs/${digest}`, { method: 'HEAD' })).status, 404);
});

test('concurrent uploads of the same blob both succeed with one intact blob', async () => {
  const data = Buffer.alloc(5 << 20, 3);
  const digest = 'sha256:' + createHash('sha256').update(data).digest('hex');
  const rs = await Promise.all([upload(srv.url, digest, data), upload(srv.url, digest, data)]);
  assert.deepEqual(rs.map((r) => r.status), [201, 201]);
  const f = join(blobsDir(srv), digest.replace(':', '-'));
  assert.equal(sha256File(f), digest);
  assert.deepEqual(temps(srv), []);
});

test('SIGTERM during an upload and a create: clean exit, no temp file, no half-made model', async () => {
  const dir = makeStore();
  const s2 = await startServer({ dir, env: { PADDOCK_MAX_BLOB_SIZE: String(kMaxBlob) } });
  try {
    const o2 = new Ollama({ host: s2.url });
    // A create racing the stop (it may finish or be cancelled, never half-written) ...
    const up = await upload(s2.url, bigDigest, big);
    assert.equal(up.status, 201, up.body);
    const creating = o2.create({ model: 'racing:latest', files: { 'big.gguf': bigDigest }, stream: false })
      .catch((e) => e);
    // ... and an upload cut off by the stop.
    const req = request(`${s2.url}/api/blobs/sha256:${'b'.repeat(64)}`, {
      method: 'POST', headers: { 'Content-Length': String(64 << 20) },
    });
    req.on('error', () => {});
    req.write(Buffer.alloc(2 << 20, 9));
    await waitFor(() => temps(s2).length >= 1, 10000);
    const exited = new Promise((r) => s2.proc.on('exit', (code, sig) => r({ code, sig })));
    s2.proc.kill('SIGTERM');
    const { code, sig } = await exited;
    req.destroy();
    await creating;
    assert.equal(sig, null, s2.stderr());
    assert.equal(code, 0, s2.stderr());
    assert.deepEqual(temps(s2), []);
    // The store is consistent: `racing` is either complete (shows, with its weights) or absent.
    const list = execFileSync(BIN, ['list', '--models', join(dir, 'models')]).toString();
    if (list.includes('racing:latest')) {
      const show = execFileSync(BIN, ['show', 'racing:latest', '--models', join(dir, 'models')]).toString();
      assert.match(show, /llama/);
    }
  } finally {
    await s2.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
