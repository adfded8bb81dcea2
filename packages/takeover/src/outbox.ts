import { isSqlTx, valuesList, type Sql, type Tx } from '@parley/db';
import { enqueue, jobIds } from '@parley/queue';
import type { EngineCore } from './engine-core';

export interface OutboxDraft {
  negotiationId: string;
  /** Unique per negotiation and step ('open', 'r-<gmail id>', 'fu-<n>'): a repeated step cannot write twice. */
  key: string;
  kind: string;
  toAddress: string;
  subject: string;
  body: string;
  inReplyTo: string | null;
  references: string | null;
  gmailThreadId: string | null;
}

export function outboxId(negotiationId: string, key: string): string {
  return `${negotiationId}.${key}`;
}

/** A deterministic RFC 5322 Message-ID: the sender looks it up in Gmail before every (re)send. */
export function messageIdFor(id: string, mailbox: string): string {
  const domain = mailbox.includes('@') ? mailbox.slice(mailbox.lastIndexOf('@') + 1) : 'parley.local';
  return `<${id}@${domain}>`;
}

/**
 * Writes a step's email to the outbox, in the step's transaction: through Prisma's client, or in
 * raw SQL in a raw transaction (the same row: status pending, createdAt the clock's time as
 * @default(now()) sets it; packages/takeover/src/outbox.test.ts compares the two). A second
 * row for the same step fails on the id's uniqueness either way.
 */
export async function writeOutbox(tx: Tx | Sql, draft: OutboxDraft, mailbox: string): Promise<string> {
  const id = outboxId(draft.negotiationId, draft.key);
  if (isSqlTx(tx)) {
    await tx.execute(
      `INSERT INTO "OutboxEmail" ("id", "negotiationId", "kind", "messageIdHdr", "toAddress", "subject", "body", "inReplyTo", "references", "gmailThreadId", "status", "createdAt") VALUES ${valuesList(tx.engine, 1, Array<string>(12).fill(''))}`,
      id,
      draft.negotiationId,
      draft.kind,
      messageIdFor(id, mailbox),
      draft.toAddress,
      draft.subject,
      draft.body,
      draft.inReplyTo,
      draft.references,
      draft.gmailThreadId,
      'pending',
      new Date(),
    );
    return id;
  }
  await tx.outboxEmail.create({
    data: {
      id,
      negotiationId: draft.negotiationId,
      kind: draft.kind,
      messageIdHdr: messageIdFor(id, mailbox),
      toAddress: draft.toAddress,
      subject: draft.subject,
      body: draft.body,
      inReplyTo: draft.inReplyTo,
      references: draft.references,
      gmailThreadId: draft.gmailThreadId,
    },
  });
  return id;
}

/**
 * Enqueues a send job for each of these pending outbox rows (a negotiation's, read with
 * stateWithPendingSends). Called after each step commits, and again by any later run of a step,
 * so a crash between commit and enqueue only delays the email (the job id is the outbox id, so
 * this never sends twice).
 */
export async function enqueueSends(deps: EngineCore, pendingOutboxIds: readonly string[]): Promise<number> {
  for (const id of pendingOutboxIds) await enqueue(deps.queues, 'outbound-email', { outboxId: id }, { jobId: jobIds.sendEmail(id) });
  return pendingOutboxIds.length;
}
