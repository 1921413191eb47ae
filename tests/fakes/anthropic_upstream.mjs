// A fake Anthropic Messages API (POST /v1/messages and /v1/messages/count_tokens), strict the way the real one is about
// what a translation gets wrong: the x-api-key and anthropic-version headers, max_tokens,
// a model, user and assistant turns that alternate and start with the user, no system
// role among the messages, tool results that answer a tool_use of the turn before. Its
// answers follow the API reference: a message, or a stream of message_start,
// content_block_*, ping, message_delta and message_stop events; errors in Anthropic's shape.
//
//   const fake = await startAnthropicUpstream({ apiKey: 'sk-ant-test' });
//   fake.origin     -> http://127.0.0.1:PORT  (a backend url)
//   fake.requests   -> [{ method, path, headers, body (parsed) }] as received
//   fake.close()
//
// Per request, through headers the gateway passes on:
//   x-fake-status       answer with this error status (529: overloaded_error), Anthropic's shape
//   x-fake-error-after  stream: an `error` event (overloaded_error) after this many text deltas
//   x-fake-text         the answer's text, URI-encoded (default "hello from anthropic")
// A request with tools whose last turn is not a tool result gets a tool_use answer: the first
// tool, input {"city":"Paris"}.

import http from 'node:http';
import { once } from 'node:events';

export const COUNTED_TOKENS = 42;
export const USAGE = { input_tokens: 11, cache_read_input_tokens: 3, cache_creation_input_tokens: 0, output_tokens: 7 };

export async function startAnthropicUpstream({ apiKey = 'sk-ant-test' } = {}) {
  const requests = [];
  let counter = 0;

  const server = http.createServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const raw = Buffer.concat(chunks).toString();
    let body = null;
    try {
      body = raw ? JSON.parse(raw) : null;
    } catch {}
    requests.push({ method: req.method, path: req.url, headers: req.headers, body, raw });
    const error = (status, type, message) => {
      const text = JSON.stringify({ type: 'error', error: { type, message } });
      res.writeHead(status, { 'content-type': 'application/json', 'request-id': 'req_fake' });
      res.end(text);
    };
    const path = req.url.split('?')[0];
    if (req.method !== 'POST' || (path !== '/v1/messages' && path !== '/v1/messages/count_tokens'))
      return error(404, 'not_found_error', `fake: no ${req.method} ${req.url}`);
    if (req.headers['x-api-key'] !== apiKey) return error(401, 'authentication_error', 'invalid x-api-key');
    if (!req.headers['anthropic-version']) return error(400, 'invalid_request_error', 'anthropic-version: header is required');
    const problem = validate(body, { countTokens: path.endsWith('/count_tokens') });
    if (problem) return error(400, 'invalid_request_error', problem);
    if (path.endsWith('/count_tokens')) {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ input_tokens: COUNTED_TOKENS }));
    }
    const status = Number(req.headers['x-fake-status'] ?? 0);
    if (status) return error(status, status === 529 ? 'overloaded_error' : 'api_error', status === 529 ? 'Overloaded' : 'fake error');

    const id = `msg_fake${++counter}`;
    const last = body.messages.at(-1);
    const answeredTool = Array.isArray(last.content) && last.content.some((b) => b.type === 'tool_result');
    const tool = body.tools?.length && !answeredTool ? body.tools[0] : null;
    const text = decodeURIComponent(req.headers['x-fake-text'] ?? 'hello%20from%20anthropic');
    const content = tool
      ? [{ type: 'tool_use', id: `toolu_fake${counter}`, name: tool.name, input: { city: 'Paris' } }]
      : [{ type: 'text', text }];
    const stopReason = tool ? 'tool_use' : 'end_turn';
    if (!body.stream) {
      const message = { id, type: 'message', role: 'assistant', model: body.model, content, stop_reason: stopReason, stop_sequence: null, usage: USAGE };
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify(message));
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    const send = (type, data) => res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
    send('message_start', {
      message: { id, type: 'message', role: 'assistant', model: body.model, content: [], stop_reason: null, stop_sequence: null,
        usage: { ...USAGE, output_tokens: 1 } },
    });
    send('ping', {});
    if (tool) {
      send('content_block_start', { index: 0, content_block: { type: 'tool_use', id: content[0].id, name: tool.name, input: {} } });
      for (const piece of ['', '{"ci', 'ty": "Pa', 'ris"}']) send('content_block_delta', { index: 0, delta: { type: 'input_json_delta', partial_json: piece } });
    } else {
      send('content_block_start', { index: 0, content_block: { type: 'text', text: '' } });
      const errorAfter = Number(req.headers['x-fake-error-after'] ?? -1);
      const pieces = text.match(/.{1,5}/gs) ?? [];
      for (let i = 0; i < pieces.length; i++) {
        if (i === errorAfter) {
          send('error', { error: { type: 'overloaded_error', message: 'Overloaded' } });
          return res.end();
        }
        send('content_block_delta', { index: 0, delta: { type: 'text_delta', text: pieces[i] } });
      }
    }
    send('content_block_stop', { index: 0 });
    send('message_delta', { delta: { stop_reason: stopReason, stop_sequence: null }, usage: { output_tokens: USAGE.output_tokens } });
    send('message_stop', {});
    res.end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  return {
    port,
    origin: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(resolve);
    }),
  };
}

// What the real API refuses, for the mistakes a translation could make.
function validate(body, { countTokens = false } = {}) {
  if (!body || typeof body !== 'object') return 'the body must be a JSON object';
  if (typeof body.model !== 'string' || !body.model) return 'model: field required';
  if (!countTokens && (!Number.isInteger(body.max_tokens) || body.max_tokens < 1)) return 'max_tokens: field required';
  if (!Array.isArray(body.messages) || body.messages.length === 0) return 'messages: at least one message is required';
  if (body.system !== undefined && typeof body.system !== 'string' && !Array.isArray(body.system)) return 'system: must be a string or blocks';
  let expected = 'user';
  let lastToolUses = [];
  for (const [i, m] of body.messages.entries()) {
    if (m.role !== 'user' && m.role !== 'assistant') return `messages.${i}.role: must be user or assistant`;
    if (m.role !== expected) return `messages.${i}: roles must alternate, starting with user`;
    expected = m.role === 'user' ? 'assistant' : 'user';
    const blocks = typeof m.content === 'string' ? [{ type: 'text', text: m.content }] : m.content;
    if (!Array.isArray(blocks) || blocks.length === 0) return `messages.${i}.content: must not be empty`;
    for (const b of blocks) {
      if (!['text', 'image', 'tool_use', 'tool_result', 'thinking'].includes(b.type)) return `messages.${i}: unknown block type ${b.type}`;
      if (b.type === 'tool_result' && !lastToolUses.includes(b.tool_use_id)) return `messages.${i}: tool_result for an unknown tool_use ${b.tool_use_id}`;
      if (b.type === 'tool_use' && (typeof b.input !== 'object' || Array.isArray(b.input))) return `messages.${i}: tool_use input must be an object`;
    }
    lastToolUses = blocks.filter((b) => b.type === 'tool_use').map((b) => b.id);
  }
  if (body.tools !== undefined) {
    for (const t of body.tools) if (typeof t.name !== 'string' || typeof t.input_schema !== 'object') return 'tools: name and input_schema required';
  }
  return null;
}
