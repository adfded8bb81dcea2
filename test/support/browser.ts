import fs from 'node:fs';
import { describeRequiring } from './prerequisites';

/** The Chromium the browser tests drive: CHROMIUM_PATH (CI points it at the runner's Chrome) or Debian's. */
export const CHROMIUM = process.env.CHROMIUM_PATH?.trim() || '/usr/bin/chromium';

export { inCi } from './prerequisites';

/**
 * `describe` for tests that need Chromium. Without it: in CI the suite fails (one test that says
 * what is missing), because a skip there would pass a build that never ran the test; on a
 * developer's machine it is skipped with a warning.
 */
export function describeWithChromium(name: string, body: () => void): void {
  const missing = fs.existsSync(CHROMIUM) ? undefined : `${CHROMIUM} not found (install it with: apt-get install -y chromium, or set CHROMIUM_PATH)`;
  describeRequiring(name, missing, 'has a Chromium to run in', body);
}
