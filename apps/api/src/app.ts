import express, { type Express } from 'express';
import type { Env } from '@parley/config';
import type { Db } from '@parley/db';
import type { Logger } from '@parley/logging';
import type { Metrics } from '@parley/metrics';
import { mailboxSyncRunning, type Queues, type RedisConnection } from '@parley/queue';
import { bodyBudget } from './body';
import { clickupWebhookRouter } from './clickup-webhook.route';
import { errorHandler, lingerOnUnreadBody, notFound } from './error-handler.middleware';
import { gmailWebhookRouter } from './gmail-webhook.route';
import { healthRouter } from './health.route';
import { HttpError } from './http-error';
import { createIngestWrites, type IngestWrites } from './ingest.service';
import { metricsRouter } from './metrics.route';
import { createPubSubVerifier } from './pubsub-auth.service';
import { requestContext } from './request-context.middleware';

export type ApiConfig = Pick<
  Env,
  'GOOGLE_CERTS_URL' | 'PUBSUB_AUDIENCE' | 'PUBSUB_SERVICE_ACCOUNT' | 'GMAIL_MAILBOX' | 'CLICKUP_WEBHOOK_SECRET' | 'METRICS_TOKEN' | 'ADMIN_TOKEN' | 'QUEUE_PREFIX'
> &
  Partial<Pick<Env, 'TRUST_PROXY' | 'HTTP_BODY_BUDGET_BYTES'>>;

export interface ApiDeps {
  config: Readonly<ApiConfig>;
  db: Db;
  queues: Queues;
  /** The producer connection the queues use; readiness pings it. */
  redis: RedisConnection;
  metrics: Metrics;
  log: Logger;
  /** Clock for the worker-heartbeat window. @defaultValue Date.now */
  now?: () => number;
  /** The webhooks' write transactions; one group commit per process. @defaultValue createIngestWrites(db) */
  writes?: IngestWrites;
  /** Mounts further routes (Slack, admin) inside the request context, before the 404 handler. */
  extend?: (app: Express) => void;
}

/** HTTP_BODY_BUDGET_BYTES's default, for an app built without it (tests). */
const DEFAULT_BODY_BUDGET_BYTES = 64 * 1024 * 1024;

/** The ingress: verify, validate, record, enqueue, answer. No integration is called in the request path. */
export function createApp(deps: ApiDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  // Behind a proxy (Caddy in the compose file), req.ip is the client's address only when the
  // proxy is trusted; failed admin logins are counted per req.ip.
  if (deps.config.TRUST_PROXY !== undefined) app.set('trust proxy', deps.config.TRUST_PROXY);

  const writes = deps.writes ?? createIngestWrites(deps.db);
  app.use(lingerOnUnreadBody);
  app.use(requestContext({ log: deps.log, metrics: deps.metrics }));
  // No route takes OPTIONS (no browser calls the API cross-origin): Express would otherwise
  // answer it by itself with 200 and the route's methods, before any credential check.
  app.use((req, _res, next) => next(req.method === 'OPTIONS' ? new HttpError(405, 'method not allowed') : undefined));
  // Before any route reads a body, Slack's and the dashboard's (mounted by extend) included.
  app.use(bodyBudget(deps.config.HTTP_BODY_BUDGET_BYTES ?? DEFAULT_BODY_BUDGET_BYTES, deps.log));
  app.use(
    healthRouter({
      db: deps.db,
      redis: deps.redis,
      prefix: deps.config.QUEUE_PREFIX,
      now: deps.now ?? Date.now,
      // Either operator token shows the checks; the public gets the status only.
      detailTokens: [deps.config.METRICS_TOKEN, deps.config.ADMIN_TOKEN].filter((t): t is string => t !== undefined),
    }),
  );
  app.use(metricsRouter({ db: deps.db, queues: deps.queues, metrics: deps.metrics, token: deps.config.METRICS_TOKEN }));
  app.use(
    gmailWebhookRouter({
      writes,
      queues: deps.queues,
      verify: createPubSubVerifier(deps.config),
      mailbox: deps.config.GMAIL_MAILBOX,
      syncRunning: (mailbox) => mailboxSyncRunning(deps.redis, deps.config.QUEUE_PREFIX, mailbox),
    }),
  );
  app.use(clickupWebhookRouter({ writes, queues: deps.queues, secret: deps.config.CLICKUP_WEBHOOK_SECRET }));
  deps.extend?.(app);

  app.use(notFound);
  app.use(errorHandler);
  return app;
}
