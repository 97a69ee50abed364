// The paddock CLI as a client of a running server: run (one-shot, stdin, --verbose), ps, stop,
// pull (clear error), and list/show/cp/rm/create going through the server.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, MODEL, BIN } from './helpers.mjs';

let srv;
before(async () => { srv = await startServer(); });
after(async () => { await srv?.stop(); });

function cli(args, input) {
  const r = spawnSync(BIN, args, { input, encoding: 'utf8', env: { ...process.env, PADDOCK_HOST: srv.url, OLLAMA_HOST: '' },
    timeout: 60000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('run with a prompt answers once; --verbose prints statistics', () => {
  const r = cli(['run', MODEL, 'hello', '--verbose']);
  assert.equal(r.code, 0, r.err);
  assert.ok(r.out.length > 0);
  assert.match(r.err, /eval count:\s+\d+ token\(s\)/);
  assert.match(r.err, /eval rate:\s+[\d.]+ tokens\/s/);
});

test('run reads the prompt from stdin', () => {
  const r = cli(['run', MODEL], 'from stdin\n');
  assert.equal(r.code, 0, r.err);
  assert.ok(r.out.trim().length > 0);
});

test('run with an unknown model fails clearly', () => {
  const r = cli(['run', 'nope:latest', 'hi']);
  assert.notEqual(r.code, 0);
  assert.match(r.err, /not found/);
});

test('ps lists the loaded model and stop unloads it', async () => {
  cli(['run', MODEL, 'load me']);
  let r = cli(['ps']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^NAME\s+ID\s+SIZE/m);
  assert.match(r.out, /tiny:latest/);
  r = cli(['stop', MODEL]);
  assert.equal(r.code, 0, r.err);
  for (let i = 0; i < 50; i++) {
    if (!/tiny:latest/.test(cli(['ps']).out)) break;
    await new Promise((res) => setTimeout(res, 100));
  }
  assert.doesNotMatch(cli(['ps']).out, /tiny:latest/);
});

test('version names the client\'s and the server\'s versions', async () => {
  const v = JSON.parse(await (await fetch(`${srv.url}/api/version`)).text());
  const r = cli(['version']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, new RegExp(`^paddock version ${v.paddock_version} \\(Ollama API ${v.version}\\)$`, 'm'));
  assert.match(r.out, new RegExp(`^server at .*: paddock version ${v.paddock_version}, Ollama API ${v.version}$`, 'm'));
});

test('with no server answering, client commands say so and exit non-zero; --models works offline', () => {
  const env = { ...process.env, PADDOCK_HOST: 'http://127.0.0.1:1', OLLAMA_HOST: '' };
  for (const args of [['list'], ['show', MODEL], ['cp', MODEL, 'x:latest'], ['rm', MODEL], ['create', 'x', '-f', join(srv.dir, 'Modelfile')],
    ['ps'], ['stop', MODEL], ['run', MODEL, 'hi']]) {
    const r = spawnSync(BIN, args, { env, encoding: 'utf8', timeout: 30000 });
    assert.notEqual(r.status, 0, `${args.join(' ')}: ${r.stdout}`);
    assert.match(r.stderr, /^Error: could not connect to a paddock server at http:\/\/127\.0\.0\.1:1/m, args.join(' '));
  }
  // The same listing through the server and offline: one format.
  const online = cli(['list']).out.split('\n')[0];
  const offline = spawnSync(BIN, ['list', '--models', join(srv.dir, 'models')], { env, encoding: 'utf8' });
  assert.equal(offline.status, 0, offline.stderr);
  assert.equal(offline.stdout.split('\n')[0], online);
  assert.match(offline.stdout, /^tiny:latest\s+[0-9a-f]{12}\s+\d+(\.\d)? [KMG]B\s+.* ago$/m);
  assert.match(cli(['list']).out, /^tiny:latest\s+[0-9a-f]{12}\s+\d+(\.\d)? [KMG]B\s+.* ago$/m);
});

test('an unknown subcommand is named as one', () => {
  const r = cli(['frobnicate']);
  assert.equal(r.code, 1);
  assert.match(r.err, /^Error: unknown command "frobnicate" for "paddock"/);
});

test('pull reports the server\'s clear error', () => {
  const r = cli(['pull', 'llama3.2']);
  assert.notEqual(r.code, 0);
  assert.match(r.err, /registry/);
});

test('list, show, cp, rm and create through the server', () => {
  let r = cli(['list']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /tiny:latest/);
  r = cli(['show', MODEL, '--parameters']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /num_predict\s+8/);
  r = cli(['cp', MODEL, 'viacli:copy']);
  assert.equal(r.code, 0, r.err);
  assert.match(cli(['list']).out, /viacli:copy/);
  r = cli(['rm', 'viacli:copy']);
  assert.equal(r.code, 0, r.err);
  assert.doesNotMatch(cli(['list']).out, /viacli:copy/);
  const mf = join(srv.dir, 'Modelfile.cli');
  writeFileSync(mf, `FROM ${join(srv.dir, 'tiny.gguf')}\nSYSTEM """Be brief."""\nPARAMETER top_k 5\n`);
  r = cli(['create', 'viacli:new', '-f', mf]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.err + r.out, /success/);
  r = cli(['show', 'viacli:new', '--system']);
  assert.match(r.out, /Be brief\./);
  assert.equal(cli(['rm', 'viacli:new']).code, 0);
});

test('serve refuses a non-loopback address without --insecure-no-auth', () => {
  const r = spawnSync(BIN, ['serve', '--host', '0.0.0.0:0', '--models', join(srv.dir, 'models')], { encoding: 'utf8', timeout: 20000 });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /refusing to listen on non-loopback address 0\.0\.0\.0.*--insecure-no-auth/);
});

test('serve accepts --model-dir (the users\' deployment guide spells it so) as --models', () => {
  const r = spawnSync(BIN, ['serve', '--host', '0.0.0.0:0', '--model-dir', join(srv.dir, 'models')], { encoding: 'utf8', timeout: 20000 });
  assert.notEqual(r.status, 0);
  // Parsed as a store option: it fails on the bind policy, not on an unknown flag.
  assert.doesNotMatch(r.stderr, /model-dir/);
  assert.match(r.stderr, /refusing to listen on non-loopback address/);
});
