import { capturingLogger } from '../support/logs';
import type { Db } from '@parley/db';
import type { Logger } from '@parley/logging';
import { createMetrics, type Metrics } from '@parley/metrics';
import {
  closeQueues,
  createQueues,
  createRedis,
  startWorkers,
  type DeadLetterInfo,
  type HandlerMap,
  type QueueName,
  type Queues,
  type RetryPolicy,
  type WorkerRuntime,
} from '@parley/queue';
import type { Redis } from 'ioredis';
import { createHandlers } from '../../apps/worker/src/handlers';
import { unwiredHandlers } from '../fixtures/unwired-handlers';
import { createTestDatabase } from '../support/db';
import { dropPrefix, redisUrl, uniquePrefix } from '../support/redis';

/** Short waits so retries happen within a test, with the same shape as production. */
export const TEST_POLICY: RetryPolicy = {
  transientBaseMs: 100,
  transientAttempts: 4,
  overloadedBaseMs: 400,
  overloadedCapMs: 5_000,
  overloadedAttempts: 5,
  rateLimitDefaultMs: 1_000,
  rateLimitMax: 2,
};

export interface StartOptions {
  /** The handlers this test runs; the engine's others are unwired stand-ins (fixtures/unwired-handlers). */
  handlers: Partial<HandlerMap>;
  only: QueueName[];
  concurrency?: number;
  workerId?: string;
  maxStalledCount?: number;
  stallCooldowns?: number;
  stallCooldownMs?: number;
}

export interface Harness {
  db: Db;
  queues: Queues;
  metrics: Metrics;
  log: Logger;
  /** Every log line written so far (JSON). */
  logs: string[];
  prefix: string;
  deadLetters: DeadLetterInfo[];
  start: (options: StartOptions) => Promise<WorkerRuntime>;
  /** Closes the workers started so far (the database and queues stay open). */
  stopWorkers: () => Promise<void>;
  close: () => Promise<void>;
}

/** Real Redis (own prefix), a fresh SQLite file, and the real worker runtime. */
export async function createHarness(label: string, policy: RetryPolicy = TEST_POLICY): Promise<Harness> {
  const database = await createTestDatabase();
  const prefix = uniquePrefix(label);
  const url = redisUrl();
  const producer = createRedis(url, 'producer');
  const connections: Redis[] = [producer];
  const queues = createQueues(producer, prefix, policy);
  const metrics = createMetrics();
  const { log, lines: logs } = capturingLogger('test', 'debug');
  const deadLetters: DeadLetterInfo[] = [];
  let runtimes: WorkerRuntime[] = [];

  const start = async (options: StartOptions) => {
    const connection = createRedis(url, 'worker');
    connections.push(connection);
    const handlers: HandlerMap = { ...createHandlers({ db: database.db, queues, log }, unwiredHandlers(options.handlers)), ...options.handlers };
    const runtime = startWorkers({
      connection,
      prefix,
      handlers,
      policy,
      concurrency: options.concurrency ?? 2,
      lockDurationMs: 30_000,
      stalledIntervalMs: 30_000,
      maxStalledCount: options.maxStalledCount ?? 2,
      stallCooldowns: options.stallCooldowns,
      stallCooldownMs: options.stallCooldownMs,
      only: options.only,
      workerId: options.workerId,
      db: database.db,
      queues,
      metrics,
      log,
      onDeadLetter: (info) => deadLetters.push(info),
    });
    await Promise.all(runtime.workers.map((w) => w.waitUntilReady()));
    runtimes.push(runtime);
    return runtime;
  };

  const stopWorkers = async () => {
    await Promise.all(runtimes.map((r) => r.close(10_000)));
    runtimes = [];
  };

  return {
    db: database.db,
    queues,
    metrics,
    log,
    logs,
    prefix,
    deadLetters,
    start,
    stopWorkers,
    close: async () => {
      await stopWorkers();
      await closeQueues(queues);
      await Promise.all(connections.map((c) => c.quit().catch(() => c.disconnect())));
      await database.cleanup();
      await dropPrefix(url, prefix);
    },
  };
}

/** The counter's value for one label set (prom-client keeps it in memory). */
export async function counterValue(metric: { get: () => Promise<{ values: { value: number; labels: Record<string, unknown> }[] }> }, labels: Record<string, string>): Promise<number> {
  const { values } = await metric.get();
  const hit = values.find((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val));
  return hit?.value ?? 0;
}

/** Planned retry delays, in order, read back from the job's BullMQ log. */
export async function plannedDelaysOf(queue: Queues[QueueName], jobId: string): Promise<number[]> {
  const { logs } = await queue.getJobLogs(jobId);
  return logs.map((line) => /retry in (\d+) ms/.exec(line)?.[1]).filter((v): v is string => v !== undefined).map(Number);
}
