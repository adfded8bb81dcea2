import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';

/** The task events that can start a campaign (SPEC 5.1); the worker still checks the task's current status. */
export const CAMPAIGN_TRIGGER_EVENTS = ['taskCreated', 'taskStatusUpdated', 'taskUpdated'] as const;

const id = z.union([z.string().min(1), z.number()]).transform((value) => String(value));

/**
 * A ClickUp task webhook body. Only what routing needs is checked; `before`/`after` vary by
 * event (`taskUpdated` can carry `before: null` and a JSON string in `after`), so they stay unknown.
 */
export const clickUpWebhookSchema = z.object({
  event: z.string().min(1),
  webhook_id: z.string().min(1),
  task_id: z.string().min(1).optional(),
  history_items: z
    .array(
      z.object({
        id,
        type: z.number().optional(),
        date: z.union([z.string(), z.number()]).optional(),
        field: z.string().nullish(),
        before: z.unknown().optional(),
        after: z.unknown().optional(),
      }),
    )
    .optional(),
});

export type ClickUpWebhook = z.output<typeof clickUpWebhookSchema>;

/** Hex HMAC-SHA256 of the raw body, as ClickUp puts in `X-Signature`. */
export function signClickUpBody(rawBody: string | Buffer, secret: string): string {
  return createHmac('sha256', secret).update(rawBody).digest('hex');
}

/** Compares in constant time; a missing or malformed header is simply not valid. */
export function verifyClickUpSignature(rawBody: string | Buffer, signature: string | undefined, secret: string): boolean {
  if (!signature || !/^[0-9a-f]{64}$/i.test(signature.trim())) return false;
  const expected = Buffer.from(signClickUpBody(rawBody, secret), 'hex');
  return timingSafeEqual(expected, Buffer.from(signature.trim(), 'hex'));
}
