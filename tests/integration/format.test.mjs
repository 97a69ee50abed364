// Structured output through a real paddock server, driven by the real clients: ollama-js `format`
// ("json" and a JSON schema, streamed and not) and the openai SDK's `response_format`
// (json_object, json_schema) on chat and completions; invalid schemas are 400s in each API's
// error shape. The model has random weights, so schemas here force finite documents (enums,
// booleans, no extra members) that it must complete; bare "json" output is checked to be valid
// when it stopped, and a valid JSON prefix when it hit the length limit. A bad schema is refused by
// the server itself, before the model loads (an unknown model is still a 404 first).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Ollama } from 'ollama';
import OpenAI from 'openai';
import { startServer, post, runnerStats, MODEL } from './helpers.mjs';

let srv, ollama, openai;
before(async () => {
  srv = await startServer();
  ollama = new Ollama({ host: srv.url });
  openai = new OpenAI({ baseURL: `${srv.url}/v1`, apiKey: 'unused', maxRetries: 0 });
});
after(async () => { await srv?.stop(); });

const SCHEMA = {
  type: 'object',
  properties: {
    color: { enum: ['red', 'green', 'blue'] },
    ok: { type: 'boolean' },
    size: { enum: [1, 2, 3] },
    tags: { type: 'array', items: { enum: ['x', 'y'] }, maxItems: 2 },
  },
  required: ['color', 'ok', 'size'],
  additionalProperties: false,
};

function assertMatchesSchema(text) {
  const v = JSON.parse(text);
  assert.equal(typeof v, 'object');
  assert.ok(v !== null && !Array.isArray(v), text);
  for (const k of Object.keys(v)) assert.ok(['color', 'ok', 'size', 'tags'].includes(k), `extra member ${k}`);
  assert.ok(['red', 'green', 'blue'].includes(v.color), text);
  assert.equal(typeof v.ok, 'boolean');
  assert.ok([1, 2, 3].includes(v.size), text);
  if ('tags' in v) {
    assert.ok(Array.isArray(v.tags) && v.tags.length <= 2, text);
    for (const t of v.tags) assert.ok(['x', 'y'].includes(t), text);
  }
}

// Whether `text` can be completed into valid JSON: scan it, then close whatever is open (string,
// escape, literal, number, member, containers) and let JSON.parse judge the result.
function isJsonPrefix(text) {
  const stack = [];
  let inString = false, afterBackslash = false, hexLeft = 0;
  for (const c of text) {
    if (inString) {
      if (hexLeft > 0) { hexLeft--; continue; }
      if (afterBackslash) { afterBackslash = false; if (c === 'u') hexLeft = 4; continue; }
      if (c === '\\') afterBackslash = true;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === '{' || c === '[') stack.push(c);
    else if (c === '}' || c === ']') stack.pop();
  }
  let candidate = text;
  if (inString) {
    if (afterBackslash) candidate = candidate.slice(0, -1);
    else if (hexLeft > 0) candidate = candidate.slice(0, candidate.length - 2 - (4 - hexLeft));
    candidate += '"';
  } else {
    candidate = candidate.trimEnd();
    const lit = candidate.match(/(?:^|[\s:,[])(t|tr|tru|f|fa|fal|fals|n|nu|nul)$/);
    if (lit) candidate += { t: 'true', f: 'false', n: 'null' }[lit[1][0]].slice(lit[1].length);
    else if (/[-.eE+]$/.test(candidate)) candidate += '0';
  }
  // An object member cut after its key or its colon, or a trailing comma.
  if (stack.at(-1) === '{' && /[{,]\s*"(?:[^"\\]|\\.)*"$/.test(candidate)) candidate += ':null';
  else if (/:\s*$/.test(candidate)) candidate += 'null';
  else if (/,\s*$/.test(candidate)) candidate = candidate.trimEnd().slice(0, -1);
  for (let k = stack.length - 1; k >= 0; --k) candidate += stack[k] === '{' ? '}' : ']';
  if (candidate.trim() === '') return true;
  try {
    JSON.parse(candidate);
    return true;
  } catch {
    return false;
  }
}

function assertJsonObjectOrPrefix(text, reason) {
  if (reason === 'stop') {
    const v = JSON.parse(text);
    assert.ok(v !== null && typeof v === 'object' && !Array.isArray(v), text);
  } else {
    assert.equal(reason, 'length');
    assert.ok(isJsonPrefix(text), `not a JSON prefix: ${JSON.stringify(text)}`);
    assert.match(text, /^\s*\{/);
  }
}

test('the prefix check itself tells prefixes from non-prefixes', () => {
  for (const p of ['', ' {', '{"a', '{"a"', '{"a":', '{"a": [1, tr', '{"a":"x\\u00', '{"a":-', '{"a":1.5e', '{"a":{},'])
    assert.ok(isJsonPrefix(p), p);
  for (const p of ['{"a" 1', '{]', '{"a":1}}', '{"a":tx', '[1,,'])
    assert.ok(!isJsonPrefix(p), p);
});

test('ollama generate, format "json": an object, or a valid prefix when cut by length', async () => {
  for (const seed of [1, 2, 3]) {
    const r = await ollama.generate({ model: MODEL, prompt: 'Answer in JSON.', format: 'json',
      options: { num_predict: 60, temperature: 0.8, seed } });
    assert.ok(r.done);
    assertJsonObjectOrPrefix(r.response, r.done_reason);
  }
});

test('ollama chat, format schema: a complete, valid document; greedy is reproducible', async () => {
  const ask = () => ollama.chat({ model: MODEL, messages: [{ role: 'user', content: 'describe a ball' }],
    format: SCHEMA, options: { num_predict: 600, temperature: 0 } });
  const a = await ask();
  assert.equal(a.done_reason, 'stop');
  assertMatchesSchema(a.message.content);
  const b = await ask();
  assert.equal(b.message.content, a.message.content);
});

test('a schema\'s members come in the order the client wrote them (ollama and openai)', async () => {
  const schema = { type: 'object', properties: { zeta: { type: 'boolean' }, alpha: { enum: ['a', 'b'] } },
    required: ['zeta', 'alpha'], additionalProperties: false };
  const r = await ollama.generate({ model: MODEL, prompt: 'order', format: schema,
    options: { num_predict: 200, temperature: 0 } });
  assert.equal(r.done_reason, 'stop');
  assert.deepEqual(Object.keys(JSON.parse(r.response)), ['zeta', 'alpha'], r.response);
  const c = await openai.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'order' }],
    response_format: { type: 'json_schema', json_schema: { name: 'o', schema } }, max_tokens: 200, temperature: 0 });
  assert.deepEqual(Object.keys(JSON.parse(c.choices[0].message.content)), ['zeta', 'alpha']);
});

test('ollama generate, format schema, streamed with a seed', async () => {
  for (const seed of [7, 8]) {
    const stream = await ollama.generate({ model: MODEL, prompt: 'ball', format: SCHEMA, stream: true,
      options: { num_predict: 600, temperature: 1.0, seed } });
    let text = '', reason = null;
    for await (const part of stream) {
      text += part.response;
      if (part.done) reason = part.done_reason;
    }
    assert.equal(reason, 'stop');
    assertMatchesSchema(text);
  }
});

test('openai chat, response_format json_object and json_schema', async () => {
  const r = await openai.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'json please' }],
    response_format: { type: 'json_object' }, max_tokens: 60, temperature: 0.5, seed: 3 });
  assertJsonObjectOrPrefix(r.choices[0].message.content, r.choices[0].finish_reason);
  const s = await openai.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'a ball' }],
    response_format: { type: 'json_schema', json_schema: { name: 'ball', schema: SCHEMA, strict: true } },
    max_tokens: 600, temperature: 0.7, seed: 4 });
  assert.equal(s.choices[0].finish_reason, 'stop');
  assertMatchesSchema(s.choices[0].message.content);
});

test('openai chat streamed and completions with json_schema', async () => {
  const stream = await openai.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'x' }],
    response_format: { type: 'json_schema', json_schema: { name: 'ball', schema: SCHEMA } },
    max_tokens: 600, temperature: 0.9, seed: 5, stream: true });
  let text = '', finish = null;
  for await (const c of stream) {
    if (c.choices.length) {
      text += c.choices[0].delta.content ?? '';
      if (c.choices[0].finish_reason) finish = c.choices[0].finish_reason;
    }
  }
  assert.equal(finish, 'stop');
  assertMatchesSchema(text);
  const c = await openai.completions.create({ model: MODEL, prompt: 'ball:', max_tokens: 600, temperature: 0,
    response_format: { type: 'json_schema', json_schema: { name: 'ball', schema: SCHEMA } } });
  assert.equal(c.choices[0].finish_reason, 'stop');
  assertMatchesSchema(c.choices[0].text);
});

test('a bad schema is a 400 before any load, on all four endpoints; an unknown model is still a 404', async () => {
  const fresh = await startServer();  // nothing loaded yet, whatever ran before
  try {
    const bad = { type: 'object', properties: { age: { type: 'number', minimum: 0 } } };
    const messages = [{ role: 'user', content: 'hi' }];
    const rf = { type: 'json_schema', json_schema: { name: 'x', schema: bad } };
    const ollamaMsg = (r) => r.json?.error;
    const openaiMsg = (r) => r.json?.error?.message;
    const cases = [
      ['/api/generate', { model: MODEL, prompt: 'hi', format: bad, stream: false }, ollamaMsg],
      ['/api/generate', { model: MODEL, prompt: 'hi', format: bad, stream: true }, ollamaMsg],
      ['/api/chat', { model: MODEL, messages, format: bad }, ollamaMsg],
      ['/v1/chat/completions', { model: MODEL, messages, response_format: rf }, openaiMsg],
      ['/v1/chat/completions', { model: MODEL, messages, response_format: rf, stream: true }, openaiMsg],
      ['/v1/completions', { model: MODEL, prompt: 'hi', response_format: rf }, openaiMsg],
    ];
    for (const [path, body, msg] of cases) {
      const r = await post(`${fresh.url}${path}`, body);
      assert.equal(r.status, 400, `${path}: ${r.text}`);
      assert.match(msg(r), /minimum/, path);
      assert.match(msg(r), /#\/properties\/age/, path);
      if (msg === openaiMsg) assert.equal(r.json.error.type, 'invalid_request_error');
    }
    // The model is looked up first, as Ollama does: an unknown one is a 404 whatever the schema.
    const nf = await post(`${fresh.url}/api/generate`, { model: 'nowhere:latest', prompt: 'hi', format: bad });
    assert.equal(nf.status, 404, nf.text);
    const nf2 = await post(`${fresh.url}/v1/chat/completions`, { model: 'nowhere:latest', messages, response_format: rf });
    assert.equal(nf2.status, 404, nf2.text);
    // No runner was started: nothing loaded, nothing loading.
    const ps = await (await fetch(`${fresh.url}/api/ps`)).json();
    assert.deepEqual(ps.models, []);
    assert.deepEqual(await runnerStats(fresh.url), []);
    // The same model then loads for a valid schema, and /api/ps shows it (so the check above can see a load).
    const ok = await post(`${fresh.url}/api/generate`,
      { model: MODEL, prompt: 'hi', format: SCHEMA, stream: false, options: { num_predict: 600, temperature: 0 } });
    assert.equal(ok.status, 200, ok.text);
    assertMatchesSchema(ok.json.response);
    const ps2 = await (await fetch(`${fresh.url}/api/ps`)).json();
    assert.deepEqual(ps2.models.map((m) => m.name), [MODEL]);
  } finally {
    await fresh.stop();
  }
});

test('invalid schemas are 400s with the reason, in each API\'s error shape', async () => {
  const bad = { type: 'object', properties: { age: { type: 'number', minimum: 0 } } };
  for (const path of ['/api/generate', '/api/chat']) {
    const body = path === '/api/chat'
      ? { model: MODEL, messages: [{ role: 'user', content: 'hi' }], format: bad }
      : { model: MODEL, prompt: 'hi', format: bad };
    for (const stream of [false, true]) {
      const r = await post(`${srv.url}${path}`, { ...body, stream });
      assert.equal(r.status, 400, r.text);
      assert.match(r.json.error, /minimum/);
      assert.match(r.json.error, /#\/properties\/age/);
    }
  }
  const r2 = await post(`${srv.url}/api/generate`, { model: MODEL, prompt: 'hi', format: { $ref: '#/nowhere' } });
  assert.equal(r2.status, 400);
  assert.match(r2.json.error, /does not resolve/);
  const r3 = await post(`${srv.url}/api/generate`, { model: MODEL, prompt: 'hi', format: 'yaml' });
  assert.equal(r3.status, 400);
  await assert.rejects(
    openai.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }],
      response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'string', pattern: '^a' } } } }),
    (e) => e.status === 400 && /pattern/.test(e.message) && e.error?.type === 'invalid_request_error');
  // The server keeps serving.
  const ok = await ollama.generate({ model: MODEL, prompt: 'hi', options: { num_predict: 2 } });
  assert.ok(ok.done);
});
