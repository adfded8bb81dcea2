import { badRequest, googleError, type Reply } from './google-errors';

/** A parsed A1 range: the tab (or the first tab) and zero-based inclusive bounds, open-ended where omitted. */
interface A1Range {
  tab: string | null;
  startRow: number;
  startCol: number;
  endRow: number | null;
  endCol: number | null;
}

function columnIndex(letters: string): number {
  let n = 0;
  for (const ch of letters.toUpperCase()) n = n * 26 + (ch.charCodeAt(0) - 64);
  return n - 1;
}

function columnLetters(index: number): string {
  let n = index + 1;
  let out = '';
  while (n > 0) {
    const rem = (n - 1) % 26;
    out = String.fromCharCode(65 + rem) + out;
    n = Math.floor((n - 1) / 26);
  }
  return out;
}

function parseCell(cell: string): { row: number | null; col: number | null } | null {
  const m = /^([A-Za-z]*)(\d*)$/.exec(cell.trim());
  if (!m || (m[1] === '' && m[2] === '')) return null;
  return { col: m[1] ? columnIndex(m[1]) : null, row: m[2] ? Number(m[2]) - 1 : null };
}

export function parseA1(range: string): A1Range | null {
  const bang = range.lastIndexOf('!');
  const rawTab = bang >= 0 ? range.slice(0, bang) : null;
  const cells = bang >= 0 ? range.slice(bang + 1) : range;
  const tab = rawTab === null ? null : rawTab.replace(/^'(.*)'$/, '$1').replace(/''/g, "'");
  if (cells === '' || (bang < 0 && !/^[A-Za-z]{0,3}\d*(:[A-Za-z]{0,3}\d*)?$/.test(cells))) {
    // A bare name is a whole tab.
    return { tab: tab ?? range.replace(/^'(.*)'$/, '$1'), startRow: 0, startCol: 0, endRow: null, endCol: null };
  }
  const [from, to] = cells.split(':');
  const start = parseCell(from ?? '');
  const end = to === undefined ? start : parseCell(to);
  if (!start || !end) return null;
  return { tab, startRow: start.row ?? 0, startCol: start.col ?? 0, endRow: end.row, endCol: end.col };
}

const quoteTab = (tab: string) => (/^[A-Za-z0-9_]+$/.test(tab) ? tab : `'${tab.replace(/'/g, "''")}'`);

/** Spreadsheets as grids of formatted strings, one per tab (the first tab created is the default). */
export class SheetsStore {
  private readonly books = new Map<string, Map<string, string[][]>>();

  setSheet(spreadsheetId: string, range: string, values: (string | number | boolean | null)[][]): void {
    const a1 = parseA1(range);
    if (!a1) throw new Error(`not an A1 range: ${range}`);
    const book = this.books.get(spreadsheetId) ?? new Map<string, string[][]>();
    this.books.set(spreadsheetId, book);
    const tabName = a1.tab ?? book.keys().next().value ?? 'Sheet1';
    const grid = book.get(tabName) ?? [];
    book.set(tabName, grid);
    values.forEach((row, r) => {
      const target = (grid[a1.startRow + r] ??= []);
      row.forEach((cell, c) => {
        target[a1.startCol + c] = cell === null ? '' : String(cell);
      });
    });
    for (let r = 0; r < grid.length; r++) grid[r] ??= [];
  }

  getValues(spreadsheetId: string, range: string): Reply {
    const book = this.books.get(spreadsheetId);
    if (!book) return googleError(404, 'Requested entity was not found.', 'notFound');
    const a1 = parseA1(range);
    const tabName = a1?.tab ?? book.keys().next().value;
    const grid = tabName === undefined ? undefined : book.get(tabName);
    if (!a1 || !grid || tabName === undefined) return badRequest(`Unable to parse range: ${range}`);
    const lastRow = a1.endRow ?? Math.max(grid.length - 1, a1.startRow);
    const width = Math.max(0, ...grid.map((r) => r.length));
    const lastCol = a1.endCol ?? Math.max(width - 1, a1.startCol);
    const rows: string[][] = [];
    for (let r = a1.startRow; r <= lastRow; r++) {
      const row: string[] = [];
      for (let c = a1.startCol; c <= lastCol; c++) row.push(grid[r]?.[c] ?? '');
      // Google omits trailing empty cells and rows.
      while (row.length > 0 && row[row.length - 1] === '') row.pop();
      rows.push(row);
    }
    while (rows.length > 0 && rows[rows.length - 1]?.length === 0) rows.pop();
    const normalized = `${quoteTab(tabName)}!${columnLetters(a1.startCol)}${a1.startRow + 1}:${columnLetters(lastCol)}${lastRow + 1}`;
    const body: Record<string, unknown> = { range: normalized, majorDimension: 'ROWS' };
    if (rows.length > 0) body.values = rows;
    return { status: 200, body };
  }
}
