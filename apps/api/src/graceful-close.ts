import type { Server, ServerResponse } from 'node:http';

export interface GracefulClose {
  /**
   * Stops accepting, lets requests in flight finish within `graceMs`, then cuts what is left.
   * Resolves true when everything drained in time.
   */
  close: (graceMs: number) => Promise<boolean>;
}

/**
 * server.close() alone waits for keep-alive sockets that finish a request during shutdown
 * (they go idle only after close() ran its idle sweep). Responses in flight are therefore
 * marked `Connection: close`, and every one that ends sweeps idle sockets again.
 */
export function gracefulClose(server: Server): GracefulClose {
  const inFlight = new Set<ServerResponse>();
  let closing = false;
  const sweep = () => setImmediate(() => server.closeIdleConnections());

  server.on('request', (_req, res: ServerResponse) => {
    inFlight.add(res);
    if (closing) res.setHeader('Connection', 'close');
    res.once('close', () => {
      inFlight.delete(res);
      if (closing) sweep();
    });
  });

  return {
    close: (graceMs) =>
      new Promise((resolve) => {
        closing = true;
        for (const res of inFlight) if (!res.headersSent) res.setHeader('Connection', 'close');
        const timer = setTimeout(() => {
          server.closeAllConnections();
          resolve(false);
        }, graceMs);
        server.close(() => {
          clearTimeout(timer);
          resolve(true);
        });
        server.closeIdleConnections();
      }),
  };
}

/**
 * Past the grace period the process still closes its queues, Redis and SQLite; this is how
 * long that may take before the process exits anyway (compose gives 5 s over the grace).
 */
export const SHUTDOWN_CLEANUP_MS = 3000;

export interface ShutdownSteps {
  /** Runs one named step of the shutdown; the name counts as open until it settles. */
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
 * A hard deadline for the whole shutdown: whatever Redis, SQLite or a request does, the
 * process exits `graceMs + SHUTDOWN_CLEANUP_MS` after the signal, non-zero, naming what was
 * still open, so a supervisor (compose, `npm start`) never waits forever.
 */
export function shutdownDeadline(graceMs: number, onExpired: () => void): { cancel: () => void } {
  const timer = setTimeout(onExpired, graceMs + SHUTDOWN_CLEANUP_MS);
  return { cancel: () => clearTimeout(timer) };
}
