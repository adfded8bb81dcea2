import { createRedis } from '@parley/queue';
import { createAlertsHandler, slackAlertsFromConfig } from '../../apps/worker/src/alerts.handler';
import { redisUrl } from '../support/redis';
import { waitFor } from '../support/wait';
import { createHarness, type Harness } from '../worker/harness';

const settings = { SLACK_API_URL: undefined, SLACK_ALERTS_PER_MINUTE: 10, PUBLIC_URL: 'https://parley.example.test', QUEUE_PREFIX: 'unused' };

describe('alerts without Slack settings', () => {
  let h: Harness;
  const redis = createRedis(redisUrl(), 'producer');
  beforeAll(async () => {
    h = await createHarness('slack-off');
  });
  afterAll(async () => {
    await h.close();
    await redis.quit();
  });

  it('needs both a bot token and a channel to use Slack', () => {
    const io = { db: h.db, queues: h.queues, redis };
    expect(slackAlertsFromConfig({ ...settings, SLACK_BOT_TOKEN: 'xoxb-1', SLACK_ALERT_CHANNEL: undefined }, io)).toBeNull();
    expect(slackAlertsFromConfig({ ...settings, SLACK_BOT_TOKEN: undefined, SLACK_ALERT_CHANNEL: 'C0ALERTS' }, io)).toBeNull();
    expect(slackAlertsFromConfig({ ...settings, SLACK_BOT_TOKEN: 'xoxb-1', SLACK_ALERT_CHANNEL: 'C0ALERTS' }, io)).toMatchObject({ channel: 'C0ALERTS', perWindow: 10 });
  });

  it('refuses a channel given by name at start, saying the id is needed', () => {
    const io = { db: h.db, queues: h.queues, redis };
    for (const channel of ['#parley-alerts', 'parley-alerts', 'c0alerts']) {
      expect(() => slackAlertsFromConfig({ ...settings, SLACK_BOT_TOKEN: 'xoxb-1', SLACK_ALERT_CHANNEL: channel }, io)).toThrow(/SLACK_ALERT_CHANNEL must be a channel id \(C…/);
    }
    expect(slackAlertsFromConfig({ ...settings, SLACK_BOT_TOKEN: 'xoxb-1', SLACK_ALERT_CHANNEL: 'G01PRIVATE' }, io)).toMatchObject({ channel: 'G01PRIVATE' });
  });

  it('logs each alert (title, kind, ids; never the text) and completes it', async () => {
    const slack = slackAlertsFromConfig({ ...settings, SLACK_BOT_TOKEN: undefined, SLACK_ALERT_CHANNEL: undefined }, { db: h.db, queues: h.queues, redis });
    await h.start({ handlers: { alerts: createAlertsHandler(slack) }, only: ['alerts'] });
    await h.queues.alerts.add('alert', { alertId: 'fwd-off-1', kind: 'takeover_reply', title: 'New reply on a claimed thread', text: 'Please call me tomorrow', negotiationId: 'n-off' }, { jobId: 'alert.fwd-off-1' });
    await waitFor('alert completed', async () => (await h.queues.alerts.getJobState('alert.fwd-off-1')) === 'completed');
    expect((await h.queues.alerts.getJob('alert.fwd-off-1'))?.returnvalue).toEqual({ delivered: 'log' });
    const line = h.logs.find((l) => l.includes('"message":"alert"'));
    expect(line).toContain('"negotiationId":"n-off"');
    expect(line).toContain('New reply on a claimed thread');
    expect(h.logs.join('\n')).not.toContain('call me');
    expect(await h.db.slackMessage.count()).toBe(0);
  });
});
