// `paddock bench`'s open loop at 5,000 requests/s against paddock_fake_llm: the server's own
// clock must see the rate asked for. Run alone (RUN_SERIAL): a rate test measures the machine.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bench, startFake } from './bench_helpers.mjs';

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
    // The late count is what the per-request times say (sent more than 1 ms after scheduled).
    const pr = run.per_request;
    const late = pr.sent_ms.filter((t, i) => t - pr.scheduled_ms[i] > 1.0005).length;
    assert.ok(Math.abs(late - run.schedule.late) <= 5, `late ${run.schedule.late}, recomputed ${late}`);
    // Constant arrivals: scheduled 0.2 ms apart.
    assert.ok(Math.abs(pr.scheduled_ms[5000] - 1000) < 0.01, `${pr.scheduled_ms[5000]}`);
  } finally {
    await fake.stop();
  }
});

