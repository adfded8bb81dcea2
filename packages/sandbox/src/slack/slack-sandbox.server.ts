import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { listenOnLoopback } from '../listen';
import { SlackFaults, slackFaultSchema, type SlackFault } from './slack-faults';
import { SLACK_METHODS, type SlackAnswer, type SlackParams, type TokenKind } from './slack.methods';
import { SlackStore, type SlackSandboxEphemeral, type SlackSandboxMessage, type SlackSandboxUser } from './slack.store';
import { readBody, replyJson } from '../http-io';

export interface SlackSandboxOptions {
  /** @defaultValue 0 (any free port) */
  port?: number;
  /** @defaultValue a fresh `xoxb-…` */
  botToken?: string;
  /** @defaultValue a fresh `xapp-…` */
  appToken?: string;
  /** @defaultValue a fresh random secret */
  signingSecret?: string;
  /** The alert channel. @defaultValue `{ id: 'C0PARLEYALERTS', name: 'parley-alerts' }` */
  channel?: { id: string; name: string };
  /** Workspace members. @defaultValue two operators, U0OPERATOR1 and U0OPERATOR2 */
  users?: SlackSandboxUser[];
  /** User groups by id. @defaultValue `{ S0OPERATORS: [both default operators] }` */
  usergroups?: Record<string, string[]>;
  /** What apps.connections.open answers with (a `ws://` URL); without it that call fails. */
  socketModeUrl?: () => string | Promise<string>;
}

export interface SlackSandboxCall {
  method: string;
  /** The parameters as the stand-in parsed them (the token never included). */
  params: SlackParams;
  /** 200 or 429, or 0 when the connection was dropped. */
  status: number;
  ok: boolean;
  error?: string;
  at: number;
}

export interface SlackSandbox {
  /** What SLACK_API_URL should be: `http://127.0.0.1:<port>/api/`. */
  url: string;
  port: number;
  botToken: string;
  appToken: string;
  signingSecret: string;
  /** The alert channel's id. */
  channel: string;
  /** Every Web API call served, oldest first (control requests excluded). */
  calls(method?: string): SlackSandboxCall[];
  /** Every message posted (replies included), oldest first; as updated by chat.update. */
  messages(channel?: string): SlackSandboxMessage[];
  ephemerals(channel?: string): SlackSandboxEphemeral[];
  /** Arms a fault for the next calls (see SlackFault). */
  fault(fault: SlackFault): void;
  clearFaults(): void;
  addUser(user: SlackSandboxUser): void;
  setUsergroup(id: string, users: string[]): void;
  /** The DM channel id the stand-in gives a conversation with this user. */
  dmChannelOf(userId: string): string;
  setSocketModeUrl(fn: (() => string | Promise<string>) | null): void;
  /** The variables a Parley process needs; SLACK_APP_TOKEN only when Socket Mode is wanted. */
  env(options?: { socketMode?: boolean }): Record<string, string>;
  close(): Promise<void>;
}

const MAX_BODY = 1024 * 1024;
const DEFAULT_USERS: SlackSandboxUser[] = [
  { id: 'U0OPERATOR1', name: 'olivia', real_name: 'Olivia Operator' },
  { id: 'U0OPERATOR2', name: 'omar', real_name: 'Omar Operator' },
];

const callsQuery = z.object({ method: z.string().optional(), channel: z.string().optional() });

/**
 * A loopback Slack Web API for the official WebClient: `POST {url}{method}` with a Bearer token
 * and a form-encoded or JSON body, `{ok:false,error}` with HTTP 200, 429 with Retry-After.
 * Faults are scripted in process or over HTTP under `/_control/...`.
 */
export async function startSlackSandbox(options: SlackSandboxOptions = {}): Promise<SlackSandbox> {
  const botToken = options.botToken ?? `xoxb-sandbox-${randomBytes(12).toString('hex')}`;
  const appToken = options.appToken ?? `xapp-1-sandbox-${randomBytes(12).toString('hex')}`;
  const signingSecret = options.signingSecret ?? randomBytes(16).toString('hex');
  const alertChannel = options.channel ?? { id: 'C0PARLEYALERTS', name: 'parley-alerts' };
  let socketModeUrl = options.socketModeUrl ?? null;

  const store = new SlackStore();
  store.addChannel(alertChannel);
  const users = options.users ?? DEFAULT_USERS;
  for (const user of users) store.addUser(user);
  for (const [id, members] of Object.entries(options.usergroups ?? { S0OPERATORS: DEFAULT_USERS.map((u) => u.id) })) store.setUsergroup(id, members);
  const faults = new SlackFaults();
  const log: SlackSandboxCall[] = [];

  function tokenKind(req: http.IncomingMessage, params: SlackParams): TokenKind | 'missing' | 'invalid' {
    const header = req.headers.authorization;
    const token = header?.startsWith('Bearer ') ? header.slice('Bearer '.length) : typeof params.token === 'string' ? params.token : undefined;
    if (!token) return 'missing';
    if (token === botToken) return 'bot';
    if (token === appToken) return 'app';
    return 'invalid';
  }

  async function serveApi(req: http.IncomingMessage, res: http.ServerResponse, method: string): Promise<void> {
    const params = parseParams(req.headers['content-type'], await readBody(req, MAX_BODY));
    const { token: _token, ...shown } = params;
    const record = (status: number, answer: SlackAnswer | null) =>
      log.push({ method, params: shown, status, ok: answer?.ok ?? false, ...(answer && !answer.ok ? { error: answer.error } : {}), at: Date.now() });
    const answer = (status: number, body: SlackAnswer, headers: Record<string, string> = {}) => {
      record(status, body);
      replyJson(res, status, body, headers);
    };

    if (req.method !== 'POST' && req.method !== 'GET') return answer(200, { ok: false, error: 'invalid_request' });
    const fault = faults.take(method);
    if (fault?.kind === 'slow') await sleep(fault.delayMs);
    if (fault?.kind === 'rate_limited') return answer(429, { ok: false, error: 'ratelimited' }, { 'Retry-After': String(fault.retryAfterSec) });
    if (fault?.kind === 'error') return answer(200, { ok: false, error: fault.error });
    if (fault?.kind === 'http_error') {
      record(fault.status, null);
      res.writeHead(fault.status, { 'Content-Type': 'text/html' });
      return void res.end('<html><body>upstream error</body></html>');
    }

    const spec = SLACK_METHODS[method];
    if (!spec) return answer(200, { ok: false, error: 'unknown_method' });
    const kind = tokenKind(req, params);
    if (kind === 'missing') return answer(200, { ok: false, error: 'not_authed' });
    if (kind === 'invalid') return answer(200, { ok: false, error: 'invalid_auth' });
    if (spec.token !== 'any' && spec.token !== kind) return answer(200, { ok: false, error: 'not_allowed_token_type' });

    const result = await spec.run({ store, params, socketModeUrl: async () => (socketModeUrl ? socketModeUrl() : null) });
    if (fault?.kind === 'drop_after_accept') {
      // The call took effect; its answer never reaches the client.
      record(0, result);
      return void req.socket.destroy();
    }
    return answer(200, result);
  }

  async function serveControl(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> {
    const query = callsQuery.parse(Object.fromEntries(url.searchParams));
    if (req.method === 'GET' && url.pathname === '/_control/calls') return replyJson(res, 200, { calls: sandbox.calls(query.method) });
    if (req.method === 'GET' && url.pathname === '/_control/messages') return replyJson(res, 200, { messages: sandbox.messages(query.channel) });
    if (req.method !== 'POST') return replyJson(res, 405, { error: 'control routes take POST' });
    const body: unknown = JSON.parse((await readBody(req, MAX_BODY)) || '{}');
    if (url.pathname === '/_control/faults') {
      faults.add(slackFaultSchema.parse(body));
      return replyJson(res, 200, { ok: true });
    }
    if (url.pathname === '/_control/faults/clear') {
      faults.clear();
      return replyJson(res, 200, { ok: true });
    }
    return replyJson(res, 404, { error: 'unknown control route' });
  }

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://sandbox');
    const apiMethod = /^\/api\/([a-zA-Z.]+)$/.exec(url.pathname)?.[1];
    const handle = url.pathname.startsWith('/_control/')
      ? serveControl(req, res, url)
      : apiMethod
        ? serveApi(req, res, apiMethod)
        : Promise.resolve(replyJson(res, 404, { ok: false, error: 'unknown_method' }));
    handle.catch((error: unknown) => {
      if (!res.headersSent) replyJson(res, error instanceof z.ZodError || error instanceof SyntaxError ? 400 : 500, { error: String(error) });
    });
  });
  server.keepAliveTimeout = 1_000;
  const { port, url } = await listenOnLoopback(server, options.port);

  const sandbox: SlackSandbox = {
    url: `${url}/api/`,
    port,
    botToken,
    appToken,
    signingSecret,
    channel: alertChannel.id,
    calls: (method) => log.filter((c) => method === undefined || c.method === method).map((c) => structuredClone(c)),
    messages: (channel) => store.messages(channel),
    ephemerals: (channel) => store.ephemerals(channel),
    fault: (fault) => faults.add(fault),
    clearFaults: () => faults.clear(),
    addUser: (user) => store.addUser(user),
    setUsergroup: (id, members) => store.setUsergroup(id, members),
    dmChannelOf: (userId) => store.openDm(userId).id,
    setSocketModeUrl: (fn) => {
      socketModeUrl = fn;
    },
    env: (envOptions = {}) => ({
      SLACK_BOT_TOKEN: botToken,
      SLACK_API_URL: `${url}/api/`,
      SLACK_ALERT_CHANNEL: alertChannel.id,
      SLACK_SIGNING_SECRET: signingSecret,
      ...(envOptions.socketMode ? { SLACK_APP_TOKEN: appToken } : {}),
    }),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
  return sandbox;
}

/** Slack takes form-encoded bodies (the WebClient's default) and JSON bodies alike. */
function parseParams(contentType: string | undefined, body: string): SlackParams {
  if (body === '') return {};
  if (contentType?.includes('application/json')) {
    const parsed: unknown = JSON.parse(body);
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as SlackParams) : {};
  }
  return Object.fromEntries(new URLSearchParams(body));
}
