// Relaying upstream responses of every framing, upstream error statuses,
// keep-alive on both sides, and Expect: 100-continue.

import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { startFakeUpstream } from '../fakes/fake_upstream.mjs';
import { chat, gatewayConfig, openRaw, parseResponses, rawHttp, startGateway } from './harness.mjs';

const LIMIT = { timeout: 20000 };

let fake;
let gw;

before(async () => {
  fake = await startFakeUpstream();
  // One worker: with one upstream pool, reuse is observable from the fake.
  gw = await startGateway(gatewayConfig({ workers: 1, backends: [{ name: 'ollama', url: fake.url }] }));
});

after(async () => {
  await gw?.stop();
  await fake?.close();
});

/** Asserts a complete chat.completion for this model whose echo carries the request we sent. */
function assertChatCompletion(res, model) {
  assert.equal(res.status, 200, res.text);
  assert.match(res.headers['content-type'] ?? '', /application\/json/);
  assert.ok(res.json, `body is not complete JSON: ${res.text}`);
  assert.equal(res.json.object, 'chat.completion');
  assert.equal(res.json.model, model);
  assert.equal(res.json.choices[0].message.content, 'hello from fake');
  assert.equal(JSON.parse(res.json.echo.body).model, model);
}

describe('response framing', () => {
  test('Content-Length JSON is relayed intact', LIMIT, async () => {
    const res = await chat(gw.base, { model: 'llama3' });
    assertChatCompletion(res, 'llama3');
    assert.equal(Number(res.headers['content-length']), Buffer.byteLength(res.text));
  });

  test('chunked JSON is relayed intact', LIMIT, async () => {
    const res = await chat(gw.base, { model: 'llama3', headers: { 'x-fake-mode': 'chunked-json' } });
    assertChatCompletion(res, 'llama3');
  });

  test('close-delimited JSON is relayed intact', LIMIT, async () => {
    const res = await chat(gw.base, { model: 'llama3', headers: { 'x-fake-mode': 'close-delimited' } });
    assertChatCompletion(res, 'llama3');
  });

  test('the next request after a close-delimited one is served', LIMIT, async () => {
    // The upstream connection was closed by the fake; it must not be reused.
    await chat(gw.base, { headers: { 'x-fake-mode': 'close-delimited' } });
    assertChatCompletion(await chat(gw.base, { model: 'llama3' }), 'llama3');
  });
});

describe('upstream error statuses', () => {
  for (const status of [400, 429, 500, 503]) {
    test(`${status} with a JSON body is relayed as is`, LIMIT, async () => {
      const res = await chat(gw.base, { headers: { 'x-fake-status': String(status) } });
      assert.equal(res.status, status);
      assert.match(res.headers['content-type'] ?? '', /application\/json/);
      // The fake's own error, not one made by the gateway.
      assert.equal(res.json?.error?.code, `fake_${status}`, res.text);
      assert.equal(res.json.error.message, `fake upstream error ${status}`);
    });
  }
});

describe('keep-alive', () => {
  test('several requests share one client connection and fewer upstream connections', LIMIT, async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const count = 5;
      const connectionsBefore = fake.connections;
      const results = [];
      for (let i = 0; i < count; i++) results.push(await chat(gw.base, { model: 'llama3', agent }));

      for (const res of results) assertChatCompletion(res, 'llama3');
      assert.deepEqual(
        results.map((r) => r.reusedSocket),
        [false, true, true, true, true],
        'the gateway closed the client connection between requests',
      );
      const opened = fake.connections - connectionsBefore;
      assert.ok(opened < count, `upstream connections opened: ${opened} for ${count} requests (no pool reuse)`);
    } finally {
      agent.destroy();
    }
  });

  test('a streamed response does not stop the client connection from being reused', LIMIT, async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const first = await chat(gw.base, { agent, extra: { stream: true }, headers: { 'x-fake-mode': 'sse' } });
      assert.equal(first.status, 200);
      assert.ok(first.text.trimEnd().endsWith('data: [DONE]'), first.text);
      const second = await chat(gw.base, { agent, model: 'llama3' });
      assertChatCompletion(second, 'llama3');
      assert.equal(second.reusedSocket, true);
    } finally {
      agent.destroy();
    }
  });
});

describe('Expect: 100-continue', () => {
  test('the gateway sends 100 Continue before the body, then the final response', LIMIT, async () => {
    const body = JSON.stringify({ model: 'llama3', messages: [{ role: 'user', content: 'hi' }] });
    const conn = await openRaw(gw.port);
    try {
      await conn.write(
        rawHttp('POST /v1/chat/completions HTTP/1.1', [
          'Host: gateway.test',
          'Content-Type: application/json',
          `Content-Length: ${Buffer.byteLength(body)}`,
          'Expect: 100-continue',
        ]),
      );
      // No body sent yet: only a gateway that honours Expect answers here.
      const interim = await conn.readUntil((t) => t.includes('\r\n\r\n'));
      assert.match(interim, /^HTTP\/1\.1 100 Continue\r\n/);

      await conn.write(body);
      await conn.readUntil((t) => parseResponses(t).some((r) => r.status >= 200 && r.complete));
      const [continueResponse, final] = parseResponses(conn.text);
      assert.equal(continueResponse.status, 100);
      assert.equal(final.status, 200);
      assert.equal(JSON.parse(final.body).choices[0].message.content, 'hello from fake');
    } finally {
      conn.close();
    }
  });
});
