import { createHash, randomBytes } from 'node:crypto';
import type { Reply } from './google-errors';

export interface SandboxCredentials {
  clientId: string;
  clientSecret: string;
  refreshToken: string;
}

const SCOPE = 'https://www.googleapis.com/auth/gmail.modify https://www.googleapis.com/auth/spreadsheets.readonly';
const TOKEN_TTL_S = 3599;
/** Google's authorization codes are short-lived and single-use. */
const CODE_TTL_MS = 10 * 60_000;

/** The path of the consent screen (Google's `https://accounts.google.com/o/oauth2/v2/auth`). */
export const OAUTH_CONSENT_PATH = '/o/oauth2/v2/auth';

interface PendingCode {
  clientId: string;
  redirectUri: string;
  scope: string;
  offline: boolean;
  challenge?: { value: string; method: 'S256' | 'plain' };
  expiresAt: number;
}

/** A desktop-app client may redirect only to a loopback address (any port), as with Google. */
function isLoopbackRedirect(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
  } catch {
    return false;
  }
}

function oauthError(status: number, error: string, description: string): Reply {
  return { status, body: { error, error_description: description } };
}

/**
 * The OAuth side: one client, its refresh token(s), the short-lived access tokens issued from
 * them, and the authorization-code flow of an installed app (consent, then code exchange).
 */
export class OAuthStore {
  private readonly accessTokens = new Map<string, number>();
  private readonly refreshTokens = new Set<string>();
  private readonly codes = new Map<string, PendingCode>();
  tokensIssued = 0;

  constructor(readonly credentials: SandboxCredentials) {
    this.refreshTokens.add(credentials.refreshToken);
  }

  /**
   * GET /o/oauth2/v2/auth: the consent screen, already agreed to. Redirects to `redirect_uri`
   * with a single-use `code` and the caller's `state`, as Google does once the user allows
   * access. A wrong client or a redirect URI that is not loopback gets Google's error page
   * (no redirect, as Google never redirects to an unregistered URI).
   */
  consent(method: string, query: URLSearchParams): Reply {
    if (method !== 'GET') return oauthError(405, 'invalid_request', 'The consent screen is a GET.');
    if (query.get('client_id') !== this.credentials.clientId) return oauthError(401, 'invalid_client', 'The OAuth client was not found.');
    const redirectUri = query.get('redirect_uri') ?? '';
    if (!isLoopbackRedirect(redirectUri)) return oauthError(400, 'redirect_uri_mismatch', 'The redirect URI must be a loopback address for a desktop client.');
    if (query.get('response_type') !== 'code') return oauthError(400, 'unsupported_response_type', 'response_type must be code.');
    const scope = (query.get('scope') ?? '').trim();
    if (scope === '') return oauthError(400, 'invalid_request', 'Missing required parameter: scope');
    const challengeValue = query.get('code_challenge');
    const challengeMethod = query.get('code_challenge_method') ?? 'plain';
    if (challengeValue !== null && challengeMethod !== 'S256' && challengeMethod !== 'plain') {
      return oauthError(400, 'invalid_request', 'code_challenge_method must be S256 or plain.');
    }
    const code = `4/sandbox-${randomBytes(24).toString('base64url')}`;
    this.codes.set(code, {
      clientId: this.credentials.clientId,
      redirectUri,
      scope,
      // Google hands out a refresh token only to an offline request.
      offline: query.get('access_type') === 'offline',
      ...(challengeValue !== null ? { challenge: { value: challengeValue, method: challengeMethod === 'S256' ? 'S256' : 'plain' } } : {}),
      expiresAt: Date.now() + CODE_TTL_MS,
    });
    const target = new URL(redirectUri);
    target.searchParams.set('code', code);
    target.searchParams.set('scope', scope);
    const state = query.get('state');
    if (state !== null) target.searchParams.set('state', state);
    return { status: 302, headers: { Location: target.toString() } };
  }

  /** POST /token, answered like oauth2.googleapis.com for the refresh and authorization-code grants. */
  refresh(form: URLSearchParams): Reply {
    const grant = form.get('grant_type');
    if (grant !== 'refresh_token' && grant !== 'authorization_code') {
      return oauthError(400, 'unsupported_grant_type', `Invalid grant_type: ${grant ?? ''}`);
    }
    if (form.get('client_id') !== this.credentials.clientId || form.get('client_secret') !== this.credentials.clientSecret) {
      return oauthError(401, 'invalid_client', 'The OAuth client was not found.');
    }
    if (grant === 'authorization_code') return this.exchangeCode(form);
    const refreshToken = form.get('refresh_token');
    if (!refreshToken || !this.refreshTokens.has(refreshToken)) {
      return oauthError(400, 'invalid_grant', 'Token has been expired or revoked.');
    }
    return { status: 200, body: { ...this.issueAccessToken(), scope: SCOPE } };
  }

  private exchangeCode(form: URLSearchParams): Reply {
    const code = form.get('code') ?? '';
    const pending = this.codes.get(code);
    // Single use: a replayed code is refused like an unknown one.
    this.codes.delete(code);
    if (!pending || pending.expiresAt < Date.now()) return oauthError(400, 'invalid_grant', 'Malformed auth code.');
    if (form.get('redirect_uri') !== pending.redirectUri) return oauthError(400, 'redirect_uri_mismatch', 'Bad Request');
    if (pending.challenge) {
      const verifier = form.get('code_verifier') ?? '';
      const expected = pending.challenge.method === 'S256' ? createHash('sha256').update(verifier).digest('base64url') : verifier;
      if (verifier === '' || expected !== pending.challenge.value) return oauthError(400, 'invalid_grant', 'Invalid code verifier.');
    }
    const body: Record<string, unknown> = { ...this.issueAccessToken(), scope: pending.scope };
    if (pending.offline) {
      const refreshToken = `1//sandbox-${randomBytes(24).toString('base64url')}`;
      this.refreshTokens.add(refreshToken);
      body.refresh_token = refreshToken;
    }
    return { status: 200, body };
  }

  private issueAccessToken(): { access_token: string; expires_in: number; token_type: 'Bearer' } {
    const accessToken = `ya29.sandbox-${randomBytes(24).toString('base64url')}`;
    this.accessTokens.set(accessToken, Date.now() + TOKEN_TTL_S * 1000);
    this.tokensIssued += 1;
    return { access_token: accessToken, expires_in: TOKEN_TTL_S, token_type: 'Bearer' };
  }

  isValid(authorization: string | undefined): boolean {
    const match = /^Bearer\s+(\S+)$/i.exec(authorization ?? '');
    const expires = match?.[1] ? this.accessTokens.get(match[1]) : undefined;
    return expires !== undefined && expires > Date.now();
  }

  /** Every issued access token stops working (as if they had expired or been revoked). */
  expireAccessTokens(): void {
    this.accessTokens.clear();
  }

  revokeRefreshToken(token = this.credentials.refreshToken): void {
    this.refreshTokens.delete(token);
    this.accessTokens.clear();
  }
}
