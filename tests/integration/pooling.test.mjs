// Embedding pooling from `<arch>.pooling_type`: four models with the same random weights that
// differ only in pooling (absent, mean, cls, last). A causal model's hidden state at position i
// depends only on tokens 0..i, so cls is the same for every prompt (same first token), and adding
// one token moves the mean's sum by exactly that token's state, which last pooling returns: the
// mean of P+t lies in the positive span of mean(P) and last(P+t). none and rank are refused.
// And against llama.cpp: tests/fixtures/server/pooling.json (tools/pooling_oracle.mjs) holds its
// embeddings of the same files (same sha256) for mean, cls and last.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ollama } from 'ollama';
import { BIN, startServer, makeStore, post } from './helpers.mjs';

const oracle = JSON.parse(readFileSync(new URL('../fixtures/server/pooling.json', import.meta.url)));
const sha = {};
let srv, ollama;
const kinds = { absent: -1, none: 0, mean: 1, cls: 2, last: 3, rank: 4 };
before(async () => {
  const dir = makeStore();
  for (const [name, p] of Object.entries(kinds)) {
    const gguf = join(dir, `${name}.gguf`);
    const args = ['gguf-tiny', gguf, '--n-ctx', '512', '--seed', '5'];
    if (p >= 0) args.push('--pooling', String(p));
    execFileSync(BIN, args);
    sha[name] = createHash('sha256').update(readFileSync(gguf)).digest('hex');
    writeFileSync(join(dir, `${name}.Modelfile`), `FROM ${gguf}\n`);
    execFileSync(BIN, ['create', `pool-${name}`, '-f', join(dir, `${name}.Modelfile`), '--models', join(dir, 'models')]);
  }
  srv = await startServer({ dir, args: ['--max-loaded-models', '6'] });
  ollama = new Ollama({ host: srv.url });
});
after(async () => { await srv?.stop(); });

const embed = async (kind, input) => ollama.embed({ model: `pool-${kind}`, input });
const dot = (a, b) => a.reduce((s, x, i) => s + x * b[i], 0);
const close = (a, b, tol = 1e-4) => {
  assert.equal(a.length, b.length);
  const err = Math.sqrt(a.reduce((s, x, i) => s + (x - b[i]) ** 2, 0));
  assert.ok(err < tol, `distance ${err}`);
};

test('absent pooling_type is mean; the models are embedding models per capability', async () => {
  const a = await embed('absent', ['alpha beta gamma']);
  const m = await embed('mean', ['alpha beta gamma']);
  close(a.embeddings[0], m.embeddings[0]);
  const show = await ollama.show({ model: 'pool-cls' });
  assert.deepEqual(show.capabilities, ['embedding']);
});

test('cls = the first token; last = the last token; mean moves by exactly the last token', async () => {
  // cls depends only on the first token (BOS or the first text token): equal for any prompts.
  const cls = (await embed('cls', ['x', 'xyz', 'q r s'])).embeddings;
  close(cls[0], cls[1]);
  close(cls[0], cls[2]);
  // A prompt P and P' = P plus one token (checked by prompt_eval_count). Causal attention:
  // sum(P') = sum(P) + h_last(P'), so mean(P') lies in the span of mean(P) and last(P') with
  // positive coefficients (all three are unit vectors of those sums).
  let pair = null;
  for (const [a, b] of [['x', 'xy'], ['ab', 'abc'], ['hello', 'hello!'], ['q', 'qz'], ['a b', 'a bc']]) {
    const [ea, eb] = [await embed('mean', a), await embed('mean', b)];
    if (eb.prompt_eval_count === ea.prompt_eval_count + 1 && ea.prompt_eval_count >= 2) {
      pair = { a, b, ma: ea.embeddings[0], mb: eb.embeddings[0] };
      break;
    }
  }
  assert.ok(pair, 'a prompt pair one token apart');
  const L = (await embed('last', pair.b)).embeddings[0];
  const A = pair.ma, M = pair.mb;
  assert.ok(dot(A, L) < 0.999, 'the new token has its own direction');
  const aa = dot(A, A), ll = dot(L, L), al = dot(A, L), ma = dot(M, A), ml = dot(M, L);
  const det = aa * ll - al * al;
  const x = (ma * ll - ml * al) / det, y = (ml * aa - ma * al) / det;
  assert.ok(x > 0 && y > 0, `coefficients ${x}, ${y}`);
  const resid = M.map((v, i) => v - x * A[i] - y * L[i]);
  assert.ok(Math.sqrt(dot(resid, resid)) < 1e-4, `residual ${Math.sqrt(dot(resid, resid))}`);
  // last is neither mean nor cls, and last of P is not last of P'.
  assert.ok(dot(L, M) < 0.9999 && dot(L, cls[0]) < 0.9999);
  const La = (await embed('last', pair.a)).embeddings[0];
  assert.ok(dot(La, L) < 0.9999);
  // And cls of the pair's prompt is the same first-token state as every other prompt's.
  close((await embed('cls', pair.a)).embeddings[0], cls[0]);
});

test('mean, cls and last match llama.cpp on the same files', async () => {
  for (const [kind, want] of Object.entries(oracle.models)) {
    assert.equal(sha[kind], want.sha256, `${kind}: the generator wrote a different file than the oracle saw`);
    const got = (await embed(kind, want.texts)).embeddings;
    assert.equal(got.length, want.texts.length);
    for (let i = 0; i < got.length; i++) {
      const cos = dot(got[i], want.embeddings[i]);
      const maxDiff = Math.max(...got[i].map((x, j) => Math.abs(x - want.embeddings[i][j])));
      // llama.cpp keeps an f16 KV cache and sums in its own order: agreement to ~1e-4.
      assert.ok(cos > 0.99999 && maxDiff < 2e-3, `${kind} "${want.texts[i]}": cos ${cos}, max diff ${maxDiff}`);
    }
  }
  // The three poolings really differ on a multi-token text.
  const [m, c, l] = ['mean', 'cls', 'last'].map((k) => oracle.models[k].embeddings[3]);
  assert.ok(dot(m, c) < 0.999 && dot(m, l) < 0.999 && dot(c, l) < 0.999);
});

test('pooling none and rank: a clear 4xx', async () => {
  for (const kind of ['none', 'rank']) {
    const r = await post(`${srv.url}/api/embed`, { model: `pool-${kind}`, input: 'x' });
    assert.ok(r.status >= 400 && r.status < 500, `${kind}: ${r.status} ${r.text}`);
    assert.match(r.json.error, /pooling type/);
  }
});
