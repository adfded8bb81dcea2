import type { KnownBlock, WebClient } from '@slack/web-api';
import { context, escapeMrkdwn, isActionsBlock, mention, section } from './blocks';
import { callSlack } from './slack.client';

/** What an operator did to an alert from its buttons. */
export type AlertAction = 'replayed' | 'discarded' | 'claimed';

export interface AlertActedInput {
  /** Where the alert message is (the channel id and ts stored in SlackMessage). */
  channel: string;
  ts: string;
  /** The Slack user who pressed the button. */
  userId: string;
  action: AlertAction;
  /** A short note shown after who did it, e.g. the replay's job id. */
  detail?: string;
}

const VERBS: Record<AlertAction, string> = { replayed: 'Replayed', discarded: 'Discarded', claimed: 'Claimed' };
const ICONS: Record<AlertAction, string> = { replayed: ':repeat:', discarded: ':wastebasket:', claimed: ':raising_hand:' };

/** "Replayed by <@U123> (job …)": the line that replaces an alert's buttons. */
export function actedLine(input: Pick<AlertActedInput, 'userId' | 'action' | 'detail'>): string {
  return `${ICONS[input.action]} ${VERBS[input.action]} by ${mention(input.userId)}${input.detail ? ` (${escapeMrkdwn(input.detail)})` : ''}`;
}

/**
 * Rewrites an alert after one of its buttons was used: the same content without the buttons,
 * and a line saying who did what. The current blocks are read back from Slack (replies reads
 * a thread message and a top-level one alike); if that fails, the message becomes the line
 * alone, which still removes the buttons. Failures are thrown in the queue's taxonomy.
 */
export async function markAlertActed(client: WebClient, input: AlertActedInput): Promise<void> {
  const line = actedLine(input);
  let kept: KnownBlock[] = [];
  let text = line;
  try {
    const thread = await callSlack('conversations.replies', () => client.conversations.replies({ channel: input.channel, ts: input.ts, latest: input.ts, oldest: input.ts, inclusive: true, limit: 1 }));
    const message = thread.messages?.find((m) => m.ts === input.ts);
    kept = ((message?.blocks ?? []) as KnownBlock[]).filter((b) => !isActionsBlock(b));
    if (message?.text) text = `${message.text} — ${line}`;
  } catch {
    kept = [section(line)];
  }
  const blocks: KnownBlock[] = kept.length > 0 ? [...kept.filter((b) => b.block_id !== 'parley_acted'), { ...context(line), block_id: 'parley_acted' }] : [section(line)];
  await callSlack('chat.update', () => client.chat.update({ channel: input.channel, ts: input.ts, text, blocks }));
}
