import type { OAuth2Client } from 'google-auth-library';
import { gmail as gmailApi } from 'googleapis/build/src/apis/gmail';
import { z } from 'zod';
import { boundedFetch, historyIdSchema, responseTooLarge, TransientError } from '@parley/contracts';
import { HistoryExpiredError, mapGoogleError } from './errors';
import { toParsedMessage, type ParsedMessage } from './message.parser';

export interface AddedMessage {
  id: string;
  threadId: string;
  labelIds: string[];
}

export interface GmailClient {
  watch(topicName: string): Promise<{ historyId: string; expiration: Date }>;
  /** Every message added since `startHistoryId` (all pages) and the mailbox's history id after them. */
  listHistory(startHistoryId: string): Promise<{ added: AddedMessage[]; historyId: string }>;
  /**
   * The message, parsed. Failures to *fetch* it are mapped errors (transient, rate-limited,
   * permanent); a message that was fetched but cannot be read comes back with `problem` set.
   */
  getMessage(id: string): Promise<ParsedMessage>;
  /** The mailbox's current history id (Gmail's own, never a notification's claim). */
  getProfile(): Promise<{ historyId: string }>;
  /** The message whose Message-ID header is `messageIdHdr` (with or without brackets), or null. */
  findByMessageIdHeader(messageIdHdr: string): Promise<{ id: string; threadId: string } | null>;
  /**
   * Sends a message. `signal` ends the call when it aborts, whatever it is waiting for (a token
   * refresh, the request, a retry after a 401); the request is then reset, never delivered later.
   */
  send(raw: string, threadId?: string, options?: { signal?: AbortSignal }): Promise<{ id: string; threadId: string }>;
  /** Every message of the thread, parsed as getMessage does (an unreadable one has `problem` set). */
  getThread(threadId: string): Promise<ParsedMessage[]>;
}

export interface GmailClientOptions {
  auth: OAuth2Client;
  /** Scheme, host and port only: googleapis keeps no path prefix. */
  rootUrl?: string;
  userId?: string;
  timeoutMs?: number;
  /** @defaultValue GMAIL_MAX_RESPONSE_BYTES */
  maxResponseBytes?: number;
}

/**
 * The most any Gmail answer may hold (decoded bytes). `format=full` carries a message's inline
 * parts in the answer (base64url, a third larger): a 30 MB email from a stranger would be held
 * whole in the worker's capped heap several times over (the text, the parsed JSON, the decoded
 * part). Over the limit, a message is read again as headers only and comes back unreadable, so a
 * human gets it; the parsers read at most `MAIL_LIMITS.bodyBytes` of a body anyway.
 */
export const GMAIL_MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

/** The headers a message too large to fetch whole is read by (attribution and the alert need them). */
const METADATA_HEADERS = ['From', 'To', 'Subject', 'Message-ID', 'In-Reply-To', 'References'];

const watchResponse = z.object({ historyId: historyIdSchema, expiration: z.union([z.string(), z.number()]).transform(Number) });
const historyResponse = z.object({
  historyId: historyIdSchema,
  nextPageToken: z.string().nullish(),
  history: z
    .array(
      z.object({
        messagesAdded: z
          .array(z.object({ message: z.object({ id: z.string(), threadId: z.string(), labelIds: z.array(z.string()).nullish() }) }))
          .nullish(),
      }),
    )
    .nullish(),
});
const listResponse = z.object({ messages: z.array(z.object({ id: z.string(), threadId: z.string() })).nullish() });
const sendResponse = z.object({ id: z.string().min(1), threadId: z.string().min(1) });
const threadResponse = z.object({ messages: z.array(z.unknown()).nullish() });
const threadIdsResponse = z.object({ messages: z.array(z.object({ id: z.string() })).nullish() });
const profileResponse = z.object({ historyId: historyIdSchema });

/** The ids a raw message resource names, when it names them as strings (for an unreadable one). */
function idsOf(raw: unknown, fallback: { id: string; threadId: string }): { id: string; threadId: string } {
  const r = (typeof raw === 'object' && raw !== null ? raw : {}) as { id?: unknown; threadId?: unknown };
  return { id: typeof r.id === 'string' ? r.id : fallback.id, threadId: typeof r.threadId === 'string' ? r.threadId : fallback.threadId };
}

/** A runaway pagination (a server that always returns a token) must end somewhere. */
const MAX_HISTORY_PAGES = 1000;

export function createGmailClient(opts: GmailClientOptions): GmailClient {
  const limit = opts.maxResponseBytes ?? GMAIL_MAX_RESPONSE_BYTES;
  const api = gmailApi({
    version: 'v1',
    auth: opts.auth,
    ...(opts.rootUrl ? { rootUrl: opts.rootUrl } : {}),
    // The queue owns retries (per error class); gaxios' own would hide 429s and 5xx from it.
    retry: false,
    timeout: opts.timeoutMs ?? 30_000,
    // Node's own fetch (gaxios otherwise lazy-imports node-fetch, ESM, which fails in some
    // runtimes such as jest's VM), reading at most `limit` bytes of an answer.
    fetchImplementation: boundedFetch(limit),
  });
  const userId = opts.userId ?? 'me';
  const call = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (error) {
      throw mapGoogleError(error, 'gmail');
    }
  };

  // Parsing happens outside `call`: a message that cannot be read is not a Gmail failure
  // (mapGoogleError would call it transient and the sync would retry it forever).
  const getMessage = async (id: string): Promise<ParsedMessage> => {
    let data: unknown;
    try {
      data = (await api.users.messages.get({ userId, id, format: 'full' })).data;
    } catch (error) {
      if (!responseTooLarge(error)) throw mapGoogleError(error, 'gmail');
      const headers = await call(async () => (await api.users.messages.get({ userId, id, format: 'metadata', metadataHeaders: METADATA_HEADERS })).data);
      const parsed = toParsedMessage(headers, { id, threadId: '' });
      return { ...parsed, text: '', problem: parsed.problem ?? `unparseable: too large (over ${limit} bytes as Gmail sends it)` };
    }
    return toParsedMessage(data, { id, threadId: '' });
  };

  return {
    watch: (topicName) =>
      call(async () => {
        const res = await api.users.watch({ userId, requestBody: { topicName, labelIds: ['INBOX'], labelFilterBehavior: 'INCLUDE' } });
        const data = watchResponse.parse(res.data);
        return { historyId: data.historyId, expiration: new Date(data.expiration) };
      }),

    listHistory: (startHistoryId) =>
      call(async () => {
        const added = new Map<string, AddedMessage>();
        let pageToken: string | undefined;
        let historyId = startHistoryId;
        for (let page = 0; page < MAX_HISTORY_PAGES; page++) {
          let data: z.infer<typeof historyResponse>;
          try {
            const res = await api.users.history.list({ userId, startHistoryId, historyTypes: ['messageAdded'], maxResults: 500, pageToken });
            data = historyResponse.parse(res.data);
          } catch (error) {
            const mapped = mapGoogleError(error, 'gmail');
            if ('reason' in mapped && mapped.reason === 'not_found') throw new HistoryExpiredError(startHistoryId);
            throw mapped;
          }
          for (const record of data.history ?? []) {
            for (const { message } of record.messagesAdded ?? []) {
              if (!added.has(message.id)) added.set(message.id, { id: message.id, threadId: message.threadId, labelIds: message.labelIds ?? [] });
            }
          }
          historyId = data.historyId;
          if (!data.nextPageToken) return { added: [...added.values()], historyId };
          pageToken = data.nextPageToken;
        }
        throw new Error(`gmail history.list returned more than ${MAX_HISTORY_PAGES} pages`);
      }),

    getMessage: (id) => getMessage(id),

    getProfile: () =>
      call(async () => {
        const res = await api.users.getProfile({ userId });
        return { historyId: profileResponse.parse(res.data).historyId };
      }),

    findByMessageIdHeader: (messageIdHdr) =>
      call(async () => {
        const bare = messageIdHdr.trim().replace(/^<|>$/g, '');
        const res = await api.users.messages.list({ userId, q: `rfc822msgid:${bare}`, maxResults: 10, includeSpamTrash: true });
        const first = listResponse.parse(res.data).messages?.[0];
        return first ? { id: first.id, threadId: first.threadId } : null;
      }),

    send: (raw, threadId, options) => {
      const signal = options?.signal;
      const sending = call(async () => {
        const res = await api.users.messages.send({ userId, requestBody: { raw, ...(threadId ? { threadId } : {}) } }, signal ? { signal } : {});
        return sendResponse.parse(res.data);
      });
      if (!signal) return sending;
      // A token refresh does not see the signal: the call ends at the signal anyway, and the
      // request, if the refresh ever returns, is refused by the aborted signal before it leaves.
      sending.catch(() => undefined);
      return new Promise<{ id: string; threadId: string }>((resolve, reject) => {
        const onAbort = () => reject(new TransientError(`gmail: network error (ABORT_ERR): send given up: ${String(signal.reason)}`, 'network'));
        if (signal.aborted) return onAbort();
        signal.addEventListener('abort', onAbort, { once: true });
        sending.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
      });
    },

    getThread: async (threadId) => {
      let data: z.infer<typeof threadResponse>;
      try {
        data = threadResponse.parse((await api.users.threads.get({ userId, id: threadId, format: 'full' })).data);
      } catch (error) {
        if (!responseTooLarge(error)) throw mapGoogleError(error, 'gmail');
        // Too large whole: its message ids, then each message on its own (one too large comes back unreadable).
        const ids = await call(async () => threadIdsResponse.parse((await api.users.threads.get({ userId, id: threadId, format: 'minimal' })).data));
        const messages: ParsedMessage[] = [];
        for (const m of ids.messages ?? []) messages.push(await getMessage(m.id));
        return messages;
      }
      return (data.messages ?? []).map((raw) => toParsedMessage(raw, idsOf(raw, { id: '', threadId })));
    },
  };
}
