import { ensureGmailWatch } from '@parley/engine';
import { startGoogleHarness, type GoogleHarness } from '../google/google.harness';
import { createEngineHarness, MAILBOX, type EngineHarness } from './engine-harness';

jest.setTimeout(60_000);

/**
 * Watch renewal against the Google sandbox: renewing must never overwrite the history cursor,
 * or mail that arrived since the last sync would be skipped for good.
 */
describe('ensureGmailWatch', () => {
  let h: EngineHarness;
  let g: GoogleHarness;
  const topic = 'projects/parley/topics/gmail';

  beforeAll(async () => {
    h = await createEngineHarness('mail-watch');
    g = await startGoogleHarness({ mailbox: MAILBOX });
  });
  afterAll(async () => {
    await g?.sandbox.close();
    await h?.close();
  });

  it('seeds the cursor on the first watch, renews near expiry without moving it, and leaves a current watch alone', async () => {
    const deps = { ...h.deps, gmail: g.gmail, mailbox: MAILBOX, topic };
    await expect(ensureGmailWatch(deps)).resolves.toBe('renewed');
    const first = await h.db.mailboxSync.findUniqueOrThrow({ where: { mailbox: MAILBOX } });
    expect(first.historyCursor).toBe(g.sandbox.currentHistoryId());
    expect(g.sandbox.watch()?.topicName).toBe(topic);

    // Mail arrives that no sync has read yet; then the watch is 6 days old (expires within 24 h).
    const unread = g.sandbox.deliverInbound({ from: 'Ana <ana@creators.test>', subject: 'Hello', text: 'Still interested?' });
    await expect(ensureGmailWatch(deps)).resolves.toBe('current');
    const soon = new Date(Date.now() + 3_600_000);
    await h.db.mailboxSync.update({ where: { mailbox: MAILBOX }, data: { watchExpiration: soon } });
    await expect(ensureGmailWatch(deps)).resolves.toBe('renewed');

    const renewed = await h.db.mailboxSync.findUniqueOrThrow({ where: { mailbox: MAILBOX } });
    expect(renewed.historyCursor).toBe(first.historyCursor);
    expect(renewed.watchExpiration?.getTime()).toBeGreaterThan(soon.getTime() + 86_400_000);
    // The cursor still lists the unread message: nothing was skipped.
    const history = await g.gmail.listHistory(renewed.historyCursor ?? '');
    expect(history.added.map((m) => m.id)).toContain(unread.id);
  });
});
