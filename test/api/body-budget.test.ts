import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { createMetrics } from '@parley/metrics';
import { bodyBudget, LARGEST_BODY_LIMIT } from '../../apps/api/src/body';
import { requestContext } from '../../apps/api/src/request-context.middleware';
import { capturingLogger } from '../support/logs';
import { waitFor } from '../support/wait';

/**
 * bodyBudget on its own, behind a real HTTP server: what a request reserves (its declared
 * length, the largest route limit when chunked, nothing without a body) and when it gives it
 * back (its answer sent, or its connection gone before any answer). The whole API process with
 * it: test/api/ingress-limits.test.ts.
 */

const BUDGET = 100 * 1024;
let server: http.Server;
let port: number;

beforeAll(async () => {
  const { log } = capturingLogger('body-budget', 'warn');
  const app = express();
  app.use(requestContext({ log, metrics: createMetrics() }));
  app.use(bodyBudget(BUDGET, log));
  app.post('/x', express.raw({ type: () => true, limit: LARGEST_BODY_LIMIT }), (req, res) => {
    res.json({ bytes: Buffer.isBuffer(req.body) ? req.body.length : 0 });
  });
  app.get('/x', (_req, res) => res.json({ ok: true }));
  server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

/** Headers announcing `length` bytes (or chunked) and the first bytes of the body; the rest is held back. */
function held(length: number | 'chunked'): net.Socket {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  socket.on('connect', () => {
    const framing = length === 'chunked' ? 'Transfer-Encoding: chunked\r\n' : `Content-Length: ${length}\r\n`;
    socket.write(`POST /x HTTP/1.1\r\nHost: 127.0.0.1\r\n${framing}\r\n`);
    socket.write(length === 'chunked' ? '10\r\naaaaaaaaaaaaaaaa\r\n' : 'a'.repeat(16));
  });
  return socket;
}

/** A whole POST of `length` bytes: its status. */
async function post(length: number): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${port}/x`, { method: 'POST', body: 'a'.repeat(length), headers: { connection: 'close' } });
  await res.arrayBuffer();
  return res.status;
}

/** Posts until the answer is `status` (the server sees a new or closed socket asynchronously). */
const until = (status: number, length: number) => waitFor(`a POST answered ${status}`, async () => (await post(length)) === status);

it('refuses a body that would pass the budget, gives a share back when its connection is gone, and never holds back a request without a body', async () => {
  const a = held(60 * 1024);
  const b = held(30 * 1024);
  // 90 KB reserved once both are read: 20 KB more does not fit, 10 KB does.
  await until(503, 20 * 1024);
  expect(await post(10 * 1024)).toBe(200);
  expect((await fetch(`http://127.0.0.1:${port}/x`)).status).toBe(200);
  // The 60 KB sender goes away before its body is complete: its share comes back.
  a.destroy();
  await until(200, 60 * 1024);
  b.destroy();
});

it('reserves the largest route limit for a chunked body, whose length nobody knows in advance', async () => {
  expect(LARGEST_BODY_LIMIT).toBeGreaterThan(BUDGET);
  // Over the budget on its own: refused at once, though it would have sent 16 bytes.
  const socket = held('chunked');
  const answer = await new Promise<string>((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error('no answer within 5 s: the chunked body was taken in')), 5000);
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      if (!text.includes('\r\n\r\n')) return;
      clearTimeout(timer);
      resolve(text);
    });
  });
  socket.destroy();
  expect(answer).toMatch(/^HTTP\/1\.1 503 /);
  expect(answer).toMatch(/\r\nRetry-After: 1\r\n/i);
  // The refusal reserved nothing: a body within the budget is taken.
  await until(200, 50 * 1024);
});
