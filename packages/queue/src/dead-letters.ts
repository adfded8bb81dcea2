import type { Job } from 'bullmq';
import { withTx, type Db, type Prisma } from '@parley/db';
import type { Logger } from '@parley/logging';
import type { Metrics } from '@parley/metrics';
import { jobIds, JOBS, QUEUE_NAMES, type ErrorClass, type QueueName } from '@parley/contracts';
import { enqueue, type Queues } from './queues';

/** Why a job failed for good: an error class, or BullMQ gave up on it after repeated stalls. */
export type DeadLetterClass = ErrorClass | 'stalled';

export interface DeadLetterInfo {
  deadLetterId: string;
  queue: QueueName;
  jobId: string;
  jobName: string;
  errorClass: DeadLetterClass;
  message: string;
  attempts: number;
  error: Error;
}

export interface DeadLetterDeps {
  db: Db;
  queues: Queues;
  metrics: Metrics;
  log: Logger;
  /** Called once per new dead letter (Sentry capture in production); never for a repeat. */
  onDeadLetter?: (info: DeadLetterInfo) => void;
}

export type DeadLetterJob = Pick<Job, 'id' | 'name' | 'data' | 'attemptsMade' | 'attemptsStarted'>;

/**
 * Records a job that failed for good: one row per (queue, job id) however often it is
 * called, an alert job, the counter and the Sentry hook.
 *
 * A crash can land between writing the row and failing the job in Redis; the job then stalls,
 * runs again and comes back here. The row is created at most once (looked up and inserted in
 * one write transaction, and unique on queue + job id), the counter and the hook fire only
 * when the row is new, and the alert is enqueued on every call under an id derived from the
 * row, so a crash between the row and the alert cannot lose the alert and a repeat cannot
 * duplicate it.
 */
export async function recordDeadLetter(
  deps: DeadLetterDeps,
  input: { queue: QueueName; job: DeadLetterJob; errorClass: DeadLetterClass; error: Error },
): Promise<string> {
  const jobId = input.job.id ?? 'unknown';
  // The error's own name (TransientError, ZodError, ...) next to the class the policy used.
  const message = `${input.error.name}: ${input.error.message}`.slice(0, 2000);
  const attempts = Math.max(input.job.attemptsMade + 1, 1);
  const { row, created } = await withTx(deps.db, async (tx) => {
    const existing = await tx.deadLetter.findUnique({ where: { queue_jobId: { queue: input.queue, jobId } } });
    if (existing) return { row: existing, created: false };
    const fresh = await tx.deadLetter.create({
      data: {
        queue: input.queue,
        jobId,
        jobName: input.job.name,
        payload: (input.job.data ?? {}) as Prisma.InputJsonValue,
        errorClass: input.errorClass,
        errorMessage: message,
        attempts,
      },
    });
    return { row: fresh, created: true };
  });
  if (created) {
    deps.metrics.deadLetters.inc({ queue: input.queue });
    deps.log.error('dead letter recorded', { queue: input.queue, jobId, jobName: input.job.name, errorClass: input.errorClass, deadLetterId: row.id, attempts, error: message });
    try {
      deps.onDeadLetter?.({ deadLetterId: row.id, queue: input.queue, jobId, jobName: input.job.name, errorClass: input.errorClass, message, attempts, error: input.error });
    } catch (error) {
      deps.log.warn('dead letter hook failed', { deadLetterId: row.id, error: (error as Error).message });
    }
  }
  // An alert about a failed alert would loop; those reach the log and Sentry only.
  if (input.queue !== 'alerts') {
    await enqueue(
      deps.queues,
      'alerts',
      {
        alertId: `dl-${row.id}`,
        kind: 'dead_letter',
        title: `Dead letter on ${input.queue}`,
        text: `Job ${jobId} (${input.job.name}) failed for good after ${row.attempts} attempt(s): ${row.errorClass}: ${row.errorMessage.slice(0, 300)}`,
        deadLetterId: row.id,
      },
      { jobId: jobIds.alert(`dl-${row.id}`) },
    );
  }
  return row.id;
}

export class ReplayError extends Error {
  override name = 'ReplayError';
}

/** The job id a replay runs under: new (the failed job keeps its id), and stable per row. */
export function replayJobId(row: { id: string; jobId: string }): string {
  // BullMQ refuses ':' in custom ids (scheduler job ids contain it).
  return `${row.jobId.replace(/:/g, '_')}.replay-${row.id}`;
}

/**
 * Re-enqueues a dead letter's payload under a new job id and marks the row replayed.
 * Idempotent: a second call returns the first replay's job id, and two concurrent calls add
 * the same job id, which BullMQ collapses into one job.
 */
export async function replayDeadLetter(
  deps: Pick<DeadLetterDeps, 'db' | 'queues' | 'log'>,
  deadLetterId: string,
): Promise<{ jobId: string; alreadyReplayed: boolean }> {
  const row = await deps.db.deadLetter.findUnique({ where: { id: deadLetterId } });
  if (!row) throw new ReplayError(`no dead letter with id ${deadLetterId}`);
  if (row.replayedAt && row.replayJobId) return { jobId: row.replayJobId, alreadyReplayed: true };
  // An operator decided this job must not run again (Slack Discard): every replay path refuses it.
  if (row.discardedAt) throw new ReplayError(`dead letter ${deadLetterId} was discarded${row.resolvedBy ? ` by ${row.resolvedBy}` : ''}; it is not replayed`);
  const queue = QUEUE_NAMES.find((q) => q === row.queue);
  if (!queue) throw new ReplayError(`dead letter ${deadLetterId} names an unknown queue ${row.queue}`);
  const jobId = replayJobId(row);
  // The payload goes back as it was stored: the consumer parses it again with the schema of
  // the running deploy, which is the point of replaying after a fix.
  await deps.queues[queue].add(JOBS[queue].name, row.payload, { jobId });
  await withTx(deps.db, (tx) => tx.deadLetter.update({ where: { id: row.id }, data: { replayedAt: new Date(), replayJobId: jobId } }));
  deps.log.info('dead letter replayed', { queue, deadLetterId, jobId });
  return { jobId, alreadyReplayed: false };
}
