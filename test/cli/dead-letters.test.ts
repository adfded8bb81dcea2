import { replayJobId } from '@parley/queue';
import { seedCampaign, seedDeadLetter, seedNegotiation } from '../admin/seed';
import { freePort } from '../support/redis';
import { ACTOR, parley, startWorld, type CliWorld } from './cli-harness';

interface ListedDeadLetter {
  id: string;
  status: string;
  queue: string;
  jobId: string;
  errorMessage: string;
  negotiationId: string | null;
  resolvedBy: string | null;
}

describe('parley dead-letters (real SQLite and Redis)', () => {
  let world: CliWorld;
  let negotiationId: string;
  beforeAll(async () => {
    world = await startWorld('cli-dl');
    negotiationId = await seedNegotiation(world.db, await seedCampaign(world.db, 'Dead Letter Drop'), { influencerName: 'Dana Dead' });
  });
  afterAll(async () => {
    await world?.close();
  });

  const stepLetter = (key: string, errorMessage?: string) =>
    seedDeadLetter(world.db, { queue: 'negotiation-steps', jobId: `step.${negotiationId}.${key}`, payload: { negotiationId, kind: 'open' }, ...(errorMessage ? { errorMessage } : {}) });

  it('lists open dead letters by default, every one with --all, as JSON with masked addresses and no payload', async () => {
    const open = await stepLetter('list-open', 'PermanentError: 400 from mallory.secret@creator.example with sk-ant-abcdef0123456789');
    const replayed = await seedDeadLetter(world.db, { queue: 'outbound-email', jobId: 'send.list-replayed', payload: { outboxId: 'none' }, replayedAt: new Date(), replayJobId: 'send.list-replayed.replay-x' });

    const text = await parley(['dead-letters', 'list'], world.env);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(new RegExp(`${open}\\s+\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\s+negotiation-steps\\s+step\\.${negotiationId}\\.list-open \\(negotiation-step\\)\\s+permanent\\s+1\\s+open`));
    expect(text.stdout).toContain(`[negotiation ${negotiationId}]`);
    expect(text.stdout).not.toContain(replayed);
    expect(text.stdout).not.toContain('mallory.secret');
    expect(text.stdout).toContain('***@creator.example');
    expect(text.stdout).not.toContain('sk-ant-abcdef');

    const all = await parley(['dead-letters', 'list', '--all', '--json'], world.env);
    expect(all.code).toBe(0);
    const listed = (JSON.parse(all.stdout) as { deadLetters: ListedDeadLetter[] }).deadLetters;
    expect(listed.find((d) => d.id === replayed)).toMatchObject({ status: 'replayed', queue: 'outbound-email' });
    const mine = listed.find((d) => d.id === open);
    expect(mine).toMatchObject({ status: 'open', negotiationId, jobId: `step.${negotiationId}.list-open`, resolvedBy: null });
    expect(mine?.errorMessage).toBe('PermanentError: 400 from ***@creator.example with [redacted]');
    expect(all.stdout).not.toContain('payload');
  });

  it('replays through replayDeadLetter: the job is back on its queue under the replay id, resolvedBy cli:<user>, audited; a second replay adds nothing', async () => {
    const id = await stepLetter('replay');
    const r = await parley(['dead-letters', 'replay', id], world.env);
    expect(r.code).toBe(0);
    const jobId = replayJobId({ id, jobId: `step.${negotiationId}.replay` });
    expect(r.stdout).toContain(`back on negotiation-steps as ${jobId}`);
    const job = await world.queues['negotiation-steps'].getJob(jobId);
    expect(job?.data).toEqual({ negotiationId, kind: 'open' });
    expect(await world.db.deadLetter.findUniqueOrThrow({ where: { id } })).toMatchObject({ replayJobId: jobId, resolvedBy: ACTOR, discardedAt: null });
    const audits = await world.db.auditEntry.findMany({ where: { action: 'dead_letter_replayed', negotiationId } });
    expect(audits.filter((a) => (a.details as { deadLetterId?: string }).deadLetterId === id)).toEqual([expect.objectContaining({ actor: ACTOR })]);

    const again = await parley(['dead-letters', 'replay', id], world.env);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/already replayed by cli:.* as job .*nothing was added/);
    expect(await world.queues['negotiation-steps'].getJob(jobId)).toBeDefined();
    expect(audits.filter((a) => (a.details as { deadLetterId?: string }).deadLetterId === id)).toHaveLength(1);
    expect((await world.db.auditEntry.findMany({ where: { action: 'dead_letter_replayed', negotiationId } })).filter((a) => (a.details as { deadLetterId?: string }).deadLetterId === id)).toHaveLength(1);
  });

  it('two operators replaying at once: one replays, the other is told (already replayed, or being replayed right now); one job, one audit entry', async () => {
    const id = await stepLetter('race');
    const runs = await Promise.all([parley(['dead-letters', 'replay', id], world.env), parley(['dead-letters', 'replay', id], world.env)]);
    const jobId = replayJobId({ id, jobId: `step.${negotiationId}.race` });
    const winners = runs.filter((r) => r.code === 0 && r.stdout.includes(`back on negotiation-steps as ${jobId}`));
    expect(winners).toHaveLength(1);
    const loser = runs.find((r) => !winners.includes(r));
    // Which one it is depends on whether the winner had finished when the loser looked.
    expect(`${loser?.code} ${loser?.stdout}${loser?.stderr}`).toMatch(/^(0 .*already replayed by cli:.*nothing was added|1 .*is being replayed by cli:.* right now; nothing was changed)/s);
    expect(await world.queues['negotiation-steps'].getJob(jobId)).toBeDefined();
    const audits = await world.db.auditEntry.findMany({ where: { action: 'dead_letter_replayed', negotiationId } });
    expect(audits.filter((x) => (x.details as { deadLetterId?: string }).deadLetterId === id)).toHaveLength(1);
  });

  it('discards with a reason (masked in the audit entry); a discarded dead letter is not replayed and not discarded twice', async () => {
    const id = await stepLetter('discard');
    const r = await parley(['dead-letters', 'discard', id, '--reason', 'influencer asked us (ops@brand.example) to stop'], world.env);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Discarded dead letter ${id}`);
    const row = await world.db.deadLetter.findUniqueOrThrow({ where: { id } });
    expect(row).toMatchObject({ resolvedBy: ACTOR, replayedAt: null });
    expect(row.discardedAt).toBeInstanceOf(Date);
    const audit = await world.db.auditEntry.findFirstOrThrow({ where: { action: 'dead_letter_discarded', negotiationId } });
    expect(audit).toMatchObject({ actor: ACTOR, details: { deadLetterId: id, queue: 'negotiation-steps', reason: 'influencer asked us (***@brand.example) to stop' } });

    const replay = await parley(['dead-letters', 'replay', id], world.env);
    expect(replay.code).toBe(1);
    expect(replay.stderr).toMatch(new RegExp(`dead letter ${id} was discarded by cli:.*; it is not replayed`));
    const twice = await parley(['dead-letters', 'discard', id], world.env);
    expect(twice.code).toBe(1);
    expect(await world.queues['negotiation-steps'].getJob(replayJobId(row))).toBeUndefined();
    expect(await world.db.auditEntry.count({ where: { action: 'dead_letter_discarded', negotiationId } })).toBe(1);

    const empty = await parley(['dead-letters', 'discard', id, '--reason', ' '], world.env);
    expect(empty.code).toBe(2);
    expect(empty.stderr).toMatch(/--reason: must not be empty/);
  });

  it('with Redis unreachable a replay fails within seconds and changes nothing', async () => {
    const id = await stepLetter('redis-down');
    const started = Date.now();
    const r = await parley(['dead-letters', 'replay', id], { ...world.env, REDIS_URL: `redis://127.0.0.1:${await freePort()}` });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cannot reach Redis at REDIS_URL/);
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(await world.db.deadLetter.findUniqueOrThrow({ where: { id } })).toMatchObject({ replayedAt: null, resolvedBy: null, discardedAt: null });
  });
});
