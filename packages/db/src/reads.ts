import { placeholder } from './client';
import { Prisma, type Campaign, type InboundMessage, type MailboxSync, type Negotiation, type OutboxEmail, type SlackMessage } from './generated/prisma/client';
import type { Sql } from './sql';

/**
 * The worker's hot reads in raw SQL on Prisma's own connection (sqlOf), each returning exactly
 * what the Prisma call it replaces returns (reads.test.ts compares the two on both engines, every
 * column set and unset). Prisma compiles every query in WebAssembly and maps its result in
 * JavaScript, about half of a busy worker's CPU; these run once or more per step and per send.
 * Each takes sqlOf(db), or a raw transaction's Sql to read under its write lock. Outside a
 * transaction, as the calls they replace: on SQLite they share the process's one connection,
 * so, like those, they see what a transaction open on it has written.
 */

export type NegotiationWithCampaign = Negotiation & { campaign: Campaign };
export type OutboxWithNegotiation = OutboxEmail & { negotiation: Negotiation };

/** As `negotiation.findUnique({ where: { id } })`. */
export async function findNegotiation(sql: Sql, id: string): Promise<Negotiation | null> {
  const [negotiation] = await sql.query<Negotiation>(`SELECT * FROM "Negotiation" WHERE "id" = ${placeholder(sql.engine, 1)}`, id);
  return negotiation ?? null;
}

/**
 * One row and the row it belongs to, in one statement: the parent's columns are selected under
 * `parent.`-prefixed aliases (a join's own columns would collide: id, createdAt) and split off
 * again. Each as its Prisma type: the adapters give an aliased column its column's type.
 */
async function withParent<R extends object, P extends object>(
  sql: Sql,
  table: string,
  parentTable: string,
  foreignKey: string,
  parentColumns: readonly string[],
  id: string,
): Promise<{ row: R; parent: P } | null> {
  const aliased = parentColumns.map((c) => `p."${c}" AS "parent.${c}"`).join(', ');
  // An inner join: the foreign key makes a row without its parent impossible.
  const [joined] = await sql.query<Record<string, unknown>>(
    `SELECT r.*, ${aliased} FROM "${table}" r JOIN "${parentTable}" p ON p."id" = r."${foreignKey}" WHERE r."id" = ${placeholder(sql.engine, 1)}`,
    id,
  );
  if (!joined) return null;
  const row: Record<string, unknown> = {};
  const parent: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(joined)) {
    if (key.startsWith('parent.')) parent[key.slice('parent.'.length)] = value;
    else row[key] = value;
  }
  return { row: row as R, parent: parent as P };
}

const CAMPAIGN_COLUMNS = Object.values(Prisma.CampaignScalarFieldEnum);
const NEGOTIATION_COLUMNS = Object.values(Prisma.NegotiationScalarFieldEnum);

/** As `negotiation.findUnique({ where: { id }, include: { campaign: true } })`. */
export async function findNegotiationWithCampaign(sql: Sql, id: string): Promise<NegotiationWithCampaign | null> {
  const found = await withParent<Negotiation, Campaign>(sql, 'Negotiation', 'Campaign', 'campaignId', CAMPAIGN_COLUMNS, id);
  return found && { ...found.row, campaign: found.parent };
}

/** As `outboxEmail.findUnique({ where: { id }, include: { negotiation: true } })`. */
export async function findOutboxWithNegotiation(sql: Sql, id: string): Promise<OutboxWithNegotiation | null> {
  const found = await withParent<OutboxEmail, Negotiation>(sql, 'OutboxEmail', 'Negotiation', 'negotiationId', NEGOTIATION_COLUMNS, id);
  return found && { ...found.row, negotiation: found.parent };
}

export interface StateWithPendingSends extends Pick<Negotiation, 'state' | 'escalationReason'> {
  /** The ids of its pending outbox rows, oldest first. */
  pendingOutboxIds: string[];
}

/**
 * What a step's commit implies, in one statement: the negotiation's state and escalation reason
 * (is an escalation alert due) and its pending outbox rows (the sends to enqueue). Null when
 * there is no such negotiation.
 */
export async function stateWithPendingSends(sql: Sql, negotiationId: string): Promise<StateWithPendingSends | null> {
  const rows = await sql.query<{ state: string; escalationReason: string | null; outboxId: string | null }>(
    `SELECT n."state", n."escalationReason", o."id" AS "outboxId" FROM "Negotiation" n LEFT JOIN "OutboxEmail" o ON o."negotiationId" = n."id" AND o."status" = 'pending' WHERE n."id" = ${placeholder(sql.engine, 1)} ORDER BY o."createdAt", o."id"`,
    negotiationId,
  );
  const [first] = rows;
  if (!first) return null;
  return { state: first.state, escalationReason: first.escalationReason, pendingOutboxIds: rows.flatMap((row) => (row.outboxId === null ? [] : [row.outboxId])) };
}

/** A negotiation's inbound messages not yet answered, in the order they arrived (received, then stored). */
export async function unansweredInbound(sql: Sql, negotiationId: string): Promise<InboundMessage[]> {
  return sql.query<InboundMessage>(
    `SELECT * FROM "InboundMessage" WHERE "negotiationId" = ${placeholder(sql.engine, 1)} AND "processedAt" IS NULL ORDER BY "receivedAt", "createdAt"`,
    negotiationId,
  );
}

/** The subject of a negotiation's first outbox email (its thread's subject), or null before the first. */
export async function threadSubject(sql: Sql, negotiationId: string): Promise<string | null> {
  const [row] = await sql.query<{ subject: string }>(
    `SELECT "subject" FROM "OutboxEmail" WHERE "negotiationId" = ${placeholder(sql.engine, 1)} ORDER BY "createdAt" LIMIT 1`,
    negotiationId,
  );
  return row?.subject ?? null;
}

/** Whether an email of the negotiation created after `createdAt` has been sent (a late-recorded send is then not the thread's latest). */
export async function sentAfter(sql: Sql, negotiationId: string, createdAt: Date): Promise<boolean> {
  const rows = await sql.query<{ id: string }>(
    `SELECT "id" FROM "OutboxEmail" WHERE "negotiationId" = ${placeholder(sql.engine, 1)} AND "status" = 'sent' AND "createdAt" > ${placeholder(sql.engine, 2)} LIMIT 1`,
    negotiationId,
    createdAt,
  );
  return rows.length > 0;
}

/** A negotiation's state and escalation reason, or null when there is no such negotiation. */
export async function negotiationState(sql: Sql, id: string): Promise<Pick<Negotiation, 'state' | 'escalationReason'> | null> {
  const [row] = await sql.query<Pick<Negotiation, 'state' | 'escalationReason'>>(`SELECT "state", "escalationReason" FROM "Negotiation" WHERE "id" = ${placeholder(sql.engine, 1)}`, id);
  return row ?? null;
}

/** The latest transition into `escalated` of a negotiation, or null. */
export async function latestEscalation(sql: Sql, negotiationId: string): Promise<{ id: string; at: Date } | null> {
  const [row] = await sql.query<{ id: string; at: Date }>(
    `SELECT "id", "at" FROM "Transition" WHERE "negotiationId" = ${placeholder(sql.engine, 1)} AND "toState" = 'escalated' ORDER BY "at" DESC LIMIT 1`,
    negotiationId,
  );
  return row ?? null;
}

/** As `mailboxSync.findUnique({ where: { mailbox } })`. */
export async function findMailboxSync(sql: Sql, mailbox: string): Promise<MailboxSync | null> {
  const [row] = await sql.query<MailboxSync>(`SELECT * FROM "MailboxSync" WHERE "mailbox" = ${placeholder(sql.engine, 1)}`, mailbox);
  return row ?? null;
}

/** As `slackMessage.findUnique({ where: { alertId } })`: every alert job reads it first. */
export async function findSlackMessage(sql: Sql, alertId: string): Promise<SlackMessage | null> {
  const [row] = await sql.query<SlackMessage>(`SELECT * FROM "SlackMessage" WHERE "alertId" = ${placeholder(sql.engine, 1)}`, alertId);
  return row ?? null;
}

/**
 * Values a statement binds at most at once where their number follows the data (IN lists,
 * multi-row inserts): far below either engine's limit on bound values (SQLite's is 32,766).
 */
export const BIND_CHUNK = 500;

/** `values` in consecutive chunks of at most `size`; none for no values. */
export function chunksOf<T>(values: readonly T[], size = BIND_CHUNK): T[][] {
  const chunks: T[][] = [];
  for (let i = 0; i < values.length; i += size) chunks.push(values.slice(i, i + size));
  return chunks;
}

/** `SELECT ... WHERE column IN (values)`, in chunks, answers concatenated; no values, no statement. */
async function whereIn<T extends object>(sql: Sql, select: (list: string) => string, values: readonly string[]): Promise<T[]> {
  const rows: T[] = [];
  for (const chunk of chunksOf([...new Set(values)])) {
    rows.push(...(await sql.query<T>(select(chunk.map((_, j) => placeholder(sql.engine, j + 1)).join(', ')), ...chunk)));
  }
  return rows;
}

/** The negotiations of these Gmail threads: as `negotiation.findMany({ where: { gmailThreadId: { in } }, select })`. */
export function negotiationsOfThreads(sql: Sql, threadIds: readonly string[]): Promise<{ id: string; gmailThreadId: string; influencerEmail: string }[]> {
  return whereIn(sql, (list) => `SELECT "id", "gmailThreadId", "influencerEmail" FROM "Negotiation" WHERE "gmailThreadId" IN (${list})`, threadIds);
}

/** Which of these Gmail message ids are already recorded as inbound messages. */
export async function recordedInboundIds(sql: Sql, gmailMessageIds: readonly string[]): Promise<Set<string>> {
  const rows = await whereIn<{ gmailMessageId: string }>(sql, (list) => `SELECT "gmailMessageId" FROM "InboundMessage" WHERE "gmailMessageId" IN (${list})`, gmailMessageIds);
  return new Set(rows.map((row) => row.gmailMessageId));
}

/** Pending outbox rows of negotiations that have no Gmail thread yet, with the influencer's address. */
export function pendingSendsWithoutThread(sql: Sql): Promise<{ negotiationId: string; messageIdHdr: string; influencerEmail: string }[]> {
  return sql.query(
    `SELECT o."negotiationId", o."messageIdHdr", n."influencerEmail" FROM "OutboxEmail" o JOIN "Negotiation" n ON n."id" = o."negotiationId" WHERE o."status" = 'pending' AND n."gmailThreadId" IS NULL`,
  );
}
