import { boundedFetch, PermanentError, RateLimitedError, responseTooLarge, TransientError } from '@parley/contracts';
import { z } from 'zod';

/** A ClickUp task reduced to what Parley reads: the campaign lives in its name, status and custom fields. */
export interface ClickUpTask {
  id: string;
  name: string;
  status: string;
  customFields: { name: string; type: string; value: unknown }[];
}

export interface ClickUpClientOptions {
  /** The API root including the version path, e.g. `https://api.clickup.com/api/v2` (CLICKUP_API_URL). */
  baseUrl: string;
  /** A personal token (`pk_…`), sent bare in `Authorization` as ClickUp expects (no `Bearer`). */
  token: string;
  fetchImpl?: typeof fetch;
  /** @defaultValue 10000 */
  timeoutMs?: number;
}

export interface ClickUpClient {
  getTask(id: string): Promise<ClickUpTask>;
}

/** Used when a 429 carries no usable X-RateLimit-Reset: ClickUp's limits are per minute. */
export const DEFAULT_RATE_LIMIT_WAIT_MS = 60_000;
/** A reset further out than this is a misreading (or a broken header), not a plan: wait this long at most. */
const MAX_RATE_LIMIT_WAIT_MS = 60 * 60_000;
/** Waking before the window has really reset only buys another 429. */
const MIN_RATE_LIMIT_WAIT_MS = 1_000;

// Only the fields Parley reads are checked; everything else in the (large) Get Task body passes through.
const customFieldSchema = z.object({
  id: z.string(),
  name: z.string(),
  type: z.string(),
  type_config: z.unknown().optional(),
  // ClickUp may omit `value` for an unset field; number and currency values may be strings.
  value: z.unknown().optional(),
});

const taskResponseSchema = z.object({
  id: z.string().min(1),
  name: z.string(),
  status: z.object({ status: z.string() }),
  custom_fields: z.array(customFieldSchema).nullish(),
});

const errorBodySchema = z.object({ err: z.string().optional(), ECODE: z.string().optional() });

/** The most a Get Task answer may hold: a task with long descriptions and many fields is well under 1 MiB. */
export const CLICKUP_MAX_RESPONSE_BYTES = 4 * 1024 * 1024;

export function createClickUpClient(opts: ClickUpClientOptions): ClickUpClient {
  // The body is read inside the call, up to the limit and no further.
  const fetchImpl = boundedFetch(CLICKUP_MAX_RESPONSE_BYTES, opts.fetchImpl);
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const baseUrl = opts.baseUrl.replace(/\/+$/, '');

  async function getTask(id: string): Promise<ClickUpTask> {
    if (id.trim() === '') throw new PermanentError('ClickUp getTask: empty task id', 'clickup_bad_request');
    const url = `${baseUrl}/task/${encodeURIComponent(id)}`;
    let response: Response;
    try {
      response = await fetchImpl(url, {
        method: 'GET',
        headers: { Authorization: opts.token, Accept: 'application/json' },
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      if (responseTooLarge(error)) throw new PermanentError(`ClickUp getTask ${id}: the answer is larger than ${CLICKUP_MAX_RESPONSE_BYTES} bytes`, 'clickup_malformed');
      // AbortSignal.timeout rejects with a DOMException, which is not always `instanceof Error`.
      const name = typeof error === 'object' && error !== null && 'name' in error ? String(error.name) : '';
      const timedOut = name === 'TimeoutError' || name === 'AbortError';
      throw new TransientError(
        timedOut ? `ClickUp getTask ${id}: no answer within ${timeoutMs} ms` : `ClickUp getTask ${id}: network error (${describeCause(error)})`,
        timedOut ? 'clickup_timeout' : 'clickup_network',
        { cause: error },
      );
    }

    // Already read whole by boundedFetch (a body cut off mid-way failed the call above).
    const text = await response.text();
    if (!response.ok) throw mapHttpError(id, response, text);

    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new PermanentError(`ClickUp getTask ${id}: answer ${response.status} is not JSON`, 'clickup_malformed');
    }
    const parsed = taskResponseSchema.safeParse(json);
    if (!parsed.success) {
      const where = parsed.error.issues.map((issue) => issue.path.join('.') || '(root)').join(', ');
      throw new PermanentError(`ClickUp getTask ${id}: unexpected task shape at ${where}`, 'clickup_malformed');
    }
    const task = parsed.data;
    return {
      id: task.id,
      name: task.name,
      status: task.status.status,
      customFields: (task.custom_fields ?? []).map((field) => ({ name: field.name, type: field.type, value: fieldValue(field) })),
    };
  }

  return { getTask };
}

const dropDownConfigSchema = z.object({
  options: z.array(z.object({ id: z.string().optional(), name: z.string(), orderindex: z.union([z.number(), z.string()]).optional() })),
});

/**
 * A Dropdown field's value is the chosen option's orderindex (or its id), which means nothing
 * to a reader: it is replaced by the option's name, so a `Currency` dropdown reads as "EUR".
 */
function fieldValue(field: z.output<typeof customFieldSchema>): unknown {
  if (field.type !== 'drop_down' || field.value === undefined || field.value === null) return field.value;
  const config = dropDownConfigSchema.safeParse(field.type_config);
  if (!config.success) return field.value;
  const chosen = config.data.options.find(
    (option) => option.id === field.value || (option.orderindex !== undefined && String(option.orderindex) === String(field.value)),
  );
  return chosen ? chosen.name : field.value;
}

function mapHttpError(id: string, response: Response, text: string): Error {
  const status = response.status;
  const detail = errorDetail(text);
  const message = `ClickUp getTask ${id}: ${status}${detail ? ` ${detail}` : ''}`;
  if (status === 429) return new RateLimitedError(message, rateLimitWaitMs(response.headers.get('x-ratelimit-reset')), 'clickup');
  if (status >= 500 || status === 408) return new TransientError(message, `clickup_${status}`);
  const reason = status === 401 || status === 403 ? 'clickup_auth' : status === 404 ? 'clickup_not_found' : `clickup_${status}`;
  return new PermanentError(message, reason);
}

/** `err` and `ECODE` from ClickUp's error body; never echoes anything else the body might hold. */
function errorDetail(text: string): string {
  try {
    const body = errorBodySchema.safeParse(JSON.parse(text));
    if (!body.success) return '';
    return [body.data.err, body.data.ECODE ? `(${body.data.ECODE})` : undefined].filter(Boolean).join(' ');
  } catch {
    return '';
  }
}

/**
 * X-RateLimit-Reset is a unix time in seconds. A value that looks like milliseconds is read as
 * such; a missing or unusable one means a full minute, ClickUp's rate-limit window.
 */
export function rateLimitWaitMs(resetHeader: string | null, nowMs: number = Date.now()): number {
  if (resetHeader === null || !/^\s*\d+(\.\d+)?\s*$/.test(resetHeader)) return DEFAULT_RATE_LIMIT_WAIT_MS;
  const value = Number(resetHeader);
  const resetMs = value > 1e12 ? value : value * 1000;
  return Math.min(MAX_RATE_LIMIT_WAIT_MS, Math.max(MIN_RATE_LIMIT_WAIT_MS, Math.ceil(resetMs - nowMs)));
}

function describeCause(error: unknown): string {
  if (!(error instanceof Error)) return typeof error === 'object' && error !== null && 'message' in error ? String(error.message) : String(error);
  const cause = (error as { cause?: unknown }).cause;
  const code = cause && typeof cause === 'object' && 'code' in cause ? String((cause as { code: unknown }).code) : undefined;
  return code ? `${error.message}: ${code}` : error.message;
}
