import { hostname } from 'node:os';
import { Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from '@parley/logging';
import { JOBS, QUEUE_NAMES, type JobData, type QueueName } from './contracts';
import { recordDeadLetter, type DeadLetterDeps } from './dead-letters';
import { classifyError, PermanentError, RateLimitedError, type ErrorClass } from './errors';
import type { HandlerMap } from './handlers';
import { attemptsFor, backoffDelay, type RetryPolicy } from './policy';

export interface WorkerRuntimeOptions extends DeadLetterDeps {
  connection: Redis;
  prefix: string;
  handlers: HandlerMap;
  policy: RetryPolicy;
  concurrency: number;
  lockDurationMs: number;
  stalledIntervalMs: number;
  maxStalledCount: number;
  /** Only these queues get a worker in this process (default: all). */
  only?: QueueName[];
  workerId?: string;
}

export interface WorkerRuntime {
  workers: Worker[];
  workerId: string;
  /** Stops taking jobs, waits for in-flight ones up to `graceMs`, then hands the rest back. */
  close: (graceMs: number) => Promise<{ drained: boolean }>;
}

// The delay chosen by the processor for a thrown error, read back by backoffStrategy, so the
// wait that is logged is the wait that is applied.
const plannedDelays = new WeakMap<Error, number>();

const HEARTBEAT_MS = 10_000;
export const heartbeatKey = (prefix: string) => `${prefix}:parley:workers`;

export function startWorkers(options: WorkerRuntimeOptions): WorkerRuntime {
  const workerId = options.workerId ?? `${hostname()}-${process.pid}`;
  const queues = options.only ?? QUEUE_NAMES;
  const missing = QUEUE_NAMES.filter((q) => typeof options.handlers[q] !== 'function');
  if (missing.length > 0) throw new Error(`no handler registered for queue(s): ${missing.join(', ')}`);

  const workers = queues.map((queue) => {
    const worker = new Worker(queue, (job: Job) => processJob(options, queue, job), {
      connection: options.connection,
      prefix: options.prefix,
      concurrency: options.concurrency,
      lockDuration: options.lockDurationMs,
      stalledInterval: options.stalledIntervalMs,
      maxStalledCount: options.maxStalledCount,
      // Needed for queue.rateLimit() + Worker.RateLimitError() to pause the queue (BullMQ #2193).
      limiter: { max: 10_000, duration: 1000 },
      settings: {
        backoffStrategy: (attemptsMade: number, _type?: string, err?: Error) =>
          (err && plannedDelays.get(err)) ?? backoffDelay(classifyError(err), attemptsMade, options.policy),
      },
    });
    worker.on('failed', (job, err) => {
      // Jobs failed by BullMQ itself (stalled too often) never reach our processor's catch.
      if (job && /stalled more than allowable limit|started more than allowable limit/.test(err.message)) {
        void recordDeadLetter(options, { queue, job, errorClass: 'stalled', error: err }).catch((e: unknown) =>
          options.log.error('could not record dead letter for stalled job', { queue, jobId: job.id, error: (e as Error).message }),
        );
      }
    });
    worker.on('error', (err) => options.log.warn('worker error', { queue, error: err.message }));
    return worker;
  });

  const beat = () => options.connection.zadd(heartbeatKey(options.prefix), Date.now(), workerId).catch(() => undefined);
  void beat();
  const timer = setInterval(beat, HEARTBEAT_MS);
  timer.unref();

  return {
    workers,
    workerId,
    close: async (graceMs) => {
      clearInterval(timer);
      const graceful = Promise.all(workers.map((w) => w.close())).then(() => true);
      const deadline = new Promise<boolean>((resolve) => setTimeout(() => resolve(false), graceMs).unref());
      const drained = await Promise.race([graceful, deadline]);
      // Past the grace period, in-flight jobs are abandoned; their locks expire and another
      // worker picks them up after the stalled interval.
      if (!drained) await Promise.all(workers.map((w) => w.close(true)));
      await options.connection.zrem(heartbeatKey(options.prefix), workerId).catch(() => undefined);
      return { drained };
    },
  };
}

async function processJob(options: WorkerRuntimeOptions, queue: QueueName, job: Job): Promise<unknown> {
  const attempt = job.attemptsMade + 1;
  const log = options.log.child({ queue, jobId: job.id, attempt });
  const started = process.hrtime.bigint();
  const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
  const note = async (line: string) => {
    await job.log(line).catch(() => undefined);
  };
  try {
    const data = JOBS[queue].schema.parse(job.data) as JobData<typeof queue>;
    const handler = options.handlers[queue] as (d: unknown, c: Parameters<HandlerMap[QueueName]>[1]) => Promise<unknown>;
    const result = await handler(data, { queue, jobId: job.id ?? '', attempt, log, note, job });
    options.metrics.jobDuration.observe({ queue, outcome: 'completed' }, seconds());
    return result;
  } catch (raw) {
    const error = raw instanceof Error ? raw : new Error(String(raw));
    const cls = classifyError(error);
    options.metrics.jobDuration.observe({ queue, outcome: cls }, seconds());
    throw await decide(options, queue, job, error, cls, log, note);
  }
}

/** Turns a handler's failure into the queue's next move; returns the error to throw. */
async function decide(
  options: WorkerRuntimeOptions,
  queue: QueueName,
  job: Job,
  error: Error,
  cls: ErrorClass,
  log: Logger,
  note: (line: string) => Promise<void>,
): Promise<Error> {
  const attempt = job.attemptsMade + 1;
  const { policy } = options;

  if (error instanceof RateLimitedError) {
    // Rate-limited restarts do not count as attempts in BullMQ, so cap them here.
    const restarts = (job.attemptsStarted ?? attempt) - job.attemptsMade;
    if (restarts > policy.rateLimitMax) {
      const final = new PermanentError(`rate limited ${restarts} times (cap ${policy.rateLimitMax}): ${error.message}`, 'rate_limit_cap');
      await recordDeadLetter(options, { queue, job, errorClass: 'rate_limited', error: final });
      await note(`dead letter: rate-limit cap reached`);
      return final;
    }
    const waitMs = Math.max(1, Math.round(error.waitMs));
    options.metrics.jobRetries.inc({ queue, reason: 'rate_limited' });
    log.warn('retry decision', { errorClass: cls, waitMs, source: error.source, restarts, decision: 'pause queue' });
    await note(`rate limited by ${error.source}: queue paused ${waitMs} ms`);
    const q = options.queues[queue];
    await q.rateLimit(waitMs);
    return Worker.RateLimitError();
  }

  const allowed = attemptsFor(cls, policy);
  if (cls === 'permanent' || attempt >= allowed || attempt >= (job.opts.attempts ?? 1)) {
    await recordDeadLetter(options, { queue, job, errorClass: cls, error });
    log.error('retry decision', { errorClass: cls, decision: 'dead letter', attempts: attempt, error: error.message });
    await note(`dead letter after ${attempt} attempt(s): ${cls}: ${error.message}`);
    return error instanceof PermanentError ? error : new PermanentError(`${cls} error, attempts exhausted (${attempt}): ${error.message}`, 'attempts_exhausted', { cause: error });
  }

  const waitMs = backoffDelay(cls, attempt, policy);
  plannedDelays.set(error, waitMs);
  options.metrics.jobRetries.inc({ queue, reason: cls });
  log.warn('retry decision', { errorClass: cls, waitMs, decision: 'retry', nextAttempt: attempt + 1, error: error.message });
  await note(`${cls}: retry in ${waitMs} ms (attempt ${attempt + 1} of ${allowed})`);
  return error;
}
