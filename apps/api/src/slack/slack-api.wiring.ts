import type { Express } from 'express';
import type { Env } from '@parley/config';
import type { Db } from '@parley/db';
import type { Logger } from '@parley/logging';
import type { Metrics } from '@parley/metrics';
import type { Queues, RedisConnection } from '@parley/queue';
import type { SlackApp } from './slack-app';
import { slackDisabledReason } from './slack-config';

export interface ApiSlack {
  /** HTTP mode: mounts POST /slack/events (call inside createApp's `extend`). */
  mount: (app: Express) => void;
  /** Socket Mode: connects in the background (start-up never waits for Slack). */
  start: () => Promise<void>;
  stop: () => Promise<void>;
}

/**
 * The Slack app as the API process runs it: it already has the database, the queues and the
 * HTTP endpoint. Without SLACK_BOT_TOKEN (or without both SLACK_APP_TOKEN and
 * SLACK_SIGNING_SECRET) Slack is off and /slack/events is a 404 like any unknown route.
 */
export function slackForApi(deps: { config: Readonly<Env>; db: Db; queues: Queues; redis: RedisConnection; metrics: Metrics; log: Logger }): ApiSlack {
  const { config, log } = deps;
  const reason = slackDisabledReason(config);
  if (reason) {
    log.info('slack commands and buttons disabled', { reason });
    return { mount: () => undefined, start: async () => undefined, stop: async () => undefined };
  }
  // Bolt and the Slack clients are loaded only when Slack is on (about 25 MB).
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { createSlackApp } = require('./slack-app') as typeof import('./slack-app');
  const app: SlackApp = createSlackApp({
    config,
    db: deps.db,
    queues: deps.queues,
    redis: deps.redis,
    prefix: config.QUEUE_PREFIX,
    metrics: deps.metrics,
    log,
    now: () => new Date(),
    followUpAfterMs: config.FOLLOW_UP_AFTER * 1000,
  });
  log.info('slack commands and buttons enabled', { mode: app.mode === 'socket' ? 'socket mode' : 'http (/slack/events)' });
  return {
    mount: (server) => {
      if (app.router) server.use(app.router);
    },
    start: () => app.start(),
    stop: () => app.stop(),
  };
}
