// `paddock bench` against an endpoint whose delays we script (paddock_fake_llm): its statistics
// must match what the server was told to do (TTFT, ITL, latency percentiles), its open loop must
// follow its schedule (bench_rate.test.mjs: at 5,000 requests/s), goodput and errors must be
// counted exactly, TLS and the API key must work, and the JSON and HTML reports must be valid
// (the HTML opened in headless Chromium). Then a short run against a real `paddock serve`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, mkdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, MODEL } from './helpers.mjs';
import { bench, startFake, work } from './bench_helpers.mjs';
import { findChromium, inspectPage } from './chromium.mjs';

const BUILD = process.env.PADDOCK_BUILD_DIR ?? tmpdir();

// numpy's default percentile (linear between order statistics), computed here independently.
function pct(values, q) {
  const v = [...values].sort((a, b) => a - b);
  const r = q * (v.length - 1), lo = Math.floor(r), hi = Math.min(lo + 1, v.length - 1);
  return v[lo] + (v[hi] - v[lo]) * (r - lo);
}

// Scripted delays are lower bounds (a timer never fires early); what the generator adds on top is
// the loopback round trip and scheduling: under a ms on a quiet machine, up to ~30 ms on a 2-core
// machine with 15 runnable processes (measured here), hence delays of 20-400 ms and this slack.
// Any order statistic of (scripted + a delay in [0, SLACK]) lies within [scripted, scripted + SLACK].
const SLACK_MS = 40;
function assertNear(measured, scripted, what) {
  assert.ok(measured >= scripted - 0.5 && measured <= scripted + SLACK_MS,
    `${what}: measured ${measured.toFixed(2)} ms, scripted ${scripted.toFixed(2)} ms`);
}

const TTFTS = Array.from({ length: 20 }, (_, i) => 20 * (i + 1));  // 20, 40, ..., 400 ms

for (const api of ['generate', 'chat', 'openai-chat', 'openai-completions']) {
  test(`${api}: TTFT, ITL and latency percentiles match the scripted delays`, async () => {
    const fake = await startFake(['--ttft-ms', TTFTS.join(','), '--itl-ms', '20']);
    try {
      const r = await bench(['--url', fake.url, '--model', 'm', '--api', api, '--concurrency', '10', '--requests', '20', '--warmup', '10',
        '--input-tokens', '32', '--output-tokens', '10']);
      assert.equal(r.code, 0, r.stderr);
      const run = r.report.runs[0];
      assert.equal(run.ok, 20);
      assert.equal(run.failed, 0);
      // Each scripted TTFT was used once (the warm-up took one round of the list and opened the
      // connections, so connecting is not in the figures); the last token comes 9 gaps later.
      for (const [k, q] of [['p50', 0.5], ['p90', 0.9], ['p99', 0.99]]) {
        assertNear(run.ttft_ms[k], pct(TTFTS, q), `TTFT ${k}`);
        assertNear(run.latency_ms[k], pct(TTFTS, q) + 9 * 20, `latency ${k}`);
      }
      assertNear(run.ttft_ms.max, 400, 'TTFT max');
      assertNear(run.ttft_ms.mean, 210, 'TTFT mean');
      // Tokens go out on an absolute schedule 20 ms apart, so gaps average 20 ms; one late token
      // shortens the next gap by as much as it lengthened its own.
      assert.ok(Math.abs(run.itl_ms.mean - 20) < 3, `ITL mean ${run.itl_ms.mean}`);
      assert.ok(Math.abs(run.itl_ms.p50 - 20) < 5, `ITL p50 ${run.itl_ms.p50}`);
      assert.equal(run.itl_ms.n, 20 * 9);
      // The server's own counts: 32 words in, 10 tokens out.
      assert.equal(run.server_counts, true);
      assert.equal(run.mean_input_tokens, 32);
      assert.equal(run.mean_output_tokens, 10);
      assert.match(r.stdout, /TTFT\s+\d/);
    } finally {
      await fake.stop();
    }
  });
}

test('non-streaming: latency is TTFT plus the scripted token gaps; no TTFT figure', async () => {
  const fake = await startFake(['--ttft-ms', '50', '--itl-ms', '10']);
  try {
    const r = await bench(['--url', fake.url, '--model', 'm', '--no-stream', '-c', '4', '-n', '20', '--output-tokens', '9',
      '--warmup', '4']);
    assert.equal(r.code, 0, r.stderr);
    const run = r.report.runs[0];
    assertNear(run.latency_ms.p50, 50 + 8 * 10, 'latency p50');
    assert.equal(run.ttft_ms.n, 0);
    assert.equal(run.mean_output_tokens, 9);
  } finally {
    await fake.stop();
  }
});

test('open loop, Poisson arrivals: exponential gaps, and the server sees the mean rate', async () => {
  const fake = await startFake();
  try {
    const r = await bench(['--url', fake.url, '--model', 'm', '--no-stream', '--rate', '1000', '--requests', '3000',
      '--input-tokens', '4', '--output-tokens', '1', '--seed', '11']);
    assert.equal(r.code, 0, r.stderr);
    const moments = (a) => {
      const gaps = a.slice(1).map((t, i) => t - a[i]);
      const mean = gaps.reduce((s, g) => s + g, 0) / gaps.length;
      return { mean, cv: Math.sqrt(gaps.reduce((s, g) => s + (g - mean) ** 2, 0) / gaps.length) / mean };
    };
    // The schedule: exponential gaps of mean 1 ms (coefficient of variation 1).
    const plan = moments(r.report.runs[0].per_request.scheduled_ms);
    assert.ok(Math.abs(plan.mean - 1) < 0.06, `mean scheduled gap ${plan.mean} ms`);
    assert.ok(Math.abs(plan.cv - 1) < 0.08, `CV ${plan.cv}`);
    // The server's clock: the same mean rate (its gaps' spread also carries the machine's
    // scheduling noise, so only the mean is checked there).
    const seen = moments((await fake.stats()).arrivals_ms.sort((x, y) => x - y));
    assert.ok(Math.abs(seen.mean / plan.mean - 1) < 0.05, `server mean gap ${seen.mean} ms`);
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
  // Objectives 50 ms away from every scripted value, so scheduling noise cannot move a request
  // across one.
  const fake = await startFake(['--ttft-ms', '20,120,220,320,420', '--itl-ms', '1']);
  try {
    const r = await bench(['--url', fake.url, '--model', 'm', '-c', '5', '-n', '25', '--output-tokens', '2',
      '--slo-ttft', '270', '--warmup', '5']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.report.runs[0].goodput.good, 15);  // TTFT 20, 120, 220 of each five
    assert.match(r.stdout, /goodput\s+15 of 25/);
    const r2 = await bench(['--url', fake.url, '--model', 'm', '-c', '5', '-n', '25', '--output-tokens', '2',
      '--slo-ttft', '270', '--slo-latency', '171', '--warmup', '5']);
    assert.equal(r2.report.runs[0].goodput.good, 10);  // and latency ≤ 171 ms: TTFT 20 and 120 only
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
  const a = await startFake(['--ttft-ms', '60', '--itl-ms', '2']);
  const b = await startFake(['--ttft-ms', '180', '--itl-ms', '2']);
  const html = join(work, 'report.html');
  try {
    const r = await bench(['--url', a.url, '--compare', b.url, '--model', 'm', '--sweep', '1,4', '-n', '8',
      '--output-tokens', '4', '--slo-ttft', '100', '--warmup', '4', '--html', html]);
    assert.equal(r.code, 0, r.stderr);
    const rep = r.report;
    assert.equal(rep.runs.length, 4);
    assert.deepEqual(rep.runs.map((x) => [x.concurrency, x.target]),
      [[1, a.url], [1, b.url], [4, a.url], [4, b.url]]);
    assert.equal(rep.compare.ratios_b_over_a.length, 2);
    for (const ratio of rep.compare.ratios_b_over_a)
      assert.ok(ratio.ttft_p50 > 2 && ratio.ttft_p50 < 3.3, `TTFT ratio ${ratio.ttft_p50} (scripted 3)`);
    assert.match(r.stdout, /ratios B \/ A/);
    assert.equal(rep.runs[0].per_request.latency_ms.length, 8);
    assert.equal(rep.runs[0].timeline.tokens.reduce((s, x) => s + x, 0), 32);
    assert.equal(rep.runs[0].timeline.completed.reduce((s, x) => s + x, 0), 8);
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
