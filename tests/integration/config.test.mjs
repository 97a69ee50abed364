// Configuration (issue 12 item 8): flags > PADDOCK_* > OLLAMA_* > config file > defaults, the
// OLLAMA_* names Ollama users set, a YAML config file (nested keys, lists), `serve --print-config`
// with secrets masked and output that reads back as a config file, and one-line errors that name
// the setting and where its bad value came from.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { BIN } from './helpers.mjs';

const dir = mkdtempSync(join(tmpdir(), 'paddock-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));

// The environment without any PADDOCK_*/OLLAMA_* variable of the caller's.
function cleanEnv(extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(PADDOCK|OLLAMA)_/.test(k)) env[k] = v;
  return { ...env, HOME: dir, ...extra };
}

function printConfig(args = [], env = {}) {
  const r = spawnSync(BIN, ['serve', '--print-config', ...args], { env: cleanEnv(env), encoding: 'utf8', timeout: 20000 });
  const values = {}, sources = {};
  for (const line of r.stdout.split('\n')) {
    const m = line.match(/^(?:# )?([a-z-]+): (.*?)  # (.*)$/);
    if (m) { values[m[1]] = m[2]; sources[m[1]] = m[3]; }
  }
  return { ...r, values, sources };
}

test('defaults: loopback API on 11434, metrics on 127.0.0.1:8080', () => {
  const r = printConfig();
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.values.host, '"127.0.0.1:11434"');
  assert.equal(r.values['metrics-addr'], '"127.0.0.1:8080"');
  assert.equal(r.values['max-queue'], '"512"');
  assert.equal(r.values['keep-alive'], '"5m"');
  assert.equal(r.values.models, `"${dir}/.paddock/models"`);
  assert.equal(r.values['metrics-token'], '""');
  for (const s of Object.values(r.sources)) assert.equal(s, 'default');
});

test('every OLLAMA_* name Ollama users set is honoured', () => {
  const r = printConfig([], {
    OLLAMA_HOST: '0.0.0.0:11500', OLLAMA_MODELS: '/srv/models', OLLAMA_KEEP_ALIVE: '1h', OLLAMA_NUM_PARALLEL: '4',
    OLLAMA_MAX_LOADED_MODELS: '2', OLLAMA_MAX_QUEUE: '64', OLLAMA_ORIGINS: 'https://a.example,https://*.b.example',
    OLLAMA_CONTEXT_LENGTH: '8192',
  });
  assert.equal(r.status, 0, r.stderr);
  const want = { host: '"0.0.0.0:11500"', models: '"/srv/models"', 'keep-alive': '"1h"', 'num-parallel': '"4"',
    'max-loaded-models': '"2"', 'max-queue': '"64"', origins: '["https://a.example", "https://*.b.example"]', 'num-ctx': '"8192"' };
  const env = { host: 'OLLAMA_HOST', models: 'OLLAMA_MODELS', 'keep-alive': 'OLLAMA_KEEP_ALIVE', 'num-parallel': 'OLLAMA_NUM_PARALLEL',
    'max-loaded-models': 'OLLAMA_MAX_LOADED_MODELS', 'max-queue': 'OLLAMA_MAX_QUEUE', origins: 'OLLAMA_ORIGINS', 'num-ctx': 'OLLAMA_CONTEXT_LENGTH' };
  for (const k of Object.keys(want)) {
    assert.equal(r.values[k], want[k], k);
    assert.equal(r.sources[k], `env ${env[k]}`, k);
  }
});

test('precedence: flag > PADDOCK_* > OLLAMA_* > config file > default; secrets masked', () => {
  const file = join(dir, 'paddock.yaml');
  writeFileSync(file, `# a config file
max-queue: 10
num_parallel: 2          # snake_case keys work too
keep-alive: 10m
metrics:
  addr: 127.0.0.1:9191    # nested: metrics-addr
  token: file-secret-xyz
preload:
  - tiny:latest
  - other:7b
`);
  const r = printConfig(['--config', file, '--num-parallel', '5'], {
    OLLAMA_MAX_QUEUE: '20', PADDOCK_NUM_PARALLEL: '3', OLLAMA_NUM_PARALLEL: '4', OLLAMA_KEEP_ALIVE: '',
    PADDOCK_CONTEXT_LENGTH: '2048', OLLAMA_CONTEXT_LENGTH: '1024',
  });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.values['num-parallel'], '"5"');
  assert.equal(r.sources['num-parallel'], 'flag --num-parallel');
  assert.equal(r.values['max-queue'], '"20"');
  assert.equal(r.sources['max-queue'], 'env OLLAMA_MAX_QUEUE');
  assert.equal(r.values['num-ctx'], '"2048"');
  assert.equal(r.sources['num-ctx'], 'env PADDOCK_CONTEXT_LENGTH');
  assert.equal(r.values['keep-alive'], '"10m"');  // an empty variable is unset
  assert.equal(r.sources['keep-alive'], `file ${file}`);
  assert.equal(r.values['metrics-addr'], '"127.0.0.1:9191"');
  assert.equal(r.values.preload, '["tiny:latest", "other:7b"]');
  assert.equal(r.values['metrics-token'], '"********"');
  assert.ok(!r.stdout.includes('file-secret-xyz'));
  assert.equal(r.values.host, '"127.0.0.1:11434"');
  assert.equal(r.sources.host, 'default');
});

test('--print-config output is itself a config file that gives the same configuration', () => {
  const first = printConfig(['--keep-alive', '90s', '--origins', 'https://x.example', '--origins', 'https://y.example',
    '--max-body-memory', '64M', '--drain-timeout=-1', '--insecure-no-auth'], { OLLAMA_HOST: '127.0.0.1:12000' });
  assert.equal(first.status, 0, first.stderr);
  const file = join(dir, 'roundtrip.yaml');
  writeFileSync(file, first.stdout);
  const second = printConfig(['--config', file]);
  assert.equal(second.status, 0, second.stderr);
  assert.deepEqual(second.values, first.values);
  assert.equal(second.sources.host, `file ${file}`);
  assert.equal(second.values['keep-alive'], '"90s"');
  assert.equal(second.values['insecure-no-auth'], 'true');
});

test('bad values: one line naming the setting and its source, exit 1', () => {
  const bad = join(dir, 'bad.yaml');
  const cases = [
    [['--num-parallel', '0'], {}, /--num-parallel: '0' is not an integer in \[1, 1024\]/],
    [[], { OLLAMA_NUM_PARALLEL: 'lots' }, /OLLAMA_NUM_PARALLEL: 'lots' is not an integer/],
    [[], { OLLAMA_KEEP_ALIVE: '5 parsecs' }, /OLLAMA_KEEP_ALIVE: invalid duration/],
    [[], { OLLAMA_HOST: 'http://[::1' }, /OLLAMA_HOST: invalid host/],
    [['--metrics-addr', 'localhost'], {}, /--metrics-addr: 'localhost' is not HOST:PORT/],
    [['--device', 'tpu'], {}, /--device: 'tpu' is not auto, cpu, cuda or cuda:N/],
    [['--config', join(dir, 'missing.yaml')], {}, /config file .*missing\.yaml: cannot be read/],
    [['--config', bad], {}, /config file .*bad\.yaml: unknown key 'max-qeueu'/, 'max-qeueu: 5\n'],
    [['--config', bad], {}, /config file .*bad\.yaml: line \d+, column \d+/, 'host: a\n  : [\n'],
    [['--config', bad], {}, /config file .*bad\.yaml: num-parallel: 'x' is not an integer/, 'num-parallel: x\n'],
    [['--config', bad], {}, /config file .*bad\.yaml: 'max-queue' must be a single value/, 'max-queue: [1, 2]\n'],
    [['--config', bad], {}, /expected a mapping/, '- a\n- b\n'],
    [['--metrics-token', 'a', '--metrics-token-file', bad], {}, /not both/, 'x: 1\n'],
  ];
  for (const [args, env, re, content] of cases) {
    if (content) writeFileSync(bad, content);
    const r = printConfig(args, env);
    assert.equal(r.status, 1, `${args} ${JSON.stringify(env)}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, re);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
});

test('docs/OPERATIONS.md lists every setting', () => {
  const doc = readFileSync(new URL('../../docs/OPERATIONS.md', import.meta.url), 'utf8');
  const r = printConfig();
  assert.ok(Object.keys(r.values).length >= 25);
  for (const k of Object.keys(r.values)) assert.ok(doc.includes(`\`--${k}\``), `--${k} is not in docs/OPERATIONS.md`);
});
