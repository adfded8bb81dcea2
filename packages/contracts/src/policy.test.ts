import { attemptsFor, backoffDelay, DEFAULT_RETRY_POLICY as P, maxAttempts, retryPolicyFromConfig } from './policy';

describe('retry policy', () => {
  it('backs overloaded errors off longer than transient ones, capped at 10 minutes', () => {
    // Only waits that can happen: a transient job is dead-lettered at its fifth attempt, so it
    // waits after attempts 1-4 (past that its uncapped doubling would exceed the overloaded cap).
    for (let n = 1; n < P.transientAttempts; n += 1) {
      const overloadedMin = backoffDelay('overloaded', n, P, () => 0);
      const transientMax = backoffDelay('transient', n, P, () => 1);
      expect(overloadedMin).toBeGreaterThan(transientMax);
    }
    expect(backoffDelay('overloaded', 20, P, () => 1)).toBe(600_000);
    expect(backoffDelay('transient', 1, P, () => 0)).toBe(5_000);
    expect(backoffDelay('transient', 3, P, () => 0)).toBe(20_000);
  });

  it('gives overloaded errors at least 8 attempts and transient ones 5', () => {
    expect(attemptsFor('overloaded', P)).toBeGreaterThanOrEqual(8);
    expect(attemptsFor('transient', P)).toBe(5);
    expect(attemptsFor('permanent', P)).toBe(1);
    expect(maxAttempts(P)).toBe(8);
  });

  it('takes each class its own attempt cap from the policy; a rate limit spends no attempt', () => {
    const policy = { ...P, transientAttempts: 3, overloadedAttempts: 11 };
    expect(attemptsFor('overloaded', policy)).toBe(11);
    expect(attemptsFor('transient', policy)).toBe(3);
    expect(attemptsFor('permanent', policy)).toBe(1);
    expect(attemptsFor('rate_limited', policy)).toBe(Number.POSITIVE_INFINITY);
    // BullMQ's cap is the larger of the two, whichever it is.
    expect(maxAttempts({ ...P, transientAttempts: 12, overloadedAttempts: 4 })).toBe(12);
  });

  it('transient: base * 2^(n-1), plus up to 20% jitter', () => {
    expect(backoffDelay('transient', 1, P, () => 1)).toBe(6_000);
    expect(backoffDelay('transient', 1, P, () => 0.5)).toBe(5_500);
    expect(backoffDelay('transient', 2, P, () => 0)).toBe(10_000);
    expect(backoffDelay('transient', 4, P, () => 0.25)).toBe(42_000);
    // Unknown errors are retried like transient ones.
    expect(backoffDelay('permanent', 2, P, () => 0)).toBe(10_000);
  });

  it('overloaded: equal jitter between half and all of base * 2^(n-1), capped', () => {
    expect(backoffDelay('overloaded', 1, P, () => 0)).toBe(15_000);
    expect(backoffDelay('overloaded', 1, P, () => 1)).toBe(30_000);
    expect(backoffDelay('overloaded', 1, P, () => 0.5)).toBe(22_500);
    expect(backoffDelay('overloaded', 3, P, () => 0)).toBe(60_000);
    // 30 s * 2^5 = 960 s is over the 600 s cap: the cap is the ceiling, half of it the floor.
    expect(backoffDelay('overloaded', 6, P, () => 0)).toBe(300_000);
    expect(backoffDelay('overloaded', 6, P, () => 0.5)).toBe(450_000);
  });

  it('counts a first failure reported as 0 attempts like 1, and rounds to whole milliseconds', () => {
    expect(backoffDelay('transient', 0, P, () => 0)).toBe(5_000);
    expect(backoffDelay('overloaded', 0, P, () => 0)).toBe(15_000);
    expect(backoffDelay('transient', 1, { ...P, transientBaseMs: 3 }, () => 0.5)).toBe(3);
    expect(backoffDelay('overloaded', 1, { ...P, overloadedBaseMs: 3 }, () => 0)).toBe(2);
  });

  it('reads every number from config', () => {
    expect(
      retryPolicyFromConfig({
        RETRY_TRANSIENT_BASE_MS: 1,
        RETRY_TRANSIENT_ATTEMPTS: 2,
        RETRY_OVERLOADED_BASE_MS: 3,
        RETRY_OVERLOADED_CAP_MS: 4,
        RETRY_OVERLOADED_ATTEMPTS: 5,
        RETRY_RATE_LIMIT_DEFAULT_MS: 6,
        RETRY_RATE_LIMIT_MAX: 7,
      }),
    ).toEqual({ transientBaseMs: 1, transientAttempts: 2, overloadedBaseMs: 3, overloadedCapMs: 4, overloadedAttempts: 5, rateLimitDefaultMs: 6, rateLimitMax: 7 });
  });
});
