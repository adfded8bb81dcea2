import { bullmqStallLimit, cooledProgress, cooledRoundsOf, deferralsOf, deferredProgress, stallDecision, type StallPolicy } from './stall-policy';

const policy: StallPolicy = { maxStalledCount: 2, cooldowns: 2, cooldownMs: 60_000 };

describe('stall policy', () => {
  it('runs a work job up to the limit, then sets it aside with doubling cool-downs, then dead-letters it', () => {
    const at = (stalls: number, cooled: number) => stallDecision('negotiation-steps', stalls, cooled, policy);
    expect(at(0, 0)).toEqual({ action: 'run' });
    expect(at(2, 0)).toEqual({ action: 'run' });
    expect(at(3, 0)).toMatchObject({ action: 'cool_down', round: 1, delayMs: 60_000 });
    // Back from its first cool-down: the next round allows as many stalls again.
    expect(at(3, 1)).toEqual({ action: 'run' });
    expect(at(5, 1)).toEqual({ action: 'run' });
    expect(at(6, 1)).toMatchObject({ action: 'cool_down', round: 2, delayMs: 120_000 });
    expect(at(8, 2)).toEqual({ action: 'run' });
    const last = at(9, 2);
    expect(last).toMatchObject({ action: 'dead_letter' });
    expect(last.action === 'dead_letter' && last.reason).toBe('job stalled 9 times (limit 2) after 2 cool-down(s); its worker died or was blocked while running it');
    // A round it skipped (a crash between the progress and the move) never buys more rounds.
    expect(at(9, 7)).toMatchObject({ action: 'dead_letter' });
  });

  it('dead-letters at the first stall past the limit when no cool-down is configured', () => {
    const none = { ...policy, maxStalledCount: 0, cooldowns: 0 };
    expect(stallDecision('outbound-email', 0, 0, none)).toEqual({ action: 'run' });
    expect(stallDecision('outbound-email', 1, 0, none)).toEqual({ action: 'dead_letter', reason: 'job stalled 1 times (limit 0); its worker died or was blocked while running it' });
  });

  it('skips scheduled jobs that keep stalling instead of cooling or dead-lettering them', () => {
    for (const queue of ['maintenance', 'gmail-notifications'] as const) {
      expect(stallDecision(queue, 2, 0, policy)).toEqual({ action: 'run' });
      expect(stallDecision(queue, 3, 0, policy)).toMatchObject({ action: 'skip' });
      expect(stallDecision(queue, 30, 0, { ...policy, cooldowns: 0 })).toMatchObject({ action: 'skip' });
    }
    for (const queue of ['campaign-tasks', 'negotiation-steps', 'outbound-email', 'alerts'] as const) {
      expect(stallDecision(queue, 3, 0, policy).action).toBe('cool_down');
    }
  });

  it("puts BullMQ's own limit one above the last stall the processor lets run", () => {
    expect(bullmqStallLimit(policy)).toBe(9);
    expect(bullmqStallLimit({ ...policy, cooldowns: 0 })).toBe(3);
    expect(bullmqStallLimit({ ...policy, maxStalledCount: 0, cooldowns: 0 })).toBe(1);
  });

  it('reads the cool-downs done from the job progress it writes, and nothing else', () => {
    expect(cooledRoundsOf(cooledProgress(2))).toBe(2);
    expect(cooledRoundsOf(undefined)).toBe(0);
    expect(cooledRoundsOf(0)).toBe(0);
    expect(cooledRoundsOf({ stallCooldowns: -1 })).toBe(0);
    expect(cooledRoundsOf({ stallCooldowns: '3' })).toBe(0);
    // Deferrals and cool-downs share the progress; each keeps the other.
    const deferred = deferredProgress(deferredProgress(cooledProgress(1)));
    expect(deferred).toEqual({ stallCooldowns: 1, deferrals: 2 });
    expect(cooledProgress(2, deferred)).toEqual({ stallCooldowns: 2, deferrals: 2 });
    expect([cooledRoundsOf(deferred), deferralsOf(deferred)]).toEqual([1, 2]);
    expect([deferralsOf(undefined), deferralsOf({ deferrals: -1 }), deferralsOf(cooledProgress(3))]).toEqual([0, 0, 0]);
    expect(deferredProgress(undefined)).toEqual({ deferrals: 1 });
  });
});
