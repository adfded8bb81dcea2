import type { OAuth2Client } from 'google-auth-library';
import { sheets as sheetsApi } from 'googleapis/build/src/apis/sheets';
import { z } from 'zod';
import { boundedFetch, PermanentError, responseTooLarge } from '@parley/contracts';
import { mapGoogleError } from './errors';

/**
 * The most a range's answer may hold. A roster of 5,000 rows (the ingest's own limit) with
 * generous cells is well under 2 MiB; a sheet pointed at by a wrong range (a whole tab of
 * exports, 10 million cells) would otherwise be read whole into the worker's heap.
 */
export const SHEETS_MAX_RESPONSE_BYTES = 8 * 1024 * 1024;

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

export function createSheetsClient(opts: { auth: OAuth2Client; rootUrl?: string; timeoutMs?: number; maxResponseBytes?: number }): SheetsClient {
  const limit = opts.maxResponseBytes ?? SHEETS_MAX_RESPONSE_BYTES;
  const api = sheetsApi({
    version: 'v4',
    auth: opts.auth,
    ...(opts.rootUrl ? { rootUrl: opts.rootUrl } : {}),
    retry: false,
    timeout: opts.timeoutMs ?? 30_000,
    fetchImplementation: boundedFetch(limit),
  });
  return {
    async getValues(spreadsheetId, range) {
      try {
        const res = await api.spreadsheets.values.get({ spreadsheetId: parseSpreadsheetId(spreadsheetId), range, majorDimension: 'ROWS', valueRenderOption: 'FORMATTED_VALUE' });
        const rows = valueRange.parse(res.data).values ?? [];
        return rows.map((row) => row.map((cell) => (cell === null || cell === undefined ? '' : String(cell))));
      } catch (error) {
        // Asking again gets the same answer: permanent, and the message says what to change.
        if (responseTooLarge(error)) throw new PermanentError(`sheets: the range ${range} answered more than ${limit} bytes; narrow the campaign's Roster Range`, 'response_too_large');
        throw mapGoogleError(error, 'sheets');
      }
    },
  };
}
