import type { ErrorClass } from './errors';

/** Retry tuning, from config (SPEC section 4: the numbers per error class). */
export interface RetryPolicy {
  transientBaseMs: number;
  transientAttempts: number;
  overloadedBaseMs: number;
  overloadedCapMs: number;
  overloadedAttempts: number;
  rateLimitDefaultMs: number;
  /** Rate-limited restarts allowed before the job becomes a dead letter. */
  rateLimitMax: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  transientBaseMs: 5_000,
  transientAttempts: 5,
  overloadedBaseMs: 30_000,
  overloadedCapMs: 600_000,
  overloadedAttempts: 8,
  rateLimitDefaultMs: 30_000,
  rateLimitMax: 20,
};

export function retryPolicyFromConfig(c: {
  RETRY_TRANSIENT_BASE_MS: number;
  RETRY_TRANSIENT_ATTEMPTS: number;
  RETRY_OVERLOADED_BASE_MS: number;
  RETRY_OVERLOADED_CAP_MS: number;
  RETRY_OVERLOADED_ATTEMPTS: number;
  RETRY_RATE_LIMIT_DEFAULT_MS: number;
  RETRY_RATE_LIMIT_MAX: number;
}): RetryPolicy {
  return {
    transientBaseMs: c.RETRY_TRANSIENT_BASE_MS,
    transientAttempts: c.RETRY_TRANSIENT_ATTEMPTS,
    overloadedBaseMs: c.RETRY_OVERLOADED_BASE_MS,
    overloadedCapMs: c.RETRY_OVERLOADED_CAP_MS,
    overloadedAttempts: c.RETRY_OVERLOADED_ATTEMPTS,
    rateLimitDefaultMs: c.RETRY_RATE_LIMIT_DEFAULT_MS,
    rateLimitMax: c.RETRY_RATE_LIMIT_MAX,
  };
}

/** BullMQ's `attempts` for every job: the largest of the per-class caps (the wrapper enforces each). */
export function maxAttempts(policy: RetryPolicy): number {
  return Math.max(policy.transientAttempts, policy.overloadedAttempts);
}

/** Attempts allowed for a class (after which the job is a dead letter). */
export function attemptsFor(cls: ErrorClass, policy: RetryPolicy): number {
  if (cls === 'permanent') return 1;
  if (cls === 'overloaded') return policy.overloadedAttempts;
  if (cls === 'transient') return policy.transientAttempts;
  return Number.POSITIVE_INFINITY;
}

/**
 * The wait before the next attempt, for `attemptsMade` failed attempts so far (>= 1).
 * Transient: base * 2^(n-1) with up to 20% jitter. Overloaded: base * 2^(n-1) capped, with
 * "equal jitter" (half fixed, half random) so a fleet of workers does not retry in lockstep.
 */
export function backoffDelay(cls: ErrorClass, attemptsMade: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const n = Math.max(1, attemptsMade);
  if (cls === 'overloaded') {
    const ceiling = Math.min(policy.overloadedCapMs, policy.overloadedBaseMs * 2 ** (n - 1));
    return Math.round(ceiling / 2 + (random() * ceiling) / 2);
  }
  const base = policy.transientBaseMs * 2 ** (n - 1);
  return Math.round(base * (1 + 0.2 * random()));
}
