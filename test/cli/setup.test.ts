import fs from 'node:fs';
import path from 'node:path';
import { startClickUpSandbox, startGoogleSandbox, type ClickUpSandbox, type GoogleSandbox } from '@parley/sandbox';
import { parley, startParley, startWorld, type CliWorld } from './cli-harness';

const TOPIC = 'projects/parley-test/topics/gmail-push';

describe('parley setup (sandbox Google and ClickUp)', () => {
  let world: CliWorld;
  let google: GoogleSandbox;
  let clickup: ClickUpSandbox;
  beforeAll(async () => {
    world = await startWorld('cli-setup');
    google = await startGoogleSandbox();
    clickup = await startClickUpSandbox({ token: 'pk_81_SETUPTOKEN', webhookSecret: 'unused-here' });
  });
  afterAll(async () => {
    await clickup?.close();
    await google?.close();
    await world?.close();
  });

  describe('gmail-watch', () => {
    it('calls users.watch with the worker’s client, records the expiration where the renewal reads it, and prints it', async () => {
      const r = await parley(['setup', 'gmail-watch'], { ...world.env, ...google.env(), GMAIL_PUBSUB_TOPIC: TOPIC });
      expect(r.code).toBe(0);
      const watch = google.watch();
      expect(watch).toMatchObject({ topicName: TOPIC, labelIds: ['INBOX'], labelFilterBehavior: 'INCLUDE' });
      const expiration = new Date(watch?.expiration ?? 0).toISOString();
      expect(r.stdout).toContain(`Expires ${expiration}`);
      expect(r.stdout).toContain(`Gmail watch registered on ${TOPIC}`);
      const state = await world.db.mailboxSync.findUniqueOrThrow({ where: { mailbox: google.mailbox } });
      expect(state.watchExpiration?.toISOString()).toBe(expiration);
      expect(state.historyCursor).toMatch(/^\d+$/);
      expect(google.requests().filter((q) => q.path.endsWith('/watch'))).toHaveLength(1);
    });

    it('names the missing credential and calls nothing', async () => {
      const before = google.requests().length;
      const { GOOGLE_REFRESH_TOKEN: _omitted, ...withoutToken } = google.env();
      const r = await parley(['setup', 'gmail-watch'], { ...world.env, ...withoutToken, GMAIL_PUBSUB_TOPIC: TOPIC });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/GOOGLE_REFRESH_TOKEN: required/);
      expect(google.requests()).toHaveLength(before);
    });

    it('reports Gmail’s refusal (a revoked token) with exit code 1', async () => {
      const r = await parley(['setup', 'gmail-watch'], { ...world.env, ...google.env(), GOOGLE_REFRESH_TOKEN: '1//not-a-token-we-issued', GMAIL_PUBSUB_TOPIC: TOPIC });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/Gmail refused the watch: .*invalid_grant/);
      expect(r.stderr + r.stdout).not.toContain('not-a-token-we-issued');
    });
  });

  describe('clickup-webhook', () => {
    const env = () => ({ ...world.env, CLICKUP_API_URL: clickup.apiUrl, CLICKUP_API_TOKEN: 'pk_81_SETUPTOKEN', CLICKUP_TEAM_ID: clickup.teamId });

    it('registers the webhook and writes its secret into the env file, replacing the old one and keeping every other line; the secret is never printed', async () => {
      const envFile = path.join(world.dir, 'prod.env');
      fs.writeFileSync(envFile, '# Parley\nREDIS_URL=redis://redis:6379\nCLICKUP_WEBHOOK_SECRET=old-secret\nexport CLICKUP_WEBHOOK_SECRET="older"\nPORT=3000\n', { mode: 0o640 });
      const endpoint = 'https://parley.example.com/webhooks/clickup';
      const r = await parley(['setup', 'clickup-webhook', '--endpoint', endpoint, '--env-file', envFile], env());
      expect(r.code).toBe(0);
      const [hook] = clickup.registeredWebhooks();
      expect(hook).toMatchObject({ endpoint, teamId: clickup.teamId, events: ['taskCreated', 'taskUpdated', 'taskStatusUpdated'] });
      expect(r.stdout).toContain(`ClickUp webhook ${hook?.id} registered for ${endpoint}`);
      expect(r.stdout).toContain(`CLICKUP_WEBHOOK_SECRET replaced in ${envFile}`);
      expect(fs.readFileSync(envFile, 'utf8')).toBe(`# Parley\nREDIS_URL=redis://redis:6379\nCLICKUP_WEBHOOK_SECRET=${hook?.secret}\nPORT=3000\n`);
      expect(fs.statSync(envFile).mode & 0o777).toBe(0o640);
      expect(r.stdout + r.stderr).not.toContain(hook?.secret ?? '?');
    });

    it('creates a missing env file readable by its owner only; --team wins over CLICKUP_TEAM_ID', async () => {
      const envFile = path.join(world.dir, 'fresh.env');
      const r = await parley(['setup', 'clickup-webhook', '--endpoint', 'http://127.0.0.1:3000/webhooks/clickup', '--env-file', envFile, '--team', clickup.teamId], { ...env(), CLICKUP_TEAM_ID: '1' });
      expect(r.code).toBe(0);
      expect(r.stderr).toMatch(/warning: the endpoint is plain http/);
      const hook = clickup.registeredWebhooks().at(-1);
      expect(fs.readFileSync(envFile, 'utf8')).toBe(`CLICKUP_WEBHOOK_SECRET=${hook?.secret}\n`);
      expect(fs.statSync(envFile).mode & 0o777).toBe(0o600);
    });

    it('a refused token or workspace registers nothing and leaves the env file alone', async () => {
      const envFile = path.join(world.dir, 'untouched.env');
      fs.writeFileSync(envFile, 'CLICKUP_WEBHOOK_SECRET=keep-me\n');
      const count = clickup.registeredWebhooks().length;
      const badToken = await parley(['setup', 'clickup-webhook', '--endpoint', 'https://p.example/webhooks/clickup', '--env-file', envFile], { ...env(), CLICKUP_API_TOKEN: 'pk_wrong' });
      expect(badToken.code).toBe(1);
      expect(badToken.stderr).toMatch(/ClickUp refused the webhook: Token invalid \(OAUTH_025\); check CLICKUP_API_TOKEN/);
      const badTeam = await parley(['setup', 'clickup-webhook', '--endpoint', 'https://p.example/webhooks/clickup', '--env-file', envFile, '--team', '42'], env());
      expect(badTeam.code).toBe(1);
      expect(badTeam.stderr).toMatch(/Team not authorized/);
      const noTeam = await parley(['setup', 'clickup-webhook', '--endpoint', 'https://p.example/webhooks/clickup', '--env-file', envFile], { ...env(), CLICKUP_TEAM_ID: '' });
      expect(noTeam.code).toBe(2);
      expect(noTeam.stderr).toMatch(/--team: required/);
      expect(clickup.registeredWebhooks()).toHaveLength(count);
      expect(fs.readFileSync(envFile, 'utf8')).toBe('CLICKUP_WEBHOOK_SECRET=keep-me\n');
    });
  });

  describe('google-token', () => {
    const env = () => ({ ...world.env, GOOGLE_CLIENT_ID: google.credentials.clientId, GOOGLE_CLIENT_SECRET: google.credentials.clientSecret, GOOGLE_TOKEN_URL: google.tokenUrl, GOOGLE_AUTH_URL: `${google.url}o/oauth2/v2/auth` });

    /** The consent URL the command printed. */
    async function consentUrl(cli: ReturnType<typeof startParley>): Promise<URL> {
      const line = await cli.waitForLine(/^\s+http:\/\/127\.0\.0\.1:\d+\/o\/oauth2\/v2\/auth\?/);
      return new URL(line.trim());
    }

    it('prints the consent URL, takes the browser’s redirect, exchanges the code (PKCE) and prints a refresh token that works, once', async () => {
      const cli = startParley(['setup', 'google-token'], env());
      const url = await consentUrl(cli);
      expect(url.searchParams.get('access_type')).toBe('offline');
      expect(url.searchParams.get('scope')?.split(' ')).toEqual(['https://www.googleapis.com/auth/gmail.modify', 'https://www.googleapis.com/auth/spreadsheets.readonly']);
      expect(url.searchParams.get('code_challenge_method')).toBe('S256');
      expect(url.searchParams.get('redirect_uri')).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/oauth2callback$/);

      // The browser: the consent screen redirects, and the browser follows to the loopback address.
      const consent = await fetch(url, { redirect: 'manual' });
      expect(consent.status).toBe(302);
      const callback = consent.headers.get('location') ?? '';
      expect(callback.startsWith(url.searchParams.get('redirect_uri') ?? '?')).toBe(true);
      const page = await fetch(callback);
      expect(page.status).toBe(200);
      expect(await page.text()).toMatch(/Parley is authorized/);

      const result = await cli.result;
      expect(result.code).toBe(0);
      const token = /^GOOGLE_REFRESH_TOKEN=(\S+)$/m.exec(result.stdout)?.[1] ?? '';
      expect(token).toMatch(/^1\/\/sandbox-/);
      expect((result.stdout + result.stderr).split(token)).toHaveLength(2);
      // The token is the real thing: the token endpoint refreshes with it.
      const refreshed = await fetch(google.tokenUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: token, client_id: google.credentials.clientId, client_secret: google.credentials.clientSecret }),
      });
      expect(refreshed.status).toBe(200);
      // The loopback server is gone once the token is printed: a replayed redirect reaches nothing.
      await expect(fetch(callback)).rejects.toThrow();
    });

    it('ignores a redirect with another state, and fails (exit 1) when consent is refused', async () => {
      const cli = startParley(['setup', 'google-token'], env());
      const url = await consentUrl(cli);
      const redirect = new URL(url.searchParams.get('redirect_uri') ?? '');
      redirect.searchParams.set('code', 'forged');
      redirect.searchParams.set('state', 'not-the-state');
      const forged = await fetch(redirect);
      expect(forged.status).toBe(400);
      const denied = new URL(url.searchParams.get('redirect_uri') ?? '');
      denied.searchParams.set('error', 'access_denied');
      denied.searchParams.set('state', url.searchParams.get('state') ?? '');
      const page = await fetch(denied);
      expect(page.status).toBe(400);
      const result = await cli.result;
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/consent not given: Google answered access_denied/);
      expect(result.stdout).not.toMatch(/GOOGLE_REFRESH_TOKEN=/);
    });

    it('times out with a clear message, and needs the OAuth client', async () => {
      const waited = await parley(['setup', 'google-token', '--timeout', '1'], env());
      expect(waited.code).toBe(1);
      expect(waited.stderr).toMatch(/no answer from the browser within 1 s/);
      const missing = await parley(['setup', 'google-token'], { ...world.env, GOOGLE_CLIENT_ID: google.credentials.clientId });
      expect(missing.code).toBe(1);
      expect(missing.stderr).toMatch(/GOOGLE_CLIENT_SECRET: required for the Google consent flow/);
    });
  });
});
