// The command line: --version, --help, --check, config validation errors that
// name the YAML path, ${VAR} expansion errors, the shipped example configs, and
// a clean exit on SIGTERM.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startFakeUpstream } from '../fakes/fake_upstream.mjs';
import { REPO_ROOT, gatewayConfig, runCli, startGateway, writeTempFile } from './harness.mjs';

const LIMIT = { timeout: 20000 };

// Backends are only checked, never contacted, by --check; any URL will do.
const GOOD_CONFIG = `
listen: 127.0.0.1:0
backends:
  - name: ollama
    url: http://127.0.0.1:11434/v1
`;

/** Runs `--check --config <file with text>`. */
function check(yamlText, env) {
  return runCli(['--check', '--config', writeTempFile('config.yaml', yamlText)], { env });
}

/** Asserts the config is rejected with stderr matching each pattern. */
async function assertRejected(yamlText, patterns, env) {
  const { code, stderr } = await check(yamlText, env);
  assert.notEqual(code, 0, `config was accepted:\n${yamlText}`);
  for (const pattern of patterns) assert.match(stderr, pattern);
}

describe('CLI basics', () => {
  test('--version exits 0 and prints a version', LIMIT, async () => {
    const { code, stdout } = await runCli(['--version']);
    assert.equal(code, 0);
    assert.match(stdout, /\d+\.\d+\.\d+/);
  });

  test('--help exits 0 and documents --config', LIMIT, async () => {
    const { code, stdout } = await runCli(['--help']);
    assert.equal(code, 0);
    assert.match(stdout, /--config/);
    assert.match(stdout, /--check/);
  });

  test('an unknown option is an error', LIMIT, async () => {
    const { code } = await runCli(['--no-such-option']);
    assert.notEqual(code, 0);
  });

  test('--check accepts a good config', LIMIT, async () => {
    const { code, stderr } = await check(GOOD_CONFIG);
    assert.equal(code, 0, stderr);
  });

  test('--check accepts the full config format', LIMIT, async () => {
    const full = gatewayConfig({
      backends: [
        { name: 'ollama', url: 'http://127.0.0.1:11434/v1' },
        {
          name: 'openai',
          url: 'https://api.openai.com/v1',
          api_key: '${TEST_KEY}',
          tls_insecure_skip_verify: false,
          timeouts: { first_byte: '500ms' },
        },
      ],
      routes: [
        { match: { headers: { 'aigw-backend-selector': 'openai' } }, backend: 'openai' },
        { match: { model: 'gpt-*' }, backend: 'openai' },
        { match: { model: 'llama3' }, backend: 'ollama' },
        { backend: 'ollama' },
      ],
    });
    const { code, stderr } = await check(full, { TEST_KEY: 'sk-test' });
    assert.equal(code, 0, stderr);
  });

  test('workers: auto is accepted', LIMIT, async () => {
    const { code, stderr } = await check(`${GOOD_CONFIG}workers: auto\n`);
    assert.equal(code, 0, stderr);
  });
});

describe('config errors name the YAML path', () => {
  const TWO_BACKENDS = `
listen: 127.0.0.1:0
backends:
  - name: ollama
    url: http://127.0.0.1:11434/v1
  - name: openai
    url: https://api.openai.com/v1
`;

  test('an unknown top-level key', LIMIT, async () => {
    await assertRejected(`${GOOD_CONFIG}backendz: []\n`, [/backendz/]);
  });

  test('an unknown key inside a backend', LIMIT, async () => {
    await assertRejected(`${GOOD_CONFIG}    api_kee: x\n`, [/backends\[0\]/, /api_kee/]);
  });

  test('a route to an unknown backend', LIMIT, async () => {
    await assertRejected(`${GOOD_CONFIG}routes:\n  - backend: ollma\n`, [/routes\[0\]\.backend/, /ollma/]);
  });

  test('several backends and no routes', LIMIT, async () => {
    await assertRejected(TWO_BACKENDS, [/routes|default/]);
  });

  test('several backends and no default route', LIMIT, async () => {
    await assertRejected(
      `${TWO_BACKENDS}routes:\n  - match: { model: "gpt-*" }\n    backend: openai\n`,
      [/routes/],
    );
  });

  test('a default route that is not last', LIMIT, async () => {
    await assertRejected(
      `${TWO_BACKENDS}routes:\n  - backend: ollama\n  - match: { model: "gpt-*" }\n    backend: openai\n`,
      [/routes\[[01]\]/],
    );
  });

  test('a bad duration', LIMIT, async () => {
    await assertRejected(`${GOOD_CONFIG}timeouts:\n  connect: 5 parsecs\n`, [/timeouts\.connect/]);
  });

  test('a bad per-backend duration', LIMIT, async () => {
    await assertRejected(`${GOOD_CONFIG}    timeouts: { first_byte: soon }\n`, [/backends\[0\]\.timeouts\.first_byte/]);
  });

  test('a bad size limit', LIMIT, async () => {
    await assertRejected(`${GOOD_CONFIG}limits: { max_request_body: lots }\n`, [/limits\.max_request_body/]);
  });

  test('a backend URL that is not http(s)', LIMIT, async () => {
    await assertRejected(
      'listen: 127.0.0.1:0\nbackends:\n  - name: ollama\n    url: ftp://127.0.0.1/v1\n',
      [/backends\[0\]\.url/],
    );
  });

  test('an unset ${VAR} names the variable', LIMIT, async () => {
    const name = 'AIGW_TEST_SURELY_UNSET_VARIABLE';
    assert.equal(process.env[name], undefined);
    await assertRejected(`${GOOD_CONFIG}    api_key: \${${name}}\n`, [new RegExp(name)]);
  });

  test('a bad config is fatal at start-up too, not only with --check', LIMIT, async () => {
    const { code, stderr } = await runCli(['--config', writeTempFile('bad.yaml', `${GOOD_CONFIG}backendz: []\n`)]);
    assert.notEqual(code, 0);
    assert.match(stderr, /backendz/);
  });

  test('a missing config file is an error naming the file', LIMIT, async () => {
    const missing = path.join(REPO_ROOT, 'no-such-dir', 'gateway.yaml');
    const { code, stderr } = await runCli(['--check', '--config', missing]);
    assert.notEqual(code, 0);
    assert.match(stderr, /no-such-dir/);
  });
});

describe('example configs', () => {
  const dir = path.join(REPO_ROOT, 'configs');
  const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort() : [];

  test('configs/ has example configs', () => {
    assert.ok(files.length > 0, `no *.yaml in ${dir}`);
  });

  for (const file of files) {
    test(`configs/${file} passes --check`, LIMIT, async () => {
      const full = path.join(dir, file);
      // Examples reference the environment as ${VAR}, $VAR (archgw) or os.environ/VAR
      // (LiteLLM); give each one a placeholder (a URL for *_URL variables).
      const text = fs.readFileSync(full, 'utf8');
      const names = [...text.matchAll(/(?:\$\{|os\.environ\/|\$)([A-Z_][A-Z0-9_]*)/g)].map(([, name]) => name);
      const env = Object.fromEntries(names.map((name) => [
        name, /_URL$/.test(name) ? 'http://127.0.0.1:9/v1' : `placeholder-${name}`,
      ]));
      const { code, stderr } = await runCli(['--check', '--config', full], { env });
      assert.equal(code, 0, stderr);
    });
  }
});

describe('process lifecycle', () => {
  let fake;
  before(async () => {
    fake = await startFakeUpstream();
  });
  after(() => fake?.close());

  test('SIGTERM stops the gateway with exit code 0', LIMIT, async () => {
    const gw = await startGateway(gatewayConfig({ backends: [{ name: 'ollama', url: fake.url }] }));
    assert.equal(await gw.stop(), 0, gw.stderr());
  });
});
