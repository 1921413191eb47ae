// Server-Sent Events relay: order and completeness, incrementality (no
// buffering), client cancellation reaching the upstream, and an upstream that
// dies after the response head was already relayed.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startFakeUpstream } from '../fakes/fake_upstream.mjs';
import {
  chat,
  deltas,
  gatewayConfig,
  newTestId,
  openRaw,
  openResponse,
  parseResponses,
  rawHttp,
  sendRequest,
  sseReader,
  startGateway,
} from './harness.mjs';

const LIMIT = { timeout: 20000 };
const STREAM_BODY = { model: 'llama3', stream: true, messages: [{ role: 'user', content: 'hi' }] };

let fake;
let gw;

before(async () => {
  fake = await startFakeUpstream();
  gw = await startGateway(gatewayConfig({ backends: [{ name: 'ollama', url: fake.url }] }));
});

after(async () => {
  await gw?.stop();
  await fake?.close();
});

/** Opens a streaming chat through the gateway in the given fake mode. */
function openStream(mode, extraHeaders = {}) {
  return openResponse(gw.base, '/v1/chat/completions', {
    headers: { 'x-fake-mode': mode, ...extraHeaders },
    body: STREAM_BODY,
  });
}

const expectedTokens = (n) => Array.from({ length: n }, (_, i) => `tok${i}`);

describe('SSE relay', () => {
  test('20 chunks arrive complete and in order, ending with [DONE]', LIMIT, async () => {
    const { res } = await openStream('sse', { 'x-fake-chunks': '20' });
    assert.equal(res.statusCode, 200);
    assert.match(res.headers['content-type'] ?? '', /^text\/event-stream/);
    const payloads = await sseReader(res).rest();
    assert.equal(payloads.at(-1), '[DONE]');
    assert.deepEqual(deltas(payloads), expectedTokens(20));
  });

  test('chunks with pauses between them arrive in order', LIMIT, async () => {
    const { res } = await openStream('sse', { 'x-fake-chunks': '5', 'x-fake-delay-ms': '20' });
    const payloads = await sseReader(res).rest();
    assert.deepEqual(deltas(payloads), expectedTokens(5));
    assert.equal(payloads.at(-1), '[DONE]');
  });

  test('each chunk is relayed before the upstream sends the next (no buffering)', LIMIT, async () => {
    // The fake holds every chunk after the first until release(), so each read
    // below can only succeed if the gateway forwarded what it had so far.
    const chunks = 3;
    // (A backend without include_usage: the gateway's forced usage chunk would be one more
    // held event.)
    const { res } = await openStream('sse-gated', { 'x-fake-chunks': String(chunks), 'x-fake-no-usage': '1' });
    assert.equal(res.statusCode, 200);
    const reader = sseReader(res);
    const received = [await reader.next()];
    for (let i = 1; i <= chunks; i++) {
      fake.release();
      received.push(await reader.next());
    }
    assert.equal(await reader.next(), null, 'stream did not end after [DONE]');
    assert.deepEqual(deltas(received), expectedTokens(chunks));
    assert.equal(received.at(-1), '[DONE]');
  });
});

describe('client cancellation', () => {
  test('a client that goes away mid-stream closes the upstream connection', LIMIT, async () => {
    const id = newTestId();
    const { req, res } = await openStream('sse-gated', { 'x-test-id': id, 'x-fake-chunks': '5' });
    const first = await sseReader(res).next();
    assert.deepEqual(deltas([first]), ['tok0']);
    const upstream = await fake.waitForRequest((r) => r.headers['x-test-id'] === id);

    req.destroy();
    // The fake is idle, waiting for release(): only the gateway can close this.
    await fake.waitSocketClose(upstream.socketId);
  });

  test('a client that goes away before the first byte closes the upstream connection', LIMIT, async () => {
    const id = newTestId();
    const { req } = sendRequest(gw.base, '/v1/chat/completions', {
      headers: { 'x-fake-mode': 'slow', 'x-fake-delay-ms': '60000', 'x-test-id': id },
      body: STREAM_BODY,
    });
    const upstream = await fake.waitForRequest((r) => r.headers['x-test-id'] === id);

    req.destroy();
    await fake.waitSocketClose(upstream.socketId);
  });

  test('the gateway keeps serving after cancelled requests', LIMIT, async () => {
    const res = await chat(gw.base);
    assert.equal(res.status, 200, res.text);
  });
});

describe('upstream failure after the head was sent', () => {
  test('node:http sees the response end in an error, not a clean end', LIMIT, async () => {
    const { res } = await openStream('reset');
    assert.equal(res.statusCode, 200);
    const reader = sseReader(res);
    assert.deepEqual(deltas([await reader.next(), await reader.next()]), ['tok0', 'tok1']);
    await assert.rejects(reader.rest(), 'the truncated stream ended as if complete');
  });

  test('on the wire: the chunked body is not terminated and the connection is closed', LIMIT, async () => {
    const body = JSON.stringify(STREAM_BODY);
    const conn = await openRaw(gw.port);
    await conn.write(
      rawHttp('POST /v1/chat/completions HTTP/1.1', [
        'Host: gateway.test',
        'Content-Type: application/json',
        `Content-Length: ${Buffer.byteLength(body)}`,
        'X-Fake-Mode: reset',
      ], body),
    );
    const { text, closedByServer } = await conn.closed();

    const [response] = parseResponses(text);
    assert.equal(response?.status, 200, text);
    assert.match(response.body, /tok0[\s\S]*tok1/);
    assert.equal(response.complete, false, 'the gateway ended the relayed body as if it were complete');
    assert.ok(!text.endsWith('0\r\n\r\n'), 'terminating zero-size chunk sent');
    assert.ok(closedByServer, 'the gateway kept the client connection open');
  });

  test('the gateway keeps serving after an upstream reset', LIMIT, async () => {
    const res = await chat(gw.base);
    assert.equal(res.status, 200, res.text);
  });
});
