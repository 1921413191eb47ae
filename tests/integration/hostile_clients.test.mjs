// A hostile client with a key (issue 23): budgets and allow-lists it must not walk around.
// Each test is a probe that got through before its fix:
//   1. output limits: the largest one is reserved; malformed ones are a 400
//   2. a stream the client leaves before its usage is charged at least what it relayed
//   3. the allow-list holds the model each backend is sent (a header-picked route with a
//      model override, Realtime's query)
//   5. a translated body costs a bounded multiple of its size, and gives it back
//   6. a body the gateway cannot read for a model, and fields a backend reads otherwise
//      than the gateway (case variants, duplicates, non-booleans)

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { startFakeUpstream } from '../fakes/fake_upstream.mjs';
import { jsonResponse, startRawUpstream } from '../fakes/raw_upstream.mjs';
import { assertOpenAiError, gatewayConfig, openResponse, rawExchange, request, startGateway } from './harness.mjs';

const LIMIT = { timeout: 30000 };
const sha256 = (key) => crypto.createHash('sha256').update(key).digest('hex');

const KEYS = {
  limited: 'sk-limited-0123456789',   // llama3 only
  budget: 'sk-budget-0123456789',     // 20,000 tokens a day
  streams: 'sk-streams-0123456789',   // 3,000 tokens a day
};

let fake;
let big;
let gw;

before(async () => {
  fake = await startFakeUpstream();
  big = await startFakeUpstream();
  gw = await startGateway(gatewayConfig({
    clients: [
      { name: 'limited', key_sha256: sha256(KEYS.limited), models: ['llama3'] },
      { name: 'budget', key_sha256: sha256(KEYS.budget), limits: { tokens_per_day: 20000, default_output: 10 } },
      { name: 'streams', key_sha256: sha256(KEYS.streams), limits: { tokens_per_day: 3000, default_output: 10 } },
    ],
    backends: [
      { name: 'fake', url: fake.url, api_key: 'sk-backend' },
      { name: 'big', url: big.url, api_key: 'sk-big' },
    ],
    routes: [
      { match: { headers: { 'x-tier': 'premium' } }, backend: 'big', model_override: 'big-70b' },
      { backend: 'fake' },
    ],
  }));
});

after(async () => {
  await gw?.stop();
  await fake?.close();
  await big?.close();
});

const post = (key, body, { headers = {}, path = '/v1/chat/completions' } = {}) =>
  request(gw.base, path, { headers: { authorization: `Bearer ${key}`, ...headers }, body });
const chatBody = (extra = {}) => ({ model: 'llama3', messages: [{ role: 'user', content: 'hi' }], ...extra });

// Asserts a 400 whose message names `field`, and that no backend saw the request.
async function assertRefused(res, field, seenBefore) {
  const error = assertOpenAiError(res, 400);
  assert.equal(error.code, 'invalid_value');
  assert.match(error.message, new RegExp(field));
  assert.equal(fake.requests.length + big.requests.length, seenBefore, 'forwarded all the same');
}
const seen = () => fake.requests.length + big.requests.length;

describe('1. output limits', () => {
  test('max_completion_tokens 20000 with max_tokens 1 reserves 20000: over a 20,000 budget alone', LIMIT, async () => {
    const before = seen();
    const res = await post(KEYS.budget, chatBody({ max_completion_tokens: 20000, max_tokens: 1 }));
    assertOpenAiError(res, 429);
    assert.match(res.json.error.message, /this request alone is over the budget/);
    assert.equal(seen(), before);
  });

  test('an output limit that is not a whole number from 1 to 2^24 is a 400, nothing forwarded', LIMIT, async () => {
    for (const value of [-1, 0, 1e30, 20000.5, '20000', [1], 16777217]) {
      for (const field of ['max_tokens', 'max_completion_tokens', 'max_output_tokens']) {
        const before = seen();
        await assertRefused(await post(KEYS.budget, chatBody({ [field]: value })), field, before);
      }
    }
    // Numbers past 64 bits, and a decimal point, which JSON.stringify would not write.
    for (const text of ['18446744073709551616', '20000.0']) {
      const before = seen();
      const res = await request(gw.base, '/v1/chat/completions', {
        method: 'POST',
        headers: { authorization: `Bearer ${KEYS.budget}`, 'content-type': 'application/json' },
        body: `{"model":"llama3","messages":[],"max_tokens":${text}}`,
      });
      await assertRefused(res, 'max_tokens', before);
    }
    // null is the API's "absent".
    assert.equal((await post(KEYS.budget, chatBody({ max_tokens: null }))).status, 200);
  });

  test("Anthropic's max_tokens follows the same rule, in Anthropic's error shape", LIMIT, async () => {
    const res = await post(KEYS.budget, { model: 'llama3', max_tokens: -5, messages: [] }, { path: '/v1/messages' });
    assert.equal(res.status, 400);
    assert.equal(res.json.type, 'error');
    assert.match(res.json.error.message, /max_tokens/);
  });
});

describe('2. a stream the client leaves before its usage', () => {
  test('is charged at least one token per relayed event, not the 10 it reserved', LIMIT, async () => {
    // 2,000 events, then the backend waits before its usage chunk; the client leaves at
    // finish_reason.
    const { status, text } = await new Promise((resolve, reject) => {
      const req = http.request(new URL('/v1/chat/completions', gw.base), {
        method: 'POST',
        headers: { authorization: `Bearer ${KEYS.streams}`, 'content-type': 'application/json',
                   'x-fake-mode': 'sse', 'x-fake-chunks': '2000', 'x-fake-stall-after': '2000' },
      }, (res) => {
        let text = '';
        res.on('data', (chunk) => {
          text += chunk;
          if (text.includes('"finish_reason":"stop"')) {
            req.destroy();
            resolve({ status: res.statusCode, text });
          }
        });
        res.on('error', () => {});
      });
      req.on('error', () => {});
      req.end(JSON.stringify(chatBody({ stream: true })));
      setTimeout(() => reject(new Error('no finish_reason')), 20000).unref();
    });
    assert.equal(status, 200);
    assert.ok(!text.includes('"usage":{'), 'the usage arrived before the client left');
    const entry = await gw.waitForAccess((e) => e.client === 'streams' && e.status === 200);
    assert.equal(entry.complete, false);
    // 2,000 tokens charged of 3,000: a request that reserves 1,500 more no longer fits.
    const res = await post(KEYS.streams, chatBody({ max_tokens: 1500 }));
    assertOpenAiError(res, 429);
    const remaining = Number(res.headers['x-ratelimit-remaining-tokens']);
    assert.ok(remaining <= 1000, `remaining ${remaining}`);
  });
});

describe('3. the allow-list holds the model each backend is sent', () => {
  test('a header that picks a route with a model override cannot reach a model outside the list', LIMIT, async () => {
    const before = seen();
    const res = await post(KEYS.limited, chatBody(), { headers: { 'x-tier': 'premium' } });
    const error = assertOpenAiError(res, 403);
    assert.equal(error.code, 'model_not_allowed');
    assert.match(error.message, /"big-70b" \(the model this route sends "llama3" to\)/);
    assert.equal(seen(), before);
    assert.equal((await post(KEYS.limited, chatBody())).status, 200);  // its own route
  });

  test('Realtime: the query model is checked after routing; one model parameter and no ";"', LIMIT, async () => {
    const upgrade = async (query, extra = []) => {
      const { conn, response } = await rawExchange(gw.port, [
        `GET /v1/realtime${query} HTTP/1.1`, 'Host: x', `Authorization: Bearer ${KEYS.limited}`,
        'Connection: Upgrade', 'Upgrade: websocket', 'Sec-WebSocket-Version: 13',
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==', ...extra, '', ''].join('\r\n'));
      conn.close();
      return response;
    };
    const before = seen();
    const routed = await upgrade('?model=llama3', ['x-tier: premium']);
    assert.equal(routed.status, 403);
    assert.match(routed.body, /big-70b/);
    for (const query of ['?model=llama3&model=big-70b', '?model=llama3&mod%65l=big-70b',
                         '?model=llama3;model=big-70b', '?voice=x;model=big-70b&model=llama3']) {
      const res = await upgrade(query);
      assert.equal(res.status, 400, query);
      assert.match(res.body, /one \\"model\\"/, query);
    }
    assert.equal((await upgrade('?model=big-70b')).status, 403);
    assert.equal(seen(), before);
  });
});

describe('5. a translated body costs a bounded multiple of its size', () => {
  const rssKib = (pid) => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
  const messages = (block, mib) => {
    const blocks = [];
    for (let size = 0; size < mib * 1048576; size += JSON.stringify(block).length + 1) blocks.push(block);
    return JSON.stringify({ model: 'm', max_tokens: 10, stream: true, messages: [{ role: 'user', content: blocks }] });
  };

  test('a body of tiny values is a 413 instead of a DOM 25 times its size; the memory is given back', LIMIT, async () => {
    const one = await startGateway(gatewayConfig({ workers: 1, limits: { max_request_body: '16MiB' },
      backends: [{ name: 'fake', url: fake.url }], routes: [{ backend: 'fake' }] }));
    try {
      const send = (body) => request(one.base, '/v1/messages', {
        method: 'POST', headers: { 'content-type': 'application/json', 'x-fake-mode': 'sse' }, body });
      const text = messages({ type: 'text', text: 'lorem ipsum '.repeat(400) }, 6);
      const tiny = messages({ type: 'text', text: 'a' }, 6);
      assert.equal((await send(text)).status, 200);  // warms the worker up
      const before = rssKib(one.pid);
      const refused = await send(tiny);
      assert.equal(refused.status, 413);
      assert.equal(refused.json.error.type, 'request_too_large');
      assert.match(refused.json.error.message, /translating this body would take more memory/);
      assert.equal((await send(text)).status, 200);
      // Before: the DOM's pieces stayed in the heap (700 MiB kept after one 30 MiB body).
      const grew = (rssKib(one.pid) - before) / 1024;
      if (process.env.AIGW_SANITIZED !== '1') assert.ok(grew < 12, `RSS grew ${grew.toFixed(1)} MiB`);
    } finally {
      await one.stop();
    }
  });
});

describe('6. what the backend reads is what the gateway checked', () => {
  test('a body that is not JSON is refused for a client held to some models, whatever x-ai-eg-model says', LIMIT, async () => {
    const before = seen();
    for (const type of ['application/octet-stream', 'image/png', 'multipart/form-data; boundary=x']) {
      const res = await request(gw.base, '/v1/audio/transcriptions', {
        method: 'POST',
        headers: { authorization: `Bearer ${KEYS.limited}`, 'content-type': type, 'x-ai-eg-model': 'llama3' },
        body: '--x\r\nContent-Disposition: form-data; name="model"\r\n\r\nbig-70b\r\n--x--\r\n',
      });
      const error = assertOpenAiError(res, 403);
      assert.match(error.message, /names no model the gateway can read/, type);
    }
    // A JSON body without a model, the header naming one: the backend would use its own.
    const none = await post(KEYS.limited, { messages: [] }, { headers: { 'x-ai-eg-model': 'llama3' } });
    assertOpenAiError(none, 403);
    assert.equal(seen(), before);
  });

  test('a case variant or a second copy of a field the gateway reads is a 400', LIMIT, async () => {
    const raw = (text) => request(gw.base, '/v1/chat/completions', {
      method: 'POST', headers: { authorization: `Bearer ${KEYS.limited}`, 'content-type': 'application/json' }, body: text });
    const cases = [
      ['{"model":"llama3","Model":"big-70b","messages":[]}', 'Model'],
      ['{"MODEL":"big-70b","messages":[]}', 'MODEL'],
      ['{"model":"llama3","stream":false,"Stream":true,"messages":[]}', 'Stream'],
      ['{"model":"llama3","max_tokens":1,"max_tokens":20000}', 'max_tokens'],
    ];
    for (const [text, field] of cases) {
      const before = seen();
      await assertRefused(await raw(text), field, before);
    }
  });

  test('stream and include_usage must be booleans; forced usage replaces a null, never adds a key', LIMIT, async () => {
    for (const extra of [{ stream: 'true' }, { stream: 1 }, { stream: true, stream_options: { include_usage: 0 } },
                         { stream: true, stream_options: 'yes' }]) {
      const before = seen();
      const field = 'stream' in extra && typeof extra.stream !== 'boolean' ? 'stream' : 'stream_options|include_usage';
      await assertRefused(await post(KEYS.limited, chatBody(extra)), field, before);
    }
    const res = await post(KEYS.limited, chatBody({ stream: true, stream_options: null }), { headers: { 'x-fake-mode': 'sse' } });
    assert.equal(res.status, 200);
    const sent = fake.requests.at(-1).body;
    assert.equal(sent.match(/stream_options/g).length, 1, sent);
    assert.deepEqual(JSON.parse(sent).stream_options, { include_usage: true });
    assert.ok(!res.text.includes('"usage"'), 'the forced usage reached the client');
  });
});

describe('7. the smaller ones', () => {
  test('a resumable stream counts what its stage may hold (2 MiB) against the process budget', LIMIT, async () => {
    const resuming = await startGateway(gatewayConfig({
      limits: { max_request_body: '4MiB', max_request_headers: '8KiB', max_buffered_request_bytes: '3MiB' },
      backends: [{ name: 'fake', url: fake.url }], routes: [{ backend: 'fake', resume: true }] }));
    try {
      const upload = () => request(resuming.base, '/v1/embeddings', {
        body: { model: 'm', input: 'x'.repeat(1536 * 1024) } });
      assert.equal((await upload()).status, 200);
      // A stream that stays open (the backend stalls after its first event).
      const { req, res } = await openResponse(resuming.base, '/v1/chat/completions', {
        headers: { 'x-fake-mode': 'sse', 'x-fake-stall-after': '1' },
        body: { model: 'm', stream: true, messages: [{ role: 'user', content: 'hi' }] } });
      assert.equal(res.statusCode, 200);
      const busy = await upload();
      assertOpenAiError(busy, 503);
      assert.equal(busy.json.error.code, 'overloaded');
      req.destroy();
      await resuming.waitForAccess((e) => e.path === '/v1/chat/completions');
      assert.equal((await upload()).status, 200);  // given back when the stream ended
    } finally {
      await resuming.stop();
    }
  });

  test('an answer that cannot be translated is a 502 in the client\'s shape, not a 200 with an error body', LIMIT, async () => {
    const backend = await startRawUpstream((request, socket) => {
      socket.write(jsonResponse({ not: 'a chat completion' }));
    });
    const translated = await startGateway(gatewayConfig({
      backends: [{ name: 'odd', url: `http://127.0.0.1:${backend.port}/v1` }], routes: [{ backend: 'odd' }] }));
    try {
      const res = await request(translated.base, '/v1/messages', {
        body: { model: 'm', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] } });
      assert.equal(res.status, 502);
      assert.equal(res.json.type, 'error');
      assert.match(res.json.error.message, /could not be translated/);
    } finally {
      await translated.stop();
      await backend.close();
    }
  });

  test("/v1/models lists the models the caller may use, and /v1/models/{id} hides the others", LIMIT, async () => {
    const listing = await startGateway(gatewayConfig({
      clients: [{ name: 'limited', key_sha256: sha256(KEYS.limited), models: ['llama3'] },
                { name: 'open', key_sha256: sha256(KEYS.budget) }],
      backends: [{ name: 'fake', url: fake.url }],
      routes: [{ match: { model: 'llama3' }, backend: 'fake' }, { match: { model: 'big-70b' }, backend: 'fake' }, { backend: 'fake' }],
    }));
    try {
      const get = (key, path) => request(listing.base, path, { headers: { authorization: `Bearer ${key}` } });
      const ids = (res) => res.json.data.map((m) => m.id).sort();
      assert.deepEqual(ids(await get(KEYS.limited, '/v1/models')), ['llama3']);
      assert.deepEqual(ids(await get(KEYS.budget, '/v1/models')), ['big-70b', 'llama3']);
      assert.equal((await get(KEYS.limited, '/v1/models/llama3')).status, 200);
      assertOpenAiError(await get(KEYS.limited, '/v1/models/big-70b'), 404);
      assert.equal((await get(KEYS.budget, '/v1/models/big-70b')).status, 200);
    } finally {
      await listing.stop();
    }
  });
});
