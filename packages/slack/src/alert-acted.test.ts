import { startSlackSandbox, type SlackSandbox } from '@parley/sandbox';
import { actions, button, section } from './blocks';
import { alertMetadata, findAlertMessage } from './alert-metadata';
import { markAlertActed } from './alert-acted';
import { createSlackClient } from './slack.client';

let sandbox: SlackSandbox;
beforeAll(async () => {
  sandbox = await startSlackSandbox();
});
afterAll(async () => {
  await sandbox.close();
});

const client = () => createSlackClient({ token: sandbox.botToken, apiUrl: sandbox.url });
const buttons = actions('dl', button({ actionId: 'dead_letter_replay', text: 'Replay', value: 'dl1' }), button({ actionId: 'dead_letter_discard', text: 'Discard', value: 'dl1' }));

describe('markAlertActed', () => {
  it('keeps the content, removes the buttons and says who did what, top-level or in a thread', async () => {
    const root = await client().chat.postMessage({ channel: sandbox.channel, text: 'Dead letter', blocks: [section('*Dead letter* on outbound-email'), buttons] });
    const reply = await client().chat.postMessage({ channel: sandbox.channel, text: 'Another', thread_ts: root.ts, blocks: [section('*Another*'), buttons] });

    await markAlertActed(client(), { channel: sandbox.channel, ts: root.ts ?? '', userId: 'U0OPERATOR1', action: 'replayed', detail: 'job send.x.replay-dl1' });
    await markAlertActed(client(), { channel: sandbox.channel, ts: reply.ts ?? '', userId: 'U0OPERATOR2', action: 'discarded' });

    const [updatedRoot, updatedReply] = [root.ts, reply.ts].map((ts) => sandbox.messages(sandbox.channel).find((m) => m.ts === ts));
    expect(JSON.stringify(updatedRoot?.blocks)).toContain('on outbound-email');
    expect(JSON.stringify(updatedRoot?.blocks)).toContain('Replayed by <@U0OPERATOR1> (job send.x.replay-dl1)');
    expect(updatedRoot?.blocks?.some((b) => (b as { type: string }).type === 'actions')).toBe(false);
    expect(JSON.stringify(updatedReply?.blocks)).toContain('Discarded by <@U0OPERATOR2>');
    expect(updatedReply?.blocks?.some((b) => (b as { type: string }).type === 'actions')).toBe(false);
    expect(updatedReply?.text).toContain('Discarded by');
  });
});

describe('findAlertMessage', () => {
  it('finds an alert by its metadata in the channel and in a thread, and nothing for another id', async () => {
    const since = new Date(Date.now() - 1000);
    const root = await client().chat.postMessage({ channel: sandbox.channel, text: 'a', metadata: alertMetadata('alert-root') });
    const reply = await client().chat.postMessage({ channel: sandbox.channel, text: 'b', thread_ts: root.ts, metadata: alertMetadata('alert-reply') });
    await expect(findAlertMessage(client(), { channel: sandbox.channel, alertId: 'alert-root', since })).resolves.toEqual({ ts: root.ts });
    await expect(findAlertMessage(client(), { channel: sandbox.channel, alertId: 'alert-reply', threadTs: root.ts, since })).resolves.toEqual({ ts: reply.ts });
    await expect(findAlertMessage(client(), { channel: sandbox.channel, alertId: 'alert-reply', since })).resolves.toBeNull();
    await expect(findAlertMessage(client(), { channel: sandbox.channel, alertId: 'nope', since })).resolves.toBeNull();
  });
});
