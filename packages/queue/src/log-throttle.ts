import type { Logger } from '@parley/logging';

/**
 * Logs a repeating warning once per key and window. During a Redis outage every worker and
 * queue reports every reconnect attempt (several a second); one line per source every 30 s,
 * with the count of the lines left out, says the same.
 */
export function throttledWarn(log: Logger, windowMs = 30_000): (key: string, message: string, error: string, meta?: Record<string, unknown>) => void {
  const last = new Map<string, { error: string; at: number; suppressed: number }>();
  return (key, message, error, meta = {}) => {
    const now = Date.now();
    const previous = last.get(key);
    if (previous && previous.error === error && now - previous.at < windowMs) {
      previous.suppressed += 1;
      return;
    }
    log.warn(message, { ...meta, error, ...(previous?.suppressed ? { suppressed: previous.suppressed } : {}) });
    last.set(key, { error, at: now, suppressed: 0 });
  };
}
