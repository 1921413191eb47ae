// Client budgets shared through Redis: what three replicas charge against one token budget
// under concurrent load (the overshoot), and what checking a budget costs a request (latency
// and the gateway's CPU), with no keys, with keys and in-memory budgets, and with Redis.
//
//   node bench/shared_budget.mjs [seconds=5]
//   AIGW_BIN: the gateway (default build/aigw-proxy); BENCH_BIN: where fake_llm is
//   (default build/bench). Needs redis-server (scripts/setup) and wrk (scripts/bench).
//
// The upstream is build/bench/fake_llm: every answer reports 9 input and 5 output tokens.
// The replicas run on this machine, on loopback, one worker each, like three pods on one node.
import { execFileSync, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { startRedis } from '../tests/fakes/redis_server.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const seconds = Number(process.argv[2] ?? 5);
const bin = process.env.AIGW_BIN ?? path.join(root, 'build', 'aigw-proxy');
const benchBin = process.env.BENCH_BIN ?? path.join(root, 'build', 'bench');
const KEY = 'sk-bench-0123456789abcdef';
const TOKENS_PER_ANSWER = 14;  // fake_llm's usage: 9 + 5
const children = new Set();
process.on('exit', () => { for (const c of children) c.kill('SIGKILL'); });
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aigw-budget-'));

function start(command, args, ready) {
  const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  children.add(child);
  let err = '';
  child.stderr.setEncoding('utf8');
  return new Promise((resolve, reject) => {
    child.stderr.on('data', (d) => {
      err += d;
      const m = ready.exec(err);
      if (m) resolve({ child, match: m, log: () => err });
    });
    child.on('exit', (code) => reject(new Error(`${command} exited (${code}):\n${err}`)));
  });
}

async function stop(child) {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
  children.delete(child);
}

const fake = await start(path.join(benchBin, 'fake_llm'), ['--port', '0', '--threads', '1'], /listening on 127\.0\.0\.1:(\d+)/);
const fakeUrl = `http://127.0.0.1:${fake.match[1]}/v1`;
const redis = await startRedis();

let configs = 0;
async function gateway({ clients = true, limits, redisUrl }) {
  const file = path.join(dir, `gw${++configs}.yaml`);
  const hash = crypto.createHash('sha256').update(KEY).digest('hex');
  fs.writeFileSync(file, [
    'listen: 127.0.0.1:0', 'admin: 127.0.0.1:0', 'workers: 1', 'access_log: off',
    ...(redisUrl ? [`redis: { url: "${redisUrl}" }`] : []),
    ...(clients ? ['clients:', `  - name: bench`, `    key_sha256: "${hash}"`, `    limits: ${JSON.stringify(limits)}`] : []),
    'backends:', `  - { name: fake, url: "${fakeUrl}" }`,
  ].join('\n') + '\n');
  const gw = await start(bin, ['--config', file], /listening on \S+:(\d+)/);
  const admin = /admin on http:\/\/\S+:(\d+)/.exec(gw.log());
  return { ...gw, port: Number(gw.match[1]), admin: `http://127.0.0.1:${admin[1]}` };
}

async function metric(gw, prefix) {
  const text = await (await fetch(`${gw.admin}/metrics`)).text();
  return text.split('\n').filter((l) => l.startsWith(prefix)).reduce((n, l) => n + Number(l.split(' ').at(-1)), 0);
}

async function untilConnected(gw) {
  for (let i = 0; i < 100 && (await metric(gw, 'aigw_redis_connected')) < 1; i++) await delay(50);
}

function post(port, agent, body) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, agent, method: 'POST', path: '/v1/chat/completions',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}`, 'content-length': Buffer.byteLength(body) } },
    (res) => { res.resume(); res.on('end', () => resolve(res.statusCode)); res.on('error', reject); });
    req.on('error', reject);
    req.end(body);
  });
}

// ---------------------------------------------------------------------------------------------
// 1. Overshoot: 3 replicas, 16 keep-alive clients each, until every client has seen its
// requests refused; then what was charged (the tokens the answers reported) against the budget.

async function overshoot({ budget, body, limits, shared, perAnswer = TOKENS_PER_ANSWER, type = '' }) {
  await redis.command('FLUSHALL');
  const gws = await Promise.all([0, 1, 2].map(() => gateway({ limits: { ...limits, tokens_per_day: budget }, redisUrl: shared ? redis.url : undefined })));
  await Promise.all(gws.map(untilConnected));
  let admitted = 0;
  let refused = 0;
  const wanted = Math.ceil((3 * budget) / perAnswer);  // enough to spend 3 budgets
  let sent = 0;
  const began = Date.now();
  await Promise.all(Array.from({ length: 48 }, async (_, i) => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    while (sent < wanted) {
      sent++;
      const status = await post(gws[i % 3].port, agent, body);
      if (status === 200) admitted++;
      else if (status === 429) refused++;
      else throw new Error(`status ${status}`);
    }
    agent.destroy();
  }));
  const elapsed = (Date.now() - began) / 1000;
  await delay(200);
  const charged = (await Promise.all(gws.map((gw) => metric(gw, `aigw_client_tokens_total{client="bench"${type}`)))).reduce((a, b) => a + b, 0);
  await Promise.all(gws.map((gw) => stop(gw.child)));
  return { budget, admitted, refused, charged, overshoot_pct: (100 * (charged - budget)) / budget, requests_per_s: Math.round(sent / elapsed) };
}

// ---------------------------------------------------------------------------------------------
// 2. Cost per request: wrk on one connection for `seconds`, the gateway's CPU time from /proc.

const ticks = Number(execFileSync('getconf', ['CLK_TCK']).toString());
function cpuSeconds(pid) {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / ticks;
}

function wrk(port, connections) {
  const out = execFileSync('wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', '-s', path.join(root, 'bench', 'post.lua'),
    `http://127.0.0.1:${port}/v1/chat/completions`], { env: { ...process.env, BENCH_KEY: KEY } }).toString();
  const m = /BENCH requests=(\d+) duration_us=(\d+) p50_us=([\d.]+) p99_us=([\d.]+) status_errors=(\d+)/.exec(out);
  if (!m) throw new Error(`wrk:\n${out}`);
  return { requests: Number(m[1]), p50_us: Number(m[3]), p99_us: Number(m[4]), status_errors: Number(m[5]) };
}

async function cost(name, options) {
  await redis.command('FLUSHALL');
  const gw = await gateway(options);
  await untilConnected(gw);
  const rows = {};
  for (const connections of [1, 16]) {
    wrk(gw.port, connections);  // warm-up
    const before = cpuSeconds(gw.child.pid);
    const r = wrk(gw.port, connections);
    const cpu = cpuSeconds(gw.child.pid) - before;
    if (r.status_errors) throw new Error(`${name}: ${r.status_errors} answers were not 200`);
    rows[connections] = { ...r, cpu_us_per_request: Math.round((cpu * 1e6) / r.requests * 10) / 10 };
  }
  await stop(gw.child);
  return { name, rows };
}

const big = { requests_per_minute: 1e9, tokens_per_minute: 1e11, tokens_per_day: 1e11 };
const results = {
  overshoot: [
    // The request names max_tokens: its reservation (body / 4 + 5) is never below its usage.
    { case: 'max_tokens given, Redis', ...(await overshoot({ budget: 100000, shared: true, body: '{"model":"bench","messages":[{"role":"user","content":"hi"}],"max_tokens":5}', limits: {} })) },
    // Output tokens only, no max_tokens, default_output 1: every reservation is 4 tokens
    // short of the usage (5), so requests in flight when the budget runs out overspend it.
    { case: 'output budget, estimate 4 tokens short, Redis', ...(await overshoot({ budget: 100000, shared: true, perAnswer: 5, type: ',type="output"', body: '{"model":"bench","messages":[{"role":"user","content":"hi"}]}', limits: { default_output: 1, tokens: 'output' } })) },
    // The same replicas without Redis: each holds its own budget.
    { case: 'max_tokens given, in memory (no sharing)', ...(await overshoot({ budget: 100000, shared: false, body: '{"model":"bench","messages":[{"role":"user","content":"hi"}],"max_tokens":5}', limits: {} })) },
  ],
  cost: [
    await cost('no clients', { clients: false }),
    await cost('clients, in memory', { limits: big }),
    await cost('clients, Redis', { limits: big, redisUrl: redis.url }),
  ],
};
await redis.stop();
await stop(fake.child);
fs.rmSync(dir, { recursive: true, force: true });

console.log('Overshoot: 3 replicas, 48 clients, tokens_per_day 100000');
console.log('| case | admitted | refused | tokens charged | overshoot | req/s |\n|---|---:|---:|---:|---:|---:|');
for (const r of results.overshoot)
  console.log(`| ${r.case} | ${r.admitted} | ${r.refused} | ${r.charged} | ${r.overshoot_pct.toFixed(2)}% | ${r.requests_per_s} |`);
console.log('\nCost per request: one replica, wrk, every answer 200');
console.log('| case | 1 conn p50 µs | 1 conn p99 µs | 1 conn CPU µs/req | 16 conn req/s | 16 conn CPU µs/req |\n|---|---:|---:|---:|---:|---:|');
for (const c of results.cost)
  console.log(`| ${c.name} | ${c.rows[1].p50_us} | ${c.rows[1].p99_us} | ${c.rows[1].cpu_us_per_request} | ${Math.round(c.rows[16].requests / seconds)} | ${c.rows[16].cpu_us_per_request} |`);
console.log(`\n${JSON.stringify(results)}`);
process.exit(0);
