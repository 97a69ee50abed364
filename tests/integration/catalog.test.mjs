// The catalogue (/api/tags, /v1/models) is cached and invalidated per manifest file (issue 20):
// listing does not read every manifest and config blob again on each request — the server's
// read(2) bytes (/proc/<pid>/io rchar) over 40 listings of 60 models stay at the size of the
// requests, where reading the store each time is over 2 MB — yet manifests written, rewritten or
// removed directly in the store by another process (another node on shared storage) show at once.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, MODEL, post, makeStore, sleep } from './helpers.mjs';

const dir = makeStore();
after(() => rmSync(dir, { recursive: true, force: true }));

const lib = join(dir, 'models', 'manifests', 'registry.ollama.ai', 'library');
const rchar = (pid) => Number(readFileSync(`/proc/${pid}/io`, 'utf8').match(/^rchar: (\d+)/m)[1]);
const tags = async (url) => (await (await fetch(`${url}/api/tags`)).json()).models;
const models = async (url) => (await (await fetch(`${url}/v1/models`)).json()).data;

test('listing reads only what changed, and sees what other processes write', async () => {
  const srv = await startServer({ dir });
  try {
    for (let i = 0; i < 60; i++) {
      const r = await post(`${srv.url}/api/copy`, { source: MODEL, destination: `copy${i}:latest` });
      assert.equal(r.status, 200, r.text);
    }
    // Files changed in the last 2 s are read on every listing (coarse time stamps); let them settle.
    await sleep(2200);
    assert.equal((await tags(srv.url)).length, 61);
    const r0 = rchar(srv.proc.pid);
    for (let i = 0; i < 20; i++) {
      assert.equal((await tags(srv.url)).length, 61);
      assert.equal((await models(srv.url)).length, 61);
    }
    const read = rchar(srv.proc.pid) - r0;
    // 40 requests of about 100 bytes each; the manifests and configs alone are ~1 KB per model.
    assert.ok(read < 64 << 10, `the server read ${read} bytes for 40 listings`);

    // Another process writes a new manifest straight into the store ...
    const manifest = readFileSync(join(lib, 'tiny', 'latest'));
    mkdirSync(join(lib, 'direct'));
    writeFileSync(join(lib, 'direct', 'v1'), manifest);
    assert.ok((await tags(srv.url)).some((m) => m.name === 'direct:v1'));
    assert.ok((await models(srv.url)).some((m) => m.id === 'direct:v1'));
    // ... rewrites one in place (a new digest) ...
    const rewritten = JSON.stringify(JSON.parse(manifest), null, 2);
    writeFileSync(join(lib, 'copy7', 'latest'), rewritten);
    const digest = createHash('sha256').update(rewritten).digest('hex');
    assert.equal((await tags(srv.url)).find((m) => m.name === 'copy7:latest').digest, digest);
    // ... replaces one by a rename (as the store itself writes) ...
    writeFileSync(join(lib, 'copy8', '.tmp-x'), rewritten);
    renameSync(join(lib, 'copy8', '.tmp-x'), join(lib, 'copy8', 'latest'));
    assert.equal((await tags(srv.url)).find((m) => m.name === 'copy8:latest').digest, digest);
    // ... and removes one.
    rmSync(join(lib, 'copy9'), { recursive: true });
    const now = await tags(srv.url);
    assert.equal(now.length, 61);
    assert.ok(!now.some((m) => m.name === 'copy9:latest'));
    assert.ok(!(await models(srv.url)).some((m) => m.id === 'copy9:latest'));
    assert.equal((await fetch(`${srv.url}/v1/models/copy9:latest`)).status, 404);
    assert.equal((await fetch(`${srv.url}/v1/models/direct%3Av1`)).status, 200);
  } finally {
    await srv.stop();
  }
});
