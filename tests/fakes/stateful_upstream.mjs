// A fake OpenAI backend that keeps state, like the real one: responses, conversations, files
// and batches live in this process only, with ids that carry the fake's name. A request for an
// object another backend made gets OpenAI's 404, so a gateway that sends a stateful request to
// the wrong backend fails the test the way it would fail a user.
//
//   const east = await startStatefulUpstream('east');
//   east.url       -> http://127.0.0.1:PORT/v1
//   east.requests  -> [{ method, path, headers, body }] as received
//   east.close()

import http from 'node:http';
import { once } from 'node:events';

export async function startStatefulUpstream(name) {
  const requests = [];
  const store = { response: new Map(), conversation: new Map(), file: new Map(), batch: new Map() };
  let counter = 0;
  const newId = (prefix) => `${prefix}${name}${++counter}`;
  const now = () => Math.floor(Date.now() / 1000);

  const server = http.createServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const raw = Buffer.concat(chunks);
    const url = new URL(req.url, 'http://fake');
    requests.push({ method: req.method, path: req.url, headers: req.headers, body: raw.toString('latin1') });
    const json = (status, body, headers = {}) => {
      const text = JSON.stringify(body);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
      res.end(text);
    };
    const notFound = (what, id) =>
      json(404, { error: { message: `No ${what} found with id '${id}'.`, type: 'invalid_request_error', param: null, code: null } });
    let body = {};
    if ((req.headers['content-type'] ?? '').startsWith('application/json') && raw.length) body = JSON.parse(raw.toString());

    const parts = url.pathname.replace(/^\/v1\//, '').split('/');
    try {
      route(req.method, parts, body, raw, req, res, json, notFound);
    } catch (e) {
      json(500, { error: { message: `fake: ${e.message}`, type: 'server_error' } });
    }
  });

  // As the real API stores them: a message's string content becomes input_text parts.
  const normalized = (items) => items.map((item) =>
    (item.type === 'message' || item.role) && typeof item.content === 'string'
      ? { type: 'message', ...item, content: [{ type: 'input_text', text: item.content }] }
      : item);

  function conversationOf(ref) {
    const id = typeof ref === 'string' ? ref : ref?.id;
    return id === undefined ? undefined : store.conversation.get(id) ?? null;
  }

  function newResponse(body) {
    const text = `${name} says hi`;
    const response = {
      id: newId('resp_'), object: 'response', created_at: now(), status: 'completed', model: body.model ?? 'stored-model',
      previous_response_id: body.previous_response_id ?? null,
      output: [{ id: newId('msg_'), type: 'message', role: 'assistant', status: 'completed',
                 content: [{ type: 'output_text', text, annotations: [] }] }],
      usage: { input_tokens: 3, output_tokens: 3, total_tokens: 6 },
    };
    if (body.conversation) response.conversation = { id: typeof body.conversation === 'string' ? body.conversation : body.conversation.id };
    const input = typeof body.input === 'string' ? [{ type: 'message', role: 'user', content: body.input }] : body.input ?? [];
    store.response.set(response.id, { response, input });
    return { response, input };
  }

  function route(method, parts, body, raw, req, res, json, notFound) {
    const [kind, id, sub] = parts;
    if (kind === 'responses' && method === 'POST' && !id) {
      if (body.previous_response_id && !store.response.has(body.previous_response_id))
        return json(400, { error: { message: `Previous response with id '${body.previous_response_id}' not found.`, type: 'invalid_request_error', param: 'previous_response_id', code: 'previous_response_not_found' } });
      const conversation = conversationOf(body.conversation);
      if (conversation === null) return notFound('conversation', body.conversation?.id ?? body.conversation);
      const { response, input } = newResponse(body);
      if (conversation) conversation.items.push(...normalized(input), ...response.output);
      if (!body.stream) return json(200, response);
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const event = (type, data) => res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
      event('response.created', { response: { ...response, status: 'in_progress', output: [] } });
      event('response.output_text.delta', { item_id: response.output[0].id, output_index: 0, content_index: 0, delta: response.output[0].content[0].text });
      event('response.completed', { response });
      return res.end();
    }
    if (kind === 'responses' && id) {
      const stored = store.response.get(id);
      if (!stored) return notFound('response', id);
      if (method === 'GET' && !sub) return json(200, stored.response);
      if (method === 'GET' && sub === 'input_items')
        return json(200, { object: 'list', data: stored.input.map((item, i) => ({ id: `${id}_in${i}`, ...item })), has_more: false, first_id: null, last_id: null });
      if (method === 'DELETE' && !sub) {
        store.response.delete(id);
        return json(200, { id, object: 'response', deleted: true });
      }
    }
    if (kind === 'conversations' && method === 'POST' && !id) {
      const conversation = { id: newId('conv_'), object: 'conversation', created_at: now(), metadata: body.metadata ?? {} };
      store.conversation.set(conversation.id, { conversation, items: normalized(body.items ?? []) });
      return json(200, conversation);
    }
    if (kind === 'conversations' && id) {
      const stored = store.conversation.get(id);
      if (!stored) return notFound('conversation', id);
      const withIds = () => stored.items.map((item, i) => ({ id: item.id ?? `${id}_item${i}`, ...item }));
      if (method === 'GET' && !sub) return json(200, stored.conversation);
      if (method === 'DELETE' && !sub) {
        store.conversation.delete(id);
        return json(200, { id, object: 'conversation.deleted', deleted: true });
      }
      if (sub === 'items' && method === 'POST') {
        stored.items.push(...normalized(body.items ?? []));
        return json(200, { object: 'list', data: withIds().slice(-(body.items ?? []).length), has_more: false, first_id: null, last_id: null });
      }
      if (sub === 'items' && method === 'GET') {
        const url = new URL(req.url, 'http://fake');
        let data = withIds();
        if (url.searchParams.get('order') === 'desc') data = data.reverse();
        const limit = Number(url.searchParams.get('limit') ?? 100);
        return json(200, { object: 'list', data: data.slice(0, limit), has_more: false, first_id: null, last_id: null });
      }
    }
    if (kind === 'files' && method === 'GET' && !id) {
      const after = new URL(req.url, 'http://fake').searchParams.get('after');
      const files = [...store.file.values()].map((f) => f.file);
      const at = after === null ? -1 : files.findIndex((f) => f.id === after);
      if (after !== null && at < 0) return notFound('file', after);
      const data = files.slice(at + 1);
      return json(200, { object: 'list', data, has_more: false, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null });
    }
    if (kind === 'files' && method === 'POST' && !id) {
      const { fields, files } = parseMultipart(raw, req.headers['content-type'] ?? '');
      if (!files.file) return json(400, { error: { message: 'fake: no file part', type: 'invalid_request_error' } });
      const file = { id: newId('file-'), object: 'file', bytes: files.file.data.length, created_at: now(), filename: files.file.filename, purpose: fields.purpose, status: 'processed' };
      store.file.set(file.id, { file, data: files.file.data });
      return json(200, file);
    }
    if (kind === 'files' && id) {
      const stored = store.file.get(id);
      if (!stored) return notFound('file', id);
      if (method === 'GET' && !sub) return json(200, stored.file);
      if (method === 'GET' && sub === 'content') {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': stored.data.length });
        return res.end(stored.data);
      }
    }
    if (kind === 'batches' && method === 'POST' && !id) {
      if (!store.file.has(body.input_file_id)) return notFound('file', body.input_file_id);
      const batch = { id: newId('batch_'), object: 'batch', endpoint: body.endpoint, input_file_id: body.input_file_id,
                      completion_window: body.completion_window, status: 'validating', created_at: now(), output_file_id: null, error_file_id: null };
      store.batch.set(batch.id, batch);
      return json(200, batch);
    }
    if (kind === 'batches' && id && method === 'GET') {
      const batch = store.batch.get(id);
      return batch ? json(200, batch) : notFound('batch', id);
    }
    return json(404, { error: { message: `fake ${name}: no route for ${method} /v1/${parts.join('/')}`, type: 'invalid_request_error' } });
  }

  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  return {
    name,
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    async close() {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

// multipart/form-data as an SDK sends it: text fields, and file parts with their filename.
function parseMultipart(raw, contentType) {
  const boundary = /boundary=(?:"([^"]+)"|([^;]+))/.exec(contentType);
  const fields = {};
  const files = {};
  if (!boundary) return { fields, files };
  const delimiter = Buffer.from(`--${boundary[1] ?? boundary[2]}`);
  let at = raw.indexOf(delimiter);
  while (at >= 0) {
    const start = at + delimiter.length;
    if (raw.subarray(start, start + 2).toString() === '--') break;
    const next = raw.indexOf(delimiter, start);
    if (next < 0) break;
    const part = raw.subarray(start + 2, next - 2);  // after CRLF, before CRLF
    const headerEnd = part.indexOf('\r\n\r\n');
    const headers = part.subarray(0, headerEnd).toString();
    const data = part.subarray(headerEnd + 4);
    const name = /name="([^"]*)"/.exec(headers)?.[1];
    const filename = /filename="([^"]*)"/.exec(headers)?.[1];
    if (name !== undefined) {
      if (filename !== undefined) files[name] = { filename, data };
      else fields[name] = data.toString();
    }
    at = next;
  }
  return { fields, files };
}
