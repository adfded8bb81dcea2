import { SANDBOX_BOT_ID, SANDBOX_BOT_USER, SANDBOX_TEAM_ID, type SlackMetadata, type SlackSandboxMessage, type SlackStore } from './slack.store';

/** A Web API method's parameters as they arrived: strings when form-encoded, any JSON when JSON. */
export type SlackParams = Record<string, unknown>;
export type SlackAnswer = { ok: true; [key: string]: unknown } | { ok: false; error: string; [key: string]: unknown };

export interface MethodContext {
  store: SlackStore;
  params: SlackParams;
  /** Resolves the Socket Mode URL for apps.connections.open. */
  socketModeUrl: () => Promise<string | null>;
}

export type TokenKind = 'bot' | 'app';
type Method = (ctx: MethodContext) => SlackAnswer | Promise<SlackAnswer>;

const fail = (error: string): SlackAnswer => ({ ok: false, error });

function text(params: SlackParams, key: string): string | undefined {
  const value = params[key];
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}

/** Form-encoded bodies carry objects as JSON strings; JSON bodies carry them as they are. */
function structured(params: SlackParams, key: string): { value?: unknown; invalid: boolean } {
  const value = params[key];
  if (value === undefined || value === '') return { invalid: false };
  if (typeof value !== 'string') return { value, invalid: false };
  try {
    return { value: JSON.parse(value) as unknown, invalid: false };
  } catch {
    return { invalid: true };
  }
}

function flag(params: SlackParams, key: string): boolean {
  const value = params[key];
  return value === true || value === 'true' || value === '1' || value === 1;
}

function parseMetadata(params: SlackParams): { metadata?: SlackMetadata; error?: string } {
  const { value, invalid } = structured(params, 'metadata');
  if (invalid) return { error: 'invalid_metadata_format' };
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null) return { error: 'invalid_metadata_format' };
  const { event_type: eventType, event_payload: eventPayload } = value as Record<string, unknown>;
  if (typeof eventType !== 'string' || eventType === '' || typeof eventPayload !== 'object' || eventPayload === null || Array.isArray(eventPayload)) {
    return { error: 'invalid_metadata_schema' };
  }
  return { metadata: { event_type: eventType, event_payload: eventPayload as Record<string, unknown> } };
}

function parseBlocks(params: SlackParams): { blocks?: unknown[]; error?: string } {
  const { value, invalid } = structured(params, 'blocks');
  if (invalid || (value !== undefined && !Array.isArray(value))) return { error: 'invalid_blocks_format' };
  return value === undefined ? {} : { blocks: value as unknown[] };
}

/** What Slack shows of a message; metadata only when the caller asked for it. */
function render(message: SlackSandboxMessage, withMetadata: boolean): Record<string, unknown> {
  const { metadata, channel: _channel, ...rest } = message;
  return withMetadata && metadata ? { ...rest, metadata } : rest;
}

function page(messages: SlackSandboxMessage[], params: SlackParams): { slice: SlackSandboxMessage[]; next: string } {
  const limit = Math.min(Math.max(Number(text(params, 'limit') ?? 100) || 100, 1), 1000);
  const offset = Number(text(params, 'cursor') ?? 0) || 0;
  const slice = messages.slice(offset, offset + limit);
  return { slice, next: offset + limit < messages.length ? String(offset + limit) : '' };
}

function inWindow(message: SlackSandboxMessage, params: SlackParams): boolean {
  const oldest = text(params, 'oldest');
  const latest = text(params, 'latest');
  const ts = Number(message.ts);
  return (oldest === undefined || ts >= Number(oldest)) && (latest === undefined || ts <= Number(latest));
}

const postMessage: Method = ({ store, params }) => {
  const channelArg = text(params, 'channel');
  if (!channelArg) return fail('channel_not_found');
  const channel = store.resolveChannel(channelArg);
  if (!channel) return fail('channel_not_found');
  const { blocks, error: blocksError } = parseBlocks(params);
  if (blocksError) return fail(blocksError);
  const { metadata, error: metadataError } = parseMetadata(params);
  if (metadataError) return fail(metadataError);
  const body = text(params, 'text') ?? '';
  if (body === '' && !blocks?.length) return fail('no_text');
  const threadTs = text(params, 'thread_ts');
  if (threadTs && !store.find(channel.id, threadTs)) return fail('thread_not_found');
  const message = store.post({
    type: 'message',
    channel: channel.id,
    ts: store.nextTs(),
    ...(threadTs ? { thread_ts: threadTs } : {}),
    text: body,
    ...(blocks ? { blocks } : {}),
    ...(metadata ? { metadata } : {}),
    user: SANDBOX_BOT_USER,
    bot_id: SANDBOX_BOT_ID,
  });
  return { ok: true, channel: channel.id, ts: message.ts, message: render(message, true) };
};

const update: Method = ({ store, params }) => {
  const channel = store.resolveChannel(text(params, 'channel') ?? '');
  if (!channel) return fail('channel_not_found');
  const message = store.find(channel.id, text(params, 'ts') ?? '');
  if (!message) return fail('message_not_found');
  if (message.bot_id !== SANDBOX_BOT_ID) return fail('cant_update_message');
  const { blocks, error } = parseBlocks(params);
  if (error) return fail(error);
  const body = text(params, 'text');
  if (body !== undefined) message.text = body;
  if (blocks) message.blocks = blocks;
  message.edited = { user: SANDBOX_BOT_USER, ts: store.nextTs() };
  return { ok: true, channel: channel.id, ts: message.ts, text: message.text, message: render(message, false) };
};

const postEphemeral: Method = ({ store, params }) => {
  const channel = store.resolveChannel(text(params, 'channel') ?? '');
  if (!channel) return fail('channel_not_found');
  const user = text(params, 'user') ?? '';
  if (!store.user(user)) return fail('user_not_found');
  const { blocks, error } = parseBlocks(params);
  if (error) return fail(error);
  const body = text(params, 'text') ?? '';
  if (body === '' && !blocks?.length) return fail('no_text');
  const messageTs = store.nextTs();
  const threadTs = text(params, 'thread_ts');
  store.postEphemeral({ channel: channel.id, user, message_ts: messageTs, ...(threadTs ? { thread_ts: threadTs } : {}), text: body, ...(blocks ? { blocks } : {}) });
  return { ok: true, message_ts: messageTs };
};

const conversationsOpen: Method = ({ store, params }) => {
  const users = (text(params, 'users') ?? '').split(',').map((u) => u.trim()).filter(Boolean);
  if (users.length === 0) return fail('users_list_not_supplied');
  // Only one-to-one conversations are needed here; multi-person DMs are out of scope.
  if (users.length > 1) return fail('not_implemented');
  const [userId] = users as [string];
  if (!store.user(userId)) return fail('user_not_found');
  const dm = store.openDm(userId);
  return { ok: true, channel: { id: dm.id, is_im: true, user: userId } };
};

const history: Method = ({ store, params }) => {
  const channel = store.resolveChannel(text(params, 'channel') ?? '');
  // Slack wants the id here, not a #name.
  if (!channel || channel.id !== text(params, 'channel')) return fail('channel_not_found');
  const { slice, next } = page(store.history(channel.id).filter((m) => inWindow(m, params)), params);
  const withMetadata = flag(params, 'include_all_metadata');
  return {
    ok: true,
    messages: slice.map((m) => render(m, withMetadata)),
    has_more: next !== '',
    response_metadata: { next_cursor: next },
  };
};

const replies: Method = ({ store, params }) => {
  const channel = store.resolveChannel(text(params, 'channel') ?? '');
  if (!channel || channel.id !== text(params, 'channel')) return fail('channel_not_found');
  const ts = text(params, 'ts') ?? '';
  if (!store.find(channel.id, ts)) return fail('thread_not_found');
  const { slice, next } = page(store.replies(channel.id, ts).filter((m) => inWindow(m, params)), params);
  const withMetadata = flag(params, 'include_all_metadata');
  return { ok: true, messages: slice.map((m) => render(m, withMetadata)), has_more: next !== '', response_metadata: { next_cursor: next } };
};

const usergroupUsers: Method = ({ store, params }) => {
  const users = store.usergroup(text(params, 'usergroup') ?? '');
  return users ? { ok: true, users } : fail('no_such_subteam');
};

const usersInfo: Method = ({ store, params }) => {
  const user = store.user(text(params, 'user') ?? '');
  if (!user) return fail('user_not_found');
  return {
    ok: true,
    user: {
      id: user.id,
      team_id: SANDBOX_TEAM_ID,
      name: user.name,
      real_name: user.real_name,
      is_bot: user.is_bot ?? false,
      profile: { real_name: user.real_name, display_name: user.name },
    },
  };
};

const authTest: Method = () => ({
  ok: true,
  url: 'https://parley-sandbox.slack.com/',
  team: 'Parley Sandbox',
  user: 'parley',
  team_id: SANDBOX_TEAM_ID,
  user_id: SANDBOX_BOT_USER,
  bot_id: SANDBOX_BOT_ID,
  is_enterprise_install: false,
});

const connectionsOpen: Method = async ({ socketModeUrl }) => {
  const url = await socketModeUrl();
  // A workspace without Socket Mode enabled; the stand-in was started without a URL for it.
  return url ? { ok: true, url } : fail('socket_mode_not_enabled');
};

/** The methods the stand-in speaks, and the token type each one takes. */
export const SLACK_METHODS: Record<string, { token: TokenKind | 'any'; run: Method }> = {
  'auth.test': { token: 'any', run: authTest },
  'chat.postMessage': { token: 'bot', run: postMessage },
  'chat.update': { token: 'bot', run: update },
  'chat.postEphemeral': { token: 'bot', run: postEphemeral },
  'conversations.open': { token: 'bot', run: conversationsOpen },
  'conversations.history': { token: 'bot', run: history },
  'conversations.replies': { token: 'bot', run: replies },
  'usergroups.users.list': { token: 'bot', run: usergroupUsers },
  'users.info': { token: 'bot', run: usersInfo },
  'apps.connections.open': { token: 'app', run: connectionsOpen },
};
