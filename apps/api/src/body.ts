import express, { type Request } from 'express';
import type { z } from 'zod';
import { badRequest } from './http-error';

/** Webhook bodies are small; anything over this is refused with 413 before it is buffered. */
export const BODY_LIMIT = '1mb';

/**
 * Buffers the raw body whatever its Content-Type (signatures are computed over the exact
 * bytes, and a sender that omits the header must still get a 400 rather than an empty body).
 */
export const rawBody = express.raw({ type: () => true, limit: BODY_LIMIT });

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
