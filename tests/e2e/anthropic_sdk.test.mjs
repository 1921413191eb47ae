// The official Anthropic client (what Claude Code is built on) against the gateway's
// /v1/messages: translated for an OpenAI-compatible backend (a local model server), streaming
// and tool use included; passed through to an Anthropic backend with the backend's key.
// Errors come back in Anthropic's shape on this ingress, and usage is counted either way.

import assert from 'node:assert/strict';
import http from 'node:http';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { COUNTED_TOKENS, startAnthropicUpstream, USAGE } from '../fakes/anthropic_upstream.mjs';
import { gatewayConfig, request, startGateway, settledTokenSums, tokenSumsReaching } from '../integration/harness.mjs';

const LIMIT = { timeout: 20000 };
const TEXT = 'Hello from the "local" model\n\u2603';

// A local OpenAI-compatible server (as Ollama or vLLM serve): chat completions, JSON or
// streamed, with a tool call when the request offers tools and has no tool answer yet.
// x-fake-status: answer with that error status; x-fake-error-after: a stream's error chunk
// after this many content chunks; x-fake-reasoning: reasoning_content before the text.
async function startLocalModel() {
  const requests = [];
  const server = http.createServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const body = JSON.parse(Buffer.concat(chunks).toString() || 'null');
    requests.push({ path: req.url, headers: req.headers, body });
    const status = Number(req.headers['x-fake-status'] ?? 0);
    if (status) {
      res.writeHead(status, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ error: { message: `local error ${status}`, type: 'server_error', code: null } }));
    }
    const id = `chatcmpl-local${requests.length}`;
    const answeredTool = body.messages.some((m) => m.role === 'tool');
    const tool = body.tools?.length && !answeredTool ? body.tools[0].function : null;
    const usage = { prompt_tokens: 20, completion_tokens: 9, total_tokens: 29, prompt_tokens_details: { cached_tokens: 4 } };
    if (!body.stream) {
      const message = tool
        ? { role: 'assistant', content: null, tool_calls: [{ id: 'call_local1', type: 'function', function: { name: tool.name, arguments: '{"city":"Paris"}' } }] }
        : { role: 'assistant', content: TEXT };
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ id, object: 'chat.completion', created: 1, model: body.model,
        choices: [{ index: 0, message, finish_reason: tool ? 'tool_calls' : 'stop' }], usage }));
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const send = (delta, finish = null) => res.write(`data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created: 1,
      model: body.model, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`);
    send({ role: 'assistant', content: '' });
    if (req.headers['x-fake-reasoning']) send({ reasoning_content: 'Thinking it over.' });
    if (tool) {
      send({ tool_calls: [{ index: 0, id: 'call_local1', type: 'function', function: { name: tool.name, arguments: '' } }] });
      for (const piece of ['{"ci', 'ty":', ' "Paris"}']) send({ tool_calls: [{ index: 0, function: { arguments: piece } }] });
      send({}, 'tool_calls');
    } else {
      const errorAfter = Number(req.headers['x-fake-error-after'] ?? -1);
      const pieces = TEXT.match(/.{1,4}/gsu);
      for (let i = 0; i < pieces.length; i++) {
        if (i === errorAfter) {
          res.write(`data: ${JSON.stringify({ error: { message: 'local model crashed', type: 'server_error' } })}\n\n`);
          return res.end();
        }
        send({ content: pieces[i] });
      }
      send({}, 'stop');
    }
    if (body.stream_options?.include_usage)
      res.write(`data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created: 1, model: body.model, choices: [], usage })}\n\n`);
    res.end('data: [DONE]\n\n');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { url: `http://127.0.0.1:${server.address().port}/v1`, requests,
    close: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }) };
}

let local;
let claude;
let gw;
let client;

before(async () => {
  local = await startLocalModel();
  claude = await startAnthropicUpstream({ apiKey: 'sk-ant-backend' });
  gw = await startGateway(gatewayConfig({
    backends: [
      { name: 'local', url: local.url },
      { name: 'claude', url: claude.origin, api_key: 'sk-ant-backend', schema: 'anthropic' },
    ],
    routes: [
      { match: { model: 'claude-real-*' }, backend: 'claude', model_override: 'claude-sonnet-4-5' },
      { backend: 'local', model_override: 'qwen3:8b' },  // Claude Code's claude-* names: the local model
    ],
  }));
  // The SDK's own base URL convention: the host, it adds /v1/messages.
  client = new Anthropic({ baseURL: gw.base, apiKey: 'sk-client', maxRetries: 0, timeout: 15000 });
});

after(async () => {
  await gw?.stop();
  await local?.close();
  await claude?.close();
});

const tools = [{ name: 'get_weather', description: 'Weather in a city',
  input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } }];

describe('anthropic SDK -> /v1/messages -> an OpenAI-compatible backend', () => {
  test('messages.create: translated both ways', LIMIT, async () => {
    const message = await client.messages.create({
      model: 'claude-sonnet-4-5', max_tokens: 256, system: 'Be brief.',
      messages: [{ role: 'user', content: 'Say hello' }], temperature: 0.2, stop_sequences: ['END'],
    });
    assert.equal(message.type, 'message');
    assert.equal(message.role, 'assistant');
    assert.deepEqual(message.content, [{ type: 'text', text: TEXT }]);
    assert.equal(message.stop_reason, 'end_turn');
    assert.equal(message.usage.input_tokens, 16);  // 20 prompt tokens, 4 of them cache reads
    assert.equal(message.usage.cache_read_input_tokens, 4);
    assert.equal(message.usage.output_tokens, 9);

    const sent = local.requests.at(-1);
    assert.equal(sent.path, '/v1/chat/completions');
    assert.equal(sent.headers['x-api-key'], undefined);  // the client's key stays here
    assert.equal(sent.body.model, 'qwen3:8b');
    assert.deepEqual(sent.body.messages, [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Say hello' }]);
    assert.equal(sent.body.max_tokens, 256);
    assert.deepEqual(sent.body.stop, ['END']);
  });

  test('messages.stream: text deltas, the final message and its usage', LIMIT, async () => {
    const stream = client.messages.stream({ model: 'claude-sonnet-4-5', max_tokens: 256, messages: [{ role: 'user', content: 'Go' }] },
      { headers: { 'x-fake-reasoning': '1' } });
    let text = '';
    stream.on('text', (t) => { text += t; });
    const message = await stream.finalMessage();
    assert.equal(text, TEXT);
    assert.equal(message.content.at(-1).text, TEXT);
    assert.equal(message.content[0].type, 'thinking');
    assert.equal(message.content[0].thinking, 'Thinking it over.');
    assert.equal(message.stop_reason, 'end_turn');
    assert.equal(message.usage.output_tokens, 9);
    assert.equal(message.usage.input_tokens, 16);
    assert.equal(local.requests.at(-1).body.stream_options.include_usage, true);
  });

  test('tool use, streamed: tool_use with its input, then the tool_result goes back', LIMIT, async () => {
    const messages = [{ role: 'user', content: 'Weather in Paris?' }];
    const message = await client.messages.stream({ model: 'claude-sonnet-4-5', max_tokens: 256, tools, messages }).finalMessage();
    assert.equal(message.stop_reason, 'tool_use');
    const use = message.content.find((b) => b.type === 'tool_use');
    assert.equal(use.name, 'get_weather');
    assert.equal(use.id, 'call_local1');
    assert.deepEqual(use.input, { city: 'Paris' });
    assert.deepEqual(local.requests.at(-1).body.tools[0].function.parameters.required, ['city']);

    const answer = await client.messages.create({ model: 'claude-sonnet-4-5', max_tokens: 256, tools, messages: [...messages,
      { role: 'assistant', content: message.content },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: '18 C, sunny' }, { type: 'text', text: 'Thanks' }] }] });
    assert.equal(answer.content[0].text, TEXT);
    const sent = local.requests.at(-1).body.messages;
    assert.deepEqual(sent[1].tool_calls[0].function, { name: 'get_weather', arguments: '{"city":"Paris"}' });
    assert.deepEqual(sent[2], { role: 'tool', tool_call_id: 'call_local1', content: '18 C, sunny' });
    assert.deepEqual(sent[3], { role: 'user', content: 'Thanks' });
  });

  test('tool use, not streamed', LIMIT, async () => {
    const message = await client.messages.create({ model: 'claude-sonnet-4-5', max_tokens: 256, tools,
      tool_choice: { type: 'any' }, messages: [{ role: 'user', content: 'Weather?' }] });
    assert.equal(message.stop_reason, 'tool_use');
    assert.deepEqual(message.content, [{ type: 'tool_use', id: 'call_local1', name: 'get_weather', input: { city: 'Paris' } }]);
    assert.equal(local.requests.at(-1).body.tool_choice, 'required');
  });

  test("the backend's errors in Anthropic's shape, with their status", LIMIT, async () => {
    await assert.rejects(
      client.messages.create({ model: 'claude-sonnet-4-5', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] },
        { headers: { 'x-fake-status': '429' } }),
      (e) => e instanceof Anthropic.RateLimitError && e.error.type === 'error' &&
        e.error.error.type === 'rate_limit_error' && e.error.error.message === 'local error 429');
  });

  test("the gateway's own errors in Anthropic's shape too", LIMIT, async () => {
    const res = await request(gw.base, '/v1/messages', { body: { max_tokens: 10, messages: [] } });
    assert.equal(res.status, 400);
    assert.equal(res.json.type, 'error');
    assert.equal(res.json.error.type, 'invalid_request_error');
    assert.match(res.json.error.message, /model/);
    const bad = await request(gw.base, '/v1/messages', { body: { model: 'm', max_tokens: 10, messages: [{ role: 'robot', content: 'x' }] } });
    assert.equal(bad.status, 400);
    assert.match(bad.json.error.message, /role "robot"/);
    // count_tokens has no OpenAI counterpart.
    await assert.rejects(client.messages.countTokens({ model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'x' }] }),
      (e) => e instanceof Anthropic.NotFoundError && e.error.error.type === 'not_found_error');
  });

  test('an error mid-stream reaches the SDK as an error event', LIMIT, async () => {
    const stream = client.messages.stream({ model: 'claude-sonnet-4-5', max_tokens: 256, messages: [{ role: 'user', content: 'Go' }] },
      { headers: { 'x-fake-error-after': '2' } });
    let text = '';
    stream.on('text', (t) => { text += t; });
    await assert.rejects(stream.finalMessage(), (e) => e.message.includes('local model crashed'));
    assert.equal(text, TEXT.slice(0, 8));
  });
});

describe('anthropic SDK -> /v1/messages -> an Anthropic backend: passed through', () => {
  test('messages.create and stream, with the backend key and the route model', LIMIT, async () => {
    const message = await client.messages.create({ model: 'claude-real-latest', max_tokens: 64, messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(message.content[0].text, 'hello from anthropic');
    assert.equal(message.usage.input_tokens, USAGE.input_tokens);
    const sent = claude.requests.at(-1);
    assert.equal(sent.path, '/v1/messages');
    assert.equal(sent.headers['x-api-key'], 'sk-ant-backend');  // never sk-client
    assert.equal(sent.body.model, 'claude-sonnet-4-5');
    assert.ok(sent.headers['anthropic-version']);  // the SDK's own

    const text = await client.messages.stream({ model: 'claude-real-latest', max_tokens: 64, messages: [{ role: 'user', content: 'hi' }] })
      .finalText();
    assert.equal(text, 'hello from anthropic');
    const counted = await client.messages.countTokens({ model: 'claude-real-latest', messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(counted.input_tokens, COUNTED_TOKENS);
    assert.equal(claude.requests.at(-1).path, '/v1/messages/count_tokens');
  });

  test("the backend's errors as they came", LIMIT, async () => {
    await assert.rejects(
      client.messages.create({ model: 'claude-real-latest', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] },
        { headers: { 'x-fake-status': '529' } }),
      (e) => e.status === 529 && e.error.error.type === 'overloaded_error');
  });
});

describe('usage of /v1/messages in /metrics', () => {
  test('counted for translated and passed-through answers, streams included', LIMIT, async () => {
    const before = await settledTokenSums(gw, '');
    await client.messages.stream({ model: 'claude-sonnet-4-5', max_tokens: 9, messages: [{ role: 'user', content: 'a' }] }).finalMessage();
    await client.messages.stream({ model: 'claude-real-latest', max_tokens: 9, messages: [{ role: 'user', content: 'a' }] }).finalMessage();
    await client.messages.create({ model: 'claude-real-latest', max_tokens: 9, messages: [{ role: 'user', content: 'a' }] });
    const anthropicInput = USAGE.input_tokens + USAGE.cache_read_input_tokens + USAGE.cache_creation_input_tokens;
    const afterwards = await tokenSumsReaching(gw, '', before, { input: 20 + 2 * anthropicInput, output: 9 + 2 * USAGE.output_tokens });
    assert.equal(afterwards.input - before.input, 20 + 2 * anthropicInput);
    assert.equal(afterwards.output - before.output, 9 + 2 * USAGE.output_tokens);
  });
});
