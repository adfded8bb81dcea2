import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { z } from 'zod';
import type { Context } from './context';
import { UsageError } from './errors';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

/** One runnable command: its place in the tree, its help, its options and what it does. */
export interface Command {
  /** e.g. ['dead-letters', 'list'] */
  path: string[];
  usage: string;
  summary: string;
  /** Shown under the usage by `--help`. */
  help: string;
  options: OptionSpec;
  /** Names of the positional arguments, in order; all required. */
  positionals: string[];
  run(ctx: Context, input: { values: Record<string, unknown>; positionals: string[] }): Promise<number>;
}

/**
 * Parses a command's arguments strictly: an unknown option, a missing value, a missing or
 * extra positional argument is a UsageError naming it, with the command's usage.
 */
export function parseCommandArgs(command: Command, argv: string[]): { values: Record<string, unknown>; positionals: string[]; help: boolean } {
  let parsed: { values: Record<string, unknown>; positionals: string[] };
  try {
    parsed = parseArgs({ args: argv, options: { ...command.options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message.replace(/\. To specify a positional argument.*$/s, ''), command.usage);
  }
  const help = parsed.values.help === true;
  if (!help) {
    const missing = command.positionals.slice(parsed.positionals.length);
    if (missing.length > 0) throw new UsageError(`missing ${missing.map((m) => `<${m}>`).join(' ')}`, command.usage);
    const extra = parsed.positionals.slice(command.positionals.length);
    if (extra.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(extra[0])}`, command.usage);
  }
  return { values: parsed.values, positionals: parsed.positionals, help };
}

/** Checks parsed option values with a zod schema; a bad value is a UsageError naming the option. */
export function optionValues<S extends z.ZodType>(command: Command, schema: S, values: Record<string, unknown>): z.infer<S> {
  const result = schema.safeParse(values);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const name = issue?.path[0] !== undefined ? `--${String(issue.path[0])}` : 'options';
  throw new UsageError(`${name}: ${issue?.message ?? 'invalid'}`, command.usage);
}
