import { createClickUpClient } from '@parley/clickup';
import { ConfigError, requireVars, type Env } from '@parley/config';
import type { Db } from '@parley/db';
import { createGmailClient, createGoogleAuth, createSheetsClient } from '@parley/google';
import { createLlmClient, createLlmGate } from '@parley/llm';
import type { Logger } from '@parley/logging';
import type { Metrics } from '@parley/metrics';
import type { HandlerMap, Queues, RedisConnection } from '@parley/queue';
import {
  createCampaignIngestHandler,
  createMailboxSyncHandler,
  createNegotiationStepHandler,
  createSendEmailHandler,
  enqueuePeriodicSync,
  ensureGmailWatch,
  escalateDuringLlmOutage,
  healLostJobs,
  sweepFollowUps,
} from '@parley/engine';

export interface EngineWiring {
  handlers: Pick<HandlerMap, 'gmail-notifications' | 'campaign-tasks' | 'negotiation-steps' | 'outbound-email'>;
  /** The maintenance tasks this engine owns, by task name. */
  maintenance: {
    'gmail-watch-renewal': () => Promise<unknown>;
    'follow-ups': () => Promise<unknown>;
    'stuck-sweep': () => Promise<unknown>;
    'mailbox-sync': () => Promise<unknown>;
  };
}

/**
 * Builds the integration clients from config (each validated: a missing credential fails
 * start-up naming the variable) and the handlers that use them.
 */
export function createEngineWiring(config: Env, deps: { db: Db; queues: Queues; redis: RedisConnection; metrics: Metrics; log: Logger; now?: () => Date }): EngineWiring {
  const now = deps.now ?? (() => new Date());
  const core = { db: deps.db, queues: deps.queues, metrics: deps.metrics, log: deps.log, now };
  assertWorkerIntegrations(config);
  const { ANTHROPIC_API_KEY, GMAIL_MAILBOX, GMAIL_PUBSUB_TOPIC, CLICKUP_API_TOKEN } = requireVars(config, 'the worker', ['ANTHROPIC_API_KEY', 'GMAIL_MAILBOX', 'GMAIL_PUBSUB_TOPIC', 'CLICKUP_API_TOKEN']);
  const auth = createGoogleAuth(config);
  const rootUrl = config.GOOGLE_API_ROOT_URL;
  const gmail = createGmailClient({ auth, timeoutMs: config.GMAIL_TIMEOUT_MS, ...(rootUrl ? { rootUrl } : {}) });
  const sheets = createSheetsClient({ auth, ...(rootUrl ? { rootUrl } : {}) });
  const clickup = createClickUpClient({ baseUrl: config.CLICKUP_API_URL, token: CLICKUP_API_TOKEN });
  const llm = createLlmClient({
    apiKey: ANTHROPIC_API_KEY,
    ...(config.ANTHROPIC_BASE_URL ? { baseURL: config.ANTHROPIC_BASE_URL } : {}),
    model: config.ANTHROPIC_MODEL,
    timeoutMs: config.ANTHROPIC_TIMEOUT_MS,
    metrics: deps.metrics,
    log: deps.log,
    defaultRateLimitWaitMs: config.RETRY_RATE_LIMIT_DEFAULT_MS,
    // One gate for the fleet: every worker process shares it through Redis (docs/engine.md).
    gate: createLlmGate({
      redis: deps.redis,
      prefix: config.QUEUE_PREFIX,
      limits: { requestsPerMinute: config.ANTHROPIC_RPM, inputTokensPerMinute: config.ANTHROPIC_ITPM, outputTokensPerMinute: config.ANTHROPIC_OTPM },
      maxInFlight: config.ANTHROPIC_MAX_IN_FLIGHT,
      // A lease outlives the longest call (the SDK's timeout) before a dead process's slot returns.
      leaseMs: config.ANTHROPIC_TIMEOUT_MS + 5_000,
      maxWaitMs: config.ANTHROPIC_GATE_MAX_WAIT_MS,
      metrics: deps.metrics,
      log: deps.log,
    }),
  });
  const engine = { ...core, llm, mailbox: GMAIL_MAILBOX, llmOutageEscalateAfterMs: config.LLM_OUTAGE_ESCALATE_AFTER * 1000, maxFollowUps: config.MAX_FOLLOW_UPS, priceStep: config.PRICE_STEP };
  return {
    handlers: {
      'gmail-notifications': createMailboxSyncHandler({ ...core, gmail, mailbox: GMAIL_MAILBOX, redis: deps.redis, prefix: config.QUEUE_PREFIX, fetchConcurrency: config.GMAIL_FETCH_CONCURRENCY }),
      'campaign-tasks': createCampaignIngestHandler({ ...core, clickup, sheets, triggerStatus: config.CLICKUP_TRIGGER_STATUS }),
      'negotiation-steps': createNegotiationStepHandler(engine),
      'outbound-email': createSendEmailHandler({ ...core, gmail, mailbox: GMAIL_MAILBOX, sendSettleMs: config.GMAIL_SEND_SETTLE_MS, sendTimeoutMs: config.GMAIL_TIMEOUT_MS }),
    },
    maintenance: {
      'gmail-watch-renewal': () => ensureGmailWatch({ ...core, gmail, mailbox: GMAIL_MAILBOX, topic: GMAIL_PUBSUB_TOPIC }),
      'follow-ups': () => sweepFollowUps({ ...core, followUpAfterMs: config.FOLLOW_UP_AFTER * 1000 }),
      'stuck-sweep': async () => ({ escalated: await escalateDuringLlmOutage(engine), restoredJobs: await healLostJobs(core) }),
      'mailbox-sync': () => enqueuePeriodicSync({ ...core, mailbox: GMAIL_MAILBOX, intervalMs: config.MAINTENANCE_INTERVAL_MS }),
    },
  };
}

/** Every integration setting a worker needs, checked together so one message names them all. */
export function assertWorkerIntegrations(config: Env): void {
  const problems: string[] = [];
  const need = (name: keyof Env, what: string) => {
    if (config[name] === undefined) problems.push(`${String(name)}: required by the worker for ${what}; set it in the environment`);
  };
  need('ANTHROPIC_API_KEY', 'the LLM');
  need('GMAIL_MAILBOX', 'sending and reading email');
  need('GMAIL_PUBSUB_TOPIC', 'the Gmail watch');
  need('CLICKUP_API_TOKEN', 'reading campaign tasks');
  if (config.GOOGLE_TOKEN_JSON === undefined) {
    for (const name of ['GOOGLE_CLIENT_ID', 'GOOGLE_CLIENT_SECRET', 'GOOGLE_REFRESH_TOKEN'] as const) {
      need(name, 'Google OAuth (or set GOOGLE_TOKEN_JSON instead)');
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
}
