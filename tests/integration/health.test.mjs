// Health (issue 12 item 5): /livez answers while the process does; /readyz is 503 until every
// --preload model has loaded (with the reason while it cannot) and again once SIGTERM drains.
// Both answer on the API port and on the metrics port (which kubelet reaches without a client
// certificate when the API port has mTLS). A preload configured in the config file takes effect.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, MODEL, post, makeStore, waitFor, scrape, metric, sleep } from './helpers.mjs';

const dir = makeStore();
after(() => rmSync(dir, { recursive: true, force: true }));

async function probe(url) {
  const r = await fetch(url);
  return { status: r.status, json: await r.json() };
}

test('readyz waits for --preload models; a missing one keeps it 503 with the reason until it appears', async () => {
  const srv = await startServer({ dir, args: ['--preload', 'later:latest', '--preload', MODEL] });
  try {
    for (const base of [srv.url, srv.metricsUrl]) {
      assert.equal((await probe(`${base}/livez`)).status, 200);
      const r = await waitFor(async () => {
        const p = await probe(`${base}/readyz`);
        return p.json.errors && p.json.errors['later:latest'] && p.json.waiting_for.length === 1 ? p : null;
      });
      assert.ok(r, 'no preload error reported');
      assert.equal(r.status, 503);
      assert.equal(r.json.status, 'loading');
      assert.deepEqual(r.json.waiting_for, ['later:latest']);
      assert.match(r.json.errors['later:latest'], /not found/);
      assert.ok(!r.json.errors['later:latest'].includes(dir), 'a path leaked');
    }
    // The one that exists was loaded meanwhile, and stays loaded (keep-alive forever).
    const ps = await (await fetch(`${srv.url}/api/ps`)).json();
    assert.deepEqual(ps.models.map((m) => m.name), [MODEL]);
    assert.ok(ps.models[0].expires_at.startsWith('2318'), ps.models[0].expires_at);
    assert.equal(metric((await scrape(srv.metricsUrl)).samples, 'paddock_ready'), 0);
    // The missing model appears: the retry loads it and readiness follows.
    const cp = await post(`${srv.url}/api/copy`, { source: MODEL, destination: 'later:latest' });
    assert.equal(cp.status, 200, cp.text);
    const ok = await waitFor(async () => ((await probe(`${srv.url}/readyz`)).status === 200 ? true : null), 20000, 200);
    assert.ok(ok, 'readyz never became 200');
    assert.equal((await probe(`${srv.metricsUrl}/readyz`)).status, 200);
    assert.equal(metric((await scrape(srv.metricsUrl)).samples, 'paddock_ready'), 1);
    assert.match(srv.stderr(), /preload: later:latest failed: .*retrying/);
  } finally { await srv.stop(); }
});

test('readyz goes 503 at once on SIGTERM on both listeners, livez stays 200', async () => {
  const srv = await startServer({ dir, args: ['--drain-timeout', '2s'] });
  let exited = false;
  srv.proc.on('exit', () => { exited = true; });
  try {
    assert.equal((await probe(`${srv.url}/readyz`)).status, 200);
    // Keep the drain busy so both listeners are still up to be asked.
    const c = new AbortController();
    const stream = fetch(`${srv.url}/api/generate`, { method: 'POST', signal: c.signal, headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ model: MODEL, prompt: 'x', options: { num_predict: 100000 } }) }).then((r) => r.body.getReader().read()).catch(() => null);
    await stream;
    srv.proc.kill('SIGTERM');
    await sleep(200);
    for (const base of [srv.url, srv.metricsUrl]) {
      const r = await probe(`${base}/readyz`);
      assert.equal(r.status, 503);
      assert.equal(r.json.status, 'draining');
      assert.equal((await probe(`${base}/livez`)).status, 200);
    }
    const s = (await scrape(srv.metricsUrl)).samples;
    assert.equal(metric(s, 'paddock_draining'), 1);
    assert.equal(metric(s, 'paddock_ready'), 0);
    c.abort();
    assert.ok(await waitFor(() => exited, 10000));
  } finally { await srv.stop(); }
});

test('a preload and context length from the config file take effect', async () => {
  const file = join(dir, 'serve.yaml');
  writeFileSync(file, `num-ctx: 1024\npreload: [${MODEL}]\n`);
  const srv = await startServer({ dir, args: ['--config', file] });
  try {
    assert.ok(await waitFor(async () => (await probe(`${srv.url}/readyz`)).status === 200));
    const ps = await (await fetch(`${srv.url}/api/ps`)).json();
    assert.equal(ps.models.length, 1);
    assert.equal(ps.models[0].context_length, 1024);
  } finally { await srv.stop(); }
});
