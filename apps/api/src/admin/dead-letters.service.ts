import type { Db } from '@parley/db';
import { redactString } from '@parley/logging';
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
  negotiationId?: string;
}

export interface DeadLetterList {
  total: number;
  pending: number;
  entries: DeadLetterEntry[];
  negotiations: Record<string, NegotiationLabel>;
}

/** The newest dead letters (replayed or not), with the negotiation each one is about. */
export async function listDeadLetters(db: Db): Promise<DeadLetterList> {
  const [total, pending, rows] = await Promise.all([
    db.deadLetter.count(),
    db.deadLetter.count({ where: { replayedAt: null } }),
    db.deadLetter.findMany({ orderBy: { failedAt: 'desc' }, take: DEAD_LETTER_PAGE_SIZE }),
  ]);
  const items = rows.map((r) => ({ row: r, ref: jobRef(r.queue, r.payload), negotiationId: undefined as string | undefined }));
  const negotiations = await resolveNegotiations(db, items);
  const entries = items.map(({ row, negotiationId }) => ({
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
    ...(negotiationId && negotiations[negotiationId] ? { negotiationId } : {}),
  }));
  return { total, pending, entries, negotiations };
}
