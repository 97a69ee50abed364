// Embedding pooling from `<arch>.pooling_type`: four models with the same random weights that
// differ only in pooling (absent, mean, cls, last). A causal model's hidden state at position i
// depends only on tokens 0..i, so: cls is the same for prompts that share their first token and
// equals mean/last of that first token alone; and for a two-token prompt the mean direction is a
// positive combination of the cls (first) and last directions. none and rank are refused.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ollama } from 'ollama';
import { BIN, startServer, makeStore, post } from './helpers.mjs';

let srv, ollama;
const kinds = { absent: -1, none: 0, mean: 1, cls: 2, last: 3, rank: 4 };
before(async () => {
  const dir = makeStore();
  for (const [name, p] of Object.entries(kinds)) {
    const gguf = join(dir, `${name}.gguf`);
    const args = ['gguf-tiny', gguf, '--n-ctx', '512', '--seed', '5'];
    if (p >= 0) args.push('--pooling', String(p));
    execFileSync(BIN, args);
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

test('cls = the first token; last = the last token; mean lies between them', async () => {
  // Find two one-word inputs and their token counts (a BOS may be added: then the first token is BOS).
  const one = await embed('mean', 'x');
  const nOne = one.prompt_eval_count;
  assert.ok(nOne === 1 || nOne === 2, `prompt_eval_count ${nOne}`);
  const cls1 = (await embed('cls', ['x', 'x y z', 'x q r s'])).embeddings;
  close(cls1[0], cls1[1]);
  close(cls1[0], cls1[2]);
  if (nOne === 1) {
    // No BOS: the first token is "x" itself, whose hidden state every pooling gives alone.
    close(cls1[0], one.embeddings[0]);
    close((await embed('last', 'x')).embeddings[0], one.embeddings[0]);
  }
  const differ = (await embed('cls', ['y'])).embeddings[0];
  if (nOne === 1) assert.ok(dot(differ, cls1[0]) < 0.9999, 'a different first token gives a different cls');
  // Two-token prompt [t0, t1]: mean ∝ h0 + h1 = |h0|·cls + |h1|·last, with cls, last unit vectors.
  const two = nOne === 2 ? 'x' : 'x y';
  const m = (await embed('mean', two)), c = (await embed('cls', two)), l = (await embed('last', two));
  assert.equal(m.prompt_eval_count, 2);
  const M = m.embeddings[0], C = c.embeddings[0], L = l.embeddings[0];
  assert.ok(dot(C, L) < 0.999, 'first and last differ');
  // Least squares M ≈ a·C + b·L.
  const cc = dot(C, C), ll = dot(L, L), cl = dot(C, L), mc = dot(M, C), ml = dot(M, L);
  const det = cc * ll - cl * cl;
  const a = (mc * ll - ml * cl) / det, b = (ml * cc - mc * cl) / det;
  assert.ok(a > 0 && b > 0, `coefficients ${a}, ${b}`);
  const resid = M.map((x, i) => x - a * C[i] - b * L[i]);
  assert.ok(Math.sqrt(dot(resid, resid)) < 1e-4, `residual ${Math.sqrt(dot(resid, resid))}`);
  // And last of a longer prompt is not its mean or its cls.
  const longL = (await embed('last', 'x y z w')).embeddings[0];
  const longM = (await embed('mean', 'x y z w')).embeddings[0];
  assert.ok(dot(longL, longM) < 0.9999);
});

test('pooling none and rank: a clear 4xx', async () => {
  for (const kind of ['none', 'rank']) {
    const r = await post(`${srv.url}/api/embed`, { model: `pool-${kind}`, input: 'x' });
    assert.ok(r.status >= 400 && r.status < 500, `${kind}: ${r.status} ${r.text}`);
    assert.match(r.json.error, /pooling type/);
  }
});
