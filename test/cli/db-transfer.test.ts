import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { openDatabase, Prisma, withTx, type Db } from '@parley/db';
import { DEMO_CAMPAIGN, DEMO_INFLUENCERS, demoPersonas, expectedState, seedDemoCampaign } from '@parley/sandbox';
import { tablesCoverSchema, transferTables } from '../../apps/cli/src/commands/db-transfer';
import { checkLoopIntegrity } from '../e2e/loop-assertions';
import { createLoopHarness, SETTLED_STATES, type LoopHarness } from '../e2e/loop-harness';
import { describeOnEngine, describeWithPostgres, testDatabaseEngine } from '../support/test-database';
import { waitFor } from '../support/wait';
import { parley, startParley, startWorld, type CliResult, type CliWorld } from './cli-harness';
import { createEmptyPostgres, createMigratedPostgres, dumpAll, dumpUrl, exportLines, modelsRead, populate, totalRows, writeExport, type PostgresTarget } from './db-transfer-harness';

jest.setTimeout(120_000);

const sqliteUrl = (file: string) => `file:${file}`;

function expectOk(r: CliResult): void {
  if (r.code !== 0) throw new Error(`parley exited ${String(r.code)}:\n${r.stdout}\n${r.stderr}`);
}

/**
 * The move starts from the suite's SQLite database and needs the PostgreSQL server as its
 * target. Under TEST_DATABASE=postgres the suite's databases are PostgreSQL ones: skipped there,
 * saying why (the default run covers it).
 */
function describeMove(name: string, body: () => void): void {
  if (testDatabaseEngine() !== 'sqlite') {
    describeOnEngine('sqlite', 'the move from SQLite starts from the suite\'s SQLite database')(name, body);
    return;
  }
  describeWithPostgres(name, body);
}

/** A new SQLite database migrated by `parley db migrate`. */
async function migratedSqlite(dir: string, name: string): Promise<string> {
  const url = sqliteUrl(path.join(dir, name));
  expectOk(await parley(['db', 'migrate'], { DATABASE_URL: url }));
  return url;
}

describe('the transfer covers the data model', () => {
  it('moves every model of the Prisma client with every column, and the check fails when one is left out', () => {
    const tables = transferTables(Prisma);
    expect(() => tablesCoverSchema(tables, Prisma)).not.toThrow();
    expect(tables.map((t) => t.model).sort()).toEqual(Object.values(Prisma.ModelName).sort());
    expect(() => tablesCoverSchema(tables.slice(1), Prisma)).toThrow(/model Campaign is not transferred/);
    const [first, ...rest] = tables;
    if (!first) throw new Error('no tables');
    expect(() => tablesCoverSchema([{ ...first, columns: first.columns.filter((c) => c !== 'updatedAt') }, ...rest], Prisma)).toThrow(/Campaign: columns updatedAt are not transferred/);
    // The test's own reader (used to compare databases) covers every model too.
    expect(modelsRead().sort()).toEqual(Object.values(Prisma.ModelName).sort());
  });
});

describeMove('parley db export and db import (SQLite to PostgreSQL and back)', () => {
  let world: CliWorld;
  let files: string;
  const targets: PostgresTarget[] = [];
  const migratedPg = async (label: string) => {
    const t = await createMigratedPostgres(label);
    targets.push(t);
    return t;
  };

  beforeAll(async () => {
    world = await startWorld('cli-db-transfer');
    files = fs.mkdtempSync(path.join(world.dir, 'exports-'));
    await populate(world.db);
  });
  afterAll(async () => {
    for (const t of targets) t.drop();
    await world?.close();
  });

  it('round trip: every row of every table equal after SQLite → PostgreSQL, and again after PostgreSQL → SQLite', async () => {
    const original = await dumpAll(world.db);
    expect(Object.values(original).every((rows) => rows.length > 0)).toBe(true);
    const file = path.join(files, 'round-trip.jsonl');
    const exported = await parley(['db', 'export', '--to', file], world.env);
    expectOk(exported);
    expect(exported.stdout).toContain(`export written: ${file} (${totalRows(original)} rows,`);
    expect(exported.stdout).toMatch(/from SQLite at migrations 0001_init, 0002_slack_and_mail_problems, 0003_outbox_attempted, 0004_outbox_by_negotiation/);
    expect(exported.stdout).toMatch(/^ {2}Transition +1205$/m);
    // Private data: the file is the owner's alone; nothing but it is left beside it.
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.readdirSync(files)).toEqual(['round-trip.jsonl']);
    const lines = exportLines(file);
    expect(JSON.parse(lines[0] ?? '')).toMatchObject({ format: 'parley-db-export', version: 1, engine: 'sqlite', migrations: ['0001_init', '0002_slack_and_mail_problems', '0003_outbox_attempted', '0004_outbox_by_negotiation'], tables: { Campaign: 2, Transition: 1205 } });
    expect(lines).toHaveLength(totalRows(original) + 2);
    // Types as the file holds them: ISO time with milliseconds, JSON as JSON, null kept.
    const neg1 = lines.map((l) => JSON.parse(l) as { table?: string; row?: Record<string, unknown> }).find((l) => l.row?.id === 'neg-1')?.row;
    expect(neg1).toMatchObject({ version: 7, lastOutboundAt: '2026-01-05T10:00:00.123Z', updatedAt: '2026-01-05T11:00:00.999Z', agreedRateMinor: null, claimedAt: null });

    const pg = await migratedPg('roundtrip');
    const imported = await parley(['db', 'import', '--from', file], { DATABASE_URL: pg.url });
    expectOk(imported);
    expect(imported.stdout).toMatch(new RegExp(`^imported ${totalRows(original)} rows from .* \\(exported from SQLite at .*\\) into the PostgreSQL database postgresql://.* in \\d+ ms; every table's count matches the export$`, 'm'));
    expect(imported.stdout).toMatch(/^ {2}Negotiation +3$/m);
    const inPostgres = await dumpUrl(pg.url);
    for (const model of Object.keys(original)) expect({ model, rows: inPostgres[model] }).toEqual({ model, rows: original[model] });

    // Back again: PostgreSQL's export (one read transaction) into a new SQLite database.
    const back = path.join(files, 'from-postgres.jsonl');
    const fromPg = await parley(['db', 'export', '--to', back], { DATABASE_URL: pg.url });
    expectOk(fromPg);
    expect(JSON.parse(exportLines(back)[0] ?? '')).toMatchObject({ engine: 'postgres', migrations: ['0001_init', '0002_outbox_attempted', '0003_outbox_by_negotiation'] });
    const sqliteAgain = await migratedSqlite(world.dir, 'again.db');
    expectOk(await parley(['db', 'import', '--from', back], { DATABASE_URL: sqliteAgain }));
    const inSqlite = await dumpUrl(sqliteAgain);
    for (const model of Object.keys(original)) expect({ model, rows: inSqlite[model] }).toEqual({ model, rows: original[model] });
  });

  it('exports one consistent snapshot while another connection keeps committing', async () => {
    const file = path.join(files, 'live.jsonl');
    const run = startParley(['db', 'export', '--to', file], world.env);
    // Each commit adds a campaign and its negotiation together. The export reads every
    // Campaign before any Negotiation: without one snapshot it would hold negotiations
    // whose campaign it lacks.
    let writes = 0;
    let running = true;
    void run.exited.then(() => (running = false));
    while (running) {
      await withTx(world.db, async (tx) => {
        const c = await tx.campaign.create({ data: { clickupTaskId: `live-${writes}`, name: `Written during export ${writes}`, cpmFloorMinor: 1000, cpmCeilingMinor: 2000, rosterSheetId: 's' } });
        await tx.negotiation.create({ data: { campaignId: c.id, influencerName: `Live ${writes}`, influencerEmail: `live${writes}@creators.example`, platform: 'youtube', averageViews: 1, deliverables: '1 video' } });
      });
      writes += 1;
      await new Promise((resolve) => setImmediate(resolve));
    }
    expectOk(await run.result);
    expect(writes).toBeGreaterThan(0);
    const rows = exportLines(file)
      .slice(1, -1)
      .map((l) => JSON.parse(l) as { table: string; row: Record<string, unknown> });
    const campaigns = new Set(rows.filter((r) => r.table === 'Campaign').map((r) => r.row.id));
    const orphans = rows.filter((r) => r.table === 'Negotiation' && !campaigns.has(r.row.campaignId));
    expect(orphans).toEqual([]);
    const liveCampaigns = rows.filter((r) => r.table === 'Campaign' && String(r.row.name).startsWith('Written during export')).length;
    const liveNegotiations = rows.filter((r) => r.table === 'Negotiation' && String(r.row.influencerName).startsWith('Live ')).length;
    expect(liveNegotiations).toBe(liveCampaigns);
    // Whatever was committed after the snapshot is not in it (and the database kept it).
    expect(await world.db.campaign.count({ where: { name: { startsWith: 'Written during export' } } })).toBe(writes);
    expect(liveCampaigns).toBeLessThanOrEqual(writes);
  });

  it('refuses an existing file and stdout, leaving the file as it was', async () => {
    const existing = path.join(files, 'existing.jsonl');
    fs.writeFileSync(existing, 'keep me');
    const refused = await parley(['db', 'export', '--to', existing], world.env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/existing\.jsonl exists already: choose another name or remove it first/);
    expect(fs.readFileSync(existing, 'utf8')).toBe('keep me');
    const stdout = await parley(['db', 'export', '--to', '-'], world.env);
    expect(stdout.code).toBe(2);
    expect(stdout.stderr).toMatch(/--to: must name a file: the export holds every email and address and is never written to stdout/);
    expect(stdout.stdout).toBe('');
  });

  describe('refusals leave the target as it was', () => {
    let file: string;
    let lines: string[];
    let empty: PostgresTarget;
    const bad = (name: string) => path.join(files, `bad-${name}.jsonl`);
    const importInto = (url: string, from: string) => parley(['db', 'import', '--from', from], { DATABASE_URL: url });
    const expectEmpty = async (url: string) => expect(totalRows(await dumpUrl(url))).toBe(0);

    beforeAll(async () => {
      file = path.join(files, 'source.jsonl');
      expectOk(await parley(['db', 'export', '--to', file], world.env));
      lines = exportLines(file);
      empty = await migratedPg('refusals');
    });

    it('a target that holds rows', async () => {
      const target = await migratedPg('nonempty');
      const db = openDatabase(target.url);
      try {
        await withTx(db, (tx) => tx.campaign.create({ data: { id: 'already-here', clickupTaskId: 't', name: 'Already here', cpmFloorMinor: 1, cpmCeilingMinor: 2, rosterSheetId: 's' } }));
        const before = await dumpAll(db);
        const r = await importInto(target.url, file);
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(/the target PostgreSQL database is not empty \(Campaign 1\): import into a new database; nothing was imported/);
        expect(await dumpAll(db)).toEqual(before);
      } finally {
        await db.$disconnect();
      }
    });

    it('a target that is not migrated (PostgreSQL with no tables; SQLite one migration behind)', async () => {
      const bare = createEmptyPostgres('unmigrated');
      targets.push(bare);
      const r = await importInto(bare.url, file);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/the target PostgreSQL database lacks 0001_init, 0002_outbox_attempted, 0003_outbox_by_negotiation: run `parley db migrate` with this DATABASE_URL first; nothing was imported/);
      const db = openDatabase(bare.url);
      try {
        const [tables] = await db.$queryRawUnsafe<{ n: bigint }[]>("SELECT count(*) AS n FROM information_schema.tables WHERE table_schema = 'public'");
        expect(Number(tables?.n)).toBe(0);
      } finally {
        await db.$disconnect();
      }

      const behind = await migratedSqlite(world.dir, 'behind.db');
      const sqlite = new Database(behind.replace(/^file:/, ''));
      sqlite.prepare('DELETE FROM "_prisma_migrations" WHERE "migration_name" = ?').run('0002_slack_and_mail_problems');
      sqlite.close();
      const old = await importInto(behind, file);
      expect(old.code).toBe(1);
      expect(old.stderr).toMatch(/the target SQLite database lacks 0002_slack_and_mail_problems: run `parley db migrate`/);
      await expectEmpty(behind);
    });

    it('a truncated file: cut inside a line, or at a line end before the end line', async () => {
      const text = fs.readFileSync(file, 'utf8');
      fs.writeFileSync(bad('cut'), text.slice(0, Math.floor(text.length * 0.6)));
      const cut = await importInto(empty.url, bad('cut'));
      expect(cut.code).toBe(1);
      expect(cut.stderr).toMatch(/bad-cut\.jsonl (line \d+: not JSON|ends at line \d+ without its end line: the file is truncated)/);

      fs.writeFileSync(bad('lines'), lines.slice(0, 10).map((l) => `${l}\n`).join(''));
      const short = await importInto(empty.url, bad('lines'));
      expect(short.code).toBe(1);
      expect(short.stderr).toMatch(/bad-lines\.jsonl ends at line 10 without its end line: the file is truncated; nothing was imported/);
      await expectEmpty(empty.url);
    });

    it('a line longer than any row (64 MiB without a newline), refused without buffering it whole', async () => {
      const fd = fs.openSync(bad('long'), 'w');
      try {
        fs.writeSync(fd, `${lines[0]}\n`);
        const chunk = Buffer.alloc(4 * 1024 * 1024, 0x61);
        for (let i = 0; i < 17; i += 1) fs.writeSync(fd, chunk);
      } finally {
        fs.closeSync(fd);
      }
      const long = await importInto(empty.url, bad('long'));
      expect(long.code).toBe(1);
      expect(long.stderr).toMatch(/bad-long\.jsonl line 2: longer than 67108864 bytes, so not a row parley db export wrote; nothing was imported/);
      fs.rmSync(bad('long'));
      await expectEmpty(empty.url);
    });

    it('a garbled file: altered text, a line that is not JSON, a row zod refuses (named by line), a foreign header', async () => {
      // Still valid JSON, but not what was exported.
      fs.writeFileSync(bad('altered'), fs.readFileSync(file, 'utf8').replace('Ana Ärger', 'Ana Arger'));
      const altered = await importInto(empty.url, bad('altered'));
      expect(altered.code).toBe(1);
      expect(altered.stderr).toMatch(/does not match the SHA-256 in its end line: the file was changed or damaged; nothing was imported/);

      const notJson = [...lines];
      notJson[4] = `${notJson[4]?.slice(0, 20)}#garbage`;
      writeExport(bad('json'), notJson);
      const j = await importInto(empty.url, bad('json'));
      expect(j.code).toBe(1);
      expect(j.stderr).toMatch(/bad-json\.jsonl line 5: not JSON \(/);

      const lineOf = (id: string) => lines.findIndex((l) => l.includes(`"id":"${id}"`));
      const wrongType = [...lines];
      const at = lineOf('neg-1');
      wrongType[at] = (wrongType[at] ?? '').replace('"averageViews":150000', '"averageViews":"many"');
      writeExport(bad('type'), wrongType);
      const t = await importInto(empty.url, bad('type'));
      expect(t.code).toBe(1);
      expect(t.stderr).toContain(`bad-type.jsonl line ${at + 1}: Negotiation row not valid: averageViews:`);

      const missing = [...lines];
      const tr = lineOf('tr-json');
      missing[tr] = (missing[tr] ?? '').replace(/"at":"[^"]+"/, '"at":"yesterday"');
      writeExport(bad('date'), missing);
      const d = await importInto(empty.url, bad('date'));
      expect(d.code).toBe(1);
      expect(d.stderr).toContain(`bad-date.jsonl line ${tr + 1}: Transition row not valid: at:`);

      const foreign = [JSON.stringify({ format: 'something-else', version: 1 }), ...lines.slice(1)];
      writeExport(bad('header'), foreign);
      const h = await importInto(empty.url, bad('header'));
      expect(h.code).toBe(1);
      expect(h.stderr).toMatch(/bad-header\.jsonl line 1: not the header of a parley db export: format: is not "parley-db-export"/);

      const nul = [...lines];
      const out = lines.findIndex((l) => l.includes('"id":"neg-1.opening"'));
      nul[out] = (nul[out] ?? '').replace('Hello Ana', 'Hello\\u0000Ana');
      writeExport(bad('nul'), nul);
      const z = await importInto(empty.url, bad('nul'));
      expect(z.code).toBe(1);
      expect(z.stderr).toContain(`bad-nul.jsonl line ${out + 1}: OutboxEmail row holds a NUL character, which PostgreSQL text cannot store`);
      await expectEmpty(empty.url);
    });

    it('an export made at other migrations than this program expects', async () => {
      const header = JSON.parse(lines[0] ?? '{}') as Record<string, unknown>;
      writeExport(bad('migrations'), [JSON.stringify({ ...header, migrations: ['0001_init'] }), ...lines.slice(1)]);
      const r = await importInto(empty.url, bad('migrations'));
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/was exported from a SQLite database that lacks 0002_slack_and_mail_problems, 0003_outbox_attempted, 0004_outbox_by_negotiation compared with this program: import it with the program version that exported it; nothing was imported/);
      await expectEmpty(empty.url);
    });

    it('an insert that fails late rolls back every table inserted before it, then the same target takes a good file', async () => {
      // A valid file whose last table repeats a primary key: every earlier table is inserted
      // (in the one transaction) before the duplicate fails.
      const last = lines.length - 2;
      expect(lines[last]).toMatch(/^\{"table":"SlackMessage"/);
      writeExport(bad('duplicate'), [...lines.slice(0, last + 1), lines[last] ?? '', ...lines.slice(last + 1)], { recountHeader: true });
      const r = await importInto(empty.url, bad('duplicate'));
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/import failed and was rolled back, the target is as it was: .*(Unique constraint|unique|duplicate)/i);
      await expectEmpty(empty.url);

      expectOk(await importInto(empty.url, file));
      expect(totalRows(await dumpUrl(empty.url))).toBe(lines.length - 2);
    });
  });
});

/**
 * The acceptance test: a five-persona campaign runs on SQLite (API, two workers, the sandbox),
 * every process is stopped cleanly mid-campaign, the database is exported, imported into a new
 * migrated PostgreSQL database, and the processes start again on PostgreSQL. The campaign
 * finishes there with each persona's outcome, no email sent twice, no reply missed.
 */
describeMove('a campaign moved from SQLite to PostgreSQL mid-way finishes on PostgreSQL', () => {
  let h: LoopHarness;
  let target: PostgresTarget | undefined;
  let pgDb: Db | undefined;

  beforeAll(async () => {
    h = await createLoopHarness({
      label: 'db-move',
      personas: demoPersonas(),
      autoPush: true,
      // Long enough that the move itself (processes stopped for some seconds) never makes a
      // follow-up due before a reply that arrived meanwhile is read.
      env: { FOLLOW_UP_AFTER: '60' },
    });
    await h.start(2);
  }, 180_000);
  afterAll(async () => {
    try {
      await h?.close();
    } finally {
      await pgDb?.$disconnect();
      target?.drop();
    }
  }, 60_000);

  it('stops, exports, imports, restarts on PostgreSQL, and reaches every persona\'s end state', async () => {
    const sqliteUrlOfCampaign = h.env().DATABASE_URL ?? '';
    expect(sqliteUrlOfCampaign).toMatch(/^file:/);
    seedDemoCampaign(h.sandbox);
    expect(await h.webhook(DEMO_CAMPAIGN.taskId)).toEqual([200]);
    await waitFor(
      'the campaign in full swing',
      async () => {
        const states = (await h.db.negotiation.findMany({ select: { state: true } })).map((n) => n.state);
        return (await h.db.inboundMessage.count()) >= 3 && states.includes('counter_sent');
      },
      120_000,
      100,
    );

    // The operator's procedure: stop the API, then the workers (SIGTERM: they finish or hand back their jobs).
    const api = h.running().find((p) => p.name === 'api');
    if (!api) throw new Error('no API running');
    await h.stop(api);
    await Promise.all(h.running().map((p) => h.stop(p)));
    expect(h.running()).toEqual([]);
    const sqliteDb = h.db;
    const atExport = await dumpAll(sqliteDb);
    const states = (atExport.Negotiation ?? []).map((n) => String(n.state));
    expect(states).toHaveLength(DEMO_INFLUENCERS.length);
    expect(states.some((s) => !SETTLED_STATES.has(s))).toBe(true);

    const file = path.join(fs.mkdtempSync(path.join(path.dirname(sqliteUrlOfCampaign.replace(/^file:/, '')), 'move-')), 'parley-export.jsonl');
    const moveStarted = Date.now();
    expectOk(await parley(['db', 'export', '--to', file], { DATABASE_URL: sqliteUrlOfCampaign }));
    target = await createMigratedPostgres('dbmove');
    const imported = await parley(['db', 'import', '--from', file], { DATABASE_URL: target.url });
    expectOk(imported);
    const moveMs = Date.now() - moveStarted;
    pgDb = openDatabase(target.url);
    const moved = await dumpAll(pgDb);
    for (const model of Object.keys(atExport)) expect({ model, rows: moved[model] }).toEqual({ model, rows: atExport[model] });

    h.useDatabase(target.url, pgDb);
    expect(h.env().DATABASE_URL).toBe(target.url);
    await h.start(2);
    await h.waitForSettled(DEMO_INFLUENCERS.length, 300_000);
    await h.sandbox.pushesSettled();
    await h.waitForIdle(120_000);

    const negotiations = await pgDb.negotiation.findMany();
    for (const influencer of DEMO_INFLUENCERS) {
      const n = negotiations.find((x) => x.influencerEmail === influencer.email);
      expect({ who: influencer.name, state: n?.state }).toEqual({ who: influencer.name, state: expectedState(influencer.persona.kind) });
    }
    expect(negotiations.find((n) => n.influencerEmail === 'carl@creators.test')?.agreedRateMinor).toBe(130_000);
    // Every email sent exactly once (outbox rows and Gmail agree), every reply recorded once and answered.
    const report = await checkLoopIntegrity(pgDb, h.sandbox.google);
    expect(report.inboundCount).toBe(h.sandbox.personas?.replies().length);
    expect(await pgDb.inboundMessage.count()).toBe(report.inboundCount);
    expect(await pgDb.outboxEmail.count({ where: { status: { not: 'sent' } } })).toBe(0);
    expect(await pgDb.deadLetter.count()).toBe(0);
    expect(h.sandbox.pushes().every((p) => p.status === 204)).toBe(true);
    // The campaign went on in PostgreSQL: it holds more than was moved, and SQLite nothing new.
    expect(await pgDb.transition.count()).toBeGreaterThan(atExport.Transition?.length ?? 0);
    expect(await dumpAll(sqliteDb)).toEqual(atExport);
    console.info(`db move: export, migrate and import took ${moveMs} ms; ${totalRows(atExport)} rows moved`);
  }, 420_000);
});
