import { allowsFollowUp, decide, openingOffer, replySubject, type Decision, type NegotiationEvent, type PricingTerms } from '@parley/domain';
import { chunksOf, findNegotiationWithCampaign, insertAuditEntry, negotiationScope, placeholder, sqlOf, stateWithPendingSends, threadSubject, unansweredInbound, withTx, type Sql } from '@parley/db';
import { llmFailingSince, markLlmFailure, markLlmSuccess, type DraftKind } from '@parley/llm';
import { classifyError, enqueue, jobIds, PermanentError, type Handler, type JobContext, type JobData } from '@parley/queue';
import type { EngineDeps } from './engine-deps';
import { alertEscalation, applyTransitions, enqueueSends, escalateNegotiation, escalationLabel, writeOutbox, type NegotiationChanges } from '@parley/takeover';

type StepData = JobData<'negotiation-steps'>;
type LoadedNegotiation = NonNullable<Awaited<ReturnType<typeof loadNegotiation>>>;

function loadNegotiation(deps: EngineDeps, id: string) {
  return findNegotiationWithCampaign(sqlOf(deps.db), id);
}

/** The policy's terms for a negotiation; `priceStep` (whole currency units) rounds offers. */
export function termsOf(n: LoadedNegotiation, priceStep?: number): PricingTerms {
  return {
    ...(priceStep === undefined ? {} : { priceStep }),
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
    let outcome: string;
    try {
      outcome = await runStep(deps, negotiation, data, { ...ctx, log });
    } catch (error) {
      // Whatever failed, what an earlier run committed still gets its jobs; a failure here
      // must not hide the step's own error (the next run tries again).
      await enqueueAfterCommit(deps, negotiation.id).catch((e: unknown) => log.warn('could not enqueue follow-up jobs', { error: (e as Error).message }));
      throw error;
    }
    await enqueueAfterCommit(deps, negotiation.id);
    log.info('negotiation step', { kind: data.kind, outcome });
    return { outcome };
  };
}

/**
 * The jobs a commit implies (a send per pending outbox row, the alert for an escalation),
 * enqueued after every run under deterministic ids, not only by the run that committed: a
 * crash between a commit and these enqueues is healed by the job's next run (a stalled job
 * restarts, a duplicate arrives), and a repeat collapses onto the existing job.
 */
async function enqueueAfterCommit(deps: EngineDeps, negotiationId: string): Promise<void> {
  const now = await stateWithPendingSends(sqlOf(deps.db), negotiationId);
  await enqueueSends(deps, now?.pendingOutboxIds ?? []);
  await alertEscalation(deps, negotiationId, now);
}

/**
 * A step must not commit once its job belongs to another worker (lock lost, or handed back at
 * shutdown); the version check would catch most such cases, this catches them earlier.
 */
function assertStillOwned(ctx: JobContext): void {
  if (ctx.signal?.aborted) throw new Error(`job ${ctx.jobId} is no longer owned by this worker: ${String(ctx.signal.reason ?? 'aborted')}`);
}

/** States in which the agent no longer writes to the influencer. */
const NOT_THE_AGENTS = new Set(['human_managed', 'escalated', 'agreed', 'declined']);

async function runStep(deps: EngineDeps, negotiation: LoadedNegotiation, data: StepData, ctx: JobContext): Promise<string> {
  if (NOT_THE_AGENTS.has(negotiation.state)) return forwardToHuman(deps, negotiation, ctx);
  try {
    if (data.kind === 'open') return await openStep(deps, negotiation, ctx);
    if (data.kind === 'reply') return await replyStep(deps, negotiation, ctx);
    return await followUpStep(deps, negotiation, ctx);
  } catch (error) {
    // A job that no longer runs here (its wait or request ended by its signal) says nothing
    // about the LLM: never an outage.
    if (ctx.signal?.aborted || !(error instanceof Error) || !isLlmOutage(error)) throw error;
    return onLlmOutage(deps, negotiation, error, ctx);
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

/**
 * An LLM failure that says the model is unavailable (overloaded, 5xx, timeout, reset). A 429
 * says it is up and we are over quota: the queue pauses for it, and past the restart cap it
 * becomes a dead letter with an alert, so it neither starts nor extends the outage clock.
 * Permanent failures (400, 401, invalid output) go straight to a dead letter.
 */
function isLlmOutage(error: Error): boolean {
  const cls = classifyError(error);
  return llmErrors.has(error) && (cls === 'overloaded' || cls === 'transient');
}

/** Records the outage; past LLM_OUTAGE_ESCALATE_AFTER the negotiation goes to a human instead of going silent. */
async function onLlmOutage(deps: EngineDeps, negotiation: LoadedNegotiation, error: Error, ctx: JobContext): Promise<string> {
  await markLlmFailure(deps.db, deps.now(), error.message.slice(0, 300));
  const since = await llmFailingSince(deps.db, { now: deps.now() });
  const failingMs = since === null ? 0 : deps.now().getTime() - since.getTime();
  if (since === null || failingMs < deps.llmOutageEscalateAfterMs) throw error;
  const seconds = Math.round(failingMs / 1000);
  assertStillOwned(ctx);
  const escalated = await escalateNegotiation(deps, { negotiationId: negotiation.id, reason: `llm_unavailable: the LLM has failed for ${seconds}s`, markInboundProcessed: true });
  await ctx.note(`escalated: LLM unavailable for ${seconds}s`);
  return escalated ? 'escalated: llm unavailable' : 'skipped: no longer with the agent';
}

const FORWARD_CHARS = 1_500;

/**
 * A negotiation the agent no longer acts on (claimed, escalated, agreed, declined): its new
 * replies are marked seen, audited, and put in front of a human in an alert, never answered.
 */
async function forwardToHuman(deps: EngineDeps, negotiation: LoadedNegotiation, ctx: JobContext): Promise<string> {
  const state = negotiation.state;
  const claimed = state === 'human_managed';
  const unread = await unansweredInbound(sqlOf(deps.db), negotiation.id);
  if (unread.length === 0) return claimed ? 'skipped: human-managed' : `skipped: negotiation is ${state}`;
  assertStillOwned(ctx);

  // The alert goes first, under an id derived from the first reply: a crash before the commit
  // below repeats the same id on the next run (no second alert), and none can be lost. It
  // carries the reply itself, since forwarding it is the point (alert texts are never logged).
  const alertId = `fwd-${unread[0]?.gmailMessageId ?? ctx.jobId}`;
  const quoted = unread.map((u) => `> ${u.text.slice(0, FORWARD_CHARS).replace(/\n/g, '\n> ')}`).join('\n\n');
  await enqueue(
    deps.queues,
    'alerts',
    {
      alertId,
      kind: claimed ? 'takeover_reply' : state === 'escalated' ? 'escalation' : 'info',
      title: claimed ? 'New reply on a claimed thread' : `New reply on a negotiation that is ${state}`,
      text: `${negotiation.influencerName} wrote on negotiation ${negotiation.id}${claimed ? `, claimed by ${negotiation.claimedBy ?? 'a human'}` : ''}:\n\n${quoted}`,
      negotiationId: negotiation.id,
    },
    { jobId: jobIds.alert(alertId) },
  );

  // Marked and audited once, however many runs got this far: the check is inside the write lock.
  await sqlOf(deps.db).transaction(async (tx) => {
    const open = new Set((await unansweredInbound(tx, negotiation.id)).map((u) => u.id));
    const still = unread.filter((u) => open.has(u.id));
    if (still.length === 0) return;
    await markAnswered(tx, still.map((u) => u.id), deps.now());
    await insertAuditEntry(tx, {
      negotiationId: negotiation.id,
      actor: 'agent',
      action: claimed ? 'reply_forwarded_to_claimer' : 'reply_forwarded',
      details: { state, claimedBy: negotiation.claimedBy, messages: still.map((u) => u.gmailMessageId) },
    });
  }, { scope: negotiationScope(negotiation.id) });
  return claimed ? 'skipped: human-managed (reply forwarded)' : `skipped: negotiation is ${state} (reply forwarded)`;
}

async function openStep(deps: EngineDeps, negotiation: LoadedNegotiation, ctx: JobContext): Promise<string> {
  if (negotiation.state !== 'new') return 'skipped: already opened';
  const terms = termsOf(negotiation, deps.priceStep);
  const offer = openingOffer(terms);
  const draft = await viaLlm(deps, () => deps.llm.draftEmail({ ...draftBase(negotiation), kind: 'opening', priceMinor: offer }, { signal: ctx.signal }));
  assertStillOwned(ctx);
  // The step's writes in raw SQL (as every hot-path transaction: docs/benchmarks.md), under the
  // same write lock and busy retries as withTx. Each of a step's transactions writes only its
  // negotiation's rows, so it is scoped to the negotiation (on PostgreSQL, steps of different
  // negotiations commit side by side; the version check still catches a concurrent change).
  await sqlOf(deps.db).transaction(async (tx) => {
    await applyTransitions(tx, {
      negotiation,
      events: ['outreach_queued'],
      data: { currentOfferMinor: offer, round: 0 },
      details: { offerMinor: offer, currency: terms.currency },
      actor: 'agent',
      at: deps.now(),
    });
    await writeOutbox(tx, { negotiationId: negotiation.id, key: 'open', kind: 'opening', toAddress: negotiation.influencerEmail, subject: draft.subject, body: draft.body, inReplyTo: null, references: null, gmailThreadId: null }, deps.mailbox);
  }, { scope: negotiationScope(negotiation.id) });
  return `opening offer ${offer}`;
}

function draftBase(n: LoadedNegotiation) {
  return { influencerName: n.influencerName, campaignName: n.campaign.name, platform: n.platform, deliverables: n.deliverables, currency: n.campaign.currency };
}

interface Plan {
  events: NegotiationEvent[];
  data: NegotiationChanges;
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
async function replyStep(deps: EngineDeps, negotiation: LoadedNegotiation, ctx: JobContext): Promise<string> {
  const unread = await unansweredInbound(sqlOf(deps.db), negotiation.id);
  if (unread.length === 0) return 'skipped: no unanswered message';
  // A message the mailbox sync could not read, or from someone other than the influencer, is
  // never the LLM's: the negotiation goes to a human and the message is forwarded (normally the
  // sync has escalated already; this covers a crash between its commit and the escalation).
  const problem = unread.find((m) => m.problem)?.problem;
  if (problem) {
    // A state that cannot escalate (e.g. stale) still gets the message forwarded.
    await escalateNegotiation(deps, { negotiationId: negotiation.id, reason: problem }).catch((e: unknown) => ctx.log.warn('could not escalate', { error: (e as Error).message }));
    return forwardToHuman(deps, (await loadNegotiation(deps, negotiation.id)) ?? negotiation, ctx);
  }
  const terms = termsOf(negotiation, deps.priceStep);
  const currentOffer = negotiation.currentOfferMinor ?? openingOffer(terms);
  const reading = await viaLlm(deps, () => deps.llm.readReply({ influencerName: negotiation.influencerName, campaignName: negotiation.campaign.name, currency: terms.currency, currentOfferMinor: currentOffer, messages: unread.map((m) => m.text) }, { signal: ctx.signal }));
  const decision = decide(terms, { round: negotiation.round, currentOfferMinor: currentOffer }, reading);
  const plan = planFor(decision, negotiation, reading.askedRateMinor);
  const wanted = plan.draft;
  const draft = wanted ? await viaLlm(deps, () => deps.llm.draftEmail({ ...draftBase(negotiation), kind: wanted.kind, priceMinor: wanted.priceMinor, influencerMessages: unread.map((m) => m.text) }, { signal: ctx.signal })) : null;
  const last = unread[unread.length - 1];
  const subjectOfThread = await threadSubject(sqlOf(deps.db), negotiation.id);
  assertStillOwned(ctx);
  await sqlOf(deps.db).transaction(async (tx) => {
    await applyTransitions(tx, {
      negotiation,
      events: plan.events,
      data: { ...plan.data, lastInboundAt: last?.receivedAt ?? deps.now() },
      // askedMinor is in minor units of the currency the reply named (the campaign's when it named
      // none): askedCurrency says which, so the timeline shows a EUR ask as euros.
      details: {
        intent: reading.intent,
        askedMinor: reading.askedRateMinor ?? null,
        askedCurrency: reading.askedRateMinor === undefined ? null : (reading.currency ?? terms.currency).toUpperCase(),
        decision: decision.action,
        messages: unread.map((m) => m.gmailMessageId),
      },
      actor: 'agent',
      at: deps.now(),
    });
    await markAnswered(tx, unread.map((m) => m.id), deps.now());
    if (draft && plan.draft && last) {
      const subject = subjectOfThread === null ? draft.subject : replySubject(subjectOfThread);
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
  }, { scope: negotiationScope(negotiation.id) });
  if (decision.action === 'accept') deps.metrics.dealsClosed.inc();
  // The escalation's alert is enqueued with the send jobs, after the commit (enqueueAfterCommit).
  if (plan.escalation) deps.metrics.escalations.inc({ reason: escalationLabel(plan.escalation) });
  return `${reading.intent} -> ${decision.action}`;
}

/** Marks the inbound messages a step answered, in its transaction. */
async function markAnswered(tx: Sql, ids: string[], at: Date): Promise<void> {
  const $ = (n: number) => placeholder(tx.engine, n);
  for (const chunk of chunksOf(ids)) {
    await tx.execute(`UPDATE "InboundMessage" SET "processedAt" = ${$(1)} WHERE "id" IN (${chunk.map((_, j) => $(j + 2)).join(', ')})`, at, ...chunk);
  }
}

/** A polite nudge after silence; past MAX_FOLLOW_UPS the negotiation goes stale. */
async function followUpStep(deps: EngineDeps, negotiation: LoadedNegotiation, ctx: JobContext): Promise<string> {
  if (!allowsFollowUp(negotiation.state)) return `skipped: state ${negotiation.state}`;
  const pendingReplies = await deps.db.inboundMessage.count({ where: { negotiationId: negotiation.id, processedAt: null } });
  if (pendingReplies > 0) return 'skipped: a reply is waiting';
  const unsent = await deps.db.outboxEmail.count({ where: { negotiationId: negotiation.id, status: 'pending' } });
  if (unsent > 0) return 'skipped: our last email is not sent yet';
  if (negotiation.followUps >= deps.maxFollowUps) {
    assertStillOwned(ctx);
    await withTx(deps.db, (tx) => applyTransitions(tx, { negotiation, events: ['went_stale'], details: { followUps: negotiation.followUps }, actor: 'agent', at: deps.now() }), { scope: negotiationScope(negotiation.id) });
    return 'stale';
  }
  const n = negotiation.followUps + 1;
  const draft = await viaLlm(deps, () => deps.llm.draftEmail({ ...draftBase(negotiation), kind: 'follow_up', priceMinor: negotiation.currentOfferMinor }, { signal: ctx.signal }));
  const first = await threadSubject(sqlOf(deps.db), negotiation.id);
  assertStillOwned(ctx);
  const written = await withTx(deps.db, async (tx) => {
    // A reply that arrived while the nudge was being drafted makes it moot; its own step answers it.
    if ((await tx.inboundMessage.count({ where: { negotiationId: negotiation.id, processedAt: null } })) > 0) return false;
    await applyTransitions(tx, { negotiation, events: ['follow_up_queued'], data: { followUps: n }, details: { followUp: n }, actor: 'agent', at: deps.now() });
    await writeOutbox(
      tx,
      {
        negotiationId: negotiation.id,
        key: `fu-${n}`,
        kind: 'follow_up',
        toAddress: negotiation.influencerEmail,
        subject: first === null ? draft.subject : replySubject(first),
        body: draft.body,
        inReplyTo: negotiation.lastMessageIdHdr,
        references: negotiation.lastMessageIdHdr,
        gmailThreadId: negotiation.gmailThreadId,
      },
      deps.mailbox,
    );
    return true;
  }, { scope: negotiationScope(negotiation.id) });
  return written ? `follow-up ${n}` : 'skipped: a reply arrived';
}
