// Inputs a careless proxy gets wrong: interim responses, a backend that closes idle
// keep-alive connections, pipelined requests, HEAD on the gateway's own answers, trailers,
// hostless requests, encoded path escapes, pathological JSON.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startFakeUpstream } from '../fakes/fake_upstream.mjs';
import {
  assertOpenAiError,
  chat,
  gatewayConfig,
  newTestId,
  openRaw,
  parseResponses,
  rawExchange,
  rawHttp,
  request,
  startGateway,
} from './harness.mjs';

const LIMIT = { timeout: 20000 };
const BODY = '{"model":"llama3","messages":[]}';

let fake;
let gw;

before(async () => {
  // The backend closes idle keep-alive connections quickly, as uvicorn or Node do (5 s).
  fake = await startFakeUpstream({ keepAliveTimeoutMs: 200 });
  gw = await startGateway(gatewayConfig({ workers: 1, backends: [{ name: 'ollama', url: fake.url }] }));
});

after(async () => {
  await gw?.stop();
  await fake?.close();
});

describe('backend behaviour', () => {
  test('a 103 Early Hints before the answer is skipped, the answer relayed', LIMIT, async () => {
    const res = await chat(gw.base, { headers: { 'x-fake-mode': 'early-hints' } });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.object, 'chat.completion');
    // And the pooled connection is still in step: the next answer is the right one.
    const id = newTestId();
    const next = await chat(gw.base, { headers: { 'x-test-id': id } });
    assert.equal(next.status, 200);
    assert.equal(next.json.echo.headers['x-test-id'], id);
  });

  test('a pooled connection the backend closed while idle is replaced, not a 502', LIMIT, async () => {
    const first = newTestId();
    const res1 = await chat(gw.base, { headers: { 'x-test-id': first } });
    assert.equal(res1.status, 200);
    const upstream = await fake.waitForRequest((r) => r.headers['x-test-id'] === first);
    await fake.waitSocketClose(upstream.socketId); // the backend's idle timeout closed it
    const res2 = await chat(gw.base);
    assert.equal(res2.status, 200, res2.text);
  });
});

describe('client behaviour', () => {
  test('a request pipelined while the first is still upstream is answered after it', LIMIT, async () => {
    const conn = await openRaw(gw.port);
    const slow = rawHttp('POST /v1/chat/completions HTTP/1.1',
      ['Host: gw', 'Content-Type: application/json', `Content-Length: ${BODY.length}`, 'x-fake-mode: slow', 'x-fake-delay-ms: 300'], BODY);
    const second = newTestId();
    const quick = rawHttp('POST /v1/chat/completions HTTP/1.1',
      ['Host: gw', 'Content-Type: application/json', `Content-Length: ${BODY.length}`, `x-test-id: ${second}`], BODY);
    await conn.write(slow);
    await fake.waitForRequest((r) => r.headers['x-fake-mode'] === 'slow');
    await conn.write(quick); // arrives while the gateway waits for the first answer
    const text = await conn.readUntil((t) => parseResponses(t).filter((r) => r.complete).length === 2);
    const [r1, r2] = parseResponses(text);
    assert.equal(r1.status, 200);
    assert.equal(r2.status, 200);
    assert.equal(JSON.parse(r2.body).echo.headers['x-test-id'], second);
    conn.close();
  });

  test('HEAD on a gateway answer has headers and no body', LIMIT, async () => {
    const conn = await openRaw(gw.port);
    await conn.write(rawHttp('HEAD /v1/models HTTP/1.1', ['Host: gw'], ''));
    await conn.write(rawHttp('GET /v1/models HTTP/1.1', ['Host: gw'], ''));
    const text = await conn.readUntil((t) => /"object":"list"/.test(t));
    assert.match(text, /^HTTP\/1\.1 200 OK\r\n/);
    // The first response is headers only; the body seen belongs to the GET.
    assert.equal(text.split('"object":"list"').length, 2, text);
    conn.close();
  });

  test('an HTTP/1.1 request without Host is refused', LIMIT, async () => {
    const { response, conn } = await rawExchange(gw.port,
      rawHttp('POST /v1/chat/completions HTTP/1.1', ['Content-Type: application/json', `Content-Length: ${BODY.length}`], BODY));
    conn.close();
    assert.equal(response.status, 400);
  });

  test('trailer fields after a chunked body are refused, not routed on', LIMIT, async () => {
    const chunked = `${BODY.length.toString(16)}\r\n${BODY}\r\n0\r\nx-ai-eg-model: gpt-4o\r\n\r\n`;
    const head = ['POST /v1/chat/completions HTTP/1.1', 'Host: gw', 'Content-Type: application/json',
      'Transfer-Encoding: chunked'].join('\r\n');
    const { response, conn } = await rawExchange(gw.port, `${head}\r\n\r\n${chunked}`);
    conn.close();
    assert.equal(response.status, 400);
  });

  test('encoded slashes and backslashes in the path are 404, never forwarded', LIMIT, async () => {
    for (const path of ['/v1/images/..%2F..%2Fadmin', '/v1/audio/x%5Cy']) {
      const res = await request(gw.base, path, { method: 'POST', body: BODY });
      assertOpenAiError(res, 404);
    }
  });

  test('deeply nested JSON is a 400, and the gateway carries on', LIMIT, async () => {
    const deep = `{"model":"m","x":${'['.repeat(100000)}${']'.repeat(100000)}}`;
    const res = await request(gw.base, '/v1/chat/completions', {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: deep,
    });
    assertOpenAiError(res, 400);
    assert.equal((await chat(gw.base)).status, 200);
  });
});
