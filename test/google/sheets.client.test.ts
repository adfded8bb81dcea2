import { createGoogleAuth, createSheetsClient } from '@parley/google';
import { PermanentError, TransientError } from '@parley/queue';
import { failure, startGoogleHarness, type GoogleHarness } from './google.harness';

let h: GoogleHarness;
beforeAll(async () => {
  h = await startGoogleHarness();
  h.sandbox.setSheet('1AbC-roster_id', "'Roster 2025'!A1:F", [
    ['name', 'email', 'platform', 'average_views', 'deliverables', ''],
    ['Ana Lopez', 'ana@influencer.test', 'youtube', '12,500', '1 video', ''],
    ['Ben Ode', 'ben@influencer.test', 'tiktok', 12.5, '2 shorts'],
    [],
    [null, '', '', '', ''],
  ]);
  h.sandbox.setSheet('1AbC-roster_id', 'Notes!B2', [['n/a']]);
});
afterAll(async () => {
  await h.sandbox.close();
});

describe('Sheets client against the sandbox', () => {
  it('reads a range whose tab name needs quoting, percent-encoded on the wire', async () => {
    const rows = await h.sheets.getValues('1AbC-roster_id', "'Roster 2025'!A1:F");
    expect(rows).toEqual([
      ['name', 'email', 'platform', 'average_views', 'deliverables'],
      ['Ana Lopez', 'ana@influencer.test', 'youtube', '12,500', '1 video'],
      ['Ben Ode', 'ben@influencer.test', 'tiktok', '12.5', '2 shorts'],
    ]);
    const request = h.sandbox.requests().find((r) => r.path.includes('/values/'));
    expect(request?.path).toBe('/v4/spreadsheets/1AbC-roster_id/values/%27Roster%202025%27%21A1%3AF');
  });

  it('accepts the sheet URL instead of its id, and sub-ranges', async () => {
    const url = 'https://docs.google.com/spreadsheets/d/1AbC-roster_id/edit#gid=0';
    await expect(h.sheets.getValues(url, "'Roster 2025'!B2:C3")).resolves.toEqual([
      ['ana@influencer.test', 'youtube'],
      ['ben@influencer.test', 'tiktok'],
    ]);
    await expect(h.sheets.getValues(url, 'Notes!A1:C3')).resolves.toEqual([[], ['', 'n/a']]);
  });

  it('answers an empty range with no rows', async () => {
    await expect(h.sheets.getValues('1AbC-roster_id', "'Roster 2025'!A20:F")).resolves.toEqual([]);
  });

  it('maps an unknown spreadsheet (404) and an unknown tab (400) to permanent errors', async () => {
    const missing = await failure(h.sheets.getValues('no-such-sheet', 'Roster!A1:F'));
    expect(missing).toBeInstanceOf(PermanentError);
    expect((missing as PermanentError).reason).toBe('not_found');
    const badTab = await failure(h.sheets.getValues('1AbC-roster_id', 'Nope!A1:F'));
    expect(badTab).toBeInstanceOf(PermanentError);
    expect(badTab.message).toMatch(/Unable to parse range/);
  });

  it('maps a 503 to TransientError without retrying inside googleapis', async () => {
    const before = h.sandbox.requests().length;
    h.sandbox.failNext(1, { status: 503, api: 'sheets' });
    const error = await failure(h.sheets.getValues('1AbC-roster_id', "'Roster 2025'!A1:F"));
    expect(error).toBeInstanceOf(TransientError);
    expect(h.sandbox.requests().length - before).toBe(1);
  });

  it('refreshes its own token when built from env alone', async () => {
    const sheets = createSheetsClient({ auth: createGoogleAuth(h.sandbox.env()), rootUrl: h.sandbox.url });
    await expect(sheets.getValues('1AbC-roster_id', 'Notes!B2')).resolves.toEqual([['n/a']]);
  });
});
