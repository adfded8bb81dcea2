import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { Db, DatabaseEngine, Prisma, Tx } from '@parley/db';
import { CommandError } from '../errors';

/**
 * The file `parley db export` writes and `parley db import` reads: JSON Lines, one value a line.
 *
 *   line 1       the header: format, version, source engine, migrations applied, rows per table
 *   then         one line per row, `{"table":"Campaign","row":{...}}`, tables in TABLES order
 *                (parents before children), each table's rows in primary-key order
 *   last line    `{"end":true,"rows":N,"sha256":"..."}`: the row count and the SHA-256 of every
 *                byte before this line, so a truncated or altered file is refused
 *
 * A row holds every column of its model: DateTime as an ISO 8601 string (UTC, milliseconds),
 * BigInt as a decimal string, Json as JSON, null kept.
 */
export const EXPORT_FORMAT = 'parley-db-export';
export const EXPORT_VERSION = 1;

/** Rows read per query when exporting. */
export const PAGE_SIZE = 500;

/**
 * Rows inserted per statement when importing. Prisma keeps recent statements (with their
 * values) for a while, so the memory an import holds grows with this: measured on PostgreSQL,
 * 500-row batches plateaued at about 124 MB of heap, 100-row batches at about 39 MB, and were
 * no slower.
 */
export const INSERT_BATCH = 100;

/** A client that reads: the database itself, or the read transaction holding the snapshot. */
export type Reader = Db | Tx;

// Column types, as the file holds them and as Prisma takes them back.
const INT32 = z.number().int().min(-2_147_483_648).max(2_147_483_647);
const text = z.string();
const textOrNull = text.nullable();
const int = INT32;
const intOrNull = INT32.nullable();
const dateTime = z.iso.datetime({ precision: 3 }).transform((value) => new Date(value));
const dateTimeOrNull = dateTime.nullable();

/** Prisma's markers for the two nulls of a Json column (the runtime's, passed in: @parley/db is loaded on use). */
export interface JsonNulls {
  DbNull: typeof Prisma.DbNull;
  JsonNull: typeof Prisma.JsonNull;
}

/**
 * A nullable Json column: null is the database's NULL (Prisma.DbNull). Prisma reads a stored
 * JSON null back as null too, so such a value comes back as NULL (Parley never stores one).
 */
function jsonOrNull(nulls: JsonNulls) {
  return z.json().transform((value) => (value === null ? nulls.DbNull : value));
}
/** A required Json column: a null is the JSON value null (Prisma.JsonNull). */
function jsonValue(nulls: JsonNulls) {
  return z.json().transform((value) => (value === null ? nulls.JsonNull : value));
}

/** One model as the transfer moves it. */
export interface Table {
  model: Prisma.ModelName;
  /** The primary key: rows are read, written and compared in its order. */
  key: string;
  /** Every scalar column, in the schema's order. */
  columns: readonly string[];
  count(db: Reader): Promise<number>;
  /** The next `take` rows after primary key `after` (from the start when undefined). */
  page(db: Reader, after: string | undefined, take: number): Promise<Record<string, unknown>[]>;
  /** Null when `value` is a valid row of this table, else what is wrong with it. */
  problem(value: unknown): string | null;
  /** Parses each row (throws on an invalid one) and inserts them in one statement. */
  insert(tx: Tx, values: unknown[]): Promise<number>;
}

function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid';
  const where = issue.path.length > 0 ? issue.path.map(String).join('.') : 'row';
  return `${where}: ${issue.message}`;
}

function defineTable<S extends z.ZodObject>(spec: {
  model: Prisma.ModelName;
  key: keyof z.output<S> & string;
  schema: S;
  count: (db: Reader) => Promise<number>;
  page: (db: Reader, after: string | undefined, take: number) => Promise<object[]>;
  insert: (tx: Tx, rows: z.output<S>[]) => Promise<{ count: number }>;
}): Table {
  const schema = spec.schema.strict();
  return {
    model: spec.model,
    key: spec.key,
    columns: Object.keys(spec.schema.shape),
    count: spec.count,
    page: async (db, after, take) => (await spec.page(db, after, take)) as Record<string, unknown>[],
    problem: (value) => {
      const result = schema.safeParse(value);
      return result.success ? null : describeIssue(result.error);
    },
    insert: async (tx, values) => {
      const rows = values.map((value) => {
        const result = schema.safeParse(value);
        if (!result.success) throw new CommandError(`a ${spec.model} row is invalid: ${describeIssue(result.error)}`);
        return result.data as z.output<S>;
      });
      return (await spec.insert(tx, rows)).count;
    },
  };
}

const after = (key: string | undefined) => (key === undefined ? {} : { gt: key });

/**
 * Every model, parents before children (the order rows are inserted in, so each foreign key
 * finds its row). `tablesCoverSchema` proves the list and each table's columns match the
 * Prisma client's own, so a model or column added later cannot be left out silently.
 */
export function transferTables(nulls: JsonNulls): readonly Table[] {
  const detailsJson = jsonOrNull(nulls);
  const payloadJson = jsonValue(nulls);
  return [
    defineTable({
      model: 'Campaign',
      key: 'id',
      schema: z.object({
        id: text,
        clickupTaskId: text,
        name: text,
        currency: text,
        cpmFloorMinor: int,
        cpmCeilingMinor: int,
        maxRounds: int,
        rosterSheetId: text,
        rosterRange: text,
        status: text,
        createdAt: dateTime,
        updatedAt: dateTime,
      }),
      count: (db) => db.campaign.count(),
      page: (db, key, take) => db.campaign.findMany({ where: { id: after(key) }, orderBy: { id: 'asc' }, take }),
      insert: (tx, data) => tx.campaign.createMany({ data }),
    }),
    defineTable({
      model: 'Negotiation',
      key: 'id',
      schema: z.object({
        id: text,
        campaignId: text,
        influencerName: text,
        influencerEmail: text,
        platform: text,
        averageViews: int,
        deliverables: text,
        currency: text,
        state: text,
        round: int,
        currentOfferMinor: intOrNull,
        lastAskMinor: intOrNull,
        agreedRateMinor: intOrNull,
        gmailThreadId: textOrNull,
        lastMessageIdHdr: textOrNull,
        followUps: int,
        lastOutboundAt: dateTimeOrNull,
        lastInboundAt: dateTimeOrNull,
        claimedBy: textOrNull,
        claimedAt: dateTimeOrNull,
        claimedBySlackId: textOrNull,
        escalationReason: textOrNull,
        version: int,
        createdAt: dateTime,
        updatedAt: dateTime,
      }),
      count: (db) => db.negotiation.count(),
      page: (db, key, take) => db.negotiation.findMany({ where: { id: after(key) }, orderBy: { id: 'asc' }, take }),
      insert: (tx, data) => tx.negotiation.createMany({ data }),
    }),
    defineTable({
      model: 'Transition',
      key: 'id',
      schema: z.object({ id: text, negotiationId: text, fromState: text, event: text, toState: text, details: detailsJson, at: dateTime }),
      count: (db) => db.transition.count(),
      page: (db, key, take) => db.transition.findMany({ where: { id: after(key) }, orderBy: { id: 'asc' }, take }),
      insert: (tx, data) => tx.transition.createMany({ data }),
    }),
    defineTable({
      model: 'InboundMessage',
      key: 'id',
      schema: z.object({
        id: text,
        gmailMessageId: text,
        negotiationId: text,
        gmailThreadId: text,
        messageIdHdr: textOrNull,
        fromDomain: textOrNull,
        subject: textOrNull,
        text,
        receivedAt: dateTime,
        processedAt: dateTimeOrNull,
        problem: textOrNull,
        createdAt: dateTime,
      }),
      count: (db) => db.inboundMessage.count(),
      page: (db, key, take) => db.inboundMessage.findMany({ where: { id: after(key) }, orderBy: { id: 'asc' }, take }),
      insert: (tx, data) => tx.inboundMessage.createMany({ data }),
    }),
    defineTable({
      model: 'OutboxEmail',
      key: 'id',
      schema: z.object({
        id: text,
        negotiationId: text,
        kind: text,
        messageIdHdr: text,
        toAddress: text,
        subject: text,
        body: text,
        inReplyTo: textOrNull,
        references: textOrNull,
        gmailThreadId: textOrNull,
        status: text,
        gmailMessageId: textOrNull,
        sentAt: dateTimeOrNull,
        attemptedAt: dateTimeOrNull,
        createdAt: dateTime,
      }),
      count: (db) => db.outboxEmail.count(),
      page: (db, key, take) => db.outboxEmail.findMany({ where: { id: after(key) }, orderBy: { id: 'asc' }, take }),
      insert: (tx, data) => tx.outboxEmail.createMany({ data }),
    }),
    defineTable({
      model: 'MailboxSync',
      key: 'mailbox',
      schema: z.object({
        mailbox: text,
        historyCursor: textOrNull,
        highestNotifiedHistoryId: textOrNull,
        watchExpiration: dateTimeOrNull,
        lastSyncAt: dateTimeOrNull,
        updatedAt: dateTime,
      }),
      count: (db) => db.mailboxSync.count(),
      page: (db, key, take) => db.mailboxSync.findMany({ where: { mailbox: after(key) }, orderBy: { mailbox: 'asc' }, take }),
      insert: (tx, data) => tx.mailboxSync.createMany({ data }),
    }),
    defineTable({
      model: 'AuditEntry',
      key: 'id',
      schema: z.object({ id: text, negotiationId: textOrNull, campaignId: textOrNull, actor: text, action: text, details: detailsJson, at: dateTime }),
      count: (db) => db.auditEntry.count(),
      page: (db, key, take) => db.auditEntry.findMany({ where: { id: after(key) }, orderBy: { id: 'asc' }, take }),
      insert: (tx, data) => tx.auditEntry.createMany({ data }),
    }),
    defineTable({
      model: 'DeadLetter',
      key: 'id',
      schema: z.object({
        id: text,
        queue: text,
        jobId: text,
        jobName: text,
        payload: payloadJson,
        errorClass: text,
        errorMessage: text,
        attempts: int,
        failedAt: dateTime,
        replayedAt: dateTimeOrNull,
        replayJobId: textOrNull,
        discardedAt: dateTimeOrNull,
        resolvedBy: textOrNull,
      }),
      count: (db) => db.deadLetter.count(),
      page: (db, key, take) => db.deadLetter.findMany({ where: { id: after(key) }, orderBy: { id: 'asc' }, take }),
      insert: (tx, data) => tx.deadLetter.createMany({ data }),
    }),
    defineTable({
      model: 'WebhookDelivery',
      key: 'id',
      schema: z.object({ id: text, queue: text, jobName: text, payload: payloadJson, receivedAt: dateTime }),
      count: (db) => db.webhookDelivery.count(),
      page: (db, key, take) => db.webhookDelivery.findMany({ where: { id: after(key) }, orderBy: { id: 'asc' }, take }),
      insert: (tx, data) => tx.webhookDelivery.createMany({ data }),
    }),
    defineTable({
      model: 'IntegrationHealth',
      key: 'name',
      schema: z.object({ name: text, failingSince: dateTimeOrNull, lastError: textOrNull, updatedAt: dateTime }),
      count: (db) => db.integrationHealth.count(),
      page: (db, key, take) => db.integrationHealth.findMany({ where: { name: after(key) }, orderBy: { name: 'asc' }, take }),
      insert: (tx, data) => tx.integrationHealth.createMany({ data }),
    }),
    defineTable({
      model: 'SlackMessage',
      key: 'alertId',
      schema: z.object({
        alertId: text,
        kind: text,
        channel: text,
        ts: textOrNull,
        threadTs: textOrNull,
        negotiationId: textOrNull,
        deadLetterId: textOrNull,
        postedAt: dateTimeOrNull,
        actedAt: dateTimeOrNull,
        actedBy: textOrNull,
        action: textOrNull,
        createdAt: dateTime,
      }),
      count: (db) => db.slackMessage.count(),
      page: (db, key, take) => db.slackMessage.findMany({ where: { alertId: after(key) }, orderBy: { alertId: 'asc' }, take }),
      insert: (tx, data) => tx.slackMessage.createMany({ data }),
    }),
  ];
}

/**
 * Proves `tables` moves every model of the Prisma client with every one of its columns (the
 * client's `ModelName` and `<Model>ScalarFieldEnum`); throws naming what is missing or extra.
 */
export function tablesCoverSchema(tables: readonly Table[], prisma: Record<string, unknown>): void {
  const models = Object.values(prisma.ModelName as Record<string, string>);
  const listed = tables.map((t) => t.model as string);
  const problems: string[] = [];
  for (const model of models) if (!listed.includes(model)) problems.push(`model ${model} is not transferred`);
  for (const model of listed) if (!models.includes(model)) problems.push(`model ${model} is not in the schema`);
  for (const table of tables) {
    const fields = Object.values((prisma[`${table.model}ScalarFieldEnum`] ?? {}) as Record<string, string>);
    const missing = fields.filter((f) => !table.columns.includes(f));
    const extra = table.columns.filter((c) => !fields.includes(c));
    if (missing.length > 0) problems.push(`${table.model}: columns ${missing.join(', ')} are not transferred`);
    if (extra.length > 0) problems.push(`${table.model}: columns ${extra.join(', ')} are not in the schema`);
  }
  if (problems.length > 0) throw new CommandError(`the transfer does not match this program's data model: ${problems.join('; ')}`);
}

/** Rows per table, in TABLES order. */
export type TableCounts = Record<Prisma.ModelName, number>;

export function headerSchema(tables: readonly Table[]) {
  const models = tables.map((t) => t.model);
  return z
    .object({
      format: z.literal(EXPORT_FORMAT, { message: `is not "${EXPORT_FORMAT}": this is not a file parley db export wrote` }),
      version: z.literal(EXPORT_VERSION, { message: `is not ${EXPORT_VERSION}, the only format version this program reads` }),
      engine: z.enum(['sqlite', 'postgres']),
      migrations: z.array(z.string().min(1)),
      exportedAt: z.iso.datetime(),
      tables: z.record(z.string(), z.number().int().min(0)).refine((t) => models.every((m) => m in t) && Object.keys(t).every((k) => (models as string[]).includes(k)), {
        message: `must list exactly the tables ${models.join(', ')}`,
      }),
    })
    .strict();
}
export type ExportHeader = z.infer<ReturnType<typeof headerSchema>>;

export const rowLineSchema = z.object({ table: z.string(), row: z.record(z.string(), z.unknown()) }).strict();

export const trailerSchema = z
  .object({ end: z.literal(true), rows: z.number().int().min(0), sha256: z.string().regex(/^[0-9a-f]{64}$/) })
  .strict();

/** One line of the file: JSON with BigInt as a decimal string (Dates serialise as ISO strings). */
export function jsonLine(value: unknown): string {
  return `${JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}\n`;
}

export function newDigest() {
  return createHash('sha256');
}

/** The migrations recorded as applied (finished, not rolled back), by name; none when the table is missing. */
export async function appliedMigrations(db: Reader): Promise<string[]> {
  try {
    const rows = await db.$queryRawUnsafe<{ migration_name: string }[]>(
      'SELECT "migration_name" FROM "_prisma_migrations" WHERE "finished_at" IS NOT NULL AND "rolled_back_at" IS NULL ORDER BY "migration_name"',
    );
    return rows.map((row) => row.migration_name).sort();
  } catch {
    return [];
  }
}

/** How two lists of migrations differ, for an error message; null when they are the same. */
export function migrationDifference(found: readonly string[], expected: readonly string[]): string | null {
  const missing = expected.filter((m) => !found.includes(m));
  const unknown = found.filter((m) => !expected.includes(m));
  if (missing.length === 0 && unknown.length === 0) return null;
  const parts: string[] = [];
  if (missing.length > 0) parts.push(`lacks ${missing.join(', ')}`);
  if (unknown.length > 0) parts.push(`has ${unknown.join(', ')}, which this program does not know (it is newer than this program)`);
  return parts.join(' and ');
}

export function engineName(engine: DatabaseEngine): string {
  return engine === 'postgres' ? 'PostgreSQL' : 'SQLite';
}

/** The readiness probe's own row (IntegrationHealth 'db-probe'): every process writes it at start, so it is not data. */
export const PROBE_ROW = 'db-probe';
