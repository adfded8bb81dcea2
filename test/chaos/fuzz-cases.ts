import { createHmac } from 'node:crypto';
import zlib from 'node:zlib';
import type { OidcSigner } from '@parley/sandbox';
import { buildRequest } from '../support/chaos-http';
import { createRng, type Rng } from '../support/chaos-run';

/**
 * Hostile requests for the API, one per index, each drawn from its own generator seeded by
 * (run seed, index): a failing case replays alone with CHAOS_SEED and CHAOS_FUZZ_CASE.
 *
 * Every case carries at least one defect that must keep it out of the system (no valid token,
 * no valid signature, or a body that is not a valid delivery): the test asserts that none of
 * them creates a job or a delivery row, so a case that a correct API would accept is a bug of
 * this generator, not a finding.
 */

export interface FuzzContext {
  /** The key the API trusts (its GOOGLE_CERTS_URL serves it). */
  signer: OidcSigner;
  /** Same kid as `signer`, another key: a forged token. */
  forger: OidcSigner;
  /** A kid the certs do not list. */
  stranger: OidcSigner;
  audience: string;
  serviceAccount: string;
  mailbox: string;
  clickupSecret: string;
  webhookId: string;
  /** A valid `Bearer <JWT>` (signed once per run: Google's tokens live an hour). */
  validAuthorization: string;
}

export interface FuzzCase {
  index: number;
  category: string;
  /** What the case is, in words (printed with a failure). */
  what: string;
  method: string;
  /** The request target as written on the request line. */
  target: string;
  request: Buffer;
  /** Written in this many pieces. */
  chunks: number;
  /** The socket is half-closed after the request (a truncated request). */
  endAfterWrite: boolean;
  /** The server may close the connection without an answer (not an HTTP request at all, or cut short). */
  allowClosed: boolean;
}

type Headers = Array<[string, string | Buffer]>;

interface Draft {
  category: string;
  what: string;
  method: string;
  target: string;
  headers: Headers;
  body: Buffer;
  raw?: Buffer;
  noLength?: boolean;
  endAfterWrite?: boolean;
  allowClosed?: boolean;
  /** Salts (content type, request id) must not be added: the case is about exact headers. */
  exactHeaders?: boolean;
}

export const ROUTES = ['/webhooks/gmail', '/webhooks/clickup', '/health/liveness', '/health/readiness', '/metrics', '/admin/', '/admin/queues', '/admin/dead-letters', '/admin/negotiations/n1', '/nowhere'];

const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-16',
  'application/json; charset=utf-7',
  'text/plain',
  'text/html; charset=latin1',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=----x',
  'application/octet-stream',
  'application/xml',
  'image/png',
  '*/*',
  ';;;',
  'application/json; charset="\u00ff"',
  '',
];

const digits = (rng: Rng, n: number) => `${rng.int(1, 9)}${Array.from({ length: n - 1 }, () => rng.int(0, 9)).join('')}`;

/** A string mixing ASCII, Latin-1, CJK, emoji, bidi overrides, zero-width characters, NUL and lone surrogates. */
export function unicodeString(rng: Rng, length: number): string {
  const pools: Array<() => string> = [
    () => String.fromCharCode(rng.int(0x20, 0x7e)),
    () => String.fromCharCode(rng.int(0xa0, 0xff)),
    () => String.fromCharCode(rng.int(0x4e00, 0x9fff)),
    () => String.fromCodePoint(rng.int(0x1f300, 0x1f6ff)),
    () => rng.pick(['\u202e', '\u202d', '\u200b', '\u200d', '\ufeff', '\u2028', '\u2029']),
    () => rng.pick(['\u0000', '\u0001', '\u001b', '\u007f', '\n', '\r', '\t']),
    () => String.fromCharCode(rng.int(0xd800, 0xdfff)),
  ];
  let s = '';
  for (let i = 0; i < length; i += 1) s += rng.pick(pools)();
  return s;
}

/** `s` without control characters, whitespace or DEL (for header values and request targets). */
function printable(s: string): string {
  return Array.from(s, (ch) => {
    const code = ch.codePointAt(0) ?? 0;
    return code <= 0x20 || code === 0x7f ? 'x' : ch;
  }).join('');
}

/** Invalid UTF-8: overlong encodings, lone continuation bytes, truncated sequences, surrogates encoded. */
function badUtf8(rng: Rng): Buffer {
  return Buffer.from(rng.pick([[0xc0, 0xae], [0xe0, 0x80, 0xae], [0x80], [0xbf, 0xbf], [0xe2, 0x82], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xff, 0xfe]]));
}

/**
 * Nested arrays or objects, at most `maxBytes` long: deep JSON is about the parser, so it stays
 * under the 1 MB body limit (a larger body is refused by its length before it is read, and the
 * server then resets the connection while the client is still writing).
 */
function deepJson(rng: Rng, maxBytes: number): string {
  const arrays = rng.chance(0.5);
  const perLevel = arrays ? 2 : 6;
  const most = Math.floor((maxBytes - 1) / perLevel);
  const depth = rng.pick([64, 1_000, 20_000, most].filter((d) => d <= most));
  return arrays ? `${'['.repeat(depth)}${']'.repeat(depth)}` : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** A mutation of `valid` that is certainly not JSON (a proper prefix of a JSON object never is). */
function brokenJson(rng: Rng, valid: string): string {
  const i = rng.int(0, Math.max(0, valid.length - 1));
  const mutated = rng.pick([
    () => valid.slice(0, i),
    () => `${valid.slice(0, i)}${String.fromCharCode(rng.int(0, 255))}${valid.slice(i + 1)}`,
    () => `${valid.slice(0, i)}${rng.pick(['"', '{', '}', ',', ':', '\\', '\u0000'])}${valid.slice(i)}`,
    () => valid.replace(/"/g, "'"),
    () => `${valid},`,
    () => `${valid}${valid}`,
  ])();
  return isJson(mutated) ? valid.slice(0, i) : mutated;
}

function validEnvelope(ctx: FuzzContext, rng: Rng): Record<string, unknown> {
  const messageId = `9${digits(rng, 15)}`;
  const data = Buffer.from(JSON.stringify({ emailAddress: ctx.mailbox, historyId: digits(rng, 8) })).toString('base64');
  const publishTime = new Date().toISOString();
  return { message: { data, messageId, message_id: messageId, publishTime, publish_time: publishTime }, subscription: 'projects/sandbox/subscriptions/gmail-push' };
}

function validClickUp(ctx: FuzzContext, rng: Rng): Record<string, unknown> {
  return {
    event: rng.pick(['taskCreated', 'taskStatusUpdated', 'taskUpdated']),
    task_id: `fuzz-${digits(rng, 6)}`,
    webhook_id: ctx.webhookId,
    history_items: [{ id: digits(rng, 19), type: 1, date: String(Date.now()), field: 'status', before: { status: 'to do' }, after: { status: 'ready' } }],
  };
}

const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');
const hmac = (secret: string, body: Buffer | string) => createHmac('sha256', secret).update(body).digest('hex');

/** A Pub/Sub body that is not a valid delivery, in words and bytes. */
function badGmailBody(ctx: FuzzContext, rng: Rng): { what: string; body: Buffer; headers?: Headers } {
  const env = validEnvelope(ctx, rng);
  const message = env.message as Record<string, unknown>;
  const withData = (data: unknown) => JSON.stringify({ ...env, message: { ...message, data } });
  const notification = (n: unknown) => withData(b64(JSON.stringify(n)));
  const cases: Array<() => { what: string; body: string | Buffer; headers?: Headers }> = [
    () => ({ what: 'broken JSON', body: brokenJson(rng, JSON.stringify(env)) }),
    () => ({ what: 'top-level not an envelope', body: rng.pick(['null', '[]', '"message"', '123', 'true', '{}', '[{"message":{}}]']) }),
    () => ({ what: 'message not an object', body: JSON.stringify({ ...env, message: rng.pick([null, [], 'm', 1, true]) }) }),
    () => ({ what: 'data missing or not a string', body: withData(rng.pick([undefined, '', 0, {}, [], null, true])) }),
    () => ({ what: 'data not base64', body: withData(rng.pick(['!!!', 'a', 'abcde', '====', 'ab=c', unicodeString(rng, 12), 'e30=\u0000'])) }),
    () => ({ what: 'data base64 of random bytes', body: withData(b64(rng.bytes(rng.int(1, 200)))) }),
    () => ({ what: 'data base64 of non-object JSON', body: withData(b64(rng.pick(['null', '[]', '"x"', '42', 'true']))) }),
    () => ({ what: 'data: bad emailAddress', body: notification({ emailAddress: rng.pick(['not-an-email', '', 42, null, unicodeString(rng, 10), `${'a'.repeat(300)}@`]), historyId: '123' }) }),
    () => ({
      what: 'data: bad historyId',
      body: notification({ emailAddress: ctx.mailbox, historyId: rng.pick(['-1', '1.5', 'abc', '1'.repeat(21), '', ' 12', '0x10', -5, 1.5, null, [], {}, true, unicodeString(rng, 4)]) }),
    }),
    () => ({ what: 'data: historyId 1e400 (Infinity)', body: withData(b64(`{"emailAddress":"${ctx.mailbox}","historyId":1e400}`)) }),
    () => ({ what: 'data: fields missing', body: notification(rng.pick([{ emailAddress: ctx.mailbox }, { historyId: '5' }, {}])) }),
    () => ({ what: 'data: deep JSON', body: withData(b64(deepJson(rng, 700_000))) }),
    () => {
      const { messageId: _a, message_id: _b, ...rest } = message;
      return { what: 'no messageId', body: JSON.stringify({ ...env, message: rest }) };
    },
    () => ({ what: 'messageId empty or not a string', body: JSON.stringify({ ...env, message: { ...message, messageId: rng.pick(['', 42, {}, [], true]), message_id: rng.pick(['', 7, null]) } }) }),
    () => ({ what: 'attributes not strings', body: JSON.stringify({ ...env, message: { ...message, attributes: rng.pick([{ a: 1 }, { a: null }, 'x', [1]]) } }) }),
    () => ({ what: 'envelope under __proto__', body: `{"__proto__":${JSON.stringify(env)}}` }),
    () => ({ what: 'envelope under constructor.prototype', body: `{"constructor":{"prototype":${JSON.stringify(env)}}}` }),
    () => ({ what: 'duplicate key: message then null', body: `${JSON.stringify(env).slice(0, -1)},"message":null}` }),
    () => ({ what: 'byte-order mark before the JSON', body: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify(env))]) }),
    () => ({ what: 'envelope in UTF-16LE', body: Buffer.from(JSON.stringify(env), 'utf16le'), headers: [['Content-Type', 'application/json; charset=utf-16le']] }),
    () => ({ what: 'deep JSON body', body: deepJson(rng, 1_000_000) }),
    () => ({ what: 'invalid UTF-8 inside a string', body: Buffer.concat([Buffer.from(brokenJson(rng, JSON.stringify(env)).slice(0, 20)), badUtf8(rng), Buffer.from('"}}')]) }),
    () => ({ what: 'unicode messageId with bad data', body: JSON.stringify({ ...env, message: { ...message, messageId: unicodeString(rng, 20), data: unicodeString(rng, 8) } }) }),
  ];
  const c = rng.pick(cases)();
  return { what: c.what, body: Buffer.isBuffer(c.body) ? c.body : Buffer.from(c.body), headers: c.headers };
}

/** A ClickUp body that does not match the webhook schema (or is not JSON). */
function badClickUpBody(ctx: FuzzContext, rng: Rng): { what: string; body: Buffer } {
  const valid = validClickUp(ctx, rng);
  const item = (valid.history_items as Array<Record<string, unknown>>)[0] ?? {};
  const cases: Array<() => { what: string; body: string | Buffer }> = [
    () => ({ what: 'broken JSON', body: brokenJson(rng, JSON.stringify(valid)) }),
    () => ({ what: 'top-level not an object', body: rng.pick(['null', '[]', '"taskCreated"', '0', 'false']) }),
    () => ({ what: 'event missing or invalid', body: JSON.stringify({ ...valid, event: rng.pick([undefined, '', 5, null, {}, []]) }) }),
    () => ({ what: 'webhook_id missing or invalid', body: JSON.stringify({ ...valid, webhook_id: rng.pick([undefined, '', 5, null, {}]) }) }),
    () => ({ what: 'task_id missing or invalid', body: JSON.stringify({ ...valid, task_id: rng.pick([undefined, '', 7, null, []]) }) }),
    () => ({ what: 'history_items not a list of items', body: JSON.stringify({ ...valid, history_items: rng.pick(['x', {}, 3, [null], [[]], ['id']]) }) }),
    () => ({ what: 'history item id invalid', body: JSON.stringify({ ...valid, history_items: [{ ...item, id: rng.pick([undefined, '', null, {}, [], true]) }] }) }),
    () => ({ what: 'history item fields of the wrong type', body: JSON.stringify({ ...valid, history_items: [{ ...item, ...rng.pick([{ type: 'x' }, { field: 5 }, { date: {} }, { date: [] }, { type: null }]) }] }) }),
    () => ({ what: 'body under __proto__', body: `{"__proto__":${JSON.stringify(valid)}}` }),
    () => ({ what: 'duplicate key: task_id then null', body: `${JSON.stringify(valid).slice(0, -1)},"task_id":null}` }),
    () => ({ what: 'byte-order mark before the JSON', body: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify(valid))]) }),
    () => ({ what: 'deep JSON body', body: deepJson(rng, 1_000_000) }),
    () => ({ what: 'deep history item', body: JSON.stringify({ ...valid, history_items: JSON.parse(deepJson(rng, 6_000)) as unknown }) }),
    () => ({ what: 'unicode fields with no webhook_id', body: JSON.stringify({ event: unicodeString(rng, 10), task_id: unicodeString(rng, 10), history_items: [{ id: unicodeString(rng, 8) }] }) }),
    () => ({ what: 'invalid UTF-8 in task_id', body: Buffer.concat([Buffer.from(`{"event":"taskCreated","webhook_id":"${ctx.webhookId}","task_id":"`), badUtf8(rng), Buffer.from('"')]) }),
  ];
  const c = rng.pick(cases)();
  return { what: c.what, body: Buffer.isBuffer(c.body) ? c.body : Buffer.from(c.body) };
}

function badToken(ctx: FuzzContext, rng: Rng): { what: string; value: string | Buffer } {
  const claims = { aud: ctx.audience, email: ctx.serviceAccount };
  const cases: Array<() => { what: string; value: string | Buffer }> = [
    () => ({ what: 'no bearer', value: rng.pick(['', 'Bearer', 'Bearer ', 'Basic dXNlcjpwYXNz', 'bearer', 'Token abc']) }),
    () => ({ what: 'garbage bearer', value: `Bearer ${rng.pick(['a.b.c', '...', 'eyJ', rng.bytes(40).toString('base64url'), `${b64('{"alg":"none"}')}.${b64('{}')}.`])}` }),
    () => ({ what: 'forged (same kid, other key)', value: `Bearer ${ctx.forger.sign(claims)}` }),
    () => ({ what: 'unknown signing key', value: `Bearer ${ctx.stranger.sign(claims)}` }),
    () => ({ what: 'expired', value: `Bearer ${ctx.signer.sign(claims, { issuedAt: Math.floor(Date.now() / 1000) - 7200 })}` }),
    () => ({ what: 'not yet valid', value: `Bearer ${ctx.signer.sign(claims, { issuedAt: Math.floor(Date.now() / 1000) + 7200 })}` }),
    () => ({ what: 'lifetime too long', value: `Bearer ${ctx.signer.sign(claims, { expiresInSec: 30 * 24 * 3600 })}` }),
    () => ({ what: 'wrong audience', value: `Bearer ${ctx.signer.sign({ ...claims, aud: 'https://evil.test/webhooks/gmail' })}` }),
    () => ({ what: 'wrong service account', value: `Bearer ${ctx.signer.sign({ ...claims, email: 'attacker@evil.iam.gserviceaccount.com' })}` }),
    () => ({ what: 'email not verified', value: `Bearer ${ctx.signer.sign({ ...claims, email_verified: false })}` }),
    () => ({ what: 'wrong issuer', value: `Bearer ${ctx.signer.sign({ ...claims, iss: 'https://evil.test' })}` }),
    () => {
      const payload = ctx.validAuthorization.slice(7).split('.')[1] ?? '';
      return { what: 'alg none with a valid payload', value: `Bearer ${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${payload}.` };
    },
    () => {
      const [h, p, s] = ctx.validAuthorization.slice(7).split('.');
      const payload = JSON.parse(Buffer.from(p ?? '', 'base64url').toString()) as Record<string, unknown>;
      const tampered = Buffer.from(JSON.stringify({ ...payload, email: 'attacker@evil.test' })).toString('base64url');
      return { what: 'payload tampered, signature kept', value: `Bearer ${h}.${tampered}.${s}` };
    },
    // (Bytes appended to a valid signature are not a defect: base64 decoding skips them, the
    // signature still verifies. Cutting it short is.)
    () => ({ what: 'valid token with its signature cut short', value: ctx.validAuthorization.slice(0, -rng.int(2, 40)) }),
    () => ({ what: 'unicode in the token', value: Buffer.from(`Bearer ${printable(unicodeString(rng, 40))}`, 'utf8') }),
    () => ({ what: 'two tokens', value: `${ctx.validAuthorization} ${ctx.validAuthorization.slice(7)}` }),
  ];
  return rng.pick(cases)();
}

/** A signature ClickUp would not have sent for `body`. */
function badSignature(ctx: FuzzContext, rng: Rng, body: Buffer): { what: string; headers: Headers } {
  const good = hmac(ctx.clickupSecret, body);
  const cases: Array<() => { what: string; headers: Headers }> = [
    () => ({ what: 'no signature', headers: [] }),
    () => ({ what: 'empty signature', headers: [['X-Signature', '']] }),
    () => ({ what: 'signed with another secret', headers: [['X-Signature', hmac('not-the-secret', body)]] }),
    () => ({ what: 'signature one hex short', headers: [['X-Signature', good.slice(0, 63)]] }),
    () => ({ what: 'signature one hex long', headers: [['X-Signature', `${good}0`]] }),
    () => ({ what: 'signature not hex', headers: [['X-Signature', 'g'.repeat(64)]] }),
    () => ({ what: 'signature of another body', headers: [['X-Signature', hmac(ctx.clickupSecret, Buffer.concat([body, Buffer.from('\n')]))]] }),
    () => ({ what: 'signature base64 instead of hex', headers: [['X-Signature', Buffer.from(good, 'hex').toString('base64')]] }),
    () => ({ what: 'two signature headers', headers: [['X-Signature', good], ['X-Signature', hmac('x', body)]] }),
    () => ({ what: 'signature in another header', headers: [['X-Signature-256', good], ['Signature', good]] }),
    () => ({ what: 'signature with unicode', headers: [['X-Signature', Buffer.from(`${good.slice(0, 60)}\u00e9\u00e9`, 'utf8')]] }),
    () => ({ what: 'signature of the first byte flipped', headers: [['X-Signature', `${(parseInt(good[0] ?? '0', 16) ^ 1).toString(16)}${good.slice(1)}`]] }),
  ];
  return rng.pick(cases)();
}

function gmailDraft(category: string, what: string, authorization: string | Buffer | null, body: Buffer, headers: Headers = []): Draft {
  const h: Headers = [['Content-Type', 'application/json'], ...headers];
  if (authorization !== null) h.push(['Authorization', authorization]);
  return { category, what, method: 'POST', target: '/webhooks/gmail', headers: h, body };
}

function clickupDraft(category: string, what: string, signature: Headers, body: Buffer, headers: Headers = []): Draft {
  return { category, what, method: 'POST', target: '/webhooks/clickup', headers: [['Content-Type', 'application/json'], ['User-Agent', 'ClickUp-Webhooks'], ...signature, ...headers], body };
}

/** A request to a route that needs no body and can carry none of its credentials. */
function plainDraft(rng: Rng, category: string, what: string, headers: Headers = [], body = Buffer.alloc(0)): Draft {
  const target = rng.pick(['/health/liveness', '/health/readiness', '/metrics', '/admin/', '/admin/queues', '/nowhere']);
  return { category, what, method: body.length > 0 ? 'POST' : 'GET', target, headers, body };
}

const GENERATORS: Array<[number, (ctx: FuzzContext, rng: Rng) => Draft]> = [
  [
    12,
    (ctx, rng) => {
      const body = rng.bytes(rng.int(0, 4096));
      if (rng.chance(0.15)) return { category: 'random-bytes', what: 'not HTTP at all', method: '', target: '', headers: [], body, raw: body, endAfterWrite: true, allowClosed: true };
      const target = rng.pick(ROUTES);
      const headers: Headers = [['Content-Type', rng.pick(CONTENT_TYPES)]];
      // Valid credentials over random bytes: the body's checks alone must refuse it.
      if (target === '/webhooks/gmail' && rng.chance(0.6)) headers.push(['Authorization', ctx.validAuthorization]);
      if (target === '/webhooks/clickup' && rng.chance(0.6)) headers.push(['X-Signature', hmac(ctx.clickupSecret, body)]);
      return { category: 'random-bytes', what: `random body (${body.length} bytes)`, method: rng.pick(['POST', 'POST', 'PUT', 'GET']), target, headers, body };
    },
  ],
  [
    10,
    (ctx, rng) => {
      const token = badToken(ctx, rng);
      return gmailDraft('gmail-bad-token', `valid envelope, ${token.what}`, token.value === '' ? null : token.value, Buffer.from(JSON.stringify(validEnvelope(ctx, rng))));
    },
  ],
  [
    16,
    (ctx, rng) => {
      const bad = badGmailBody(ctx, rng);
      return gmailDraft('gmail-bad-body', `valid token, ${bad.what}`, ctx.validAuthorization, bad.body, bad.headers);
    },
  ],
  [
    8,
    (ctx, rng) => {
      const body = Buffer.from(JSON.stringify(validClickUp(ctx, rng)));
      const sig = badSignature(ctx, rng, body);
      return clickupDraft('clickup-bad-signature', `valid trigger event, ${sig.what}`, sig.headers, body);
    },
  ],
  [
    14,
    (ctx, rng) => {
      const bad = badClickUpBody(ctx, rng);
      return clickupDraft('clickup-bad-body', `valid signature, ${bad.what}`, [['X-Signature', hmac(ctx.clickupSecret, bad.body)]], bad.body);
    },
  ],
  [
    8,
    (ctx, rng) => {
      const gzipBomb = () => zlib.gzipSync(Buffer.alloc(rng.pick([2, 8]) * 1024 * 1024, 0x20));
      const variants: Array<() => { what: string; encoding: string; body: Buffer; decoded: Buffer | null }> = [
        () => ({ what: 'gzip header, random bytes', encoding: 'gzip', body: rng.bytes(rng.int(1, 2048)), decoded: null }),
        () => ({ what: 'deflate header, random bytes', encoding: 'deflate', body: rng.bytes(rng.int(1, 2048)), decoded: null }),
        () => ({ what: 'br header, random bytes', encoding: 'br', body: rng.bytes(rng.int(1, 2048)), decoded: null }),
        () => {
          const full = zlib.gzipSync(Buffer.from(JSON.stringify(validEnvelope(ctx, rng))));
          return { what: 'truncated gzip', encoding: 'gzip', body: full.subarray(0, rng.int(1, full.length - 1)), decoded: null };
        },
        () => ({ what: 'gzip bytes announced as deflate', encoding: 'deflate', body: zlib.gzipSync(Buffer.from('{"a":1}')), decoded: null }),
        () => ({ what: 'unsupported encoding', encoding: rng.pick(['x-unknown', 'compress', 'gzip, x-foo', 'zstd', printable(unicodeString(rng, 3))]), body: rng.bytes(64), decoded: null }),
        () => ({ what: 'gzip twice announced, once applied', encoding: 'gzip, gzip', body: zlib.gzipSync(Buffer.from('{"x":1}')), decoded: null }),
        () => {
          const decoded = Buffer.from(brokenJson(rng, '{"message":{"data":"e30=","messageId":"1"}}'));
          return { what: 'valid gzip of broken JSON', encoding: 'gzip', body: zlib.gzipSync(decoded), decoded };
        },
        () => {
          const decoded = Buffer.from(brokenJson(rng, '{"event":"taskCreated","task_id":"t","webhook_id":"w"}'));
          return { what: 'valid deflate of broken JSON', encoding: 'deflate', body: zlib.deflateSync(decoded), decoded };
        },
        () => ({ what: 'gzip bomb (inflates past the 1 MB limit)', encoding: 'gzip', body: gzipBomb(), decoded: null }),
      ];
      const v = rng.pick(variants)();
      const target = rng.pick(['/webhooks/gmail', '/webhooks/clickup', '/webhooks/clickup', '/health/liveness', '/metrics', '/admin/']);
      const headers: Headers = [['Content-Type', 'application/json'], ['Content-Encoding', v.encoding]];
      // Valid credentials so the body is actually decoded (the ClickUp signature covers the decoded bytes).
      if (target === '/webhooks/gmail') headers.push(['Authorization', ctx.validAuthorization]);
      if (target === '/webhooks/clickup') headers.push(['X-Signature', hmac(ctx.clickupSecret, v.decoded ?? v.body)]);
      return { category: 'content-encoding', what: v.what, method: 'POST', target, headers, body: v.body };
    },
  ],
  [
    7,
    (ctx, rng) => {
      const target = rng.pick(ROUTES);
      const body = Buffer.from(target === '/webhooks/gmail' ? JSON.stringify(validEnvelope(ctx, rng)).slice(0, 40) : '{"event":');
      const auth: Headers = target === '/webhooks/gmail' ? [['Authorization', ctx.validAuthorization]] : [];
      const variants: Array<() => { what: string; headers: Headers; body?: Buffer }> = [
        // Larger than the 1 MB limit: refused from the header alone, the body is never awaited.
        () => ({ what: 'huge Content-Length', headers: [['Content-Length', rng.pick(['99999999999999999999', '1099511627776', '9007199254740993', '1048577'])]] }),
        () => ({ what: 'negative Content-Length', headers: [['Content-Length', rng.pick(['-1', '-100', '-0', '-99999999999'])]] }),
        () => ({ what: 'non-numeric Content-Length', headers: [['Content-Length', rng.pick(['abc', '1,2', '0x10', '1e3', '+5', '5 5', '\u00bd'])]] }),
        () => ({ what: 'two different Content-Lengths', headers: [['Content-Length', String(body.length)], ['Content-Length', String(body.length + 5)]] }),
        () => ({ what: 'Content-Length and chunked', headers: [['Content-Length', String(body.length)], ['Transfer-Encoding', 'chunked']] }),
        () => ({ what: 'bad chunk size', headers: [['Transfer-Encoding', 'chunked']], body: Buffer.from(`${rng.pick(['zz', '-1', 'ffffffffffffffffff', '1;'.repeat(3)])}\r\n${body.toString()}\r\n0\r\n\r\n`) }),
        () => ({ what: 'unsupported Transfer-Encoding', headers: [['Transfer-Encoding', rng.pick(['gzip, chunked', 'chunked, chunked', 'identity', 'foo', 'chunked , gzip'])]], body: Buffer.from(`${body.length.toString(16)}\r\n${body.toString()}\r\n0\r\n\r\n`) }),
      ];
      const v = rng.pick(variants)();
      return { category: 'content-length', what: v.what, method: 'POST', target, headers: [...auth, ['Content-Type', 'application/json'], ...v.headers], body: v.body ?? body, noLength: true, exactHeaders: true };
    },
  ],
  [
    6,
    (ctx, rng) => {
      const method = rng.pick(['GET', 'HEAD', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'PROPFIND', 'MKCOL', 'FOO', 'get', 'P0ST', 'G ET', 'SEARCH', 'QUERY']);
      const target = rng.pick(ROUTES);
      const body = method === 'GET' || method === 'HEAD' ? Buffer.alloc(0) : Buffer.from(JSON.stringify(validEnvelope(ctx, rng)));
      const headers: Headers = target === '/webhooks/gmail' ? [['Authorization', ctx.validAuthorization]] : target === '/webhooks/clickup' ? [['X-Signature', hmac(ctx.clickupSecret, body)]] : [];
      return { category: 'method', what: `${method} on a route`, method, target, headers, body };
    },
  ],
  [
    7,
    (_ctx, rng) => {
      const target = rng.pick([
        '/webhooks/../admin/',
        '/webhooks/gmail/../../admin/queues',
        '/admin/%2e%2e/%2e%2e/etc/passwd',
        '/admin/queues/static/../../../../../etc/passwd',
        '/admin/queues/static/..%2f..%2f..%2f..%2fpackage.json',
        '/..%2f..%2f..%2fetc%2fpasswd',
        '/%2e%2e%2f%2e%2e%2f.env',
        '/health/liveness/../../admin/',
        '/health/readiness/..%2f..%2fadmin',
        '//admin/',
        '/admin%00/',
        '/admin\\..\\..\\windows\\win.ini',
        '/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd',
        '/metrics/../admin/',
        '/ADMIN/',
        '/Admin/Queues/api/queues',
        '/admin;/',
        '/admin/queues/api/queues?activeQueue=../../x',
        '/admin/negotiations/..%2f..%2f..%2fetc%2fpasswd',
        '/admin/dead-letters/%00/replay',
        '/webhooks/gmail%00',
        '/webhooks/clickup/..;/..;/admin',
        '/%',
        '/%zz',
        '/.git/config',
        '/prisma/schema.prisma',
        '/node_modules/.package-lock.json',
        '*',
        'http://evil.test/admin/',
        `/${'a/'.repeat(rng.int(100, 3000))}`,
        `/${printable(unicodeString(rng, 12))}`,
      ]);
      return { category: 'path', what: `target ${JSON.stringify(target.slice(0, 60))}`, method: rng.pick(['GET', 'POST']), target, headers: [], body: Buffer.alloc(0) };
    },
  ],
  [
    6,
    (ctx, rng) => {
      const variants: Array<() => { what: string; headers: Headers; raw?: (d: Draft) => Buffer }> = [
        () => ({ what: 'a header of 40 KB', headers: [['X-Fill', 'x'.repeat(40_000)]] }),
        () => ({ what: '3000 headers', headers: Array.from({ length: 3000 }, (_, i): [string, string] => [`X-H${i}`, 'v']) }),
        () => ({ what: 'NUL in a header value', headers: [['X-Bad', 'a\u0000b']] }),
        () => ({ what: 'bare CR in a header value', headers: [['X-Bad', 'a\rb']] }),
        () => ({ what: 'space in a header name', headers: [['Bad Header', 'v']] }),
        () => ({ what: 'obsolete line folding', headers: [['X-Folded', 'a\r\n folded']] }),
        () => ({ what: 'UTF-8 in header values', headers: [['X-Request-Id', Buffer.from(printable(unicodeString(rng, 30)), 'utf8')], ['User-Agent', Buffer.from('\u{1F4A9}', 'utf8')]] }),
        () => ({ what: 'hostile X-Request-Id', headers: [['X-Request-Id', rng.pick(['x'.repeat(5000), '../../etc/passwd', '<script>', '%0d%0aSet-Cookie: a=b', '\u00ff\u00fe'])]] }),
        () => ({ what: 'huge Authorization', headers: [['Authorization', `Bearer ${'A'.repeat(rng.int(9000, 15000))}`]] }),
        () => ({ what: 'Expect: 100-continue and odd Connection', headers: [['Expect', rng.pick(['100-continue', 'x-unknown'])], ['Connection', 'Upgrade, HTTP2-Settings'], ['Upgrade', 'h2c']] }),
        () => ({ what: 'no Host header', headers: [], raw: (d) => Buffer.from(`${d.method} ${d.target} HTTP/1.1\r\nConnection: close\r\n\r\n`) }),
        () => ({ what: 'HTTP/0.9 and HTTP/2 request lines', headers: [], raw: (d) => Buffer.from(rng.pick([`GET ${d.target}\r\n\r\n`, `PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`, `GET ${d.target} HTTP/9.9\r\nHost: x\r\n\r\n`, `GET ${d.target} HTTP/1.1 extra\r\nHost: x\r\n\r\n`])) }),
      ];
      const v = rng.pick(variants)();
      // Only routes where these headers cannot be mistaken for credentials.
      const draft = rng.chance(0.25)
        ? gmailDraft('headers', v.what, null, Buffer.from(JSON.stringify(validEnvelope(ctx, rng))), v.headers)
        : rng.chance(0.33)
          ? clickupDraft('headers', v.what, [], Buffer.from(JSON.stringify(validClickUp(ctx, rng))), v.headers)
          : plainDraft(rng, 'headers', v.what, v.headers);
      const raw = v.raw?.(draft);
      return { ...draft, exactHeaders: true, ...(raw ? { raw, endAfterWrite: true, allowClosed: true } : {}) };
    },
  ],
  [
    5,
    (_ctx, rng) => {
      const target = rng.pick(['/metrics', '/admin/', '/admin/queues', '/admin/queues/api/queues', '/admin/dead-letters', '/admin/negotiations/x']);
      const credentials = rng.pick<[string, Headers]>([
        ['none', []],
        ['wrong bearer', [['Authorization', `Bearer ${rng.bytes(16).toString('hex')}`]]],
        ['wrong basic', [['Authorization', `Basic ${b64(`admin:${rng.bytes(12).toString('hex')}`)}`]]],
        ['malformed basic', [['Authorization', rng.pick(['Basic !!!', 'Basic', 'Basic Og==', `Basic ${b64('nocolon')}`])]]],
        ['cookie only', [['Cookie', `session=${rng.bytes(20).toString('hex')}; admin=1`]]],
        ['token in the query', []],
      ]);
      const query = credentials[0] === 'token in the query' ? `?token=${rng.bytes(12).toString('hex')}` : '';
      const post = rng.chance(0.3);
      return {
        category: 'admin-metrics-auth',
        what: `${credentials[0]} on ${target}`,
        method: post ? 'POST' : 'GET',
        target: post ? `/admin/dead-letters/${rng.int(1, 999)}/replay${query}` : `${target}${query}`,
        headers: [...credentials[1], ...(post ? ([['Content-Type', 'application/x-www-form-urlencoded']] as Headers) : [])],
        body: post ? Buffer.from('csrf=x') : Buffer.alloc(0),
      };
    },
  ],
  [
    1,
    (ctx, rng) => {
      const whole = buildRequest('POST', '/webhooks/gmail', [['Authorization', ctx.validAuthorization], ['Content-Type', 'application/json']], Buffer.from(JSON.stringify(validEnvelope(ctx, rng))));
      const cut = whole.subarray(0, rng.int(1, whole.length - 1));
      return { category: 'truncated', what: `request cut after ${cut.length} of ${whole.length} bytes`, method: 'POST', target: '/webhooks/gmail', headers: [], body: cut, raw: cut, endAfterWrite: true, allowClosed: true };
    },
  ],
];

const TOTAL_WEIGHT = GENERATORS.reduce((sum, [w]) => sum + w, 0);

export function caseRng(seed: number, index: number): Rng {
  return createRng((seed + Math.imul(index + 1, 0x9e3779b1)) >>> 0);
}

/** The fuzz case number `index` of the run with `seed`. */
export function fuzzCase(ctx: FuzzContext, seed: number, index: number): FuzzCase {
  const rng = caseRng(seed, index);
  let roll = rng.int(1, TOTAL_WEIGHT);
  let generate = GENERATORS[0]?.[1];
  for (const [weight, g] of GENERATORS) {
    if (roll <= weight) {
      generate = g;
      break;
    }
    roll -= weight;
  }
  if (!generate) throw new Error('no generator');
  const d = generate(ctx, rng);
  const headers = [...d.headers];
  if (!d.exactHeaders) {
    // Salts that never repair a defect: a request id, an odd content type, a client name.
    if (rng.chance(0.2)) headers.push(['X-Request-Id', rng.pick(['abc-123', 'x'.repeat(200), printable(unicodeString(rng, 6))])]);
    if (rng.chance(0.25)) {
      const i = headers.findIndex(([n]) => n.toLowerCase() === 'content-type');
      const value = rng.pick(CONTENT_TYPES);
      if (i >= 0) headers[i] = ['Content-Type', value];
      else headers.push(['Content-Type', value]);
    }
  }
  const request = d.raw ?? buildRequest(d.method, d.target, headers, d.body, { noLength: d.noLength });
  return {
    index,
    category: d.category,
    what: d.what,
    method: d.method,
    target: d.target,
    request,
    chunks: rng.chance(0.1) ? rng.int(2, 6) : 1,
    endAfterWrite: d.endAfterWrite ?? false,
    allowClosed: d.allowClosed ?? false,
  };
}

/** The path Express routes on: the target without its query, the path of an absolute-form target. */
export function routedPath(target: string): string {
  if (/^https?:\/\//i.test(target)) {
    try {
      return new URL(target).pathname;
    } catch {
      return target;
    }
  }
  return target.split('?')[0] ?? target;
}

/** /health/liveness and /health/readiness, as Express matches them (any case, optional trailing slash). */
export function isHealthPath(target: string): boolean {
  return /^\/health\/(liveness|readiness)\/?$/i.test(routedPath(target));
}
