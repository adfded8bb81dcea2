import { withTx } from '@parley/db';
import { seedCampaign, seedInbound, seedNegotiation, seedOutbox, seedTransition } from '../admin/seed';
import { ACTOR, parley, startWorld, type CliWorld } from './cli-harness';

const BODY = 'Our rate is final, call me at home';
const REPLY = 'I would do it for 4200 dollars, my cousin Bob agrees';

describe('parley negotiation show / claim / resume (real SQLite and Redis)', () => {
  let world: CliWorld;
  let campaignId: string;
  beforeAll(async () => {
    world = await startWorld('cli-neg');
    campaignId = await seedCampaign(world.db, 'Winter Glow');
  });
  afterAll(async () => {
    await world?.close();
  });

  async function negotiation(email: string, data: Parameters<typeof seedNegotiation>[2]) {
    return seedNegotiation(world.db, campaignId, { influencerEmail: email, ...data });
  }

  it('shows state, prices, rounds and the last messages’ metadata: no bodies, no full addresses; found by email, thread id or id', async () => {
    const id = await negotiation('olivia.owl@owlmedia.example', {
      influencerName: 'Olivia Owl',
      state: 'counter_sent',
      round: 2,
      averageViews: 100_000,
      currentOfferMinor: 180_000,
      lastAskMinor: 420_000,
      gmailThreadId: 'thread-olivia-1',
    });
    await seedOutbox(world.db, id, { key: 'open', status: 'sent', toAddress: 'olivia.owl@owlmedia.example', subject: 'Collaboration with Winter Glow', body: BODY });
    await seedInbound(world.db, id, { receivedAt: new Date(), subject: 'Re: offer for olivia.owl@owlmedia.example', text: REPLY });
    await seedTransition(world.db, id, { from: 'counter_received', event: 'counter_sent', to: 'counter_sent', at: new Date(), details: { askedMinor: 420_000, text: REPLY } });

    const text = await parley(['negotiation', 'show', 'Olivia.Owl@owlmedia.example'], world.env);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`Negotiation ${id}`);
    expect(text.stdout).toMatch(/state\s+counter_sent/);
    expect(text.stdout).toMatch(/round\s+2 of 3/);
    // CPM $10-$25 on 100k views: floor $1,000, ceiling $2,500.
    expect(text.stdout).toMatch(/prices\s+floor \$1,000, ceiling \$2,500; offer \$1,800; last ask \$4,200; agreed -/);
    expect(text.stdout).toMatch(/in\s+reply\s+creator\.example\s+not yet answered\s+"Re: offer for \*\*\*@owlmedia\.example"/);
    expect(text.stdout).toMatch(/out\s+opening\s+owlmedia\.example\s+sent\s+"Collaboration with Winter Glow"/);
    expect(text.stdout).toMatch(/counter_received -> counter_sent -> counter_sent/);
    const everything = text.stdout + text.stderr;
    for (const secret of [BODY, REPLY, 'olivia.owl@', 'Bob']) expect(everything).not.toContain(secret);

    const json = await parley(['negotiation', 'show', 'thread-olivia-1', '--json'], world.env);
    expect(json.code).toBe(0);
    const shown = JSON.parse(json.stdout) as { id: string; influencer: { email: string }; prices: Record<string, unknown>; messages: unknown[]; transitions: { details: unknown }[] };
    expect(shown).toMatchObject({ id, influencer: { email: '***@owlmedia.example' }, prices: { currency: 'USD', floor: '$1,000', ceiling: '$2,500', currentOffer: '$1,800', lastAsk: '$4,200', agreed: null } });
    expect(shown.messages).toHaveLength(2);
    expect(shown.transitions[0]?.details).toEqual({ askedMinor: 420_000, text: '[redacted]' });
    expect(json.stdout).not.toContain(REPLY);
    expect((await parley(['negotiation', 'show', id], world.env)).stdout).toContain(`Negotiation ${id}`);
  });

  it('claims and resumes through the engine: same transitions and audit entries as the dashboard and Slack, actor cli:<user>', async () => {
    const id = await negotiation('cara.claim@claims.example', { influencerName: 'Cara Claim', state: 'awaiting_reply', gmailThreadId: 'thread-cara' });
    await seedOutbox(world.db, id, { key: 'open', status: 'sent' });

    const claimed = await parley(['negotiation', 'claim', 'thread-cara'], world.env);
    expect(claimed.code).toBe(0);
    expect(claimed.stdout).toContain(`Claimed negotiation ${id} for ${ACTOR} (state human_managed)`);
    expect(await world.db.negotiation.findUniqueOrThrow({ where: { id } })).toMatchObject({ state: 'human_managed', claimedBy: ACTOR, claimedBySlackId: null });
    expect(await world.db.auditEntry.findFirst({ where: { negotiationId: id, action: 'claimed' } })).toMatchObject({ actor: `human:${ACTOR}` });

    const twice = await parley(['negotiation', 'claim', id], world.env);
    expect(twice.code).toBe(0);
    expect(twice.stdout).toMatch(/already hold/);
    expect(await world.db.transition.count({ where: { negotiationId: id, event: 'claimed' } })).toBe(1);

    const resumed = await parley(['negotiation', 'resume', 'cara.claim@claims.example'], world.env);
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toContain(`Resumed negotiation ${id} (state awaiting_reply)`);
    expect(await world.db.negotiation.findUniqueOrThrow({ where: { id } })).toMatchObject({ state: 'awaiting_reply', claimedBy: null });
    expect(await world.db.auditEntry.findFirst({ where: { negotiationId: id, action: 'resumed' } })).toMatchObject({ actor: `human:${ACTOR}` });

    const notClaimed = await parley(['negotiation', 'resume', id], world.env);
    expect(notClaimed.code).toBe(1);
    expect(notClaimed.stderr).toMatch(/not resumed: negotiation is not claimed \(state awaiting_reply\); nothing changed/);
    expect(await world.db.transition.count({ where: { negotiationId: id, event: 'resumed' } })).toBe(1);
  });

  it('a resume before our opening went out starts over: the opening step is enqueued again', async () => {
    const id = await negotiation('nina.new@new.example', { influencerName: 'Nina New', state: 'new' });
    expect((await parley(['negotiation', 'claim', id], world.env)).code).toBe(0);
    const resumed = await parley(['negotiation', 'resume', id], world.env);
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toMatch(/state new\): the agent has it again and starts over/);
    const version = (await world.db.negotiation.findUniqueOrThrow({ where: { id } })).version;
    expect(await world.queues['negotiation-steps'].getJob(`step.${id}.reopen-${version}`)).toBeDefined();
  });

  it('refuses a negotiation someone else holds, an unknown reference and an ambiguous email, changing nothing', async () => {
    const held = await negotiation('hank.held@held.example', { influencerName: 'Hank Held', state: 'awaiting_reply' });
    await withTx(world.db, (tx) => tx.negotiation.update({ where: { id: held }, data: { state: 'human_managed', claimedBy: 'slack:U0OTHER', claimedAt: new Date() } }));
    const refused = await parley(['negotiation', 'claim', held], world.env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/not claimed: already claimed by slack:U0OTHER; nothing changed/);
    expect(await world.db.negotiation.findUniqueOrThrow({ where: { id: held } })).toMatchObject({ claimedBy: 'slack:U0OTHER' });

    const unknown = await parley(['negotiation', 'show', 'nobody@nowhere.example'], world.env);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/no negotiation matches that id, thread or email/);

    const other = await seedCampaign(world.db, 'Spring Glow');
    const a = await negotiation('twin@twins.example', { influencerName: 'Twin', state: 'awaiting_reply' });
    const b = await seedNegotiation(world.db, other, { influencerName: 'Twin', influencerEmail: 'twin@twins.example', state: 'counter_sent' });
    const ambiguous = await parley(['negotiation', 'claim', 'twin@twins.example'], world.env);
    expect(ambiguous.code).toBe(1);
    expect(ambiguous.stderr).toContain(a);
    expect(ambiguous.stderr).toContain(b);
    expect(ambiguous.stderr).not.toContain('twin@');
    expect(await world.db.negotiation.count({ where: { influencerEmail: 'twin@twins.example', state: 'human_managed' } })).toBe(0);
  });
});
