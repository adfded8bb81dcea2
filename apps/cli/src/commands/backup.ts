import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { optionValues, type Command } from '../command';
import type { Context } from '../context';
import { CommandError, EXIT } from '../errors';
import { BACKUP_NAME, backupName, checkDatabaseFile, databaseFile, onlineCopy, removeWithCompanions } from '../sqlite-files';

const options = z.object({
  to: z.string({ message: 'is required: the directory backups go to' }).min(1),
  keep: z.coerce.number({ message: 'must be a number' }).int().min(1, { message: 'must be at least 1' }).optional(),
  every: z.coerce.number({ message: 'must be a number of seconds' }).int().min(1, { message: 'must be at least 1 second' }).optional(),
});

/** One backup: copied under a temporary name, checked, then renamed, so a listed backup is always whole. */
async function backupOnce(ctx: Context, source: string, dir: string, keep: number | undefined): Promise<void> {
  const started = ctx.now();
  fs.mkdirSync(dir, { recursive: true });
  const final = path.join(dir, backupName(started));
  const partial = `${final}.partial`;
  try {
    await onlineCopy(source, partial);
    const check = checkDatabaseFile(partial);
    fs.renameSync(partial, final);
    const bytes = fs.statSync(final).size;
    ctx.out.line(`backup written: ${final} (${bytes} bytes, ${check.migrations} migrations, ${check.negotiations} negotiations, integrity ok, ${Date.now() - started.getTime()} ms)`);
  } catch (error) {
    removeWithCompanions(partial);
    throw error instanceof CommandError ? error : new CommandError(`backup failed: ${(error as Error).message}`);
  }
  if (keep !== undefined) {
    // Only files this command names are ever removed; the newest `keep` stay.
    const old = fs
      .readdirSync(dir)
      .filter((f) => BACKUP_NAME.test(f))
      .sort()
      .reverse()
      .slice(keep);
    for (const f of old) {
      fs.rmSync(path.join(dir, f), { force: true });
      ctx.out.line(`removed old backup: ${path.join(dir, f)}`);
    }
  }
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

export const backup: Command = {
  path: ['backup'],
  usage: 'parley backup --to DIR [--keep N] [--every SECONDS]',
  summary: 'online SQLite backup, checked, with rotation',
  help: [
    'Copies the database at DATABASE_URL with SQLite’s online backup API (API and workers keep running)',
    'into DIR as parley-<UTC timestamp>.db, checks the copy (PRAGMA integrity_check, the migrations',
    'table) and only then gives it its name; a copy that fails the check is deleted and the command fails.',
    '',
    '  --to DIR          where backups go (created if missing)',
    '  --keep N          keep the newest N parley-*.db files in DIR, delete older ones (other files are never touched)',
    '  --every SECONDS   back up again every SECONDS until SIGTERM or SIGINT (exit 0); a failed run is',
    '                    reported on stderr and the loop goes on',
    '',
    'Needs DATABASE_URL only.',
  ].join('\n'),
  options: { to: { type: 'string' }, keep: { type: 'string' }, every: { type: 'string' } },
  positionals: [],
  async run(ctx, { values }) {
    const opts = optionValues(this, options, values);
    const source = databaseFile(ctx.settings().DATABASE_URL);
    if (!fs.existsSync(source)) throw new CommandError(`no database at ${source} (DATABASE_URL); nothing to back up`);
    const dir = path.resolve(opts.to);
    if (opts.every === undefined) {
      await backupOnce(ctx, source, dir, opts.keep);
      return EXIT.ok;
    }
    const stop = new AbortController();
    const onSignal = (signal: NodeJS.Signals) => {
      if (!stop.signal.aborted) ctx.out.note(`${signal}: stopping after the backup in progress, if any`);
      stop.abort();
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    try {
      ctx.out.note(`backing up ${source} to ${dir} every ${opts.every} s${opts.keep ? `, keeping ${opts.keep}` : ''}`);
      while (!stop.signal.aborted) {
        try {
          await backupOnce(ctx, source, dir, opts.keep);
        } catch (error) {
          ctx.out.note(`parley backup: ${(error as Error).message}`);
        }
        await pause(opts.every * 1000, stop.signal);
      }
      return EXIT.ok;
    } finally {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
    }
  },
};
