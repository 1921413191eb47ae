// An Azure OpenAI backend (schema: azure-openai): the model picks a deployment in the path,
// api-version is added, and the key goes in the api-key header, never as a Bearer token.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startFakeUpstream } from '../fakes/fake_upstream.mjs';
import { chat, gatewayConfig, request, startGateway } from './harness.mjs';

const LIMIT = { timeout: 20000 };
let fake;
let gw;

before(async () => {
  fake = await startFakeUpstream();
  gw = await startGateway(gatewayConfig({
    backends: [{
      name: 'azure',
      url: fake.origin,
      schema: 'azure-openai',
      api_version: '2024-10-21',
      api_key: '${AZURE_KEY}',
      deployments: { 'gpt-4o': 'prod-gpt4o' },
    }],
  }), { env: { AZURE_KEY: 'azure-secret-key' } });
});

after(async () => {
  await gw?.stop();
  await fake?.close();
});

test('chat completions go to the mapped deployment with api-version and api-key', LIMIT, async () => {
  const res = await chat(gw.base, { model: 'gpt-4o', headers: { authorization: 'Bearer sk-client' } });
  assert.equal(res.status, 200, res.text);
  const { echo } = res.json;
  assert.equal(echo.path, '/openai/deployments/prod-gpt4o/chat/completions?api-version=2024-10-21');
  assert.equal(echo.headers['api-key'], 'azure-secret-key');
  assert.equal(echo.headers.authorization, undefined);
  assert.equal(JSON.parse(echo.body).model, 'gpt-4o');
});

test('an unmapped model is its own deployment; embeddings too', LIMIT, async () => {
  const res = await request(gw.base, '/v1/embeddings', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'text-embedding-3-small', input: 'hi' }),
  });
  assert.equal(res.status, 200, res.text);
  assert.equal(fake.requests.at(-1).path,
    '/openai/deployments/text-embedding-3-small/embeddings?api-version=2024-10-21');
});
