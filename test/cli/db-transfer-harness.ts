import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { openDatabase, Prisma, withTx, type Db } from '@parley/db';
import { postgresUrl, TEST_DB_PREFIX } from '../support/test-database';
import { parley } from './cli-harness';

const PG_ADMIN = path.join(__dirname, '..', 'support', 'pg-admin.js');
// Named as the suite's own databases are (prefix, base36 time, ...), so a crashed run's are swept.
const RUN = process.env.PARLEY_TEST_RUN ?? `${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
let created = 0;

export interface PostgresTarget {
  name: string;
  url: string;
  /** Drops the database (connections to it are ended). */
  drop: () => void;
}

/** A new, empty PostgreSQL database (no tables at all) on the test server. */
export function createEmptyPostgres(label: string): PostgresTarget {
  created += 1;
  const tag = label.toLowerCase().replace(/[^a-z0-9]+/g, '_').slice(0, 12);
  const name = `${TEST_DB_PREFIX}${RUN}_${tag}_${process.pid}_${created}`.slice(0, 63);
  execFileSync(process.execPath, [PG_ADMIN, 'create', name], { stdio: 'pipe' });
  return { name, url: postgresUrl(name), drop: () => execFileSync(process.execPath, [PG_ADMIN, 'drop', name], { stdio: 'pipe' }) };
}

/** A new PostgreSQL database migrated by the operators' own command, `parley db migrate`. */
export async function createMigratedPostgres(label: string): Promise<PostgresTarget> {
  const target = createEmptyPostgres(label);
  const migrated = await parley(['db', 'migrate'], { DATABASE_URL: target.url });
  if (migrated.code !== 0) {
    target.drop();
    throw new Error(`parley db migrate failed (${String(migrated.code)}):\n${migrated.stdout}\n${migrated.stderr}`);
  }
  return target;
}

type Row = Record<string, unknown>;

/**
 * Every row of every model, read through Prisma and sorted by primary key in JavaScript (the
 * engines' collations differ). Written here independently of the command's own table list;
 * `modelsRead` lets a test prove it covers every model of the schema.
 */
const READERS: Record<Prisma.ModelName, { key: string; read: (db: Db) => Promise<object[]> }> = {
  Campaign: { key: 'id', read: (db) => db.campaign.findMany() },
  Negotiation: { key: 'id', read: (db) => db.negotiation.findMany() },
  Transition: { key: 'id', read: (db) => db.transition.findMany() },
  InboundMessage: { key: 'id', read: (db) => db.inboundMessage.findMany() },
  OutboxEmail: { key: 'id', read: (db) => db.outboxEmail.findMany() },
  MailboxSync: { key: 'mailbox', read: (db) => db.mailboxSync.findMany() },
  AuditEntry: { key: 'id', read: (db) => db.auditEntry.findMany() },
  DeadLetter: { key: 'id', read: (db) => db.deadLetter.findMany() },
  WebhookDelivery: { key: 'id', read: (db) => db.webhookDelivery.findMany() },
  IntegrationHealth: { key: 'name', read: (db) => db.integrationHealth.findMany() },
  SlackMessage: { key: 'alertId', read: (db) => db.slackMessage.findMany() },
};

export const modelsRead = (): string[] => Object.keys(READERS);

export async function dumpAll(db: Db): Promise<Record<string, Row[]>> {
  const out: Record<string, Row[]> = {};
  for (const [model, { key, read }] of Object.entries(READERS)) {
    const rows = (await read(db)) as Row[];
    out[model] = rows.sort((a, b) => (String(a[key]) < String(b[key]) ? -1 : String(a[key]) > String(b[key]) ? 1 : 0));
  }
  return out;
}

/** Opens `url`, dumps it, closes it. */
export async function dumpUrl(url: string): Promise<Record<string, Row[]>> {
  const db = openDatabase(url);
  try {
    return await dumpAll(db);
  } finally {
    await db.$disconnect();
  }
}

export function totalRows(dump: Record<string, Row[]>): number {
  return Object.values(dump).reduce((n, rows) => n + rows.length, 0);
}

const at = (iso: string) => new Date(iso);

/**
 * Fills every table with rows that exercise each column type: nulls and values, text with
 * quotes, backslashes, line breaks and non-ASCII, nested JSON (objects, arrays, nulls, numbers),
 * millisecond timestamps, an explicit `updatedAt` and `version`, and more Transition rows than
 * one page of the export (so paging is crossed).
 */
export async function populate(db: Db): Promise<void> {
  await withTx(db, async (tx) => {
    await tx.campaign.create({
      data: { id: 'camp-a', clickupTaskId: 'task-a', name: 'Summer "Launch" \\ naïve 🚀', cpmFloorMinor: 2000, cpmCeilingMinor: 3000, rosterSheetId: 'sheet-a', createdAt: at('2026-01-02T03:04:05.678Z'), updatedAt: at('2026-01-03T00:00:00.001Z') },
    });
    await tx.campaign.create({
      data: { id: 'camp-b', clickupTaskId: 'task-b', name: 'Winter', currency: 'EUR', cpmFloorMinor: 1, cpmCeilingMinor: 2_147_483_647, maxRounds: 5, rosterSheetId: 'sheet-b', rosterRange: 'Other!A1:Z', status: 'finished', updatedAt: at('2026-02-01T00:00:00.000Z') },
    });
    await tx.negotiation.create({
      data: {
        id: 'neg-1', campaignId: 'camp-a', influencerName: 'Ana Ärger', influencerEmail: 'ana@creators.example', platform: 'youtube', averageViews: 150_000, deliverables: '1 video\n2 shorts',
        state: 'counter_sent', round: 2, currentOfferMinor: 450_000, lastAskMinor: 600_000, gmailThreadId: 'thread-1', lastMessageIdHdr: '<m1@parley.example>', followUps: 1,
        lastOutboundAt: at('2026-01-05T10:00:00.123Z'), lastInboundAt: at('2026-01-05T11:00:00.456Z'), version: 7, createdAt: at('2026-01-04T00:00:00.000Z'), updatedAt: at('2026-01-05T11:00:00.999Z'),
      },
    });
    await tx.negotiation.create({
      data: {
        id: 'neg-2', campaignId: 'camp-a', influencerName: 'Ben', influencerEmail: 'ben@creators.example', platform: 'tiktok', averageViews: 0, deliverables: '', state: 'human_managed',
        claimedBy: 'slack:U1', claimedAt: at('2026-01-06T00:00:00.000Z'), claimedBySlackId: 'U1', escalationReason: 'asked above the ceiling', agreedRateMinor: null, version: 3, updatedAt: at('2026-01-06T00:00:00.000Z'),
      },
    });
    await tx.negotiation.create({ data: { id: 'neg-3', campaignId: 'camp-b', influencerName: 'Cleo', influencerEmail: 'cleo@creators.example', platform: 'instagram', averageViews: 42, deliverables: '1 post', agreedRateMinor: 99, state: 'agreed', updatedAt: at('2026-02-02T00:00:00.000Z') } });
    await tx.transition.create({ data: { id: 'tr-null', negotiationId: 'neg-1', fromState: 'new', event: 'opened', toState: 'offer_sent', details: Prisma.DbNull, at: at('2026-01-04T00:00:01.000Z') } });
    await tx.transition.create({
      data: { id: 'tr-json', negotiationId: 'neg-1', fromState: 'offer_sent', event: 'reply_received', toState: 'counter_sent', details: { messages: ['gm-1'], nested: { list: [1, 2.5, -3, null, true, 'x'], empty: {}, none: null }, text: 'line\nbreak "q" \\ é' }, at: at('2026-01-05T11:00:00.456Z') },
    });
    await tx.transition.createMany({
      data: Array.from({ length: 1_203 }, (_, i) => ({ id: `tr-bulk-${String(i).padStart(5, '0')}`, negotiationId: i % 2 ? 'neg-1' : 'neg-3', fromState: 's', event: `e${i}`, toState: 't', details: { i }, at: new Date(Date.UTC(2026, 0, 1, 0, 0, 0, i)) })),
    });
    await tx.inboundMessage.create({ data: { id: 'in-1', gmailMessageId: 'gm-1', negotiationId: 'neg-1', gmailThreadId: 'thread-1', messageIdHdr: '<r1@creators.example>', fromDomain: 'creators.example', subject: 'Re: Collab', text: 'Hi,\r\nI would do it for $6,000.\n\t— Ana', receivedAt: at('2026-01-05T11:00:00.456Z'), processedAt: at('2026-01-05T11:00:02.000Z') } });
    await tx.inboundMessage.create({ data: { id: 'in-2', gmailMessageId: 'gm-2', negotiationId: 'neg-2', gmailThreadId: 'thread-2', text: 'unreadable', receivedAt: at('2026-01-06T00:00:00.000Z'), problem: 'unparseable: no text part' } });
    await tx.outboxEmail.create({ data: { id: 'neg-1.opening', negotiationId: 'neg-1', kind: 'opening', messageIdHdr: '<neg-1.opening@parley.example>', toAddress: 'ana@creators.example', subject: 'Collab', body: 'Hello Ana,\nwe offer $4,500.', gmailThreadId: 'thread-1', status: 'sent', gmailMessageId: 'gm-0', sentAt: at('2026-01-04T00:00:02.000Z') } });
    await tx.outboxEmail.create({ data: { id: 'neg-1.counter-2', negotiationId: 'neg-1', kind: 'counter', messageIdHdr: '<neg-1.counter-2@parley.example>', toAddress: 'ana@creators.example', subject: 'Re: Collab', body: 'pending body', inReplyTo: '<r1@creators.example>', references: '<neg-1.opening@parley.example> <r1@creators.example>', status: 'pending' } });
    await tx.mailboxSync.create({ data: { mailbox: 'deals@parley.example', historyCursor: '18446744073709551615', highestNotifiedHistoryId: '18446744073709551615', watchExpiration: at('2026-01-12T00:00:00.000Z'), lastSyncAt: at('2026-01-05T11:00:01.000Z') } });
    await tx.mailboxSync.create({ data: { mailbox: 'other@parley.example' } });
    await tx.auditEntry.create({ data: { id: 'au-1', negotiationId: 'neg-2', actor: 'slack:U1', action: 'claimed', details: { via: 'slack' }, at: at('2026-01-06T00:00:00.000Z') } });
    await tx.auditEntry.create({ data: { id: 'au-2', campaignId: 'camp-b', actor: 'system', action: 'campaign_finished', details: Prisma.DbNull, at: at('2026-02-02T00:00:00.000Z') } });
    await tx.deadLetter.create({ data: { id: 'dl-1', queue: 'outbound-email', jobId: 'job-1', jobName: 'send', payload: { outboxId: 'neg-1.counter-2', attempt: [1, 2] }, errorClass: 'permanent', errorMessage: 'PermanentError: 400', attempts: 3, failedAt: at('2026-01-07T00:00:00.000Z'), replayedAt: at('2026-01-07T01:00:00.000Z'), replayJobId: 'job-1.replay-dl-1', resolvedBy: 'admin' } });
    await tx.deadLetter.create({ data: { id: 'dl-2', queue: 'alerts', jobId: 'job-2', jobName: 'alert', payload: [], errorClass: 'transient', errorMessage: 'x', attempts: 1, discardedAt: at('2026-01-08T00:00:00.000Z') } });
    await tx.webhookDelivery.create({ data: { id: 'wh-1', queue: 'campaign-tasks', jobName: 'ingest', payload: { taskId: 'task-a', historyItemId: '9001' }, receivedAt: at('2026-01-02T03:04:05.000Z') } });
    await tx.integrationHealth.create({ data: { name: 'anthropic', failingSince: at('2026-01-09T00:00:00.000Z'), lastError: '529 overloaded' } });
    await tx.slackMessage.create({ data: { alertId: 'alert-1', kind: 'escalation', channel: 'C1', ts: '1700000000.000100', threadTs: '1700000000.000100', negotiationId: 'neg-2', postedAt: at('2026-01-06T00:00:01.000Z'), actedAt: at('2026-01-06T00:00:02.000Z'), actedBy: 'U1', action: 'claim' } });
    await tx.slackMessage.create({ data: { alertId: 'alert-2', kind: 'dead_letter', channel: 'C1', deadLetterId: 'dl-1' } });
  });
}

/** The lines of an export file (without the final line break). */
export function exportLines(file: string): string[] {
  return fs.readFileSync(file, 'utf8').replace(/\n$/, '').split('\n');
}

/**
 * Writes `lines` as an export whose end line is recomputed (rows, SHA-256) so only the change
 * under test is wrong; with `recountHeader`, the header's table counts are recomputed from the rows.
 */
export function writeExport(file: string, lines: string[], options: { recountHeader?: boolean } = {}): void {
  const body = lines.filter((l) => !l.startsWith('{"end":'));
  if (options.recountHeader) {
    const header = JSON.parse(body[0] ?? '{}') as { tables: Record<string, number> };
    for (const k of Object.keys(header.tables)) header.tables[k] = 0;
    for (const l of body.slice(1)) {
      const t = (JSON.parse(l) as { table: string }).table;
      header.tables[t] = (header.tables[t] ?? 0) + 1;
    }
    body[0] = JSON.stringify(header);
  }
  const text = body.map((l) => `${l}\n`).join('');
  const sha256 = createHash('sha256').update(text).digest('hex');
  fs.writeFileSync(file, `${text}${JSON.stringify({ end: true, rows: body.length - 1, sha256 })}\n`);
}
