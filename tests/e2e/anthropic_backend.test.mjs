// The official OpenAI client against an Anthropic-shaped backend (`schema: anthropic`): its
// requests are translated into the Messages API, the answers (JSON, streams, tool calls,
// errors) back into OpenAI's, and the provider's usage is counted in /metrics whether or
// not the client asked for it. A translated backend also serves as another's fallback.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { startAnthropicUpstream, USAGE } from '../fakes/anthropic_upstream.mjs';
import { startFakeUpstream } from '../fakes/fake_upstream.mjs';
import { closedPort, gatewayConfig, request, runCli, startGateway, writeTempFile, settledTokenSums, tokenSumsReaching } from '../integration/harness.mjs';

const LIMIT = { timeout: 20000 };
const PROMPT_TOKENS = USAGE.input_tokens + USAGE.cache_read_input_tokens + USAGE.cache_creation_input_tokens;

let claude;
let openaiFake;
let healthy;
let gw;
let client;

before(async () => {
  claude = await startAnthropicUpstream({ apiKey: 'sk-ant-backend' });
  openaiFake = await startFakeUpstream();
  openaiFake.defaults['x-fake-status'] = '500';  // the primary that fails over to Claude
  healthy = await startFakeUpstream();
  const nowhere = await closedPort();
  gw = await startGateway(gatewayConfig({
    backends: [
      { name: 'claude', url: claude.origin, api_key: 'sk-ant-backend', schema: 'anthropic', max_tokens: 1000 },
      { name: 'failing-openai', url: openaiFake.url },
      { name: 'unreachable', url: `http://127.0.0.1:${nowhere}/v1` },
      { name: 'healthy', url: healthy.url },
    ],
    routes: [
      { match: { model: 'primary-then-claude' }, backends: [
        { backend: 'failing-openai', priority: 0 },
        { backend: 'claude', priority: 1, model_override: 'claude-sonnet-4-5' }] },
      { match: { model: 'claude-then-unreachable' }, backends: [
        { backend: 'claude', priority: 0, model_override: 'claude-sonnet-4-5' },
        { backend: 'unreachable', priority: 1 }] },
      { match: { model: 'claude-or-openai' }, backends: [
        { backend: 'claude', priority: 0 },
        { backend: 'healthy', priority: 1 }] },
      { match: { model: 'claude-*' }, backend: 'claude' },
      { backend: 'claude', model_override: 'claude-haiku-4-5' },
    ],
  }));
  client = new OpenAI({ baseURL: `${gw.base}/v1`, apiKey: 'sk-client', maxRetries: 0, timeout: 15000 });
});

after(async () => {
  await gw?.stop();
  await claude?.close();
  await openaiFake?.close();
  await healthy?.close();
});

const lastSent = () => claude.requests.at(-1);

describe('openai client -> anthropic backend', () => {
  test('a chat completion: the request translated, the message back as a completion', LIMIT, async () => {
    const completion = await client.chat.completions.create({
      model: 'claude-sonnet-4-5',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Say hello' },
      ],
      temperature: 0.5,
      stop: ['END'],
    });
    assert.equal(completion.object, 'chat.completion');
    assert.equal(completion.model, 'claude-sonnet-4-5');
    assert.equal(completion.choices[0].message.role, 'assistant');
    assert.equal(completion.choices[0].message.content, 'hello from anthropic');
    assert.equal(completion.choices[0].finish_reason, 'stop');
    assert.equal(completion.usage.prompt_tokens, PROMPT_TOKENS);
    assert.equal(completion.usage.completion_tokens, USAGE.output_tokens);

    const sent = lastSent();
    assert.equal(sent.path, '/v1/messages');
    assert.equal(sent.headers['x-api-key'], 'sk-ant-backend');
    assert.equal(sent.headers['anthropic-version'], '2023-06-01');
    assert.equal(sent.headers.authorization, undefined);  // the client's key never goes on
    assert.equal(sent.body.system, 'Be brief.');
    assert.deepEqual(sent.body.messages, [{ role: 'user', content: [{ type: 'text', text: 'Say hello' }] }]);
    assert.equal(sent.body.max_tokens, 1000);  // the backend's default
    assert.deepEqual(sent.body.stop_sequences, ['END']);
    assert.equal(sent.body.temperature, 0.5);
  });

  test('a stream with include_usage: chunks, finish_reason, the usage chunk', LIMIT, async () => {
    const text = 'The quick brown fox jumps over the lazy dog, "quoted"\n and caf\u00e9 \u2603.';
    const stream = await client.chat.completions.create(
      { model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'Go' }], stream: true, stream_options: { include_usage: true } },
      { headers: { 'x-fake-text': encodeURIComponent(text) } },
    );
    let content = '';
    let finish = null;
    let usage = null;
    let role = null;
    for await (const chunk of stream) {
      assert.equal(chunk.object, 'chat.completion.chunk');
      if (chunk.usage) usage = chunk.usage;
      const choice = chunk.choices[0];
      if (!choice) continue;
      role ??= choice.delta.role ?? null;
      content += choice.delta.content ?? '';
      finish = choice.finish_reason ?? finish;
    }
    assert.equal(role, 'assistant');
    assert.equal(content, text);
    assert.equal(finish, 'stop');
    assert.equal(usage.prompt_tokens, PROMPT_TOKENS);
    assert.equal(usage.completion_tokens, USAGE.output_tokens);
    assert.equal(lastSent().body.stream, true);
  });

  test('tool calls: streamed arguments, then the tool result goes back as a tool_result', LIMIT, async () => {
    const tools = [{ type: 'function', function: { name: 'get_weather', description: 'Weather in a city',
      parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } }];
    const messages = [{ role: 'user', content: 'Weather in Paris?' }];
    const stream = await client.chat.completions.create({ model: 'claude-sonnet-4-5', messages, tools, tool_choice: 'auto', stream: true });
    const calls = [];
    let finish = null;
    for await (const chunk of stream) {
      const choice = chunk.choices[0];
      if (!choice) continue;
      for (const call of choice.delta.tool_calls ?? []) {
        calls[call.index] ??= { id: call.id, name: call.function?.name, arguments: '' };
        calls[call.index].arguments += call.function?.arguments ?? '';
      }
      finish = choice.finish_reason ?? finish;
    }
    assert.equal(finish, 'tool_calls');
    assert.equal(calls.length, 1);
    assert.equal(calls[0].name, 'get_weather');
    assert.match(calls[0].id, /^toolu_fake/);
    assert.deepEqual(JSON.parse(calls[0].arguments), { city: 'Paris' });
    const sentTools = lastSent().body.tools;
    assert.equal(sentTools[0].name, 'get_weather');
    assert.deepEqual(sentTools[0].input_schema.required, ['city']);
    assert.deepEqual(lastSent().body.tool_choice, { type: 'auto' });

    // The answer to the call, as the SDK user sends it: accepted by the (strict) backend.
    const completion = await client.chat.completions.create({
      model: 'claude-sonnet-4-5', tools,
      messages: [...messages,
        { role: 'assistant', content: null, tool_calls: [{ id: calls[0].id, type: 'function', function: { name: 'get_weather', arguments: calls[0].arguments } }] },
        { role: 'tool', tool_call_id: calls[0].id, content: '18 C, sunny' }],
    });
    assert.equal(completion.choices[0].message.content, 'hello from anthropic');
    const turns = lastSent().body.messages;
    assert.equal(turns[1].content[0].type, 'tool_use');
    assert.deepEqual(turns[2].content[0], { type: 'tool_result', tool_use_id: calls[0].id, content: [{ type: 'text', text: '18 C, sunny' }] });
  });

  test('a non-streamed tool call comes back as tool_calls', LIMIT, async () => {
    const completion = await client.chat.completions.create({
      model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'Weather?' }],
      tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object' } } }],
    });
    const call = completion.choices[0].message.tool_calls[0];
    assert.equal(completion.choices[0].finish_reason, 'tool_calls');
    assert.equal(call.function.name, 'get_weather');
    assert.deepEqual(JSON.parse(call.function.arguments), { city: 'Paris' });
  });

  test("Anthropic's errors in OpenAI's shape: 529 overloaded is a 503 the SDK understands", LIMIT, async () => {
    await assert.rejects(
      client.chat.completions.create({ model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'x' }] },
        { headers: { 'x-fake-status': '529' } }),
      (e) => e instanceof OpenAI.APIError && e.status === 503 && e.message.includes('Overloaded') && e.code === 'overloaded_error');
    // A request the backend refuses (bad role order can't happen after translation; a bad
    // key can): the backend's 401, with its message, as OpenAI's error.
    const res = await request(gw.base, '/v1/chat/completions', {
      headers: { 'x-fake-status': '400' },
      body: { model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'x' }] },
    });
    assert.equal(res.status, 400);
    assert.equal(res.headers['content-type'], 'application/json');
    assert.equal(res.json.error.message, 'fake error');
  });

  test('an error event mid-stream reaches the SDK as an error, with its message', LIMIT, async () => {
    const stream = await client.chat.completions.create(
      { model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'Go' }], stream: true },
      { headers: { 'x-fake-error-after': '2' } },
    );
    let content = '';
    await assert.rejects(async () => {
      for await (const chunk of stream) content += chunk.choices[0]?.delta.content ?? '';
    }, (e) => e.message.includes('Overloaded'));
    assert.equal(content, 'hello from');
  });

  test('what cannot be translated is a 400 or a 404 that says why', LIMIT, async () => {
    const bad = await request(gw.base, '/v1/chat/completions', {
      body: { model: 'claude-sonnet-4-5', n: 2, messages: [{ role: 'user', content: 'x' }] },
    });
    assert.equal(bad.status, 400);
    assert.match(bad.json.error.message, /n other than 1/);
    const embeddings = await request(gw.base, '/v1/embeddings', { body: { model: 'claude-sonnet-4-5', input: 'x' } });
    assert.equal(embeddings.status, 404);
    assert.match(embeddings.json.error.message, /schema anthropic/);
  });

  test("what one target cannot take goes to the route's next target", LIMIT, async () => {
    const embeddings = await request(gw.base, '/v1/embeddings', { body: { model: 'claude-or-openai', input: 'x' } });
    assert.equal(embeddings.status, 200);
    assert.equal(embeddings.headers['x-aigw-backend'], 'healthy');
    assert.equal(embeddings.headers['x-aigw-attempts'], '1');  // a refusal is no attempt
    const two = await request(gw.base, '/v1/chat/completions', {
      body: { model: 'claude-or-openai', n: 2, messages: [{ role: 'user', content: 'x' }] } });
    assert.equal(two.status, 200);
    assert.equal(two.headers['x-aigw-backend'], 'healthy');
  });

  test('a translated backend as the fallback of an OpenAI one', LIMIT, async () => {
    const completion = await client.chat.completions.create({ model: 'primary-then-claude', messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(completion.choices[0].message.content, 'hello from anthropic');
    assert.equal(lastSent().body.model, 'claude-sonnet-4-5');
    const stream = await client.chat.completions.create({ model: 'primary-then-claude', messages: [{ role: 'user', content: 'hi' }], stream: true });
    let content = '';
    for await (const chunk of stream) content += chunk.choices[0]?.delta.content ?? '';
    assert.equal(content, 'hello from anthropic');
  });

  test("a held Anthropic answer, when every other try fails, is translated too", LIMIT, async () => {
    const res = await request(gw.base, '/v1/chat/completions', {
      headers: { 'x-fake-status': '529' },
      body: { model: 'claude-then-unreachable', messages: [{ role: 'user', content: 'x' }] },
    });
    assert.equal(res.status, 503);
    assert.equal(res.headers['x-aigw-backend'], 'claude');
    assert.equal(res.json.error.message, 'Overloaded');
  });

  test('usage of translated answers is counted, also for streams that did not ask for it', LIMIT, async () => {
    const before = await settledTokenSums(gw, 'gen_ai_provider_name="anthropic"');
    const stream = await client.chat.completions.create({ model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'Go' }], stream: true });
    let sawUsage = false;
    for await (const chunk of stream) if (chunk.usage) sawUsage = true;
    assert.equal(sawUsage, false);  // the client gets the stream it asked for
    await client.chat.completions.create({ model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'Go' }] });
    const afterwards = await tokenSumsReaching(gw, 'gen_ai_provider_name="anthropic"', before, { input: 2 * PROMPT_TOKENS, output: 2 * USAGE.output_tokens });
    assert.equal(afterwards.input - before.input, 2 * PROMPT_TOKENS);
    assert.equal(afterwards.output - before.output, 2 * USAGE.output_tokens);
  });
});

// The other gateways' configs name Anthropic their own way; each becomes `schema: anthropic`,
// with a warning that says what the translation approximates.
describe('dialects: Anthropic backends of Envoy AI Gateway, archgw and LiteLLM', () => {
  const configs = {
    envoy: () => `
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: AIGatewayRoute
metadata: { name: route }
spec:
  rules:
    - backendRefs: [{ name: claude }]
---
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: AIServiceBackend
metadata: { name: claude }
spec:
  schema: { name: Anthropic }
  backendRef: { name: claude-endpoint, kind: Backend, group: gateway.envoyproxy.io }
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata: { name: claude-endpoint }
spec:
  endpoints: [{ ip: { address: 127.0.0.1, port: ${claude.port} } }]
---
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: BackendSecurityPolicy
metadata: { name: claude-key }
spec:
  type: AnthropicAPIKey
  targetRefs: [{ name: claude, kind: AIServiceBackend, group: aigateway.envoyproxy.io }]
  anthropicAPIKey: { secretRef: { name: claude-secret } }
---
apiVersion: v1
kind: Secret
metadata: { name: claude-secret }
stringData: { apiKey: "\${ANTHROPIC_API_KEY}" }
`,
    archgw: () => `
llm_providers:
  - name: claude
    model: anthropic/claude-sonnet-4-5
    access_key: $ANTHROPIC_API_KEY
    base_url: ${claude.origin}
    default: true
`,
    litellm: () => `
model_list:
  - model_name: "*"
    litellm_params:
      model: anthropic/claude-sonnet-4-5
      api_base: ${claude.origin}
      api_key: os.environ/ANTHROPIC_API_KEY
`,
  };
  const env = { ANTHROPIC_API_KEY: 'sk-ant-backend' };
  for (const [dialect, text] of Object.entries(configs)) {
    test(`${dialect}: the OpenAI client gets Claude's translated answer`, LIMIT, async () => {
      const file = writeTempFile(`${dialect}.yaml`, text());
      const check = await runCli(['--check', '--config', file], { env });
      assert.equal(check.code, 0, check.stderr);
      assert.match(check.stderr, /Anthropic's Messages API, translated/);
      const printed = await runCli(['--print-config', '--config', file], { env });
      assert.match(printed.stdout, /schema: anthropic/);
      assert.doesNotMatch(printed.stdout, /sk-ant-backend/);
      const dialectGw = await startGateway(null, { args: ['--config', file, '--listen', '127.0.0.1:0'], env });
      try {
        const c = new OpenAI({ baseURL: `${dialectGw.base}/v1`, apiKey: 'sk-client', maxRetries: 0, timeout: 15000 });
        const completion = await c.chat.completions.create({ model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'hi' }] });
        assert.equal(completion.choices[0].message.content, 'hello from anthropic');
        assert.equal(lastSent().headers['x-api-key'], 'sk-ant-backend');
      } finally {
        await dialectGw.stop();
      }
    });
  }
});

// The token counts /metrics has for the anthropic provider, input and output.
