/** Set by CI (.ci/run exports CI=true; GitHub Actions sets it): a test that cannot run there is a failure. */
export function inCi(env: NodeJS.ProcessEnv = process.env): boolean {
  const value = env.CI?.trim().toLowerCase();
  return value !== undefined && value !== '' && value !== 'false' && value !== '0';
}

/**
 * `describe` for tests that need something of the machine (a browser, a PostgreSQL server).
 * `missing` says what is missing, or is undefined when all is there. Without it: in CI the
 * suite fails (one test, `needs`, says what is missing), because a skip there would pass a build
 * that never ran the tests; on a developer's machine they are skipped with a warning.
 */
export function describeRequiring(name: string, missing: string | undefined, needs: string, body: () => void): void {
  if (missing === undefined) {
    describe(name, body);
    return;
  }
  if (inCi()) {
    describe(name, () => {
      it(`${needs} (CI never skips it)`, () => {
        throw new Error(`${name}: ${missing}`);
      });
    });
    return;
  }
  console.warn(`${name}: skipped, ${missing}`);
  describe.skip(`${name} (skipped: ${missing})`, body);
}
