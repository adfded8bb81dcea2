import { z } from 'zod';

/**
 * Sentry's envelope format (https://develop.sentry.dev/sdk/data-model/envelopes/): a JSON
 * header line, then items, each a JSON header line and a payload. A payload whose header
 * gives a `length` is exactly that many bytes (it may contain newlines or be binary);
 * otherwise it runs to the next newline. Parsed in one pass over the bytes.
 */

const envelopeHeader = z.object({ event_id: z.string().optional(), dsn: z.string().optional(), sent_at: z.string().optional() }).passthrough();
const itemHeader = z.object({ type: z.string().min(1), length: z.number().int().nonnegative().optional() }).passthrough();

export interface EnvelopeItem {
  type: string;
  header: Record<string, unknown>;
  /** The payload parsed as JSON, or null when it is not JSON (attachments). */
  json: unknown;
  payload: Buffer;
}

export interface Envelope {
  header: z.infer<typeof envelopeHeader>;
  items: EnvelopeItem[];
}

export class EnvelopeError extends Error {
  override name = 'EnvelopeError';
}

const NEWLINE = 0x0a;

function parseJsonLine(buf: Buffer, what: string): unknown {
  try {
    return JSON.parse(buf.toString('utf8'));
  } catch {
    throw new EnvelopeError(`${what} is not JSON`);
  }
}

export function parseEnvelope(body: Buffer, maxItems = 100): Envelope {
  let pos = 0;
  const line = (): Buffer => {
    const end = body.indexOf(NEWLINE, pos);
    const out = body.subarray(pos, end < 0 ? body.length : end);
    pos = end < 0 ? body.length : end + 1;
    return out;
  };
  const head = envelopeHeader.safeParse(parseJsonLine(line(), 'envelope header'));
  if (!head.success) throw new EnvelopeError('envelope header is not an object');
  const items: EnvelopeItem[] = [];
  while (pos < body.length) {
    const rawHeader = line();
    if (rawHeader.length === 0) continue;
    if (items.length >= maxItems) throw new EnvelopeError(`more than ${maxItems} items`);
    const parsed = itemHeader.safeParse(parseJsonLine(rawHeader, 'item header'));
    if (!parsed.success) throw new EnvelopeError('item header has no type');
    let payload: Buffer;
    if (parsed.data.length !== undefined) {
      if (pos + parsed.data.length > body.length) throw new EnvelopeError('item payload shorter than its length');
      payload = body.subarray(pos, pos + parsed.data.length);
      pos += parsed.data.length;
      // The newline after a sized payload is optional.
      if (body[pos] === NEWLINE) pos += 1;
    } else {
      payload = line();
    }
    let json: unknown = null;
    try {
      json = JSON.parse(payload.toString('utf8'));
    } catch {
      json = null;
    }
    items.push({ type: parsed.data.type, header: parsed.data, json, payload });
  }
  return { header: head.data, items };
}
