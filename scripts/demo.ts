/**
 * The demo: the sandbox (or real services where configured), the API and two workers as
 * separate processes, a five-influencer campaign started by a signed ClickUp webhook, a live
 * transcript, and a summary table. `--exit` ends once every negotiation settles, with status 0
 * only when each reached the state its persona implies.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { openDatabase } from '@parley/db';
import { formatMoney } from '@parley/domain';
import { DEMO_CAMPAIGN, DEMO_INFLUENCERS, demoPersonas, expectedState, seedDemoCampaign, startSandbox, type Sandbox } from '@parley/sandbox';
import { createInteractionsSender, type InteractionsSender } from '@parley/sandbox/slack';
import { nodeArgs } from '../test/support/processes';
import { dropPrefix } from '../test/support/redis';

const ROOT = path.resolve(__dirname, '..');
const exitWhenSettled = process.argv.includes('--exit');
const SETTLED = new Set(['agreed', 'declined', 'escalated', 'stale', 'human_managed']);
const TIMEOUT_MS = Number(process.env.DEMO_TIMEOUT_MS ?? 240_000);
/** The simulated operator: the only Slack user allowed to act (SLACK_OPERATORS). */
const OPERATOR = 'U0OPERATOR1';
/** The negotiation the operator takes over once it escalates, and hands back. */
const TAKEOVER = DEMO_INFLUENCERS.find((i) => i.persona.kind === 'greedy');

const c = { dim: '\x1b[2m', bold: '\x1b[1m', green: '\x1b[32m', yellow: '\x1b[33m', cyan: '\x1b[36m', red: '\x1b[31m', reset: '\x1b[0m' };
const say = (line: string) => process.stdout.write(`${line}\n`);

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

function start(name: string, entry: string, env: Record<string, string>, logFile: string): ChildProcess {
  const out = fs.openSync(logFile, 'a');
  const child = spawn(process.execPath, nodeArgs(entry), { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', out, out] });
  child.on('exit', (code, signal) => {
    if (!stopping) say(`${c.red}${name} exited (${code ?? signal}); see ${path.relative(ROOT, logFile)}${c.reset}`);
  });
  return child;
}

async function waitForHttp(url: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await fetch(url).then((r) => r.ok, () => false);
    if (ok) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${url} did not become ready within ${timeoutMs / 1000}s`);
}

let stopping = false;

async function main(): Promise<void> {
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const runId = randomBytes(3).toString('hex');
  const queuePrefix = `parley-demo-${runId}`;
  const dataDir = path.join(ROOT, 'data');
  fs.mkdirSync(dataDir, { recursive: true });
  const dbFile = path.join(dataDir, 'demo.db');
  for (const suffix of ['', '-wal', '-shm']) fs.rmSync(dbFile + suffix, { force: true });
  const databaseUrl = `file:${dbFile}`;
  const { execFileSync } = await import('node:child_process');
  execFileSync(process.execPath, [path.join(ROOT, 'node_modules/prisma/build/index.js'), 'migrate', 'deploy'], { cwd: ROOT, env: { ...process.env, DATABASE_URL: databaseUrl }, stdio: 'pipe' });

  const sandbox = await startSandbox({ personas: demoPersonas(), personaDelayMs: 1500 });
  const realLlm = Boolean(process.env.ANTHROPIC_API_KEY);
  const sandboxEnv = sandbox.env();
  if (realLlm) {
    delete sandboxEnv.ANTHROPIC_API_KEY;
    delete sandboxEnv.ANTHROPIC_BASE_URL;
  }
  // A real Sentry when its DSN is in the environment; otherwise the sandbox's ingest.
  if (process.env.SENTRY_DSN) delete sandboxEnv.SENTRY_DSN;
  const port = await freePort();
  const apiUrl = `http://127.0.0.1:${port}`;
  const adminToken = randomBytes(16).toString('hex');
  const metricsToken = randomBytes(16).toString('hex');
  const env: Record<string, string> = {
    ...sandboxEnv,
    NODE_ENV: 'production',
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
    REDIS_URL: redisUrl,
    DATABASE_URL: databaseUrl,
    PORT: String(port),
    QUEUE_PREFIX: queuePrefix,
    ADMIN_TOKEN: adminToken,
    // Production refuses to serve /metrics without a token.
    METRICS_TOKEN: metricsToken,
    WORKER_CONCURRENCY: '4',
    FOLLOW_UP_AFTER: '8',
    MAX_FOLLOW_UPS: '1',
    MAINTENANCE_INTERVAL_MS: '2000',
    RETRY_TRANSIENT_BASE_MS: '500',
    RETRY_OVERLOADED_BASE_MS: '2000',
    RETRY_RATE_LIMIT_DEFAULT_MS: '2000',
    SHUTDOWN_GRACE_MS: '5000',
    SLACK_OPERATORS: OPERATOR,
  };

  say(`${c.bold}Parley demo${c.reset}  ${c.dim}(run ${runId})${c.reset}`);
  say(`  LLM:     ${realLlm ? `${c.green}real Anthropic endpoint${c.reset}` : 'sandbox (set ANTHROPIC_API_KEY to use the real API)'}`);
  say('  Gmail, Sheets, ClickUp, Pub/Sub: sandbox on loopback');
  say(`  Slack:   sandbox on loopback (alerts to #parley-alerts; /claim and /resume signed to the API's /slack/events);  Sentry: ${process.env.SENTRY_DSN ? 'real (SENTRY_DSN set)' : 'sandbox ingest on loopback'}`);
  say(`  Redis:   ${new URL(redisUrl).host}   SQLite: ${path.relative(ROOT, dbFile)}   logs: data/demo-*.log\n`);

  const logs = (n: string) => path.join(dataDir, `demo-${n}.log`);
  for (const n of ['api', 'worker-1', 'worker-2']) fs.writeFileSync(logs(n), '');
  const children = [start('api', 'apps/api/src/main.ts', env, logs('api'))];
  await waitForHttp(`${apiUrl}/health/liveness`);
  sandbox.connectApi(apiUrl);
  children.push(start('worker-1', 'apps/worker/src/main.ts', env, logs('worker-1')), start('worker-2', 'apps/worker/src/main.ts', env, logs('worker-2')));
  await waitForHttp(`${apiUrl}/health/readiness`);

  const shutdown = async (code: number) => {
    if (stopping) return;
    stopping = true;
    for (const child of children) child.kill('SIGTERM');
    await Promise.all(children.map((ch) => new Promise((r) => (ch.exitCode !== null ? r(null) : ch.once('exit', r)))));
    await sandbox.close();
    // The run's jobs go with it (the next run starts a new prefix and a new database); data/demo.db stays to look at.
    await dropPrefix(redisUrl, queuePrefix);
    process.exit(code);
  };
  process.on('SIGINT', () => void shutdown(0));
  process.on('SIGTERM', () => void shutdown(0));

  seedDemoCampaign(sandbox);
  say(`${c.cyan}ClickUp:${c.reset} campaign "${DEMO_CAMPAIGN.name}" is ready (CPM $${DEMO_CAMPAIGN.cpmFloor}-$${DEMO_CAMPAIGN.cpmCeiling}, ${DEMO_CAMPAIGN.maxRounds} rounds, ${DEMO_INFLUENCERS.length} influencers); sending the signed webhook`);
  const statuses = await sandbox.clickup.sendWebhook(`${apiUrl}/webhooks/clickup`, { event: 'taskStatusUpdated', taskId: DEMO_CAMPAIGN.taskId });
  say(`${c.dim}  webhook answered ${statuses.join(', ')}${c.reset}\n`);

  const db = openDatabase(databaseUrl);
  const seen = new Set<string>();
  const started = Date.now();
  const operator = createOperator(db, createInteractionsSender({ endpoint: `${apiUrl}/slack/events`, signingSecret: sandbox.slack.signingSecret }));
  for (;;) {
    await printNew(db, seen);
    printSlack(sandbox, seen);
    await operator.step();
    const negotiations = await db.negotiation.findMany({ include: { campaign: true }, orderBy: { influencerName: 'asc' } });
    const settled = operator.done() && negotiations.length === DEMO_INFLUENCERS.length && negotiations.every((n) => SETTLED.has(n.state));
    if (settled || Date.now() - started > TIMEOUT_MS) {
      const ok = printSummary(negotiations, settled);
      if (exitWhenSettled) {
        await db.$disconnect();
        await shutdown(ok ? 0 : 1);
        return;
      }
      say(`\nDashboard: ${apiUrl}/admin/   (stuck negotiations, timelines, dead letters)  and  ${apiUrl}/admin/queues  (queues)`);
      say(`           sign in with any user name and the password ${adminToken}`);
      say(`Metrics:   ${apiUrl}/metrics  and the readiness checks: ${apiUrl}/health/readiness, with the header Authorization: Bearer ${metricsToken}`);
      say('Serving until Ctrl-C.');
      await new Promise(() => undefined);
    }
    await new Promise((r) => setTimeout(r, 400));
  }
}

type Db = ReturnType<typeof openDatabase>;

/**
 * A simulated operator in Slack: when the greedy influencer's negotiation escalates, they
 * `/claim` it (the agent stops), then `/resume` it (the agent carries on from the current
 * round, here with a follow-up that the influencer answers with the same ask, which escalates
 * again). Both are signed requests to the API, as Slack sends them in HTTP mode.
 */
function createOperator(db: Db, slack: InteractionsSender) {
  let phase: 'waiting' | 'claimed' | 'done' = TAKEOVER ? 'waiting' : 'done';
  let claimedAt = 0;
  const email = TAKEOVER?.email ?? '';
  const command = async (name: '/claim' | '/resume') => {
    say(`${c.cyan}Operator <@${OPERATOR}> in Slack:${c.reset} ${name} ${email}`);
    const answer = await slack.command({ command: name, text: email, userId: OPERATOR });
    const text = (answer.body as { text?: string }).text ?? answer.text;
    say(`${c.cyan}  Slack (only they see it, ${answer.ms} ms):${c.reset} ${firstLine(text)}`);
    return answer.status === 200;
  };
  return {
    done: () => phase === 'done',
    step: async () => {
      if (phase === 'done') return;
      const n = await db.negotiation.findFirst({ where: { influencerEmail: email } });
      if (phase === 'waiting' && n?.state === 'escalated') {
        if (await command('/claim')) {
          phase = 'claimed';
          claimedAt = Date.now();
        }
      } else if (phase === 'claimed' && Date.now() - claimedAt > 3000) {
        // A few seconds with the thread in human hands, then back to the agent.
        if (await command('/resume')) phase = 'done';
      }
    },
  };
}

/** Alerts and DMs as they appear in the Slack stand-in (and each alert once it was acted on). */
function printSlack(sandbox: Sandbox, seen: Set<string>): void {
  const dm = sandbox.slack.dmChannelOf(OPERATOR);
  for (const m of sandbox.slack.messages()) {
    const key = `slack-${m.channel}-${m.ts}${m.edited ? `-e${m.edited.ts}` : ''}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const where = m.channel === dm ? `DM to <@${OPERATOR}>` : m.channel === sandbox.slack.channel ? '#parley-alerts' : m.channel;
    say(`${c.red}Slack ${where}${m.edited ? ' (updated)' : ''}:${c.reset} ${firstLine(m.text)}`);
  }
}

async function printNew(db: Db, seen: Set<string>): Promise<void> {
  const [transitions, sent, inbound] = await Promise.all([
    db.transition.findMany({ orderBy: { at: 'asc' }, include: { negotiation: true } }),
    db.outboxEmail.findMany({ where: { status: 'sent' }, orderBy: { sentAt: 'asc' }, include: { negotiation: true } }),
    db.inboundMessage.findMany({ orderBy: { receivedAt: 'asc' }, include: { negotiation: true } }),
  ]);
  const events: { at: Date; key: string; line: string }[] = [];
  for (const m of inbound) {
    events.push({ at: m.createdAt, key: `in-${m.id}`, line: `${c.yellow}${m.negotiation.influencerName} →${c.reset} "${firstLine(m.text)}"` });
  }
  for (const t of transitions) {
    const details = (t.details ?? {}) as Record<string, unknown>;
    const extra = typeof details.decision === 'string' ? ` (read: ${String(details.intent)}, decision: ${details.decision})` : typeof details.reason === 'string' ? ` (${details.reason})` : '';
    events.push({ at: t.at, key: `t-${t.id}`, line: `${c.dim}   ${t.negotiation.influencerName}: ${t.fromState} --${t.event}--> ${t.toState}${extra}${c.reset}` });
  }
  for (const e of sent) {
    events.push({ at: e.sentAt ?? e.createdAt, key: `out-${e.id}`, line: `${c.green}Agent → ${e.negotiation.influencerName}${c.reset} [${e.kind}] "${firstLine(e.body, 1)}"` });
  }
  for (const e of events.sort((a, b) => a.at.getTime() - b.at.getTime())) {
    if (seen.has(e.key)) continue;
    seen.add(e.key);
    say(e.line);
  }
}

function firstLine(text: string, skip = 0): string {
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
  const line = lines[Math.min(skip, lines.length - 1)] ?? '';
  return line.length > 110 ? `${line.slice(0, 107)}...` : line;
}

function printSummary(negotiations: { influencerEmail: string; influencerName: string; state: string; round: number; agreedRateMinor: number | null; averageViews: number; campaign: { cpmCeilingMinor: number; currency: string } }[], settled: boolean): boolean {
  say(`\n${c.bold}Summary${settled ? '' : ' (timed out before every negotiation settled)'}${c.reset}`);
  const rows = [['influencer', 'persona', 'final state', 'expected', 'rounds', 'agreed rate', 'ceiling']];
  let ok = settled;
  for (const n of negotiations) {
    const influencer = DEMO_INFLUENCERS.find((i) => i.email === n.influencerEmail);
    const expected = influencer ? expectedState(influencer.persona.kind) : '?';
    const ceiling = Math.round((n.campaign.cpmCeilingMinor * n.averageViews) / 1000);
    const good = n.state === expected && (n.agreedRateMinor === null || n.agreedRateMinor <= ceiling);
    ok &&= good;
    rows.push([n.influencerName, influencer?.persona.kind ?? '?', `${good ? '✓' : '✗'} ${n.state}`, expected, String(n.round), n.agreedRateMinor === null ? '-' : formatMoney(n.agreedRateMinor, n.campaign.currency), formatMoney(ceiling, n.campaign.currency)]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const [i, r] of rows.entries()) {
    say('  ' + r.map((cell, j) => cell.padEnd(widths[j]!)).join('  '));
    if (i === 0) say('  ' + widths.map((w) => '-'.repeat(w)).join('  '));
  }
  say(ok ? `\n${c.green}Every negotiation reached the state its persona implies.${c.reset}` : `\n${c.red}Some negotiations did not reach their expected state.${c.reset}`);
  return ok;
}

main().catch((error: unknown) => {
  say(`${c.red}demo failed: ${error instanceof Error ? error.message : String(error)}${c.reset}`);
  process.exit(1);
});
