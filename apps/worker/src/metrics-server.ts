import http from 'node:http';
import { bearerMatches } from '@parley/config';
import type { Metrics } from '@parley/metrics';

/**
 * Serves the worker's own registry (job durations, retries, LLM calls, emails, dead letters)
 * on `GET /metrics` when WORKER_METRICS_PORT is set; the API's /metrics only sees what it reads
 * from Redis and SQLite. Optional bearer token: METRICS_TOKEN, as on the API.
 */
export async function startMetricsServer(metrics: Metrics, port: number | undefined, token: string | undefined): Promise<{ url: string | null; close: () => Promise<void> }> {
  if (port === undefined) return { url: null, close: async () => undefined };
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || req.url?.split('?')[0] !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    if (token && !bearerMatches(token, req.headers.authorization)) {
      res.writeHead(401, { 'www-authenticate': 'Bearer' }).end();
      return;
    }
    metrics.registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
      () => res.writeHead(500).end(),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, resolve);
  });
  const address = server.address();
  const actual = typeof address === 'object' && address ? address.port : port;
  return {
    url: `http://127.0.0.1:${actual}/metrics`,
    // A scraper's keep-alive socket would otherwise hold the shutdown until it idles out.
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
