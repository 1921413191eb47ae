// Other gateways' configs, as those projects document them (paraphrased fixtures), each loaded,
// printed back as native config, and exercised end to end against fake upstreams: the request
// goes where that project would send it. The first is the exact scenario of Envoy AI
// Gateway's issue 612: one Ollama behind an `aigw run` file, requests without any selector.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startFakeUpstream } from '../fakes/fake_upstream.mjs';
import { REPO_ROOT, chat, closedPort, runCli, startGateway, writeTempFile } from './harness.mjs';

const LIMIT = { timeout: 20000 };
const fakes = {};

before(async () => {
  for (const name of ['ollama', 'openai', 'groq']) fakes[name] = await startFakeUpstream();
});

after(async () => {
  for (const fake of Object.values(fakes)) await fake.close();
});

/** Starts the gateway on a config file's text, on a free port, with the given env. */
async function gatewayFor(text, env = {}) {
  const file = writeTempFile('dialect.yaml', text);
  const gw = await startGateway(null, { args: ['--config', file, '--listen', '127.0.0.1:0'], env });
  return { gw, file };
}

/** --print-config of a file: the native YAML, which must itself pass --check. */
async function printedBack(file, env) {
  const printed = await runCli(['--print-config', '--config', file], { env });
  assert.equal(printed.code, 0, printed.stderr);
  const check = await runCli(['--check', '--config', writeTempFile('native.yaml', printed.stdout)], { env });
  assert.equal(check.code, 0, `${check.stderr}\n${printed.stdout}`);
  return printed;
}

function port(fake) {
  return new URL(fake.url).port;
}

describe('Envoy AI Gateway: the aigw run file of issue 612', () => {
  let gw;
  let file;
  before(async () => {
    // configs/envoy-aigw-run.yaml as the user wrote it, with Ollama's port moved to the fake's.
    const text = fs.readFileSync(path.join(REPO_ROOT, 'configs', 'envoy-aigw-run.yaml'), 'utf8')
      .replace('port: 11434', `port: ${port(fakes.ollama)}`);
    ({ gw, file } = await gatewayFor(text));
  });
  after(() => gw?.stop());

  test('a request without any selector header reaches the lone backend', LIMIT, async () => {
    const res = await chat(gw.base, { model: 'qwen3:0.6b' });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.echo.path, '/v1/chat/completions');
    assert.equal(fakes.ollama.requests.at(-1).path, '/v1/chat/completions');
  });

  test('the aigw-backend-selector header still works', LIMIT, async () => {
    const res = await chat(gw.base, { headers: { 'aigw-backend-selector': 'ollama' } });
    assert.equal(res.status, 200, res.text);
  });

  test('startup names the format and the ignored infrastructure field', LIMIT, async () => {
    assert.match(gw.stderr(), /read as Envoy AI Gateway config/);
    assert.match(gw.stderr(), /spec\.infrastructure: ignored/);
  });

  test('printed back as a native config with the lone backend as default', LIMIT, async () => {
    const { stdout } = await printedBack(file);
    assert.match(stdout, /- backend: ollama\n/);
    assert.match(stdout, /first_byte: 3m/); // the AIServiceBackend's request timeout
  });
});

describe('Envoy AI Gateway: model routes, overrides and an API key from a Secret', () => {
  let gw;
  let file;
  const env = { UPSTREAM_KEY: 'sk-envoy-secret' };
  before(async () => {
    const text = `
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: AIGatewayRoute
metadata: { name: route }
spec:
  rules:
    - matches:
        - headers:
            - { type: Exact, name: x-ai-eg-model, value: gpt-4o-mini }
      backendRefs:
        - { name: openai }
    - matches:
        - headers:
            - { type: RegularExpression, name: x-ai-eg-model, value: "o[1-4](-mini)?" }
      backendRefs:
        - { name: openai }
    - matches:
        - headers:
            - { type: Exact, name: x-ai-eg-model, value: split }
      backendRefs:
        - { name: openai, weight: 50 }
        - { name: ollama, weight: 50 }
    - matches:
        - headers:
            - { type: Exact, name: x-ai-eg-model, value: small }
      backendRefs:
        - { name: ollama, modelNameOverride: "qwen3:0.6b" }
    - matches:
        - headers:
            - { type: Exact, name: x-ai-eg-model, value: tiered }
      backendRefs:
        - { name: dead, priority: 0 }
        - { name: ollama, priority: 1 }
    - matches:
        - headers:
            - { type: RegularExpression, name: x-ai-eg-model, value: ".*" }
      backendRefs:
        - { name: ollama }
---
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: AIServiceBackend
metadata: { name: openai }
spec:
  schema: { name: OpenAI }
  backendRef: { name: openai-endpoint, kind: Backend, group: gateway.envoyproxy.io }
---
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: AIServiceBackend
metadata: { name: ollama }
spec:
  schema: { name: OpenAI }
  backendRef: { name: ollama-endpoint, kind: Backend, group: gateway.envoyproxy.io }
---
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: AIServiceBackend
metadata: { name: dead }
spec:
  schema: { name: OpenAI }
  backendRef: { name: dead-endpoint, kind: Backend, group: gateway.envoyproxy.io }
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata: { name: dead-endpoint }
spec:
  endpoints: [{ ip: { address: 127.0.0.1, port: ${await closedPort()} } }]
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata: { name: openai-endpoint }
spec:
  endpoints: [{ ip: { address: 127.0.0.1, port: ${port(fakes.openai)} } }]
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata: { name: ollama-endpoint }
spec:
  endpoints: [{ fqdn: { hostname: localhost, port: ${port(fakes.ollama)} } }]
---
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: BackendSecurityPolicy
metadata: { name: openai-key }
spec:
  type: APIKey
  targetRefs: [{ name: openai, kind: AIServiceBackend, group: aigateway.envoyproxy.io }]
  apiKey: { secretRef: { name: openai-secret } }
---
apiVersion: v1
kind: Secret
metadata: { name: openai-secret }
stringData: { apiKey: "\${UPSTREAM_KEY}" }
`;
    ({ gw, file } = await gatewayFor(text, env));
  });
  after(() => gw?.stop());

  test('x-ai-eg-model rules route on the body model, with the Secret as the key', LIMIT, async () => {
    const res = await chat(gw.base, { model: 'gpt-4o-mini', headers: { authorization: 'Bearer sk-client' } });
    assert.equal(res.status, 200, res.text);
    assert.equal(fakes.openai.requests.at(-1).headers.authorization, 'Bearer sk-envoy-secret');
  });

  test('RegularExpression rules match the whole model', LIMIT, async () => {
    const before = fakes.openai.requests.length;
    assert.equal((await chat(gw.base, { model: 'o3-mini' })).status, 200);
    assert.equal(fakes.openai.requests.length, before + 1);
    assert.equal((await chat(gw.base, { model: 'o3-mini-high' })).status, 200); // not a whole match
    assert.equal(fakes.openai.requests.length, before + 1);
  });

  test('weighted backendRefs share the requests', LIMIT, async () => {
    const before = { openai: fakes.openai.requests.length, ollama: fakes.ollama.requests.length };
    for (let i = 0; i < 40; i++) assert.equal((await chat(gw.base, { model: 'split' })).status, 200);
    const openai = fakes.openai.requests.length - before.openai;
    const ollama = fakes.ollama.requests.length - before.ollama;
    // Smooth weighted round robin: 50:50 exactly.
    assert.deepEqual({ openai, ollama }, { openai: 20, ollama: 20 });
  });

  test('backendRefs priority: the next level serves when the first is down', LIMIT, async () => {
    const res = await chat(gw.base, { model: 'tiered' });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers['x-aigw-backend'], 'ollama');
    assert.equal(res.headers['x-aigw-attempts'], '2');
  });

  test('modelNameOverride rewrites the model sent upstream', LIMIT, async () => {
    const res = await chat(gw.base, { model: 'small' });
    assert.equal(res.status, 200, res.text);
    assert.equal(JSON.parse(fakes.ollama.requests.at(-1).body).model, 'qwen3:0.6b');
  });

  test('the .* rule is the default', LIMIT, async () => {
    const before = fakes.ollama.requests.length;
    const res = await chat(gw.base, { model: 'anything-else' });
    assert.equal(res.status, 200, res.text);
    assert.equal(fakes.ollama.requests.length, before + 1);
  });

  test("a Secret's ${VAR:-default} is printed as ${VAR}, never the default", LIMIT, async () => {
    const withDefault = fs.readFileSync(file, 'utf8')
      .replace('"\${UPSTREAM_KEY}"', '"\${UNSET_ENVOY_KEY:-sk-default-secret}"');
    assert.match(withDefault, /UNSET_ENVOY_KEY:-sk-default-secret/);
    const printed = await runCli(['--print-config', '--config', writeTempFile('default.yaml', withDefault)]);
    assert.equal(printed.code, 0, printed.stderr);
    assert.doesNotMatch(printed.stdout, /sk-default-secret/);
    assert.match(printed.stdout, /api_key: "?\$\{UNSET_ENVOY_KEY\}"?/);
  });

  test('printed back: the key as its variable, never its value', LIMIT, async () => {
    const { stdout } = await printedBack(file, env);
    assert.doesNotMatch(stdout, /sk-envoy-secret/);
    assert.match(stdout, /model_override: "?qwen3:0\.6b"?/);
    assert.match(stdout, /regex: "?o\[1-4\]\(-mini\)\?"?/);
    assert.match(stdout, /backends:\n\s+- \{backend: openai, weight: 50\}\n\s+- \{backend: ollama, weight: 50\}/);
    assert.doesNotMatch(gw.stderr(), /sk-envoy-secret/);
  });
});

describe('archgw: llm_providers with a default and a provider hint', () => {
  let gw;
  let file;
  const env = { GROQ_API_KEY: 'sk-groq-secret' };
  before(async () => {
    const text = `
version: v0.1
listeners:
  egress_traffic: { address: 0.0.0.0, port: 12000 }
llm_providers:
  - name: local
    provider_interface: openai
    endpoint: 127.0.0.1:${port(fakes.ollama)}
    model: qwen3:0.6b
    default: true
  - name: fast-cloud
    model: groq/llama-3.1-8b-instant
    access_key: $GROQ_API_KEY
    base_url: http://127.0.0.1:${port(fakes.groq)}
`;
    ({ gw, file } = await gatewayFor(text, env));
  });
  after(() => gw?.stop());

  test('no hint: the default provider, with its own model', LIMIT, async () => {
    const res = await chat(gw.base, { model: 'gpt-4o-mini' });
    assert.equal(res.status, 200, res.text);
    assert.equal(JSON.parse(fakes.ollama.requests.at(-1).body).model, 'qwen3:0.6b');
  });

  test('x-arch-llm-provider-hint picks a provider and its model and key', LIMIT, async () => {
    const res = await chat(gw.base, { model: 'whatever', headers: { 'x-arch-llm-provider-hint': 'fast-cloud' } });
    assert.equal(res.status, 200, res.text);
    const seen = fakes.groq.requests.at(-1);
    assert.equal(JSON.parse(seen.body).model, 'llama-3.1-8b-instant');
    assert.equal(seen.headers.authorization, 'Bearer sk-groq-secret');
    assert.equal(seen.path, '/v1/chat/completions');
  });

  test('naming the provider as the model also picks it', LIMIT, async () => {
    const res = await chat(gw.base, { model: 'fast-cloud' });
    assert.equal(res.status, 200, res.text);
    assert.equal(JSON.parse(fakes.groq.requests.at(-1).body).model, 'llama-3.1-8b-instant');
  });

  test('ignored settings are named; printed back without the key', LIMIT, async () => {
    assert.match(gw.stderr(), /listeners: archgw setting ignored/);
    const { stdout } = await printedBack(file, env);
    assert.match(stdout, /api_key: \$\{GROQ_API_KEY\}/);
  });
});

describe('LiteLLM: model_list with exact names, provider/* and *', () => {
  let gw;
  let file;
  const env = { OPENAI_BASE_URL: '', LOCAL_BASE: '', FAKE_OPENAI_BASE: '', FAKE_KEY: 'sk-litellm-secret' };
  before(async () => {
    env.FAKE_OPENAI_BASE = fakes.openai.url;
    env.LOCAL_BASE = `http://127.0.0.1:${port(fakes.ollama)}`;
    const text = `
model_list:
  - model_name: my-alias
    litellm_params:
      model: openai/gpt-4o-mini
      api_base: os.environ/FAKE_OPENAI_BASE
      api_key: os.environ/FAKE_KEY
  - model_name: "*"
    litellm_params:
      model: openai/*
      api_base: os.environ/FAKE_OPENAI_BASE
      api_key: os.environ/FAKE_KEY
  - model_name: ollama/*
    litellm_params:
      model: ollama/*
      api_base: os.environ/LOCAL_BASE
litellm_settings:
  drop_params: true
`;
    ({ gw, file } = await gatewayFor(text, env));
  });
  after(() => gw?.stop());

  test('an alias is sent as its deployment model, with the key', LIMIT, async () => {
    const res = await chat(gw.base, { model: 'my-alias' });
    assert.equal(res.status, 200, res.text);
    const seen = fakes.openai.requests.at(-1);
    assert.equal(JSON.parse(seen.body).model, 'gpt-4o-mini');
    assert.equal(seen.headers.authorization, 'Bearer sk-litellm-secret');
  });

  test('provider/* strips the provider prefix, with the api_base made an API root', LIMIT, async () => {
    const res = await chat(gw.base, { model: 'ollama/llama3.2' });
    assert.equal(res.status, 200, res.text);
    const seen = fakes.ollama.requests.at(-1);
    assert.equal(JSON.parse(seen.body).model, 'llama3.2');
    assert.equal(seen.path, '/v1/chat/completions');
  });

  test('* takes everything else, the model as sent', LIMIT, async () => {
    const res = await chat(gw.base, { model: 'gpt-4.1' });
    assert.equal(res.status, 200, res.text);
    assert.equal(JSON.parse(fakes.openai.requests.at(-1).body).model, 'gpt-4.1');
  });

  test('printed back as native, keys as variables', LIMIT, async () => {
    assert.match(gw.stderr(), /litellm_settings\.drop_params: LiteLLM setting ignored/);
    const { stdout } = await printedBack(file, env);
    assert.match(stdout, /api_key: \$\{FAKE_KEY\}/);
    assert.doesNotMatch(stdout, /sk-litellm-secret/);
  });

});

describe('LiteLLM: deployments of one model_name share it by weight; fallbacks and cooldowns', () => {
  let gw;
  let file;
  before(async () => {
    const text = `
model_list:
  - model_name: gpt-4o
    litellm_params: { model: openai/gpt-4o, api_base: "${fakes.openai.url}", weight: 3 }
  - model_name: gpt-4o
    litellm_params: { model: openai/gpt-4o-2024, api_base: "${fakes.groq.url}", weight: 1 }
  - model_name: backup
    litellm_params: { model: openai/llama3, api_base: "${fakes.ollama.url}" }
  - model_name: "*"
    litellm_params: { model: openai/*, api_base: "${fakes.ollama.url}" }
router_settings:
  fallbacks: [{ gpt-4o: [backup] }]
  allowed_fails: 2
  cooldown_time: 30
`;
    ({ gw, file } = await gatewayFor(text));
  });
  after(() => {
    for (const fake of Object.values(fakes)) delete fake.defaults['x-fake-status'];
    return gw?.stop();
  });

  test('several entries of one model_name share its requests by weight', LIMIT, async () => {
    const before = { openai: fakes.openai.requests.length, groq: fakes.groq.requests.length };
    for (let i = 0; i < 8; i++) assert.equal((await chat(gw.base, { model: 'gpt-4o' })).status, 200);
    assert.equal(fakes.openai.requests.length - before.openai, 6);
    assert.equal(fakes.groq.requests.length - before.groq, 2);
    assert.equal(JSON.parse(fakes.groq.requests.at(-1).body).model, 'gpt-4o-2024');
  });

  test('fallbacks: when every deployment fails, the fallback model answers', LIMIT, async () => {
    fakes.openai.defaults['x-fake-status'] = '500';
    fakes.groq.defaults['x-fake-status'] = '503';
    const before = fakes.ollama.requests.length;
    const res = await chat(gw.base, { model: 'gpt-4o' });
    assert.equal(res.status, 200, res.text);
    assert.equal(fakes.ollama.requests.length, before + 1);
    assert.equal(res.headers['x-aigw-attempts'], '3');
    assert.equal(JSON.parse(fakes.ollama.requests.at(-1).body).model, 'llama3');
  });

  test('printed back: targets with priorities, the breaker from the cooldown settings', LIMIT, async () => {
    const { stdout } = await printedBack(file, {});
    assert.match(stdout, /circuit_breaker: \{consecutive_failures: 3,.*cooldown: 30s\}/);
    assert.match(stdout, /\{backend: [\w-]+, weight: 1, priority: 1, model_override: llama3\}/);
    assert.match(gw.stderr(), /allowed_fails: the circuit breaker opens after 3 failures in a row/);
  });
});

describe('LiteLLM fallbacks that cannot be', () => {
  test('a model_name falling back to itself is refused', LIMIT, async () => {
    const file = writeTempFile('self.yaml', `
model_list:
  - { model_name: a, litellm_params: { model: openai/a, api_base: "http://127.0.0.1:9/v1" } }
router_settings: { fallbacks: [{ a: [a] }] }
`);
    const { code, stderr } = await runCli(['--check', '--config', file]);
    assert.equal(code, 1, stderr);
    assert.match(stderr, /"a" falls back to itself/);
  });

  test('fallbacks take the deployments as written, in any order', LIMIT, async () => {
    const text = (order) => `
model_list:
  - { model_name: a, litellm_params: { model: openai/a, api_base: "http://127.0.0.1:9/v1" } }
  - { model_name: b, litellm_params: { model: openai/b, api_base: "http://127.0.0.1:9/v1" } }
  - { model_name: c, litellm_params: { model: openai/c, api_base: "http://127.0.0.1:9/v1" } }
router_settings: { fallbacks: ${order} }
`;
    const one = await runCli(['--print-config', '--config', writeTempFile('o1.yaml', text('[{ a: [b] }, { b: [c] }]'))]);
    const two = await runCli(['--print-config', '--config', writeTempFile('o2.yaml', text('[{ b: [c] }, { a: [b] }]'))]);
    assert.equal(one.code, 0, one.stderr);
    assert.equal(one.stdout, two.stdout);
    assert.doesNotMatch(one.stdout.split('match: {model: a}')[1].split('match:')[0], /model_override: c/);
  });
});

describe('malformed dialect values are clear errors, never a crash', () => {
  const endpoint = `
---
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: AIServiceBackend
metadata: { name: b }
spec: { backendRef: { name: e } }
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata: { name: e }
spec: { endpoints: [{ ip: { address: 127.0.0.1, port: 1 } }] }
`;
  const cases = [
    ['a listener port that is not a number', `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: g }
spec: { listeners: [{ name: http, port: abc }] }
${endpoint}`, /listeners\[0\]\.port: "abc" is not a port/],
    ['a negative backendRef weight', `
apiVersion: aigateway.envoyproxy.io/v1alpha1
kind: AIGatewayRoute
metadata: { name: r }
spec: { rules: [{ backendRefs: [{ name: b, weight: -5 }] }] }
${endpoint}`, /backendRefs\[0\]\.weight: "-5" is not a weight/],
  ];
  for (const [name, text, expected] of cases) {
    test(name, LIMIT, async () => {
      const { code, stderr } = await runCli(['--check', '--config', writeTempFile('bad.yaml', text)]);
      assert.equal(code, 1, stderr); // not 134 (abort)
      assert.match(stderr, expected);
    });
  }
});
