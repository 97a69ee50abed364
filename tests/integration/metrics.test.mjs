// Metrics (issue 12 item 4): the separate listener, the names the users' dashboards and alerts
// read (ollama_inference_latency_seconds, ollama_request_queue_length, container_gpu_utilization),
// the Gateway API Inference Extension gauges, counts that match what the API itself reported,
// bounded labels under fuzzed model names, disconnects with the KV cache back to baseline, the
// bearer token, and Prometheus's own `promtool check metrics` on a real scrape.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import net from 'node:net';
import { startServer, MODEL, post, makeStore, waitFor, scrape, metric, runnerStats, BIN } from './helpers.mjs';

const dir = makeStore();
let srv;
before(async () => { srv = await startServer({ dir, args: ['--num-parallel', '2'] }); });
after(async () => {
  await srv?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const sum = (samples, name, pred = () => true) =>
  samples.filter((s) => s.name === name && pred(s.labels)).reduce((a, s) => a + s.value, 0);

async function ndjson(url, body, signal) {
  const r = await fetch(url, { method: 'POST', body: JSON.stringify(body), signal,
    headers: { 'Content-Type': 'application/json' } });
  const lines = (await r.text()).trim().split('\n').map((l) => JSON.parse(l));
  return { status: r.status, lines };
}

test('metrics live on their own listener, not on the API port', async () => {
  assert.notEqual(srv.metricsUrl, null);
  const api = await fetch(`${srv.url}/metrics`);
  assert.equal(api.status, 404);
  const m = await scrape(srv.metricsUrl);
  assert.equal(m.status, 200);
  assert.match(m.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
  assert.equal((await fetch(`${srv.metricsUrl}/livez`)).status, 200);
  assert.equal((await fetch(`${srv.metricsUrl}/readyz`)).status, 200);
  assert.equal((await fetch(`${srv.metricsUrl}/api/version`)).status, 404);
});

test('request families count what the API answered: latency by model and endpoint, tokens, TTFT', async () => {
  const before = (await scrape(srv.metricsUrl)).samples;
  let prompt = 0, gen = 0, withTokens = 0;
  for (let i = 0; i < 3; i++) {
    const r = await post(`${srv.url}/api/generate`, { model: MODEL, prompt: `count ${i}`, stream: false });
    assert.equal(r.status, 200, r.text);
    prompt += r.json.prompt_eval_count;
    gen += r.json.eval_count;
    if (r.json.response.length > 0) withTokens++;
  }
  for (let i = 0; i < 2; i++) {
    const r = await ndjson(`${srv.url}/api/chat`, { model: MODEL, messages: [{ role: 'user', content: `hi ${i}` }] });
    assert.equal(r.status, 200);
    const last = r.lines.at(-1);
    assert.equal(last.done, true);
    prompt += last.prompt_eval_count;
    gen += last.eval_count;
  }
  const bad = await post(`${srv.url}/api/generate`, { model: 'no-such-model', prompt: 'x', stream: false });
  assert.equal(bad.status, 404);
  const s = (await scrape(srv.metricsUrl)).samples;
  const delta = (name, labels) => (metric(s, name, labels) ?? 0) - (metric(before, name, labels) ?? 0);
  assert.equal(delta('ollama_inference_latency_seconds_count', { model: MODEL, endpoint: '/api/generate' }), 3);
  assert.equal(delta('ollama_inference_latency_seconds_count', { model: MODEL, endpoint: '/api/chat' }), 2);
  assert.ok(delta('ollama_inference_latency_seconds_sum', { model: MODEL, endpoint: '/api/chat' }) > 0);
  assert.equal(delta('paddock_generation_tokens_total', { model: MODEL }), gen);
  assert.equal(delta('paddock_prompt_tokens_total', { model: MODEL }), prompt);
  assert.equal(delta('paddock_requests_total', { route: '/api/generate', model: MODEL, status: '200' }), 3);
  assert.equal(delta('paddock_requests_total', { route: '/api/chat', model: MODEL, status: '200' }), 2);
  // The unknown model never became a label: its 404 is counted without one.
  assert.equal(delta('paddock_requests_total', { route: '/api/generate', model: '', status: '404' }), 1);
  // One first token per generation that produced text; inter-token gaps for the rest.
  const ttft = delta('paddock_time_to_first_token_seconds_count', { model: MODEL });
  assert.ok(ttft >= withTokens && ttft <= 5, `ttft count ${ttft}`);
  assert.ok(delta('paddock_inter_token_latency_seconds_count', { model: MODEL }) >= gen - 5 - 5);
  // Histogram buckets are cumulative and end in +Inf = count.
  const buckets = s.filter((x) => x.name === 'ollama_inference_latency_seconds_bucket' &&
    x.labels.model === MODEL && x.labels.endpoint === '/api/generate');
  for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i].value >= buckets[i - 1].value);
  assert.equal(buckets.at(-1).labels.le, '+Inf');
  assert.equal(buckets.at(-1).value, metric(s, 'ollama_inference_latency_seconds_count', { model: MODEL, endpoint: '/api/generate' }));
});

test('queue, running and KV gauges agree with the runner; the gateway gauges are server-wide', async () => {
  await post(`${srv.url}/api/generate`, { model: MODEL, prompt: 'load', stream: false });
  const s = (await scrape(srv.metricsUrl)).samples;
  assert.equal(metric(s, 'ollama_request_queue_length', { model: '' }), 0);  // the total
  assert.equal(metric(s, 'ollama_request_queue_length', { model: MODEL }), 0);
  assert.equal(metric(s, 'paddock_num_requests_waiting'), 0);
  assert.equal(metric(s, 'paddock_num_requests_running'), 0);
  assert.equal(metric(s, 'paddock_models_loaded'), 1);
  const [r] = await runnerStats(srv.url);
  const used = metric(s, 'paddock_kv_cache_blocks_used', { model: MODEL });
  const free = metric(s, 'paddock_kv_cache_blocks_free', { model: MODEL });
  assert.equal(used + free, r.stats.kv_blocks_total);
  const ratio = metric(s, 'paddock_kv_cache_usage_ratio');
  assert.ok(ratio >= 0 && ratio <= 1);
  assert.ok(Math.abs(ratio - used / (used + free)) < 1e-9);
  assert.equal(typeof metric(s, 'paddock_preemptions_total', { model: MODEL }), 'number');
  assert.ok(metric(s, 'paddock_runner_resident_memory_bytes', { model: MODEL }) > 1e6);
  assert.ok(metric(s, 'paddock_model_load_duration_seconds_count', { model: MODEL }) >= 1);
  assert.ok(metric(s, 'process_resident_memory_bytes') > 1e6);
  assert.ok(metric(s, 'process_open_fds') > 3);
  assert.ok(metric(s, 'process_cpu_seconds_total') > 0);
});

test('while requests run and wait, the gauges show them', async () => {
  const long = { model: MODEL, prompt: 'long', options: { num_predict: 100000 } };
  const ctl = [new AbortController(), new AbortController(), new AbortController()];
  const started = ctl.map((c) => fetch(`${srv.url}/api/generate`, { method: 'POST', body: JSON.stringify(long),
    signal: c.signal, headers: { 'Content-Type': 'application/json' } }).then(async (r) => {
    const rd = r.body.getReader();
    await rd.read();
    return rd;
  }).catch(() => null));
  try {
    // Two slots (num_parallel 2): two run, the third waits for a slot.
    const s = await waitFor(async () => {
      const x = (await scrape(srv.metricsUrl)).samples;
      return metric(x, 'paddock_num_requests_running') === 2 && metric(x, 'ollama_request_queue_length', { model: MODEL }) === 1 ? x : null;
    });
    assert.ok(s, 'never saw 2 running and 1 waiting');
    assert.equal(metric(s, 'ollama_request_queue_length', { model: '' }), 1);
    assert.equal(metric(s, 'paddock_num_requests_waiting'), 1);
    assert.equal(metric(s, 'paddock_requests_running', { model: MODEL }), 2);
  } finally {
    for (const c of ctl) c.abort();
    await Promise.all(started);
  }
});

test('a client that disconnects mid-stream is counted, and running and KV return to baseline', async () => {
  await post(`${srv.url}/api/generate`, { model: MODEL, prompt: 'warm', stream: false });
  const base = (await scrape(srv.metricsUrl)).samples;
  const free0 = metric(base, 'paddock_kv_cache_blocks_free', { model: MODEL });
  const d0 = metric(base, 'paddock_client_disconnects_total', { route: '/api/generate' }) ?? 0;
  for (let i = 0; i < 5; i++) {
    const c = new AbortController();
    const r = await fetch(`${srv.url}/api/generate`, { method: 'POST', signal: c.signal,
      body: JSON.stringify({ model: MODEL, prompt: `bye ${i}`, options: { num_predict: 100000 } }),
      headers: { 'Content-Type': 'application/json' } });
    const rd = r.body.getReader();
    await rd.read();
    await rd.read();
    c.abort();
  }
  const s = await waitFor(async () => {
    const x = (await scrape(srv.metricsUrl)).samples;
    return metric(x, 'paddock_client_disconnects_total', { route: '/api/generate' }) === d0 + 5 &&
      metric(x, 'paddock_num_requests_running') === 0 &&
      metric(x, 'paddock_kv_cache_blocks_free', { model: MODEL }) >= free0 ? x : null;
  });
  assert.ok(s, 'disconnects not counted or KV not back to baseline');
});

test('labels stay bounded: fuzzed model names never become label values', async () => {
  const names = [], randoms = [];
  for (let i = 0; i < 200; i++) {
    const r = `q${Math.random().toString(36).slice(2, 10)}`;
    randoms.push(r);
    names.push(i % 3 === 0 ? `../../etc/${r}` : i % 3 === 1 ? `fuzz-${r}:latest` : `x/y/z/w:${r}`);
  }
  await Promise.all(names.map((n) => post(`${srv.url}/v1/chat/completions`, { model: n, messages: [{ role: 'user', content: 'x' }] })));
  await Promise.all(names.map((n) => post(`${srv.url}/api/embed`, { model: n, input: 'x' })));
  const { text, samples } = await scrape(srv.metricsUrl);
  for (const r of randoms) assert.ok(!text.includes(r), `label leaked: ${r}`);
  const models = new Set(samples.filter((x) => 'model' in x.labels).map((x) => x.labels.model));
  assert.deepEqual([...models].sort(), ['', MODEL].sort());
  const routes = new Set(samples.filter((x) => 'route' in x.labels).map((x) => x.labels.route));
  for (const r of routes) assert.ok(r.startsWith('/') || r === 'other', r);
  // Unknown paths share one label.
  await fetch(`${srv.url}/api/${Math.random().toString(36).slice(2)}`);
  const again = (await scrape(srv.metricsUrl)).samples;
  assert.ok(metric(again, 'paddock_requests_total', { route: 'other', model: '', status: '404' }) >= 1);
});

test('refusals are counted by code and reason, from the HTTP layer and from the handlers', async () => {
  const base = (await scrape(srv.metricsUrl)).samples;
  const big = 'x'.repeat(9 << 20);
  const r = await fetch(`${srv.url}/api/generate`, { method: 'POST', body: big, headers: { 'Content-Type': 'application/json' } })
    .catch(() => null);
  if (r) assert.equal(r.status, 413);
  const evil = spawnSync('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '-H', 'Host: evil.example',
    `${srv.url}/api/tags`], { encoding: 'utf8' });
  assert.equal(evil.stdout, '403');
  const s = await waitFor(async () => {
    const x = (await scrape(srv.metricsUrl)).samples;
    return metric(x, 'paddock_rejected_requests_total', { code: '413', reason: 'too_large' }) >
      (metric(base, 'paddock_rejected_requests_total', { code: '413', reason: 'too_large' }) ?? 0) ? x : null;
  });
  assert.ok(s, '413 not counted');
  assert.equal(metric(s, 'paddock_rejected_requests_total', { code: '403', reason: 'forbidden' }) -
    (metric(base, 'paddock_rejected_requests_total', { code: '403', reason: 'forbidden' }) ?? 0), 1);
});

test('without NVML or a GPU there are no GPU series and no error', async () => {
  const gpu = spawnSync('nvidia-smi', ['-L'], { encoding: 'utf8' });
  const { samples, status } = await scrape(srv.metricsUrl);
  assert.equal(status, 200);
  const util = samples.filter((x) => x.name === 'container_gpu_utilization');
  if (gpu.status !== 0) {
    assert.equal(util.length, 0);
    assert.equal(samples.filter((x) => x.name.startsWith('paddock_gpu_')).length, 0);
  } else {
    assert.ok(util.length >= 1);
    for (const u of util) assert.ok(u.value >= 0 && u.value <= 1);
    assert.ok(metric(samples, 'paddock_gpu_memory_total_bytes', { gpu: '0' }) > 0);
  }
  assert.ok(!/nvml/i.test(srv.stderr().split('\n').filter((l) => /warn|error/i.test(l)).join('\n')));
});

test('promtool check metrics finds nothing wrong in a real scrape', async () => {
  await post(`${srv.url}/api/generate`, { model: MODEL, prompt: 'lint', stream: false });
  const { text } = await scrape(srv.metricsUrl);
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  assert.equal(r.error, undefined, 'promtool is missing: tools/install_deps.sh --test installs prometheus');
  assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  assert.equal(`${r.stdout}${r.stderr}`.trim(), '');
  // The oracle can fail: a counter without _total is reported.
  const bad = spawnSync('promtool', ['check', 'metrics'], { encoding: 'utf8',
    input: '# HELP x_requests Requests.\n# TYPE x_requests counter\nx_requests 1\n' });
  assert.notEqual(bad.status, 0);
});

test('docs/OPERATIONS.md describes every metric family a scrape has', async () => {
  const doc = readFileSync(new URL('../../docs/OPERATIONS.md', import.meta.url), 'utf8');
  const { text } = await scrape(srv.metricsUrl);
  const families = [...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]);
  assert.ok(families.length > 30);
  for (const f of families) assert.ok(doc.includes(`\`${f}\``), `${f} is not in docs/OPERATIONS.md`);
});

test('a bearer token guards /metrics when set; probes stay open', async () => {
  const tokFile = join(dir, 'metrics-token');
  writeFileSync(tokFile, 's3cret-token\n');
  const s2 = await startServer({ dir, args: ['--metrics-token-file', tokFile] });
  try {
    const none = await scrape(s2.metricsUrl);
    assert.equal(none.status, 401);
    assert.match(none.headers.get('www-authenticate'), /^Bearer/);
    assert.equal((await scrape(s2.metricsUrl, { Authorization: 'Bearer wrong-token!' })).status, 401);
    const ok = await scrape(s2.metricsUrl, { Authorization: 'Bearer s3cret-token' });
    assert.equal(ok.status, 200);
    assert.ok(!ok.text.includes('s3cret'));
    assert.equal((await fetch(`${s2.metricsUrl}/readyz`)).status, 200);
    assert.ok(!s2.stderr().includes('s3cret'));
  } finally { await s2.stop(); }
});

test('an explicit --metrics-addr that cannot be bound stops the start; off means no listener', async () => {
  const blocker = net.createServer();
  await new Promise((r) => blocker.listen(0, '127.0.0.1', r));
  const port = blocker.address().port;
  try {
    const r = spawnSync(BIN, ['serve', '--host', '127.0.0.1:0', '--models', join(dir, 'models'),
      '--metrics-addr', `127.0.0.1:${port}`], { encoding: 'utf8', timeout: 20000 });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /metrics listener/);
    assert.equal(r.stderr.trim().split('\n').filter((l) => l.startsWith('Error')).length, 1);
  } finally { blocker.close(); }
  const s3 = await startServer({ dir, args: ['--metrics-addr', 'off'] });
  try {
    assert.equal(s3.metricsUrl, null);
    assert.equal((await fetch(`${s3.url}/api/version`)).status, 200);
  } finally { await s3.stop(); }
});

test('a real Prometheus scrapes the endpoint and sees the users\' series', { timeout: 120000 }, async () => {
  if (!existsSync('/usr/bin/prometheus')) assert.fail('prometheus is missing: tools/install_deps.sh --test installs it');
  const tokFile = join(dir, 'prom-token');
  writeFileSync(tokFile, 'prom-token-1');
  const s4 = await startServer({ dir, args: ['--metrics-token-file', tokFile] });
  const pdir = join(dir, 'prom');
  const promPort = await new Promise((res) => { const x = net.createServer(); x.listen(0, '127.0.0.1', () => { const p = x.address().port; x.close(() => res(p)); }); });
  const target = new URL(s4.metricsUrl).host;
  writeFileSync(join(dir, 'prometheus.yml'), `global:
  scrape_interval: 1s
  scrape_timeout: 900ms
scrape_configs:
  - job_name: paddock
    metrics_path: /metrics
    authorization:
      credentials_file: ${tokFile}
    static_configs:
      - targets: ['${target}']
`);
  const prom = spawn('/usr/bin/prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${pdir}`,
    `--web.listen-address=127.0.0.1:${promPort}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let plog = '';
  prom.stderr.on('data', (d) => { plog += d; });
  const q = async (expr) => {
    const r = await fetch(`http://127.0.0.1:${promPort}/api/v1/query?query=${encodeURIComponent(expr)}`).catch(() => null);
    if (!r || r.status !== 200) return null;
    return (await r.json()).data.result;
  };
  try {
    for (let i = 0; i < 2; i++) {
      const r = await post(`${s4.url}/api/generate`, { model: MODEL, prompt: `prom ${i}`, stream: false });
      assert.equal(r.status, 200);
    }
    const up = await waitFor(async () => {
      const r = await q('up{job="paddock"}');
      return r && r.length === 1 && r[0].value[1] === '1' ? r : null;
    }, 60000, 500);
    assert.ok(up, `prometheus never scraped the target:\n${plog.slice(-2000)}`);
    const lat = await waitFor(async () => {
      const r = await q(`ollama_inference_latency_seconds_count{model="${MODEL}",endpoint="/api/generate"}`);
      return r && r.length === 1 ? r : null;
    }, 30000, 500);
    assert.ok(lat, 'ollama_inference_latency_seconds not in prometheus');
    assert.equal(lat[0].value[1], '2');
    const queue = await q('ollama_request_queue_length');
    assert.ok(queue.length >= 1);
    const kv = await q('paddock_kv_cache_usage_ratio');
    assert.equal(kv.length, 1);
    // The seed's alert expression is valid against what is exported (no GPU here: empty result).
    const alert = await q('avg(rate(container_gpu_utilization[5m])) > 0.85');
    assert.ok(Array.isArray(alert));
  } finally {
    prom.kill('SIGTERM');
    await new Promise((r) => prom.on('exit', r));
    await s4.stop();
  }
});

test('deploy/prometheus: the scrape config, the alert rules and their unit tests pass promtool', () => {
  const d = new URL('../../deploy/prometheus/', import.meta.url).pathname;
  for (const args of [['check', 'config', 'prometheus.yml'], ['check', 'rules', 'alerts.yml'], ['test', 'rules', 'alerts_test.yml']]) {
    const r = spawnSync('promtool', args, { cwd: d, encoding: 'utf8' });
    assert.equal(r.status, 0, `promtool ${args.join(' ')}:\n${r.stdout}${r.stderr}`);
  }
});

// NVML is the NVIDIA driver's library, absent on CI machines. This stands in for it with the same
// C entry points (two devices with known numbers) so the dlopen path, the symbol lookups and the
// 0-1 scaling are exercised; on a GPU host the test above checks the real one.
test('GPU metrics through an NVML library loaded at run time (PADDOCK_NVML_LIBRARY)', async () => {
  const src = join(dir, 'fake_nvml.c');
  const so = join(dir, 'libfake-nvml.so');
  writeFileSync(src, `
#include <string.h>
typedef struct { unsigned int gpu, memory; } util_t;
typedef struct { unsigned long long total, free, used; } mem_t;
static int devs[2];
int nvmlInit_v2(void) { return 0; }
int nvmlDeviceGetCount_v2(unsigned *n) { *n = 2; return 0; }
int nvmlDeviceGetHandleByIndex_v2(unsigned i, void **h) { if (i > 1) return 2; *h = &devs[i]; return 0; }
int nvmlDeviceGetName(void *h, char *b, unsigned n) { strncpy(b, h == &devs[0] ? "Fake H100" : "Fake \\"quoted\\"", n); return 0; }
int nvmlDeviceGetUUID(void *h, char *b, unsigned n) { strncpy(b, h == &devs[0] ? "GPU-0000" : "GPU-1111", n); return 0; }
int nvmlDeviceGetUtilizationRates(void *h, util_t *u) { u->gpu = h == &devs[0] ? 37 : 100; u->memory = 5; return 0; }
int nvmlDeviceGetMemoryInfo(void *h, mem_t *m) { m->total = 80ull << 30; m->used = h == &devs[0] ? 1ull << 30 : 2ull << 30; m->free = m->total - m->used; return 0; }
`);
  const cc = spawnSync('cc', ['-shared', '-fPIC', '-o', so, src], { encoding: 'utf8' });
  assert.equal(cc.status, 0, cc.stderr);
  const s5 = await startServer({ dir, env: { PADDOCK_NVML_LIBRARY: so } });
  try {
    const { samples, text } = await scrape(s5.metricsUrl);
    assert.equal(metric(samples, 'container_gpu_utilization', { gpu: '0' }), 0.37);
    assert.equal(metric(samples, 'container_gpu_utilization', { gpu: '1' }), 1);
    assert.equal(metric(samples, 'paddock_gpu_utilization_ratio', { gpu: '0' }), 0.37);
    assert.equal(metric(samples, 'paddock_gpu_memory_total_bytes', { gpu: '1' }), 80 * 2 ** 30);
    assert.equal(metric(samples, 'paddock_gpu_memory_used_bytes', { gpu: '1' }), 2 * 2 ** 30);
    assert.equal(metric(samples, 'paddock_gpu_info', { gpu: '0', name: 'Fake H100', uuid: 'GPU-0000' }), 1);
    const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  } finally { await s5.stop(); }
  // A library without the entry points: no GPU series, no failure.
  const empty = join(dir, 'libempty.so');
  writeFileSync(join(dir, 'empty.c'), 'int nothing_here(void) { return 0; }\n');
  assert.equal(spawnSync('cc', ['-shared', '-fPIC', '-o', empty, join(dir, 'empty.c')]).status, 0);
  const s6 = await startServer({ dir, env: { PADDOCK_NVML_LIBRARY: empty } });
  try {
    const { samples, status } = await scrape(s6.metricsUrl);
    assert.equal(status, 200);
    assert.equal(samples.filter((x) => x.name.includes('gpu')).length, 0);
  } finally { await s6.stop(); }
});

// The OOM runbook's signal: a runner killed with SIGKILL (what the OOM killer sends) is counted
// with reason "killed", and the restart the next request causes is counted too. A model too big
// for the memory budget is a load failure.
test('runner kills, restarts and load failures are counted', async () => {
  await post(`${srv.url}/api/generate`, { model: MODEL, prompt: 'before', stream: false });
  const base = (await scrape(srv.metricsUrl)).samples;
  const [r] = await runnerStats(srv.url);
  process.kill(r.pid, 'SIGKILL');
  assert.ok(await waitFor(async () => (await runnerStats(srv.url)).length === 0), 'the dead runner is still listed');
  const again = await post(`${srv.url}/api/generate`, { model: MODEL, prompt: 'after', stream: false });
  assert.equal(again.status, 200, again.text);
  const s = (await scrape(srv.metricsUrl)).samples;
  const d = (name, labels) => (metric(s, name, labels) ?? 0) - (metric(base, name, labels) ?? 0);
  assert.equal(d('paddock_runner_exits_total', { model: MODEL, reason: 'killed' }), 1);
  assert.equal(d('paddock_runner_restarts_total', { model: MODEL }), 1);
  assert.match(srv.stderr(), /runner process for tiny:latest killed by signal 9/);
  const small = await startServer({ dir, args: ['--memory-gib', '0.001'] });
  try {
    const f = await post(`${small.url}/api/generate`, { model: MODEL, prompt: 'x', stream: false });
    assert.equal(f.status, 500);
    assert.equal(metric((await scrape(small.metricsUrl)).samples, 'paddock_model_load_failures_total', { model: MODEL }), 1);
    assert.match(small.stderr(), /loading tiny:latest failed: model tiny:latest requires more memory/);
  } finally { await small.stop(); }
});
