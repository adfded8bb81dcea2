import { createTestDatabase } from '../../../test/support/db';
import { sqlOf } from './client';
import {
  findMailboxSync,
  findNegotiation,
  findNegotiationWithCampaign,
  findOutboxWithNegotiation,
  latestEscalation,
  negotiationState,
  negotiationsOfThreads,
  pendingSendsWithoutThread,
  recordedInboundIds,
  sentAfter,
  stateWithPendingSends,
  threadSubject,
  unansweredInbound,
} from './reads';
import type { Sql, SqlArg } from './sql';

/**
 * The worker's hot reads run once or more per step and per send, against tables that only grow
 * (every email, reply, transition and audit entry ever recorded). Each must find its rows through
 * an index: a full scan, or a scan of every row of one status, costs time in proportion to the
 * whole history on every step. The plans are read from the engine itself (SQLite's EXPLAIN QUERY
 * PLAN; PostgreSQL's EXPLAIN with sequential scans priced out, so that a missing index shows as
 * a Seq Scan whatever the table's size).
 */
describe('the hot reads find their rows through indexes', () => {
  let t: Awaited<ReturnType<typeof createTestDatabase>>;
  beforeAll(async () => {
    t = await createTestDatabase('plans');
  });
  afterAll(async () => {
    await t.cleanup();
  });

  /** The statements a read runs, with their arguments, as it runs them. */
  async function statementsOf(read: (sql: Sql) => Promise<unknown>): Promise<{ text: string; args: SqlArg[] }[]> {
    const real = sqlOf(t.db);
    const seen: { text: string; args: SqlArg[] }[] = [];
    const recording: Sql = {
      engine: real.engine,
      query: (text, ...args) => {
        seen.push({ text, args });
        return real.query(text, ...args);
      },
      execute: (text, ...args) => {
        seen.push({ text, args });
        return real.execute(text, ...args);
      },
    };
    await read(recording);
    return seen;
  }

  async function plan(text: string, args: SqlArg[]): Promise<string[]> {
    const sql = sqlOf(t.db);
    if (sql.engine === 'sqlite') return (await sql.query<{ detail: string }>(`EXPLAIN QUERY PLAN ${text}`, ...args)).map((r) => r.detail);
    return sql.transaction(async (tx) => {
      await tx.execute('SET LOCAL enable_seqscan = off');
      return (await tx.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${text}`, ...args)).map((r) => r['QUERY PLAN']);
    });
  }

  const id = 'neg-plans';
  const at = new Date(Date.UTC(2026, 11, 1, 12));
  const reads: { name: string; read: (sql: Sql) => Promise<unknown>; byNegotiation?: boolean; byStatus?: boolean }[] = [
    { name: 'findNegotiation', read: (sql) => findNegotiation(sql, id) },
    { name: 'findNegotiationWithCampaign', read: (sql) => findNegotiationWithCampaign(sql, id) },
    { name: 'findOutboxWithNegotiation', read: (sql) => findOutboxWithNegotiation(sql, 'out-plans') },
    { name: 'stateWithPendingSends', read: (sql) => stateWithPendingSends(sql, id), byNegotiation: true },
    { name: 'threadSubject', read: (sql) => threadSubject(sql, id), byNegotiation: true },
    { name: 'sentAfter', read: (sql) => sentAfter(sql, id, at), byNegotiation: true },
    { name: 'unansweredInbound', read: (sql) => unansweredInbound(sql, id) },
    { name: 'negotiationState', read: (sql) => negotiationState(sql, id) },
    { name: 'latestEscalation', read: (sql) => latestEscalation(sql, id) },
    { name: 'findMailboxSync', read: (sql) => findMailboxSync(sql, 'ops@parley.test') },
    { name: 'negotiationsOfThreads', read: (sql) => negotiationsOfThreads(sql, ['thread-1', 'thread-2']) },
    { name: 'recordedInboundIds', read: (sql) => recordedInboundIds(sql, ['m-1', 'm-2']) },
    // The maintenance pass looks for pending rows across negotiations: by status is its key.
    { name: 'pendingSendsWithoutThread', read: (sql) => pendingSendsWithoutThread(sql), byStatus: true },
  ];

  it.each(reads)('$name', async ({ read, byNegotiation, byStatus }) => {
    const statements = await statementsOf(read);
    expect(statements.length).toBeGreaterThan(0);
    for (const { text, args } of statements) {
      const rows = await plan(text, args);
      const shown = `${text}\n${rows.join('\n')}`;
      // No table is read in full (SQLite: SCAN, an index's full walk included; PostgreSQL: Seq Scan).
      expect({ shown, scans: rows.filter((r) => /^\s*(->\s*)?(SCAN |Seq Scan)/.test(r)) }).toEqual({ shown, scans: [] });
      // A read by negotiation uses the negotiation's index, not every row of one status.
      if (!byStatus) expect({ shown, byStatus: rows.some((r) => r.includes('OutboxEmail_status_idx')) }).toEqual({ shown, byStatus: false });
      if (byNegotiation && sqlOf(t.db).engine === 'sqlite') expect(shown).toContain('OutboxEmail_negotiationId_createdAt_idx');
    }
  });
});
