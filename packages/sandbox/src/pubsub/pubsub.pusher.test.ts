import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { OAuth2Client } from 'google-auth-library';
import { createOidcSigner, createPubSubPusher, startCertsServer } from './index';

interface Received {
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A push endpoint that answers the given statuses in turn (the last one repeats). */
async function endpoint(statuses: number[]) {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      res.writeHead(statuses[Math.min(received.length - 1, statuses.length - 1)] ?? 500).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/push`,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const AUDIENCE = 'https://api.example.com/webhooks/gmail';
const ACCOUNT = 'push@project.iam.gserviceaccount.com';

describe('Pub/Sub push sender', () => {
  it('wraps the Gmail notification as Pub/Sub does, with a token google-auth-library accepts', async () => {
    const signer = createOidcSigner();
    const certs = await startCertsServer([signer]);
    const target = await endpoint([204]);
    try {
      const pusher = createPubSubPusher({ endpoint: target.url, signer, audience: AUDIENCE, serviceAccount: ACCOUNT });
      const result = await pusher.push({ emailAddress: 'user@example.com', historyId: '9876543210', messageId: '2070443601311540' });
      expect(result).toEqual({ status: 204, attempts: 1, messageId: '2070443601311540' });

      const [delivery] = target.received;
      expect(delivery?.headers['content-type']).toBe('application/json');
      const body = JSON.parse(delivery?.body ?? '') as { message: Record<string, string>; subscription: string };
      expect(body.message).toMatchObject({ messageId: '2070443601311540', message_id: '2070443601311540' });
      expect(body.message.publishTime).toBe(body.message.publish_time);
      expect(new Date(body.message.publishTime ?? '').getTime()).not.toBeNaN();
      expect(body.subscription).toMatch(/^projects\/[^/]+\/subscriptions\/[^/]+$/);
      expect(JSON.parse(Buffer.from(body.message.data ?? '', 'base64').toString())).toEqual({ emailAddress: 'user@example.com', historyId: '9876543210' });

      const token = /^Bearer (.+)$/.exec(delivery?.headers.authorization ?? '')?.[1] ?? '';
      const client = new OAuth2Client({ endpoints: { oauth2FederatedSignonPemCertsUrl: certs.url }, transporterOptions: { fetchImplementation: fetch } });
      const payload = (await client.verifyIdToken({ idToken: token, audience: AUDIENCE })).getPayload();
      expect(payload).toMatchObject({ iss: 'https://accounts.google.com', aud: AUDIENCE, email: ACCOUNT, email_verified: true });
      expect(payload?.sub).toMatch(/^\d{21}$/);
      expect(payload?.azp).toBe(payload?.sub);
      expect((payload?.exp ?? 0) - (payload?.iat ?? 0)).toBe(3600);
      expect(JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString())).toEqual({ alg: 'RS256', kid: signer.kid, typ: 'JWT' });
    } finally {
      await target.close();
      await certs.close();
    }
  });

  it('redelivers on a NACK with exponential backoff until acknowledged', async () => {
    const target = await endpoint([500, 503, 200]);
    try {
      const pusher = createPubSubPusher({ endpoint: target.url, signer: createOidcSigner(), audience: AUDIENCE, serviceAccount: ACCOUNT, backoffMs: 20 });
      const started = Date.now();
      const result = await pusher.push({ emailAddress: 'user@example.com', historyId: 5 });
      // Waits of 20 ms then 40 ms between the three attempts.
      expect(Date.now() - started).toBeGreaterThanOrEqual(55);
      expect(result.status).toBe(200);
      expect(result.attempts).toBe(3);
      const ids = target.received.map((r) => (JSON.parse(r.body) as { message: { messageId: string } }).message.messageId);
      expect(new Set(ids)).toEqual(new Set([result.messageId]));
      // Each redelivery carries a token.
      expect(target.received.every((r) => r.headers.authorization?.startsWith('Bearer '))).toBe(true);
    } finally {
      await target.close();
    }
  });

  it('reuses one signed token for tokenReuseMs, then signs a new one issued at that time', () => {
    let clock = Date.parse('2026-12-01T10:00:00Z');
    const signer = createOidcSigner();
    const signed: number[] = [];
    const counting = { ...signer, sign: (...args: Parameters<typeof signer.sign>) => (signed.push(clock), signer.sign(...args)) };
    const pusher = createPubSubPusher({ endpoint: 'http://127.0.0.1:9/', signer: counting, audience: AUDIENCE, serviceAccount: ACCOUNT, tokenReuseMs: 60_000, now: () => clock });
    const iat = (authorization: string) => (JSON.parse(Buffer.from(authorization.split('.')[1] ?? '', 'base64url').toString()) as { iat: number }).iat;

    const first = pusher.authorization();
    clock += 59_999;
    expect(pusher.authorization()).toBe(first);
    expect(signed).toHaveLength(1);
    clock += 1;
    const second = pusher.authorization();
    expect(second).not.toBe(first);
    expect(iat(second) - iat(first)).toBe(60);
    // A clock that went back signs anew rather than hand out a token from the future.
    clock -= 120_000;
    expect(iat(pusher.authorization())).toBe(iat(first) - 60);
    expect(signed).toHaveLength(3);
  });

  it('gives up after maxAttempts with the last status, and reports 0 when nothing answers', async () => {
    const target = await endpoint([401]);
    try {
      const pusher = createPubSubPusher({ endpoint: target.url, signer: createOidcSigner(), audience: AUDIENCE, serviceAccount: ACCOUNT, maxAttempts: 3, backoffMs: 1 });
      expect(await pusher.push({ emailAddress: 'user@example.com', historyId: '1' })).toMatchObject({ status: 401, attempts: 3 });
    } finally {
      await target.close();
    }
    const gone = createPubSubPusher({ endpoint: target.url, signer: createOidcSigner(), audience: AUDIENCE, serviceAccount: ACCOUNT, maxAttempts: 2, backoffMs: 1 });
    expect(await gone.push({ emailAddress: 'user@example.com', historyId: '1' })).toMatchObject({ status: 0, attempts: 2 });
  });

  it('serves the certs in the v1 format with a cache lifetime', async () => {
    const a = createOidcSigner({ kid: 'key-a' });
    const b = createOidcSigner();
    const certs = await startCertsServer([a, b]);
    try {
      const res = await fetch(certs.url);
      expect(res.headers.get('cache-control')).toBe('public, max-age=60');
      expect(await res.json()).toEqual({ 'key-a': a.publicKeyPem, [b.kid]: b.publicKeyPem });
      expect(a.publicKeyPem).toMatch(/^-----BEGIN PUBLIC KEY-----/);
      expect(certs.hits()).toBe(1);
    } finally {
      await certs.close();
    }
  });
});
