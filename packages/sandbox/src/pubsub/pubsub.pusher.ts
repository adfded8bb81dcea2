import { randomInt } from 'node:crypto';
import type { OidcSigner } from './oidc.signer';

/** Statuses Pub/Sub treats as an acknowledgement; anything else (or no answer) is redelivered. */
export const ACK_STATUSES: ReadonlySet<number> = new Set([102, 200, 201, 202, 204]);

export interface GmailNotification {
  emailAddress: string;
  /** Gmail sends a decimal string; a number is accepted too (SPEC 5.1). */
  historyId: string | number;
  /** Pub/Sub's message id; a random one (same shape as Google's) when omitted. */
  messageId?: string;
}

export interface PushEnvelope {
  message: {
    data: string;
    messageId: string;
    message_id: string;
    publishTime: string;
    publish_time: string;
    attributes?: Record<string, string>;
  };
  subscription: string;
}

export interface PushResult {
  /** The last HTTP status, or 0 when the endpoint never answered. */
  status: number;
  attempts: number;
  messageId: string;
}

export interface RawPushResult {
  status: number;
  headers: Headers;
  body: string;
}

export interface PubSubPusherOptions {
  endpoint: string;
  signer: OidcSigner;
  /** The subscription's OIDC audience (PUBSUB_AUDIENCE). */
  audience: string;
  /** The push service account the token is issued for (PUBSUB_SERVICE_ACCOUNT). */
  serviceAccount: string;
  /** @defaultValue 5 */
  maxAttempts?: number;
  /** First redelivery delay; doubles each time. @defaultValue 100 */
  backoffMs?: number;
  /** Per-request deadline, Pub/Sub's ackDeadlineSeconds. @defaultValue 10000 */
  timeoutMs?: number;
  /** @defaultValue projects/sandbox/subscriptions/gmail-push */
  subscription?: string;
  /**
   * How long one signed token is reused. Pub/Sub does not sign a token per push: its tokens
   * "may be up to one hour old" (WIRE-CONTRACTS section 3), so an endpoint sees the same token
   * on many requests; 0 signs one per request. @defaultValue 300000 (5 minutes)
   */
  tokenReuseMs?: number;
  /** Clock for token reuse. @defaultValue Date.now */
  now?: () => number;
}

export interface PubSubPusher {
  /** Delivers one Gmail notification, redelivering on a NACK like Pub/Sub does. */
  push(notification: GmailNotification): Promise<PushResult>;
  /** One request exactly as given (no signing, no retry), for malformed or forged deliveries. */
  pushRaw(body: string | Buffer | object, headers?: Record<string, string>): Promise<RawPushResult>;
  /** The wrapped push body for a notification (exactly what `push` sends). */
  envelope(notification: GmailNotification): PushEnvelope;
  /** The `Bearer <JWT>` value for the Authorization header (reused as `tokenReuseMs` allows). */
  authorization(): string;
}

/** A Pub/Sub message id: a decimal string of 16 digits, as Google issues them. */
export function randomMessageId(): string {
  return `${randomInt(1, 10)}${String(randomInt(0, 1e9)).padStart(9, '0')}${String(randomInt(0, 1e6)).padStart(6, '0')}`;
}

/**
 * A Pub/Sub push subscription pointed at an endpoint: wrapped delivery, an OIDC token on every
 * request (one token reused for a while, as Google does), at-least-once with exponential
 * redelivery. Duplicate and out-of-order delivery
 * tests call `push` several times with the same or shuffled messages.
 */
export function createPubSubPusher(options: PubSubPusherOptions): PubSubPusher {
  const maxAttempts = options.maxAttempts ?? 5;
  const backoffMs = options.backoffMs ?? 100;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const subscription = options.subscription ?? 'projects/sandbox/subscriptions/gmail-push';

  const tokenReuseMs = options.tokenReuseMs ?? 300_000;
  const now = options.now ?? Date.now;
  // An RS256 signature costs about 2 ms of CPU; a campaign pushes thousands of notifications.
  let token: { value: string; signedAt: number } | undefined;
  const authorization = () => {
    const at = now();
    if (token === undefined || at - token.signedAt >= tokenReuseMs || at < token.signedAt) {
      token = { value: `Bearer ${options.signer.sign({ aud: options.audience, email: options.serviceAccount }, { issuedAt: new Date(at) })}`, signedAt: at };
    }
    return token.value;
  };

  const envelope = (n: GmailNotification): PushEnvelope => {
    const messageId = n.messageId ?? randomMessageId();
    const publishTime = new Date().toISOString();
    const data = Buffer.from(JSON.stringify({ emailAddress: n.emailAddress, historyId: n.historyId })).toString('base64');
    return { message: { data, messageId, message_id: messageId, publishTime, publish_time: publishTime }, subscription };
  };

  const send = async (body: string | Buffer, headers: Record<string, string>): Promise<RawPushResult> => {
    const response = await fetch(options.endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'APIs-Google; (+https://developers.google.com/webmasters/APIs-Google.html)', ...headers },
      body,
      signal: AbortSignal.timeout(timeoutMs),
    });
    return { status: response.status, headers: response.headers, body: await response.text() };
  };

  return {
    envelope,
    authorization,
    pushRaw: (body, headers = {}) => send(typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body), headers),
    async push(notification) {
      const wrapped = envelope(notification);
      const body = JSON.stringify(wrapped);
      let status = 0;
      for (let attempt = 1; ; attempt += 1) {
        try {
          status = (await send(body, { authorization: authorization() })).status;
        } catch {
          // No answer within the deadline (or a refused connection) is a NACK too.
          status = 0;
        }
        if (ACK_STATUSES.has(status) || attempt >= maxAttempts) return { status, attempts: attempt, messageId: wrapped.message.messageId };
        await new Promise((resolve) => setTimeout(resolve, backoffMs * 2 ** (attempt - 1)));
      }
    },
  };
}
