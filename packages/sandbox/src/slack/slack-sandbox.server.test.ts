import { ErrorCode, LogLevel, WebClient, type WebAPIPlatformError, type WebAPIRateLimitedError } from '@slack/web-api';
import { startSlackSandbox, type SlackSandbox } from './slack-sandbox.server';

let sandbox: SlackSandbox;
let client: WebClient;
beforeAll(async () => {
  sandbox = await startSlackSandbox({ socketModeUrl: () => 'ws://127.0.0.1:1/link/?ticket=t' });
  client = new WebClient(sandbox.botToken, { slackApiUrl: sandbox.url, retryConfig: { retries: 0 }, rejectRateLimitedCalls: true, timeout: 5_000, logLevel: LogLevel.ERROR });
});
afterAll(async () => {
  await sandbox.close();
});
beforeEach(() => sandbox.clearFaults());

async function rejection(promise: Promise<unknown>): Promise<Error & { code?: string; data?: { error?: string }; retryAfter?: number }> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the call to fail');
}

describe('Slack sandbox wire protocol (official WebClient)', () => {
  it('posts with metadata and blocks, threads replies, and shows metadata in history only when asked', async () => {
    const metadata = { event_type: 'parley_alert', event_payload: { alert_id: 'a-1' } };
    const blocks = [{ type: 'section', text: { type: 'mrkdwn', text: '*hello*' } }];
    const parent = await client.chat.postMessage({ channel: sandbox.channel, text: 'hello', blocks, metadata });
    expect(parent).toMatchObject({ ok: true, channel: sandbox.channel, ts: expect.stringMatching(/^\d+\.\d{6}$/), message: { text: 'hello', blocks, metadata } });
    const reply = await client.chat.postMessage({ channel: '#parley-alerts', text: 'in thread', thread_ts: parent.ts });
    expect(reply.channel).toBe(sandbox.channel);

    const plain = await client.conversations.history({ channel: sandbox.channel });
    expect(plain.messages?.find((m) => m.ts === parent.ts)?.metadata).toBeUndefined();
    const withMeta = await client.conversations.history({ channel: sandbox.channel, include_all_metadata: true });
    expect(withMeta.messages?.map((m) => m.ts)).toContain(parent.ts);
    // Thread replies live in conversations.replies, as in Slack.
    expect(withMeta.messages?.map((m) => m.ts)).not.toContain(reply.ts);
    expect(withMeta.messages?.find((m) => m.ts === parent.ts)?.metadata).toEqual(metadata);
    const thread = await client.conversations.replies({ channel: sandbox.channel, ts: parent.ts ?? '', include_all_metadata: true });
    expect(thread.messages?.map((m) => m.ts)).toEqual([parent.ts, reply.ts]);
    expect(sandbox.calls('chat.postMessage').at(-1)?.params).toMatchObject({ channel: '#parley-alerts', thread_ts: parent.ts });
    expect(JSON.stringify(sandbox.calls())).not.toContain(sandbox.botToken);
  });

  it('updates a message, opens DMs, answers users.info, user groups and ephemerals', async () => {
    const posted = await client.chat.postMessage({ channel: sandbox.channel, text: 'before' });
    await client.chat.update({ channel: sandbox.channel, ts: posted.ts ?? '', text: 'after', blocks: [] });
    expect(sandbox.messages(sandbox.channel).find((m) => m.ts === posted.ts)).toMatchObject({ text: 'after', edited: expect.any(Object) });

    const dm = await client.conversations.open({ users: 'U0OPERATOR1' });
    expect(dm.channel?.id).toBe(sandbox.dmChannelOf('U0OPERATOR1'));
    await client.chat.postMessage({ channel: dm.channel?.id ?? '', text: 'just for you' });
    expect(sandbox.messages(sandbox.dmChannelOf('U0OPERATOR1')).map((m) => m.text)).toEqual(['just for you']);

    expect((await client.users.info({ user: 'U0OPERATOR2' })).user?.real_name).toBe('Omar Operator');
    expect((await client.usergroups.users.list({ usergroup: 'S0OPERATORS' })).users).toEqual(['U0OPERATOR1', 'U0OPERATOR2']);
    const ephemeral = await client.chat.postEphemeral({ channel: sandbox.channel, user: 'U0OPERATOR1', text: 'only you see this' });
    expect(ephemeral.message_ts).toBeDefined();
    expect(sandbox.ephemerals(sandbox.channel).at(-1)).toMatchObject({ user: 'U0OPERATOR1', text: 'only you see this' });

    expect((await rejection(client.users.info({ user: 'U0NOBODY' }))).data?.error).toBe('user_not_found');
    expect((await rejection(client.chat.update({ channel: sandbox.channel, ts: '1.000001', text: 'x' }))).data?.error).toBe('message_not_found');
  });

  it('fails like Slack: platform errors with HTTP 200, a wrong token, unknown channel, 429 with Retry-After', async () => {
    const unknown = await rejection(client.chat.postMessage({ channel: 'C0NOPE', text: 'x' }));
    expect(unknown.code).toBe(ErrorCode.PlatformError);
    expect((unknown as WebAPIPlatformError).data.error).toBe('channel_not_found');

    const wrong = new WebClient('xoxb-wrong', { slackApiUrl: sandbox.url, retryConfig: { retries: 0 } });
    expect((await rejection(wrong.auth.test())).data?.error).toBe('invalid_auth');

    sandbox.fault({ kind: 'rate_limited', retryAfterSec: 7, method: 'chat.postMessage', times: 2 });
    for (let i = 0; i < 2; i++) {
      const limited = await rejection(client.chat.postMessage({ channel: sandbox.channel, text: 'x' }));
      expect(limited.code).toBe(ErrorCode.RateLimitedError);
      expect((limited as WebAPIRateLimitedError).retryAfter).toBe(7);
    }
    await expect(client.chat.postMessage({ channel: sandbox.channel, text: 'x' })).resolves.toMatchObject({ ok: true });

    sandbox.fault({ kind: 'error', error: 'not_in_channel' });
    expect((await rejection(client.auth.test())).data?.error).toBe('not_in_channel');
  });

  it('stores a post and drops the connection before answering', async () => {
    const before = sandbox.messages().length;
    sandbox.fault({ kind: 'drop_after_accept', method: 'chat.postMessage' });
    const dropped = await rejection(client.chat.postMessage({ channel: sandbox.channel, text: 'lost answer' }));
    expect(dropped.code).toBe(ErrorCode.RequestError);
    expect(sandbox.messages().length).toBe(before + 1);
    expect(sandbox.calls('chat.postMessage').at(-1)).toMatchObject({ status: 0, ok: true });
  });

  it('answers apps.connections.open only for the app token, and over the HTTP control surface', async () => {
    const app = new WebClient(sandbox.appToken, { slackApiUrl: sandbox.url, retryConfig: { retries: 0 } });
    await expect(app.apps.connections.open()).resolves.toMatchObject({ ok: true, url: 'ws://127.0.0.1:1/link/?ticket=t' });
    expect((await rejection(client.apps.connections.open())).data?.error).toBe('not_allowed_token_type');

    const base = sandbox.url.replace(/\/api\/$/, '');
    const armed = await fetch(`${base}/_control/faults`, { method: 'POST', body: JSON.stringify({ kind: 'slow', delayMs: 300, method: 'auth.test' }) });
    expect(armed.status).toBe(200);
    const started = Date.now();
    await client.auth.test();
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    const calls = (await (await fetch(`${base}/_control/calls?method=auth.test`)).json()) as { calls: unknown[] };
    expect(calls.calls.length).toBeGreaterThan(0);
    expect((await fetch(`${base}/_control/faults`, { method: 'POST', body: JSON.stringify({ kind: 'nonsense' }) })).status).toBe(400);
  });
});
