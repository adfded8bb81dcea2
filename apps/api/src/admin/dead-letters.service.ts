import type { Db } from '@parley/db';
import { redactString } from '@parley/logging';
import { QUEUE_NAMES, type Queues } from '@parley/queue';
import { withTimeout } from '../http-error';
import { jobRef, type NegotiationLabel } from './problem.types';
import { resolveNegotiations } from './stuck.service';

export const DEAD_LETTER_PAGE_SIZE = 200;

export interface DeadLetterEntry {
  id: string;
  queue: string;
  jobId: string;
  jobName: string;
  errorClass: string;
  errorMessage: string;
  attempts: number;
  failedAt: Date;
  replayedAt: Date | null;
  replayJobId: string | null;
  /** Discarded from Slack: it will not be replayed. */
  discardedAt: Date | null;
  /** Who replayed or discarded it from Slack (`slack:U…`). */
  resolvedBy: string | null;
  negotiationId?: string;
  /** The original job's state in Redis now (`completed` after a retry in bull-board; `unknown` once removed); absent when Redis could not say. */
  jobState?: string;
}

export interface DeadLetterList {
  total: number;
  pending: number;
  entries: DeadLetterEntry[];
  negotiations: Record<string, NegotiationLabel>;
}

async function jobStates(queues: Queues, rows: { queue: string; jobId: string }[]): Promise<(string | undefined)[]> {
  const stateOf = (row: { queue: string; jobId: string }) => {
    const queue = QUEUE_NAMES.find((q) => q === row.queue);
    return queue ? queues[queue].getJobState(row.jobId) : Promise.resolve(undefined);
  };
  try {
    return await withTimeout(Promise.all(rows.map(stateOf)), 3000, 'dead letter job states');
  } catch {
    return rows.map(() => undefined);
  }
}

/** The newest dead letters (replayed or not), with the negotiation each one is about and its job's state now. */
export async function listDeadLetters(db: Db, queues: Queues): Promise<DeadLetterList> {
  const [total, pending, rows] = await Promise.all([
    db.deadLetter.count(),
    db.deadLetter.count({ where: { replayedAt: null, discardedAt: null } }),
    db.deadLetter.findMany({ orderBy: { failedAt: 'desc' }, take: DEAD_LETTER_PAGE_SIZE }),
  ]);
  const items = rows.map((r) => ({ row: r, ref: jobRef(r.queue, r.payload), negotiationId: undefined as string | undefined }));
  const [negotiations, states] = await Promise.all([resolveNegotiations(db, items), jobStates(queues, rows)]);
  const entries = items.map(({ row, negotiationId }, i) => ({
    id: row.id,
    queue: row.queue,
    jobId: row.jobId,
    jobName: row.jobName,
    errorClass: row.errorClass,
    // Error texts can quote upstream answers; addresses and tokens are masked like in the logs.
    errorMessage: redactString(row.errorMessage).slice(0, 500),
    attempts: row.attempts,
    failedAt: row.failedAt,
    replayedAt: row.replayedAt,
    replayJobId: row.replayJobId,
    discardedAt: row.discardedAt,
    resolvedBy: row.resolvedBy,
    ...(negotiationId && negotiations[negotiationId] ? { negotiationId } : {}),
    ...(states[i] ? { jobState: states[i] } : {}),
  }));
  return { total, pending, entries, negotiations };
}
