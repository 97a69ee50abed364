// Thinking output (`think`): on a model whose template opens `<think>` (so the output starts
// inside the thinking section), think=true returns the thinking apart from the answer —
// /api/generate `thinking`, /api/chat `message.thinking`, OpenAI `reasoning` — streamed and
// not; checked end to end against the same greedy output with think=false, which is untouched.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Ollama } from 'ollama';
import OpenAI from 'openai';
import { startServer, MODEL } from './helpers.mjs';

const THINKER = 'thinker:latest';
let srv, ollama, openai;
before(async () => {
  srv = await startServer();
  ollama = new Ollama({ host: srv.url });
  openai = new OpenAI({ baseURL: `${srv.url}/v1`, apiKey: 'unused' });
  // Mentions .Think, so the model has the thinking capability (as Ollama decides it), and ends
  // with <think> whatever the request says, so think=false shows the raw output to compare with.
  const r = await ollama.create({ model: THINKER, from: MODEL, template: '{{ if .Think }}{{ end }}{{ .Prompt }}<think>',
    parameters: { temperature: 0, num_predict: 24, seed: 3 }, stream: false });
  assert.equal(r.status, 'success');
});
after(async () => { await srv?.stop(); });

// What the splitter must produce from the raw output, independent of how it streams: the raw
// text up to `</think>` (or all of it) is thinking, the rest is the answer; whitespace at the
// section edges is dropped.
const trimStart = (s) => s.replace(/^[ \t\n\r\f\v]+/, '');
const trim = (s) => trimStart(s).replace(/[ \t\n\r\f\v]+$/, '');
function expectedSplit(raw) {
  const i = raw.indexOf('</think>');
  if (i < 0) return { thinking: trim(raw), content: '' };
  return { thinking: trim(raw.slice(0, i)), content: trimStart(raw.slice(i + 8)) };
}

test('generate: think=false leaves the output as is; think=true splits the same output', async () => {
  const plain = await ollama.generate({ model: THINKER, prompt: 'why?', stream: false, think: false });
  assert.equal(plain.thinking, undefined);
  assert.ok(plain.response.length > 0);
  const absent = await ollama.generate({ model: THINKER, prompt: 'why?', stream: false });
  assert.equal(absent.response, plain.response);
  assert.equal(absent.thinking, undefined);
  const want = expectedSplit(plain.response);
  assert.ok(want.thinking.length > 0, 'the output starts inside the thinking section');
  const split = await ollama.generate({ model: THINKER, prompt: 'why?', stream: false, think: true });
  assert.equal(split.eval_count, plain.eval_count);
  assert.equal(split.thinking ?? '', want.thinking);
  assert.equal(split.response, want.content);
  // Streamed: the chunks' thinking and response reassemble to the same split.
  let thinking = '', response = '';
  for await (const p of await ollama.generate({ model: THINKER, prompt: 'why?', stream: true, think: 'high' })) {
    thinking += p.thinking ?? '';
    response += p.response;
  }
  assert.equal(thinking, want.thinking);
  assert.equal(response, want.content);
});

test('chat: message.thinking, streamed and not', async () => {
  const messages = [{ role: 'user', content: 'think first' }];
  const plain = await ollama.chat({ model: THINKER, messages, stream: false, think: false });
  assert.equal(plain.message.thinking, undefined);
  const want = expectedSplit(plain.message.content);
  const r = await ollama.chat({ model: THINKER, messages, stream: false, think: true });
  assert.equal(r.message.thinking ?? '', want.thinking);
  assert.equal(r.message.content, want.content);
  let thinking = '', content = '';
  for await (const p of await ollama.chat({ model: THINKER, messages, stream: true, think: true })) {
    thinking += p.message.thinking ?? '';
    content += p.message.content;
  }
  assert.equal(thinking, want.thinking);
  assert.equal(content, want.content);
});

test('OpenAI chat: reasoning_effort splits into `reasoning`; "none" and absent do not', async () => {
  const messages = [{ role: 'user', content: 'reason' }];
  const plain = await openai.chat.completions.create({ model: THINKER, messages, temperature: 0, seed: 3 });
  const raw = plain.choices[0].message.content;
  assert.equal(plain.choices[0].message.reasoning, undefined);
  const none = await openai.chat.completions.create({ model: THINKER, messages, temperature: 0, seed: 3,
    reasoning_effort: 'none' });
  assert.equal(none.choices[0].message.content, raw);
  const want = expectedSplit(raw);
  const r = await openai.chat.completions.create({ model: THINKER, messages, temperature: 0, seed: 3,
    reasoning_effort: 'high' });
  assert.equal(r.choices[0].message.reasoning ?? '', want.thinking);
  assert.equal(r.choices[0].message.content, want.content);
  let reasoning = '', content = '';
  const s = await openai.chat.completions.create({ model: THINKER, messages, temperature: 0, seed: 3,
    reasoning_effort: 'low', stream: true });
  for await (const c of s) {
    const d = c.choices[0]?.delta ?? {};
    reasoning += d.reasoning ?? '';
    content += d.content ?? '';
  }
  assert.equal(reasoning, want.thinking);
  assert.equal(content, want.content);
  await assert.rejects(openai.chat.completions.create({ model: THINKER, messages, reasoning_effort: 'extreme' }),
    (e) => e.status === 400);
});

test('a model without the thinking capability: think is a 400, as in Ollama; think=false is fine', async () => {
  const show = await ollama.show({ model: MODEL });
  assert.ok(!(show.capabilities ?? []).includes('thinking'));
  assert.ok((await ollama.show({ model: THINKER })).capabilities.includes('thinking'));
  for (const think of [true, 'high']) {
    await assert.rejects(ollama.generate({ model: MODEL, prompt: 'hi', stream: false, think }),
      (e) => e.status_code === 400 && e.error === `"${MODEL}" does not support thinking`);
    await assert.rejects(ollama.chat({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], stream: true, think }),
      (e) => e.status_code === 400 && /does not support thinking/.test(e.error));
  }
  await assert.rejects(openai.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }],
    reasoning_effort: 'low' }), (e) => e.status === 400 && /does not support thinking/.test(e.error?.message ?? e.message));
  const plain = await ollama.generate({ model: MODEL, prompt: 'hi', stream: false, think: false, options: { temperature: 0, num_predict: 4 } });
  assert.equal(plain.done, true);
  const none = await openai.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }],
    reasoning_effort: 'none', max_tokens: 4 });
  assert.ok(none.choices.length === 1);
});
