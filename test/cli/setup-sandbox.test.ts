import { createHash } from 'node:crypto';
import { startClickUpSandbox, startGoogleSandbox, type ClickUpSandbox, type GoogleSandbox } from '@parley/sandbox';

/** The stand-ins the setup commands talk to refuse what the real services refuse. */
describe('sandbox endpoints behind parley setup', () => {
  describe('ClickUp Create Webhook', () => {
    let clickup: ClickUpSandbox;
    beforeAll(async () => {
      clickup = await startClickUpSandbox({ token: 'pk_7_TOKEN', webhookSecret: 'unused' });
    });
    afterAll(() => clickup?.close());
    const create = (team: string, body: unknown, token = 'pk_7_TOKEN') =>
      fetch(`${clickup.apiUrl}/team/${team}/webhook`, { method: 'POST', headers: { Authorization: token, 'Content-Type': 'application/json' }, body: JSON.stringify(body) });

    it('answers { id, webhook: { secret, … } } and keeps the webhook with its secret', async () => {
      const r = await create(clickup.teamId, { endpoint: 'https://p.example/webhooks/clickup', events: ['taskCreated'] });
      expect(r.status).toBe(200);
      const body = (await r.json()) as { id: string; webhook: { id: string; secret: string; endpoint: string; health: unknown } };
      expect(body.webhook).toMatchObject({ id: body.id, endpoint: 'https://p.example/webhooks/clickup', health: { status: 'active', fail_count: 0 } });
      expect(body.webhook.secret).toMatch(/^[A-Z0-9]{64}$/);
      expect(clickup.registeredWebhooks()).toEqual([{ id: body.id, teamId: clickup.teamId, endpoint: 'https://p.example/webhooks/clickup', events: ['taskCreated'], secret: body.webhook.secret }]);
    });

    it('refuses a wrong token, another workspace and a body without endpoint or events, registering nothing', async () => {
      const before = clickup.registeredWebhooks().length;
      expect((await create(clickup.teamId, { endpoint: 'https://p.example/x', events: ['taskCreated'] }, 'Bearer pk_7_TOKEN')).status).toBe(401);
      const team = await create('1', { endpoint: 'https://p.example/x', events: ['taskCreated'] });
      expect(team.status).toBe(401);
      expect(await team.json()).toMatchObject({ ECODE: 'OAUTH_027' });
      expect((await create(clickup.teamId, { endpoint: 'not a url', events: ['taskCreated'] })).status).toBe(400);
      expect((await create(clickup.teamId, { endpoint: 'https://p.example/x', events: [] })).status).toBe(400);
      expect(clickup.registeredWebhooks()).toHaveLength(before);
    });
  });

  describe('Google consent and code exchange', () => {
    let google: GoogleSandbox;
    beforeAll(async () => {
      google = await startGoogleSandbox();
    });
    afterAll(() => google?.close());
    const redirectUri = 'http://127.0.0.1:45678/oauth2callback';
    const verifier = 'a-verifier-of-enough-length-for-pkce-0123456789';

    function consent(params: Record<string, string>) {
      const url = new URL(`${google.url}o/oauth2/v2/auth`);
      const all = { client_id: google.credentials.clientId, redirect_uri: redirectUri, response_type: 'code', scope: 'https://www.googleapis.com/auth/gmail.modify', ...params };
      for (const [k, v] of Object.entries(all)) url.searchParams.set(k, v);
      return fetch(url, { redirect: 'manual' });
    }
    const token = (fields: Record<string, string>) =>
      fetch(google.tokenUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'authorization_code', client_id: google.credentials.clientId, client_secret: google.credentials.clientSecret, redirect_uri: redirectUri, ...fields }),
      });
    async function codeFrom(params: Record<string, string>): Promise<string> {
      const r = await consent(params);
      expect(r.status).toBe(302);
      const location = new URL(r.headers.get('location') ?? '');
      expect(`${location.origin}${location.pathname}`).toBe(redirectUri);
      expect(location.searchParams.get('state')).toBe(params.state ?? null);
      return location.searchParams.get('code') ?? '';
    }

    it('a code is exchanged once, with the PKCE verifier, for a refresh token (offline) that the refresh grant accepts', async () => {
      const challenge = createHash('sha256').update(verifier).digest('base64url');
      const code = await codeFrom({ state: 's1', access_type: 'offline', code_challenge: challenge, code_challenge_method: 'S256' });
      expect((await token({ code, code_verifier: 'wrong-verifier' })).status).toBe(400);
      // A refused exchange spent the code, as Google does.
      expect((await token({ code, code_verifier: verifier })).status).toBe(400);

      const fresh = await codeFrom({ state: 's2', access_type: 'offline', code_challenge: challenge, code_challenge_method: 'S256' });
      const ok = await token({ code: fresh, code_verifier: verifier });
      expect(ok.status).toBe(200);
      const tokens = (await ok.json()) as { access_token: string; refresh_token?: string; token_type: string };
      expect(tokens).toMatchObject({ token_type: 'Bearer', refresh_token: expect.stringMatching(/^1\/\//) });
      expect((await token({ code: fresh, code_verifier: verifier })).status).toBe(400);
      const refreshed = await fetch(google.tokenUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token ?? '', client_id: google.credentials.clientId, client_secret: google.credentials.clientSecret }),
      });
      expect(refreshed.status).toBe(200);
    });

    it('no refresh token without access_type=offline; a different redirect_uri at the exchange is refused', async () => {
      const online = await token({ code: await codeFrom({}) });
      expect(online.status).toBe(200);
      expect(await online.json()).not.toHaveProperty('refresh_token');
      expect((await token({ code: await codeFrom({}), redirect_uri: 'http://127.0.0.1:1/other' })).status).toBe(400);
    });

    it('the consent screen refuses an unknown client and a redirect that is not loopback, without redirecting', async () => {
      const client = await consent({ client_id: 'someone-else' });
      expect(client.status).toBe(401);
      expect(client.headers.get('location')).toBeNull();
      const remote = await consent({ redirect_uri: 'https://evil.example/cb' });
      expect(remote.status).toBe(400);
      expect(await remote.json()).toMatchObject({ error: 'redirect_uri_mismatch' });
    });
  });
});
