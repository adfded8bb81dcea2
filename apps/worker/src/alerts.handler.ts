import type { Env } from '@parley/config';
import type { Db } from '@parley/db';
import type { Handler, Queues, RedisConnection } from '@parley/queue';
import { createSlackClient } from '@parley/slack';
import { deliverAlert, type SlackAlertsDeps } from './alerts-delivery';

/**
 * The alerts queue: Slack when it is configured (alerts-delivery.ts), otherwise the log. Only
 * the title, the kind and the ids are logged: the text can quote an influencer's email.
 */
export function createAlertsHandler(slack: SlackAlertsDeps | null = null): Handler<'alerts'> {
  return async (alert, ctx) => {
    if (slack) return deliverAlert(slack, alert, ctx);
    const level = alert.kind === 'dead_letter' || alert.kind === 'escalation' ? 'warn' : 'info';
    ctx.log.log(level, 'alert', {
      alertId: alert.alertId,
      kind: alert.kind,
      title: alert.title,
      negotiationId: alert.negotiationId,
      deadLetterId: alert.deadLetterId,
      campaignId: alert.campaignId,
    });
    return { delivered: 'log' };
  };
}

/** Slack delivery from the environment, or null (log only) without a bot token and a channel. */
export function slackAlertsFromConfig(
  config: Pick<Env, 'SLACK_BOT_TOKEN' | 'SLACK_ALERT_CHANNEL' | 'SLACK_API_URL' | 'SLACK_ALERTS_PER_MINUTE' | 'PUBLIC_URL' | 'QUEUE_PREFIX'>,
  deps: { db: Db; queues: Queues; redis: RedisConnection; now?: () => Date },
): SlackAlertsDeps | null {
  if (!config.SLACK_BOT_TOKEN || !config.SLACK_ALERT_CHANNEL) return null;
  assertChannelId(config.SLACK_ALERT_CHANNEL);
  return {
    db: deps.db,
    queues: deps.queues,
    redis: deps.redis,
    slack: createSlackClient({ token: config.SLACK_BOT_TOKEN, ...(config.SLACK_API_URL ? { apiUrl: config.SLACK_API_URL } : {}) }),
    channel: config.SLACK_ALERT_CHANNEL,
    publicUrl: config.PUBLIC_URL,
    prefix: config.QUEUE_PREFIX,
    perWindow: config.SLACK_ALERTS_PER_MINUTE,
    now: deps.now ?? (() => new Date()),
  };
}

/** A conversation id: C… (public), G… (private, older), D… (a DM). */
const CHANNEL_ID = /^[CGD][A-Z0-9]{2,}$/;

/**
 * SLACK_ALERT_CHANNEL must be the channel's id. Slack posts to a `#name` too, but answers with
 * the id, so the negotiation's thread (looked up by the configured channel) would never be found
 * and every alert would start a new one, and a post whose answer was lost could not be looked up
 * again (conversations.history takes ids only) and would be posted twice. Refused at start.
 */
export function assertChannelId(channel: string): void {
  if (CHANNEL_ID.test(channel)) return;
  throw new Error(
    `SLACK_ALERT_CHANNEL must be a channel id (C…, shown at the bottom of the channel's details in Slack), not ${JSON.stringify(channel.slice(0, 80))}: threads and the lookup of a lost post need the id`,
  );
}
