// The official openai SDK against a real paddock server: chat (streamed, not, usage), completions,
// embeddings, models, and OpenAI-shaped errors.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startServer, MODEL } from './helpers.mjs';

let srv, openai;
before(async () => {
  srv = await startServer();
  openai = new OpenAI({ baseURL: `${srv.url}/v1`, apiKey: 'unused', maxRetries: 0 });
});
after(async () => { await srv?.stop(); });

test('chat completion, not streamed', async () => {
  const r = await openai.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }],
    max_tokens: 5, temperature: 0, seed: 1 });
  assert.equal(r.object, 'chat.completion');
  assert.match(r.id, /^chatcmpl-/);
  assert.equal(r.choices.length, 1);
  assert.equal(r.choices[0].message.role, 'assistant');
  assert.equal(r.choices[0].finish_reason, 'length');
  assert.equal(r.usage.completion_tokens, 5);
  assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + 5);
});

test('chat completion, streamed with usage; same text as unstreamed (greedy)', async () => {
  const msgs = [{ role: 'user', content: 'count' }];
  const whole = await openai.chat.completions.create({ model: MODEL, messages: msgs, max_tokens: 6, temperature: 0 });
  const stream = await openai.chat.completions.create({ model: MODEL, messages: msgs, max_tokens: 6, temperature: 0,
    stream: true, stream_options: { include_usage: true } });
  let text = '', finish = null, usage = null;
  for await (const c of stream) {
    assert.equal(c.object, 'chat.completion.chunk');
    if (c.choices.length) {
      text += c.choices[0].delta.content ?? '';
      if (c.choices[0].finish_reason) finish = c.choices[0].finish_reason;
    }
    if (c.usage) usage = c.usage;
  }
  assert.equal(text, whole.choices[0].message.content);
  assert.equal(finish, 'length');
  assert.equal(usage.completion_tokens, 6);
});

test('stop sequences and max_completion_tokens', async () => {
  const r = await openai.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'x' }],
    max_completion_tokens: 4, temperature: 0, stop: ['zzzz-never'] });
  assert.equal(r.usage.completion_tokens, 4);
});

test('completions', async () => {
  const r = await openai.completions.create({ model: MODEL, prompt: 'once upon', max_tokens: 4, temperature: 0 });
  assert.equal(r.object, 'text_completion');
  assert.equal(typeof r.choices[0].text, 'string');
  assert.equal(r.usage.completion_tokens, 4);
  const s = await openai.completions.create({ model: MODEL, prompt: 'once upon', max_tokens: 4, temperature: 0, stream: true });
  let text = '';
  for await (const c of s) text += c.choices[0]?.text ?? '';
  assert.equal(text, r.choices[0].text);
});

test('embeddings (float and base64)', async () => {
  const r = await openai.embeddings.create({ model: MODEL, input: ['a', 'b'], encoding_format: 'float' });
  assert.equal(r.object, 'list');
  assert.equal(r.data.length, 2);
  assert.equal(r.data[1].index, 1);
  assert.ok(r.data[0].embedding.length > 0);
  const b = await openai.embeddings.create({ model: MODEL, input: 'a' });  // the SDK asks for base64 by default
  assert.equal(b.data[0].embedding.length, r.data[0].embedding.length);
  b.data[0].embedding.forEach((x, i) => assert.ok(Math.abs(x - r.data[0].embedding[i]) < 1e-4));
});

test('models list and retrieve', async () => {
  const list = await openai.models.list();
  const ids = list.data.map((m) => m.id);
  assert.ok(ids.includes(MODEL));
  const m = await openai.models.retrieve(MODEL);
  assert.equal(m.id, MODEL);
  assert.equal(m.owned_by, 'library');
  await assert.rejects(openai.models.retrieve('missing:latest'), (e) => e.status === 404);
});

test('errors are OpenAI-shaped', async () => {
  await assert.rejects(openai.chat.completions.create({ model: 'missing:latest', messages: [{ role: 'user', content: 'x' }] }),
    (e) => { assert.equal(e.status, 404); assert.match(e.message, /not found/); return true; });
  await assert.rejects(openai.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'x' }], temperature: 5 }),
    (e) => { assert.equal(e.status, 400); assert.equal(e.type, 'invalid_request_error'); return true; });
  await assert.rejects(openai.chat.completions.create({ model: MODEL, messages: [] }), (e) => e.status === 400);
  await assert.rejects(openai.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: [
    { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } }] }] }), (e) => e.status === 400 && /vision/.test(e.message));
});

test('unknown routes answer JSON errors: OpenAI-shaped under /v1, Ollama-shaped elsewhere', async () => {
  await assert.rejects(openai.get('/no/such/route'),
    (e) => { assert.equal(e.status, 404); assert.match(e.message, /not found/); return true; });
  const v1 = await fetch(`${srv.url}/v1/nope`, { method: 'POST', body: '{}' });
  assert.equal(v1.status, 404);
  assert.match(v1.headers.get('content-type'), /application\/json/);
  assert.match((await v1.json()).error.message, /POST \/v1\/nope not found/);
  const api = await fetch(`${srv.url}/api/nope`);
  assert.equal(api.status, 404);
  assert.equal((await api.json()).error, '404 page not found');
});

test('chat logprobs', async () => {
  const r = await openai.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'x' }],
    max_tokens: 2, temperature: 0, logprobs: true, top_logprobs: 2 });
  const c = r.choices[0].logprobs.content;
  assert.equal(c.length, 2);
  assert.equal(c[0].top_logprobs.length, 2);
  assert.ok(c[0].logprob <= 0);
});
