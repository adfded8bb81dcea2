/** Where a command writes: results on stdout, notes and errors on stderr. */
export interface Output {
  /** A line of the command's result (stdout). */
  line(text?: string): void;
  /** The command's result as JSON (stdout), for scripts. */
  json(value: unknown): void;
  /** A note or warning for the operator (stderr), never part of the result. */
  note(text: string): void;
}

export function streamOutput(out: NodeJS.WritableStream, err: NodeJS.WritableStream): Output {
  return {
    line: (text = '') => out.write(`${text}\n`),
    json: (value) => out.write(`${JSON.stringify(value, null, 2)}\n`),
    note: (text) => err.write(`${text}\n`),
  };
}

/** Pads each column to its widest cell; the last column is left as is. */
export function table(rows: string[][]): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  ').trimEnd());
}

/** `2026-11-29 20:58:00` in UTC, the form every listing uses. */
export function utc(date: Date | null | undefined): string {
  return date ? date.toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, '') : '-';
}

export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
