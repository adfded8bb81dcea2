import { ConfigError, parseEnv } from '@parley/config';

/** The problems parseEnv reports for `env` (none when it is valid). */
export function configProblems(env: Record<string, string>): string[] {
  try {
    parseEnv(env);
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
}
