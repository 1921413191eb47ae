// Client keys and budgets (`clients:`): a key identifies its client (Authorization: Bearer,
// x-api-key or api-key), held by the gateway only as its SHA-256; unknown keys get 401, a
// model outside the client's allow-list 403, a spent budget 429 with OpenAI's rate-limit
// headers. Tokens are reserved at admission and the real usage charged at the end. A keys
// file is read again on reload. The key never appears in logs or metrics.

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { startFakeUpstream } from '../fakes/fake_upstream.mjs';
import { assertOpenAiError, awayFromMinuteEdge, gatewayConfig, request, runCli, startGateway, writeTempFile } from './harness.mjs';

const LIMIT = { timeout: 30000 };
const sha256 = (key) => crypto.createHash('sha256').update(key).digest('hex');

const KEYS = { alice: 'sk-alice-0123456789', bob: 'sk-bob-0123456789', carol: 'sk-carol-0123456789' };

let fake;
let gw;

before(async () => {
  fake = await startFakeUpstream();
  gw = await startGateway(gatewayConfig({
    clients: [
      { name: 'alice', key_sha256: sha256(KEYS.alice), models: ['gpt-4o*', 'llama3'], labels: { team: 'search' } },
      { name: 'bob', key_sha256: sha256(KEYS.bob), limits: { requests_per_minute: 3 } },
      // Each request here reserves its body / 4 + max_tokens (10), and is charged the 8
      // tokens the fake reports (5 prompt + 3 completion).
      { name: 'carol', key_sha256: sha256(KEYS.carol), limits: { tokens_per_minute: 100, tokens: 'total', default_output: 50 } },
    ],
    backends: [{ name: 'fake', url: fake.url, api_key: 'sk-backend' }],
    routes: [{ backend: 'fake' }],
  }));
});

after(async () => {
  await gw?.stop();
  await fake?.close();
});

const chatAs = (key, { model = 'llama3', headers = {}, extra = {}, agent } = {}) =>
  request(gw.base, '/v1/chat/completions', {
    headers: key === undefined ? headers : { authorization: `Bearer ${key}`, ...headers },
    body: { model, messages: [{ role: 'user', content: 'hi' }], ...extra },
    agent,
  });

describe('client keys', () => {
  test('a known key, in any of the three headers, gets through; the backend gets its own key', LIMIT, async () => {
    assert.equal((await chatAs(KEYS.alice)).status, 200);
    assert.equal(fake.requests.at(-1).headers.authorization, 'Bearer sk-backend');
    for (const header of ['x-api-key', 'api-key']) {
      const res = await request(gw.base, '/v1/chat/completions', {
        headers: { [header]: KEYS.alice }, body: { model: 'llama3', messages: [{ role: 'user', content: 'hi' }] } });
      assert.equal(res.status, 200, header);
    }
  });

  test('no key or an unknown one: 401 in the caller\'s shape, before the body is read; only /healthz is open', LIMIT, async () => {
    const messages = await request(gw.base, '/v1/messages', { headers: { 'x-api-key': 'sk-nobody' }, body: { model: 'm' } });
    assert.equal(messages.status, 401);
    assert.equal(messages.json.type, 'error');  // Anthropic's shape on its path
    assert.equal(messages.headers.connection, 'close');  // the body was never read
    for (const key of [undefined, 'sk-nobody', '']) {
      const res = await chatAs(key);
      assertOpenAiError(res, 401);
      assert.equal(res.json.error.code, 'invalid_api_key');
    }
    assert.equal((await request(gw.base, '/v1/models')).status, 401);
    assert.equal((await request(gw.base, '/v1/models', { headers: { authorization: `Bearer ${KEYS.alice}` } })).status, 200);
    assert.equal((await request(gw.base, '/healthz')).status, 200);
  });

  test("a model outside the client's allow-list: 403; so is a request that names none", LIMIT, async () => {
    assert.equal((await chatAs(KEYS.alice, { model: 'gpt-4o-mini' })).status, 200);
    const res = await chatAs(KEYS.alice, { model: 'o3' });
    assertOpenAiError(res, 403);
    assert.equal(res.json.error.code, 'model_not_allowed');
    assert.match(res.json.error.message, /"o3"/);
    const batch = await request(gw.base, '/v1/batches', {
      headers: { authorization: `Bearer ${KEYS.alice}` }, body: { input_file_id: 'file-1', endpoint: '/v1/chat/completions' } });
    assertOpenAiError(batch, 403);
    assert.match(batch.json.error.message, /names no model/);
    // A client without a model list may (carol: a token budget, which a batch request does
    // not spend), but only over files of its own: an id without its tag is nobody's.
    const open = await request(gw.base, '/v1/batches', {
      headers: { authorization: `Bearer ${KEYS.carol}` }, body: { endpoint: '/v1/chat/completions' } });
    assert.equal(open.status, 200);
    const raw = await request(gw.base, '/v1/batches', {
      headers: { authorization: `Bearer ${KEYS.carol}` }, body: { input_file_id: 'file-1', endpoint: '/v1/chat/completions' } });
    assertOpenAiError(raw, 404);
  });

  test("requests per minute: the fourth is a 429 with OpenAI's headers", LIMIT, async () => {
    await awayFromMinuteEdge();
    for (let i = 0; i < 3; i++) assert.equal((await chatAs(KEYS.bob)).status, 200);
    const res = await chatAs(KEYS.bob);
    assertOpenAiError(res, 429);
    assert.equal(res.json.error.code, 'rate_limit_exceeded');
    assert.equal(res.headers['x-ratelimit-limit-requests'], '3');
    assert.equal(res.headers['x-ratelimit-remaining-requests'], '0');
    assert.match(res.headers['x-ratelimit-reset-requests'], /^\d+s$/);
    const retry = Number(res.headers['retry-after']);
    assert.ok(retry >= 1 && retry <= 60, `Retry-After ${retry}`);
  });

  test('tokens per minute: the real usage is charged, not the reservation', LIMIT, async () => {
    await awayFromMinuteEdge();
    // One connection: each request's charge is made before the next one is read.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    let admitted = 0;
    let refused = null;
    for (let i = 0; i < 20 && !refused; i++) {
      const res = await chatAs(KEYS.carol, { extra: { max_tokens: 10 }, agent });
      if (res.status === 200) admitted++;
      else refused = res;
    }
    // Each reserves its body / 4 + 10 and is charged 8. With 100 tokens a minute, about 9
    // fit; had the reservation been kept, only 3 would have.
    const body = { model: 'llama3', messages: [{ role: 'user', content: 'hi' }], max_tokens: 10 };
    const reserve = Math.floor(JSON.stringify(body).length / 4) + 10;
    assert.equal(admitted, Math.floor((100 - reserve) / 8) + 1, `admitted ${admitted}, reserve ${reserve}`);
    assertOpenAiError(refused, 429);
    assert.equal(refused.headers['x-ratelimit-limit-tokens'], '100');
    assert.equal(Number(refused.headers['x-ratelimit-remaining-tokens']), 100 - 8 * admitted);
  });

  test('the access log and /metrics name the client, never the key', LIMIT, async () => {
    const entry = await gw.waitForAccess((e) => e.client === 'carol' && e.status === 200);
    assert.equal(entry.client, 'carol');
    const metrics = await (await fetch(`${gw.adminBase}/metrics`)).text();
    assert.match(metrics, /aigw_client_requests_total\{client="carol"\} \d+/);
    assert.match(metrics, /aigw_client_tokens_total\{client="carol",type="input"\} \d+/);
    assert.match(metrics, /aigw_client_rejections_total\{client="bob",reason="requests"\} 1\b/);
    assert.match(metrics, /aigw_client_rejections_total\{client="alice",reason="model"\} 2\b/);
    for (const key of Object.values(KEYS)) {
      assert.ok(!gw.stderr().includes(key), 'a key in the log');
      assert.ok(!metrics.includes(key), 'a key in the metrics');
    }
  });
});

describe('the admin /config', () => {
  test("shows no client's key hash (an unsalted hash of a short key is a guess away from it)", LIMIT, async () => {
    const config = await (await fetch(`${gw.adminBase}/config`)).text();
    assert.match(config, /name: alice/);
    for (const key of Object.values(KEYS)) assert.ok(!config.includes(sha256(key)), 'a key hash in /config');
    assert.match(config, /key_sha256: \$\{REDACTED_KEY_SHA256\}/);
  });
});

describe('keys file', () => {
  test('reload reads it again: keys added and revoked without a restart', LIMIT, async () => {
    const keys = writeTempFile('keys.yaml', `clients:\n  - { name: first, key_sha256: "${sha256('sk-first')}" }\n`);
    const config = gatewayConfig({ clients_file: keys, backends: [{ name: 'fake', url: fake.url }], routes: [{ backend: 'fake' }] });
    const g = await startGateway(config);
    try {
      const as = (key) => request(g.base, '/v1/chat/completions', {
        headers: { authorization: `Bearer ${key}` }, body: { model: 'm', messages: [{ role: 'user', content: 'x' }] } });
      assert.equal((await as('sk-first')).status, 200);
      assert.equal((await as('sk-second')).status, 401);
      fs.writeFileSync(keys, `clients:\n  - { name: second, key_sha256: "${sha256('sk-second')}" }\n`);
      const from = g.stderr().length;
      process.kill(g.pid, 'SIGHUP');
      await g.waitForStderr(/reload: [^\n]*(backends, \d+ routes|still serving)[^\n]*\n/, { from });
      assert.equal((await as('sk-first')).status, 401);
      assert.equal((await as('sk-second')).status, 200);
    } finally {
      await g.stop();
    }
  });

  test('hash-key prints the SHA-256 --print-config keeps; a bad entry is a start-up error', LIMIT, async () => {
    const { spawnSync } = await import('node:child_process');
    const { GATEWAY_BIN } = await import('./harness.mjs');
    const out = spawnSync(GATEWAY_BIN, ['hash-key'], { input: 'sk-abc\n' });
    assert.equal(out.status, 0);
    assert.equal(out.stdout.toString().trim(), sha256('sk-abc'));
    const file = writeTempFile('c.yaml', gatewayConfig({
      clients: [{ name: 'x', key_sha256: sha256('sk-abc'), limits: { tokens_per_day: 5000, tokens: 'output' } }],
      backends: [{ name: 'fake', url: fake.url }] }));
    const printed = await runCli(['--print-config', '--config', file]);
    assert.equal(printed.code, 0, printed.stderr);
    assert.match(printed.stdout, new RegExp(`key_sha256: ${sha256('sk-abc')}`));
    assert.match(printed.stdout, /tokens_per_day: 5000/);
    const bad = writeTempFile('bad.yaml', gatewayConfig({ clients: [{ name: 'x', key_sha256: 'sk-abc' }], backends: [{ name: 'fake', url: fake.url }] }));
    const check = await runCli(['--check', '--config', bad]);
    assert.notEqual(check.code, 0);
    assert.match(check.stderr, /not a SHA-256/);
  });
});
