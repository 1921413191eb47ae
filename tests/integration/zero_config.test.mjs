// Starting without --config: one default backend, OPENAI_BASE_URL (+ OPENAI_API_KEY) when set,
// otherwise a local Ollama. Clients then need no header and no config at all.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startFakeUpstream } from '../fakes/fake_upstream.mjs';
import { chat, runCli, startGateway } from './harness.mjs';

const LIMIT = { timeout: 20000 };
let fake;

before(async () => {
  fake = await startFakeUpstream();
});

after(async () => {
  await fake?.close();
});

test('with OPENAI_BASE_URL, requests go there with OPENAI_API_KEY', LIMIT, async () => {
  const gw = await startGateway(null, {
    args: ['--listen', '127.0.0.1:0'],
    env: { OPENAI_BASE_URL: fake.url, OPENAI_API_KEY: 'sk-zero-config' },
  });
  try {
    assert.match(gw.stderr(), /no --config: OPENAI_BASE_URL as the default backend/);
    const res = await chat(gw.base, { headers: { authorization: 'Bearer sk-client' } });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.echo.path, '/v1/chat/completions');
    assert.equal(res.json.echo.headers.authorization, 'Bearer sk-zero-config');
  } finally {
    await gw.stop();
  }
  assert.doesNotMatch(gw.stderr(), /sk-zero-config/);
});

test('without OPENAI_BASE_URL, a local Ollama is the default backend', LIMIT, async () => {
  const gw = await startGateway(null, {
    args: ['--listen', '127.0.0.1:0'],
    env: { OPENAI_BASE_URL: '', OPENAI_API_KEY: '' },
  });
  try {
    assert.match(gw.stderr(), /no --config: a local Ollama as the default backend/);
    assert.match(gw.stderr(), /backend ollama -> http:\/\/127\.0\.0\.1:11434\/v1/);
    assert.match(gw.stderr(), /default route -> backend ollama/);
  } finally {
    await gw.stop();
  }
});

test('an OPENAI_BASE_URL pointing at the gateway itself is refused', LIMIT, async () => {
  const { code, stderr } = await runCli(['--check'], {
    env: { OPENAI_BASE_URL: 'http://localhost:1975/v1' },
  });
  assert.equal(code, 1);
  assert.match(stderr, /is this gateway itself/);
});
