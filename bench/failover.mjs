// Failover under load: two backends behind one route, one of them killed (every connection
// reset, the port closed) and restarted every few seconds, while clients send requests
// without pause. Counts what the clients saw (requests, failures, latency) and what the
// gateway did (failovers, breaker transitions, from its /metrics).
//
//   node bench/failover.mjs [seconds=30] [clients=16]
//   AIGW_BIN: the gateway binary (default build/aigw-proxy)
//
// The gateway runs as configured below: the backends share the route by weight, retry on
// everything (the default), the breaker opens after 5 failures in a row for 2 s.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { startFakeUpstream } from '../tests/fakes/fake_upstream.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const seconds = Number(process.argv[2] ?? 30);
const clients = Number(process.argv[3] ?? 16);
const bin = process.env.AIGW_BIN ?? path.join(root, 'build', 'aigw-proxy');
const KILL_EVERY_MS = 3000;
const DOWN_FOR_MS = 1500;

let a = await startFakeUpstream();
const b = await startFakeUpstream();
const aPort = a.port;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aigw-failover-'));
const configFile = path.join(dir, 'gateway.yaml');
fs.writeFileSync(
  configFile,
  `listen: 127.0.0.1:0
admin: 127.0.0.1:0
workers: 2
access_log: off
circuit_breaker: { consecutive_failures: 5, cooldown: 2s }
timeouts: { connect: 1s, first_byte: 10s }
backends:
  - { name: a, url: "${a.url}" }
  - { name: b, url: "${b.url}" }
routes:
  - backends: [ { backend: a }, { backend: b } ]
`,
);
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

const body = JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] });
function post(agent) {
  return new Promise((resolve) => {
    const started = process.hrtime.bigint();
    const req = http.request(
      { host: '127.0.0.1', port: ports.port, path: '/v1/chat/completions', method: 'POST', agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('error', (err) => resolve({ ok: false, why: String(err) }));
        res.on('end', () => {
          const micros = Number(process.hrtime.bigint() - started) / 1000;
          const ok = res.statusCode === 200 && JSON.parse(Buffer.concat(chunks)).choices?.length === 1;
          resolve({ ok, why: `${res.statusCode}`, micros });
        });
      },
    );
    req.on('error', (err) => resolve({ ok: false, why: String(err) }));
    req.end(body);
  });
}

let running = true;
let requests = 0;
const failures = {};
const latencies = [];
async function client() {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  while (running) {
    const r = await post(agent);
    requests++;
    if (r.ok) latencies.push(r.micros);
    else failures[r.why] = (failures[r.why] ?? 0) + 1;
  }
  agent.destroy();
}

let kills = 0;
async function chaos() {
  while (running) {
    await delay(KILL_EVERY_MS - DOWN_FOR_MS);
    if (!running) break;
    await a.close(); // every open connection reset, the port closed
    kills++;
    await delay(DOWN_FOR_MS);
    a = await startFakeUpstream({ port: aPort });
  }
}

const started = Date.now();
const loops = Array.from({ length: clients }, client);
const monkey = chaos();
await delay(seconds * 1000);
running = false;
await Promise.all(loops);
await monkey;
const elapsed = (Date.now() - started) / 1000;

const metrics = await new Promise((resolve) => {
  http.get({ host: '127.0.0.1', port: ports.admin, path: '/metrics' }, (res) => {
    let text = '';
    res.on('data', (d) => (text += d));
    res.on('end', () => resolve(text));
  });
});
const sum = (name, filter = '') =>
  metrics
    .split('\n')
    .filter((l) => l.startsWith(name) && l.includes(filter))
    .reduce((n, l) => n + Number(l.split(' ').pop()), 0);
gateway.kill('SIGTERM');
await new Promise((resolve) => gateway.on('exit', resolve));
await a.close();
await b.close();

latencies.sort((x, y) => x - y);
const pct = (p) => (latencies.length ? latencies[Math.floor((latencies.length - 1) * p)] : 0);
const failed = Object.values(failures).reduce((n, v) => n + v, 0);
const rows = [
  ['seconds', elapsed.toFixed(1)],
  ['clients (keep-alive, back to back)', clients],
  [`backend a killed (down ${DOWN_FOR_MS} ms, every ${KILL_EVERY_MS} ms)`, kills],
  ['requests', requests],
  ['failed requests', failed],
  ['requests/s', (requests / elapsed).toFixed(0)],
  ['latency p50 / p99 / max (ms)', `${(pct(0.5) / 1000).toFixed(2)} / ${(pct(0.99) / 1000).toFixed(2)} / ${(pct(1) / 1000).toFixed(2)}`],
  ['failovers (tries that moved on)', sum('aigw_upstream_failovers_total{')],
  ['connect failures to a', sum('aigw_upstream_connect_failures_total{', 'backend="a"')],
  ['breaker transitions of a: open / half-open / closed',
    ['open', 'half_open', 'closed'].map((to) => sum('aigw_backend_circuit_transitions_total{', `backend="a",to="${to}"`)).join(' / ')],
  ['requests answered by a / b', ['a', 'b'].map((n) => sum('aigw_backend_requests_total{', `backend="${n}",status_class="2xx"`)).join(' / ')],
];
console.log('| failover under load | value |\n|---|--:|');
for (const [k, v] of rows) console.log(`| ${k} | ${v} |`);
if (failed) console.log(`\nfailures: ${JSON.stringify(failures)}`);
process.exit(failed ? 1 : 0);
