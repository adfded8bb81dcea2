import { bearerMatches } from '@parley/config';
import { Router } from 'express';
import { checkDatabase, type Db } from '@parley/db';
import { heartbeatKey, type RedisConnection } from '@parley/queue';
import { withTimeout } from './http-error';

/** A worker that has not beaten its heartbeat for this long is considered gone. */
export const WORKER_SEEN_WINDOW_MS = 60_000;
const REDIS_TIMEOUT_MS = 1000;
const DB_TIMEOUT_MS = 2000;
/**
 * Readiness answers from one run of the checks for this long: the db check writes to SQLite,
 * and probes (several load balancers, a script in a loop) must not turn into a write load.
 */
export const READINESS_CACHE_MS = 2000;

export interface CheckResult {
  ok: boolean;
  [detail: string]: unknown;
}

export interface HealthDeps {
  db: Db;
  redis: RedisConnection;
  prefix: string;
  now: () => number;
  /** Bearer tokens that may see the checks (METRICS_TOKEN, ADMIN_TOKEN); everyone else gets the status. */
  detailTokens?: string[];
}

type Readiness = Awaited<ReturnType<typeof readiness>>;

// Details are fixed words, never an error's text (which can name hosts, paths or SQL).
async function check(run: () => Promise<CheckResult>): Promise<CheckResult> {
  try {
    return await run();
  } catch (error) {
    return { ok: false, error: error instanceof Error && error.name === 'TimeoutError' ? 'timeout' : 'unreachable' };
  }
}

/** Runs every readiness check in parallel; each one is bounded so the probe itself never hangs. */
export async function readiness(deps: HealthDeps): Promise<{ ready: boolean; checks: Record<string, CheckResult> }> {
  const [redis, db, workers] = await Promise.all([
    check(async () => {
      const started = Date.now();
      const pong = await withTimeout(deps.redis.ping(), REDIS_TIMEOUT_MS, 'redis ping');
      return { ok: pong === 'PONG', latencyMs: Date.now() - started };
    }),
    check(async () => {
      const result = await withTimeout(checkDatabase(deps.db), DB_TIMEOUT_MS, 'database check');
      return { ok: result.writable && result.wal, writable: result.writable, wal: result.wal };
    }),
    check(async () => {
      const since = deps.now() - WORKER_SEEN_WINDOW_MS;
      const count = await withTimeout(deps.redis.zcount(heartbeatKey(deps.prefix), since, '+inf'), REDIS_TIMEOUT_MS, 'worker heartbeats');
      return { ok: count > 0, count };
    }),
  ]);
  // Config was validated at start-up; the process would not be running otherwise.
  const checks = { redis, db, config: { ok: true }, workers };
  return { ready: Object.values(checks).every((c) => c.ok), checks };
}

/** One run of the checks shared by every probe within READINESS_CACHE_MS (concurrent ones included). */
function cachedReadiness(deps: HealthDeps): () => Promise<Readiness> {
  let cached: { at: number; result: Promise<Readiness> } | undefined;
  return () => {
    const now = deps.now();
    if (!cached || now - cached.at >= READINESS_CACHE_MS || now < cached.at) cached = { at: now, result: readiness(deps) };
    return cached.result;
  };
}

export function healthRouter(deps: HealthDeps): Router {
  const router = Router();
  const current = cachedReadiness(deps);
  const tokens = deps.detailTokens ?? [];
  router.get('/health/liveness', (_req, res) => {
    res.status(200).json({ status: 'ok' });
  });
  router.get('/health/readiness', async (req, res) => {
    const { ready, checks } = await current();
    const status = ready ? 'ready' : 'not ready';
    res.setHeader('Cache-Control', 'no-store');
    const authorization = req.get('authorization');
    if (!tokens.some((token) => bearerMatches(token, authorization))) {
      // What fails, and how, tells an outsider where to push; operators send a token.
      res.status(ready ? 200 : 503).json({ status });
      return;
    }
    const failing = Object.entries(checks)
      .filter(([, c]) => !c.ok)
      .map(([name]) => name);
    res.status(ready ? 200 : 503).json({ status, failing, checks });
  });
  return router;
}
