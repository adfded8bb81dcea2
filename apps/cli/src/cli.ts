import { ConfigError } from '@parley/config';
import { parseCommandArgs, type Command } from './command';
import { backup } from './commands/backup';
import { dbExport } from './commands/db-export';
import { dbImport } from './commands/db-import';
import { dbMigrate } from './commands/db-migrate';
import { discardDeadLetter, listDeadLetters, replayDeadLetterCommand } from './commands/dead-letters';
import { claimNegotiationCommand, resumeNegotiationCommand, showNegotiation } from './commands/negotiation';
import { restore } from './commands/restore';
import { setupClickUpWebhook } from './commands/setup-clickup-webhook';
import { setupGmailWatch } from './commands/setup-gmail-watch';
import { setupGoogleToken } from './commands/setup-google-token';
import { Context } from './context';
import { CommandError, EXIT, UsageError } from './errors';
import { table, type Output } from './output';

export const COMMANDS: readonly Command[] = [
  listDeadLetters,
  replayDeadLetterCommand,
  discardDeadLetter,
  showNegotiation,
  claimNegotiationCommand,
  resumeNegotiationCommand,
  setupGmailWatch,
  setupClickUpWebhook,
  setupGoogleToken,
  backup,
  restore,
  dbMigrate,
  dbExport,
  dbImport,
];

const GROUPS: Readonly<Record<string, string>> = {
  'dead-letters': 'jobs that failed for good: list, replay, discard',
  negotiation: 'one negotiation: show, claim, resume',
  setup: 'one-time setup: gmail-watch, clickup-webhook, google-token',
  db: 'the database: migrate, export, import (moving SQLite to PostgreSQL)',
};

function overview(): string {
  const rows = COMMANDS.map((c) => [`  ${c.path.join(' ')}`, c.summary]);
  return [
    'parley: operator commands for Parley',
    '',
    'Usage: parley <command> [options]     parley <command> --help',
    '',
    ...table(rows),
    '',
    'Settings come from the environment, as for the API and workers (DATABASE_URL, REDIS_URL, QUEUE_PREFIX, ...);',
    'each command reads only what it needs and says which. Exit codes: 0 done, 1 failed or refused, 2 bad input.',
  ].join('\n');
}

function groupHelp(group: string): string {
  const rows = COMMANDS.filter((c) => c.path[0] === group).map((c) => [`  ${c.path.join(' ')}`, c.summary]);
  return [`parley ${group}: ${GROUPS[group] ?? ''}`, '', ...table(rows), '', `parley ${group} <subcommand> --help for its options.`].join('\n');
}

function commandHelp(command: Command): string {
  return [`Usage: ${command.usage}`, '', `${command.summary.charAt(0).toUpperCase()}${command.summary.slice(1)}.`, '', command.help].join('\n');
}

/** Finds the command `argv` names; the rest of argv is its arguments. */
function locate(argv: string[]): { command: Command; rest: string[] } | { help: string } {
  const [first, second] = argv;
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') return { help: overview() };
  const direct = COMMANDS.find((c) => c.path.length === 1 && c.path[0] === first);
  if (direct) return { command: direct, rest: argv.slice(1) };
  if (!(first in GROUPS)) throw new UsageError(`unknown command ${JSON.stringify(first)}`, undefined, 'parley --help lists the commands');
  if (second === undefined || second === '--help' || second === '-h') {
    if (second === undefined) throw new UsageError(`parley ${first} needs a subcommand`, undefined, `parley ${first} --help lists them`);
    return { help: groupHelp(first) };
  }
  const sub = COMMANDS.find((c) => c.path[0] === first && c.path[1] === second);
  if (!sub) throw new UsageError(`unknown subcommand ${JSON.stringify(second)} of ${first}`, undefined, `parley ${first} --help lists them`);
  return { command: sub, rest: argv.slice(2) };
}

/**
 * Runs one command line and returns its exit code: 0 done, 1 failed or refused (with what to
 * do), 2 bad input (with the usage). Every connection the command opened is closed before it
 * returns.
 */
export async function runCli(argv: string[], env: Readonly<Record<string, string | undefined>>, out: Output): Promise<number> {
  const ctx = new Context(env, out);
  try {
    const found = locate(argv);
    if ('help' in found) {
      out.line(found.help);
      return EXIT.ok;
    }
    const args = parseCommandArgs(found.command, found.rest);
    if (args.help) {
      out.line(commandHelp(found.command));
      return EXIT.ok;
    }
    return await found.command.run(ctx, args);
  } catch (error) {
    if (error instanceof UsageError) {
      out.note(`parley: ${error.message}`);
      if (error.usage) out.note(`usage: ${error.usage}`);
      if (error.hint) out.note(error.hint);
      return EXIT.usage;
    }
    if (error instanceof ConfigError || error instanceof CommandError) {
      out.note(`parley: ${error.message}`);
      return EXIT.failed;
    }
    out.note(`parley: unexpected error: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
    return EXIT.failed;
  } finally {
    await ctx.close();
  }
}
