import { headerOf, plainTextOf, type MimePart } from './mime';
import type { StoredMessage } from './gmail.store';

/** The four `format` values of messages.get / threads.get. */
export type MessageFormat = 'full' | 'metadata' | 'minimal' | 'raw';

export function parseFormat(value: string | null): MessageFormat | null {
  if (value === null || value === '') return 'full';
  const lower = value.toLowerCase();
  return lower === 'full' || lower === 'metadata' || lower === 'minimal' || lower === 'raw' ? lower : null;
}

interface PayloadPart {
  partId: string;
  mimeType: string;
  filename: string;
  headers: { name: string; value: string }[];
  body: { size: number; data?: string };
  parts?: PayloadPart[];
}

function filenameOf(part: MimePart): string {
  const disposition = headerOf(part, 'Content-Disposition') ?? '';
  const match = /filename="?([^";]+)"?/i.exec(disposition) ?? /name="?([^";]+)"?/i.exec(headerOf(part, 'Content-Type') ?? '');
  return match?.[1] ?? '';
}

/** Gmail's MessagePart tree: containers have an empty body, leaves carry base64url data. */
function payloadOf(part: MimePart, partId: string): PayloadPart {
  const base = { partId, mimeType: part.mimeType, filename: filenameOf(part), headers: part.headers.map((h) => ({ ...h })) };
  if (part.parts.length > 0) {
    return {
      ...base,
      body: { size: 0 },
      parts: part.parts.map((child, i) => payloadOf(child, partId === '' ? String(i) : `${partId}.${i}`)),
    };
  }
  return { ...base, body: { size: part.body.length, ...(part.body.length > 0 ? { data: part.body.toString('base64url') } : {}) } };
}

function snippetOf(message: StoredMessage): string {
  const text = plainTextOf(message.mime).replace(/\s+/g, ' ').trim().slice(0, 200);
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/'/g, '&#39;').replace(/"/g, '&quot;');
}

export function messageResource(message: StoredMessage, format: MessageFormat, metadataHeaders: string[] = []): Record<string, unknown> {
  const minimal = {
    id: message.id,
    threadId: message.threadId,
    labelIds: [...message.labelIds],
    snippet: snippetOf(message),
    sizeEstimate: message.raw.length,
    historyId: String(message.historyId),
    internalDate: String(message.internalDate),
  };
  switch (format) {
    case 'minimal':
      return minimal;
    case 'raw':
      return { ...minimal, raw: message.raw.toString('base64url') };
    case 'metadata': {
      const wanted = metadataHeaders.map((h) => h.toLowerCase());
      const headers = message.mime.headers.filter((h) => wanted.length === 0 || wanted.includes(h.name.toLowerCase()));
      return { ...minimal, payload: { partId: '', mimeType: message.mime.mimeType, filename: '', headers, body: { size: 0 } } };
    }
    case 'full':
      return { ...minimal, payload: payloadOf(message.mime, '') };
  }
}
