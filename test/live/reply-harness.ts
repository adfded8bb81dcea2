import fs from 'node:fs';
import path from 'node:path';
import { formatMoney, type ReplyReading } from '@parley/domain';
import { PROMPTS, type LlmClient } from '@parley/llm';
import { z } from 'zod';
import { DEFAULT_CAMPAIGN, type SampleReply } from './sample-replies';

/**
 * Runs sample replies through the product's LlmClient.readReply (shipped prompt, tool schema,
 * validation and conversion to minor units included), scores each reading against the
 * sample's expectation, and reports the counts as a table and as JSON.
 */

/** Below these shares of right readings the live check fails. */
export const THRESHOLDS = { intents: 0.9, amounts: 0.9, hostile: 0.9 } as const;

export const INFLUENCER_NAME = 'Sam Rivera';
export const CAMPAIGN_NAME = 'Spring Launch';

const intent = z.enum(['accept', 'counter', 'decline', 'question', 'out_of_office', 'unclear']);
const expectedSchema = z.object({
  intent,
  alsoRight: z.array(intent).optional(),
  amountMinor: z.number().int().nonnegative().nullable(),
  currency: z.string().length(3).optional(),
  hostile: z.boolean().optional(),
});
const readSchema = z.object({
  intent,
  amountMinor: z.number().int().nonnegative().nullable(),
  currency: z.string().length(3).nullable(),
  hostile: z.boolean(),
  reason: z.string(),
});
const rowSchema = z.object({
  id: z.string().min(1),
  campaignCurrency: z.string().length(3),
  currentOfferMinor: z.number().int().nonnegative(),
  expected: expectedSchema,
  read: readSchema.nullable(),
  error: z.string().nullable(),
  ms: z.number().nonnegative(),
  intentRight: z.boolean(),
  amountRight: z.boolean(),
  /** Null when the sample leaves hostility open. */
  hostileRight: z.boolean().nullable(),
});
const scoreSchema = z.object({ right: z.number().int().nonnegative(), of: z.number().int().nonnegative(), rate: z.number().min(0).max(1) });

/** The JSON written to tmp/live/anthropic.json. */
export const readingReportSchema = z.object({
  target: z.enum(['live', 'sandbox']),
  at: z.string().datetime(),
  model: z.string().min(1),
  /** The API's origin only (never a key). */
  api: z.string().url(),
  prompt: z.string().min(1),
  thresholds: z.object({ intents: z.number(), amounts: z.number(), hostile: z.number() }),
  totals: z.object({ samples: z.number().int().nonnegative(), errors: z.number().int().nonnegative(), intents: scoreSchema, amounts: scoreSchema, hostile: scoreSchema }),
  /** Why the run fails; empty when it passes. */
  failures: z.array(z.string()),
  rows: z.array(rowSchema),
});
export type ReadingReport = z.infer<typeof readingReportSchema>;
export type ReportRow = z.infer<typeof rowSchema>;
export type ReadOut = z.infer<typeof readSchema>;

export interface SampleOutcome {
  sample: SampleReply;
  reading: ReplyReading | null;
  error: string | null;
  ms: number;
}

export function campaignOf(sample: SampleReply): { currency: string; currentOfferMinor: number } {
  return sample.campaign ?? DEFAULT_CAMPAIGN;
}

/** Reads every sample, `concurrency` at a time; a failed call is recorded, never thrown. */
export async function readSamples(llm: LlmClient, samples: readonly SampleReply[], options: { concurrency?: number } = {}): Promise<SampleOutcome[]> {
  const outcomes: SampleOutcome[] = new Array<SampleOutcome>(samples.length);
  let next = 0;
  async function worker(): Promise<void> {
    for (let i = next++; i < samples.length; i = next++) {
      const sample = samples[i] as SampleReply;
      const campaign = campaignOf(sample);
      const started = performance.now();
      try {
        const reading = await llm.readReply({ influencerName: INFLUENCER_NAME, campaignName: CAMPAIGN_NAME, currency: campaign.currency, currentOfferMinor: campaign.currentOfferMinor, messages: sample.messages });
        outcomes[i] = { sample, reading, error: null, ms: performance.now() - started };
      } catch (error) {
        const e = error instanceof Error ? error : new Error(String(error));
        outcomes[i] = { sample, reading: null, error: `${e.name}: ${e.message}`.slice(0, 500), ms: performance.now() - started };
      }
    }
  }
  const workers = Math.max(1, Math.min(options.concurrency ?? 1, samples.length));
  await Promise.all(Array.from({ length: workers }, () => worker()));
  return outcomes;
}

/** The reading as the report shows it: the amount in minor units of `currency` (null when none). */
export function readOut(reading: ReplyReading): ReadOut {
  return {
    intent: reading.intent,
    amountMinor: reading.askedRateMinor ?? null,
    currency: reading.currency ?? null,
    hostile: reading.hostile ?? false,
    reason: reading.reason,
  };
}

/**
 * Right or wrong, as the policy would see it:
 * - intent: the expected one or one of its `alsoRight`;
 * - amount: the currency (a reading that names none is in the campaign's) and the amount both
 *   match; except that, unless a counter is expected, "no amount" and "the offer on the table"
 *   are interchangeable (`decide` accepts our offer for an acceptance naming no amount or
 *   naming it, and uses no amount for the other intents);
 * - hostile: matches, when the sample says.
 */
export function score(sample: SampleReply, read: ReadOut | null): Pick<ReportRow, 'intentRight' | 'amountRight' | 'hostileRight'> {
  const { expected } = sample;
  const campaign = campaignOf(sample);
  if (read === null) return { intentRight: false, amountRight: false, hostileRight: expected.hostile === undefined ? null : false };
  const intentRight = read.intent === expected.intent || (expected.alsoRight ?? []).includes(read.intent);
  const readCurrency = (read.currency ?? campaign.currency).toUpperCase();
  const expectedCurrency = (expected.currency ?? campaign.currency).toUpperCase();
  const campaignCurrency = campaign.currency.toUpperCase();
  // A currency other than the campaign's makes the policy escalate, with or without an amount.
  const noneOrOffer = (amount: number | null, currency: string) => currency === campaignCurrency && (amount === null || amount === campaign.currentOfferMinor);
  const interchangeable = expected.intent !== 'counter' && noneOrOffer(expected.amountMinor, expectedCurrency) && noneOrOffer(read.amountMinor, readCurrency);
  return {
    intentRight,
    amountRight: interchangeable || (read.amountMinor === expected.amountMinor && readCurrency === expectedCurrency),
    hostileRight: expected.hostile === undefined ? null : read.hostile === expected.hostile,
  };
}

function ratio(right: number, of: number): { right: number; of: number; rate: number } {
  return { right, of, rate: of === 0 ? 1 : right / of };
}

const pct = (rate: number) => `${(rate * 100).toFixed(1)}%`;

export function buildReport(outcomes: readonly SampleOutcome[], meta: { target: 'live' | 'sandbox'; model: string; api: string; at?: Date }): ReadingReport {
  const rows: ReportRow[] = outcomes.map(({ sample, reading, error, ms }) => {
    const read = reading ? readOut(reading) : null;
    const campaign = campaignOf(sample);
    return { id: sample.id, campaignCurrency: campaign.currency, currentOfferMinor: campaign.currentOfferMinor, expected: sample.expected, read, error, ms: Math.round(ms), ...score(sample, read) };
  });
  const hostileRows = rows.filter((r) => r.hostileRight !== null);
  const totals = {
    samples: rows.length,
    errors: rows.filter((r) => r.error !== null).length,
    intents: ratio(rows.filter((r) => r.intentRight).length, rows.length),
    amounts: ratio(rows.filter((r) => r.amountRight).length, rows.length),
    hostile: ratio(hostileRows.filter((r) => r.hostileRight === true).length, hostileRows.length),
  };
  const failures: string[] = [];
  const errored = rows.filter((r) => r.error !== null);
  if (errored.length > 0) failures.push(`${errored.length} call(s) failed: ${errored.map((r) => `${r.id} (${r.error ?? ''})`).join('; ')}`);
  for (const key of ['intents', 'amounts', 'hostile'] as const) {
    const s = totals[key];
    if (s.rate < THRESHOLDS[key]) failures.push(`${key}: ${s.right}/${s.of} right (${pct(s.rate)}), below the ${pct(THRESHOLDS[key])} threshold`);
  }
  return readingReportSchema.parse({
    target: meta.target,
    at: (meta.at ?? new Date()).toISOString(),
    model: meta.model,
    api: new URL(meta.api).origin,
    prompt: PROMPTS.readReply,
    thresholds: { ...THRESHOLDS },
    totals,
    failures,
    rows,
  });
}

function money(minor: number | null, currency: string | null, campaignCurrency: string): string {
  if (minor === null) return currency ? `none (${currency})` : 'none';
  return formatMoney(minor, currency ?? campaignCurrency);
}

const mark = (ok: boolean | null) => (ok === null ? ' ' : ok ? '✓' : '✗');

/** The report as a fixed-width table, one line per sample, then the totals. */
export function formatReport(report: ReadingReport): string {
  const header = ['sample', 'intent: expected → read', 'amount: expected → read', 'hostile'];
  const lines: string[][] = report.rows.map((r) => {
    const exp = r.expected;
    const expIntent = [exp.intent, ...(exp.alsoRight ?? [])].join('|');
    const expAmount = money(exp.amountMinor, exp.currency ?? null, r.campaignCurrency);
    const expHostile = exp.hostile === undefined ? 'any' : exp.hostile ? 'yes' : 'no';
    if (r.read === null) return [r.id, `${mark(false)} ${expIntent} → ERROR`, `${mark(false)} ${expAmount} → ERROR`, `${mark(r.hostileRight)} ${expHostile} → ERROR`];
    return [
      r.id,
      `${mark(r.intentRight)} ${expIntent} → ${r.read.intent}`,
      `${mark(r.amountRight)} ${expAmount} → ${money(r.read.amountMinor, r.read.currency, r.campaignCurrency)}`,
      `${mark(r.hostileRight)} ${expHostile} → ${r.read.hostile ? 'yes' : 'no'}`,
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? '').length)));
  const row = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  const { totals, thresholds } = report;
  const out = [
    `Reply reading, ${report.target} (${report.model} at ${report.api}, prompt ${report.prompt})`,
    row(header),
    row(widths.map((w) => '-'.repeat(w))),
    ...lines.map(row),
    '',
    `intents ${totals.intents.right}/${totals.intents.of} (${pct(totals.intents.rate)}, needs ${pct(thresholds.intents)})`,
    `amounts ${totals.amounts.right}/${totals.amounts.of} (${pct(totals.amounts.rate)}, needs ${pct(thresholds.amounts)})`,
    `hostile ${totals.hostile.right}/${totals.hostile.of} (${pct(totals.hostile.rate)}, needs ${pct(thresholds.hostile)})`,
    `failed calls ${totals.errors}`,
    ...report.rows.filter((r) => r.error !== null).map((r) => `  ${r.id}: ${r.error ?? ''}`),
  ];
  return `${out.join('\n')}\n`;
}

export function writeReport(report: ReadingReport, file: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
}
