// nginx in front (deploy/nginx/paddock.conf's settings): TLS terminated by a real nginx, a
// streamed generation passes through as it is generated (its first line arrives alone while the
// generation is still running on the server), and a client that leaves through the proxy still
// cancels the work on the server. (nginx 1.22 with proxy_buffering on also forwarded the first
// bytes at once in this setup, so the test does not claim buffering would break streaming; the
// deploy config turns it off so nothing is spooled to nginx's disk.)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, execFileSync } from 'node:child_process';
import https from 'node:https';
import net from 'node:net';
import { startServer, MODEL, makeStore, waitFor, scrape, metric } from './helpers.mjs';

const dir = makeStore();
const work = mkdtempSync(join(tmpdir(), 'paddock-nginx-'));
let srv;
before(async () => {
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(work, 'tls.key'), '-out',
    join(work, 'tls.crt'), '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  srv = await startServer({ dir });
});
after(async () => {
  await srv?.stop();
  rmSync(dir, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
});

const freePort = () => new Promise((res) => {
  const x = net.createServer();
  x.listen(0, '127.0.0.1', () => { const p = x.address().port; x.close(() => res(p)); });
});

async function startNginx(buffering) {
  const port = await freePort();
  const d = join(work, buffering ? 'buffered' : 'stream');
  mkdirSync(d, { recursive: true });
  const conf = join(d, 'nginx.conf');
  writeFileSync(conf, `daemon off;
master_process off;
error_log ${d}/error.log warn;
pid ${d}/nginx.pid;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${d}/body; proxy_temp_path ${d}/proxy; fastcgi_temp_path ${d}/fcgi;
  uwsgi_temp_path ${d}/uwsgi; scgi_temp_path ${d}/scgi;
  upstream paddock { server 127.0.0.1:${srv.port}; keepalive 8; }
  server {
    listen 127.0.0.1:${port} ssl;
    ssl_certificate ${work}/tls.crt;
    ssl_certificate_key ${work}/tls.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    client_max_body_size 8m;
    location / {
      proxy_pass http://paddock;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host localhost;
      proxy_buffering ${buffering ? 'on' : 'off'};
      proxy_buffer_size 16k;
      proxy_buffers 8 16k;
      proxy_read_timeout 600s;
    }
  }
}
`);
  const proc = spawn('/usr/sbin/nginx', ['-c', conf, '-p', d], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  proc.stderr.on('data', (x) => { log += x; });
  const up = await waitFor(() => new Promise((res) => {
    const c = net.connect(port, '127.0.0.1', () => { c.destroy(); res(true); });
    c.on('error', () => res(false));
  }), 10000, 100);
  assert.ok(up, `nginx did not start: ${log}${existsSync(`${d}/error.log`) ? readFileSync(`${d}/error.log`, 'utf8') : ''}`);
  return { port, stop: () => new Promise((r) => { proc.on('exit', r); proc.kill('SIGQUIT'); }) };
}

// Starts a long streamed generation through the proxy; resolves with the first chunk's bytes and
// a function that abandons the stream.
function firstChunk(port) {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port, path: '/api/generate', method: 'POST', ca: readFileSync(join(work, 'tls.crt')),
      headers: { 'Content-Type': 'application/json' } }, (res) => {
      res.once('data', (d) => resolve({ status: res.statusCode, bytes: d.length, text: d.toString(), abort: () => req.destroy() }));
      res.on('error', () => {});
    });
    req.on('error', reject);
    req.end(JSON.stringify({ model: MODEL, prompt: 'long', options: { num_predict: 100000 } }));
  });
}

test('through a TLS-terminating nginx the stream arrives as generated, and leaving cancels the work', async () => {
  const ng = await startNginx(false);
  try {
    const d0 = metric((await scrape(srv.metricsUrl)).samples, 'paddock_client_disconnects_total', { route: '/api/generate' }) ?? 0;
    const a = await firstChunk(ng.port);
    assert.equal(a.status, 200);
    const first = JSON.parse(a.text.split('\n')[0]);
    assert.equal(first.model, MODEL);
    assert.equal(first.done, false);
    assert.ok(a.bytes < 1024, `first chunk through the proxy is ${a.bytes} bytes`);
    // The generation (100000 tokens asked) is still running while the client holds its first line.
    assert.equal(metric((await scrape(srv.metricsUrl)).samples, 'paddock_num_requests_running'), 1);
    a.abort();
    const s = await waitFor(async () => {
      const x = (await scrape(srv.metricsUrl)).samples;
      return metric(x, 'paddock_client_disconnects_total', { route: '/api/generate' }) === d0 + 1 &&
        metric(x, 'paddock_num_requests_running') === 0 ? x : null;
    });
    assert.ok(s, 'a client that left through nginx did not cancel its generation');
  } finally {
    await ng.stop();
  }
});
