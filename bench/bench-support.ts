import { performance } from 'node:perf_hooks';

export interface Timing {
  label: string;
  ops: number;
  ms: number;
  perSec: number;
  msPerOp: number;
}

/** Runs `op` `n` times with `inFlight` concurrent callers and reports the throughput. */
export async function measure(label: string, n: number, inFlight: number, op: (i: number) => Promise<unknown>): Promise<Timing> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      for (let i = next++; i < n; i = next++) await op(i);
    }),
  );
  const ms = performance.now() - started;
  return { label, ops: n, ms, perSec: (n / ms) * 1000, msPerOp: ms / n };
}

export function table(rows: Timing[], baseline: Timing): string {
  const lines = ['| case | ops | ops/s | ms/op | vs baseline |', '|---|---|---|---|---|'];
  for (const r of rows) lines.push(`| ${r.label} | ${r.ops} | ${r.perSec.toFixed(0)} | ${r.msPerOp.toFixed(3)} | ${(r.perSec / baseline.perSec).toFixed(2)}x |`);
  return lines.join('\n');
}

export function header(title: string): string {
  return `## ${title}\n\nNode ${process.version}, ${new Date().toISOString().slice(0, 10)}, same process and machine for every row (ratios, not absolutes, are the result).\n`;
}
