import fs from 'node:fs';
import net from 'node:net';
import { deflateSync } from 'node:zlib';
import { buildRequest, rawHttp } from '../support/chaos-http';
import { spawnTs, type Spawned } from '../support/processes';
import { dropPrefix, freePort, redisUrl, uniquePrefix } from '../support/redis';
import { copyTemplateDatabase } from '../support/db';
import { waitFor } from '../support/wait';

const ENTRY = 'apps/api/src/main.ts';
const SECRET = 'ingress-limits-clickup-secret';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const SIGNATURE_SHAPE = 'a'.repeat(64);
const HEADERS_TIMEOUT_MS = 1500;
const MAX_CONNECTIONS = 6;
/** The smallest budget the config takes: four ClickUp bodies at their limit fill it. */
const BODY_BUDGET = 1024 * 1024;
const CLICKUP_LIMIT = 256 * 1024;

interface RawAnswer {
  /** The first bytes the server sent, or '' when it closed without answering. */
  text: string;
  /** Milliseconds from connecting until the server closed or answered. */
  ms: number;
  /** Milliseconds from connecting until the server closed the connection. */
  closedMs: number;
  status: number | undefined;
  header: (name: string) => string | undefined;
  json: () => unknown;
}

function parse(text: string, ms: number, closedMs: number): RawAnswer {
  const [head = '', body = ''] = text.split('\r\n\r\n');
  const lines = head.split('\r\n');
  const status = /^HTTP\/1\.1 (\d{3})/.exec(lines[0] ?? '')?.[1];
  return {
    text,
    ms,
    closedMs,
    status: status ? Number(status) : undefined,
    header: (name) => lines.find((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`))?.split(':').slice(1).join(':').trim(),
    json: () => JSON.parse(body) as unknown,
  };
}

/**
 * Sends each raw request on one keep-alive connection, the next only after the previous answer
 * arrived whole, and resolves with their statuses; rejects when the server closes before the last.
 */
function keepAliveSequence(port: number, requests: string[], timeoutMs = 10_000): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const statuses: number[] = [];
    let buffer = '';
    const giveUp = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer within ${timeoutMs} ms after ${JSON.stringify(statuses)}`));
    }, timeoutMs);
    const send = () => socket.write(requests[statuses.length] ?? '');
    socket.on('connect', send);
    socket.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('latin1');
      const end = buffer.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = buffer.slice(0, end);
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? NaN);
      if (buffer.length < end + 4 + length) return;
      statuses.push(Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]));
      buffer = buffer.slice(end + 4 + length);
      if (statuses.length === requests.length) {
        clearTimeout(giveUp);
        socket.destroy();
        resolve(statuses);
        return;
      }
      send();
    });
    socket.on('close', () => {
      clearTimeout(giveUp);
      if (statuses.length < requests.length) reject(new Error(`the server closed the connection after ${JSON.stringify(statuses)}`));
    });
    socket.on('error', () => undefined);
  });
}

/**
 * A raw client: writes `head`, then (optionally) dribbles `drip` every `everyMs`, and resolves
 * with what the server answered once the answer is complete or the server closes.
 */
function rawRequest(port: number, head: string, options: { drip?: string; everyMs?: number; timeoutMs?: number; body?: string } = {}): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = net.connect(port, '127.0.0.1');
    let text = '';
    let timer: NodeJS.Timeout | undefined;
    let answeredMs: number | undefined;
    const giveUp = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no close within ${options.timeoutMs ?? 20_000} ms; got ${JSON.stringify(text)}`));
    }, options.timeoutMs ?? 20_000);
    // Resolves once the server closes; the answer's own time is when its last byte arrived.
    const finish = () => {
      clearTimeout(giveUp);
      clearInterval(timer);
      const closedMs = Date.now() - started;
      resolve(parse(text, answeredMs ?? closedMs, closedMs));
    };
    socket.setNoDelay(true);
    socket.on('connect', () => {
      socket.write(head);
      // A body right behind the headers, in its own segment (as a streaming client sends it).
      if (options.body !== undefined) setImmediate(() => socket.write(options.body ?? ''));
      if (options.drip) timer = setInterval(() => socket.writable && socket.write(options.drip ?? ''), options.everyMs ?? 200);
    });
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      const [headPart, body] = text.split('\r\n\r\n');
      const length = /content-length:\s*(\d+)/i.exec(headPart ?? '')?.[1];
      if (answeredMs === undefined && body !== undefined && length !== undefined && Buffer.byteLength(body, 'latin1') >= Number(length)) {
        answeredMs = Date.now() - started;
        // Stop sending: what is measured next is how long the server keeps the socket.
        clearInterval(timer);
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', finish);
  });
}

const post = (route: string, headers: Record<string, string | number>) =>
  `POST ${route} HTTP/1.1\r\nHost: 127.0.0.1\r\n${Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('')}\r\n`;

/** A refusal: the status, a JSON body `{error, requestId}` whose id is the X-Request-Id header. */
function expectRefusal(answer: RawAnswer, status: number): void {
  expect({ status: answer.status, text: answer.text.slice(0, 200) }).toMatchObject({ status });
  expect(answer.header('content-type')).toMatch(/^application\/json/);
  const requestId = answer.header('x-request-id');
  expect(requestId).toMatch(UUID);
  expect(answer.json()).toEqual({ error: expect.any(String), requestId });
}

describe('ingress limits of apps/api/src/main.ts (a real process)', () => {
  let proc: Spawned;
  let port: number;
  let dir: string;
  let databaseUrl: string;
  let prefix: string;

  beforeAll(async () => {
    ({ dir, url: databaseUrl } = copyTemplateDatabase('api-limits'));
    prefix = uniquePrefix('api-limits');
    port = await freePort();
    proc = spawnTs(ENTRY, {
      REDIS_URL: redisUrl(),
      DATABASE_URL: databaseUrl,
      PORT: String(port),
      QUEUE_PREFIX: prefix,
      PUBSUB_AUDIENCE: 'https://parley.example.com/webhooks/gmail',
      PUBSUB_SERVICE_ACCOUNT: 'push@p.iam.gserviceaccount.com',
      CLICKUP_WEBHOOK_SECRET: SECRET,
      HTTP_HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS),
      HTTP_REQUEST_TIMEOUT_MS: '3000',
      HTTP_MAX_CONNECTIONS: String(MAX_CONNECTIONS),
      HTTP_BODY_BUDGET_BYTES: String(BODY_BUDGET),
    });
    await proc.waitForLine(/api listening/, 60_000);
  }, 90_000);
  afterAll(async () => {
    if (proc.child.exitCode === null) proc.child.kill('SIGKILL');
    await proc.exited;
    await dropPrefix(redisUrl(), prefix);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a ClickUp delivery without a well-formed X-Signature before its body arrives', async () => {
    // Headers announcing a body that never comes: the answer must not wait for it.
    for (const signature of [undefined, 'not-hex', 'ab'.repeat(16)]) {
      const headers: Record<string, string | number> = { 'content-type': 'application/json', 'content-length': 200_000 };
      if (signature) headers['x-signature'] = signature;
      const answer = await rawRequest(port, post('/webhooks/clickup', headers), { timeoutMs: 10_000 });
      expectRefusal(answer, 401);
      expect(answer.ms).toBeLessThan(2500);
      // The connection is not kept for a body nobody will read: closed after a short linger.
      expect(answer.closedMs).toBeGreaterThan(answer.ms);
      expect(answer.closedMs).toBeLessThan(answer.ms + 2000 + 3000);
    }
  });

  it('answers a body sent to no route with a 404 and keeps the connection while the body is discarded', async () => {
    // Closing at once with body bytes still coming resets the connection and can eat the 404
    // (the request fuzzer saw a PUT to an unknown path lose its answer that way).
    const answer = await rawRequest(port, post('/nowhere', { 'content-type': 'application/octet-stream', 'content-length': 200_000, connection: 'close' }), { timeoutMs: 10_000 });
    expectRefusal(answer, 404);
    expect(answer.closedMs).toBeGreaterThan(answer.ms + 1000);
    expect(answer.closedMs).toBeLessThan(answer.ms + 2000 + 3000);
  });

  it('keeps the connection while an unread body is discarded whoever answers (here liveness, which reads none)', async () => {
    // Any route may answer before a body is read (an admin page, a health check): the request
    // fuzzer saw a request to /admin/ with Connection: close lose its answer to the reset.
    const request = `GET /health/liveness HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\nContent-Length: 200000\r\nConnection: close\r\n\r\n`;
    const answer = await rawRequest(port, request, { timeoutMs: 10_000 });
    expect(answer.status).toBe(200);
    expect(answer.closedMs).toBeGreaterThan(answer.ms + 1000);
    expect(answer.closedMs).toBeLessThan(answer.ms + 2000 + 3000);
  });

  it('keeps a keep-alive connection open after answering a request without a body at once', async () => {
    // A GET answered in its handler's synchronous part (liveness, a 404) is not yet marked
    // complete by Node; taken for a refusal, its connection was closed under the sender's next
    // request ("other side closed" on a reused socket).
    const get = (route: string) => `GET ${route} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`;
    const statuses = await keepAliveSequence(port, [get('/health/liveness'), get('/no/such/route'), get('/health/liveness')]);
    expect(statuses).toEqual([200, 404, 200]);
  });

  it('keeps a keep-alive connection open after refusing a body it did not read, once the body is discarded', async () => {
    // The sender was told keep-alive, so it may reuse the connection as soon as it has the
    // answer; closing it after the body was discarded raced that next request.
    const body = 'x'.repeat(64 * 1024);
    const refused = `POST /webhooks/clickup HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
    const statuses = await keepAliveSequence(port, [refused, `GET /health/liveness HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`, refused, `GET /nope HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`]);
    expect(statuses).toEqual([401, 200, 401, 404]);
  });

  it('still lets a sender that sends its whole (small) body read the refusal', async () => {
    // Closing at once with unread bytes in the socket resets the connection and can eat the answer.
    const body = JSON.stringify({ event: 'taskCreated', task_id: 't', webhook_id: 'w', history_items: [{ id: 'h'.repeat(200) }] });
    const request = buildRequest('POST', '/webhooks/clickup', [['Content-Type', 'application/json']], Buffer.from(body));
    const outcomes: string[] = [];
    for (let i = 0; i < 30; i += 1) {
      const answer = await rawHttp(port, request, { chunks: 1 + (i % 6), timeoutMs: 10_000 });
      outcomes.push(answer.status === null ? answer.outcome : String(answer.status));
    }
    expect(outcomes).toEqual(Array(30).fill('401'));
  });

  it('refuses a body over the route limit from its Content-Length, before reading it', async () => {
    const clickup = await rawRequest(port, post('/webhooks/clickup', { 'content-type': 'application/json', 'content-length': 300 * 1024, 'x-signature': SIGNATURE_SHAPE }), { timeoutMs: 10_000 });
    expectRefusal(clickup, 413);
    expect(clickup.ms).toBeLessThan(2500);
    // A Pub/Sub push is refused for its missing token before its size matters.
    const gmail = await rawRequest(port, post('/webhooks/gmail', { 'content-type': 'application/json', 'content-length': 300 * 1024 }), { timeoutMs: 10_000 });
    expectRefusal(gmail, 401);
    expect(gmail.ms).toBeLessThan(2500);
  });

  it('refuses bodies past HTTP_BODY_BUDGET_BYTES with a 503 before reading them, and takes them again once one is answered', async () => {
    // Nothing else in this file holds a body at this point: every earlier request was answered.
    const held = Array.from({ length: 4 }, () => heldDelivery(port));
    try {
      // The four reserve the whole budget as their headers are read; until then a probe may
      // still get in (and is refused for its signature, after its body was read).
      const refused = await waitForStatus(port, 503);
      expectRefusal(refused, 503);
      expect(refused.header('retry-after')).toBe('1');
      expect(refused.json()).toMatchObject({ error: 'too many request bodies in flight; retry shortly' });
      // Requests without a body are not held back by it.
      expect((await rawRequest(port, 'GET /health/liveness HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n', { timeoutMs: 5000 })).status).toBe(200);
      // One held body arrives whole and is answered (a wrong signature): its share is free again.
      held[0]!.release();
      expect((await held[0]!.answer).status).toBe(401);
      const admitted = await waitForStatus(port, 401);
      expectRefusal(admitted, 401);
    } finally {
      for (const h of held.slice(1)) h.release();
    }
    // The other three were held, not refused: each is read and answered on its own merits.
    for (const h of held.slice(1)) expect((await h.answer).status).toBe(401);
    expect(proc.output()).toMatch(/request bodies refused: over HTTP_BODY_BUDGET_BYTES/);
  });

  it('answers compressed garbage with 400, not 500', async () => {
    for (const encoding of ['deflate', 'gzip']) {
      const res = await fetch(`http://127.0.0.1:${port}/webhooks/clickup`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-encoding': encoding, 'x-signature': SIGNATURE_SHAPE },
        body: Buffer.from('this is not a compressed stream at all'),
      });
      expect({ encoding, status: res.status }).toEqual({ encoding, status: 400 });
      expect(await res.json()).toEqual({ error: expect.any(String), requestId: res.headers.get('x-request-id') });
    }
    // A real deflate stream with a wrong signature is still judged on its signature.
    const res = await fetch(`http://127.0.0.1:${port}/webhooks/clickup`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-encoding': 'deflate', 'x-signature': SIGNATURE_SHAPE },
      body: deflateSync(Buffer.from('{"event":"taskCreated"}')),
    });
    expect(res.status).toBe(401);
  });

  it('closes a connection that dribbles its headers (slowloris) with a JSON 408 within the header timeout', async () => {
    const answer = await rawRequest(port, 'POST /webhooks/clickup HTTP/1.1\r\nHost: 127.0.0.1\r\n', { drip: 'X-Drip: 1\r\n', everyMs: 200, timeoutMs: 20_000 });
    expectRefusal(answer, 408);
    // The header timeout plus Node's connection check interval (1 s), with slack for a loaded machine.
    expect(answer.ms).toBeGreaterThanOrEqual(HEADERS_TIMEOUT_MS - 100);
    expect(answer.ms).toBeLessThan(HEADERS_TIMEOUT_MS + 4000);
  });

  it('closes a connection that dribbles its body with a JSON 408 within the request timeout', async () => {
    const answer = await rawRequest(port, post('/webhooks/clickup', { 'content-type': 'application/json', 'content-length': 1000, 'x-signature': SIGNATURE_SHAPE }), { drip: '{', everyMs: 200, timeoutMs: 20_000 });
    expectRefusal(answer, 408);
    expect(answer.ms).toBeLessThan(3000 + 4000);
  });

  it('caps concurrent connections and takes new ones again once below the cap', async () => {
    const held: net.Socket[] = [];
    try {
      // Idle sockets are closed after the header timeout; open them all at once and probe quickly.
      for (let i = 0; i < MAX_CONNECTIONS; i += 1) {
        const socket = net.connect(port, '127.0.0.1');
        socket.on('error', () => undefined);
        await new Promise((resolve) => socket.once('connect', resolve));
        held.push(socket);
      }
      const refused = await rawRequest(port, 'GET /health/liveness HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n', { timeoutMs: 5000 });
      expect(refused.text).toBe('');
      expect(refused.ms).toBeLessThan(HEADERS_TIMEOUT_MS);
    } finally {
      for (const socket of held) socket.destroy();
    }
    const fine = await waitForAnswer(port);
    expect(fine.status).toBe(200);
    expect(proc.output()).toMatch(/connection refused: over HTTP_MAX_CONNECTIONS/);
  });
});

/**
 * A ClickUp delivery at its route's body limit whose body has begun but is held back: the
 * server has its headers and its first kilobyte. `release` sends the rest; `answer` resolves
 * with what the server answered once it closes the connection.
 */
function heldDelivery(port: number): { release: () => void; answer: Promise<RawAnswer> } {
  const body = Buffer.alloc(CLICKUP_LIMIT, 'a');
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  socket.on('connect', () => {
    socket.write(post('/webhooks/clickup', { 'content-type': 'application/json', 'content-length': CLICKUP_LIMIT, 'x-signature': SIGNATURE_SHAPE, connection: 'close' }));
    socket.write(body.subarray(0, 1024));
  });
  let text = '';
  socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
  const answer = new Promise<RawAnswer>((resolve) => socket.on('close', () => resolve(parse(text, 0, 0))));
  return { release: () => socket.write(body.subarray(1024)), answer };
}

/** A whole ClickUp delivery at the route's body limit, with a signature of the right shape (a wrong one). */
const fullDelivery = (port: number) =>
  rawRequest(port, post('/webhooks/clickup', { 'content-type': 'application/json', 'content-length': CLICKUP_LIMIT, 'x-signature': SIGNATURE_SHAPE, connection: 'close' }), {
    body: 'a'.repeat(CLICKUP_LIMIT),
    timeoutMs: 5000,
  });

/** Sends a whole delivery again until it is answered with `status`, and returns that answer. */
const waitForStatus = (port: number, status: number) =>
  waitFor(`a delivery answered ${status}`, async () => {
    const answer = await fullDelivery(port);
    return answer.status === status ? answer : undefined;
  });

/** The server notices closed sockets asynchronously; the next request may still be refused once. */
async function waitForAnswer(port: number): Promise<RawAnswer> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const answer = await rawRequest(port, 'GET /health/liveness HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n', { timeoutMs: 5000 });
    if (answer.status !== undefined || Date.now() > deadline) return answer;
  }
}
