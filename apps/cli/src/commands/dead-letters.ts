import { z } from 'zod';
import type { Prisma } from '@parley/db';
import { optionValues, type Command } from '../command';
import type { Context } from '../context';
import { CommandError, EXIT } from '../errors';
import { table, truncate, utc } from '../output';
import { negotiationOfPayload } from './job-ref';

const MAX_LIST = 1000;
const MAX_REASON = 500;

// The stored row as Prisma reads it (payload included; it is never printed).
type DeadLetterRow = Prisma.DeadLetterGetPayload<true>;

function status(row: DeadLetterRow): 'open' | 'replayed' | 'discarded' {
  if (row.discardedAt) return 'discarded';
  return row.replayedAt ? 'replayed' : 'open';
}

function statusText(row: DeadLetterRow): string {
  const by = row.resolvedBy ? ` by ${row.resolvedBy}` : '';
  if (row.discardedAt) return `discarded ${utc(row.discardedAt)}${by}`;
  if (row.replayedAt) return `replayed ${utc(row.replayedAt)}${by} as ${row.replayJobId ?? '?'}`;
  return 'open';
}

/** The row without its payload, the error text with addresses and tokens masked as in the logs. */
function publicRow(row: DeadLetterRow, negotiationId: string | null, redactString: (s: string) => string) {
  return {
    id: row.id,
    status: status(row),
    queue: row.queue,
    jobId: row.jobId,
    jobName: row.jobName,
    errorClass: row.errorClass,
    errorMessage: redactString(row.errorMessage),
    attempts: row.attempts,
    failedAt: row.failedAt.toISOString(),
    negotiationId,
    replayedAt: row.replayedAt?.toISOString() ?? null,
    replayJobId: row.replayJobId,
    discardedAt: row.discardedAt?.toISOString() ?? null,
    resolvedBy: row.resolvedBy,
  };
}

const listOptions = z.object({
  all: z.boolean().default(false),
  json: z.boolean().default(false),
  limit: z.coerce.number({ message: 'must be a number' }).int().min(1).max(MAX_LIST).default(100),
});

export const listDeadLetters: Command = {
  path: ['dead-letters', 'list'],
  usage: 'parley dead-letters list [--all] [--json] [--limit N]',
  summary: 'list dead letters, newest first (open ones unless --all)',
  help: [
    'Lists the jobs that failed for good, newest first: id, time, queue, job, error class, attempts, status.',
    'Without --all only open ones (neither replayed nor discarded). Error texts show addresses as',
    '***@domain and no tokens, as in the logs; payloads are not shown.',
    '',
    '  --all        replayed and discarded ones too',
    '  --json       one JSON document: { "deadLetters": [...] }',
    `  --limit N    at most N rows (default 100, at most ${MAX_LIST})`,
    '',
    'Needs DATABASE_URL only.',
  ].join('\n'),
  options: { all: { type: 'boolean' }, json: { type: 'boolean' }, limit: { type: 'string' } },
  positionals: [],
  async run(ctx, { values }) {
    const opts = optionValues(this, listOptions, values);
    const { redactString } = await import('@parley/logging');
    const db = await ctx.db();
    const rows: DeadLetterRow[] = await db.deadLetter.findMany({
      where: opts.all ? {} : { replayedAt: null, discardedAt: null },
      orderBy: { failedAt: 'desc' },
      take: opts.limit,
    });
    const entries = await Promise.all(rows.map(async (row) => publicRow(row, await negotiationOfPayload(db, row.queue, row.payload), redactString)));
    if (opts.json) {
      ctx.out.json({ deadLetters: entries });
      return EXIT.ok;
    }
    if (rows.length === 0) {
      ctx.out.line(opts.all ? 'No dead letters.' : 'No open dead letters (--all shows replayed and discarded ones).');
      return EXIT.ok;
    }
    const lines = table([
      ['ID', 'FAILED (UTC)', 'QUEUE', 'JOB', 'CLASS', 'TRIES', 'STATUS'],
      ...rows.map((row) => [row.id, utc(row.failedAt), row.queue, `${row.jobId} (${row.jobName})`, row.errorClass, String(row.attempts), statusText(row)]),
    ]);
    ctx.out.line(lines[0]);
    rows.forEach((row, i) => {
      ctx.out.line(lines[i + 1]);
      const negotiation = entries[i]?.negotiationId ? ` [negotiation ${entries[i]?.negotiationId}]` : '';
      ctx.out.line(`    ${truncate(redactString(row.errorMessage).replace(/\s+/g, ' '), 200)}${negotiation}`);
    });
    ctx.out.line();
    ctx.out.line(`${rows.length} dead letter${rows.length === 1 ? '' : 's'}${opts.all ? '' : ' open'}${rows.length === opts.limit ? ` (the newest ${opts.limit}; --limit shows more)` : ''}.`);
    return EXIT.ok;
  },
};

async function findRow(ctx: Context, id: string): Promise<DeadLetterRow> {
  const row = await (await ctx.db()).deadLetter.findUnique({ where: { id } });
  if (!row) throw new CommandError(`no dead letter ${id} (parley dead-letters list --all shows them)`);
  return row;
}

function alreadyResolved(row: DeadLetterRow): string {
  const by = row.resolvedBy ? ` by ${row.resolvedBy}` : '';
  if (row.discardedAt) return `dead letter ${row.id} was discarded${by}; it is not replayed`;
  if (row.replayedAt) return `dead letter ${row.id} was already replayed${by} as job ${row.replayJobId ?? '?'}`;
  // Only a replay takes the row before it is done (a discard is one update).
  return `dead letter ${row.id} is being replayed${by} right now; nothing was changed`;
}

export const replayDeadLetterCommand: Command = {
  path: ['dead-letters', 'replay'],
  usage: 'parley dead-letters replay <id>',
  summary: 'put a dead letter’s job back on its queue',
  help: [
    'Adds the stored payload again to its queue under the job id <job id>.replay-<id> (the failed job',
    'stays as it was), as the dashboard’s Replay and Slack’s button do, marks the row replayed with',
    'resolvedBy cli:<your user>, and writes the audit entry dead_letter_replayed. A dead letter already',
    'replayed adds nothing (exit 0); a discarded one is refused (exit 1).',
    '',
    'Needs DATABASE_URL and REDIS_URL (QUEUE_PREFIX).',
  ].join('\n'),
  options: {},
  positionals: ['id'],
  async run(ctx, { positionals }) {
    const id = positionals[0] ?? '';
    const [{ withTx }, { replayDeadLetter, ReplayError }] = await Promise.all([import('@parley/db'), import('@parley/queue')]);
    const db = await ctx.db();
    const row = await findRow(ctx, id);
    const queues = await ctx.queues();
    const actor = ctx.actor;
    // The conditional write is the lock, as for Slack's button: one operator takes the row.
    const taken = await withTx(db, (tx) => tx.deadLetter.updateMany({ where: { id, replayedAt: null, discardedAt: null, resolvedBy: null }, data: { resolvedBy: actor } }));
    if (taken.count === 0) {
      const now = await findRow(ctx, id);
      if (now.replayedAt && !now.discardedAt) {
        ctx.out.line(`${alreadyResolved(now)}; nothing was added.`);
        return EXIT.ok;
      }
      throw new CommandError(alreadyResolved(now));
    }
    let jobId: string;
    try {
      ({ jobId } = await replayDeadLetter({ db, queues, log: await ctx.log() }, id));
    } catch (error) {
      // Give the row back so anyone can replay it once the cause is fixed.
      await withTx(db, (tx) => tx.deadLetter.updateMany({ where: { id, resolvedBy: actor, replayedAt: null }, data: { resolvedBy: null } }));
      if (error instanceof ReplayError) throw new CommandError(`not replayed: ${error.message}`);
      throw new CommandError(`the replay failed (is Redis reachable?): ${(error as Error).message}; nothing was changed`);
    }
    const negotiationId = await negotiationOfPayload(db, row.queue, row.payload);
    await withTx(db, (tx) =>
      tx.auditEntry.create({ data: { negotiationId, actor, action: 'dead_letter_replayed', details: { deadLetterId: id, queue: row.queue, jobId: row.jobId, replayJobId: jobId } } }),
    );
    ctx.out.line(`Replayed dead letter ${id}: the job is back on ${row.queue} as ${jobId}.`);
    return EXIT.ok;
  },
};

const discardOptions = z.object({ reason: z.string().trim().min(1, { message: 'must not be empty' }).max(MAX_REASON, { message: `must be at most ${MAX_REASON} characters` }).optional() });

export const discardDeadLetter: Command = {
  path: ['dead-letters', 'discard'],
  usage: 'parley dead-letters discard <id> [--reason TEXT]',
  summary: 'mark a dead letter as not to be run again',
  help: [
    'Sets discardedAt and resolvedBy cli:<your user> on an open dead letter, as Slack’s Discard button',
    'does, and writes the audit entry dead_letter_discarded (with the reason, addresses masked). It then',
    'leaves the stuck page and no replay path runs it. A dead letter already replayed or discarded is',
    'left as it is (exit 1).',
    '',
    '  --reason TEXT   why, kept in the audit entry',
    '',
    'Needs DATABASE_URL only.',
  ].join('\n'),
  options: { reason: { type: 'string' } },
  positionals: ['id'],
  async run(ctx, { values, positionals }) {
    const opts = optionValues(this, discardOptions, values);
    const id = positionals[0] ?? '';
    const [{ withTx }, { redactString }] = await Promise.all([import('@parley/db'), import('@parley/logging')]);
    const db = await ctx.db();
    const row = await findRow(ctx, id);
    const actor = ctx.actor;
    const negotiationId = await negotiationOfPayload(db, row.queue, row.payload);
    const acted = await withTx(db, async (tx) => {
      const taken = await tx.deadLetter.updateMany({ where: { id, replayedAt: null, discardedAt: null, resolvedBy: null }, data: { discardedAt: ctx.now(), resolvedBy: actor } });
      if (taken.count === 0) return false;
      await tx.auditEntry.create({
        data: {
          negotiationId,
          actor,
          action: 'dead_letter_discarded',
          details: { deadLetterId: id, queue: row.queue, jobId: row.jobId, ...(opts.reason ? { reason: redactString(opts.reason) } : {}) },
        },
      });
      return true;
    });
    if (!acted) throw new CommandError(alreadyResolved(await findRow(ctx, id)));
    ctx.out.line(`Discarded dead letter ${id} (${row.queue} job ${row.jobId}); it will not run again.`);
    return EXIT.ok;
  },
};
