import { Client } from 'pg';
import { WRITE_LOCK_KEY } from '@parley/db';
import { describeWithPostgres } from '../support/test-database';
import { waitFor } from '../support/wait';
import { createHostsHarness, type HostsHarness } from './host-harness';

jest.setTimeout(180_000);

/**
 * What a worker host cut off the network in the middle of a write transaction does to the
 * others. Every PostgreSQL write transaction first takes one advisory lock (packages/db
 * withTx); the cut host's session keeps it until PostgreSQL ends that session, and PostgreSQL
 * does not learn that the host is gone (no packet comes back) until TCP keepalive gives up,
 * hours later with the defaults. `idle_in_transaction_session_timeout` ends such a session
 * within its setting: the multi-host campaign test runs with it for that reason.
 */
describeWithPostgres('a host cut off inside a write transaction', () => {
  let h: HostsHarness;
  beforeAll(async () => {
    h = await createHostsHarness({ label: 'tx', workers: ['w1', 'w2'], personas: {} });
  });
  afterAll(async () => {
    await h?.close();
  });

  /** A process on `host` that opens a transaction, takes the write lock, says so and waits. */
  const holdWriteLock = async (host: string, settings: string | null) => {
    const env = h.hostEnv(host);
    const url = new URL(env.DATABASE_URL ?? '');
    if (settings) url.searchParams.set('options', settings);
    const code = `
      const { Client } = require(${JSON.stringify(require.resolve('pg'))});
      const c = new Client({ connectionString: process.env.DATABASE_URL });
      c.on('error', () => undefined);
      (async () => {
        await c.connect();
        await c.query('BEGIN');
        await c.query('SELECT pg_advisory_xact_lock(${WRITE_LOCK_KEY})');
        process.stdout.write('holding the write lock\\n');
        setInterval(() => undefined, 1000);
      })().catch((e) => { process.stderr.write(String(e.message) + '\\n'); process.exit(1); });`;
    const p = h.runScript(host, code, { ...env, DATABASE_URL: url.toString() });
    await p.waitForLine(/holding the write lock/, 30_000);
    return p;
  };

  /** Whether the test (another host's view) can take the write lock within `waitMs`. */
  const lockFreeWithin = async (waitMs: number): Promise<boolean> => {
    const c = new Client({ connectionString: h.databaseUrl });
    await c.connect();
    try {
      await c.query(`SET lock_timeout = '${waitMs}ms'`);
      await c.query('BEGIN');
      await c.query(`SELECT pg_advisory_xact_lock(${WRITE_LOCK_KEY})`);
      await c.query('ROLLBACK');
      return true;
    } catch (error) {
      if ((error as { code?: string }).code === '55P03') return false;
      throw error;
    } finally {
      await c.end();
    }
  };

  it('holds every other host\'s writes while it is gone, unless PostgreSQL ends idle transactions', async () => {
    process.stdout.write(`[hosts] mode: ${h.mode}${h.fallbackReason ? ` (fallback: ${h.fallbackReason})` : ''}\n`);
    // Without the setting: 15 s after the cut, the lock is still held.
    const plain = await holdWriteLock('w1', null);
    expect(await lockFreeWithin(500)).toBe(false);
    h.cut('w1');
    const cutAt = Date.now();
    await waitFor('15 s of partition', () => Date.now() - cutAt >= 15_000, 20_000, 100);
    expect(await lockFreeWithin(1000)).toBe(false);
    // The host comes back and its process ends: PostgreSQL sees the session close, the lock goes.
    h.restore('w1');
    process.kill(plain.pid, 'SIGKILL');
    await plain.exited;
    await waitFor('the write lock to be released once the host is back and its process gone', () => lockFreeWithin(500), 60_000, 200);

    // With idle_in_transaction_session_timeout=3s: released within seconds of the cut.
    const bounded = await holdWriteLock('w2', '-c idle_in_transaction_session_timeout=3000');
    expect(await lockFreeWithin(500)).toBe(false);
    h.cut('w2');
    const cut2 = Date.now();
    await waitFor('the write lock to be released by PostgreSQL', () => lockFreeWithin(500), 15_000, 200);
    const releasedAfterMs = Date.now() - cut2;
    process.stdout.write(`[hosts] write lock of the cut-off host released after ${releasedAfterMs} ms with idle_in_transaction_session_timeout=3000\n`);
    expect(releasedAfterMs).toBeLessThan(10_000);
    h.restore('w2');
    process.kill(bounded.pid, 'SIGKILL');
    await bounded.exited;
  });
});
