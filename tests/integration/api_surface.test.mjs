// The OpenAI API surface through the gateway: the Responses API's model rule, and an access
// log that says what really happened (bytes sent, streams cut or aborted, and by whom).

import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { startFakeUpstream } from '../fakes/fake_upstream.mjs';
import { assertOpenAiError, gatewayConfig, newTestId, openResponse, request, sseReader, startGateway } from './harness.mjs';

const LIMIT = { timeout: 20000 };

let fake;
let gw;

before(async () => {
  fake = await startFakeUpstream();
  gw = await startGateway(gatewayConfig({ workers: 1, backends: [{ name: 'ollama', url: fake.url }] }));
});

after(async () => {
  await gw?.stop();
  await fake?.close();
});

describe('the Responses API names its model like chat completions', () => {
  for (const [what, body] of [['no model', { input: 'hi' }], ['an empty model', { model: '', input: 'hi' }]]) {
    test(`${what} is 400 model_required`, LIMIT, async () => {
      const res = await request(gw.base, '/v1/responses', { body });
      assertOpenAiError(res, 400);
      assert.equal(res.json.error.code, 'model_required');
    });
  }

  test('a request continuing a stored response may leave the model out', LIMIT, async () => {
    const id = newTestId();
    const res = await request(gw.base, '/v1/responses', {
      headers: { 'x-test-id': id },
      body: { previous_response_id: 'resp_123', input: 'and then?' },
    });
    assert.equal(res.status, 200, res.text);
    const upstream = await fake.waitForRequest((r) => r.headers['x-test-id'] === id);
    assert.equal(JSON.parse(upstream.body).previous_response_id, 'resp_123');
  });

  test('sub-paths (retrieve, cancel, input items) need no model', LIMIT, async () => {
    const res = await request(gw.base, '/v1/responses/resp_123/cancel', { body: {} });
    assert.equal(res.status, 200, res.text);
  });
});

describe('the access log', () => {
  /** The access line of the request tagged `id` (by its path), once written. */
  const accessLine = async (pathRe, from) => (await gw.waitForStderr(new RegExp(`access method=\\S+ path=${pathRe}[^\\n]*`), { from }))[0];

  test("a local error is logged with the bytes of the error body", LIMIT, async () => {
    const from = gw.stderr().length;
    const res = await request(gw.base, '/no-such-path');
    assertOpenAiError(res, 404);
    const line = await accessLine('/no-such-path', from);
    assert.match(line, new RegExp(` status=404 bytes=${Buffer.byteLength(res.text)} `));
    assert.match(line, / complete=true$/);
  });

  test('a finished stream is complete=true', LIMIT, async () => {
    const from = gw.stderr().length;
    const { res } = await openResponse(gw.base, '/v1/chat/completions', {
      headers: { 'x-fake-mode': 'sse', 'x-fake-chunks': '3' },
      body: { model: 'llama3', stream: true, messages: [] },
    });
    await sseReader(res).rest();
    const line = await accessLine('/v1/chat/completions', from);
    assert.match(line, / status=200 .* complete=true$/);
  });

  test('a stream the client aborts is complete=false ended_by=client', LIMIT, async () => {
    const from = gw.stderr().length;
    const { req, res } = await openResponse(gw.base, '/v1/chat/completions', {
      headers: { 'x-fake-mode': 'sse', 'x-fake-chunks': '50', 'x-fake-delay-ms': '50' },
      body: { model: 'llama3', stream: true, messages: [] },
    });
    assert.ok(await sseReader(res).next());
    req.destroy();
    const line = await accessLine('/v1/chat/completions', from);
    assert.match(line, / status=200 .* complete=false ended_by=client$/);
  });

  test('a stream the upstream cuts is complete=false ended_by=upstream', LIMIT, async () => {
    const from = gw.stderr().length;
    const { res } = await openResponse(gw.base, '/v1/chat/completions', {
      headers: { 'x-fake-mode': 'reset' },
      body: { model: 'llama3', stream: true, messages: [] },
    });
    await sseReader(res).rest().catch(() => {});
    const line = await accessLine('/v1/chat/completions', from);
    assert.match(line, / status=200 .* complete=false ended_by=upstream$/);
  });
});

describe('response headers that explain the routing', () => {
  test('x-aigw-backend and x-aigw-route on relayed responses; a backend cannot forge them', LIMIT, async () => {
    const forger = http.createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'x-aigw-backend': 'forged', 'x-aigw-anything': '1' });
      res.end('{}');
    });
    forger.listen(0, '127.0.0.1');
    await once(forger, 'listening');
    const two = await startGateway(gatewayConfig({
      backends: [{ name: 'ollama', url: fake.url }, { name: 'forger', url: `http://127.0.0.1:${forger.address().port}/v1` }],
      routes: [{ match: { model: 'forge' }, backend: 'forger' }, { backend: 'ollama' }],
    }));
    try {
      const ok = await request(two.base, '/v1/chat/completions', { body: { model: 'llama3', messages: [] } });
      assert.equal(ok.headers['x-aigw-backend'], 'ollama');
      assert.equal(ok.headers['x-aigw-route'], '1');
      const forged = await request(two.base, '/v1/chat/completions', { body: { model: 'forge', messages: [] } });
      assert.equal(forged.headers['x-aigw-backend'], 'forger');
      assert.equal(forged.headers['x-aigw-route'], '0');
      assert.equal(forged.headers['x-aigw-anything'], undefined);
    } finally {
      await two.stop();
      forger.close();
    }
  });

  test('response_headers: false leaves them out', LIMIT, async () => {
    const quiet = await startGateway(gatewayConfig({ response_headers: false, backends: [{ name: 'ollama', url: fake.url }] }));
    try {
      const res = await request(quiet.base, '/v1/chat/completions', { body: { model: 'llama3', messages: [] } });
      assert.equal(res.status, 200);
      assert.equal(res.headers['x-aigw-backend'], undefined);
      assert.equal(res.headers['x-aigw-route'], undefined);
    } finally {
      await quiet.stop();
    }
  });
});
