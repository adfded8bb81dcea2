import express, { type Request, type RequestHandler } from 'express';
import type { z } from 'zod';
import type { Logger } from '@parley/logging';
import { badRequest, HttpError } from './http-error';
import { refusalLog } from './refusal-log';
import { ctx } from './request-context.middleware';

/**
 * The largest body each route buffers, in bytes, sized from what its sender sends
 * (WIRE-CONTRACTS; docs/api.md "Limits"). A body over its limit is refused with 413: from its
 * Content-Length before a byte of it is read, or as soon as a chunked body passes the limit.
 */
export const BODY_LIMITS = {
  /** A Pub/Sub push of a Gmail notification: a ~0.5 KB envelope around ~100 bytes of data. */
  gmailPush: 32 * 1024,
  /**
   * A ClickUp task webhook: a few KB usually, but `history_items[].before/after` can carry a
   * task's whole content (a JSON string) on `taskUpdated`.
   */
  clickup: 256 * 1024,
  /**
   * Slack's /slack/events, read and parsed by Bolt's receiver with this limit
   * (slack/slack-app.ts), before it checks the signature.
   */
  slackEvents: 1024 * 1024,
  // A route parsed here adds its entry above.
} as const;

/** The largest body any route reads: what a body of unknown length may grow to. */
export const LARGEST_BODY_LIMIT = Math.max(...Object.values(BODY_LIMITS));

/**
 * Bounds the bytes of request bodies the API holds at once, whatever the route. Each route
 * bounds its own body, but HTTP_MAX_CONNECTIONS bodies at once could still add up to hundreds of
 * MB (512 Slack bodies of 1 MB) and take the process down. A request that announces a body
 * reserves its declared length (the largest limit when chunked; never more than that) before
 * a byte of it is read, and gives it back when its answer is sent or its connection closes. A
 * request that would pass the budget is answered 503 with Retry-After at once, unread: Pub/Sub
 * and ClickUp deliver it again, Slack resends an event (a refused click or command shows its
 * user an error), and nothing is accepted that is then lost.
 * Requests without a body (health, metrics, the dashboard's pages) are never refused by it.
 */
export function bodyBudget(totalBytes: number, log: Logger): RequestHandler {
  let inUse = 0;
  const refused = refusalLog(log, 'request bodies refused: over HTTP_BODY_BUDGET_BYTES');
  return (req, res, next) => {
    const length = req.headers['content-length'];
    const chunked = req.headers['transfer-encoding'] !== undefined;
    const declared = length !== undefined && /^\s*\d+\s*$/.test(length) ? Number(length) : 0;
    // A declared length over every route's limit is refused by its route (413) without a read.
    const want = chunked ? LARGEST_BODY_LIMIT : Math.min(declared, LARGEST_BODY_LIMIT);
    if (want === 0) {
      next();
      return;
    }
    if (inUse + want > totalBytes) {
      refused({ budgetBytes: totalBytes, inUseBytes: inUse });
      res.setHeader('Retry-After', '1');
      res.status(503).json({ error: 'too many request bodies in flight; retry shortly', requestId: ctx(res).requestId });
      return;
    }
    inUse += want;
    let held = true;
    const release = () => {
      if (!held) return;
      held = false;
      inUse -= want;
    };
    res.once('finish', release);
    res.once('close', release);
    next();
  };
}

/** 413 from the declared Content-Length alone, so an oversized body is never read. */
export function declaredLengthWithin(limit: number): RequestHandler {
  return (req, _res, next) => {
    const declared = req.get('content-length');
    if (declared !== undefined && /^\d+$/.test(declared) && Number(declared) > limit) {
      next(new HttpError(413, 'payload too large', 'too_large'));
      return;
    }
    next();
  };
}

/**
 * Buffers the raw body whatever its Content-Type (signatures are computed over the exact
 * bytes, and a sender that omits the header must still get a 400 rather than an empty body),
 * up to `limit` bytes after decompression.
 */
export function rawBody(limit: number): RequestHandler[] {
  return [declaredLengthWithin(limit), express.raw({ type: () => true, limit })];
}

export function bodyBytes(req: Request): Buffer {
  const body: unknown = req.body;
  return Buffer.isBuffer(body) ? body : Buffer.alloc(0);
}

export function parseJson(bytes: Buffer, what: string): unknown {
  try {
    return JSON.parse(bytes.toString('utf8')) as unknown;
  } catch {
    throw badRequest(`${what} is not valid JSON`);
  }
}

/** Parses with a schema; the answer names the fields at fault, never their values. */
export function parseWith<T extends z.ZodType>(schema: T, value: unknown, what: string): z.output<T> {
  const result = schema.safeParse(value);
  if (!result.success) {
    const fields = [...new Set(result.error.issues.map((i) => i.path.join('.') || '(root)'))].slice(0, 5);
    throw badRequest(`${what} does not match the expected shape (${fields.join(', ')})`);
  }
  return result.data;
}
