import { withTx } from '@parley/db';
import { heartbeatKey } from '@parley/queue';
import { CLICKUP_SECRET, MAILBOX, startApi, type ApiHarness } from './api-harness';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const METRICS_TOKEN = '4a8d2f61c7e03b95d1f6a2c8e0b47d39';
const operator = { authorization: `Bearer ${METRICS_TOKEN}` };

describe('health, metrics and the common middleware', () => {
  let h: ApiHarness;
  // Readiness answers from a 2 s cache; the test moves this clock past it between probes.
  let clock = Date.now();
  const readiness = () => {
    clock += 2000;
    return fetch(`${h.url}/health/readiness`, { headers: operator });
  };
  beforeAll(async () => {
    h = await startApi({
      config: { METRICS_TOKEN },
      now: () => clock,
      extend: (app) => {
        app.get('/boom', () => {
          throw new Error(`database password=${CLICKUP_SECRET} at /srv/secret/path.ts`);
        });
      },
    });
  });
  afterAll(async () => {
    await h.close();
  });

  it('liveness answers 200', async () => {
    const res = await fetch(`${h.url}/health/liveness`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
  });

  it('readiness names the workers check while no worker has beaten, and is ready once one has', async () => {
    await h.redis.del(heartbeatKey(h.prefix));
    let res = await readiness();
    expect(res.status).toBe(503);
    let body = (await res.json()) as { status: string; failing: string[]; checks: Record<string, { ok: boolean }> };
    expect(body.failing).toEqual(['workers']);
    expect(body.checks).toMatchObject({ redis: { ok: true }, db: { ok: true, wal: true, writable: true }, config: { ok: true }, workers: { ok: false, count: 0 } });

    // A heartbeat older than the window does not count.
    await h.redis.zadd(heartbeatKey(h.prefix), clock - 120_000, 'worker-gone');
    expect((await readiness()).status).toBe(503);

    await h.redis.zadd(heartbeatKey(h.prefix), clock + 2000, 'worker-1');
    res = await readiness();
    body = (await res.json()) as typeof body;
    expect(res.status).toBe(200);
    expect(body).toMatchObject({ status: 'ready', failing: [], checks: { workers: { ok: true, count: 1 } } });
  });

  it('serves Prometheus text with RED metrics by route pattern, queue depth and negotiations by state', async () => {
    expect((await h.pusher.push({ emailAddress: MAILBOX, historyId: '10', messageId: 'metrics-1' })).status).toBe(204);
    await fetch(`${h.url}/no/such/route/123`);
    await withTx(h.db, async (tx) => {
      const campaign = await tx.campaign.create({ data: { clickupTaskId: 't-metrics', name: 'Launch', cpmFloorMinor: 1000, cpmCeilingMinor: 2000, rosterSheetId: 's' } });
      for (const [i, state] of ['awaiting_reply', 'awaiting_reply', 'agreed'].entries()) {
        await tx.negotiation.create({
          data: { campaignId: campaign.id, influencerName: `I${i}`, influencerEmail: `i${i}@creator.example.com`, platform: 'youtube', averageViews: 1000, deliverables: '1 video', state },
        });
      }
    });

    const res = await fetch(`${h.url}/metrics`, { headers: operator });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text = await res.text();
    expect(text).toMatch(/parley_http_requests_total\{method="POST",route="\/webhooks\/gmail",status="204"\} 1/);
    expect(text).toMatch(/parley_http_requests_total\{method="GET",route="unmatched",status="404"\} 1/);
    expect(text).not.toContain('/no/such/route');
    expect(text).toMatch(/parley_webhooks_received_total\{source="gmail",outcome="accepted"\} 1/);
    expect(text).toMatch(/parley_queue_jobs\{queue="gmail-notifications",state="waiting"\} 1/);
    expect(text).toMatch(/parley_queue_jobs\{queue="campaign-tasks",state="waiting"\} 0/);
    expect(text).toMatch(/parley_negotiations\{state="awaiting_reply"\} 2/);
    expect(text).toMatch(/parley_negotiations\{state="agreed"\} 1/);
  });

  it('answers unknown routes with a JSON 404', async () => {
    const res = await fetch(`${h.url}/nope`, { method: 'POST' });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: 'not found', requestId: res.headers.get('x-request-id') });
  });

  it('answers OPTIONS with a JSON 405 on every route, before any credential check (no automatic Allow list)', async () => {
    for (const route of ['/webhooks/gmail', '/webhooks/clickup', '/metrics', '/health/readiness']) {
      const res = await fetch(`${h.url}${route}`, { method: 'OPTIONS' });
      expect(res.status).toBe(405);
      expect(res.headers.get('allow')).toBeNull();
      expect(res.headers.get('x-request-id')).toMatch(UUID);
      expect(await res.json()).toMatchObject({ error: 'method not allowed' });
    }
  });

  it('answers an unexpected error with a JSON 500 that leaks nothing', async () => {
    const res = await fetch(`${h.url}/boom`);
    expect(res.status).toBe(500);
    const text = await res.text();
    expect(JSON.parse(text)).toEqual({ error: 'internal error', requestId: res.headers.get('x-request-id') });
    expect(text).not.toMatch(/password|secret|\.ts|at /);
    // The operator gets the details in the log instead.
    expect(h.logs()).toContain('request failed');
  });

  it('puts X-Request-Id on every response, reusing a sane incoming one', async () => {
    const statuses: number[] = [];
    const requests: [string, RequestInit][] = [
      ['/health/liveness', {}],
      ['/webhooks/gmail', { method: 'POST', body: '{}' }],
      // Without a signature the body is never read; with one, its size is checked first.
      ['/webhooks/clickup', { method: 'POST', body: 'x'.repeat(1024 * 1024 + 1) }],
      ['/webhooks/clickup', { method: 'POST', headers: { 'x-signature': 'a'.repeat(64) }, body: 'x'.repeat(256 * 1024 + 1) }],
      ['/nope', {}],
      ['/boom', {}],
      ['/metrics', {}],
    ];
    for (const [path, init] of requests) {
      const res = await fetch(`${h.url}${path}`, init);
      statuses.push(res.status);
      expect(res.headers.get('x-request-id')).toMatch(UUID);
    }
    expect(statuses).toEqual([200, 401, 401, 413, 404, 500, 401]);

    const reused = await fetch(`${h.url}/health/liveness`, { headers: { 'x-request-id': 'lb-7f3a.2' } });
    expect(reused.headers.get('x-request-id')).toBe('lb-7f3a.2');
    const replaced = await fetch(`${h.url}/health/liveness`, { headers: { 'x-request-id': '<script>alert(1)</script>' } });
    expect(replaced.headers.get('x-request-id')).toMatch(UUID);
  });
});

describe('a failing database', () => {
  it('turns a webhook into a JSON 500 without SQL, table names or stack, and enqueues nothing', async () => {
    const h = await startApi({ prepareDb: (db) => db.$executeRawUnsafe('DROP TABLE "WebhookDelivery"').then(() => undefined) });
    try {
      const res = await h.pusher.pushRaw(h.pusher.envelope({ emailAddress: MAILBOX, historyId: '1' }), { authorization: h.pusher.authorization() });
      expect(res.status).toBe(500);
      expect(JSON.parse(res.body)).toEqual({ error: 'internal error', requestId: res.headers.get('x-request-id') });
      expect(res.body).not.toMatch(/WebhookDelivery|prisma|sqlite|at /i);
      expect(await h.queues['gmail-notifications'].count()).toBe(0);
    } finally {
      await h.close();
    }
  });
});

describe('a metrics token', () => {
  it('is required as a bearer token when METRICS_TOKEN is set', async () => {
    const h = await startApi({ config: { METRICS_TOKEN: 'scrape-token-123' } });
    try {
      const none = await fetch(`${h.url}/metrics`);
      expect(none.status).toBe(401);
      expect(await none.json()).toEqual({ error: 'unauthorized', requestId: none.headers.get('x-request-id') });
      expect((await fetch(`${h.url}/metrics`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
      const ok = await fetch(`${h.url}/metrics`, { headers: { authorization: 'Bearer scrape-token-123' } });
      expect(ok.status).toBe(200);
      expect(await ok.text()).toContain('parley_http_requests_total');
    } finally {
      await h.close();
    }
  });
});
