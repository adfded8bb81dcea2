import { demoPersonas, expectedState, seedDemoCampaign, DEMO_CAMPAIGN } from '@parley/sandbox';
import { cooledRoundsOf, QUEUE_NAMES } from '@parley/queue';
import { chaosSeed, createRng, scaled, writeChaosSummary } from '../support/chaos-run';
import { waitFor } from '../support/wait';
import { checkLoopIntegrity, historiesOf, minimumMail, personaRoster } from '../e2e/loop-assertions';
import { createLoopHarness, SETTLED_STATES, type LoopHarness } from '../e2e/loop-harness';

const NEGOTIATIONS = scaled({ short: 15, full: 100 });
const KILLS = scaled({ short: 4, full: 20 });
const WORKERS = 2;

jest.setTimeout(scaled({ short: 300_000, full: 1_200_000 }));

/**
 * A campaign run by two worker processes while a supervisor in the test `kill -9`s one of
 * them at random points of the campaign's progress and starts a replacement each time, as an
 * orchestrator would. The campaign must end exactly as an undisturbed one: each negotiation in
 * the state its persona implies, every reply read and answered once, every email sent once.
 */
describe('a campaign under repeated kill -9 of its workers (API + 2 workers, supervisor)', () => {
  let h: LoopHarness;
  const influencers = personaRoster(NEGOTIATIONS);

  beforeAll(async () => {
    h = await createLoopHarness({
      label: 'kills',
      personas: demoPersonas(influencers),
      autoPush: true,
      env: {
        // Long enough that a reply delayed by a kill and a restart is read before a follow-up is due.
        FOLLOW_UP_AFTER: '30',
        // The stall budget is the deployed one (JOB_MAX_STALLED_COUNT 2, JOB_STALL_COOLDOWNS 2):
        // a job on too many killed workers is set aside and tried again, a scheduled one skipped
        // for its next run. Only the cool-down is scaled down with the campaign's other clocks
        // (deployed: 60 s against follow-ups due after days), which keeps a job in the line of
        // fire longer than in production, never shorter.
        JOB_STALL_COOLDOWN_MS: '10000',
      },
    });
    await h.start(WORKERS);
  });
  afterAll(async () => {
    await h?.close();
  });

  it('settles every negotiation as its persona implies, with no reply missed and no email sent twice', async () => {
    const rng = createRng(chaosSeed('worker-kills'));
    const started = Date.now();
    const progress = () => h.sandbox.google.sent().length + (h.sandbox.personas?.replies().length ?? 0);
    const floor = minimumMail(influencers);
    // Below 60% of the floor: however fast the campaign goes, it is still running at each kill.
    const thresholds = Array.from({ length: KILLS }, () => rng.int(2, Math.floor(floor * 0.6))).sort((a, b) => a - b);
    const kills: Array<{ atProgress: number; atMs: number; victim: string; restartMs: number }> = [];
    const restarts: Array<Promise<void>> = [];

    let settled = false;
    // The supervisor: at each threshold, SIGKILL a random ready worker and start its
    // replacement without waiting for it, as a restart policy per replica does. Both workers
    // can be down at once; progress, and so the next kill, then waits for a replacement.
    const supervisor = (async () => {
      let lastKillProgress = -1;
      for (const threshold of thresholds) {
        // At the threshold, and never twice at the same point: the campaign moves between kills.
        await waitFor(`campaign progress ${threshold}`, () => settled || progress() >= Math.max(threshold, lastKillProgress + 1), 600_000, 25);
        const ready = await waitFor(
          'a ready worker to kill',
          () => {
            const workers = h.running().filter((p) => p.name.startsWith('worker') && p.pid > 0);
            return settled || (workers.length > 0 ? workers : false);
          },
          600_000,
          25,
        );
        if (ready === true || ready === false) return;
        const victim = rng.pick(ready);
        const atProgress = progress();
        lastKillProgress = atProgress;
        await h.kill(victim, 'SIGKILL');
        const killedAt = Date.now();
        const kill = { atProgress, atMs: killedAt - started, victim: victim.name, restartMs: 0 };
        kills.push(kill);
        restarts.push(
          h.startWorker().then(() => {
            kill.restartMs = Date.now() - killedAt;
          }),
        );
      }
    })();

    seedDemoCampaign(h.sandbox, { influencers });
    expect(await h.webhook(DEMO_CAMPAIGN.taskId)).toEqual([200]);
    try {
      await h.waitForSettled(NEGOTIATIONS, scaled({ short: 240_000, full: 900_000 }));
    } finally {
      settled = true;
      await supervisor;
      await Promise.all(restarts);
    }
    const settledMs = Date.now() - started;
    // The campaign is over when every state holds with the queues idle. On a loaded machine the
    // kills can delay a reply past the follow-up clock: the sweep marks the negotiation stale, and
    // the reply, read later, revives it (answered as any late reply is). Then it settles again; a
    // negotiation stuck for good still fails here, on the bound.
    for (let round = 1; ; round += 1) {
      // A persona's answer still on its way (to a follow-up sent late) is part of the campaign.
      await waitFor('persona answers delivered', () => (h.sandbox.personas?.pending() ?? 0) === 0, 120_000);
      await h.sandbox.pushesSettled();
      await h.waitForIdle(120_000);
      const states = await h.db.negotiation.findMany({ select: { state: true } });
      if (states.every((n) => SETTLED_STATES.has(n.state)) || round >= 3) break;
      await h.waitForSettled(NEGOTIATIONS, 120_000);
    }


    const negotiations = await h.db.negotiation.findMany({ include: { outbox: true } });
    const wrongStates = influencers.flatMap((i) => {
      const n = negotiations.find((x) => x.influencerEmail === i.email);
      return n?.state === expectedState(i.persona.kind) ? [] : [{ who: i.email, persona: i.persona.kind, state: n?.state }];
    });
    if (wrongStates.length > 0) process.stdout.write(`[chaos] negotiations in the wrong state: ${JSON.stringify(await historiesOf(h.db, h.sandbox.google, h.sandbox.personas, wrongStates, started), null, 1)}\n`);
    expect(wrongStates).toEqual([]);
    for (const n of negotiations.filter((x) => /^carl/.test(x.influencerEmail))) expect({ who: n.influencerEmail, rate: n.agreedRateMinor }).toEqual({ who: n.influencerEmail, rate: 130_000 });

    // 0 duplicate emails: every Message-ID Gmail sent is unique, every outbox row is exactly one
    // of them (checkLoopIntegrity), one opening per negotiation, at most one follow-up, and no
    // influencer got the same text twice.
    const sent = h.sandbox.google.sent();
    const byMessageId = new Map<string, number>();
    for (const m of sent) byMessageId.set(m.messageIdHdr ?? '', (byMessageId.get(m.messageIdHdr ?? '') ?? 0) + 1);
    expect([...byMessageId].filter(([, c]) => c > 1)).toEqual([]);
    const texts = new Set<string>();
    const repeatedTexts = sent.filter((m) => {
      const key = `${m.to}\n${m.text}`;
      if (texts.has(key)) return true;
      texts.add(key);
      return false;
    });
    expect(repeatedTexts.map((m) => m.to)).toEqual([]);
    for (const n of negotiations) {
      expect({ who: n.influencerEmail, openings: n.outbox.filter((r) => r.kind === 'opening').length }).toEqual({ who: n.influencerEmail, openings: 1 });
      expect(n.outbox.filter((r) => r.kind === 'follow_up').length).toBeLessThanOrEqual(1);
    }

    // 0 missed replies: every persona reply is in Gmail's mailbox and recorded, processed and
    // answered (or forwarded) exactly once (checkLoopIntegrity throws otherwise).
    const report = await checkLoopIntegrity(h.db, h.sandbox.google);
    const replies = h.sandbox.personas?.replies().length ?? 0;
    expect(report.inboundCount).toBe(replies);
    expect(await h.db.inboundMessage.count({ where: { processedAt: null } })).toBe(0);
    expect(await h.db.outboxEmail.count({ where: { status: { not: 'sent' } } })).toBe(0);
    // Nothing was given up: no dead letter of any job, work or scheduled (stall-policy.ts).
    const deadLetters = await h.db.deadLetter.findMany({ select: { queue: true, jobId: true, errorClass: true, errorMessage: true } });
    expect(deadLetters).toEqual([]);
    // Every kill happened while the campaign was running, and every killed worker was replaced.
    expect(kills).toHaveLength(KILLS);
    expect(h.running().filter((p) => p.name.startsWith('worker'))).toHaveLength(WORKERS);

    // What the kills cost: jobs that ran again after their worker died, and sends found already
    // done in Gmail (killed after Gmail accepted, before the row was marked sent).
    let stalledJobs = 0;
    let recoveredSends = 0;
    let cooledJobs = 0;
    let maxStalls = 0;
    let skippedScheduledJobs = 0;
    for (const q of QUEUE_NAMES) {
      for (const job of await h.queues[q].getJobs(['completed', 'failed'], 0, -1)) {
        if ((job.stalledCounter ?? 0) > 0) stalledJobs += 1;
        maxStalls = Math.max(maxStalls, job.stalledCounter ?? 0);
        if (cooledRoundsOf(job.progress) > 0) cooledJobs += 1;
        if ((job.returnvalue as { skipped?: string } | null)?.skipped === 'stalled') skippedScheduledJobs += 1;
        if (q === 'outbound-email' && (job.returnvalue as { outcome?: string } | null)?.outcome === 'recorded existing') recoveredSends += 1;
      }
    }
    const states: Record<string, number> = {};
    for (const n of negotiations) states[n.state] = (states[n.state] ?? 0) + 1;
    writeChaosSummary('worker-kills', {
      seed: rng.seed,
      negotiations: NEGOTIATIONS,
      workers: WORKERS,
      kills: kills.length,
      killLog: kills,
      meanRestartMs: Math.round(kills.reduce((s, k) => s + k.restartMs, 0) / Math.max(1, kills.length)),
      states,
      emailsSent: sent.length,
      repliesReceived: replies,
      missedReplies: replies - report.inboundCount,
      duplicateEmails: [...byMessageId.values()].filter((c) => c > 1).length + repeatedTexts.length,
      jobsRunAgainAfterAKill: stalledJobs,
      sendsFoundAlreadyDone: recoveredSends,
      jobsSetAsideAfterRepeatedStalls: cooledJobs,
      scheduledJobsSkippedAfterRepeatedStalls: skippedScheduledJobs,
      maxStallsOfOneJob: maxStalls,
      deadLetters: deadLetters.length,
      settledMs,
      durationMs: Date.now() - started,
    });
  });
});
