// Stored objects through a gateway with two backends, with the official OpenAI client: each
// object is made on one backend (east or west, both stateful fakes that 404 what they did not
// make), and every later request naming it must land there, whatever the route table would
// pick for it (the default is east; `west-model` routes to west).

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI, { toFile } from 'openai';
import { startStatefulUpstream } from '../fakes/stateful_upstream.mjs';
import { gatewayConfig, startGateway } from '../integration/harness.mjs';

const LIMIT = { timeout: 20000 };
const TAG = /~[0-9a-f]{24}$/;

let east;
let west;
let gw;
let client;

/** The requests `fake` received since `from`, as "METHOD path". */
const seen = (fake, from) => fake.requests.slice(from).map((r) => `${r.method} ${r.path}`);
const onWest = { headers: { 'x-ai-eg-model': 'west-model' } };

before(async () => {
  east = await startStatefulUpstream('east');
  west = await startStatefulUpstream('west');
  gw = await startGateway(gatewayConfig({
    backends: [{ name: 'east', url: east.url }, { name: 'west', url: west.url }],
    routes: [
      { match: { model: 'west-model' }, backend: 'west' },
      { match: { model: 'west-alias' }, backend: 'west', model_override: 'west-real' },
      { backend: 'east' },
    ],
  }));
  client = new OpenAI({ baseURL: `${gw.base}/v1`, apiKey: 'sk-client', maxRetries: 0, timeout: 15000 });
});

after(async () => {
  await gw?.stop();
  await east?.close();
  await west?.close();
});

describe('stored objects find their backend', () => {
  test('a response: retrieve, input items, a second turn by previous_response_id, delete', LIMIT, async () => {
    const response = await client.responses.create({ model: 'west-model', input: 'first turn' });
    assert.match(response.id, TAG, 'the id the client sees names its backend');
    assert.match(response.id, /^resp_west\d+~/, 'the backend id is kept as the prefix');
    assert.equal(response.output_text, 'west says hi');
    const plain = response.id.replace(TAG, '');
    const from = west.requests.length;

    const again = await client.responses.retrieve(response.id);
    assert.equal(again.id, response.id);
    const items = await client.responses.inputItems.list(response.id);
    assert.equal(items.data[0].content, 'first turn');
    // No model: the default route would pick east; the stored response is on west.
    const second = await client.responses.create({ previous_response_id: response.id, input: 'second turn' });
    assert.equal(second.output_text, 'west says hi');
    assert.match(second.previous_response_id, TAG);
    assert.equal(second.previous_response_id, response.id);
    const deleted = await client.responses.delete(response.id);
    assert.equal(deleted.id, response.id);
    assert.equal(deleted.deleted, true);

    assert.deepEqual(seen(west, from), [
      `GET /v1/responses/${plain}`,
      `GET /v1/responses/${plain}/input_items`,
      'POST /v1/responses',
      `DELETE /v1/responses/${plain}`,
    ]);
    assert.equal(JSON.parse(west.requests[from + 2].body).previous_response_id, plain, 'the backend gets its own id back');
    assert.ok(!east.requests.some((r) => r.path.includes('resp_west')), 'nothing about it went to east');
  });

  test('a streamed response carries the tagged id in its events', LIMIT, async () => {
    const stream = await client.responses.create({ model: 'west-model', input: 'stream it', stream: true });
    const ids = [];
    for await (const event of stream) if (event.response) ids.push(event.response.id);
    assert.equal(ids.length, 2);  // response.created, response.completed
    assert.match(ids[0], TAG);
    assert.equal(ids[0], ids[1]);
    const retrieved = await client.responses.retrieve(ids[0]);
    assert.equal(retrieved.status, 'completed');
  });

  test('a conversation: create, retrieve, add and list items', LIMIT, async () => {
    const conversation = await client.conversations.create({ items: [{ type: 'message', role: 'user', content: 'hello' }] }, onWest);
    assert.match(conversation.id, TAG);
    const retrieved = await client.conversations.retrieve(conversation.id);
    assert.equal(retrieved.id, conversation.id);
    await client.conversations.items.create(conversation.id, { items: [{ type: 'message', role: 'user', content: 'more' }] });
    const items = await client.conversations.items.list(conversation.id);
    assert.deepEqual(items.data.map((i) => i.content[0].text), ['hello', 'more']);
    // A response in the conversation goes to its backend too, and names it in its answer.
    const response = await client.responses.create({ conversation: conversation.id, input: 'in the conversation' });
    assert.equal(response.output_text, 'west says hi');
    assert.equal(response.conversation.id, conversation.id);
  });

  test('a file (multipart upload), then a batch that names it', LIMIT, async () => {
    const file = await client.files.create(
      { file: await toFile(Buffer.from('{"custom_id":"1"}\n'), 'input.jsonl'), purpose: 'batch' }, onWest);
    assert.match(file.id, /^file-west\d+~[0-9a-f]{24}$/);
    assert.equal((await client.files.retrieve(file.id)).filename, 'input.jsonl');
    assert.equal(await (await client.files.content(file.id)).text(), '{"custom_id":"1"}\n');
    // No model and no header: only the file's id can say where the batch must go.
    const batch = await client.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    assert.match(batch.id, /^batch_west\d+~/);
    assert.equal(batch.input_file_id, file.id, 'ids inside an object are tagged too');
    assert.equal((await client.batches.retrieve(batch.id)).status, 'validating');
  });

  test("a second turn keeps the route's model override for the object's backend", LIMIT, async () => {
    const first = await client.responses.create({ model: 'west-alias', input: 'x' });
    const from = west.requests.length;
    await client.responses.create({ model: 'west-alias', previous_response_id: first.id, input: 'y' });
    const sent = JSON.parse(west.requests[from].body);
    assert.equal(sent.model, 'west-real');
    assert.equal(sent.previous_response_id, first.id.replace(TAG, ''));
  });

  test('a list cursor (after=) names its backend too', LIMIT, async () => {
    const first = await client.files.create({ file: await toFile(Buffer.from('a'), 'a.txt'), purpose: 'user_data' }, onWest);
    const second = await client.files.create({ file: await toFile(Buffer.from('b'), 'b.txt'), purpose: 'user_data' }, onWest);
    const page = await client.files.list({ after: first.id });
    assert.ok(page.data.some((f) => f.id === second.id), 'the page after the first file lists the second');
    assert.ok(page.data.every((f) => TAG.test(f.id)));
  });

  test('an id quoted in a prompt or in metadata does not choose the backend', LIMIT, async () => {
    const response = await client.responses.create({ model: 'west-model', input: 'x' });
    const from = east.requests.length;
    const other = await client.responses.create({ model: 'any', input: response.id, metadata: { note: response.id } });
    assert.equal(other.output_text, 'east says hi');
    const sent = JSON.parse(east.requests[from].body);
    assert.equal(sent.input, response.id, 'sent as the client wrote it');
    assert.equal(sent.metadata.note, response.id);
  });

  test('a forged or foreign id goes where the route table says, unchanged', LIMIT, async () => {
    const response = await client.responses.create({ model: 'west-model', input: 'x' });
    const forged = response.id.replace(/.$/, (c) => (c === '0' ? '1' : '0'));
    const from = east.requests.length;
    await assert.rejects(client.responses.retrieve(forged), (e) => e.status === 404);
    await assert.rejects(client.responses.retrieve('resp_someone_else'), (e) => e.status === 404);
    assert.deepEqual(seen(east, from), [`GET /v1/responses/${forged}`, 'GET /v1/responses/resp_someone_else']);
    // The gateway carries on.
    assert.equal((await client.responses.retrieve(response.id)).id, response.id);
  });
});

describe('object affinity stays out of the way', () => {
  test('with one backend, ids pass unchanged', LIMIT, async () => {
    const lone = await startGateway(gatewayConfig({ backends: [{ name: 'east', url: east.url }] }));
    try {
      const one = new OpenAI({ baseURL: `${lone.base}/v1`, apiKey: 'sk-client', maxRetries: 0 });
      const response = await one.responses.create({ model: 'any', input: 'x' });
      assert.match(response.id, /^resp_east\d+$/);
      assert.equal((await one.responses.retrieve(response.id)).id, response.id);
    } finally {
      await lone.stop();
    }
  });

  test('object_affinity: false turns it off', LIMIT, async () => {
    const off = await startGateway(gatewayConfig({
      object_affinity: false,
      backends: [{ name: 'east', url: east.url }, { name: 'west', url: west.url }],
      routes: [{ match: { model: 'west-model' }, backend: 'west' }, { backend: 'east' }],
    }));
    try {
      const c = new OpenAI({ baseURL: `${off.base}/v1`, apiKey: 'sk-client', maxRetries: 0 });
      const response = await c.responses.create({ model: 'west-model', input: 'x' });
      assert.match(response.id, /^resp_west\d+$/);
      // As without a gateway that knows better: the default backend does not have it.
      await assert.rejects(c.responses.retrieve(response.id), (e) => e.status === 404);
    } finally {
      await off.stop();
    }
  });
});
