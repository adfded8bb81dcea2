import type { Job } from 'bullmq';
import type { Db } from '@parley/db';
import { redactString } from '@parley/logging';
import { QUEUE_NAMES, type QueueName, type Queues, type RedisConnection } from '@parley/queue';
import { withTimeout } from '../http-error';
import { formatAge } from './html';
import { jobRef, type JobRef, type Problem } from './problem.types';
import type { StuckThresholds } from './thresholds';

/** Jobs read per state and queue: the oldest ones, which are the ones that matter. */
export const SCAN_LIMIT = 500;
const REDIS_TIMEOUT_MS = 3000;

export interface QueueSummary {
  queue: QueueName;
  counts: Record<string, number>;
  paused: boolean;
}

/** A problem found in Redis, before its job is resolved to a negotiation. */
export type JobProblem = Problem & { ref: JobRef };

export interface JobScan {
  problems: JobProblem[];
  summaries: QueueSummary[];
  warnings: string[];
}

export interface JobScanDeps {
  db: Db;
  queues: Queues;
  redis: RedisConnection;
  now: () => Date;
  thresholds: StuckThresholds;
}

/** When a job was first meant to run: added, plus the delay it was added with (scheduled runs). */
export function dueAt(job: Pick<Job, 'timestamp' | 'opts'>): number {
  return job.timestamp + (job.opts.delay ?? 0);
}

export function jobLabel(queue: string, job: Pick<Job, 'id' | 'name'>): string {
  return `${queue} job ${job.id ?? '?'} (${job.name})`;
}

export function lastError(job: Pick<Job, 'failedReason'>): string {
  return job.failedReason ? `; last error: ${redactString(job.failedReason).slice(0, 200)}` : '';
}

function problem(queue: QueueName, job: Job, kind: JobProblem['kind'], since: number, now: number, reason: string): JobProblem {
  return { kind, reason, since: new Date(since), ageMs: now - since, queue, jobId: job.id ?? '', ref: jobRef(queue, job.data) };
}

/** An active job whose lock key is gone: its worker died or is blocked; BullMQ will requeue it. */
async function lockless(redis: RedisConnection, queue: Queues[QueueName], jobs: Job[]): Promise<Set<string>> {
  if (jobs.length === 0) return new Set();
  const pipeline = redis.pipeline();
  for (const job of jobs) pipeline.exists(queue.toKey(`${job.id ?? ''}:lock`));
  const results = (await pipeline.exec()) ?? [];
  return new Set(jobs.filter((_job, i) => results[i]?.[0] === null && results[i]?.[1] === 0).map((j) => j.id ?? ''));
}

async function scanQueue(deps: JobScanDeps, name: QueueName, out: JobScan): Promise<void> {
  const queue = deps.queues[name];
  const limits = deps.thresholds.queues[name];
  const now = deps.now().getTime();
  const [counts, paused, waiting, delayed, active, failed] = await withTimeout(
    Promise.all([
      queue.getJobCounts(),
      queue.isPaused(),
      queue.getJobs(['waiting', 'prioritized'], 0, SCAN_LIMIT - 1, true),
      queue.getJobs(['delayed'], 0, SCAN_LIMIT - 1, true),
      queue.getJobs(['active'], 0, SCAN_LIMIT - 1, true),
      queue.getJobs(['failed'], 0, SCAN_LIMIT - 1, false),
    ]),
    REDIS_TIMEOUT_MS,
    `reading ${name}`,
  );
  out.summaries.push({ queue: name, counts, paused });
  for (const [state, n] of [['waiting', (counts.waiting ?? 0) + (counts.prioritized ?? 0)], ['delayed', counts.delayed ?? 0], ['active', counts.active ?? 0]] as const) {
    if (n > SCAN_LIMIT) out.warnings.push(`${name}: only the oldest ${SCAN_LIMIT} of ${n} ${state} jobs were checked`);
  }
  const pausedNote = paused ? ' (the queue is paused)' : '';

  for (const job of waiting) {
    const since = dueAt(job);
    if (limits.waitingMs !== null && now - since > limits.waitingMs) {
      out.problems.push(problem(name, job, 'job_waiting', since, now, `${jobLabel(name, job)} waiting for a worker for ${formatAge(now - since)} (threshold ${formatAge(limits.waitingMs)})${pausedNote}${lastError(job)}`));
    }
  }
  for (const job of delayed) {
    const since = dueAt(job);
    if (limits.delayedMs !== null && now - since > limits.delayedMs) {
      out.problems.push(
        problem(name, job, 'job_delayed', since, now, `${jobLabel(name, job)} delayed, not finished ${formatAge(now - since)} after it was due (threshold ${formatAge(limits.delayedMs)}); ${job.attemptsMade} attempt(s) made${lastError(job)}`),
      );
    }
  }
  const stalled = await withTimeout(lockless(deps.redis, queue, active), REDIS_TIMEOUT_MS, `locks of ${name}`);
  for (const job of active) {
    const since = job.processedOn ?? dueAt(job);
    if (stalled.has(job.id ?? '')) {
      out.problems.push(problem(name, job, 'job_stalled', since, now, `${jobLabel(name, job)} is active but its lock has expired: the worker running it died or is blocked; BullMQ hands it to another worker at its next stalled check`));
    } else if (limits.activeMs !== null && now - since > limits.activeMs) {
      out.problems.push(problem(name, job, 'job_active', since, now, `${jobLabel(name, job)} running for ${formatAge(now - since)} (threshold ${formatAge(limits.activeMs)}), attempt ${job.attemptsMade + 1}`));
    }
  }
  // A failed job normally has a dead-letter row (listed as such); one without is a job the
  // runtime could not record (a crash, or a job failed by hand in bull-board).
  const failedIds = failed.map((j) => j.id ?? '');
  const recorded = new Set(
    (await deps.db.deadLetter.findMany({ where: { queue: name, jobId: { in: failedIds } }, select: { jobId: true } })).map((r) => r.jobId),
  );
  for (const job of failed) {
    if (recorded.has(job.id ?? '')) continue;
    const since = job.finishedOn ?? job.processedOn ?? job.timestamp;
    out.problems.push(problem(name, job, 'job_failed', since, now, `${jobLabel(name, job)} failed after ${job.attemptsMade} attempt(s) with no dead-letter record${lastError(job)}; retry it in the queue view`));
  }
}

/** Reads every queue; a queue that cannot be read becomes a warning, not a failed page. */
export async function scanJobs(deps: JobScanDeps): Promise<JobScan> {
  const out: JobScan = { problems: [], summaries: [], warnings: [] };
  await Promise.all(
    QUEUE_NAMES.map((name) =>
      scanQueue(deps, name, out).catch((error: unknown) => {
        out.warnings.push(`${name}: could not be read (${error instanceof Error && error.name === 'TimeoutError' ? 'timeout' : 'Redis unreachable'}); its jobs are not checked`);
      }),
    ),
  );
  out.summaries.sort((a, b) => QUEUE_NAMES.indexOf(a.queue) - QUEUE_NAMES.indexOf(b.queue));
  return out;
}
