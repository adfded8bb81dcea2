import http from 'node:http';
import { anthropicFault, errorBody, faultList, type AnthropicFault } from './faults';
import { messageResponse, messagesRequest, newId, requestProblem } from './messages.route';
import { listenOnLoopback } from '../listen';
import { createTrafficShaper, type AnthropicTraffic } from './traffic';

export interface AnthropicSandboxOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  /** When set, only this key is accepted; otherwise any non-empty key is. */
  apiKey?: string;
  /** Latency and an enforced requests-per-minute limit (traffic.ts). */
  traffic?: AnthropicTraffic;
}

/** One request to POST /v1/messages, as the sandbox saw and answered it. */
export interface AnthropicSandboxCall {
  n: number;
  at: string;
  requestId: string;
  auth: 'x-api-key' | 'bearer' | 'none';
  anthropicVersion: string | null;
  model: string | null;
  tool: string | null;
  status: number;
  fault: AnthropicFault | null;
  body: unknown;
  /** Trace-propagation headers the request carried (`sentry-trace`, `baggage`, `traceparent`, `tracestate`), by name. */
  traceHeaders: string[];
}

const TRACE_HEADERS = ['sentry-trace', 'baggage', 'traceparent', 'tracestate'] as const;

export interface AnthropicSandbox {
  /** The base URL for the SDK (`baseURL`) or ANTHROPIC_BASE_URL. */
  readonly url: string;
  readonly port: number;
  /** Queues faults for the next calls, one per call, in order (appends to any still queued). */
  faults(list: AnthropicFault[]): void;
  calls(): AnthropicSandboxCall[];
  /** Forgets queued faults and recorded calls. */
  reset(): void;
  /** Changes latency and the enforced rate limit (traffic.ts) for the calls that follow. */
  traffic(traffic: AnthropicTraffic): void;
  /** The env a Parley process needs to use this sandbox as its Anthropic API. */
  env(): Record<string, string>;
  close(): Promise<void>;
}

export const SANDBOX_API_KEY = 'sk-ant-sandbox-key';
const MAX_BODY_BYTES = 32 * 1024 * 1024;

type Res = http.ServerResponse;

function sendJson(res: Res, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function readBody(req: http.IncomingMessage): Promise<Buffer | 'too_large'> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= MAX_BODY_BYTES) chunks.push(c);
    });
    req.on('end', () => resolve(size > MAX_BODY_BYTES ? 'too_large' : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function parseJson(buf: Buffer): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: buf.length === 0 ? undefined : JSON.parse(buf.toString('utf8')) };
  } catch {
    return { ok: false };
  }
}

/**
 * A loopback Anthropic Messages API: the official SDK runs against it unchanged (only its
 * base URL differs). It answers tool calls deterministically (see reply-reader and
 * email-writer), injects queued faults, records every call, and has a small control API
 * (/_control/faults, /_control/calls, /_control/reset) for tests in other processes.
 */
export async function startAnthropicSandbox(options: AnthropicSandboxOptions = {}): Promise<AnthropicSandbox> {
  const queued: AnthropicFault[] = [];
  let calls: AnthropicSandboxCall[] = [];
  const timers = new Set<NodeJS.Timeout>();
  let counter = 0;
  const shaper = createTrafficShaper(options.traffic);

  const wait = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        timers.delete(t);
        resolve();
      }, ms);
      timers.add(t);
    });

  async function messages(req: http.IncomingMessage, res: Res): Promise<void> {
    const requestId = newId('req_');
    const n = (counter += 1);
    const apiKey = req.headers['x-api-key'];
    const bearer = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const key = typeof apiKey === 'string' && apiKey !== '' ? apiKey : bearer;
    const version = req.headers['anthropic-version'];
    const record: AnthropicSandboxCall = {
      n,
      at: new Date().toISOString(),
      requestId,
      auth: typeof apiKey === 'string' && apiKey !== '' ? 'x-api-key' : bearer ? 'bearer' : 'none',
      anthropicVersion: typeof version === 'string' ? version : null,
      model: null,
      tool: null,
      status: 0,
      fault: null,
      body: null,
      traceHeaders: TRACE_HEADERS.filter((name) => req.headers[name] !== undefined),
    };
    calls.push(record);
    const answer = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      record.status = status;
      sendJson(res, status, body, { 'request-id': requestId, ...headers });
    };

    const raw = await readBody(req);
    if (raw === 'too_large') return answer(413, errorBody(413, requestId));
    const parsedJson = parseJson(raw);
    record.body = parsedJson.ok ? parsedJson.value : null;
    if (!key || (options.apiKey !== undefined && key !== options.apiKey)) {
      return answer(401, errorBody(401, requestId, { message: key ? 'invalid x-api-key' : 'x-api-key header is required' }));
    }

    const fault = queued.shift();
    record.fault = fault ?? null;
    if (fault?.delayMs) await wait(fault.delayMs);
    if (fault?.dropConnection) {
      record.status = -1;
      req.socket.destroy();
      return;
    }
    if (fault?.status !== undefined) {
      const headers: Record<string, string> = {};
      if (fault.retryAfter !== undefined) headers['retry-after'] = String(fault.retryAfter);
      if (fault.retryAfterMs !== undefined) headers['retry-after-ms'] = String(fault.retryAfterMs);
      const spend = fault.status === 429 && fault.spendLimit;
      const message = spend ? 'You have reached your specified workspace API usage limits. You will regain access on the first day of next month.' : undefined;
      return answer(fault.status, errorBody(fault.status, requestId, { message, errorCode: spend ? 'enforced_spend_limit_reached' : undefined }), headers);
    }

    const shaped = fault ? null : shaper.admit();
    if (shaped?.status === 429) return answer(429, errorBody(429, requestId), shaped.headers);
    if (shaped?.delayMs) await wait(shaped.delayMs);

    if (!parsedJson.ok) return answer(400, errorBody(400, requestId, { message: 'There was an issue with your request: the body is not valid JSON.' }));
    const parsed = messagesRequest.safeParse(parsedJson.value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return answer(400, errorBody(400, requestId, { message: `${issue?.path.join('.') || 'body'}: ${issue?.message ?? 'invalid'}` }));
    }
    record.model = parsed.data.model;
    record.tool = parsed.data.tool_choice?.name ?? parsed.data.tools?.[0]?.name ?? null;
    const problem = requestProblem(parsed.data);
    if (problem) return answer(400, errorBody(400, requestId, { message: problem }));
    return answer(200, messageResponse(parsed.data, fault), shaped?.headers);
  }

  async function control(req: http.IncomingMessage, res: Res, path: string): Promise<void> {
    if (req.method === 'GET' && path === '/_control/calls') return sendJson(res, 200, calls);
    if (req.method === 'POST' && path === '/_control/reset') {
      reset();
      return sendJson(res, 200, { ok: true });
    }
    if (req.method === 'POST' && path === '/_control/faults') {
      const raw = await readBody(req);
      const parsedJson = raw === 'too_large' ? { ok: false as const } : parseJson(raw);
      const list = parsedJson.ok ? faultList.safeParse(parsedJson.value) : null;
      if (!list?.success) return sendJson(res, 400, { ok: false, error: list ? list.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') : 'body is not JSON' });
      queued.push(...list.data);
      return sendJson(res, 200, { ok: true, queued: queued.length });
    }
    return sendJson(res, 404, { ok: false, error: `no control route ${req.method} ${path}` });
  }

  function reset(): void {
    queued.length = 0;
    calls = [];
  }

  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://sandbox').pathname;
    const handle = path.startsWith('/_control/')
      ? control(req, res, path)
      : req.method === 'POST' && path === '/v1/messages'
        ? messages(req, res)
        : Promise.resolve(sendJson(res, 404, errorBody(404, newId('req_'), { message: `Not found: ${req.method} ${path}` })));
    handle.catch((error: unknown) => {
      if (!res.headersSent) sendJson(res, 500, errorBody(500, newId('req_'), { message: error instanceof Error ? error.message : 'sandbox error' }));
      else res.destroy();
    });
  });

  const { port, url } = await listenOnLoopback(server, options.port);

  return {
    url,
    port,
    faults(list) {
      queued.push(...list.map((f) => anthropicFault.parse(f)));
    },
    calls: () => calls.map((c) => ({ ...c })),
    reset,
    traffic: (traffic) => shaper.set(traffic),
    env: () => ({ ANTHROPIC_BASE_URL: url, ANTHROPIC_API_KEY: options.apiKey ?? SANDBOX_API_KEY }),
    close: async () => {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
