import { APIConnectionError, APIError, OverloadedError as SdkOverloadedError } from '@anthropic-ai/sdk';
import { OverloadedError, PermanentError, RateLimitedError, responseTooLarge, TransientError } from '@parley/contracts';
import type { LlmErrorType } from './llm.types';

/** SPEC section 4: a 429 without a usable retry header waits this long. */
export const DEFAULT_RATE_LIMIT_WAIT_MS = 30_000;

/** 429 codes that no amount of waiting clears: the account's spend cap, not a request rate. */
const SPEND_LIMIT_CODES = new Set(['enforced_spend_limit_reached', 'contract_spend_limit_reached']);

export interface ClassifiedLlmError {
  /** The queue taxonomy error to throw. */
  error: Error;
  type: Exclude<LlmErrorType, 'invalid_output'>;
  waitMs?: number;
  status?: number;
  requestId?: string;
}

/**
 * The wait a 429 asks for: `retry-after-ms`, else `retry-after` in seconds or as an HTTP date.
 * Zero, negative or unreadable values count as absent (the caller's default applies), since
 * retrying at once would only spend the quota we were told we are out of.
 */
export function retryAfterMs(headers: Headers | undefined, now = Date.now()): number | null {
  const ms = headers?.get('retry-after-ms');
  if (ms) {
    const value = Number(ms);
    if (Number.isFinite(value) && value > 0) return Math.ceil(value);
  }
  const ra = headers?.get('retry-after')?.trim();
  if (ra) {
    const seconds = Number(ra);
    if (ra !== '' && Number.isFinite(seconds)) return seconds > 0 ? Math.ceil(seconds * 1000) : null;
    const date = Date.parse(ra);
    if (!Number.isNaN(date) && date > now) return date - now;
  }
  return null;
}

function errorCodeOf(err: APIError): string | null {
  const body = err.error as { error?: { details?: { error_code?: unknown } } } | undefined;
  const fromBody = body?.error?.details?.error_code;
  return err.errorCode ?? (typeof fromBody === 'string' ? fromBody : null);
}

/** Maps whatever the SDK threw to the queue's error taxonomy, with the metric label and the wait. */
export function classifyAnthropicError(error: unknown, opts: { defaultRateLimitWaitMs?: number; now?: number } = {}): ClassifiedLlmError {
  if (error instanceof PermanentError) return { error, type: error.reason === 'spend_limit' ? 'spend_limit' : 'permanent' };
  if (error instanceof RateLimitedError) return { error, type: 'rate_limited', waitMs: error.waitMs };
  if (error instanceof OverloadedError) return { error, type: 'overloaded' };
  if (error instanceof TransientError) return { error, type: 'transient' };

  const tooLarge = responseTooLarge(error);
  if (tooLarge) return { error: new TransientError(`Anthropic's answer is larger than ${tooLarge.limitBytes} bytes; not read further`, 'response_too_large', { cause: error }), type: 'transient' };
  // Connection refused/reset, timeouts and aborts: no status, try again later.
  if (error instanceof APIConnectionError || (error instanceof APIError && error.status === undefined)) {
    return { error: new TransientError(`Anthropic connection failed: ${error.message}`, 'connection', { cause: error }), type: 'transient' };
  }
  if (!(error instanceof APIError)) {
    const message = error instanceof Error ? error.message : String(error);
    return { error: new TransientError(`Anthropic call failed: ${message}`, 'unknown', { cause: error }), type: 'transient' };
  }

  const status = error.status ?? 0;
  const requestId = error.requestID ?? undefined;
  const where = `Anthropic ${status}${requestId ? ` (request ${requestId})` : ''}`;
  const detail = error.apiMessage ?? error.message;

  if (status === 429) {
    const code = errorCodeOf(error);
    if (code !== null && SPEND_LIMIT_CODES.has(code)) {
      return { error: new PermanentError(`${where}: spend limit reached (${code}): ${detail}`, 'spend_limit', { cause: error }), type: 'spend_limit', status, requestId };
    }
    const waitMs = retryAfterMs(error.headers, opts.now) ?? opts.defaultRateLimitWaitMs ?? DEFAULT_RATE_LIMIT_WAIT_MS;
    return { error: new RateLimitedError(`${where}: rate limited: ${detail}`, waitMs, 'anthropic'), type: 'rate_limited', waitMs, status, requestId };
  }
  if (status === 529 || error instanceof SdkOverloadedError || error.type === 'overloaded_error') {
    return { error: new OverloadedError(`${where}: overloaded: ${detail}`, 'anthropic'), type: 'overloaded', status, requestId };
  }
  // 408 is a timeout like any other (SPEC: timeouts are transient); every 5xx is the server's blip.
  if (status >= 500 || status === 408) {
    return { error: new TransientError(`${where}: ${detail}`, `http_${status}`, { cause: error }), type: 'transient', status, requestId };
  }
  // 400/401/403/404/413 and every other 4xx: the same request can never succeed.
  return { error: new PermanentError(`${where}: ${detail}`, `http_${status}`, { cause: error }), type: 'permanent', status, requestId };
}

/** The taxonomy error for an SDK failure (see classifyAnthropicError for the label and wait). */
export function mapAnthropicError(error: unknown, opts?: { defaultRateLimitWaitMs?: number }): Error {
  return classifyAnthropicError(error, opts).error;
}
