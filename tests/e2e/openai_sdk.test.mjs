// The official OpenAI Node client, changed in nothing but its base URL, works
// through the gateway: chat, streaming chat, embeddings, model listing.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { startFakeUpstream } from '../fakes/fake_upstream.mjs';
import { gatewayConfig, startGateway } from '../integration/harness.mjs';

const LIMIT = { timeout: 20000 };

let fake;
let gw;
let client;

before(async () => {
  fake = await startFakeUpstream();
  gw = await startGateway(
    gatewayConfig({
      backends: [{ name: 'ollama', url: fake.url }],
      routes: [{ match: { model: 'llama3' }, backend: 'ollama' }, { backend: 'ollama' }],
    }),
  );
  // No retries: a failure must show as a failure, not be papered over.
  client = new OpenAI({ baseURL: `${gw.base}/v1`, apiKey: 'sk-client', maxRetries: 0, timeout: 15000 });
});

after(async () => {
  await gw?.stop();
  await fake?.close();
});

describe('openai SDK through the gateway', () => {
  test('chat.completions.create', LIMIT, async () => {
    const completion = await client.chat.completions.create({
      model: 'llama3',
      messages: [{ role: 'user', content: 'Say hello' }],
    });
    assert.equal(completion.object, 'chat.completion');
    assert.equal(completion.model, 'llama3');
    assert.equal(completion.choices[0].message.role, 'assistant');
    assert.equal(completion.choices[0].message.content, 'hello from fake');
    assert.equal(completion.choices[0].finish_reason, 'stop');
    // The SDK's request went upstream unchanged in substance.
    const sent = JSON.parse(completion.echo.body);
    assert.deepEqual(sent.messages, [{ role: 'user', content: 'Say hello' }]);
  });

  test('streaming chat.completions.create', LIMIT, async () => {
    const stream = await client.chat.completions.create(
      { model: 'llama3', messages: [{ role: 'user', content: 'Count' }], stream: true },
      { headers: { 'x-fake-mode': 'sse', 'x-fake-chunks': '5' } },
    );
    const tokens = [];
    let finishReason = null;
    for await (const chunk of stream) {
      assert.equal(chunk.object, 'chat.completion.chunk');
      const choice = chunk.choices[0];
      if (choice.delta.content) tokens.push(choice.delta.content);
      if (choice.finish_reason) finishReason = choice.finish_reason;
    }
    assert.deepEqual(tokens, ['tok0', 'tok1', 'tok2', 'tok3', 'tok4']);
    assert.equal(finishReason, 'stop');
  });

  test('embeddings.create', LIMIT, async () => {
    // The SDK asks for base64 by default and decodes it to float32.
    const result = await client.embeddings.create({ model: 'llama3', input: 'The quick brown fox' });
    assert.equal(result.object, 'list');
    assert.equal(result.model, 'llama3');
    const vector = result.data[0].embedding;
    assert.equal(vector.length, 3);
    [0.1, 0.2, 0.3].forEach((expected, i) => assert.ok(Math.abs(vector[i] - expected) < 1e-6, `${vector}`));
  });

  test('models.list', LIMIT, async () => {
    const ids = [];
    for await (const model of client.models.list()) {
      assert.equal(model.object, 'model');
      ids.push(model.id);
    }
    assert.deepEqual(ids, ['llama3']);
  });

  test('an upstream error surfaces as the SDK error type with the upstream status', LIMIT, async () => {
    await assert.rejects(
      client.chat.completions.create(
        { model: 'llama3', messages: [{ role: 'user', content: 'hi' }] },
        { headers: { 'x-fake-status': '429' } },
      ),
      (err) => err instanceof OpenAI.RateLimitError && err.status === 429 && err.code === 'fake_429',
    );
  });

  test('a gateway error surfaces as an SDK error with its message', LIMIT, async () => {
    await assert.rejects(
      client.chat.completions.create({ model: undefined, messages: [{ role: 'user', content: 'hi' }] }),
      (err) => err instanceof OpenAI.BadRequestError && err.status === 400 && typeof err.error?.message === 'string',
    );
  });
});
