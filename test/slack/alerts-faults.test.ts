import { waitFor } from '../support/wait';
import { createAlertsHarness, type AlertsHarness } from './alerts-harness';

describe('Slack alerts under Slack faults', () => {
  describe('rate limited', () => {
    let a: AlertsHarness;
    beforeAll(async () => {
      a = await createAlertsHarness({ label: 'slack-429' });
    });
    afterAll(async () => {
      await a.close();
    });

    it('429 with Retry-After: 2 posts once, after at least 2 s and well under 10 s', async () => {
      a.slack.fault({ kind: 'rate_limited', retryAfterSec: 2, method: 'chat.postMessage' });
      await a.enqueueAlert({ alertId: 'limited-1', kind: 'campaign_problem', title: 'Campaign "Busy" was not started', text: 'ClickUp task t9: roster sheet missing' });
      await waitFor('alert posted', async () => (await a.h.db.slackMessage.findUnique({ where: { alertId: 'limited-1' } }))?.ts ?? null, 20_000);

      const posts = a.slack.calls('chat.postMessage');
      expect(posts.map((c) => c.status)).toEqual([429, 200]);
      const [limited, accepted] = posts as [(typeof posts)[0], (typeof posts)[0]];
      const waited = accepted.at - limited.at;
      expect(waited).toBeGreaterThanOrEqual(2_000);
      expect(waited).toBeLessThan(10_000);
      expect(a.channelMessages()).toHaveLength(1);
      // A wait asked for by Slack spends no attempt and is no failure.
      // The worker records the post before BullMQ marks the job completed.
      await waitFor('alert job completed', async () => (await a.alertState('limited-1')) === 'completed');
      expect(await a.h.db.deadLetter.count()).toBe(0);
    });
  });

  describe('invalid token', () => {
    let a: AlertsHarness;
    beforeAll(async () => {
      a = await createAlertsHarness({ label: 'slack-auth', token: 'xoxb-revoked-0000' });
    });
    afterAll(async () => {
      await a.close();
    });

    it('a dead letter alert with a bad token becomes one dead letter naming the fix, with no loop', async () => {
      await a.h.queues['negotiation-steps'].add('negotiation-step', { negotiationId: 'n-auth', kind: 'open' }, { jobId: 'step.n-auth.open' });
      const stepDead = await waitFor('step dead letter', () => a.h.db.deadLetter.findFirst({ where: { queue: 'negotiation-steps' } }), 20_000);
      const alertDead = await waitFor('alert dead letter', () => a.h.db.deadLetter.findFirst({ where: { queue: 'alerts' } }), 20_000);
      // The row is written just before BullMQ marks the job failed.
      await waitFor('alert job failed', async () => (await a.alertState(`dl-${stepDead.id}`)) === 'failed');

      expect(alertDead).toMatchObject({ jobId: `alert.dl-${stepDead.id}`, errorClass: 'permanent', attempts: 1 });
      expect(alertDead.errorMessage).toContain('invalid_auth');
      expect(alertDead.errorMessage).toContain('SLACK_BOT_TOKEN');
      expect(alertDead.errorMessage).not.toContain('xoxb-revoked');
      expect(a.slack.calls('chat.postMessage').map((c) => c.error)).toEqual(['invalid_auth']);

      // The failed alert raises no alert of its own: the alerts queue holds the one job only.
      const counts = await a.h.queues.alerts.getJobCounts('waiting', 'delayed', 'active', 'completed', 'failed');
      expect(counts).toMatchObject({ waiting: 0, delayed: 0, active: 0, completed: 0, failed: 1 });
      expect(await a.h.db.deadLetter.count()).toBe(2);
      expect(a.h.logs.join('\n')).not.toContain('xoxb-revoked');
    });
  });
});
