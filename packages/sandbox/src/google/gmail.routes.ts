import { z } from 'zod';
import { badRequest, googleError, notFound, type Reply } from './google-errors';
import { messageResource, parseFormat } from './gmail.format';
import { GmailMailbox, MailboxError, type HistoryRecord } from './gmail.store';

const watchBody = z.object({
  topicName: z.string().regex(/^projects\/[^/]+\/topics\/[^/]+$/, 'Invalid topicName'),
  labelIds: z.array(z.string()).optional(),
  labelFilterBehavior: z.enum(['INCLUDE', 'EXCLUDE', 'include', 'exclude']).optional(),
  labelFilterAction: z.enum(['include', 'exclude', 'INCLUDE', 'EXCLUDE']).optional(),
});

const sendBody = z.object({ raw: z.string().min(1), threadId: z.string().min(1).optional() });

export interface GmailRequest {
  method: string;
  /** Path segments after `/gmail/v1/users/{userId}/`, already percent-decoded. */
  segments: string[];
  query: URLSearchParams;
  body: unknown;
}

function pageSize(query: URLSearchParams, fallback: number): number {
  const n = Number(query.get('maxResults') ?? fallback);
  return Number.isFinite(n) && n > 0 ? Math.min(Math.floor(n), 500) : fallback;
}

function parseBody<T>(schema: z.ZodType<T>, body: unknown): T | Reply {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  return badRequest(result.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '));
}

const isReply = (value: unknown): value is Reply => typeof value === 'object' && value !== null && 'status' in value && typeof (value as Reply).status === 'number';

function listHistory(mailbox: GmailMailbox, query: URLSearchParams): Reply {
  const startRaw = query.get('startHistoryId');
  if (!startRaw || !/^\d+$/.test(startRaw)) return badRequest(startRaw ? 'Invalid startHistoryId' : "Required parameter 'startHistoryId' is missing.");
  const start = Number(startRaw);
  const token = query.get('pageToken');
  const after = token && /^\d+$/.test(token) ? Number(token) : start;
  if (start < mailbox.oldestRetained || after < mailbox.oldestRetained) return notFound();
  const types = query.getAll('historyTypes').map((t) => t.toLowerCase());
  const labelId = query.get('labelId');
  // The sandbox records only message additions; asking for other types yields none.
  const wantsAdded = types.length === 0 || types.includes('messageadded');
  const matching = mailbox.history.filter((r: HistoryRecord) => r.id > after && wantsAdded && (!labelId || r.message.labelIds.includes(labelId)));
  const page = matching.slice(0, pageSize(query, 100));
  const last = page[page.length - 1];
  const body: Record<string, unknown> = { historyId: String(mailbox.historyId) };
  if (page.length > 0) {
    body.history = page.map((r) => ({ id: String(r.id), messages: [r.message], messagesAdded: [{ message: r.message }] }));
  }
  if (last && matching.length > page.length) body.nextPageToken = String(last.id);
  return { status: 200, body };
}

function listMessages(mailbox: GmailMailbox, query: URLSearchParams): Reply {
  const q = (query.get('q') ?? '').trim();
  let found = [...mailbox.messages.values()].reverse();
  if (q !== '') {
    const match = /^rfc822msgid:(\S+)$/i.exec(q);
    if (!match?.[1]) return badRequest('The sandbox supports only the query rfc822msgid:<Message-ID>.');
    const hit = mailbox.findByMessageIdHeader(match[1]);
    found = hit ? [hit] : [];
  }
  const labels = query.getAll('labelIds');
  found = found.filter((m) => labels.every((l) => m.labelIds.includes(l)));
  const offset = Number(query.get('pageToken') ?? 0) || 0;
  const size = pageSize(query, 100);
  const page = found.slice(offset, offset + size);
  const body: Record<string, unknown> = { resultSizeEstimate: found.length };
  if (page.length > 0) body.messages = page.map((m) => ({ id: m.id, threadId: m.threadId }));
  if (offset + size < found.length) body.nextPageToken = String(offset + size);
  return { status: 200, body };
}

function send(mailbox: GmailMailbox, body: unknown): Reply {
  const parsed = parseBody(sendBody, body);
  if (isReply(parsed)) return parsed;
  try {
    const message = mailbox.send(Buffer.from(parsed.raw, 'base64'), parsed.threadId);
    return { status: 200, body: { id: message.id, threadId: message.threadId, labelIds: message.labelIds } };
  } catch (error) {
    if (error instanceof MailboxError) return error.kind === 'not_found' ? notFound() : badRequest(error.message);
    throw error;
  }
}

function watch(mailbox: GmailMailbox, body: unknown): Reply {
  const parsed = parseBody(watchBody, body);
  if (isReply(parsed)) return parsed;
  const behavior = (parsed.labelFilterBehavior ?? parsed.labelFilterAction ?? 'include').toUpperCase() === 'EXCLUDE' ? 'EXCLUDE' : 'INCLUDE';
  const state = mailbox.registerWatch(parsed.topicName, parsed.labelIds ?? [], behavior);
  return { status: 200, body: { historyId: String(mailbox.historyId), expiration: String(state.expiration) } };
}

export function handleGmail(mailbox: GmailMailbox, req: GmailRequest): Reply {
  const [resource, id, extra] = req.segments;
  const route = `${req.method} ${resource ?? ''}${id !== undefined ? '/:id' : ''}${extra !== undefined ? '/+' : ''}`;
  const format = parseFormat(req.query.get('format'));
  switch (route) {
    case 'POST watch':
      return watch(mailbox, req.body);
    case 'POST stop':
      mailbox.watch = null;
      return { status: 204 };
    case 'GET profile':
      return {
        status: 200,
        body: { emailAddress: mailbox.address, messagesTotal: mailbox.messages.size, threadsTotal: mailbox.threads.size, historyId: String(mailbox.historyId) },
      };
    case 'GET history':
      return listHistory(mailbox, req.query);
    case 'GET messages':
      return listMessages(mailbox, req.query);
    case 'POST messages/:id':
      return id === 'send' ? send(mailbox, req.body) : notFound();
    case 'GET messages/:id': {
      if (!format) return badRequest(`Invalid value for "format"`);
      if (!/^[0-9a-f]{1,32}$/i.test(id ?? '')) return badRequest('Invalid id value');
      const message = mailbox.messages.get(id ?? '');
      return message ? { status: 200, body: messageResource(message, format, req.query.getAll('metadataHeaders')) } : notFound();
    }
    case 'GET threads/:id': {
      if (!format || format === 'raw') return badRequest(`Invalid value for "format"`);
      const messages = mailbox.messagesInThread(id ?? '');
      if (messages.length === 0) return notFound();
      const last = messages[messages.length - 1];
      return {
        status: 200,
        body: {
          id,
          historyId: String(last?.historyId ?? mailbox.historyId),
          messages: messages.map((m) => messageResource(m, format, req.query.getAll('metadataHeaders'))),
        },
      };
    }
    default:
      return googleError(404, `Method not found: ${req.method} ${req.segments.join('/')}`, 'notFound');
  }
}
