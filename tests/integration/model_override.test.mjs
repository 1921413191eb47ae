// model_override: the model a backend receives differs from the client's. The body is
// rewritten (with a correct Content-Length); the response's model is left as the backend
// sent it, also in streams.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startFakeUpstream } from '../fakes/fake_upstream.mjs';
import { deltas, gatewayConfig, openResponse, request, sseReader, startGateway } from './harness.mjs';

const LIMIT = { timeout: 20000 };
let fake;
let gw;

before(async () => {
  fake = await startFakeUpstream();
  gw = await startGateway(gatewayConfig({
    backends: [{ name: 'ollama', url: fake.url }],
    routes: [
      { match: { model: 'fast' }, backend: 'ollama', model_override: 'qwen3:0.6b' },
      { match: { model: 'ollama/*' }, backend: 'ollama', model_override: '*' },
      { backend: 'ollama' },
    ],
  }));
});

after(async () => {
  await gw?.stop();
  await fake?.close();
});

function post(body, headers = {}) {
  return request(gw.base, '/v1/chat/completions', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
}

test('an alias is sent upstream as the real model, the rest of the body unchanged', LIMIT, async () => {
  const body = { messages: [{ role: 'user', content: 'model: fast' }], model: 'fast', temperature: 0.5 };
  const res = await post(body);
  assert.equal(res.status, 200, res.text);
  const upstream = JSON.parse(res.json.echo.body);
  assert.deepEqual(upstream, { ...body, model: 'qwen3:0.6b' });
  assert.equal(Number(res.json.echo.headers['content-length']), Buffer.byteLength(res.json.echo.body));
  assert.equal(res.json.model, 'qwen3:0.6b'); // the backend's answer, as it sent it
});

test('a glob route strips the provider prefix', LIMIT, async () => {
  const res = await post({ model: 'ollama/llama3.2', messages: [] });
  assert.equal(res.status, 200, res.text);
  assert.equal(JSON.parse(res.json.echo.body).model, 'llama3.2');
});

test('routes without an override send the model as is', LIMIT, async () => {
  const res = await post({ model: 'gpt-4o', messages: [] });
  assert.equal(JSON.parse(res.json.echo.body).model, 'gpt-4o');
});

test('streaming through an override: the backend sees the real model, chunks arrive whole', LIMIT, async () => {
  const { res } = await openResponse(gw.base, '/v1/chat/completions', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-fake-mode': 'sse', 'x-fake-chunks': '5' },
    body: JSON.stringify({ model: 'fast', stream: true, messages: [] }),
  });
  assert.equal(res.statusCode, 200);
  const reader = sseReader(res);
  const events = [];
  for (let i = 0; i < 6; i++) events.push(await reader.next());
  assert.deepEqual(deltas(events), ['tok0', 'tok1', 'tok2', 'tok3', 'tok4']);
  assert.equal(events.at(-1), '[DONE]');
  assert.equal(JSON.parse(events[0]).model, 'qwen3:0.6b');
  const seen = fake.requests.at(-1);
  assert.equal(JSON.parse(seen.body).model, 'qwen3:0.6b');
});
