import type { WebClient } from '@slack/web-api';
import { createSlackMessageOnce, findSlackMessage, sqlOf, withTx, type Db, type NewSlackMessage, type Prisma } from '@parley/db';
import type { JobContext, JobData } from '@parley/queue';
import { alertMetadata, callSlack, findAlertMessage, SlackPermanentError } from '@parley/slack';
import { buildAlertMessage, digestMessage, negotiationOfPayload, type AlertMessage } from './alerts-content';
import { digestCounts, foldIntoDigest, takeSlot, type StormDeps } from './alerts-storm';

type Alert = JobData<'alerts'>;
type SlackMessageRow = Prisma.SlackMessageGetPayload<object>;

export interface SlackAlertsDeps extends StormDeps {
  db: Db;
  slack: WebClient;
  /** SLACK_ALERT_CHANNEL (a channel id). */
  channel: string;
  publicUrl: string;
}

export type Delivery =
  | { delivered: 'slack'; channel: string; ts: string; threadTs: string | null; found: boolean }
  | { delivered: 'already'; channel: string; ts: string }
  | { delivered: 'folded'; window: number }
  | { delivered: 'nothing'; reason: string };

/** A message found again was posted up to this long before its row was written. */
const LOOKUP_SLACK_MS = 5 * 60_000;

/**
 * Posts one alert to Slack exactly once, whatever retries, crashes and lost answers happen:
 *
 * 1. The SlackMessage row (keyed by the alert id) is written before the post, with where it goes;
 *    its `ts` is written after. A row with a ts is done.
 * 2. A row without ts means an earlier attempt may have posted and lost the answer: the message
 *    is looked up by its metadata (alert id) before posting again.
 * 3. Beyond the per-minute limit an alert is folded into the window's digest instead (a row with
 *    action `folded`); takeover replies are never folded, they go to one person.
 */
export async function deliverAlert(deps: SlackAlertsDeps, alert: Alert, ctx: JobContext): Promise<Delivery> {
  let row = await findSlackMessage(sqlOf(deps.db), alert.alertId);
  if (row?.ts) return { delivered: 'already', channel: row.channel, ts: row.ts };
  if (row?.action === 'folded') return { delivered: 'folded', window: -1 };

  if (!row) {
    const negotiationId = await negotiationOf(deps, alert);
    if (alert.kind !== 'takeover_reply' && alert.kind !== 'digest') {
      const decision = await takeSlot(deps);
      if (!decision.post) {
        await foldIntoDigest(deps, decision.window, alert);
        await createRow(deps.db, { alertId: alert.alertId, kind: alert.kind, channel: deps.channel, threadTs: null, negotiationId, deadLetterId: alert.deadLetterId ?? null, action: 'folded' });
        ctx.log.info('alert folded into the digest', { alertId: alert.alertId, kind: alert.kind, window: decision.window });
        return { delivered: 'folded', window: decision.window };
      }
    }
    const target = await targetOf(deps, alert, negotiationId);
    row = await createRow(deps.db, { alertId: alert.alertId, kind: alert.kind, channel: target.channel, threadTs: target.threadTs, negotiationId, deadLetterId: alert.deadLetterId ?? null, action: null });
    if (row.ts) return { delivered: 'already', channel: row.channel, ts: row.ts };
  } else {
    const found = await findAlertMessage(deps.slack, { channel: row.channel, alertId: alert.alertId, threadTs: row.threadTs, since: new Date(row.createdAt.getTime() - LOOKUP_SLACK_MS) });
    if (found) {
      await markPosted(deps, row.alertId, row.channel, found.ts);
      ctx.log.info('alert was already posted; its answer had been lost', { alertId: alert.alertId, kind: alert.kind });
      return { delivered: 'slack', channel: row.channel, ts: found.ts, threadTs: row.threadTs, found: true };
    }
  }

  const message = await contentOf(deps, alert, row.channel !== deps.channel);
  if (!message) return { delivered: 'nothing', reason: 'empty digest' };
  ctx.signal?.throwIfAborted();
  const posted = await post(deps, row, alert.alertId, message);
  await markPosted(deps, row.alertId, posted.channel, posted.ts);
  ctx.log.info('alert posted to slack', { alertId: alert.alertId, kind: alert.kind, channel: posted.channel, ts: posted.ts, threaded: posted.threadTs !== null });
  return { delivered: 'slack', ...posted, found: false };
}

async function post(deps: SlackAlertsDeps, row: SlackMessageRow, alertId: string, message: AlertMessage): Promise<{ channel: string; ts: string; threadTs: string | null }> {
  const send = (threadTs: string | null) =>
    callSlack('chat.postMessage', () =>
      deps.slack.chat.postMessage({
        channel: row.channel,
        ...(threadTs ? { thread_ts: threadTs } : {}),
        text: message.text,
        blocks: message.blocks,
        metadata: alertMetadata(alertId),
        unfurl_links: false,
        unfurl_media: false,
      }),
    );
  let threadTs = row.threadTs;
  let result;
  try {
    result = await send(threadTs);
  } catch (error) {
    // The negotiation's first alert was deleted: this one starts a new thread instead of failing.
    if (!(threadTs && error instanceof SlackPermanentError && error.slackError === 'thread_not_found')) throw error;
    await withTx(deps.db, (tx) => tx.slackMessage.update({ where: { alertId }, data: { threadTs: null } }));
    threadTs = null;
    result = await send(null);
  }
  // Slack answers with the channel id even when it was addressed by name; chat.update needs it.
  return { channel: result.channel ?? row.channel, ts: result.ts ?? '', threadTs };
}

async function contentOf(deps: SlackAlertsDeps, alert: Alert, toClaimer: boolean): Promise<AlertMessage | null> {
  if (alert.kind !== 'digest') return buildAlertMessage(deps, alert, toClaimer);
  if (alert.window === undefined) return null;
  const counts = await digestCounts(deps.redis, deps.prefix, alert.window);
  return Object.keys(counts).length === 0 ? null : digestMessage(deps, counts, deps.perWindow, alert.windowMs ?? deps.windowMs);
}

async function negotiationOf(deps: SlackAlertsDeps, alert: Alert): Promise<string | null> {
  if (alert.negotiationId) return alert.negotiationId;
  if (!alert.deadLetterId) return null;
  const row = await deps.db.deadLetter.findUnique({ where: { id: alert.deadLetterId }, select: { payload: true } });
  return row ? negotiationOfPayload(deps.db, row.payload) : null;
}

/**
 * Where an alert goes: a takeover reply to the claimer's DM when the claim came from Slack;
 * everything else (and a reply on a thread claimed elsewhere) to the alert channel, in the
 * thread of the negotiation's first alert there.
 */
async function targetOf(deps: SlackAlertsDeps, alert: Alert, negotiationId: string | null): Promise<{ channel: string; threadTs: string | null }> {
  if (alert.kind === 'takeover_reply' && negotiationId) {
    const n = await deps.db.negotiation.findUnique({ where: { id: negotiationId }, select: { claimedBySlackId: true } });
    if (n?.claimedBySlackId) {
      const dm = await openDm(deps, n.claimedBySlackId);
      if (dm) return { channel: dm, threadTs: null };
    }
  }
  if (!negotiationId || alert.kind === 'digest') return { channel: deps.channel, threadTs: null };
  const first = await deps.db.slackMessage.findFirst({
    where: { negotiationId, channel: deps.channel, threadTs: null, ts: { not: null } },
    orderBy: { createdAt: 'asc' },
    select: { ts: true },
  });
  return { channel: deps.channel, threadTs: first?.ts ?? null };
}

/** Slack refusals that mean the claimer cannot get a DM (left, deactivated): the channel gets it. */
const UNREACHABLE_USER = new Set(['user_not_found', 'user_disabled', 'user_not_visible', 'cannot_dm_bot', 'account_inactive_user']);

async function openDm(deps: SlackAlertsDeps, userId: string): Promise<string | null> {
  try {
    const opened = await callSlack('conversations.open', () => deps.slack.conversations.open({ users: userId }));
    return opened.channel?.id ?? null;
  } catch (error) {
    if (error instanceof SlackPermanentError && UNREACHABLE_USER.has(error.slackError)) return null;
    throw error;
  }
}

/** The alert's row; when another worker ran the same alert at the same moment (a stalled job's second run), its row wins. */
function createRow(db: Db, data: NewSlackMessage): Promise<SlackMessageRow> {
  return sqlOf(db).transaction((tx) => createSlackMessageOnce(tx, data));
}

async function markPosted(deps: SlackAlertsDeps, alertId: string, channel: string, ts: string): Promise<void> {
  await withTx(deps.db, (tx) => tx.slackMessage.update({ where: { alertId }, data: { ts, channel, postedAt: deps.now() } }));
}
