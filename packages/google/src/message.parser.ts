import { z } from 'zod';
import { messageIds, parseAddressList } from './address.parser';
import { htmlToText } from './html-text';
import { MAIL_LIMITS } from './mail-limits';
import { extractReplyText } from './reply-text';

export { htmlToText } from './html-text';
export { parseAddressList } from './address.parser';

/** A Gmail message reduced to what the negotiation needs. */
export interface ParsedMessage {
  id: string;
  threadId: string;
  labelIds: string[];
  /** The sender's bare address, lower-cased ('' when the From header names none). */
  from: string;
  /** The recipients' bare addresses, lower-cased, comma-separated. */
  to: string;
  subject: string;
  /** Message-ID / In-Reply-To / References as sent (single line, capped), angle brackets included. */
  messageIdHdr: string | null;
  inReplyTo: string | null;
  references: string | null;
  internalDate: Date;
  /** Reply text only: quoted history and signature removed. */
  text: string;
  /**
   * Set when the message could not be read (`unparseable: <short reason>`): the other fields
   * hold whatever could be salvaged, and nobody (least of all the LLM) should act on its text.
   */
  problem: string | null;
}

interface Part {
  mimeType?: string | null;
  filename?: string | null;
  headers?: { name?: string | null; value?: string | null }[] | null;
  body?: { data?: string | null; attachmentId?: string | null } | null;
  parts?: Part[] | null;
}

const header = z.object({ name: z.string().nullish(), value: z.string().nullish() });
const part: z.ZodType<Part> = z.lazy(() =>
  z.object({
    mimeType: z.string().nullish(),
    filename: z.string().nullish(),
    headers: z.array(header).nullish(),
    body: z.object({ data: z.string().nullish(), attachmentId: z.string().nullish() }).nullish(),
    parts: z.array(part).nullish(),
  }),
);
export const gmailMessageSchema = z.object({
  id: z.string().min(1),
  threadId: z.string().min(1),
  labelIds: z.array(z.string()).nullish(),
  internalDate: z.string().regex(/^\d{1,16}$/).nullish(),
  payload: part.nullish(),
});

// Node's TextDecoder decodes "windows-1252" (and the labels mapped to it: iso-8859-1, latin1,
// us-ascii) as ISO-8859-1, so 0x80-0x9F come out as C1 controls. Outlook's smart quotes, dashes
// and the euro sign live there.
const CP1252_HIGH = '\u20ac\u0081\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160\u2039\u0152\u008d\u017d\u008f\u0090\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\u009d\u017e\u0178';

/** Bytes in a declared charset to text; an unknown charset reads as UTF-8, bad bytes as U+FFFD. */
function decodeBytes(bytes: Buffer, charset: string): string {
  let decoder: InstanceType<typeof TextDecoder>;
  try {
    decoder = new TextDecoder(charset.trim().toLowerCase());
  } catch {
    decoder = new TextDecoder('utf-8');
  }
  const text = decoder.decode(bytes);
  return decoder.encoding === 'windows-1252' ? text.replace(/[\u0080-\u009f]/g, (c: string) => CP1252_HIGH[c.charCodeAt(0) - 0x80] ?? c) : text;
}

/** RFC 2047 encoded words; the value is already capped, and each word is bounded by "?" delimiters. */
function decodeWords(value: string): string {
  return value
    .replace(/(=\?[^?\s]{1,40}\?[bBqQ]\?[^?\s]*\?=)\s+(?==\?)/g, '$1')
    .replace(/=\?([^?*\s]{1,40})(?:\*[^?\s]{0,20})?\?([bBqQ])\?([^?\s]*)\?=/g, (_whole, charset: string, enc: string, text: string) => {
      const bytes =
        enc.toUpperCase() === 'B'
          ? Buffer.from(text, 'base64')
          : Buffer.from(text.replace(/_/g, ' ').replace(/=([0-9A-Fa-f]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1');
      return decodeBytes(bytes, charset);
    });
}

/** A header's raw value: the first of its name, one line, at most MAIL_LIMITS.headerChars. */
function rawHeader(p: Part | null | undefined, name: string): string | null {
  const lower = name.toLowerCase();
  for (const h of p?.headers ?? []) {
    if (h.name?.toLowerCase() === lower && typeof h.value === 'string') {
      return h.value.slice(0, MAIL_LIMITS.headerChars).replace(/[\r\n\t\0]+/g, ' ').trim();
    }
  }
  return null;
}

/** The part's body decoded in its charset; only the first MAIL_LIMITS.bodyBytes are read. */
function decodeData(p: Part): string {
  const data = p.body?.data ?? '';
  // 4 base64 characters are 3 bytes: cut on a multiple of 4 so the cut decodes cleanly, and
  // at or under the limit.
  const chars = Math.floor(MAIL_LIMITS.bodyBytes / 3) * 4;
  const bytes = Buffer.from(data.slice(0, chars), 'base64url');
  const charset = /charset\s*=\s*"?([^";\s]{1,40})"?/i.exec(rawHeader(p, 'Content-Type') ?? '')?.[1] ?? 'utf-8';
  return decodeBytes(bytes, charset);
}

function isAttachment(p: Part): boolean {
  const disposition = rawHeader(p, 'Content-Disposition') ?? '';
  return (p.filename ?? '') !== '' || Boolean(p.body?.attachmentId) || /^\s*attachment/i.test(disposition);
}

/** The first non-attachment part of the type, depth-first, at most MAIL_LIMITS.partDepth deep. */
function findPart(p: Part | null | undefined, mimeType: string, depth = 0): Part | null {
  if (!p || depth > MAIL_LIMITS.partDepth) return null;
  if ((p.mimeType ?? '').toLowerCase() === mimeType && !isAttachment(p) && p.body?.data) return p;
  for (const child of p.parts ?? []) {
    const found = findPart(child, mimeType, depth + 1);
    if (found) return found;
  }
  return null;
}

/** The full body text (plain part preferred), before quote stripping. */
export function bodyText(payload: Part | null | undefined): string {
  const plain = findPart(payload, 'text/plain');
  if (plain) return decodeData(plain);
  const html = findPart(payload, 'text/html');
  return html ? htmlToText(decodeData(html)) : '';
}

/** A short, single-line reason for a failure, safe to store and show (no message content beyond 120 characters). */
function shortReason(error: unknown): string {
  const text = error instanceof z.ZodError ? `malformed message resource (${error.issues[0]?.path.join('.') ?? '?'})` : error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return text.replace(/\s+/g, ' ').slice(0, 120);
}

/**
 * A Gmail `format=full` message resource to a ParsedMessage. Never throws on its content: a
 * message that cannot be read comes back with `problem` set and what could be salvaged, so
 * one hostile email cannot stop the mailbox. `fallback` names it when even its ids are missing.
 */
export function toParsedMessage(raw: unknown, fallback: { id: string; threadId: string } = { id: '', threadId: '' }): ParsedMessage {
  const base: ParsedMessage = {
    id: fallback.id,
    threadId: fallback.threadId,
    labelIds: [],
    from: '',
    to: '',
    subject: '',
    messageIdHdr: null,
    inReplyTo: null,
    references: null,
    internalDate: new Date(0),
    text: '',
    problem: null,
  };
  let step = 'resource';
  try {
    const m = gmailMessageSchema.parse(raw);
    Object.assign(base, { id: m.id, threadId: m.threadId, labelIds: m.labelIds ?? [], internalDate: new Date(Number(m.internalDate ?? 0)) });
    step = 'headers';
    // Addresses are parsed from the raw header: a decoded display name can look like an address.
    base.from = parseAddressList(rawHeader(m.payload, 'From'))[0] ?? '';
    base.to = parseAddressList(rawHeader(m.payload, 'To')).join(', ');
    base.subject = decodeWords(rawHeader(m.payload, 'Subject') ?? '').slice(0, MAIL_LIMITS.subjectChars);
    base.messageIdHdr = rawHeader(m.payload, 'Message-ID');
    base.inReplyTo = rawHeader(m.payload, 'In-Reply-To');
    base.references = rawHeader(m.payload, 'References');
    step = 'body';
    base.text = extractReplyText(bodyText(m.payload)).slice(0, MAIL_LIMITS.replyTextChars);
  } catch (error) {
    base.problem = `unparseable: ${step}: ${shortReason(error)}`;
  }
  return base;
}

/** The valid Message-IDs a message names in In-Reply-To and References (for matching our own). */
export function referencedIds(message: Pick<ParsedMessage, 'inReplyTo' | 'references'>): string[] {
  return [...messageIds(message.inReplyTo), ...messageIds(message.references)];
}
