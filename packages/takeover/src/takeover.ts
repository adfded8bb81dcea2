import { InvalidTransitionError, type NegotiationState } from '@parley/domain';
import { latestEscalation, negotiationState, sqlOf, withTx, type Db, type Negotiation } from '@parley/db';
import { enqueue, jobIds, PermanentError } from '@parley/queue';
import type { EngineCore } from './engine-core';
import { applyTransitions, retryOnConflict } from './transitions';

/** Raised for an operator command that cannot apply (unknown thread, wrong state). */
export class TakeoverError extends Error {
  override name = 'TakeoverError';
}

async function load(db: Db, negotiationId: string) {
  const negotiation = await db.negotiation.findUnique({ where: { id: negotiationId } });
  if (!negotiation) throw new TakeoverError(`no negotiation ${negotiationId}`);
  return negotiation;
}

/**
 * Puts a negotiation under a human: the agent stops acting on it until `resume`.
 * Claiming one that the same person already holds is a no-op. `slackUserId` (a claim from
 * Slack) is where replies on the claimed thread are sent by DM.
 */
export async function claimNegotiation(deps: EngineCore, input: { negotiationId: string; by: string; slackUserId?: string }): Promise<NegotiationState> {
  return retryOnConflict(async () => {
    const negotiation = await load(deps.db, input.negotiationId);
    if (negotiation.state === 'human_managed' && negotiation.claimedBy === input.by) return 'human_managed';
    if (negotiation.state === 'human_managed') throw new TakeoverError(`already claimed by ${negotiation.claimedBy ?? 'someone'}`);
    try {
      return await withTx(deps.db, (tx) =>
        applyTransitions(tx, {
          negotiation,
          events: ['claimed'],
          data: { claimedBy: input.by, claimedAt: deps.now(), claimedBySlackId: input.slackUserId ?? null },
          details: { by: input.by },
          actor: `human:${input.by}`,
          at: deps.now(),
        }),
      );
    } catch (error) {
      if (error instanceof InvalidTransitionError) throw new TakeoverError(`cannot claim a negotiation in state ${negotiation.state}`);
      throw error;
    }
  });
}

/**
 * Hands a claimed negotiation back to the agent. Replies that arrived while a human held it
 * were the human's to answer, so they are marked handled rather than answered again. A
 * negotiation claimed before any email of ours went out starts over from the opening offer
 * (unsent drafts are dropped), so it is never left waiting for a reply to nothing.
 */
export async function resumeNegotiation(deps: EngineCore, input: { negotiationId: string; by: string }): Promise<NegotiationState> {
  const state = await retryOnConflict(async () => {
    const negotiation = await load(deps.db, input.negotiationId);
    if (negotiation.state !== 'human_managed') throw new TakeoverError(`negotiation is not claimed (state ${negotiation.state})`);
    return withTx(deps.db, async (tx) => {
      const sent = await tx.outboxEmail.count({ where: { negotiationId: negotiation.id, status: 'sent' } });
      // A draft Gmail accepted but we never recorded keeps its Message-ID when redrafted (the
      // outbox id is the same), so the send handler's lookup still finds it: no second email.
      const beforeOutreach = sent === 0;
      await tx.inboundMessage.updateMany({ where: { negotiationId: negotiation.id, processedAt: null }, data: { processedAt: deps.now() } });
      if (beforeOutreach) await tx.outboxEmail.deleteMany({ where: { negotiationId: negotiation.id, status: { not: 'sent' } } });
      return applyTransitions(tx, {
        negotiation,
        events: [beforeOutreach ? 'resumed_before_outreach' : 'resumed'],
        data: { claimedBy: null, claimedAt: null, claimedBySlackId: null, ...(beforeOutreach ? { currentOfferMinor: null, round: 0 } : {}) },
        details: { by: input.by },
        actor: `human:${input.by}`,
        at: deps.now(),
      });
    });
  });
  if (state === 'new') {
    // The original open step's job id is spent (completed jobs are kept), so this one is new.
    const fresh = await load(deps.db, input.negotiationId);
    await enqueue(deps.queues, 'negotiation-steps', { negotiationId: fresh.id, kind: 'open' }, { jobId: jobIds.negotiationStep(fresh.id, `reopen-${fresh.version}`) });
  }
  return state;
}

/** Escalates to a human with a reason: a transition, an audit entry, an alert and a metric. */
export async function escalateNegotiation(
  deps: EngineCore,
  input: { negotiationId: string; reason: string; actor?: string; markInboundProcessed?: boolean },
): Promise<boolean> {
  const escalated = await retryOnConflict(async () => {
    const negotiation = await load(deps.db, input.negotiationId);
    if (['escalated', 'human_managed', 'agreed', 'declined'].includes(negotiation.state)) return false;
    await withTx(deps.db, async (tx) => {
      if (input.markInboundProcessed) {
        await tx.inboundMessage.updateMany({ where: { negotiationId: negotiation.id, processedAt: null }, data: { processedAt: deps.now() } });
      }
      await applyTransitions(tx, {
        negotiation,
        events: ['escalated'],
        data: { escalationReason: input.reason },
        details: { reason: input.reason },
        actor: input.actor ?? 'agent',
        at: deps.now(),
      });
    });
    return true;
  });
  if (!escalated) return false;
  deps.metrics.escalations.inc({ reason: escalationLabel(input.reason) });
  await alertEscalation(deps, input.negotiationId);
  return true;
}

/** An escalation whose alert is older than this is not re-sent by a later run of a step. */
const ESCALATION_ALERT_WINDOW_MS = 86_400_000;

/**
 * Enqueues the alert for the negotiation's current escalation. The alert id comes from the
 * escalation's transition, so calling this again (every run of a step does, which heals a
 * crash between the commit and this enqueue) never alerts twice for one escalation.
 * Returns false when the negotiation is not escalated (any more) or the escalation is old.
 * `known` is its state and reason when the caller has just read them (null: no such negotiation).
 */
export async function alertEscalation(deps: EngineCore, negotiationId: string, known?: Pick<Negotiation, 'state' | 'escalationReason'> | null): Promise<boolean> {
  const negotiation = known === undefined ? await negotiationState(sqlOf(deps.db), negotiationId) : known;
  if (negotiation?.state !== 'escalated') return false;
  const transition = await latestEscalation(sqlOf(deps.db), negotiationId);
  if (!transition || deps.now().getTime() - transition.at.getTime() > ESCALATION_ALERT_WINDOW_MS) return false;
  const reason = negotiation.escalationReason ?? 'no reason recorded';
  const alertId = escalationAlertId(transition.id);
  await enqueue(
    deps.queues,
    'alerts',
    { alertId, kind: 'escalation', title: 'Negotiation needs a human', text: `Negotiation ${negotiationId} escalated: ${reason}`, negotiationId },
    { jobId: jobIds.alert(alertId) },
  );
  return true;
}

export function escalationAlertId(transitionId: string): string {
  return `esc-${transitionId}`;
}

const ESCALATION_LABELS: [RegExp, string][] = [
  [/^llm_unavailable/, 'llm_unavailable'],
  [/^hostile/, 'hostile'],
  [/^unclear/, 'unclear'],
  [/above ceiling/, 'above_ceiling'],
  [/^reply names/, 'currency'],
  [/asked rate/, 'invalid_ask'],
  [/terms are invalid|no valid current offer/, 'invalid_terms'],
  [/^policy refused/, 'policy_guard'],
  // Mail the agent must not read (the mailbox sync's problems): counted apart so a wave of
  // hostile or misdirected mail shows on its own rather than inside `other`.
  [/^unparseable/, 'unreadable_mail'],
  [/^foreign_sender/, 'foreign_sender'],
];

/** The bounded metric label for an escalation reason (reasons carry numbers and currencies). */
export function escalationLabel(reason: string): string {
  return ESCALATION_LABELS.find(([re]) => re.test(reason))?.[1] ?? 'other';
}

/** The audit trail of a negotiation found by id, Gmail thread id or influencer email. */
export async function auditTrail(db: Db, ref: string) {
  const negotiation = await db.negotiation.findFirst({
    where: { OR: [{ id: ref }, { gmailThreadId: ref }, { influencerEmail: ref.toLowerCase() }] },
    orderBy: { createdAt: 'desc' },
  });
  if (!negotiation) throw new PermanentError(`no negotiation matches ${ref}`);
  const [transitions, audits] = await Promise.all([
    db.transition.findMany({ where: { negotiationId: negotiation.id }, orderBy: { at: 'asc' } }),
    db.auditEntry.findMany({ where: { negotiationId: negotiation.id }, orderBy: { at: 'asc' } }),
  ]);
  return { negotiation, transitions, audits };
}
