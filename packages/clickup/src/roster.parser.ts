/** One influencer from the roster sheet. `row` is the 1-based sheet row (the header is row 1). */
export interface RosterRow {
  row: number;
  name: string;
  email: string;
  platform: string;
  averageViews: number;
  deliverables: string;
}

/** Problem texts name the row and the column, never a cell's content (it may be an address). */
export interface RosterProblem {
  row: number;
  problem: string;
}

export interface RosterParseResult {
  rows: RosterRow[];
  problems: RosterProblem[];
}

export const ROSTER_HEADERS = ['name', 'email', 'platform', 'average_views', 'deliverables'] as const;
type RosterHeader = (typeof ROSTER_HEADERS)[number];

/** `Average Views`, `average-views` and `AVERAGE_VIEWS` all name the `average_views` column. */
function normalizeHeader(header: string): string {
  return header.trim().toLowerCase().replace(/[\s-]+/g, '_');
}

const EMAIL = /^[^\s@<>(),;:"]+@[^\s@<>(),;:"]+\.[^\s@<>(),;:".]{2,}$/;

/**
 * Reads a Sheets `values.get` result (rows of formatted strings). Bad rows are skipped and
 * reported while the good ones proceed; a roster without the required headers yields no rows.
 */
export function parseRoster(values: string[][]): RosterParseResult {
  const header = values[0];
  if (!header || header.every((cell) => String(cell ?? '').trim() === '')) {
    return { rows: [], problems: [{ row: 1, problem: `no header row (expected columns: ${ROSTER_HEADERS.join(', ')})` }] };
  }

  const columns = new Map<RosterHeader, number>();
  header.forEach((cell, index) => {
    const key = normalizeHeader(String(cell ?? '')) as RosterHeader;
    // The first of two same-named columns wins, so adding a copy to the right changes nothing.
    if ((ROSTER_HEADERS as readonly string[]).includes(key) && !columns.has(key)) columns.set(key, index);
  });
  const missing = ROSTER_HEADERS.filter((name) => !columns.has(name));
  if (missing.length > 0) {
    return { rows: [], problems: [{ row: 1, problem: `missing required column${missing.length > 1 ? 's' : ''}: ${missing.join(', ')}` }] };
  }

  const rows: RosterRow[] = [];
  const problems: RosterProblem[] = [];
  const firstRowByEmail = new Map<string, number>();

  values.slice(1).forEach((cells, index) => {
    const row = index + 2;
    const cell = (name: RosterHeader): string => String(cells[columns.get(name) as number] ?? '').trim();
    // Sheets returns blank rows in the middle of a range as []; they are spacing, not influencers.
    if (cells.every((value) => String(value ?? '').trim() === '')) return;

    const faults: string[] = [];
    const name = cell('name');
    const email = cell('email');
    const platform = cell('platform');
    const viewsText = cell('average_views');
    const deliverables = cell('deliverables');
    if (name === '') faults.push('name is empty');
    if (email === '') faults.push('email is empty');
    else if (!EMAIL.test(email)) faults.push('email is not a valid address');
    if (platform === '') faults.push('platform is empty');
    const averageViews = parseViewCount(viewsText);
    if (viewsText === '') faults.push('average_views is empty');
    else if (averageViews === undefined) faults.push('average_views is not a view count such as 12500, 12,500, 12.5k or 1.2m');
    if (deliverables === '') faults.push('deliverables is empty');

    if (faults.length > 0 || averageViews === undefined) {
      problems.push({ row, problem: `skipped: ${faults.join('; ')}` });
      return;
    }
    const key = email.toLowerCase();
    const first = firstRowByEmail.get(key);
    if (first !== undefined) {
      problems.push({ row, problem: `skipped: email duplicates row ${first}` });
      return;
    }
    firstRowByEmail.set(key, row);
    rows.push({ row, name, email, platform, averageViews, deliverables });
  });

  return { rows, problems };
}

const MULTIPLIERS: Record<string, number> = { '': 1, k: 1_000, m: 1_000_000 };

/**
 * `12500`, `12,500`, `12.5k`, `1.2m` (any case, optional space before the suffix). A result must
 * be a whole number of views greater than zero after rounding.
 */
export function parseViewCount(text: string): number | undefined {
  const match = /^(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?\s*([km]?)$/i.exec(text.trim());
  if (!match) return undefined;
  const [, whole = '', fraction = '', suffix = ''] = match;
  const value = Number(`${whole.replace(/,/g, '')}.${fraction || '0'}`) * (MULTIPLIERS[suffix.toLowerCase()] ?? 1);
  const views = Math.round(value);
  return Number.isSafeInteger(views) && views > 0 ? views : undefined;
}
