// Abuse bounds, stated in README and held here with 2,000 connections: the memory a client
// connection costs at rest and an open stream costs, slowloris heads and idle keep-alive
// connections closed at client_header, slow bodies, a client that stops reading a stream
// (backpressure, measured at the backend), and through all of it a normal client served at
// its usual latency.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { once } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { startFakeUpstream } from '../fakes/fake_upstream.mjs';
import { jsonResponse, startRawUpstream } from '../fakes/raw_upstream.mjs';
import { gatewayConfig, request, startGateway } from './harness.mjs';

const LIMIT = { timeout: 90000 };
const CONNECTIONS = 2000;
// The bounds README states (KiB). A sanitizer build's allocator pads every block: its bounds
// are looser, the test is the same.
const SANITIZED = process.env.AIGW_SANITIZED === '1';
const AT_REST_KIB = SANITIZED ? 64 : 16;
const PER_STREAM_KIB = SANITIZED ? 160 : 48;

let fake;
let gw;

before(async () => {
  fake = await startFakeUpstream();
  gw = await startGateway(gatewayConfig({
    access_log: false,
    timeouts: { connect: '2s', first_byte: '60s', idle: '60s', client_header: '4s' },
    backends: [{ name: 'fake', url: fake.url }],
  }));
});

after(async () => {
  await gw?.stop();
  await fake?.close();
});

const rssKib = (pid = gw.pid) => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);

// A normal client's request: its status and how long it took.
async function normalRequest() {
  const started = process.hrtime.bigint();
  const res = await request(gw.base, '/v1/chat/completions', { body: { model: 'm', messages: [{ role: 'user', content: 'hi' }] } });
  return { status: res.status, ms: Number(process.hrtime.bigint() - started) / 1e6 };
}

async function openConnections(n, onConnect = () => {}) {
  const sockets = [];
  for (let i = 0; i < n; i += 100) {
    await Promise.all(Array.from({ length: Math.min(100, n - i) }, async () => {
      const socket = net.connect(gw.port, '127.0.0.1');
      socket.on('error', () => {});
      await once(socket, 'connect');
      onConnect(socket);
      sockets.push(socket);
    }));
  }
  return sockets;
}

describe('abuse bounds', () => {
  test(`${CONNECTIONS} connections at rest cost at most ${AT_REST_KIB} KiB each; a normal client is served meanwhile`, LIMIT, async (t) => {
    for (let i = 0; i < 20; i++) await normalRequest();  // warm: pools, buffers, allocator
    const before = rssKib();
    const sockets = await openConnections(CONNECTIONS);
    await delay(300);
    const perConnection = (rssKib() - before) / CONNECTIONS;
    const served = await normalRequest();
    for (const s of sockets) s.destroy();
    t.diagnostic(`${perConnection.toFixed(1)} KiB per connection at rest; a normal request ${served.ms.toFixed(1)} ms`);
    assert.ok(perConnection <= AT_REST_KIB, `${perConnection.toFixed(1)} KiB per connection at rest`);
    assert.equal(served.status, 200);
    assert.ok(served.ms < 1000, `a normal request took ${served.ms} ms`);
  });

  test(`${CONNECTIONS} open streams cost at most ${PER_STREAM_KIB} KiB each`, LIMIT, async (t) => {
    const before = rssKib();
    const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
    const responses = [];
    const opened = [];
    for (let i = 0; i < CONNECTIONS; i++) {
      opened.push(new Promise((resolve, reject) => {
        const body = JSON.stringify({ model: 'm', stream: true, messages: [{ role: 'user', content: 'hi' }] });
        const req = http.request(`${gw.base}/v1/chat/completions`, {
          method: 'POST', agent,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-fake-mode': 'sse', 'x-fake-chunks': '4', 'x-fake-delay-ms': '3000' },
        }, (res) => {
          responses.push(res);
          res.once('data', () => resolve());  // the first event is through: the stream is open
          res.on('error', () => {});
        });
        req.on('error', reject);
        req.end(body);
      }));
    }
    await Promise.all(opened);
    const perStream = (rssKib() - before) / CONNECTIONS;
    const served = await normalRequest();
    for (const res of responses) res.destroy();
    agent.destroy();
    t.diagnostic(`${perStream.toFixed(1)} KiB per open stream; a normal request ${served.ms.toFixed(1)} ms`);
    assert.ok(perStream <= PER_STREAM_KIB, `${perStream.toFixed(1)} KiB per open stream`);
    assert.equal(served.status, 200);
    assert.ok(served.ms < 1000, `a normal request took ${served.ms} ms`);
  });

  test('slow bodies: 500 uploads that trickle in cost little, are not cut by client_header, and a normal client is served meanwhile', LIMIT, async (t) => {
    // Its own gateway, so that memory freed by the tests before does not hide what they cost.
    const slowGw = await startGateway(gatewayConfig({
      access_log: false,
      timeouts: { connect: '2s', first_byte: '60s', idle: '60s', client_header: '2s' },
      backends: [{ name: 'fake', url: fake.url }],
    }));
    const slow = [];
    try {
      const before = rssKib(slowGw.pid);
      let answered = 0;
      for (let i = 0; i < 500; i += 100) {
        await Promise.all(Array.from({ length: 100 }, async () => {
          const socket = net.connect(slowGw.port, '127.0.0.1');
          socket.on('error', () => {});
          socket.on('data', () => { answered++; });
          await once(socket, 'connect');
          socket.write('POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nContent-Length: 1048576\r\n\r\n{"model":"m","messages":[');
          const timer = setInterval(() => { if (!socket.destroyed) socket.write(' '); }, 500);
          socket.on('close', () => clearInterval(timer));
          slow.push(socket);
        }));
      }
      await delay(3000);  // past client_header: a body that keeps coming is not cut by it
      const perUpload = (rssKib(slowGw.pid) - before) / slow.length;
      const started = process.hrtime.bigint();
      const served = await request(slowGw.base, '/v1/chat/completions', { body: { model: 'm', messages: [{ role: 'user', content: 'hi' }] } });
      const servedMs = Number(process.hrtime.bigint() - started) / 1e6;
      t.diagnostic(`${perUpload.toFixed(1)} KiB per slow upload; a normal request ${servedMs.toFixed(1)} ms`);
      assert.equal(answered, 0, 'no slow upload was answered or cut');
      assert.equal(slow.filter((s) => s.destroyed).length, 0, 'every slow upload is still open');
      assert.ok(perUpload <= PER_STREAM_KIB, `${perUpload.toFixed(1)} KiB per slow upload`);
      assert.equal(served.status, 200);
      assert.ok(servedMs < 1000, `a normal request took ${servedMs} ms`);
    } finally {
      for (const socket of slow) socket.destroy();
      await slowGw.stop();
    }
  });

  test('a client that stops reading a stream: backpressure reaches the backend, the gateway holds only its buffers, and the stream then goes on whole', LIMIT, async (t) => {
    // The backend writes 128 MiB of 16 KiB events as fast as its socket takes them; what it
    // could write while the client reads nothing is what everything between them holds.
    const event = `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content: 'x'.repeat(16 * 1024) } }] })}\n\n`;
    const done = 'data: [DONE]\n\n';
    const EVENTS = 8192;
    const chunk = (text) => `${Buffer.byteLength(text).toString(16)}\r\n${text}\r\n`;
    let written = 0;
    const backend = await startRawUpstream(async (request, socket) => {
      if (JSON.parse(request.body).model === 'normal') {
        socket.write(jsonResponse({ id: 'x', object: 'chat.completion', choices: [] }));
        return;
      }
      socket.write('HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n');
      const closed = once(socket, 'close');
      for (let i = 0; i < EVENTS && !socket.destroyed; i++) {
        if (!socket.write(chunk(event))) await Promise.race([once(socket, 'drain'), closed]);
        written += event.length;
      }
      socket.write(`${chunk(done)}0\r\n\r\n`);
    });
    const slowGw = await startGateway(gatewayConfig({ access_log: false, workers: 1, backends: [{ name: 'b', url: backend.url }] }));
    try {
      const before = rssKib(slowGw.pid);
      const req = http.request(`${slowGw.base}/v1/chat/completions`, { method: 'POST', agent: false, headers: { 'content-type': 'application/json' } });
      req.end(JSON.stringify({ model: 'm', stream: true, messages: [{ role: 'user', content: 'hi' }] }));
      const [res] = await once(req, 'response');
      res.pause();
      // Until the backend can write no more (nothing for 2 s).
      for (let still = 0, last = -1; still < 4; last = written) {
        await delay(500);
        still = written === last ? still + 1 : 0;
      }
      const held = written;
      const grew = rssKib(slowGw.pid) - before;
      const started = process.hrtime.bigint();
      const normal = await request(slowGw.base, '/v1/chat/completions', { body: { model: 'normal', messages: [] } });
      const normalMs = Number(process.hrtime.bigint() - started) / 1e6;
      let received = 0;
      res.on('data', (d) => { received += d.length; });
      res.resume();
      await once(res, 'end');
      t.diagnostic(`stalled after the backend wrote ${(held / 2 ** 20).toFixed(1)} MiB of ${(EVENTS * event.length / 2 ** 20).toFixed(0)}; the gateway grew ${(grew / 1024).toFixed(1)} MiB; a normal request ${normalMs.toFixed(1)} ms`);
      // What the kernel may buffer on the two loopback connections (each end's largest send
      // and receive buffer) and the gateway's own: far from the 128 MiB the backend had to send.
      const largest = (name) => Number(fs.readFileSync(`/proc/sys/net/ipv4/${name}`, 'utf8').trim().split(/\s+/)[2]);
      const kernel = 2 * (largest('tcp_rmem') + largest('tcp_wmem'));
      assert.ok(held < kernel + 4 * 2 ** 20, `the backend wrote ${held} bytes to a client that read nothing (kernel buffers: ${kernel})`);
      assert.ok(held < (EVENTS * event.length) / 2, `the backend wrote ${held} bytes to a client that read nothing`);
      assert.ok(grew < (SANITIZED ? 32 : 4) * 1024, `the gateway grew ${grew} KiB`);
      assert.equal(normal.status, 200);
      assert.ok(normalMs < 1000, `a normal request took ${normalMs} ms`);
      assert.equal(received, EVENTS * event.length + done.length, 'every byte of the stream, once the client reads again');
    } finally {
      await slowGw.stop();
      await backend.close();
    }
  });

  test('slowloris heads and idle keep-alive connections are closed at client_header; a normal client is served meanwhile', LIMIT, async () => {
    // 500 connections that send a head one byte every 500 ms, and 500 that send nothing.
    const slow = await openConnections(500, (socket) => {
      const head = 'POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nX-Slow: ';
      let i = 0;
      const timer = setInterval(() => { if (!socket.destroyed) socket.write(head[i++ % head.length]); }, 500);
      socket.on('close', () => clearInterval(timer));
    });
    const idle = await openConnections(500);
    const closed = [...slow, ...idle].map((s) => new Promise((resolve) => s.on('close', resolve)));
    const served = await normalRequest();
    assert.equal(served.status, 200);
    assert.ok(served.ms < 1000, `a normal request took ${served.ms} ms`);
    const started = Date.now();
    await Promise.all(closed);
    assert.ok(Date.now() - started < 10000, 'closed by client_header (4 s)');
  });
});
