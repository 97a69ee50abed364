// Chat history as agents send it (issue 16 item 4): assistant turns that carry only tool calls
// (content null or absent), `role: tool` results, `images: []` and content as an array of text
// parts go through every template path — Go TEMPLATE layers and the GGUF's Jinja chat templates —
// without a template error, through the real ollama-js client, and the rendered prompt holds
// what the history said.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, rmSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ollama } from 'ollama';
import { startServer, makeStore, BIN, post } from './helpers.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const fixtures = join(root, 'tests/fixtures/template');
const dir = makeStore();
let srv;
const models = [];

before(async () => {
  const store = join(dir, 'models');
  for (const t of ['llama3_1', 'qwen3', 'gemma3', 'deepseek_v3']) {
    const gguf = join(dir, `${t}.gguf`);
    execFileSync(BIN, ['gguf-tiny', gguf, '--n-ctx', '2048', '--seed', '3',
      '--chat-template', readFileSync(join(fixtures, 'chat_templates', `${t}.jinja`), 'utf8')]);
    writeFileSync(join(dir, `${t}.Modelfile`), `FROM ${gguf}\nPARAMETER num_predict 2\n`);
    execFileSync(BIN, ['create', `jinja-${t}`, '-f', join(dir, `${t}.Modelfile`), '--models', store]);
    models.push({ name: `jinja-${t}:latest`, tools: t === 'qwen3', history: true });  // the only one whose template reads tools
  }
  for (const t of ['llama3_tools', 'mistral_tools', 'chatml_legacy']) {
    const tmpl = readFileSync(join(fixtures, 'go_templates', `${t}.gotmpl`), 'utf8');
    writeFileSync(join(dir, `${t}.Modelfile`), `FROM ${join(dir, 'tiny.gguf')}\nTEMPLATE """${tmpl}"""\nPARAMETER num_predict 2\n`);
    execFileSync(BIN, ['create', `go-${t}`, '-f', join(dir, `${t}.Modelfile`), '--models', store]);
    // chatml_legacy is a legacy (.Prompt) template: Ollama renders only the last user turn with it.
    models.push({ name: `go-${t}:latest`, tools: t !== 'chatml_legacy', history: t !== 'chatml_legacy' });
  }
  srv = await startServer({ dir });
});
after(async () => { await srv?.stop(); rmSync(dir, { recursive: true, force: true }); });

const tools = [{ type: 'function', function: { name: 'get_weather', description: 'Weather for a city',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } }];

function agentHistory() {
  return [
    { role: 'system', content: 'You are terse.' },
    { role: 'user', content: [{ type: 'text', text: 'Weather in ' }, { type: 'text', text: 'Oslo?' }], images: [] },
    { role: 'assistant', content: null, tool_calls: [{ function: { name: 'get_weather', arguments: { city: 'Oslo' } } }] },
    { role: 'tool', content: 'minus 3 and snowing', tool_name: 'get_weather' },
    { role: 'assistant', tool_calls: [{ function: { name: 'get_weather', arguments: { city: 'Bergen' } } }] },
    { role: 'tool', content: 'plus 4 and raining' },
    { role: 'user', content: 'Thanks', images: [] },
  ];
}

test('agent-shaped histories render and answer on every template path', async () => {
  const ollama = new Ollama({ host: srv.url });
  for (const m of models) {
    const r = await ollama.chat({ model: m.name, messages: agentHistory(), tools: m.tools ? tools : undefined,
      options: { num_predict: 2 } });
    assert.equal(r.message.role, 'assistant', m.name);
    assert.equal(r.done, true, m.name);
    const dbg = await post(`${srv.url}/api/chat`, { model: m.name, messages: agentHistory(), tools: m.tools ? tools : undefined,
      stream: false, _debug_render_only: true });
    assert.equal(dbg.status, 200, `${m.name}: ${dbg.text.slice(0, 300)}`);
    const prompt = dbg.json.debug_info.rendered_template;
    if (m.history) {
      assert.match(prompt, /Weather in Oslo\?/, `${m.name}: the text parts are joined\n${prompt}`);
      assert.match(prompt, /minus 3 and snowing/, `${m.name}: the tool result is in the prompt\n${prompt}`);
    }
    assert.match(prompt, /Thanks/, m.name);
    assert.doesNotMatch(prompt, /\bnull\b|None|\[object Object\]/, `${m.name}: no null leaks into the prompt\n${prompt}`);
  }
});

test('content that is neither text nor text parts is a clear 400', async () => {
  const name = models[0].name;
  for (const [content, re] of [[42, /expected string or array of text parts/], [[{ type: 'text' }], /invalid content part/],
    [[{ type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } }], /no vision support/]]) {
    const r = await post(`${srv.url}/api/chat`, { model: name, messages: [{ role: 'user', content }], stream: false });
    assert.equal(r.status, 400, r.text);
    assert.match(r.json.error, re);
  }
});

test('capability errors as Ollama words them, on both APIs', async () => {
  const ollama = new Ollama({ host: srv.url });
  const plain = models.find((m) => !m.tools).name;
  await assert.rejects(ollama.chat({ model: plain, messages: [{ role: 'user', content: 'x' }], tools }),
    (e) => { assert.equal(e.status_code, 400); assert.equal(e.error, `"${plain}" does not support tools`); return true; });
  await assert.rejects(ollama.generate({ model: 'tiny:latest', prompt: 'def f(', suffix: 'return 1' }),
    (e) => { assert.equal(e.status_code, 400); assert.equal(e.error, '"tiny:latest" does not support insert'); return true; });
  const oai = await post(`${srv.url}/v1/chat/completions`, { model: plain, messages: [{ role: 'user', content: 'x' }], tools });
  assert.equal(oai.status, 400);
  assert.equal(oai.json.error.message, `"${plain}" does not support tools`);
  const withTools = models.find((m) => m.tools).name;
  const ok = await ollama.chat({ model: withTools, messages: [{ role: 'user', content: 'x' }], tools, options: { num_predict: 1 } });
  assert.equal(ok.done, true);
});
