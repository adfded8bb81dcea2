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
  // This process's next success looks at the row again (and ends the outage there).
  failures.set(db, (failures.get(db) ?? 0) + 1);
  healthySeenAt.delete(db);
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

/**
 * How long a success trusts this process's last look at the health row. Within it, further
 * successes neither read nor write (every step's LLM call used to read the row); a failure
 * another process records meanwhile is ended by the first success after it, at most this much
 * later, far inside LLM_OUTAGE_ESCALATE_AFTER (minutes). A failure in this process makes its
 * next success look at once.
 */
export const LLM_HEALTH_RECHECK_MS = 5_000;

/** Per database handle (one per process; tests open several): when the row was last seen healthy. */
const healthySeenAt = new WeakMap<Db, number>();
const failures = new WeakMap<Db, number>();

/** Ends an outage. Reads first, so the common healthy case takes no write lock; see LLM_HEALTH_RECHECK_MS. */
export async function markLlmSuccess(db: Db, now: number = Date.now()): Promise<void> {
  const seen = healthySeenAt.get(db);
  if (seen !== undefined && now >= seen && now - seen < LLM_HEALTH_RECHECK_MS) return;
  const failuresBefore = failures.get(db) ?? 0;
  const row = await db.integrationHealth.findUnique({ where: { name: LLM_HEALTH_NAME } });
  if (row && (row.failingSince !== null || row.lastError !== null)) {
    await withTx(db, (tx) => tx.integrationHealth.update({ where: { name: LLM_HEALTH_NAME }, data: { failingSince: null, lastError: null } }));
  }
  // Not trusted when this process recorded a failure meanwhile (its write may follow our read).
  if ((failures.get(db) ?? 0) === failuresBefore) healthySeenAt.set(db, now);
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
