import { jobIds } from '@parley/queue';
import type { ProblemKind, StuckReport, Timeline } from '../../apps/api/src/admin';
import { waitFor } from '../support/wait';
import { basic, bearer, startAdmin, type AdminHarness } from './admin-harness';
import { addJob, ago, HOUR, MIN, seedAudit, seedCampaign, seedDeadLetter, seedInbound, seedNegotiation, seedOutbox, seedTransition, take } from './seed';

type Report = Omit<StuckReport, 'generatedAt'> & { problems: { kind: ProblemKind; negotiationId?: string; jobId?: string; deadLetterId?: string; reason: string; ageMs: number }[] };

/**
 * One negotiation per kind of problem and one per healthy look-alike, in real SQLite and in
 * real BullMQ states on a private prefix. The stuck page must list exactly the problems.
 */
describe('stuck negotiations page (real SQLite and Redis)', () => {
  let h: AdminHarness;
  const bad: Partial<Record<ProblemKind, string>> = {};
  const healthy: Record<string, string> = {};
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    // Steps' running-too-long threshold at 1 ms so a job just taken counts; other queues keep their defaults.
    h = await startAdmin({ thresholds: { queues: { 'negotiation-steps': { activeMs: 1 } } } });
    const db = h.db;
    const campaign = await seedCampaign(db, 'Summer <Launch>');
    const neg = (influencerName: string, data: Omit<Parameters<typeof seedNegotiation>[2], 'influencerName'> = {}) =>
      seedNegotiation(db, campaign, { influencerName, ...data });

    // --- SQLite-side problems and their healthy twins ---
    bad.reply_overdue = await neg('<script>alert("x")</script> Overdue', { influencerEmail: 'alice@creator.example', gmailThreadId: 'thread-overdue' });
    ids.overdueReply = await seedInbound(db, bad.reply_overdue, { receivedAt: ago(2 * HOUR), subject: 'Re: Summer collab', text: 'INFLUENCER-SECRET-BODY' });
    await seedInbound(db, bad.reply_overdue, { receivedAt: ago(90 * MIN) });
    await seedOutbox(db, bad.reply_overdue, { key: 'open', toAddress: 'alice@creator.example', subject: 'Summer collab', body: 'OUR-SECRET-DRAFT', createdAt: ago(3 * HOUR) });
    await seedTransition(db, bad.reply_overdue, { from: 'new', event: 'outreach_queued', to: 'outreach_sent', at: ago(3 * HOUR) });
    await seedTransition(db, bad.reply_overdue, { from: 'outreach_sent', event: 'email_sent', to: 'awaiting_reply', at: ago(179 * MIN) });
    await seedAudit(db, bad.reply_overdue, { actor: 'agent', action: 'outreach_queued', at: ago(3 * HOUR), details: { note: 'sent to alice@creator.example', body: 'AUDIT-SECRET' } });
    healthy.replyFresh = await neg('Fresh Reply');
    await seedInbound(db, healthy.replyFresh, { receivedAt: ago(MIN) });
    healthy.replyAnswered = await neg('Answered Reply');
    await seedInbound(db, healthy.replyAnswered, { receivedAt: ago(5 * HOUR), processedAt: ago(4 * HOUR) });

    bad.escalated_unclaimed = await neg('Escalated Eve', { state: 'escalated', escalationReason: 'ask above ceiling after the last round' });
    await seedTransition(db, bad.escalated_unclaimed, { from: 'counter_received', event: 'escalated', to: 'escalated', at: ago(40 * MIN) });
    healthy.claimed = await neg('Claimed Carl', { state: 'human_managed', claimedBy: 'maria', escalationReason: 'hostile reply' });

    bad.follow_up_overdue = await neg('Silent Sam', { lastOutboundAt: ago(4 * 24 * HOUR), followUps: 1 });
    healthy.quiet = await neg('Quiet Quinn', { lastOutboundAt: ago(HOUR) });
    healthy.agreed = await neg('Agreed Ann', { state: 'agreed', lastOutboundAt: ago(10 * 24 * HOUR) });
    healthy.stale = await neg('Stale Stan', { state: 'stale', lastOutboundAt: ago(10 * 24 * HOUR) });

    bad.email_not_sent = await neg('Pending Pat');
    await seedOutbox(db, bad.email_not_sent, { key: 'r-1', status: 'pending', createdAt: ago(HOUR) });
    healthy.pendingFresh = await neg('Pending Fresh');
    await seedOutbox(db, healthy.pendingFresh, { key: 'r-1', status: 'pending', createdAt: ago(MIN) });

    bad.not_opened = await neg('New Nora', { state: 'new', lastOutboundAt: null, createdAt: ago(2 * HOUR) });
    healthy.newFresh = await neg('New Fresh', { state: 'new', lastOutboundAt: null });

    bad.dead_letter = await neg('Dead Dora');
    ids.deadLetter = await seedDeadLetter(db, { queue: 'negotiation-steps', jobId: jobIds.negotiationStep(bad.dead_letter), payload: { negotiationId: bad.dead_letter, kind: 'open' }, failedAt: ago(30 * MIN), errorMessage: 'PermanentError: 400 from bob@creator.example' });
    healthy.replayed = await neg('Replayed Ray');
    await seedDeadLetter(db, { queue: 'negotiation-steps', jobId: jobIds.negotiationStep(healthy.replayed), payload: { negotiationId: healthy.replayed, kind: 'open' }, replayedAt: ago(5 * MIN) });

    // --- Redis-side problems, each job in a real BullMQ state ---
    const steps = h.manualWorker('negotiation-steps', 10 * MIN);
    const opened = await take(steps, (await addJob(h.queues, 'negotiation-steps', { negotiationId: bad.reply_overdue, kind: 'open' }, jobIds.negotiationStep(bad.reply_overdue))).id ?? '');
    await opened.job.moveToCompleted({ outcome: 'opening offer 100000' }, opened.token, false);
    bad.job_delayed = await neg('Delayed Dan');
    await addJob(h.queues, 'negotiation-steps', { negotiationId: bad.job_delayed, kind: 'open' }, 'step.delayed-old', 2 * HOUR);
    await (await take(steps, 'step.delayed-old')).job.moveToDelayed(Date.now() + HOUR);
    healthy.delayedFresh = await neg('Delayed Fresh');
    await addJob(h.queues, 'negotiation-steps', { negotiationId: healthy.delayedFresh, kind: 'open' }, 'step.delayed-new');
    await (await take(steps, 'step.delayed-new')).job.moveToDelayed(Date.now() + HOUR);

    bad.job_failed = await neg('Failed Fay');
    await addJob(h.queues, 'negotiation-steps', { negotiationId: bad.job_failed, kind: 'open' }, 'step.failed-unrecorded', 0, 1);
    const failed = await take(steps, 'step.failed-unrecorded');
    await failed.job.moveToFailed(new Error('worker crashed while recording'), failed.token);
    // A failed job that has its dead-letter row shows once, as the dead letter.
    healthy.failedRecorded = await neg('Recorded Rita');
    await addJob(h.queues, 'negotiation-steps', { negotiationId: healthy.failedRecorded, kind: 'open' }, 'step.failed-recorded', 0, 1);
    const recorded = await take(steps, 'step.failed-recorded');
    await recorded.job.moveToFailed(new Error('permanent'), recorded.token);
    ids.recordedDeadLetter = await seedDeadLetter(db, { queue: 'negotiation-steps', jobId: 'step.failed-recorded', payload: { negotiationId: healthy.failedRecorded, kind: 'open' }, replayedAt: ago(MIN) });

    // Retried in bull-board (same job id) and completed: its dead letter is resolved, not listed.
    healthy.retriedInBoard = await neg('Retried Rhea');
    await addJob(h.queues, 'negotiation-steps', { negotiationId: healthy.retriedInBoard, kind: 'open' }, 'step.retried-in-board', 0, 1);
    const firstRun = await take(steps, 'step.retried-in-board');
    await firstRun.job.moveToFailed(new Error('permanent'), firstRun.token);
    await seedDeadLetter(db, { queue: 'negotiation-steps', jobId: 'step.retried-in-board', payload: { negotiationId: healthy.retriedInBoard, kind: 'open' } });
    await (await h.queues['negotiation-steps'].getJob('step.retried-in-board'))?.retry();
    const secondRun = await take(steps, 'step.retried-in-board');
    await secondRun.job.moveToCompleted('ok', secondRun.token, false);

    bad.job_active = await neg('Active Al');
    await addJob(h.queues, 'negotiation-steps', { negotiationId: bad.job_active, kind: 'open' }, 'step.active-long');
    await take(steps, 'step.active-long');

    bad.job_waiting = await neg('Waiting Wes');
    await addJob(h.queues, 'negotiation-steps', { negotiationId: bad.job_waiting, kind: 'open' }, 'step.waiting-old', 20 * MIN);
    healthy.waitingFresh = await neg('Waiting Fresh');
    await addJob(h.queues, 'negotiation-steps', { negotiationId: healthy.waitingFresh, kind: 'open' }, 'step.waiting-new');

    // outbound-email jobs name an outbox row, not a negotiation: the page resolves it.
    const sends = h.manualWorker('outbound-email', 10 * MIN);
    healthy.sending = await neg('Sending Sue');
    const sendingOutbox = await seedOutbox(db, healthy.sending, { key: 'open' });
    await addJob(h.queues, 'outbound-email', { outboxId: sendingOutbox }, 'send.running');
    await take(sends, 'send.running');
    bad.job_stalled = await neg('Stalled Stu');
    const stalledOutbox = await seedOutbox(db, bad.job_stalled, { key: 'open' });
    await addJob(h.queues, 'outbound-email', { outboxId: stalledOutbox }, 'send.stalled');
    const shortLock = h.manualWorker('outbound-email', 1000);
    await take(shortLock, 'send.stalled');
    const lockKey = h.queues['outbound-email'].toKey('send.stalled:lock');
    await waitFor('the stalled job lock to expire', async () => (await h.redis.exists(lockKey)) === 0, 15_000);

    // A job with no negotiation (a Gmail notification nobody takes) is listed without a link.
    await addJob(h.queues, 'gmail-notifications', { mailbox: 'deals@brand.example.com', historyId: '42', pubsubMessageId: 'm-1' }, 'pubsub.m-1', 5 * MIN);
    await addJob(h.queues, 'gmail-notifications', { mailbox: 'deals@brand.example.com', historyId: '43', pubsubMessageId: 'm-2' }, 'pubsub.m-2');
  });
  afterAll(async () => {
    await h.close();
  });

  const report = async () => (await (await fetch(`${h.url}/admin/`, { headers: { ...bearer(), accept: 'application/json' } })).json()) as Report;

  it('lists each kind of problem for the right negotiation, and none of the healthy ones', async () => {
    const r = await report();
    const found = r.problems.filter((p) => p.negotiationId).map((p) => `${p.kind}:${p.negotiationId}`);
    const expected = Object.entries(bad).map(([kind, id]) => `${kind}:${id}`);
    expect(found.sort()).toEqual(expected.sort());
    for (const [name, id] of Object.entries(healthy)) {
      expect({ name, listed: r.problems.some((p) => p.negotiationId === id) }).toEqual({ name, listed: false });
    }
    const system = r.problems.filter((p) => !p.negotiationId);
    expect(system).toEqual([expect.objectContaining({ kind: 'job_waiting', queue: 'gmail-notifications', jobId: 'pubsub.m-1' })]);
    // Oldest first; ages match what was seeded.
    const ages = r.problems.map((p) => p.ageMs);
    expect(ages).toEqual([...ages].sort((a, b) => b - a));
    const byKind = (k: ProblemKind) => r.problems.find((p) => p.kind === k && p.negotiationId);
    expect(byKind('follow_up_overdue')?.ageMs).toBeGreaterThanOrEqual(4 * 24 * HOUR);
    expect(byKind('reply_overdue')?.reason).toMatch(/^2 replies from the influencer unanswered for 2h/);
    expect(byKind('escalated_unclaimed')?.reason).toContain('ask above ceiling after the last round');
    expect(byKind('dead_letter')).toMatchObject({ deadLetterId: ids.deadLetter });
    expect(byKind('dead_letter')?.reason).not.toContain('bob@');
    expect(byKind('job_stalled')?.jobId).toBe('send.stalled');
    expect(byKind('job_failed')?.reason).toContain('worker crashed while recording');
    expect(r.queues.map((q) => q.queue)).toHaveLength(6);
    expect(r.workers).toBe(0);
  });

  it('renders the rows in HTML: escaped, linked to each timeline, replay only for dead letters', async () => {
    const res = await fetch(`${h.url}/admin/`, { headers: basic() });
    const page = await res.text();
    expect(page).not.toContain('<script>alert');
    expect(page).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; Overdue');
    expect(page).toContain('Summer &lt;Launch&gt;');
    for (const id of Object.values(bad)) expect(page).toContain(`href="/admin/negotiations/${id}"`);
    for (const id of Object.values(healthy)) expect(page).not.toContain(id);
    const forms = [...page.matchAll(/action="\/admin\/dead-letters\/([^/"]+)\/replay"/g)].map((m) => m[1]);
    expect(forms).toEqual([ids.deadLetter]);
    expect(page).toContain('No worker has reported in the last minute');
    // Addresses appear as domains only (masked as ***@domain in error texts).
    expect(page).not.toMatch(/[A-Za-z0-9._%+-]+@[a-z]/);
  });

  it('shows a timeline: transitions, message subjects and kinds with the domain only, audit entries, dead letters and jobs', async () => {
    const id = bad.reply_overdue as string;
    const page = await (await fetch(`${h.url}/admin/negotiations/${id}`, { headers: basic() })).text();
    expect(page).toContain('outreach_sent → email_sent → awaiting_reply');
    expect(page).toContain('reply from creator.example: &quot;Re: Summer collab&quot; (not yet answered)');
    expect(page).toContain('opening email to creator.example: &quot;Summer collab&quot; (sent)');
    expect(page).toContain('agent: outreach_queued');
    expect(page).toContain('address at creator.example');
    for (const secret of ['INFLUENCER-SECRET-BODY', 'OUR-SECRET-DRAFT', 'AUDIT-SECRET', 'alice@', '<script>alert']) expect(page).not.toContain(secret);

    // The same negotiation by its Gmail thread id; an address is never a lookup key.
    const byThread = (await (await fetch(`${h.url}/admin/negotiations/thread-overdue`, { headers: { ...bearer(), accept: 'application/json' } })).json()) as Timeline;
    expect(byThread.negotiation.id).toBe(id);
    // Completed jobs are found by the ids the engine derives.
    expect(byThread.jobs).toEqual([expect.objectContaining({ queue: 'negotiation-steps', jobId: `step.${id}.open`, state: 'completed' })]);
    expect((await fetch(`${h.url}/admin/negotiations/alice%40creator.example`, { headers: basic() })).status).toBe(404);
    expect((await fetch(`${h.url}/admin/negotiations/no-such-negotiation`, { headers: basic() })).status).toBe(404);
  });

  it("a timeline lists the negotiation's dead letters (with replay) and its jobs with their states", async () => {
    const dead = (await (await fetch(`${h.url}/admin/negotiations/${bad.dead_letter}`, { headers: { ...bearer(), accept: 'application/json' } })).json()) as Timeline;
    expect(dead.events).toEqual([expect.objectContaining({ type: 'dead_letter', deadLetterId: ids.deadLetter, replayable: true })]);
    const page = await (await fetch(`${h.url}/admin/negotiations/${bad.dead_letter}`, { headers: basic() })).text();
    expect(page).toContain(`action="/admin/dead-letters/${ids.deadLetter}/replay"`);

    const stalled = (await (await fetch(`${h.url}/admin/negotiations/${bad.job_stalled}`, { headers: { ...bearer(), accept: 'application/json' } })).json()) as Timeline;
    expect(stalled.jobs).toEqual([expect.objectContaining({ queue: 'outbound-email', jobId: 'send.stalled', state: 'active' })]);
    const recorded = (await (await fetch(`${h.url}/admin/negotiations/${healthy.failedRecorded}`, { headers: { ...bearer(), accept: 'application/json' } })).json()) as Timeline;
    expect(recorded.jobs).toEqual([expect.objectContaining({ jobId: 'step.failed-recorded', state: 'failed', failedReason: 'permanent' })]);
    expect(recorded.events).toEqual([expect.objectContaining({ type: 'dead_letter', replayable: false })]);
  });

  it('lists dead letters with queue, job, error, attempts, time and whether replayed', async () => {
    const list = (await (await fetch(`${h.url}/admin/dead-letters`, { headers: { ...bearer(), accept: 'application/json' } })).json()) as {
      total: number;
      pending: number;
      entries: { id: string; queue: string; jobId: string; jobName: string; errorClass: string; errorMessage: string; attempts: number; failedAt: string; replayedAt: string | null; negotiationId?: string; jobState?: string }[];
    };
    expect(list).toMatchObject({ total: 4, pending: 2 });
    const entry = list.entries.find((e) => e.id === ids.deadLetter);
    expect(entry).toMatchObject({ queue: 'negotiation-steps', jobName: 'negotiation-step', errorClass: 'permanent', attempts: 1, replayedAt: null, negotiationId: bad.dead_letter });
    expect(entry?.errorMessage).toBe('PermanentError: 400 from ***@creator.example');
    const page = await (await fetch(`${h.url}/admin/dead-letters`, { headers: basic() })).text();
    // Replay stays offered for a row whose job was retried in bull-board; the row says so.
    expect([...page.matchAll(/class="replay"/g)]).toHaveLength(2);
    expect(list.entries.find((e) => e.jobId === 'step.retried-in-board')).toMatchObject({ jobState: 'completed', replayedAt: null });
    expect(list.entries.find((e) => e.id === ids.deadLetter)).toMatchObject({ jobState: 'unknown' });
    expect(page).toContain('retried in the queue view');
    expect(page).toContain(`href="/admin/negotiations/${bad.dead_letter}"`);
  });
});
