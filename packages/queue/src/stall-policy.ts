import { z } from 'zod';
import { QUEUES, type QueueName } from '@parley/contracts';

/**
 * What happens to a job whose worker died (or froze past its lock) while running it.
 *
 * A stall is usually not the job's fault: a worker killed by a deploy, the OOM killer or a
 * crash takes every job it was running with it (up to its concurrency), and they all count a
 * stall. A job that itself kills its worker shows up in every one of those crashes. So:
 *
 * - Scheduled safety-net jobs (the maintenance sweeps, mailbox syncs) are never dead letters:
 *   a job of theirs that keeps stalling is completed without running, because the next
 *   scheduled run does the same work from the same durable state (an alert for it would only
 *   say "wait a minute").
 * - Work jobs (a negotiation step, a send, an ingest, an alert) may stall `maxStalledCount`
 *   times and still run. One more stall and the job is set aside for a cool-down (delayed,
 *   `cooldownMs`, doubling each time), so a crash storm can pass and a job that crashes its
 *   worker does so at a slow pace rather than across the fleet at once. After `cooldowns`
 *   cool-downs, one more round of stalls makes it a dead letter, before its handler runs again.
 */
export interface StallPolicy {
  maxStalledCount: number;
  cooldowns: number;
  cooldownMs: number;
}

/**
 * Queues whose jobs the next scheduled run supersedes: maintenance tasks run every
 * MAINTENANCE_INTERVAL_MS, and every mailbox sync reads Gmail's history from the durable
 * cursor, which the periodic sync (a maintenance task) also does.
 */
export const SUPERSEDED_BY_NEXT_RUN: ReadonlySet<QueueName> = new Set([QUEUES.maintenance, QUEUES.gmailNotifications]);

export type StallDecision =
  | { action: 'run' }
  | { action: 'skip'; reason: string }
  | { action: 'cool_down'; round: number; delayMs: number; reason: string }
  | { action: 'dead_letter'; reason: string };

/** The stalls a job may have had and still run in cool-down round `round` (0 = never cooled). */
function allowedStalls(policy: StallPolicy, round: number): number {
  return (policy.maxStalledCount + 1) * (round + 1) - 1;
}

/** BullMQ's own stall limit: one above the last the processor lets run, as a backstop. */
export function bullmqStallLimit(policy: StallPolicy): number {
  return allowedStalls(policy, policy.cooldowns) + 1;
}

export function stallDecision(queue: QueueName, stalls: number, cooledRounds: number, policy: StallPolicy): StallDecision {
  const round = Math.min(Math.max(0, cooledRounds), policy.cooldowns);
  if (stalls <= allowedStalls(policy, round)) return { action: 'run' };
  const what = `its worker died or was blocked while running it ${stalls} times`;
  if (SUPERSEDED_BY_NEXT_RUN.has(queue)) return { action: 'skip', reason: `${what}; the next scheduled run does its work` };
  if (round < policy.cooldowns) {
    return { action: 'cool_down', round: round + 1, delayMs: policy.cooldownMs * 2 ** round, reason: `${what}; set aside (cool-down ${round + 1} of ${policy.cooldowns})` };
  }
  const cooled = policy.cooldowns > 0 ? ` after ${policy.cooldowns} cool-down(s)` : '';
  return { action: 'dead_letter', reason: `job stalled ${stalls} times (limit ${policy.maxStalledCount})${cooled}; its worker died or was blocked while running it` };
}

// The cool-downs done so far live in the job's progress (shown on the queue dashboard too).
const progressSchema = z.object({ stallCooldowns: z.number().int().nonnegative() });

export function cooledRoundsOf(progress: unknown): number {
  const parsed = progressSchema.safeParse(progress);
  return parsed.success ? parsed.data.stallCooldowns : 0;
}

/** The job's progress after cool-down `round`, keeping its count of deferrals. */
export function cooledProgress(round: number, progress?: unknown): { stallCooldowns: number; deferrals?: number } {
  const deferrals = deferralsOf(progress);
  return { stallCooldowns: round, ...(deferrals > 0 ? { deferrals } : {}) };
}

// Deferrals (a handler's DeferredError) live there too: like a cool-down, each is a start
// BullMQ counts that is neither an attempt nor a rate-limited start.
const deferralsSchema = z.object({ deferrals: z.number().int().nonnegative() });

export function deferralsOf(progress: unknown): number {
  const parsed = deferralsSchema.safeParse(progress);
  return parsed.success ? parsed.data.deferrals : 0;
}

/** The job's progress with one deferral more, keeping its cool-downs. */
export function deferredProgress(progress: unknown): { stallCooldowns?: number; deferrals: number } {
  const cooled = cooledRoundsOf(progress);
  return { ...(cooled > 0 ? { stallCooldowns: cooled } : {}), deferrals: deferralsOf(progress) + 1 };
}
