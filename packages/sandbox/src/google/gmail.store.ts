import { randomBytes } from 'node:crypto';
import { addressOf, buildInboundMime, headerOf, parseMime, plainTextOf, withDefaultHeaders, type MimeHeader, type MimePart } from './mime';

/** One message as Gmail keeps it: the raw RFC 2822 bytes plus the ids and labels around them. */
export interface StoredMessage {
  id: string;
  threadId: string;
  labelIds: string[];
  internalDate: number;
  historyId: number;
  raw: Buffer;
  mime: MimePart;
}

/** A message decoded for assertions and the control API (never sent to the product). */
export interface MailView {
  id: string;
  threadId: string;
  labelIds: string[];
  direction: 'inbound' | 'outbound';
  from: string;
  to: string;
  subject: string;
  messageIdHdr: string | null;
  inReplyTo: string | null;
  references: string | null;
  date: Date;
  text: string;
}

export interface HistoryRecord {
  id: number;
  message: { id: string; threadId: string; labelIds: string[] };
}

export interface WatchState {
  topicName: string;
  labelIds: string[];
  labelFilterBehavior: 'INCLUDE' | 'EXCLUDE';
  expiration: number;
}

export interface InboundMail {
  /** The thread the reply lands in; absent for a new, unsolicited conversation. */
  threadId?: string;
  from: string;
  subject: string;
  text: string;
  inReplyTo?: string | null;
  references?: string | null;
}

export interface HistoryNotification {
  emailAddress: string;
  historyId: string;
}

export class MailboxError extends Error {
  constructor(readonly kind: 'not_found' | 'bad_request', message: string) {
    super(message);
  }
}

const WATCH_TTL_MS = 7 * 24 * 3600 * 1000;

function normalizeSubject(subject: string): string {
  return subject.replace(/^\s*((re|fwd?|aw|sv)\s*:\s*)+/i, '').trim().toLowerCase();
}

/** A listener's failure must not fail the Gmail call that triggered it. */
function callSafely(fn: () => unknown): void {
  try {
    const result = fn();
    if (result instanceof Promise) result.catch((error: unknown) => console.error('google sandbox listener failed:', error));
  } catch (error) {
    console.error('google sandbox listener failed:', error);
  }
}

export function viewOf(m: StoredMessage): MailView {
  const h = (name: string) => headerOf(m.mime, name) ?? null;
  return {
    id: m.id,
    threadId: m.threadId,
    labelIds: [...m.labelIds],
    direction: m.labelIds.includes('SENT') ? 'outbound' : 'inbound',
    from: h('From') ?? '',
    to: h('To') ?? '',
    subject: h('Subject') ?? '',
    messageIdHdr: h('Message-ID'),
    inReplyTo: h('In-Reply-To'),
    references: h('References'),
    date: new Date(m.internalDate),
    text: plainTextOf(m.mime),
  };
}

/** A Message-ID header as the index keys it: trimmed, without its angle brackets. */
function messageIdKey(header: string | undefined): string | undefined {
  return header?.trim().replace(/^<|>$/g, '');
}

/**
 * The state of one Gmail mailbox: messages, threads and the history log with Gmail's id
 * semantics (large, increasing, irregular steps; records after a cursor; a cursor older than
 * the retained history is a 404).
 */
export class GmailMailbox {
  readonly messages = new Map<string, StoredMessage>();
  readonly threads = new Map<string, string[]>();
  history: HistoryRecord[] = [];
  historyId: number;
  oldestRetained: number;
  watch: WatchState | null = null;
  private sequence = 0n;
  private readonly idBase = BigInt(Date.now()) << 20n;
  private lastInternalDate = 0;
  private readonly historyListeners = new Set<(n: HistoryNotification) => void>();
  private readonly sentListeners = new Set<(m: MailView) => void>();
  /** Message ids by their Message-ID header (without its angle brackets), in the order stored. */
  private readonly byMessageIdHeader = new Map<string, string[]>();

  constructor(readonly address: string, historyStart: number) {
    this.historyId = historyStart;
    this.oldestRetained = historyStart;
  }

  onHistory(listener: (n: HistoryNotification) => void): () => void {
    this.historyListeners.add(listener);
    return () => this.historyListeners.delete(listener);
  }

  onSent(listener: (m: MailView) => void): () => void {
    this.sentListeners.add(listener);
    return () => this.sentListeners.delete(listener);
  }

  removeListeners(): void {
    this.historyListeners.clear();
    this.sentListeners.clear();
  }

  private nextId(): string {
    this.sequence += 1n;
    return (this.idBase + this.sequence).toString(16);
  }

  private nextHistoryId(): number {
    // Real ids advance by irregular steps (other mailbox changes share the counter).
    this.historyId += 1 + Math.floor(Math.random() * 40);
    return this.historyId;
  }

  private store(raw: Buffer, labelIds: string[], threadId: string | null): StoredMessage {
    const id = this.nextId();
    const thread = threadId ?? id;
    this.lastInternalDate = Math.max(Date.now(), this.lastInternalDate + 1);
    const message: StoredMessage = { id, threadId: thread, labelIds, internalDate: this.lastInternalDate, historyId: this.nextHistoryId(), raw, mime: parseMime(raw) };
    this.messages.set(id, message);
    const header = messageIdKey(headerOf(message.mime, 'Message-ID'));
    if (header !== undefined) {
      const same = this.byMessageIdHeader.get(header);
      if (same) same.push(id);
      else this.byMessageIdHeader.set(header, [id]);
    }
    this.threads.set(thread, [...(this.threads.get(thread) ?? []), id]);
    this.history.push({ id: message.historyId, message: { id, threadId: thread, labelIds: [...labelIds] } });
    this.notify(message);
    return message;
  }

  /** Notifications follow the registered watch; with none registered, INBOX changes are pushed. */
  private notify(message: StoredMessage): void {
    const watch = this.watch;
    if (watch && watch.expiration < Date.now()) return;
    const filter = watch?.labelIds ?? ['INBOX'];
    const matches = filter.length === 0 || filter.some((l) => message.labelIds.includes(l));
    if (watch?.labelFilterBehavior === 'EXCLUDE' ? matches && filter.length > 0 : !matches) return;
    const notification = { emailAddress: this.address, historyId: String(message.historyId) };
    for (const listener of this.historyListeners) callSafely(() => listener(notification));
  }

  registerWatch(topicName: string, labelIds: string[], behavior: 'INCLUDE' | 'EXCLUDE'): WatchState {
    this.watch = { topicName, labelIds, labelFilterBehavior: behavior, expiration: Date.now() + WATCH_TTL_MS };
    return this.watch;
  }

  /** messages.send: keeps the client's headers, threads by threadId when the subject matches. */
  send(raw: Buffer, threadId: string | undefined): StoredMessage {
    const parsed = parseMime(raw);
    const to = headerOf(parsed, 'To');
    if (!to || !/@/.test(to)) throw new MailboxError('bad_request', 'Invalid To header');
    const defaults: MimeHeader[] = [];
    if (!headerOf(parsed, 'From')) defaults.push({ name: 'From', value: this.address });
    if (!headerOf(parsed, 'Date')) defaults.push({ name: 'Date', value: new Date().toUTCString() });
    if (!headerOf(parsed, 'Message-ID')) defaults.push({ name: 'Message-ID', value: `<CA${randomBytes(12).toString('hex')}@mail.gmail.com>` });
    let thread: string | null = null;
    if (threadId !== undefined) {
      const ids = this.threads.get(threadId);
      if (!ids) throw new MailboxError('not_found', 'Requested entity was not found.');
      const first = this.messages.get(ids[0] ?? '');
      const subject = normalizeSubject(headerOf(parsed, 'Subject') ?? '');
      // Gmail puts a message in the requested thread only when the subjects agree.
      if (first && normalizeSubject(headerOf(first.mime, 'Subject') ?? '') === subject) thread = threadId;
    }
    const message = this.store(withDefaultHeaders(raw, defaults), ['SENT'], thread);
    const view = viewOf(message);
    for (const listener of this.sentListeners) callSafely(() => listener(view));
    return message;
  }

  /** An influencer's email arriving: INBOX, a new message id, threaded like Gmail would. */
  deliver(mail: InboundMail): StoredMessage {
    if (mail.threadId !== undefined && !this.threads.has(mail.threadId)) throw new MailboxError('not_found', `unknown thread ${mail.threadId}`);
    let references = mail.references ?? null;
    if (references === null && mail.inReplyTo) {
      const parent = this.findByMessageIdHeader(mail.inReplyTo);
      const parentRefs = parent ? headerOf(parent.mime, 'References') : undefined;
      references = parentRefs ? `${parentRefs} ${mail.inReplyTo}` : mail.inReplyTo;
    }
    const raw = buildInboundMime(
      {
        from: mail.from,
        to: this.address,
        subject: mail.subject,
        messageId: `<CA${randomBytes(16).toString('base64url')}@mail.gmail.com>`,
        inReplyTo: mail.inReplyTo ?? null,
        references,
        date: new Date(),
        text: mail.text,
      },
      `000000000000${randomBytes(10).toString('hex')}`,
    );
    return this.store(raw, ['INBOX', 'UNREAD'], mail.threadId ?? null);
  }

  /** Raw bytes delivered as they are (INBOX, UNREAD): nothing is added, fixed or validated. */
  deliverRaw(raw: Buffer, threadId: string | undefined): StoredMessage {
    if (threadId !== undefined && !this.threads.has(threadId)) throw new MailboxError('not_found', `unknown thread ${threadId}`);
    return this.store(raw, ['INBOX', 'UNREAD'], threadId ?? null);
  }

  /** The first stored message whose Message-ID header is `messageIdHdr` (brackets optional). */
  findByMessageIdHeader(messageIdHdr: string): StoredMessage | undefined {
    // deleteMessage keeps the index to stored messages only.
    const first = this.byMessageIdHeader.get(messageIdKey(messageIdHdr) ?? '')?.[0];
    return first === undefined ? undefined : this.messages.get(first);
  }

  messagesInThread(threadId: string): StoredMessage[] {
    return (this.threads.get(threadId) ?? []).map((id) => this.messages.get(id)).filter((m): m is StoredMessage => m !== undefined);
  }

  /** Deletes a message for good, as Gmail does: gets answer 404, history still lists its addition. */
  deleteMessage(id: string): boolean {
    const message = this.messages.get(id);
    if (!message) return false;
    this.messages.delete(id);
    const header = messageIdKey(headerOf(message.mime, 'Message-ID'));
    const same = header === undefined ? [] : (this.byMessageIdHeader.get(header)?.filter((m) => m !== id) ?? []);
    if (header !== undefined && same.length === 0) this.byMessageIdHeader.delete(header);
    else if (header !== undefined) this.byMessageIdHeader.set(header, same);
    const thread = this.threads.get(message.threadId);
    if (thread) this.threads.set(message.threadId, thread.filter((m) => m !== id));
    return true;
  }

  expireHistoryBefore(historyId: number): void {
    this.oldestRetained = Math.max(this.oldestRetained, historyId);
    this.history = this.history.filter((r) => r.id >= historyId);
  }

  sent(): MailView[] {
    return [...this.messages.values()].filter((m) => m.labelIds.includes('SENT')).map(viewOf);
  }

  /** The bare address a message was sent to (for the personas). */
  static recipient(view: MailView): string {
    return addressOf(view.to.split(',')[0] ?? '');
  }
}
