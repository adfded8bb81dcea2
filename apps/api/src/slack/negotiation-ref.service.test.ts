import { withTx } from '@parley/db';
import { createTestDatabase } from '../../../../test/support/db';
import { findNegotiation } from './negotiation-ref.service';

describe('findNegotiation', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    database = await createTestDatabase();
    await withTx(database.db, async (tx) => {
      for (const [key, name] of [['a', 'Alpha'], ['b', 'Beta']] as const) {
        const campaign = await tx.campaign.create({ data: { clickupTaskId: `task-${key}`, name, cpmFloorMinor: 1000, cpmCeilingMinor: 2000, rosterSheetId: 's' } });
        const n = await tx.negotiation.create({
          data: { campaignId: campaign.id, influencerName: 'Nia', influencerEmail: 'nia@creator.example', platform: 'yt', averageViews: 1000, deliverables: '1', state: key === 'a' ? 'agreed' : 'awaiting_reply', gmailThreadId: `thread-${key}` },
        });
        ids[key] = n.id;
      }
    });
  });
  afterAll(async () => {
    await database.cleanup();
  });

  it('finds by id, thread id and email (any case, Slack mailto markup); an email prefers the open negotiation', async () => {
    await expect(findNegotiation(database.db, ids.a ?? '')).resolves.toEqual({ ok: true, id: ids.a });
    await expect(findNegotiation(database.db, 'thread-a')).resolves.toEqual({ ok: true, id: ids.a });
    await expect(findNegotiation(database.db, 'NIA@creator.example')).resolves.toEqual({ ok: true, id: ids.b });
    await expect(findNegotiation(database.db, '<mailto:nia@creator.example|nia@creator.example>')).resolves.toEqual({ ok: true, id: ids.b });
  });

  it('asks for an id when several open negotiations match, and says when nothing does', async () => {
    await database.db.negotiation.update({ where: { id: ids.a ?? '' }, data: { state: 'escalated' } });
    const both = await findNegotiation(database.db, 'nia@creator.example');
    expect(both.ok).toBe(false);
    expect(!both.ok && both.message).toContain(ids.a);
    await expect(findNegotiation(database.db, 'nobody@x.example')).resolves.toMatchObject({ ok: false, message: expect.stringMatching(/No negotiation/) });
    await expect(findNegotiation(database.db, '')).resolves.toMatchObject({ ok: false });
    await expect(findNegotiation(database.db, 'a b')).resolves.toMatchObject({ ok: false });
  });
});
