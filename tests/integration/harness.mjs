// Helpers shared by the integration and e2e tests: start the real gateway binary
// on an ephemeral port, run its CLI, and talk to it over plain node:http or raw
// TCP (for framing and smuggling cases no well-behaved client would produce).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const GATEWAY_BIN = process.env.AIGW_BIN ?? path.join(REPO_ROOT, 'build', 'aigw-proxy');

// Safety nets only: every wait below ends on an event in the normal case.
const STARTUP_LIMIT_MS = 15000;
const STOP_LIMIT_MS = 10000;
const RAW_IDLE_LIMIT_MS = 2000;

const LISTENING_RE = /listening on (\S+):(\d+)/;

// Gateways still running when the test process exits (a failed `before`, a
// crash) must not outlive it and hold ports or CPU.
const liveChildren = new Set();
process.on('exit', () => {
  for (const child of liveChildren) child.kill('SIGKILL');
});

const tempDirs = [];
process.on('exit', () => {
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
});

/** A fresh temporary directory, removed when the test process exits. */
export function tempDir(prefix = 'aigw-test-') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

/** Writes `text` to a new temporary file and returns its path. */
export function writeTempFile(name, text) {
  const file = path.join(tempDir(), name);
  fs.writeFileSync(file, text);
  return file;
}

// ---------------------------------------------------------------------------
// Configuration

/**
 * A gateway config with the test defaults (port 0, access log on, generous
 * timeouts) under the given overrides, rendered as YAML.
 */
export function gatewayConfig(overrides) {
  return toYaml({
    listen: '127.0.0.1:0',
    admin: '127.0.0.1:0',
    workers: 2,
    access_log: true,
    limits: { max_request_body: '1MiB', max_request_headers: '8KiB' },
    timeouts: { connect: '2s', first_byte: '60s', idle: '300s', client_header: '30s' },
    ...overrides,
  });
}

/**
 * Block-style YAML for plain objects, arrays, strings, numbers and booleans.
 * Strings are written as JSON strings, which YAML reads as double-quoted scalars,
 * so no value can be misread as another type or break the structure.
 */
export function toYaml(value, indent = '') {
  const inner = `${indent}  `;
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    return value
      .map((item) => {
        const rendered = isCollection(item) ? toYaml(item, inner).trimStart() : toYaml(item, inner);
        return `${indent}- ${rendered}`;
      })
      .join('\n');
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value);
    if (entries.length === 0) return '{}';
    return entries
      .map(([name, v]) => {
        // A key that is not a plain word (a glob like "gpt-*") is quoted.
        const key = /^[A-Za-z_][A-Za-z0-9_.-]*$/.test(name) ? name : JSON.stringify(name);
        if (isCollection(v)) return `${indent}${key}:\n${toYaml(v, inner)}`;
        return `${indent}${key}: ${toYaml(v, inner)}`;
      })
      .join('\n');
  }
  if (typeof value === 'string') return JSON.stringify(value);
  return String(value);
}

function isCollection(v) {
  return v !== null && typeof v === 'object' && (Array.isArray(v) ? v.length > 0 : Object.keys(v).length > 0);
}

// ---------------------------------------------------------------------------
// The gateway process

/**
 * Starts the gateway with this YAML config and resolves once it reports its
 * port. Rejects with its stderr if it exits (or stays silent) first.
 * @param {string} configYamlText
 * @param {{ env?: Record<string,string>, args?: string[], wrap?: string[] }} [options]
 */
export async function startGateway(configYamlText, { env = {}, args = [], wrap = [] } = {}) {
  // null: start without --config (the zero-config start).
  const configFile = configYamlText === null ? null : writeTempFile('gateway.yaml', configYamlText);
  const configArgs = configFile ? ['--config', configFile] : [];
  // `wrap`: a command that runs the gateway (e.g. prlimit with its arguments).
  const command = [...wrap, GATEWAY_BIN, ...configArgs, ...args];
  const child = spawn(command[0], command.slice(1), {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  liveChildren.add(child);

  let stderr = '';
  let stdout = '';
  child.stderr.setEncoding('utf8');
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (d) => (stdout += d));
  // 'close' (not 'exit') so that all of stderr has been read by then.
  const exited = new Promise((resolve) => {
    child.on('close', (code, signal) => {
      liveChildren.delete(child);
      keepLog(child.pid, stderr);
      resolve({ code, signal });
    });
  });

  const port = await new Promise((resolve, reject) => {
    let settled = false;
    let timer;
    const settle = (fn, value) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      fn(value);
    };
    const fail = (why) => {
      child.kill('SIGKILL');
      settle(reject, new Error(`gateway ${why}\n--- config ---\n${configYamlText}\n--- stderr ---\n${stderr}`));
    };
    timer = setTimeout(() => fail(`did not report "listening on" within ${STARTUP_LIMIT_MS} ms`), STARTUP_LIMIT_MS);
    child.stderr.on('data', (d) => {
      stderr += d;
      const m = LISTENING_RE.exec(stderr);
      if (m) settle(resolve, Number(m[2]));
    });
    child.on('error', (err) => fail(`could not be spawned (${GATEWAY_BIN}): ${err.message}`));
    exited.then(({ code, signal }) => fail(`exited before listening (code ${code}, signal ${signal})`));
  });

  // The admin listener's port, when it reported one (it starts before the data port line).
  const admin = /admin on http:\/\/\S+:(\d+)/.exec(stderr);
  return {
    port,
    base: `http://127.0.0.1:${port}`,
    adminBase: admin ? `http://127.0.0.1:${admin[1]}` : null,
    pid: child.pid,
    configFile,
    /** All stderr text so far (log lines, access log). */
    stderr: () => stderr,
    stdout: () => stdout,
    /**
     * Resolves with the match of `re` in stderr past offset `from` (default: all
     * of it), waiting for more output if needed. Log lines are written after the
     * response, so tests await them rather than read stderr at once.
     */
    waitForStderr: (re, { from = 0 } = {}) => waitForText(child.stderr, () => stderr.slice(from), re),
    /**
     * Resolves with the first JSON access-log entry past offset `from` for which
     * `predicate(entry)` holds, waiting for more output if needed.
     */
    async waitForAccess(predicate, { from = 0 } = {}) {
      for (;;) {
        for (const line of stderr.slice(from).split('\n')) {
          if (!line.startsWith('{"time":')) continue;
          const entry = JSON.parse(line);
          if (predicate(entry)) return entry;
        }
        await once(child.stderr, 'data');
      }
    },
    /** Resolves with the exit code once the process has exited (sends nothing). */
    exited: () => exited.then(({ code }) => code),
    /** Sends SIGTERM, waits for the exit and returns the exit code. */
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), STOP_LIMIT_MS);
        await exited;
        clearTimeout(timer);
      }
      return (await exited).code;
    },
  };
}

function waitForText(stream, current, re) {
  return new Promise((resolve) => {
    // Registered after the harness's own 'data' listener, so `current()`
    // already includes the chunk when this runs.
    const check = () => {
      const m = re.exec(current());
      if (!m) return;
      stream.off('data', check);
      resolve(m);
    };
    stream.on('data', check);
    check();
  });
}

/**
 * Keeps a finished gateway's stderr in $AIGW_LOG_DIR (when set), so that scripts/test can
 * look for sanitizer reports from every gateway process a test started.
 */
function keepLog(pid, text) {
  const dir = process.env.AIGW_LOG_DIR;
  if (dir) fs.writeFileSync(path.join(dir, `gateway-${pid}.log`), text);
}

/** Runs the gateway binary with `args` to completion. */
export async function runCli(args, { env = {} } = {}) {
  const child = spawn(GATEWAY_BIN, args, {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  liveChildren.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
  // 'close' comes after the pipes are drained, unlike 'exit'.
  const [code] = await Promise.race([
    once(child, 'close'),
    once(child, 'error').then(([err]) => {
      throw new Error(`cannot run ${GATEWAY_BIN}: ${err.message}`);
    }),
  ]);
  liveChildren.delete(child);
  keepLog(child.pid, stderr);
  return { code, stdout, stderr };
}

// ---------------------------------------------------------------------------
// HTTP clients

/**
 * One request over a fresh connection (no keep-alive unless `agent` says so).
 * `body`: a string or Buffer is sent as is; anything else as JSON.
 * Resolves with the whole response; `json` is the parsed body or undefined.
 */
export function request(base, pathname, { method, headers = {}, body, agent = false } = {}) {
  const { payload, headers: finalHeaders } = encodeBody(body, headers);
  return new Promise((resolve, reject) => {
    const req = http.request(
      new URL(pathname, base),
      { method: method ?? (payload === undefined ? 'GET' : 'POST'), headers: finalHeaders, agent },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({
            status: res.statusCode,
            headers: res.headers,
            text,
            json: parseJson(text),
            reusedSocket: req.reusedSocket, // true when a keep-alive agent reused a connection
          });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** A POST of a JSON body to /v1/chat/completions: the most common call in the tests. */
export function chat(base, { model = 'llama3', headers = {}, extra = {}, agent } = {}) {
  return request(base, '/v1/chat/completions', {
    headers,
    agent,
    body: { model, messages: [{ role: 'user', content: 'hi' }], ...extra },
  });
}

/**
 * Sends a request without waiting for anything: `req` (to abort it) and
 * `response`, a promise of the response object once its head arrives.
 */
export function sendRequest(base, pathname, { method = 'POST', headers = {}, body } = {}) {
  const { payload, headers: finalHeaders } = encodeBody(body, headers);
  const req = http.request(new URL(pathname, base), { method, agent: false, headers: finalHeaders });
  const response = new Promise((resolve, reject) => {
    req.on('response', resolve);
    req.on('error', reject);
  });
  // A test that aborts on purpose may never look at `response`.
  response.catch(() => {});
  req.end(payload);
  return { req, response };
}

/** Sends a request and resolves with `{ req, res }` once the response head arrives, body unread. */
export async function openResponse(base, pathname, options) {
  const { req, response } = sendRequest(base, pathname, options);
  return { req, res: await response };
}

/**
 * Reads Server-Sent Events `data:` payloads from a response, one at a time, as
 * they arrive. `next()` resolves with the next payload string, or null at the
 * end of the body; it rejects if the body ends in an error.
 */
export function sseReader(res) {
  const iterator = sseEvents(res);
  return {
    async next() {
      const { value, done } = await iterator.next();
      return done ? null : value;
    },
    async rest() {
      const all = [];
      for await (const data of iterator) all.push(data);
      return all;
    },
  };
}

async function* sseEvents(res) {
  res.setEncoding('utf8');
  let buffer = '';
  for await (const chunk of res) {
    buffer += chunk;
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = event
        .split('\n')
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.slice(5).trimStart())
        .join('\n');
      if (data) yield data;
    }
  }
}

/** The content deltas of chat.completion.chunk payloads (skipping [DONE]). */
export function deltas(payloads) {
  return payloads.filter((p) => p !== '[DONE]').map((p) => JSON.parse(p).choices[0].delta.content);
}

function encodeBody(body, headers) {
  if (body === undefined || typeof body === 'string' || Buffer.isBuffer(body)) return { payload: body, headers };
  const hasType = Object.keys(headers).some((k) => k.toLowerCase() === 'content-type');
  return {
    payload: JSON.stringify(body),
    headers: hasType ? headers : { ...headers, 'content-type': 'application/json' },
  };
}

function parseJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------
// Raw TCP

/**
 * An open TCP connection to the gateway for byte-exact requests.
 * `readUntil(pred)` resolves with all text received so far once `pred(text)`
 * holds, and rejects if the connection ends first.
 */
export async function openRaw(port) {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  let text = '';
  let closedByServer = false;
  let ended = false;
  const waiters = new Set();
  const notify = () => {
    for (const w of waiters) w();
  };
  socket.setEncoding('latin1'); // bytes in, one char per byte: framing stays countable
  socket.on('data', (d) => {
    text += d;
    notify();
  });
  socket.on('end', () => {
    closedByServer = true;
  });
  socket.on('error', () => {
    closedByServer = true; // an RST from the server also counts as closing
  });
  socket.on('close', () => {
    ended = true;
    notify();
  });

  return {
    socket,
    get text() {
      return text;
    },
    get closedByServer() {
      return closedByServer;
    },
    write(bytes) {
      return new Promise((resolve, reject) => socket.write(bytes, (err) => (err ? reject(err) : resolve())));
    },
    readUntil(predicate) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (predicate(text)) {
            waiters.delete(check);
            resolve(text);
          } else if (ended) {
            waiters.delete(check);
            reject(new Error(`connection closed before the expected data; got:\n${text}`));
          }
        };
        waiters.add(check);
        check();
      });
    },
    /** Resolves once the connection is closed (by the server, or after `limitMs` by us). */
    async closed(limitMs = RAW_IDLE_LIMIT_MS) {
      if (!ended) {
        const timer = setTimeout(() => socket.destroy(), limitMs);
        // Not once(): it rejects on 'error', and a reset from the server is a close here.
        await new Promise((resolve) => socket.once('close', resolve));
        clearTimeout(timer);
      }
      return { text, closedByServer };
    },
    close() {
      socket.destroy();
    },
  };
}

/**
 * Writes raw bytes, waits for one final (non-1xx) response to be complete, or
 * for the connection to end, and returns it with the connection still open
 * unless the server closed it. Write errors are ignored: a server may answer
 * and close before reading all of a request it refuses (413, 431).
 */
export async function rawExchange(port, bytes) {
  const conn = await openRaw(port);
  conn.write(bytes).catch(() => {});
  await conn.readUntil((t) => finalResponse(t)?.complete).catch(() => {});
  return { conn, response: finalResponse(conn.text), text: conn.text };
}

function finalResponse(text) {
  return parseResponses(text).find((r) => r.status >= 200);
}

/**
 * Writes raw bytes and collects everything until the server closes the
 * connection or 2 s pass without it doing so.
 */
export async function rawRequest(port, bytes) {
  const conn = await openRaw(port);
  await conn.write(bytes);
  return conn.closed();
}

/**
 * Parses the HTTP/1.1 responses found at the start of `text` (as received on a
 * raw connection). Each has status, lower-case headers, body (de-chunked) and
 * `complete`: whether its framing ended properly (Content-Length reached, the
 * terminating zero-size chunk seen). Interim 1xx responses are included.
 */
export function parseResponses(text) {
  const responses = [];
  let rest = text;
  while (rest.length > 0) {
    const headEnd = rest.indexOf('\r\n\r\n');
    if (headEnd < 0) break;
    const [statusLine, ...lines] = rest.slice(0, headEnd).split('\r\n');
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1]);
    const headers = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    rest = rest.slice(headEnd + 4);
    const response = { status, headers, body: '', complete: false };
    responses.push(response);

    if (status >= 100 && status < 200) {
      response.complete = true;
    } else if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
      const { body, complete, consumed } = dechunk(rest);
      Object.assign(response, { body, complete });
      rest = rest.slice(consumed);
    } else if (headers['content-length'] !== undefined) {
      const length = Number(headers['content-length']);
      response.body = rest.slice(0, length);
      response.complete = rest.length >= length;
      rest = rest.slice(length);
    } else {
      response.body = rest; // delimited by the close
      rest = '';
    }
    if (!response.complete) break;
  }
  return responses;
}

function dechunk(text) {
  let body = '';
  let pos = 0;
  for (;;) {
    const lineEnd = text.indexOf('\r\n', pos);
    if (lineEnd < 0) return { body, complete: false, consumed: text.length };
    const size = Number.parseInt(text.slice(pos, lineEnd), 16);
    if (!Number.isFinite(size)) return { body, complete: false, consumed: text.length };
    const dataStart = lineEnd + 2;
    if (size === 0) {
      // Last chunk, then (no trailers expected) the final CRLF.
      const complete = text.startsWith('\r\n', dataStart);
      return { body, complete, consumed: complete ? dataStart + 2 : text.length };
    }
    if (text.length < dataStart + size + 2) {
      body += text.slice(dataStart, dataStart + size);
      return { body, complete: false, consumed: text.length };
    }
    body += text.slice(dataStart, dataStart + size);
    pos = dataStart + size + 2;
  }
}

/** A raw HTTP/1.1 request: request line, header lines and body joined with CRLF. */
export function rawHttp(requestLine, headerLines, body = '') {
  return `${requestLine}\r\n${headerLines.map((h) => `${h}\r\n`).join('')}\r\n${body}`;
}

// ---------------------------------------------------------------------------
// Small utilities

let testIdCounter = 0;
/**
 * A unique value for an `x-test-id` request header, so a test can find its own
 * request among those the fake recorded.
 */
export function newTestId() {
  return `t${process.pid}-${++testIdCounter}`;
}

/** A TCP port on 127.0.0.1 that nothing listens on (bound, then released). */
export async function closedPort() {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Budgets count in fixed minutes: a test that fills one starts well inside a minute. */
export async function awayFromMinuteEdge(margin = 5000) {
  const into = Date.now() % 60000;
  if (into > 60000 - margin) await new Promise((r) => setTimeout(r, 60500 - into));
}

// ---------------------------------------------------------------------------
// Assertions used by several files

/**
 * Asserts an OpenAI-shaped error reply with this status. `response` is what
 * request() returns, or any `{ status, headers, text }`.
 */
export function assertOpenAiError(response, status) {
  assert.equal(response.status, status, `expected ${status}, got ${response.status}: ${response.text}`);
  assert.match(response.headers['content-type'] ?? '', /application\/json/);
  const error = (response.json ?? parseJson(response.text))?.error;
  assert.ok(error, `not an OpenAI error body: ${response.text}`);
  assert.equal(typeof error.message, 'string');
  assert.ok(error.message.length > 0, 'error.message is empty');
  assert.equal(typeof error.type, 'string');
  assert.equal(error.param, null);
  assert.ok(error.code === null || typeof error.code === 'string', `error.code is ${typeof error.code}`);
  return error;
}

// ---------------------------------------------------------------------------
// Token metrics

/**
 * The input and output token sums in the gateway's /metrics, over the
 * gen_ai_client_token_usage series whose labels contain `labels` (e.g.
 * 'gen_ai_provider_name="anthropic"'; '' for all).
 */
export async function tokenSums(gw, labels = '') {
  const text = await (await fetch(`${gw.adminBase}/metrics`)).text();
  const sum = (type) => text.split('\n')
    .filter((l) => l.startsWith('gen_ai_client_token_usage_sum{') && l.includes(labels) &&
      l.includes(`gen_ai_token_type="${type}"`))
    .reduce((n, l) => n + Number(l.split(' ').at(-1)), 0);
  return { input: sum('input'), output: sum('output') };
}

const pause = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * The sums once earlier requests are all counted (a request is counted just after its
 * answer is written): two reads 100 ms apart agree.
 */
export async function settledTokenSums(gw, labels = '') {
  let last = await tokenSums(gw, labels);
  for (let i = 0; i < 20; i++) {
    await pause(100);
    const now = await tokenSums(gw, labels);
    if (now.input === last.input && now.output === last.output) return now;
    last = now;
  }
  return last;
}

/** The sums once they have grown from `before` by `want` ({input, output}), or after 5 s. */
export async function tokenSumsReaching(gw, labels, before, want) {
  let now = await tokenSums(gw, labels);
  for (let i = 0; i < 50 && (now.input - before.input < want.input || now.output - before.output < want.output); i++) {
    await pause(100);
    now = await tokenSums(gw, labels);
  }
  return now;
}
