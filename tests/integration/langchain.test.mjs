// @langchain/ollama against a real paddock server: invoke and stream.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ChatOllama } from '@langchain/ollama';
import { startServer, MODEL } from './helpers.mjs';

let srv;
before(async () => { srv = await startServer(); });
after(async () => { await srv?.stop(); });

test('invoke', async () => {
  const llm = new ChatOllama({ baseUrl: srv.url, model: MODEL, temperature: 0, numPredict: 5 });
  const r = await llm.invoke([['system', 'be brief'], ['human', 'hello']]);
  assert.equal(typeof r.content, 'string');
  assert.equal(r.response_metadata.done_reason ?? 'stop', r.response_metadata.done_reason ?? 'stop');
  assert.ok(r.usage_metadata.output_tokens > 0 && r.usage_metadata.output_tokens <= 5);
});

test('stream', async () => {
  const llm = new ChatOllama({ baseUrl: srv.url, model: MODEL, temperature: 0, numPredict: 5 });
  const whole = await llm.invoke('tell me');
  let text = '', chunks = 0;
  for await (const c of await llm.stream('tell me')) { text += c.content; chunks++; }
  assert.ok(chunks >= 2);
  assert.equal(text, whole.content);
});
