// A backend API key (from the environment) is sent upstream and nowhere else:
// not in replies made by the gateway, not in relayed streams, not in its logs.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startFakeUpstream } from '../fakes/fake_upstream.mjs';
import { chat, closedPort, gatewayConfig, newTestId, request, startGateway } from './harness.mjs';

const SECRET = 'sk-secret-should-not-leak';

let fake;
let gw;
let gatewayExitCode;
const bodies = []; // every body the gateway sent us

before(async () => {
  fake = await startFakeUpstream();
  const keyed = (name, url, extra = {}) => ({ name, url, api_key: '${TEST_KEY}', ...extra });
  gw = await startGateway(
    gatewayConfig({
      backends: [
        keyed('openai', fake.url),
        keyed('dead', `http://127.0.0.1:${await closedPort()}/v1`),
        keyed('slowpoke', fake.url, { timeouts: { first_byte: '300ms' } }),
      ],
      routes: [
        { match: { headers: { 'aigw-backend-selector': 'dead' } }, backend: 'dead' },
        { match: { headers: { 'aigw-backend-selector': 'slowpoke' } }, backend: 'slowpoke' },
        { match: { model: 'gpt-*' }, backend: 'openai' },
        { backend: 'openai' },
      ],
    }),
    { env: { TEST_KEY: SECRET } },
  );
});

after(async () => {
  if (gatewayExitCode === undefined) await gw?.stop();
  await fake?.close();
});

/** Sends a request and keeps its body for the leak check. */
async function send(pathname, options) {
  const res = await request(gw.base, pathname, options);
  bodies.push(`${pathname} -> ${res.status}: ${res.text}`);
  return res;
}

const chatBody = { model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'hi' }] };

test('the key is used upstream, and leaks nowhere else', { timeout: 30000 }, async () => {
  // Normal traffic, streamed: SSE bodies carry no echo of our request, so any
  // occurrence of the key in them would come from the gateway.
  const id = newTestId();
  const ok = await send('/v1/chat/completions', {
    headers: { 'x-fake-mode': 'sse', 'x-test-id': id, authorization: 'Bearer sk-client' },
    body: chatBody,
  });
  assert.equal(ok.status, 200);
  const upstream = await fake.waitForRequest((r) => r.headers['x-test-id'] === id);
  assert.equal(upstream.headers.authorization, `Bearer ${SECRET}`, 'the key from TEST_KEY was not sent upstream');

  // Replies the gateway makes itself, where a careless error message could quote the backend config.
  const viaBackend = (name, headers = {}) => ({ headers: { 'aigw-backend-selector': name, ...headers }, body: chatBody });
  assert.equal((await send('/v1/chat/completions', viaBackend('dead'))).status, 502);
  assert.equal((await send('/v1/chat/completions', viaBackend('slowpoke', { 'x-fake-mode': 'slow' }))).status, 504);
  const malformed = { headers: { 'content-type': 'application/json' }, body: '{"model": ' };
  assert.equal((await send('/v1/chat/completions', malformed)).status, 400);
  assert.equal((await send('/v1/models')).status, 200);
  assert.equal((await send('/nope', { body: chatBody })).status, 404);
  // Not kept for the check: the fake echoes the upstream headers, key included.
  assert.equal((await chat(gw.base)).status, 200);

  for (const body of bodies) assert.ok(!body.includes(SECRET), `key leaked in a response: ${body}`);

  // Stop first so that every log line is written and read.
  gatewayExitCode = await gw.stop();
  const stderr = gw.stderr();
  assert.ok(stderr.length > 0, 'no log output at all: nothing to check');
  assert.ok(!stderr.includes(SECRET), `key leaked in stderr:\n${stderr}`);
  assert.ok(!gw.stdout().includes(SECRET), 'key leaked in stdout');
});
