// A fake Realtime API backend: accepts WebSocket sessions on /v1/realtime, greets each with
// session.created, answers every event with {"type":"echo","event":...} and, when asked with
// {"type":"close"}, closes from its side. It records each handshake as it arrived.
//
//   const rt = await startRealtimeUpstream();
//   rt.url, rt.handshakes ([{ path, headers }]), rt.closed (sessions ended), rt.close()

import http from 'node:http';
import { EventEmitter, once } from 'node:events';
import { WebSocketServer } from 'ws';

export async function startRealtimeUpstream() {
  const events = new EventEmitter();
  const handshakes = [];
  let closed = 0;
  const server = http.createServer((req, res) => {
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end('{"error":{"message":"fake: WebSocket only"}}');
  });
  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => {
    handshakes.push({ path: req.url, headers: req.headers });
    if (!req.url.startsWith('/v1/realtime')) return socket.destroy();
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.send(JSON.stringify({ type: 'session.created', session: { model: new URL(req.url, 'http://x').searchParams.get('model') } }));
      ws.on('message', (data) => {
        const event = JSON.parse(data.toString());
        if (event.type === 'close') return ws.close(1000, 'asked to');
        ws.send(JSON.stringify({ type: 'echo', event }));
      });
      ws.on('close', () => {
        closed += 1;
        events.emit('closed');
      });
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${server.address().port}/v1`,
    handshakes,
    get closed() { return closed; },
    /** Resolves once `n` sessions have ended on the backend's side. */
    async waitClosed(n) {
      while (closed < n) await once(events, 'closed');
    },
    async close() {
      for (const client of wss.clients) client.terminate();
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}
