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
