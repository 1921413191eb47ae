// Writes the seed corpora of the fuzz targets into tests/fuzz/corpus/<target>/ (run again
// after changing it: `node tests/fuzz/seeds.mjs`). A seed is a small, well-formed example of
// what the target reads, shaped as the APIs' references show them, plus a few that are
// broken on purpose; the fuzzer grows the rest from them. Inputs the fuzzer finds worth
// keeping (a crash fixed) are added to the same folders by hand and replayed by scripts/test.
import fs from 'node:fs';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.join(here, '..', '..');
const write = (target, name, bytes) => {
  const dir = path.join(here, 'corpus', target);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, name), bytes);
};
const withChoice = (choice, text) => Buffer.concat([Buffer.from([choice]), Buffer.from(text)]);
const json = (v) => JSON.stringify(v);

// ---- request_body: request bodies as clients send them
const chat = { model: 'gpt-4o-mini', messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'hi \u00e9 \ud83d\ude00' }] };
write('request_body', 'chat', json(chat));
write('request_body', 'chat_stream', json({ ...chat, stream: true, max_tokens: 64 }));
write('request_body', 'chat_stream_options', json({ ...chat, stream: true, stream_options: { include_usage: false } }));
write('request_body', 'responses_previous', json({ model: 'o3', input: 'go on', previous_response_id: 'resp_abc~0011223344556677889900aa', max_output_tokens: 100 }));
write('request_body', 'no_model', json({ input: 'x', previous_response_id: 'resp_1' }));
write('request_body', 'embeddings', json({ model: 'text-embedding-3-small', input: ['a', 'b'], encoding_format: 'float' }));
write('request_body', 'tools', json({ ...chat, tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object', properties: { a: { type: 'number' } } } } }], tool_choice: 'auto', max_completion_tokens: 12 }));
write('request_body', 'files', json({ model: 'gpt-4o', input_file_id: 'file-1~aabbccdd0011223344556677', vector_store_ids: ['vs_1'] }));
write('request_body', 'escapes', '{"model":"a\\u0041\\n","stream":true,"x":[1,2.5e10,-0,true,false,null,{"y":"\\ud83d\\ude00"}]}');
write('request_body', 'duplicate_model', '{"model":"a","model":"b"}');
write('request_body', 'bad_utf8', Buffer.concat([Buffer.from('{"model":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]));
write('request_body', 'deep', `${'['.repeat(200)}${']'.repeat(200)}`);

// ---- stream_events: a split seed, then a backend's SSE stream
const chunk = (delta, extra = {}) => `data: ${json({ id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o', choices: [{ index: 0, delta, finish_reason: null }], ...extra })}\n\n`;
const openaiStream = chunk({ role: 'assistant', content: '' }) + chunk({ content: 'Hel' }) + chunk({ content: 'lo' })
  + chunk({ tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'f', arguments: '{"a":' } }] })
  + `data: ${json({ id: 'chatcmpl-1', choices: [], usage: { prompt_tokens: 9, completion_tokens: 5, total_tokens: 14, prompt_tokens_details: { cached_tokens: 2 }, completion_tokens_details: { reasoning_tokens: 1 } } })}\n\n`
  + 'data: [DONE]\n\n';
write('stream_events', 'openai', withChoice(7, openaiStream));
write('stream_events', 'openai_crlf', withChoice(3, openaiStream.replaceAll('\n', '\r\n')));
const ev = (type, data) => `event: ${type}\ndata: ${json({ type, ...data })}\n\n`;
const anthropicStream = ev('message_start', { message: { id: 'msg_1', type: 'message', role: 'assistant', model: 'claude', content: [], usage: { input_tokens: 10, cache_read_input_tokens: 4, output_tokens: 1 } } })
  + ev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } })
  + ': a comment\n'
  + ev('ping', {})
  + ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'Hi "there"' } })
  + ev('content_block_start', { index: 1, content_block: { type: 'tool_use', id: 'toolu_1', name: 'get', input: {} } })
  + ev('content_block_delta', { index: 1, delta: { type: 'input_json_delta', partial_json: '{"city":' } })
  + ev('content_block_stop', { index: 1 })
  + ev('message_delta', { delta: { stop_reason: 'tool_use', stop_sequence: null }, usage: { output_tokens: 12 } })
  + ev('message_stop', {});
write('stream_events', 'anthropic', withChoice(11, anthropicStream));
write('stream_events', 'anthropic_error', withChoice(1, ev('error', { error: { type: 'overloaded_error', message: 'Overloaded' } })));
write('stream_events', 'responses', withChoice(5, `event: response.completed\ndata: ${json({ type: 'response.completed', response: { id: 'resp_1', model: 'o3', usage: { input_tokens: 3, output_tokens: 4, input_tokens_details: { cached_tokens: 1 }, output_tokens_details: { reasoning_tokens: 2 } } } })}\n\n`));
write('stream_events', 'multiline', withChoice(2, 'id: 1\nretry: 10\ndata: {"a":\ndata: 1}\n\ndata:no space\r\rdata: x\n\n'));
write('stream_events', 'error_chunk', withChoice(9, `data: ${json({ error: { message: 'upstream failed', type: 'server_error' } })}\n\n`));

// ---- event_stream: a split seed, then AWS event-stream frames as Bedrock sends them
const u32 = (v) => { const b = Buffer.alloc(4); b.writeUInt32BE(v >>> 0); return b; };
function frame(headers, payload) {
  const parts = [];
  for (const [name, value] of Object.entries(headers)) {
    const v = Buffer.from(value);
    parts.push(Buffer.from([name.length]), Buffer.from(name), Buffer.from([7, v.length >> 8, v.length & 0xff]), v);
  }
  const h = Buffer.concat(parts);
  const body = Buffer.from(payload);
  const prelude = Buffer.concat([u32(12 + h.length + body.length + 4), u32(h.length)]);
  const head = Buffer.concat([prelude, u32(crc32(prelude))]);
  const message = Buffer.concat([head, h, body]);
  return Buffer.concat([message, u32(crc32(message))]);
}
const bedrockEvent = (type, payload) => frame({ ':event-type': type, ':content-type': 'application/json', ':message-type': 'event' }, json(payload));
const converseStream = Buffer.concat([
  bedrockEvent('messageStart', { role: 'assistant' }),
  bedrockEvent('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'Hello' } }),
  bedrockEvent('contentBlockStart', { contentBlockIndex: 1, start: { toolUse: { toolUseId: 't1', name: 'get' } } }),
  bedrockEvent('contentBlockDelta', { contentBlockIndex: 1, delta: { toolUse: { input: '{"a":1}' } } }),
  bedrockEvent('contentBlockStop', { contentBlockIndex: 1 }),
  bedrockEvent('messageStop', { stopReason: 'tool_use' }),
  bedrockEvent('metadata', { usage: { inputTokens: 7, outputTokens: 3, totalTokens: 10 }, metrics: { latencyMs: 5 } }),
]);
write('event_stream', 'converse', Buffer.concat([Buffer.from([13]), converseStream]));
write('event_stream', 'exception', Buffer.concat([Buffer.from([0]), frame({ ':exception-type': 'throttlingException', ':content-type': 'application/json', ':message-type': 'exception' }, json({ message: 'slow down' }))]));
const broken = Buffer.from(converseStream.subarray(0, 40));
broken[20] ^= 0xff;
write('event_stream', 'bad_crc', Buffer.concat([Buffer.from([4]), broken]));

// ---- translate: which translation (the first byte), then a body
const openaiRequest = { model: 'claude', max_tokens: 100, temperature: 1.5, stop: ['END'], user: 'u1', reasoning_effort: 'low', response_format: { type: 'json_object' },
  messages: [{ role: 'developer', content: 'sys' }, { role: 'user', content: [{ type: 'text', text: 'look' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } }] },
    { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get', arguments: '{"a":1}' } }] },
    { role: 'tool', tool_call_id: 'call_1', content: '42' }],
  tools: [{ type: 'function', function: { name: 'get', description: 'd', parameters: { type: 'object' } } }], tool_choice: { type: 'function', function: { name: 'get' } }, parallel_tool_calls: false };
write('translate', 'chat_to_messages', withChoice(0, json(openaiRequest)));
write('translate', 'message_to_chat', withChoice(1, json({ id: 'msg_1', type: 'message', role: 'assistant', model: 'claude', content: [{ type: 'thinking', thinking: 'hmm' }, { type: 'text', text: 'Hi' }, { type: 'tool_use', id: 'toolu_1', name: 'get', input: { a: 1 } }], stop_reason: 'tool_use', usage: { input_tokens: 5, output_tokens: 7, cache_read_input_tokens: 2, cache_creation_input_tokens: 1 } })));
write('translate', 'anthropic_error', withChoice(2, json({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } })));
write('translate', 'messages_to_chat', withChoice(3, json({ model: 'x', max_tokens: 50, system: [{ type: 'text', text: 'sys' }], stream: true, thinking: { type: 'enabled', budget_tokens: 4000 }, metadata: { user_id: 'u' }, stop_sequences: ['S'],
  messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }, { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } }] },
    { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'get', input: { a: 1 } }] },
    { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: [{ type: 'text', text: '42' }] }, { type: 'text', text: 'and?' }] }],
  tools: [{ name: 'get', description: 'd', input_schema: { type: 'object' } }], tool_choice: { type: 'any', disable_parallel_tool_use: true } })));
write('translate', 'chat_to_message', withChoice(4, json({ id: 'chatcmpl-1', object: 'chat.completion', created: 1, model: 'llama3', choices: [{ index: 0, message: { role: 'assistant', content: 'Hi', reasoning_content: 'r', tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get', arguments: '{"a":1}' } }] }, finish_reason: 'tool_calls' }], usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7, prompt_tokens_details: { cached_tokens: 1 } } })));
write('translate', 'openai_error', withChoice(5, json({ error: { message: 'bad', type: 'invalid_request_error', param: null, code: 'x' } })));
write('translate', 'chat_to_converse', withChoice(6, json(openaiRequest)));
write('translate', 'converse_to_chat', withChoice(7, json({ output: { message: { role: 'assistant', content: [{ reasoningContent: { reasoningText: { text: 'r' } } }, { text: 'Hi' }, { toolUse: { toolUseId: 't1', name: 'get', input: { a: 1 } } }] } }, stopReason: 'tool_use', usage: { inputTokens: 5, outputTokens: 6, totalTokens: 11, cacheReadInputTokens: 1 }, metrics: { latencyMs: 9 } })));
write('translate', 'bedrock_error', withChoice(8, json({ message: 'Too many requests, please wait' })));
write('translate', 'not_json', withChoice(0, '{"model": "x", "messages": [}'));

// ---- config: which dialect (0: detect), then a config file: every example in configs/
for (const file of fs.readdirSync(path.join(repo, 'configs')).filter((f) => f.endsWith('.yaml')))
  write('config', file.replace(/\.yaml$/, ''), withChoice(0, fs.readFileSync(path.join(repo, 'configs', file))));
write('config', 'native_minimal', withChoice(1, 'backends: [{ name: a, url: "http://127.0.0.1:1/v1" }]\n'));
write('config', 'anchors', withChoice(1, 'x: &a { name: a, url: "http://h/v1" }\nbackends: [*a, { <<: *a, name: b }]\nroutes: [{ backend: b }]\n'));

// ---- request_head: a split seed, then a client's request as bytes
const httpRequest = (line, headers, body = '') => `${line}\r\n${headers.map((h) => `${h}\r\n`).join('')}${body ? `Content-Length: ${Buffer.byteLength(body)}\r\n` : ''}\r\n${body}`;
const chatBody = json({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }], stream: true });
write('request_head', 'chat', withChoice(17, httpRequest('POST /v1/chat/completions HTTP/1.1', ['Host: gw:1975', 'Authorization: Bearer sk-client-key-123', 'Content-Type: application/json', 'OpenAI-Organization: org-1', 'x-request-id: abc'], chatBody)));
write('request_head', 'chunked', withChoice(5, `POST /v1/embeddings HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\napi-key: client-azure-key\r\n\r\n${(Buffer.byteLength(json({ model: 'e', input: 'x' }))).toString(16)}\r\n${json({ model: 'e', input: 'x' })}\r\n0\r\n\r\n`));
write('request_head', 'models_query', withChoice(0, httpRequest('GET /v1/models?after=m~0011223344556677889900aa&limit=2 HTTP/1.1', ['Host: gw', 'Connection: keep-alive, X-Private', 'X-Private: hop', 'Cookie: a=b', 'X-Forwarded-For: 10.0.0.1'])));
write('request_head', 'anthropic', withChoice(9, httpRequest('POST /v1/messages?beta=true HTTP/1.1', ['Host: gw', 'x-api-key: sk-ant-client', 'anthropic-version: 2023-06-01', 'anthropic-beta: tools-2024', 'Content-Type: application/json'], json({ model: 'claude', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }))));
write('request_head', 'header_model', withChoice(3, httpRequest('POST /v1/audio/transcriptions HTTP/1.1', ['Host: gw', 'x-ai-eg-model: whisper-1', 'aigw-backend-selector: azure', 'Content-Type: multipart/form-data; boundary=x'], '--x\r\nContent-Disposition: form-data; name="model"\r\n\r\nwhisper-1\r\n--x--\r\n')));
write('request_head', 'realtime', withChoice(0, httpRequest('GET /v1/realtime?model=gpt-4o-realtime HTTP/1.1', ['Host: gw', 'Connection: Upgrade', 'Upgrade: websocket', 'Sec-WebSocket-Version: 13', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Protocol: realtime, openai-insecure-api-key.sk-x'])));
write('request_head', 'smuggle_te_cl', withChoice(2, 'POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /admin HTTP/1.1\r\n\r\n'));
write('request_head', 'http10', withChoice(1, 'POST /v1/completions HTTP/1.0\r\nContent-Length: 16\r\n\r\n{"model":"m","p"'));
write('request_head', 'model_path_tricks', withChoice(4, httpRequest('POST /v1/chat/completions HTTP/1.1', ['Host: gw'], json({ model: 'a/../../b?x=1#f', messages: [] }))));

// ---- response_stages: [chain, head, flags, split seed, previous head, previous flags,
// previous length (2 bytes)], then the previous answer's body (relayed first by the stages
// that are then reused), then the answer's body.
//   chain: 0 anthropic chat, 1 anthropic messages, 2 bedrock chat, 3 object ids, 4 resume,
//          5 usage (forced);
//   head: status (low 3 bits: 200, 200, 200, 201, 400, 429, 500, 529) and content type
//         (>> 3: event-stream, json, amazon eventstream, event-stream;charset, json;charset,
//         text/plain, none);
//   flags: 1 include_usage, 2 ends cleanly, 4 continuation, 8 usage headers, 16/32 backend,
//          64 gzip, 128 x-amzn-errortype.
const answer = (chain, status, type, flags, seed, body, previous = { status: 0, type: 0, flags: 2, body: '' }) => {
  const before = Buffer.from(previous.body);
  return Buffer.concat([Buffer.from([chain, status | (type << 3), flags, seed, previous.status | (previous.type << 3), previous.flags, before.length >> 8, before.length & 0xff]), before, Buffer.from(body)]);
};
const chatCompletion = { id: 'chatcmpl-1', object: 'chat.completion', created: 1, model: 'llama3', choices: [{ index: 0, message: { role: 'assistant', content: 'Hi', tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get', arguments: '{"a":1}' } }] }, finish_reason: 'tool_calls' }], usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 } };
const anthropicMessage = { id: 'msg_1', type: 'message', role: 'assistant', model: 'claude', content: [{ type: 'text', text: 'Hi' }], stop_reason: 'end_turn', usage: { input_tokens: 5, output_tokens: 7 } };
write('response_stages', 'anthropic_stream', answer(0, 0, 0, 3, 7, anthropicStream));
write('response_stages', 'anthropic_after_cut_tool_call', answer(0, 0, 0, 3, 5, anthropicStream, { status: 0, type: 0, flags: 1, body: anthropicStream.slice(0, anthropicStream.indexOf('input_json_delta') + 40) }));
write('response_stages', 'anthropic_stream_cut', answer(0, 0, 3, 1, 3, anthropicStream.slice(0, 700)));
write('response_stages', 'anthropic_no_message_start', answer(0, 0, 3, 3, 2, anthropicStream.slice(anthropicStream.indexOf('event: content_block_start')), { status: 0, type: 0, flags: 3, body: anthropicStream }));
write('response_stages', 'anthropic_message', answer(0, 0, 1, 2, 5, json(anthropicMessage)));
write('response_stages', 'anthropic_error', answer(0, 7, 1, 2, 0, json({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } })));
write('response_stages', 'anthropic_error_event', answer(0, 0, 0, 3, 9, anthropicStream.slice(0, 400) + ev('error', { error: { type: 'api_error', message: 'x' } })));
write('response_stages', 'messages_stream', answer(1, 0, 0, 3, 11, openaiStream));
write('response_stages', 'messages_after_error', answer(1, 0, 0, 3, 11, openaiStream, { status: 6, type: 1, flags: 2, body: json({ error: { message: 'x' } }) }));
write('response_stages', 'messages_completion', answer(1, 0, 4, 2, 2, json(chatCompletion)));
write('response_stages', 'messages_error', answer(1, 4, 1, 2, 0, json({ error: { message: 'bad', type: 'invalid_request_error' } })));
write('response_stages', 'bedrock_stream', answer(2, 0, 2, 3, 13, converseStream));
write('response_stages', 'bedrock_after_cut_frame', answer(2, 0, 2, 3, 3, converseStream, { status: 0, type: 2, flags: 1, body: converseStream.subarray(0, 170) }));
write('response_stages', 'bedrock_stream_cut', answer(2, 0, 2, 1, 1, converseStream.subarray(0, 150)));
write('response_stages', 'bedrock_converse', answer(2, 0, 1, 2, 6, json({ output: { message: { role: 'assistant', content: [{ text: 'Hi' }] } }, stopReason: 'end_turn', usage: { inputTokens: 5, outputTokens: 6, totalTokens: 11 } })));
write('response_stages', 'bedrock_error', answer(2, 5, 1, 0x82, 0, json({ message: 'Too many requests' })));
write('response_stages', 'bedrock_exception', answer(2, 0, 2, 3, 4, Buffer.concat([bedrockEvent('messageStart', { role: 'assistant' }), bedrockEvent('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'Hel' } }), frame({ ':exception-type': 'throttlingException', ':content-type': 'application/json', ':message-type': 'exception' }, json({ message: 'slow down' }))])));
write('response_stages', 'object_response', answer(3, 0, 1, 2 | 16, 4, json({ id: 'resp_1', object: 'response', model: 'o3', previous_response_id: 'resp_0', output: [{ type: 'message', id: 'msg_1', content: [{ type: 'output_text', text: 'hi' }] }], usage: { input_tokens: 3, output_tokens: 4 } })));
write('response_stages', 'object_list', answer(3, 0, 4, 2 | 32, 8, json({ object: 'list', data: [{ id: 'file-1', object: 'file', bytes: 3 }, { id: 'file-2', object: 'file' }], first_id: 'file-1', last_id: 'file-2', has_more: false })));
write('response_stages', 'object_stream', answer(3, 0, 0, 2 | 16, 6, `event: response.created\ndata: ${json({ type: 'response.created', response: { id: 'resp_9', object: 'response', status: 'in_progress' } })}\n\nevent: response.completed\ndata: ${json({ type: 'response.completed', response: { id: 'resp_9', object: 'response', usage: { input_tokens: 1, output_tokens: 2 } } })}\n\n`));
write('response_stages', 'resume_stream', answer(4, 0, 0, 2, 7, openaiStream));
write('response_stages', 'resume_cut', answer(4, 0, 0, 0, 3, openaiStream.slice(0, 500)));
write('response_stages', 'resume_after_cut', answer(4, 0, 0, 2, 7, openaiStream, { status: 0, type: 0, flags: 0, body: openaiStream.slice(0, 300) }));
write('response_stages', 'resume_continuation', answer(4, 0, 3, 6, 5, chunk({ role: 'assistant', content: '' }) + chunk({ content: ' and more' }) + 'data: [DONE]\n\n'));
write('response_stages', 'resume_error_event', answer(4, 0, 0, 2, 2, chunk({ content: 'Hel' }) + `data: ${json({ error: { message: 'failed' } })}\n\n`));
write('response_stages', 'usage_forced', answer(5, 0, 0, 2, 9, openaiStream.replaceAll('"finish_reason":null}]', '"finish_reason":null}],"usage":null')));
write('response_stages', 'usage_headers', answer(5, 0, 1, 10, 0, json(chatCompletion)));
