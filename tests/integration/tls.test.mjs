// TLS in the server (issue 12 item 3), checked with `openssl s_client` and Node's TLS client:
// TLS 1.2 and 1.3 offered, 1.0/1.1 and non-forward-secret or CBC ciphers refused (the same client
// flags succeed against `openssl s_server`, so the refusals are the server's), no plaintext on the
// TLS port, the handshake under the header timeout, streams and disconnect detection over TLS,
// certificate reload on SIGHUP that leaves open connections alone, and mTLS refusing a client
// without a certificate or with one from another CA.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, renameSync, readFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import https from 'node:https';
import net from 'node:net';
import { startServer, MODEL, makeStore, waitFor, scrape, metric, sleep } from './helpers.mjs';

const dir = makeStore();
const pki = mkdtempSync(join(tmpdir(), 'paddock-pki-'));
after(() => {
  rmSync(dir, { recursive: true, force: true });
  rmSync(pki, { recursive: true, force: true });
});

const P = (f) => join(pki, f);
function ossl(args) { execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] }); }
function makeCa(name) {
  ossl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', P(`${name}.key`), '-out', P(`${name}.crt`),
    '-days', '2', '-subj', `/CN=${name}`]);
}
function makeCert(name, ca, { server = true } = {}) {
  ossl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', P(`${name}.key`), '-out', P(`${name}.csr`), '-subj', `/CN=${name}`]);
  writeFileSync(P(`${name}.ext`), server ? 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n'
    : 'extendedKeyUsage=clientAuth\n');
  ossl(['x509', '-req', '-in', P(`${name}.csr`), '-CA', P(`${ca}.crt`), '-CAkey', P(`${ca}.key`), '-CAcreateserial',
    '-out', P(`${name}.crt`), '-days', '2', '-extfile', P(`${name}.ext`)]);
}
const serial = (name) => execFileSync('openssl', ['x509', '-in', P(name), '-noout', '-serial'], { encoding: 'utf8' })
  .trim().split('=')[1].toUpperCase();

before(() => {
  makeCa('ca');
  makeCa('other-ca');
  makeCert('server-a', 'ca');
  makeCert('server-b', 'ca');
  makeCert('client', 'ca', { server: false });
  makeCert('rogue', 'other-ca', { server: false });
  copyFileSync(P('server-a.crt'), P('live.crt'));
  copyFileSync(P('server-a.key'), P('live.key'));
});

// One `openssl s_client` handshake (plus an HTTP request when `http`); what it negotiated.
function sclient(port, args, http = false) {
  const input = http ? 'GET /api/version HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' : '';
  const r = spawnSync('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-CAfile', P('ca.crt'), ...(http ? ['-ign_eof'] : []), ...args],
    { input, encoding: 'utf8', timeout: 15000 });
  const m = r.stdout.match(/New, (TLSv[\d.]+|\(NONE\)), Cipher is (\S+)/);
  return { protocol: m && m[1] !== '(NONE)' ? m[1] : null, cipher: m ? m[2] : null, out: r.stdout + r.stderr,
    http200: /HTTP\/1\.1 200/.test(r.stdout) };
}

// The same client flags against OpenSSL's own server, to show the client side can do it.
async function againstSServer(serverArgs, clientArgs) {
  const port = await freePort();
  const s = spawn('openssl', ['s_server', '-accept', String(port), '-cert', P('server-a.crt'), '-key', P('server-a.key'),
    '-www', ...serverArgs], { stdio: ['pipe', 'ignore', 'ignore'] });
  try {
    await waitFor(() => new Promise((res) => { const c = net.connect(port, '127.0.0.1', () => { c.destroy(); res(true); }); c.on('error', () => res(false)); }));
    return sclient(port, clientArgs);
  } finally { s.kill(); }
}

function freePort() {
  return new Promise((res) => { const x = net.createServer(); x.listen(0, '127.0.0.1', () => { const p = x.address().port; x.close(() => res(p)); }); });
}

function get(port, path, opts = {}) {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port, path, ca: readFileSync(P('ca.crt')), ...opts }, (res) => {
      let body = '';
      const cert = res.socket.getPeerCertificate();
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, body, serial: cert.serialNumber, reused: req.reusedSocket }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('TLS 1.2 and 1.3 are offered; 1.0, 1.1, static-RSA and CBC ciphers are refused', async () => {
  const srv = await startServer({ dir, args: ['--tls-cert', P('live.crt'), '--tls-key', P('live.key')] });
  try {
    assert.match(srv.url, /^https:/);
    const t13 = sclient(srv.port, ['-tls1_3'], true);
    assert.equal(t13.protocol, 'TLSv1.3', t13.out);
    assert.ok(t13.http200, t13.out);
    const t12 = sclient(srv.port, ['-tls1_2'], true);
    assert.equal(t12.protocol, 'TLSv1.2', t12.out);
    assert.match(t12.cipher, /^ECDHE-RSA-(AES(128|256)-GCM|CHACHA20-POLY1305)/);
    assert.ok(t12.http200, t12.out);
    const weak = ['-cipher', 'DEFAULT@SECLEVEL=0'];
    for (const v of ['-tls1', '-tls1_1']) {
      const ours = sclient(srv.port, [v, ...weak]);
      assert.equal(ours.protocol, null, `${v} accepted:\n${ours.out}`);
      const oracle = await againstSServer([v, ...weak], [v, ...weak]);
      assert.ok(oracle.protocol, `the client cannot speak ${v} even to s_server:\n${oracle.out}`);
    }
    for (const c of ['AES128-GCM-SHA256', 'ECDHE-RSA-AES128-SHA', 'AES256-SHA256']) {
      const ours = sclient(srv.port, ['-tls1_2', '-cipher', c]);
      assert.equal(ours.protocol, null, `${c} accepted:\n${ours.out}`);
      const oracle = await againstSServer(['-cipher', `${c}:@SECLEVEL=0`], ['-tls1_2', '-cipher', `${c}:@SECLEVEL=0`]);
      assert.equal(oracle.cipher, c, oracle.out);
    }
    // No plaintext on the TLS port.
    await assert.rejects(fetch(`http://127.0.0.1:${srv.port}/api/version`));
    const s = (await scrape(srv.metricsUrl)).samples;
    assert.ok(metric(s, 'paddock_tls_handshake_failures_total') >= 6);
    const exp = metric(s, 'paddock_tls_certificate_expiry_timestamp_seconds');
    assert.ok(exp > Date.now() / 1000 && exp < Date.now() / 1000 + 3 * 86400);
  } finally { await srv.stop(); }
});

test('keep-alive, streams and disconnect detection work over TLS; a silent connection is closed', async () => {
  const srv = await startServer({ dir, args: ['--tls-cert', P('live.crt'), '--tls-key', P('live.key'), '--header-timeout-ms', '1500'] });
  try {
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
    for (let i = 0; i < 10; i++) {
      const r = await get(srv.port, '/api/version', { agent });
      assert.equal(r.status, 200);
      if (i > 0) assert.equal(r.reused, true);
    }
    // A whole stream, then a disconnect mid-stream.
    const gen = (body) => new Promise((resolve, reject) => {
      const req = https.request({ host: '127.0.0.1', port: srv.port, path: '/api/generate', method: 'POST', agent,
        ca: readFileSync(P('ca.crt')), headers: { 'Content-Type': 'application/json' } }, resolve);
      req.on('error', reject);
      req.end(JSON.stringify(body));
    });
    const full = await gen({ model: MODEL, prompt: 'tls' });
    let text = '';
    for await (const d of full) text += d;
    const lines = text.trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(lines.at(-1).done, true);
    const d0 = metric((await scrape(srv.metricsUrl)).samples, 'paddock_client_disconnects_total', { route: '/api/generate' }) ?? 0;
    const res = await gen({ model: MODEL, prompt: 'tls long', options: { num_predict: 100000 } });
    await new Promise((r) => res.once('data', r));
    res.destroy();
    const s = await waitFor(async () => {
      const x = (await scrape(srv.metricsUrl)).samples;
      return metric(x, 'paddock_client_disconnects_total', { route: '/api/generate' }) === d0 + 1 &&
        metric(x, 'paddock_num_requests_running') === 0 ? x : null;
    });
    assert.ok(s, 'a TLS client that went away was not noticed');
    agent.destroy();
    // A TCP connection that never starts the handshake is closed after the header timeout.
    const t0 = Date.now();
    const closed = await new Promise((res) => {
      const c = net.connect(srv.port, '127.0.0.1');
      c.on('close', () => res(Date.now() - t0));
      c.on('error', () => {});
      setTimeout(() => { c.destroy(); res(-1); }, 8000);
    });
    assert.ok(closed >= 1000 && closed < 6000, `closed after ${closed} ms`);
  } finally { await srv.stop(); }
});

test('SIGHUP reloads the certificate: open connections keep theirs, new ones get the new one', async () => {
  copyFileSync(P('server-a.crt'), P('live.crt'));
  copyFileSync(P('server-a.key'), P('live.key'));
  const srv = await startServer({ dir, args: ['--tls-cert', P('live.crt'), '--tls-key', P('live.key')] });
  try {
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
    const a1 = await get(srv.port, '/api/version', { agent });
    assert.equal(a1.serial, serial('server-a.crt'));
    // Swap the files atomically, as a Kubernetes Secret update does, then SIGHUP.
    copyFileSync(P('server-b.crt'), P('tmp.crt'));
    copyFileSync(P('server-b.key'), P('tmp.key'));
    renameSync(P('tmp.key'), P('live.key'));
    renameSync(P('tmp.crt'), P('live.crt'));
    srv.proc.kill('SIGHUP');
    assert.ok(await waitFor(() => srv.stderr().includes('TLS certificate reloaded')), srv.stderr());
    const a2 = await get(srv.port, '/api/version', { agent });
    assert.equal(a2.status, 200);
    assert.equal(a2.reused, true, 'the open connection was dropped');
    assert.equal(a2.serial, serial('server-a.crt'));
    const b = await get(srv.port, '/api/version', { agent: false });
    assert.equal(b.serial, serial('server-b.crt'));
    // A broken file on reload: logged, counted, and the current certificate stays.
    writeFileSync(P('live.crt'), 'not a certificate\n');
    srv.proc.kill('SIGHUP');
    assert.ok(await waitFor(() => srv.stderr().includes('TLS reload failed')), srv.stderr());
    const b2 = await get(srv.port, '/api/version', { agent: false });
    assert.equal(b2.serial, serial('server-b.crt'));
    const s = (await scrape(srv.metricsUrl)).samples;
    assert.equal(metric(s, 'paddock_tls_reloads_total', { result: 'ok' }), 1);
    assert.equal(metric(s, 'paddock_tls_reloads_total', { result: 'error' }), 1);
    assert.equal(srv.proc.exitCode, null);
    agent.destroy();
  } finally {
    copyFileSync(P('server-a.crt'), P('live.crt'));
    await srv.stop();
  }
});

test('mTLS: a client without a certificate, or with one from another CA, is refused', async () => {
  copyFileSync(P('server-a.crt'), P('live.crt'));
  copyFileSync(P('server-a.key'), P('live.key'));
  const srv = await startServer({ dir, args: ['--tls-cert', P('live.crt'), '--tls-key', P('live.key'),
    '--tls-client-ca', P('ca.crt')] });
  try {
    for (const v of ['-tls1_2', '-tls1_3']) {
      const none = sclient(srv.port, [v], true);
      assert.equal(none.http200, false, `${v} without a certificate got an answer:\n${none.out}`);
      assert.match(none.out, /alert|certificate required|handshake failure/i);
      const rogue = sclient(srv.port, [v, '-cert', P('rogue.crt'), '-key', P('rogue.key')], true);
      assert.equal(rogue.http200, false, `${v} with another CA's certificate got an answer:\n${rogue.out}`);
      const good = sclient(srv.port, [v, '-cert', P('client.crt'), '-key', P('client.key')], true);
      assert.ok(good.http200, good.out);
    }
    await assert.rejects(get(srv.port, '/api/version', { agent: false }));
    const ok = await get(srv.port, '/api/version', { agent: false, cert: readFileSync(P('client.crt')), key: readFileSync(P('client.key')) });
    assert.equal(ok.status, 200);
    // Probes on the metrics listener need no client certificate (kubelet has none).
    assert.equal((await fetch(`${srv.metricsUrl}/readyz`)).status, 200);
  } finally { await srv.stop(); }
});

test('bad TLS settings stop the start with one line', async () => {
  const { spawnSync: run } = await import('node:child_process');
  const { BIN } = await import('./helpers.mjs');
  const cases = [
    [['--tls-cert', P('server-a.crt')], /tls-cert and tls-key/],
    [['--tls-cert', P('server-a.crt'), '--tls-key', P('server-b.key')], /does not match|mismatch/],
    [['--tls-cert', P('nope.crt'), '--tls-key', P('server-a.key')], /not a readable file/],
    [['--tls-client-ca', P('ca.crt')], /tls-client-ca needs/],
  ];
  for (const [args, re] of cases) {
    const r = run(BIN, ['serve', '--host', '127.0.0.1:0', '--models', join(dir, 'models'), '--metrics-addr', 'off', ...args],
      { encoding: 'utf8', timeout: 20000 });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, re);
    assert.equal(r.stderr.trim().split('\n').filter((l) => l.startsWith('Error')).length, 1, r.stderr);
  }
});
