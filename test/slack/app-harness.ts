import { randomUUID } from 'node:crypto';
import type { Express, RequestHandler } from 'express';
import { WebClient } from '@slack/web-api';
import { withTx } from '@parley/db';
import { createInteractionsSender, startSlackSandbox, startSocketModeServer, type InteractionsSender, type SlackSandbox, type SocketModeServer } from '@parley/sandbox/slack';
import { createSlackApp, SLACK_EVENTS_PATH, type AlertActedUpdater, type SlackApp, type SlackAppOptions } from '../../apps/api/src/slack';
import { startApi, type ApiHarness } from '../api/api-harness';
import { capturingLogger } from '../support/logs';
import { waitFor } from '../support/wait';

export const OPERATOR = 'U0OPERATOR1';
export const OTHER_OPERATOR = 'U0OPERATOR2';
export const OUTSIDER = 'U0OUTSIDER';

export interface SlackAppHarness {
  api: ApiHarness;
  slack: SlackSandbox;
  socket: SocketModeServer;
  app: SlackApp;
  /** Signed HTTP requests to the API's /slack/events (HTTP mode). */
  http: InteractionsSender;
  logs: () => string;
  /** Posts an alert with buttons the way the alerts handler does and records its SlackMessage row. */
  postAlert: (input: { kind: 'dead_letter' | 'escalation'; deadLetterId?: string; negotiationId?: string }) => Promise<{ channel: string; ts: string; alertId: string }>;
  close: () => Promise<void>;
}

export interface SlackAppHarnessOptions {
  mode: 'http' | 'socket';
  /** SLACK_OPERATORS; undefined leaves it unset (everyone). */
  operators?: string;
  markActed?: AlertActedUpdater;
}

/**
 * The API in-process (real Redis on its own prefix, a fresh SQLite file) with the Slack app in
 * the chosen mode, against the Slack Web API stand-in and the Socket Mode server.
 */
export async function startSlackApp(options: SlackAppHarnessOptions): Promise<SlackAppHarness> {
  const socket = await startSocketModeServer({ pingIntervalMs: 2000 });
  const slack = await startSlackSandbox({ socketModeUrl: () => socket.connectionUrl() });
  slack.addUser({ id: OUTSIDER, name: 'otto', real_name: 'Otto Outsider' });
  const mounted: { router?: RequestHandler } = {};
  // The app needs the harness's database and queues, which exist only once the API is built.
  const api = await startApi({ extend: (app: Express) => app.use((req, res, next) => (mounted.router ? mounted.router(req, res, next) : next())) });
  const { log, text } = capturingLogger('api-slack', 'info');
  const env = slack.env({ socketMode: options.mode === 'socket' });
  const appOptions: SlackAppOptions = {
    config: {
      SLACK_BOT_TOKEN: env.SLACK_BOT_TOKEN,
      SLACK_APP_TOKEN: options.mode === 'socket' ? slack.appToken : undefined,
      SLACK_SIGNING_SECRET: slack.signingSecret,
      SLACK_API_URL: env.SLACK_API_URL,
      SLACK_OPERATORS: options.operators,
    },
    db: api.db,
    queues: api.queues,
    redis: api.redis,
    prefix: api.prefix,
    metrics: api.metrics,
    log,
    now: () => new Date(),
    followUpAfterMs: 72 * 3_600_000,
    ...(options.markActed ? { markActed: options.markActed } : {}),
    reconnectDelayMs: 500,
    watchdogMs: 5000,
  };
  const app = createSlackApp(appOptions);
  mounted.router = app.router;
  await app.start();
  if (options.mode === 'socket') await waitFor('socket mode connected', () => app.connected() && socket.connected(), 20_000);
  const http = createInteractionsSender({ endpoint: `${api.url}${SLACK_EVENTS_PATH}`, signingSecret: slack.signingSecret });
  const poster = new WebClient(slack.botToken, { slackApiUrl: slack.url, retryConfig: { retries: 0 } });

  return {
    api,
    slack,
    socket,
    app,
    http,
    logs: text,
    postAlert: async (input) => {
      const value = input.deadLetterId ?? input.negotiationId ?? '';
      const buttons =
        input.kind === 'dead_letter'
          ? [
              { type: 'button' as const, action_id: 'dead_letter_replay', text: { type: 'plain_text' as const, text: 'Replay' }, value },
              { type: 'button' as const, action_id: 'dead_letter_discard', text: { type: 'plain_text' as const, text: 'Discard' }, value },
            ]
          : [{ type: 'button' as const, action_id: 'negotiation_claim', text: { type: 'plain_text' as const, text: 'Claim' }, value }];
      const posted = await poster.chat.postMessage({
        channel: slack.channel,
        text: `${input.kind} alert`,
        blocks: [
          { type: 'section', text: { type: 'mrkdwn', text: `*${input.kind}* alert` } },
          { type: 'actions', block_id: 'actions', elements: buttons },
        ],
      });
      const alertId = `${input.kind === 'dead_letter' ? 'dl' : 'esc'}-${randomUUID()}`;
      const ts = posted.ts ?? '';
      await withTx(api.db, (tx) =>
        tx.slackMessage.create({
          data: { alertId, kind: input.kind, channel: slack.channel, ts, negotiationId: input.negotiationId ?? null, deadLetterId: input.deadLetterId ?? null, postedAt: new Date() },
        }),
      );
      return { channel: slack.channel, ts, alertId };
    },
    close: async () => {
      await app.stop();
      await api.close();
      await socket.close();
      await slack.close();
    },
  };
}
