import type { Db } from '@parley/db';
import { closeQueues, createQueues, createRedis, type Queues } from '@parley/queue';
import type { Redis } from 'ioredis';
import { createTestDatabase } from '../support/db';
import { spawnTs, type Spawned } from '../support/processes';
import { dropPrefix, redisUrl, uniquePrefix } from '../support/redis';
import { waitFor } from '../support/wait';

const FIXTURE = 'test/fixtures/fault-worker.ts';

interface FixtureRow {
  jobId: string;
  pid: number;
}

/** A spawned worker and the pid of the Node process that runs it (tsx runs it as a child). */
interface WorkerProcess extends Spawned {
  pid: number;
}

/** The first JSON log line of `output` with this message. */
function logLine(output: string, message: string): Record<string, unknown> | undefined {
  for (const line of output.split('\n')) {
    if (!line.startsWith('{')) continue;
    const parsed = JSON.parse(line) as Record<string, unknown>;
    if (parsed.message === message) return parsed;
  }
  return undefined;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('worker processes under kill -9 and SIGTERM (real Redis, SQLite, processes)', () => {
  let db: Db;
  let dbUrl: string;
  let cleanupDb: () => Promise<void>;
  let prefix: string;
  let producer: Redis;
  let queues: Queues;
  let spawned: WorkerProcess[] = [];

  const env = (extra: Record<string, string> = {}) => ({
    REDIS_URL: redisUrl(),
    QUEUE_PREFIX: prefix,
    DATABASE_URL: dbUrl,
    // Short stalled-job settings so a dead worker's job moves on within seconds.
    JOB_LOCK_DURATION_MS: '2000',
    JOB_STALLED_INTERVAL_MS: '1000',
    JOB_MAX_STALLED_COUNT: '2',
    WORKER_CONCURRENCY: '2',
    SHUTDOWN_GRACE_MS: '20000',
    LOG_LEVEL: 'info',
    ...extra,
  });
  const startWorker = async (extra: Record<string, string> = {}): Promise<WorkerProcess> => {
    const child = spawnTs(FIXTURE, env(extra));
    const worker: WorkerProcess = Object.assign(child, { pid: 0 });
    spawned.push(worker);
    const ready = await worker.waitForLine(/worker ready/, 60_000);
    // workerId is `<host>-<pid>` of the process that runs the worker.
    worker.pid = Number(/"workerId":"[^"]*-(\d+)"/.exec(ready)?.[1]);
    return worker;
  };
  const rows = async (action: 'job-start' | 'job-effect', jobId: string): Promise<FixtureRow[]> => {
    const all = await db.auditEntry.findMany({ where: { actor: 'fixture', action }, orderBy: { at: 'asc' } });
    return all.map((r) => r.details as unknown as FixtureRow).filter((d) => d.jobId === jobId);
  };
  const add = (id: string) => queues['negotiation-steps'].add('negotiation-step', { negotiationId: id, kind: 'open' }, { jobId: `step.${id}` });
  const state = (jobId: string) => queues['negotiation-steps'].getJobState(jobId);

  beforeAll(async () => {
    const database = await createTestDatabase();
    db = database.db;
    dbUrl = database.url;
    cleanupDb = database.cleanup;
    prefix = uniquePrefix('crash');
    producer = createRedis(redisUrl(), 'producer');
    queues = createQueues(producer, prefix);
  });
  afterEach(async () => {
    for (const s of spawned) {
      if (s.pid && alive(s.pid)) process.kill(s.pid, 'SIGKILL');
      if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGKILL');
    }
    await Promise.all(spawned.map((s) => s.exited));
    spawned = [];
  });
  afterAll(async () => {
    await closeQueues(queues);
    await producer.quit();
    await cleanupDb();
    await dropPrefix(redisUrl(), prefix);
  });

  it('completes a job exactly once after the process running it is killed with SIGKILL', async () => {
    const workers = await Promise.all([startWorker(), startWorker()]);
    await add('slow-3000-kill');
    const [first] = await waitFor('the job started', async () => {
      const starts = await rows('job-start', 'step.slow-3000-kill');
      return starts.length > 0 ? starts : undefined;
    });
    const victim = workers.find((w) => w.pid === first?.pid);
    const survivor = workers.find((w) => w !== victim);
    if (!victim || !survivor) throw new Error(`no worker with pid ${first?.pid}`);
    process.kill(victim.pid, 'SIGKILL');
    await victim.exited;

    // Lock expiry (2 s) plus up to two stalled checks (1 s each), then the 3 s job.
    await waitFor('the job completed on the survivor', async () => (await state('step.slow-3000-kill')) === 'completed', 45_000);
    const starts = await rows('job-start', 'step.slow-3000-kill');
    const effects = await rows('job-effect', 'step.slow-3000-kill');
    expect(starts.map((s) => s.pid)).toEqual([victim.pid, survivor.pid]);
    expect(effects).toEqual([{ jobId: 'step.slow-3000-kill', pid: survivor.pid }]);
    const job = await queues['negotiation-steps'].getJob('step.slow-3000-kill');
    expect(job?.stalledCounter).toBe(1);
    expect(job?.attemptsMade).toBe(1);
    expect(await db.deadLetter.count({ where: { jobId: 'step.slow-3000-kill' } })).toBe(0);
  });

  it('sets a job whose worker died past the stall limit aside for its cool-down, then completes it once', async () => {
    const cooling = { JOB_MAX_STALLED_COUNT: '0', JOB_STALL_COOLDOWNS: '1', JOB_STALL_COOLDOWN_MS: '1500' };
    const workers = await Promise.all([startWorker(cooling), startWorker(cooling)]);
    await add('slow-3000-cool');
    const [first] = await waitFor('the job started', async () => {
      const starts = await rows('job-start', 'step.slow-3000-cool');
      return starts.length > 0 ? starts : undefined;
    });
    const victim = workers.find((w) => w.pid === first?.pid);
    const survivor = workers.find((w) => w !== victim);
    if (!victim || !survivor) throw new Error(`no worker with pid ${first?.pid}`);
    process.kill(victim.pid, 'SIGKILL');
    await victim.exited;

    // Its delayed state lasts the 1.5 s cool-down only: the survivor's log line says it was set aside.
    await waitFor('the job was set aside', () => survivor.output().includes('stalled job set aside'), 45_000);
    await waitFor('the job completed after its cool-down', async () => (await state('step.slow-3000-cool')) === 'completed', 45_000);
    const starts = await rows('job-start', 'step.slow-3000-cool');
    expect(starts.map((s) => s.pid)).toEqual([victim.pid, survivor.pid]);
    expect(await rows('job-effect', 'step.slow-3000-cool')).toEqual([{ jobId: 'step.slow-3000-cool', pid: survivor.pid }]);
    expect(logLine(survivor.output(), 'stalled job set aside')).toMatchObject({ jobId: 'step.slow-3000-cool', stalls: 1, cooldown: 1, delayMs: 1500 });
    expect(await db.deadLetter.count({ where: { jobId: 'step.slow-3000-cool' } })).toBe(0);
  });

  it('dead-letters a job that stalled past the limit without running its handler again', async () => {
    const noCooldown = { JOB_MAX_STALLED_COUNT: '0', JOB_STALL_COOLDOWNS: '0' };
    const workers = await Promise.all([startWorker(noCooldown), startWorker(noCooldown)]);
    await add('slow-3000-stall');
    const [first] = await waitFor('the job started', async () => {
      const starts = await rows('job-start', 'step.slow-3000-stall');
      return starts.length > 0 ? starts : undefined;
    });
    const victim = workers.find((w) => w.pid === first?.pid);
    if (!victim) throw new Error(`no worker with pid ${first?.pid}`);
    process.kill(victim.pid, 'SIGKILL');
    await victim.exited;

    await waitFor('the job failed', async () => (await state('step.slow-3000-stall')) === 'failed', 45_000);
    const deadLetters = await db.deadLetter.findMany({ where: { jobId: 'step.slow-3000-stall' } });
    expect(deadLetters).toHaveLength(1);
    expect(deadLetters[0]?.errorClass).toBe('stalled');
    expect(deadLetters[0]?.errorMessage).toMatch(/stalled 1 times \(limit 0\)/);
    expect(await rows('job-start', 'step.slow-3000-stall')).toHaveLength(1);
    expect(await rows('job-effect', 'step.slow-3000-stall')).toHaveLength(0);
  });

  it('keeps one dead letter and one alert when the process dies between the row and failing the job', async () => {
    const workers = await Promise.all([startWorker(), startWorker()]);
    await add('crashrow-x');
    // The process that wrote the dead-letter row kills itself before failing the job.
    const died = await Promise.race(workers.map((w) => w.exited.then(() => w)));
    expect(died.output()).not.toMatch(/worker stopped/);
    expect(await db.deadLetter.count({ where: { jobId: 'step.crashrow-x' } })).toBe(1);
    // Not failed in Redis: the process died before telling BullMQ.
    expect(['active', 'waiting']).toContain(await state('step.crashrow-x'));

    await waitFor('the survivor failed the job', async () => (await state('step.crashrow-x')) === 'failed', 45_000);
    const deadLetters = await db.deadLetter.findMany({ where: { jobId: 'step.crashrow-x' } });
    expect(deadLetters).toHaveLength(1);
    expect(await queues.alerts.getJob(`alert.dl-${deadLetters[0]?.id}`)).toBeDefined();
    const starts = await rows('job-start', 'step.crashrow-x');
    expect(starts).toHaveLength(2);
    expect(starts[1]?.pid).not.toBe(starts[0]?.pid);
  });

  it('finishes the running job on SIGTERM, then exits 0 with nothing left active', async () => {
    const worker = await startWorker();
    await add('slow-2500-term');
    await waitFor('the job started', async () => (await rows('job-start', 'step.slow-2500-term')).length === 1);
    process.kill(worker.pid, 'SIGTERM');
    expect(await worker.exited).toBe(0);
    expect(await state('step.slow-2500-term')).toBe('completed');
    expect(await rows('job-effect', 'step.slow-2500-term')).toHaveLength(1);
    expect(await queues['negotiation-steps'].getActiveCount()).toBe(0);
    expect(logLine(worker.output(), 'worker stopped')).toMatchObject({ drained: true, handedBack: [] });
  });

  it('hands a job that outlasts the grace period back to the queue, without spending an attempt', async () => {
    const worker = await startWorker({ SHUTDOWN_GRACE_MS: '300' });
    await add('slowonce-60000-grace');
    await waitFor('the job started', async () => (await rows('job-start', 'step.slowonce-60000-grace')).length === 1);
    const signalledAt = Date.now();
    process.kill(worker.pid, 'SIGTERM');
    expect(await worker.exited).toBe(0);
    // Well before the job could have finished on its own.
    expect(Date.now() - signalledAt).toBeLessThan(15_000);
    expect(await state('step.slowonce-60000-grace')).toBe('waiting');
    const job = await queues['negotiation-steps'].getJob('step.slowonce-60000-grace');
    expect(job?.attemptsMade).toBe(0);
    expect(job?.stalledCounter).toBe(0);
    expect(await rows('job-effect', 'step.slowonce-60000-grace')).toHaveLength(0);
    expect(logLine(worker.output(), 'worker stopped')).toMatchObject({ drained: false, handedBack: ['step.slowonce-60000-grace'] });

    // The next worker takes it at once (no lock to wait out) and completes it.
    await startWorker();
    await waitFor('the job completed', async () => (await state('step.slowonce-60000-grace')) === 'completed', 30_000);
    expect(await rows('job-effect', 'step.slowonce-60000-grace')).toHaveLength(1);
    expect(await db.deadLetter.count({ where: { jobId: 'step.slowonce-60000-grace' } })).toBe(0);
  });
});
