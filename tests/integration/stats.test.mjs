// Per-worker counters, gathered from every worker and merged: after a known sequence of
// requests, SIGUSR1 logs one "stats {json}" line with exactly what happened.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startFakeUpstream } from '../fakes/fake_upstream.mjs';
import { chat, closedPort, gatewayConfig, request, startGateway } from './harness.mjs';

const LIMIT = { timeout: 20000 };

let fake;
let gw;
before(async () => {
  fake = await startFakeUpstream();
  const dead = await closedPort();
  gw = await startGateway(gatewayConfig({
    workers: 2,
    backends: [{ name: 'b', url: fake.url }, { name: 'dead', url: `http://127.0.0.1:${dead}/v1` }],
    routes: [{ match: { headers: { 'aigw-backend-selector': 'dead' } }, backend: 'dead' }, { backend: 'b' }],
  }));
});
after(async () => {
  await gw?.stop();
  await fake?.close();
});

async function stats() {
  const from = gw.stderr().length;
  process.kill(gw.pid, 'SIGUSR1');
  const [, json] = await gw.waitForStderr(/stats (\{.*\})\n/, { from });
  return JSON.parse(json);
}

test('the counters after a known sequence of requests', LIMIT, async () => {
  for (let i = 0; i < 3; ++i) assert.equal((await chat(gw.base)).status, 200);
  assert.equal((await request(gw.base, '/nope')).status, 404);
  assert.equal((await request(gw.base, '/v1/chat/completions', { body: '{"model":', headers: { 'content-type': 'application/json' } })).status, 400);
  assert.equal((await chat(gw.base, { headers: { 'aigw-backend-selector': 'dead' } })).status, 502);
  assert.equal((await request(gw.base, '/healthz')).status, 200);
  // A request is counted just after its answer is written: its access-log line (written
  // after the counters) says it has been.
  for (const status of [404, 400, 502]) await gw.waitForAccess((e) => e.status === status);
  await gw.waitForAccess((e) => e.path === '/healthz');

  const s = await stats();
  assert.deepEqual(s.backends.b.requests, { '2xx': 3 });
  assert.ok(s.backends.b.connects >= 1 && s.backends.b.connects <= 3, JSON.stringify(s));
  assert.equal(s.backends.b.connect_failures, 0);
  assert.ok(s.backends.b.pool_idle >= 1, JSON.stringify(s));
  assert.equal(s.backends.b.pool_open, s.backends.b.pool_idle, 'a connection is open but neither idle nor in use');
  assert.deepEqual(s.backends.dead.requests, { '5xx': 1 });
  assert.equal(s.backends.dead.connect_failures, 1);
  assert.equal(s.backends.dead.connects, 0);
  assert.deepEqual(s.backends['-'].requests, { '2xx': 1, '4xx': 2 });
  assert.deepEqual(s.requests_by_route, { 0: { '5xx': 1 }, 1: { '2xx': 3 }, local: { '2xx': 1, '4xx': 2 } });
  assert.deepEqual(s.local_errors, { not_found: 1, invalid_json: 1, upstream_unreachable: 1 });
  assert.equal(s.active_streams, 0);
});
