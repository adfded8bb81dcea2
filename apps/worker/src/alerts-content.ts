import type { KnownBlock } from '@slack/web-api';
import type { Db } from '@parley/db';
import { ceilingPrice, formatMoney } from '@parley/domain';
import { redactString } from '@parley/logging';
import type { JobData } from '@parley/queue';
import { actions, button, context, escapeMrkdwn, fields, header, link, section, truncate } from '@parley/slack';

type Alert = JobData<'alerts'>;

export interface AlertMessage {
  /** The notification text (and what clients without Block Kit show). */
  text: string;
  blocks: KnownBlock[];
}

export interface ContentDeps {
  db: Db;
  /** PUBLIC_URL: where the dashboard's links point. */
  publicUrl: string;
}

export const ALERT_ACTION_IDS = { replay: 'dead_letter_replay', discard: 'dead_letter_discard', claim: 'negotiation_claim' } as const;

const ERROR_CHARS = 600;
const ROSTER_ROWS_SHOWN = 25;
const REPLY_CHARS = 2_800;

export interface NegotiationSummary {
  id: string;
  influencerName: string;
  campaignName: string;
}

/** Links into the dashboard (docs/dashboard.md). */
export function dashboardLinks(publicUrl: string) {
  const base = publicUrl.replace(/\/+$/, '');
  return {
    home: `${base}/admin/`,
    deadLetters: `${base}/admin/dead-letters`,
    timeline: (negotiationId: string) => `${base}/admin/negotiations/${encodeURIComponent(negotiationId)}`,
  };
}

/** Text from outside (error messages, roster cells): no addresses or tokens, no mrkdwn control. */
function clean(text: string, max: number): string {
  return escapeMrkdwn(truncate(redactString(text), max));
}

/** The negotiation a dead letter's payload is about (a step names it; a send names its outbox row). */
export async function negotiationOfPayload(db: Db, payload: unknown): Promise<string | null> {
  if (typeof payload !== 'object' || payload === null) return null;
  const { negotiationId, outboxId } = payload as Record<string, unknown>;
  if (typeof negotiationId === 'string') return negotiationId;
  if (typeof outboxId === 'string') return (await db.outboxEmail.findUnique({ where: { id: outboxId }, select: { negotiationId: true } }))?.negotiationId ?? null;
  return null;
}

async function summary(db: Db, negotiationId: string | null | undefined): Promise<NegotiationSummary | null> {
  if (!negotiationId) return null;
  const n = await db.negotiation.findUnique({ where: { id: negotiationId }, select: { id: true, influencerName: true, campaign: { select: { name: true } } } });
  return n ? { id: n.id, influencerName: n.influencerName, campaignName: n.campaign.name } : null;
}

/** "*Ayesha Khan* · campaign *Summer launch*": who and what, never an address. */
function who(n: NegotiationSummary): string {
  return `*${clean(n.influencerName, 120)}* · campaign *${clean(n.campaignName, 120)}*`;
}

export async function deadLetterMessage(deps: ContentDeps, alert: Alert): Promise<AlertMessage> {
  const links = dashboardLinks(deps.publicUrl);
  const row = alert.deadLetterId ? await deps.db.deadLetter.findUnique({ where: { id: alert.deadLetterId } }) : null;
  const negotiation = await summary(deps.db, row ? await negotiationOfPayload(deps.db, row.payload) : alert.negotiationId);
  const title = row ? `Dead letter on ${row.queue}` : alert.title;
  const blocks: KnownBlock[] = [header(`:rotating_light: ${title}`)];
  if (row) {
    blocks.push(
      section(`Job \`${clean(row.jobId, 200)}\` (${clean(row.jobName, 80)}) failed for good after ${row.attempts} attempt(s).`),
      fields([
        ['Queue', clean(row.queue, 80)],
        ['Error class', clean(row.errorClass, 80)],
        ['Attempts', String(row.attempts)],
        ['Failed at', row.failedAt.toISOString()],
      ]),
      // A fence inside the message would end the code block early.
      section(`\`\`\`${clean(row.errorMessage, ERROR_CHARS).replace(/`{3,}/g, "'''")}\`\`\``),
    );
  } else {
    blocks.push(section(clean(alert.text, ERROR_CHARS)));
  }
  if (negotiation) blocks.push(section(`Negotiation: ${who(negotiation)}`));
  const refs = [negotiation ? link(links.timeline(negotiation.id), 'Timeline') : null, link(links.deadLetters, 'Dead letters'), link(links.home, 'Dashboard')].filter((r): r is string => r !== null);
  blocks.push(context(refs.join(' · ')));
  if (row) {
    blocks.push(
      actions(
        'dead_letter_actions',
        button({ actionId: ALERT_ACTION_IDS.replay, text: 'Replay', value: row.id, style: 'primary' }),
        button({ actionId: ALERT_ACTION_IDS.discard, text: 'Discard', value: row.id, style: 'danger' }),
      ),
    );
  }
  const about = negotiation ? ` (${truncate(negotiation.influencerName, 80)}, ${truncate(negotiation.campaignName, 80)})` : '';
  return { text: `${title}: ${row ? `${row.jobName} failed after ${row.attempts} attempt(s)` : 'a job failed for good'}${about}`, blocks };
}

/** Turns the stored reason into a sentence an operator can act on, with the numbers. */
export function escalationReason(n: {
  escalationReason: string | null;
  round: number;
  lastAskMinor: number | null;
  currentOfferMinor: number | null;
  currency: string;
  averageViews: number;
  campaign: { cpmFloorMinor: number; cpmCeilingMinor: number; maxRounds: number };
}): string {
  const reason = n.escalationReason ?? 'no reason recorded';
  const rounds = `after ${n.round} round${n.round === 1 ? '' : 's'}`;
  if (/above ceiling/.test(reason) && n.lastAskMinor !== null) {
    const ceiling = ceilingPrice({ ...n.campaign, currency: n.currency, averageViews: n.averageViews });
    return `asked ${formatMoney(n.lastAskMinor, n.currency)}, ceiling ${formatMoney(ceiling, n.currency)}, ${rounds}`;
  }
  const llm = /^llm_unavailable:\s*(.*)$/.exec(reason);
  if (llm) return `the LLM could not be reached (${llm[1]}); nothing was sent, ${rounds}`;
  return `${reason}, ${rounds}`;
}

export async function escalationMessage(deps: ContentDeps, alert: Alert): Promise<AlertMessage> {
  const links = dashboardLinks(deps.publicUrl);
  const n = alert.negotiationId
    ? await deps.db.negotiation.findUnique({ where: { id: alert.negotiationId }, include: { campaign: { select: { name: true, cpmFloorMinor: true, cpmCeilingMinor: true, maxRounds: true } } } })
    : null;
  // The payload's text can quote the influencer's email (a reply on an escalated thread): only
  // the claimer gets that, by DM; the channel gets what the database says.
  if (!n) return { text: alert.title, blocks: [header(`:raising_hand: ${alert.title}`), section('The negotiation is no longer in the database.'), context(link(links.home, 'Dashboard'))] };
  const reason = escalationReason(n);
  const money = (minor: number | null) => (minor === null ? '—' : formatMoney(minor, n.currency));
  const blocks: KnownBlock[] = [
    header(`:raising_hand: ${alert.title}`),
    section(`${who({ id: n.id, influencerName: n.influencerName, campaignName: n.campaign.name })}\n*Why:* ${clean(reason, 500)}`),
    fields([
      ['Rounds', `${n.round} of ${n.campaign.maxRounds}`],
      ['Last offer', money(n.currentOfferMinor)],
      ['Their ask', money(n.lastAskMinor)],
      ['State', n.state],
    ]),
    context(`${link(links.timeline(n.id), 'Timeline')} · ${link(links.home, 'Dashboard')}`),
    actions('negotiation_actions', button({ actionId: ALERT_ACTION_IDS.claim, text: 'Claim', value: n.id, style: 'primary' })),
  ];
  return { text: `${alert.title}: ${truncate(n.influencerName, 80)} (${truncate(n.campaign.name, 80)}): ${truncate(reason, 300)}`, blocks };
}

export function campaignProblemMessage(deps: Pick<ContentDeps, 'publicUrl'>, alert: Alert): AlertMessage {
  const links = dashboardLinks(deps.publicUrl);
  // Roster problems arrive as "row 4: …; row 7: …"; other campaign problems as one sentence.
  const items = alert.text.split(/;\s+(?=row \d+:)/i).filter((s) => s.trim() !== '');
  const shown = items.slice(0, ROSTER_ROWS_SHOWN).map((item) => `• ${clean(item.replace(/^row (\d+):/i, 'Row $1:'), 300)}`);
  if (items.length > shown.length) shown.push(`…and ${items.length - shown.length} more`);
  return {
    text: alert.title,
    blocks: [header(`:warning: ${alert.title}`), section(shown.join('\n') || '(no details)'), context(link(links.home, 'Dashboard'))],
  };
}

/**
 * The one message that carries an email's text: the reply, to the person who claimed it. When
 * it goes to the shared alert channel instead (claimed from the dashboard, or the claimer
 * cannot be messaged), the text stays out: the channel gets who wrote and the links.
 */
export async function takeoverReplyMessage(deps: ContentDeps, alert: Alert, withText = true): Promise<AlertMessage> {
  const links = dashboardLinks(deps.publicUrl);
  const n = alert.negotiationId
    ? await deps.db.negotiation.findUnique({ where: { id: alert.negotiationId }, select: { id: true, influencerName: true, gmailThreadId: true, campaign: { select: { name: true } } } })
    : null;
  const refs = n
    ? [link(links.timeline(n.id), 'Timeline'), n.gmailThreadId ? link(`https://mail.google.com/mail/u/0/#all/${encodeURIComponent(n.gmailThreadId)}`, 'Open the thread in Gmail') : null]
    : [link(links.home, 'Dashboard')];
  const lead = n ? `:envelope: New reply from ${who({ id: n.id, influencerName: n.influencerName, campaignName: n.campaign.name })} on a negotiation you claimed.` : `:envelope: ${escapeMrkdwn(alert.title)}`;
  return {
    text: n ? `New reply from ${truncate(n.influencerName, 80)} on a negotiation you claimed` : alert.title,
    blocks: [
      section(lead),
      section(withText ? escapeMrkdwn(truncate(alert.text, REPLY_CHARS)) : '_The reply is not shown in the channel; read it in the thread or on the timeline._'),
      context(refs.filter((r): r is string => r !== null).join(' · ')),
    ],
  };
}

export async function infoMessage(deps: ContentDeps, alert: Alert): Promise<AlertMessage> {
  const links = dashboardLinks(deps.publicUrl);
  const n = await summary(deps.db, alert.negotiationId);
  // Info alerts may quote a reply too; the channel gets the title and the links only.
  return {
    text: alert.title,
    blocks: [
      header(`:information_source: ${alert.title}`),
      ...(n ? [section(`Negotiation: ${who(n)}`)] : []),
      context([n ? link(links.timeline(n.id), 'Timeline') : null, link(links.home, 'Dashboard')].filter((r): r is string => r !== null).join(' · ')),
    ],
  };
}

export function digestMessage(deps: Pick<ContentDeps, 'publicUrl'>, counts: Record<string, number>, perWindow: number, windowMs = 60_000): AlertMessage {
  const links = dashboardLinks(deps.publicUrl);
  const span = windowMs === 60_000 ? 'one minute' : `${Math.round(windowMs / 1000)} s`;
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  const label: Record<string, [string, string]> = {
    dead_letter: ['dead letter', 'dead letters'],
    escalation: ['escalation', 'escalations'],
    campaign_problem: ['campaign problem', 'campaign problems'],
    info: ['notice', 'notices'],
  };
  const lines = Object.entries(counts)
    .sort(([, a], [, b]) => b - a)
    .map(([kind, count]) => `• ${count} ${(label[kind] ?? [kind, kind])[count === 1 ? 0 : 1]}`);
  return {
    text: `${total} more alert(s) in ${span}, folded into this digest`,
    blocks: [
      header(`:hourglass: ${total} more alert${total === 1 ? '' : 's'} in ${span}`),
      section(lines.join('\n')),
      context(`Beyond ${perWindow} alerts in ${span} (SLACK_ALERTS_PER_MINUTE) the rest are counted here. ${link(links.deadLetters, 'Dead letters')} · ${link(links.home, 'Dashboard')}`),
    ],
  };
}

/** `toClaimer`: the message goes to the claimer's DM (the only place an email's text may go). */
export function buildAlertMessage(deps: ContentDeps, alert: Alert, toClaimer = false): Promise<AlertMessage> | AlertMessage {
  switch (alert.kind) {
    case 'dead_letter':
      return deadLetterMessage(deps, alert);
    case 'escalation':
      return escalationMessage(deps, alert);
    case 'campaign_problem':
      return campaignProblemMessage(deps, alert);
    case 'takeover_reply':
      return takeoverReplyMessage(deps, alert, toClaimer);
    case 'info':
    case 'digest':
      return infoMessage(deps, alert);
  }
}
