#!/usr/bin/env node
// The benchmark's own program: the small clients scripts/bench needs between its runs, and
// its results, written as JSON and rendered as the report's table. scripts/bench starts the
// processes, pins them and reads their CPU time; this program does everything that is not
// shell work. Node only (it comes with the test suites), no packages.
//
//   node bench/bench.mjs free-port
//   node bench/bench.mjs post PORT N BODY        N requests on one keep-alive connection
//   node bench/bench.mjs stream-fields FILE      stream_client's result line, as fields
//   node bench/bench.mjs startup BIN CONFIG PORT LOG [CPU]   start-up time and idle RSS
//   node bench/bench.mjs results TSV > run.json  results (`target:key<TAB>value`) as JSON
//   node bench/bench.mjs report run.json         the markdown report of one run
//   node bench/bench.mjs compare old.json new.json   two runs side by side
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';

const [command, ...args] = process.argv.slice(2);
const fail = (message) => {
  process.stderr.write(`bench.mjs: ${message}\n`);
  process.exit(1);
};
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------------------------
// Clients

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

// N chat completions on one keep-alive connection; any status but 200 is a failure, reported
// with the start of its body.
async function post(port, n, body) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  for (let i = 0; i < n; i++) {
    const { status, text } = await new Promise((resolve, reject) => {
      const request = http.request(
        {
          host: '127.0.0.1', port, agent, method: 'POST', path: '/v1/chat/completions',
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
          timeout: 10_000,
        },
        (response) => {
          const parts = [];
          response.on('data', (part) => parts.push(part));
          response.on('end', () => resolve({ status: response.statusCode, text: Buffer.concat(parts).toString() }));
          response.on('error', reject);
        });
      request.on('timeout', () => request.destroy(new Error('no answer within 10 s')));
      request.on('error', reject);
      request.end(body);
    }).catch((e) => fail(`${e.code ?? e.name}: ${e.message}`));
    if (status !== 200) fail(`status ${status}: ${text.slice(0, 300)}`);
  }
  agent.destroy();
}

// The last JSON line stream_client printed, as "completed failed ttfb50 ttfb99 total50 total99".
function streamFields(file) {
  const lines = fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.startsWith('{'));
  if (lines.length === 0) fail(`no result line in ${file}`);
  const d = JSON.parse(lines.at(-1));
  return [d.completed, d.failed, d.ttfb_us.p50, d.ttfb_us.p99, d.total_us.p50, d.total_us.p99].join(' ');
}

function connects(port) {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
  });
}

function vmRssKib(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+)/m.exec(status)[1]);
}

// From exec to the first accepted TCP connect on `port`, and VmRSS at that moment; the median
// of 5 runs. With `cpu`, the gateway runs on that CPU (taskset execs it in place: same pid).
async function startup(binary, config, port, log, cpu) {
  const out = fs.openSync(log, 'w');
  const times = [], rss = [];
  for (let run = 0; run < 5; run++) {
    const argv = cpu === undefined ? [binary, '--config', config]
                                   : ['taskset', '-c', cpu, binary, '--config', config];
    const t0 = process.hrtime.bigint();
    const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', out, out] });
    let exited = null;
    child.on('exit', (code) => { exited = code; });
    for (;;) {
      if (await connects(port)) break;
      if (exited !== null) fail(`aigw-proxy exited with ${exited} during start-up`);
      if (process.hrtime.bigint() - t0 > 10_000_000_000n) {
        child.kill('SIGKILL');
        fail('aigw-proxy did not accept a connection within 10 s');
      }
      await sleep(0);
    }
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    rss.push(vmRssKib(child.pid));
    const gone = new Promise((resolve) => (exited !== null ? resolve() : child.once('exit', resolve)));
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await gone;
    clearTimeout(killer);
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  return `${median(times).toFixed(2)} ${median(rss)}`;
}

// ---------------------------------------------------------------------------------------------
// Results

// `target:key<TAB>value` lines (targets: direct, nginx, aigw; `meta` for the run's facts;
// `note` lines for warnings) as one JSON document. Numbers stay numbers.
function results(tsv) {
  const run = { meta: {}, notes: [], results: { direct: {}, nginx: {}, aigw: {} } };
  for (const line of fs.readFileSync(tsv, 'utf8').split('\n')) {
    if (!line) continue;
    const tab = line.indexOf('\t');
    const [target, key] = [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 1, tab)];
    const raw = line.slice(tab + 1).replaceAll('\\n', '\n');
    const value = /^-?\d+(\.\d+)?$/.test(raw) ? Number(raw) : raw;
    if (target === 'note') run.notes.push(raw);
    else if (target === 'meta') run.meta[key] = value;
    else (run.results[target] ??= {})[key] = value;
  }
  return run;
}

// The report's rows: [label, key, decimals, ratios] where ratios is 'both' (aigw/nginx and
// aigw/direct), 'nginx' or 'none'; a string alone is a section heading.
function rows(meta) {
  const conns = (c) => (c === 1 ? '1 connection' : `${c} connections`);
  const out = [`Non-streaming POST (wrk -t1, ${meta.duration} s per run)`];
  for (const c of [1, 16, 64]) out.push([`requests/s, ${conns(c)}`, `rps_${c}`, 0, 'both']);
  for (const c of [1, 16, 64]) {
    out.push([`p50 latency, ${conns(c)} (µs)`, `p50_${c}`, 1, 'both']);
    out.push([`p99 latency, ${conns(c)} (µs)`, `p99_${c}`, 1, 'both']);
  }
  out.push(
    ['added p50 over direct, 1 connection, proxy on its own core (µs)', 'added_p50_1', 1, 'nginx'],
    ['p50 latency, 1 connection, proxy on the same core as the load (µs)', 'p50_1same', 1, 'both'],
    ['added p50 over direct, 1 connection, proxy on the same core as the load (µs)', 'added_p50_1same', 1, 'nginx']);
  for (const c of [1, 16, 64]) out.push([`proxy CPU time per request, ${conns(c)} (µs)`, `cpu_${c}`, 1, 'nginx']);
  out.push(['  the same, usage accounting off: 16 connections (µs)', 'cpu_16_nousage', 1, 'nginx']);
  out.push(['peak RSS after the wrk runs (VmHWM, KiB)', 'hwm_wrk', 0, 'nginx']);
  out.push(`Streaming (stream_client, ${meta.streams} streams of 20 chunks, one at a time)`);
  for (const [k, what] of [['nodelay', 'no delay'], ['delay5', '5 ms between chunks']]) {
    out.push([`TTFB p50, ${what} (µs)`, `ttfb50_${k}`, 0, 'both'], [`TTFB p99, ${what} (µs)`, `ttfb99_${k}`, 0, 'both'],
             [`total time p50, ${what} (µs)`, `total50_${k}`, 0, 'both'], [`total time p99, ${what} (µs)`, `total99_${k}`, 0, 'both']);
  }
  out.push(
    ['added TTFB p50 over direct, no delay (µs)', 'added_ttfb50_nodelay', 0, 'nginx'],
    ['proxy CPU time per SSE stream, 21 events back to back, 1 client (µs)', 'sse_cpu_1', 1, 'nginx'],
    ['proxy CPU time per SSE stream, 21 events back to back, 16 clients (µs)', 'sse_cpu_16', 1, 'nginx'],
    ['  the same, usage accounting off: 1 client (µs)', 'sse_cpu_1_nousage', 1, 'nginx'],
    ['  the same, usage accounting off: 16 clients (µs)', 'sse_cpu_16_nousage', 1, 'nginx'],
    ["  the same, translated from an Anthropic backend's events: 1 client (µs)", 'sse_cpu_1_anthropic', 1, 'nginx'],
    ["  the same, translated from an Anthropic backend's events: 16 clients (µs)", 'sse_cpu_16_anthropic', 1, 'nginx'],
    ['system calls per SSE stream, 21 events, 1 client (strace -c)', 'syscalls_stream', 1, 'nginx'],
    ['system calls per non-streaming request, 1 connection (strace -c)', 'syscalls_request', 1, 'nginx'],
    `Scale (${meta.scale} concurrent streams, 20 chunks 250 ms apart)`,
    ['streams completed / failed', 'scale_done', 0, 'none'],
    [`time until all ${meta.scale} streams are open (ms)`, 'scale_open_ms', 0, 'both'],
    ['RSS with all streams open (MiB)', 'scale_rss_mib', 1, 'nginx'],
    ['RSS per open stream (KiB)', 'scale_kib', 2, 'nginx'],
    ['proxy CPU time per relayed event (µs)', 'scale_cpu_event', 1, 'nginx'],
    ['peak RSS over the whole run (VmHWM, KiB)', 'hwm_all', 0, 'nginx'],
    'Start-up and idle',
    ['idle RSS right after start-up (KiB)', 'idle_rss', 0, 'nginx'],
    ['exec to accepting connections (ms, median of 5)', 'startup_ms', 2, 'none'],
    'Heap allocations (LD_PRELOAD counter)',
    ['allocations per non-streaming request', 'alloc_req', 1, 'none'],
    ['allocations per relayed SSE chunk', 'alloc_chunk', 2, 'none']);
  return out;
}

const isNumber = (v) => typeof v === 'number' && Number.isFinite(v);
const show = (v, d) => (v === undefined || v === '' ? '—' : isNumber(v) ? v.toFixed(d) : String(v));
const ratio = (a, b) => (isNumber(a) && isNumber(b) && b !== 0 ? (a / b).toFixed(2) : '—');

// Figures derived from the measured ones: the latency a proxy adds over the direct path.
function derive(r) {
  for (const t of ['nginx', 'aigw']) {
    for (const [k, base] of [['p50_1', 'p50_1'], ['p50_1same', 'p50_1'], ['ttfb50_nodelay', 'ttfb50_nodelay']]) {
      if (isNumber(r[t]?.[k]) && isNumber(r.direct?.[base])) r[t][`added_${k}`] = r[t][k] - r.direct[base];
    }
  }
  return r;
}

function report(run) {
  const r = derive(run.results);
  const m = run.meta;
  const lines = [
    `# aigw-proxy benchmark, ${m.date}`, '',
    `- machine: ${m.machine}`,
    `- date: ${m.time}`,
    `- commit: ${m.commit}`,
    `- tools: ${m.tools}`,
    `- pinning: ${m.pinning}`,
    `- aigw-proxy: ${m.aigw}`,
    "- nginx's RSS and CPU time: its master and its worker process added up",
    `- results: ${m.results_file} (compare two runs: \`node bench/bench.mjs compare OLD.json NEW.json\`)`,
    '',
  ];
  if (run.notes.length) lines.push('Warnings:', '', ...run.notes.map((n) => `- ${n}`), '');
  lines.push('| metric | direct | nginx | aigw-proxy | aigw/nginx | aigw/direct |', '|---|---:|---:|---:|---:|---:|');
  for (const row of rows(m)) {
    if (typeof row === 'string') { lines.push(`| **${row}** | | | | | |`); continue; }
    const [label, key, d, ratios] = row;
    const [dv, nv, av] = [r.direct[key], r.nginx[key], r.aigw[key]];
    lines.push(`| ${label} | ${show(dv, d)} | ${show(nv, d)} | ${show(av, d)} | ` +
               `${ratios === 'none' ? '—' : ratio(av, nv)} | ${ratios === 'both' ? ratio(av, dv) : '—'} |`);
  }
  if (m.micro) lines.push('', '## Micro benchmarks (build/bench/micro)', '', m.micro);
  return lines.join('\n') + '\n';
}

// Two runs: aigw-proxy's figure in each, its change, and its ratio to nginx in each run (a
// ratio measured within one run is what survives a noisy machine).
function compare(before, after) {
  const [a, b] = [derive(before.results), derive(after.results)];
  const lines = [
    `# aigw-proxy benchmark: ${before.meta.commit} (${before.meta.time}) → ${after.meta.commit} (${after.meta.time})`, '',
    '| metric | before | after | after/before | aigw/nginx before | aigw/nginx after |',
    '|---|---:|---:|---:|---:|---:|',
  ];
  for (const row of rows(after.meta)) {
    if (typeof row === 'string') { lines.push(`| **${row}** | | | | | |`); continue; }
    const [label, key, d, ratios] = row;
    const [x, y] = [a.aigw[key], b.aigw[key]];
    const vsNginx = (r) => (ratios === 'none' ? '—' : ratio(r.aigw[key], r.nginx[key]));
    lines.push(`| ${label} | ${show(x, d)} | ${show(y, d)} | ${ratio(y, x)} | ${vsNginx(a)} | ${vsNginx(b)} |`);
  }
  return lines.join('\n') + '\n';
}

const readRun = (file) => JSON.parse(fs.readFileSync(file, 'utf8'));

switch (command) {
  case 'free-port': console.log(await freePort()); break;
  case 'post': await post(Number(args[0]), Number(args[1]), args[2]); break;
  case 'stream-fields': console.log(streamFields(args[0])); break;
  case 'startup': console.log(await startup(args[0], args[1], Number(args[2]), args[3], args[4])); break;
  case 'results': console.log(JSON.stringify(results(args[0]), null, 1)); break;
  case 'report': process.stdout.write(report(readRun(args[0]))); break;
  case 'compare': process.stdout.write(compare(readRun(args[0]), readRun(args[1]))); break;
  default: fail(`unknown command "${command ?? ''}" (see the comment at the top of bench/bench.mjs)`);
}
