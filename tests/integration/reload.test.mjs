// Hot reload: SIGHUP reads the config file again. A valid one serves new requests at once
// while those in flight finish; unchanged backends keep their pooled connections and their
// breakers; an invalid one is refused and the old one keeps serving.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { startFakeUpstream } from '../fakes/fake_upstream.mjs';
import { chat, gatewayConfig, request, startGateway } from './harness.mjs';

const LIMIT = { timeout: 60000 };

let a;
let b;
before(async () => {
  a = await startFakeUpstream();
  b = await startFakeUpstream();
});
after(async () => {
  await a?.close();
  await b?.close();
});

/** The config with `model: m` sent to backend a as `override`. */
function configWith(override, extra = {}) {
  return gatewayConfig({
    backends: [
      { name: 'a', url: a.url },
      { name: 'b', url: b.url },
    ],
    routes: [{ match: { model: 'm' }, backend: 'a', model_override: override }, { backend: 'b' }],
    ...extra,
  });
}

/** Writes `text` as the gateway's config file, sends SIGHUP, waits for the outcome line. */
async function reload(gw, text) {
  const from = gw.stderr().length;
  fs.writeFileSync(gw.configFile, text);
  process.kill(gw.pid, 'SIGHUP');
  return (await gw.waitForStderr(/reload: [^\n]*(backends, \d+ routes|still serving)[^\n]*\n/, { from }))[0];
}

describe('hot reload', () => {
  test('under continuous load: zero failed requests, the new config serves at once', LIMIT, async () => {
    const gw = await startGateway(configWith('one'));
    const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    let running = true;
    let sent = 0;
    const failures = [];
    const loop = async () => {
      while (running) {
        const res = await chat(gw.base, { model: 'm', agent }).catch((err) => ({ status: 0, text: String(err) }));
        sent++;
        if (res.status !== 200) failures.push(`${res.status} ${res.text}`);
      }
    };
    const loops = [loop(), loop(), loop(), loop()];
    for (let i = 0; i < 6; i++) {
      const override = i % 2 === 0 ? 'two' : 'one';
      assert.match(await reload(gw, configWith(override)), /reload: .* \(2 backends, 2 routes/);
      // Every request sent after the reload was acknowledged uses the new config.
      const res = await chat(gw.base, { model: 'm' });
      assert.equal(res.json.model, override);
      await delay(100);
    }
    running = false;
    await Promise.all(loops);
    agent.destroy();
    assert.deepEqual(failures, []);
    assert.ok(sent > 50, `only ${sent} requests ran during the reloads`);
    await gw.stop();
  });

  test('an invalid config is refused with the error logged; the old one keeps serving', LIMIT, async () => {
    const gw = await startGateway(configWith('one'));
    const line = await reload(gw, 'backends: [ { name: a } ]\n');
    assert.match(line, /reload: .*invalid config: .*url: required; still serving the previous one/);
    const res = await chat(gw.base, { model: 'm' });
    assert.equal(res.status, 200);
    assert.equal(res.json.model, 'one');
    await gw.stop();
  });

  test('unchanged backends keep their pooled connections and their open breakers', LIMIT, async () => {
    const text = (extra) =>
      gatewayConfig({
        backends: [
          { name: 'a', url: a.url },
          { name: 'b', url: b.url },
        ],
        circuit_breaker: { consecutive_failures: 1, cooldown: '1m', failure_rate: 0 },
        routes: [{ backends: [{ backend: 'a' }, { backend: 'b', priority: 1 }] }],
        ...extra,
      });
    const gw = await startGateway(text({}));
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    a.defaults['x-fake-status'] = '500';
    try {
      assert.equal((await chat(gw.base, { agent })).headers['x-aigw-backend'], 'b'); // a opens
      const bConnections = b.connections;
      const aConnections = a.connections;
      assert.match(await reload(gw, text({ response_headers: true, timeouts: { connect: '3s', first_byte: '60s', idle: '300s', client_header: '30s' } })), /reload: /);
      const res = await chat(gw.base, { agent });
      assert.equal(res.headers['x-aigw-backend'], 'b');
      assert.equal(res.headers['x-aigw-attempts'], '1', 'the breaker was reset by the reload');
      assert.equal(a.connections, aConnections);
      assert.equal(b.connections, bConnections, 'the pooled connection to b was dropped');
    } finally {
      delete a.defaults['x-fake-status'];
      agent.destroy();
    }
    await gw.stop();
  });

  test('a changed listen address or worker count is logged as needing a restart', LIMIT, async () => {
    const gw = await startGateway(configWith('one'));
    const from = gw.stderr().length;
    await reload(gw, configWith('two', { workers: 1, listen: '127.0.0.1:1' }));
    const log = gw.stderr().slice(from);
    assert.match(log, /reload: listen changed: it needs a restart \(kept as it was\)/);
    assert.match(log, /reload: workers changed: it needs a restart/);
    assert.equal((await chat(gw.base, { model: 'm' })).json.model, 'two');
    const config = await request(gw.adminBase, '/config');
    assert.match(config.text, /model_override: two/);
    await gw.stop();
  });
});
