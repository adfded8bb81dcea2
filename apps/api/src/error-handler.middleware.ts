import type { ErrorRequestHandler, Request, RequestHandler } from 'express';
import { reportRequestError } from './error-reporter';
import { ctx } from './request-context.middleware';
import { HttpError } from './http-error';

export const notFound: RequestHandler = (_req, res) => {
  res.status(404).json({ error: 'not found', requestId: ctx(res).requestId });
};

/** The matched route pattern, never the raw path (which may carry ids or addresses). */
function routeOf(req: Request): string {
  const route: unknown = req.route;
  if (route && typeof route === 'object' && 'path' in route && typeof route.path === 'string') return `${req.baseUrl}${route.path}`;
  return 'unmatched';
}

/** body-parser's own errors carry a status and a `type` such as 'entity.too.large'. */
function parserStatus(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { status, type } = error as { status?: unknown; type?: unknown };
  if (typeof status === 'number' && status >= 400 && status < 500 && typeof type === 'string') return status;
  return undefined;
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
    const parsed = parserStatus(error);
    if (parsed !== undefined) {
      status = parsed;
      message = parsed === 413 ? 'payload too large' : 'bad request';
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
