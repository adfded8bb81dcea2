import fs from 'node:fs';
import { JOBS, type Queues } from '@parley/queue';
import type { MaintenanceTask } from './handlers';

/**
 * Repeatable maintenance jobs, one scheduler id per task so every worker process upserts the
 * same schedule instead of adding its own (BullMQ job schedulers are idempotent by id).
 * Each runs every `intervalMs`; the Gmail watch renewal reads the persisted expiration and only
 * calls Gmail when it is missing or within 24 h, so running it often costs one SQLite read.
 */
export async function scheduleMaintenance(queues: Queues, tasks: MaintenanceTask[], intervalMs: number): Promise<void> {
  for (const task of tasks) {
    await queues.maintenance.upsertJobScheduler(`maintenance-${task}`, { every: intervalMs }, { name: JOBS.maintenance.name, data: { task } });
  }
}

/**
 * Touches a file every 5 s while the event loop runs: the container HEALTHCHECK reads its
 * age (a worker has no HTTP port of its own).
 */
export function startAliveFile(file: string | undefined): { stop: () => void } {
  if (!file) return { stop: () => undefined };
  const touch = () => {
    try {
      fs.writeFileSync(file, String(Date.now()));
    } catch {
      // A read-only or missing directory only disables the healthcheck signal.
    }
  };
  touch();
  const timer = setInterval(touch, 5000);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
