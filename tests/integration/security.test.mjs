// What a hostile client or a hostile backend could do to the gateway, one regression test
// per hole found by probing it: request-line injection through an Azure deployment name,
// a backend's bytes sent out of turn reaching the next client, a POST run twice, request
// bodies exhausting memory, slow uploads cut, a cut response that looks whole, upstream
// framing relayed wrongly, a client that leaves unnoticed, and the small ones.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { startFakeUpstream } from '../fakes/fake_upstream.mjs';
import { jsonResponse, startRawUpstream } from '../fakes/raw_upstream.mjs';
import {
  assertOpenAiError,
  chat,
  gatewayConfig,
  newTestId,
  openRaw,
  parseResponses,
  rawExchange,
  rawHttp,
  request,
  startGateway,
} from './harness.mjs';

const LIMIT = { timeout: 20000 };
const BODY = '{"model":"llama3","messages":[]}';

/** Raw bytes of a POST of `body` to `path`, with extra header lines. */
function post(path, body, headers = []) {
  return rawHttp(`POST ${path} HTTP/1.1`, ['Host: gw', 'Content-Type: application/json',
    `Content-Length: ${Buffer.byteLength(body)}`, ...headers], body);
}

describe('1. nothing from a client reaches an upstream request line unvalidated', () => {
  let up;
  let gw;
  before(async () => {
    up = await startRawUpstream((req, socket) => socket.write(jsonResponse({ target: req.target })));
    gw = await startGateway(gatewayConfig({
      workers: 1,
      backends: [{
        name: 'azure', url: `http://127.0.0.1:${up.port}`, schema: 'azure-openai',
        api_version: '2024-10-21', api_key: 'azure-secret-key-1234',
      }],
    }));
  });
  after(async () => {
    await gw?.stop();
    await up?.close();
  });

  const HOSTILE_MODELS = {
    'CR LF in the model (a second request carrying the key)':
      'x/chat/completions HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\nGET /openai/anything',
    'a path walk and a fragment': '../../../admin/x#',
    'a slash': 'a/b',
    'a query': 'x?api-version=evil',
    'a space': 'gpt 4o',
    'a percent escape': 'x%2f..',
    'dot-dot alone': '..',
  };
  for (const [name, model] of Object.entries(HOSTILE_MODELS)) {
    test(`an Azure deployment from the body's model: ${name} is refused`, LIMIT, async () => {
      const before = up.requests.length;
      const res = await chat(gw.base, { model });
      const error = assertOpenAiError(res, 400);
      assert.equal(error.code, 'invalid_model');
      assert.doesNotMatch(res.text, /azure-secret-key/);
      assert.equal(up.requests.length, before, 'a request reached the backend');
    });
  }

  test('a long refused model is quoted back cut short, not whole', LIMIT, async () => {
    const res = await chat(gw.base, { model: `a/${'m'.repeat(100 * 1024)}` });
    const error = assertOpenAiError(res, 400);
    assert.ok(res.text.length < 1024, `a ${res.text.length}-byte error for a long model`);
    assert.match(error.message, /"a\/m+\.\.\." is not a deployment name/);
  });

  test('an Azure deployment from the x-ai-eg-model header is refused the same way', LIMIT, async () => {
    const before = up.requests.length;
    const res = await request(gw.base, '/v1/chat/completions', {
      headers: { 'x-ai-eg-model': '../../admin' },
      body: { messages: [] },
    });
    assert.equal(assertOpenAiError(res, 400).code, 'invalid_model');
    assert.equal(up.requests.length, before);
  });

  test('a plain deployment name still reaches its deployment path', LIMIT, async () => {
    const res = await chat(gw.base, { model: 'gpt-4o-mini_2024.07:x~1' });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.target, '/openai/deployments/gpt-4o-mini_2024.07:x~1/chat/completions?api-version=2024-10-21');
  });

  test('a request target with a fragment is refused and nothing is forwarded', LIMIT, async () => {
    const before = up.requests.length;
    const { response, conn } = await rawExchange(gw.port, post('/v1/chat/completions?a=b#x', '{"model":"m"}'));
    conn.close();
    assert.equal(response.status, 400);
    assert.equal(up.requests.length, before);
  });
});

describe('2. a backend\'s bytes sent out of turn never reach another client', () => {
  test('a late extra response on an idle pooled connection closes it; the next client gets its own answer', LIMIT, async () => {
    const up = await startRawUpstream(async (req, socket) => {
      socket.write(jsonResponse({ for: req.headers['x-test-id'] }));
      if (req.index === 0 && req.connection === 1) {
        await delay(50);
        socket.write(jsonResponse({ for: 'stolen' }));
      }
    });
    const gw = await startGateway(gatewayConfig({ workers: 1, backends: [{ name: 'b', url: up.url }] }));
    try {
      const first = await chat(gw.base, { headers: { 'x-test-id': 'first' } });
      assert.equal(first.json.for, 'first');
      // The gateway closes the idle connection once the extra response arrives.
      await Promise.race([up.waitClose(1), delay(3000)]);
      const second = await chat(gw.base, { headers: { 'x-test-id': 'second' } });
      assert.equal(second.status, 200, second.text);
      assert.equal(second.json.for, 'second', 'the second client got the late response meant for nobody');
      assert.equal(up.requests.at(-1).connection, 2, 'the connection that sent bytes out of turn was reused');
    } finally {
      await gw.stop();
      await up.close();
    }
  });

  test('bytes right behind a response, in the same read, keep the connection out of the pool', LIMIT, async () => {
    const up = await startRawUpstream((req, socket) => {
      socket.write(jsonResponse({ for: req.headers['x-test-id'] }) + jsonResponse({ for: 'stolen' }));
    });
    const gw = await startGateway(gatewayConfig({ workers: 1, backends: [{ name: 'b', url: up.url }] }));
    try {
      for (const id of ['one', 'two', 'three']) {
        const res = await chat(gw.base, { headers: { 'x-test-id': id } });
        assert.equal(res.json.for, id);
      }
      assert.equal(up.connections, 3);
    } finally {
      await gw.stop();
      await up.close();
    }
  });

  test('a 101 Switching Protocols to a plain request is a 502 and the connection is not kept', LIMIT, async () => {
    const up = await startRawUpstream((req, socket) => {
      if (req.headers['x-test-id'] === 'switch') {
        socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
        socket.write(jsonResponse({ for: 'stolen' }));
      } else {
        socket.write(jsonResponse({ for: req.headers['x-test-id'] }));
      }
    });
    const gw = await startGateway(gatewayConfig({ workers: 1, backends: [{ name: 'b', url: up.url }] }));
    try {
      const res = await chat(gw.base, { headers: { 'x-test-id': 'switch' } });
      assertOpenAiError(res, 502);
      const next = await chat(gw.base, { headers: { 'x-test-id': 'next' } });
      assert.equal(next.json.for, 'next');
      assert.equal(up.requests.at(-1).connection, 2);
    } finally {
      await gw.stop();
      await up.close();
    }
  });
});

describe('3. a request the backend may have acted on is never sent twice', () => {
  // The first request on a connection is answered; the second is read, "worked on" for
  // 100 ms, and the connection closed without an answer (a FIN, or a reset).
  async function backendThatDiesAfterReading(how) {
    return startRawUpstream(async (req, socket) => {
      if (req.index === 0) {
        socket.write(jsonResponse({ ok: true }));
        return;
      }
      await delay(100);
      if (how === 'reset') socket.resetAndDestroy();
      else socket.end();
    });
  }

  for (const how of ['fin', 'reset']) {
    test(`a POST whose pooled connection closes (${how}) after the backend read it: 502, sent once`, LIMIT, async () => {
      const up = await backendThatDiesAfterReading(how);
      const gw = await startGateway(gatewayConfig({ workers: 1, backends: [{ name: 'b', url: up.url }] }));
      try {
        assert.equal((await chat(gw.base)).status, 200);
        const res = await chat(gw.base, { headers: { 'x-test-id': 'once' } });
        assertOpenAiError(res, 502);
        const sent = up.requests.filter((r) => r.headers['x-test-id'] === 'once');
        assert.equal(sent.length, 1, 'the POST was sent to the backend again');
      } finally {
        await gw.stop();
        await up.close();
      }
    });
  }

  test('a GET is sent again on a fresh connection (it changes nothing)', LIMIT, async () => {
    const up = await backendThatDiesAfterReading('fin');
    const gw = await startGateway(gatewayConfig({ workers: 1, backends: [{ name: 'b', url: up.url }] }));
    try {
      assert.equal((await request(gw.base, '/v1/responses/r1')).status, 200);
      const res = await request(gw.base, '/v1/responses/r1');
      assert.equal(res.status, 200, res.text);
      assert.equal(up.requests.length, 3);
      assert.equal(up.requests[2].connection, 2);
    } finally {
      await gw.stop();
      await up.close();
    }
  });
});

describe('4. request bodies cannot exhaust memory, nor connections the process', () => {
  let fake;
  before(async () => {
    fake = await startFakeUpstream();
  });
  after(async () => {
    await fake?.close();
  });

  /** Opens a raw connection, sends a head declaring `length` bytes with Expect: 100-continue. */
  async function declare(port, length) {
    const conn = await openRaw(port);
    await conn.write(rawHttp('POST /v1/chat/completions HTTP/1.1',
      ['Host: gw', 'Content-Type: application/json', `Content-Length: ${length}`, 'Expect: 100-continue']));
    return conn;
  }

  test('a declared body that would pass max_buffered_request_bytes gets 503 with Retry-After; others carry on', LIMIT, async () => {
    const gw = await startGateway(gatewayConfig({
      workers: 2,
      limits: { max_request_body: '4MiB', max_request_headers: '8KiB', max_buffered_request_bytes: '4MiB' },
      backends: [{ name: 'b', url: fake.url }],
    }));
    try {
      // A holds 3 MiB of the budget (reserved once its head is read: it is told to go on).
      const bigBody = JSON.stringify({ model: 'llama3', messages: [], pad: 'x'.repeat(3 * 1024 * 1024 - 40) });
      const a = await declare(gw.port, Buffer.byteLength(bigBody));
      await a.readUntil((t) => t.includes('100 Continue'));
      // B's 2 MiB does not fit next to it.
      const b = await declare(gw.port, 2 * 1024 * 1024);
      const text = await b.readUntil((t) => parseResponses(t).some((r) => r.status >= 200 && r.complete));
      const refused = parseResponses(text).find((r) => r.status >= 200);
      assert.equal(refused.status, 503);
      assert.equal(refused.headers['retry-after'], '1');
      assert.equal(JSON.parse(refused.body).error.code, 'overloaded');
      b.close();
      // A small request still goes through, and so does A once it sends its body.
      const small = await chat(gw.base);
      assert.equal(small.status, 200, small.text);
      await a.write(bigBody);
      const aText = await a.readUntil((t) => parseResponses(t).some((r) => r.status >= 200 && r.complete));
      assert.equal(parseResponses(aText).find((r) => r.status >= 200).status, 200);
      a.close();
      // With A done its budget is back: a 2 MiB body fits now (A's session gives it back
      // just after its answer has left, so the first try may still come too soon).
      const fits = JSON.stringify({ model: 'llama3', messages: [], pad: 'y'.repeat(2 * 1024 * 1024 - 40) });
      let status;
      for (let i = 0; i < 50 && status !== 200; ++i) {
        status = (await request(gw.base, '/v1/chat/completions', { body: fits,
          headers: { 'content-type': 'application/json' } })).status;
        if (status !== 200) await delay(20);
      }
      assert.equal(status, 200);
    } finally {
      await gw.stop();
    }
  });

  test('a chunked body that grows past the budget gets 503', LIMIT, async () => {
    const gw = await startGateway(gatewayConfig({
      workers: 1,
      limits: { max_request_body: '8MiB', max_request_headers: '8KiB', max_buffered_request_bytes: '1MiB' },
      backends: [{ name: 'b', url: fake.url }],
    }));
    try {
      const conn = await openRaw(gw.port);
      conn.write(rawHttp('POST /v1/chat/completions HTTP/1.1',
        ['Host: gw', 'Content-Type: application/json', 'Transfer-Encoding: chunked'])).catch(() => {});
      const piece = 'z'.repeat(64 * 1024);
      for (let i = 0; i < 40 && !conn.text.includes('HTTP/1.1 503'); ++i)
        await conn.write(`${piece.length.toString(16)}\r\n${piece}\r\n`).catch(() => {});
      const text = await conn.readUntil((t) => parseResponses(t)[0]?.complete);
      assert.equal(parseResponses(text)[0].status, 503);
      conn.close();
      assert.equal((await chat(gw.base)).status, 200);
    } finally {
      await gw.stop();
    }
  });

  test('connections over max_connections get 503 and a close, and are counted', LIMIT, async () => {
    const gw = await startGateway(gatewayConfig({
      workers: 2,
      limits: { max_request_body: '1MiB', max_request_headers: '8KiB', max_connections: 3 },
      backends: [{ name: 'b', url: fake.url }],
    }));
    const held = [];
    try {
      for (let i = 0; i < 3; ++i) {
        const { conn, response } = await rawExchange(gw.port, post('/v1/chat/completions', BODY));
        assert.equal(response.status, 200);
        held.push(conn);
      }
      const { conn, response } = await rawExchange(gw.port, post('/v1/chat/completions', BODY));
      assert.equal(response.status, 503);
      assert.equal(response.headers['retry-after'], '1');
      assert.equal(JSON.parse(response.body).error.code, 'overloaded');
      await conn.closed();
      assert.ok(conn.closedByServer);
      await gw.waitForStderr(/refusing connections: limits\.max_connections \(3\) reached, 1 refused so far/);
      // A slot that frees up is taken again.
      held.pop().close();
      let status;
      for (let i = 0; i < 100 && status !== 200; ++i) {
        const again = await rawExchange(gw.port, post('/v1/chat/completions', BODY));
        status = again.response?.status;
        again.conn.close();
        if (status !== 200) await delay(20);
      }
      assert.equal(status, 200);
    } finally {
      for (const c of held) c.close();
      await gw.stop();
    }
  });

  // Under the sanitizers this one is skipped: UBSan's vptr check needs descriptors of its own
  // to read the memory it checks, and out of them it reports Boost's error categories as
  // objects with an invalid vptr (a false positive of the sanitizer that no suppression can
  // name, the type being unreadable). The optimised build runs it.
  test('out of file descriptors: accept backs off and says so once per interval, then recovers',
    { timeout: 30000, skip: process.env.AIGW_SANITIZED === '1' && 'the sanitizers need descriptors too' }, async () => {
    // prlimit (util-linux) lowers the gateway's own descriptor limit, soft and hard.
    const gw = await startGateway(gatewayConfig({ workers: 1, backends: [{ name: 'b', url: fake.url }] }),
      { wrap: ['prlimit', '--nofile=24:24', '--'] });
    const sockets = [];
    try {
      for (let i = 0; i < 40; ++i) {
        const s = net.connect(gw.port, '127.0.0.1');
        s.on('error', () => {});
        sockets.push(s);
      }
      await gw.waitForStderr(/accept failed/);
      await delay(1500); // a second and a half of failing accepts: with a retry every 50 ms, 30 lines
      const lines = gw.stderr().split('\n').filter((l) => l.includes('accept failed'));
      assert.equal(lines.length, 1, lines.join('\n'));
      for (const s of sockets) s.destroy();
      let status;
      for (let i = 0; i < 100 && status !== 200; ++i) {
        status = (await chat(gw.base).catch(() => ({}))).status;
        if (status !== 200) await delay(50);
      }
      assert.equal(status, 200);
    } finally {
      for (const s of sockets) s.destroy();
      await gw.stop();
    }
  });
});

describe('5-9. deadlines, resets, framing, the client watch and the small ones', () => {
  let fake;
  let up;
  let gw;
  let upGw;
  before(async () => {
    fake = await startFakeUpstream();
    gw = await startGateway(gatewayConfig({
      workers: 1,
      timeouts: { connect: '2s', first_byte: '60s', idle: '500ms', client_header: '30s' },
      backends: [{ name: 'b', url: fake.url }],
    }));
    up = await startRawUpstream(async (req, socket) => {
      const answer = RAW_ANSWERS[req.headers['x-answer']] ?? jsonResponse({ ok: 1 });
      if (typeof answer === 'function') await answer(socket);
      else socket.write(answer);
    });
    upGw = await startGateway(gatewayConfig({ workers: 1, backends: [{ name: 'raw', url: up.url }] }));
  });
  after(async () => {
    await gw?.stop();
    await upGw?.stop();
    await fake?.close();
    await up?.close();
  });

  test('5. idle is the longest pause between body reads: a slow upload that keeps sending is not cut', LIMIT, async () => {
    const body = JSON.stringify({ model: 'llama3', messages: [], pad: 'p'.repeat(1900) });
    const conn = await openRaw(gw.port);
    await conn.write(rawHttp('POST /v1/chat/completions HTTP/1.1',
      ['Host: gw', 'Content-Type: application/json', `Content-Length: ${body.length}`]));
    // 100 bytes every 100 ms: two seconds in all, four times `idle`.
    for (let at = 0; at < body.length; at += 100) {
      await conn.write(body.slice(at, at + 100));
      await delay(100);
    }
    const text = await conn.readUntil((t) => parseResponses(t)[0]?.complete);
    assert.equal(parseResponses(text)[0].status, 200);
    conn.close();
  });

  test('5. an upload that stalls longer than idle gets 408', LIMIT, async () => {
    const conn = await openRaw(gw.port);
    await conn.write(rawHttp('POST /v1/chat/completions HTTP/1.1',
      ['Host: gw', 'Content-Type: application/json', `Content-Length: ${BODY.length}`]) + BODY.slice(0, 10));
    const text = await conn.readUntil((t) => parseResponses(t)[0]?.complete);
    assert.equal(parseResponses(text)[0].status, 408);
    conn.close();
  });

  test('6. a close-delimited response cut by the backend ends with a reset, not a clean close', LIMIT, async () => {
    const socket = net.connect(upGw.port, '127.0.0.1');
    await once(socket, 'connect');
    socket.write(rawHttp('POST /v1/chat/completions HTTP/1.0',
      ['Host: gw', 'Content-Type: application/json', `Content-Length: ${BODY.length}`, 'x-answer: cut'], BODY));
    let text = '';
    let cleanEnd = false;
    socket.on('data', (d) => (text += d));
    socket.on('end', () => (cleanEnd = true));
    const [error] = await once(socket, 'error').catch((e) => [e]);
    assert.equal(error.code, 'ECONNRESET');
    assert.match(text, /^HTTP\/1\.1 200/);
    assert.equal(cleanEnd, false, 'the cut body ended with a FIN: it looks complete');
  });

  const RAW_ANSWERS = {
    // Part of a body, then a reset. The pause lets the client read the part first: libuv
    // reports a reset that arrives together with data as a clean end. (Not an event stream:
    // a cut one ends with the gateway's error event, resilience.test.mjs.)
    cut: async (socket) => {
      socket.write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n7\r\ndata: 1\r\n');
      await delay(100);
      socket.resetAndDestroy();
    },
    'gzip-chunked': 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n',
    'two-codings': 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n',
    'status-000': 'HTTP/1.1 000 Zero\r\nContent-Length: 2\r\n\r\nhi',
    'status-099': 'HTTP/1.1 099 Low\r\nContent-Length: 2\r\n\r\nhi',
    'status-700': 'HTTP/1.1 700 High\r\nContent-Length: 2\r\n\r\nhi',
    'no-reason': 'HTTP/1.1 418\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"tea":"y"}',
    'set-cookie': 'HTTP/1.1 200 OK\r\nSet-Cookie: __cf_bm=abc; path=/\r\nX-Kept: yes\r\nContent-Length: 2\r\n\r\n{}',
  };
  for (const answer of ['gzip-chunked', 'two-codings', 'status-000', 'status-099', 'status-700']) {
    test(`7. upstream framing the gateway refuses: ${answer} is a 502`, LIMIT, async () => {
      const { response, conn } = await rawExchange(upGw.port, post('/v1/chat/completions', BODY, [`x-answer: ${answer}`]));
      conn.close();
      assert.equal(response.status, 502);
      assert.equal(JSON.parse(response.body).error.code, 'upstream_error');
    });
  }

  test('7. a status line without a reason phrase is valid HTTP and relayed', LIMIT, async () => {
    const res = await chat(upGw.base, { headers: { 'x-answer': 'no-reason' } });
    assert.equal(res.status, 418, res.text);
    assert.deepEqual(res.json, { tea: 'y' });
  });

  test('8. a client that pipelines a byte and then leaves is noticed at once (499, upstream closed)', LIMIT, async () => {
    const id = newTestId();
    const conn = await openRaw(gw.port);
    await conn.write(post('/v1/chat/completions', BODY, ['x-fake-mode: slow', 'x-fake-delay-ms: 15000', `x-test-id: ${id}`]));
    const upstream = await fake.waitForRequest((r) => r.headers['x-test-id'] === id);
    const from = gw.stderr().length;
    await conn.write('G');
    conn.socket.end();
    await gw.waitForAccess((e) => e.status === 499, { from });
    await fake.waitSocketClose(upstream.socketId);
  });

  test('9. the error for a model id that is not UTF-8 is valid JSON', LIMIT, async () => {
    // Sent as bytes (a string would go out as UTF-8, valid again).
    const { response, conn } = await rawExchange(gw.port,
      Buffer.from(rawHttp('GET /v1/models/\xff\xfe\xc0\xaf HTTP/1.1', ['Host: gw']), 'latin1'));
    conn.close();
    assert.equal(response.status, 404);
    // JSON text is UTF-8 (RFC 8259): decoded strictly, not with replacement characters.
    const text = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(response.body, 'latin1'));
    const body = JSON.parse(text);
    assert.equal(body.error.code, 'model_not_found');
  });

  test('9. the access log cuts every client value to 128 bytes, the method included', LIMIT, async () => {
    const from = gw.stderr().length;
    const method = 'M'.repeat(300);
    const { conn } = await rawExchange(gw.port, rawHttp(`${method} /nope HTTP/1.1`, ['Host: gw']));
    conn.close();
    const entry = await gw.waitForAccess((e) => e.path === '/nope', { from });
    assert.equal(entry.method, 'M'.repeat(128));
  });

  test('9. an error while reading the head keeps the method and path in the log', LIMIT, async () => {
    const from = gw.stderr().length;
    const { response, conn } = await rawExchange(gw.port,
      rawHttp('POST /v1/chat/completions HTTP/1.1', ['Host: gw', `X-Big: ${'b'.repeat(10000)}`]));
    conn.close();
    assert.equal(response.status, 431);
    await gw.waitForAccess((e) => e.method === 'POST' && e.path === '/v1/chat/completions' && e.status === 431, { from });
  });

  test('cookies and the client\'s forwarding chain are not sent to the backend; Set-Cookie is not relayed', LIMIT, async () => {
    const res = await chat(gw.base, {
      headers: {
        cookie: 'session=secret', forwarded: 'for=10.0.0.7', 'x-forwarded-for': '10.0.0.7',
        'x-forwarded-host': 'internal', 'x-forwarded-proto': 'http', 'x-real-ip': '10.0.0.7', via: '1.1 corp-proxy',
        'x-kept': 'yes',
      },
    });
    const sent = res.json.echo.headers;
    for (const name of ['cookie', 'forwarded', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto', 'x-real-ip', 'via'])
      assert.equal(sent[name], undefined, `${name} reached the backend`);
    assert.equal(sent['x-kept'], 'yes');
    const answer = await chat(upGw.base, { headers: { 'x-answer': 'set-cookie' } });
    assert.equal(answer.headers['set-cookie'], undefined);
    assert.equal(answer.headers['x-kept'], 'yes');
  });

  for (const path of ['/v1/images/..;/admin', '/v1/images/x;y', '/v1/images/..%252f..%252fadmin']) {
    test(`path tricks: ${path} is 404 and never forwarded`, LIMIT, async () => {
      const before = fake.requests.length;
      const res = await request(gw.base, path, { body: BODY, headers: { 'content-type': 'application/json' } });
      assertOpenAiError(res, 404);
      assert.equal(fake.requests.length, before);
    });
  }
});
