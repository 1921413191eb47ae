// A hostile upstream for the gateway's security tests: a plain TCP server that reads each
// request (head and Content-Length body) and answers with whatever bytes the test's script
// says, however malformed: responses out of turn, broken status lines, odd transfer
// codings, closes and resets at any point. Every request it reads is recorded.

import net from 'node:net';
import { EventEmitter, once } from 'node:events';

/**
 * Starts it on 127.0.0.1 with an ephemeral port. `script(request, socket, info)` is called
 * for each request read: `request` is `{ head, method, target, headers, body, connection,
 * index }` (`connection`: the TCP connection's number, from 1; `index`: the request's number
 * on that connection, from 0). It writes whatever it likes to `socket` (a net.Socket), may
 * end or destroy it, and may return a promise.
 */
export async function startRawUpstream(script) {
  const events = new EventEmitter();
  const requests = [];
  const sockets = new Set();
  let connections = 0;

  const server = net.createServer((socket) => {
    const connection = ++connections;
    sockets.add(socket);
    socket.on('close', () => {
      sockets.delete(socket);
      events.emit('close', connection);
    });
    socket.on('error', () => {});
    let pending = Buffer.alloc(0);
    let index = 0;
    let busy = Promise.resolve();
    socket.on('data', (data) => {
      pending = Buffer.concat([pending, data]);
      for (;;) {
        const parsed = parseRequest(pending);
        if (!parsed) break;
        pending = pending.subarray(parsed.consumed);
        const request = { ...parsed.request, connection, index: index++ };
        requests.push(request);
        events.emit('request', request);
        busy = busy.then(() => script(request, socket)).catch(() => socket.destroy());
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();

  return {
    port,
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    events,
    get connections() {
      return connections;
    },
    /** Resolves with the n-th request (from 1) once it has been read. */
    waitForRequests(n) {
      if (requests.length >= n) return Promise.resolve(requests[n - 1]);
      return new Promise((resolve) => {
        const listener = () => {
          if (requests.length < n) return;
          events.off('request', listener);
          resolve(requests[n - 1]);
        };
        events.on('request', listener);
      });
    },
    /** Resolves once TCP connection number `n` is closed. */
    waitClose(n) {
      return new Promise((resolve) => {
        const listener = (c) => {
          if (c !== n) return;
          events.off('close', listener);
          resolve();
        };
        events.on('close', listener);
      });
    },
    async close() {
      const closed = new Promise((resolve) => server.close(resolve));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

function parseRequest(buffer) {
  const headEnd = buffer.indexOf('\r\n\r\n');
  if (headEnd < 0) return null;
  const head = buffer.subarray(0, headEnd).toString('latin1');
  const [requestLine, ...lines] = head.split('\r\n');
  const [method, target] = requestLine.split(' ');
  const headers = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const length = Number(headers['content-length'] ?? 0);
  if (buffer.length < headEnd + 4 + length) return null;
  const body = buffer.subarray(headEnd + 4, headEnd + 4 + length).toString('utf8');
  return { request: { head, method, target, headers, body }, consumed: headEnd + 4 + length };
}

/** A complete JSON response with this body text (an object is serialised). */
export function jsonResponse(body, { status = 200, reason = 'OK', extra = [] } = {}) {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return [
    `HTTP/1.1 ${status} ${reason}`,
    'Content-Type: application/json',
    `Content-Length: ${Buffer.byteLength(text)}`,
    ...extra,
    '',
    text,
  ].join('\r\n');
}
