// A fake OpenAI-compatible upstream for the gateway's integration and e2e tests.
//
// Each request picks its own behaviour through `x-fake-*` request headers, so one
// fake serves every scenario of a test file and the gateway only has to forward
// headers it does not know (which it must do anyway):
//
//   x-fake-mode       json (default) | sse | sse-gated | close-delimited | slow |
//                     reset | chunked-json
//   x-fake-status     status code of a json answer (default 200)
//   x-fake-chunks     number of SSE chunks (default 3)
//   x-fake-no-usage   1: ignore stream_options.include_usage (a backend without it)
//   x-fake-created    the chunks' "created" (default: now), for byte comparisons
//   x-fake-delay-ms   pause between SSE chunks (default 0), or before the answer
//                     in slow mode (default 10000)
//   x-fake-retry-after  a json answer's Retry-After header
//   x-fake-ratelimit-reset  a json answer's x-ratelimit-reset-requests header ("1s", "20ms")
//   x-fake-reset-after  sse: reset the connection (RST) after this many events
//   x-fake-stall-after  sse: send nothing more after this many events (the stream stays open)
//   x-fake-error-after  sse: after this many events, an error event (data: {"error":...}), the end
//   x-fake-tool-calls   sse: 1: the deltas are tool-call arguments, not content
//   x-fake-pad        a json answer's body padded with this many more bytes
//   x-fake-mode: json-stall  a json answer's head and half its body, then nothing
//
// A fake also has `defaults`: headers a request is taken to carry when it does not, so
// that one fake of several behind a route can fail while the others answer
// (`fake.defaults['x-fake-status'] = '500'`).
// JSON answers carry an `echo` field describing the request exactly as it arrived
// here, so tests can assert on what the gateway sent upstream.

import http from 'node:http';
import https from 'node:https';
import { EventEmitter, once } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';

const FAKE_CONTENT = 'hello from fake';
const FAKE_EMBEDDING = [0.1, 0.2, 0.3];

/**
 * Starts the fake on 127.0.0.1 with an ephemeral port.
 * @param {{ tls?: { key: string, cert: string }, keepAliveTimeoutMs?: number, port?: number }} [options]
 *   tls: PEM key and cert: serve HTTPS. keepAliveTimeoutMs: close idle keep-alive
 *   connections after this long, as real servers do (default: never). port: listen on this
 *   one (a restarted backend), default any free port.
 */
export async function startFakeUpstream({ tls, keepAliveTimeoutMs = 0, port: listenPort = 0 } = {}) {
  const events = new EventEmitter();
  const requests = [];
  const gate = new Gate();
  const openSockets = new Map(); // id -> socket
  const closedSocketIds = new Set();
  let connections = 0;
  let nextRequestId = 1;
  const defaults = {};

  const handle = async (req, res) => {
    for (const [name, value] of Object.entries(defaults)) if (!(name in req.headers)) req.headers[name] = value;
    const rawBody = await readBody(req);
    const recorded = recordRequest(req, rawBody, nextRequestId++);
    for (const [name, value] of Object.entries(defaults)) if (!(name in recorded.headers)) recorded.headers[name] = value;
    requests.push(recorded);
    events.emit('request', recorded);
    await respond(req, res, recorded, gate);
  };
  // The peer (the gateway) going away mid-request or mid-answer is a normal test
  // scenario, not a failure of the fake.
  const onRequest = (req, res) => {
    handle(req, res).catch(() => req.socket.destroy());
  };

  const server = tls
    ? https.createServer({ key: tls.key, cert: tls.cert }, onRequest)
    : http.createServer(onRequest);
  // Let the gateway keep pooled connections open for as long as a test runs, so
  // pool reuse is observable and never broken by our own idle timer.
  server.keepAliveTimeout = keepAliveTimeoutMs;
  server.requestTimeout = 0;
  server.headersTimeout = 0;

  // 'connection' is the raw TCP socket for both http and https servers, so the
  // counters and close events below are about TCP connections in both cases.
  server.on('connection', (socket) => {
    const id = ++connections;
    socket.fakeSocketId = id;
    openSockets.set(id, socket);
    socket.on('close', () => {
      openSockets.delete(id);
      closedSocketIds.add(id);
      events.emit('socket-close', id);
    });
  });
  // A failed TLS handshake (the gateway rejecting our certificate) is expected in
  // some tests; keep it from surfacing as an unhandled error.
  server.on('tlsClientError', () => {});
  server.on('clientError', (_err, socket) => socket.destroy());

  server.listen(listenPort, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  const origin = `${tls ? 'https' : 'http'}://127.0.0.1:${port}`;

  return {
    port,
    origin,
    url: `${origin}/v1`,
    requests,
    events,
    defaults,
    /** Number of TCP connections accepted so far. */
    get connections() {
      return connections;
    },
    /** Lets one held-back chunk of an sse-gated stream go (or pre-authorizes the next). */
    release() {
      gate.release();
    },
    /** Resolves with the first recorded request (past or future) that satisfies `predicate`. */
    waitForRequest(predicate) {
      const found = requests.find(predicate);
      if (found) return Promise.resolve(found);
      return new Promise((resolve) => {
        const listener = (r) => {
          if (!predicate(r)) return;
          events.off('request', listener);
          resolve(r);
        };
        events.on('request', listener);
      });
    },
    /** Resolves once the TCP connection with this id is closed (at once if it already is). */
    waitSocketClose(socketId) {
      if (closedSocketIds.has(socketId)) return Promise.resolve(socketId);
      return new Promise((resolve) => {
        const listener = (id) => {
          if (id !== socketId) return;
          events.off('socket-close', listener);
          resolve(id);
        };
        events.on('socket-close', listener);
      });
    },
    async close() {
      const closed = new Promise((resolve) => server.close(resolve));
      for (const socket of openSockets.values()) socket.destroy();
      await closed;
    },
  };
}

// ---------------------------------------------------------------------------
// Request recording

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function recordRequest(req, rawBody, id) {
  return {
    id,
    socketId: req.socket.fakeSocketId ?? req.socket._parent?.fakeSocketId,
    method: req.method,
    path: req.url,
    headers: headersAsReceived(req.rawHeaders),
    rawHeaders: [...req.rawHeaders],
    body: rawBody.toString('utf8'),
    rawBody,
  };
}

// Node's req.headers silently drops repeats of some headers (Authorization, Host,
// Content-Length, ...). A test that checks the gateway replaced a credential must
// see a duplicate if the gateway sent one, so rebuild from the raw list instead:
// lower-case names, repeated values joined with ", ".
function headersAsReceived(rawHeaders) {
  const headers = {};
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i].toLowerCase();
    const value = rawHeaders[i + 1];
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  }
  return headers;
}

function echoOf(recorded) {
  const { method, path, headers, body } = recorded;
  return { method, path, headers, body };
}

function requestJson(recorded) {
  try {
    const parsed = JSON.parse(recorded.body);
    return parsed && typeof parsed === 'object' ? parsed : {};
  } catch {
    return {};
  }
}

function intHeader(req, name, fallback) {
  const value = req.headers[name];
  if (value === undefined) return fallback;
  const n = Number.parseInt(value, 10);
  return Number.isFinite(n) ? n : fallback;
}

// ---------------------------------------------------------------------------
// Answers

const MODES = {
  json: answerJson,
  sse: (req, res, recorded) => answerSse(req, res, recorded, { gated: false }),
  'sse-gated': (req, res, recorded, gate) => answerSse(req, res, recorded, { gated: true, gate }),
  'close-delimited': answerCloseDelimited,
  slow: answerSlow,
  reset: answerReset,
  'chunked-json': answerChunkedJson,
  'json-stall': async (req, res, recorded) => {
    const body = JSON.stringify(jsonBody(recorded, 200));
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    await write(res, body.slice(0, body.length >> 1));
    await new Promise((resolve) => res.on('close', resolve));
  },
  // A 103 Early Hints interim response, then the JSON answer.
  'early-hints': (req, res, recorded) => {
    res.writeEarlyHints({ link: '</style.css>; rel=preload; as=style' });
    return answerJson(req, res, recorded);
  },
};

function respond(req, res, recorded, gate) {
  const mode = req.headers['x-fake-mode'] ?? 'json';
  const handler = MODES[mode];
  if (!handler) {
    const body = JSON.stringify({ error: { message: `fake: unknown x-fake-mode ${mode}` } });
    res.writeHead(500, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
    return;
  }
  return handler(req, res, recorded, gate);
}

/** The JSON body a `json` answer carries for this request and status. */
function jsonBody(recorded, status) {
  const model = requestJson(recorded).model ?? null;
  const echo = echoOf(recorded);
  if (status >= 400) {
    return {
      error: { message: `fake upstream error ${status}`, type: 'fake_error', param: null, code: `fake_${status}` },
      echo,
    };
  }
  if (recorded.path.split('?')[0].endsWith('/embeddings')) return embeddingsBody(recorded, model, echo);
  return {
    id: `chatcmpl-fake-${recorded.id}`,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: FAKE_CONTENT },
        finish_reason: 'stop',
      },
    ],
    usage: { prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 },
    echo,
  };
}

function embeddingsBody(recorded, model, echo) {
  // The official SDK asks for base64 unless told otherwise and decodes it as
  // little-endian float32, so honour encoding_format like the real API does.
  const wantsBase64 = requestJson(recorded).encoding_format === 'base64';
  const embedding = wantsBase64
    ? Buffer.from(new Float32Array(FAKE_EMBEDDING).buffer).toString('base64')
    : FAKE_EMBEDDING;
  return {
    object: 'list',
    data: [{ object: 'embedding', index: 0, embedding }],
    model,
    usage: { prompt_tokens: 4, total_tokens: 4 },
    echo,
  };
}

function answerJson(req, res, recorded) {
  const status = intHeader(req, 'x-fake-status', 200);
  const answer = jsonBody(recorded, status);
  const pad = intHeader(req, 'x-fake-pad', 0);
  if (pad > 0) answer.pad = 'x'.repeat(pad);
  const body = JSON.stringify(answer);
  const head = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
  if (req.headers['x-fake-retry-after']) head['retry-after'] = req.headers['x-fake-retry-after'];
  if (req.headers['x-fake-ratelimit-reset']) head['x-ratelimit-reset-requests'] = req.headers['x-fake-ratelimit-reset'];
  res.writeHead(status, head);
  res.end(body);
}

async function answerChunkedJson(req, res, recorded) {
  const body = JSON.stringify(jsonBody(recorded, 200));
  const cut = Math.floor(body.length / 2);
  // No Content-Length: Node frames the body with Transfer-Encoding: chunked.
  res.writeHead(200, { 'content-type': 'application/json' });
  await write(res, body.slice(0, cut));
  await write(res, body.slice(cut));
  res.end();
}

function answerCloseDelimited(req, res, recorded) {
  // Bypass Node's HTTP writer: an HTTP/1.1 response framed only by closing the
  // connection (RFC 9112 6.3, last rule) is something Node never produces itself.
  const body = JSON.stringify(jsonBody(recorded, 200));
  const head = 'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n';
  req.socket.end(head + body);
}

async function answerSlow(req, res, recorded) {
  const wait = intHeader(req, 'x-fake-delay-ms', 10000);
  // Abandon the wait if the gateway gives up first: that close is what tests watch.
  const gone = new AbortController();
  res.on('close', () => gone.abort());
  try {
    await delay(wait, undefined, { signal: gone.signal });
  } catch {
    return;
  }
  answerJson(req, res, recorded);
}

// Whether a stream reports usage: asked for, and the backend not told to ignore it.
const wantsUsage = (recorded) =>
  Boolean(requestJson(recorded).stream_options?.include_usage) && recorded.headers['x-fake-no-usage'] !== '1';
const createdOf = (recorded) => Number(recorded.headers['x-fake-created'] ?? Math.floor(Date.now() / 1000));

function sseChunk(recorded, i, last) {
  const request = requestJson(recorded);
  const model = request.model ?? null;
  let delta = i === 0 ? { role: 'assistant', content: `tok${i}` } : { content: `tok${i}` };
  if (recorded.headers['x-fake-tool-calls'] === '1')
    delta = { tool_calls: [{ index: 0, id: i === 0 ? 'call_1' : undefined, type: 'function', function: { name: 'f', arguments: `tok${i}` } }] };
  const chunk = {
    id: `chatcmpl-fake-${recorded.id}`,
    object: 'chat.completion.chunk',
    created: createdOf(recorded),
    model,
    choices: [{ index: 0, delta, finish_reason: last ? 'stop' : null }],
  };
  // As OpenAI does with stream_options.include_usage: "usage": null on every chunk.
  if (wantsUsage(recorded)) chunk.usage = null;
  return `data: ${JSON.stringify(chunk)}\n\n`;
}

// The usage-only chunk OpenAI sends last when asked (stream_options.include_usage).
function sseUsageChunk(recorded, count) {
  const model = requestJson(recorded).model ?? null;
  const chunk = {
    id: `chatcmpl-fake-${recorded.id}`, object: 'chat.completion.chunk', created: createdOf(recorded),
    model, choices: [], usage: { prompt_tokens: 5, completion_tokens: count, total_tokens: 5 + count,
                                 prompt_tokens_details: { cached_tokens: 2 } },
  };
  return `data: ${JSON.stringify(chunk)}\n\n`;
}

const SSE_DONE = 'data: [DONE]\n\n';

function writeSseHead(res) {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
}

async function answerSse(req, res, recorded, { gated, gate }) {
  const count = intHeader(req, 'x-fake-chunks', 3);
  const pause = intHeader(req, 'x-fake-delay-ms', 0);
  const resetAfter = intHeader(req, 'x-fake-reset-after', -1);
  const stallAfter = intHeader(req, 'x-fake-stall-after', -1);
  const errorAfter = intHeader(req, 'x-fake-error-after', -1);
  const gone = new AbortController();
  res.on('close', () => gone.abort());

  writeSseHead(res);
  const pieces = [];
  for (let i = 0; i < count; i++) pieces.push(sseChunk(recorded, i, i === count - 1));
  if (wantsUsage(recorded)) pieces.push(sseUsageChunk(recorded, count));
  pieces.push(SSE_DONE);

  for (const [i, piece] of pieces.entries()) {
    if (i > 0) {
      try {
        if (gated) await gate.acquire(gone.signal);
        else if (pause > 0) await delay(pause, undefined, { signal: gone.signal });
      } catch {
        return; // the gateway closed the connection; nothing more to send
      }
    }
    if (gone.signal.aborted) return;
    // One write per event, each handed to the kernel before the next, so the
    // gateway sees them as separate reads whenever there is a pause between them.
    await write(res, piece);
    if (i + 1 === resetAfter) return resetConnection(req);
    if (i + 1 === stallAfter) return new Promise((resolve) => gone.signal.addEventListener('abort', resolve));
    if (i + 1 === errorAfter) {
      await write(res, `data: ${JSON.stringify({ error: { message: 'fake overloaded', type: 'server_error', code: null } })}\n\n`);
      return void res.end();
    }
  }
  res.end();
}

async function answerReset(req, res, recorded) {
  writeSseHead(res);
  await write(res, sseChunk(recorded, 0, false));
  await write(res, sseChunk(recorded, 1, false));
  resetConnection(req);
}

/** An RST (not a FIN) mid-body: the upstream died after the head was relayed. */
function resetConnection(req) {
  const socket = req.socket;
  if (typeof socket.resetAndDestroy === 'function' && !socket.encrypted) socket.resetAndDestroy();
  else if (socket._parent && typeof socket._parent.resetAndDestroy === 'function') socket._parent.resetAndDestroy();
  else socket.destroy();
}

function write(res, data) {
  return new Promise((resolve, reject) => {
    res.write(data, (err) => (err ? reject(err) : resolve()));
  });
}

// ---------------------------------------------------------------------------

/**
 * A counting semaphore for sse-gated streams: release() either wakes the oldest
 * waiting stream or, if none waits yet, is kept for the next acquire(). Keeping
 * it matters because a test may release right after reading a chunk, before the
 * fake has got round to waiting.
 */
class Gate {
  #permits = 0;
  #waiters = [];

  release() {
    const waiter = this.#waiters.shift();
    if (waiter) waiter.resolve();
    else this.#permits++;
  }

  acquire(signal) {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#permits > 0) {
      this.#permits--;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const waiter = { resolve };
      this.#waiters.push(waiter);
      // A stream whose connection is gone must not swallow a later release().
      signal?.addEventListener('abort', () => {
        const i = this.#waiters.indexOf(waiter);
        if (i >= 0) this.#waiters.splice(i, 1);
        reject(signal.reason);
      }, { once: true });
    });
  }
}
