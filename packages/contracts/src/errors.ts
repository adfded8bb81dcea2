import { UnrecoverableError } from 'bullmq';

/**
 * The few error types a handler throws (or an integration client maps its failures to).
 * Each has one meaning for the queue; anything else thrown is treated as transient.
 */
export type ErrorClass = 'permanent' | 'rate_limited' | 'overloaded' | 'transient';

/** Will never succeed by retrying (400/401/403/404/413, malformed data): dead letter at once. */
export class PermanentError extends UnrecoverableError {
  override name = 'PermanentError';
  readonly errorClass = 'permanent' as const;
  constructor(message: string, readonly reason = 'permanent', options?: { cause?: unknown }) {
    super(message);
    if (options?.cause !== undefined) (this as { cause?: unknown }).cause = options.cause;
  }
}

/** The upstream asked us to wait: the whole queue pauses for `waitMs`, and no attempt is spent. */
export class RateLimitedError extends Error {
  override name = 'RateLimitedError';
  readonly errorClass = 'rate_limited' as const;
  constructor(message: string, readonly waitMs: number, readonly source = 'upstream') {
    super(message);
  }
}

/** The upstream is overloaded (Anthropic 529): long exponential backoff, more attempts. */
export class OverloadedError extends Error {
  override name = 'OverloadedError';
  readonly errorClass = 'overloaded' as const;
  constructor(message: string, readonly source = 'upstream') {
    super(message);
  }
}

/** A blip (5xx, timeout, reset, lock conflict): standard exponential backoff. */
export class TransientError extends Error {
  override name = 'TransientError';
  readonly errorClass = 'transient' as const;
  constructor(message: string, readonly reason = 'transient', options?: { cause?: unknown }) {
    super(message);
    if (options?.cause !== undefined) (this as { cause?: unknown }).cause = options.cause;
  }
}

/**
 * Not yet: the job runs again in `waitMs`, without spending an attempt (a send that must wait
 * until a request given up on can no longer arrive). The handler decides the wait; nothing is
 * retried sooner.
 */
export class DeferredError extends Error {
  override name = 'DeferredError';
  constructor(message: string, readonly waitMs: number, readonly reason = 'deferred') {
    super(message);
  }
}

export function classifyError(error: unknown): ErrorClass {
  if (error instanceof RateLimitedError) return 'rate_limited';
  if (error instanceof OverloadedError) return 'overloaded';
  if (error instanceof UnrecoverableError) return 'permanent';
  if (error instanceof Error && error.name === 'ZodError') return 'permanent';
  return 'transient';
}
