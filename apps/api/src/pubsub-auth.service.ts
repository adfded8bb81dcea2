import { createPublicKey } from 'node:crypto';
import { OAuth2Client, type Certificates } from 'google-auth-library';
import type { Logger } from '@parley/logging';
import { emailDomain } from '@parley/logging';
import { unauthorized, unavailable } from './http-error';

export interface PubSubAuthConfig {
  GOOGLE_CERTS_URL: string;
  PUBSUB_AUDIENCE?: string;
  PUBSUB_SERVICE_ACCOUNT?: string;
}

export type PubSubVerifier = (authorization: string | undefined, log: Logger) => Promise<void>;

/** Why a token was refused, from google-auth-library's messages (which embed the token itself). */
function reason(message: string): string {
  if (message.startsWith('Wrong recipient')) return 'wrong audience';
  if (message.startsWith('Token used too late')) return 'expired';
  if (message.startsWith('Token used too early')) return 'not yet valid';
  if (message.startsWith('Invalid token signature')) return 'bad signature';
  if (message.startsWith('No pem found')) return 'unknown signing key';
  if (message.startsWith('Invalid issuer')) return 'wrong issuer';
  if (message.startsWith('Expiration time too far')) return 'lifetime too long';
  return 'malformed token';
}

/**
 * Verifies the OIDC token of an authenticated Pub/Sub push. One OAuth2Client per process:
 * it caches Google's certs for their Cache-Control max-age, so a burst of pushes costs one
 * certs fetch. A certs fetch that fails is our outage, not the sender's fault: 503, so
 * Pub/Sub redelivers once the certs are reachable again.
 */
export function createPubSubVerifier(config: PubSubAuthConfig): PubSubVerifier {
  const client = new OAuth2Client({
    endpoints: { oauth2FederatedSignonPemCertsUrl: config.GOOGLE_CERTS_URL },
    // Node's own fetch: gaxios would otherwise load node-fetch through a dynamic ESM import,
    // which fails in CommonJS sandboxes such as jest's VM (and buys nothing on Node 20+).
    transporterOptions: { fetchImplementation: fetch },
  });
  // The client caches certs but does not coalesce concurrent cold fetches: a burst of pushes
  // after start-up (or after max-age) shares one fetch here; later calls return the cache.
  let certsInFlight: ReturnType<OAuth2Client['getFederatedSignonCertsAsync']> | undefined;
  const certsNow = () => {
    certsInFlight ??= client.getFederatedSignonCertsAsync().finally(() => {
      certsInFlight = undefined;
    });
    return certsInFlight;
  };

  // Google's certs come as PEM text, which google-auth-library hands to crypto.verify on every
  // token: Node parses the certificate again each time (most of a push's verification cost).
  // Each set of certs is parsed once into public keys, kept while the client keeps that set; the
  // library checks the token as it does in verifyIdToken (signature, times, issuer, audience).
  const parsed = new WeakMap<object, Certificates>();
  const publicKeys = (certs: Certificates): Certificates => {
    let keys = parsed.get(certs);
    if (!keys) {
      const entries = Object.entries(certs).map(([kid, cert]) => {
        if (typeof cert !== 'string') return [kid, cert] as const;
        try {
          return [kid, createPublicKey(cert)] as const;
        } catch {
          // Left as text: the library refuses the tokens of that key alone, as before.
          return [kid, cert] as const;
        }
      });
      // A KeyObject where the library's types say PEM text: crypto.verify takes either.
      keys = Object.fromEntries(entries) as unknown as Certificates;
      parsed.set(certs, keys);
    }
    return keys;
  };
  const verify = async (idToken: string, audience: string) => {
    const { certs } = await certsNow();
    return client.verifySignedJwtWithCertsAsync(idToken, publicKeys(certs), audience, client.issuers);
  };

  return async (authorization, log) => {
    const audience = config.PUBSUB_AUDIENCE;
    const serviceAccount = config.PUBSUB_SERVICE_ACCOUNT;
    if (!audience || !serviceAccount) {
      log.error('gmail webhook refused: PUBSUB_AUDIENCE and PUBSUB_SERVICE_ACCOUNT must be set');
      throw unauthorized();
    }
    const match = /^Bearer\s+(\S+)$/i.exec(authorization ?? '');
    if (!match?.[1]) {
      log.warn('gmail webhook refused', { reason: 'missing bearer token' });
      throw unauthorized();
    }
    let payload;
    try {
      const ticket = await verify(match[1], audience);
      payload = ticket.getPayload();
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (message.startsWith('Failed to retrieve verification certificates')) {
        log.error('cannot fetch the OIDC signing certs', { certsHost: safeHost(config.GOOGLE_CERTS_URL) });
        throw unavailable('token verification unavailable');
      }
      log.warn('gmail webhook refused', { reason: reason(message) });
      throw unauthorized();
    }
    if (payload?.email?.toLowerCase() !== serviceAccount.toLowerCase()) {
      log.warn('gmail webhook refused', { reason: 'wrong service account', emailDomain: payload?.email ? emailDomain(payload.email) : 'none' });
      throw unauthorized();
    }
    if (payload.email_verified !== true) {
      log.warn('gmail webhook refused', { reason: 'email not verified' });
      throw unauthorized();
    }
  };
}

function safeHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return 'invalid url';
  }
}
