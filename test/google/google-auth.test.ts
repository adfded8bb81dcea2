import { ConfigError } from '@parley/config';
import { createGmailClient, createGoogleAuth } from '@parley/google';
import { PermanentError } from '@parley/queue';
import { startGoogleSandbox, type GoogleSandbox } from '@parley/sandbox/google';
import { failure } from './google.harness';

let sandbox: GoogleSandbox;
beforeAll(async () => {
  sandbox = await startGoogleSandbox();
});
afterAll(async () => {
  await sandbox.close();
});

describe('createGoogleAuth', () => {
  it('names every missing variable in one ConfigError', () => {
    let thrown: unknown;
    try {
      createGoogleAuth({ GOOGLE_CLIENT_ID: 'id' });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    const problems = (thrown as ConfigError).problems.join('\n');
    expect(problems).toMatch(/GOOGLE_CLIENT_SECRET/);
    expect(problems).toMatch(/GOOGLE_REFRESH_TOKEN/);
    expect(problems).toMatch(/GOOGLE_TOKEN_JSON/);
    expect(problems).not.toMatch(/GOOGLE_CLIENT_ID:/);
  });

  it('rejects a GOOGLE_TOKEN_JSON that is not JSON without echoing it', () => {
    expect(() => createGoogleAuth({ GOOGLE_TOKEN_JSON: '{secret-ish' })).toThrow(ConfigError);
    expect(() => createGoogleAuth({ GOOGLE_TOKEN_JSON: '{secret-ish' })).not.toThrow(/secret-ish/);
  });

  it('refreshes through GOOGLE_TOKEN_URL with credentials from GOOGLE_TOKEN_JSON and sends the bearer token', async () => {
    const { clientId, clientSecret, refreshToken } = sandbox.credentials;
    const auth = createGoogleAuth({
      GOOGLE_TOKEN_JSON: JSON.stringify({ type: 'authorized_user', client_id: clientId, client_secret: clientSecret, refresh_token: refreshToken }),
      GOOGLE_TOKEN_URL: sandbox.tokenUrl,
    });
    const issued = Number(sandbox.state().tokensIssued);
    const token = await auth.getAccessToken();
    expect(token.token).toMatch(/^ya29\./);
    expect(Number(sandbox.state().tokensIssued)).toBe(issued + 1);
    const gmail = createGmailClient({ auth, rootUrl: sandbox.url });
    await expect(gmail.listHistory(sandbox.currentHistoryId())).resolves.toMatchObject({ added: [] });
    // The cached token is reused; no second refresh.
    expect(Number(sandbox.state().tokensIssued)).toBe(issued + 1);
  });

  it('refreshes once and retries when the API rejects an access token that has not expired locally', async () => {
    const auth = createGoogleAuth(sandbox.env());
    const gmail = createGmailClient({ auth, rootUrl: sandbox.url });
    await gmail.listHistory(sandbox.currentHistoryId());
    const issued = Number(sandbox.state().tokensIssued);
    sandbox.expireAccessTokens();
    await expect(gmail.listHistory(sandbox.currentHistoryId())).resolves.toMatchObject({ added: [] });
    expect(Number(sandbox.state().tokensIssued)).toBe(issued + 1);
    expect(sandbox.requests().filter((r) => r.status === 401).length).toBeGreaterThanOrEqual(1);
  });

  it('surfaces a revoked refresh token as a permanent invalid_grant', async () => {
    const other = await startGoogleSandbox();
    try {
      other.revokeRefreshToken();
      const gmail = createGmailClient({ auth: createGoogleAuth(other.env()), rootUrl: other.url });
      const error = await failure(gmail.watch('projects/p/topics/t'));
      expect(error).toBeInstanceOf(PermanentError);
      expect(error.message).toMatch(/invalid_grant/);
      expect(error.message).not.toMatch(/1\/\/sandbox/);
    } finally {
      await other.close();
    }
  });
});

describe('sandbox OAuth and auth checks on the wire', () => {
  it('answers the refresh grant like oauth2.googleapis.com', async () => {
    const { clientId, clientSecret, refreshToken } = sandbox.credentials;
    const ok = await fetch(sandbox.tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded;charset=UTF-8' },
      body: new URLSearchParams({ refresh_token: refreshToken, client_id: clientId, client_secret: clientSecret, grant_type: 'refresh_token' }),
    });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ access_token: expect.stringMatching(/^ya29\./), expires_in: 3599, token_type: 'Bearer', scope: expect.any(String) });

    const bad = await fetch(sandbox.tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ refresh_token: 'nope', client_id: clientId, client_secret: clientSecret, grant_type: 'refresh_token' }),
    });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: 'invalid_grant' });
  });

  it('rejects API calls without an issued bearer token with a Google 401 body', async () => {
    for (const headers of [{}, { authorization: 'Bearer ya29.made-up' }] as Record<string, string>[]) {
      const res = await fetch(`${sandbox.url}gmail/v1/users/me/profile`, { headers });
      expect(res.status).toBe(401);
      expect(await res.json()).toMatchObject({ error: { code: 401, status: 'UNAUTHENTICATED', errors: [{ reason: 'authError' }] } });
    }
    const sheets = await fetch(`${sandbox.url}v4/spreadsheets/x/values/A1`);
    expect(sheets.status).toBe(401);
  });
});
