// The response relay: bytes go to the client as the upstream framed them when the client
// takes that framing, the message ends exactly where the upstream's did, and nothing past
// that end (trailers, bytes out of turn) is ever relayed.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { jsonResponse, startRawUpstream } from '../fakes/raw_upstream.mjs';
import { chat, gatewayConfig, parseResponses, rawExchange, rawHttp, startGateway } from './harness.mjs';

const LIMIT = { timeout: 20000 };
const BODY = '{"model":"llama3","messages":[]}';
const CHUNKED_HEAD = 'HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n';

// Each answer: what the backend writes, write by write.
const ANSWERS = {
  'three-chunks': [CHUNKED_HEAD + '3\r\nabc\r\n4;ext="x"\r\ndefg\r\n', '1\r\nh\r\n0\r\n\r\n'],
  trailers: [CHUNKED_HEAD + '2\r\nok\r\n0\r\nX-Trailer: secret\r\nSet-Cookie: t=1\r\n\r\n'],
  'split-lines': [CHUNKED_HEAD + '1', '0\r\n0123456789abcdef\r', '\n0', '\r\n\r\n'],
  'extra-after-end': [CHUNKED_HEAD + '2\r\nok\r\n0\r\n\r\n' + jsonResponse({ stolen: true })],
  'bad-chunk-size': [CHUNKED_HEAD + 'zz\r\nnope\r\n0\r\n\r\n'],
  'bad-chunk-later': [CHUNKED_HEAD + '2\r\nok\r\n', 'zz\r\nnope\r\n0\r\n\r\n'],
  // A chunk of 10 bytes of which 6 came, then the close.
  'cut-mid-chunk': [CHUNKED_HEAD + 'a\r\ndata: ', null],
  'close-delimited': ['HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nfirst ', 'second', null],
};

let up;
let gw;
before(async () => {
  up = await startRawUpstream(async (req, socket) => {
    const answer = ANSWERS[req.headers['x-answer']];
    if (!answer) return void socket.write(jsonResponse({ for: req.headers['x-test-id'] ?? '' }));
    for (const piece of answer) {
      if (piece === null) socket.end();
      else socket.write(piece);
      await delay(20);
    }
  });
  gw = await startGateway(gatewayConfig({ workers: 1, backends: [{ name: 'b', url: up.url }] }));
});
after(async () => {
  await gw?.stop();
  await up?.close();
});

function post(answer, version = '1.1') {
  return rawHttp(`POST /v1/chat/completions HTTP/${version}`, ['Host: gw', 'Content-Type: application/json',
    `Content-Length: ${BODY.length}`, `x-answer: ${answer}`], BODY);
}

describe('chunked bodies pass through as the backend framed them', () => {
  test('chunk sizes and extensions reach an HTTP/1.1 client unchanged', LIMIT, async () => {
    const { response, text, conn } = await rawExchange(gw.port, post('three-chunks'));
    conn.close();
    assert.equal(response.status, 200);
    assert.equal(response.body, 'abcdefgh');
    assert.ok(text.endsWith('\r\n\r\n3\r\nabc\r\n4;ext="x"\r\ndefg\r\n1\r\nh\r\n0\r\n\r\n'), text);
  });

  test('chunk-size lines and CRLFs cut across reads are put back together', LIMIT, async () => {
    const { response, conn } = await rawExchange(gw.port, post('split-lines'));
    conn.close();
    assert.equal(response.status, 200);
    assert.equal(response.body, '0123456789abcdef');
    assert.ok(response.complete);
  });

  test('trailers end the body but are never relayed', LIMIT, async () => {
    const { response, text, conn } = await rawExchange(gw.port, post('trailers'));
    conn.close();
    assert.equal(response.body, 'ok');
    assert.ok(response.complete);
    assert.doesNotMatch(text, /X-Trailer|secret|Set-Cookie/);
  });

  test('bytes after the end of the message are not relayed, and that connection is not reused', LIMIT, async () => {
    const { response, text, conn } = await rawExchange(gw.port, post('extra-after-end'));
    assert.equal(response.body, 'ok');
    assert.doesNotMatch(text, /stolen/);
    conn.close();
    const next = await chat(gw.base, { headers: { 'x-test-id': 'next' } });
    assert.equal(next.json.for, 'next');
    const used = (r) => r.connection;
    const outOfTurn = up.requests.findLast((r) => r.headers['x-answer'] === 'extra-after-end');
    const after = up.requests.findLast((r) => r.headers['x-test-id'] === 'next');
    assert.notEqual(used(after), used(outOfTurn), 'the connection with bytes out of turn was reused');
  });

  test('a malformed chunk right behind the head is a 502', LIMIT, async () => {
    const { response, conn } = await rawExchange(gw.port, post('bad-chunk-size'));
    conn.close();
    assert.equal(response.status, 502);
    assert.equal(JSON.parse(response.body).error.code, 'upstream_error');
  });

  test('a malformed chunk later cuts the response: an SSE error event, no last chunk, a reset', LIMIT, async () => {
    const conn = await rawExchange(gw.port, post('bad-chunk-later')).then((r) => r.conn);
    const { text, closedByServer } = await conn.closed();
    const [response] = parseResponses(text);
    assert.equal(response.status, 200);
    const [relayed, event] = response.body.split('\n\ndata: ');
    assert.equal(relayed, 'ok');
    assert.equal(JSON.parse(event).error.code, 'upstream_error');
    assert.equal(response.complete, false);
    assert.ok(closedByServer, 'the gateway kept the cut connection open');
    assert.doesNotMatch(text, /nope/);
  });
});

describe('an event stream cut mid-chunk', () => {
  test('the open chunk is completed with newlines, then the error event in a chunk of its own', LIMIT, async () => {
    const conn = await rawExchange(gw.port, post('cut-mid-chunk')).then((r) => r.conn);
    const { text } = await conn.closed();
    const [response] = parseResponses(text);
    assert.equal(response.complete, false);
    assert.ok(response.body.startsWith('data: \n\n\n\n\n\ndata: '), JSON.stringify(response.body));
    const event = response.body.slice('data: \n\n\n\n\n\ndata: '.length);
    assert.equal(JSON.parse(event).error.code, 'upstream_error');
    assert.ok(text.includes('a\r\ndata: \n\n\n\n\r\n'), 'the cut chunk was not completed to its size');
  });
});

describe('other framings', () => {
  test('an HTTP/1.0 client gets the chunk data without the framing, ended by the close', LIMIT, async () => {
    const socket = net.connect(gw.port, '127.0.0.1');
    await once(socket, 'connect');
    socket.write(post('three-chunks', '1.0'));
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (d) => (text += d));
    await new Promise((resolve) => socket.once('close', resolve));
    const body = text.slice(text.indexOf('\r\n\r\n') + 4);
    assert.match(text, /^HTTP\/1\.1 200/);
    assert.doesNotMatch(text, /transfer-encoding/i);
    assert.equal(body, 'abcdefgh');
  });

  test('a close-delimited body reaches an HTTP/1.1 client chunked and complete', LIMIT, async () => {
    const { response, conn } = await rawExchange(gw.port, post('close-delimited'));
    conn.close();
    assert.equal(response.status, 200);
    assert.equal(response.headers['transfer-encoding'], 'chunked');
    assert.equal(response.body, 'first second');
    assert.ok(response.complete);
  });
});
