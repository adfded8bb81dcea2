import { execFile } from 'node:child_process';
import path from 'node:path';
import { ROOT } from '../support/processes';

/**
 * `npm run lint` rejects imports that reach into another package's src/: they resolve under
 * tsx and jest (sources) but not in the compiled build (dist only). ESLint runs as the lint
 * script runs it, on a file given on stdin, with the repository's own config.
 */
function lint(source: string, filePath = 'apps/api/src/deep-import.fixture.ts'): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      process.execPath,
      [path.join(ROOT, 'node_modules/eslint/bin/eslint.js'), '--max-warnings', '0', '--stdin', '--stdin-filename', filePath],
      { cwd: ROOT, timeout: 60_000 },
      (error, stdout, stderr) => {
        if (error && typeof error.code !== 'number') return reject(error);
        resolve({ code: typeof error?.code === 'number' ? error.code : 0, output: `${stdout}${stderr}` });
      },
    );
    child.stdin?.end(source);
  });
}

describe('lint: no imports into a package src/', () => {
  it.each([
    ["import { auditTrail } from '@parley/engine/src/takeover';\nexport const f = auditTrail;\n"],
    ["import type { SlackSandbox } from '@parley/sandbox/src/slack/slack-sandbox.server';\nexport type S = SlackSandbox;\n"],
    ["export { createLogger } from '@parley/logging/src';\n"],
  ])('fails on %j', async (source) => {
    const { code, output } = await lint(source);
    expect(code).toBe(1);
    expect(output).toMatch(/no-restricted-imports/);
    expect(output).toMatch(/not its src\//);
  });

  it('passes the same imports through the packages’ exports', async () => {
    const source = [
      "import { auditTrail } from '@parley/takeover';",
      "import type { SlackSandbox } from '@parley/sandbox/slack';",
      "import { sentryOptions } from '@parley/logging/sentry-privacy';",
      'export const f = [auditTrail, sentryOptions];',
      'export type S = SlackSandbox;',
      '',
    ].join('\n');
    const { code, output } = await lint(source);
    expect(output).toBe('');
    expect(code).toBe(0);
  });
});
