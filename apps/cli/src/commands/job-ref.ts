import { z } from 'zod';
import type { Db } from '@parley/db';

const negotiationRef = z.object({ negotiationId: z.string().min(1) });
const outboxRef = z.object({ outboxId: z.string().min(1) });

/**
 * The negotiation a dead letter's payload is about (a step or an alert names it, a send names
 * its outbox row), read as the dashboard and Slack read it; null when the job carries none.
 */
export async function negotiationOfPayload(db: Db, queue: string, payload: unknown): Promise<string | null> {
  if (queue === 'negotiation-steps' || queue === 'alerts') {
    const ref = negotiationRef.safeParse(payload);
    if (!ref.success) return null;
    return (await db.negotiation.findUnique({ where: { id: ref.data.negotiationId }, select: { id: true } }))?.id ?? null;
  }
  if (queue === 'outbound-email') {
    const ref = outboxRef.safeParse(payload);
    if (!ref.success) return null;
    return (await db.outboxEmail.findUnique({ where: { id: ref.data.outboxId }, select: { negotiationId: true } }))?.negotiationId ?? null;
  }
  return null;
}
