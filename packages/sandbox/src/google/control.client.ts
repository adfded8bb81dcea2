import { z } from 'zod';
import type { DeliveredMessage, FailureOptions, RawDelivery } from './google-sandbox.server';
import type { HistoryNotification, InboundMail, MailView } from './gmail.store';

const mailView = z.object({
  id: z.string(),
  threadId: z.string(),
  labelIds: z.array(z.string()),
  direction: z.enum(['inbound', 'outbound']),
  from: z.string(),
  to: z.string(),
  subject: z.string(),
  messageIdHdr: z.string().nullable(),
  inReplyTo: z.string().nullable(),
  references: z.string().nullable(),
  date: z.coerce.date(),
  text: z.string(),
});
const delivered = z.object({ id: z.string(), threadId: z.string(), historyId: z.string(), messageIdHdr: z.string() });
const notification = z.object({ emailAddress: z.string(), historyId: z.string() });

/** The control API of a sandbox running in another process (same operations, over HTTP). */
export interface GoogleSandboxControl {
  setSheet(spreadsheetId: string, range: string, values: (string | number | boolean | null)[][]): Promise<void>;
  deliverInbound(mail: InboundMail): Promise<DeliveredMessage>;
  deliverRaw(raw: Buffer | string, options?: RawDelivery): Promise<DeliveredMessage>;
  sent(): Promise<MailView[]>;
  messagesInThread(threadId: string): Promise<MailView[]>;
  expireHistoryBefore(historyId: string | number): Promise<void>;
  failNext(n: number, options: FailureOptions): Promise<void>;
  /** Notifications the sandbox emitted with a history id above `afterHistoryId`. */
  notifications(afterHistoryId?: string): Promise<HistoryNotification[]>;
  expireAccessTokens(): Promise<void>;
  state(): Promise<Record<string, unknown>>;
}

export function connectGoogleSandbox(rootUrl: string): GoogleSandboxControl {
  const base = new URL('_control/', rootUrl.endsWith('/') ? rootUrl : `${rootUrl}/`);
  const call = async <T>(method: 'GET' | 'POST', path: string, schema: z.ZodType<T>, body?: unknown): Promise<T> => {
    const response = await fetch(new URL(path, base), {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const payload: unknown = await response.json();
    if (!response.ok) throw new Error(`google sandbox control ${path} answered ${response.status}: ${JSON.stringify(payload)}`);
    return schema.parse(payload);
  };
  const ok = z.object({ ok: z.literal(true) });
  return {
    setSheet: async (spreadsheetId, range, values) => void (await call('POST', 'sheets', ok, { spreadsheetId, range, values })),
    deliverInbound: (mail) => call('POST', 'inbound', delivered, mail),
    deliverRaw: (raw, o = {}) => call('POST', 'inbound-raw', delivered, { raw: (typeof raw === 'string' ? Buffer.from(raw, 'utf8') : raw).toString('base64'), ...o }),
    sent: () => call('GET', 'sent', z.array(mailView)),
    messagesInThread: (threadId) => call('GET', `threads/${encodeURIComponent(threadId)}`, z.array(mailView)),
    expireHistoryBefore: async (historyId) => void (await call('POST', 'expire-history', ok, { historyId: String(historyId) })),
    failNext: async (n, options) => void (await call('POST', 'fail-next', ok, { n, ...options })),
    notifications: (after) => call('GET', `notifications${after ? `?after=${encodeURIComponent(after)}` : ''}`, z.array(notification)),
    expireAccessTokens: async () => void (await call('POST', 'expire-access-tokens', ok)),
    state: () => call('GET', 'state', z.record(z.string(), z.unknown())),
  };
}
