import { App, ExpressReceiver, LogLevel, SocketModeReceiver, type RespondArguments } from '@slack/bolt';
import { WebClient } from '@slack/web-api';
import type { Router } from 'express';
import { callSlack, markAlertActed } from '@parley/slack';
import { boltLogger } from './bolt-logger';
import { ACTION_IDS, pressButton } from './actions.service';
import { runCommand, type CommandReply } from './commands.service';
import { createOperatorCheck } from './operators.service';
import { slackDisabledReason, type SlackConfig } from './slack-config';
import type { SlackOpsDeps } from './slack-ops.types';
import { BODY_LIMITS } from '../body';

export { slackDisabledReason, type SlackConfig };

export const SLACK_EVENTS_PATH = '/slack/events';

/**
 * Slack's own requests are small (a command's fields, a click's payload with its message).
 * One entry of BODY_LIMITS, so the API's body budget (bodyBudget) knows it too.
 */
export const SLACK_BODY_LIMIT_BYTES = BODY_LIMITS.slackEvents;

/** Slack shows "did not respond" after 3 s; answers that take longer come as a later ephemeral. */
export const ACK_BUDGET_MS = 2000;

export interface SlackAppOptions extends Omit<SlackOpsDeps, 'operators' | 'markActed'> {
  config: SlackConfig;
  /** @defaultValue markAlertActed of @parley/slack */
  markActed?: SlackOpsDeps['markActed'];
  /** How long the Socket Mode client waits per failed attempt before reconnecting. @defaultValue 5000 */
  reconnectDelayMs?: number;
  /** A Socket Mode client that has been down this long is started again. @defaultValue 30000 */
  watchdogMs?: number;
}

export interface SlackApp {
  mode: 'http' | 'socket';
  /** HTTP mode: the router serving POST /slack/events (mount it on the API). */
  router?: Router;
  /** Socket Mode: connects (retrying in the background); HTTP mode: nothing to do. */
  start: () => Promise<void>;
  stop: () => Promise<void>;
  /** Socket Mode: whether the socket is connected now. */
  connected: () => boolean;
  client: WebClient;
}


/**
 * The operator side of Slack: `/claim`, `/resume`, `/audit`, `/parley status` and the alert
 * buttons. Socket Mode when SLACK_APP_TOKEN is set, otherwise HTTP mode at POST /slack/events.
 * Every handler acks first (or within ACK_BUDGET_MS) and does the rest after.
 */
export function createSlackApp(options: SlackAppOptions): SlackApp {
  const { config, log } = options;
  const reason = slackDisabledReason(config);
  if (reason || !config.SLACK_BOT_TOKEN) throw new Error(`slack cannot start: ${reason ?? 'no bot token'}`);
  const logger = boltLogger(log, LogLevel.INFO);
  // Handlers make one or two Web API calls after the ack; retrying them for half an hour (the
  // WebClient's default) would only pile up work, so a few quick retries and a timeout.
  const clientOptions = { ...(config.SLACK_API_URL ? { slackApiUrl: config.SLACK_API_URL } : {}), retryConfig: { retries: 2, factor: 2, minTimeout: 200, maxTimeout: 2000 }, timeout: 10_000 };

  let express: ExpressReceiver | undefined;
  let socketReceiver: SocketModeReceiver | undefined;
  if (config.SLACK_APP_TOKEN) {
    socketReceiver = new SocketModeReceiver({
      appToken: config.SLACK_APP_TOKEN,
      logger,
      clientPingTimeout: options.reconnectDelayMs ?? 5000,
      installerOptions: { clientOptions: { ...(config.SLACK_API_URL ? { slackApiUrl: config.SLACK_API_URL } : {}) } },
    });
  } else {
    express = new ExpressReceiver({
      signingSecret: config.SLACK_SIGNING_SECRET ?? '',
      endpoints: SLACK_EVENTS_PATH,
      logger,
      processBeforeResponse: false,
      bodyLimit: SLACK_BODY_LIMIT_BYTES,
    });
  }
  // Bolt given a token either checks it with auth.test at start (the API's start would then
  // depend on Slack) or, with that off, calls auth.test again before every request, before the
  // handler can ack, so a slow Slack would push acks past 3 s. Our own authorize answers at
  // once; the bot's ids (for Bolt's ignoreSelf) are learned once in the background.
  const botToken = config.SLACK_BOT_TOKEN;
  // An App built with `authorize` hands its listeners a client without a token unless the
  // answer names a team: every call (handlers, the operator check, auth.test) uses this one.
  const client = new WebClient(botToken, { ...clientOptions, logger });
  const identity = botIdentity(client, log);
  const app = new App({
    receiver: socketReceiver ?? express,
    logger,
    clientOptions,
    authorize: async () => {
      identity.learn();
      return { botToken, ...identity.known() };
    },
  });
  const operators = createOperatorCheck({ operators: config.SLACK_OPERATORS, client, log });
  if (operators.policy.everyone) log.warn('SLACK_OPERATORS is not set: every member of the Slack workspace may claim, resume, replay and discard');
  const deps: SlackOpsDeps = { ...options, operators, markActed: options.markActed ?? markAlertActed };

  app.error(async (error) => {
    log.error('slack handler failed', { error: error.message, code: (error as { code?: string }).code });
  });

  app.command(/^\/(claim|resume|audit|parley)$/, async ({ command, ack }) => {
    const work = runCommand(deps, { command: command.command, text: command.text, userId: command.user_id }).catch((error: unknown): CommandReply => {
      log.error('slack command failed', { command: command.command, error: (error as Error).message });
      return { text: 'Something went wrong; nothing may have changed. Check the dashboard or try again.' };
    });
    let timer: NodeJS.Timeout | undefined;
    const budget = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), ACK_BUDGET_MS);
    });
    const quick = await Promise.race([work, budget]);
    clearTimeout(timer);
    if (quick) {
      await ack({ response_type: 'ephemeral', text: quick.text } satisfies RespondArguments);
      return;
    }
    await ack({ response_type: 'ephemeral', text: `Working on \`${command.command} ${command.text}\`…` });
    const late = await work;
    await client.chat.postEphemeral({ channel: command.channel_id, user: command.user_id, text: late.text }).catch((error: unknown) => {
      log.warn('slack late command answer failed', { command: command.command, error: (error as Error).message });
    });
  });

  const actionIds = new RegExp(`^(${Object.values(ACTION_IDS).join('|')})$`);
  app.action({ type: 'block_actions', action_id: actionIds }, async ({ ack, body, action }) => {
    await ack();
    if (action.type !== 'button') return;
    const channel = body.channel?.id ?? body.container?.channel_id;
    const ts = body.message?.ts ?? body.container?.message_ts;
    if (!channel || !ts || !action.value) return;
    const outcome = await pressButton(deps, client, { actionId: action.action_id, value: action.value, userId: body.user.id, channel, ts }).catch((error: unknown) => {
      log.error('slack action failed', { action: action.action_id, error: (error as Error).message });
      return { acted: false, text: 'Something went wrong; the action may not have happened. Check the dashboard or try again.' };
    });
    await client.chat.postEphemeral({ channel, user: body.user.id, text: outcome.text }).catch((error: unknown) => {
      log.warn('slack action answer failed', { action: action.action_id, error: (error as Error).message });
    });
  });

  if (!socketReceiver) {
    return {
      mode: 'http',
      router: express?.router,
      start: async () => {
        identity.learn();
      },
      stop: async () => undefined,
      connected: () => false,
      client,
    };
  }
  const supervisor = socketSupervisor(app, socketReceiver, deps, options.watchdogMs ?? 30_000);
  return {
    mode: 'socket',
    ...supervisor,
    start: async () => {
      identity.learn();
      await supervisor.start();
    },
    client,
  };
}

/** auth.test is asked again at most this often after a failure. */
const IDENTITY_RETRY_MS = 60_000;

/**
 * The bot's user and bot ids, from one auth.test in the background (at start, then retried at
 * most once a minute until it succeeds). A bad token is reported at start with what to fix,
 * without holding up the start or any ack.
 */
function botIdentity(client: WebClient, log: SlackOpsDeps['log']) {
  let ids: { botId?: string; botUserId?: string } | undefined;
  let pending = false;
  let lastTry = Number.NEGATIVE_INFINITY;
  return {
    known: () => ids ?? {},
    learn: () => {
      if (ids || pending || Date.now() - lastTry < IDENTITY_RETRY_MS) return;
      pending = true;
      lastTry = Date.now();
      callSlack('auth.test', () => client.auth.test())
        .then((result) => {
          ids = { ...(result.bot_id ? { botId: result.bot_id } : {}), ...(result.user_id ? { botUserId: result.user_id } : {}) };
        })
        .catch((error: unknown) => {
          log.error('slack bot token check (auth.test) failed; commands and buttons cannot answer until it is fixed', { error: (error as Error).message });
        })
        .finally(() => {
          pending = false;
        });
    },
  };
}

/**
 * The Socket Mode client reconnects by itself after a drop or a `disconnect` message, but it
 * gives up for good on some failures (apps.connections.open unreachable during a reconnect).
 * A watchdog starts it again when it has been down too long, so the process never needs a
 * restart to get Slack back, and start-up never waits for Slack.
 */
function socketSupervisor(app: App, receiver: SocketModeReceiver, deps: SlackOpsDeps, watchdogMs: number) {
  const client = receiver.client;
  let up = false;
  let downSince = Date.now();
  let stopping = false;
  let starting: Promise<void> | undefined;
  let watchdog: NodeJS.Timeout | undefined;
  client.on('connected', () => {
    if (!up) deps.log.info('slack socket mode connected');
    up = true;
  });
  const down = () => {
    if (up) downSince = Date.now();
    up = false;
  };
  for (const state of ['disconnected', 'reconnecting', 'disconnecting']) client.on(state, down);
  client.on('error', (error: Error) => deps.log.warn('slack socket mode error', { error: error.message }));

  const begin = () => {
    starting ??= app
      .start()
      .then(() => undefined)
      .catch((error: unknown) => {
        deps.log.warn('slack socket mode could not connect; retrying', { error: (error as Error).message });
      })
      .finally(() => {
        starting = undefined;
      });
    return starting;
  };
  return {
    start: async () => {
      stopping = false;
      void begin();
      watchdog = setInterval(() => {
        if (!stopping && !up && !starting && Date.now() - downSince > watchdogMs) {
          deps.log.warn('slack socket mode down too long; starting it again', { downMs: Date.now() - downSince });
          downSince = Date.now();
          void begin();
        }
      }, Math.min(watchdogMs, 5000));
      watchdog.unref();
    },
    stop: async () => {
      stopping = true;
      if (watchdog) clearInterval(watchdog);
      await app.stop().catch(() => undefined);
    },
    connected: () => up,
  };
}
