import { LogLevel, WebClient } from '@slack/web-api';
import { mapSlackError } from './slack-errors';

export interface SlackClientOptions {
  /** SLACK_BOT_TOKEN (xoxb-…). */
  token: string;
  /** SLACK_API_URL. @defaultValue https://slack.com/api/ */
  apiUrl?: string;
  /** Per-call timeout. @defaultValue 10000 */
  timeoutMs?: number;
}

/**
 * The official WebClient with its own retries off: the alerts queue owns retrying (Retry-After
 * waits, backoff, dead letters), and the SDK's default of ten retries over half an hour would
 * hold a worker slot that long and hide every failure from it.
 */
export function createSlackClient(options: SlackClientOptions): WebClient {
  return new WebClient(options.token, {
    slackApiUrl: options.apiUrl ?? 'https://slack.com/api/',
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
    timeout: options.timeoutMs ?? 10_000,
    // Its warnings would repeat what mapSlackError reports, and debug lines carry bodies.
    logLevel: LogLevel.ERROR,
  });
}

/** Runs one Web API call and maps its failure into the queue's error taxonomy. */
export async function callSlack<T>(method: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw mapSlackError(error, method);
  }
}
