import { acknowledged, auditJobs, createDeliverySender, planDeliveries, type PlannedDelivery } from '../support/chaos-deliveries';
import { chaosSeed, createRng, mapConcurrent, scaled, writeChaosSummary } from '../support/chaos-run';
import { waitFor } from '../support/wait';
import { createLoopHarness, type LoopHarness, type LoopProcess } from '../e2e/loop-harness';

const TOTAL = scaled({ short: 600, full: 3_000 });
const KILLS = scaled({ short: 3, full: 10 });
const CONCURRENCY = 20;
/** Pub/Sub redelivers a push that was not acknowledged (here up to 6 times, backoff doubling from 200 ms). */
const PUBSUB_ATTEMPTS = 6;

jest.setTimeout(scaled({ short: 240_000, full: 900_000 }));

/**
 * `kill -9` of Redis (a private redis-server with AOF `appendfsync everysec`, as deployed) at
 * random points during a stream of webhooks, restarted each time, while the API and a worker
 * keep running. The API answers 503 while Redis is down (the senders redeliver, or, like a
 * ClickUp delivery here, give up). Every delivery the API acknowledged must end with its job,
 * and so must every delivery it recorded and then could not enqueue: the worker's delivery
 * sweep enqueues those again from their WebhookDelivery row.
 */
describe('Redis killed and restarted during ingest (API + worker, Redis with AOF everysec)', () => {
  let h: LoopHarness;
  let api: LoopProcess;
  let worker: LoopProcess;
  const taskIds = Array.from({ length: 10 }, (_, i) => `redis-task-${i}`);

  beforeAll(async () => {
    h = await createLoopHarness({ label: 'redis-kill', privateRedis: { appendfsync: 'everysec' } });
    // The ingest jobs find these tasks not ready and stop there: the test is about the jobs, not campaigns.
    for (const id of taskIds) h.sandbox.clickup.upsertTask({ id, name: id, status: 'to do' });
    api = await h.startApi();
    worker = await h.startWorker();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('loses no acknowledged delivery: each one ends with its job', async () => {
    const redis = h.privateRedis;
    if (!redis) throw new Error('the test needs its own Redis');
    const rng = createRng(chaosSeed('redis-kills'));
    const pusher = h.sandbox.pusherFor(h.apiUrl);
    const plan = planDeliveries(rng, pusher, {
      total: TOTAL,
      duplicateShare: 0.3,
      mailbox: h.sandbox.google.mailbox,
      webhookId: h.sandbox.clickup.webhookId,
      taskIds,
      noHistoryShare: 0,
    });
    const send = createDeliverySender({ apiUrl: h.apiUrl, pusher, clickupSecret: h.sandbox.env().CLICKUP_WEBHOOK_SECRET ?? '' });

    const acked = new Set<string>();
    let answered = 0;
    let refused = 0;
    const thresholds = Array.from({ length: KILLS }, () => rng.int(Math.floor(TOTAL * 0.05), Math.floor(TOTAL * 0.85))).sort((a, b) => a - b);
    const outages: Array<{ atDelivery: number; downMs: number; refusedWhileDown: number }> = [];
    let sending = true;

    // The killer: at each threshold of answered deliveries, SIGKILL redis-server; restart it
    // once the API has refused a random number of deliveries (or after 3 s without traffic).
    const killer = (async () => {
      for (const threshold of thresholds) {
        await waitFor(`${threshold} deliveries answered`, () => !sending || answered >= threshold, 600_000, 10);
        // A kill whose threshold the deliveries passed while Redis was down (the rest drained
        // during a long outage) still happens, after the last delivery if need be: every run
        // has KILLS restarts for the API and the worker to ride out.
        const atDelivery = answered;
        const refusedBefore = refused;
        const wanted = rng.int(3, 30);
        await redis.kill();
        const killedAt = Date.now();
        await waitFor('deliveries refused while Redis is down', () => !sending || refused - refusedBefore >= wanted || Date.now() - killedAt > 3000, 60_000, 10);
        await redis.restart();
        outages.push({ atDelivery, downMs: Date.now() - killedAt, refusedWhileDown: refused - refusedBefore });
      }
    })();

    const started = Date.now();
    await mapConcurrent(plan.sequence, CONCURRENCY, async (d: PlannedDelivery) => {
      // A ClickUp delivery is sent once (a sender that gave up); a Pub/Sub push is redelivered.
      const attempts = d.source === 'gmail' ? PUBSUB_ATTEMPTS : 1;
      for (let attempt = 1; attempt <= attempts; attempt += 1) {
        const status = await send(d);
        if (acknowledged(status)) {
          acked.add(d.key);
          break;
        }
        refused += 1;
        if (attempt < attempts) await new Promise((resolve) => setTimeout(resolve, Math.min(2000, 200 * 2 ** (attempt - 1))));
      }
      answered += 1;
    });
    sending = false;
    await killer;
    const ingestMs = Date.now() - started;

    // Deliveries the API recorded (all acknowledged ones among them) must each get their job:
    // the worker's delivery sweep (every MAINTENANCE_INTERVAL_MS, for rows older than 5 s)
    // enqueues what a refused or lost enqueue left out.
    const recordedIds = async () => new Set((await h.db.webhookDelivery.findMany({ select: { id: true } })).map((r) => r.id));
    const recordedPlan = async () => {
      const ids = await recordedIds();
      return plan.distinct.filter((d) => d.jobId !== null && ids.has(d.jobId));
    };
    const audit = await waitFor(
      'every recorded delivery to have its job',
      async () => {
        const a = await auditJobs(h.db, h.queues, redis.url, await recordedPlan());
        return a.missingJobs.length === 0 ? a : null;
      },
      120_000,
      1000,
    );
    const ackedDeliveries = plan.distinct.filter((d) => acked.has(d.key));
    const ackedAudit = await auditJobs(h.db, h.queues, redis.url, ackedDeliveries);
    expect(ackedAudit.missingRows).toEqual([]);
    expect(ackedAudit.missingJobs).toEqual([]);
    expect(ackedAudit.wrongData).toEqual([]);
    expect(audit.wrongData).toEqual([]);
    // No job without its delivery row, and no delivery twice.
    expect(audit.extraJobs).toBe(0);
    expect(outages).toHaveLength(KILLS);
    // Both processes rode out every outage.
    expect(h.running()).toEqual(expect.arrayContaining([api, worker]));
    expect((await fetch(`${h.apiUrl}/health/liveness`)).status).toBe(200);

    const requeued = new Set(
      worker
        .output()
        .split('\n')
        .filter((l) => l.includes('job missing from Redis, enqueued again'))
        .map((l) => /"jobId":"([^"]+)"/.exec(l)?.[1] ?? ''),
    );
    const recorded = await recordedPlan();
    writeChaosSummary('redis-kills', {
      seed: rng.seed,
      deliveries: plan.sequence.length,
      distinct: plan.distinct.length,
      duplicates: plan.duplicates,
      concurrency: CONCURRENCY,
      redisKills: outages.length,
      outages,
      refusedAnswers: refused,
      acknowledgedDistinct: acked.size,
      acknowledgedWithJob: ackedDeliveries.length - ackedAudit.missingJobs.length - ackedAudit.coveredBySync.length,
      acknowledgedCoveredBySync: ackedAudit.coveredBySync.length,
      recordedNotAcknowledged: recorded.filter((d) => !acked.has(d.key)).length,
      requeuedBySweep: requeued.size,
      lostAcknowledged: ackedAudit.missingJobs.length + ackedAudit.missingRows.length,
      duplicateJobs: audit.extraJobs,
      ingestMs,
      durationMs: Date.now() - started,
    });
  });
});
