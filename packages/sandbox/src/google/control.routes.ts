import { z } from 'zod';
import { badRequest, notFound, type Reply } from './google-errors';
import type { GoogleSandbox } from './google-sandbox.server';

/**
 * The control API over HTTP (`/_control/...`), for a demo or test that drives the sandbox from
 * another process. Each route is a thin wrapper over the in-process method of the same name.
 */

const cell = z.union([z.string(), z.number(), z.boolean(), z.null()]);
const schemas = {
  sheets: z.object({ spreadsheetId: z.string().min(1), range: z.string().min(1), values: z.array(z.array(cell)) }),
  inbound: z.object({
    threadId: z.string().min(1).optional(),
    from: z.string().min(3),
    subject: z.string(),
    text: z.string(),
    inReplyTo: z.string().nullable().optional(),
    references: z.string().nullable().optional(),
  }),
  inboundRaw: z.object({ raw: z.string().min(1), threadId: z.string().min(1).optional() }),
  expireHistory: z.object({ historyId: z.union([z.string().regex(/^\d+$/), z.number().int()]) }),
  failNext: z.object({
    n: z.number().int().min(1),
    status: z.number().int().min(400).max(599),
    retryAfter: z.number().min(0).optional(),
    api: z.enum(['gmail', 'sheets']).optional(),
    pathContains: z.string().min(1).optional(),
  }),
};

function parse<T>(schema: z.ZodType<T>, body: unknown): { ok: true; data: T } | { ok: false; reply: Reply } {
  const result = schema.safeParse(body);
  if (result.success) return { ok: true, data: result.data };
  return { ok: false, reply: badRequest(result.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ')) };
}

export function handleControl(sandbox: GoogleSandbox, method: string, segments: string[], query: URLSearchParams, body: unknown): Reply {
  const ok = (payload: unknown = { ok: true }): Reply => ({ status: 200, body: payload });
  const [name, arg] = segments;
  switch (`${method} ${name ?? ''}`) {
    case 'POST sheets': {
      const p = parse(schemas.sheets, body);
      if (!p.ok) return p.reply;
      sandbox.setSheet(p.data.spreadsheetId, p.data.range, p.data.values);
      return ok();
    }
    case 'POST inbound': {
      const p = parse(schemas.inbound, body);
      if (!p.ok) return p.reply;
      try {
        return ok(sandbox.deliverInbound(p.data));
      } catch (error) {
        return badRequest(error instanceof Error ? error.message : String(error));
      }
    }
    case 'POST inbound-raw': {
      // `raw` is base64 (the bytes may be in any charset, or none).
      const p = parse(schemas.inboundRaw, body);
      if (!p.ok) return p.reply;
      try {
        return ok(sandbox.deliverRaw(Buffer.from(p.data.raw, 'base64'), { threadId: p.data.threadId }));
      } catch (error) {
        return badRequest(error instanceof Error ? error.message : String(error));
      }
    }
    case 'GET sent':
      return ok(sandbox.sent());
    case 'GET threads':
      return arg ? ok(sandbox.messagesInThread(arg)) : notFound();
    case 'POST expire-history': {
      const p = parse(schemas.expireHistory, body);
      if (!p.ok) return p.reply;
      sandbox.expireHistoryBefore(p.data.historyId);
      return ok();
    }
    case 'POST fail-next': {
      const p = parse(schemas.failNext, body);
      if (!p.ok) return p.reply;
      sandbox.failNext(p.data.n, { status: p.data.status, retryAfter: p.data.retryAfter, api: p.data.api, pathContains: p.data.pathContains });
      return ok();
    }
    case 'POST expire-access-tokens':
      sandbox.expireAccessTokens();
      return ok();
    case 'GET state':
      return ok(sandbox.state());
    case 'GET notifications': {
      const after = Number(query.get('after') ?? 0) || 0;
      return ok(sandbox.notifications().filter((n) => Number(n.historyId) > after));
    }
    case 'GET requests':
      return ok(sandbox.requests());
    default:
      return notFound();
  }
}
