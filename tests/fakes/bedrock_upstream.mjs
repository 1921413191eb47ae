// A fake AWS Bedrock runtime: POST /model/{modelId}/converse and /converse-stream, as the
// API reference describes them. Every request must carry a valid SigV4 signature (service
// "bedrock", the fake's region and keys), checked here with an independent implementation:
// a request whose signature does not verify gets AWS's 403. Streams are
// application/vnd.amazon.eventstream frames with both CRC32s.
//
//   const fake = await startBedrockUpstream({ region: 'us-east-1', accessKeyId, secretAccessKey });
//   fake.origin, fake.requests ([{ method, path, modelId, headers, body }]), fake.close()
//
// Per request, through headers the gateway passes on:
//   x-fake-status      an error: 429 ThrottlingException, 400 ValidationException, else
//                      InternalServerException; AWS's x-amzn-ErrorType and {"message"}
//   x-fake-exception   stream: a throttlingException message after the first text delta
//   x-fake-bad-crc     stream: the second frame's message CRC is wrong
// A request with toolConfig whose last turn has no toolResult gets a toolUse answer.

import crypto from 'node:crypto';
import http from 'node:http';
import zlib from 'node:zlib';
import { once } from 'node:events';

export const BEDROCK_USAGE = { inputTokens: 13, outputTokens: 6, totalTokens: 19, cacheReadInputTokens: 2 };

const sha256 = (data) => crypto.createHash('sha256').update(data).digest('hex');
const hmac = (key, data) => crypto.createHmac('sha256', key).update(data).digest();

// RFC 3986 encoding of a path segment (for the canonical request, AWS encodes the wire path's
// segments once more, for every service but S3).
const encodeSegment = (s) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** Whether `req`'s Authorization header is a valid SigV4 signature of it. */
export function verifySigV4(req, body, { region, service, accessKeyId, secretAccessKey }) {
  const auth = req.headers.authorization ?? '';
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/.exec(auth);
  if (!m) return 'no SigV4 Authorization header';
  const [, keyId, day, reg, svc, signedHeaders, signature] = m;
  if (keyId !== accessKeyId) return 'unknown access key';
  if (reg !== region || svc !== service) return 'wrong region or service';
  const amzDate = req.headers['x-amz-date'] ?? '';
  if (!amzDate.startsWith(day)) return 'x-amz-date does not match the credential scope';
  const when = Date.parse(`${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`);
  if (!(Math.abs(Date.now() - when) < 5 * 60 * 1000)) return 'request time too skewed';
  const names = signedHeaders.split(';');
  if (!names.includes('host') || !names.includes('x-amz-date')) return 'host and x-amz-date must be signed';
  const path = req.url.split('?')[0];
  // Each segment as it came on the wire, encoded once more (a model id's ':' is %3A on the
  // wire, %253A here).
  const canonicalPath = path.split('/').map(encodeSegment).join('/');
  const canonical = [
    req.method, canonicalPath, '',
    ...names.map((n) => `${n}:${String(req.headers[n] ?? '').trim().replace(/\s+/g, ' ')}\n`).join('').split('\n').slice(0, -1),
    '', signedHeaders, sha256(body),
  ].join('\n');
  const scope = `${day}/${region}/${service}/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonical)].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${secretAccessKey}`, day), region), service), 'aws4_request');
  const expected = crypto.createHmac('sha256', key).update(toSign).digest('hex');
  return expected === signature ? null : 'signature does not match';
}

/** One event-stream frame: string headers, a payload, both CRCs. */
export function frame(headers, payload, { badCrc = false } = {}) {
  const parts = [];
  for (const [name, value] of Object.entries(headers)) {
    const n = Buffer.from(name);
    const v = Buffer.from(value);
    const h = Buffer.alloc(1 + n.length + 1 + 2 + v.length);
    h.writeUInt8(n.length, 0);
    n.copy(h, 1);
    h.writeUInt8(7, 1 + n.length);
    h.writeUInt16BE(v.length, 2 + n.length);
    v.copy(h, 4 + n.length);
    parts.push(h);
  }
  const headerBytes = Buffer.concat(parts);
  const body = Buffer.from(payload);
  const total = 12 + headerBytes.length + body.length + 4;
  const prelude = Buffer.alloc(12);
  prelude.writeUInt32BE(total, 0);
  prelude.writeUInt32BE(headerBytes.length, 4);
  prelude.writeUInt32BE(zlib.crc32(prelude.subarray(0, 8)), 8);
  const message = Buffer.concat([prelude, headerBytes, body]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE((zlib.crc32(message) ^ (badCrc ? 1 : 0)) >>> 0, 0);
  return Buffer.concat([message, crc]);
}

const event = (type, data, options) =>
  frame({ ':event-type': type, ':content-type': 'application/json', ':message-type': 'event' },
    // AWS pads payloads with a "p" member to hide their length.
    JSON.stringify({ ...data, p: 'abcdefghij' }), options);

export async function startBedrockUpstream({ region = 'us-east-1', accessKeyId = 'AKIDEXAMPLE', secretAccessKey = 'secret-example', sessionToken } = {}) {
  const requests = [];
  let counter = 0;
  const server = http.createServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const raw = Buffer.concat(chunks).toString();
    let body = null;
    try {
      body = JSON.parse(raw);
    } catch {}
    const m = /^\/model\/([^/]+)\/(converse|converse-stream)$/.exec(req.url.split('?')[0]);
    requests.push({ method: req.method, path: req.url, modelId: m ? decodeURIComponent(m[1]) : null, headers: req.headers, body });
    const error = (status, type, message) => {
      res.writeHead(status, { 'content-type': 'application/json', 'x-amzn-errortype': `${type}:http://internal.amazon.com/coral/com.amazon.bedrock/`, 'x-amzn-requestid': 'err-req' });
      res.end(JSON.stringify({ message }));
    };
    const problem = verifySigV4(req, raw, { region, service: 'bedrock', accessKeyId, secretAccessKey });
    if (problem) return error(403, 'InvalidSignatureException', `fake: ${problem}`);
    if (sessionToken !== undefined && req.headers['x-amz-security-token'] !== sessionToken)
      return error(403, 'UnrecognizedClientException', 'fake: the security token is missing or wrong');
    if (req.method !== 'POST' || !m) return error(404, 'UnknownOperationException', `fake: no ${req.method} ${req.url}`);
    if (!body || !Array.isArray(body.messages) || body.messages.length === 0) return error(400, 'ValidationException', 'messages are required');
    for (const [i, msg] of body.messages.entries())
      if (msg.role !== (i % 2 === 0 ? 'user' : 'assistant')) return error(400, 'ValidationException', 'roles must alternate, starting with user');
    const status = Number(req.headers['x-fake-status'] ?? 0);
    if (status)
      return error(status, status === 429 ? 'ThrottlingException' : status === 400 ? 'ValidationException' : 'InternalServerException',
        status === 429 ? 'Too many requests, please wait before trying again.' : 'fake failure');

    const requestId = `fake-req-${++counter}`;
    const last = body.messages.at(-1);
    const answered = last.content.some((b) => b.toolResult);
    const tool = body.toolConfig?.tools?.length && !answered ? body.toolConfig.tools[0].toolSpec : null;
    const text = 'hello from bedrock';
    if (m[2] === 'converse') {
      const content = tool ? [{ toolUse: { toolUseId: `tooluse_${counter}`, name: tool.name, input: { city: 'Paris' } } }] : [{ text }];
      res.writeHead(200, { 'content-type': 'application/json', 'x-amzn-requestid': requestId });
      return res.end(JSON.stringify({ output: { message: { role: 'assistant', content } },
        stopReason: tool ? 'tool_use' : 'end_turn', usage: BEDROCK_USAGE, metrics: { latencyMs: 12 } }));
    }
    res.writeHead(200, { 'content-type': 'application/vnd.amazon.eventstream', 'x-amzn-requestid': requestId });
    const frames = [event('messageStart', { role: 'assistant' })];
    if (tool) {
      frames.push(event('contentBlockStart', { contentBlockIndex: 0, start: { toolUse: { toolUseId: `tooluse_${counter}`, name: tool.name } } }));
      for (const piece of ['{"city"', ': "Paris"}']) frames.push(event('contentBlockDelta', { contentBlockIndex: 0, delta: { toolUse: { input: piece } } }));
    } else {
      for (const piece of ['hello ', 'from ', 'bedrock']) frames.push(event('contentBlockDelta', { contentBlockIndex: 0, delta: { text: piece } }));
    }
    frames.push(event('contentBlockStop', { contentBlockIndex: 0 }));
    frames.push(event('messageStop', { stopReason: tool ? 'tool_use' : 'end_turn' }));
    frames.push(event('metadata', { usage: BEDROCK_USAGE, metrics: { latencyMs: 12 } }));
    if (req.headers['x-fake-exception'])
      frames.splice(2, frames.length, frame({ ':exception-type': 'throttlingException', ':content-type': 'application/json', ':message-type': 'exception' },
        JSON.stringify({ message: 'Too many tokens, please wait.' })));
    if (req.headers['x-fake-bad-crc']) frames[1] = event('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'hello ' } }, { badCrc: true });
    // Frames cut across writes, as TCP may deliver them.
    const all = Buffer.concat(frames);
    for (let at = 0; at < all.length; at += 37) res.write(all.subarray(at, at + 37));
    res.end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { origin: `http://127.0.0.1:${server.address().port}`, requests,
    close: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }) };
}
