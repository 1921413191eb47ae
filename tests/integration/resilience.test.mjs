// Resilience: priorities and weights, failover before the first byte (connect, 5xx, 429,
// first_byte), 429 back-off, the circuit breaker, streams cut after their head, and the
// last answer when every target failed.

import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import http from 'node:http';
import OpenAI from 'openai';
import { startFakeUpstream } from '../fakes/fake_upstream.mjs';
import {
  assertOpenAiError,
  chat,
  closedPort,
  gatewayConfig,
  newTestId,
  openRaw,
  openResponse,
  request,
  sseReader,
  startGateway,
} from './harness.mjs';

const LIMIT = { timeout: 30000 };

let a; // fake behind backend "a"
let b; // fake behind backend "b"
const gateways = [];

before(async () => {
  a = await startFakeUpstream();
  b = await startFakeUpstream();
});

afterEach(() => {
  for (const fake of [a, b]) for (const name of Object.keys(fake.defaults)) delete fake.defaults[name];
});

after(async () => {
  for (const gw of gateways) await gw.stop();
  await a?.close();
  await b?.close();
});

async function gateway(overrides) {
  const gw = await startGateway(gatewayConfig(overrides));
  gateways.push(gw);
  return gw;
}

/** Backends a and b (and "down", which nothing listens on), and these routes. */
async function backendsConfig(routes, extra = {}) {
  return {
    backends: [
      { name: 'a', url: a.url },
      { name: 'b', url: b.url },
      { name: 'down', url: `http://127.0.0.1:${await closedPort()}/v1` },
    ],
    routes,
    ...extra,
  };
}

/** How many requests tagged `id` each fake saw. */
function seen(id) {
  const count = (fake) => fake.requests.filter((r) => r.headers['x-test-id'] === id).length;
  return { a: count(a), b: count(b) };
}

async function metric(gw, name, labels) {
  const text = (await request(gw.adminBase, '/metrics')).text;
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line === undefined ? undefined : Number(line.split(' ').pop());
}

describe('weights and priorities', () => {
  test('smooth weighted round robin shares 1,000 requests by weight (within 5%)', LIMIT, async () => {
    const gw = await gateway(
      await backendsConfig([{ backends: [{ backend: 'a', weight: 3 }, { backend: 'b', weight: 1 }] }]),
    );
    const id = newTestId();
    const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    for (let sent = 0; sent < 1000; sent += 50) {
      const batch = [];
      for (let i = 0; i < 50; i++) batch.push(chat(gw.base, { headers: { 'x-test-id': id }, agent }));
      for (const res of await Promise.all(batch)) assert.equal(res.status, 200, res.text);
    }
    agent.destroy();
    const { a: onA, b: onB } = seen(id);
    assert.equal(onA + onB, 1000);
    assert.ok(Math.abs(onA - 750) <= 37, `a served ${onA} of 1000, expected 750 (weight 3:1)`);
  });

  test('a higher priority level is used only when the lower ones are out', LIMIT, async () => {
    const gw = await gateway(
      await backendsConfig([
        { backends: [{ backend: 'a', priority: 0 }, { backend: 'b', priority: 1 }] },
      ]),
    );
    const id = newTestId();
    for (let i = 0; i < 10; i++) {
      const res = await chat(gw.base, { headers: { 'x-test-id': id } });
      assert.equal(res.headers['x-aigw-backend'], 'a');
      assert.equal(res.headers['x-aigw-attempts'], '1');
    }
    assert.deepEqual(seen(id), { a: 10, b: 0 });
  });
});

describe('failover before the first byte', () => {
  test('a backend that refuses connections gives way to the next target', LIMIT, async () => {
    const gw = await gateway(
      await backendsConfig([{ backends: [{ backend: 'down', priority: 0 }, { backend: 'b', priority: 1 }] }]),
    );
    const id = newTestId();
    const res = await chat(gw.base, { headers: { 'x-test-id': id } });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers['x-aigw-backend'], 'b');
    assert.equal(res.headers['x-aigw-attempts'], '2');
    assert.deepEqual(seen(id), { a: 0, b: 1 });
    assert.equal(await metric(gw, 'aigw_upstream_failovers_total', 'backend="down"'), 1);
    const line = await gw.waitForAccess((e) => e.request_id === res.headers['x-aigw-request-id']);
    assert.equal(line.attempts, 2);
    assert.equal(line.backend, 'b');
  });

  test('a 5xx is held back and the next target answers, through its own model override', LIMIT, async () => {
    const gw = await gateway(
      await backendsConfig([
        {
          backends: [
            { backend: 'a', priority: 0 },
            { backend: 'b', priority: 1, model_override: 'b-model' },
          ],
        },
      ]),
    );
    a.defaults['x-fake-status'] = '503';
    const id = newTestId();
    const res = await chat(gw.base, { model: 'm', headers: { 'x-test-id': id } });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.model, 'b-model');
    assert.equal(res.headers['x-aigw-backend'], 'b');
    assert.equal(res.headers['x-aigw-attempts'], '2');
    assert.deepEqual(seen(id), { a: 1, b: 1 });
    // The same original request both times.
    const toA = a.requests.find((r) => r.headers['x-test-id'] === id);
    assert.equal(JSON.parse(toA.body).model, 'm');
  });

  test('a 429 fails over and takes the backend out of rotation for its Retry-After', LIMIT, async () => {
    const gw = await gateway(await backendsConfig([{ backends: [{ backend: 'a' }, { backend: 'b', priority: 1 }] }]));
    a.defaults['x-fake-status'] = '429';
    a.defaults['x-fake-retry-after'] = '2';
    const id = newTestId();
    const first = await chat(gw.base, { headers: { 'x-test-id': id } });
    assert.equal(first.status, 200, first.text);
    assert.equal(first.headers['x-aigw-backend'], 'b');
    delete a.defaults['x-fake-status'];
    // Backed off: the next requests skip a without a connection.
    for (let i = 0; i < 3; i++) {
      const res = await chat(gw.base, { headers: { 'x-test-id': id } });
      assert.equal(res.headers['x-aigw-backend'], 'b');
      assert.equal(res.headers['x-aigw-attempts'], '1');
    }
    assert.deepEqual(seen(id), { a: 1, b: 4 });
    assert.equal(await metric(gw, 'aigw_backend_backoffs_total', 'backend="a"'), 1);
    await delay(2100);
    const back = await chat(gw.base, { headers: { 'x-test-id': id } });
    assert.equal(back.headers['x-aigw-backend'], 'a');
  });

  test('a 429 without Retry-After backs off for 1 s; x-ratelimit-reset-requests is read too', LIMIT, async () => {
    const gw = await gateway(await backendsConfig([{ backends: [{ backend: 'a' }, { backend: 'b', priority: 1 }] }]));
    a.defaults['x-fake-status'] = '429';
    const id = newTestId();
    assert.equal((await chat(gw.base, { headers: { 'x-test-id': id } })).headers['x-aigw-backend'], 'b');
    delete a.defaults['x-fake-status'];
    assert.equal((await chat(gw.base, { headers: { 'x-test-id': id } })).headers['x-aigw-backend'], 'b');
    await delay(1100);
    assert.equal((await chat(gw.base, { headers: { 'x-test-id': id } })).headers['x-aigw-backend'], 'a');

    a.defaults['x-fake-status'] = '429';
    a.defaults['x-fake-ratelimit-reset'] = '2.5s';
    assert.equal((await chat(gw.base, { headers: { 'x-test-id': id } })).headers['x-aigw-backend'], 'b');
    delete a.defaults['x-fake-status'];
    await delay(1300);
    assert.equal((await chat(gw.base, { headers: { 'x-test-id': id } })).headers['x-aigw-backend'], 'b');
  });

  test('no response head within first_byte fails over', LIMIT, async () => {
    const config = await backendsConfig([{ backends: [{ backend: 'a' }, { backend: 'b', priority: 1 }] }]);
    config.backends[0].timeouts = { first_byte: '300ms' };
    const gw = await gateway(config);
    a.defaults['x-fake-mode'] = 'slow';
    a.defaults['x-fake-delay-ms'] = '5000';
    const res = await chat(gw.base, {});
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers['x-aigw-backend'], 'b');
  });

  test('retry.on limits what fails over: a 500 is relayed when only connect is named', LIMIT, async () => {
    const gw = await gateway(
      await backendsConfig([
        { backends: [{ backend: 'a' }, { backend: 'b', priority: 1 }], retry: { on: ['connect'] } },
      ]),
    );
    a.defaults['x-fake-status'] = '500';
    const id = newTestId();
    const res = await chat(gw.base, { headers: { 'x-test-id': id } });
    assert.equal(res.status, 500);
    assert.equal(res.json.error.code, 'fake_500');
    assert.deepEqual(seen(id), { a: 1, b: 0 });
  });

  test('retry.attempts tries one backend again after the backoff', LIMIT, async () => {
    const gw = await gateway(
      await backendsConfig([{ backend: 'a', retry: { attempts: 3, backoff: '50ms' } }], {
        circuit_breaker: 'off',
      }),
    );
    a.defaults['x-fake-status'] = '502';
    const id = newTestId();
    const res = await chat(gw.base, { headers: { 'x-test-id': id } });
    assert.equal(res.status, 502);
    assert.equal(res.headers['x-aigw-attempts'], '3');
    assert.deepEqual(seen(id), { a: 3, b: 0 });
  });
});

describe('what must not fail over', () => {
  test('a backend whose head arrived is not asked again when its body stalls', LIMIT, async () => {
    const config = await backendsConfig([{ backends: [{ backend: 'a' }, { backend: 'b', priority: 1 }] }]);
    config.backends[0].timeouts = { idle: '300ms' };
    const gw = await gateway(config);
    a.defaults['x-fake-mode'] = 'json-stall';
    const id = newTestId();
    const res = await chat(gw.base, { headers: { 'x-test-id': id } });
    assertOpenAiError(res, 504);
    assert.deepEqual(seen(id), { a: 1, b: 0 }, 'the request ran twice');
  });

  test('a held answer too large to keep is a 502, never a 200 error', LIMIT, async () => {
    const gw = await gateway(
      await backendsConfig([{ backend: 'a', retry: { attempts: 2, backoff: '10ms' } }], {
        circuit_breaker: { consecutive_failures: 1, cooldown: '1m', failure_rate: 0 },
      }),
    );
    Object.assign(a.defaults, { 'x-fake-status': '500', 'x-fake-pad': String(100 * 1024) });
    const res = await chat(gw.base, {});
    assertOpenAiError(res, 502);
    assert.equal(res.json.error.code, 'upstream_error');
  });
});

describe('the last answer', () => {
  test('every target failing: the last upstream answer, not a gateway error', LIMIT, async () => {
    const gw = await gateway(
      await backendsConfig([{ backends: [{ backend: 'a' }, { backend: 'down', priority: 1 }] }]),
    );
    a.defaults['x-fake-status'] = '429';
    a.defaults['x-fake-retry-after'] = '7';
    const res = await chat(gw.base, {});
    assert.equal(res.status, 429);
    assert.equal(res.json.error.code, 'fake_429');
    assert.equal(res.headers['retry-after'], '7');
    assert.equal(res.headers['x-aigw-backend'], 'a');
    assert.equal(res.headers['x-aigw-attempts'], '2');
  });

  test('no answer at all: a 502 in OpenAI shape with Retry-After', LIMIT, async () => {
    const config = await backendsConfig([{ backend: 'down' }]);
    const gw = await gateway(config);
    const res = await chat(gw.base, {});
    assertOpenAiError(res, 502);
    assert.equal(res.json.error.code, 'upstream_unreachable');
    assert.equal(res.headers['retry-after'], '1');
  });
});

describe('circuit breaker', () => {
  test('opens after consecutive failures, skips without connecting, half-opens and closes', LIMIT, async () => {
    const gw = await gateway(
      await backendsConfig([{ backends: [{ backend: 'a' }, { backend: 'b', priority: 1 }] }], {
        circuit_breaker: { consecutive_failures: 3, cooldown: '1s', failure_rate: 0 },
      }),
    );
    a.defaults['x-fake-status'] = '500';
    const id = newTestId();
    for (let i = 0; i < 3; i++) assert.equal((await chat(gw.base, { headers: { 'x-test-id': id } })).status, 200);
    assert.equal(await metric(gw, 'aigw_backend_circuit_state', 'backend="a"'), 1);
    const connections = a.connections;
    for (let i = 0; i < 5; i++) {
      const res = await chat(gw.base, { headers: { 'x-test-id': id } });
      assert.equal(res.headers['x-aigw-backend'], 'b');
      assert.equal(res.headers['x-aigw-attempts'], '1', 'an open backend costs no try');
    }
    assert.deepEqual(seen(id), { a: 3, b: 8 });
    assert.equal(a.connections, connections, 'the open backend was connected to');

    // After the cooldown one request probes it; it works again, so the breaker closes.
    delete a.defaults['x-fake-status'];
    await delay(1100);
    const probe = await chat(gw.base, { headers: { 'x-test-id': id } });
    assert.equal(probe.headers['x-aigw-backend'], 'a');
    assert.equal(await metric(gw, 'aigw_backend_circuit_state', 'backend="a"'), 0);
    for (const [to, n] of [['open', 1], ['half_open', 1], ['closed', 1]])
      assert.equal(await metric(gw, 'aigw_backend_circuit_transitions_total', `backend="a",to="${to}"`), n, to);
  });

  test('a probe answered with 429 closes the breaker but keeps its back-off', LIMIT, async () => {
    const gw = await gateway(
      await backendsConfig([{ backends: [{ backend: 'a' }, { backend: 'b', priority: 1 }] }], {
        circuit_breaker: { consecutive_failures: 1, cooldown: '500ms', failure_rate: 0 },
      }),
    );
    a.defaults['x-fake-status'] = '500';
    const id = newTestId();
    await chat(gw.base, { headers: { 'x-test-id': id } }); // a opens
    await delay(600);
    Object.assign(a.defaults, { 'x-fake-status': '429', 'x-fake-retry-after': '30' });
    await chat(gw.base, { headers: { 'x-test-id': id } }); // the probe: 429, Retry-After 30
    assert.equal(await metric(gw, 'aigw_backend_circuit_state', 'backend="a"'), 0);
    const after = await chat(gw.base, { headers: { 'x-test-id': id } });
    assert.equal(after.headers['x-aigw-attempts'], '1', 'the backed-off backend was tried');
    assert.deepEqual(seen(id), { a: 2, b: 3 });
  });

  test('a failed probe opens it again', LIMIT, async () => {
    const gw = await gateway(
      await backendsConfig([{ backends: [{ backend: 'a' }, { backend: 'b', priority: 1 }] }], {
        circuit_breaker: { consecutive_failures: 1, cooldown: '500ms', failure_rate: 0 },
      }),
    );
    a.defaults['x-fake-status'] = '500';
    const id = newTestId();
    await chat(gw.base, { headers: { 'x-test-id': id } });
    await delay(600);
    await chat(gw.base, { headers: { 'x-test-id': id } }); // the probe, failing
    assert.equal(await metric(gw, 'aigw_backend_circuit_state', 'backend="a"'), 1);
    await chat(gw.base, { headers: { 'x-test-id': id } });
    assert.deepEqual(seen(id), { a: 2, b: 3 });
  });

  test('a route whose every target is open still tries them (panic routing)', LIMIT, async () => {
    const gw = await gateway(
      await backendsConfig([{ backend: 'a' }], {
        circuit_breaker: { consecutive_failures: 1, cooldown: '1m', failure_rate: 0 },
      }),
    );
    a.defaults['x-fake-status'] = '500';
    assert.equal((await chat(gw.base, {})).status, 500);
    assert.equal(await metric(gw, 'aigw_backend_circuit_state', 'backend="a"'), 1);
    delete a.defaults['x-fake-status'];
    const res = await chat(gw.base, {});
    assert.equal(res.status, 200, 'the only backend was refused instead of tried');
    assert.equal(await metric(gw, 'aigw_backend_circuit_state', 'backend="a"'), 0);
  });
});

describe('streams', () => {
  function streamingClient(gw) {
    return new OpenAI({ baseURL: `${gw.base}/v1`, apiKey: 'sk-client', maxRetries: 0, timeout: 15000 });
  }

  for (const [what, header, config] of [
    ['a stalled stream (idle)', { 'x-fake-stall-after': '2' }, { idle: '400ms' }],
    ['a stream whose upstream resets', { 'x-fake-reset-after': '2' }, {}],
  ]) {
    test(`${what} ends with an SSE error event, never a clean end`, LIMIT, async () => {
      const backends = [{ name: 'a', url: a.url, timeouts: config }];
      const gw = await gateway({ backends, routes: [{ backend: 'a' }] });
      Object.assign(a.defaults, { 'x-fake-mode': 'sse', 'x-fake-chunks': '5', ...header });
      const stream = await streamingClient(gw).chat.completions.create({
        model: 'm',
        messages: [{ role: 'user', content: 'hi' }],
        stream: true,
      });
      const seenContent = [];
      await assert.rejects(
        async () => {
          for await (const chunk of stream) seenContent.push(chunk.choices[0]?.delta?.content);
        },
        (err) => {
          assert.match(String(err.message), /backend/i);
          return true;
        },
      );
      assert.deepEqual(seenContent, ['tok0', 'tok1']);
      const line = await gw.waitForAccess((e) => e.path === '/v1/chat/completions');
      assert.equal(line.complete, false);
      assert.equal(line.ended_by, 'upstream');
      assert.equal(line.error_event, true);
    });
  }
});

describe('graceful drain', () => {
  test('SIGTERM: no new connections, /readyz 503, a running stream finishes, exit 0', LIMIT, async () => {
    const gw = await startGateway(
      gatewayConfig({ backends: [{ name: 'a', url: a.url }], routes: [{ backend: 'a' }], drain_timeout: '20s' }),
    );
    const { res } = await openResponse(gw.base, '/v1/chat/completions', {
      headers: { 'x-fake-mode': 'sse-gated', 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }], stream: true }),
    });
    const events = sseReader(res);
    assert.match(await events.next(), /tok0/);

    process.kill(gw.pid, 'SIGTERM');
    await gw.waitForStderr(/draining/);
    assert.equal((await request(gw.adminBase, '/readyz')).status, 503);
    // Refused, or reset if it reached a backlog as the acceptors closed: never served.
    await assert.rejects(request(gw.base, '/healthz'), /ECONNREFUSED|ECONNRESET/);

    for (let i = 0; i < 4; i++) a.release(); // 2 more chunks, the usage chunk, [DONE]
    const rest = await events.rest();
    assert.equal(rest.at(-1), '[DONE]');
    assert.equal(await gw.exited(), 0, gw.stderr());
  });

  test('connections waiting for a next request are closed at once', LIMIT, async () => {
    const gw = await startGateway(gatewayConfig({ backends: [{ name: 'a', url: a.url }], routes: [{ backend: 'a' }] }));
    const conn = await openRaw(gw.port);
    conn.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    await conn.readUntil((text) => text.includes('"ok"'));
    const started = Date.now();
    process.kill(gw.pid, 'SIGTERM');
    const { closedByServer } = await conn.closed();
    assert.ok(closedByServer);
    assert.equal(await gw.exited(), 0, gw.stderr());
    assert.ok(Date.now() - started < 5000, 'the idle connection held the drain');
  });

  test('a response in flight says Connection: close; what outlives drain_timeout is closed', LIMIT, async () => {
    const gw = await startGateway(
      gatewayConfig({ backends: [{ name: 'a', url: a.url }], routes: [{ backend: 'a' }], drain_timeout: '500ms' }),
    );
    const slow = request(gw.base, '/v1/chat/completions', {
      headers: { 'x-fake-mode': 'slow', 'x-fake-delay-ms': '300' },
      body: { model: 'm', messages: [] },
    });
    const { res } = await openResponse(gw.base, '/v1/chat/completions', {
      headers: { 'x-fake-mode': 'sse-gated', 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }], stream: true }),
    });
    await delay(50);
    process.kill(gw.pid, 'SIGTERM');
    const answered = await slow;
    assert.equal(answered.status, 200);
    assert.equal(answered.headers.connection, 'close');
    // Cut when drain_timeout ran out: with an error event first, then a reset (a FIN would
    // read as a clean end to a client reading to EOF).
    const events = [];
    const reader = sseReader(res);
    await assert.rejects(async () => {
      for (let data; (data = await reader.next()) !== null;) events.push(data);
    });
    assert.equal(JSON.parse(events.at(-1)).error.code, 'shutting_down', events.at(-1));
    assert.equal(await gw.exited(), 0, gw.stderr());
  });
});

describe('resume: a broken stream goes on at the next target as one answer', () => {
  const resumeConfig = (backendTimeouts = {}) => ({
    backends: [
      { name: 'a', url: a.url, timeouts: backendTimeouts },
      { name: 'b', url: b.url },
    ],
    routes: [{ backends: [{ backend: 'a' }, { backend: 'b', priority: 1 }], resume: true }],
  });
  const client = (gw) => new OpenAI({ baseURL: `${gw.base}/v1`, apiKey: 'sk-client', maxRetries: 0, timeout: 15000 });

  async function streamed(gw, headers = {}) {
    const stream = await client(gw).chat.completions.create(
      { model: 'm', messages: [{ role: 'user', content: 'count' }], stream: true },
      { headers },
    );
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    return chunks;
  }

  for (const [why, breakHeader, timeouts] of [
    ['the backend resets', { 'x-fake-reset-after': '2' }, {}],
    ['the backend stalls past idle', { 'x-fake-stall-after': '2' }, { idle: '300ms' }],
    ['the backend sends an error event', { 'x-fake-error-after': '2' }, {}],
  ]) {
    test(`${why}: the official client reads one uninterrupted answer`, LIMIT, async () => {
      const gw = await gateway(resumeConfig(timeouts));
      Object.assign(a.defaults, { 'x-fake-mode': 'sse', 'x-fake-chunks': '5', ...breakHeader });
      Object.assign(b.defaults, { 'x-fake-mode': 'sse', 'x-fake-chunks': '3' });
      const id = newTestId();
      const chunks = await streamed(gw, { 'x-test-id': id });
      const text = chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('');
      assert.equal(text, 'tok0tok1' + 'tok0tok1tok2');
      assert.equal(new Set(chunks.map((c) => c.id)).size, 1, 'the continuation has its own id');
      assert.equal(chunks.filter((c) => c.choices[0]?.delta?.role).length, 1, 'a second opening delta');
      assert.equal(chunks.at(-1).choices[0].finish_reason, 'stop');

      const continuation = b.requests.find((r) => r.headers['x-test-id'] === id);
      const messages = JSON.parse(continuation.body).messages;
      assert.deepEqual(messages.slice(0, 2), [
        { role: 'user', content: 'count' },
        { role: 'assistant', content: 'tok0tok1' },
      ]);
      assert.equal(messages[2].role, 'user');
      assert.match(messages[2].content, /cut off\. Continue/);

      const line = await gw.waitForAccess((e) => e.path === '/v1/chat/completions');
      assert.equal(line.resumes, 1);
      assert.equal(line.complete, true);
      assert.equal(await metric(gw, 'aigw_stream_resumes_total', 'backend="a"'), 1);
    });
  }

  test('a tool-call stream is not resumed: it ends with the error event', LIMIT, async () => {
    const gw = await gateway(resumeConfig());
    Object.assign(a.defaults, { 'x-fake-mode': 'sse', 'x-fake-chunks': '5', 'x-fake-reset-after': '2', 'x-fake-tool-calls': '1' });
    const id = newTestId();
    await assert.rejects(streamed(gw, { 'x-test-id': id }), /backend/i);
    assert.deepEqual(seen(id), { a: 1, b: 0 });
    const line = await gw.waitForAccess((e) => e.path === '/v1/chat/completions');
    assert.equal(line.error_event, true);
    assert.equal(line.resumes, undefined);
  });

  test('with no target left, the stream ends with the error event', LIMIT, async () => {
    const gw = await gateway({ backends: [{ name: 'a', url: a.url }], routes: [{ backend: 'a', resume: true }] });
    Object.assign(a.defaults, { 'x-fake-mode': 'sse', 'x-fake-chunks': '5', 'x-fake-reset-after': '2' });
    await assert.rejects(streamed(gw), /backend/i);
  });

  test('a continuation the next adapter refuses ends the stream with the error event, not a reply', LIMIT, async () => {
    // An Azure deployment name cannot hold a space: that adapter refuses the continuation.
    const gw = await gateway({
      backends: [
        { name: 'a', url: a.url },
        { name: 'azure', url: b.origin, schema: 'azure-openai', api_version: '2024-10-21' },
      ],
      routes: [{ backends: [{ backend: 'a' }, { backend: 'azure', priority: 1 }], resume: true }],
    });
    Object.assign(a.defaults, { 'x-fake-mode': 'sse', 'x-fake-chunks': '5', 'x-fake-reset-after': '2' });
    const stream = await client(gw).chat.completions.create({
      model: 'bad name',
      messages: [{ role: 'user', content: 'count' }],
      stream: true,
    });
    const seenContent = [];
    await assert.rejects(async () => {
      for await (const chunk of stream) seenContent.push(chunk.choices[0]?.delta?.content);
    }, /backend/i);
    assert.deepEqual(seenContent, ['tok0', 'tok1']);
    const line = await gw.waitForAccess((e) => e.path === '/v1/chat/completions');
    assert.equal(line.status, 200);
    assert.equal(line.complete, false);
    assert.equal(line.error_event, true);
  });

  test('a continuation that fails too ends the stream with the error event', LIMIT, async () => {
    const gw = await gateway(resumeConfig());
    Object.assign(a.defaults, { 'x-fake-mode': 'sse', 'x-fake-chunks': '5', 'x-fake-reset-after': '2' });
    b.defaults['x-fake-status'] = '503';
    await assert.rejects(streamed(gw), /backend/i);
  });
});
