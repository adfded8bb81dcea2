import { createRedis, PermanentError, type Handler, type JobData } from '@parley/queue';
import { startSlackSandbox, type SlackSandbox, type SlackSandboxMessage } from '@parley/sandbox';
import { createSlackClient } from '@parley/slack';
import type { Redis } from 'ioredis';
import type { SlackAlertsDeps } from '../../apps/worker/src/alerts-delivery';
import { createAlertsHandler } from '../../apps/worker/src/alerts.handler';
import { redisUrl } from '../support/redis';
import { createHarness, TEST_POLICY, type Harness } from '../worker/harness';

export const PUBLIC_URL = 'https://parley.example.test';

export interface AlertsHarnessOptions {
  label: string;
  perWindow?: number;
  windowMs?: number;
  /** The alerts' clock (storm windows); real time by default. */
  now?: () => Date;
  /** A bot token other than the stand-in's (e.g. a revoked one). */
  token?: string;
}

export interface AlertsHarness {
  h: Harness;
  slack: SlackSandbox;
  deps: SlackAlertsDeps;
  /** Messages in the alert channel (thread replies included). */
  channelMessages: () => SlackSandboxMessage[];
  /** Negotiation steps with this id prefix fail permanently (each becomes a dead letter). */
  failingSteps: Handler<'negotiation-steps'>;
  enqueueAlert: (alert: JobData<'alerts'>) => Promise<void>;
  alertState: (alertId: string) => Promise<string>;
  close: () => Promise<void>;
}

/**
 * The real worker runtime (real Redis on its own prefix, a fresh SQLite file) with the alerts
 * queue delivering to the Slack stand-in through the official WebClient.
 */
export async function createAlertsHarness(options: AlertsHarnessOptions): Promise<AlertsHarness> {
  const h = await createHarness(options.label, { ...TEST_POLICY, rateLimitMax: 5 });
  const slack = await startSlackSandbox();
  const redis: Redis = createRedis(redisUrl(), 'producer');
  const deps: SlackAlertsDeps = {
    db: h.db,
    queues: h.queues,
    redis,
    slack: createSlackClient({ token: options.token ?? slack.botToken, apiUrl: slack.url, timeoutMs: 5_000 }),
    channel: slack.channel,
    publicUrl: PUBLIC_URL,
    prefix: h.prefix,
    perWindow: options.perWindow ?? 10,
    ...(options.windowMs ? { windowMs: options.windowMs } : {}),
    now: options.now ?? (() => new Date()),
  };
  const failingSteps: Handler<'negotiation-steps'> = async (data) => {
    throw new PermanentError(`LLM refused the prompt for ${data.negotiationId}: 400 invalid_request_error (sender ayesha@creator.example)`);
  };
  await h.start({ handlers: { alerts: createAlertsHandler(deps), 'negotiation-steps': failingSteps }, only: ['negotiation-steps', 'alerts'], concurrency: 4 });
  return {
    h,
    slack,
    deps,
    channelMessages: () => slack.messages(slack.channel),
    failingSteps,
    enqueueAlert: async (alert) => {
      await h.queues.alerts.add('alert', alert, { jobId: `alert.${alert.alertId}` });
    },
    alertState: async (alertId) => h.queues.alerts.getJobState(`alert.${alertId}`),
    close: async () => {
      await h.close();
      await redis.quit().catch(() => redis.disconnect());
      await slack.close();
    },
  };
}

/** Every action_id and value of a message's buttons. */
export function buttonsOf(message: SlackSandboxMessage | undefined): { action_id: string; value: string }[] {
  const blocks = (message?.blocks ?? []) as { type: string; elements?: { type: string; action_id: string; value: string }[] }[];
  return blocks.filter((b) => b.type === 'actions').flatMap((b) => (b.elements ?? []).map((e) => ({ action_id: e.action_id, value: e.value })));
}
