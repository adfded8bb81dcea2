import type { WebClient } from '@slack/web-api';
import { withTx } from '@parley/db';
import { claimNegotiation, TakeoverError } from '@parley/takeover';
import { replayDeadLetter, ReplayError } from '@parley/queue';
import { jobRef } from '../admin/problem.types';
import { slackActor, type AlertAction, type SlackOpsDeps } from './slack-ops.types';

export const ACTION_IDS = { replay: 'dead_letter_replay', discard: 'dead_letter_discard', claim: 'negotiation_claim' } as const;

export interface ButtonPress {
  actionId: string;
  /** The button's value: a dead letter id or a negotiation id. */
  value: string;
  userId: string;
  channel: string;
  /** The alert message the button is on. */
  ts: string;
}

/** What the operator is told privately; `acted` is false when nothing changed. */
export interface ButtonOutcome {
  acted: boolean;
  text: string;
}

/**
 * Handles one button press, after the ack. Each action acts at most once however many presses
 * arrive (a double click, two operators, Slack's redelivery): the first conditional update on
 * the dead letter or the negotiation wins and the others are told who got there first.
 */
export async function pressButton(deps: SlackOpsDeps, client: WebClient, press: ButtonPress): Promise<ButtonOutcome> {
  if (!(await deps.operators.allowed(press.userId))) {
    deps.log.warn('slack action refused: not an operator', { action: press.actionId, slackUser: press.userId });
    return { acted: false, text: 'Sorry, only Parley operators may act on alerts. Nothing was changed.' };
  }
  switch (press.actionId) {
    case ACTION_IDS.replay:
      return replay(deps, client, press);
    case ACTION_IDS.discard:
      return discard(deps, client, press);
    case ACTION_IDS.claim:
      return claim(deps, client, press);
    default:
      return { acted: false, text: `Unknown action ${press.actionId}.` };
  }
}

async function negotiationOf(deps: SlackOpsDeps, queue: string, payload: unknown): Promise<string | null> {
  const ref = jobRef(queue, payload);
  if (!ref) return null;
  if ('negotiationId' in ref) return (await deps.db.negotiation.findUnique({ where: { id: ref.negotiationId }, select: { id: true } }))?.id ?? null;
  return (await deps.db.outboxEmail.findUnique({ where: { id: ref.outboxId }, select: { negotiationId: true } }))?.negotiationId ?? null;
}

/** The alert message is marked in SQLite once; only that first marking rewrites it in Slack. */
async function finish(deps: SlackOpsDeps, client: WebClient, press: ButtonPress, action: AlertAction, detail?: string): Promise<void> {
  const marked = await deps.db.slackMessage.updateMany({
    where: { channel: press.channel, ts: press.ts, actedAt: null },
    data: { actedAt: deps.now(), actedBy: slackActor(press.userId), action },
  });
  if (marked.count === 0 && (await deps.db.slackMessage.count({ where: { channel: press.channel, ts: press.ts } })) > 0) return;
  try {
    await deps.markActed(client, { channel: press.channel, ts: press.ts, userId: press.userId, action, ...(detail ? { detail } : {}) });
  } catch (error) {
    // The action stands; only the message still shows its buttons (a press then says "already").
    deps.log.warn('slack alert could not be updated after an action', { action, channel: press.channel, error: (error as Error).message });
  }
}

function already(row: { replayedAt: Date | null; replayJobId: string | null; discardedAt: Date | null; resolvedBy: string | null }): string {
  const who = row.resolvedBy ? ` by ${row.resolvedBy.replace(/^slack:(.+)$/, '<@$1>')}` : '';
  if (row.discardedAt) return `This dead letter was already discarded${who}; nothing was changed.`;
  return `This dead letter was already replayed${who} (job ${row.replayJobId ?? '?'}); nothing was added.`;
}

async function replay(deps: SlackOpsDeps, client: WebClient, press: ButtonPress): Promise<ButtonOutcome> {
  const actor = slackActor(press.userId);
  // The conditional write is the lock: one press takes the row, every other finds it taken.
  const taken = await deps.db.deadLetter.updateMany({ where: { id: press.value, replayedAt: null, discardedAt: null, resolvedBy: null }, data: { resolvedBy: actor } });
  const row = await deps.db.deadLetter.findUnique({ where: { id: press.value } });
  if (!row) return { acted: false, text: `No dead letter ${press.value}.` };
  if (taken.count === 0) return { acted: false, text: already(row) };
  let jobId: string;
  try {
    ({ jobId } = await replayDeadLetter(deps, row.id));
  } catch (error) {
    // Give the row back so the operator (or anyone) can press again once Redis is back.
    await deps.db.deadLetter.updateMany({ where: { id: row.id, resolvedBy: actor, replayedAt: null }, data: { resolvedBy: null } });
    if (error instanceof ReplayError) return { acted: false, text: `Could not replay: ${error.message}.` };
    deps.log.error('slack replay failed', { deadLetterId: row.id, error: (error as Error).message });
    return { acted: false, text: 'The replay failed (is Redis reachable?); nothing was changed. Try again.' };
  }
  const negotiationId = await negotiationOf(deps, row.queue, row.payload);
  await withTx(deps.db, (tx) =>
    tx.auditEntry.create({ data: { negotiationId, actor, action: 'dead_letter_replayed', details: { deadLetterId: row.id, queue: row.queue, jobId: row.jobId, replayJobId: jobId } } }),
  );
  deps.log.info('dead letter replayed from slack', { deadLetterId: row.id, jobId, slackUser: press.userId });
  await finish(deps, client, press, 'replayed', `job ${jobId}`);
  return { acted: true, text: `Replayed: the job is back on ${row.queue} as \`${jobId}\`.` };
}

async function discard(deps: SlackOpsDeps, client: WebClient, press: ButtonPress): Promise<ButtonOutcome> {
  const actor = slackActor(press.userId);
  const row = await deps.db.deadLetter.findUnique({ where: { id: press.value } });
  if (!row) return { acted: false, text: `No dead letter ${press.value}.` };
  const negotiationId = await negotiationOf(deps, row.queue, row.payload);
  const acted = await withTx(deps.db, async (tx) => {
    const taken = await tx.deadLetter.updateMany({ where: { id: row.id, replayedAt: null, discardedAt: null, resolvedBy: null }, data: { discardedAt: deps.now(), resolvedBy: actor } });
    if (taken.count === 0) return false;
    await tx.auditEntry.create({ data: { negotiationId, actor, action: 'dead_letter_discarded', details: { deadLetterId: row.id, queue: row.queue, jobId: row.jobId } } });
    return true;
  });
  if (!acted) return { acted: false, text: already((await deps.db.deadLetter.findUnique({ where: { id: row.id } })) ?? row) };
  deps.log.info('dead letter discarded from slack', { deadLetterId: row.id, slackUser: press.userId });
  await finish(deps, client, press, 'discarded');
  return { acted: true, text: `Discarded dead letter ${row.id} (${row.queue} job ${row.jobId}); it will not run again.` };
}

async function claim(deps: SlackOpsDeps, client: WebClient, press: ButtonPress): Promise<ButtonOutcome> {
  const by = slackActor(press.userId);
  const before = await deps.db.negotiation.findUnique({ where: { id: press.value }, select: { state: true, claimedBy: true } });
  if (!before) return { acted: false, text: `No negotiation ${press.value}.` };
  if (before.state === 'human_managed' && before.claimedBy === by) return { acted: false, text: `You already hold negotiation \`${press.value}\`.` };
  try {
    await claimNegotiation(deps, { negotiationId: press.value, by, slackUserId: press.userId });
  } catch (error) {
    if (error instanceof TakeoverError) return { acted: false, text: `Nothing changed: ${error.message}.` };
    throw error;
  }
  deps.log.info('negotiation claimed from slack', { negotiationId: press.value, slackUser: press.userId });
  await finish(deps, client, press, 'claimed');
  return { acted: true, text: `You hold negotiation \`${press.value}\` now: new replies come to you by DM. \`/resume ${press.value}\` hands it back.` };
}
