import http from 'node:http';
import { gunzipSync, inflateSync } from 'node:zlib';
import { z } from 'zod';
import { listenOnLoopback } from '../listen';
import { EnvelopeError, parseEnvelope } from './envelope.parser';

/** The public key in the sandbox's DSN; envelopes under another key are refused, as Sentry does. */
export const SENTRY_SANDBOX_KEY = 'sandboxpublickey0123456789abcdef';
const PROJECT_ID = '4242';

// Sentry itself accepts far more; anything near these bounds from Parley would be a bug.
const MAX_BODY_BYTES = 2 * 1024 * 1024;
const MAX_DECODED_BYTES = 8 * 1024 * 1024;

const sentryEvent = z
  .object({
    event_id: z.string().optional(),
    level: z.string().optional(),
    message: z.union([z.string(), z.object({ formatted: z.string().optional(), message: z.string().optional() }).passthrough()]).optional(),
    release: z.string().optional(),
    environment: z.string().optional(),
    server_name: z.string().optional(),
    tags: z.record(z.string(), z.unknown()).optional(),
    contexts: z.record(z.string(), z.unknown()).optional(),
    extra: z.record(z.string(), z.unknown()).optional(),
    request: z.record(z.string(), z.unknown()).optional(),
    user: z.record(z.string(), z.unknown()).optional(),
    breadcrumbs: z.union([z.array(z.unknown()), z.object({ values: z.array(z.unknown()) })]).optional(),
    exception: z.object({ values: z.array(z.object({ type: z.string().optional(), value: z.string().optional() }).passthrough()).optional() }).optional(),
  })
  .passthrough();

export type SentryEventPayload = z.infer<typeof sentryEvent>;

export interface ReceivedSentryEvent {
  receivedAt: Date;
  projectId: string;
  event: SentryEventPayload;
  /** The event item exactly as received (decoded), for scanning. */
  raw: string;
  /** The envelope's content-encoding ('identity' when none): the SDK gzips large envelopes. */
  encoding: string;
}

export interface SentrySandboxOptions {
  port?: number;
  publicKey?: string;
}

export interface SentrySandbox {
  url: string;
  port: number;
  /** `http://<key>@127.0.0.1:<port>/<project>`, what SENTRY_DSN is set to. */
  dsn: string;
  /** Error events received so far (transactions, sessions and client reports are not events). */
  events: () => ReceivedSentryEvent[];
  /** Every envelope received so far, decoded, whatever its items: what a privacy scan reads. */
  envelopes: () => string[];
  /** Envelopes refused (bad key, bad format, too large), with the reason. */
  rejected: () => { status: number; reason: string }[];
  reset: () => void;
  env: () => Record<string, string>;
  close: () => Promise<void>;
}

function readBody(req: http.IncomingMessage): Promise<Buffer | 'too_large'> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.on('end', () => resolve(size > MAX_BODY_BYTES ? 'too_large' : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function decode(body: Buffer, encoding: string | undefined): Buffer {
  const options = { maxOutputLength: MAX_DECODED_BYTES };
  if (encoding === 'gzip') return gunzipSync(body, options);
  if (encoding === 'deflate') return inflateSync(body, options);
  if (encoding === undefined || encoding === '' || encoding === 'identity') return body;
  throw new EnvelopeError(`unsupported content-encoding ${encoding}`);
}

/** The key from the `X-Sentry-Auth` header or the `sentry_key` query parameter (what the SDKs send). */
function sentryKey(req: http.IncomingMessage, url: URL): string | null {
  const header = req.headers['x-sentry-auth'];
  const fromHeader = typeof header === 'string' ? /sentry_key=([^,\s]+)/.exec(header)?.[1] : undefined;
  return fromHeader ?? url.searchParams.get('sentry_key');
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

/**
 * A loopback Sentry ingest: accepts the envelopes the official SDK sends to its DSN
 * (`POST /api/<project>/envelope/`, gzip or plain), checks the key, and keeps the error
 * events for tests to query, plus every envelope's text for privacy scans.
 */
export async function startSentrySandbox(options: SentrySandboxOptions = {}): Promise<SentrySandbox> {
  const publicKey = options.publicKey ?? SENTRY_SANDBOX_KEY;
  let events: ReceivedSentryEvent[] = [];
  let envelopes: string[] = [];
  let rejected: { status: number; reason: string }[] = [];

  const refuse = (res: http.ServerResponse, status: number, reason: string) => {
    rejected.push({ status, reason });
    sendJson(res, status, { detail: reason });
  };

  async function ingest(req: http.IncomingMessage, res: http.ServerResponse, url: URL, projectId: string): Promise<void> {
    const body = await readBody(req);
    if (body === 'too_large') return refuse(res, 413, 'envelope too large');
    if (sentryKey(req, url) !== publicKey) return refuse(res, 401, 'bad sentry_key');
    if (projectId !== PROJECT_ID) return refuse(res, 404, `no project ${projectId}`);
    let decoded: Buffer;
    let envelope;
    const header = req.headers['content-encoding'];
    const encoding = typeof header === 'string' && header.trim() !== '' ? header.trim().toLowerCase() : 'identity';
    try {
      decoded = decode(body, encoding);
      envelope = parseEnvelope(decoded);
    } catch (error) {
      return refuse(res, 400, error instanceof Error ? error.message : 'bad envelope');
    }
    envelopes.push(decoded.toString('utf8'));
    for (const item of envelope.items) {
      if (item.type !== 'event') continue;
      const parsed = sentryEvent.safeParse(item.json);
      if (!parsed.success) return refuse(res, 400, 'event item is not an event');
      events.push({ receivedAt: new Date(), projectId, event: parsed.data, raw: item.payload.toString('utf8'), encoding });
    }
    sendJson(res, 200, { id: envelope.header.event_id ?? null });
  }

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://sandbox');
    const route = /^\/api\/([^/]+)\/envelope\/?$/.exec(url.pathname);
    if (req.method !== 'POST' || !route?.[1]) {
      sendJson(res, 404, { detail: `not found: ${req.method} ${url.pathname}` });
      return;
    }
    ingest(req, res, url, route[1]).catch((error: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { detail: error instanceof Error ? error.message : 'sandbox error' });
      else res.destroy();
    });
  });

  const { port, url } = await listenOnLoopback(server, options.port);
  const dsn = `http://${publicKey}@127.0.0.1:${port}/${PROJECT_ID}`;
  return {
    url,
    port,
    dsn,
    events: () => [...events],
    envelopes: () => [...envelopes],
    rejected: () => [...rejected],
    reset: () => {
      events = [];
      envelopes = [];
      rejected = [];
    },
    env: () => ({ SENTRY_DSN: dsn }),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The event's exception values and message as one string (what a reader of the issue sees). */
export function sentryEventText(event: SentryEventPayload): string {
  const message = typeof event.message === 'string' ? event.message : (event.message?.formatted ?? event.message?.message ?? '');
  return [message, ...(event.exception?.values ?? []).map((v) => `${v.type ?? ''}: ${v.value ?? ''}`)].join('\n');
}
