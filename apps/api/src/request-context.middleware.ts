import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Logger } from '@parley/logging';
import type { Metrics } from '@parley/metrics';
import { outcomeForStatus, type WebhookOutcome } from './http-error';

/** What the API keeps per request in `res.locals`. */
export interface RequestContext {
  requestId: string;
  log: Logger;
  /** Set by webhook routes so the webhook counter sees every answer, 413s and 401s included. */
  webhookSource?: 'gmail' | 'clickup';
  webhookOutcome?: WebhookOutcome;
}

export function ctx(res: Response): RequestContext {
  return res.locals as RequestContext;
}

// An upstream proxy's id is kept only when it cannot smuggle anything into logs or headers.
const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Tags every response with X-Request-Id, gives the request a child logger carrying it, and
 * records the HTTP RED metrics and the webhook counter once the answer is sent.
 */
export function requestContext(deps: { log: Logger; metrics: Metrics }): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    const incoming = req.get('x-request-id');
    const requestId = incoming !== undefined && SANE_REQUEST_ID.test(incoming) ? incoming : randomUUID();
    res.setHeader('X-Request-Id', requestId);
    const context: RequestContext = { requestId, log: deps.log.child({ requestId }) };
    Object.assign(res.locals, context);
    const started = process.hrtime.bigint();

    res.once('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const labels = { method: req.method, route: routeLabel(req), status: String(res.statusCode) };
      deps.metrics.httpRequests.inc(labels);
      deps.metrics.httpDuration.observe(labels, seconds);
      const { webhookSource, webhookOutcome } = ctx(res);
      if (webhookSource) deps.metrics.webhooks.inc({ source: webhookSource, outcome: webhookOutcome ?? outcomeForStatus(res.statusCode) });
      ctx(res).log.http('request', { ...labels, ms: Math.round(seconds * 1000) });
    });
    next();
  };
}

/** The matched route pattern (never the raw path, which would explode label cardinality). */
function routeLabel(req: Request): string {
  const route: unknown = req.route;
  if (route && typeof route === 'object' && 'path' in route && typeof route.path === 'string') return `${req.baseUrl}${route.path}`;
  return 'unmatched';
}

/** Marks a webhook route so its every answer is counted under `source`. */
export function webhookSource(source: 'gmail' | 'clickup'): RequestHandler {
  return (_req, res, next) => {
    ctx(res).webhookSource = source;
    next();
  };
}
