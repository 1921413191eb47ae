// Large uploads (files, audio: bodies that are not JSON) stream to the backend as they arrive,
// never held whole: the gateway is run with the smallest body budget (1 MiB), which a held
// upload of several MiB would exceed (503).

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { EventEmitter, once } from 'node:events';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import OpenAI, { toFile } from 'openai';
import { startStatefulUpstream } from '../fakes/stateful_upstream.mjs';
import { gatewayConfig, openRaw, parseResponses, startGateway } from './harness.mjs';

const LIMIT = { timeout: 30000 };
const MiB = 1024 * 1024;

let files;    // a stateful backend (files API)
let counter;  // a backend that reports body bytes as they arrive
let gw;

/** A backend that counts each request's body bytes as they arrive and answers at its end. */
async function startCountingUpstream() {
  const events = new EventEmitter();
  const server = http.createServer((req, res) => {
    const seen = { received: 0, ended: false, aborted: false, hash: crypto.createHash('sha256') };
    events.emit('request', seen);
    req.on('data', (chunk) => {
      seen.received += chunk.length;
      seen.hash.update(chunk);
      events.emit('progress', seen);
    });
    req.on('end', () => {
      seen.ended = true;
      const body = JSON.stringify({ received: seen.received, sha256: seen.hash.digest('hex') });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
    req.on('close', () => {
      if (!seen.ended) seen.aborted = true;
      events.emit('progress', seen);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${server.address().port}/v1`,
    /** Resolves with the next request's progress record once `done(record)` holds. */
    until: (done) => new Promise((resolve) => {
      const check = (seen) => { if (done(seen)) { events.off('progress', check); resolve(seen); } };
      events.on('progress', check);
    }),
    async close() {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

before(async () => {
  files = await startStatefulUpstream('files');
  counter = await startCountingUpstream();
  gw = await startGateway(gatewayConfig({
    workers: 1,
    limits: { max_request_body: '64MiB', max_request_headers: '8KiB', max_buffered_request_bytes: '1MiB' },
    timeouts: { connect: '2s', first_byte: '10s', idle: '1s', client_header: '5s' },
    backends: [{ name: 'files', url: files.url }, { name: 'counter', url: counter.url }],
    routes: [{ match: { headers: { 'x-to': 'counter' } }, backend: 'counter' }, { backend: 'files' }],
  }));
});

after(async () => {
  await gw?.stop();
  await files?.close();
  await counter?.close();
});

/** The first complete response on a raw connection. */
async function responseOn(conn) {
  const text = await conn.readUntil((t) => parseResponses(t).some((r) => r.complete && r.status >= 200));
  return parseResponses(text).find((r) => r.status >= 200);
}

/** The head of a raw upload of `length` bytes of `type` to the counting backend. */
const uploadHead = (length, type = 'application/octet-stream') =>
  `POST /v1/audio/transcriptions HTTP/1.1\r\nHost: gw\r\nx-to: counter\r\nContent-Type: ${type}\r\nContent-Length: ${length}\r\n\r\n`;

describe('large uploads stream through', () => {
  test('a 6 MiB file through the official client, with a 1 MiB body budget', LIMIT, async () => {
    const client = new OpenAI({ baseURL: `${gw.base}/v1`, apiKey: 'sk-client', maxRetries: 0 });
    const data = crypto.randomBytes(6 * MiB);
    const file = await client.files.create({ file: await toFile(data, 'big.bin'), purpose: 'user_data' });
    assert.equal(file.bytes, data.length);
    const back = Buffer.from(await (await client.files.content(file.id)).arrayBuffer());
    assert.ok(back.equals(data), 'the file came back byte for byte');
  });

  test('the backend has most of the body before the client has sent the rest', LIMIT, async () => {
    const total = 4 * MiB;
    const data = crypto.randomBytes(total);
    const conn = await openRaw(gw.port);
    const arriving = counter.until((seen) => seen.received >= 2 * MiB);
    conn.write(uploadHead(total));
    conn.write(data.subarray(0, 3 * MiB));
    const seen = await arriving;  // with a quarter of the body still on the client
    assert.ok(!seen.ended);
    conn.write(data.subarray(3 * MiB));
    const response = await responseOn(conn);
    assert.equal(response.status, 200, response.body);
    const answer = JSON.parse(response.body);
    assert.equal(answer.received, total);
    assert.equal(answer.sha256, crypto.createHash('sha256').update(data).digest('hex'));
    conn.close();
  });

  test('a client that stalls mid-body gets 408, and the backend request is cut', LIMIT, async () => {
    const conn = await openRaw(gw.port);
    const cut = counter.until((seen) => seen.aborted);
    conn.write(uploadHead(3 * MiB));
    conn.write(Buffer.alloc(MiB + 17));
    const response = await responseOn(conn);  // after `idle` (1 s) without a byte
    assert.equal(response.status, 408, response.body);
    assert.equal(JSON.parse(response.body).error.code, 'request_timeout');
    await cut;
    await conn.closed();
  });

  test('a client that leaves mid-body cuts the backend request, and the gateway serves on', LIMIT, async () => {
    const conn = await openRaw(gw.port);
    const progressed = counter.until((seen) => seen.received > MiB);
    conn.write(uploadHead(3 * MiB));
    conn.write(Buffer.alloc(2 * MiB));
    const seen = await progressed;
    const cut = counter.until((s) => s === seen && s.aborted);
    conn.close();
    await cut;
    const res = await fetch(`${gw.base}/v1/models`);
    assert.equal(res.status, 200);
  });

  test('a small upload is held and sent whole, as before', LIMIT, async () => {
    const conn = await openRaw(gw.port);
    const data = crypto.randomBytes(64 * 1024);
    conn.write(uploadHead(data.length));
    conn.write(data);
    const response = await responseOn(conn);
    assert.equal(response.status, 200);
    assert.equal(JSON.parse(response.body).received, data.length);
    conn.close();
  });
});
