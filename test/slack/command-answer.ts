import type { SlackSandbox } from '@parley/sandbox/slack';
import { waitFor } from '../support/wait';

/**
 * A slash command's delivery with the text it answered. A command answers in its ack; one that
 * outlasts the ack budget (its database work took over 2 s on a loaded machine) acks "Working
 * on…" and posts its answer to the user as an ephemeral once done: that is its answer then.
 */
export async function withAnswer<R>(slack: SlackSandbox, userId: string, send: () => Promise<R>, acked: (r: R) => unknown): Promise<R & { answer: string }> {
  const before = slack.ephemerals().filter((e) => e.user === userId).length;
  const delivered = await send();
  const text = (acked(delivered) as { text?: unknown } | null | undefined)?.text;
  const ackText = typeof text === 'string' ? text : '';
  if (!ackText.startsWith('Working on')) return { ...delivered, answer: ackText };
  const late = await waitFor('the command answer after its ack', () => slack.ephemerals().filter((e) => e.user === userId)[before], 30_000);
  return { ...delivered, answer: late.text };
}
