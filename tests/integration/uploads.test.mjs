// Blob uploads and the I/O threads (issue 20): an upload's disk writes and hashing run on the
// server's sink writer threads, and the connection stops reading while they catch up. So
// /api/version stays under 50 ms at the 99th percentile while a 256 MiB upload streams in and
// while the disk is slow (an LD_PRELOAD library holds every blob write for 100 ms), the server's
// memory stays bounded, a wrong digest is a 400 that leaves nothing behind, and a client that
// leaves mid-upload leaves no partial blob. Before, each write ran on an I/O thread: with the
// slow disk, /api/version waited for them (p99 over 100 ms).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, readFileSync, readdirSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { startServer, makeStore, sleep, waitFor, pct, probeVersion } from './helpers.mjs';

const dir = makeStore();
after(() => rmSync(dir, { recursive: true, force: true }));

const blobsDir = join(dir, 'models', 'blobs');
const temps = () => readdirSync(blobsDir).filter((f) => f.startsWith('.tmp-'));

// `count` blocks of 1 MiB: one random block, each copy stamped with its index (so no two are alike).
function generator(count, seed = randomBytes(1 << 20)) {
  const block = (i) => { const b = Buffer.from(seed); b.writeUInt32LE(i, 0); b.writeUInt32LE(count, 4); return b; };
  const h = createHash('sha256');
  for (let i = 0; i < count; i++) h.update(block(i));
  return { count, size: count << 20, block, digest: `sha256:${h.digest('hex')}` };
}

// POST /api/blobs/<digest> with the generator's blocks, written as fast as the server takes them
// (node waits for 'drain' when the socket is full). `abortAfter` blocks: the client goes away.
function upload(port, digest, gen, { abortAfter = 0 } = {}) {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: `/api/blobs/${digest}`, method: 'POST',
      headers: { 'Content-Length': String(gen.size) } }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    req.on('error', (e) => (abortAfter ? resolve({ status: 0, body: String(e) }) : reject(e)));
    let i = 0;
    const pump = () => {
      while (i < gen.count) {
        if (abortAfter && i === abortAfter) { req.destroy(); return resolve({ status: 0, body: 'aborted' }); }
        if (!req.write(gen.block(i++))) return req.once('drain', pump);
      }
      req.end();
    };
    pump();
  });
}

function sha256File(path) {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(path).on('data', (d) => h.update(d)).on('end', () => resolve(`sha256:${h.digest('hex')}`))
      .on('error', reject);
  });
}

const vmHWM = (pid) => Number(readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmHWM:\s+(\d+) kB/m)[1]);

test('a 256 MiB upload streams in while /api/version p99 < 50 ms, in bounded memory; a wrong digest leaves nothing', async () => {
  // Under ASan freed blocks wait in a 256 MB quarantine; a small one lets VmHWM show real growth.
  const asan = [process.env.ASAN_OPTIONS, 'quarantine_size_mb=4'].filter(Boolean).join(':');
  const srv = await startServer({ dir, env: { ASAN_OPTIONS: asan } });
  try {
    const gen = generator(256);
    await fetch(`${srv.url}/api/tags`);
    const before = vmHWM(srv.proc.pid);
    let done = false;
    const up = upload(srv.port, gen.digest, gen).finally(() => { done = true; });
    const versions = await probeVersion(srv.port, () => done);
    const r = await up;
    assert.equal(r.status, 201, r.body);
    assert.ok(versions.every((v) => v.status === 200));
    const p99 = pct(versions.map((v) => v.ms), 0.99);
    if (process.env.PADDOCK_IT_VERBOSE) console.log(`${versions.length} probes, p99 ${p99.toFixed(1)} ms`);
    assert.ok(p99 < 50, `/api/version p99 ${p99.toFixed(1)} ms during the upload`);
    const grew = (vmHWM(srv.proc.pid) - before) * 1024;
    assert.ok(grew < 64 << 20, `server peak memory grew by ${grew} bytes for a ${gen.size}-byte upload`);
    const file = join(blobsDir, gen.digest.replace(':', '-'));
    assert.equal(await sha256File(file), gen.digest);
    assert.equal((await fetch(`${srv.url}/api/blobs/${gen.digest}`, { method: 'HEAD' })).status, 200);
    rmSync(file);

    // The digest is checked before the rename: a mismatch is a 400 and no file appears.
    const small = generator(32);
    const wrong = `sha256:${createHash('sha256').update('something else').digest('hex')}`;
    const listed = readdirSync(blobsDir).sort();
    const bad = await upload(srv.port, wrong, small);
    assert.equal(bad.status, 400, bad.body);
    assert.match(JSON.parse(bad.body).error, /digest mismatch/);
    assert.deepEqual(readdirSync(blobsDir).sort(), listed);
    assert.equal((await fetch(`${srv.url}/api/blobs/${wrong}`, { method: 'HEAD' })).status, 404);
  } finally {
    await srv.stop();
  }
});

test('a slow disk (every blob file create, write and removal held 100 ms) holds the uploads, not the I/O threads', async () => {
  const lib = process.env.PADDOCK_SLOWDISK_LIB;
  assert.ok(lib, 'PADDOCK_SLOWDISK_LIB must name the slow-disk library (CTest passes it)');
  // The library comes before ASan's runtime in the load order; ASan must be told that is fine.
  const asan = [process.env.ASAN_OPTIONS, 'verify_asan_link_order=0'].filter(Boolean).join(':');
  const srv = await startServer({ dir, env: { LD_PRELOAD: lib, PADDOCK_SLOWDISK_MS: '100', ASAN_OPTIONS: asan } });
  try {
    // More uploads at once than the server has I/O threads (2), and clients that leave mid-upload
    // (their temp files are removed), all while /api/version is timed.
    const gens = Array.from({ length: 4 }, () => generator(2));
    const leavers = Array.from({ length: 4 }, () => generator(8));
    let finished = 0;
    const total = gens.length + leavers.length;
    const probing = probeVersion(srv.port, () => finished === total && temps().length === 0, 40);
    await sleep(50);
    const ups = gens.map((g) => upload(srv.port, g.digest, g).finally(() => { finished++; }));
    const lefts = leavers.map((g) => upload(srv.port, g.digest, g, { abortAfter: 3 }).finally(() => { finished++; }));
    const rs = await Promise.all(ups);
    assert.deepEqual(rs.map((r) => r.status), [201, 201, 201, 201], rs.map((r) => r.body).join(' '));
    for (const r of await Promise.all(lefts)) assert.equal(r.status, 0, r.body);
    const versions = await probing;
    const p99 = pct(versions.map((v) => v.ms), 0.99);
    if (process.env.PADDOCK_IT_VERBOSE) console.log(`${versions.length} probes, p99 ${p99.toFixed(1)} ms`);
    assert.ok(p99 < 50, `/api/version p99 ${p99.toFixed(1)} ms while the disk is slow`);
    for (const g of gens) assert.equal(await sha256File(join(blobsDir, g.digest.replace(':', '-'))), g.digest);
    // No partial blob of the clients that left: no temp file, nothing under their digests.
    assert.ok(await waitFor(() => temps().length === 0, 20000), `left behind: ${temps()}`);
    for (const g of leavers)
      assert.equal((await fetch(`${srv.url}/api/blobs/${g.digest}`, { method: 'HEAD' })).status, 404);
  } finally {
    await srv.stop();
  }
});
