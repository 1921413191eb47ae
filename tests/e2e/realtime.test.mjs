// The Realtime API through the gateway: a WebSocket session routed by its model query
// parameter, its key swapped for the backend's, tunnelled both ways until one side closes.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { OpenAIRealtimeWS } from 'openai/realtime/ws';
import WebSocket from 'ws';
import { startFakeUpstream } from '../fakes/fake_upstream.mjs';
import { startRealtimeUpstream } from '../fakes/realtime_upstream.mjs';
import { gatewayConfig, startGateway } from '../integration/harness.mjs';

const LIMIT = { timeout: 20000 };
const BACKEND_KEY = 'sk-backend-realtime';

let rt;
let other;
let gw;
let client;

before(async () => {
  rt = await startRealtimeUpstream();
  other = await startFakeUpstream();
  gw = await startGateway(gatewayConfig({
    backends: [{ name: 'other', url: other.url }, { name: 'voice', url: rt.url, api_key: BACKEND_KEY }],
    routes: [{ match: { model: 'gpt-realtime*' }, backend: 'voice' }, { backend: 'other' }],
  }));
  client = new OpenAI({ baseURL: `${gw.base}/v1`, apiKey: 'sk-client', maxRetries: 0 });
});

after(async () => {
  await gw?.stop();
  await rt?.close();
  await other?.close();
});

/** The next event of an OpenAIRealtimeWS session. */
const nextEvent = (session) => new Promise((resolve, reject) => {
  session.once('event', resolve);
  session.once('error', reject);
});

describe('Realtime WebSocket sessions', () => {
  test('the official client talks to the backend its model routes to, with the backend key', LIMIT, async () => {
    const from = rt.handshakes.length;
    // The SDK always dials wss://; the gateway listens in plain HTTP (TLS is terminated in
    // front of it, if anywhere), so the socket under the SDK's WebSocket is a plain one.
    const plain = { createConnection: () => net.connect(gw.port, '127.0.0.1') };
    const session = new OpenAIRealtimeWS({ model: 'gpt-realtime-mini', options: plain }, client);
    const created = await nextEvent(session);
    assert.equal(created.type, 'session.created');
    assert.equal(created.session.model, 'gpt-realtime-mini');

    session.send({ type: 'session.update', session: { type: 'realtime', instructions: 'x'.repeat(100000) } });
    const echo = await nextEvent(session);
    assert.equal(echo.type, 'echo');
    assert.equal(echo.event.session.instructions.length, 100000, 'a large frame crosses whole');

    const { path, headers } = rt.handshakes[from];
    assert.equal(path, '/v1/realtime?model=gpt-realtime-mini');
    assert.equal(headers.authorization, `Bearer ${BACKEND_KEY}`);
    const closedBefore = rt.closed;
    session.close();
    await rt.waitClosed(closedBefore + 1);
  });

  test("a browser's key in the subprotocol list never reaches the backend", LIMIT, async () => {
    const from = rt.handshakes.length;
    const ws = new WebSocket(`${gw.base.replace('http', 'ws')}/v1/realtime?model=gpt-realtime`,
      ['realtime', 'openai-insecure-api-key.sk-client-secret', 'openai-beta.realtime-v1']);
    const [first] = await once(ws, 'message');
    assert.equal(JSON.parse(first).type, 'session.created');
    assert.equal(ws.protocol, 'realtime');
    assert.equal(rt.handshakes[from].headers['sec-websocket-protocol'], 'realtime, openai-beta.realtime-v1');
    ws.close();
    await once(ws, 'close');
  });

  test('the backend gets exactly the model the session was routed by; a second model is a 400', LIMIT, async () => {
    const from = rt.handshakes.length;
    const ws = new WebSocket(`${gw.base.replace('http', 'ws')}/v1/realtime?model=gpt-realtime&voice=x`);
    await once(ws, 'message');
    assert.equal(rt.handshakes[from].path, '/v1/realtime?voice=x&model=gpt-realtime');
    ws.close();
    await once(ws, 'close');
    for (const query of ['model=gpt-realtime&voice=x&model=other', 'model=gpt-realtime&mod%65l=third', 'model=gpt-realtime;x=1']) {
      const refused = new WebSocket(`${gw.base.replace('http', 'ws')}/v1/realtime?${query}`);
      const [, res] = await once(refused, 'unexpected-response');
      assert.equal(res.statusCode, 400, query);
      res.resume();
    }
    assert.equal(rt.handshakes.length, from + 1);
  });

  test('a client that drops its connection closes the backend session', LIMIT, async () => {
    const ws = new WebSocket(`${gw.base.replace('http', 'ws')}/v1/realtime?model=gpt-realtime`);
    await once(ws, 'message');
    const closedBefore = rt.closed;
    ws.terminate();  // no close frame: the TCP connection just goes
    await rt.waitClosed(closedBefore + 1);
  });

  test('a backend that closes the session closes the client', LIMIT, async () => {
    const ws = new WebSocket(`${gw.base.replace('http', 'ws')}/v1/realtime?model=gpt-realtime`);
    await once(ws, 'message');
    ws.send(JSON.stringify({ type: 'close' }));
    const [code, reason] = await once(ws, 'close');
    assert.equal(code, 1000);
    assert.equal(reason.toString(), 'asked to');
  });

  test('the access log says 101, and the gateway serves on', LIMIT, async () => {
    const from = gw.stderr().length;
    const ws = new WebSocket(`${gw.base.replace('http', 'ws')}/v1/realtime?model=gpt-realtime`);
    await once(ws, 'message');
    ws.close();
    await once(ws, 'close');
    const entry = await gw.waitForAccess((e) => e.path === '/v1/realtime', { from });
    assert.equal(entry.model, 'gpt-realtime');
    assert.equal(entry.backend, 'voice');
    assert.equal(entry.status, 101);
    assert.equal(entry.complete, true);
    const res = await fetch(`${gw.base}/v1/models`);
    assert.equal(res.status, 200);
  });
});
