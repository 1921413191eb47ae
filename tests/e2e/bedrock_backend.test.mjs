// The official OpenAI client against a Bedrock-shaped backend (`schema: bedrock`): requests
// translated to Converse / ConverseStream and signed with SigV4 (the fake verifies every
// signature with its own implementation), answers (JSON, binary event streams, tool calls,
// errors, bad frames) translated back, usage counted. Credentials from the config, the
// environment or the shared credentials file.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { BEDROCK_USAGE, startBedrockUpstream } from '../fakes/bedrock_upstream.mjs';
import { gatewayConfig, request, runCli, startGateway, writeTempFile, settledTokenSums, tokenSumsReaching } from '../integration/harness.mjs';

const LIMIT = { timeout: 20000 };
const KEYS = { accessKeyId: 'AKIDTESTBEDROCK', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYTESTKEY' };
const MODEL_ID = 'anthropic.claude-3-5-sonnet-20240620-v1:0';
const PROMPT_TOKENS = BEDROCK_USAGE.inputTokens + BEDROCK_USAGE.cacheReadInputTokens;

let fake;
let gw;
let client;

const bedrockBackend = (extra = {}) => ({
  name: 'bedrock', schema: 'bedrock', region: 'eu-west-3', url: fake.origin,
  model_ids: { 'claude-sonnet': MODEL_ID }, ...extra,
});

before(async () => {
  fake = await startBedrockUpstream({ region: 'eu-west-3', ...KEYS });
  gw = await startGateway(gatewayConfig({
    backends: [bedrockBackend({ aws: { access_key_id: '${BEDROCK_KEY_ID}', secret_access_key: '${BEDROCK_SECRET}' }, max_tokens: 500 })],
    routes: [{ backend: 'bedrock' }],
  }), { env: { BEDROCK_KEY_ID: KEYS.accessKeyId, BEDROCK_SECRET: KEYS.secretAccessKey } });
  client = new OpenAI({ baseURL: `${gw.base}/v1`, apiKey: 'sk-client', maxRetries: 0, timeout: 15000 });
});

after(async () => {
  await gw?.stop();
  await fake?.close();
});

const last = () => fake.requests.at(-1);

describe('openai client -> bedrock backend', () => {
  test('a chat completion: Converse, signed, with the model id mapped', LIMIT, async () => {
    const completion = await client.chat.completions.create({
      model: 'claude-sonnet',
      messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Say hello' }],
      temperature: 0.4, stop: 'END',
    });
    assert.equal(completion.object, 'chat.completion');
    assert.equal(completion.model, 'claude-sonnet');
    assert.equal(completion.id, 'chatcmpl-fake-req-1');
    assert.equal(completion.choices[0].message.content, 'hello from bedrock');
    assert.equal(completion.choices[0].finish_reason, 'stop');
    assert.equal(completion.usage.prompt_tokens, PROMPT_TOKENS);
    assert.equal(completion.usage.completion_tokens, BEDROCK_USAGE.outputTokens);

    const sent = last();
    assert.equal(sent.path, `/model/${encodeURIComponent(MODEL_ID)}/converse`);
    assert.equal(sent.modelId, MODEL_ID);
    assert.match(sent.headers.authorization, /^AWS4-HMAC-SHA256 Credential=AKIDTESTBEDROCK\/\d{8}\/eu-west-3\/bedrock\/aws4_request/);
    assert.deepEqual(sent.body.system, [{ text: 'Be brief.' }]);
    assert.deepEqual(sent.body.messages, [{ role: 'user', content: [{ text: 'Say hello' }] }]);
    assert.deepEqual(sent.body.inferenceConfig, { maxTokens: 500, temperature: 0.4, stopSequences: ['END'] });
  });

  test('a stream: binary frames become chunks, with the usage chunk', LIMIT, async () => {
    const stream = await client.chat.completions.create({
      model: 'claude-sonnet', messages: [{ role: 'user', content: 'Go' }], stream: true, stream_options: { include_usage: true },
    });
    let content = '';
    let finish = null;
    let usage = null;
    for await (const chunk of stream) {
      if (chunk.usage) usage = chunk.usage;
      content += chunk.choices[0]?.delta.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    assert.equal(content, 'hello from bedrock');
    assert.equal(finish, 'stop');
    assert.equal(usage.prompt_tokens, PROMPT_TOKENS);
    assert.equal(usage.completion_tokens, BEDROCK_USAGE.outputTokens);
    assert.match(last().path, /\/converse-stream$/);
  });

  test('tool calls, streamed, then the tool result as a toolResult', LIMIT, async () => {
    const tools = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];
    const messages = [{ role: 'user', content: 'Weather in Paris?' }];
    const stream = await client.chat.completions.create({ model: 'claude-sonnet', messages, tools, tool_choice: 'required', stream: true });
    const calls = [];
    let finish = null;
    for await (const chunk of stream) {
      for (const call of chunk.choices[0]?.delta.tool_calls ?? []) {
        calls[call.index] ??= { id: call.id, name: call.function?.name, arguments: '' };
        calls[call.index].arguments += call.function?.arguments ?? '';
      }
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    assert.equal(finish, 'tool_calls');
    assert.equal(calls[0].name, 'get_weather');
    assert.deepEqual(JSON.parse(calls[0].arguments), { city: 'Paris' });
    assert.deepEqual(last().body.toolConfig.toolChoice, { any: {} });
    assert.deepEqual(last().body.toolConfig.tools[0].toolSpec.inputSchema.json.properties, { city: { type: 'string' } });

    const completion = await client.chat.completions.create({ model: 'claude-sonnet', tools, messages: [...messages,
      { role: 'assistant', content: null, tool_calls: [{ id: calls[0].id, type: 'function', function: { name: 'get_weather', arguments: calls[0].arguments } }] },
      { role: 'tool', tool_call_id: calls[0].id, content: '18 C' }] });
    assert.equal(completion.choices[0].message.content, 'hello from bedrock');
    const turns = last().body.messages;
    assert.deepEqual(turns[1].content[0].toolUse, { toolUseId: calls[0].id, name: 'get_weather', input: { city: 'Paris' } });
    assert.deepEqual(turns[2], { role: 'user', content: [{ toolResult: { toolUseId: calls[0].id, content: [{ text: '18 C' }] } }] });
  });

  test("Bedrock's errors in OpenAI's shape", LIMIT, async () => {
    await assert.rejects(
      client.chat.completions.create({ model: 'claude-sonnet', messages: [{ role: 'user', content: 'x' }] }, { headers: { 'x-fake-status': '429' } }),
      (e) => e instanceof OpenAI.RateLimitError && e.code === 'ThrottlingException' && /Too many requests/.test(e.message));
    const bad = await request(gw.base, '/v1/chat/completions', { headers: { 'x-fake-status': '400' },
      body: { model: 'claude-sonnet', messages: [{ role: 'user', content: 'x' }] } });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error.type, 'invalid_request_error');
    assert.equal(bad.headers['content-type'], 'application/json');
  });

  test('an exception frame mid-stream, and a frame with a bad CRC, end the stream as errors', LIMIT, async () => {
    for (const [header, pattern] of [['x-fake-exception', /Too many tokens/], ['x-fake-bad-crc', /CRC does not match/]]) {
      const stream = await client.chat.completions.create(
        { model: 'claude-sonnet', messages: [{ role: 'user', content: 'Go' }], stream: true }, { headers: { [header]: '1' } });
      await assert.rejects(async () => {
        for await (const chunk of stream) void chunk;
      }, (e) => pattern.test(e.message), header);
    }
    // The gateway and the connection pool are fine afterwards.
    const ok = await client.chat.completions.create({ model: 'claude-sonnet', messages: [{ role: 'user', content: 'x' }] });
    assert.equal(ok.choices[0].message.content, 'hello from bedrock');
  });

  test('what has no Converse counterpart is a clear 400 or 404', LIMIT, async () => {
    const url = await request(gw.base, '/v1/chat/completions', { body: { model: 'claude-sonnet',
      messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://example.com/a.png' } }] }] } });
    assert.equal(url.status, 400);
    assert.match(url.json.error.message, /base64 data: URLs/);
    const embeddings = await request(gw.base, '/v1/embeddings', { body: { model: 'claude-sonnet', input: 'x' } });
    assert.equal(embeddings.status, 404);
    const messages = await request(gw.base, '/v1/messages', { body: { model: 'claude-sonnet', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] } });
    assert.equal(messages.status, 404);
    assert.equal(messages.json.type, 'error');  // Anthropic's shape on its path
  });

  test('usage is counted in /metrics, streams included', LIMIT, async () => {
    const before = await settledTokenSums(gw, 'gen_ai_provider_name="aws.bedrock"');
    const stream = await client.chat.completions.create({ model: 'claude-sonnet', messages: [{ role: 'user', content: 'Go' }], stream: true });
    for await (const chunk of stream) assert.equal(chunk.usage ?? null, null);
    const afterwards = await tokenSumsReaching(gw, 'gen_ai_provider_name="aws.bedrock"', before, { input: PROMPT_TOKENS, output: BEDROCK_USAGE.outputTokens });
    assert.equal(afterwards.input - before.input, PROMPT_TOKENS);
    assert.equal(afterwards.output - before.output, BEDROCK_USAGE.outputTokens);
  });
});

describe('bedrock credentials: environment, shared file, session token; never printed', () => {
  test('from AWS_* environment variables, with a session token', LIMIT, async () => {
    const tokenFake = await startBedrockUpstream({ region: 'us-west-2', ...KEYS, sessionToken: 'session-token-1' });
    const g = await startGateway(gatewayConfig({
      backends: [{ name: 'b', schema: 'bedrock', region: 'us-west-2', url: tokenFake.origin }], routes: [{ backend: 'b' }],
    }), { env: { AWS_ACCESS_KEY_ID: KEYS.accessKeyId, AWS_SECRET_ACCESS_KEY: KEYS.secretAccessKey, AWS_SESSION_TOKEN: 'session-token-1' } });
    try {
      const res = await request(g.base, '/v1/chat/completions', { body: { model: MODEL_ID, messages: [{ role: 'user', content: 'x' }] } });
      assert.equal(res.status, 200, res.text);
      assert.equal(tokenFake.requests.at(-1).modelId, MODEL_ID);  // no mapping: the model itself
      assert.match(tokenFake.requests.at(-1).headers.authorization, /SignedHeaders=host;x-amz-date;x-amz-security-token,/);
    } finally {
      await g.stop();
      await tokenFake.close();
    }
  });

  test('from a profile of the shared credentials file; --print-config names the profile only', LIMIT, async () => {
    const file = writeTempFile('credentials', `[default]\naws_access_key_id = AKIDWRONG\naws_secret_access_key = nope\n\n[work]\naws_access_key_id = ${KEYS.accessKeyId}\naws_secret_access_key = ${KEYS.secretAccessKey}\n`);
    const env = { AWS_SHARED_CREDENTIALS_FILE: file, AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '' };
    const config = gatewayConfig({ backends: [bedrockBackend({ aws: { profile: 'work' } })], routes: [{ backend: 'bedrock' }] });
    const g = await startGateway(config, { env });
    try {
      const res = await request(g.base, '/v1/chat/completions', { body: { model: 'claude-sonnet', messages: [{ role: 'user', content: 'x' }] } });
      assert.equal(res.status, 200, res.text);
    } finally {
      await g.stop();
    }
    const printed = await runCli(['--print-config', '--config', writeTempFile('bedrock.yaml', config)], { env });
    assert.equal(printed.code, 0, printed.stderr);
    assert.match(printed.stdout, /profile: work/);
    assert.doesNotMatch(printed.stdout, new RegExp(`${KEYS.accessKeyId}|${KEYS.secretAccessKey.replace(/[+/]/g, '.')}`));
  });

  test('keys in the config are printed as their variables; none anywhere is a start-up error', LIMIT, async () => {
    const env = { BEDROCK_KEY_ID: KEYS.accessKeyId, BEDROCK_SECRET: KEYS.secretAccessKey };
    const withKeys = writeTempFile('keys.yaml', gatewayConfig({
      backends: [bedrockBackend({ aws: { access_key_id: '${BEDROCK_KEY_ID}', secret_access_key: '${BEDROCK_SECRET}' } })], routes: [{ backend: 'bedrock' }] }));
    const printed = await runCli(['--print-config', '--config', withKeys], { env });
    assert.match(printed.stdout, /access_key_id: \$\{BEDROCK_KEY_ID\}/);
    assert.doesNotMatch(printed.stdout, /AKIDTESTBEDROCK/);
    const none = writeTempFile('none.yaml', gatewayConfig({ backends: [bedrockBackend()], routes: [{ backend: 'bedrock' }] }));
    const check = await runCli(['--check', '--config', none], { env: { AWS_SHARED_CREDENTIALS_FILE: '/nonexistent', AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '' } });
    assert.notEqual(check.code, 0);
    assert.match(check.stderr, /no AWS credentials/);
  });
});

describe('dialects: Bedrock backends of Envoy AI Gateway and LiteLLM', () => {
  const port = () => new URL(fake.origin).port;
  const configs = {
    envoy: () => `
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: AIGatewayRoute
metadata: { name: route }
spec:
  rules:
    - backendRefs: [{ name: bedrock, modelNameOverride: "${MODEL_ID}" }]
---
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: AIServiceBackend
metadata: { name: bedrock }
spec:
  schema: { name: AWSBedrock }
  backendRef: { name: bedrock-endpoint, kind: Backend, group: gateway.envoyproxy.io }
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata: { name: bedrock-endpoint }
spec:
  endpoints: [{ ip: { address: 127.0.0.1, port: ${port()} } }]
---
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: BackendSecurityPolicy
metadata: { name: bedrock-credentials }
spec:
  type: AWSCredentials
  targetRefs: [{ name: bedrock, kind: AIServiceBackend, group: aigateway.envoyproxy.io }]
  awsCredentials:
    region: eu-west-3
    credentialsFile: { secretRef: { name: aws-secret }, profile: default }
---
apiVersion: v1
kind: Secret
metadata: { name: aws-secret }
stringData:
  credentials: |
    [default]
    aws_access_key_id = ${KEYS.accessKeyId}
    aws_secret_access_key = \${AWS_SECRET_FOR_TEST}
`,
    litellm: () => `
model_list:
  - model_name: "*"
    litellm_params:
      model: bedrock/converse/${MODEL_ID}
      api_base: ${fake.origin}
      aws_region_name: eu-west-3
      aws_access_key_id: ${KEYS.accessKeyId}
      aws_secret_access_key: os.environ/AWS_SECRET_FOR_TEST
`,
  };
  const env = { AWS_SECRET_FOR_TEST: KEYS.secretAccessKey };
  for (const [dialect, text] of Object.entries(configs)) {
    test(`${dialect}: the OpenAI client gets Bedrock's translated answer`, LIMIT, async () => {
      const file = writeTempFile(`${dialect}.yaml`, text());
      const check = await runCli(['--check', '--config', file], { env });
      assert.equal(check.code, 0, check.stderr);
      assert.match(check.stderr, /Bedrock's Converse API, translated/);
      const printed = await runCli(['--print-config', '--config', file], { env });
      assert.match(printed.stdout, /schema: bedrock/);
      assert.match(printed.stdout, /region: eu-west-3/);
      assert.doesNotMatch(printed.stdout, /wJalrXUtnFEMI/);
      const g = await startGateway(null, { args: ['--config', file, '--listen', '127.0.0.1:0'], env });
      try {
        const c = new OpenAI({ baseURL: `${g.base}/v1`, apiKey: 'sk-client', maxRetries: 0, timeout: 15000 });
        const completion = await c.chat.completions.create({ model: 'anything', messages: [{ role: 'user', content: 'hi' }] });
        assert.equal(completion.choices[0].message.content, 'hello from bedrock');
        assert.equal(last().modelId, MODEL_ID);
      } finally {
        await g.stop();
      }
    });
  }
});
