import { randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';
import { z } from 'zod';
import { ClickUpTaskStore, sandboxTaskSchema, type SandboxTaskInput } from './clickup-task.store';
import { listenOnLoopback } from '../listen';
import { readBody, replyJson } from '../http-io';
import {
  buildClickUpWebhookPayload,
  newHistoryItemId,
  newWebhookId,
  postSignedWebhook,
  type ClickUpWebhookEvent,
  type SendWebhookOptions,
} from './clickup-webhook.sender';

export interface ClickUpSandboxOptions {
  /** @defaultValue 0 (any free port) */
  port?: number;
  /** The personal token the API accepts, compared with the bare `Authorization` header. */
  token: string;
  /** The webhook secret that `sendWebhook` signs with. */
  webhookSecret: string;
  /** The workspace (team) id that `POST /api/v2/team/{team_id}/webhook` accepts. @defaultValue '9015000001' */
  teamId?: string;
}

/** A webhook registered through the API, with the secret ClickUp signs its deliveries with. */
export interface RegisteredWebhook {
  id: string;
  teamId: string;
  endpoint: string;
  events: string[];
  secret: string;
}

export type FailStatus = 429 | 500 | 502 | 503;

export interface FailNextOptions {
  status: FailStatus;
  /** X-RateLimit-Reset (unix seconds) on a 429; null leaves the header out. @defaultValue now + 60 s */
  resetEpochSec?: number | null;
}

export interface ClickUpSandboxRequest {
  method: string;
  path: string;
  status: number;
}

export interface ClickUpSandbox {
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** What CLICKUP_API_URL should be: `<url>/api/v2`. */
  apiUrl: string;
  port: number;
  webhookId: string;
  /** The workspace id the webhook route accepts. */
  teamId: string;
  /** Webhooks created with `POST /api/v2/team/{team_id}/webhook`, oldest first. */
  registeredWebhooks(): RegisteredWebhook[];
  upsertTask(task: SandboxTaskInput): void;
  setStatus(id: string, status: string): void;
  failNext(n: number, options: FailNextOptions): void;
  sendWebhook(url: string, event: ClickUpWebhookEvent, options?: SendWebhookOptions): Promise<number[]>;
  /** Every API request served (control requests excluded), oldest first. */
  requests(): ClickUpSandboxRequest[];
  close(): Promise<void>;
}

const failNextSchema = z.object({
  n: z.number().int().min(0),
  status: z.union([z.literal(429), z.literal(500), z.literal(502), z.literal(503)]),
  resetEpochSec: z.number().int().nullable().optional(),
});
const statusSchema = z.object({ status: z.string().min(1) });
const webhookSchema = z.object({
  url: z.string().url(),
  event: z.string().min(1),
  taskId: z.string().min(1),
  historyItemId: z.string().min(1).optional(),
  webhookId: z.string().min(1).optional(),
  times: z.number().int().min(1).max(100).optional(),
  signWith: z.string().nullable().optional(),
});

const MAX_CONTROL_BODY = 1024 * 1024;
const MAX_API_BODY = 64 * 1024;

// Create Webhook (https://developer.clickup.com/reference/createwebhook): an endpoint and the
// events to send ("*" for all); the location filters are optional.
const createWebhookSchema = z.object({
  endpoint: z.string().url(),
  events: z.array(z.string().min(1)).min(1),
  space_id: z.union([z.string(), z.number()]).nullish(),
  folder_id: z.union([z.string(), z.number()]).nullish(),
  list_id: z.union([z.string(), z.number()]).nullish(),
  task_id: z.string().nullish(),
});

/**
 * A loopback ClickUp API v2 (Get Task) with a control surface, in process and over HTTP
 * under `/_control/...`, so tests, the demo and other processes can script it alike.
 */
export async function startClickUpSandbox(options: ClickUpSandboxOptions): Promise<ClickUpSandbox> {
  const store = new ClickUpTaskStore();
  const log: ClickUpSandboxRequest[] = [];
  const failures: FailNextOptions[] = [];
  const webhookId = newWebhookId();
  const teamId = options.teamId ?? '9015000001';
  const registered: RegisteredWebhook[] = [];

  const control = {
    upsertTask: (task: SandboxTaskInput) => store.upsert(task),
    setStatus: (id: string, status: string) => {
      if (!store.setStatus(id, status)) throw new Error(`ClickUp sandbox: no task ${id}`);
    },
    failNext: (n: number, fail: FailNextOptions) => {
      for (let i = 0; i < n; i++) failures.push(fail);
    },
    sendWebhook: async (url: string, event: ClickUpWebhookEvent, send: SendWebhookOptions = {}) => {
      const payload = buildClickUpWebhookPayload(
        { ...event, webhookId: event.webhookId ?? webhookId, historyItemId: event.historyItemId ?? newHistoryItemId() },
        store.statusChange(event.taskId),
      );
      return postSignedWebhook(url, JSON.stringify(payload), options.webhookSecret, send);
    },
  };

  /** Create Webhook: answered `{ id, webhook: { id, ..., health, secret } }` as ClickUp does. */
  function createWebhook(body: string, team: string, send: (status: number, body: unknown) => void): void {
    if (team !== teamId) return send(401, { err: 'Team not authorized', ECODE: 'OAUTH_027' });
    let parsed: z.infer<typeof createWebhookSchema>;
    try {
      parsed = createWebhookSchema.parse(JSON.parse(body || '{}'));
    } catch {
      return send(400, { err: 'Webhook body invalid: endpoint (a URL) and events are required', ECODE: 'WH_001' });
    }
    const hook: RegisteredWebhook = { id: randomUUID(), teamId, endpoint: parsed.endpoint, events: parsed.events, secret: randomBytes(32).toString('hex').toUpperCase() };
    registered.push(hook);
    send(200, {
      id: hook.id,
      webhook: {
        id: hook.id,
        userid: 183,
        team_id: Number(teamId),
        endpoint: hook.endpoint,
        client_id: 'SANDBOX',
        events: hook.events,
        task_id: parsed.task_id ?? null,
        list_id: parsed.list_id ?? null,
        folder_id: parsed.folder_id ?? null,
        space_id: parsed.space_id ?? null,
        health: { status: 'active', fail_count: 0 },
        secret: hook.secret,
      },
    });
  }

  async function serveApi(req: http.IncomingMessage, res: http.ServerResponse, path: string): Promise<void> {
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      log.push({ method: req.method ?? 'GET', path, status });
      replyJson(res, status, body, headers);
    };
    const resetSoon = String(Math.floor(Date.now() / 1000) + 60);

    const failure = failures.shift();
    if (failure?.status === 429) {
      const headers: Record<string, string> = { 'X-RateLimit-Limit': '100', 'X-RateLimit-Remaining': '0' };
      if (failure.resetEpochSec !== null) headers['X-RateLimit-Reset'] = String(failure.resetEpochSec ?? resetSoon);
      return send(429, { err: 'Rate limit reached', ECODE: 'APP_002' }, headers);
    }
    if (failure) return send(failure.status, { err: 'Internal server error', ECODE: 'APP_500' });

    const authorization = req.headers.authorization;
    if (authorization === undefined || authorization === '') return send(401, { err: 'Authorization header required', ECODE: 'OAUTH_017' });
    // ClickUp takes personal tokens bare; "Bearer pk_…" is as wrong as a wrong token.
    if (authorization !== options.token) return send(401, { err: 'Token invalid', ECODE: 'OAUTH_025' });

    const limits = { 'X-RateLimit-Limit': '100', 'X-RateLimit-Remaining': '99', 'X-RateLimit-Reset': resetSoon };
    const webhookRoute = /^\/api\/v2\/team\/([^/]+)\/webhook\/?$/.exec(path);
    if (req.method === 'POST' && webhookRoute?.[1]) {
      const body = await readBody(req, MAX_API_BODY);
      return createWebhook(body, decodeURIComponent(webhookRoute[1]), (status, reply) => send(status, reply, limits));
    }
    const match = /^\/api\/v2\/task\/([^/]+)\/?$/.exec(path);
    if (req.method !== 'GET' || !match?.[1]) return send(404, { err: 'Route not found', ECODE: 'APP_001' }, limits);
    const task = store.render(decodeURIComponent(match[1]));
    if (!task) return send(404, { err: 'Task not found', ECODE: 'ITEM_013' }, limits);
    return send(200, task, limits);
  }

  async function serveControl(req: http.IncomingMessage, res: http.ServerResponse, path: string): Promise<void> {
    if (req.method === 'GET' && path === '/_control/requests') return replyJson(res, 200, { requests: log });
    if (req.method === 'GET' && path === '/_control/registered-webhooks') return replyJson(res, 200, { webhooks: registered });
    if (req.method !== 'POST') return replyJson(res, 405, { error: 'control routes take POST' });
    const body: unknown = JSON.parse((await readBody(req, MAX_CONTROL_BODY)) || '{}');
    if (path === '/_control/tasks') {
      control.upsertTask(sandboxTaskSchema.parse(body));
      return replyJson(res, 200, { ok: true });
    }
    const statusMatch = /^\/_control\/tasks\/([^/]+)\/status$/.exec(path);
    if (statusMatch?.[1]) {
      const ok = store.setStatus(decodeURIComponent(statusMatch[1]), statusSchema.parse(body).status);
      return replyJson(res, ok ? 200 : 404, ok ? { ok } : { error: 'no such task' });
    }
    if (path === '/_control/fail-next') {
      const { n, ...fail } = failNextSchema.parse(body);
      control.failNext(n, fail);
      return replyJson(res, 200, { ok: true });
    }
    if (path === '/_control/webhooks') {
      const { url, times, signWith, ...event } = webhookSchema.parse(body);
      const statuses = await control.sendWebhook(url, event, { times, ...(signWith === undefined ? {} : { signWith }) });
      return replyJson(res, 200, { statuses });
    }
    return replyJson(res, 404, { error: 'unknown control route' });
  }

  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://sandbox').pathname;
    const handle = path.startsWith('/_control/') ? serveControl(req, res, path) : serveApi(req, res, path);
    handle.catch((error: unknown) => {
      // A malformed control call is the caller's mistake: say what was wrong.
      if (!res.headersSent) replyJson(res, error instanceof z.ZodError || error instanceof SyntaxError ? 400 : 500, { error: String(error) });
    });
  });
  server.keepAliveTimeout = 1_000;

  const { port, url } = await listenOnLoopback(server, options.port);

  return {
    url,
    apiUrl: `${url}/api/v2`,
    port,
    webhookId,
    teamId,
    registeredWebhooks: () => registered.map((hook) => ({ ...hook, events: [...hook.events] })),
    ...control,
    requests: () => [...log],
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
