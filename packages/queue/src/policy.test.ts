import { attemptsFor, backoffDelay, DEFAULT_RETRY_POLICY as P, maxAttempts } from './policy';

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
});
