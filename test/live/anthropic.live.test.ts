import path from 'node:path';
import { createLlmClient } from '@parley/llm';
import { createMetrics } from '@parley/metrics';
import { capturingLogger } from '../support/logs';
import { anthropicLiveTarget, describeLive } from './live-env';
import { buildReport, formatReport, readSamples, writeReport } from './reply-harness';
import { SAMPLE_REPLIES } from './sample-replies';

/**
 * Live check: the shipped read-reply prompt on the real Anthropic API over the sample replies.
 * Prints a table, writes tmp/live/anthropic.json, and fails on any failed call or when fewer
 * intents, amounts or hostility flags are read right than THRESHOLDS asks.
 * Runs only with ANTHROPIC_API_KEY set (see live-env.ts); `npx jest test/live`.
 */

const REPORT_FILE = path.resolve(__dirname, '../../tmp/live/anthropic.json');
/** Calls in flight at once: a low-tier key's rate limit would otherwise fail the run. */
const CONCURRENCY = 3;

describeLive('live: Anthropic reads the sample replies', anthropicLiveTarget(), (config) => {
  it(
    `reads ${SAMPLE_REPLIES.length} sample replies with no failed call and above the thresholds`,
    async () => {
      const { log } = capturingLogger('live-anthropic', 'warn');
      const llm = createLlmClient({ apiKey: config.apiKey, baseURL: config.baseURL, model: config.model, timeoutMs: config.timeoutMs, metrics: createMetrics(), log });
      const outcomes = await readSamples(llm, SAMPLE_REPLIES, { concurrency: CONCURRENCY });
      const report = buildReport(outcomes, { target: 'live', model: config.model, api: config.baseURL });
      writeReport(report, REPORT_FILE);
      process.stdout.write(`${formatReport(report)}report: ${path.relative(process.cwd(), REPORT_FILE)}\n`);
      expect(report.failures).toEqual([]);
    },
    10 * 60_000,
  );
});
