import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import { secretMatches } from '@parley/config';
import { ctx } from '../request-context.middleware';

export type AdminAuthMethod = 'bearer' | 'basic';

/** What the admin routes keep in `res.locals` once the caller is authenticated. */
export interface AdminLocals {
  adminAuth?: AdminAuthMethod;
}

export function adminLocals(res: Response): AdminLocals {
  return res.locals as AdminLocals;
}

export const ADMIN_REALM = 'Basic realm="parley"';


/**
 * The secret a request presents: `Authorization: Bearer <token>`, or HTTP Basic with the token
 * as the password (any user name, so a browser's login prompt works).
 */
export function presentedSecret(header: string | undefined): { method: AdminAuthMethod; secret: string } | undefined {
  if (!header) return undefined;
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (bearer?.[1]) return { method: 'bearer', secret: bearer[1] };
  const basic = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!basic?.[1]) return undefined;
  const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { method: 'basic', secret: decoded.slice(colon + 1) };
}

export interface FailureLimit {
  /** Wrong credentials allowed per client address within `windowMs`. @defaultValue 10 */
  max: number;
  /** @defaultValue 60_000 */
  windowMs: number;
  /** Addresses tracked at most; past it the oldest windows are forgotten. @defaultValue 10_000 */
  maxClients: number;
  now: () => number;
}

export const DEFAULT_FAILURE_LIMIT: FailureLimit = { max: 10, windowMs: 60_000, maxClients: 10_000, now: Date.now };

/**
 * Wrong-credential counts per client address, in memory and per process: a fixed window that
 * starts at an address's first failure. Several API replicas each allow `max`; behind a proxy
 * without `trust proxy` every client shares the proxy's address (docs/api.md).
 */
export function failureLimiter(limit: FailureLimit) {
  const windows = new Map<string, { started: number; failures: number }>();
  const current = (address: string) => {
    const entry = windows.get(address);
    if (entry && limit.now() - entry.started >= limit.windowMs) {
      windows.delete(address);
      return undefined;
    }
    return entry;
  };
  return {
    /** Seconds until `address` may try again, or 0 when it may try now. */
    blockedFor: (address: string): number => {
      const entry = current(address);
      if (!entry || entry.failures < limit.max) return 0;
      return Math.max(1, Math.ceil((entry.started + limit.windowMs - limit.now()) / 1000));
    },
    fail: (address: string): void => {
      const entry = current(address);
      if (entry) {
        entry.failures += 1;
        return;
      }
      // Map keeps insertion order: the first key is the oldest window.
      if (windows.size >= limit.maxClients) {
        const oldest = windows.keys().next().value;
        if (oldest !== undefined) windows.delete(oldest);
      }
      windows.set(address, { started: limit.now(), failures: 1 });
    },
  };
}

/**
 * Every /admin request: the token, or 401 with a Basic challenge (the browser then prompts).
 * After `limit.max` wrong credentials from one address within the window, that address gets
 * 429 with Retry-After and its credentials are not even compared, so guessing stops paying.
 */
export function adminAuth(token: string, limit: FailureLimit = DEFAULT_FAILURE_LIMIT): RequestHandler {
  const failures = failureLimiter(limit);
  return (req, res, next) => {
    // req.ip is the socket's address unless the app is told to trust a proxy's X-Forwarded-For.
    const address = req.ip ?? req.socket.remoteAddress ?? 'unknown';
    const wait = failures.blockedFor(address);
    if (wait > 0) {
      ctx(res).log.warn('admin request refused', { reason: 'too many failed attempts', retryAfterS: wait });
      res.setHeader('Retry-After', String(wait));
      res.setHeader('Cache-Control', 'no-store');
      res.status(429).json({ error: 'too many failed attempts; retry later', requestId: ctx(res).requestId });
      return;
    }
    const presented = presentedSecret(req.get('authorization'));
    if (presented && secretMatches(token, presented.secret)) {
      adminLocals(res).adminAuth = presented.method;
      next();
      return;
    }
    // A request without credentials is a browser about to prompt, not a guess.
    if (presented) failures.fail(address);
    // The reason only: never the header, which carries the guess.
    ctx(res).log.warn('admin request refused', { reason: presented ? 'wrong token' : 'no credentials' });
    res.setHeader('WWW-Authenticate', ADMIN_REALM);
    res.setHeader('Cache-Control', 'no-store');
    res.status(401).json({ error: 'unauthorized', requestId: ctx(res).requestId });
  };
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Browsers attach cached Basic credentials to cross-site requests too, so a state-changing
 * request (ours and bull-board's) must come from a page of this origin. Modern browsers say
 * where a request comes from in `Sec-Fetch-Site` and `Origin`; a request carrying neither is
 * not a browser's cross-site request (curl, scripts) and is judged by its credentials alone.
 */
export function sameOriginOnly(): RequestHandler {
  return (req, res, next) => {
    if (SAFE_METHODS.has(req.method) || isSameOrigin(req)) {
      next();
      return;
    }
    ctx(res).log.warn('admin request refused', { reason: 'cross-origin' });
    res.status(403).json({ error: 'cross-origin request refused', requestId: ctx(res).requestId });
  };
}

export function isSameOrigin(req: Request): boolean {
  const site = req.get('sec-fetch-site');
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return false;
  const origin = req.get('origin');
  if (origin === undefined) return true;
  // Behind a proxy that rewrites Host, the public host arrives in X-Forwarded-Host. Trusting
  // it is safe here: a cross-site page can make a browser send credentials, not custom headers.
  const hosts = [req.get('host'), req.get('x-forwarded-host')?.split(',')[0]?.trim()].filter((h): h is string => Boolean(h));
  try {
    return hosts.includes(new URL(origin).host);
  } catch {
    // "null" (sandboxed frames, some redirects) and garbage are never our own pages.
    return false;
  }
}

/** How long a page's form token stays valid: a dashboard tab left open over a working day. */
export const CSRF_TTL_MS = 12 * 3_600_000;

export interface CsrfTokens {
  issue: (now: number) => string;
  verify: (value: unknown, now: number) => boolean;
}

/**
 * Per-page form tokens, stateless: `<issued ms>.<HMAC>` keyed by a digest of ADMIN_TOKEN, so
 * every API replica accepts the others' tokens and a token changes when ADMIN_TOKEN does.
 */
export function csrfTokens(adminToken: string): CsrfTokens {
  const key = createHash('sha256').update(`parley-admin-csrf:${adminToken}`).digest();
  const mac = (issued: string) => createHmac('sha256', key).update(`csrf:${issued}`).digest('hex');
  return {
    issue: (now) => `${now}.${mac(String(now))}`,
    verify: (value, now) => {
      if (typeof value !== 'string') return false;
      const match = /^(\d{10,16})\.([0-9a-f]{64})$/.exec(value);
      if (!match?.[1] || !match[2]) return false;
      const issued = Number(match[1]);
      if (issued > now + 60_000 || now - issued > CSRF_TTL_MS) return false;
      return timingSafeEqual(Buffer.from(match[2], 'hex'), Buffer.from(mac(match[1]), 'hex'));
    },
  };
}
