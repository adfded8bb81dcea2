import { DelayedError, Worker, type Job } from 'bullmq';
import type { Logger } from '@parley/logging';
import { attemptsFor, backoffDelay, classifyError, DeferredError, JOBS, PermanentError, RateLimitedError, type ErrorClass, type QueueName, type RetryPolicy } from '@parley/contracts';
import { recordDeadLetter, type DeadLetterClass, type DeadLetterDeps } from './dead-letters';
import type { HandlerMap, JobContext } from './handlers';
import { cooledProgress, cooledRoundsOf, deferralsOf, deferredProgress, stallDecision, type StallPolicy } from './stall-policy';

export interface ProcessorOptions extends DeadLetterDeps {
  handlers: HandlerMap;
  policy: RetryPolicy;
  /** Stalls a job may have and still run (see stall-policy.ts for what happens past them). */
  maxStalledCount: number;
  /** Cool-downs a work job that keeps stalling gets before it is a dead letter (default 0). */
  stallCooldowns?: number;
  /** The first cool-down; each next one is twice as long (default 60 s). */
  stallCooldownMs?: number;
}

export function stallPolicyOf(options: Pick<ProcessorOptions, 'maxStalledCount' | 'stallCooldowns' | 'stallCooldownMs'>): StallPolicy {
  return { maxStalledCount: options.maxStalledCount, cooldowns: options.stallCooldowns ?? 0, cooldownMs: options.stallCooldownMs ?? 60_000 };
}

/**
 * The delay chosen for a thrown error, read back by the worker's backoffStrategy. BullMQ
 * hands backoffStrategy the very object the processor threw (processJob -> handleFailed ->
 * moveToFailed -> shouldRetryJob -> Backoffs.calculate), so the wait that is logged and noted
 * on the job is the wait that is applied.
 */
export const plannedDelays = new WeakMap<Error, number>();

/** Jobs whose dead letter the processor recorded itself (the `failed` listener skips them). */
export const deadLettered = new WeakSet<Job>();

type AnyHandler = (data: unknown, ctx: JobContext) => Promise<unknown>;

export async function processJob(options: ProcessorOptions, queue: QueueName, job: Job, token: string | undefined, signal: AbortSignal | undefined): Promise<unknown> {
  const attempt = job.attemptsMade + 1;
  const log = options.log.child({ queue, jobId: job.id, attempt });
  const started = process.hrtime.bigint();
  const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
  const note = async (line: string) => {
    await job.log(line).catch(() => undefined);
  };

  // A job that keeps stalling (it crashes or starves its worker) is decided on here, before
  // its handler runs again, rather than by BullMQ: a dead letter is then written before the job
  // fails, so a crash in between cannot lose it (BullMQ's own limit is one higher, a backstop).
  const stalled = stallDecision(queue, job.stalledCounter, cooledRoundsOf(job.progress), stallPolicyOf(options));
  switch (stalled.action) {
    case 'run':
      break;
    case 'skip':
      options.metrics.jobDuration.observe({ queue, outcome: 'stall_skipped' }, 0);
      log.warn('stalled job skipped', { stalls: job.stalledCounter, reason: stalled.reason });
      await note(`skipped: ${stalled.reason}`);
      return { skipped: 'stalled', stalls: job.stalledCounter };
    case 'cool_down':
      // Progress first: a crash before the move only costs this cool-down, never repeats it.
      await job.updateProgress(cooledProgress(stalled.round, job.progress));
      await job.moveToDelayed(Date.now() + stalled.delayMs, token);
      options.metrics.jobRetries.inc({ queue, reason: 'stalled' });
      log.warn('stalled job set aside', { stalls: job.stalledCounter, delayMs: stalled.delayMs, cooldown: stalled.round });
      await note(`${stalled.reason}: runs again in ${stalled.delayMs} ms`);
      throw new DelayedError();
    case 'dead_letter': {
      const error = new PermanentError(stalled.reason, 'stalled');
      options.metrics.jobDuration.observe({ queue, outcome: 'stalled' }, 0);
      throw await deadLetter(options, queue, job, 'stalled', error, log, note);
    }
  }

  try {
    const data = JOBS[queue].schema.parse(job.data);
    const handler = options.handlers[queue] as AnyHandler;
    const result = await handler(data, { queue, jobId: job.id ?? '', attempt, log, note, job, signal });
    options.metrics.jobDuration.observe({ queue, outcome: 'completed' }, seconds());
    return result;
  } catch (raw) {
    const error = raw instanceof Error ? raw : new Error(String(raw));
    if (signal?.aborted) {
      // Another worker owns the job now (lost lock, or handed back at shutdown): whatever
      // happened here is not ours to retry or dead-letter.
      options.metrics.jobDuration.observe({ queue, outcome: 'abandoned' }, seconds());
      log.warn('job abandoned', { reason: String(signal.reason ?? 'aborted'), error: error.message });
      throw error;
    }
    if (error instanceof DeferredError) {
      // Runs again after the handler's wait; BullMQ counts a move to delayed as no attempt.
      const waitMs = Math.max(0, Math.round(error.waitMs));
      options.metrics.jobDuration.observe({ queue, outcome: 'deferred' }, seconds());
      options.metrics.jobRetries.inc({ queue, reason: 'deferred' });
      // Counted first, as a cool-down is: a crash before the move only costs this deferral.
      await job.updateProgress(deferredProgress(job.progress));
      await job.moveToDelayed(Date.now() + waitMs, token);
      log.info('job deferred', { reason: error.reason, waitMs, error: error.message });
      await note(`deferred (${error.reason}): runs again in ${waitMs} ms`);
      throw new DelayedError();
    }
    const cls = classifyError(error);
    options.metrics.jobDuration.observe({ queue, outcome: cls }, seconds());
    throw await decide(options, queue, job, error, cls, log, note);
  }
}

/** Turns a handler's failure into the queue's next move; returns the error to throw. */
async function decide(
  options: ProcessorOptions,
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
    // BullMQ counts neither a rate-limited start, a stall, a cool-down nor a deferral as an
    // attempt, but each as a start; what is left are the rate-limited starts, this one included.
    const restarts = Math.max(1, job.attemptsStarted - job.attemptsMade - job.stalledCounter - cooledRoundsOf(job.progress) - deferralsOf(job.progress));
    if (restarts > policy.rateLimitMax) {
      const final = new PermanentError(`rate limited ${restarts} times in a row (cap ${policy.rateLimitMax}): ${error.message}`, 'rate_limit_cap');
      return deadLetter(options, queue, job, 'rate_limited', final, log, note);
    }
    // The client read the wait from the response; without a usable one, the policy's default.
    const waitMs = Number.isFinite(error.waitMs) && error.waitMs > 0 ? Math.round(error.waitMs) : policy.rateLimitDefaultMs;
    options.metrics.jobRetries.inc({ queue, reason: 'rate_limited' });
    log.warn('retry decision', { errorClass: cls, waitMs, source: error.source, restarts, decision: 'pause queue' });
    await note(`rate limited by ${error.source}: queue paused ${waitMs} ms (restart ${restarts} of ${policy.rateLimitMax})`);
    // Pauses the whole queue in Redis (every worker of every process), so no other job spends
    // quota meanwhile; RateLimitError puts this job back to wait without spending an attempt.
    await options.queues[queue].rateLimit(waitMs);
    return Worker.RateLimitError();
  }

  const allowed = Math.min(attemptsFor(cls, policy), job.opts.attempts ?? 1);
  if (cls === 'permanent' || attempt >= allowed) {
    const final = error instanceof PermanentError ? error : new PermanentError(`${cls} error, attempts exhausted (${attempt}): ${error.message}`, 'attempts_exhausted', { cause: error });
    // Keep the handler's own error class and message on the dead letter.
    return deadLetter(options, queue, job, cls, final, log, note, error);
  }

  const waitMs = backoffDelay(cls, attempt, policy);
  plannedDelays.set(error, waitMs);
  options.metrics.jobRetries.inc({ queue, reason: cls });
  log.warn('retry decision', { errorClass: cls, waitMs, decision: 'retry', nextAttempt: attempt + 1, error: error.message });
  await note(`${cls}: retry in ${waitMs} ms (attempt ${attempt + 1} of ${allowed})`);
  return error;
}

/**
 * Records the dead letter, then returns the error that makes BullMQ fail the job without a
 * retry. If recording fails (database busy or gone) the job still fails; the worker's
 * `failed` listener tries once more after BullMQ has moved it.
 */
async function deadLetter(
  options: ProcessorOptions,
  queue: QueueName,
  job: Job,
  cls: DeadLetterClass,
  final: PermanentError,
  log: Logger,
  note: (line: string) => Promise<void>,
  original: Error = final,
): Promise<Error> {
  const attempt = job.attemptsMade + 1;
  try {
    await recordDeadLetter(options, { queue, job, errorClass: cls, error: original });
    deadLettered.add(job);
  } catch (error) {
    log.error('could not record dead letter yet', { errorClass: cls, error: (error as Error).message });
  }
  log.error('retry decision', { errorClass: cls, decision: 'dead letter', attempts: attempt, error: original.message });
  await note(`dead letter after ${attempt} attempt(s): ${cls}: ${original.message}`);
  return final;
}
