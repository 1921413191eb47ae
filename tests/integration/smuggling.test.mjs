// Request-smuggling shapes (RFC 9112 6.1, 6.3, 11.2): ambiguous framing or
// header injection. Each must get a 400 and the connection closed, because
// after an ambiguous message the gateway cannot know where the next one starts;
// and nothing may reach the upstream.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startFakeUpstream } from '../fakes/fake_upstream.mjs';
import { chat, gatewayConfig, newTestId, parseResponses, rawRequest, startGateway } from './harness.mjs';

const LIMIT = { timeout: 20000 };
const BODY = '{"model":"llama3","messages":[]}';
const CHUNKED_BODY = `${BODY.length.toString(16)}\r\n${BODY}\r\n0\r\n\r\n`;

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

/**
 * A POST to /v1/chat/completions with these framing headers and body text,
 * followed by a second, smuggled request that must never be answered.
 * Lines are joined with CRLF; any bare CR or LF in `headers` is kept as is.
 */
function smuggle(id, headers, body) {
  const head = [
    'POST /v1/chat/completions HTTP/1.1',
    'Host: gateway.test',
    'Content-Type: application/json',
    `X-Test-Id: ${id}`,
    ...headers,
  ].join('\r\n');
  const smuggled = `GET /v1/models HTTP/1.1\r\nHost: gateway.test\r\nX-Test-Id: ${id}-smuggled\r\n\r\n`;
  return `${head}\r\n\r\n${body}${smuggled}`;
}

const CASES = {
  'Content-Length together with Transfer-Encoding: chunked': [
    [`Content-Length: ${CHUNKED_BODY.length}`, 'Transfer-Encoding: chunked'],
    CHUNKED_BODY,
  ],
  'Transfer-Encoding: chunked before Content-Length': [
    ['Transfer-Encoding: chunked', 'Content-Length: 4'],
    CHUNKED_BODY,
  ],
  'two different Content-Length headers': [
    [`Content-Length: ${BODY.length}`, 'Content-Length: 4'],
    BODY,
  ],
  'one Content-Length header with two different values': [
    [`Content-Length: ${BODY.length}, 4`],
    BODY,
  ],
  'Transfer-Encoding: xchunked': [['Transfer-Encoding: xchunked'], CHUNKED_BODY],
  'Transfer-Encoding: chunked, identity': [['Transfer-Encoding: chunked, identity'], CHUNKED_BODY],
  'a bare LF inside a header value': [
    ['X-Note: first\nTransfer-Encoding: chunked', `Content-Length: ${BODY.length}`],
    BODY,
  ],
  'a bare CR inside a header value': [
    ['X-Note: first\rTransfer-Encoding: chunked', `Content-Length: ${BODY.length}`],
    BODY,
  ],
};

describe('request smuggling shapes get 400 and a closed connection', () => {
  for (const [name, [headers, body]] of Object.entries(CASES)) {
    test(name, LIMIT, async () => {
      const id = newTestId();
      const { text, closedByServer } = await rawRequest(gw.port, smuggle(id, headers, body));

      const responses = parseResponses(text);
      assert.equal(responses[0]?.status, 400, `expected 400, got:\n${text}`);
      assert.equal(responses.length, 1, `the smuggled request was answered too:\n${text}`);
      assert.ok(closedByServer, 'the gateway kept the connection open after an ambiguous request');
      const forwarded = fake.requests.filter((r) => r.headers['x-test-id']?.startsWith(id));
      assert.deepEqual(forwarded.map((r) => r.path), [], 'something reached the upstream');

      const good = await chat(gw.base);
      assert.equal(good.status, 200, good.text);
    });
  }
});
