import { createTestDatabase } from '../../../test/support/db';
import { LLM_HEALTH_NAME, LLM_HEALTH_RECHECK_MS, LLM_OUTAGE_STALE_AFTER_MS, llmFailingSince, markLlmFailure, markLlmSuccess } from './llm-health';

describe('LLM outage tracking', () => {
  let t: Awaited<ReturnType<typeof createTestDatabase>>;
  beforeEach(async () => {
    t = await createTestDatabase();
  });
  afterEach(async () => {
    await t.cleanup();
  });

  it('keeps the start of an outage across failures and clears it on success', async () => {
    expect(await llmFailingSince(t.db)).toBeNull();
    await markLlmSuccess(t.db);
    expect(await t.db.integrationHealth.findUnique({ where: { name: LLM_HEALTH_NAME } })).toBeNull();

    const first = new Date('2030-01-01T00:00:00Z');
    await markLlmFailure(t.db, first, 'Anthropic 529: overloaded');
    await markLlmFailure(t.db, new Date('2030-01-01T00:10:00Z'), 'Anthropic 500: api_error ' + 'x'.repeat(1000));
    expect(await llmFailingSince(t.db)).toEqual(first);
    const row = await t.db.integrationHealth.findUnique({ where: { name: LLM_HEALTH_NAME } });
    expect(row?.lastError?.startsWith('Anthropic 500')).toBe(true);
    expect(row?.lastError?.length).toBe(500);

    await markLlmSuccess(t.db);
    expect(await llmFailingSince(t.db)).toBeNull();
    const later = new Date('2030-01-02T00:00:00Z');
    await markLlmFailure(t.db, later, 'again');
    expect(await llmFailingSince(t.db)).toEqual(later);
  });

  it('is safe under concurrent failures and successes', async () => {
    const at = new Date('2030-01-01T00:00:00Z');
    await Promise.all(Array.from({ length: 10 }, (_, i) => markLlmFailure(t.db, new Date(at.getTime() + i), `e${i}`)));
    const since = await llmFailingSince(t.db);
    expect(since).not.toBeNull();
    expect(since!.getTime() - at.getTime()).toBeLessThan(10);
    await Promise.all([markLlmSuccess(t.db), markLlmSuccess(t.db)]);
    expect(await llmFailingSince(t.db)).toBeNull();
  });

  it('forgets an outage whose last failure is older than the staleness window', async () => {
    const first = new Date('2030-01-01T00:00:00Z');
    await markLlmFailure(t.db, first, 'Anthropic 500');
    const last = new Date('2030-01-01T00:05:00Z');
    await markLlmFailure(t.db, last, 'Anthropic 500');
    expect(await llmFailingSince(t.db, { now: new Date(last.getTime() + LLM_OUTAGE_STALE_AFTER_MS) })).toEqual(first);
    expect(await llmFailingSince(t.db, { now: new Date(last.getTime() + LLM_OUTAGE_STALE_AFTER_MS + 1) })).toBeNull();
    // A failure after the quiet spell starts a new outage rather than reviving the old one.
    const morning = new Date('2030-01-01T09:00:00Z');
    await markLlmFailure(t.db, morning, 'Anthropic 529');
    expect(await llmFailingSince(t.db, { now: new Date('2030-01-01T09:00:01Z') })).toEqual(morning);
  });

  it('trusts a healthy look for LLM_HEALTH_RECHECK_MS: an outage another process records meanwhile ends at the first success after it; one of its own at once', async () => {
    const t0 = Date.parse('2030-01-01T00:00:00Z');
    await markLlmSuccess(t.db, t0);
    // Another process (its own handle) records a failure: this one's successes inside the
    // window do not look, the first one after it ends the outage.
    const other = new Date(t0 + 1_000);
    await t.db.integrationHealth.create({ data: { name: LLM_HEALTH_NAME, failingSince: other, lastError: 'Anthropic 529', updatedAt: other } });
    await markLlmSuccess(t.db, t0 + LLM_HEALTH_RECHECK_MS - 1);
    expect(await llmFailingSince(t.db, { now: other })).toEqual(other);
    await markLlmSuccess(t.db, t0 + LLM_HEALTH_RECHECK_MS);
    expect(await llmFailingSince(t.db, { now: other })).toBeNull();

    // A failure of this process: its very next success looks, inside the window or not.
    const own = new Date(t0 + LLM_HEALTH_RECHECK_MS + 10);
    await markLlmFailure(t.db, own, 'Anthropic 500');
    await markLlmSuccess(t.db, own.getTime() + 1);
    expect(await llmFailingSince(t.db, { now: own })).toBeNull();

    // A clock that went back does not count as inside the window.
    await t.db.integrationHealth.update({ where: { name: LLM_HEALTH_NAME }, data: { failingSince: own, lastError: 'x', updatedAt: own } });
    await markLlmSuccess(t.db, own.getTime() - 60_000);
    expect(await llmFailingSince(t.db, { now: own })).toBeNull();
  });
});
