// A real redis-server (installed by scripts/setup) on a free loopback port, with no
// persistence, for the tests and benchmarks of shared budgets; and `redisCommand`, a
// minimal RESP client for the tests to read and write keys with.
//
//   const redis = await startRedis();  // { port, url, stop, kill, start, command, commandIn }
//   await redis.command('GET', 'key');
//   redis.kill();  await redis.start();          // down, then back on the same port

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { closedPort } from '../integration/harness.mjs';

const children = new Set();
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

/** Starts redis-server; `args` are more of its options (e.g. ['--requirepass', 'x']). */
export async function startRedis({ args = [], password } = {}) {
  const port = await closedPort();
  let child = null;
  const redis = {
    port,
    url: `redis://127.0.0.1:${port}`,
    async start() {
      child = spawn('redis-server', [
        '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
        ...(password ? ['--requirepass', password] : []), ...args,
      ], { stdio: ['ignore', 'pipe', 'pipe'] });
      children.add(child);
      const exited = once(child, 'exit');
      child.on('exit', () => children.delete(child));
      let out = '';
      child.stdout.setEncoding('utf8');
      await Promise.race([
        new Promise((resolve) => child.stdout.on('data', (d) => {
          out += d;
          if (/Ready to accept connections/.test(out)) resolve();
        })),
        exited.then(() => { throw new Error(`redis-server exited:\n${out}`); }),
      ]);
    },
    /** SIGKILL: gone at once, as a crashed Redis is. */
    async kill() {
      if (!child || child.exitCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    },
    stop() { return redis.kill(); },
    command: (...args) => redisCommand(port, args, { password }),
    /** A command in database `db`. */
    commandIn: (db, ...args) => redisCommand(port, args, { password, db }),
  };
  await redis.start();
  return redis;
}

/** Sends one command (after AUTH and SELECT, when given) and resolves with its reply. */
export function redisCommand(port, args, { password, db } = {}) {
  const encode = (parts) => `*${parts.length}\r\n${parts.map((a) => `$${Buffer.byteLength(String(a))}\r\n${a}\r\n`).join('')}`;
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let buffer = '';
    const wanted = 1 + (password ? 1 : 0) + (db !== undefined ? 1 : 0);
    socket.setEncoding('utf8');
    socket.on('error', reject);
    socket.on('connect', () => {
      if (password) socket.write(encode(['AUTH', password]));
      if (db !== undefined) socket.write(encode(['SELECT', String(db)]));
      socket.write(encode(args));
    });
    socket.on('data', (d) => {
      buffer += d;
      const replies = parseReplies(buffer);
      if (replies.length >= wanted) {
        socket.destroy();
        const reply = replies[wanted - 1];
        if (reply instanceof Error) reject(reply); else resolve(reply);
      }
    });
  });
}

// The whole replies in `text` (strings, integers, nil, errors, flat arrays).
function parseReplies(text) {
  const replies = [];
  let at = 0;
  const line = () => {
    const end = text.indexOf('\r\n', at);
    if (end < 0) return null;
    const l = text.slice(at, end);
    at = end + 2;
    return l;
  };
  const one = () => {
    const l = line();
    if (l === null) return undefined;
    const rest = l.slice(1);
    switch (l[0]) {
      case '+': return rest;
      case '-': return new Error(rest);
      case ':': return Number(rest);
      case '$': {
        if (Number(rest) < 0) return null;
        if (text.length < at + Number(rest) + 2) return undefined;
        const s = text.slice(at, at + Number(rest));
        at += Number(rest) + 2;
        return s;
      }
      case '*': {
        const items = [];
        for (let i = 0; i < Number(rest); i++) {
          const item = one();
          if (item === undefined) return undefined;
          items.push(item);
        }
        return items;
      }
      default: return new Error(`unexpected reply: ${l}`);
    }
  };
  for (;;) {
    const start = at;
    const reply = one();
    if (reply === undefined) { at = start; return replies; }
    replies.push(reply);
  }
}
