import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { optionValues, type Command } from '../command';
import type { Context } from '../context';
import { CommandError, EXIT } from '../errors';
import { checkDatabaseFile, databaseFile, fileStamp, onlineCopy, removeWithCompanions } from '../sqlite-files';

/** A worker that beat within this window is running (the readiness check's window). */
export const WORKER_SEEN_WINDOW_MS = 60_000;

const options = z.object({
  from: z.string({ message: 'is required: the backup file to restore' }).min(1),
  force: z.boolean().default(false),
});

/** Worker ids with a fresh heartbeat; a CommandError when Redis cannot tell. */
async function runningWorkers(ctx: Context): Promise<string[]> {
  const redis = await ctx.redis();
  const { heartbeatKey } = await import('@parley/queue');
  return redis.zrangebyscore(heartbeatKey(ctx.settings().QUEUE_PREFIX), ctx.now().getTime() - WORKER_SEEN_WINDOW_MS, '+inf');
}

export const restore: Command = {
  path: ['restore'],
  usage: 'parley restore --from FILE [--force]',
  summary: 'replace the database with a backup (workers stopped)',
  help: [
    'Checks FILE (PRAGMA integrity_check, a _prisma_migrations table with finished migrations), refuses',
    `while any worker has sent a heartbeat in the last ${WORKER_SEEN_WINDOW_MS / 1000} s, keeps the current database as`,
    '<db>.before-restore-<UTC timestamp> (a consistent copy, WAL included), then puts a copy of FILE in its',
    'place. Stop the API and the workers first (docker compose stop api worker) and start them after;',
    'the API has no heartbeat, so the command cannot see it.',
    '',
    '  --from FILE   the backup to restore (e.g. one that parley backup wrote)',
    '  --force       restore even with running workers or when Redis cannot be read',
    '',
    'Needs DATABASE_URL, and REDIS_URL / QUEUE_PREFIX for the worker check.',
  ].join('\n'),
  options: { from: { type: 'string' }, force: { type: 'boolean' } },
  positionals: [],
  async run(ctx, { values }) {
    const opts = optionValues(this, options, values);
    const target = databaseFile(ctx.settings().DATABASE_URL);
    const from = path.resolve(opts.from);
    if (from === target) throw new CommandError('--from is the database itself');
    const check = checkDatabaseFile(from);

    let workers: string[];
    try {
      workers = await runningWorkers(ctx);
    } catch (error) {
      if (!opts.force) throw new CommandError(`cannot tell whether workers are running (${(error as Error).message}); stop them and use --force`);
      workers = [];
      ctx.out.note('warning: worker heartbeats could not be read; restoring because of --force');
    }
    if (workers.length > 0) {
      if (!opts.force) {
        throw new CommandError(
          `${workers.length} worker(s) running (${workers.slice(0, 5).join(', ')}); stop the workers and the API first (docker compose stop api worker), or use --force`,
        );
      }
      ctx.out.note(`warning: restoring under ${workers.length} running worker(s) because of --force`);
    }

    const stamp = fileStamp(ctx.now());
    let kept: string | undefined;
    if (fs.existsSync(target)) {
      kept = `${target}.before-restore-${stamp}`;
      try {
        await onlineCopy(target, kept);
      } catch (error) {
        removeWithCompanions(kept);
        throw new CommandError(`could not keep a copy of the current database: ${(error as Error).message}; nothing was restored`);
      }
    }
    // Copied beside the target and renamed over it: the database is the old file or the new
    // one, never half of each. The old WAL belongs to the old file and must not be replayed
    // into the new one.
    const incoming = `${target}.restoring-${stamp}`;
    try {
      fs.mkdirSync(path.dirname(target), { recursive: true });
      fs.copyFileSync(from, incoming);
      fs.rmSync(`${target}-wal`, { force: true });
      fs.rmSync(`${target}-shm`, { force: true });
      fs.renameSync(incoming, target);
    } catch (error) {
      removeWithCompanions(incoming);
      throw new CommandError(`restore failed: ${(error as Error).message}${kept ? `; the previous database is kept as ${kept}` : ''}`);
    }
    const after = checkDatabaseFile(target);
    ctx.out.line(`Restored ${from} into ${target} (${after.migrations} migrations, ${after.negotiations} negotiations, integrity ok).`);
    if (kept) ctx.out.line(`The replaced database is kept as ${kept}.`);
    ctx.out.line(`Start the API and the workers again${check.migrations > 0 ? '; the API applies any newer migrations at start' : ''}.`);
    return EXIT.ok;
  },
};
