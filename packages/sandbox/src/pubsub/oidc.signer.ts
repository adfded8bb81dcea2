import { createHash, createSign, generateKeyPairSync, randomBytes } from 'node:crypto';

/** Claims of the OIDC token Pub/Sub attaches to an authenticated push (WIRE-CONTRACTS section 3). */
export interface OidcClaims {
  aud: string;
  email: string;
  /** Defaults to true, as Google sets it for service accounts. */
  email_verified?: boolean;
  /** Defaults to a stable numeric id derived from `email`, like a service account's unique id. */
  sub?: string;
  azp?: string;
  /** Defaults to https://accounts.google.com. */
  iss?: string;
  /** Overrides the computed issue time (epoch seconds). */
  iat?: number;
  /** Overrides the computed expiry (epoch seconds). */
  exp?: number;
  [claim: string]: unknown;
}

export interface SignOptions {
  /** Lifetime from `issuedAt`; Google's tokens live one hour. @defaultValue 3600 */
  expiresInSec?: number;
  /** Issue time, a Date or epoch seconds. @defaultValue now */
  issuedAt?: Date | number;
}

export interface OidcSigner {
  kid: string;
  /** SPKI public key; google-auth-library verifies with it as it would with Google's X.509 cert. */
  publicKeyPem: string;
  sign(claims: OidcClaims, options?: SignOptions): string;
}

const base64url = (input: Buffer | string) => Buffer.from(input).toString('base64url');

/** A numeric id that stays the same for one service account, in the shape Google uses. */
export function serviceAccountId(email: string): string {
  const digest = createHash('sha256').update(email).digest();
  return '1' + (digest.readBigUInt64BE(0) % 10n ** 20n).toString().padStart(20, '0');
}

/**
 * An RS256 signer standing in for Google's token service. Two signers built with the same
 * `kid` hold different keys, which is how tests forge a token the certs do not vouch for.
 */
export function createOidcSigner(options: { kid?: string } = {}): OidcSigner {
  const kid = options.kid ?? randomBytes(20).toString('hex');
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const publicKeyPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();

  return {
    kid,
    publicKeyPem,
    sign(claims, signOptions = {}) {
      const issued = signOptions.issuedAt ?? new Date();
      const iat = typeof issued === 'number' ? Math.floor(issued) : Math.floor(issued.getTime() / 1000);
      const id = serviceAccountId(claims.email);
      const payload = {
        iss: 'https://accounts.google.com',
        email_verified: true,
        sub: id,
        azp: id,
        iat,
        exp: iat + (signOptions.expiresInSec ?? 3600),
        ...Object.fromEntries(Object.entries(claims).filter(([, v]) => v !== undefined)),
      };
      const header = { alg: 'RS256', kid, typ: 'JWT' };
      const signingInput = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(payload))}`;
      const signature = createSign('RSA-SHA256').update(signingInput).sign(privateKey);
      return `${signingInput}.${base64url(signature)}`;
    },
  };
}
