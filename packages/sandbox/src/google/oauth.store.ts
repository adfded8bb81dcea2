import { randomBytes } from 'node:crypto';
import type { Reply } from './google-errors';

export interface SandboxCredentials {
  clientId: string;
  clientSecret: string;
  refreshToken: string;
}

const SCOPE = 'https://www.googleapis.com/auth/gmail.modify https://www.googleapis.com/auth/spreadsheets.readonly';
const TOKEN_TTL_S = 3599;

/** The OAuth side: one client, its refresh token(s), and the short-lived access tokens issued from them. */
export class OAuthStore {
  private readonly accessTokens = new Map<string, number>();
  private readonly refreshTokens = new Set<string>();
  tokensIssued = 0;

  constructor(readonly credentials: SandboxCredentials) {
    this.refreshTokens.add(credentials.refreshToken);
  }

  /** POST /token with grant_type=refresh_token, answered like oauth2.googleapis.com. */
  refresh(form: URLSearchParams): Reply {
    const grant = form.get('grant_type');
    if (grant !== 'refresh_token') {
      return { status: 400, body: { error: 'unsupported_grant_type', error_description: `Invalid grant_type: ${grant ?? ''}` } };
    }
    if (form.get('client_id') !== this.credentials.clientId || form.get('client_secret') !== this.credentials.clientSecret) {
      return { status: 401, body: { error: 'invalid_client', error_description: 'The OAuth client was not found.' } };
    }
    const refreshToken = form.get('refresh_token');
    if (!refreshToken || !this.refreshTokens.has(refreshToken)) {
      return { status: 400, body: { error: 'invalid_grant', error_description: 'Token has been expired or revoked.' } };
    }
    const accessToken = `ya29.sandbox-${randomBytes(24).toString('base64url')}`;
    this.accessTokens.set(accessToken, Date.now() + TOKEN_TTL_S * 1000);
    this.tokensIssued += 1;
    return { status: 200, body: { access_token: accessToken, expires_in: TOKEN_TTL_S, token_type: 'Bearer', scope: SCOPE } };
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
