// A soak: mixed traffic for a long while, and whether anything the gateway holds grows.
//
//   node bench/soak.mjs [seconds=3600] [clients=32]
//   AIGW_BIN: the gateway binary (default build/aigw-proxy)
//
// Traffic, from `clients` keep-alive clients without pause: JSON chat completions, streams,
// streams the client aborts halfway, backend errors (500 and 429), requests the gateway
// refuses (bad JSON, unknown paths), model lists. Meanwhile the config is reloaded (SIGHUP)
// every 20 s and one of the two backends is killed (every connection reset, the port closed)
// and restarted every 30 s. Every 10 s: the gateway's RSS, open descriptors, pooled upstream
// connections and streams in flight. The first fifth of the run (at least 30 s) is warm-up;
// the run fails (exit 1) when, after it, a figure ends higher than the warm-up's highest by
// more than its slack (RSS 16 MiB, descriptors 64, pooled connections 64), or never settles.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { startFakeUpstream } from '../tests/fakes/fake_upstream.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const seconds = Number(process.argv[2] ?? 3600);
const clients = Number(process.argv[3] ?? 32);
const bin = process.env.AIGW_BIN ?? path.join(root, 'build', 'aigw-proxy');
const SAMPLE_MS = 10_000;
const warmup = Math.max(30, seconds / 5);

let a = await startFakeUpstream();
const aPort = a.port;
const b = await startFakeUpstream();

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aigw-soak-'));
const configFile = path.join(dir, 'gateway.yaml');
const config = (generation) => `# generation ${generation}
listen: 127.0.0.1:0
admin: 127.0.0.1:0
workers: 2
access_log: off
circuit_breaker: { consecutive_failures: 5, cooldown: 2s }
timeouts: { connect: 1s, first_byte: 10s, idle: 10s, client_header: 10s }
backends:
  - { name: a, url: "${a.url}" }
  - { name: b, url: "${b.url}" }
routes:
  - backends: [ { backend: a }, { backend: b } ]
`;
fs.writeFileSync(configFile, config(0));
const gateway = spawn(bin, ['--config', configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
let stderr = '';
gateway.stderr.setEncoding('utf8');
const ports = await new Promise((resolve, reject) => {
  gateway.stderr.on('data', (d) => {
    stderr += d;
    const listen = /listening on 127\.0\.0\.1:(\d+)/.exec(stderr);
    const admin = /admin on http:\/\/127\.0\.0\.1:(\d+)/.exec(stderr);
    if (listen && admin) resolve({ port: Number(listen[1]), admin: Number(admin[1]) });
  });
  gateway.on('exit', (code) => reject(new Error(`gateway exited (${code}):\n${stderr}`)));
});
const crashed = new Promise((resolve) => gateway.on('exit', (code, signal) => resolve(`${code ?? signal}`)));

// ---- traffic
const kinds = [
  ['json', 40, { headers: {}, body: { model: 'm', messages: [{ role: 'user', content: 'hi' }] } }],
  ['stream', 25, { headers: { 'x-fake-mode': 'sse', 'x-fake-chunks': '20' }, body: { model: 'm', stream: true, messages: [] } }],
  ['aborted', 10, { headers: { 'x-fake-mode': 'sse', 'x-fake-chunks': '50', 'x-fake-delay-ms': '5' }, body: { model: 'm', stream: true, messages: [] }, abortAfter: 3 }],
  ['error500', 5, { headers: { 'x-fake-status': '500' }, body: { model: 'm', messages: [] } }],
  ['error429', 5, { headers: { 'x-fake-status': '429', 'x-fake-retry-after': '0' }, body: { model: 'm', messages: [] } }],
  ['bad-json', 5, { headers: {}, raw: '{"model": "m", ' }],
  ['unknown-path', 5, { path: '/v2/nothing', headers: {}, body: { model: 'm' } }],
  ['models', 5, { method: 'GET', path: '/v1/models', headers: {} }],
];
const weights = kinds.flatMap(([name, weight, spec]) => Array(weight).fill([name, spec]));
const counts = Object.fromEntries(kinds.map(([name]) => [name, { sent: 0, statuses: {} }]));

function send(agent, [name, spec]) {
  return new Promise((resolve) => {
    const payload = spec.raw ?? (spec.body ? JSON.stringify(spec.body) : undefined);
    const req = http.request({
      host: '127.0.0.1', port: ports.port, agent, method: spec.method ?? 'POST', path: spec.path ?? '/v1/chat/completions',
      headers: { ...spec.headers, ...(payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}) },
      timeout: 30_000,
    }, (res) => {
      const c = counts[name];
      c.statuses[res.statusCode] = (c.statuses[res.statusCode] ?? 0) + 1;
      let events = 0;
      res.on('data', () => {
        if (spec.abortAfter && ++events >= spec.abortAfter) req.destroy();
      });
      res.on('end', resolve);
      res.on('close', resolve);
      res.on('error', resolve);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => {
      const c = counts[name];
      c.statuses.error = (c.statuses.error ?? 0) + 1;
      resolve();
    });
    counts[name].sent++;
    req.end(payload);
  });
}

let running = true;
async function client(i) {
  let agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  for (let n = i; running; n++) {
    const pick = weights[(n * 7919 + i) % weights.length];
    await send(agent, pick);
    if (pick[1].abortAfter) {  // an aborted stream took its connection with it
      agent.destroy();
      agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    }
  }
  agent.destroy();
}

let kills = 0;
let reloads = 0;
async function chaos() {
  for (let t = 0; running; t++) {
    await delay(10_000);
    if (!running) break;
    if (t % 2 === 1) {
      fs.writeFileSync(configFile, config(++reloads));
      gateway.kill('SIGHUP');
    }
    if (t % 3 === 2) {
      await a.close();
      kills++;
      await delay(1500);
      a = await startFakeUpstream({ port: aPort });
    }
  }
}

// ---- samples
const samples = [];
async function sample(at) {
  const status = fs.readFileSync(`/proc/${gateway.pid}/status`, 'utf8');
  const metrics = await (await fetch(`http://127.0.0.1:${ports.admin}/metrics`)).text();
  const sum = (name) => metrics.split('\n').filter((l) => l.startsWith(name)).reduce((s, l) => s + Number(l.split(' ').at(-1)), 0);
  samples.push({
    at,
    rss_kib: Number(/VmRSS:\s+(\d+)/.exec(status)[1]),
    fds: fs.readdirSync(`/proc/${gateway.pid}/fd`).length,
    pooled: sum('aigw_pool_connections_open'),
    streams: sum('aigw_active_streams'),
    requests: Object.values(counts).reduce((s, c) => s + c.sent, 0),
  });
}

const started = Date.now();
const load = Array.from({ length: clients }, (_, i) => client(i));
const chaosDone = chaos();
const verdictOnCrash = crashed.then((how) => { running = false; return how; });
while (running && Date.now() - started < seconds * 1000) {
  await Promise.race([delay(SAMPLE_MS), verdictOnCrash]);
  if (!running) break;
  await sample(Math.round((Date.now() - started) / 1000));
}
running = false;
await Promise.all(load);
await chaosDone;
const exit = gateway.exitCode === null ? null : gateway.exitCode;
if (exit === null) gateway.kill('SIGTERM');
await a.close();
await b.close();
fs.rmSync(dir, { recursive: true, force: true });

// ---- verdict
const slack = { rss_kib: 16 * 1024, fds: 64, pooled: 64 };
const warm = samples.filter((s) => s.at <= warmup);
const after = samples.filter((s) => s.at > warmup);
const lastThird = after.slice(Math.floor((after.length * 2) / 3));
const grew = [];
if (exit !== null) grew.push(`the gateway exited (${exit})`);
for (const key of Object.keys(slack)) {
  if (!warm.length || !lastThird.length) break;
  const ceiling = Math.max(...warm.map((s) => s[key])) + slack[key];
  const end = Math.min(...lastThird.map((s) => s[key]));
  if (end > ceiling) grew.push(`${key}: ${end} after warm-up, over ${ceiling} (warm-up's highest + ${slack[key]})`);
}
if (!lastThird.length) grew.push(`too short: no sample after the ${warmup} s warm-up`);

console.log(`Soak: ${seconds} s, ${clients} clients, ${reloads} reloads, backend a killed ${kills} times`);
console.log('\n| s | RSS (MiB) | descriptors | pooled connections | streams in flight | requests so far |\n|---:|---:|---:|---:|---:|---:|');
for (const s of samples)
  console.log(`| ${s.at} | ${(s.rss_kib / 1024).toFixed(1)} | ${s.fds} | ${s.pooled} | ${s.streams} | ${s.requests} |`);
console.log('\n| traffic | sent | statuses |\n|---|---:|---|');
for (const [name, c] of Object.entries(counts))
  console.log(`| ${name} | ${c.sent} | ${Object.entries(c.statuses).map(([k, v]) => `${k}: ${v}`).join(', ')} |`);
console.log(grew.length ? `\nFAIL: ${grew.join('; ')}` : '\nflat: RSS, descriptors and pooled connections did not grow after warm-up');
process.exit(grew.length ? 1 : 0);
