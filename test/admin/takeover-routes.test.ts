import { askCurrency } from '../../apps/api/src/admin/timeline.service';
import { basic, bearer, csrfFrom, startAdmin, type AdminHarness } from './admin-harness';
import { seedCampaign, seedDeadLetter, seedNegotiation, seedOutbox } from './seed';

describe('dashboard Claim / Resume / search over HTTP', () => {
  let h: AdminHarness;
  beforeAll(async () => {
    h = await startAdmin();
  });
  afterAll(async () => {
    await h?.close();
  });

  async function negotiation(state = 'awaiting_reply') {
    const id = await seedNegotiation(h.db, await seedCampaign(h.db, 'Route Drop'), { influencerName: 'Rita Route', state });
    await seedOutbox(h.db, id, { key: 'open', status: 'sent' });
    return id;
  }
  const post = (p: string, headers: Record<string, string>, body = '') =>
    fetch(`${h.url}${p}`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body });

  it('claims and resumes with the JSON variant; a second claim or a resume of a free one is refused (409) and changes nothing', async () => {
    const id = await negotiation();
    const json = { ...bearer(), accept: 'application/json' };
    const claimed = await post(`/admin/negotiations/${id}/claim`, json);
    expect(claimed.status).toBe(200);
    expect(await claimed.json()).toEqual({ negotiationId: id, outcome: 'claimed', state: 'human_managed', claimedBy: 'admin' });
    // Claimed from Slack by someone else meanwhile? Here: claimed by us already is a no-op, not a second transition.
    expect((await post(`/admin/negotiations/${id}/claim`, json)).status).toBe(200);
    expect(await h.db.transition.count({ where: { negotiationId: id, event: 'claimed' } })).toBe(1);
    const resumed = await post(`/admin/negotiations/${id}/resume`, json);
    expect(await resumed.json()).toMatchObject({ outcome: 'resumed', state: 'awaiting_reply', claimedBy: null });
    const again = await post(`/admin/negotiations/${id}/resume`, json);
    expect(again.status).toBe(409);
    expect(await h.db.transition.count({ where: { negotiationId: id, event: 'resumed' } })).toBe(1);
    expect((await post('/admin/negotiations/nope/claim', json)).status).toBe(404);
  });

  it('a Basic post needs the page form token; a cross-site post is refused; neither changes anything', async () => {
    const id = await negotiation();
    expect((await post(`/admin/negotiations/${id}/claim`, basic())).status).toBe(403);
    expect((await post(`/admin/negotiations/${id}/claim`, { ...bearer(), origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    expect(await h.db.negotiation.findUniqueOrThrow({ where: { id } })).toMatchObject({ state: 'awaiting_reply', claimedBy: null });
    const page = await (await fetch(`${h.url}/admin/negotiations/${id}`, { headers: basic() })).text();
    const ok = await post(`/admin/negotiations/${id}/claim`, basic(), `csrf=${encodeURIComponent(csrfFrom(page))}`);
    expect(ok.status).toBe(303);
    expect(ok.headers.get('location')).toBe(`/admin/negotiations/${id}?done=claimed`);
    expect((await h.db.negotiation.findUniqueOrThrow({ where: { id } })).state).toBe('human_managed');
  });

  it('a finished negotiation offers neither button and a claim of it is refused', async () => {
    const id = await negotiation('agreed');
    const page = await (await fetch(`${h.url}/admin/negotiations/${id}`, { headers: bearer() })).text();
    expect(page).not.toMatch(/class="(claim|resume)"/);
    const r = await post(`/admin/negotiations/${id}/claim`, { ...bearer(), accept: 'application/json' });
    expect(r.status).toBe(409);
    expect(await r.json()).toMatchObject({ outcome: 'claim_refused', state: 'agreed' });
  });

  it('a dead letter discarded from Slack is shown as discarded and the dashboard does not replay it', async () => {
    const id = await negotiation();
    const dl = await seedDeadLetter(h.db, { queue: 'negotiation-steps', jobId: `step.${id}.open`, payload: { negotiationId: id, kind: 'open' } });
    await h.db.deadLetter.update({ where: { id: dl }, data: { discardedAt: new Date(), resolvedBy: 'slack:U0OPERATOR1' } });
    const list = await (await fetch(`${h.url}/admin/dead-letters`, { headers: bearer() })).text();
    expect(list).toMatch(new RegExp(`data-dead-letter="${dl}"[\\s\\S]*?discarded [^<]* by slack:U0OPERATOR1`));
    expect(list).not.toContain(`/admin/dead-letters/${dl}/replay`);
    const r = await post(`/admin/dead-letters/${dl}/replay`, { ...bearer(), accept: 'application/json' });
    expect(r.status).toBe(409);
    expect(await r.json()).toMatchObject({ outcome: 'discarded' });
    expect(await h.db.deadLetter.findUniqueOrThrow({ where: { id: dl } })).toMatchObject({ replayedAt: null });
    expect(await h.queues['negotiation-steps'].count()).toBe(0);
    const stuck = (await (await fetch(`${h.url}/admin/`, { headers: { ...bearer(), accept: 'application/json' } })).json()) as { problems: { deadLetterId?: string }[] };
    expect(stuck.problems.some((p) => p.deadLetterId === dl)).toBe(false);
  });

  it('search answers JSON from a form body and shows domains, never addresses', async () => {
    const id = await seedNegotiation(h.db, await seedCampaign(h.db, 'Search Drop'), { influencerName: 'Sal Search', influencerEmail: 'sal@search.example' });
    const r = await post('/admin/search', { ...bearer(), accept: 'application/json' }, 'q=SAL%40search.example');
    const body = (await r.json()) as { hits: { id: string; emailDomain: string }[] };
    expect(body.hits.map((x) => [x.id, x.emailDomain])).toEqual([[id, 'search.example']]);
    expect(JSON.stringify(body)).not.toContain('sal@search.example');
    const empty = await post('/admin/search', { ...bearer(), accept: 'application/json' }, 'q=nobody%40nowhere.example');
    expect(((await empty.json()) as { hits: unknown[] }).hits).toEqual([]);
  });
});

describe('askCurrency', () => {
  const usd = { currency: 'USD', escalationReason: null };
  it('is the campaign currency for an ask that was read normally', () => {
    expect(askCurrency(usd, [{ details: { askedMinor: 100, decision: 'counter' } }])).toBe('USD');
  });
  it('is the named currency when the step that read the ask escalated over it', () => {
    const eur = { currency: 'USD', escalationReason: 'reply names EUR, the campaign is in USD' };
    expect(askCurrency(eur, [{ details: { askedMinor: 54_700, decision: 'escalate' } }])).toBe('EUR');
    // A later ask read normally (after a resume) is in the campaign's currency again.
    expect(askCurrency(eur, [{ details: { askedMinor: 54_700, decision: 'escalate' } }, { details: { askedMinor: 60_000, decision: 'counter' } }])).toBe('USD');
  });
  it('prefers a recorded askedCurrency', () => {
    expect(askCurrency(usd, [{ details: { askedMinor: 1, askedCurrency: 'GBP' } }])).toBe('GBP');
  });
});
