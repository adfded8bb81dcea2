/**
 * Past SHUTDOWN_GRACE_MS a process still closes its queues, Redis and SQLite; this is how long
 * that may take before it exits anyway, with code 1 and a line naming what was still open.
 * Compose's stop_grace_period leaves more than this over the grace period.
 */
export const SHUTDOWN_CLEANUP_MS = 3000;

export interface ShutdownSteps {
  /** Runs one named step of the shutdown; the name counts as open until the step settles. */
  run: <T>(name: string, step: () => Promise<T>) => Promise<T>;
  /** Steps started and not yet settled, in start order. */
  open: () => string[];
}

export function shutdownSteps(): ShutdownSteps {
  const pending = new Set<string>();
  return {
    run: async (name, step) => {
      pending.add(name);
      try {
        return await step();
      } finally {
        pending.delete(name);
      }
    },
    open: () => [...pending],
  };
}

/**
 * The hard deadline of a shutdown: whatever Redis, SQLite or a peer does, `onExpired` runs
 * `graceMs + SHUTDOWN_CLEANUP_MS` after the signal (it logs what is open and exits non-zero),
 * so a supervisor, `npm start` or the demo never waits forever.
 */
export function shutdownDeadline(graceMs: number, onExpired: () => void): { cancel: () => void } {
  const timer = setTimeout(onExpired, graceMs + SHUTDOWN_CLEANUP_MS);
  return { cancel: () => clearTimeout(timer) };
}
