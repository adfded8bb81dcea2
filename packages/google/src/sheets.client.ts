import type { OAuth2Client } from 'google-auth-library';
import { sheets as sheetsApi } from 'googleapis/build/src/apis/sheets';
import { z } from 'zod';
import { mapGoogleError } from './errors';

export interface SheetsClient {
  /** The range's rows as formatted strings (trailing empty cells omitted, as Google does). */
  getValues(spreadsheetId: string, range: string): Promise<string[][]>;
}

const valueRange = z.object({ values: z.array(z.array(z.unknown())).nullish() });

/** A spreadsheet id, also from a sheet URL (`https://docs.google.com/spreadsheets/d/<id>/edit`). */
export function parseSpreadsheetId(value: string): string {
  const fromUrl = /\/spreadsheets\/d\/([A-Za-z0-9_-]+)/.exec(value);
  return fromUrl?.[1] ?? value.trim();
}

export function createSheetsClient(opts: { auth: OAuth2Client; rootUrl?: string; timeoutMs?: number }): SheetsClient {
  const api = sheetsApi({
    version: 'v4',
    auth: opts.auth,
    ...(opts.rootUrl ? { rootUrl: opts.rootUrl } : {}),
    retry: false,
    timeout: opts.timeoutMs ?? 30_000,
    fetchImplementation: fetch,
  });
  return {
    async getValues(spreadsheetId, range) {
      try {
        const res = await api.spreadsheets.values.get({ spreadsheetId: parseSpreadsheetId(spreadsheetId), range, majorDimension: 'ROWS', valueRenderOption: 'FORMATTED_VALUE' });
        const rows = valueRange.parse(res.data).values ?? [];
        return rows.map((row) => row.map((cell) => (cell === null || cell === undefined ? '' : String(cell))));
      } catch (error) {
        throw mapGoogleError(error, 'sheets');
      }
    },
  };
}
