import { QUEUE_NAMES } from '@parley/queue';
import { ADMIN_TOKEN, basic, bearer, csrfFrom, startAdmin, type AdminHarness } from './admin-harness';
import { seedCampaign, seedDeadLetter, seedNegotiation } from './seed';

const PAGES = ['/admin/', '/admin', '/admin/dead-letters', '/admin/queues', '/admin/queues/api/queues'];

describe('admin dashboard: authentication and request safety', () => {
  let h: AdminHarness;
  beforeAll(async () => {
    h = await startAdmin();
  });
  afterAll(async () => {
    await h.close();
  });

  it.each(PAGES)('%s answers 401 with a Basic challenge without credentials', async (path) => {
    const res = await fetch(`${h.url}${path}`);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Basic realm="parley"');
    expect(res.headers.get('x-request-id')).toBeTruthy();
  });

  it('answers 401 to a wrong bearer token, a wrong Basic password, a token as the Basic user name and a malformed header', async () => {
    const wrong = ADMIN_TOKEN.slice(0, -1) + 'x';
    const attempts: Record<string, string>[] = [
      bearer(wrong),
      bearer(`${ADMIN_TOKEN}extra`),
      basic(wrong),
      { authorization: `Basic ${Buffer.from(`${ADMIN_TOKEN}:`).toString('base64')}` },
      { authorization: `Basic ${Buffer.from(ADMIN_TOKEN).toString('base64')}` },
      { authorization: ADMIN_TOKEN },
      { authorization: 'Bearer' },
    ];
    for (const headers of attempts) {
      const res = await fetch(`${h.url}/admin/`, { headers });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Basic realm="parley"');
    }
    expect(h.logs()).toContain('admin request refused');
    expect(h.logs()).not.toContain(wrong);
  });

  it('serves every page with a bearer token and with Basic (any user name, the token as password)', async () => {
    for (const headers of [bearer(), basic(), basic(ADMIN_TOKEN, '')]) {
      for (const path of PAGES) {
        const res = await fetch(`${h.url}${path}`, { headers });
        expect({ path, status: res.status }).toEqual({ path, status: 200 });
        expect(res.headers.get('cache-control')).toBe('no-store');
      }
    }
    expect(h.logs()).not.toContain(ADMIN_TOKEN);
  });

  it('our pages forbid scripts and framing', async () => {
    const res = await fetch(`${h.url}/admin/`, { headers: basic() });
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(await res.text()).not.toMatch(/<script|https?:\/\//);
  });

  it('mounts bull-board over all six queues', async () => {
    const page = await fetch(`${h.url}/admin/queues`, { headers: bearer() });
    expect(page.headers.get('x-powered-by')).toBeNull();
    expect(await page.text()).toContain('/admin/queues/');
    const res = await fetch(`${h.url}/admin/queues/api/queues`, { headers: bearer() });
    const body = (await res.json()) as { queues: { name: string; readOnlyMode: boolean }[] };
    expect(body.queues.map((q) => q.name).sort()).toEqual([...QUEUE_NAMES].sort());
    expect(body.queues.every((q) => q.readOnlyMode === false)).toBe(true);
  });

  describe('state-changing requests', () => {
    let deadLetterId: string;
    beforeAll(async () => {
      const campaignId = await seedCampaign(h.db);
      const negotiationId = await seedNegotiation(h.db, campaignId, { influencerName: 'Csrf Target' });
      deadLetterId = await seedDeadLetter(h.db, { queue: 'negotiation-steps', jobId: `step.${negotiationId}.open`, payload: { negotiationId, kind: 'open' } });
    });
    const replay = (headers: Record<string, string>, body: string) =>
      fetch(`${h.url}/admin/dead-letters/${deadLetterId}/replay`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
        body,
      });
    const notReplayed = async () => expect((await h.db.deadLetter.findUniqueOrThrow({ where: { id: deadLetterId } })).replayedAt).toBeNull();

    it('refuses a cross-site post even with valid credentials and form token (Origin, Sec-Fetch-Site)', async () => {
      const page = await (await fetch(`${h.url}/admin/dead-letters`, { headers: basic() })).text();
      const csrf = csrfFrom(page);
      const crossSite: Record<string, string>[] = [{ origin: 'https://evil.example' }, { origin: 'null' }, { 'sec-fetch-site': 'cross-site' }, { 'sec-fetch-site': 'same-site' }];
      for (const extra of crossSite) {
        const res = await replay({ ...basic(), ...extra }, `csrf=${encodeURIComponent(csrf)}`);
        expect(res.status).toBe(403);
      }
      // bull-board's own write routes are behind the same check.
      const pause = await fetch(`${h.url}/admin/queues/api/queues/alerts/pause`, { method: 'PUT', headers: { ...basic(), origin: 'https://evil.example' } });
      expect(pause.status).toBe(403);
      expect(await h.queues.alerts.isPaused()).toBe(false);
      await notReplayed();
    });

    it('refuses a Basic-authenticated post without a valid form token', async () => {
      for (const body of ['', 'csrf=123.abc', `csrf=${Date.now() - 13 * 3_600_000}.${'0'.repeat(64)}`]) {
        const res = await replay({ ...basic(), origin: h.url }, body);
        expect(res.status).toBe(403);
      }
      await notReplayed();
    });

    it('accepts a same-origin Basic post carrying the page token, and a bearer post (no browser attaches a bearer header)', async () => {
      const page = await (await fetch(`${h.url}/admin/dead-letters`, { headers: basic() })).text();
      const res = await replay({ ...basic(), origin: h.url, 'sec-fetch-site': 'same-origin' }, `csrf=${encodeURIComponent(csrfFrom(page))}&back=%2Fadmin%2Fdead-letters`);
      expect(res.status).toBe(303);
      expect(res.headers.get('location')).toBe(`/admin/dead-letters?notice=replayed&dl=${deadLetterId}`);

      const again = await fetch(`${h.url}/admin/dead-letters/${deadLetterId}/replay`, { method: 'POST', headers: { ...bearer(), accept: 'application/json' } });
      expect(again.status).toBe(200);
      expect(await again.json()).toMatchObject({ deadLetterId, outcome: 'already' });
    });

    it('behind a proxy that rewrites Host, takes the public host from X-Forwarded-Host', async () => {
      const negotiationId = await seedNegotiation(h.db, await seedCampaign(h.db), { influencerName: 'Proxy Pia' });
      await seedDeadLetter(h.db, { queue: 'negotiation-steps', jobId: `step.${negotiationId}.open`, payload: { negotiationId, kind: 'open' } });
      const page = await (await fetch(`${h.url}/admin/dead-letters`, { headers: basic() })).text();
      const body = `csrf=${encodeURIComponent(csrfFrom(page))}`;
      const proxied = await replay({ ...basic(), origin: 'https://parley.example.com', 'x-forwarded-host': 'parley.example.com' }, body);
      expect(proxied.status).toBe(303);
      const forged = await replay({ ...basic(), origin: 'https://evil.example', 'x-forwarded-host': 'parley.example.com' }, body);
      expect(forged.status).toBe(403);
    });

    it('never redirects off the dashboard', async () => {
      const res = await fetch(`${h.url}/admin/dead-letters/${deadLetterId}/replay`, {
        method: 'POST',
        redirect: 'manual',
        headers: { ...bearer(), 'content-type': 'application/x-www-form-urlencoded' },
        body: 'back=%2F%2Fevil.example%2Fadmin',
      });
      expect(res.status).toBe(303);
      expect(res.headers.get('location')).toMatch(/^\/admin\/dead-letters\?/);
    });
  });
});

describe('admin dashboard without ADMIN_TOKEN', () => {
  let h: AdminHarness;
  beforeAll(async () => {
    h = await startAdmin({ token: null });
  });
  afterAll(async () => {
    await h.close();
  });

  it('does not exist: /admin answers 404 to anyone', async () => {
    for (const path of PAGES) {
      for (const headers of [{}, bearer(), basic()]) {
        const res = await fetch(`${h.url}${path}`, { headers });
        expect(res.status).toBe(404);
        expect(res.headers.get('www-authenticate')).toBeNull();
      }
    }
    expect(h.logs()).toContain('admin dashboard disabled');
  });
});
