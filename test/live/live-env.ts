import { envSchema } from '@parley/config';
import type { GoogleAuthConfig } from '@parley/google';
import { SANDBOX_API_KEY } from '@parley/sandbox';

/**
 * When a live check runs. A live check talks to the real Anthropic or Google API with real
 * credentials; without them it is skipped with exactly one line saying what is skipped and
 * which variables would enable it. CI has no credentials, so there it is skipped too (unlike
 * the other tests, which fail in CI when a prerequisite is missing): the line keeps it visible.
 *
 * The sandbox is never taken for the live service: a base URL on a loopback address, or the
 * sandbox's own API key, is refused with the same kind of line.
 */

export type LiveTarget<T> = { run: true; config: T } | { run: false; line: string };


/** True for a URL whose host is this machine: localhost, 127.0.0.0/8, ::1, 0.0.0.0 or an IPv4-mapped loopback. */
export function isLoopbackUrl(raw: string): boolean {
  let host: string;
  try {
    host = new URL(raw).hostname.toLowerCase();
  } catch {
    return false;
  }
  host = host.replace(/^\[|\]$/g, '').replace(/\.$/, '');
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (host === '::1' || host === '0:0:0:0:0:0:0:1' || host === '::' || host === '0.0.0.0') return true;
  const v4 = /^(?:::ffff:)?(\d{1,3})\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.exec(host);
  if (v4) return v4[1] === '127';
  // WHATWG URL writes an IPv4-mapped address in hex: [::ffff:7f00:1].
  const mapped = /^::ffff:([0-9a-f]{1,4}):[0-9a-f]{1,4}$/.exec(host);
  return mapped !== null && (parseInt(mapped[1] ?? '0', 16) >> 8) === 127;
}

/** Empty values mean unset, as in the product's own parseEnv. */
function present(env: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined && e[1].trim() !== ''));
}

function skipped(check: string, why: string): { run: false; line: string } {
  return { run: false, line: `[live] ${check}: skipped, ${why}` };
}

/** `url` is one isLoopbackUrl accepted, so it parses; only its origin is shown. */
function refused(check: string, variable: string, url: string): { run: false; line: string } {
  return skipped(check, `refusing ${variable}=${new URL(url).origin}: a loopback address is the sandbox, not the live service`);
}

export interface AnthropicLiveConfig {
  apiKey: string;
  baseURL: string;
  model: string;
  timeoutMs: number;
}

export const ANTHROPIC_CHECK = 'Anthropic reply reading (test/live/anthropic.live.test.ts)';
export const GMAIL_CHECK = 'Gmail watch and history (test/live/gmail.live.test.ts)';

/** The real Anthropic API, when ANTHROPIC_API_KEY is set and neither it nor ANTHROPIC_BASE_URL is the sandbox's. */
export function anthropicLiveTarget(env: NodeJS.ProcessEnv = process.env): LiveTarget<AnthropicLiveConfig> {
  const vars = present(env);
  if (vars.ANTHROPIC_API_KEY === undefined) {
    return skipped(ANTHROPIC_CHECK, 'set ANTHROPIC_API_KEY to run it (optional: ANTHROPIC_MODEL, ANTHROPIC_BASE_URL, ANTHROPIC_TIMEOUT_MS)');
  }
  if (vars.ANTHROPIC_BASE_URL !== undefined && isLoopbackUrl(vars.ANTHROPIC_BASE_URL)) return refused(ANTHROPIC_CHECK, 'ANTHROPIC_BASE_URL', vars.ANTHROPIC_BASE_URL);
  if (vars.ANTHROPIC_API_KEY.trim() === SANDBOX_API_KEY) return skipped(ANTHROPIC_CHECK, "refusing ANTHROPIC_API_KEY: it is the sandbox's key, not a real one");
  // The product's own schema: a malformed value is a clear error, not a silent skip.
  const parsed = envSchema.pick({ ANTHROPIC_API_KEY: true, ANTHROPIC_BASE_URL: true, ANTHROPIC_MODEL: true, ANTHROPIC_TIMEOUT_MS: true }).parse(vars);
  return {
    run: true,
    config: {
      apiKey: parsed.ANTHROPIC_API_KEY ?? vars.ANTHROPIC_API_KEY,
      baseURL: parsed.ANTHROPIC_BASE_URL ?? 'https://api.anthropic.com',
      model: parsed.ANTHROPIC_MODEL,
      timeoutMs: parsed.ANTHROPIC_TIMEOUT_MS,
    },
  };
}

export interface GmailLiveConfig {
  auth: GoogleAuthConfig;
  mailbox: string;
  topic: string;
  rootUrl?: string;
}

const GMAIL_VARS = 'GOOGLE_CLIENT_ID, GOOGLE_CLIENT_SECRET and GOOGLE_REFRESH_TOKEN (or GOOGLE_TOKEN_JSON), GMAIL_MAILBOX and GMAIL_PUBSUB_TOPIC of a test mailbox';

/** The real Gmail API, when a test mailbox's OAuth credentials, address and Pub/Sub topic are all set. */
export function gmailLiveTarget(env: NodeJS.ProcessEnv = process.env): LiveTarget<GmailLiveConfig> {
  const vars = present(env);
  const oauth = vars.GOOGLE_TOKEN_JSON !== undefined || (vars.GOOGLE_CLIENT_ID !== undefined && vars.GOOGLE_CLIENT_SECRET !== undefined && vars.GOOGLE_REFRESH_TOKEN !== undefined);
  if (!oauth || vars.GMAIL_MAILBOX === undefined || vars.GMAIL_PUBSUB_TOPIC === undefined) {
    return skipped(GMAIL_CHECK, `set ${GMAIL_VARS} to run it (optional: GOOGLE_API_ROOT_URL, GOOGLE_TOKEN_URL)`);
  }
  for (const name of ['GOOGLE_API_ROOT_URL', 'GOOGLE_TOKEN_URL'] as const) {
    const value = vars[name];
    if (value !== undefined && isLoopbackUrl(value)) return refused(GMAIL_CHECK, name, value);
  }
  const parsed = envSchema
    .pick({
      GOOGLE_CLIENT_ID: true,
      GOOGLE_CLIENT_SECRET: true,
      GOOGLE_REFRESH_TOKEN: true,
      GOOGLE_TOKEN_JSON: true,
      GOOGLE_API_ROOT_URL: true,
      GOOGLE_TOKEN_URL: true,
      GMAIL_MAILBOX: true,
      GMAIL_PUBSUB_TOPIC: true,
    })
    .parse(vars);
  const auth: GoogleAuthConfig = { GOOGLE_TOKEN_URL: parsed.GOOGLE_TOKEN_URL };
  if (parsed.GOOGLE_CLIENT_ID !== undefined) auth.GOOGLE_CLIENT_ID = parsed.GOOGLE_CLIENT_ID;
  if (parsed.GOOGLE_CLIENT_SECRET !== undefined) auth.GOOGLE_CLIENT_SECRET = parsed.GOOGLE_CLIENT_SECRET;
  if (parsed.GOOGLE_REFRESH_TOKEN !== undefined) auth.GOOGLE_REFRESH_TOKEN = parsed.GOOGLE_REFRESH_TOKEN;
  if (parsed.GOOGLE_TOKEN_JSON !== undefined) auth.GOOGLE_TOKEN_JSON = parsed.GOOGLE_TOKEN_JSON;
  const config: GmailLiveConfig = { auth, mailbox: parsed.GMAIL_MAILBOX ?? vars.GMAIL_MAILBOX, topic: parsed.GMAIL_PUBSUB_TOPIC ?? vars.GMAIL_PUBSUB_TOPIC };
  if (parsed.GOOGLE_API_ROOT_URL !== undefined) config.rootUrl = parsed.GOOGLE_API_ROOT_URL;
  return { run: true, config };
}

/**
 * `describe` for a live check: runs `body` when the target is live; otherwise prints the one
 * skip line (to stderr, outside jest's console framing) and registers the tests as skipped.
 */
export function describeLive<T>(name: string, target: LiveTarget<T>, body: (config: T) => void): void {
  if (target.run) {
    describe(name, () => body(target.config));
    return;
  }
  process.stderr.write(`${target.line}\n`);
  describe.skip(`${name} (skipped)`, () => {
    it('needs live credentials', () => undefined);
  });
}
