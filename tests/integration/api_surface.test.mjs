// The OpenAI API surface through the gateway: the Responses API's model rule, and an access
// log that says what really happened (bytes sent, streams cut or aborted, and by whom).

import assert from 'node:assert/strict';
import { once } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startFakeUpstream } from '../fakes/fake_upstream.mjs';
import { assertOpenAiError, gatewayConfig, newTestId, openResponse, request, sseReader, startGateway, tempDir } from './harness.mjs';

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
  test('a local error is logged with the bytes of the error body and its code', LIMIT, async () => {
    const from = gw.stderr().length;
    const res = await request(gw.base, '/no-such-path');
    assertOpenAiError(res, 404);
    const entry = await gw.waitForAccess((e) => e.path === '/no-such-path', { from });
    assert.equal(entry.status, 404);
    assert.equal(entry.bytes_out, Buffer.byteLength(res.text));
    assert.equal(entry.error, 'not_found');
    assert.equal(entry.complete, true);
    assert.equal(res.headers['x-request-id'], entry.request_id);
  });

  test('a finished stream is complete, with its usage', LIMIT, async () => {
    const from = gw.stderr().length;
    const { res } = await openResponse(gw.base, '/v1/chat/completions', {
      headers: { 'x-fake-mode': 'sse', 'x-fake-chunks': '3' },
      body: { model: 'llama3', stream: true, stream_options: { include_usage: true }, messages: [] },
    });
    await sseReader(res).rest();
    const entry = await gw.waitForAccess((e) => e.path === '/v1/chat/completions', { from });
    assert.equal(entry.status, 200);
    assert.equal(entry.complete, true);
    assert.equal(entry.output_tokens, 3);
  });

  test('a stream the client aborts is complete=false ended_by=client, usage missing', LIMIT, async () => {
    const from = gw.stderr().length;
    const { req, res } = await openResponse(gw.base, '/v1/chat/completions', {
      headers: { 'x-fake-mode': 'sse', 'x-fake-chunks': '50', 'x-fake-delay-ms': '50' },
      body: { model: 'llama3', stream: true, messages: [] },
    });
    assert.ok(await sseReader(res).next());
    req.destroy();
    const entry = await gw.waitForAccess((e) => e.path === '/v1/chat/completions', { from });
    assert.equal(entry.status, 200);
    assert.equal(entry.complete, false);
    assert.equal(entry.ended_by, 'client');
    assert.equal(entry.usage_missing, true);
  });

  test('a stream the upstream cuts is complete=false ended_by=upstream', LIMIT, async () => {
    const from = gw.stderr().length;
    const { res } = await openResponse(gw.base, '/v1/chat/completions', {
      headers: { 'x-fake-mode': 'reset' },
      body: { model: 'llama3', stream: true, messages: [] },
    });
    await sseReader(res).rest().catch(() => {});
    const entry = await gw.waitForAccess((e) => e.path === '/v1/chat/completions', { from });
    assert.equal(entry.status, 200);
    assert.equal(entry.complete, false);
    assert.equal(entry.ended_by, 'upstream');
  });

  test('access_log: PATH writes there, and SIGUSR1 reopens it (logrotate)', LIMIT, async () => {
    const dir = tempDir();
    const file = path.join(dir, 'access.log');
    const logged = await startGateway(gatewayConfig({ access_log: file, backends: [{ name: 'ollama', url: fake.url }] }));
    try {
      await request(logged.base, '/v1/models');
      const first = await waitForFile(file, (t) => t.includes('/v1/models'));
      assert.equal(JSON.parse(first.trim().split('\n')[0]).path, '/v1/models');
      fs.renameSync(file, `${file}.1`);
      process.kill(logged.pid, 'SIGUSR1');
      await logged.waitForStderr(/stats \{/);
      await request(logged.base, '/healthz');
      const second = await waitForFile(file, (t) => t.includes('/healthz'));
      assert.ok(!second.includes('/v1/models'), 'the new file starts after the rotation');
    } finally {
      await logged.stop();
    }
  });
});

/** The text of `file` once `done(text)` holds (the writer is asynchronous). */
async function waitForFile(file, done) {
  for (let i = 0; i < 200; i++) {
    const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
    if (done(text)) return text;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`${file} never had the expected line`);
}

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

  test('a JSON response says its usage in x-aigw-usage-input and -output', LIMIT, async () => {
    const res = await request(gw.base, '/v1/chat/completions', { body: { model: 'llama3', messages: [] } });
    assert.equal(res.status, 200);
    assert.equal(res.headers['x-aigw-usage-input'], '5');
    assert.equal(res.headers['x-aigw-usage-output'], '3');
    assert.equal(res.json.usage.prompt_tokens, 5, 'the body as it came');
  });

  test('response_headers: false leaves them out', LIMIT, async () => {
    const quiet = await startGateway(gatewayConfig({ response_headers: false, backends: [{ name: 'ollama', url: fake.url }] }));
    try {
      const res = await request(quiet.base, '/v1/chat/completions', { body: { model: 'llama3', messages: [] } });
      assert.equal(res.status, 200);
      assert.equal(res.headers['x-aigw-backend'], undefined);
      assert.equal(res.headers['x-aigw-route'], undefined);
      assert.equal(res.headers['x-aigw-usage-input'], undefined);
    } finally {
      await quiet.stop();
    }
  });
});

describe('usage on streams whose client did not ask for it', () => {
  const normalized = (text) => text.replace(/chatcmpl-fake-\d+/g, 'chatcmpl-fake-N');
  const streamText = async (base, headers, body) => {
    const { res } = await openResponse(base, '/v1/chat/completions', { headers, body });
    res.setEncoding('utf8');
    let text = '';
    for await (const piece of res) text += piece;
    return text;
  };

  test('is asked for upstream, counted, and taken out: the client gets the stream it asked for', LIMIT, async () => {
    const headers = { 'x-fake-mode': 'sse', 'x-fake-chunks': '4', 'x-fake-created': '1700000000' };
    const body = { model: 'llama3', stream: true, messages: [] };
    const id = newTestId();
    const from = gw.stderr().length;
    const through = await streamText(gw.base, { ...headers, 'x-test-id': id }, body);
    const direct = await streamText(fake.url.replace(/\/v1$/, ''), headers, body);
    assert.ok(!direct.includes('usage'));
    assert.equal(normalized(through), normalized(direct));
    const upstream = await fake.waitForRequest((r) => r.headers['x-test-id'] === id);
    assert.deepEqual(JSON.parse(upstream.body).stream_options, { include_usage: true });
    const entry = await gw.waitForAccess((e) => e.path === '/v1/chat/completions', { from });
    assert.equal(entry.output_tokens, 4);
    assert.equal(entry.input_tokens, 5);
  });

  test('metrics.force_stream_usage: false leaves the request as the client sent it', LIMIT, async () => {
    const plain = await startGateway(gatewayConfig({
      metrics: { force_stream_usage: false }, backends: [{ name: 'ollama', url: fake.url }],
    }));
    try {
      const id = newTestId();
      const body = { model: 'llama3', stream: true, messages: [] };
      const from = plain.stderr().length;
      await streamText(plain.base, { 'x-fake-mode': 'sse', 'x-test-id': id }, body);
      const upstream = await fake.waitForRequest((r) => r.headers['x-test-id'] === id);
      assert.deepEqual(JSON.parse(upstream.body), body);
      const entry = await plain.waitForAccess((e) => e.path === '/v1/chat/completions', { from });
      assert.equal(entry.usage_missing, true);
    } finally {
      await plain.stop();
    }
  });

  test('a client that asked for usage gets it untouched', LIMIT, async () => {
    const headers = { 'x-fake-mode': 'sse', 'x-fake-chunks': '2', 'x-fake-created': '1700000000' };
    const body = { model: 'llama3', stream: true, stream_options: { include_usage: true }, messages: [] };
    const through = await streamText(gw.base, headers, body);
    const direct = await streamText(fake.url.replace(/\/v1$/, ''), headers, body);
    assert.match(direct, /"usage":null/);
    assert.match(direct, /"choices":\[\],"usage":\{/);
    assert.equal(normalized(through), normalized(direct));
  });
});
