/**
 * Just enough RFC 2822 / MIME for the Gmail stand-in: parse what a client sends through
 * messages.send (any reasonable encoder, not only ours) and build what an influencer's mail
 * client would deliver. Kept independent of @parley/google so a bug in the product's encoder
 * cannot hide behind the same bug here.
 */

export interface MimeHeader {
  name: string;
  value: string;
}

export interface MimePart {
  headers: MimeHeader[];
  mimeType: string;
  params: Record<string, string>;
  /** Content after the transfer encoding is undone (bytes in the part's own charset). */
  body: Buffer;
  parts: MimePart[];
}

export function headerOf(part: { headers: MimeHeader[] }, name: string): string | undefined {
  const lower = name.toLowerCase();
  return part.headers.find((h) => h.name.toLowerCase() === lower)?.value;
}

/** RFC 2047 encoded words (`=?UTF-8?B?...?=` / `?Q?`) back to text. */
export function decodeEncodedWords(value: string): string {
  // Whitespace between two adjacent encoded words is not part of the text.
  const joined = value.replace(/(=\?[^?]+\?[bBqQ]\?[^?]*\?=)\s+(?==\?[^?]+\?[bBqQ]\?[^?]*\?=)/g, '$1');
  return joined.replace(/=\?([^?*]+)(?:\*[^?]*)?\?([bBqQ])\?([^?]*)\?=/g, (whole, charset: string, enc: string, text: string) => {
    const bytes =
      enc.toUpperCase() === 'B'
        ? Buffer.from(text, 'base64')
        : Buffer.from(text.replace(/_/g, ' ').replace(/=([0-9A-Fa-f]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16))), 'latin1');
    try {
      return new TextDecoder(charset.trim().toLowerCase()).decode(bytes);
    } catch {
      return whole;
    }
  });
}

export function decodeText(bytes: Buffer, charset = 'utf-8'): string {
  try {
    return new TextDecoder(charset.toLowerCase()).decode(bytes);
  } catch {
    return bytes.toString('utf8');
  }
}

function parseHeaderBlock(block: string): MimeHeader[] {
  const unfolded = block.replace(/\r?\n(?=[ \t])/g, '');
  const headers: MimeHeader[] = [];
  for (const line of unfolded.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const rawValue = line.slice(colon + 1).trim();
    // The block was read as latin1 to keep bytes intact; raw UTF-8 headers (RFC 6532) are re-read.
    const value = /[\x80-\xff]/.test(rawValue) ? Buffer.from(rawValue, 'latin1').toString('utf8') : rawValue;
    headers.push({ name: line.slice(0, colon).trim(), value: decodeEncodedWords(value) });
  }
  return headers;
}

export function parseContentType(value: string | undefined): { mimeType: string; params: Record<string, string> } {
  if (!value) return { mimeType: 'text/plain', params: { charset: 'us-ascii' } };
  const [type = 'text/plain', ...rest] = value.split(';');
  const params: Record<string, string> = {};
  for (const piece of rest) {
    const eq = piece.indexOf('=');
    if (eq < 0) continue;
    const key = piece.slice(0, eq).trim().toLowerCase();
    params[key] = piece.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1');
  }
  return { mimeType: type.trim().toLowerCase(), params };
}

function decodeQuotedPrintable(text: string): Buffer {
  const soft = text.replace(/=\r?\n/g, '');
  const bytes: number[] = [];
  for (let i = 0; i < soft.length; i++) {
    const ch = soft[i];
    const hex = soft.slice(i + 1, i + 3);
    if (ch === '=' && /^[0-9A-Fa-f]{2}$/.test(hex)) {
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else {
      bytes.push(soft.charCodeAt(i) & 0xff);
    }
  }
  return Buffer.from(bytes);
}

function decodeTransfer(body: string, encoding: string | undefined): Buffer {
  switch ((encoding ?? '7bit').trim().toLowerCase()) {
    case 'base64':
      return Buffer.from(body.replace(/\s+/g, ''), 'base64');
    case 'quoted-printable':
      return decodeQuotedPrintable(body);
    default:
      return Buffer.from(body, 'latin1');
  }
}

function parseEntity(text: string): MimePart {
  const split = /\r?\n\r?\n/.exec(text);
  const headerBlock = split ? text.slice(0, split.index) : text;
  const bodyText = split ? text.slice(split.index + split[0].length) : '';
  const headers = parseHeaderBlock(headerBlock);
  const { mimeType, params } = parseContentType(headerOf({ headers }, 'Content-Type'));
  const boundary = params.boundary;
  if (mimeType.startsWith('multipart/') && boundary) {
    return { headers, mimeType, params, body: Buffer.alloc(0), parts: splitMultipart(bodyText, boundary).map(parseEntity) };
  }
  return { headers, mimeType, params, body: decodeTransfer(bodyText, headerOf({ headers }, 'Content-Transfer-Encoding')), parts: [] };
}

function splitMultipart(body: string, boundary: string): string[] {
  const delimiter = `--${boundary}`;
  const lines = body.split(/\r?\n/);
  const chunks: string[] = [];
  let current: string[] | null = null;
  for (const line of lines) {
    const trimmed = line.trimEnd();
    if (trimmed === `${delimiter}--`) break;
    if (trimmed === delimiter) {
      if (current) chunks.push(current.join('\r\n'));
      current = [];
      continue;
    }
    current?.push(line);
  }
  if (current) chunks.push(current.join('\r\n'));
  return chunks;
}

export function parseMime(raw: Buffer): MimePart {
  return parseEntity(raw.toString('latin1'));
}

/** The first text part of the given type, decoded to a string. */
export function findText(part: MimePart, mimeType: 'text/plain' | 'text/html'): string | null {
  if (part.parts.length === 0) {
    const disposition = headerOf(part, 'Content-Disposition') ?? '';
    if (part.mimeType === mimeType && !/^attachment/i.test(disposition)) return decodeText(part.body, part.params.charset);
    return null;
  }
  for (const child of part.parts) {
    const found = findText(child, mimeType);
    if (found !== null) return found;
  }
  return null;
}

/** The plain text of a message: its text/plain part, or its HTML with the tags removed. */
export function plainTextOf(part: MimePart): string {
  const plain = findText(part, 'text/plain');
  if (plain !== null) return plain.replace(/\r\n/g, '\n');
  const html = findText(part, 'text/html') ?? '';
  return html
    .replace(/<br\s*\/?>/gi, '\n')
    .replace(/<\/(p|div|blockquote)>/gi, '\n')
    // `[^<>]*` stops at the next "<": linear even on a hostile run of "<" (what `[^>]+` is not).
    .replace(/<[^<>]*>/g, '')
    .replace(/&nbsp;/g, ' ')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&');
}

function encodeHeaderText(value: string): string {
  const clean = value.replace(/[\r\n]+/g, ' ');
  return /^[\x20-\x7e]*$/.test(clean) ? clean : `=?UTF-8?B?${Buffer.from(clean, 'utf8').toString('base64')}?=`;
}

/** Encodes only the display name of `Name <a@b>`, so the address itself stays parseable. */
function encodeAddress(value: string): string {
  const clean = value.replace(/[\r\n]+/g, ' ').trim();
  const match = /^(.*?)\s*<([^>]+)>$/.exec(clean);
  if (!match) return clean;
  const name = (match[1] ?? '').replace(/^"(.*)"$/, '$1');
  if (name === '') return `<${match[2]}>`;
  const shown = /^[\x20-\x7e]*$/.test(name) ? `"${name.replace(/["\\]/g, '')}"` : encodeHeaderText(name);
  return `${shown} <${match[2]}>`;
}

function encodeQuotedPrintable(text: string): string {
  return text
    .replace(/\r\n/g, '\n')
    .split('\n')
    .map((line) => {
      const bytes = Buffer.from(line, 'utf8');
      let out = '';
      let current = '';
      bytes.forEach((b, i) => {
        const last = i === bytes.length - 1;
        const literal = (b >= 33 && b <= 126 && b !== 61) || ((b === 32 || b === 9) && !last);
        const token = literal ? String.fromCharCode(b) : `=${b.toString(16).toUpperCase().padStart(2, '0')}`;
        if (current.length + token.length > 75) {
          out += `${current}=\r\n`;
          current = '';
        }
        current += token;
      });
      return out + current;
    })
    .join('\r\n');
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Gmail-style HTML: quoted lines go into a blockquote, like a real client renders a reply. */
function toHtml(text: string): string {
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  const firstQuote = lines.findIndex((l) => l.startsWith('>'));
  const own = firstQuote < 0 ? lines : lines.slice(0, firstQuote);
  const quoted = firstQuote < 0 ? [] : lines.slice(firstQuote).map((l) => l.replace(/^> ?/, ''));
  const body = own.map(escapeHtml).join('<br>\r\n');
  const quote = quoted.length > 0 ? `\r\n<blockquote class="gmail_quote">${quoted.map(escapeHtml).join('<br>\r\n')}</blockquote>` : '';
  return `<div dir="ltr">${body}</div>${quote}\r\n`;
}

export interface InboundMime {
  from: string;
  to: string;
  subject: string;
  messageId: string;
  inReplyTo: string | null;
  references: string | null;
  date: Date;
  text: string;
}

/** A reply as a typical mail client sends it: multipart/alternative, plain text and HTML. */
export function buildInboundMime(m: InboundMime, boundary: string): Buffer {
  const headers = [
    'MIME-Version: 1.0',
    `Date: ${m.date.toUTCString().replace('GMT', '+0000')}`,
    ...(m.references ? [`References: ${m.references}`] : []),
    ...(m.inReplyTo ? [`In-Reply-To: ${m.inReplyTo}`] : []),
    `Message-ID: ${m.messageId}`,
    `Subject: ${encodeHeaderText(m.subject)}`,
    `From: ${encodeAddress(m.from)}`,
    `To: ${encodeAddress(m.to)}`,
    `Content-Type: multipart/alternative; boundary="${boundary}"`,
  ];
  const html = Buffer.from(toHtml(m.text), 'utf8').toString('base64').replace(/.{76}/g, '$&\r\n');
  const body = [
    `--${boundary}`,
    'Content-Type: text/plain; charset="UTF-8"',
    'Content-Transfer-Encoding: quoted-printable',
    '',
    encodeQuotedPrintable(m.text),
    `--${boundary}`,
    'Content-Type: text/html; charset="UTF-8"',
    'Content-Transfer-Encoding: base64',
    '',
    html,
    `--${boundary}--`,
    '',
  ];
  return Buffer.from(`${headers.join('\r\n')}\r\n\r\n${body.join('\r\n')}`, 'latin1');
}

/** Adds the headers Gmail fills in on send when the client left them out. */
export function withDefaultHeaders(raw: Buffer, defaults: MimeHeader[]): Buffer {
  if (defaults.length === 0) return raw;
  const prefix = defaults.map((h) => `${h.name}: ${encodeHeaderText(h.value)}\r\n`).join('');
  return Buffer.concat([Buffer.from(prefix, 'latin1'), raw]);
}

/** The bare address of `"Name" <a@b>` (lower-cased), or the value itself. */
export function addressOf(value: string): string {
  const angle = /<([^>]+)>/.exec(value);
  return (angle?.[1] ?? value).trim().toLowerCase();
}
