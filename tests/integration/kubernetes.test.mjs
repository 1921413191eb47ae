// deploy/kubernetes: the manifests parse, agree with each other (selectors, ports, names), and
// with the gateway itself: the ConfigMap's config loads and serves what the probes and the
// scraper ask for on the ports they name, the grace period covers the drain, and the image
// is the Dockerfile's.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { startRedis } from '../fakes/redis_server.mjs';
import { REPO_ROOT, runCli, startGateway, toYaml, writeTempFile } from './harness.mjs';

const DIR = path.join(REPO_ROOT, 'deploy', 'kubernetes');
const LIMIT = { timeout: 30000 };

// Every document of every manifest, with the file it came from.
function manifests() {
  const docs = [];
  for (const file of fs.readdirSync(DIR).filter((f) => f.endsWith('.yaml')).sort()) {
    for (const doc of parseAllDocuments(fs.readFileSync(path.join(DIR, file), 'utf8'))) {
      assert.deepEqual(doc.errors, [], `${file}: ${doc.errors.join('; ')}`);
      docs.push({ file, ...doc.toJS() });
    }
  }
  return docs;
}

const docs = manifests();
const find = (kind, name) => {
  const doc = docs.find((d) => d.kind === kind && d.metadata?.name === name);
  assert.ok(doc, `no ${kind} ${name}`);
  return doc;
};
const seconds = (text) => {
  const m = /^(\d+)(ms|s|m)$/.exec(text);
  assert.ok(m, `a duration: ${text}`);
  return Number(m[1]) * { ms: 0.001, s: 1, m: 60 }[m[2]];
};

const configMap = find('ConfigMap', 'aigw-proxy');
const config = parseAllDocuments(configMap.data['gateway.yaml'])[0].toJS();
const deployment = find('Deployment', 'aigw-proxy');
const pod = deployment.spec.template.spec;
const container = pod.containers[0];
const portOf = (name) => container.ports.find((p) => p.name === name)?.containerPort;
const hostPort = (text) => Number(text.split(':').at(-1));

// The config as the pod would load it, with the clients file where this test put it.
function localConfig(overrides = {}) {
  const secret = find('Secret', 'aigw-clients');
  const clients = writeTempFile('clients.yaml', secret.stringData['clients.yaml']);
  return toYaml({ ...config, clients_file: clients, ...overrides });
}

describe('deploy/kubernetes', () => {
  test('every manifest parses, is listed by kustomization.yaml, and names its kind', () => {
    const kustomization = docs.find((d) => d.kind === 'Kustomization');
    const files = new Set(docs.filter((d) => d.kind !== 'Kustomization').map((d) => d.file));
    assert.deepEqual(new Set(kustomization.resources), files);
    for (const kind of ['ConfigMap', 'Secret', 'Deployment', 'Service', 'HorizontalPodAutoscaler', 'PodDisruptionBudget'])
      assert.ok(docs.some((d) => d.kind === kind), kind);
    for (const d of docs.filter((x) => x.kind !== 'Kustomization')) {
      assert.ok(d.apiVersion && d.metadata?.name, `${d.file}: apiVersion and metadata.name`);
    }
  });

  test('selectors, Services and the HPA point at what exists', () => {
    for (const d of docs.filter((x) => x.kind === 'Deployment')) {
      const labels = d.spec.template.metadata.labels;
      for (const [k, v] of Object.entries(d.spec.selector.matchLabels)) assert.equal(labels[k], v, `${d.metadata.name} selector`);
    }
    for (const s of docs.filter((x) => x.kind === 'Service')) {
      const target = docs.find((d) => d.kind === 'Deployment' &&
        Object.entries(s.spec.selector).every(([k, v]) => d.spec.template.metadata.labels[k] === v));
      assert.ok(target, `Service ${s.metadata.name} selects no Deployment`);
      const ports = target.spec.template.spec.containers.flatMap((c) => c.ports);
      for (const p of s.spec.ports) assert.ok(ports.some((cp) => cp.name === p.targetPort), `${s.metadata.name}: ${p.targetPort}`);
    }
    const hpa = find('HorizontalPodAutoscaler', 'aigw-proxy');
    assert.equal(hpa.spec.scaleTargetRef.kind, 'Deployment');
    assert.equal(find('Deployment', hpa.spec.scaleTargetRef.name).metadata.name, 'aigw-proxy');
    assert.ok(container.resources.requests.cpu, 'the HPA needs a CPU request');
  });

  test('the container\'s ports, config path, clients file and Redis are the config\'s', () => {
    assert.equal(portOf('http'), hostPort(config.listen));
    assert.equal(portOf('admin'), hostPort(config.admin));
    assert.equal(find('Service', 'aigw-proxy').spec.ports[0].port, hostPort(config.listen));
    const configPath = container.args[container.args.indexOf('--config') + 1];
    const mountOf = (file) => container.volumeMounts.find((m) => path.dirname(file) === m.mountPath);
    const configMount = mountOf(configPath);
    assert.ok(configMount, `nothing mounted at ${path.dirname(configPath)}`);
    assert.equal(pod.volumes.find((v) => v.name === configMount.name).configMap.name, 'aigw-proxy');
    assert.ok(configMap.data[path.basename(configPath)]);
    const clientsMount = mountOf(config.clients_file);
    assert.ok(clientsMount, `nothing mounted at ${path.dirname(config.clients_file)}`);
    const secret = find('Secret', pod.volumes.find((v) => v.name === clientsMount.name).secret.secretName);
    assert.ok(secret.stringData[path.basename(config.clients_file)]);
    const redisUrl = new URL(config.redis.url);
    const redisService = find('Service', redisUrl.hostname);
    assert.equal(redisService.spec.ports[0].port, Number(redisUrl.port));
  });

  test('the grace period covers the preStop pause and drain_timeout; the user is the image\'s', () => {
    const pause = Number(container.lifecycle.preStop.exec.command.at(-1));
    assert.ok(pod.terminationGracePeriodSeconds >= pause + seconds(config.drain_timeout),
      `${pod.terminationGracePeriodSeconds} < ${pause} + ${config.drain_timeout}`);
    const dockerfile = fs.readFileSync(path.join(REPO_ROOT, 'Dockerfile'), 'utf8');
    assert.match(dockerfile, new RegExp(`^USER ${pod.securityContext.runAsUser}:`, 'm'));
  });

  test('the image is the Dockerfile\'s, at meson.build\'s version', () => {
    const dockerfile = fs.readFileSync(path.join(REPO_ROOT, 'Dockerfile'), 'utf8');
    const title = /org\.opencontainers\.image\.title="([^"]+)"/.exec(dockerfile)[1];
    const version = /org\.opencontainers\.image\.version="([^"]+)"/.exec(dockerfile)[1];
    const meson = /version\s*:\s*'([^']+)'/.exec(fs.readFileSync(path.join(REPO_ROOT, 'meson.build'), 'utf8'))[1];
    assert.equal(container.image, `${title}:${version}`);
    assert.equal(version, meson);
  });

  describe('the ConfigMap\'s config, run', () => {
    let redis;
    let gw;
    before(async () => {
      redis = await startRedis();
      // Its own ports and Redis: the pod's are checked above; what runs here is the rest of it.
      gw = await startGateway(localConfig({ listen: '127.0.0.1:0', admin: '127.0.0.1:0', redis: { ...config.redis, url: redis.url } }));
    });
    after(async () => {
      await gw?.stop();
      await redis?.stop();
    });

    test('it passes --check as written', LIMIT, async () => {
      const file = writeTempFile('gateway.yaml', localConfig());
      const check = await runCli(['--check', '--config', file]);
      assert.equal(check.code, 0, check.stderr);
    });

    test('the probes\' and the scraper\'s paths answer on the admin port', LIMIT, async () => {
      for (const probe of [container.readinessProbe, container.livenessProbe]) {
        assert.equal(probe.httpGet.port, 'admin');
        assert.equal((await fetch(`${gw.adminBase}${probe.httpGet.path}`)).status, 200, probe.httpGet.path);
      }
      const annotations = deployment.spec.template.metadata.annotations;
      assert.equal(Number(annotations['prometheus.io/port']), portOf('admin'));
      const metrics = await fetch(`${gw.adminBase}${annotations['prometheus.io/path']}`);
      assert.equal(metrics.status, 200);
      assert.match(await metrics.text(), /aigw_redis_connected/);
    });

    test('the example key from the Secret is a client', LIMIT, async () => {
      const res = await fetch(`${gw.base}/v1/models`, { headers: { authorization: 'Bearer sk-replace-me' } });
      assert.equal(res.status, 200);
      assert.equal((await fetch(`${gw.base}/v1/models`)).status, 401);
    });
  });
});
