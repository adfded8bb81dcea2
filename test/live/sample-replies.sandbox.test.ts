import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { currencyExponent, formatMoney, toMinor } from '@parley/domain';
import { createLlmClient, type LlmClient } from '@parley/llm';
import { createMetrics } from '@parley/metrics';
import { extractReplyBlocks, readReplies, SANDBOX_API_KEY, startAnthropicSandbox, type AnthropicFault, type AnthropicSandbox } from '@parley/sandbox';
import { capturingLogger } from '../support/logs';
import { buildReport, campaignOf, formatReport, readingReportSchema, readSamples, score, THRESHOLDS, writeReport, type ReadOut } from './reply-harness';
import { SAMPLE_REPLIES, type SampleReply } from './sample-replies';

/**
 * The live check's harness, offline: the sample replies go through the product's LlmClient to
 * the sandbox's Anthropic stand-in. What is checked is the harness (it sends each sample as the
 * product would, reads back exactly what the model answered, scores and reports it, and fails
 * on wrong readings and failed calls), not how well the sandbox reads replies.
 */

// The 1.x SDK reads these from the environment; the sandbox must see only what the test passes.
for (const name of ['ANTHROPIC_BASE_URL', 'ANTHROPIC_API_KEY', 'ANTHROPIC_AUTH_TOKEN', 'ANTHROPIC_CUSTOM_HEADERS', 'ANTHROPIC_PROFILE', 'ANTHROPIC_LOG']) delete process.env[name];

let sandbox: AnthropicSandbox;
let llm: LlmClient;

beforeAll(async () => {
  sandbox = await startAnthropicSandbox({ apiKey: SANDBOX_API_KEY });
  const { log } = capturingLogger('sample-replies', 'error');
  llm = createLlmClient({ apiKey: SANDBOX_API_KEY, baseURL: sandbox.url, model: 'claude-sandbox', timeoutMs: 10_000, metrics: createMetrics(), log });
});
afterAll(async () => {
  await sandbox.close();
});
beforeEach(() => {
  sandbox.reset();
});

/** The tool input a model would send for the sample's expected reading. */
function expectedToolInput(sample: SampleReply): Record<string, unknown> {
  const { expected } = sample;
  const currency = expected.currency ?? campaignOf(sample).currency;
  return {
    intent: expected.intent,
    asked_rate: expected.amountMinor === null ? null : expected.amountMinor / 10 ** currencyExponent(currency),
    currency: expected.currency ?? null,
    hostile: expected.hostile ?? false,
    reason: 'the reading the sample expects',
  };
}

/** The prompt text of a recorded call's first user turn. */
function userText(body: unknown): string {
  const first = (body as { messages?: { role: string; content: unknown }[] }).messages?.[0];
  if (typeof first?.content === 'string') return first.content;
  return Array.isArray(first?.content) ? first.content.map((b: { text?: unknown }) => (typeof b.text === 'string' ? b.text : '')).join('\n') : '';
}

describe('the sample replies', () => {
  it('are 25 to 40, with unique ids, and cover every intent, several currencies and languages', () => {
    expect(SAMPLE_REPLIES.length).toBeGreaterThanOrEqual(25);
    expect(SAMPLE_REPLIES.length).toBeLessThanOrEqual(40);
    expect(new Set(SAMPLE_REPLIES.map((s) => s.id)).size).toBe(SAMPLE_REPLIES.length);
    expect(new Set(SAMPLE_REPLIES.map((s) => s.expected.intent))).toEqual(new Set(['accept', 'counter', 'decline', 'question', 'out_of_office', 'unclear']));
    expect(new Set(SAMPLE_REPLIES.map((s) => s.expected.currency ?? campaignOf(s).currency))).toEqual(new Set(['USD', 'EUR', 'GBP', 'JPY']));
    for (const s of SAMPLE_REPLIES) {
      expect(s.messages.length).toBeGreaterThan(0);
      if (s.expected.amountMinor !== null) expect(Number.isInteger(s.expected.amountMinor)).toBe(true);
    }
  });
});

describe('reply-reading harness against the sandbox', () => {
  it('sends every sample as the product does and reports exactly what the model answered, with no failed call', async () => {
    const outcomes = await readSamples(llm, SAMPLE_REPLIES, { concurrency: 4 });
    const report = buildReport(outcomes, { target: 'sandbox', model: 'claude-sandbox', api: sandbox.url });
    expect(report.totals.errors).toBe(0);
    expect(report.rows.map((r) => r.id)).toEqual(SAMPLE_REPLIES.map((s) => s.id));

    // One call per sample, each carrying that sample's messages and campaign.
    const calls = sandbox.calls();
    expect(calls).toHaveLength(SAMPLE_REPLIES.length);
    const sentSamples = calls.map((call) => {
      expect(call).toMatchObject({ status: 200, tool: 'read_reply' });
      const text = userText(call.body);
      const sample = SAMPLE_REPLIES.find((s) => JSON.stringify(extractReplyBlocks(text)) === JSON.stringify(s.messages.map((m) => m.trim())));
      if (!sample) throw new Error(`a call carried no sample's messages: ${text.slice(0, 200)}`);
      const campaign = campaignOf(sample);
      expect(text).toContain(`Campaign currency: ${campaign.currency}`);
      expect(text).toContain(`Our offer currently on the table: ${formatMoney(campaign.currentOfferMinor, campaign.currency)}`);
      return sample.id;
    });
    expect(sentSamples.sort()).toEqual(SAMPLE_REPLIES.map((s) => s.id).sort());

    // The report holds what the sandbox answered, converted as the product converts it.
    for (const [i, sample] of SAMPLE_REPLIES.entries()) {
      const answer = readReplies(sample.messages);
      const currency = answer.currency ? answer.currency.toUpperCase() : null;
      const row = report.rows[i];
      expect(row?.read).toEqual({
        intent: answer.intent,
        amountMinor: answer.asked_rate === null ? null : toMinor(answer.asked_rate, currency ?? campaignOf(sample).currency),
        currency,
        hostile: answer.hostile,
        reason: answer.reason,
      });
      expect(row && { intentRight: row.intentRight, amountRight: row.amountRight, hostileRight: row.hostileRight }).toEqual(score(sample, row?.read ?? null));
    }

    // Written and read back as the live run writes tmp/live/anthropic.json.
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'parley-live-')), 'anthropic.json');
    writeReport(report, file);
    expect(readingReportSchema.parse(JSON.parse(fs.readFileSync(file, 'utf8')))).toEqual(report);
    const table = formatReport(report);
    for (const s of SAMPLE_REPLIES) expect(table).toMatch(new RegExp(`^${s.id} `, 'm'));
    expect(table).toContain(`intents ${report.totals.intents.right}/${SAMPLE_REPLIES.length} `);
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
  });

  it('counts every right reading as right: a model answering the expected readings passes at 100%', async () => {
    sandbox.faults(SAMPLE_REPLIES.map((s) => ({ toolInput: expectedToolInput(s) })));
    const report = buildReport(await readSamples(llm, SAMPLE_REPLIES, { concurrency: 1 }), { target: 'sandbox', model: 'claude-sandbox', api: sandbox.url });
    const scored = SAMPLE_REPLIES.filter((s) => s.expected.hostile !== undefined).length;
    expect(report.totals).toEqual({
      samples: SAMPLE_REPLIES.length,
      errors: 0,
      intents: { right: SAMPLE_REPLIES.length, of: SAMPLE_REPLIES.length, rate: 1 },
      amounts: { right: SAMPLE_REPLIES.length, of: SAMPLE_REPLIES.length, rate: 1 },
      hostile: { right: scored, of: scored, rate: 1 },
    });
    expect(report.failures).toEqual([]);
  });

  it('fails the run when too many intents, amounts or hostility flags are read wrong, and says which', async () => {
    const n = SAMPLE_REPLIES.length;
    // Just enough wrong readings of each kind to fall below its threshold.
    const wrongIntents = Math.floor(n * (1 - THRESHOLDS.intents)) + 1;
    const wrongAmounts = Math.floor(n * (1 - THRESHOLDS.amounts)) + 1;
    const hostileScored = SAMPLE_REPLIES.map((s, i) => (s.expected.hostile === undefined ? -1 : i)).filter((i) => i >= 0);
    const wrongHostile = Math.floor(hostileScored.length * (1 - THRESHOLDS.hostile)) + 1;
    const faults: AnthropicFault[] = SAMPLE_REPLIES.map((s, i) => {
      const input = expectedToolInput(s);
      if (i < wrongIntents) input.intent = s.expected.intent === 'unclear' || (s.expected.alsoRight ?? []).includes('unclear') ? 'decline' : 'unclear';
      // A wrong amount, or the right amount in the wrong currency: both wrong.
      if (i >= n - wrongAmounts) {
        if (i % 2 === 0) input.asked_rate = 123_456;
        else input.currency = (s.expected.currency ?? campaignOf(s).currency) === 'CHF' ? 'SEK' : 'CHF';
      }
      if (hostileScored.slice(wrongIntents, wrongIntents + wrongHostile).includes(i)) input.hostile = !s.expected.hostile;
      return { toolInput: input };
    });
    sandbox.faults(faults);
    const report = buildReport(await readSamples(llm, SAMPLE_REPLIES, { concurrency: 1 }), { target: 'sandbox', model: 'claude-sandbox', api: sandbox.url });
    expect(report.totals.intents.right).toBe(n - wrongIntents);
    expect(report.totals.amounts.right).toBe(n - wrongAmounts);
    expect(report.totals.hostile).toMatchObject({ right: hostileScored.length - wrongHostile, of: hostileScored.length });
    expect(report.rows.filter((r) => !r.intentRight).map((r) => r.id)).toEqual(SAMPLE_REPLIES.slice(0, wrongIntents).map((s) => s.id));
    expect(report.rows.filter((r) => !r.amountRight).map((r) => r.id)).toEqual(SAMPLE_REPLIES.slice(n - wrongAmounts).map((s) => s.id));
    expect(report.failures).toEqual([
      expect.stringMatching(new RegExp(`^intents: ${n - wrongIntents}/${n} right \\(.*\\), below the 90\\.0% threshold$`)),
      expect.stringMatching(new RegExp(`^amounts: ${n - wrongAmounts}/${n} right `)),
      expect.stringMatching(new RegExp(`^hostile: ${hostileScored.length - wrongHostile}/${hostileScored.length} right `)),
    ]);
    expect(formatReport(report)).toContain('✗');
  });

  it('as many wrong readings as the thresholds allow still pass', async () => {
    const n = SAMPLE_REPLIES.length;
    const allowed = Math.floor(n * (1 - THRESHOLDS.intents));
    sandbox.faults(SAMPLE_REPLIES.map((s, i) => ({ toolInput: { ...expectedToolInput(s), ...(i < allowed ? { intent: s.expected.intent === 'unclear' ? 'decline' : 'unclear' } : {}) } })));
    const report = buildReport(await readSamples(llm, SAMPLE_REPLIES, { concurrency: 1 }), { target: 'sandbox', model: 'claude-sandbox', api: sandbox.url });
    expect(report.totals.intents.right).toBe(n - allowed);
    expect(report.failures).toEqual([]);
  });

  it('fails the run on any failed call (an API error, or invalid tool output twice) and names the sample', async () => {
    const [first, second] = SAMPLE_REPLIES;
    sandbox.faults([{ status: 400 }, { invalidToolOutput: true }, { invalidToolOutput: true }, ...SAMPLE_REPLIES.slice(2).map((s) => ({ toolInput: expectedToolInput(s) }))]);
    const report = buildReport(await readSamples(llm, SAMPLE_REPLIES, { concurrency: 1 }), { target: 'sandbox', model: 'claude-sandbox', api: sandbox.url });
    expect(report.totals.errors).toBe(2);
    expect(report.rows.slice(0, 2).map((r) => ({ id: r.id, read: r.read, intentRight: r.intentRight, amountRight: r.amountRight }))).toEqual([
      { id: first?.id, read: null, intentRight: false, amountRight: false },
      { id: second?.id, read: null, intentRight: false, amountRight: false },
    ]);
    expect(report.rows[0]?.error).toMatch(/^PermanentError: /);
    expect(report.rows[1]?.error).toMatch(/^PermanentError: Anthropic returned invalid read_reply output twice/);
    expect(report.failures[0]).toMatch(new RegExp(`^2 call\\(s\\) failed: ${first?.id} \\(PermanentError: .*\\); ${second?.id} \\(PermanentError: `));
    expect(formatReport(report)).toContain(`${first?.id}: PermanentError`);
  });
});

describe('score', () => {
  const sample = (expected: SampleReply['expected'], campaign?: SampleReply['campaign']): SampleReply => ({ id: 's', note: '', messages: ['x'], expected, ...(campaign ? { campaign } : {}) });
  const read = (over: Partial<ReadOut>): ReadOut => ({ intent: 'counter', amountMinor: null, currency: null, hostile: false, reason: 'r', ...over });

  it('an amount is right only in the right currency; a reading naming no currency is in the campaign currency', () => {
    const s = sample({ intent: 'counter', amountMinor: 45_000, currency: 'EUR' });
    expect(score(s, read({ amountMinor: 45_000, currency: 'EUR' })).amountRight).toBe(true);
    expect(score(s, read({ amountMinor: 45_000, currency: 'eur' })).amountRight).toBe(true);
    expect(score(s, read({ amountMinor: 45_000, currency: null })).amountRight).toBe(false);
    expect(score(s, read({ amountMinor: 45_000, currency: 'USD' })).amountRight).toBe(false);
    expect(score(s, read({ amountMinor: 45_001, currency: 'EUR' })).amountRight).toBe(false);
    const bare = sample({ intent: 'counter', amountMinor: 65_000 });
    expect(score(bare, read({ amountMinor: 65_000, currency: null })).amountRight).toBe(true);
    expect(score(bare, read({ amountMinor: 65_000, currency: 'USD' })).amountRight).toBe(true);
    expect(score(bare, read({ amountMinor: 65_000, currency: 'GBP' })).amountRight).toBe(false);
  });

  it('unless a counter is expected, no amount and the offer on the table (in the campaign currency) are interchangeable', () => {
    const campaign = { currency: 'GBP', currentOfferMinor: 100_000 };
    const none = sample({ intent: 'accept', amountMinor: null }, campaign);
    expect(score(none, read({ intent: 'accept' })).amountRight).toBe(true);
    expect(score(none, read({ intent: 'accept', amountMinor: 100_000, currency: 'GBP' })).amountRight).toBe(true);
    expect(score(none, read({ intent: 'accept', amountMinor: 100_000 })).amountRight).toBe(true);
    expect(score(none, read({ intent: 'accept', amountMinor: 100_000, currency: 'USD' })).amountRight).toBe(false);
    expect(score(none, read({ intent: 'accept', amountMinor: 90_000 })).amountRight).toBe(false);
    // A currency the campaign is not in makes the policy escalate, amount or not.
    expect(score(none, read({ intent: 'accept', currency: 'EUR' })).amountRight).toBe(false);
    const restated = sample({ intent: 'accept', amountMinor: 100_000, currency: 'GBP' }, campaign);
    expect(score(restated, read({ intent: 'accept' })).amountRight).toBe(true);
    expect(score(restated, read({ intent: 'accept', currency: 'GBP' })).amountRight).toBe(true);
    const question = sample({ intent: 'question', amountMinor: null }, campaign);
    expect(score(question, read({ intent: 'question', amountMinor: 100_000 })).amountRight).toBe(true);
    // A counter at the offer is accepted; a counter naming no amount is asked about: not alike.
    const counter = sample({ intent: 'counter', amountMinor: 100_000 }, campaign);
    expect(score(counter, read({ intent: 'counter' })).amountRight).toBe(false);
    expect(score(counter, read({ intent: 'counter', amountMinor: 100_000 })).amountRight).toBe(true);
  });

  it('intents: the expected one or an alsoRight one; hostility only where the sample says', () => {
    const s = sample({ intent: 'accept', alsoRight: ['counter'], amountMinor: 45_000 });
    expect(score(s, read({ intent: 'accept', amountMinor: 45_000 }))).toEqual({ intentRight: true, amountRight: true, hostileRight: null });
    expect(score(s, read({ intent: 'counter', amountMinor: 45_000 })).intentRight).toBe(true);
    expect(score(s, read({ intent: 'question', amountMinor: 45_000 })).intentRight).toBe(false);
    const rude = sample({ intent: 'decline', amountMinor: null, hostile: true });
    expect(score(rude, read({ intent: 'decline', hostile: true })).hostileRight).toBe(true);
    expect(score(rude, read({ intent: 'decline', hostile: false })).hostileRight).toBe(false);
    expect(score(rude, null)).toEqual({ intentRight: false, amountRight: false, hostileRight: false });
  });
});
