// Local error replies: each is OpenAI-shaped JSON with the right status, and
// none of them stops the gateway (or, where the request was read whole, the
// client connection) from serving the next request.

import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { startFakeUpstream } from '../fakes/fake_upstream.mjs';
import {
  assertOpenAiError,
  chat,
  closedPort,
  gatewayConfig,
  newTestId,
  rawExchange,
  rawHttp,
  request,
  startGateway,
} from './harness.mjs';

const LIMIT = { timeout: 20000 };
const MAX_BODY = 64 * 1024;
const MAX_HEADERS = 8 * 1024;

let fake;
let gw;

before(async () => {
  fake = await startFakeUpstream();
  gw = await startGateway(
    gatewayConfig({
      limits: { max_request_body: '64KiB', max_request_headers: '8KiB' },
      backends: [
        { name: 'ollama', url: fake.url },
        { name: 'dead', url: `http://127.0.0.1:${await closedPort()}/v1` },
        { name: 'slowpoke', url: fake.url, timeouts: { first_byte: '300ms' } },
      ],
      routes: [
        { match: { headers: { 'aigw-backend-selector': 'dead' } }, backend: 'dead' },
        { match: { headers: { 'aigw-backend-selector': 'slowpoke' } }, backend: 'slowpoke' },
        { backend: 'ollama' },
      ],
    }),
  );
});

after(async () => {
  await gw?.stop();
  await fake?.close();
});

/**
 * Sends `send(agent)` then a good request over the same keep-alive connection:
 * the error reply must leave that connection usable. Returns the error response.
 */
async function thenStillServing(send) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const bad = await send(agent);
    const good = await chat(gw.base, { agent });
    assert.equal(good.status, 200, `request after the error failed: ${good.text}`);
    assert.equal(good.reusedSocket, true, 'the client connection was closed after the error reply');
    return bad;
  } finally {
    agent.destroy();
  }
}

function postChat(agent, body, headers = {}) {
  return request(gw.base, '/v1/chat/completions', {
    agent,
    headers: { 'content-type': 'application/json', ...headers },
    body,
  });
}

describe('bad request bodies get 400', () => {
  const cases = {
    'malformed JSON': '{"model": "llama3", "messages": [',
    'invalid UTF-8 inside a JSON string': Buffer.concat([
      Buffer.from('{"model":"llama3","messages":[{"role":"user","content":"'),
      Buffer.from([0xc3, 0x28, 0xff, 0xfe]),
      Buffer.from('"}]}'),
    ]),
    // Two parsers disagreeing on which "model" counts is a routing bypass.
    'a duplicated "model" key': '{"model":"llama3","messages":[],"model":"gpt-4o"}',
    'no model': '{"messages":[{"role":"user","content":"hi"}]}',
    'a model that is not a string': '{"model":42,"messages":[]}',
    'a JSON array instead of an object': '[{"model":"llama3"}]',
  };
  for (const [name, body] of Object.entries(cases)) {
    test(name, LIMIT, async () => {
      const id = newTestId();
      const res = await thenStillServing((agent) => postChat(agent, body, { 'x-test-id': id }));
      assertOpenAiError(res, 400);
      assert.ok(!fake.requests.some((r) => r.headers['x-test-id'] === id), 'the bad request was forwarded');
    });
  }
});

describe('paths outside /v1 get 404; every /v1 path is routed', () => {
  test('POST /v1/some/future/api goes to the route (the default here), as it was sent', LIMIT, async () => {
    const id = `future-${Date.now()}`;
    const res = await request(gw.base, '/v1/some/future/api?x=1', { headers: { 'x-test-id': id }, body: { anything: true } });
    assert.equal(res.status, 200, res.text);
    const upstream = await fake.waitForRequest((r) => r.headers['x-test-id'] === id);
    assert.equal(upstream.path, '/v1/some/future/api?x=1');
  });

  for (const path of ['/v1', '/v1/', '/v2/chat/completions', '/v1/organization/admin_api_keys']) {
    test(`${path} is 404`, LIMIT, async () => {
      const res = await thenStillServing((agent) => request(gw.base, path, { agent, body: { model: 'llama3' } }));
      assertOpenAiError(res, 404);
    });
  }

  test('GET /foo', LIMIT, async () => {
    const res = await thenStillServing((agent) => request(gw.base, '/foo', { agent }));
    assertOpenAiError(res, 404);
  });
});

describe('size limits', () => {
  const bigBody = JSON.stringify({ model: 'llama3', messages: [{ role: 'user', content: 'x'.repeat(MAX_BODY + 1024) }] });

  // Raw, because the gateway may answer and close before reading the whole
  // request, which node:http reports as a write error instead of the response.
  async function assertRawError(bytes, status) {
    const { conn, response, text } = await rawExchange(gw.port, bytes);
    conn.close();
    assert.ok(response, `no response; got: ${text.slice(0, 500)}`);
    assertOpenAiError({ status: response.status, headers: response.headers, text: response.body }, status);
    const good = await chat(gw.base);
    assert.equal(good.status, 200, good.text);
  }

  test('a body over max_request_body with Content-Length gets 413', LIMIT, async () => {
    await assertRawError(
      rawHttp('POST /v1/chat/completions HTTP/1.1', [
        'Host: gateway.test',
        'Content-Type: application/json',
        `Content-Length: ${Buffer.byteLength(bigBody)}`,
      ], bigBody),
      413,
    );
  });

  test('a chunked body over max_request_body gets 413', LIMIT, async () => {
    // Many modest chunks: no single chunk size reveals the total.
    const pieces = bigBody.match(/[\s\S]{1,4096}/g);
    const chunked = pieces.map((p) => `${Buffer.byteLength(p).toString(16)}\r\n${p}\r\n`).join('') + '0\r\n\r\n';
    await assertRawError(
      rawHttp('POST /v1/chat/completions HTTP/1.1', [
        'Host: gateway.test',
        'Content-Type: application/json',
        'Transfer-Encoding: chunked',
      ], chunked),
      413,
    );
  });

  test('a body just under max_request_body is accepted', LIMIT, async () => {
    const filler = 'y'.repeat(MAX_BODY - 200);
    const body = JSON.stringify({ model: 'llama3', messages: [{ role: 'user', content: filler }] });
    assert.ok(Buffer.byteLength(body) < MAX_BODY);
    const res = await request(gw.base, '/v1/chat/completions', { headers: { 'content-type': 'application/json' }, body });
    assert.equal(res.status, 200, res.text);
  });

  test('headers over max_request_headers get 431', LIMIT, async () => {
    await assertRawError(
      rawHttp('POST /v1/chat/completions HTTP/1.1', [
        'Host: gateway.test',
        'Content-Type: application/json',
        `X-Big: ${'h'.repeat(MAX_HEADERS + 512)}`,
        'Content-Length: 2',
      ], '{}'),
      431,
    );
  });
});

describe('backend failures before the response head', () => {
  test('an unreachable backend gets 502', LIMIT, async () => {
    const res = await thenStillServing((agent) => chat(gw.base, { agent, headers: { 'aigw-backend-selector': 'dead' } }));
    assertOpenAiError(res, 502);
  });

  test("no response head within the backend's first_byte timeout gets 504", LIMIT, async () => {
    const id = newTestId();
    const res = await thenStillServing((agent) =>
      chat(gw.base, {
        agent,
        headers: { 'aigw-backend-selector': 'slowpoke', 'x-fake-mode': 'slow', 'x-test-id': id },
      }),
    );
    assertOpenAiError(res, 504);
    // The late answer must never be read as the reply to another request, so
    // the gateway has to drop that upstream connection.
    const upstream = await fake.waitForRequest((r) => r.headers['x-test-id'] === id);
    await fake.waitSocketClose(upstream.socketId);
  });
});
