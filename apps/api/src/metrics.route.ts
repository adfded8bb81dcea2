import { bearerMatches } from '@parley/config';
import { Router } from 'express';
import { sqlOf, type Db } from '@parley/db';
import type { Logger } from '@parley/logging';
import type { Metrics } from '@parley/metrics';
import { QUEUE_NAMES, type Queues } from '@parley/queue';
import { unauthorized, withTimeout } from './http-error';
import { ctx } from './request-context.middleware';

const COLLECT_TIMEOUT_MS = 1000;

export interface MetricsDeps {
  db: Db;
  queues: Queues;
  metrics: Metrics;
  token?: string;
}

/**
 * Gauges that live elsewhere (queue depth in Redis, negotiations in SQLite) are read on scrape.
 * Either source failing leaves its gauge empty; the scrape still answers with the rest.
 */
async function collect(deps: MetricsDeps, log: Logger): Promise<void> {
  const { queueDepth, negotiationsByState } = deps.metrics;
  queueDepth.reset();
  negotiationsByState.reset();
  const results = await Promise.allSettled([
    ...QUEUE_NAMES.map(async (queue) => {
      const counts = await withTimeout(deps.queues[queue].getJobCounts(), COLLECT_TIMEOUT_MS, 'queue counts');
      for (const [state, n] of Object.entries(counts)) queueDepth.set({ queue, state }, n);
    }),
    (async () => {
      // Raw SQL: a scrape does not load Prisma's query compiler into the API (sqlOf).
      const rows = await withTimeout(sqlOf(deps.db).query<{ state: unknown; n: unknown }>('SELECT "state", COUNT(*) AS "n" FROM "Negotiation" GROUP BY "state"'), COLLECT_TIMEOUT_MS, 'negotiation counts');
      for (const row of rows) negotiationsByState.set({ state: String(row.state) }, Number(row.n));
    })(),
  ]);
  const failed = results.filter((r) => r.status === 'rejected').length;
  if (failed > 0) log.warn('metrics collection incomplete', { failed });
}

export function metricsRouter(deps: MetricsDeps): Router {
  const router = Router();
  router.get('/metrics', async (req, res) => {
    if (deps.token && !bearerMatches(deps.token, req.get('authorization'))) throw unauthorized();
    await collect(deps, ctx(res).log);
    res.setHeader('Content-Type', deps.metrics.registry.contentType);
    res.status(200).send(await deps.metrics.registry.metrics());
  });
  return router;
}
