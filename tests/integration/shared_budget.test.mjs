// Budgets shared through Redis (`redis:`): gateway processes that name the same Redis count
// every client's requests and tokens in the same keys, so N replicas hold one budget. A real
// redis-server runs on a free port. When Redis cannot answer (killed, silent, hostile),
// on_redis_error decides, and limiting comes back with Redis.

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import { startFakeUpstream } from '../fakes/fake_upstream.mjs';
import { startRedis } from '../fakes/redis_server.mjs';
import {
  assertOpenAiError, awayFromMinuteEdge, gatewayConfig, request, runCli, startGateway, writeTempFile,
} from './harness.mjs';

const LIMIT = { timeout: 60000 };
const sha256 = (key) => crypto.createHash('sha256').update(key).digest('hex');
const pause = (ms) => new Promise((r) => setTimeout(r, ms));
const KEY = 'sk-team-0123456789';

let fake;
let redis;

before(async () => {
  fake = await startFakeUpstream();
  redis = await startRedis();
});

after(async () => {
  await redis?.stop();
  await fake?.close();
});

function config(limits, redisSettings = {}, more = {}) {
  return gatewayConfig({
    access_log: false,
    redis: { url: redis.url, ...redisSettings },
    clients: [{ name: 'team', key_sha256: sha256(KEY), limits }],
    backends: [{ name: 'fake', url: fake.url }],
    routes: [{ backend: 'fake' }],
    ...more,
  });
}

const chatVia = (gw, { agent, extra = {} } = {}) => request(gw.base, '/v1/chat/completions', {
  headers: { authorization: `Bearer ${KEY}` },
  body: { model: 'llama3', messages: [{ role: 'user', content: 'hi' }], ...extra },
  agent,
});

async function metric(gw, name) {
  const text = await (await fetch(`${gw.adminBase}/metrics`)).text();
  return text.split('\n').filter((l) => l.startsWith(name))
    .reduce((n, l) => n + Number(l.split(' ').at(-1)), 0);
}

// Until `check()` holds (polled every 100 ms), or fails after `ms`.
async function eventually(check, what, ms = 15000) {
  const until = Date.now() + ms;
  for (;;) {
    if (await check()) return;
    if (Date.now() > until) assert.fail(`not within ${ms} ms: ${what}`);
    await pause(100);
  }
}

const utcDay = () => Math.floor((Date.now() / 1000 - 1735689600) / 86400);
const utcMinute = () => Math.floor((Date.now() / 1000 - 1735689600) / 60);

describe('three replicas, one budget', () => {
  test('tokens per day: under concurrent load the replicas together stay within 1% of the budget, and Redis holds the exact charge', LIMIT, async () => {
    await redis.command('FLUSHALL');
    // Each request is charged the 8 tokens the fake reports (5 + 3), after reserving its
    // body / 4 + max_tokens; 1600 tokens is 200 requests.
    const BUDGET = 1600;
    const gws = await Promise.all([0, 1, 2].map(() =>
      startGateway(config({ tokens_per_day: BUDGET, default_output: 16 }, { key_prefix: 'shared' }))));
    try {
      await Promise.all(gws.map((gw) => eventually(async () => (await metric(gw, 'aigw_redis_connected')) === 2, 'connected')));
      let admitted = 0;
      let refused = 0;
      let next = 0;
      const TOTAL = 600;
      // 8 concurrent keep-alive clients per replica.
      await Promise.all(Array.from({ length: 24 }, async (_, i) => {
        const gw = gws[i % 3];
        const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
        while (next < TOTAL) {
          next++;
          const res = await chatVia(gw, { agent, extra: { max_tokens: 4 } });
          if (res.status === 200) admitted++;
          else {
            assertOpenAiError(res, 429);
            refused++;
          }
        }
        agent.destroy();
      }));
      const charged = admitted * 8;
      assert.ok(charged <= BUDGET * 1.01, `overshoot: ${charged} tokens charged for a budget of ${BUDGET}`);
      // Not held back by more than a few reservations either.
      assert.ok(charged >= BUDGET * 0.9, `undershoot: only ${charged} of ${BUDGET}`);
      assert.equal(admitted + refused, TOTAL);
      // Every replica's charge is in the one key (charges follow the answers: poll).
      const key = `shared:{team}:tpd:${utcDay()}`;
      await eventually(async () => Number(await redis.command('GET', key)) === charged,
        `${key} = ${charged} (is ${await redis.command('GET', key)})`);
      const ttl = await redis.command('TTL', key);
      assert.ok(ttl > 0 && ttl <= 86400 + 60, `TTL ${ttl}`);
      // The requests were spread: each replica admitted some, and counted them.
      const perReplica = await Promise.all(gws.map((gw) => metric(gw, 'aigw_client_requests_total')));
      assert.ok(perReplica.every((n) => n > 0), `admitted per replica: ${perReplica}`);
      assert.equal(perReplica.reduce((a, b) => a + b, 0), admitted);
    } finally {
      await Promise.all(gws.map((gw) => gw.stop()));
    }
  });

  test('requests per minute: exactly the limit across replicas, then 429s with OpenAI\'s headers; the keys share a hash tag', LIMIT, async () => {
    await redis.command('FLUSHALL');
    await awayFromMinuteEdge(15000);
    const gws = await Promise.all([0, 1, 2].map(() => startGateway(config({ requests_per_minute: 10 }))));
    try {
      const results = await Promise.all(Array.from({ length: 30 }, (_, i) => chatVia(gws[i % 3])));
      assert.equal(results.filter((r) => r.status === 200).length, 10);
      const refused = results.filter((r) => r.status !== 200);
      assert.equal(refused.length, 20);
      for (const res of refused) {
        assertOpenAiError(res, 429);
        assert.equal(res.json.error.code, 'rate_limit_exceeded');
        assert.equal(res.headers['x-ratelimit-limit-requests'], '10');
        assert.equal(res.headers['x-ratelimit-remaining-requests'], '0');
        const retry = Number(res.headers['retry-after']);
        assert.ok(retry >= 1 && retry <= 60, `Retry-After ${retry}`);
      }
      const keys = await redis.command('KEYS', 'aigw:*');
      assert.ok(keys.includes(`aigw:{team}:rpm:${utcMinute()}`), keys.join(' '));
      assert.ok(keys.every((k) => k.startsWith('aigw:{team}:')), 'one hash tag per client');
    } finally {
      await Promise.all(gws.map((gw) => gw.stop()));
    }
  });
});

describe('when Redis fails', () => {
  test('killed mid-run: fail_open admits by the replica\'s own counters, fail_closed answers 503; both recover when Redis is back', LIMIT, async () => {
    await redis.command('FLUSHALL');
    const open = await startGateway(config({ tokens_per_day: 100000 }, { on_redis_error: 'fail_open', timeout: '200ms' }, { access_log: true }));
    const closed = await startGateway(config({ tokens_per_day: 100000 }, { on_redis_error: 'fail_closed', timeout: '200ms' }));
    try {
      for (const gw of [open, closed]) {
        await eventually(async () => (await metric(gw, 'aigw_redis_connected')) === 2, 'connected');
        assert.equal((await chatVia(gw)).status, 200);
      }
      const key = `aigw:{team}:tpd:${utcDay()}`;
      await eventually(async () => Number(await redis.command('GET', key)) === 16, 'both charged in Redis');

      await redis.kill();
      const from = open.stderr().length;
      const down = await chatVia(closed);
      assertOpenAiError(down, 503);
      assert.equal(down.json.error.code, 'budget_unavailable');
      assert.equal(down.headers['retry-after'], '1');
      assert.equal((await chatVia(open)).status, 200);
      await open.waitForStderr(/redis 127\.0\.0\.1:\d+: [^\n]*budgets follow on_redis_error \(fail_open\)/, { from });
      assert.ok((await metric(open, 'aigw_redis_fallbacks_total{policy="fail_open"}')) >= 1);
      assert.ok((await metric(closed, 'aigw_redis_fallbacks_total{policy="fail_closed"}')) >= 1);
      assert.ok((await metric(closed, 'aigw_redis_errors_total')) >= 1);
      assert.equal(await metric(closed, 'aigw_client_rejections_total{client="team",reason="unavailable"}'), 1);
      assert.equal(await metric(closed, 'aigw_redis_connected'), 0);
      // The gateway itself is fine meanwhile.
      assert.equal((await request(closed.base, '/healthz')).status, 200);

      await redis.start();  // empty: what was counted before is gone with the process
      for (const gw of [open, closed])
        await eventually(async () => (await metric(gw, 'aigw_redis_connected')) === 2, 'reconnected');
      assert.equal((await chatVia(closed)).status, 200);
      assert.equal((await chatVia(open)).status, 200);
      await eventually(async () => Number(await redis.command('GET', key)) === 16, 'charged in Redis again');
    } finally {
      await open.stop();
      await closed.stop();
    }
  });

  test('fail_closed: no request is refused right after start, after a reload that moves the keys, or after SCRIPT FLUSH', LIMIT, async () => {
    await redis.command('FLUSHALL');
    await awayFromMinuteEdge(10000);
    const cfg = (prefix) => config({ requests_per_minute: 1000 }, { on_redis_error: 'fail_closed', key_prefix: prefix });
    const gw = await startGateway(cfg('first'));
    try {
      // At once: the worker's connection is still being made, and the request waits for it.
      assert.equal((await chatVia(gw)).status, 200);
      fs.writeFileSync(gw.configFile, cfg('second'));
      const from = gw.stderr().length;
      process.kill(gw.pid, 'SIGHUP');
      await gw.waitForStderr(/reload: [^\n]*\n/, { from });
      assert.equal((await chatVia(gw)).status, 200);
      assert.deepEqual((await redis.command('KEYS', 'second:*')).length, 1);
      await redis.command('SCRIPT', 'FLUSH');
      assert.equal((await chatVia(gw)).status, 200);  // the scripts are loaded again
      assert.equal(Number(await redis.command('GET', `second:{team}:rpm:${utcMinute()}`)) >= 2, true);
      assert.equal(await metric(gw, 'aigw_redis_fallbacks_total'), 0);
    } finally {
      await gw.stop();
    }
  });

  test('a Redis that never answers, or answers out of turn, or too much: the policy answers within the timeout and the gateway carries on', LIMIT, async () => {
    // One hostile peer, five behaviours by connection: silent, a flood of replies to no
    // command, a reply larger than any the gateway asked for, an array length that wraps
    // hiredis' int (2^32 reads as 0), an error with control bytes.
    let connections = 0;
    const sockets = new Set();
    const hostile = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => {});
      const kind = connections++ % 5;
      if (kind === 1) socket.write('+OK\r\n'.repeat(50));
      if (kind === 2) socket.write(`$${1 << 20}\r\n${'x'.repeat(100000)}`);
      if (kind === 3) socket.write('*4294967296\r\n:1\r\n:2\r\n');
      // An error reply with terminal escapes and a fake log line: logged as printable text.
      if (kind === 4) socket.write('-ERR evil\x1b[2J\nforged line\r\n');
    });
    hostile.listen(0, '127.0.0.1');
    await once(hostile, 'listening');
    const url = `redis://127.0.0.1:${hostile.address().port}`;
    const gw = await startGateway(config({ requests_per_minute: 1000 },
      { url, on_redis_error: 'fail_closed', timeout: '100ms' }, { workers: 1 }));
    try {
      for (let i = 0; i < 10; i++) {
        const started = Date.now();
        const res = await chatVia(gw);
        assertOpenAiError(res, 503);
        assert.ok(Date.now() - started < 2000, `answered after ${Date.now() - started} ms`);
        await pause(300);
      }
      // Each behaviour ended its connection, for its own reason.
      await gw.waitForStderr(/no reply within 100 ms/);
      await gw.waitForStderr(/a reply to no command/);
      await gw.waitForStderr(/a reply over 64 KiB/);
      // (Debian's hiredis refuses it itself; the reply builder would too)
      await gw.waitForStderr(/a reply longer than any the gateway asked for|Multi-bulk length out of range/);
      await gw.waitForStderr(/refused the connection: ERR evil\?\[2J\?forged line/);
      assert.ok(!gw.stderr().includes('\x1b'), 'an escape from Redis reached the log');
      assert.equal((await request(gw.base, '/healthz')).status, 200);
      assert.equal(await metric(gw, 'aigw_redis_connected'), 0);
      assert.ok(connections >= 5, `reconnected ${connections} times`);
    } finally {
      await gw.stop();
      for (const s of sockets) s.destroy();
      hostile.close();
    }
  });
});

describe('Redis settings', () => {
  test('a password from the environment is sent, never shown; a wrong one is refused and said so', LIMIT, async () => {
    const secret = 'redis-secret-0123456789';
    const locked = await startRedis({ password: secret });
    try {
      const cfg = (password) => gatewayConfig({
        redis: { url: `${locked.url}/2`, password, on_redis_error: 'fail_closed' },
        clients: [{ name: 'team', key_sha256: sha256(KEY), limits: { requests_per_minute: 100 } }],
        backends: [{ name: 'fake', url: fake.url }],
      });
      const good = await startGateway(cfg('${REDIS_PASSWORD}'), { env: { REDIS_PASSWORD: secret } });
      const bad = await startGateway(cfg('not-the-password'));
      try {
        await eventually(async () => (await metric(good, 'aigw_redis_connected')) === 2, 'connected');
        assert.equal((await chatVia(good)).status, 200);
        // Counted in database 2, as the URL says.
        assert.deepEqual(await locked.commandIn(2, 'KEYS', '*'), [`aigw:{team}:rpm:${utcMinute()}`]);
        assert.deepEqual(await locked.command('KEYS', '*'), []);
        await bad.waitForStderr(/refused the connection: WRONGPASS/);
        assertOpenAiError(await chatVia(bad), 503);
        for (const gw of [good, bad]) {
          assert.ok(!gw.stderr().includes(secret));
          const shown = await (await fetch(`${gw.adminBase}/config`)).text();
          assert.ok(!shown.includes(secret) && !shown.includes('not-the-password'), shown);
        }
        const printed = await runCli(['--print-config', '--config', good.configFile], { env: { REDIS_PASSWORD: secret } });
        assert.match(printed.stdout, /password: \$\{REDIS_PASSWORD\}/);
        assert.match(printed.stdout, /url: redis:\/\/127\.0\.0\.1:\d+\/2/);
      } finally {
        await good.stop();
        await bad.stop();
      }
    } finally {
      await locked.stop();
    }
  });

  test('bad redis settings are start-up errors', LIMIT, async () => {
    for (const [redisSettings, message] of [
      [{ url: 'rediss://127.0.0.1:6379' }, /TLS to Redis/],
      [{ url: 'redis://user:pw@127.0.0.1:6379' }, /not in the URL/],
      [{ url: 'http://127.0.0.1:6379' }, /redis:\/\/host:port/],
      [{ url: 'redis://127.0.0.1:6379', on_redis_error: 'maybe' }, /fail_open or fail_closed/],
      [{ url: 'redis://127.0.0.1:6379', key_prefix: 'a b' }, /key_prefix/],
    ]) {
      const file = writeTempFile('r.yaml', gatewayConfig({ redis: redisSettings, backends: [{ name: 'fake', url: fake.url }] }));
      const check = await runCli(['--check', '--config', file]);
      assert.notEqual(check.code, 0, JSON.stringify(redisSettings));
      assert.match(check.stderr, message);
    }
  });
});
