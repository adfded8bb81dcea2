import http from 'node:http';
import { handleControl } from './control.routes';
import { googleError, injectedFailure, notFound, unauthenticated, type Reply } from './google-errors';
import { handleGmail } from './gmail.routes';
import { GmailMailbox, viewOf, type HistoryNotification, type InboundMail, type MailView, type WatchState } from './gmail.store';
import { OAUTH_CONSENT_PATH, OAuthStore, type SandboxCredentials } from './oauth.store';
import { SheetsStore } from './sheets.store';
import { listenOnLoopback } from '../listen';

export interface GoogleSandboxOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  /** The address `me` stands for. */
  mailbox?: string;
  credentials?: Partial<SandboxCredentials>;
  /** The first history id (default: around 9,000,000,000, like a mature mailbox). */
  historyStart?: number;
}

export interface FailureOptions {
  status: number;
  /** Seconds, sent as `Retry-After`. */
  retryAfter?: number;
  /** Which API the failures hit (default gmail). */
  api?: 'gmail' | 'sheets';
  /** Only requests whose path contains this (e.g. `/messages/<id>`); default any. */
  pathContains?: string;
}

export interface RawDelivery {
  /** The thread it lands in (as Gmail would thread the reply); absent: a new conversation. */
  threadId?: string;
}

export interface DeliveredMessage {
  id: string;
  threadId: string;
  historyId: string;
  messageIdHdr: string;
}

export interface RequestRecord {
  method: string;
  path: string;
  query: string;
  status: number;
}

export interface GoogleSandbox {
  /** Root URL for googleapis' `rootUrl` (ends with `/`). */
  readonly url: string;
  readonly port: number;
  readonly tokenUrl: string;
  readonly mailbox: string;
  readonly credentials: SandboxCredentials;
  /** The env a Parley process needs to use this sandbox as its Google. */
  env(): Record<string, string>;
  setSheet(spreadsheetId: string, range: string, values: (string | number | boolean | null)[][]): void;
  deliverInbound(mail: InboundMail): DeliveredMessage;
  /**
   * An email exactly as an influencer's mail client (or an attacker) wrote it: raw RFC 5322
   * bytes, stored as is and served as Gmail would parse them. For hostile-input tests.
   */
  deliverRaw(raw: Buffer | string, options?: RawDelivery): DeliveredMessage;
  sent(): MailView[];
  messagesInThread(threadId: string): MailView[];
  expireHistoryBefore(historyId: string | number): void;
  /** A message deleted for good (messages.get answers 404; history still lists it). */
  deleteMessage(id: string): boolean;
  failNext(n: number, options: FailureOptions): void;
  onHistory(listener: (n: HistoryNotification) => void): () => void;
  onSent(listener: (m: MailView) => void): () => void;
  notifications(): HistoryNotification[];
  currentHistoryId(): string;
  watch(): WatchState | null;
  expireAccessTokens(): void;
  revokeRefreshToken(): void;
  requests(): RequestRecord[];
  state(): Record<string, unknown>;
  close(): Promise<void>;
}

const MAX_BODY = 36 * 1024 * 1024;

function readBody(req: http.IncomingMessage): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY) chunks.push(chunk);
    });
    req.on('end', () => resolve(size > MAX_BODY ? null : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function parseJson(raw: Buffer): { ok: true; value: unknown } | { ok: false } {
  if (raw.length === 0) return { ok: true, value: {} };
  try {
    return { ok: true, value: JSON.parse(raw.toString('utf8')) as unknown };
  } catch {
    return { ok: false };
  }
}

function send(res: http.ServerResponse, reply: Reply): void {
  const headers: Record<string, string> = { ...reply.headers };
  if (reply.body === undefined) {
    res.writeHead(reply.status, headers).end();
    return;
  }
  res.writeHead(reply.status, { 'Content-Type': 'application/json; charset=UTF-8', ...headers }).end(JSON.stringify(reply.body));
}

/** Starts the Google stand-in (OAuth token endpoint, Gmail, Sheets, control API) on loopback. */
export async function startGoogleSandbox(options: GoogleSandboxOptions = {}): Promise<GoogleSandbox> {
  const address = options.mailbox ?? 'deals@parley.test';
  const credentials: SandboxCredentials = {
    clientId: options.credentials?.clientId ?? 'sandbox-client.apps.googleusercontent.com',
    clientSecret: options.credentials?.clientSecret ?? 'sandbox-client-secret',
    refreshToken: options.credentials?.refreshToken ?? '1//sandbox-refresh-token',
  };
  const mailbox = new GmailMailbox(address, options.historyStart ?? 9_000_000_000 + Math.floor(Math.random() * 1_000_000));
  const oauth = new OAuthStore(credentials);
  const sheets = new SheetsStore();
  const failures: { status: number; api: 'gmail' | 'sheets'; retryAfter?: number; pathContains?: string }[] = [];
  const log: RequestRecord[] = [];
  const notifications: HistoryNotification[] = [];
  mailbox.onHistory((n) => notifications.push(n));

  const takeFailure = (api: 'gmail' | 'sheets', path: string): Reply | null => {
    const index = failures.findIndex((f) => f.api === api && (f.pathContains === undefined || path.includes(f.pathContains)));
    if (index < 0) return null;
    const [failure] = failures.splice(index, 1);
    return failure ? injectedFailure(failure.status, failure.retryAfter) : null;
  };

  const route = (method: string, url: URL, body: Buffer, headers: http.IncomingHttpHeaders): Reply => {
    const path = url.pathname;
    if (path === '/token') {
      if (method !== 'POST') return notFound();
      if (!/json/i.test(headers['content-type'] ?? '')) return oauth.refresh(new URLSearchParams(body.toString('utf8')));
      const parsed = parseJson(body);
      const fields = parsed.ok && typeof parsed.value === 'object' && parsed.value !== null ? Object.entries(parsed.value).map(([k, v]): [string, string] => [k, String(v)]) : [];
      return oauth.refresh(new URLSearchParams(fields));
    }
    if (path === OAUTH_CONSENT_PATH) return oauth.consent(method, url.searchParams);
    const segments = path.split('/').filter(Boolean).map(decodeURIComponent);
    if (segments[0] === '_control') {
      const parsed = parseJson(body);
      return parsed.ok ? handleControl(sandbox, method, segments.slice(1), url.searchParams, parsed.value) : googleError(400, 'Invalid JSON', 'parseError');
    }
    const gmail = segments[0] === 'gmail' && segments[1] === 'v1' && segments[2] === 'users' && segments[3] !== undefined;
    const sheetsCall = segments[0] === 'v4' && segments[1] === 'spreadsheets';
    if (!gmail && !sheetsCall) return notFound();
    if (!oauth.isValid(headers.authorization)) return unauthenticated();
    const injected = takeFailure(gmail ? 'gmail' : 'sheets', path);
    if (injected) return injected;
    const parsed = parseJson(body);
    if (!parsed.ok) return googleError(400, 'Invalid JSON payload received.', 'parseError');
    if (gmail) {
      const userId = (segments[3] ?? '').toLowerCase();
      if (userId !== 'me' && userId !== address.toLowerCase()) return googleError(403, 'Delegation denied for the requested user.', 'forbidden');
      return handleGmail(mailbox, { method, segments: segments.slice(4), query: url.searchParams, body: parsed.value });
    }
    // The range is one percent-encoded path segment; '/' inside it never appears unencoded.
    const match = /^\/v4\/spreadsheets\/([^/]+)\/values\/(.+)$/.exec(path);
    if (method !== 'GET' || !match?.[1] || !match[2]) return notFound();
    return sheets.getValues(decodeURIComponent(match[1]), decodeURIComponent(match[2]));
  };

  const server = http.createServer((req, res) => {
    void (async () => {
      const method = req.method ?? 'GET';
      const url = new URL(req.url ?? '/', 'http://sandbox.local');
      let reply: Reply;
      try {
        const body = await readBody(req);
        reply = body === null ? googleError(413, 'Request payload size exceeds the limit.', 'uploadTooLarge') : route(method, url, body, req.headers);
      } catch (error) {
        console.error('google sandbox: request failed', error);
        reply = googleError(500, 'Backend Error', 'backendError');
      }
      if (!url.pathname.startsWith('/_control/')) log.push({ method, path: url.pathname, query: url.search, status: reply.status });
      send(res, reply);
    })();
  });
  // Google's front ends keep an idle connection open for minutes. With Node's 5 s default, a
  // test that blocks this process for seconds (building a huge message in deliverInbound) had the
  // idle socket closed under the client's next request: a reset Google would not cause there.
  server.keepAliveTimeout = 120_000;
  server.headersTimeout = 121_000;

  const { port } = await listenOnLoopback(server, options.port);
  const root = `http://127.0.0.1:${port}/`;

  const sandbox: GoogleSandbox = {
    url: root,
    port,
    tokenUrl: `${root}token`,
    mailbox: address,
    credentials,
    env: () => ({
      GOOGLE_API_ROOT_URL: root,
      GOOGLE_TOKEN_URL: `${root}token`,
      GOOGLE_CLIENT_ID: credentials.clientId,
      GOOGLE_CLIENT_SECRET: credentials.clientSecret,
      GOOGLE_REFRESH_TOKEN: credentials.refreshToken,
      GMAIL_MAILBOX: address,
    }),
    setSheet: (id, range, values) => sheets.setSheet(id, range, values),
    deliverInbound: (mail) => {
      const message = mailbox.deliver(mail);
      return { id: message.id, threadId: message.threadId, historyId: String(message.historyId), messageIdHdr: viewOf(message).messageIdHdr ?? '' };
    },
    deliverRaw: (raw, o = {}) => {
      const message = mailbox.deliverRaw(typeof raw === 'string' ? Buffer.from(raw, 'utf8') : raw, o.threadId);
      return { id: message.id, threadId: message.threadId, historyId: String(message.historyId), messageIdHdr: viewOf(message).messageIdHdr ?? '' };
    },
    sent: () => mailbox.sent(),
    messagesInThread: (threadId) => mailbox.messagesInThread(threadId).map(viewOf),
    expireHistoryBefore: (historyId) => mailbox.expireHistoryBefore(Number(historyId)),
    deleteMessage: (id) => mailbox.deleteMessage(id),
    failNext: (n, opts) => {
      for (let i = 0; i < n; i++) failures.push({ status: opts.status, retryAfter: opts.retryAfter, api: opts.api ?? 'gmail', pathContains: opts.pathContains });
    },
    onHistory: (listener) => mailbox.onHistory(listener),
    onSent: (listener) => mailbox.onSent(listener),
    notifications: () => [...notifications],
    currentHistoryId: () => String(mailbox.historyId),
    watch: () => (mailbox.watch ? { ...mailbox.watch } : null),
    expireAccessTokens: () => oauth.expireAccessTokens(),
    revokeRefreshToken: () => oauth.revokeRefreshToken(),
    requests: () => [...log],
    state: () => ({
      mailbox: address,
      historyId: String(mailbox.historyId),
      oldestRetainedHistoryId: String(mailbox.oldestRetained),
      watch: mailbox.watch,
      messages: mailbox.messages.size,
      threads: mailbox.threads.size,
      tokensIssued: oauth.tokensIssued,
      pendingFailures: failures.length,
    }),
    close: async () => {
      mailbox.removeListeners();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return sandbox;
}
