import { acknowledged, auditJobs, createDeliverySender, planDeliveries, type PlannedDelivery } from '../support/chaos-deliveries';
import { chaosSeed, createRng, mapConcurrent, percentile, scaled, writeChaosSummary } from '../support/chaos-run';
import { createLoopHarness, type LoopHarness } from '../e2e/loop-harness';

const TOTAL = scaled({ short: 1_000, full: 10_000 });
const CONCURRENCY = 50;
/** A sender redelivers what was not acknowledged, as Pub/Sub does: backoff from 200 ms, doubling, at most 5 s. */
const MAX_ATTEMPTS = 8;

jest.setTimeout(scaled({ short: 180_000, full: 900_000 }));

/**
 * A storm of properly signed webhooks against the real API process (no worker: every job the
 * ingress creates stays in Redis to be counted): Pub/Sub pushes of Gmail notifications and
 * ClickUp task events, 30% of them redeliveries of the same bytes, all shuffled (duplicates
 * before their original, historyIds out of order), 50 in flight at once. Every distinct
 * delivery must end with exactly one WebhookDelivery row and one job naming it, and nothing else.
 */
describe('a storm of duplicated, reordered webhooks at load (real API process)', () => {
  let h: LoopHarness;

  beforeAll(async () => {
    h = await createLoopHarness({ label: 'storm' });
    await h.startApi();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('loses no delivery and creates no duplicate job', async () => {
    const rng = createRng(chaosSeed('webhook-storm'));
    const env = h.sandbox.env();
    const pusher = h.sandbox.pusherFor(h.apiUrl);
    const plan = planDeliveries(rng, pusher, {
      total: TOTAL,
      duplicateShare: 0.3,
      mailbox: h.sandbox.google.mailbox,
      webhookId: h.sandbox.clickup.webhookId,
      taskIds: Array.from({ length: 20 }, (_, i) => `storm-task-${i}`),
    });
    const send = createDeliverySender({ apiUrl: h.apiUrl, pusher, clickupSecret: env.CLICKUP_WEBHOOK_SECRET ?? '' });

    const latencies: number[] = [];
    const unacknowledged: Record<string, number> = {};
    let attempts = 0;
    const started = Date.now();
    const finals = await mapConcurrent(plan.sequence, CONCURRENCY, async (d: PlannedDelivery) => {
      let status = 0;
      for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt += 1) {
        const t0 = Date.now();
        status = await send(d);
        latencies.push(Date.now() - t0);
        attempts += 1;
        if (acknowledged(status)) break;
        unacknowledged[String(status)] = (unacknowledged[String(status)] ?? 0) + 1;
        if (attempt < MAX_ATTEMPTS) await new Promise((resolve) => setTimeout(resolve, Math.min(5000, 200 * 2 ** (attempt - 1))));
      }
      return { d, status };
    });
    const durationMs = Date.now() - started;

    // Pub/Sub pushes are answered 204, ClickUp events 200, first time or redelivered.
    const wrong = finals.filter(({ d, status }) => status !== (d.source === 'gmail' ? 204 : 200));
    expect(wrong.map(({ d, status }) => ({ key: d.key, status }))).toEqual([]);

    const audit = await auditJobs(h.db, h.queues, h.redisUrl, plan.distinct);
    expect(audit.missingRows).toEqual([]);
    expect(audit.missingJobs).toEqual([]);
    expect(audit.wrongData).toEqual([]);
    expect(audit.extraJobs).toBe(0);
    expect(audit.rows).toBe(audit.expectedJobs);
    // However they were reordered, the mailbox ends with the highest historyId announced.
    const announced = plan.distinct.flatMap((d) => (d.historyId ? [BigInt(d.historyId)] : []));
    const highest = String(announced.reduce((a, b) => (b > a ? b : a), 0n));
    const sync = await h.db.mailboxSync.findUniqueOrThrow({ where: { mailbox: h.sandbox.google.mailbox } });
    expect(sync.highestNotifiedHistoryId).toBe(highest);
    // The API is still serving.
    expect((await fetch(`${h.apiUrl}/health/liveness`)).status).toBe(200);

    writeChaosSummary('webhook-storm', {
      seed: rng.seed,
      deliveries: plan.sequence.length,
      distinct: plan.distinct.length,
      duplicates: plan.duplicates,
      gmail: plan.distinct.filter((d) => d.source === 'gmail').length,
      clickup: plan.distinct.filter((d) => d.source === 'clickup').length,
      ignoredEvents: plan.distinct.filter((d) => d.jobId === null).length,
      concurrency: CONCURRENCY,
      requests: attempts,
      unacknowledgedAnswers: unacknowledged,
      expectedJobs: audit.expectedJobs,
      jobs: audit.jobsByQueue,
      deliveryRows: audit.rows,
      lost: audit.missingJobs.length + audit.missingRows.length,
      duplicateJobs: audit.extraJobs,
      durationMs,
      requestsPerSecond: Math.round((attempts / durationMs) * 1000),
      latencyMs: { p50: percentile(latencies, 50), p95: percentile(latencies, 95), p99: percentile(latencies, 99), max: percentile(latencies, 100) },
    });
  });
});
