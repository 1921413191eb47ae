// Stored objects belong to the client key that made them (issue 23, item 4), with the
// official OpenAI client: with `clients:`, every stored object's id is tagged for its owner
// (one backend too), another key naming it gets a 404 as if it did not exist, a raw id or a
// forged tag too, and a listing (whose items would be every key's) a 403. With
// `object_affinity: shared`, objects are every key's, as before.

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import OpenAI, { toFile } from 'openai';
import { startStatefulUpstream } from '../fakes/stateful_upstream.mjs';
import { gatewayConfig, startGateway } from '../integration/harness.mjs';

const LIMIT = { timeout: 20000 };
const TAG = /~[0-9a-f]{24}$/;
const sha256 = (key) => crypto.createHash('sha256').update(key).digest('hex');
const KEYS = { alice: 'sk-alice-0123456789', bob: 'sk-bob-0123456789' };
const clients = Object.entries(KEYS).map(([name, key]) => ({ name, key_sha256: sha256(key) }));

let east;
let gw;
let shared;
const as = (name, base = gw.base) =>
  new OpenAI({ baseURL: `${base}/v1`, apiKey: KEYS[name], maxRetries: 0, timeout: 15000 });

before(async () => {
  east = await startStatefulUpstream('east');
  const backends = [{ name: 'east', url: east.url, api_key: 'sk-east' }];
  gw = await startGateway(gatewayConfig({ clients, backends }));
  shared = await startGateway(gatewayConfig({ clients, backends, object_affinity: 'shared' }));
});

after(async () => {
  await gw?.stop();
  await shared?.stop();
  await east?.close();
});

// Asserts that `call` fails with the status, and that the backend saw nothing of it.
async function refused(call, status) {
  const from = east.requests.length;
  await assert.rejects(call, (e) => e.status === status);
  assert.equal(east.requests.length, from, 'the backend was asked');
}

describe('stored objects are their owner\'s', () => {
  test("a file: its owner reads it; another key, its raw id and a forged tag get 404", LIMIT, async () => {
    const alice = as('alice');
    const bob = as('bob');
    const file = await alice.files.create({ file: await toFile(Buffer.from('secret\n'), 'a.jsonl'), purpose: 'batch' });
    assert.match(file.id, TAG, 'one backend, yet tagged: the tag names the owner');
    assert.equal(await (await alice.files.content(file.id)).text(), 'secret\n');
    await refused(bob.files.retrieve(file.id), 404);
    await refused(bob.files.content(file.id), 404);
    await refused(bob.files.delete(file.id), 404);
    const raw = file.id.replace(TAG, '');
    await refused(bob.files.content(raw), 404);
    await refused(alice.files.content(raw), 404);  // the owner too: only tags name objects
    await refused(bob.files.content(`${raw}~0123456789abcdef01234567`), 404);
    // Named inside a body: a batch of bob's over alice's file.
    await refused(bob.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' }), 404);
    const batch = await alice.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    assert.equal(batch.input_file_id, file.id);
  });

  test('a response: another key cannot retrieve it or continue it', LIMIT, async () => {
    const alice = as('alice');
    const bob = as('bob');
    const response = await alice.responses.create({ model: 'm', input: 'my secret plan' });
    assert.match(response.id, TAG);
    assert.equal((await alice.responses.retrieve(response.id)).id, response.id);
    await refused(bob.responses.retrieve(response.id), 404);
    await refused(bob.responses.inputItems.list(response.id), 404);
    await refused(bob.responses.create({ model: 'm', previous_response_id: response.id, input: 'and?' }), 404);
    await refused(bob.responses.create({ model: 'm', previous_response_id: response.id.replace(TAG, ''), input: 'and?' }), 404);
    const second = await alice.responses.create({ model: 'm', previous_response_id: response.id, input: 'and?' });
    assert.equal(second.previous_response_id, response.id);
  });

  test('listings are refused: their items would be every key\'s', LIMIT, async () => {
    await refused(as('bob').files.list(), 403);
    await refused(as('alice').batches.list(), 403);
    await refused(as('alice').chat.completions.list(), 403);
  });

  test('object_affinity: shared: every key reads every object, and lists them', LIMIT, async () => {
    const alice = as('alice', shared.base);
    const bob = as('bob', shared.base);
    const file = await alice.files.create({ file: await toFile(Buffer.from('ours\n'), 'b.jsonl'), purpose: 'batch' });
    assert.doesNotMatch(file.id, TAG, 'one backend, objects shared: nothing to tag');
    assert.equal(await (await bob.files.content(file.id)).text(), 'ours\n');
    const listed = await bob.files.list();
    assert.ok(listed.data.some((f) => f.id === file.id));
  });
});
