/**
 * Whole-loop throughput: one campaign of N negotiations through the real processes (the API and
 * 1 or 2 worker processes, compiled and started as the images start them; `npm run
 * bench:campaign` builds first, BENCH_FROM_SOURCE=1 runs them from source with tsx) against the
 * sandbox (Gmail with Pub/Sub push, Sheets, ClickUp, Anthropic over HTTP with the real SDK).
 * The roster holds only personas that answer (accepts, counters, greedy), each within
 * BENCH_PERSONA_MS, so no follow-up clock sets the pace. Cases, in one run: an instant LLM and a
 * 2 s LLM, each with 1 and 2 worker processes. Per case: seconds from the ClickUp webhook to
 * every negotiation settled, emails Parley sent per second, LLM calls per second, the time from
 * each influencer reply to Parley's answer in its thread (p50/p99), peak RSS and CPU seconds per
 * process.
 * Run: npm run bench:campaign; BENCH_CAMPAIGN_N (default 200), BENCH_CAMPAIGN_CASES=1,2 for some
 * cases, BENCH_NODE_OPTIONS for the processes (e.g. `--require ./profiler.cjs` to profile them;
 * `--import <abs path>/bench/count-statements.mjs` with STATEMENT_COUNT_DIR counts their SQL),
 * BENCH_GOOGLE_GATE=1 puts the tests' Google proxy between the processes and the stand-in,
 * PARLEY_PROCESSES_ROOT=<another built checkout> to run that version's API and workers against
 * these stand-ins (same database schema), so two versions meet the same stand-ins.
 * TEST_DATABASE=postgres runs it on PostgreSQL (TEST_POSTGRES_URL, default the local one).
 */
import { DEMO_CAMPAIGN, DEMO_INFLUENCERS, demoPersonas, seedDemoCampaign, type DemoInfluencer } from '@parley/sandbox';
import { createLoopHarness, type LoopHarness } from '../test/e2e/loop-harness';
import globalSetup from '../test/support/global-setup';
import globalTeardown from '../test/support/global-teardown';
import { cpuSeconds, percentile, rssMiB } from './bench-support';

const N = Number(process.env.BENCH_CAMPAIGN_N ?? 200);
const FROM_SOURCE = process.env.BENCH_FROM_SOURCE === '1';
// The harness starts the API and workers from their dist/ files (test/support/processes.ts).
if (!FROM_SOURCE) process.env.PARLEY_PROCESSES = 'compiled';
const PERSONA_MS = Number(process.env.BENCH_PERSONA_MS ?? 50);
const ANSWERING: ReadonlySet<string> = new Set(['accepts', 'counters', 'greedy']);

/** BENCH_PROCESS_ENV: a JSON object of extra environment for the API and workers (a setting to compare, e.g. {"LOG_LEVEL":"warn"}). */
function processEnv(): Record<string, string> {
  const raw = process.env.BENCH_PROCESS_ENV;
  if (!raw) return {};
  const parsed: unknown = JSON.parse(raw);
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed) || !Object.values(parsed).every((v) => typeof v === 'string')) {
    throw new Error('BENCH_PROCESS_ENV must be a JSON object of strings');
  }
  return parsed as Record<string, string>;
}

interface Case {
  label: string;
  workers: number;
  llmLatencyMs: number;
}

interface Outcome {
  label: string;
  seconds: number;
  emails: number;
  llmCalls: number;
  replyToAnswer: number[];
  /** A reply's way, per inbound message (ms): Gmail's receipt to the sync's row, that row to the answer's outbox row, that row to its send. */
  stages: { recorded: number[]; written: number[]; sent: number[] };
  peakRssMiB: Record<string, number>;
  /** CPU seconds over the campaign, per process. */
  cpuSeconds: Record<string, number>;
}

/** N influencers cycling through the demo roster's answering personas, with unique addresses. */
function roster(count: number): DemoInfluencer[] {
  const answering = DEMO_INFLUENCERS.filter((i) => ANSWERING.has(i.persona.kind));
  return Array.from({ length: count }, (_, i) => {
    const t = answering[i % answering.length]!;
    const [local, domain] = t.email.split('@');
    return { ...t, name: `${t.name} ${i + 1}`, email: `${local}${i + 1}@${domain}` };
  });
}

async function runCase(c: Case): Promise<Outcome> {
  const influencers = roster(N);
  const h: LoopHarness = await createLoopHarness({
    label: `bench-${c.workers}w`,
    personas: demoPersonas(influencers),
    personaDelayMs: PERSONA_MS,
    autoPush: true,
    // Gmail and Sheets without the tests' holding proxy in front (BENCH_GOOGLE_GATE=1 puts it back):
    // it doubled the stand-ins' HTTP work for every Google call.
    googleGate: process.env.BENCH_GOOGLE_GATE === '1',
    // Info logs as in production; the steps' concurrency is the production default (50).
    env: { FOLLOW_UP_AFTER: '600', MAINTENANCE_INTERVAL_MS: '5000', ...(process.env.BENCH_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_NODE_OPTIONS } : {}),
      ...(process.env.STATEMENT_COUNT_DIR ? { STATEMENT_COUNT_DIR: process.env.STATEMENT_COUNT_DIR } : {}),
      ...processEnv() },
  });
  try {
    h.sandbox.anthropic.traffic(c.llmLatencyMs > 0 ? { latencyMs: c.llmLatencyMs } : {});
    await h.start(c.workers);
    const peak: Record<string, number> = {};
    const sampler = setInterval(() => {
      for (const p of h.running()) if (p.pid > 0) peak[p.name] = Math.max(peak[p.name] ?? 0, rssMiB(p.pid));
    }, 200);
    const callsBefore = h.sandbox.anthropic.calls().length;
    // CPU over the campaign only (not the processes' start): each process, and this one (the
    // sandbox's services and the harness run here).
    const cpuAtStart = new Map(h.running().map((p) => [p.name, cpuSeconds(p.pid)]));
    const ownAtStart = process.cpuUsage();
    seedDemoCampaign(h.sandbox, { influencers });
    const started = Date.now();
    const answers = await h.webhook(DEMO_CAMPAIGN.taskId);
    if (answers[0] !== 200) throw new Error(`webhook answered ${answers.join(',')}`);
    await h.waitForSettled(N, 900_000);
    const seconds = (Date.now() - started) / 1000;
    clearInterval(sampler);
    const cpu: Record<string, number> = {};
    for (const p of h.running()) cpu[p.name] = cpuSeconds(p.pid) - (cpuAtStart.get(p.name) ?? 0);
    const own = process.cpuUsage(ownAtStart);
    cpu.sandbox = (own.user + own.system) / 1e6;

    const sent = h.sandbox.google.sent();
    const replyToAnswer: number[] = [];
    for (const threadId of new Set(sent.map((m) => m.threadId))) {
      const thread = h.sandbox.google.messagesInThread(threadId).sort((a, b) => a.date.getTime() - b.date.getTime());
      thread.forEach((m, i) => {
        if (m.direction !== 'inbound') return;
        const answer = thread.slice(i + 1).find((x) => x.direction === 'outbound');
        if (answer) replyToAnswer.push(answer.date.getTime() - m.date.getTime());
      });
    }
    replyToAnswer.sort((a, b) => a - b);
    // Where a reply's time goes, from the rows the processes wrote: the sync's InboundMessage,
    // the step's answer (the negotiation's next outbox row) and its send.
    const stages: Outcome['stages'] = { recorded: [], written: [], sent: [] };
    const outbox = new Map<string, { createdAt: Date; sentAt: Date | null }[]>();
    for (const o of await h.db.outboxEmail.findMany({ select: { negotiationId: true, createdAt: true, sentAt: true }, orderBy: { createdAt: 'asc' } })) {
      outbox.set(o.negotiationId, [...(outbox.get(o.negotiationId) ?? []), o]);
    }
    for (const m of await h.db.inboundMessage.findMany({ select: { negotiationId: true, receivedAt: true, createdAt: true } })) {
      stages.recorded.push(m.createdAt.getTime() - m.receivedAt.getTime());
      const answer = outbox.get(m.negotiationId)?.find((o) => o.createdAt >= m.createdAt);
      if (!answer) continue;
      stages.written.push(answer.createdAt.getTime() - m.createdAt.getTime());
      if (answer.sentAt) stages.sent.push(answer.sentAt.getTime() - answer.createdAt.getTime());
    }
    for (const list of Object.values(stages)) list.sort((a, b) => a - b);
    return { label: c.label, seconds, emails: sent.length, llmCalls: h.sandbox.anthropic.calls().length - callsBefore, replyToAnswer, stages, peakRssMiB: peak, cpuSeconds: cpu };
  } finally {
    await h.close();
  }
}

async function main(): Promise<void> {
  // The harness copies the suite's migrated template database: migrate it here, as the suite
  // does, so the bench runs on a fresh clone where no test has made it yet (a few seconds). With
  // TEST_DATABASE=postgres that is a template database of this run's, dropped at the end.
  globalSetup();
  try {
    await runCases();
  } finally {
    globalTeardown();
  }
}

async function runCases(): Promise<void> {
  const cases: Case[] = [
    { label: 'instant LLM, 1 worker', workers: 1, llmLatencyMs: 0 },
    { label: 'instant LLM, 2 workers', workers: 2, llmLatencyMs: 0 },
    { label: '2 s LLM, 1 worker', workers: 1, llmLatencyMs: 2000 },
    { label: '2 s LLM, 2 workers', workers: 2, llmLatencyMs: 2000 },
  ];
  const only = process.env.BENCH_CAMPAIGN_CASES?.split(',').map(Number);
  const results: Outcome[] = [];
  for (const [i, c] of cases.entries()) if (!only || only.includes(i + 1)) results.push(await runCase(c));

  const rss = (r: Outcome) =>
    Object.entries(r.peakRssMiB)
      .map(([name, mib]) => `${name} ${mib.toFixed(0)}`)
      .join(', ');
  const cpu = (r: Outcome) =>
    Object.entries(r.cpuSeconds)
      .map(([name, sec]) => `${name} ${sec.toFixed(1)}`)
      .join(', ');
  const lines = [
    `## Campaign throughput: ${N} negotiations through the API and the workers`,
    '',
    `Node ${process.version}, ${new Date().toISOString().slice(0, 10)}, one run, cases in sequence; personas answer within ${PERSONA_MS} ms; ${FROM_SOURCE ? 'processes from source (tsx)' : 'processes compiled (dist/, as the images run them)'}.`,
    '',
    '| case | settled in (s) | emails sent | emails/s | LLM calls/s | reply-to-answer p50 (s) | p99 (s) | peak RSS (MiB) | CPU s (sandbox = the bench process) |',
    '|---|---|---|---|---|---|---|---|---|',
    ...results.map(
      (r) =>
        `| ${r.label} | ${r.seconds.toFixed(1)} | ${r.emails} | ${(r.emails / r.seconds).toFixed(1)} | ${(r.llmCalls / r.seconds).toFixed(1)} | ${(percentile(r.replyToAnswer, 50) / 1000).toFixed(2)} | ${(percentile(r.replyToAnswer, 99) / 1000).toFixed(2)} | ${rss(r)} | ${cpu(r)} |`,
    ),
  ];
  const p50 = (xs: number[]) => (percentile(xs, 50) / 1000).toFixed(2);
  lines.push(
    '',
    'Where a reply\'s time goes (medians, s): Gmail received it, the mailbox sync recorded it, the step wrote the answer, the answer was sent.',
    '',
    '| case | received to recorded | recorded to answer written | written to sent |',
    '|---|---|---|---|',
    ...results.map((r) => `| ${r.label} | ${p50(r.stages.recorded)} | ${p50(r.stages.written)} | ${p50(r.stages.sent)} |`),
  );
  const one = results.find((r) => r.label === 'instant LLM, 1 worker');
  const two = results.find((r) => r.label === 'instant LLM, 2 workers');
  if (one && two) lines.push('', `Instant LLM, 2 workers vs 1: ${(two.emails / two.seconds / (one.emails / one.seconds)).toFixed(2)}x the emails/s.`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

void main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
