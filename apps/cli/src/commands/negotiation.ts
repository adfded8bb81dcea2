import { z } from 'zod';
import { optionValues, type Command } from '../command';
import type { Context } from '../context';
import { CommandError, EXIT } from '../errors';
import { table, truncate, utc } from '../output';
import { resolveNegotiation } from './negotiation-ref';

/**
 * The currency of the last ask, read as the dashboard reads it: `askedCurrency` in the details of
 * the step that read it, else the one an escalation names ("reply names EUR, ..."), else the campaign's.
 */
function askCurrency(n: { currency: string; escalationReason: string | null }, newestFirst: { details: unknown }[]): string {
  const asked = newestFirst.find((t) => typeof (t.details as { askedMinor?: unknown } | null)?.askedMinor === 'number');
  const details = (asked?.details ?? {}) as { askedCurrency?: unknown; decision?: unknown };
  if (typeof details.askedCurrency === 'string' && /^[A-Z]{3}$/.test(details.askedCurrency)) return details.askedCurrency;
  const named = /^reply names ([A-Z]{3}),/.exec(n.escalationReason ?? '');
  if (asked && details.decision === 'escalate' && named?.[1]) return named[1];
  return n.currency;
}

const REF_HELP = '<ref> is a negotiation id, a Gmail thread id or the influencer’s email (an open negotiation wins).';
const RECENT = 10;

async function showData(ctx: Context, id: string) {
  const [{ ceilingPrice, floorPrice, formatMoney }, { emailDomain, redact, redactString }] = await Promise.all([import('@parley/domain'), import('@parley/logging')]);
  // An address as the dashboard shows it: the domain only.
  const masked = (address: string) => `***@${emailDomain(address)}`;
  const db = await ctx.db();
  const n = await db.negotiation.findUniqueOrThrow({ where: { id }, include: { campaign: true } });
  const [inbound, outbound, transitions, audits] = await Promise.all([
    db.inboundMessage.findMany({
      where: { negotiationId: id },
      orderBy: { receivedAt: 'desc' },
      take: RECENT,
      select: { gmailMessageId: true, receivedAt: true, fromDomain: true, subject: true, processedAt: true, problem: true },
    }),
    db.outboxEmail.findMany({
      where: { negotiationId: id },
      orderBy: { createdAt: 'desc' },
      take: RECENT,
      select: { id: true, kind: true, toAddress: true, subject: true, status: true, createdAt: true, sentAt: true },
    }),
    db.transition.findMany({ where: { negotiationId: id }, orderBy: { at: 'desc' }, take: RECENT }),
    db.auditEntry.findMany({ where: { negotiationId: id }, orderBy: { at: 'desc' }, take: RECENT }),
  ]);
  const currency = n.currency;
  const terms = { cpmFloorMinor: n.campaign.cpmFloorMinor, cpmCeilingMinor: n.campaign.cpmCeilingMinor, maxRounds: n.campaign.maxRounds, currency, averageViews: n.averageViews };
  const money = (minor: number | null, inCurrency = currency) => (minor === null ? null : formatMoney(minor, inCurrency));
  const messages = [
    ...inbound.map((m) => ({
      at: m.receivedAt.toISOString(),
      direction: 'in' as const,
      kind: 'reply',
      domain: m.fromDomain ?? 'unknown',
      subject: redactString(m.subject ?? '(no subject)'),
      status: m.problem ? `not answered: ${redactString(m.problem.split(':')[0] ?? m.problem)}` : m.processedAt ? 'handled' : 'not yet answered',
      id: m.gmailMessageId,
    })),
    ...outbound.map((m) => ({
      at: (m.sentAt ?? m.createdAt).toISOString(),
      direction: 'out' as const,
      kind: m.kind,
      domain: emailDomain(m.toAddress),
      subject: redactString(m.subject),
      status: m.status,
      id: m.id,
    })),
  ]
    .sort((a, b) => b.at.localeCompare(a.at))
    .slice(0, RECENT);
  return {
    id: n.id,
    influencer: { name: n.influencerName, email: masked(n.influencerEmail), platform: n.platform, averageViews: n.averageViews },
    campaign: { id: n.campaignId, name: n.campaign.name, maxRounds: n.campaign.maxRounds },
    state: n.state,
    round: n.round,
    followUps: n.followUps,
    claimedBy: n.claimedBy,
    escalationReason: n.escalationReason === null ? null : redactString(n.escalationReason),
    gmailThreadId: n.gmailThreadId,
    prices: {
      currency,
      floor: formatMoney(floorPrice(terms), currency),
      ceiling: formatMoney(ceilingPrice(terms), currency),
      currentOffer: money(n.currentOfferMinor),
      // An ask in another currency is escalated, not converted: it is shown in its own currency.
      lastAsk: money(n.lastAskMinor, askCurrency(n, transitions)),
      agreed: money(n.agreedRateMinor),
    },
    lastOutboundAt: n.lastOutboundAt?.toISOString() ?? null,
    lastInboundAt: n.lastInboundAt?.toISOString() ?? null,
    createdAt: n.createdAt.toISOString(),
    messages,
    transitions: transitions.map((t) => ({ at: t.at.toISOString(), from: t.fromState, event: t.event, to: t.toState, details: redact(t.details) })),
    audit: audits.map((a) => ({ at: a.at.toISOString(), actor: a.actor, action: a.action, details: redact(a.details) })),
  };
}

function printShow(ctx: Context, s: Awaited<ReturnType<typeof showData>>): void {
  const out = ctx.out;
  out.line(`Negotiation ${s.id}`);
  for (const line of table([
    ['influencer', `${s.influencer.name} <${s.influencer.email}> on ${s.influencer.platform}, ${s.influencer.averageViews.toLocaleString('en-US')} average views`],
    ['campaign', `${s.campaign.name} (${s.campaign.id})`],
    ['state', `${s.state}${s.claimedBy ? ` (claimed by ${s.claimedBy})` : ''}`],
    ['round', `${s.round} of ${s.campaign.maxRounds}; follow-ups sent: ${s.followUps}`],
    ['prices', `floor ${s.prices.floor}, ceiling ${s.prices.ceiling}; offer ${s.prices.currentOffer ?? '-'}; last ask ${s.prices.lastAsk ?? '-'}; agreed ${s.prices.agreed ?? '-'}`],
    ...(s.escalationReason ? [['escalation', s.escalationReason]] : []),
    ['gmail thread', s.gmailThreadId ?? '-'],
    ['last email', `ours ${utc(s.lastOutboundAt ? new Date(s.lastOutboundAt) : null)}, theirs ${utc(s.lastInboundAt ? new Date(s.lastInboundAt) : null)} (UTC)`],
  ])) {
    out.line(`  ${line}`);
  }
  out.line();
  out.line(`Last messages (newest first, no bodies; addresses as domains):`);
  if (s.messages.length === 0) out.line('  none');
  for (const line of table(s.messages.map((m) => [utc(new Date(m.at)), m.direction, m.kind, m.domain, m.status, `"${truncate(m.subject, 80)}"`]))) out.line(`  ${line}`);
  out.line();
  out.line('Last transitions:');
  if (s.transitions.length === 0) out.line('  none');
  for (const line of table(s.transitions.map((t) => [utc(new Date(t.at)), `${t.from} -> ${t.event} -> ${t.to}`]))) out.line(`  ${line}`);
  if (s.audit.length > 0) {
    out.line();
    out.line('Last audit entries:');
    for (const line of table(s.audit.map((a) => [utc(new Date(a.at)), a.actor, a.action]))) out.line(`  ${line}`);
  }
}

const showOptions = z.object({ json: z.boolean().default(false) });

export const showNegotiation: Command = {
  path: ['negotiation', 'show'],
  usage: 'parley negotiation show <ref> [--json]',
  summary: 'a negotiation’s state, prices, rounds and last messages',
  help: [
    REF_HELP,
    'Shows the state, claim, prices (floor, ceiling, offer, last ask, agreed), rounds, the last messages',
    '(direction, kind, the correspondent’s domain, subject, status: never a body or a full address) and',
    'the last transitions and audit entries.',
    '',
    '  --json   the same as one JSON document',
    '',
    'Needs DATABASE_URL only.',
  ].join('\n'),
  options: { json: { type: 'boolean' } },
  positionals: ['ref'],
  async run(ctx, { values, positionals }) {
    const opts = optionValues(this, showOptions, values);
    const id = await resolveNegotiation(await ctx.db(), positionals[0] ?? '', this.usage);
    const data = await showData(ctx, id);
    if (opts.json) ctx.out.json(data);
    else printShow(ctx, data);
    return EXIT.ok;
  },
};

async function takeover(ctx: Context, ref: string, usage: string, what: 'claim' | 'resume'): Promise<number> {
  const { claimNegotiation, resumeNegotiation, TakeoverError } = await import('@parley/engine');
  const db = await ctx.db();
  const id = await resolveNegotiation(db, ref, usage);
  const by = ctx.actor;
  const before = await db.negotiation.findUniqueOrThrow({ where: { id }, select: { state: true, claimedBy: true } });
  if (what === 'claim' && before.state === 'human_managed' && before.claimedBy === by) {
    ctx.out.line(`You (${by}) already hold negotiation ${id}; nothing changed.`);
    return EXIT.ok;
  }
  // The engine's operations, as the dashboard and Slack call them: same transition, same audit entry.
  const deps = { db, queues: await ctx.queues(), metrics: await ctx.metrics(), log: await ctx.log(), now: ctx.now };
  try {
    const state = what === 'claim' ? await claimNegotiation(deps, { negotiationId: id, by }) : await resumeNegotiation(deps, { negotiationId: id, by });
    ctx.out.line(
      what === 'claim'
        ? `Claimed negotiation ${id} for ${by} (state ${state}): the agent will not write on it until \`parley negotiation resume ${id}\`.`
        : `Resumed negotiation ${id} (state ${state}): the agent has it again${state === 'new' ? ' and starts over from the opening offer' : ''}.`,
    );
    return EXIT.ok;
  } catch (error) {
    if (error instanceof TakeoverError) throw new CommandError(`not ${what === 'claim' ? 'claimed' : 'resumed'}: ${error.message}; nothing changed`);
    throw error;
  }
}

export const claimNegotiationCommand: Command = {
  path: ['negotiation', 'claim'],
  usage: 'parley negotiation claim <ref>',
  summary: 'put a negotiation under you: the agent stops writing on it',
  help: [
    REF_HELP,
    'The same takeover as the dashboard’s Claim and Slack’s /claim: state human_managed, claimedBy',
    'cli:<your user>, a transition and an audit entry (human:cli:<user>). New replies are forwarded to the',
    'Slack alert channel. A negotiation someone else holds, or a finished one, is refused (exit 1).',
    '',
    'Needs DATABASE_URL and REDIS_URL.',
  ].join('\n'),
  options: {},
  positionals: ['ref'],
  run(ctx, { positionals }) {
    return takeover(ctx, positionals[0] ?? '', this.usage, 'claim');
  },
};

export const resumeNegotiationCommand: Command = {
  path: ['negotiation', 'resume'],
  usage: 'parley negotiation resume <ref>',
  summary: 'hand a claimed negotiation back to the agent',
  help: [
    REF_HELP,
    'The same as the dashboard’s Resume and Slack’s /resume: replies that arrived while it was claimed',
    'stay the human’s; the agent answers the next one (a negotiation claimed before our opening went',
    'out starts over). A negotiation that is not claimed is refused (exit 1).',
    '',
    'Needs DATABASE_URL and REDIS_URL.',
  ].join('\n'),
  options: {},
  positionals: ['ref'],
  run(ctx, { positionals }) {
    return takeover(ctx, positionals[0] ?? '', this.usage, 'resume');
  },
};
