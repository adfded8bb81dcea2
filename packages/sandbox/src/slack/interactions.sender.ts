import { createHmac, randomUUID } from 'node:crypto';

/** Identifiers every Slack request carries; the defaults make one workspace and one app. */
export interface SlackWorkspace {
  teamId: string;
  teamDomain: string;
  apiAppId: string;
}

export const SANDBOX_WORKSPACE: SlackWorkspace = { teamId: 'T0PARLEY', teamDomain: 'parley-sandbox', apiAppId: 'A0PARLEY' };

export interface SlashCommandInput {
  /** `/claim`, `/resume`, `/audit`, `/parley`. */
  command: string;
  text: string;
  userId: string;
  userName?: string;
  channelId?: string;
}

export interface BlockActionInput {
  actionId: string;
  value: string;
  userId: string;
  userName?: string;
  channelId: string;
  /** The ts of the message the button is on. */
  messageTs: string;
  blockId?: string;
}

/**
 * The form fields of a slash command as Slack sends them (the Bolt `SlashCommand` type);
 * Socket Mode carries the same fields as the envelope's JSON payload.
 */
export function slashCommandFields(input: SlashCommandInput, workspace: SlackWorkspace = SANDBOX_WORKSPACE): Record<string, string> {
  return {
    token: 'verification-token-unused',
    team_id: workspace.teamId,
    team_domain: workspace.teamDomain,
    channel_id: input.channelId ?? 'C0PARLEYALERTS',
    channel_name: 'parley-alerts',
    user_id: input.userId,
    user_name: input.userName ?? input.userId.toLowerCase(),
    command: input.command,
    text: input.text,
    api_app_id: workspace.apiAppId,
    is_enterprise_install: 'false',
    response_url: `https://hooks.slack.invalid/commands/${workspace.teamId}/${randomUUID()}`,
    trigger_id: `${Date.now()}.${randomUUID()}`,
  };
}

/** A `block_actions` payload for one button click (`@slack/bolt` types/actions/block-action). */
export function blockActionPayload(input: BlockActionInput, workspace: SlackWorkspace = SANDBOX_WORKSPACE): Record<string, unknown> {
  const user = { id: input.userId, username: input.userName ?? input.userId.toLowerCase(), name: input.userName ?? input.userId.toLowerCase(), team_id: workspace.teamId };
  const actionTs = (Date.now() / 1000).toFixed(6);
  return {
    type: 'block_actions',
    user,
    api_app_id: workspace.apiAppId,
    token: 'verification-token-unused',
    container: { type: 'message', message_ts: input.messageTs, channel_id: input.channelId, is_ephemeral: false },
    trigger_id: `${Date.now()}.${randomUUID()}`,
    team: { id: workspace.teamId, domain: workspace.teamDomain },
    enterprise: null,
    is_enterprise_install: false,
    channel: { id: input.channelId, name: 'alerts' },
    message: { type: 'message', ts: input.messageTs, text: 'alert', bot_id: 'B0PARLEY' },
    response_url: `https://hooks.slack.invalid/actions/${workspace.teamId}/${randomUUID()}`,
    actions: [{ type: 'button', action_id: input.actionId, block_id: input.blockId ?? 'actions', value: input.value, text: { type: 'plain_text', text: input.actionId }, action_ts: actionTs }],
  };
}

/** `v0=` + hex HMAC-SHA256 over `v0:<timestamp>:<raw body>` (Slack request signing). */
export function slackSignature(signingSecret: string, timestamp: number, body: string): string {
  return `v0=${createHmac('sha256', signingSecret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
}

export interface SignedSendOptions {
  /** Sign with this secret instead of the real one (the request must be refused). */
  signWith?: string;
  /** Date the request this many seconds in the past (over 300 s is stale). */
  ageSeconds?: number;
  /** Slack gives up on an unanswered request after 3 s; tests may wait longer to measure. @defaultValue 10000 */
  timeoutMs?: number;
}

export interface SignedResponse {
  status: number;
  /** The answer's body, parsed as JSON when it is JSON (a command's ephemeral reply). */
  body: unknown;
  text: string;
  /** Milliseconds from sending until the answer arrived (Slack's 3-second budget). */
  ms: number;
}

export interface InteractionsSender {
  command: (input: SlashCommandInput, options?: SignedSendOptions) => Promise<SignedResponse>;
  action: (input: BlockActionInput, options?: SignedSendOptions) => Promise<SignedResponse>;
  /** Any form body, signed (or mis-signed) like the others. */
  form: (fields: Record<string, string>, options?: SignedSendOptions) => Promise<SignedResponse>;
  /** An Events API request: a JSON body (`url_verification`, `event_callback`), signed alike. */
  event: (body: Record<string, unknown>, options?: SignedSendOptions) => Promise<SignedResponse>;
}

/**
 * Sends what Slack sends in HTTP mode to a Request URL: form-encoded bodies (a slash command's
 * fields, or `payload=<JSON>` for interactivity) with `X-Slack-Request-Timestamp` and
 * `X-Slack-Signature`, to one endpoint for commands, interactivity and events.
 */
export function createInteractionsSender(options: { endpoint: string; signingSecret: string; workspace?: SlackWorkspace }): InteractionsSender {
  const workspace = options.workspace ?? SANDBOX_WORKSPACE;
  const signed = async (body: string, contentType: string, send: SignedSendOptions): Promise<SignedResponse> => {
    const timestamp = Math.floor(Date.now() / 1000) - (send.ageSeconds ?? 0);
    const started = Date.now();
    const response = await fetch(options.endpoint, {
      method: 'POST',
      headers: {
        'content-type': contentType,
        'x-slack-request-timestamp': String(timestamp),
        'x-slack-signature': slackSignature(send.signWith ?? options.signingSecret, timestamp, body),
        'user-agent': 'Slackbot 1.0 (+https://api.slack.com/robots)',
      },
      body,
      signal: AbortSignal.timeout(send.timeoutMs ?? 10_000),
    });
    const text = await response.text();
    const ms = Date.now() - started;
    let parsed: unknown = text;
    try {
      parsed = text ? (JSON.parse(text) as unknown) : '';
    } catch {
      // Not JSON: an empty ack or a plain-text error; the text stands.
    }
    return { status: response.status, body: parsed, text, ms };
  };
  const form = (fields: Record<string, string>, send: SignedSendOptions = {}) => signed(new URLSearchParams(fields).toString(), 'application/x-www-form-urlencoded', send);
  return {
    form,
    event: (body, send = {}) => signed(JSON.stringify(body), 'application/json', send),
    command: (input, send) => form(slashCommandFields(input, workspace), send),
    action: (input, send) => form({ payload: JSON.stringify(blockActionPayload(input, workspace)) }, send),
  };
}
