// @langchain/ollama against a real paddock server: invoke and stream.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ChatOllama } from '@langchain/ollama';
import { startServer, post, MODEL } from './helpers.mjs';

let srv;
before(async () => { srv = await startServer(); });
after(async () => { await srv?.stop(); });

test('invoke', async () => {
  const llm = new ChatOllama({ baseUrl: srv.url, model: MODEL, temperature: 0, numPredict: 5 });
  const msgs = [['system', 'be brief'], ['human', 'hello']];
  const r = await llm.invoke(msgs);
  assert.equal(typeof r.content, 'string');
  // What the server said for the same request, read without the client library: LangChain must
  // pass its text, its done_reason and its token count through unchanged.
  const raw = await post(`${srv.url}/api/chat`, { model: MODEL, stream: false, options: { temperature: 0, num_predict: 5 },
    messages: msgs.map(([role, content]) => ({ role: role === 'human' ? 'user' : role, content })) });
  assert.equal(raw.status, 200, raw.text);
  assert.equal(r.content, raw.json.message.content);
  assert.equal(r.response_metadata.done_reason, raw.json.done_reason);
  assert.equal(r.usage_metadata.output_tokens, raw.json.eval_count);
  assert.ok(r.usage_metadata.output_tokens > 0 && r.usage_metadata.output_tokens <= 5);
  // num_predict reached means 'length'; fewer tokens means the model stopped by itself.
  assert.equal(r.response_metadata.done_reason, r.usage_metadata.output_tokens === 5 ? 'length' : 'stop');
});

test('stream', async () => {
  const llm = new ChatOllama({ baseUrl: srv.url, model: MODEL, temperature: 0, numPredict: 5 });
  const whole = await llm.invoke('tell me');
  let text = '', chunks = 0;
  for await (const c of await llm.stream('tell me')) { text += c.content; chunks++; }
  assert.ok(chunks >= 2);
  assert.equal(text, whole.content);
});
