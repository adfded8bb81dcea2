import type { ErrorRequestHandler, Request, RequestHandler, Response } from 'express';
import { reportRequestError } from './error-reporter';
import { ctx } from './request-context.middleware';
import { HttpError } from './http-error';

/**
 * How long a connection refused before its body was read stays open after the answer. Node
 * reads and discards the rest of the body meanwhile; a sender still sending after that has
 * its connection closed. Closing at once (`Connection: close`) would reset the connection
 * while unread bytes sit in the socket, and the sender could lose the answer with it.
 */
export const REFUSED_BODY_LINGER_MS = 2000;

/**
 * Whether the request announced a body that has not all arrived yet. `req.complete` alone is
 * not enough: a request without a body is complete only after its handler's synchronous part
 * (Node emits 'request' before it marks the message complete), so a GET answered at once
 * (liveness, a 404) would look like a refusal and have its keep-alive connection closed under
 * the sender's next request.
 */
function bodyUnread(req: Request): boolean {
  if (req.complete) return false;
  if (req.headers['transfer-encoding'] !== undefined) return true;
  const length = req.headers['content-length'];
  return length !== undefined && length.trim() !== '0';
}

function closeAfterLinger(req: Request, res: Response): void {
  const socket = req.socket;
  // Whether the sender asked to keep the connection (HTTP/1.1 without `Connection: close`).
  const senderKeepsAlive = res.shouldKeepAlive;
  // Node closes the socket right after the answer when the sender asked for `Connection: close`;
  // body bytes that arrive after that get a reset, which can discard the answer on the sender's
  // side. Keep the socket while Node reads and discards the rest of the body, then close it.
  // A sender that keeps its connections alive was told so and may send its next request on
  // it: once the body is discarded the connection stays, like any other.
  res.shouldKeepAlive = true;
  res.once('finish', () => {
    const close = () => {
      if (!senderKeepsAlive) socket.end();
    };
    if (req.complete) {
      close();
      return;
    }
    const timer = setTimeout(() => {
      if (!req.complete) socket.destroy();
    }, REFUSED_BODY_LINGER_MS);
    timer.unref();
    req.once('end', () => {
      clearTimeout(timer);
      close();
    });
    socket.once('close', () => clearTimeout(timer));
  });
}

/**
 * Every answer sent before its request's body was read (an admin page refusing a POST, a
 * method no route takes, a refusal by any route) lingers the same way: mounted first, it takes
 * effect when the headers are written, whoever writes them.
 */
export const lingerOnUnreadBody: RequestHandler = (req, res, next) => {
  const writeHead = res.writeHead;
  // Node writes the headers once per response, through writeHead even when they are implicit.
  res.writeHead = function (this: Response, ...args: Parameters<Response['writeHead']>) {
    if (bodyUnread(req)) closeAfterLinger(req, res);
    return writeHead.apply(this, args);
  } as Response['writeHead'];
  next();
};

/** No route: answered without reading a body (lingerOnUnreadBody keeps the connection meanwhile). */
export const notFound: RequestHandler = (_req, res) => {
  res.status(404).json({ error: 'not found', requestId: ctx(res).requestId });
};

/** The matched route pattern, never the raw path (which may carry ids or addresses). */
function routeOf(req: Request): string {
  const route: unknown = req.route;
  if (route && typeof route === 'object' && 'path' in route && typeof route.path === 'string') return `${req.baseUrl}${route.path}`;
  return 'unmatched';
}

/**
 * body-parser's own errors carry a 4xx status and either a `type` such as 'entity.too.large'
 * or, for a stream error it wrapped (zlib on a broken gzip/deflate body), `expose: true`.
 */
function parserError(error: unknown): { status: number; message: string } | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { status, type, expose, code } = error as { status?: unknown; type?: unknown; expose?: unknown; code?: unknown };
  if (typeof status !== 'number' || status < 400 || status >= 500 || (typeof type !== 'string' && expose !== true)) return undefined;
  if (status === 413) return { status, message: 'payload too large' };
  if (typeof code === 'string' && code.startsWith('Z_')) return { status, message: 'body could not be decompressed' };
  return { status, message: 'bad request' };
}

/**
 * The last middleware: a JSON answer with the request id and nothing else. Messages of
 * unexpected errors (SQL, paths, upstream bodies) go to the log only, never to the caller.
 */
export const errorHandler: ErrorRequestHandler = (error: unknown, req, res, _next) => {
  const context = ctx(res);
  let status = 500;
  let message = 'internal error';
  if (error instanceof HttpError) {
    status = error.status;
    message = error.publicMessage;
    if (error.outcome && context.webhookOutcome === undefined) context.webhookOutcome = error.outcome;
  } else {
    const parsed = parserError(error);
    if (parsed !== undefined) {
      status = parsed.status;
      message = parsed.message;
    }
  }
  if (status >= 500) {
    const err = error instanceof Error ? error : new Error(String(error));
    context.log.error('request failed', { status, error: err.message, errorName: err.name, stack: err.stack });
    // Our own 5xx answers (503 while Redis is down) are outages the log and metrics show, not bugs.
    if (!(error instanceof HttpError)) reportRequestError(err, { requestId: context.requestId, method: req.method, route: routeOf(req) });
  } else if (!(error instanceof HttpError)) {
    context.log.warn('request rejected', { status, error: message });
  }
  if (res.headersSent) {
    res.end();
    return;
  }
  res.status(status).json({ error: message, requestId: context.requestId });
};
