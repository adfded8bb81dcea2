import { auditTrail, claimNegotiation, resumeNegotiation, TakeoverError } from '@parley/takeover';
import { QUEUE_NAMES } from '@parley/queue';
import { findStuck } from '../admin/stuck.service';
import { stuckThresholds } from '../admin/thresholds';
import { withTimeout } from '../http-error';
import { findNegotiation } from './negotiation-ref.service';
import { slackActor, type SlackOpsDeps } from './slack-ops.types';

export const COMMANDS = ['/claim', '/resume', '/audit', '/parley'] as const;
export type CommandName = (typeof COMMANDS)[number];

export interface CommandInput {
  command: string;
  text: string;
  userId: string;
}

/** What a command answers: shown only to the operator who typed it. */
export interface CommandReply {
  text: string;
}

const USAGE = [
  '`/claim <email | Gmail thread id | negotiation id>`: take a negotiation over (the agent stops; new replies come to you by DM)',
  '`/resume <…>`: hand it back to the agent',
  '`/audit <…>`: its trail',
  '`/parley status`: queues, stuck negotiations, dead letters in the last 24 h',
].join('\n');

/** Commands that change something; `/audit` and `/parley status` only read. */
function changes(input: CommandInput): boolean {
  return input.command === '/claim' || input.command === '/resume';
}

export async function runCommand(deps: SlackOpsDeps, input: CommandInput): Promise<CommandReply> {
  if (changes(input) && !(await deps.operators.allowed(input.userId))) {
    deps.log.warn('slack command refused: not an operator', { command: input.command, slackUser: input.userId });
    return { text: `Sorry, only Parley operators may use ${input.command}. Nothing was changed.` };
  }
  switch (input.command) {
    case '/claim':
    case '/resume':
      return takeover(deps, input);
    case '/audit':
      return audit(deps, input.text);
    case '/parley':
      return input.text.trim().toLowerCase() === 'status' ? status(deps) : { text: USAGE };
    default:
      return { text: `Unknown command ${input.command}.\n${USAGE}` };
  }
}

async function takeover(deps: SlackOpsDeps, input: CommandInput): Promise<CommandReply> {
  const found = await findNegotiation(deps.db, input.text);
  if (!found.ok) return { text: found.message };
  const by = slackActor(input.userId);
  try {
    if (input.command === '/claim') {
      await claimNegotiation(deps, { negotiationId: found.id, by, slackUserId: input.userId });
      deps.log.info('negotiation claimed from slack', { negotiationId: found.id, slackUser: input.userId });
      return { text: `You hold negotiation \`${found.id}\` now: the agent will not write on it, and new replies come to you by DM. \`/resume ${found.id}\` hands it back.` };
    }
    const state = await resumeNegotiation(deps, { negotiationId: found.id, by });
    deps.log.info('negotiation resumed from slack', { negotiationId: found.id, slackUser: input.userId, state });
    return { text: `Negotiation \`${found.id}\` is back with the agent (state ${state}); it answers the next reply.` };
  } catch (error) {
    if (error instanceof TakeoverError) return { text: `Nothing changed: ${error.message}.` };
    throw error;
  }
}

const AUDIT_LINES = 25;

async function audit(deps: SlackOpsDeps, text: string): Promise<CommandReply> {
  const found = await findNegotiation(deps.db, text);
  if (!found.ok) return { text: found.message };
  const trail = await auditTrail(deps.db, found.id);
  const n = trail.negotiation;
  const lines = [
    ...trail.transitions.map((t) => ({ at: t.at, line: `${t.fromState} → ${t.event} → ${t.toState}` })),
    ...trail.audits.map((a) => ({ at: a.at, line: `${a.actor}: ${a.action}` })),
  ].sort((a, b) => a.at.getTime() - b.at.getTime());
  const shown = lines.slice(-AUDIT_LINES).map((l) => `${l.at.toISOString().replace('T', ' ').slice(0, 19)}  ${l.line}`);
  const head = `*${n.influencerName}* · negotiation \`${n.id}\` · ${n.state}${n.claimedBy ? ` (claimed by ${n.claimedBy})` : ''} · round ${n.round}`;
  const more = lines.length > AUDIT_LINES ? `\n(${lines.length - AUDIT_LINES} earlier entries on the dashboard)` : '';
  return { text: `${head}${more}\n\`\`\`${shown.join('\n') || 'nothing recorded yet'}\`\`\`` };
}

const DAY_MS = 86_400_000;

async function status(deps: SlackOpsDeps): Promise<CommandReply> {
  const since = new Date(deps.now().getTime() - DAY_MS);
  const [report, deadLetters] = await Promise.all([
    withTimeout(findStuck({ ...deps, thresholds: stuckThresholds({ followUpAfterMs: deps.followUpAfterMs }) }), 10_000, 'the stuck scan'),
    deps.db.deadLetter.count({ where: { failedAt: { gte: since } } }),
  ]);
  const queues = QUEUE_NAMES.map((q) => {
    const c = report.queues.find((s) => s.queue === q)?.counts ?? {};
    const n = (k: string) => c[k] ?? 0;
    return `${q}: ${n('waiting') + n('prioritized')} waiting, ${n('active')} active, ${n('delayed')} delayed, ${n('failed')} failed${report.queues.find((s) => s.queue === q)?.paused ? ' (paused)' : ''}`;
  });
  const stuckIds = new Set(report.problems.flatMap((p) => (p.negotiationId ? [p.negotiationId] : [])));
  const warnings = report.warnings.length > 0 ? `\n:warning: ${report.warnings.slice(0, 3).join('; ')}` : '';
  return {
    text: [
      '*Parley status*',
      `Stuck negotiations: ${stuckIds.size} (${report.problems.length} problems)`,
      `Dead letters in the last 24 h: ${deadLetters}`,
      `Workers seen in the last minute: ${report.workers ?? 'unknown'}`,
      '```' + queues.join('\n') + '```',
    ].join('\n') + warnings,
  };
}
