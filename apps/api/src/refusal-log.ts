import type { Logger } from '@parley/logging';

/** At most one warning per this period for a kind of refusal (a flood must not flood the log). */
export const REFUSAL_LOG_EVERY_MS = 10_000;

/**
 * Counts refusals of one kind and logs `message` at most every REFUSAL_LOG_EVERY_MS, with how
 * many were refused since the previous line (the first refusal is logged at once).
 */
export function refusalLog(log: Logger, message: string): (fields: Record<string, unknown>) => void {
  let refused = 0;
  let last = 0;
  return (fields) => {
    refused += 1;
    const now = Date.now();
    if (now - last < REFUSAL_LOG_EVERY_MS) return;
    log.warn(message, { ...fields, refusedSinceLastLine: refused });
    last = now;
    refused = 0;
  };
}
