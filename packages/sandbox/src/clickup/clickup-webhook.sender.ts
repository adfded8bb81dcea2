import { createHmac, randomInt, randomUUID } from 'node:crypto';
import { statusObject } from './clickup-task.store';

export interface ClickUpWebhookEvent {
  /** `taskCreated`, `taskStatusUpdated`, `taskUpdated`, `taskDeleted`, … */
  event: string;
  taskId: string;
  /** Defaults to a fresh ClickUp-style numeric id per call (the same for every repeat of that call). */
  historyItemId?: string;
  /** Defaults to the sandbox's own webhook id. */
  webhookId?: string;
}

export interface SendWebhookOptions {
  /** Deliveries of the identical body, one after another, like ClickUp's retries. @defaultValue 1 */
  times?: number;
  /** Sign with this secret instead of the webhook's own (a wrong signature); null sends no X-Signature. */
  signWith?: string | null;
  /** ClickUp gives up on a delivery after 7 s. @defaultValue 7000 */
  timeoutMs?: number;
}

/** What the task looked like around the event, for the history item's before/after. */
export interface StatusChange {
  before: string | null;
  after: string;
}

const USER = { id: 183, username: 'Campaign Manager', email: 'manager@example.com', color: '#827718', initials: 'CM', profilePicture: null };
const REMOVED_STATUS = { status: null, color: '#000000', type: 'removed', orderindex: -1 };

/** A ClickUp task webhook body (https://developer.clickup.com/docs/webhooktaskpayloads). */
export function buildClickUpWebhookPayload(
  input: ClickUpWebhookEvent & { webhookId: string; historyItemId: string },
  change: StatusChange | undefined,
): Record<string, unknown> {
  const date = String(Date.now());
  const item = { id: input.historyItemId, type: 1, date, parent_id: '901500000001', source: null, user: USER };
  const status = (name: string | null) => (name === null ? REMOVED_STATUS : statusObject(name));
  const after = change ? status(change.after) : status('to do');

  let historyItem: Record<string, unknown>;
  switch (input.event) {
    case 'taskStatusUpdated':
    case 'taskCreated':
      // Creating a task sends both events; each carries a status history item.
      historyItem = {
        ...item,
        field: 'status',
        data: { status_type: (after as { type: string }).type },
        before: input.event === 'taskCreated' ? REMOVED_STATUS : status(change?.before ?? null),
        after,
      };
      break;
    case 'taskUpdated':
      // ClickUp sends the changed content as a JSON string with no "before".
      historyItem = { ...item, field: 'content', data: {}, before: null, after: JSON.stringify({ ops: [{ insert: 'Updated brief\n' }] }) };
      break;
    default:
      historyItem = { ...item, field: null, data: {}, before: null, after: null };
  }
  return { event: input.event, task_id: input.taskId, webhook_id: input.webhookId, history_items: [historyItem] };
}

export function newHistoryItemId(): string {
  return `${randomInt(1, 9)}${String(randomInt(0, 1e9)).padStart(9, '0')}${String(randomInt(0, 1e9)).padStart(9, '0')}`;
}

export function newWebhookId(): string {
  return randomUUID();
}

/**
 * Posts the same raw body `times` times, signed as ClickUp signs (hex HMAC-SHA256 of the raw
 * body in X-Signature), and returns each delivery's HTTP status; 0 means no answer in time.
 */
export async function postSignedWebhook(url: string, body: string, secret: string, options: SendWebhookOptions = {}): Promise<number[]> {
  const times = options.times ?? 1;
  const signWith = options.signWith === undefined ? secret : options.signWith;
  const headers: Record<string, string> = { 'Content-Type': 'application/json', 'User-Agent': 'ClickUp-Webhooks' };
  if (signWith !== null) headers['X-Signature'] = createHmac('sha256', signWith).update(body).digest('hex');

  const statuses: number[] = [];
  for (let attempt = 0; attempt < times; attempt++) {
    try {
      const response = await fetch(url, { method: 'POST', headers, body, signal: AbortSignal.timeout(options.timeoutMs ?? 7_000) });
      await response.arrayBuffer();
      statuses.push(response.status);
    } catch {
      statuses.push(0);
    }
  }
  return statuses;
}
