/**
 * Global setup for a jest run of the live files alone (live-env.test.ts starts one): they use
 * no database, so the suite's template migration (test/support/global-setup.ts) is not needed
 * and the run does not touch the template the other test files copy.
 */
export default function noDatabase(): void {}
