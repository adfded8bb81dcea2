import { boundedFetch } from '@parley/contracts';
import { ConfigError } from '@parley/config';
import { OAuth2Client } from 'google-auth-library';
import { z } from 'zod';

/** The settings createGoogleAuth reads (a subset of the parsed env). */
export interface GoogleAuthConfig {
  GOOGLE_CLIENT_ID?: string;
  GOOGLE_CLIENT_SECRET?: string;
  GOOGLE_REFRESH_TOKEN?: string;
  /** An authorized-user JSON: {client_id, client_secret, refresh_token[, token_uri]}. */
  GOOGLE_TOKEN_JSON?: string;
  GOOGLE_TOKEN_URL?: string;
  /** How long a token refresh may take (default 30 s): without one, a token endpoint that never answers holds every Google call. */
  GMAIL_TIMEOUT_MS?: number;
}

/** A token answer is a few hundred bytes. */
const TOKEN_MAX_RESPONSE_BYTES = 64 * 1024;

// Both the gcloud "authorized_user" file and the token.json written by Google's quickstarts fit.
const tokenJson = z.object({
  client_id: z.string().min(1).optional(),
  client_secret: z.string().min(1).optional(),
  refresh_token: z.string().min(1).optional(),
  token_uri: z.string().url().optional(),
});

function readTokenJson(value: string | undefined): z.infer<typeof tokenJson> {
  if (value === undefined) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw new ConfigError(['GOOGLE_TOKEN_JSON: is not valid JSON; paste the authorized-user token JSON ({"client_id","client_secret","refresh_token"}) as one line']);
  }
  const result = tokenJson.safeParse(parsed);
  if (!result.success) throw new ConfigError([`GOOGLE_TOKEN_JSON: ${result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`]);
  return result.data;
}

/**
 * An OAuth2 client that refreshes its access token from the refresh token (at GOOGLE_TOKEN_URL).
 * Separate variables win over the fields of GOOGLE_TOKEN_JSON.
 */
export function createGoogleAuth(config: GoogleAuthConfig): OAuth2Client {
  const json = readTokenJson(config.GOOGLE_TOKEN_JSON);
  const clientId = config.GOOGLE_CLIENT_ID ?? json.client_id;
  const clientSecret = config.GOOGLE_CLIENT_SECRET ?? json.client_secret;
  const refreshToken = config.GOOGLE_REFRESH_TOKEN ?? json.refresh_token;
  const missing = [
    clientId === undefined ? 'GOOGLE_CLIENT_ID' : null,
    clientSecret === undefined ? 'GOOGLE_CLIENT_SECRET' : null,
    refreshToken === undefined ? 'GOOGLE_REFRESH_TOKEN' : null,
  ].filter((v): v is string => v !== null);
  if (missing.length > 0) {
    throw new ConfigError(missing.map((v) => `${v}: required for Gmail and Sheets; set it, or set GOOGLE_TOKEN_JSON to an authorized-user token JSON that holds it`));
  }
  const client = new OAuth2Client({
    clientId,
    clientSecret,
    endpoints: { oauth2TokenUrl: config.GOOGLE_TOKEN_URL ?? json.token_uri ?? 'https://oauth2.googleapis.com/token' },
    // A token revoked or expired early answers 401: refresh once and retry rather than fail the job.
    forceRefreshOnFailure: true,
    // boundedFetch rather than gaxios' lazily imported node-fetch (see gmail.client.ts), with a
    // timeout of its own: a refresh given up on is reset like any other request.
    transporterOptions: { fetchImplementation: boundedFetch(TOKEN_MAX_RESPONSE_BYTES), timeout: config.GMAIL_TIMEOUT_MS ?? 30_000 },
  });
  client.setCredentials({ refresh_token: refreshToken });
  return client;
}
