import http from 'node:http';
import { heartbeatKey } from '@parley/queue';
import { bearer, startAdmin, type AdminHarness } from '../admin/admin-harness';
import { spawnTs } from '../support/processes';
import { startApi, type ApiHarness } from './api-harness';

const METRICS_TOKEN = '9f2c7e41b0d35a86c1e4f7a2d9b03c58';
const ADMIN_TOKEN = 'e7b14c0a92d5f36e8a1c4b7d0f29e6a3';
const ENTRY = 'apps/api/src/main.ts';
const API_ENV = {
  REDIS_URL: 'redis://127.0.0.1:1',
  PUBSUB_AUDIENCE: 'https://parley.example.com/webhooks/gmail',
  PUBSUB_SERVICE_ACCOUNT: 'push@p.iam.gserviceaccount.com',
  CLICKUP_WEBHOOK_SECRET: 'exposure-clickup-secret',
};

/** GET with a chosen local address, so one test can be several clients. */
function getFrom(url: string, localAddress: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { localAddress, headers, agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
  });
}

describe('readiness', () => {
  let h: ApiHarness;
  let clock = Date.now();
  beforeAll(async () => {
    h = await startApi({ config: { METRICS_TOKEN, ADMIN_TOKEN }, now: () => clock });
  });
  afterAll(async () => {
    await h.close();
  });

  it('tells the public its status only, and operators (metrics or admin token) the checks', async () => {
    await h.redis.zadd(heartbeatKey(h.prefix), clock, 'worker-1');
    const anonymous = await fetch(`${h.url}/health/readiness`);
    expect(anonymous.status).toBe(200);
    expect(await anonymous.json()).toEqual({ status: 'ready' });
    const wrong = await fetch(`${h.url}/health/readiness`, { headers: { authorization: 'Bearer 0000' } });
    expect(await wrong.json()).toEqual({ status: 'ready' });

    for (const token of [METRICS_TOKEN, ADMIN_TOKEN]) {
      const res = await fetch(`${h.url}/health/readiness`, { headers: { authorization: `Bearer ${token}` } });
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ status: 'ready', failing: [], checks: { redis: { ok: true }, db: { ok: true }, workers: { ok: true, count: 1 } } });
    }
  });

  it('runs its checks (a SQLite write among them) at most once per 2 s, however often it is probed', async () => {
    clock += 10_000;
    await h.redis.del(heartbeatKey(h.prefix));
    const probes = await Promise.all(Array.from({ length: 20 }, () => fetch(`${h.url}/health/readiness`)));
    expect(probes.map((r) => r.status)).toEqual(Array(20).fill(503));

    // A worker beats now, but the answer stays the cached one until 2 s have passed.
    await h.redis.zadd(heartbeatKey(h.prefix), clock, 'worker-2');
    clock += 1900;
    expect((await fetch(`${h.url}/health/readiness`)).status).toBe(503);
    clock += 200;
    const fresh = await fetch(`${h.url}/health/readiness`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(fresh.status).toBe(200);
    expect(await fresh.json()).toMatchObject({ checks: { workers: { ok: true, count: 1 } } });
  });
});

describe('admin authentication failures', () => {
  let h: AdminHarness;
  beforeAll(async () => {
    h = await startAdmin();
  });
  afterAll(async () => {
    await h.close();
  });

  it('are limited per client address: 10 wrong tokens, then 429 with Retry-After even for the right one', async () => {
    const page = `${h.url}/admin/`;
    // Requests without credentials (a browser before its prompt) are not guesses.
    for (let i = 0; i < 15; i += 1) expect((await getFrom(page, '127.0.0.1')).status).toBe(401);
    for (let i = 0; i < 10; i += 1) expect((await getFrom(page, '127.0.0.1', { authorization: `Bearer wrong-guess-${i}` })).status).toBe(401);

    const limited = await getFrom(page, '127.0.0.1', { authorization: 'Bearer wrong-guess-11' });
    expect(limited.status).toBe(429);
    const retryAfter = Number(limited.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(JSON.parse(limited.body)).toEqual({ error: expect.stringMatching(/too many/), requestId: limited.headers['x-request-id'] });
    // While limited, the right token is not even compared (an answer would confirm a guess).
    expect((await getFrom(page, '127.0.0.1', bearer())).status).toBe(429);

    // Another address is not affected.
    expect((await getFrom(page, '127.0.0.2', bearer())).status).toBe(200);
    expect(h.logs()).toContain('too many failed attempts');
    expect(h.logs()).not.toContain('wrong-guess');
  });
});

describe('admin authentication failures behind a proxy', () => {
  const wrongGuesses = async (page: string, headers: Record<string, string>) => {
    for (let i = 0; i < 10; i += 1) expect((await getFrom(page, '127.0.0.1', { ...headers, authorization: `Bearer wrong-${i}` })).status).toBe(401);
  };

  it('counts per client address from X-Forwarded-For when TRUST_PROXY trusts the proxy', async () => {
    const h = await startAdmin({ trustProxy: 1 });
    try {
      const page = `${h.url}/admin/`;
      // Two clients behind one proxy (the socket's address is the proxy's for both).
      await wrongGuesses(page, { 'x-forwarded-for': '203.0.113.7' });
      expect((await getFrom(page, '127.0.0.1', { 'x-forwarded-for': '203.0.113.7', ...bearer() })).status).toBe(429);
      expect((await getFrom(page, '127.0.0.1', { 'x-forwarded-for': '198.51.100.4', ...bearer() })).status).toBe(200);
      // A forged entry in front of the proxy's does not move the guesser (only the last hop counts).
      expect((await getFrom(page, '127.0.0.1', { 'x-forwarded-for': '198.51.100.99, 203.0.113.7', ...bearer() })).status).toBe(429);
    } finally {
      await h.close();
    }
  });

  it('ignores X-Forwarded-For without TRUST_PROXY, so a guesser cannot pick a fresh address', async () => {
    const h = await startAdmin();
    try {
      const page = `${h.url}/admin/`;
      await wrongGuesses(page, { 'x-forwarded-for': '203.0.113.7' });
      expect((await getFrom(page, '127.0.0.1', { 'x-forwarded-for': '198.51.100.4', ...bearer() })).status).toBe(429);
    } finally {
      await h.close();
    }
  });
});

describe('configuration of the exposed surface (apps/api/src/main.ts)', () => {
  it('refuses to start in production without METRICS_TOKEN', async () => {
    const proc = spawnTs(ENTRY, { ...API_ENV, NODE_ENV: 'production' });
    expect(await proc.exited).toBe(1);
    expect(proc.output()).toMatch(/METRICS_TOKEN: required in production/);
    expect(proc.output()).toContain('openssl rand -hex 32');
    expect(proc.output()).not.toContain('api listening');
  });

  it('refuses a weak ADMIN_TOKEN, saying how to make one, without echoing it', async () => {
    const proc = spawnTs(ENTRY, { ...API_ENV, NODE_ENV: 'production', METRICS_TOKEN, ADMIN_TOKEN: 'change-me-please-admin-2024' });
    // Config is checked before anything connects, so the unreachable Redis above never matters.
    expect(await proc.exited).toBe(1);
    expect(proc.output()).toMatch(/ADMIN_TOKEN: must look random/);
    expect(proc.output()).toContain('openssl rand -hex 32');
    expect(proc.output()).not.toContain('change-me-please');
  });
});

