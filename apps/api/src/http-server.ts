import { randomUUID } from 'node:crypto';
import http, { type RequestListener, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Env } from '@parley/config';
import type { Logger } from '@parley/logging';
import { refusalLog } from './refusal-log';

export type HttpLimits = Pick<Env, 'HTTP_HEADERS_TIMEOUT_MS' | 'HTTP_REQUEST_TIMEOUT_MS' | 'HTTP_KEEP_ALIVE_TIMEOUT_MS' | 'HTTP_MAX_CONNECTIONS'>;

/**
 * How often Node looks for requests past their header or request timeout. Node's default
 * (30 s) would let a slowloris socket live up to 30 s past HTTP_HEADERS_TIMEOUT_MS.
 */
export const CONNECTIONS_CHECK_INTERVAL_MS = 1000;

// Node's own answers to a client error are plain text without a request id; ours are the
// same JSON as every other refusal. Codes from Node's http server (socketOnError).
function statusFor(error: NodeJS.ErrnoException): { status: number; reason: string; error: string } | undefined {
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') return { status: 408, reason: 'Request Timeout', error: 'request not received in time' };
  if (error.code === 'HPE_HEADER_OVERFLOW') return { status: 431, reason: 'Request Header Fields Too Large', error: 'request headers too large' };
  if (error.code === 'HPE_CHUNK_EXTENSIONS_OVERFLOW') return { status: 413, reason: 'Payload Too Large', error: 'payload too large' };
  if (error.code?.startsWith('HPE_')) return { status: 400, reason: 'Bad Request', error: 'malformed request' };
  return undefined;
}

function rawJsonResponse(status: number, reason: string, error: string, requestId: string): string {
  const body = JSON.stringify({ error, requestId });
  return (
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
    `X-Request-Id: ${requestId}\r\nConnection: close\r\n\r\n${body}`
  );
}

/**
 * The API's HTTP server with the ingress limits: header and request timeouts (answered with
 * a JSON 408 carrying X-Request-Id), the keep-alive timeout, and a connection cap (sockets
 * over it are closed by Node as they are accepted, before any byte is parsed, so they get no
 * answer: answering would mean accepting the very work the cap refuses).
 */
export function createHttpServer(handler: RequestListener, limits: HttpLimits, log: Logger): Server {
  const server = http.createServer(
    {
      headersTimeout: limits.HTTP_HEADERS_TIMEOUT_MS,
      requestTimeout: limits.HTTP_REQUEST_TIMEOUT_MS,
      keepAliveTimeout: limits.HTTP_KEEP_ALIVE_TIMEOUT_MS,
      connectionsCheckingInterval: CONNECTIONS_CHECK_INTERVAL_MS,
    },
    handler,
  );
  server.maxConnections = limits.HTTP_MAX_CONNECTIONS;

  // The response a socket is working on, so a timeout answer reuses its request id and never
  // writes over a response already under way.
  const current = new WeakMap<Socket, ServerResponse>();
  server.on('request', (req, res: ServerResponse) => current.set(req.socket, res));

  server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
    const answer = statusFor(error);
    const res = current.get(socket);
    if (!answer || !socket.writable || res?.headersSent) {
      socket.destroy();
      return;
    }
    const header = res?.getHeader('x-request-id');
    const requestId = typeof header === 'string' ? header : randomUUID();
    log.warn('request refused by the http server', { status: answer.status, code: error.code, requestId });
    socket.end(rawJsonResponse(answer.status, answer.reason, answer.error, requestId));
    // A client that keeps sending must not keep the socket half-open.
    setTimeout(() => socket.destroy(), 1000).unref();
  });

  const dropped = refusalLog(log, 'connection refused: over HTTP_MAX_CONNECTIONS');
  server.on('drop', () => dropped({ maxConnections: limits.HTTP_MAX_CONNECTIONS }));
  return server;
}
