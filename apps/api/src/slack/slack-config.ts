import type { Env } from '@parley/config';

// Apart from slack-app.ts, so that deciding whether Slack runs does not load Bolt.
export type SlackConfig = Pick<Env, 'SLACK_BOT_TOKEN' | 'SLACK_APP_TOKEN' | 'SLACK_SIGNING_SECRET' | 'SLACK_API_URL' | 'SLACK_OPERATORS'>;

/** Why Slack is off, or undefined when it can run. */
export function slackDisabledReason(config: SlackConfig): string | undefined {
  if (!config.SLACK_BOT_TOKEN) return 'SLACK_BOT_TOKEN is not set';
  if (!config.SLACK_APP_TOKEN && !config.SLACK_SIGNING_SECRET) return 'neither SLACK_APP_TOKEN (Socket Mode) nor SLACK_SIGNING_SECRET (HTTP mode) is set';
  return undefined;
}
