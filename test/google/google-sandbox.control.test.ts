import { buildMime, HistoryExpiredError } from '@parley/google';
import { TransientError } from '@parley/queue';
import { connectGoogleSandbox, type GoogleSandboxControl } from '@parley/sandbox/google';
import { failure, startGoogleHarness, type GoogleHarness } from './google.harness';

let h: GoogleHarness;
let control: GoogleSandboxControl;
beforeAll(async () => {
  h = await startGoogleHarness({ mailbox: 'deals@brand.test' });
  control = connectGoogleSandbox(h.sandbox.url);
});
afterAll(async () => {
  await h.sandbox.close();
});

describe('the sandbox control API over HTTP', () => {
  it('sets sheet values that the Sheets API then serves', async () => {
    await control.setSheet('sheet-1', 'Roster!A1', [['name', 'email'], ['Ana', 'ana@influencer.test']]);
    await expect(h.sheets.getValues('sheet-1', 'Roster!A1:F')).resolves.toEqual([['name', 'email'], ['Ana', 'ana@influencer.test']]);
  });

  it('delivers inbound mail, reports what the agent sent, and lists notifications', async () => {
    const start = h.sandbox.currentHistoryId();
    const sent = await h.gmail.send(buildMime({ from: 'deals@brand.test', to: 'ana@influencer.test', subject: 'Hello', body: 'Offer $10.00', messageIdHdr: '<c-1@parley.test>' }));
    const delivered = await control.deliverInbound({ threadId: sent.threadId, from: 'ana@influencer.test', subject: 'Re: Hello', text: 'Deal', inReplyTo: '<c-1@parley.test>' });
    expect(delivered.threadId).toBe(sent.threadId);
    const unsolicited = await control.deliverInbound({ from: 'x@elsewhere.test', subject: 'Spam', text: 'Buy' });
    expect(unsolicited.threadId).toBe(unsolicited.id);

    const outbound = await control.sent();
    expect(outbound).toEqual([expect.objectContaining({ id: sent.id, direction: 'outbound', messageIdHdr: '<c-1@parley.test>', text: 'Offer $10.00' })]);
    expect(outbound[0]?.date).toBeInstanceOf(Date);
    const thread = await control.messagesInThread(sent.threadId);
    expect(thread.map((m) => m.direction)).toEqual(['outbound', 'inbound']);

    // Only INBOX changes are pushed when no watch narrows them.
    const pushed = await control.notifications(start);
    expect(pushed.map((n) => n.historyId)).toEqual([delivered.historyId, unsolicited.historyId]);

    const history = await h.gmail.listHistory(start);
    expect(history.added.map((m) => m.id)).toEqual([sent.id, delivered.id, unsolicited.id]);
  });

  it('expires history and injects failures', async () => {
    const old = h.sandbox.currentHistoryId();
    await h.gmail.send(buildMime({ from: 'deals@brand.test', to: 'ben@influencer.test', subject: 'Hi', body: 'x', messageIdHdr: '<c-2@parley.test>' }));
    await control.expireHistoryBefore(h.sandbox.currentHistoryId());
    await expect(h.gmail.listHistory(old)).rejects.toBeInstanceOf(HistoryExpiredError);

    await control.failNext(1, { status: 502 });
    const error = await failure(h.gmail.findByMessageIdHeader('<c-2@parley.test>'));
    expect(error).toBeInstanceOf(TransientError);
    await expect(h.gmail.findByMessageIdHeader('<c-2@parley.test>')).resolves.not.toBeNull();
    await expect(control.state()).resolves.toMatchObject({ mailbox: 'deals@brand.test', pendingFailures: 0 });
  });

  it('rejects malformed control requests', async () => {
    await expect(control.deliverInbound({ threadId: 'nope', from: 'a@b.test', subject: 's', text: 't' })).rejects.toThrow(/400/);
  });
});
