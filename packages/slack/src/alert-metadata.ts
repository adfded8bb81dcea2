import type { MessageMetadata, WebClient } from '@slack/web-api';
import { callSlack } from './slack.client';

/** The metadata every alert carries, so a post whose answer was lost can be found again. */
export const ALERT_EVENT_TYPE = 'parley_alert';

export function alertMetadata(alertId: string): MessageMetadata {
  return { event_type: ALERT_EVENT_TYPE, event_payload: { alert_id: alertId } };
}

interface FoundMessage {
  ts: string;
}

const PAGE = 200;
/** Enough pages for any burst of alerts (the digest caps them per minute); bounds the search. */
const MAX_PAGES = 5;

function carries(message: { metadata?: { event_type?: string; event_payload?: Record<string, unknown> } }, alertId: string): boolean {
  return message.metadata?.event_type === ALERT_EVENT_TYPE && message.metadata.event_payload?.alert_id === alertId;
}

/**
 * Looks for a message already posted for this alert (its metadata names the alert id): in the
 * thread when it went into one (thread replies are not in conversations.history), otherwise
 * among the channel's messages since `since`. Null when there is none.
 */
export async function findAlertMessage(
  client: WebClient,
  input: { channel: string; alertId: string; threadTs?: string | null; since: Date },
): Promise<FoundMessage | null> {
  const oldest = (Math.floor(input.since.getTime() / 1000) - 1).toString();
  let cursor: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const result = input.threadTs
      ? await callSlack('conversations.replies', () =>
          client.conversations.replies({ channel: input.channel, ts: input.threadTs ?? '', oldest, include_all_metadata: true, limit: PAGE, ...(cursor ? { cursor } : {}) }),
        )
      : await callSlack('conversations.history', () =>
          client.conversations.history({ channel: input.channel, oldest, include_all_metadata: true, limit: PAGE, ...(cursor ? { cursor } : {}) }),
        );
    const found = (result.messages ?? []).find((m) => carries(m as Parameters<typeof carries>[0], input.alertId));
    if (found?.ts) return { ts: found.ts };
    cursor = result.response_metadata?.next_cursor;
    if (!cursor) return null;
  }
  return null;
}
