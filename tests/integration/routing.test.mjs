// Route selection (header, exact model, model glob, x-ai-eg-model, default),
// the gateway's own GET /v1/models, and the access log line.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startFakeUpstream } from '../fakes/fake_upstream.mjs';
import { chat, gatewayConfig, newTestId, request, startGateway } from './harness.mjs';

const LIMIT = { timeout: 20000 };

let ollama; // fake behind backend "ollama"
let openai; // fake behind backend "openai"
let gw;

before(async () => {
  ollama = await startFakeUpstream();
  openai = await startFakeUpstream();
  gw = await startGateway(
    gatewayConfig({
      backends: [
        { name: 'ollama', url: ollama.url },
        { name: 'openai', url: openai.url },
      ],
      routes: [
        { match: { headers: { 'aigw-backend-selector': 'openai' } }, backend: 'openai' },
        { match: { model: 'gpt-*' }, backend: 'openai' },
        { match: { model: 'llama3' }, backend: 'ollama' },
        { match: { model: 'qwen3:0.6b' }, backend: 'openai' },
        { backend: 'ollama' },
      ],
    }),
  );
});

after(async () => {
  await gw?.stop();
  await ollama?.close();
  await openai?.close();
});

/** Which fake received the request tagged with `id`: 'ollama', 'openai', or undefined. */
function servedBy(id) {
  const tagged = (fake) => fake.requests.some((r) => r.headers['x-test-id'] === id);
  if (tagged(ollama) && tagged(openai)) return 'both';
  if (tagged(ollama)) return 'ollama';
  if (tagged(openai)) return 'openai';
  return undefined;
}

/** Sends a chat request tagged with a fresh id; returns the backend that served it. */
async function routeOf({ model, headers = {} }) {
  const id = newTestId();
  const res = await chat(gw.base, { model, headers: { 'x-test-id': id, ...headers } });
  assert.equal(res.status, 200, res.text);
  return servedBy(id);
}

describe('routing', () => {
  test('a model no route names goes to the default route', LIMIT, async () => {
    assert.equal(await routeOf({ model: 'mistral' }), 'ollama');
  });

  test('an exact model route', LIMIT, async () => {
    assert.equal(await routeOf({ model: 'llama3' }), 'ollama');
    assert.equal(await routeOf({ model: 'qwen3:0.6b' }), 'openai');
  });

  test('the header route wins over a later model route (first match wins)', LIMIT, async () => {
    assert.equal(await routeOf({ model: 'llama3', headers: { 'aigw-backend-selector': 'openai' } }), 'openai');
  });

  test('a header route with another value does not match', LIMIT, async () => {
    assert.equal(await routeOf({ model: 'llama3', headers: { 'aigw-backend-selector': 'other' } }), 'ollama');
  });

  test('a model glob route', LIMIT, async () => {
    assert.equal(await routeOf({ model: 'gpt-4o' }), 'openai');
    assert.equal(await routeOf({ model: 'gpt-4o-mini' }), 'openai');
    // The glob is anchored: "my-gpt-4o" does not start with "gpt-".
    assert.equal(await routeOf({ model: 'my-gpt-4o' }), 'ollama');
  });

  test('the model is found after a long messages array (body read in several pieces)', LIMIT, async () => {
    const id = newTestId();
    const messages = Array.from({ length: 2000 }, (_, i) => ({ role: 'user', content: `message number ${i}` }));
    const res = await request(gw.base, '/v1/chat/completions', {
      headers: { 'x-test-id': id, 'content-type': 'application/json' },
      body: JSON.stringify({ messages, stream: false, model: 'gpt-4o' }),
    });
    assert.equal(res.status, 200, res.text);
    assert.equal(servedBy(id), 'openai');
  });

  test('the body model wins over x-ai-eg-model', LIMIT, async () => {
    assert.equal(await routeOf({ model: 'llama3', headers: { 'x-ai-eg-model': 'gpt-4o' } }), 'ollama');
  });

  test('x-ai-eg-model routes a GET, which has no body', LIMIT, async () => {
    // GET /v1/responses/{id} is OpenAI's "retrieve a model response".
    const id = newTestId();
    const res = await request(gw.base, '/v1/responses/resp_abc123?include=usage', {
      headers: { 'x-test-id': id, 'x-ai-eg-model': 'gpt-4o' },
    });
    assert.equal(res.status, 200, res.text);
    assert.equal(servedBy(id), 'openai');
    assert.equal(res.json.echo.method, 'GET');
  });

  test('x-ai-eg-model routes a multipart request, whose body is not JSON', LIMIT, async () => {
    const id = newTestId();
    const boundary = 'aigw-test-boundary';
    const body = [
      `--${boundary}`,
      'Content-Disposition: form-data; name="model"',
      '',
      'gpt-4o-transcribe',
      `--${boundary}`,
      'Content-Disposition: form-data; name="file"; filename="a.wav"',
      'Content-Type: audio/wav',
      '',
      'RIFF-not-really-audio',
      `--${boundary}--`,
      '',
    ].join('\r\n');
    const res = await request(gw.base, '/v1/audio/transcriptions', {
      headers: {
        'x-test-id': id,
        'x-ai-eg-model': 'gpt-4o-transcribe',
        'content-type': `multipart/form-data; boundary=${boundary}`,
      },
      body,
    });
    assert.equal(res.status, 200, res.text);
    assert.equal(servedBy(id), 'openai');
    assert.equal(res.json.echo.body, body);
  });
});

describe('GET /v1/models', () => {
  test('lists the exact model names of the routes, never globs', LIMIT, async () => {
    const res = await request(gw.base, '/v1/models');
    assert.equal(res.status, 200, res.text);
    assert.match(res.headers['content-type'] ?? '', /application\/json/);
    assert.equal(res.json.object, 'list');
    assert.ok(Array.isArray(res.json.data), res.text);
    for (const model of res.json.data) {
      assert.equal(model.object, 'model');
      assert.equal(typeof model.id, 'string');
      assert.equal(typeof model.owned_by, 'string');
    }
    const ids = res.json.data.map((m) => m.id).sort();
    assert.deepEqual(ids, ['llama3', 'qwen3:0.6b']);
  });

  test('is answered by the gateway, not forwarded', LIMIT, async () => {
    const forwardedBefore = ollama.requests.length + openai.requests.length;
    await request(gw.base, '/v1/models');
    assert.equal(ollama.requests.length + openai.requests.length, forwardedBefore);
  });
});

describe('access log', () => {
  test('one JSON line per request with the request id, method, path, model, backend, status, usage', LIMIT, async () => {
    const from = gw.stderr().length;
    const res = await chat(gw.base, { model: 'llama3', headers: { 'x-request-id': 'my-trace.42' } });
    assert.equal(res.status, 200);
    assert.equal(res.headers['x-aigw-request-id'], 'my-trace.42');
    const entry = await gw.waitForAccess((e) => e.request_id === 'my-trace.42', { from });
    assert.equal(entry.method, 'POST');
    assert.equal(entry.path, '/v1/chat/completions');
    assert.equal(entry.model, 'llama3');
    assert.equal(entry.backend, 'ollama');
    assert.equal(entry.status, 200);
    assert.equal(entry.input_tokens, 5);  // the fake's usage
    assert.equal(entry.output_tokens, 3);
    assert.ok(entry.bytes_in > 0 && entry.bytes_out > 0);
    assert.match(entry.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    // The id went upstream, in place of the client's header.
    assert.equal(JSON.parse(res.text).echo.headers['x-request-id'], 'my-trace.42');
  });

  test('an insane x-request-id is replaced by a generated one, upstream and in the log', LIMIT, async () => {
    const from = gw.stderr().length;
    const res = await chat(gw.base, { model: 'llama3', headers: { 'x-request-id': 'has spaces and "quotes"' } });
    const id = res.headers['x-aigw-request-id'];
    assert.match(id, /^[0-9a-f]{32}$/);
    assert.equal(JSON.parse(res.text).echo.headers['x-request-id'], id);
    await gw.waitForAccess((e) => e.request_id === id, { from });
  });

  test('access_log_format: text keeps the key=value line', LIMIT, async () => {
    const text = await startGateway(gatewayConfig({ access_log_format: 'text', backends: [{ name: 'ollama', url: ollama.url }] }));
    try {
      await chat(text.base, { model: 'llama3' });
      await text.waitForStderr(/^access method=POST path=\/v1\/chat\/completions model=llama3 .*status=200 /m);
    } finally {
      await text.stop();
    }
  });
});
