import { z } from 'zod';
import { extractReplyText } from './reply-text';

/** A Gmail message reduced to what the negotiation needs. */
export interface ParsedMessage {
  id: string;
  threadId: string;
  labelIds: string[];
  /** The sender's bare address, lower-cased. */
  from: string;
  /** The recipients' bare addresses, lower-cased, comma-separated. */
  to: string;
  subject: string;
  /** Message-ID / In-Reply-To / References as sent, angle brackets included. */
  messageIdHdr: string | null;
  inReplyTo: string | null;
  references: string | null;
  internalDate: Date;
  /** Reply text only: quoted history and signature removed. */
  text: string;
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
  internalDate: z.string().regex(/^\d+$/).nullish(),
  payload: part.nullish(),
});

function decodeWords(value: string): string {
  return value
    .replace(/(=\?[^?]+\?[bBqQ]\?[^?]*\?=)\s+(?==\?)/g, '$1')
    .replace(/=\?([^?*]+)(?:\*[^?]*)?\?([bBqQ])\?([^?]*)\?=/g, (whole, charset: string, enc: string, text: string) => {
      const bytes =
        enc.toUpperCase() === 'B'
          ? Buffer.from(text, 'base64')
          : Buffer.from(text.replace(/_/g, ' ').replace(/=([0-9A-Fa-f]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1');
      try {
        return new TextDecoder(charset.toLowerCase()).decode(bytes);
      } catch {
        return whole;
      }
    });
}

function headerValue(p: Part | null | undefined, name: string): string | null {
  const found = p?.headers?.find((h) => h.name?.toLowerCase() === name.toLowerCase())?.value;
  return found === undefined || found === null ? null : decodeWords(found.trim());
}

/** Bare addresses from a header like `"Ana" <ana@x.com>, bob@y.com`. */
export function addresses(value: string | null): string[] {
  if (!value) return [];
  const angled = [...value.matchAll(/<([^<>\s]+@[^<>\s]+)>/g)].map((m) => m[1] ?? '');
  const found = angled.length > 0 ? angled : [...value.matchAll(/[^\s,;"<>]+@[^\s,;"<>]+/g)].map((m) => m[0]);
  return found.map((a) => a.toLowerCase());
}

function decodeData(p: Part): string {
  const data = p.body?.data ?? '';
  const charset = /charset="?([^";\s]+)"?/i.exec(headerValue(p, 'Content-Type') ?? '')?.[1] ?? 'utf-8';
  const bytes = Buffer.from(data, 'base64url');
  try {
    return new TextDecoder(charset.toLowerCase()).decode(bytes);
  } catch {
    return bytes.toString('utf8');
  }
}

function findPart(p: Part | null | undefined, mimeType: string): Part | null {
  if (!p) return null;
  const isAttachment = (p.filename ?? '') !== '' || Boolean(p.body?.attachmentId);
  if ((p.mimeType ?? '').toLowerCase() === mimeType && !isAttachment && p.body?.data) return p;
  for (const child of p.parts ?? []) {
    const found = findPart(child, mimeType);
    if (found) return found;
  }
  return null;
}

const ENTITIES: Record<string, string> = { nbsp: ' ', amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** HTML to plain text for messages without a text part; quoted history in blockquotes is dropped. */
export function htmlToText(html: string): string {
  return html
    .replace(/<(head|style|script)[\s\S]*?<\/\1>/gi, '')
    .replace(/<blockquote[\s\S]*<\/blockquote>/gi, '')
    .replace(/<div class="?gmail_quote[\s\S]*$/i, '')
    .replace(/<br\s*\/?>/gi, '\n')
    .replace(/<\/(p|div|li|tr|h\d)>/gi, '\n')
    .replace(/<[^>]+>/g, '')
    .replace(/&(#x?[0-9a-f]+|[a-z]+);/gi, (whole, entity: string) => {
      if (entity.startsWith('#')) {
        const code = entity[1]?.toLowerCase() === 'x' ? parseInt(entity.slice(2), 16) : parseInt(entity.slice(1), 10);
        return Number.isFinite(code) ? String.fromCodePoint(code) : whole;
      }
      return ENTITIES[entity.toLowerCase()] ?? whole;
    });
}

/** The full body text (plain part preferred), before quote stripping. */
export function bodyText(payload: Part | null | undefined): string {
  const plain = findPart(payload, 'text/plain');
  if (plain) return decodeData(plain);
  const html = findPart(payload, 'text/html');
  return html ? htmlToText(decodeData(html)) : '';
}

export function toParsedMessage(raw: unknown): ParsedMessage {
  const m = gmailMessageSchema.parse(raw);
  const from = addresses(headerValue(m.payload, 'From'));
  return {
    id: m.id,
    threadId: m.threadId,
    labelIds: m.labelIds ?? [],
    from: from[0] ?? '',
    to: addresses(headerValue(m.payload, 'To')).join(', '),
    subject: headerValue(m.payload, 'Subject') ?? '',
    messageIdHdr: headerValue(m.payload, 'Message-ID'),
    inReplyTo: headerValue(m.payload, 'In-Reply-To'),
    references: headerValue(m.payload, 'References'),
    internalDate: new Date(Number(m.internalDate ?? 0)),
    text: extractReplyText(bodyText(m.payload)),
  };
}
