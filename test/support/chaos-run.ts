import { randomInt } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from './processes';

/**
 * Reliability (chaos) tests run at two scales: `short` inside `npm test` (minutes for all of
 * them on two cores) and `full` from `npm run chaos` (CHAOS_SCALE=full), whose figures are
 * recorded in docs/reliability.md.
 */
export type ChaosScale = 'short' | 'full';

export function chaosScale(): ChaosScale {
  return process.env.CHAOS_SCALE === 'full' ? 'full' : 'short';
}

/** The value for the current scale. */
export function scaled<T>(values: Record<ChaosScale, T>): T {
  return values[chaosScale()];
}

/**
 * A small deterministic PRNG (mulberry32): the same seed gives the same schedule of kills,
 * deliveries and fuzzed requests, so a failure can be replayed with CHAOS_SEED=<seed>.
 */
export interface Rng {
  seed: number;
  /** [0, 1) */
  next: () => number;
  /** An integer in [min, max] (both included). */
  int: (min: number, max: number) => number;
  chance: (p: number) => boolean;
  pick: <T>(items: readonly T[]) => T;
  /** A shuffled copy (Fisher-Yates). */
  shuffle: <T>(items: readonly T[]) => T[];
  bytes: (n: number) => Buffer;
  /** A derived generator, so one part's draws do not shift another's. */
  fork: () => Rng;
}

export function createRng(seed: number): Rng {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (min: number, max: number) => min + Math.floor(next() * (max - min + 1));
  const rng: Rng = {
    seed,
    next,
    int,
    chance: (p) => next() < p,
    pick: (items) => {
      if (items.length === 0) throw new Error('pick from an empty list');
      return items[int(0, items.length - 1)] as (typeof items)[number];
    },
    shuffle: (items) => {
      const copy = [...items];
      for (let i = copy.length - 1; i > 0; i -= 1) {
        const j = int(0, i);
        [copy[i], copy[j]] = [copy[j] as (typeof copy)[number], copy[i] as (typeof copy)[number]];
      }
      return copy;
    },
    bytes: (n) => {
      const out = Buffer.alloc(n);
      for (let i = 0; i < n; i += 1) out[i] = int(0, 255);
      return out;
    },
    fork: () => createRng(int(1, 0x7fffffff)),
  };
  return rng;
}

/** CHAOS_SEED when set (to replay a run), otherwise a fresh seed; printed either way. */
export function chaosSeed(scenario: string): number {
  const given = process.env.CHAOS_SEED;
  const seed = given && /^\d+$/.test(given) ? Number(given) : randomInt(1, 0x7fffffff);
  process.stdout.write(`[chaos] ${scenario}: seed ${seed} (replay with CHAOS_SEED=${seed})\n`);
  return seed;
}

export interface MachineInfo {
  node: string;
  platform: string;
  cpus: number;
  cpuModel: string;
  memoryGb: number;
  loadAverage: number[];
}

export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    node: process.version,
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    cpus: cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    memoryGb: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    loadAverage: os.loadavg().map((l) => Math.round(l * 100) / 100),
  };
}

export const CHAOS_OUTPUT_DIR = path.join(ROOT, 'tmp', 'chaos');

/**
 * Writes the scenario's figures to tmp/chaos/<scenario>.<scale>.json (the machine and the
 * Node version included) and prints them, so a run's numbers can be copied into
 * docs/reliability.md as they were measured.
 */
export function writeChaosSummary(scenario: string, figures: Record<string, unknown>): string {
  fs.mkdirSync(CHAOS_OUTPUT_DIR, { recursive: true });
  const file = path.join(CHAOS_OUTPUT_DIR, `${scenario}.${chaosScale()}.json`);
  const summary = { scenario, scale: chaosScale(), finishedAt: new Date().toISOString(), machine: machineInfo(), ...figures };
  fs.writeFileSync(file, `${JSON.stringify(summary, null, 2)}\n`);
  process.stdout.write(`[chaos] ${scenario}: ${JSON.stringify(figures)}\n`);
  return file;
}

/** Runs `task` over `items` with at most `concurrency` in flight; results in input order. */
export async function mapConcurrent<T, R>(items: readonly T[], concurrency: number, task: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let nextIndex = 0;
  const lanes = Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    for (;;) {
      const i = nextIndex;
      nextIndex += 1;
      if (i >= items.length) return;
      results[i] = await task(items[i] as T, i);
    }
  });
  await Promise.all(lanes);
  return results;
}

/** Percentile (0-100) of a list of numbers, nearest-rank. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}
