// HTTPS backends: verification against a configured CA, against the system
// store (which does not know our throwaway CA), and with verification off.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { startFakeUpstream } from '../fakes/fake_upstream.mjs';
import { REPO_ROOT, assertOpenAiError, chat, gatewayConfig, newTestId, startGateway, tempDir } from './harness.mjs';

const LIMIT = { timeout: 20000 };

let fake;
let gw;

before(async () => {
  const certs = tempDir('aigw-certs-');
  await promisify(execFile)(path.join(REPO_ROOT, 'scripts', 'gen-certs'), [certs]);
  const read = (name) => fs.readFileSync(path.join(certs, name), 'utf8');
  fake = await startFakeUpstream({ tls: { key: read('server.key'), cert: read('server.pem') } });
  assert.match(fake.url, /^https:\/\/127\.0\.0\.1:\d+\/v1$/);

  gw = await startGateway(
    gatewayConfig({
      backends: [
        { name: 'verified', url: fake.url, ca_file: path.join(certs, 'ca.pem') },
        { name: 'system-store', url: fake.url },
        { name: 'insecure', url: fake.url, tls_insecure_skip_verify: true },
      ],
      routes: [
        { match: { headers: { 'aigw-backend-selector': 'system-store' } }, backend: 'system-store' },
        { match: { headers: { 'aigw-backend-selector': 'insecure' } }, backend: 'insecure' },
        { backend: 'verified' },
      ],
    }),
  );
});

after(async () => {
  await gw?.stop();
  await fake?.close();
});

/** A chat through the named backend; returns the response and whether the fake got the request. */
async function via(backend) {
  const id = newTestId();
  const headers = { 'x-test-id': id };
  if (backend !== 'verified') headers['aigw-backend-selector'] = backend;
  const res = await chat(gw.base, { headers });
  const reached = fake.requests.some((r) => r.headers['x-test-id'] === id);
  return { res, reached };
}

describe('HTTPS backend', () => {
  test('with ca_file set to the issuing CA: 200', LIMIT, async () => {
    const { res, reached } = await via('verified');
    assert.equal(res.status, 200, res.text);
    assert.ok(reached);
    assert.equal(res.json.echo.headers.host, `127.0.0.1:${fake.port}`);
  });

  test('verified against the system store, which lacks the CA: 502, nothing sent', LIMIT, async () => {
    const { res, reached } = await via('system-store');
    assertOpenAiError(res, 502);
    assert.equal(reached, false, 'the request went to a server whose certificate failed verification');
  });

  test('with tls_insecure_skip_verify: 200', LIMIT, async () => {
    const { res, reached } = await via('insecure');
    assert.equal(res.status, 200, res.text);
    assert.ok(reached);
  });

  test('TLS connections to the backend are pooled and reused', LIMIT, async () => {
    // Three requests over two workers: at least one worker serves two, and
    // with a pool it needs no second connection (pigeonhole, no timing).
    const count = 3;
    const connectionsBefore = fake.connections;
    for (let i = 0; i < count; i++) {
      const { res } = await via('verified');
      assert.equal(res.status, 200, res.text);
    }
    const opened = fake.connections - connectionsBefore;
    assert.ok(opened < count, `${opened} TLS connections for ${count} requests`);
  });
});
