import fs from 'node:fs';

/** The Chromium the browser tests drive: CHROMIUM_PATH (CI points it at the runner's Chrome) or Debian's. */
export const CHROMIUM = process.env.CHROMIUM_PATH?.trim() || '/usr/bin/chromium';

/** Set by CI (.ci/run exports CI=true; GitHub Actions sets it): a test that cannot run there is a failure. */
export function inCi(env: NodeJS.ProcessEnv = process.env): boolean {
  const value = env.CI?.trim().toLowerCase();
  return value !== undefined && value !== '' && value !== 'false' && value !== '0';
}

/**
 * `describe` for tests that need Chromium. Without it: in CI the suite fails (one test that says
 * what is missing), because a skip there would pass a build that never ran the test; on a
 * developer's machine it is skipped with a warning.
 */
export function describeWithChromium(name: string, body: () => void): void {
  if (fs.existsSync(CHROMIUM)) {
    describe(name, body);
    return;
  }
  const missing = `${CHROMIUM} not found (install it with: apt-get install -y chromium, or set CHROMIUM_PATH)`;
  if (inCi()) {
    describe(name, () => {
      it('has a Chromium to run in (CI never skips it)', () => {
        throw new Error(`${name}: ${missing}`);
      });
    });
    return;
  }
  console.warn(`${name}: skipped, ${missing}`);
  describe.skip(`${name} (skipped: ${missing})`, body);
}
