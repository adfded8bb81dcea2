import { randomBytes, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { OAuth2Client } from 'google-auth-library';
import { z } from 'zod';
import { ConfigError, requireVars } from '@parley/config';
import { optionValues, type Command } from '../command';
import type { Context } from '../context';
import { CommandError, EXIT } from '../errors';

/** What Parley does with Google: read and send mail, mark it read (modify), and read the roster sheets. */
export const GOOGLE_SCOPES = ['https://www.googleapis.com/auth/gmail.modify', 'https://www.googleapis.com/auth/spreadsheets.readonly'];
const DEFAULT_AUTH_URL = 'https://accounts.google.com/o/oauth2/v2/auth';
const CALLBACK_PATH = '/oauth2callback';

const options = z.object({
  port: z.coerce.number({ message: 'must be a number' }).int().min(0).max(65535, { message: 'must be a TCP port (0-65535)' }).default(0),
  timeout: z.coerce.number({ message: 'must be a number of seconds' }).int().min(1).max(3600).default(300),
});
const authUrlSchema = z.string().url().default(DEFAULT_AUTH_URL);

type Callback = { code: string } | { error: string };

function page(title: string, text: string): string {
  const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  return `<!doctype html><meta charset="utf-8"><title>${esc(title)}</title><body style="font-family:sans-serif;max-width:40em;margin:3em auto"><h1>${esc(title)}</h1><p>${esc(text)}</p></body>`;
}

function sameState(a: string | null, b: string): boolean {
  if (a === null) return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * A loopback server that waits for Google's redirect after consent. Only a redirect carrying
 * our `state` counts (anything else gets 400 and the wait goes on); it answers the browser
 * once the code has been exchanged, so the page says whether it worked.
 */
async function startCallbackServer(port: number): Promise<{
  redirectUri: string;
  next: (state: string, timeoutMs: number) => Promise<{ callback: Callback; reply: (ok: boolean, text: string) => void }>;
  close: () => Promise<void>;
}> {
  type Waiting = { state: string; resolve: (v: { callback: Callback; reply: (ok: boolean, text: string) => void }) => void };
  let waiting: Waiting | undefined;
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (req.method !== 'GET' || url.pathname !== CALLBACK_PATH) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
      return;
    }
    if (!waiting || !sameState(url.searchParams.get('state'), waiting.state)) {
      res.writeHead(400, { 'Content-Type': 'text/html; charset=utf-8' }).end(page('Not this request', 'This redirect does not belong to the running parley setup google-token; start again from the URL it printed.'));
      return;
    }
    const code = url.searchParams.get('code');
    const error = url.searchParams.get('error');
    const callback: Callback = code ? { code } : { error: error ?? 'no code in the redirect' };
    const reply = (ok: boolean, text: string) =>
      res.writeHead(ok ? 200 : 400, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' }).end(page(ok ? 'Parley is authorized' : 'Parley was not authorized', text));
    const current = waiting;
    waiting = undefined;
    current.resolve({ callback, reply });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const actual = (server.address() as AddressInfo).port;
  return {
    redirectUri: `http://127.0.0.1:${actual}${CALLBACK_PATH}`,
    next: (state, timeoutMs) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiting = undefined;
          reject(new CommandError(`no answer from the browser within ${Math.round(timeoutMs / 1000)} s; run the command again (--timeout gives more time)`));
        }, timeoutMs);
        waiting = {
          state,
          resolve: (v) => {
            clearTimeout(timer);
            resolve(v);
          },
        };
      }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export const setupGoogleToken: Command = {
  path: ['setup', 'google-token'],
  usage: 'parley setup google-token [--port N] [--timeout SECONDS]',
  summary: 'run Google’s consent flow and print a refresh token',
  help: [
    'Prints a Google consent URL for the scopes Parley needs (Gmail modify, Sheets read-only), waits on a',
    'loopback address for Google’s redirect, exchanges the code (with PKCE) at the token endpoint and',
    'prints the refresh token once, as GOOGLE_REFRESH_TOKEN=…: put it in the environment or secret store.',
    '',
    'Open the URL in a browser signed in as the Gmail account Parley sends from. The OAuth client must be',
    'of the Desktop app type (loopback redirects). On a server, forward the port first:',
    '  ssh -L 8085:127.0.0.1:8085 <server>    then    parley setup google-token --port 8085',
    '',
    '  --port N            the loopback port to listen on (default: any free port)',
    '  --timeout SECONDS   how long to wait for the browser (default 300)',
    '',
    'Needs GOOGLE_CLIENT_ID and GOOGLE_CLIENT_SECRET (or GOOGLE_TOKEN_JSON with them); GOOGLE_TOKEN_URL and',
    `GOOGLE_AUTH_URL (default ${DEFAULT_AUTH_URL}) point elsewhere for a test.`,
  ].join('\n'),
  options: { port: { type: 'string' }, timeout: { type: 'string' } },
  positionals: [],
  async run(ctx, { values }) {
    const opts = optionValues(this, options, values);
    const authUrl = authUrlSchema.safeParse(ctx.env.GOOGLE_AUTH_URL?.trim() || undefined);
    if (!authUrl.success) throw new ConfigError([`GOOGLE_AUTH_URL: must be a URL (the OAuth consent endpoint, default ${DEFAULT_AUTH_URL})`]);
    const config = ctx.settings();
    const { CodeChallengeMethod, OAuth2Client } = await import('google-auth-library');
    const client = oauthClient(OAuth2Client, config, authUrl.data);
    let server: Awaited<ReturnType<typeof startCallbackServer>>;
    try {
      server = await startCallbackServer(opts.port);
    } catch (error) {
      throw new CommandError(`cannot listen on 127.0.0.1:${opts.port}: ${(error as Error).message}`);
    }
    try {
      const state = randomBytes(24).toString('base64url');
      const { codeVerifier, codeChallenge } = await client.generateCodeVerifierAsync();
      const consentUrl = client.generateAuthUrl({
        access_type: 'offline',
        // Google sends a refresh token only on a consent screen the user went through.
        prompt: 'consent',
        scope: GOOGLE_SCOPES,
        state,
        redirect_uri: server.redirectUri,
        code_challenge: codeChallenge,
        code_challenge_method: CodeChallengeMethod.S256,
      });
      ctx.out.note('Open this URL in a browser signed in as the Gmail account Parley sends from, and allow access:');
      ctx.out.note('');
      ctx.out.note(`  ${consentUrl}`);
      ctx.out.note('');
      ctx.out.note(`Waiting for the redirect to ${server.redirectUri} (up to ${opts.timeout} s)...`);
      const { callback, reply } = await server.next(state, opts.timeout * 1000);
      if ('error' in callback) {
        reply(false, `Google answered: ${callback.error}. Nothing was stored.`);
        throw new CommandError(`consent not given: Google answered ${callback.error}`);
      }
      let refreshToken: string | null | undefined;
      try {
        const { tokens } = await client.getToken({ code: callback.code, codeVerifier, redirect_uri: server.redirectUri });
        refreshToken = tokens.refresh_token;
      } catch (error) {
        reply(false, 'The code could not be exchanged for a token; see the terminal.');
        throw new CommandError(`the token endpoint refused the code: ${(error as Error).message}`);
      }
      if (!refreshToken) {
        reply(false, 'Google gave no refresh token; see the terminal.');
        throw new CommandError('Google returned no refresh token; remove Parley’s access at https://myaccount.google.com/permissions and run this again');
      }
      reply(true, 'Parley has its refresh token. You can close this tab and return to the terminal.');
      ctx.out.note('Refresh token (shown once; keep it secret):');
      ctx.out.line(`GOOGLE_REFRESH_TOKEN=${refreshToken}`);
      return EXIT.ok;
    } finally {
      await server.close();
    }
  },
};

function oauthClient(Client: typeof OAuth2Client, config: ReturnType<Context['settings']>, authBaseUrl: string): OAuth2Client {
  let json: { client_id?: unknown; client_secret?: unknown } = {};
  if (config.GOOGLE_TOKEN_JSON) {
    try {
      json = JSON.parse(config.GOOGLE_TOKEN_JSON) as typeof json;
    } catch {
      throw new CommandError('GOOGLE_TOKEN_JSON is not valid JSON');
    }
  }
  const merged = {
    ...config,
    GOOGLE_CLIENT_ID: config.GOOGLE_CLIENT_ID ?? (typeof json.client_id === 'string' ? json.client_id : undefined),
    GOOGLE_CLIENT_SECRET: config.GOOGLE_CLIENT_SECRET ?? (typeof json.client_secret === 'string' ? json.client_secret : undefined),
  };
  const { GOOGLE_CLIENT_ID, GOOGLE_CLIENT_SECRET } = requireVars(merged, 'the Google consent flow (the OAuth client of type Desktop app)', ['GOOGLE_CLIENT_ID', 'GOOGLE_CLIENT_SECRET']);
  return new Client({
    clientId: GOOGLE_CLIENT_ID,
    clientSecret: GOOGLE_CLIENT_SECRET,
    endpoints: { oauth2AuthBaseUrl: authBaseUrl, oauth2TokenUrl: config.GOOGLE_TOKEN_URL },
    transporterOptions: { fetchImplementation: fetch },
  });
}
