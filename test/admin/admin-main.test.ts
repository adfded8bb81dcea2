import fs from 'node:fs';
import { openDatabase, prepareDatabase, type Db } from '@parley/db';
import { spawnTs, type Spawned } from '../support/processes';
import { dropPrefix, freePort, redisUrl, uniquePrefix } from '../support/redis';
import { ADMIN_TOKEN, basic, bearer } from './admin-harness';
import { ago, HOUR, seedCampaign, seedNegotiation } from './seed';
import { copyTemplateDatabase } from '../support/db';

const ENTRY = 'apps/api/src/main.ts';

/** The production entry point wires the dashboard from ADMIN_TOKEN and FOLLOW_UP_AFTER. */
describe('apps/api/src/main.ts mounts the dashboard', () => {
  const started: { proc: Spawned; dir: string; prefix: string }[] = [];
  const start = async (extra: Record<string, string>, prepare?: (db: Db) => Promise<void>) => {
    const { dir, url: databaseUrl } = copyTemplateDatabase('admin-main');
    if (prepare) {
      const db = openDatabase(databaseUrl);
      await prepareDatabase(db);
      await prepare(db);
      await db.$disconnect();
    }
    const prefix = uniquePrefix('admin-main');
    const port = await freePort();
    const proc = spawnTs(ENTRY, {
      REDIS_URL: redisUrl(),
      DATABASE_URL: databaseUrl,
      PORT: String(port),
      QUEUE_PREFIX: prefix,
      PUBSUB_AUDIENCE: 'https://parley.example.com/webhooks/gmail',
      PUBSUB_SERVICE_ACCOUNT: 'push@p.iam.gserviceaccount.com',
      CLICKUP_WEBHOOK_SECRET: 'admin-main-clickup-secret',
      ...extra,
    });
    started.push({ proc, dir, prefix });
    await proc.waitForLine(/api listening/, 30_000);
    return { url: `http://127.0.0.1:${port}`, proc };
  };
  afterAll(async () => {
    for (const { proc, dir, prefix } of started) {
      proc.child.kill('SIGTERM');
      await proc.exited;
      await dropPrefix(redisUrl(), prefix);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('with ADMIN_TOKEN: 401 without it, the pages and bull-board with it; FOLLOW_UP_AFTER sets the silence window', async () => {
    let silent = '';
    const { url, proc } = await start({ ADMIN_TOKEN, FOLLOW_UP_AFTER: '3600' }, async (db) => {
      const campaign = await seedCampaign(db);
      silent = await seedNegotiation(db, campaign, { influencerName: 'Two Hours Silent', lastOutboundAt: ago(2 * HOUR) });
    });
    const refused = await fetch(`${url}/admin/`);
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toBe('Basic realm="parley"');
    const report = await fetch(`${url}/admin/`, { headers: { ...bearer(), accept: 'application/json' } });
    expect(report.status).toBe(200);
    expect(await report.json()).toMatchObject({ problems: [{ kind: 'follow_up_overdue', negotiationId: silent }], warnings: [] });
    expect((await fetch(`${url}/admin/dead-letters`, { headers: basic() })).status).toBe(200);
    expect((await fetch(`${url}/admin/queues/api/queues`, { headers: basic() })).status).toBe(200);
    expect(proc.output()).not.toContain(ADMIN_TOKEN);
  });

  it('without ADMIN_TOKEN: /admin is 404', async () => {
    const { url, proc } = await start({});
    expect((await fetch(`${url}/admin/`, { headers: bearer() })).status).toBe(404);
    expect(proc.output()).toContain('admin dashboard disabled');
  });
});
