import { createHmac } from 'node:crypto';
import { jobIds } from '@parley/queue';
import { startPrivateRedis, type PrivateRedis } from '../support/redis';
import { waitFor } from '../support/wait';
import { CLICKUP_SECRET, MAILBOX, startApi, type ApiHarness } from './api-harness';

const METRICS_TOKEN = 'b61f0e9c3a7d25e84c0b9f1a6d3e72c5';

describe('Redis outage', () => {
  let redis: PrivateRedis;
  let h: ApiHarness;
  beforeAll(async () => {
    redis = await startPrivateRedis();
    h = await startApi({ redisUrl: redis.url, config: { METRICS_TOKEN } });
  });
  afterAll(async () => {
    await h.close();
    await redis.stop();
  });

  const clickup = (historyItemId: string) => {
    const body = JSON.stringify({ event: 'taskCreated', task_id: 'task-1', webhook_id: 'wh-1', history_items: [{ id: historyItemId }] });
    return fetch(`${h.url}/webhooks/clickup`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-signature': createHmac('sha256', CLICKUP_SECRET).update(body).digest('hex') }, body });
  };
  const timed = async <T>(run: () => Promise<T>): Promise<{ value: T; ms: number }> => {
    const started = Date.now();
    const value = await run();
    return { value, ms: Date.now() - started };
  };

  it('answers 503 on both webhooks within 2 s while Redis is down, stays live, and recovers after restart', async () => {
    // Warm the certs cache so the timing below measures the Redis path only.
    expect((await h.pusher.push({ emailAddress: MAILBOX, historyId: '1', messageId: 'before' })).status).toBe(204);

    await redis.kill();

    const gmail = await timed(() => h.pusher.push({ emailAddress: MAILBOX, historyId: '2', messageId: 'during' }));
    expect(gmail.value.status).toBe(503);
    expect(gmail.ms).toBeLessThan(2000);
    const cu = await timed(() => clickup('item-during'));
    expect(cu.value.status).toBe(503);
    expect(cu.ms).toBeLessThan(2000);
    expect(await cu.value.json()).toMatchObject({ error: 'queue unavailable, retry later' });

    expect((await fetch(`${h.url}/health/liveness`)).status).toBe(200);
    const ready = await timed(() => fetch(`${h.url}/health/readiness`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } }));
    expect(ready.value.status).toBe(503);
    const body = (await ready.value.json()) as { failing: string[]; checks: { redis: { ok: boolean; error?: string } } };
    expect(body.failing).toContain('redis');
    expect(body.checks.redis.ok).toBe(false);
    expect(ready.ms).toBeLessThan(3000);
    // The scrape still answers (queue depth is simply missing).
    expect((await fetch(`${h.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).status).toBe(200);

    await redis.restart();
    await waitFor('the producer connection to come back', () => h.redis.status === 'ready', 20_000);

    const after = await h.pusher.push({ emailAddress: MAILBOX, historyId: '3', messageId: 'after' });
    expect(after.status).toBe(204);
    expect((await h.queues['gmail-notifications'].getJob(jobIds.mailboxSync('after')))?.id).toBe(jobIds.mailboxSync('after'));
    expect((await clickup('item-after')).status).toBe(200);
    expect((await h.queues['campaign-tasks'].getJob(jobIds.campaignIngest({ webhookId: 'wh-1', taskId: 'task-1', historyItemId: 'item-after' })))?.data.historyItemId).toBe('item-after');

    // A redelivery of what was refused during the outage now goes through under the same id.
    expect((await h.pusher.push({ emailAddress: MAILBOX, historyId: '2', messageId: 'during' })).status).toBe(204);
    expect((await h.queues['gmail-notifications'].getJob(jobIds.mailboxSync('during')))?.id).toBe(jobIds.mailboxSync('during'));
  });
});
