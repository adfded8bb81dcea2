import type { WebClient } from '@slack/web-api';
import type { Db } from '@parley/db';
import type { Logger } from '@parley/logging';
import type { Metrics } from '@parley/metrics';
import type { Queues, RedisConnection } from '@parley/queue';
import type { OperatorCheck } from './operators.service';

/** What an operator did to an alert, for the message update. */
export type AlertAction = 'replayed' | 'discarded' | 'claimed';

/** Rewrites an alert message once acted on (who did what) and removes its buttons. */
export type AlertActedUpdater = (client: WebClient, input: { channel: string; ts: string; userId: string; action: AlertAction; detail?: string }) => Promise<void>;

/** Everything the Slack commands and buttons touch, injected. */
export interface SlackOpsDeps {
  db: Db;
  queues: Queues;
  redis: RedisConnection;
  /** QUEUE_PREFIX (worker heartbeats for the status command). */
  prefix: string;
  metrics: Metrics;
  log: Logger;
  now: () => Date;
  /** FOLLOW_UP_AFTER in milliseconds (the stuck summary's silence window). */
  followUpAfterMs: number;
  operators: OperatorCheck;
  markActed: AlertActedUpdater;
}

/** How the actor of a Slack action is written in audit entries and `claimedBy`. */
export function slackActor(userId: string): string {
  return `slack:${userId}`;
}
