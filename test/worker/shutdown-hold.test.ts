import { waitFor } from '../support/wait';
import { createHarness, type Harness } from './harness';

/**
 * A send in flight at the end of the grace period is not handed back: Gmail may already have
 * accepted it, and a second worker starting at once could miss it in its Message-ID lookup.
 * Its lock is left to expire instead (after the process is gone).
 */
describe('shutdown past the grace period', () => {
  let h: Harness;
  let release: () => void = () => undefined;

  beforeAll(async () => {
    h = await createHarness('hold');
  });
  afterAll(async () => {
    release();
    await h.close();
  });

  it('leaves an in-flight outbound-email job active (to expire) while handing back other queues', async () => {
    let started = 0;
    const hold = new Promise<void>((resolve) => (release = resolve));
    const slow = async () => {
      started += 1;
      await hold;
      return {};
    };
    const runtime = await h.start({ handlers: { 'outbound-email': slow, 'negotiation-steps': slow }, only: ['outbound-email', 'negotiation-steps'] });
    await h.queues['outbound-email'].add('send-email', { outboxId: 'o1' }, { jobId: 'send.o1' });
    await h.queues['negotiation-steps'].add('negotiation-step', { negotiationId: 'n1', kind: 'open' }, { jobId: 'step.n1.open' });
    await waitFor('both jobs running', () => started === 2);

    const outcome = await runtime.close(200);
    expect(outcome.drained).toBe(false);
    expect(outcome.handedBack).toEqual(['step.n1.open']);
    expect(await h.queues['negotiation-steps'].getJobState('step.n1.open')).toBe('waiting');
    expect(await h.queues['outbound-email'].getJobState('send.o1')).toBe('active');
    expect(h.logs.some((l) => l.includes('leaving a job to expire instead of handing it back') && l.includes('send.o1'))).toBe(true);
  });
});
