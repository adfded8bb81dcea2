import express, { type Request, type RequestHandler } from 'express';
import type { z } from 'zod';
import { badRequest, HttpError } from './http-error';

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
  // Slack's /slack/events is parsed by Bolt's receiver, which applies its own limit
  // (SLACK_BODY_LIMIT_BYTES in slack/slack-app.ts); a route parsed here adds its entry above.
} as const;

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
