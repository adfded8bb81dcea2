import type { Db } from '@parley/db';
import { amountsAboveCeiling, ceilingViolation } from '../../packages/domain/src/ceiling.oracle';
import { DEMO_INFLUENCERS, type DemoInfluencer, type GoogleSandbox, type MailView, type PersonasHandle } from '@parley/sandbox';

const addressIn = (header: string) => (/<([^>]+)>/.exec(header)?.[1] ?? header).trim().toLowerCase();

/** Every message of the mailbox to or from this address (ours and theirs), oldest first. */
export function mailWith(google: GoogleSandbox, threads: string[], address: string): MailView[] {
  const seen = new Map<string, MailView>();
  for (const m of google.sent()) if (addressIn(m.to) === address) seen.set(m.id, m);
  for (const t of threads) for (const m of google.messagesInThread(t)) if (addressIn(m.from) === address || addressIn(m.to) === address) seen.set(m.id, m);
  return [...seen.values()].sort((a, b) => a.date.getTime() - b.date.getTime());
}

export interface IntegrityReport {
  /** Per influencer email: the messages of their thread (ours and theirs). */
  threads: Map<string, MailView[]>;
  inboundCount: number;
  outboundCount: number;
}

/**
 * The invariants of a finished (or paused) loop, checked against the sandbox's Gmail and the
 * database; throws on the first violation with what was found.
 *
 * - one Gmail thread per negotiation, and every email to or from the influencer in it;
 * - every reply (ours after the opening, and theirs) carries In-Reply-To a message of that
 *   thread and References containing it;
 * - every outbox row marked sent is exactly one Gmail message (by Message-ID), and every
 *   email Gmail sent is an outbox row;
 * - every inbound Gmail message is exactly one InboundMessage, processed, and answered or
 *   forwarded exactly once;
 * - no amount in our emails and no agreed rate above the ceiling price.
 */
export async function checkLoopIntegrity(db: Db, google: GoogleSandbox): Promise<IntegrityReport> {
  const fail = (what: string, detail: unknown): never => {
    throw new Error(`${what}: ${JSON.stringify(detail, null, 1)}`);
  };
  const negotiations = await db.negotiation.findMany({ include: { campaign: true, outbox: true, inbound: true } });
  const threadIds = negotiations.map((n) => n.gmailThreadId).filter((t): t is string => t !== null);
  if (new Set(threadIds).size !== threadIds.length) fail('two negotiations share a thread', threadIds);
  const allThreads = [...new Set([...threadIds, ...google.sent().map((m) => m.threadId)])];
  const transitions = await db.transition.findMany({ where: { event: 'reply_received' } });
  const forwards = await db.auditEntry.findMany({ where: { action: { in: ['reply_forwarded', 'reply_forwarded_to_claimer'] } } });
  const threads = new Map<string, MailView[]>();
  let inboundCount = 0;
  let outboundCount = 0;

  for (const n of negotiations) {
    const mail = mailWith(google, allThreads, n.influencerEmail);
    threads.set(n.influencerEmail, mail);
    if (mail.length === 0) continue;
    if (!n.gmailThreadId) fail('a negotiation with mail has no thread', { negotiation: n.id, mail: mail.length });
    const stray = mail.filter((m) => m.threadId !== n.gmailThreadId);
    if (stray.length > 0) fail(`emails of ${n.influencerName} outside the negotiation's thread`, stray.map((m) => ({ id: m.id, threadId: m.threadId, subject: m.subject })));

    const byMessageId = new Map(mail.map((m) => [m.messageIdHdr, m]));
    for (const [i, m] of mail.entries()) {
      if (i === 0) continue;
      if (!m.inReplyTo || !byMessageId.has(m.inReplyTo)) fail(`a reply without In-Reply-To a message of its thread (${n.influencerName})`, { direction: m.direction, inReplyTo: m.inReplyTo });
      if (!m.references?.split(/\s+/).includes(m.inReplyTo ?? '')) fail(`References does not include In-Reply-To (${n.influencerName})`, { references: m.references, inReplyTo: m.inReplyTo });
    }

    const outbound = mail.filter((m) => m.direction === 'outbound');
    outboundCount += outbound.length;
    for (const row of n.outbox.filter((r) => r.status === 'sent')) {
      const copies = outbound.filter((m) => m.messageIdHdr === row.messageIdHdr);
      if (copies.length !== 1) fail(`outbox row ${row.id} is ${copies.length} Gmail messages`, copies.map((c) => c.id));
      if (copies[0]?.id !== row.gmailMessageId) fail(`outbox row ${row.id} records another Gmail message`, { recorded: row.gmailMessageId, found: copies[0]?.id });
    }
    const unknown = outbound.filter((m) => !n.outbox.some((r) => r.messageIdHdr === m.messageIdHdr));
    if (unknown.length > 0) fail(`emails sent to ${n.influencerName} with no outbox row`, unknown.map((m) => m.messageIdHdr));

    const inbound = mail.filter((m) => m.direction === 'inbound');
    inboundCount += inbound.length;
    const recorded = n.inbound.map((r) => r.gmailMessageId).sort();
    if (JSON.stringify(recorded) !== JSON.stringify(inbound.map((m) => m.id).sort())) fail(`inbound of ${n.influencerName} not recorded exactly once`, { gmail: inbound.map((m) => m.id), recorded });
    for (const row of n.inbound) {
      if (!row.processedAt) fail(`an inbound message of ${n.influencerName} was never processed`, row.gmailMessageId);
      const answered = transitions.filter((t) => t.negotiationId === n.id && detailMessages(t.details).includes(row.gmailMessageId)).length;
      const forwarded = forwards.filter((a) => a.negotiationId === n.id && detailMessages(a.details).includes(row.gmailMessageId)).length;
      if (answered + forwarded !== 1) fail(`inbound ${row.gmailMessageId} of ${n.influencerName} handled ${answered + forwarded} times`, { answered, forwarded });
    }

    // The ceiling is computed independently of the production formula (BigInt, CPM x views).
    const { cpmCeilingMinor, currency } = n.campaign;
    if (n.agreedRateMinor !== null) {
      const problem = ceilingViolation(n.agreedRateMinor, cpmCeilingMinor, n.averageViews);
      if (problem !== null) fail(`agreed rate of ${n.influencerName}: ${problem}`, { agreed: n.agreedRateMinor });
    }
    if (n.currentOfferMinor !== null) {
      const problem = ceilingViolation(n.currentOfferMinor, cpmCeilingMinor, n.averageViews);
      if (problem !== null) fail(`offer to ${n.influencerName}: ${problem}`, { offer: n.currentOfferMinor });
    }
    for (const row of n.outbox) {
      const above = amountsAboveCeiling(`${row.subject}\n${row.body}`, currency, cpmCeilingMinor, n.averageViews);
      if (above.length > 0) fail(`our email to ${n.influencerName} states an amount above the ceiling or in another currency`, { above, kind: row.kind });
    }
  }
  return { threads, inboundCount, outboundCount };
}

function detailMessages(details: unknown): string[] {
  if (typeof details !== 'object' || details === null) return [];
  const messages = (details as { messages?: unknown }).messages;
  return Array.isArray(messages) ? messages.filter((m): m is string => typeof m === 'string') : [];
}

/** `count` influencers cycling through the five personas (the demo's, each with its own address). */
export function personaRoster(count: number): DemoInfluencer[] {
  return Array.from({ length: count }, (_, i) => {
    const t = DEMO_INFLUENCERS[i % DEMO_INFLUENCERS.length] as DemoInfluencer;
    const [local, domain] = t.email.split('@');
    return { ...t, name: `${t.name} ${i + 1}`, email: `${local}${i + 1}@${domain}` };
  });
}

/**
 * The fewest emails (ours plus the influencer's) the roster's negotiations exchange, by
 * persona: faults placed at points of progress below it land while the campaign still runs.
 */
export function minimumMail(influencers: readonly DemoInfluencer[]): number {
  const byPersona: Readonly<Record<string, number>> = { accepts: 2, counters: 4, greedy: 6, out_of_office: 3, silent: 2 };
  return influencers.reduce((sum, i) => sum + (byPersona[i.persona.kind] ?? 2), 0);
}

/**
 * For negotiations found in the wrong state: their transitions, inbound messages and the mail in
 * their thread, with times in ms since `started` (ids and times only: no address, no text), so
 * a failed campaign test says where each one went.
 */
export async function historiesOf(db: Db, google: GoogleSandbox, personas: PersonasHandle | null | undefined, wrong: { who: string }[], started: number): Promise<unknown[]> {
  return Promise.all(
    wrong.map(async (w) => {
      const n = await db.negotiation.findFirst({ where: { influencerEmail: w.who } });
      if (!n) return { ...w, negotiation: null };
      const transitions = await db.transition.findMany({ where: { negotiationId: n.id }, orderBy: { at: 'asc' }, select: { at: true, event: true, toState: true, details: true } });
      const inbound = await db.inboundMessage.findMany({ where: { negotiationId: n.id }, select: { gmailMessageId: true, receivedAt: true, createdAt: true, processedAt: true } });
      const outbox = await db.outboxEmail.findMany({ where: { negotiationId: n.id }, select: { kind: true, status: true, createdAt: true, sentAt: true, gmailMessageId: true } });
      const ms = (d: Date | null) => (d ? d.getTime() - started : null);
      return {
        ...w,
        negotiationId: n.id,
        thread: n.gmailThreadId,
        transitions: transitions.map((t) => ({ ms: ms(t.at), event: t.event, to: t.toState, details: t.details })),
        inbound: inbound.map((m) => ({ id: m.gmailMessageId, receivedMs: ms(m.receivedAt), recordedMs: ms(m.createdAt), processedMs: ms(m.processedAt) })),
        outbox: outbox.map((o) => ({ kind: o.kind, status: o.status, createdMs: ms(o.createdAt), sentMs: ms(o.sentAt), id: o.gmailMessageId })),
        gmailThread: n.gmailThreadId ? google.messagesInThread(n.gmailThreadId).map((m) => ({ id: m.id, direction: m.direction, ms: m.date.getTime() - started })) : null,
        personaReplies: (personas?.replies() ?? []).filter((r) => r.influencer === w.who).map((r) => ({ id: r.delivered.id, thread: r.delivered.threadId, inReplyTo: r.inReplyToGmailId })),
      };
    }),
  );
}
