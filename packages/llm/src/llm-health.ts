import { withTx, type Db } from '@parley/db';

/**
 * Outage tracking for the LLM: one IntegrationHealth row ("anthropic") holds since when calls
 * have been failing, so any worker can tell that the outage has lasted past
 * LLM_OUTAGE_ESCALATE_AFTER and escalate instead of going silent.
 */
export const LLM_HEALTH_NAME = 'anthropic';

const MAX_ERROR_CHARS = 500;

/**
 * Records a failure; the first failure of an outage sets failingSince, later ones keep it. A
 * failure after a quiet spell longer than the staleness window starts a new outage.
 */
export async function markLlmFailure(db: Db, at: Date, error: string): Promise<void> {
  const lastError = error.slice(0, MAX_ERROR_CHARS);
  await withTx(db, async (tx) => {
    const row = await tx.integrationHealth.findUnique({ where: { name: LLM_HEALTH_NAME } });
    if (row) {
      await tx.integrationHealth.update({ where: { name: LLM_HEALTH_NAME }, data: { failingSince: ongoing(row, at) ? (row.failingSince ?? at) : at, lastError, updatedAt: at } });
    } else {
      await tx.integrationHealth.create({ data: { name: LLM_HEALTH_NAME, failingSince: at, lastError, updatedAt: at } });
    }
  });
}

/** Ends an outage. Reads first, so the common healthy case takes no write lock. */
export async function markLlmSuccess(db: Db): Promise<void> {
  const row = await db.integrationHealth.findUnique({ where: { name: LLM_HEALTH_NAME } });
  if (!row || (row.failingSince === null && row.lastError === null)) return;
  await withTx(db, (tx) => tx.integrationHealth.update({ where: { name: LLM_HEALTH_NAME }, data: { failingSince: null, lastError: null } }));
}

/**
 * A failure older than this no longer proves an outage: retries stop after a few minutes
 * (the overloaded backoff caps at 10 min), so a quiet marker means nobody has asked the LLM
 * since, not that it is still down.
 */
export const LLM_OUTAGE_STALE_AFTER_MS = 15 * 60_000;

/**
 * When the current outage began, or null while the LLM answers, or when its last failure is
 * older than `staleAfterMs` (the outage may be long over; the next call will tell).
 */
export async function llmFailingSince(db: Db, options: { now?: Date; staleAfterMs?: number } = {}): Promise<Date | null> {
  const row = await db.integrationHealth.findUnique({ where: { name: LLM_HEALTH_NAME } });
  if (!row?.failingSince) return null;
  const now = options.now ?? new Date();
  // updatedAt is the time of the last recorded failure (markLlmFailure sets it from its clock).
  if (now.getTime() - row.updatedAt.getTime() > (options.staleAfterMs ?? LLM_OUTAGE_STALE_AFTER_MS)) return null;
  return row.failingSince;
}

function ongoing(row: { failingSince: Date | null; updatedAt: Date }, at: Date): boolean {
  return row.failingSince !== null && at.getTime() - row.updatedAt.getTime() <= LLM_OUTAGE_STALE_AFTER_MS;
}
