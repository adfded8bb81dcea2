import type { Db } from '@parley/db';
import { closeQueues, createQueues, createRedis, type Queues } from '@parley/queue';
import type { Redis } from 'ioredis';
import { createTestDatabase } from '../support/db';
import { spawnTs, type Spawned } from '../support/processes';
import { startPrivateRedis, uniquePrefix, type PrivateRedis } from '../support/redis';
import { waitFor } from '../support/wait';

const FIXTURE = 'test/fixtures/fault-worker.ts';
const GRACE_MS = 2000;
/** The documented cleanup allowance past the grace period (SHUTDOWN_CLEANUP_MS). */
const CLEANUP_MS = 3000;
/** Slack for process start-up of the exit path and a loaded 2-core machine. */
const MARGIN_MS = 6000;

/**
 * SIGTERM, then Redis goes away while the worker is shutting down: every Redis command of the
 * shutdown (handing jobs back, the heartbeat, QUIT) would wait for a Redis that is not there.
 * The grace period must still bound the process's life.
 */
describe('worker shutdown while Redis goes away', () => {
  let redis: PrivateRedis;
  let db: Db;
  let dbUrl: string;
  let cleanupDb: () => Promise<void>;
  let producer: Redis;
  let queues: Queues | undefined;
  let worker: Spawned | undefined;

  beforeAll(async () => {
    const database = await createTestDatabase();
    db = database.db;
    dbUrl = database.url;
    cleanupDb = database.cleanup;
  });
  beforeEach(async () => {
    redis = await startPrivateRedis();
    producer = createRedis(redis.url, 'producer');
    producer.on('error', () => undefined);
  });
  afterEach(async () => {
    if (worker && worker.child.exitCode === null && worker.child.signalCode === null) worker.child.kill('SIGKILL');
    await worker?.exited;
    if (queues) await closeQueues(queues).catch(() => undefined);
    producer.disconnect();
    redis.process.kill('SIGCONT');
    await redis.stop();
  });
  afterAll(async () => {
    await cleanupDb();
  });

  /** A worker running a job that outlasts the grace period, then SIGTERM; resolves once it says so. */
  const startAndSignal = async (tag: string): Promise<{ signalledAt: number; proc: Spawned }> => {
    const prefix = uniquePrefix('shutdown-deadline');
    queues = createQueues(producer, prefix);
    for (const queue of Object.values(queues)) queue.on('error', () => undefined);
    const proc = spawnTs(FIXTURE, {
      REDIS_URL: redis.url,
      QUEUE_PREFIX: prefix,
      DATABASE_URL: dbUrl,
      SHUTDOWN_GRACE_MS: String(GRACE_MS),
      WORKER_CONCURRENCY: '1',
      LOG_LEVEL: 'info',
    });
    worker = proc;
    const ready = await proc.waitForLine(/worker ready/, 60_000);
    const pid = Number(/"workerId":"[^"]*-(\d+)"/.exec(ready)?.[1]);
    expect(pid).toBeGreaterThan(0);
    const jobId = `step.slow-60000-${tag}`;
    await queues['negotiation-steps'].add('negotiation-step', { negotiationId: `slow-60000-${tag}`, kind: 'open' }, { jobId });
    await waitFor('the job started', async () => {
      const starts = await db.auditEntry.findMany({ where: { actor: 'fixture', action: 'job-start' } });
      return starts.some((r) => (r.details as { jobId?: string } | null)?.jobId === jobId);
    }, 30_000);
    const signalledAt = Date.now();
    process.kill(pid, 'SIGTERM');
    await proc.waitForLine(/"message":"shutting down"/, 10_000);
    return { signalledAt, proc };
  };

  const exitOf = async (proc: Spawned, signalledAt: number) => {
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([proc.exited, new Promise((resolve) => (timer = setTimeout(() => resolve('still running'), 60_000)))]);
    clearTimeout(timer);
    return { code, tookMs: Date.now() - signalledAt, tail: code === 'still running' ? proc.output().slice(-1500) : '' };
  };

  it('Redis killed (SIGKILL) during shutdown: the worker gives up on Redis and exits within grace + cleanup', async () => {
    const { signalledAt, proc } = await startAndSignal('killed');
    await redis.kill();

    const { code, tookMs, tail } = await exitOf(proc, signalledAt);
    expect({ code, tail }).toEqual({ code: 0, tail: '' });
    expect(tookMs).toBeLessThan(GRACE_MS + CLEANUP_MS + MARGIN_MS);
    // Not before the grace period: the job had its time to finish.
    expect(tookMs).toBeGreaterThanOrEqual(GRACE_MS);
    expect(proc.output()).toContain('redis unavailable at shutdown; running jobs return to the queue when their locks expire');
    expect(proc.output()).toMatch(/"drained":false.*"message":"worker stopped"/);
  }, 120_000);

  it('Redis frozen (SIGSTOP) during shutdown: the hard deadline exits 1 and names what was still open', async () => {
    const { signalledAt, proc } = await startAndSignal('frozen');
    // The connection stays up and nothing answers: QUIT and every command wait forever.
    redis.process.kill('SIGSTOP');

    const { code, tookMs, tail } = await exitOf(proc, signalledAt);
    expect({ code, tail }).toEqual({ code: 1, tail: '' });
    expect(tookMs).toBeGreaterThanOrEqual(GRACE_MS + CLEANUP_MS - 100);
    expect(tookMs).toBeLessThan(GRACE_MS + CLEANUP_MS + MARGIN_MS);
    const line = proc.output().split('\n').find((l) => l.includes('shutdown deadline passed'));
    expect(line).toBeDefined();
    const open = (JSON.parse(line ?? '{}') as { open?: string[] }).open ?? [];
    expect(open.length).toBeGreaterThan(0);
    expect(proc.output()).not.toMatch(/"message":"worker stopped"/);
  }, 120_000);
});
