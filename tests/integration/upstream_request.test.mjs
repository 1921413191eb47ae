// The request the gateway sends upstream, as the fake saw it: path under the
// backend's base path, query, Host, credentials, hop-by-hop headers, body bytes.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startFakeUpstream } from '../fakes/fake_upstream.mjs';
import { gatewayConfig, newTestId, openRaw, parseResponses, rawHttp, request, startGateway } from './harness.mjs';

const LIMIT = { timeout: 20000 };
const UPSTREAM_KEY = 'sk-upstream-key-for-tests';

let fake;
let gw;

before(async () => {
  fake = await startFakeUpstream();
  gw = await startGateway(
    gatewayConfig({
      backends: [
        // Same fake, two views: one under a different base path and without a key...
        { name: 'plain', url: `${fake.origin}/openai/v1` },
        // ...one at /v1 with a key taken from the environment.
        { name: 'keyed', url: fake.url, api_key: '${TEST_KEY}' },
      ],
      routes: [
        { match: { headers: { 'aigw-backend-selector': 'keyed' } }, backend: 'keyed' },
        { backend: 'plain' },
      ],
    }),
    { env: { TEST_KEY: UPSTREAM_KEY } },
  );
});

after(async () => {
  await gw?.stop();
  await fake?.close();
});

const KEYED = { 'aigw-backend-selector': 'keyed' };

/** Sends a tagged request and returns what the fake received for it. */
async function upstreamView(pathname, { headers = {}, body } = {}) {
  const id = newTestId();
  const res = await request(gw.base, pathname, { headers: { 'x-test-id': id, ...headers }, body });
  assert.equal(res.status, 200, res.text);
  return fake.waitForRequest((r) => r.headers['x-test-id'] === id);
}

const CHAT_BODY = { model: 'llama3', messages: [{ role: 'user', content: 'hi' }] };

describe('upstream path', () => {
  test('/v1/chat/completions maps under the backend base path', LIMIT, async () => {
    const seen = await upstreamView('/v1/chat/completions', { body: CHAT_BODY });
    assert.equal(seen.path, '/openai/v1/chat/completions');
  });

  test('/v1/embeddings maps under the backend base path', LIMIT, async () => {
    const seen = await upstreamView('/v1/embeddings', { body: { model: 'llama3', input: 'x' } });
    assert.equal(seen.path, '/openai/v1/embeddings');
  });

  test('the query string is kept byte for byte', LIMIT, async () => {
    const query = '?api-version=2024-06-01&x=a%20b&empty=&flag';
    const seen = await upstreamView(`/v1/chat/completions${query}`, { body: CHAT_BODY });
    assert.equal(seen.path, `/openai/v1/chat/completions${query}`);
  });

  test('a backend at /v1 gets /v1/chat/completions', LIMIT, async () => {
    const seen = await upstreamView('/v1/chat/completions', { headers: KEYED, body: CHAT_BODY });
    assert.equal(seen.path, '/v1/chat/completions');
  });
});

describe('upstream headers', () => {
  test('Host is the backend host:port', LIMIT, async () => {
    const seen = await upstreamView('/v1/chat/completions', {
      headers: { host: 'client.example:1975' },
      body: CHAT_BODY,
    });
    assert.equal(seen.headers.host, `127.0.0.1:${fake.port}`);
  });

  test("the client's Authorization is replaced by the backend key", LIMIT, async () => {
    const seen = await upstreamView('/v1/chat/completions', {
      headers: { ...KEYED, authorization: 'Bearer sk-client' },
      body: CHAT_BODY,
    });
    // headersAsReceived joins repeats, so a forwarded duplicate would show here.
    assert.equal(seen.headers.authorization, `Bearer ${UPSTREAM_KEY}`);
  });

  test('a backend without a key gets no Authorization at all', LIMIT, async () => {
    const seen = await upstreamView('/v1/chat/completions', {
      headers: { authorization: 'Bearer sk-client' },
      body: CHAT_BODY,
    });
    assert.equal(seen.headers.authorization, undefined);
  });

  test('end-to-end headers are forwarded', LIMIT, async () => {
    const seen = await upstreamView('/v1/chat/completions', {
      headers: { 'x-keep-me': 'yes', 'openai-organization': 'org-1', 'user-agent': 'aigw-tests/1' },
      body: CHAT_BODY,
    });
    assert.equal(seen.headers['x-keep-me'], 'yes');
    assert.equal(seen.headers['openai-organization'], 'org-1');
    assert.equal(seen.headers['user-agent'], 'aigw-tests/1');
  });

  test('hop-by-hop headers, and those the Connection header names, are not forwarded', LIMIT, async () => {
    // Raw, because node:http manages Connection/TE/Upgrade itself. Upgrade
    // without "upgrade" in Connection is not an upgrade request and must be
    // ignored (RFC 9110 7.8), so the exchange stays a plain POST.
    const id = newTestId();
    const body = JSON.stringify(CHAT_BODY);
    const conn = await openRaw(gw.port);
    await conn.write(
      rawHttp('POST /v1/chat/completions HTTP/1.1', [
        'Host: gateway.test',
        'Content-Type: application/json',
        `Content-Length: ${Buffer.byteLength(body)}`,
        `X-Test-Id: ${id}`,
        'Connection: keep-alive, X-Drop-Me',
        'Keep-Alive: timeout=5',
        'TE: trailers',
        'Upgrade: websocket',
        'Proxy-Connection: keep-alive',
        'X-Drop-Me: secret-hop-value',
        'X-Keep-Me: yes',
      ], body),
    );
    await conn.readUntil((t) => parseResponses(t).some((r) => r.status === 200 && r.complete));
    conn.close();

    const seen = await fake.waitForRequest((r) => r.headers['x-test-id'] === id);
    for (const name of ['keep-alive', 'te', 'upgrade', 'proxy-connection', 'x-drop-me']) {
      assert.equal(seen.headers[name], undefined, `${name} was forwarded: ${seen.headers[name]}`);
    }
    // The gateway sets its own Connection; whatever it is, the client's options must not leak into it.
    assert.doesNotMatch(seen.headers.connection ?? '', /x-drop-me/i);
    assert.equal(seen.headers['x-keep-me'], 'yes');
  });
});

describe('upstream body', () => {
  test('arrives byte-identical, whitespace, escapes and UTF-8 included', LIMIT, async () => {
    const body =
      '{ "model" : "llama3",\n  "messages": [ {"role":"user","content":"h\\u00e9llo \u00e9 \u{1F600} \\"q\\" \\n"} ],' +
      '\t"temperature": 0.50 , "extra": {"nested": [1, 2.0, null, true]} }\n';
    const seen = await upstreamView('/v1/chat/completions', {
      headers: { 'content-type': 'application/json' },
      body,
    });
    assert.ok(seen.rawBody.equals(Buffer.from(body, 'utf8')), `body changed:\n${seen.body}`);
  });

  test('a large body (several reads) arrives byte-identical', LIMIT, async () => {
    const content = 'x'.repeat(300 * 1024);
    const body = JSON.stringify({ model: 'llama3', messages: [{ role: 'user', content }] });
    const seen = await upstreamView('/v1/chat/completions', { headers: { 'content-type': 'application/json' }, body });
    assert.equal(seen.rawBody.length, Buffer.byteLength(body));
    assert.ok(seen.rawBody.equals(Buffer.from(body)));
  });
});
