import { PermanentError, RateLimitedError, TransientError } from '@parley/queue';
import { startSlackSandbox, type SlackSandbox } from '@parley/sandbox';
import { callSlack, createSlackClient } from './slack.client';
import { SlackPermanentError } from './slack-errors';

let sandbox: SlackSandbox;
beforeAll(async () => {
  sandbox = await startSlackSandbox();
});
afterAll(async () => {
  await sandbox.close();
});
beforeEach(() => sandbox.clearFaults());

const post = (token = sandbox.botToken, channel = sandbox.channel) => {
  const client = createSlackClient({ token, apiUrl: sandbox.url, timeoutMs: 2_000 });
  return callSlack('chat.postMessage', () => client.chat.postMessage({ channel, text: 'x' }));
};

async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a failure');
}

describe('mapSlackError over the real WebClient', () => {
  it('turns 429 with Retry-After into a wait of exactly that long, in one call (no SDK retries)', async () => {
    sandbox.fault({ kind: 'rate_limited', retryAfterSec: 3, method: 'chat.postMessage' });
    const before = sandbox.calls('chat.postMessage').length;
    const error = await failure(post());
    expect(error).toBeInstanceOf(RateLimitedError);
    expect((error as RateLimitedError).waitMs).toBe(3000);
    expect(sandbox.calls('chat.postMessage').length).toBe(before + 1);
  });

  it('turns a `ratelimited` answer (HTTP 200) into a wait, and a 429 without a usable Retry-After too', async () => {
    sandbox.fault({ kind: 'error', error: 'ratelimited', method: 'chat.postMessage' });
    const limited = await failure(post());
    expect(limited).toBeInstanceOf(RateLimitedError);
    expect((limited as RateLimitedError).waitMs).toBe(30_000);
    // What the WebClient throws for a 429 whose Retry-After it cannot read (WebClient.js makeRequest).
    const noHeader = new Error('Retry header did not contain a valid timeout (url: https://slack.com/api/chat.postMessage, retry-after header: soon)');
    const mapped = await failure(callSlack('chat.postMessage', () => Promise.reject(noHeader)));
    expect(mapped).toBeInstanceOf(RateLimitedError);
    expect((mapped as RateLimitedError).waitMs).toBe(30_000);
  });

  it.each([
    ['invalid_auth', /SLACK_BOT_TOKEN.*xoxb-/],
    ['account_inactive', /reinstall the Slack app/],
    ['token_revoked', /reinstall/],
    ['channel_not_found', /SLACK_ALERT_CHANNEL.*channel id/],
    ['not_in_channel', /\/invite/],
    ['missing_scope', /scope/],
  ])('makes %s permanent with the fix named', async (code, fix) => {
    sandbox.fault({ kind: 'error', error: code });
    const error = await failure(post());
    expect(error).toBeInstanceOf(PermanentError);
    expect(error).toBeInstanceOf(SlackPermanentError);
    expect((error as SlackPermanentError).slackError).toBe(code);
    expect(error.message).toMatch(fix);
  });

  it('names the fix for a wrong token without repeating the token', async () => {
    const error = await failure(post('xoxb-not-the-right-one'));
    expect(error).toBeInstanceOf(PermanentError);
    expect(error.message).toContain('invalid_auth');
    expect(error.message).not.toContain('xoxb-not-the-right-one');
  });

  it('treats internal_error, 5xx, a dropped connection and a timeout as transient', async () => {
    sandbox.fault({ kind: 'error', error: 'internal_error' });
    expect(await failure(post())).toBeInstanceOf(TransientError);
    sandbox.fault({ kind: 'http_error', status: 503 });
    expect(await failure(post())).toBeInstanceOf(TransientError);
    sandbox.fault({ kind: 'drop_after_accept' });
    expect(await failure(post())).toBeInstanceOf(TransientError);
    sandbox.fault({ kind: 'slow', delayMs: 6_000 });
    const started = Date.now();
    const timedOut = await failure(post());
    expect(timedOut).toBeInstanceOf(TransientError);
    // Given up at the client's 2 s timeout, not at Slack's answer 6 s later.
    expect(Date.now() - started).toBeLessThan(5_500);
  });

  it('passes errors already in the taxonomy through, and a plain error becomes transient', async () => {
    const permanent = new PermanentError('x');
    await expect(callSlack('m', () => Promise.reject(permanent))).rejects.toBe(permanent);
    await expect(callSlack('m', () => Promise.reject(new Error('boom')))).rejects.toBeInstanceOf(TransientError);
  });
});
