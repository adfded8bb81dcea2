import { withTx, type Db } from '@parley/db';

/**
 * Outage tracking for the LLM: one IntegrationHealth row ("anthropic") holds since when calls
 * have been failing, so any worker can tell that the outage has lasted past
 * LLM_OUTAGE_ESCALATE_AFTER and escalate instead of going silent.
 */
export const LLM_HEALTH_NAME = 'anthropic';

const MAX_ERROR_CHARS = 500;

/** Records a failure; the first failure of an outage sets failingSince, later ones keep it. */
export async function markLlmFailure(db: Db, at: Date, error: string): Promise<void> {
  const lastError = error.slice(0, MAX_ERROR_CHARS);
  await withTx(db, async (tx) => {
    const row = await tx.integrationHealth.findUnique({ where: { name: LLM_HEALTH_NAME } });
    if (row) {
      await tx.integrationHealth.update({ where: { name: LLM_HEALTH_NAME }, data: { failingSince: row.failingSince ?? at, lastError } });
    } else {
      await tx.integrationHealth.create({ data: { name: LLM_HEALTH_NAME, failingSince: at, lastError } });
    }
  });
}

/** Ends an outage. Reads first, so the common healthy case takes no write lock. */
export async function markLlmSuccess(db: Db): Promise<void> {
  const row = await db.integrationHealth.findUnique({ where: { name: LLM_HEALTH_NAME } });
  if (!row || (row.failingSince === null && row.lastError === null)) return;
  await withTx(db, (tx) => tx.integrationHealth.update({ where: { name: LLM_HEALTH_NAME }, data: { failingSince: null, lastError: null } }));
}

/** When the current outage began, or null while the LLM answers. */
export async function llmFailingSince(db: Db): Promise<Date | null> {
  const row = await db.integrationHealth.findUnique({ where: { name: LLM_HEALTH_NAME } });
  return row?.failingSince ?? null;
}
