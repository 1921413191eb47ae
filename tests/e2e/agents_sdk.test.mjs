// The OpenAI Agents SDK's session memory on the Conversations API (OpenAIConversationsSession)
// through a gateway with two backends: two turns of an agent, with the conversation kept on
// the backend that is not the default. Every items request names only the conversation, so
// only object affinity can send it there.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import OpenAI from 'openai';
import {
  Agent, OpenAIConversationsSession, run, setDefaultOpenAIClient, setOpenAIAPI, setTracingDisabled,
  startOpenAIConversationsSession,
} from '@openai/agents';
import { startStatefulUpstream } from '../fakes/stateful_upstream.mjs';
import { gatewayConfig, startGateway } from '../integration/harness.mjs';

const LIMIT = { timeout: 30000 };

let east;
let west;
let gw;

before(async () => {
  east = await startStatefulUpstream('east');
  west = await startStatefulUpstream('west');
  gw = await startGateway(gatewayConfig({
    backends: [{ name: 'east', url: east.url }, { name: 'west', url: west.url }],
    routes: [{ match: { headers: { 'x-team': 'west' } }, backend: 'west' }, { backend: 'east' }],
  }));
});

after(async () => {
  await gw?.stop();
  await east?.close();
  await west?.close();
});

test('an agent with OpenAIConversationsSession runs two turns, its memory on the other backend', LIMIT, async () => {
  setTracingDisabled(true);
  setOpenAIAPI('responses');
  const client = new OpenAI({ baseURL: `${gw.base}/v1`, apiKey: 'sk-client', maxRetries: 0, timeout: 15000 });
  setDefaultOpenAIClient(client);
  // The conversation is made on west (a header routes it); from then on, nothing says west.
  const westClient = new OpenAI({ baseURL: `${gw.base}/v1`, apiKey: 'sk-client', maxRetries: 0, defaultHeaders: { 'x-team': 'west' } });
  const conversationId = await startOpenAIConversationsSession(westClient);
  const session = new OpenAIConversationsSession({ conversationId, client });

  const agent = new Agent({ name: 'assistant', instructions: 'Answer briefly.', model: 'any-model' });
  const first = await run(agent, 'What is the capital of France?', { session });
  assert.equal(first.finalOutput, 'east says hi');  // the model runs on the default backend
  const second = await run(agent, 'And of Italy?', { session });
  assert.equal(second.finalOutput, 'east says hi');

  // The memory: both turns, in order, read back from west through the gateway.
  const items = await session.getItems();
  const texts = items.map((i) => (typeof i.content === 'string' ? i.content : i.content?.map((c) => c.text).join('')));
  assert.deepEqual(texts, ['What is the capital of France?', 'east says hi', 'And of Italy?', 'east says hi']);
  // The second turn sent the first turn's history to the model.
  const turns = east.requests.filter((r) => r.path === '/v1/responses');
  assert.equal(turns.length, 2);
  assert.match(turns[1].body, /capital of France/);
  // Every conversation request went to west, none to east.
  assert.ok(west.requests.filter((r) => r.path.startsWith('/v1/conversations/')).length >= 4);
  assert.ok(!east.requests.some((r) => r.path.includes('conversations')));
});
