import { decide, openingOffer, type Decision, type NegotiationEvent, type PricingTerms } from '@parley/domain';
import { withTx, type Prisma } from '@parley/db';
import type { DraftKind } from '@parley/llm';
import { classifyError, PermanentError, type Handler, type JobContext, type JobData } from '@parley/queue';
import type { EngineDeps } from './engine-deps';
import { enqueuePendingOutbox, writeOutbox } from './outbox';
import { alertEscalation, escalateNegotiation } from './takeover';
import { applyTransitions } from './transitions';
import { markLlmFailure, markLlmSuccess, llmFailingSince } from '@parley/llm';

type StepData = JobData<'negotiation-steps'>;
type LoadedNegotiation = NonNullable<Awaited<ReturnType<typeof loadNegotiation>>>;

async function loadNegotiation(deps: EngineDeps, id: string) {
  return deps.db.negotiation.findUnique({ where: { id }, include: { campaign: true } });
}

export function termsOf(n: LoadedNegotiation): PricingTerms {
  return {
    cpmFloorMinor: n.campaign.cpmFloorMinor,
    cpmCeilingMinor: n.campaign.cpmCeilingMinor,
    maxRounds: n.campaign.maxRounds,
    currency: n.campaign.currency,
    averageViews: n.averageViews,
  };
}

/**
 * The `negotiation-steps` handler: read -> decide -> draft, then one transaction with the
 * transitions, the inbound messages marked answered, the outbox row and the audit entry;
 * the send is enqueued after commit. Steps of one negotiation never interleave: the
 * version check makes a concurrent step fail with a retried conflict.
 */
export function createNegotiationStepHandler(deps: EngineDeps): Handler<'negotiation-steps'> {
  return async (data, ctx) => {
    const negotiation = await loadNegotiation(deps, data.negotiationId);
    if (!negotiation) throw new PermanentError(`negotiation ${data.negotiationId} does not exist`);
    const log = ctx.log.child({ negotiationId: negotiation.id, threadId: negotiation.gmailThreadId ?? undefined });
    try {
      const outcome = await runStep(deps, negotiation, data, { ...ctx, log });
      log.info('negotiation step', { kind: data.kind, outcome });
      return { outcome };
    } finally {
      await enqueuePendingOutbox(deps, negotiation.id);
    }
  };
}

async function runStep(deps: EngineDeps, negotiation: LoadedNegotiation, data: StepData, ctx: JobContext): Promise<string> {
  if (negotiation.state === 'human_managed') return skipForHuman(deps, negotiation, ctx);
  if (['agreed', 'declined', 'escalated'].includes(negotiation.state)) {
    await withTx(deps.db, (tx) =>
      tx.inboundMessage.updateMany({ where: { negotiationId: negotiation.id, processedAt: null }, data: { processedAt: deps.now() } }),
    );
    return `skipped: negotiation is ${negotiation.state}`;
  }
  try {
    return data.kind === 'open' ? await openStep(deps, negotiation) : data.kind === 'reply' ? await replyStep(deps, negotiation) : await followUpStep(deps, negotiation);
  } catch (error) {
    if (!(error instanceof Error) || !isLlmFailure(error)) throw error;
    return onLlmFailure(deps, negotiation, error, ctx);
  }
}

// Errors thrown by the LLM client, as opposed to the database or the queue.
const llmErrors = new WeakSet<Error>();

/** Calls the LLM, remembering its failures (for the outage window) and clearing the outage on success. */
async function viaLlm<T>(deps: EngineDeps, call: () => Promise<T>): Promise<T> {
  let result: T;
  try {
    result = await call();
  } catch (error) {
    if (error instanceof Error) llmErrors.add(error);
    throw error;
  }
  await markLlmSuccess(deps.db);
  return result;
}

function isLlmFailure(error: Error): boolean {
  return llmErrors.has(error) && classifyError(error) !== 'permanent';
}

/** Records the outage; past LLM_OUTAGE_ESCALATE_AFTER the negotiation goes to a human instead of going silent. */
async function onLlmFailure(deps: EngineDeps, negotiation: LoadedNegotiation, error: Error, ctx: JobContext): Promise<string> {
  await markLlmFailure(deps.db, deps.now(), error.message.slice(0, 300));
  const since = await llmFailingSince(deps.db);
  if (since && deps.now().getTime() - since.getTime() >= deps.llmOutageEscalateAfterMs && since !== null) {
    const seconds = Math.round((deps.now().getTime() - since.getTime()) / 1000);
    await escalateNegotiation(deps, { negotiationId: negotiation.id, reason: `llm_unavailable: the LLM has failed for ${seconds}s`, markInboundProcessed: true });
    await ctx.note(`escalated: LLM unavailable for ${seconds}s`);
    return 'escalated: llm unavailable';
  }
  throw error;
}

async function skipForHuman(deps: EngineDeps, negotiation: LoadedNegotiation, ctx: JobContext): Promise<string> {
  const unread = await deps.db.inboundMessage.findMany({ where: { negotiationId: negotiation.id, processedAt: null }, select: { id: true, gmailMessageId: true } });
  if (unread.length === 0) return 'skipped: human-managed';
  await withTx(deps.db, async (tx) => {
    await tx.inboundMessage.updateMany({ where: { id: { in: unread.map((u) => u.id) } }, data: { processedAt: deps.now() } });
    await tx.auditEntry.create({
      data: { negotiationId: negotiation.id, actor: 'agent', action: 'reply_forwarded_to_claimer', details: { claimedBy: negotiation.claimedBy, messages: unread.map((u) => u.gmailMessageId) } },
    });
  });
  const alertId = `fwd-${unread[0]?.gmailMessageId ?? ctx.jobId}`;
  await deps.queues.alerts.add(
    'alert',
    { alertId, kind: 'takeover_reply', title: 'New reply on a claimed thread', text: `A new reply arrived on negotiation ${negotiation.id}, claimed by ${negotiation.claimedBy ?? 'a human'}.`, negotiationId: negotiation.id },
    { jobId: `alert.${alertId}` },
  );
  return 'skipped: human-managed (reply forwarded)';
}

async function openStep(deps: EngineDeps, negotiation: LoadedNegotiation): Promise<string> {
  if (negotiation.state !== 'new') return 'skipped: already opened';
  const terms = termsOf(negotiation);
  const offer = openingOffer(terms);
  const draft = await viaLlm(deps, () => deps.llm.draftEmail({ ...draftBase(negotiation), kind: 'opening', priceMinor: offer }));
  await withTx(deps.db, async (tx) => {
    await applyTransitions(tx, {
      negotiation,
      events: ['outreach_queued'],
      data: { currentOfferMinor: offer, round: 0 },
      details: { offerMinor: offer, currency: terms.currency },
      actor: 'agent',
      at: deps.now(),
    });
    await writeOutbox(tx, { negotiationId: negotiation.id, key: 'open', kind: 'opening', toAddress: negotiation.influencerEmail, subject: draft.subject, body: draft.body, inReplyTo: null, references: null, gmailThreadId: null }, deps.mailbox);
  });
  return `opening offer ${offer}`;
}

function draftBase(n: LoadedNegotiation) {
  return { influencerName: n.influencerName, campaignName: n.campaign.name, platform: n.platform, deliverables: n.deliverables, currency: n.campaign.currency };
}

interface Plan {
  events: NegotiationEvent[];
  data: Prisma.NegotiationUpdateManyMutationInput;
  draft: { kind: DraftKind; priceMinor: number | null } | null;
  escalation?: string;
}

function planFor(decision: Decision, negotiation: LoadedNegotiation, askedMinor: number | undefined): Plan {
  const base = { lastAskMinor: askedMinor ?? negotiation.lastAskMinor };
  switch (decision.action) {
    case 'accept':
      return { events: ['reply_received', 'accepted'], data: { ...base, agreedRateMinor: decision.rateMinor, currentOfferMinor: decision.rateMinor }, draft: { kind: 'accept', priceMinor: decision.rateMinor } };
    case 'counter':
      return { events: ['reply_received', 'counter_queued'], data: { ...base, currentOfferMinor: decision.offerMinor, round: decision.round }, draft: { kind: 'counter', priceMinor: decision.offerMinor } };
    case 'acknowledge_decline':
      return { events: ['reply_received', 'declined'], data: base, draft: { kind: 'decline_ack', priceMinor: null } };
    case 'clarify':
      return { events: ['reply_received', 'clarification_queued'], data: base, draft: { kind: 'clarify', priceMinor: negotiation.currentOfferMinor } };
    case 'wait':
      return { events: ['reply_received', 'waiting'], data: base, draft: null };
    case 'escalate':
      return { events: ['reply_received', 'escalated'], data: { ...base, escalationReason: decision.reason }, draft: null, escalation: decision.reason };
  }
}

/** Answers every unanswered inbound message of the thread, in order, with one email. */
async function replyStep(deps: EngineDeps, negotiation: LoadedNegotiation): Promise<string> {
  const unread = await deps.db.inboundMessage.findMany({ where: { negotiationId: negotiation.id, processedAt: null }, orderBy: [{ receivedAt: 'asc' }, { createdAt: 'asc' }] });
  if (unread.length === 0) return 'skipped: no unanswered message';
  const terms = termsOf(negotiation);
  const currentOffer = negotiation.currentOfferMinor ?? openingOffer(terms);
  const reading = await viaLlm(deps, () => deps.llm.readReply({ influencerName: negotiation.influencerName, campaignName: negotiation.campaign.name, currency: terms.currency, currentOfferMinor: currentOffer, messages: unread.map((m) => m.text) }));
  const decision = decide(terms, { round: negotiation.round, currentOfferMinor: currentOffer }, reading);
  const plan = planFor(decision, negotiation, reading.askedRateMinor);
  const wanted = plan.draft;
  const draft = wanted ? await viaLlm(deps, () => deps.llm.draftEmail({ ...draftBase(negotiation), kind: wanted.kind, priceMinor: wanted.priceMinor, influencerMessages: unread.map((m) => m.text) })) : null;
  const last = unread[unread.length - 1];
  const threadSubject = await deps.db.outboxEmail.findFirst({ where: { negotiationId: negotiation.id }, orderBy: { createdAt: 'asc' }, select: { subject: true } });
  await withTx(deps.db, async (tx) => {
    await applyTransitions(tx, {
      negotiation,
      events: plan.events,
      data: { ...plan.data, lastInboundAt: last?.receivedAt ?? deps.now() },
      details: { intent: reading.intent, askedMinor: reading.askedRateMinor ?? null, decision: decision.action, messages: unread.map((m) => m.gmailMessageId) },
      actor: 'agent',
      at: deps.now(),
    });
    await tx.inboundMessage.updateMany({ where: { id: { in: unread.map((m) => m.id) } }, data: { processedAt: deps.now() } });
    if (draft && plan.draft && last) {
      const subject = threadSubject ? (/^re:/i.test(threadSubject.subject) ? threadSubject.subject : `Re: ${threadSubject.subject}`) : draft.subject;
      await writeOutbox(
        tx,
        {
          negotiationId: negotiation.id,
          key: `r-${last.gmailMessageId}`,
          kind: plan.draft.kind,
          toAddress: negotiation.influencerEmail,
          subject,
          body: draft.body,
          inReplyTo: last.messageIdHdr,
          references: [negotiation.lastMessageIdHdr, last.messageIdHdr].filter(Boolean).join(' ') || null,
          gmailThreadId: negotiation.gmailThreadId,
        },
        deps.mailbox,
      );
    }
  });
  if (decision.action === 'accept') deps.metrics.dealsClosed.inc();
  if (plan.escalation) await alertEscalation(deps, negotiation.id, negotiation.version + 1, plan.escalation);
  return `${reading.intent} -> ${decision.action}`;
}

/** A polite nudge after silence; past MAX_FOLLOW_UPS the negotiation goes stale. */
async function followUpStep(deps: EngineDeps, negotiation: LoadedNegotiation): Promise<string> {
  if (!['awaiting_reply', 'counter_sent'].includes(negotiation.state)) return `skipped: state ${negotiation.state}`;
  const pendingReplies = await deps.db.inboundMessage.count({ where: { negotiationId: negotiation.id, processedAt: null } });
  if (pendingReplies > 0) return 'skipped: a reply is waiting';
  if (negotiation.followUps >= deps.maxFollowUps) {
    await withTx(deps.db, (tx) => applyTransitions(tx, { negotiation, events: ['went_stale'], details: { followUps: negotiation.followUps }, actor: 'agent', at: deps.now() }));
    return 'stale';
  }
  const n = negotiation.followUps + 1;
  const draft = await viaLlm(deps, () => deps.llm.draftEmail({ ...draftBase(negotiation), kind: 'follow_up', priceMinor: negotiation.currentOfferMinor }));
  const first = await deps.db.outboxEmail.findFirst({ where: { negotiationId: negotiation.id }, orderBy: { createdAt: 'asc' }, select: { subject: true } });
  await withTx(deps.db, async (tx) => {
    await applyTransitions(tx, { negotiation, events: ['follow_up_queued'], data: { followUps: n }, details: { followUp: n }, actor: 'agent', at: deps.now() });
    await writeOutbox(
      tx,
      {
        negotiationId: negotiation.id,
        key: `fu-${n}`,
        kind: 'follow_up',
        toAddress: negotiation.influencerEmail,
        subject: first ? `Re: ${first.subject.replace(/^re:\s*/i, '')}` : draft.subject,
        body: draft.body,
        inReplyTo: negotiation.lastMessageIdHdr,
        references: negotiation.lastMessageIdHdr,
        gmailThreadId: negotiation.gmailThreadId,
      },
      deps.mailbox,
    );
  });
  return `follow-up ${n}`;
}
