import { PermanentError, RateLimitedError, TransientError } from '@parley/contracts';

/**
 * history.list answered 404: the cursor is older than the history Gmail keeps. The caller falls
 * back to a full sync; retrying the same cursor can never succeed, hence permanent.
 */
export class HistoryExpiredError extends PermanentError {
  override name = 'HistoryExpiredError';
  constructor(readonly startHistoryId: string) {
    super(`Gmail history from ${startHistoryId} is no longer available (404); a full sync is needed`, 'history_expired');
  }
}

const DEFAULT_RATE_LIMIT_WAIT_MS = 30_000;
const NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ABORT_ERR']);
/** Google answers some quota problems with 403 instead of 429; those are waits, not refusals. */
const RATE_LIMIT_REASONS = new Set(['rateLimitExceeded', 'userRateLimitExceeded']);

interface GoogleFailure {
  status: number | undefined;
  headers: unknown;
  data: unknown;
  code: string | undefined;
  message: string;
  isHttpClientError: boolean;
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
}

function inspect(error: unknown): GoogleFailure | null {
  const e = asRecord(error);
  if (!e) return null;
  const response = asRecord(e.response);
  const status = typeof response?.status === 'number' ? response.status : typeof e.status === 'number' ? e.status : undefined;
  const cause = asRecord(e.cause);
  const code = typeof e.code === 'string' ? e.code : typeof cause?.code === 'string' ? cause.code : undefined;
  return {
    status,
    headers: response?.headers,
    data: response?.data,
    code,
    message: typeof e.message === 'string' ? e.message : String(error),
    // GaxiosError carries the request config; its absence of a response means the network failed.
    isHttpClientError: e.name === 'GaxiosError' || 'config' in e,
  };
}

function header(headers: unknown, name: string): string | null {
  if (headers && typeof (headers as Headers).get === 'function') return (headers as Headers).get(name);
  const record = asRecord(headers);
  if (!record) return null;
  const key = Object.keys(record).find((k) => k.toLowerCase() === name);
  const value = key === undefined ? undefined : record[key];
  return typeof value === 'string' ? value : Array.isArray(value) && typeof value[0] === 'string' ? value[0] : null;
}

/** Retry-After in seconds or as an HTTP date; null when absent or unusable. */
export function retryAfterMs(headers: unknown, now = Date.now()): number | null {
  const value = header(headers, 'retry-after');
  if (value === null || value.trim() === '') return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return seconds >= 0 ? Math.round(seconds * 1000) : null;
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

function googleReason(data: unknown): { reason: string | null; message: string | null } {
  const body = asRecord(data);
  const error = body?.error;
  if (typeof error === 'string') {
    // OAuth endpoint: {"error":"invalid_grant","error_description":"..."}
    return { reason: error, message: typeof body?.error_description === 'string' ? body.error_description : null };
  }
  const envelope = asRecord(error);
  const first = Array.isArray(envelope?.errors) ? asRecord(envelope.errors[0]) : undefined;
  return {
    reason: typeof first?.reason === 'string' ? first.reason : typeof envelope?.status === 'string' ? envelope.status : null,
    message: typeof envelope?.message === 'string' ? envelope.message : null,
  };
}

/**
 * A Google API failure (GaxiosError) in the queue's taxonomy: 429 (and 403 rate-limit reasons)
 * → RateLimitedError with Retry-After or 30 s; 5xx, 408, timeouts and resets → TransientError;
 * other 4xx → PermanentError. Errors already in the taxonomy, and other errors, pass through.
 * The result never carries the request (its headers hold the access token).
 */
export function mapGoogleError(error: unknown, source = 'google'): Error {
  if (error instanceof PermanentError || error instanceof RateLimitedError || error instanceof TransientError) return error;
  const failure = inspect(error);
  if (!failure) return new TransientError(`${source}: ${String(error)}`, 'unknown');
  const { status } = failure;
  if (status === undefined) {
    const network = (failure.code !== undefined && NETWORK_CODES.has(failure.code)) || /timeout|timed out|aborted|socket hang up/i.test(failure.message);
    if (failure.isHttpClientError || network) return new TransientError(`${source}: network error (${failure.code ?? 'no response'}): ${failure.message}`, 'network');
    return error instanceof Error ? error : new TransientError(`${source}: ${failure.message}`, 'unknown');
  }
  const { reason, message } = googleReason(failure.data);
  const text = `${source} ${status}${reason ? ` ${reason}` : ''}: ${message ?? failure.message}`;
  if (status === 429 || (status === 403 && reason !== null && RATE_LIMIT_REASONS.has(reason))) {
    return new RateLimitedError(text, retryAfterMs(failure.headers) ?? DEFAULT_RATE_LIMIT_WAIT_MS, source);
  }
  if (status >= 500 || status === 408) return new TransientError(text, `http_${status}`);
  const kind = status === 400 ? 'bad_request' : status === 401 ? 'unauthorized' : status === 403 ? 'forbidden' : status === 404 ? 'not_found' : `http_${status}`;
  return new PermanentError(text, kind);
}
