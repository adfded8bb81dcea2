import { currencyMinorDigits, isTriggerStatus, parseCampaignTask, parseSheetId, toMinorUnits, type ClickUpTask } from '@parley/clickup';

const SHEET_ID = '1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms';

function task(fields: Record<string, unknown>, overrides: Partial<ClickUpTask> = {}): ClickUpTask {
  return {
    id: 't1',
    name: 'Summer Push',
    status: 'ready',
    customFields: Object.entries(fields).map(([name, value]) => ({ name, type: typeof value === 'number' ? 'number' : 'short_text', value })),
    ...overrides,
  };
}

const complete = {
  'CPM Floor': '12.50',
  'CPM Ceiling': 20,
  'Max Rounds': '5',
  'Roster Sheet': SHEET_ID,
  'Roster Range': "'Creators 2026'!A1:G",
  Currency: 'gbp',
};

function problemsOf(fields: Record<string, unknown>, overrides: Partial<ClickUpTask> = {}): string[] {
  const result = parseCampaignTask(task(fields, overrides));
  if (result.ok) throw new Error(`expected problems, got ${JSON.stringify(result.campaign)}`);
  return result.problems;
}

describe('parseCampaignTask', () => {
  it('reads every field, numbers or numeric strings, into minor units', () => {
    expect(parseCampaignTask(task(complete))).toEqual({
      ok: true,
      campaign: {
        name: 'Summer Push',
        cpmFloorMinor: 1250,
        cpmCeilingMinor: 2000,
        maxRounds: 5,
        rosterSheetId: SHEET_ID,
        rosterRange: "'Creators 2026'!A1:G",
        currency: 'GBP',
      },
    });
  });

  it('matches field names without regard to case or spacing', () => {
    const result = parseCampaignTask(
      task({ cpmfloor: 10, ' CPM   CEILING ': '15', maxrounds: 2, 'roster sheet': SHEET_ID, ROSTERRANGE: 'Sheet1!A:E', currency: 'usd' }),
    );
    expect(result).toEqual({ ok: true, campaign: expect.objectContaining({ cpmFloorMinor: 1000, cpmCeilingMinor: 1500, maxRounds: 2, rosterRange: 'Sheet1!A:E' }) });
  });

  it('applies the defaults: 3 rounds, Roster!A1:F, USD', () => {
    const result = parseCampaignTask(task({ 'CPM Floor': 8, 'CPM Ceiling': 8, 'Roster Sheet': SHEET_ID, 'Max Rounds': null, Currency: '' }));
    expect(result).toEqual({
      ok: true,
      campaign: { name: 'Summer Push', cpmFloorMinor: 800, cpmCeilingMinor: 800, maxRounds: 3, rosterSheetId: SHEET_ID, rosterRange: 'Roster!A1:F', currency: 'USD' },
    });
  });

  it.each([
    [`https://docs.google.com/spreadsheets/d/${SHEET_ID}/edit#gid=0`],
    [`https://docs.google.com/spreadsheets/d/${SHEET_ID}`],
    [`https://docs.google.com/spreadsheets/u/0/d/${SHEET_ID}/edit?usp=sharing`],
    [`  ${SHEET_ID}  `],
  ])('takes the sheet id from %s', (value) => {
    const result = parseCampaignTask(task({ ...complete, 'Roster Sheet': value }));
    expect(result.ok && result.campaign.rosterSheetId).toBe(SHEET_ID);
  });

  it('uses the currency precision for minor units', () => {
    expect(parseCampaignTask(task({ ...complete, Currency: 'JPY', 'CPM Floor': 1500, 'CPM Ceiling': '2000' }))).toEqual({
      ok: true,
      campaign: expect.objectContaining({ currency: 'JPY', cpmFloorMinor: 1500, cpmCeilingMinor: 2000 }),
    });
    expect(currencyMinorDigits('USD')).toBe(2);
    expect(currencyMinorDigits('KWD')).toBe(3);
    expect(toMinorUnits(19.99, 2)).toBe(1999);
    expect(toMinorUnits('0.1', 2)).toBe(10);
    expect(toMinorUnits('12.345', 2)).toBe(1235);
    expect(toMinorUnits('1e3', 2)).toBeUndefined();
  });

  it.each<[string, Record<string, unknown>, RegExp]>([
    ['CPM Floor missing', { 'CPM Floor': undefined }, /^CPM Floor: missing/],
    ['CPM Floor not a number', { 'CPM Floor': 'twelve' }, /^CPM Floor: expected an amount/],
    ['CPM Floor zero', { 'CPM Floor': 0 }, /^CPM Floor: must be greater than 0/],
    ['CPM Floor negative', { 'CPM Floor': '-3' }, /^CPM Floor: must be greater than 0/],
    ['CPM Ceiling missing', { 'CPM Ceiling': null }, /^CPM Ceiling: missing/],
    ['CPM Ceiling not a number', { 'CPM Ceiling': '$20' }, /^CPM Ceiling: expected an amount/],
    ['CPM Ceiling under the floor', { 'CPM Ceiling': '12.49' }, /^CPM Ceiling: must be at least CPM Floor/],
    ['Max Rounds zero', { 'Max Rounds': 0 }, /^Max Rounds: expected a whole number from 1 to 10/],
    ['Max Rounds eleven', { 'Max Rounds': '11' }, /^Max Rounds: /],
    ['Max Rounds fractional', { 'Max Rounds': 2.5 }, /^Max Rounds: /],
    ['Max Rounds text', { 'Max Rounds': 'three' }, /^Max Rounds: /],
    ['Roster Sheet missing', { 'Roster Sheet': undefined }, /^Roster Sheet: missing/],
    ['Roster Sheet another site', { 'Roster Sheet': `https://example.com/spreadsheets/d/${SHEET_ID}` }, /^Roster Sheet: not a Google Sheet/],
    ['Roster Sheet a Docs URL', { 'Roster Sheet': `https://docs.google.com/document/d/${SHEET_ID}/edit` }, /^Roster Sheet: not a Google Sheet/],
    ['Roster Sheet free text', { 'Roster Sheet': 'the usual sheet' }, /^Roster Sheet: not a Google Sheet/],
    ['Roster Range bad cells', { 'Roster Range': 'Roster!nonsense' }, /^Roster Range: expected A1 notation/],
    ['Roster Range no sheet', { 'Roster Range': '!A1:F' }, /^Roster Range: /],
    ['Currency not a code', { Currency: 'dollars' }, /^Currency: expected a 3-letter ISO 4217 code/],
  ])('reports %s, naming the field', (_label, change, expected) => {
    const fields: Record<string, unknown> = { ...complete, ...change };
    for (const [key, value] of Object.entries(change)) if (value === undefined) delete fields[key];
    const problems = problemsOf(fields);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(expected);
  });

  it('reports an empty task name', () => {
    expect(problemsOf(complete, { name: '   ' })).toEqual([expect.stringMatching(/^name: /)]);
  });

  it('reports every problem at once', () => {
    const problems = problemsOf({ 'Max Rounds': 99, Currency: 'euro' });
    expect(problems.map((problem) => problem.split(':')[0]).sort()).toEqual(['CPM Ceiling', 'CPM Floor', 'Currency', 'Max Rounds', 'Roster Sheet']);
  });

  it('reports a field defined twice with values rather than guessing', () => {
    const base = task(complete);
    const twice: ClickUpTask = { ...base, customFields: [...base.customFields, { name: 'cpm floor', type: 'number', value: '9' }] };
    const result = parseCampaignTask(twice);
    expect(result).toEqual({ ok: false, problems: [expect.stringMatching(/^CPM Floor: set in 2 custom fields/)] });
  });
});

describe('parseSheetId', () => {
  it('refuses what is neither an id nor a sheets URL', () => {
    expect(parseSheetId(42)).toBeUndefined();
    expect(parseSheetId('ftp://docs.google.com/spreadsheets/d/abc/edit')).toBeUndefined();
    expect(parseSheetId('https://docs.google.com/spreadsheets/d/')).toBeUndefined();
  });
});

describe('isTriggerStatus', () => {
  it('compares without regard to case or surrounding space', () => {
    expect(isTriggerStatus('Ready', 'ready')).toBe(true);
    expect(isTriggerStatus('  READY ', ' ready')).toBe(true);
    expect(isTriggerStatus('ready for review', 'ready')).toBe(false);
    expect(isTriggerStatus('in progress', 'ready')).toBe(false);
  });
});
