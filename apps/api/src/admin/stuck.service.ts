import type { Db } from '@parley/db';
import { heartbeatKey, type QueueName, type Queues, type RedisConnection } from '@parley/queue';
import { withTimeout } from '../http-error';
import { scanJobs, type QueueSummary } from './job-problems';
import type { JobRef, NegotiationLabel, Problem } from './problem.types';
import { findRecordProblems, type RecordProblem } from './record-problems';
import type { StuckThresholds } from './thresholds';

/** Same window as readiness: a worker that has not beaten for this long is gone. */
const WORKER_SEEN_WINDOW_MS = 60_000;

export interface StuckDeps {
  db: Db;
  queues: Queues;
  redis: RedisConnection;
  prefix: string;
  now: () => Date;
  thresholds: StuckThresholds;
}

export interface StuckReport {
  generatedAt: Date;
  problems: Problem[];
  negotiations: Record<string, NegotiationLabel>;
  queues: QueueSummary[];
  /** Workers seen in the last minute; null when Redis could not say. */
  workers: number | null;
  warnings: string[];
}

/** Maps outbox ids to their negotiation, and loads what the page shows of each negotiation. */
export async function resolveNegotiations(db: Db, items: { negotiationId?: string; ref?: JobRef }[]): Promise<Record<string, NegotiationLabel>> {
  const outboxIds = [...new Set(items.flatMap((p) => (p.ref && 'outboxId' in p.ref ? [p.ref.outboxId] : [])))];
  const outbox = outboxIds.length > 0 ? await db.outboxEmail.findMany({ where: { id: { in: outboxIds } }, select: { id: true, negotiationId: true } }) : [];
  const byOutbox = new Map(outbox.map((o) => [o.id, o.negotiationId]));
  for (const item of items) {
    if (item.negotiationId || !item.ref) continue;
    item.negotiationId = 'negotiationId' in item.ref ? item.ref.negotiationId : byOutbox.get(item.ref.outboxId);
  }
  const ids = [...new Set(items.flatMap((p) => (p.negotiationId ? [p.negotiationId] : [])))];
  if (ids.length === 0) return {};
  const rows = await db.negotiation.findMany({
    where: { id: { in: ids } },
    select: { id: true, influencerName: true, state: true, campaign: { select: { name: true } } },
  });
  return Object.fromEntries(rows.map((r) => [r.id, { id: r.id, influencerName: r.influencerName, campaignName: r.campaign.name, state: r.state }]));
}

/**
 * A dead letter whose failed job was retried in bull-board (same job id) is no longer failed in
 * Redis: it completed, or it is running or waiting again (the job checks cover it from there).
 * Only rows whose job is still failed, or gone from Redis, stay listed. Redis unreadable: all stay.
 */
async function withoutRetriedDeadLetters(queues: Queues, records: RecordProblem[]): Promise<RecordProblem[]> {
  const letters = records.filter((p) => p.kind === 'dead_letter' && p.queue && p.jobId);
  if (letters.length === 0) return records;
  try {
    const states = await withTimeout(Promise.all(letters.map((p) => queues[p.queue as QueueName].getJobState(p.jobId ?? ''))), 3000, 'dead letter job states');
    const retried = new Set(letters.filter((_p, i) => states[i] !== 'failed' && states[i] !== 'unknown'));
    return records.filter((p) => !retried.has(p));
  } catch {
    return records;
  }
}

/** Everything that needs an operator, oldest first. */
export async function findStuck(deps: StuckDeps): Promise<StuckReport> {
  const generatedAt = deps.now();
  const [jobs, records, workers] = await Promise.all([
    scanJobs(deps),
    findRecordProblems(deps),
    withTimeout(deps.redis.zcount(heartbeatKey(deps.prefix), generatedAt.getTime() - WORKER_SEEN_WINDOW_MS, '+inf'), 1000, 'worker heartbeats').catch(() => null),
  ]);
  const items = [...jobs.problems, ...(await withoutRetriedDeadLetters(deps.queues, records))];
  const negotiations = await resolveNegotiations(deps.db, items);
  // A job or dead letter naming a negotiation that does not exist keeps its row, without the link.
  const problems: Problem[] = items.map(({ ref: _ref, ...p }) => (p.negotiationId && !negotiations[p.negotiationId] ? { ...p, negotiationId: undefined } : p));
  problems.sort((a, b) => b.ageMs - a.ageMs);
  return { generatedAt, problems, negotiations, queues: jobs.summaries, workers, warnings: jobs.warnings };
}
