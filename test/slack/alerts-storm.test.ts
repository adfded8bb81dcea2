import { waitFor } from '../support/wait';
import { createAlertsHarness, type AlertsHarness } from './alerts-harness';
import { createAlertsHandler } from '../../apps/worker/src/alerts.handler';

const WINDOW_MS = 30_000;
const PER_WINDOW = 10;
const DEAD_LETTERS = 100;

describe('Slack alert storm control', () => {
  let a: AlertsHarness;
  // When the burst starts, the alerts' clock is moved to the beginning of a storm window, so the
  // whole burst falls in one window however long the set-up took on a loaded machine; the
  // window is shorter than a minute to keep the test quick.
  let offset = 0;
  const now = () => new Date(Date.now() + offset);

  beforeAll(async () => {
    a = await createAlertsHarness({ label: 'slack-storm', perWindow: PER_WINDOW, windowMs: WINDOW_MS, now });
    // A second worker process's worth of alert workers: the limit is the fleet's, not each one's.
    await a.h.start({ handlers: { alerts: createAlertsHandler(a.deps) }, only: ['alerts'], concurrency: 4 });
  });
  afterAll(async () => {
    await a.close();
  });

  it('100 dead letters in a window: at most the limit + 1 messages, and the digest counts add up', async () => {
    offset = WINDOW_MS - (Date.now() % WINDOW_MS);
    const window = Math.floor(now().getTime() / WINDOW_MS);
    const steps = a.h.queues['negotiation-steps'];
    await steps.addBulk(Array.from({ length: DEAD_LETTERS }, (_, i) => ({ name: 'negotiation-step', data: { negotiationId: `storm-${i}`, kind: 'open' as const }, opts: { jobId: `step.storm-${i}.open` } })));

    await waitFor('every alert handled', async () => (await a.h.db.slackMessage.count({ where: { kind: 'dead_letter' } })) === DEAD_LETTERS, 40_000, 200);
    const digestTs = await waitFor('digest posted', async () => (await a.h.db.slackMessage.findUnique({ where: { alertId: `digest-${window}` } }))?.ts ?? null, 40_000, 200);
    expect(Math.floor(now().getTime() / WINDOW_MS)).toBeGreaterThan(window);

    const messages = a.channelMessages();
    expect(messages.length).toBeLessThanOrEqual(PER_WINDOW + 1);
    const alertsPosted = messages.filter((m) => m.ts !== digestTs);
    expect(alertsPosted).toHaveLength(PER_WINDOW);

    const folded = await a.h.db.slackMessage.findMany({ where: { action: 'folded' } });
    expect(folded).toHaveLength(DEAD_LETTERS - PER_WINDOW);
    expect(folded.every((r) => r.ts === null && r.kind === 'dead_letter' && r.deadLetterId !== null)).toBe(true);

    const digest = messages.find((m) => m.ts === digestTs);
    const body = JSON.stringify(digest?.blocks);
    expect(body).toContain(`${DEAD_LETTERS - PER_WINDOW} more alerts in ${WINDOW_MS / 1000} s`);
    expect(body).toContain(`• ${DEAD_LETTERS - PER_WINDOW} dead letters`);
    expect(body).toContain('/admin/dead-letters');
    expect(await a.h.db.deadLetter.count()).toBe(DEAD_LETTERS);
  }, 90_000);
});
