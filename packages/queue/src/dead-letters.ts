import type { Job } from 'bullmq';
import { withTx, type Db } from '@parley/db';
import type { Logger } from '@parley/logging';
import type { Metrics } from '@parley/metrics';
import { JOBS, jobIds, type QueueName } from './contracts';
import type { ErrorClass } from './errors';
import { enqueue, type Queues } from './queues';

export interface DeadLetterDeps {
  db: Db;
  queues: Queues;
  metrics: Metrics;
  log: Logger;
  /** Called once per new dead letter (Sentry capture in production). */
  onDeadLetter?: (info: { queue: string; jobId: string; errorClass: string; message: string }) => void;
}

/**
 * Records a job that failed for good: one row per (queue, job id) however often it is
 * called (a crash between writing the row and failing the job re-runs this), an alert job,
 * and the counter.
 */
export async function recordDeadLetter(
  deps: DeadLetterDeps,
  input: { queue: QueueName; job: Pick<Job, 'id' | 'name' | 'data' | 'attemptsMade' | 'attemptsStarted'>; errorClass: ErrorClass | 'stalled'; error: Error },
): Promise<string> {
  const jobId = input.job.id ?? 'unknown';
  const existing = await deps.db.deadLetter.findUnique({ where: { queue_jobId: { queue: input.queue, jobId } } });
  if (existing) return existing.id;
  const row = await withTx(deps.db, (tx) =>
    tx.deadLetter.upsert({
      where: { queue_jobId: { queue: input.queue, jobId } },
      update: {},
      create: {
        queue: input.queue,
        jobId,
        jobName: input.job.name,
        payload: (input.job.data ?? {}) as object,
        errorClass: input.errorClass,
        errorMessage: input.error.message.slice(0, 2000),
        attempts: Math.max(input.job.attemptsMade + 1, 1),
      },
    }),
  );
  deps.metrics.deadLetters.inc({ queue: input.queue });
  deps.log.error('dead letter recorded', { queue: input.queue, jobId, errorClass: input.errorClass, deadLetterId: row.id, error: input.error.message });
  deps.onDeadLetter?.({ queue: input.queue, jobId, errorClass: input.errorClass, message: input.error.message });
  if (input.queue !== 'alerts') {
    await enqueue(deps.queues, 'alerts', {
      alertId: `dl-${row.id}`,
      kind: 'dead_letter',
      title: `Dead letter on ${input.queue}`,
      text: `Job ${jobId} (${input.job.name}) failed for good: ${input.errorClass}: ${input.error.message.slice(0, 300)}`,
      deadLetterId: row.id,
    }, { jobId: jobIds.alert(`dl-${row.id}`) });
  }
  return row.id;
}

export class ReplayError extends Error {
  override name = 'ReplayError';
}

/**
 * Re-enqueues a dead letter's payload under a new job id and marks the row replayed.
 * Replaying the same row twice returns the first replay's job id (idempotent).
 */
export async function replayDeadLetter(deps: Pick<DeadLetterDeps, 'db' | 'queues' | 'log'>, deadLetterId: string): Promise<{ jobId: string; alreadyReplayed: boolean }> {
  const row = await deps.db.deadLetter.findUnique({ where: { id: deadLetterId } });
  if (!row) throw new ReplayError(`no dead letter with id ${deadLetterId}`);
  if (row.replayedAt && row.replayJobId) return { jobId: row.replayJobId, alreadyReplayed: true };
  const queue = row.queue as QueueName;
  if (!(queue in JOBS)) throw new ReplayError(`dead letter ${deadLetterId} names an unknown queue ${row.queue}`);
  const jobId = `${row.jobId}.replay-${row.id}`;
  await deps.queues[queue].add(JOBS[queue].name, row.payload, { jobId });
  await withTx(deps.db, (tx) => tx.deadLetter.update({ where: { id: row.id }, data: { replayedAt: new Date(), replayJobId: jobId } }));
  deps.log.info('dead letter replayed', { queue, deadLetterId, jobId });
  return { jobId, alreadyReplayed: false };
}
