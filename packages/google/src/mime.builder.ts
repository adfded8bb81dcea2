/** RFC 2822 messages for users.messages.send (`raw`, base64url), safe for any UTF-8 text. */
import { isValidMessageId, messageIds } from './address.parser';

export interface MimeInput {
  from: string;
  to: string;
  subject: string;
  body: string;
  /** The deterministic Message-ID, with or without angle brackets. */
  messageIdHdr: string;
  inReplyTo?: string | null;
  references?: string | null;
  /** Defaults to now. */
  date?: Date;
}

const ASCII_PRINTABLE = /^[\x20-\x7e]*$/;
/** Bytes of UTF-8 per encoded word: each word stays within RFC 2047's 75 characters and a folded line (even "Subject: " plus one word) within 78. */
const WORD_BYTES = 39;

/** Header values never carry a line break: that is how header injection happens. */
function singleLine(value: string): string {
  return value.replace(/[\r\n\t]+/g, ' ').trim();
}

/** RFC 2047 B-encoding, split on character boundaries and folded between words. */
export function encodeHeaderWords(value: string): string {
  const clean = singleLine(value);
  if (ASCII_PRINTABLE.test(clean)) return clean;
  const words: string[] = [];
  let current = '';
  for (const ch of clean) {
    if (Buffer.byteLength(current + ch, 'utf8') > WORD_BYTES) {
      words.push(current);
      current = '';
    }
    current += ch;
  }
  // Only non-empty text that is not printable ASCII gets here, so the last word is never empty.
  words.push(current);
  return words.map((w) => `=?UTF-8?B?${Buffer.from(w, 'utf8').toString('base64')}?=`).join('\r\n ');
}

/** Splits an address list on commas that are not inside quotes or angle brackets. */
function splitAddresses(value: string): string[] {
  const out: string[] = [];
  let current = '';
  let quoted = false;
  let angle = false;
  for (const ch of value) {
    if (ch === '"') quoted = !quoted;
    else if (ch === '<' && !quoted) angle = true;
    else if (ch === '>' && !quoted) angle = false;
    if (ch === ',' && !quoted && !angle) {
      out.push(current);
      current = '';
    } else current += ch;
  }
  out.push(current);
  return out.map((a) => a.trim()).filter(Boolean);
}

function formatAddress(value: string): string {
  const match = /^(.*?)\s*<([^<>\s]+@[^<>\s]+)>$/s.exec(value);
  if (!match) return value;
  const name = (match[1] ?? '').trim().replace(/^"(.*)"$/, '$1');
  const address = match[2] ?? '';
  if (name === '') return `<${address}>`;
  if (!ASCII_PRINTABLE.test(name)) return `${encodeHeaderWords(name)} <${address}>`;
  return /^[A-Za-z0-9 !#$%&'*+\-/=?^_`{|}~.]+$/.test(name) && !name.includes('.')
    ? `${name} <${address}>`
    : `"${name.replace(/(["\\])/g, '\\$1')}" <${address}>`;
}

export function formatAddressList(value: string): string {
  return splitAddresses(singleLine(value)).map(formatAddress).join(', ');
}

/** `<id@host>`; throws on a value that is not a message id. Only for our own ids: a wrong one is a bug. */
export function angleId(value: string): string {
  const bare = singleLine(value).replace(/^<|>$/g, '');
  if (!isValidMessageId(bare)) throw new Error(`not a Message-ID: ${JSON.stringify(value.slice(0, 100))}`);
  return `<${bare}>`;
}

/** RFC 2822 date-time, e.g. `Tue, 04 Nov 2025 10:00:00 +0000`. */
export function rfc2822Date(date: Date): string {
  return date.toUTCString().replace(/GMT$/, '+0000');
}

function wrapBase64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64').replace(/.{76}/g, '$&\r\n').replace(/\r\n$/, '');
}

/** `name id id …`, folded between ids once a line would pass 78 characters (RFC 5322's 998 is then never reached: an id is at most 252). */
function foldIds(name: string, ids: string[]): string {
  const lines = [name];
  for (const id of ids) {
    const last = lines.length - 1;
    if ((lines[last] ?? '').length + 1 + id.length > 78 && (lines[last] ?? '').trim() !== name) lines.push(` ${id}`);
    else lines[last] = `${lines[last] ?? ''} ${id}`;
  }
  return lines.join('\r\n');
}

export function buildMime(m: MimeInput): string {
  // The ids we answer come from the influencer's mail client: one that is not a valid msg-id
  // (no "@", spaces, controls) is dropped rather than making our reply unsendable, and an id
  // can never carry a line break into our headers (messageIds splits on whitespace).
  const inReplyTo = messageIds(m.inReplyTo)[0] ?? null;
  const refs = [...new Set(messageIds(m.references))];
  // RFC 5322 3.6.4: a reply's References ends with the message it answers.
  if (inReplyTo && !refs.includes(inReplyTo)) refs.push(inReplyTo);
  const headers = [
    `From: ${formatAddressList(m.from)}`,
    `To: ${formatAddressList(m.to)}`,
    `Subject: ${encodeHeaderWords(m.subject)}`,
    `Date: ${rfc2822Date(m.date ?? new Date())}`,
    `Message-ID: ${angleId(m.messageIdHdr)}`,
    ...(inReplyTo ? [`In-Reply-To: ${inReplyTo}`] : []),
    ...(refs.length > 0 ? [foldIds('References:', refs)] : []),
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset="UTF-8"',
    'Content-Transfer-Encoding: base64',
  ];
  const body = m.body.replace(/\r\n?/g, '\n').replace(/\n/g, '\r\n');
  return Buffer.from(`${headers.join('\r\n')}\r\n\r\n${wrapBase64(body)}\r\n`, 'utf8').toString('base64url');
}
