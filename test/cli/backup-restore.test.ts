import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { openDatabase, prepareDatabase, withTx } from '@parley/db';
import { heartbeatKey } from '@parley/queue';
import { seedCampaign, seedNegotiation } from '../admin/seed';
import { freePort } from '../support/redis';
import { describeOnEngine } from '../support/test-database';
import { parley, startParley, startWorld, type CliWorld } from './cli-harness';

const BACKUP_FILE = /^parley-\d{8}T\d{9}Z\.db$/;

function backupsIn(dir: string): string[] {
  return fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => BACKUP_FILE.test(f)).sort() : [];
}

function writtenPath(stdout: string): string {
  const file = /^backup written: (\S+) /m.exec(stdout)?.[1];
  if (!file) throw new Error(`no backup line in:\n${stdout}`);
  return file;
}

describe('parley backup and restore on PostgreSQL', () => {
  it('refuses, pointing at pg_dump, and touches nothing', async () => {
    for (const args of [['backup', '--to', '/tmp/parley-never'], ['restore', '--from', '/tmp/parley-never.db']]) {
      const result = await parley(args, { DATABASE_URL: 'postgresql://parley@127.0.0.1:1/parley' });
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/copy a SQLite file, and DATABASE_URL is not one: on PostgreSQL use pg_dump/);
    }
    expect(fs.existsSync('/tmp/parley-never')).toBe(false);
  });
});

describeOnEngine('sqlite', 'backup and restore copy SQLite files')('parley backup and restore (real SQLite files, real Redis heartbeats)', () => {
  let world: CliWorld;
  let backups: string;
  beforeAll(async () => {
    world = await startWorld('cli-backup');
    backups = path.join(world.dir, 'backups');
  });
  afterAll(async () => {
    await world?.close();
  });

  it('writes a checked online backup while another connection keeps writing, as parley-<UTC timestamp>.db', async () => {
    const campaign = await seedCampaign(world.db, 'Backup Drop');
    await seedNegotiation(world.db, campaign, { influencerName: 'Bea Backup' });
    const run = startParley(['backup', '--to', backups], world.env);
    // A writer that keeps committing until the backup process ends: none of its writes may fail.
    let writes = 0;
    let running = true;
    void run.exited.then(() => (running = false));
    while (running) {
      await seedCampaign(world.db, `Written during backup ${writes}`);
      writes += 1;
      // better-sqlite3 is synchronous under Prisma's promises: let the child's exit event through.
      await new Promise((resolve) => setImmediate(resolve));
    }
    const r = await run.result;
    expect(r.code).toBe(0);
    expect(writes).toBeGreaterThan(0);
    const file = writtenPath(r.stdout);
    expect(path.dirname(file)).toBe(backups);
    expect(path.basename(file)).toMatch(BACKUP_FILE);
    expect(r.stdout).toMatch(/integrity ok/);
    // One self-contained file: no -wal or -shm beside it, no partial left.
    expect(fs.readdirSync(backups)).toEqual([path.basename(file)]);
    const copy = new Database(file, { readonly: true });
    try {
      expect(copy.prepare('SELECT "influencerName" AS name FROM "Negotiation"').all()).toEqual([{ name: 'Bea Backup' }]);
      expect(copy.pragma('integrity_check')).toEqual([{ integrity_check: 'ok' }]);
    } finally {
      copy.close();
    }
    expect(fs.readdirSync(backups)).toEqual([path.basename(file)]);
  });

  it('keeps the newest N and never touches other files', async () => {
    const dir = path.join(world.dir, 'rotating');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'keep me');
    fs.writeFileSync(path.join(dir, 'parley-20000101T000000000Z.db'), 'an old backup');
    const written: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await parley(['backup', '--to', dir, '--keep', '2'], world.env);
      expect(r.code).toBe(0);
      written.push(path.basename(writtenPath(r.stdout)));
    }
    expect(backupsIn(dir)).toEqual(written.slice(1));
    expect(fs.readFileSync(path.join(dir, 'notes.txt'), 'utf8')).toBe('keep me');
  });

  it('with --every backs up until SIGTERM, then exits 0', async () => {
    const dir = path.join(world.dir, 'loop');
    const loop = startParley(['backup', '--to', dir, '--every', '1', '--keep', '2'], world.env);
    await loop.waitForLines(/^backup written: /, 3);
    loop.child.kill('SIGTERM');
    const result = await loop.result;
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/SIGTERM: stopping/);
    expect(backupsIn(dir)).toHaveLength(2);
  });

  it('restores a backup: the old rows come back through Prisma, the replaced database is kept', async () => {
    const campaign = await seedCampaign(world.db, 'Restore Drop');
    const kept = await seedNegotiation(world.db, campaign, { influencerName: 'Rita Restored' });
    const r = await parley(['backup', '--to', backups], world.env);
    expect(r.code).toBe(0);
    const file = writtenPath(r.stdout);
    // After the backup: one row changed, one deleted, one added.
    await withTx(world.db, (tx) => tx.negotiation.update({ where: { id: kept }, data: { state: 'agreed', influencerName: 'Rita Changed' } }));
    const later = await seedNegotiation(world.db, campaign, { influencerName: 'Larry Later' });
    const before = await world.db.negotiation.count();
    await world.db.$disconnect();

    const restored = await parley(['restore', '--from', file], world.env);
    expect(restored.code).toBe(0);
    const target = world.dbUrl.replace(/^file:/, '');
    expect(restored.stdout).toContain(`Restored ${file} into ${target}`);
    const keptAs = /kept as (\S+)\.$/m.exec(restored.stdout)?.[1] ?? '';
    expect(keptAs).toMatch(new RegExp(`^${target.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\\.before-restore-\\d{8}T\\d{9}Z$`));

    const db = openDatabase(world.dbUrl);
    const previous = openDatabase(`file:${keptAs}`);
    try {
      await prepareDatabase(db);
      expect(await db.negotiation.findUniqueOrThrow({ where: { id: kept } })).toMatchObject({ influencerName: 'Rita Restored', state: 'awaiting_reply' });
      expect(await db.negotiation.findUnique({ where: { id: later } })).toBeNull();
      // The replaced database holds what was there just before (the change and the new row).
      expect(await previous.negotiation.count()).toBe(before);
      expect(await previous.negotiation.findUniqueOrThrow({ where: { id: kept } })).toMatchObject({ influencerName: 'Rita Changed' });
    } finally {
      await previous.$disconnect();
      world.db = db;
    }
  });

  it('refuses while a worker’s heartbeat is fresh (a stale one does not count), unless --force; nothing changes when refused', async () => {
    const r = await parley(['backup', '--to', backups], world.env);
    const file = writtenPath(r.stdout);
    const marker = await seedCampaign(world.db, 'After The Backup');
    await world.redis.zadd(heartbeatKey(world.prefix), Date.now() - 5 * 60_000, 'gone-host-1');
    await world.redis.zadd(heartbeatKey(world.prefix), Date.now(), 'live-host-42');

    const refused = await parley(['restore', '--from', file], world.env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/1 worker\(s\) running \(live-host-42\); stop the workers and the API first/);
    expect(await world.db.campaign.findUnique({ where: { id: marker } })).not.toBeNull();

    await world.db.$disconnect();
    const forced = await parley(['restore', '--from', file, '--force'], world.env);
    expect(forced.code).toBe(0);
    expect(forced.stderr).toMatch(/warning: restoring under 1 running worker\(s\) because of --force/);
    const db = openDatabase(world.dbUrl);
    world.db = db;
    expect(await db.campaign.findUnique({ where: { id: marker } })).toBeNull();
    await world.redis.del(heartbeatKey(world.prefix));
  });

  it('refuses when Redis cannot say whether workers run, unless --force', async () => {
    const file = writtenPath((await parley(['backup', '--to', backups], world.env)).stdout);
    const redisDown = { ...world.env, REDIS_URL: `redis://127.0.0.1:${await freePort()}` };
    const marker = await seedCampaign(world.db, 'Kept While Redis Is Down');
    const refused = await parley(['restore', '--from', file], redisDown);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/cannot tell whether workers are running \(cannot reach Redis at REDIS_URL.*\); stop them and use --force/);
    expect(await world.db.campaign.findUnique({ where: { id: marker } })).not.toBeNull();

    await world.db.$disconnect();
    const forced = await parley(['restore', '--from', file, '--force'], redisDown);
    expect(forced.code).toBe(0);
    expect(forced.stderr).toMatch(/warning: worker heartbeats could not be read; restoring because of --force/);
    world.db = openDatabase(world.dbUrl);
    expect(await world.db.campaign.findUnique({ where: { id: marker } })).toBeNull();
  });

  it('refuses a file that is not a whole Parley database and leaves the database alone', async () => {
    const inputs = fs.mkdtempSync(path.join(world.dir, 'inputs-'));
    const target = world.dbUrl.replace(/^file:/, '');
    const siblings = () => fs.readdirSync(path.dirname(target)).sort();
    const before = siblings();
    const garbage = path.join(inputs, 'garbage.db');
    fs.writeFileSync(garbage, 'this is not sqlite at all, just some bytes '.repeat(200));
    const notSqlite = await parley(['restore', '--from', garbage], world.env);
    expect(notSqlite.code).toBe(1);
    expect(notSqlite.stderr).toMatch(/garbage\.db: (not a usable SQLite database|cannot be opened as SQLite)/);

    const foreign = path.join(inputs, 'foreign.db');
    const other = new Database(foreign);
    other.exec('CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT); INSERT INTO notes (text) VALUES (\'hello\')');
    other.close();
    const noMigrations = await parley(['restore', '--from', foreign], world.env);
    expect(noMigrations.code).toBe(1);
    expect(noMigrations.stderr).toMatch(/foreign\.db: has no _prisma_migrations table; it is not a Parley database/);

    expect(siblings()).toEqual(before);
    expect(await world.db.campaign.count()).toBeGreaterThan(0);
  });
});
