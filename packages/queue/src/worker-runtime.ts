import { hostname } from 'node:os';
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { RedisConnection } from './connection';
import { backoffDelay, classifyError, PermanentError, QUEUE_NAMES, type QueueName } from '@parley/contracts';
import { recordDeadLetter } from './dead-letters';
import { deadLettered, plannedDelays, processJob, stallPolicyOf, type ProcessorOptions } from './job-processor';
import { throttledWarn } from './log-throttle';
import { bullmqStallLimit, SUPERSEDED_BY_NEXT_RUN } from './stall-policy';

export interface WorkerRuntimeOptions extends ProcessorOptions {
  /** The workers' own connection (maxRetriesPerRequest: null); `queues` use another one. */
  connection: RedisConnection;
  prefix: string;
  concurrency: number;
  /** Per-queue overrides of `concurrency` (e.g. many LLM-bound steps, few CPU-bound syncs). */
  concurrencyByQueue?: Partial<Record<QueueName, number>>;
  /** How long a job's lock lives without renewal (renewed every half of it while the job runs). */
  lockDurationMs: number;
  /** How often each worker looks for jobs whose lock expired. */
  stalledIntervalMs: number;
  /** Only these queues get a worker in this process (default: all). */
  only?: QueueName[];
  workerId?: string;
}

export interface WorkerRuntime {
  workers: Worker[];
  workerId: string;
  /**
   * Stops taking jobs and waits for in-flight ones up to `graceMs`. Past that, the jobs still
   * running are handed back (moved to wait, no attempt spent, no stall counted) so another
   * worker starts them at once, and their handlers' abort signals fire.
   */
  close: (graceMs: number) => Promise<{ drained: boolean; handedBack: string[] }>;
  /** Jobs whose handlers are still running, as `queue/jobId` (what a cut-short shutdown leaves). */
  running: () => string[];
}

/**
 * Each Redis command of the shutdown gets this long. The workers' connection waits out
 * outages (maxRetriesPerRequest: null), so without a bound a command sent while Redis is gone
 * waits for a reconnect that may never come.
 */
const SHUTDOWN_COMMAND_MS = 1000;

function bounded<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no answer from Redis within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

const HEARTBEAT_MS = 10_000;

/** Queues whose in-flight jobs are never handed back at shutdown (see close()). */
const HOLD_AT_SHUTDOWN: ReadonlySet<string> = new Set(['outbound-email']);
export const heartbeatKey = (prefix: string) => `${prefix}:parley:workers`;

const BULLMQ_GAVE_UP = /stalled more than allowable limit|started more than allowable limit/;

export function startWorkers(options: WorkerRuntimeOptions): WorkerRuntime {
  const workerId = options.workerId ?? `${hostname()}-${process.pid}`;
  const queues = options.only ?? QUEUE_NAMES;
  const missing = QUEUE_NAMES.filter((q) => typeof options.handlers[q] !== 'function');
  if (missing.length > 0) throw new Error(`no handler registered for queue(s): ${missing.join(', ')}`);

  const warn = throttledWarn(options.log);
  // In-flight jobs with their lock tokens, so shutdown can hand them back.
  const inFlight = new Map<Worker, Map<string, { job: Job; token: string }>>();

  const workers = queues.map((queue) => {
    const running = new Map<string, { job: Job; token: string }>();
    // Three parameters: BullMQ then gives each job an AbortSignal (processor.length >= 3).
    const processor = async (job: Job, token?: string, signal?: AbortSignal) => {
      const key = job.id ?? '';
      running.set(key, { job, token: token ?? '' });
      try {
        return await processJob(options, queue, job, token, signal);
      } finally {
        running.delete(key);
      }
    };
    const worker = new Worker(queue, processor, {
      connection: options.connection,
      prefix: options.prefix,
      concurrency: options.concurrencyByQueue?.[queue] ?? options.concurrency,
      lockDuration: options.lockDurationMs,
      stalledInterval: options.stalledIntervalMs,
      // The processor decides on a job that stalled too often before its handler runs
      // (stall-policy.ts); BullMQ's own limit sits one above its last round, as a backstop.
      maxStalledCount: bullmqStallLimit(stallPolicyOf(options)),
      // Needed for queue.rateLimit() + Worker.RateLimitError() to pause the queue (BullMQ #2193).
      limiter: { max: 10_000, duration: 1000 },
      settings: {
        backoffStrategy: (attemptsMade: number, _type?: string, err?: Error) =>
          (err && plannedDelays.get(err)) ?? backoffDelay(classifyError(err), attemptsMade, options.policy),
      },
    });
    inFlight.set(worker, running);
    worker.on('failed', (job, err) => {
      if (!job || deadLettered.has(job) || !failedForGood(job, err)) return;
      // BullMQ failed it without our processor deciding (too many stalls), or the processor
      // could not write the dead letter in time: record it now (idempotent).
      const errorClass = BULLMQ_GAVE_UP.test(err.message) ? 'stalled' : classifyError(err);
      if (errorClass === 'stalled' && SUPERSEDED_BY_NEXT_RUN.has(queue)) {
        options.log.warn('stalled job given up; the next scheduled run does its work', { queue, jobId: job.id, error: err.message });
        return;
      }
      recordDeadLetter(options, { queue, job, errorClass, error: err }).catch((e: unknown) =>
        options.log.error('could not record dead letter', { queue, jobId: job.id, error: (e as Error).message }),
      );
    });
    worker.on('lockRenewalFailed', (jobIds: string[]) => {
      for (const id of jobIds) worker.cancelJob(id, 'lock lost');
      options.log.warn('job lock lost; another worker may run the job', { queue, jobIds });
    });
    worker.on('error', (err) => warn(`worker:${queue}`, 'worker error', err.message, { queue }));
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
      // close() is memoized by BullMQ (a later close(true) returns the same pending promise),
      // so the deadline is handled here rather than by forcing a second close.
      const graceful = Promise.all(workers.map((w) => w.close())).then(() => true);
      let deadline: NodeJS.Timeout | undefined;
      const expired = new Promise<boolean>((resolve) => {
        deadline = setTimeout(() => resolve(false), graceMs);
      });
      const drained = await Promise.race([graceful, expired]);
      clearTimeout(deadline);
      const handedBack: string[] = [];
      // Redis gone: nothing can be handed back; the jobs return once their locks expire.
      const redisUp = options.connection.status === 'ready';
      if (!drained) {
        if (!redisUp) options.log.warn('redis unavailable at shutdown; running jobs return to the queue when their locks expire');
        for (const [worker, running] of inFlight) {
          for (const [id, { job, token }] of running) {
            if (HOLD_AT_SHUTDOWN.has(worker.name)) {
              // An external side effect may still be in flight (a Gmail send cannot be taken
              // back): let the lock expire after this process exits, so the rerun's
              // Message-ID lookup sees whatever the first attempt did.
              options.log.warn('leaving a job to expire instead of handing it back', { queue: worker.name, jobId: id });
              continue;
            }
            if (!redisUp) continue;
            try {
              await bounded(job.moveToWait(token), SHUTDOWN_COMMAND_MS, 'handing a job back');
              handedBack.push(id);
            } catch (error) {
              options.log.warn('could not hand a job back; it returns after its lock expires', { queue: worker.name, jobId: id, error: (error as Error).message });
            }
          }
          worker.cancelAllJobs('shutdown');
        }
        options.log.warn('shutdown grace period over; in-flight jobs handed back', { graceMs, jobIds: handedBack });
      }
      if (options.connection.status === 'ready') {
        await bounded(options.connection.zrem(heartbeatKey(options.prefix), workerId), SHUTDOWN_COMMAND_MS, 'heartbeat removal').catch(() => undefined);
      }
      return { drained, handedBack };
    },
    running: () => [...inFlight].flatMap(([worker, jobs]) => [...jobs.keys()].map((id) => `${worker.name}/${id}`)),
  };
}

/** BullMQ's own rule (Job.shouldRetryJob): no retry once unrecoverable or out of attempts. */
function failedForGood(job: Job, err: Error): boolean {
  if (err.message === 'bullmq:rateLimitExceeded') return false;
  const unrecoverable = err instanceof UnrecoverableError || err instanceof PermanentError || err.name === 'UnrecoverableError';
  return unrecoverable || job.attemptsMade >= (job.opts.attempts ?? 1);
}
