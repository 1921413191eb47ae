// The admin listener and its /metrics: after a known mix of requests (JSON, streams with and
// without usage, an aborted stream, an upstream error, a local error), the exposition is
// parsed and checked for names, labels, bucket bounds and exact sums.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startFakeUpstream } from '../fakes/fake_upstream.mjs';
import { gatewayConfig, openResponse, request, sseReader, startGateway } from './harness.mjs';

const LIMIT = { timeout: 30000 };

let fake;
let gw;

/**
 * Prometheus text format 0.0.4: samples as { name, labels, value }, and TYPE lines by family.
 * Throws on a line that is not a comment, a blank, or a well-formed sample.
 */
function parsePrometheus(text) {
  const samples = [];
  const types = {};
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('#')) {
      const type = /^# TYPE (\S+) (counter|gauge|histogram|summary|untyped)$/.exec(line);
      if (type) types[type[1]] = type[2];
      else assert.match(line, /^# HELP \S+ .+$/, `a comment line: ${line}`);
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `not a sample line: ${line}`);
    const labels = {};
    const labelRe = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/gy;
    let l;
    while ((l = labelRe.exec(m[2] ?? '')) !== null) labels[l[1]] = l[2].replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c));
    const value = Number(m[3] === '+Inf' ? Infinity : m[3]);
    assert.ok(!Number.isNaN(value), `a numeric value: ${line}`);
    samples.push({ name: m[1], labels, value });
  }
  return { samples, types };
}

/** The samples named `name` whose labels include all of `match`. */
const find = (parsed, name, match = {}) =>
  parsed.samples.filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v));
const value = (parsed, name, match) => find(parsed, name, match).reduce((sum, s) => sum + s.value, 0);

before(async () => {
  fake = await startFakeUpstream();
  gw = await startGateway(gatewayConfig({
    backends: [{ name: 'ollama', url: fake.url, api_key: 'sk-secret-backend' }],
    routes: [{ match: { model: 'llama3' }, backend: 'ollama', model_override: 'llama3:8b' }, { backend: 'ollama' }],
    prices: { 'llama3*': { input: 1, cached_input: 0.5, output: 2 }, '*': { input: 100, output: 100 } },
  }));
});

after(async () => {
  await gw?.stop();
  await fake?.close();
});

const chatBody = (extra = {}) => ({ model: 'llama3', messages: [{ role: 'user', content: 'hi' }], ...extra });

describe('/metrics after a known mix of requests', () => {
  let parsed;
  const chat = { gen_ai_operation_name: 'chat', gen_ai_provider_name: 'openai', gen_ai_original_model: 'llama3', gen_ai_request_model: 'llama3:8b' };

  before(async () => {
    for (let i = 0; i < 3; i++) assert.equal((await request(gw.base, '/v1/chat/completions', { body: chatBody() })).status, 200);
    for (let i = 0; i < 2; i++) {
      const { res } = await openResponse(gw.base, '/v1/chat/completions', {
        headers: { 'x-fake-mode': 'sse', 'x-fake-chunks': '4' },
        body: chatBody({ stream: true, stream_options: { include_usage: true } }),
      });
      await sseReader(res).rest();
    }
    {  // a stream that reports no usage (a backend that ignores include_usage)
      const { res } = await openResponse(gw.base, '/v1/chat/completions', {
        headers: { 'x-fake-mode': 'sse', 'x-fake-no-usage': '1' }, body: chatBody({ stream: true }),
      });
      await sseReader(res).rest();
    }
    {  // a stream the client aborts before its usage
      const { req, res } = await openResponse(gw.base, '/v1/chat/completions', {
        headers: { 'x-fake-mode': 'sse', 'x-fake-chunks': '50', 'x-fake-delay-ms': '20' },
        body: chatBody({ stream: true, stream_options: { include_usage: true } }),
      });
      await sseReader(res).next();
      req.destroy();
      await gw.waitForAccess((e) => e.complete === false && e.ended_by === 'client');
    }
    assert.equal((await request(gw.base, '/v1/embeddings', { body: { model: 'llama3', input: 'x' } })).status, 200);
    assert.equal((await request(gw.base, '/v1/chat/completions', { headers: { 'x-fake-status': '500' }, body: chatBody() })).status, 500);
    assert.equal((await request(gw.base, '/nope')).status, 404);
    const res = await fetch(`${gw.adminBase}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
    parsed = parsePrometheus(await res.text());
  });

  test('token usage: exact sums and counts by token type', LIMIT, () => {
    const ok = { ...chat, error_type: undefined };
    const tokens = (type) => find(parsed, 'gen_ai_client_token_usage_sum', { ...chat, gen_ai_token_type: type })
      .filter((s) => s.labels.error_type === ok.error_type);
    const sum = (type) => tokens(type).reduce((a, s) => a + s.value, 0);
    assert.equal(sum('input'), 3 * 5 + 2 * 5);
    assert.equal(sum('output'), 3 * 3 + 2 * 4);
    assert.equal(sum('cached_input'), 2 * 2);  // only the streams report cached tokens
    assert.equal(value(parsed, 'gen_ai_client_token_usage_count', { ...chat, gen_ai_token_type: 'input' }), 5);
    assert.equal(value(parsed, 'gen_ai_client_token_usage_sum', { gen_ai_operation_name: 'embeddings', gen_ai_token_type: 'input' }), 4);
    assert.equal(parsed.types.gen_ai_client_token_usage, 'histogram');
  });

  test('bucket bounds are the GenAI conventions\', cumulative, ending at +Inf', LIMIT, () => {
    const buckets = find(parsed, 'gen_ai_client_token_usage_bucket', { ...chat, gen_ai_token_type: 'input' })
      .filter((s) => s.labels.error_type === undefined);
    const bounds = buckets.map((b) => (b.labels.le === '+Inf' ? Infinity : Number(b.labels.le)));
    assert.deepEqual(bounds, [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864, Infinity]);
    assert.deepEqual(buckets.map((b) => b.value), [0, 0, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5]);
    const duration = find(parsed, 'gen_ai_server_request_duration_bucket', chat).map((b) => b.labels.le);
    assert.equal(duration[0], '0.01');
    assert.equal(Number(duration.at(-2)), 81.92);
    const ttft = find(parsed, 'gen_ai_server_time_to_first_token_bucket', chat).map((b) => b.labels.le);
    assert.equal(Number(ttft[0]), 0.001);
    assert.equal(Number(ttft.at(-2)), 60);
  });

  test('request durations, time to first token, errors by type', LIMIT, () => {
    const okChat = find(parsed, 'gen_ai_server_request_duration_count', chat).filter((s) => s.labels.error_type === undefined);
    assert.equal(okChat.reduce((a, s) => a + s.value, 0), 6);  // 3 JSON, 3 finished streams
    assert.equal(value(parsed, 'gen_ai_server_request_duration_count', { ...chat, error_type: 'incomplete' }), 1);
    assert.equal(value(parsed, 'gen_ai_server_request_duration_count', { ...chat, error_type: '500' }), 1);
    const ttft = find(parsed, 'gen_ai_server_time_to_first_token_count', chat).filter((s) => s.labels.error_type === undefined);
    assert.equal(ttft.reduce((a, s) => a + s.value, 0), 3);
    assert.equal(value(parsed, 'gen_ai_server_time_per_output_token_count', chat), 2);
  });

  test('cost by the first matching price, with cached input at its own price', LIMIT, () => {
    // JSON: 3 × (5 in + 3 out × 2); streams: 2 × (3 in + 2 cached × 0.5 + 4 out × 2); embeddings: 4 in.
    const usd = value(parsed, 'aigw_cost_usd_total', { route: '0', backend: 'ollama', model: 'llama3:8b' });
    assert.ok(Math.abs(usd - (3 * 11 + 2 * 12 + 4) / 1e6) < 1e-12, `cost ${usd}`);
    assert.equal(parsed.types.aigw_cost_usd_total, 'counter');
  });

  test('usage missing is counted, never as zero tokens', LIMIT, () => {
    assert.equal(value(parsed, 'aigw_usage_missing_total', { backend: 'ollama' }), 2);  // no usage sent; aborted
  });

  test('gateway counters: requests by route and backend, local errors, connects, build', LIMIT, () => {
    assert.equal(value(parsed, 'aigw_backend_requests_total', { backend: 'ollama', status_class: '2xx' }), 8);
    assert.equal(value(parsed, 'aigw_backend_requests_total', { backend: 'ollama', status_class: '5xx' }), 1);
    assert.equal(value(parsed, 'aigw_route_requests_total', { route: 'local', status_class: '4xx' }), 1);
    assert.equal(value(parsed, 'aigw_local_errors_total', { code: 'not_found' }), 1);
    assert.ok(value(parsed, 'aigw_upstream_connects_total', { backend: 'ollama' }) >= 1);
    assert.equal(find(parsed, 'aigw_build_info').length, 1);
    assert.equal(value(parsed, 'aigw_active_requests'), 0);
  });
});

describe('the admin listener', () => {
  test('healthz, readyz, and the config with its secrets redacted', LIMIT, async () => {
    assert.equal((await fetch(`${gw.adminBase}/healthz`)).status, 200);
    const ready = await fetch(`${gw.adminBase}/readyz`);
    assert.equal(ready.status, 200);
    const config = await (await fetch(`${gw.adminBase}/config`)).text();
    assert.match(config, /name: ollama/);
    assert.ok(!config.includes('sk-secret-backend'), 'the backend key is not shown');
    assert.equal((await fetch(`${gw.adminBase}/nope`)).status, 404);
    assert.equal((await fetch(`${gw.adminBase}/metrics`, { method: 'POST' })).status, 405);
  });

  test('it is never the data port: /metrics there is routed, not answered', LIMIT, async () => {
    const res = await request(gw.base, '/metrics');
    assert.equal(res.status, 404);
  });

  test('admin: off turns it off', LIMIT, async () => {
    const off = await startGateway(gatewayConfig({ admin: 'off', backends: [{ name: 'ollama', url: fake.url }] }));
    try {
      assert.equal(off.adminBase, null);
      assert.doesNotMatch(off.stderr(), /admin on/);
    } finally {
      await off.stop();
    }
  });
});
