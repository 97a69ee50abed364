// `paddock bench` against an endpoint whose delays we script (paddock_fake_llm): its statistics
// must match what the server was told to do (TTFT, ITL, latency percentiles), its open loop must
// send at the rate asked (measured by the server's own arrival clock), goodput and errors must be
// counted exactly, TLS and the API key must work, and the JSON and HTML reports must be valid
// (the HTML opened in headless Chromium). Then a short run against a real `paddock serve`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, mkdirSync, existsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, startServer, MODEL } from './helpers.mjs';
import { findChromium, inspectPage } from './chromium.mjs';

const FAKE = process.env.PADDOCK_FAKE_LLM;
if (!FAKE) throw new Error('PADDOCK_FAKE_LLM must name the paddock_fake_llm binary');
const BUILD = process.env.PADDOCK_BUILD_DIR ?? tmpdir();
const work = mkdtempSync(join(tmpdir(), 'paddock-bench-it-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));

async function startFake(args = []) {
  const proc = spawn(FAKE, ['--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  proc.stderr.on('data', (d) => { err += d; });
  const url = await new Promise((resolve, reject) => {
    let out = '';
    proc.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/listening on (\S+)/);
      if (m) resolve(m[1]);
    });
    proc.on('exit', (c) => reject(new Error(`fake server exited ${c}: ${err}`)));
  });
  return {
    url, proc,
    async stats() { return (await fetch(`${url}/stats`)).json(); },
    async stop() {
      if (proc.exitCode !== null) return;
      const done = new Promise((r) => proc.on('exit', r));
      proc.kill('SIGTERM');
      await done;
    },
  };
}

// Runs `paddock bench ARGS --json F` and resolves to { code, stdout, stderr, report }.
function bench(args, { json = true } = {}) {
  const file = join(work, `r${Math.random().toString(36).slice(2)}.json`);
  const full = ['bench', '--quiet', ...args, ...(json ? ['--json', file] : [])];
  return new Promise((resolve) => {
    execFile(BIN, full, { maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const report = json && existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : null;
      resolve({ code: err ? err.code ?? 1 : 0, stdout, stderr, report });
    });
  });
}

// numpy's default percentile (linear between order statistics), computed here independently.
function pct(values, q) {
  const v = [...values].sort((a, b) => a - b);
  const r = q * (v.length - 1), lo = Math.floor(r), hi = Math.min(lo + 1, v.length - 1);
  return v[lo] + (v[hi] - v[lo]) * (r - lo);
}

// Scripted delays are lower bounds (a timer never fires early); what the generator adds on top is
// the loopback round trip and scheduling, a few ms at most on a loaded CI machine under ASan.
const SLACK_MS = 12;
function assertNear(measured, scripted, what) {
  assert.ok(measured >= scripted - 0.5 && measured <= scripted + SLACK_MS,
    `${what}: measured ${measured.toFixed(2)} ms, scripted ${scripted.toFixed(2)} ms`);
}

const TTFTS = Array.from({ length: 20 }, (_, i) => 5 * (i + 1));  // 5, 10, ..., 100 ms

for (const api of ['generate', 'chat', 'openai-chat', 'openai-completions']) {
  test(`${api}: TTFT, ITL and latency percentiles match the scripted delays`, async () => {
    const fake = await startFake(['--ttft-ms', TTFTS.join(','), '--itl-ms', '8']);
    try {
      const r = await bench(['--url', fake.url, '--model', 'm', '--api', api, '--concurrency', '8', '--requests', '40',
        '--input-tokens', '32', '--output-tokens', '5']);
      assert.equal(r.code, 0, r.stderr);
      const run = r.report.runs[0];
      assert.equal(run.ok, 40);
      assert.equal(run.failed, 0);
      // Each scripted TTFT was used twice (40 requests over 20 values).
      const want = [...TTFTS, ...TTFTS];
      for (const [k, q] of [['p50', 0.5], ['p90', 0.9], ['p99', 0.99]]) {
        assertNear(run.ttft_ms[k], pct(want, q), `TTFT ${k}`);
        assertNear(run.latency_ms[k], pct(want, q) + 4 * 8, `latency ${k}`);
      }
      assertNear(run.ttft_ms.max, 100, 'TTFT max');
      // Tokens go out on an absolute schedule 8 ms apart, so gaps average 8 ms exactly.
      assert.ok(Math.abs(run.itl_ms.mean - 8) < 1.0, `ITL mean ${run.itl_ms.mean}`);
      assert.ok(Math.abs(run.itl_ms.p50 - 8) < 2.0, `ITL p50 ${run.itl_ms.p50}`);
      assert.equal(run.itl_ms.n, 40 * 4);
      // The server's own counts: 32 words in, 5 tokens out.
      assert.equal(run.server_counts, true);
      assert.equal(run.mean_input_tokens, 32);
      assert.equal(run.mean_output_tokens, 5);
      assert.match(r.stdout, /TTFT\s+\d/);
    } finally {
      await fake.stop();
    }
  });
}

test('non-streaming: latency is TTFT plus the scripted token gaps; no TTFT figure', async () => {
  const fake = await startFake(['--ttft-ms', '20', '--itl-ms', '5']);
  try {
    const r = await bench(['--url', fake.url, '--model', 'm', '--no-stream', '-c', '4', '-n', '20', '--output-tokens', '9']);
    assert.equal(r.code, 0, r.stderr);
    const run = r.report.runs[0];
    assertNear(run.latency_ms.p50, 20 + 8 * 5, 'latency p50');
    assert.equal(run.ttft_ms.n, 0);
    assert.equal(run.mean_output_tokens, 9);
  } finally {
    await fake.stop();
  }
});

test('open loop at 5,000 requests/s: the server sees the asked rate', async () => {
  const fake = await startFake(['--threads', '1']);
  try {
    const r = await bench(['--url', fake.url, '--model', 'm', '--no-stream', '--rate', '5000', '--arrival', 'constant',
      '--requests', '10000', '--input-tokens', '4', '--output-tokens', '1']);
    assert.equal(r.code, 0, r.stderr);
    const run = r.report.runs[0];
    assert.equal(run.ok, 10000);
    const st = await fake.stats();
    assert.equal(st.requests, 10000);
    const a = st.arrivals_ms.sort((x, y) => x - y);
    const rate = (a.length - 1) / ((a[a.length - 1] - a[0]) / 1000);
    assert.ok(Math.abs(rate / 5000 - 1) < 0.05, `server-side rate ${rate.toFixed(0)}/s`);
    assert.ok(Math.abs(run.schedule.send_rate / 5000 - 1) < 0.05, `send rate ${run.schedule.send_rate}`);
    // At most 5% of sends more than 1 ms behind schedule.
    assert.ok(run.schedule.late <= 500, `late sends: ${run.schedule.late}`);
  } finally {
    await fake.stop();
  }
});

test('open loop, Poisson arrivals: gaps are exponential (coefficient of variation ~1)', async () => {
  const fake = await startFake();
  try {
    const r = await bench(['--url', fake.url, '--model', 'm', '--no-stream', '--rate', '1000', '--requests', '3000',
      '--input-tokens', '4', '--output-tokens', '1', '--seed', '11']);
    assert.equal(r.code, 0, r.stderr);
    const a = (await fake.stats()).arrivals_ms.sort((x, y) => x - y);
    const gaps = a.slice(1).map((t, i) => t - a[i]);
    const mean = gaps.reduce((s, g) => s + g, 0) / gaps.length;
    const sd = Math.sqrt(gaps.reduce((s, g) => s + (g - mean) ** 2, 0) / gaps.length);
    assert.ok(Math.abs(mean - 1) < 0.1, `mean gap ${mean} ms`);
    assert.ok(sd / mean > 0.85 && sd / mean < 1.15, `CV ${sd / mean}`);
  } finally {
    await fake.stop();
  }
});

test('open loop with --max-inflight: the cap holds and the delayed sends are counted late', async () => {
  const fake = await startFake(['--ttft-ms', '50']);
  try {
    const r = await bench(['--url', fake.url, '--model', 'm', '--no-stream', '--rate', '400', '--arrival', 'constant',
      '--requests', '100', '--max-inflight', '4', '--output-tokens', '1']);
    assert.equal(r.code, 0, r.stderr);
    const run = r.report.runs[0];
    assert.equal(run.ok, 100);
    // 4 in flight × 50 ms each: at most 80 req/s, far under the 400 asked.
    assert.ok(run.req_per_s < 85, `req/s ${run.req_per_s}`);
    assert.ok(run.schedule.late >= 90, `late ${run.schedule.late}`);
    assert.match(r.stdout, /late/);
  } finally {
    await fake.stop();
  }
});

test('goodput counts exactly the requests within the objectives; errors by kind', async () => {
  const fake = await startFake(['--ttft-ms', '10,30,50,70,90', '--itl-ms', '1']);
  try {
    const r = await bench(['--url', fake.url, '--model', 'm', '-c', '5', '-n', '50', '--output-tokens', '2',
      '--slo-ttft', '60']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.report.runs[0].goodput.good, 30);  // TTFT 10, 30, 50 of each five
    assert.match(r.stdout, /goodput\s+30 of 50/);
    const r2 = await bench(['--url', fake.url, '--model', 'm', '-c', '5', '-n', '50', '--output-tokens', '2',
      '--slo-ttft', '60', '--slo-latency', '40']);
    assert.equal(r2.report.runs[0].goodput.good, 20);  // and latency ≤ 40: TTFT 10 and 30 only
  } finally {
    await fake.stop();
  }
  const failing = await startFake(['--fail-every', '4', '--fail-status', '503']);
  try {
    const r = await bench(['--url', failing.url, '--model', 'm', '-c', '2', '-n', '40', '--output-tokens', '2']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.report.runs[0].errors, { http_503: 10 });
    assert.match(r.report.runs[0].error_examples.http_503, /scripted failure/);
    assert.match(r.stdout, /http_503: 10/);
  } finally {
    await failing.stop();
  }
  // Nobody listening: every request fails to connect, and the command says so.
  const dead = await startFake();
  await dead.stop();
  const r = await bench(['--url', dead.url, '--model', 'm', '-n', '3']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /every request failed \(connect/);
  assert.deepEqual(r.report.runs[0].errors, { connect: 3 });
});

test('TLS and API key: verified with --cacert (names checked), refused without, --insecure skips it', async () => {
  const dir = join(work, 'tls');
  mkdirSync(dir);
  // A certificate for the name "localhost" only (no IP address in it).
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')],
  { stdio: 'ignore' });
  const fake = await startFake(['--tls-cert', join(dir, 'cert.pem'), '--tls-key', join(dir, 'key.pem'),
    '--api-key', 'k3y', '--ttft-ms', '2', '--itl-ms', '1']);
  try {
    assert.match(fake.url, /^https:\/\/127\.0\.0\.1:/);
    const byName = fake.url.replace('127.0.0.1', 'localhost');
    const base = ['--model', 'm', '-c', '2', '-n', '6', '--output-tokens', '3', '--api', 'openai-chat'];
    const ca = ['--cacert', join(dir, 'cert.pem')];
    let r = await bench(['--url', byName, ...base, ...ca, '--api-key', 'k3y']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.report.runs[0].ok, 6);
    assert.equal(r.report.runs[0].mean_output_tokens, 3);
    assert.ok(!JSON.stringify(r.report).includes('k3y'), 'the key is not written to the report');
    // The right CA but an address the certificate does not name: refused.
    r = await bench(['--url', fake.url, ...base, ...ca, '--api-key', 'k3y']);
    assert.notEqual(r.code, 0);
    assert.deepEqual(r.report.runs[0].errors, { tls: 6 });
    // The system trust store does not know a self-signed certificate.
    r = await bench(['--url', byName, ...base, '--api-key', 'k3y']);
    assert.deepEqual(r.report.runs[0].errors, { tls: 6 });
    r = await bench(['--url', fake.url, ...base, '--insecure', '--api-key', 'k3y']);
    assert.equal(r.code, 0, r.stderr);
    r = await bench(['--url', byName, ...base, ...ca, '--api-key', 'wrong']);
    assert.deepEqual(r.report.runs[0].errors, { http_401: 6 });
    r = await bench(['--url', byName, ...base, ...ca]);
    assert.deepEqual(r.report.runs[0].errors, { http_401: 6 });
  } finally {
    await fake.stop();
  }
});

test('sweep and compare: JSON and HTML reports, the HTML clean in headless Chromium', async (t) => {
  const a = await startFake(['--ttft-ms', '10', '--itl-ms', '2']);
  const b = await startFake(['--ttft-ms', '20', '--itl-ms', '2']);
  const html = join(work, 'report.html');
  try {
    const r = await bench(['--url', a.url, '--compare', b.url, '--model', 'm', '--sweep', '1,4', '-n', '12',
      '--output-tokens', '4', '--slo-ttft', '15', '--html', html]);
    assert.equal(r.code, 0, r.stderr);
    const rep = r.report;
    assert.equal(rep.runs.length, 4);
    assert.deepEqual(rep.runs.map((x) => [x.concurrency, x.target]),
      [[1, a.url], [1, b.url], [4, a.url], [4, b.url]]);
    assert.equal(rep.compare.ratios_b_over_a.length, 2);
    for (const ratio of rep.compare.ratios_b_over_a)
      assert.ok(ratio.ttft_p50 > 1.4 && ratio.ttft_p50 < 2.2, `TTFT ratio ${ratio.ttft_p50}`);
    assert.match(r.stdout, /ratios B \/ A/);
    assert.equal(rep.runs[0].per_request.latency_ms.length, 12);
    assert.ok(rep.runs[0].timeline.tokens.reduce((s, x) => s + x, 0) === 48);
    const page = readFileSync(html, 'utf8');
    const stripped = page.replaceAll(a.url, '').replaceAll(b.url, '').replaceAll('http://www.w3.org/2000/svg', '');
    assert.ok(!/<script|https?:\/\/|@import|url\(/i.test(stripped), 'no script and no external resource');
    const chromium = findChromium();
    if (!chromium) {
      t.skip('chromium is not installed (tools/install_deps.sh --test installs it): HTML not rendered');
      return;
    }
    const shot = join(BUILD, 'bench_report.png');
    const res = await inspectPage(chromium, html, {
      screenshot: shot,
      expression: `({svgs: document.querySelectorAll('svg').length,
        drawn: [...document.querySelectorAll('svg')].filter((s) => s.getBBox().width > 100).length,
        bars: document.querySelectorAll('svg rect.b').length, lines: document.querySelectorAll('svg polyline').length})`,
    });
    assert.deepEqual(res.consoleErrors, []);
    assert.deepEqual(res.exceptions, []);
    assert.deepEqual(res.requests.filter((u) => !u.startsWith('file:')), []);
    // 4 charts against load, and per run 3 histograms + 2 timelines.
    assert.equal(res.value.svgs, 4 + 4 * 5);
    assert.equal(res.value.drawn, res.value.svgs);
    assert.ok(res.value.bars > 10 && res.value.lines > 10, JSON.stringify(res.value));
    assert.ok(statSync(shot).size > 10000, 'a screenshot with content');
  } finally {
    await a.stop();
    await b.stop();
  }
});

test('bad options: one line and a non-zero exit', async () => {
  const cases = [
    [['--url', 'http://127.0.0.1:1'], /model/],
    [['--model', 'm', '--api', 'bogus'], /unknown API 'bogus'/],
    [['--model', 'm', '--url', 'ftp://x'], /only http/],
    [['--model', 'm', '--prompts', '/nonexistent.jsonl'], /cannot open prompt file/],
    [['--model', 'm', '--input-tokens', '0'], /--input-tokens/],
    [['--model', 'm', '--sweep', '1,x'], /invalid --sweep/],
    [['--model', 'm', '--options', '[1]'], /--options must be a JSON object/],
    [['--model', 'm', '--arrival', 'burst'], /poisson or constant/],
    [['--model', 'm', '--concurrency', '0'], /--concurrency/],
  ];
  for (const [args, re] of cases) {
    const r = await bench(args, { json: false });
    assert.notEqual(r.code, 0, args.join(' '));
    assert.match(r.stderr, re);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
});

test('against a real paddock serve: every route, the server counts tokens', async () => {
  const srv = await startServer();
  try {
    for (const api of ['generate', 'chat', 'openai-chat', 'openai-completions']) {
      const r = await bench(['--url', srv.url, '--model', MODEL, '--api', api, '-c', '2', '-n', '4',
        '--input-tokens', '16', '--output-tokens', '6', '--options', '{"temperature":0}']);
      assert.equal(r.code, 0, `${api}: ${r.stderr}`);
      const run = r.report.runs[0];
      assert.equal(run.ok, 4, JSON.stringify(run.errors));
      assert.equal(run.server_counts, true, api);
      assert.ok(run.mean_input_tokens >= 16, `${api}: in ${run.mean_input_tokens}`);
      assert.ok(run.mean_output_tokens >= 1 && run.mean_output_tokens <= 6, `${api}: out ${run.mean_output_tokens}`);
      assert.ok(run.ttft_ms.n === 4 && run.ttft_ms.p50 > 0);
    }
  } finally {
    await srv.stop();
  }
});
