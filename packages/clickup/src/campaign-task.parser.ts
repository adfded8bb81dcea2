import type { ClickUpTask } from './clickup.client';

export interface CampaignSettings {
  name: string;
  /** CPM floor in minor units of `currency` (cents for USD). */
  cpmFloorMinor: number;
  cpmCeilingMinor: number;
  maxRounds: number;
  rosterSheetId: string;
  rosterRange: string;
  /** ISO 4217 code, upper case. */
  currency: string;
}

export type CampaignParseResult = { ok: true; campaign: CampaignSettings } | { ok: false; problems: string[] };

/** The operator-facing field names (SPEC 5.1); problems name fields exactly like this. */
export const CAMPAIGN_FIELDS = {
  cpmFloor: 'CPM Floor',
  cpmCeiling: 'CPM Ceiling',
  maxRounds: 'Max Rounds',
  rosterSheet: 'Roster Sheet',
  rosterRange: 'Roster Range',
  currency: 'Currency',
} as const;

export const CAMPAIGN_DEFAULTS = { maxRounds: 3, rosterRange: 'Roster!A1:F', currency: 'USD' } as const;
export const MAX_ROUNDS_LIMIT = 10;

/** `CPM Floor`, `cpm floor`, `CPMFloor` and `cpm_floor` are the same field. */
export function normalizeFieldName(name: string): string {
  return name.toLowerCase().replace(/[\s_-]+/g, '');
}

/** Task status vs CLICKUP_TRIGGER_STATUS: without regard to case or surrounding space. */
export function isTriggerStatus(status: string, trigger: string): boolean {
  return status.trim().toLowerCase() === trigger.trim().toLowerCase();
}

export function parseCampaignTask(task: ClickUpTask): CampaignParseResult {
  const problems: string[] = [];
  const fields = new Map<string, unknown[]>();
  for (const field of task.customFields) {
    if (isUnset(field.value)) continue;
    const key = normalizeFieldName(field.name);
    fields.set(key, [...(fields.get(key) ?? []), field.value]);
  }
  const read = (label: string): unknown => {
    const values = fields.get(normalizeFieldName(label)) ?? [];
    if (values.length > 1) problems.push(`${label}: set in ${values.length} custom fields; keep one`);
    return values[0];
  };

  const name = task.name.trim();
  if (name === '') problems.push('name: the task has no name (it becomes the campaign name)');

  const currencyValue = read(CAMPAIGN_FIELDS.currency);
  const currency = currencyValue === undefined ? CAMPAIGN_DEFAULTS.currency : parseCurrency(currencyValue);
  if (currency === undefined) problems.push(`${CAMPAIGN_FIELDS.currency}: expected a 3-letter ISO 4217 code such as USD or EUR`);
  const minorDigits = currencyMinorDigits(currency ?? CAMPAIGN_DEFAULTS.currency);

  const floor = readMoney(CAMPAIGN_FIELDS.cpmFloor, read(CAMPAIGN_FIELDS.cpmFloor), minorDigits, problems);
  const ceiling = readMoney(CAMPAIGN_FIELDS.cpmCeiling, read(CAMPAIGN_FIELDS.cpmCeiling), minorDigits, problems);
  if (floor !== undefined && floor <= 0) problems.push(`${CAMPAIGN_FIELDS.cpmFloor}: must be greater than 0`);
  if (floor !== undefined && ceiling !== undefined && floor > 0 && ceiling < floor) {
    problems.push(`${CAMPAIGN_FIELDS.cpmCeiling}: must be at least ${CAMPAIGN_FIELDS.cpmFloor}`);
  }

  const roundsValue = read(CAMPAIGN_FIELDS.maxRounds);
  const maxRounds = roundsValue === undefined ? CAMPAIGN_DEFAULTS.maxRounds : toNumber(roundsValue);
  if (maxRounds === undefined || !Number.isInteger(maxRounds) || maxRounds < 1 || maxRounds > MAX_ROUNDS_LIMIT) {
    problems.push(`${CAMPAIGN_FIELDS.maxRounds}: expected a whole number from 1 to ${MAX_ROUNDS_LIMIT}`);
  }

  const sheetValue = read(CAMPAIGN_FIELDS.rosterSheet);
  const rosterSheetId = sheetValue === undefined ? undefined : parseSheetId(sheetValue);
  if (sheetValue === undefined) problems.push(`${CAMPAIGN_FIELDS.rosterSheet}: missing (a Google Sheet id or its URL)`);
  else if (rosterSheetId === undefined) {
    problems.push(`${CAMPAIGN_FIELDS.rosterSheet}: not a Google Sheet id or a https://docs.google.com/spreadsheets/d/<id> URL`);
  }

  const rangeValue = read(CAMPAIGN_FIELDS.rosterRange);
  const rosterRange = rangeValue === undefined ? CAMPAIGN_DEFAULTS.rosterRange : parseA1Range(rangeValue);
  if (rosterRange === undefined) problems.push(`${CAMPAIGN_FIELDS.rosterRange}: expected A1 notation such as Roster!A1:F`);

  if (
    problems.length > 0 ||
    floor === undefined ||
    ceiling === undefined ||
    maxRounds === undefined ||
    rosterSheetId === undefined ||
    rosterRange === undefined ||
    currency === undefined
  ) {
    return { ok: false, problems };
  }
  return { ok: true, campaign: { name, cpmFloorMinor: floor, cpmCeilingMinor: ceiling, maxRounds, rosterSheetId, rosterRange, currency } };
}

function isUnset(value: unknown): boolean {
  return value === undefined || value === null || (typeof value === 'string' && value.trim() === '');
}

function readMoney(label: string, value: unknown, minorDigits: number, problems: string[]): number | undefined {
  if (value === undefined) {
    problems.push(`${label}: missing (a Number or Currency field, in major units such as 12.50)`);
    return undefined;
  }
  const minor = toMinorUnits(value, minorDigits);
  if (minor === undefined) problems.push(`${label}: expected an amount in major units such as 12.50`);
  return minor;
}

/**
 * Major units to integer minor units, exactly: a decimal string is split at the point rather than
 * multiplied as a float, so "19.99" is 1999. Digits past the currency's precision are rounded half up.
 */
export function toMinorUnits(value: unknown, minorDigits: number): number | undefined {
  const text = typeof value === 'number' ? (Number.isFinite(value) ? numberToPlain(value) : '') : typeof value === 'string' ? value.trim() : '';
  const match = /^(-)?(\d*)(?:\.(\d*))?$/.exec(text);
  if (!match || (match[2] === '' && (match[3] ?? '') === '')) return undefined;
  const [, sign, whole = '', fraction = ''] = match;
  const kept = fraction.slice(0, minorDigits).padEnd(minorDigits, '0');
  const roundUp = (fraction[minorDigits] ?? '0') >= '5' ? 1 : 0;
  const minor = Number(`${whole || '0'}${kept}`) + roundUp;
  if (!Number.isSafeInteger(minor)) return undefined;
  return sign ? -minor : minor;
}

function numberToPlain(value: number): string {
  // Avoid exponent notation ("1e-7") so the decimal split above applies.
  return Math.abs(value) < 1e21 ? value.toFixed(20).replace(/\.?0+$/, '') : String(value);
}

/** Digits after the point for a currency's minor unit (2 for USD/EUR, 0 for JPY, 3 for KWD). */
export function currencyMinorDigits(currency: string): number {
  try {
    return new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;
  } catch {
    return 2;
  }
}

function parseCurrency(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const code = value.trim().toUpperCase();
  return /^[A-Z]{3}$/.test(code) ? code : undefined;
}

function toNumber(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'string' && /^\s*-?\d+(\.\d+)?\s*$/.test(value)) return Number(value);
  return undefined;
}

const SHEET_ID = /^[A-Za-z0-9_-]+$/;

/** A bare spreadsheet id, or the id inside a docs.google.com/spreadsheets/d/<id>/… URL. */
export function parseSheetId(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  if (SHEET_ID.test(text)) return text;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return undefined;
  }
  if (url.hostname !== 'docs.google.com' || !/^https?:$/.test(url.protocol)) return undefined;
  // Signed-in users often copy /spreadsheets/u/0/d/<id>/edit.
  const match = /^\/spreadsheets\/(?:u\/\d+\/)?d\/([A-Za-z0-9_-]+)(?:\/|$)/.exec(url.pathname);
  return match?.[1];
}

const CELL_RANGE = /^\$?[A-Za-z]{1,3}\$?\d*(?::\$?[A-Za-z]{1,3}\$?\d*)?$|^\d+:\d+$/;

/** `Sheet!A1:F`, `'My sheet'!A:F`, `A1:F20` or a bare sheet name, as the Sheets API accepts. */
function parseA1Range(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  const bang = text.lastIndexOf('!');
  if (bang === -1) return text;
  const sheet = text.slice(0, bang);
  const cells = text.slice(bang + 1);
  if (sheet === '' || sheet === "''" || !CELL_RANGE.test(cells)) return undefined;
  if (sheet.startsWith("'") !== sheet.endsWith("'")) return undefined;
  return text;
}
