import { randomUUID } from 'node:crypto';
import { valuesList } from './client';
import type { SlackMessage } from './generated/prisma/client';
import { findSlackMessage } from './reads';
import type { Sql } from './sql';

/**
 * The mailbox sync's writes in raw SQL, inside a raw transaction (SqlDb.transaction), each
 * leaving the row the Prisma call it replaces leaves (writes.test.ts compares them on both
 * engines): defaults filled as Prisma fills them (the clock's time for @default(now()) and
 * @updatedAt). Ids are random UUIDs where Prisma makes cuids: nothing orders by them but
 * db transfer's paging, which needs them unique only.
 */

export interface InboundRow {
  gmailMessageId: string;
  negotiationId: string;
  gmailThreadId: string;
  messageIdHdr: string | null;
  fromDomain: string | null;
  subject: string | null;
  text: string;
  receivedAt: Date;
  problem: string | null;
}

/** As `inboundMessage.create({ data: row })`: answers the new row's id. */
export async function insertInboundMessage(tx: Sql, row: InboundRow): Promise<string> {
  const id = randomUUID();
  await tx.execute(
    `INSERT INTO "InboundMessage" ("id", "gmailMessageId", "negotiationId", "gmailThreadId", "messageIdHdr", "fromDomain", "subject", "text", "receivedAt", "problem", "createdAt") VALUES ${valuesList(tx.engine, 1, Array<string>(11).fill(''))}`,
    id,
    row.gmailMessageId,
    row.negotiationId,
    row.gmailThreadId,
    row.messageIdHdr,
    row.fromDomain,
    row.subject,
    row.text,
    row.receivedAt,
    row.problem,
    new Date(),
  );
  return id;
}

export interface AuditRow {
  negotiationId: string | null;
  actor: string;
  action: string;
  /** A JSON object; none leaves the column NULL, as Prisma does for an omitted Json?. */
  details?: Record<string, unknown>;
}

/** As `auditEntry.create({ data: entry })` (no campaign; `at` the clock's time): answers the new row's id. */
export async function insertAuditEntry(tx: Sql, entry: AuditRow): Promise<string> {
  const id = randomUUID();
  await tx.execute(
    `INSERT INTO "AuditEntry" ("id", "negotiationId", "actor", "action", "details", "at") VALUES ${valuesList(tx.engine, 1, ['', '', '', '', '::jsonb', ''])}`,
    id,
    entry.negotiationId,
    entry.actor,
    entry.action,
    entry.details === undefined ? null : JSON.stringify(entry.details),
    new Date(),
  );
  return id;
}

/**
 * As `mailboxSync.upsert` with the cursor and the sync's time in both `create` and `update`:
 * the row made on first sight, its other columns kept after.
 */
export async function recordMailboxCursor(tx: Sql, mailbox: string, historyCursor: string, lastSyncAt: Date): Promise<void> {
  await tx.execute(
    `INSERT INTO "MailboxSync" ("mailbox", "historyCursor", "lastSyncAt", "updatedAt") VALUES ${valuesList(tx.engine, 1, ['', '', '', ''])} ON CONFLICT ("mailbox") DO UPDATE SET "historyCursor" = excluded."historyCursor", "lastSyncAt" = excluded."lastSyncAt", "updatedAt" = excluded."updatedAt"`,
    mailbox,
    historyCursor,
    lastSyncAt,
    new Date(),
  );
}

/** A negotiation as a campaign's roster makes it: everything else takes its default. */
export interface NewNegotiation {
  id: string;
  campaignId: string;
  influencerName: string;
  influencerEmail: string;
  platform: string;
  averageViews: number;
  deliverables: string;
  currency: string;
}

/**
 * As `negotiation.createMany({ data: rows })`, in one statement: state `new`, no round, no
 * follow-up, version 0, and the clock's time in createdAt and updatedAt; the other columns NULL.
 * The caller bounds the rows per call (chunksOf): each takes 14 placeholders.
 */
export async function insertNegotiations(tx: Sql, rows: readonly NewNegotiation[]): Promise<void> {
  if (rows.length === 0) return;
  const now = new Date();
  const args = rows.flatMap((r) => [r.id, r.campaignId, r.influencerName, r.influencerEmail, r.platform, r.averageViews, r.deliverables, r.currency, 'new', 0, 0, 0, now, now]);
  await tx.execute(
    `INSERT INTO "Negotiation" ("id", "campaignId", "influencerName", "influencerEmail", "platform", "averageViews", "deliverables", "currency", "state", "round", "followUps", "version", "createdAt", "updatedAt") VALUES ${valuesList(tx.engine, rows.length, Array<string>(14).fill(''))}`,
    ...args,
  );
}

/** As `auditEntry.createMany({ data: entries })`, in one statement; `at` the clock's time. Bounded by the caller, 7 placeholders each. */
export async function insertAuditEntries(tx: Sql, entries: readonly (AuditRow & { campaignId: string | null })[]): Promise<void> {
  if (entries.length === 0) return;
  const at = new Date();
  const args = entries.flatMap((e) => [randomUUID(), e.negotiationId, e.campaignId, e.actor, e.action, e.details === undefined ? null : JSON.stringify(e.details), at]);
  await tx.execute(
    `INSERT INTO "AuditEntry" ("id", "negotiationId", "campaignId", "actor", "action", "details", "at") VALUES ${valuesList(tx.engine, entries.length, ['', '', '', '', '', '::jsonb', ''])}`,
    ...args,
  );
}

/** What an alert's row holds before it is posted. */
export type NewSlackMessage = Pick<SlackMessage, 'alertId' | 'kind' | 'channel' | 'threadTs' | 'negotiationId' | 'deadLetterId' | 'action'>;

/**
 * As `slackMessage.create({ data })` (createdAt the clock's time), except that when a row of
 * that alert exists already (another worker ran the same alert at the same moment) that row is
 * kept and answered: the first one wins, nothing is overwritten.
 */
export async function createSlackMessageOnce(tx: Sql, data: NewSlackMessage): Promise<SlackMessage> {
  await tx.execute(
    `INSERT INTO "SlackMessage" ("alertId", "kind", "channel", "threadTs", "negotiationId", "deadLetterId", "action", "createdAt") VALUES ${valuesList(tx.engine, 1, Array<string>(8).fill(''))} ON CONFLICT ("alertId") DO NOTHING`,
    data.alertId,
    data.kind,
    data.channel,
    data.threadTs,
    data.negotiationId,
    data.deadLetterId,
    data.action,
    new Date(),
  );
  const row = await findSlackMessage(tx, data.alertId);
  if (!row) throw new Error(`the alert's row is missing right after its insert (${data.alertId})`);
  return row;
}
